/**
 * A layer's tar stream: the blob (a file or an in-memory buffer) as it is, or
 * through gunzip when it starts with gzip's magic bytes. zstd, bzip2 and xz are
 * refused with a message saying what to push instead.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ImagePullError } from './images.ts';

/** Source: a file path (compressed blob) or an in-memory buffer. */
export type LayerSource = string | Buffer;

async function readMagic(src: LayerSource): Promise<Buffer> {
  if (Buffer.isBuffer(src)) return src.subarray(0, 6);
  const fh = await open(src, 'r');
  try {
    const buf = Buffer.alloc(6);
    const { bytesRead } = await fh.read(buf, 0, 6, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function decompressed(src: LayerSource): Promise<Readable> {
  const magic = await readMagic(src);
  if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) {
    throw new ImagePullError('zstd-compressed layers are not supported; push the image with gzip compression');
  }
  if (magic.subarray(0, 3).toString('latin1') === 'BZh' || magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new ImagePullError('bzip2/xz-compressed layers are not supported; use gzip');
  }
  const raw = Buffer.isBuffer(src) ? Readable.from([src]) : createReadStream(src, { highWaterMark: 256 * 1024 });
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) return raw; // plain tar
  const gunzip = createGunzip({ chunkSize: 256 * 1024 }); // fewer, larger chunks: fewer thread-pool round trips per layer
  raw.on('error', (e: Error) => gunzip.destroy(e));
  gunzip.on('close', () => raw.destroy());
  return raw.pipe(gunzip);
}

