/**
 * `node --import tsx bench/efs.ts [--starts 10] [--mib 256] [--files 2000]`
 *
 * What EFS volumes cost on this machine, against a real `skiff server` and
 * real runc tasks (loopback only): the start of a task (server startedAt −
 * createdAt, and its `volumes` phase) with no volume, with an EFS volume (a
 * bind mount) and through an access point with a POSIX user (a bindfs
 * mount); and inside a task, writing `--mib` MiB (dd, fsync) and creating
 * `--files` small files on the container's writable layer, on the EFS bind
 * mount and through the access point. Prints a table and writes
 * bench/results/efs-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CreateAccessPointCommand, CreateFileSystemCommand, EFSClient } from '@aws-sdk/client-efs';
import type { ContainerDefinition, Volume } from '@aws-sdk/client-ecs';
import { startBusyboxStack } from '../test/support/stack.ts';
import { TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { registerFamily, runOne, taskLogText, waitTaskStatus } from '../test/support/tasks.ts';
import { summarize } from './lib/stats.ts';

const args = process.argv.slice(2);
const num = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const STARTS = num('--starts', 10);
const MIB = num('--mib', 256);
const FILES = num('--files', 2000);

const stack = await startBusyboxStack('bench/busybox:efs');
try {
  const efs = new EFSClient({ endpoint: stack.server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY, maxAttempts: 1 });
  const fsId = (await efs.send(new CreateFileSystemCommand({ CreationToken: 'bench' }))).FileSystemId!;
  const ap = await efs.send(new CreateAccessPointCommand({ FileSystemId: fsId, PosixUser: { Uid: 1000, Gid: 1000 }, RootDirectory: { Path: '/ap', CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: '755' } } }));
  const kinds: Record<string, Volume[]> = {
    'no volume': [],
    'EFS (bind mount)': [{ name: 'data', efsVolumeConfiguration: { fileSystemId: fsId } }],
    'EFS access point (bindfs)': [{ name: 'data', efsVolumeConfiguration: { fileSystemId: fsId, transitEncryption: 'ENABLED', authorizationConfig: { accessPointId: ap.AccessPointId! } } }],
  };
  const container = (script: string, withVolume: boolean): ContainerDefinition => ({
    name: 'main',
    image: stack.image,
    essential: true,
    command: ['sh', '-c', script],
    ...(withVolume ? { mountPoints: [{ sourceVolume: 'data', containerPath: '/mnt/efs' }] } : {}),
  });
  const os = await import('node:os');
  const results: Record<string, unknown> = { machine: { cores: os.cpus().length, loadavgAtStart: os.loadavg() }, starts: STARTS, mib: MIB, files: FILES, kinds: {} };
  const rows: string[][] = [];
  for (const [kind, volumes] of Object.entries(kinds)) {
    const family = `bench-efs-${Object.keys(kinds).indexOf(kind)}`;
    await registerFamily(stack.ecs, family, [container('true', volumes.length > 0)], { volumes });
    const server: number[] = [];
    const phase: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const t = await runOne(stack.ecs, family);
      const stopped = await waitTaskStatus(stack.ecs, t.taskArn!, 'STOPPED', 60_000);
      if (stopped.containers?.[0]?.exitCode !== 0) throw new Error(`${kind}: ${stopped.stoppedReason}`);
      const detail = (await (await stack.server.fetch(`/skiff/v1/tasks/${t.taskArn!.split('/').pop()}`)).json()) as { timings: { phase: string; durationMs: number }[] };
      server.push(stopped.startedAt!.getTime() - stopped.createdAt!.getTime());
      phase.push(detail.timings.find((p) => p.phase === 'volumes')?.durationMs ?? 0);
    }
    const dir = volumes.length ? '/mnt/efs/w' : '/tmp/w';
    // busybox date has no %N: time from /proc/uptime (centiseconds).
    const script = `t() { tr -d . < /proc/uptime | cut -d' ' -f1; }; mkdir -p ${dir} && s=$(t) && dd if=/dev/zero of=${dir}/big bs=1M count=${MIB} conv=fsync 2>/dev/null && e=$(t) && echo write_ms=$(( (e-s)*10 )) && rm ${dir}/big && s=$(t) && i=0; while [ $i -lt ${FILES} ]; do echo x > ${dir}/f$i; i=$((i+1)); done; e=$(t); echo files_ms=$(( (e-s)*10 )); rm -rf ${dir}`;
    await registerFamily(stack.ecs, `${family}-io`, [container(script, volumes.length > 0)], { volumes, ephemeralStorage: { sizeInGiB: 21 } });
    const io = await runOne(stack.ecs, `${family}-io`);
    await waitTaskStatus(stack.ecs, io.taskArn!, 'STOPPED', 300_000);
    const log = await taskLogText(stack.server, io.taskArn!);
    const writeMs = Number(/write_ms=(\d+)/.exec(log)?.[1]);
    const filesMs = Number(/files_ms=(\d+)/.exec(log)?.[1]);
    const s = summarize(server);
    const v = summarize(phase);
    (results.kinds as Record<string, unknown>)[kind] = { serverStartMs: s, volumesPhaseMs: v, writeMiBps: MIB / (writeMs / 1000), smallFilesPerSecond: FILES / (filesMs / 1000) };
    rows.push([kind, `${s.p50.toFixed(0)} / ${s.p95.toFixed(0)}`, v.p50.toFixed(1), (MIB / (writeMs / 1000)).toFixed(0), (FILES / (filesMs / 1000)).toFixed(0)]);
  }
  efs.destroy();
  const header = ['volume', 'start p50 / p95 ms (server)', 'volumes phase p50 ms', `write ${MIB} MiB, MiB/s`, `create ${FILES} files, files/s`];
  console.log([header, ...rows].map((r) => r.join(' | ')).join('\n'));
  const out = resolve(import.meta.dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, `efs-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`written to ${file}`);
} finally {
  await stack.stop();
}
