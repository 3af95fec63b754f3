/**
 * `skiff lb [--service NAME]`: Skiff's load balancer listeners (GET
 * /skiff/v1/load-balancers): per listener its service and URL, and per target
 * its task, address, state (in-service, draining, out-of-service), health as
 * ELB's DescribeTargetHealth words it, requests in flight and served.
 */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import { colors } from '../style.ts';
import type { CommandModule } from '../context.ts';
import type { ListenerView } from '../../lb/load-balancers.ts';

/** One table row per target; a listener without targets gets one row of its own. */
export function lbRows(listeners: ListenerView[], now: number): (string | number | undefined)[][] {
  const rows: (string | number | undefined)[][] = [];
  for (const l of listeners) {
    const url = l.listening ? l.url : `${l.url} (not bound: ${l.error ?? 'binding'})`;
    if (l.targets.length === 0) rows.push([l.serviceName, url, undefined, undefined, 'no targets', undefined, undefined, undefined, undefined]);
    for (const t of l.targets) {
      const left = t.drainEndsAt !== undefined ? `${Math.max(0, Math.ceil((t.drainEndsAt - now) / 1000))}s` : undefined;
      rows.push([l.serviceName, url, t.id, t.address, t.state, t.health, t.inFlight, t.requests, left]);
    }
  }
  return rows;
}

export const lbCommands: CommandModule = ({ program, globals, format }) => {
  program
    .command('lb')
    .description("list the services' load balancer listeners with their targets (health, draining, requests)")
    .option('--service <name>', 'only the listeners of this service')
    .action(async (opts: { service?: string }) => {
      const res = await skiffFetch(globals(), '/skiff/v1/load-balancers');
      const all = ((await res.json()) as { loadBalancers: ListenerView[] }).loadBalancers;
      const listeners = opts.service ? all.filter((l) => l.serviceName === opts.service || l.serviceArn === opts.service) : all;
      const c = colors();
      const health: Record<string, (s: string) => string> = { healthy: c.green, draining: c.yellow, initial: c.yellow, unhealthy: c.red };
      render(format(), { loadBalancers: listeners }, () => ({
        columns: ['SERVICE', 'URL', 'TARGET', 'ADDRESS', 'STATE', 'HEALTH', 'IN FLIGHT', 'REQUESTS', 'DRAIN LEFT'],
        rows: lbRows(listeners, Date.now()),
        colorize: (text, col) => (col === 'HEALTH' && health[text] ? health[text](text) : text),
      }));
    });
};
