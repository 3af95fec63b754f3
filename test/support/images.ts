/** Test images: built by the tests from Debian's static busybox and pushed to a test registry. */
import type { TestRegistry } from './registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../../src/images/oci-build.ts';

/** Pushes a minimal busybox image as `<registry>/<name>` and returns the full reference. */
export async function pushBusyboxImage(registry: TestRegistry, name: string): Promise<string> {
  const ref = `${registry.host}/${name}`;
  const image = await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } });
  await pushImage(image, ref, { credentials: registry.credentials });
  return ref;
}
