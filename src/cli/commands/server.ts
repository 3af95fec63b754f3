/** `skiff server`: the control plane and a local agent in the foreground. */
import type { CommandModule } from '../context.ts';

export const serverCommands: CommandModule = ({ program, globals }) => {
  program
    .command('server')
    .description('run the control plane and a local agent in the foreground (needs root)')
    .option('--data-dir <dir>', 'where state, images and logs live (default: $SKIFF_DATA_DIR or /var/lib/skiff)')
    .option('--database <url>', 'keep the control plane\'s state in PostgreSQL at postgres://USER@HOST:PORT/DB (default: SQLite in the data dir; $SKIFF_DATABASE_URL)')
    .option('--port <n>', 'port to serve the API on (default 8080)')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--vpc-cidr <cidr>', 'CIDR of the default VPC created on first start (default 172.31.0.0/16)')
    .option('--insecure-registry <host:port...>', 'registries to reach over plain HTTP besides loopback ones')
    .option('--registry-auth <file>', 'registry credentials in Docker config.json form (default: $SKIFF_REGISTRY_AUTH_FILE)')
    .option('--prices <file>', 'price table JSON replacing the us-east-1 defaults (default: $SKIFF_PRICES_FILE)')
    .option('--tls', 'serve HTTPS with a self-signed certificate made (once) in <data-dir>/tls')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key; default: $SKIFF_TLS_CERT)')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert (default: $SKIFF_TLS_KEY)')
    .option('--userns-remap <hostid:size|off>', 'user namespace of every task: container root = host uid HOSTID (default 100000:65536; $SKIFF_USERNS_REMAP)')
    .option('--isolation <runtime>', 'runtime of tasks whose task definition and cluster choose none (tag skiff:isolation): runc, gvisor or microvm (default runc; $SKIFF_ISOLATION)')
    .option('--task-host-port <port/proto...>', 'open a host port to tasks, e.g. 5432/tcp (repeatable; default: none — tasks reach only DNS and the metadata endpoint on the host; $SKIFF_TASK_HOST_PORTS)')
    .option('--overcommit <ratio>', 'tasks may reserve RATIO × the host\'s CPU units and memory; what does not fit is refused (RESOURCE:CPU / RESOURCE:MEMORY) (default 1.0; $SKIFF_OVERCOMMIT)')
    .option('--reserved-memory <mib>', 'memory kept for the host and Skiff, not offered to tasks (default 512; $SKIFF_RESERVED_MEMORY_MIB)')
    .option('--no-host-access', 'refuse connections from this host to task addresses (default: allowed; $SKIFF_HOST_ACCESS=0)')
    .option('--no-egress', 'tasks reach no outside network, whatever their subnets, public IPs and NAT gateways (default: egress as on AWS; $SKIFF_EGRESS=0)')
    .option('--egress-interface <ifname...>', 'interfaces task egress leaves through (default: those of the default routes; $SKIFF_EGRESS_INTERFACES)')
    .option('--bandwidth-scale <factor>', 'multiply every task\'s bandwidth (1 Gbps sustained at ≤ 512 CPU units ... 10 Gbps above 2048), e.g. 0.1 on a small host (default 1; $SKIFF_BANDWIDTH_SCALE)')
    .option('--dns-upstream <ip[:port]...>', 'resolvers the task DNS forwards other names to (default: the nameservers of /etc/resolv.conf; none: answer service names only; $SKIFF_DNS_UPSTREAMS)')
    .action(async (opts) => {
      const [{ resolveServerConfig }, { SkiffServer }] = await Promise.all([import('../../config/server-config.ts'), import('../../server/server.ts')]);
      const config = resolveServerConfig({ ...opts, region: globals().region });
      const server = new SkiffServer(config);
      const endpoint = await server.start();
      console.log(`Skiff is serving the ECS API at ${endpoint} (data in ${config.dataDir}${config.database ? `, state in ${config.database.display}` : ''})`);
      console.log(`Try: aws ecs list-clusters --endpoint-url ${endpoint}`);
      const shutdown = async (signal: string) => {
        console.error(`${signal}: stopping the API; running tasks keep running and are adopted on the next start`);
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
    });
};
