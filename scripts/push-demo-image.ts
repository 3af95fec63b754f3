/**
 * Builds the demo image (Debian's static busybox, nothing else) and pushes it to
 * a registry: `node --import tsx scripts/push-demo-image.ts 127.0.0.1:5000/demo/busybox:latest`.
 */
import { buildImage, busyboxImageFiles, pushImage } from '../src/images/oci-build.ts';

const ref = process.argv[2];
if (!ref) {
  console.error('usage: push-demo-image.ts <registry-host:port>/<name>:<tag>');
  process.exit(2);
}
const image = await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } });
const pushed = await pushImage(image, ref);
console.log(`demo: pushed ${pushed.reference} (${pushed.digest})`);
