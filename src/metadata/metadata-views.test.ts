import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewayOf, parseNetDev } from './metadata-views.ts';

test('subnet gateway is the first host address', () => {
  assert.equal(gatewayOf('10.212.16.0/20'), '10.212.16.1/20');
  assert.equal(gatewayOf('172.31.0.0/20'), '172.31.0.1/20');
});

test('/proc/<pid>/net/dev parses into Docker network counters, loopback left out', () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    5000      40    1    2    0     0          0         0     3000      30    3    4    0     0       0          0
`;
  assert.deepEqual(parseNetDev(text), { eth0: { rx_bytes: 5000, rx_packets: 40, rx_errors: 1, rx_dropped: 2, tx_bytes: 3000, tx_packets: 30, tx_errors: 3, tx_dropped: 4 } });
});
