/**
 * The guest kernel as an uncompressed ELF (`vmlinux`), taken out of Debian's
 * bzImage once and cached: QEMU boots it directly through its PVH entry point,
 * so a TCG guest does not spend a second emulating its own decompressor. Only
 * the LZ4 payloads Debian's kernels carry are handled; anything else boots
 * the bzImage as it is.
 */
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';

/** Decodes the kernel's LZ4 legacy stream (magic 0x184C2102, blocks of ≤ 8 MiB, the size appended at the end). */
export function lz4Legacy(src: Buffer): Buffer | undefined {
  if (src.readUInt32LE(0) !== 0x184c2102) return undefined;
  const out: Buffer[] = [];
  let ip = 4;
  while (src.length - ip > 4) {
    const size = src.readUInt32LE(ip);
    ip += 4;
    if (size > src.length - ip) break;
    const blk = src.subarray(ip, ip + size);
    ip += size;
    const o = Buffer.alloc(8 << 20);
    let op = 0;
    let p = 0;
    while (p < blk.length) {
      const token = blk[p++]!;
      let lit = token >> 4;
      if (lit === 15) for (let b = 255; b === 255; lit += b) b = blk[p++]!;
      if (op + lit > o.length) return undefined;
      blk.copy(o, op, p, p + lit);
      op += lit;
      p += lit;
      if (p >= blk.length) break;
      const offset = blk[p]! | (blk[p + 1]! << 8);
      p += 2;
      let ml = token & 15;
      if (ml === 15) for (let b = 255; b === 255; ml += b) b = blk[p++]!;
      ml += 4;
      if (offset === 0 || offset > op || op + ml > o.length) return undefined;
      for (let from = op - offset; ml > 0; ml--) o[op++] = o[from++]!;
    }
    out.push(o.subarray(0, op));
  }
  return Buffer.concat(out);
}

/** The ELF inside `bzImage`, or undefined when it is not an LZ4 bzImage with a PVH-bootable ELF. */
export function extractVmlinux(bz: Buffer): Buffer | undefined {
  if (bz.length < 0x250 || bz.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const pm = ((bz[0x1f1] || 4) + 1) * 512;
  const off = bz.readUInt32LE(0x248);
  const len = bz.readUInt32LE(0x24c);
  if (pm + off + len > bz.length) return undefined;
  const elf = lz4Legacy(bz.subarray(pm + off, pm + off + len));
  if (!elf || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  // Xen's PVH entry note: what lets QEMU enter the ELF directly.
  return elf.includes(Buffer.from('Xen\0')) ? elf : undefined;
}

/** `<bootDir>/vmlinux-<version>` made once from `vmlinuz`; falls back to `vmlinuz` itself. */
export async function bootableKernel(bootDir: string, vmlinuz: string, version: string): Promise<string> {
  const file = path.join(bootDir, `vmlinux-${version}`);
  if (existsSync(file)) return file;
  const elf = extractVmlinux(await fsp.readFile(vmlinuz));
  if (!elf) return vmlinuz;
  await fsp.mkdir(bootDir, { recursive: true, mode: 0o700 });
  await fsp.writeFile(`${file}.tmp`, elf, { mode: 0o600 });
  await fsp.rename(`${file}.tmp`, file);
  return file;
}
