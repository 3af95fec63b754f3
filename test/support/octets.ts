/** Second octets for extra VPCs a test creates, inside this run's SKIFF_TEST_OCTET_RANGE. */
import { execFileSync } from 'node:child_process';
import { overlaps, parseCidr } from '../../src/model/cidr.ts';

/**
 * Octets o in SKIFF_TEST_OCTET_RANGE whose 10.o.0.0/16 no host route touches
 * (other test servers' bridges) and that are not in `exclude`, in random order.
 */
export function freeOctets(exclude: number[]): number[] {
  const [lo, hi] = (process.env.SKIFF_TEST_OCTET_RANGE ?? '200-249').split('-').map(Number);
  const routes = (JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as { dst: string }[])
    .map((r) => r.dst)
    .filter((d) => d && d !== 'default' && /^\d/.test(d))
    .map((d) => parseCidr(d.includes('/') ? d : `${d}/32`, { allowHostBits: true }));
  const free: number[] = [];
  for (let o = lo!; o <= hi!; o++) {
    if (!exclude.includes(o) && !routes.some((r) => overlaps(r, `10.${o}.0.0/16`))) free.push(o);
  }
  if (free.length === 0) throw new Error(`no free 10.x.0.0/16 in SKIFF_TEST_OCTET_RANGE ${lo}-${hi}`);
  return free.sort(() => Math.random() - 0.5);
}
