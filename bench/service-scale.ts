/**
 * `npm run bench:service -- [--tasks 1000]`
 *
 * One ECS service scaled to many real tasks on this host (issue #3: "up to 5,000
 * tasks per service"): CreateService with desiredCount N spread over the default
 * VPC's subnets (adding /20 subnets through the EC2 API when they can't hold N), then
 * measures the time to steady state, platform memory per task, DescribeServices
 * and ListTasks (every page) at that size, the time to scale back to 0, and
 * DeleteService. Prints a table and writes bench/results/service-scale-<date>.json.
 *
 * A Linux bridge holds at most 1023 ports, so one subnet holds at most 1023 tasks;
 * a service of 5,000 tasks needs at least 5 subnets in its awsvpcConfiguration.
 *
 * Everything it starts is removed at the end (server.destroy(), registry.stop()).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { execFileSync } from 'node:child_process';
import { TestServer, TEST_ROOT_KEY } from '../test/support/skiff-server.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { buildImage, pushImage, busyboxImageFiles } from '../src/images/oci-build.ts';
import { EC2Client, CreateSubnetCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { BenchClient } from './lib/api.ts';
import { MAX_TASKS_PER_SUBNET } from '../src/store/networks-repo.ts';
import { summarize } from './lib/stats.ts';
import { machineInfo, platformMemory } from './lib/host.ts';

const args = process.argv.slice(2);
const num = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const TASKS = num('--tasks', 1000);
const log = (m: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ServiceView {
  runningCount: number;
  pendingCount: number;
  desiredCount: number;
  deployments: { rolloutState?: string }[];
  events: { message: string }[];
}

async function describeService(api: BenchClient, name: string): Promise<ServiceView> {
  const r = await api.call<{ services: ServiceView[] }>('DescribeServices', { services: [name] });
  return r.services[0]!;
}

async function waitCounts(api: BenchClient, name: string, running: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = -1;
  for (;;) {
    const s = await describeService(api, name);
    if (s.runningCount !== last) {
      last = s.runningCount;
      if (last % 250 === 0 || last === running) log(`  running ${s.runningCount}, pending ${s.pendingCount}`);
    }
    if (s.runningCount === running && s.pendingCount === 0) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out: running ${s.runningCount}/${running}; last events: ${s.events.slice(0, 3).map((e) => e.message).join(' | ')}`);
    await sleep(500);
  }
}

/** Polls DescribeTasks (100 at a time) until every task is STOPPED. */
async function waitAllStopped(api: BenchClient, arns: string[], timeoutMs: number): Promise<void> {
  const t0 = performance.now();
  let pending = arns;
  while (pending.length > 0) {
    const still: string[] = [];
    for (let i = 0; i < pending.length; i += 100) {
      const r = await api.call<{ tasks: { taskArn: string; lastStatus: string }[] }>('DescribeTasks', { tasks: pending.slice(i, i + 100) });
      still.push(...r.tasks.filter((t) => t.lastStatus !== 'STOPPED').map((t) => t.taskArn));
    }
    pending = still;
    if (pending.length > 0 && performance.now() - t0 > timeoutMs) throw new Error(`timed out: ${pending.length} tasks not STOPPED`);
    if (pending.length > 0) await sleep(1000);
  }
}

