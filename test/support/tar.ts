/** Builds tar archives entry by entry (hostile ones included) for image tests. */
import * as tar from 'tar-stream';

export type TarEntry = Partial<tar.Header> & { name: string; body?: string | Buffer };

/** An uncompressed tar of `entries` exactly as given; files default to 0644, directories to 0755. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (e?: Error | null) => (e ? reject(e) : resolve());
      if (body !== undefined) pack.entry({ mode: 0o644, ...h }, Buffer.from(body), cb);
      else pack.entry({ mode: h.type === 'directory' ? 0o755 : 0o644, ...h }, cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}
