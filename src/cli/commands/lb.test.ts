/** `skiff lb`'s rows: one per target, one for a listener without targets, the drain time left in seconds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lbRows } from './lb.ts';
import type { ListenerView } from '../../lb/load-balancers.ts';

const listener = (over: Partial<ListenerView>): ListenerView => ({
  serviceArn: 'arn:aws:ecs:us-east-1:1:service/default/web',
  serviceName: 'web',
  containerName: 'web',
  containerPort: 8080,
  listener: '127.0.0.1:9000',
  url: 'http://127.0.0.1:9000',
  listening: true,
  deregistrationDelaySeconds: 300,
  targets: [],
  ...over,
});

test('lbRows', () => {
  const rows = lbRows(
    [
      listener({
        targets: [
          { id: 't1', address: '10.0.0.2:8080', state: 'in-service', health: 'healthy', inFlight: 1, requests: 7 },
          { id: 't2', address: '10.0.0.3:8080', state: 'draining', health: 'draining', inFlight: 0, requests: 3, drainEndsAt: 10_500 },
        ],
      }),
      listener({ serviceName: 'api', url: 'http://127.0.0.1:9001', listening: false, error: 'cannot listen on 127.0.0.1:9001: EADDRINUSE' }),
    ],
    8_000,
  );
  assert.deepEqual(rows, [
    ['web', 'http://127.0.0.1:9000', 't1', '10.0.0.2:8080', 'in-service', 'healthy', 1, 7, undefined],
    ['web', 'http://127.0.0.1:9000', 't2', '10.0.0.3:8080', 'draining', 'draining', 0, 3, '3s'],
    ['api', 'http://127.0.0.1:9001 (not bound: cannot listen on 127.0.0.1:9001: EADDRINUSE)', undefined, undefined, 'no targets', undefined, undefined, undefined, undefined],
  ]);
});