async function main(): Promise<void> {
  const machine = machineInfo(execFileSync('runc', ['--version']).toString().split('\n')[0]!);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryMiB} MiB; ${TASKS} tasks`);
  let registry: TestRegistry | undefined;
  let server: TestServer | undefined;
  try {
    registry = await startRegistry({ auth: 'none' });
    const image = `${registry.host}/bench/busybox:scale`;
    await pushImage(await buildImage({ files: busyboxImageFiles(), config: { cmd: ['sh'] } }), image);
    server = new TestServer({ env: { SKIFF_WARM_POOL_SIZE: '0' } });
    await server.start();
    const api = new BenchClient(server.endpoint, TEST_ROOT_KEY);
    const bundlesDir = join(server.dataDir, 'runtime', 'bundles');
    await api.call('RegisterTaskDefinition', {
      family: 'scale',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: 'app', image, command: ['sh', '-c', 'trap "exit 0" TERM; sleep 36000 & wait'] }],
    });
    const subnets = (await api.get<{ subnets: { subnetId: string }[] }>('/skiff/v1/subnets')).subnets.map((s) => s.subnetId);
    // Each subnet is one bridge of at most MAX_TASKS_PER_SUBNET tasks: add /20s to the default VPC through the EC2 API.
    const ec2 = new EC2Client({ endpoint: server.endpoint, region: 'us-east-1', credentials: TEST_ROOT_KEY });
    const vpc = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
    const [a, b] = vpc.CidrBlock!.split('.');
    for (let third = 48; subnets.length * MAX_TASKS_PER_SUBNET < TASKS; third += 16) {
      const r = await ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId!, CidrBlock: `${a}.${b}.${third}.0/20` }));
      subnets.push(r.Subnet!.SubnetId!);
    }
    const idle = platformMemory(server.pid!, bundlesDir);

    log(`CreateService desiredCount ${TASKS} over ${subnets.length} subnet(s) ...`);
    const tCreate = performance.now();
    await api.call('CreateService', {
      serviceName: 'scale',
      taskDefinition: 'scale',
      desiredCount: TASKS,
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets } },
    });
    const steadyMs = await waitCounts(api, 'scale', TASKS, 30 * 60_000);
    log(`all ${TASKS} RUNNING after ${(steadyMs / 1000).toFixed(1)} s`);
    const totalCreateMs = performance.now() - tCreate;
    await sleep(2000);
    const loaded = platformMemory(server.pid!, bundlesDir);

    const describeMs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await describeService(api, 'scale');
      describeMs.push(performance.now() - t);
    }
    const tList = performance.now();
    const arns: string[] = [];
    let pages = 0;
    let nextToken: string | undefined;
    do {
      const r = await api.call<{ taskArns: string[]; nextToken?: string }>('ListTasks', { serviceName: 'scale', maxResults: 100, ...(nextToken ? { nextToken } : {}) });
      arns.push(...r.taskArns);
      pages++;
      nextToken = r.nextToken;
    } while (nextToken);
    const listAllMs = performance.now() - tList;
    if (arns.length !== TASKS) throw new Error(`ListTasks returned ${arns.length} tasks, expected ${TASKS}`);

    log('scaling to 0 ...');
    const tDown = performance.now();
    await api.call('UpdateService', { service: 'scale', desiredCount: 0 });
    await waitCounts(api, 'scale', 0, 30 * 60_000);
    const scaleInMs = performance.now() - tDown;
    // runningCount drops as tasks start deactivating; STOPPED means containers, mounts, cgroups and namespaces are gone.
    await waitAllStopped(api, arns, 30 * 60_000);
    const allStoppedMs = performance.now() - tDown;
    log(`all ${TASKS} STOPPED (resources released) after ${(allStoppedMs / 1000).toFixed(1)} s`);
    await api.call('DeleteService', { service: 'scale' });

    const perTaskKiB = (loaded.rssKiB - idle.rssKiB) / TASKS;
    const perTaskPssKiB = (loaded.pssKiB - idle.pssKiB) / TASKS;
    const result = {
      date: new Date().toISOString(),
      machine,
      loadavgAtEnd: loadavg(),
      tasks: TASKS,
      subnets: subnets.length,
      createToSteadyS: +(totalCreateMs / 1000).toFixed(1),
      startsPerSecond: +(TASKS / (steadyMs / 1000)).toFixed(1),
      platformMemoryPerTaskMiB: { rss: +(perTaskKiB / 1024).toFixed(2), pss: +(perTaskPssKiB / 1024).toFixed(2) },
      serverRssMiB: +(loaded.serverRssKiB / 1024).toFixed(0),
      describeServicesMs: summarize(describeMs),
      listTasksAllPages: { pages, ms: +listAllMs.toFixed(0) },
      scaleToZeroS: +(scaleInMs / 1000).toFixed(1),
      allStoppedS: +(allStoppedMs / 1000).toFixed(1),
    };
    console.log(JSON.stringify(result, null, 2));
    const dir = resolve(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `service-scale-${result.date.slice(0, 10)}.json`), JSON.stringify(result, null, 2) + '\n');
  } finally {
    await server?.destroy().catch((e) => log(`cleanup: ${e}`));
    await registry?.stop().catch(() => {});
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
