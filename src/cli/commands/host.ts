/**
 * `skiff host reset`: the clean host after Skiff. Runs on the host itself (not
 * a client of the API: the server must be stopped). The work is
 * src/server/host-reset.ts; this prints what it removed.
 */
import type { ResetReport } from '../../server/host-reset.ts';
import type { CommandModule } from '../context.ts';

const GROUPS: [string, (r: ResetReport) => (string | number)[]][] = [
  ['containers', (r) => r.containers.map((c) => (r.running.includes(c) ? `${c} (running: killed)` : c))],
  ['task cgroups', (r) => r.tasks],
  ['stray processes killed', (r) => r.killedPids],
  ['cgroup roots', (r) => r.cgroups],
  ['mounts', (r) => r.mounts],
  ['network namespaces', (r) => r.namespaces],
  ['veths', (r) => r.veths],
  ['bridges (with their routes)', (r) => r.bridges],
  ['nft tables', (r) => r.nftTables],
  ['driver state (runtime specs in memory)', (r) => r.driverState],
];

export const hostCommands: CommandModule = ({ program, format }) => {
  const host = program.command('host').description('this host: remove what Skiff made on it');
  host
    .command('reset')
    .description(
      'remove everything a stopped Skiff server made on this host (use its SKIFF_RESOURCE_PREFIX): task containers (running tasks are killed), ' +
        'conmon, mounts, cgroups, network namespaces, veths, bridges and routes, nft tables. Refuses while that server runs. ' +
        'The data dir (store, logs, keys) stays unless --purge-data. Host-wide tuning (keys quota, br_netfilter) is left alone.',
    )
    .option('--data-dir <dir>', 'the server\'s data dir (default: $SKIFF_DATA_DIR or /var/lib/skiff)')
    .option('--dry-run', 'list what would be removed; remove nothing')
    .option('--purge-data', 'also remove the data dir (the store, container logs, keys): nothing of that Skiff is left')
    .action(async (opts: { dataDir?: string; dryRun?: boolean; purgeData?: boolean }) => {
      const [{ resolveServerConfig }, { resetCount, resetHost }] = await Promise.all([import('../../config/server-config.ts'), import('../../server/host-reset.ts')]);
      const c = resolveServerConfig({ dataDir: opts.dataDir });
      const report = await resetHost(c, { dryRun: opts.dryRun, purgeData: opts.purgeData });
      if (format() === 'json') {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      const verb = report.dryRun ? 'would remove' : 'removed';
      if (resetCount(report) === 0) {
        console.log(`nothing to remove: no resources of prefix ${report.prefix} / data dir ${report.dataDir} on this host`);
        return;
      }
      for (const [what, pick] of GROUPS) {
        const items = pick(report);
        if (items.length) console.log(`${verb} ${items.length} ${what}: ${items.join(', ')}`);
      }
      if (report.dataRemoved) console.log(`${verb} the data dir ${report.dataDir}`);
      else console.log(`kept the data dir ${report.dataDir} (--purge-data removes it)`);
    });
};
