/** Test images: built by the tests from Debian's static busybox and pushed to a test registry. */
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestRegistry } from './registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../../src/images/oci-build.ts';

/** Pushes a minimal busybox image as `<registry>/<name>` and returns the full reference. */
export async function pushBusyboxImage(registry: TestRegistry, name: string): Promise<string> {
  const ref = `${registry.host}/${name}`;
  const image = await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } });
  await pushImage(image, ref, { credentials: registry.credentials });
  return ref;
}

/** A busybox rootfs in `dir` (for driver tests, no image): /bin/busybox with its applets as symlinks, passwd and group. */
export async function writeBusyboxRootfs(dir: string): Promise<void> {
  await fsp.mkdir(path.join(dir, 'bin'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'etc'), { recursive: true });
  await fsp.mkdir(path.join(dir, 'tmp'), { recursive: true, mode: 0o1777 });
  await fsp.copyFile('/bin/busybox', path.join(dir, 'bin/busybox'));
  await fsp.chmod(path.join(dir, 'bin/busybox'), 0o755);
  const { stdout } = await promisify(execFile)('/bin/busybox', ['--list']);
  await Promise.all(
    stdout
      .split('\n')
      .filter((a) => a && a !== 'busybox' && !a.includes('/'))
      .map((a) => fsp.symlink('busybox', path.join(dir, 'bin', a))),
  );
  await fsp.writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await fsp.writeFile(path.join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}
