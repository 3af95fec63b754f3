/**
 * The `skiff` command. Every command except `server` is a client of the public
 * API, like any user's script; every listing command can print JSON. Each
 * folder of commands lives in `commands/` and is listed once here, with the
 * top-level commands it adds (a test holds the two equal).
 *
 * Start-up cost is what people feel at every call, so only the module of the
 * command being run is loaded (`skiff ps` never loads the server); help, an
 * unknown command and `completion` load them all. Command modules keep heavy
 * dependencies (the AWS SDK, the server, YAML) out of their top level.
 */
import { Command, Option } from 'commander';
import { cliContext, type CommandModule } from './context.ts';
import { skiffVersion } from './version.ts';

export interface CommandEntry {
  /** The top-level commands the module adds. */
  names: string[];
  load(): Promise<CommandModule>;
}

export const COMMANDS: CommandEntry[] = [
  { names: ['server'], load: async () => (await import('./commands/server.ts')).serverCommands },
  { names: ['ps', 'stop', 'task', 'logs'], load: async () => (await import('./commands/tasks.ts')).taskCommands },
  { names: ['subnets'], load: async () => (await import('./commands/network.ts')).networkCommands },
  { names: ['cost'], load: async () => (await import('./commands/cost.ts')).costCommands },
  { names: ['rightsize'], load: async () => (await import('./commands/rightsize.ts')).rightsizeCommands },
  { names: ['coldstart'], load: async () => (await import('./commands/coldstart.ts')).coldstartCommands },
  { names: ['doctor'], load: async () => (await import('./commands/doctor.ts')).doctorCommands },
  { names: ['advise'], load: async () => (await import('./commands/advise.ts')).adviseCommands },
  { names: ['keys', 'audit'], load: async () => (await import('./commands/keys.ts')).keyCommands },
  { names: ['spot'], load: async () => (await import('./commands/spot.ts')).spotCommands },
  { names: ['run'], load: async () => (await import('./commands/run.ts')).runCommands },
  { names: ['services', 'scale', 'deploy'], load: async () => (await import('./commands/services.ts')).serviceCommands },
  { names: ['top'], load: async () => (await import('./commands/top.ts')).topCommands },
  { names: ['completion'], load: async () => (await import('./commands/completion.ts')).completionCommands },
  { names: ['roles'], load: async () => (await import('./commands/roles.ts')).roleCommands },
  { names: ['compose'], load: async () => (await import('./commands/compose.ts')).composeCommands },
  { names: ['autoscaling'], load: async () => (await import('./commands/autoscaling.ts')).autoscalingCommands },
  { names: ['lb'], load: async () => (await import('./commands/lb.ts')).lbCommands },
  { names: ['exec'], load: async () => (await import('./commands/exec.ts')).execCommands },
  { names: ['host'], load: async () => (await import('./commands/host.ts')).hostCommands },
];

/** Commands that need every command registered (they read the whole tree). */
const NEEDS_ALL = new Set(['completion']);
/** Global options that take a value (`--endpoint URL`): the next word is not the command. */
const GLOBAL_VALUE_OPTIONS = new Set(['--endpoint', '--region', '--output', '-o']);

/** The command word of `argv` (after node and the script), skipping global options; undefined when there is none. */
export function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (a.startsWith('-')) {
      if (GLOBAL_VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/** The command modules `argv` needs: the one of its command, none for `--version`, or all of them (help, no command, an unknown one, completion). */
export function modulesFor(args: string[]): CommandEntry[] {
  const word = commandWord(args);
  if (word === undefined && (args.includes('-V') || args.includes('--version')) && !args.includes('-h') && !args.includes('--help')) return [];
  const entry = word === undefined || NEEDS_ALL.has(word) ? undefined : COMMANDS.find((e) => e.names.includes(word));
  return entry ? [entry] : COMMANDS;
}

export function program(): Command {
  return new Command('skiff')
    .description('Serverless containers you run yourself: the ECS/Fargate API on your own host.')
    .version(skiffVersion(), '-V, --version', 'print the Skiff version')
    .option('--endpoint <url>', 'Skiff server URL (default: $SKIFF_ENDPOINT or http://127.0.0.1:8080)')
    .option('--region <region>', 'region to sign requests for (default: $AWS_REGION or us-east-1)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .showHelpAfterError();
}

export async function main(argv: string[]): Promise<void> {
  const root = program();
  const ctx = cliContext(root);
  const entries = modulesFor(argv.slice(2));
  for (const register of await Promise.all(entries.map((e) => e.load()))) register(ctx);

  try {
    await root.parseAsync(argv);
  } catch (err) {
    process.exitCode = 1;
    // Only `server` and `host` throw these: their classes are loaded only when one of those was registered.
    if (entries.some((e) => e.names.includes('server') || e.names.includes('host'))) {
      const [{ ConfigError }, { PreflightError }] = await Promise.all([import('../config/server-config.ts'), import('../server/preflight.ts')]);
      if (err instanceof PreflightError || err instanceof ConfigError) {
        console.error(err.message);
        if (err instanceof PreflightError) process.exitCode = 2;
        return;
      }
    }
    console.error(`skiff: ${err instanceof Error ? err.message : String(err)}`);
  }
}
