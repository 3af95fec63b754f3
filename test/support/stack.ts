/**
 * The set-up most end-to-end files share: a loopback registry without auth, a
 * busybox image pushed to it, and a started TestServer. `startBusyboxStack`
 * either returns all of it running or cleans up what it made and throws, so a
 * file's `after` only needs `stack?.stop()`.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import { TestServer, type TestServerOptions } from './skiff-server.ts';
import { startRegistry, type TestRegistry } from './registry.ts';
import { pushBusyboxImage } from './images.ts';

export interface BusyboxStack {
  registry: TestRegistry;
  /** The pushed image's full reference. */
  image: string;
  server: TestServer;
  ecs: ECSClient;
  /** Destroys the server (and every host resource it made), then stops the registry. */
  stop(): Promise<void>;
}

/** Starts a registry, pushes busybox as `<registry>/<imageName>`, starts a TestServer with `opts`. */
export async function startBusyboxStack(imageName: string, opts: TestServerOptions = {}): Promise<BusyboxStack> {
  const registry = await startRegistry({ auth: 'none' });
  let server: TestServer | undefined;
  const stop = async () => {
    try {
      await server?.destroy();
    } finally {
      await registry.stop();
    }
  };
  try {
    const image = await pushBusyboxImage(registry, imageName);
    server = new TestServer(opts);
    await server.start();
    return { registry, image, server, ecs: server.ecs(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
