/**
 * The `skiff` command. Every command except `server` is a client of the public
 * API, like any user's script; every listing command can print JSON. Each
 * folder of commands lives in `commands/` and is listed once here.
 */
import { Command, Option } from 'commander';
import { ConfigError } from '../config/server-config.ts';
import { PreflightError } from '../server/preflight.ts';
import { cliContext, type CommandModule } from './context.ts';
import { serverCommands } from './commands/server.ts';
import { taskCommands } from './commands/tasks.ts';
import { networkCommands } from './commands/network.ts';
import { costCommands } from './commands/cost.ts';
import { rightsizeCommands } from './commands/rightsize.ts';
import { coldstartCommands } from './commands/coldstart.ts';
import { doctorCommands } from './commands/doctor.ts';
import { adviseCommands } from './commands/advise.ts';
import { keyCommands } from './commands/keys.ts';
import { spotCommands } from './commands/spot.ts';
import { runCommands } from './commands/run.ts';
import { serviceCommands } from './commands/services.ts';
import { topCommands } from './commands/top.ts';
import { completionCommands } from './commands/completion.ts';
import { roleCommands } from './commands/roles.ts';
import { composeCommands } from './commands/compose.ts';
import { autoscalingCommands } from './commands/autoscaling.ts';
import { lbCommands } from './commands/lb.ts';
import { skiffVersion } from './version.ts';
import { execCommands } from './commands/exec.ts';
import { hostCommands } from './commands/host.ts';

const COMMANDS: CommandModule[] = [serverCommands, taskCommands, networkCommands, costCommands, rightsizeCommands, coldstartCommands, doctorCommands, adviseCommands, keyCommands, spotCommands, runCommands, serviceCommands, topCommands, completionCommands, roleCommands, composeCommands, autoscalingCommands, lbCommands, execCommands, hostCommands];

export async function main(argv: string[]): Promise<void> {
  const program = new Command('skiff')
    .description('Serverless containers you run yourself: the ECS/Fargate API on your own host.')
    .version(skiffVersion(), '-V, --version', 'print the Skiff version')
    .option('--endpoint <url>', 'Skiff server URL (default: $SKIFF_ENDPOINT or http://127.0.0.1:8080)')
    .option('--region <region>', 'region to sign requests for (default: $AWS_REGION or us-east-1)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .showHelpAfterError();
  const ctx = cliContext(program);
  for (const register of COMMANDS) register(ctx);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof PreflightError || err instanceof ConfigError) console.error(err.message);
    else console.error(`skiff: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = err instanceof PreflightError ? 2 : 1;
  }
}
