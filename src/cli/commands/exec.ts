/**
 * `skiff exec`: run a command in a running task's container (ECS ExecuteCommand).
 *
 *   skiff exec TASK -- sh                    an interactive shell (a terminal when run in one)
 *   echo hi | skiff exec TASK -- cat         plain pipes: stdin until EOF, stdout and stderr apart
 *   skiff exec --container app TASK -- ls /  a task with several containers
 *
 * With a terminal on both stdin and stdout (or `-t`), the command gets a
 * pseudo-terminal: the local terminal goes raw and its window size follows
 * along. The exit code of the command is the exit code of `skiff exec`.
 * The session's stream (src/exec/framing.ts) is opened at the streamUrl's path
 * on the endpoint this CLI talks to, with the one-time token ExecuteCommand gave.
 */
import type WebSocket from 'ws';
import { ecsClient, resolveEndpoint } from '../client.ts';
import type { CommandModule } from '../context.ts';
import { joinCommand } from '../../exec/command-line.ts';
import { Channel, TOKEN_HEADER, decodeFrame, encodeFrame, readExit, resizeFrame } from '../../exec/framing.ts';

interface ExecOpts {
  cluster: string;
  container?: string;
  tty?: boolean;
}

export const execCommands: CommandModule = ({ program, globals }) => {
  program
    .command('exec')
    .description('run a command in a running task (the task must have been run with enableExecuteCommand)')
    .argument('<task>', 'task id or ARN')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--cluster <name>', 'cluster name or ARN', 'default')
    .option('--container <name>', 'the container to run in (needed when the task has several)')
    .option('-t, --tty', 'give the command a terminal even when this is not run in one')
    .option('-T, --no-tty', 'plain pipes even in a terminal')
    .action(async (task: string, command: string[], opts: ExecOpts) => {
      const tty = opts.tty ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
      const { ExecuteCommandCommand } = await import('@aws-sdk/client-ecs');
      const { default: WebSocket } = await import('ws');
      const out = await (await ecsClient(globals())).send(
        new ExecuteCommandCommand({ cluster: opts.cluster, task, container: opts.container, command: joinCommand(command), interactive: true }),
      );
      const s = out.session;
      if (!s?.streamUrl || !s.tokenValue) throw new Error('the server returned no exec session');
      const code = await stream(WebSocket, resolveEndpoint(globals()), s.streamUrl, s.tokenValue, tty);
      await new Promise<void>((resolve) => process.stdout.write('', () => process.stderr.write('', () => resolve())));
      process.exit(code);
    });
};

/** Runs the session to its end; resolves with the exit code to leave with. */
function stream(WebSocket: typeof import('ws').default, endpoint: string, streamUrl: string, token: string, tty: boolean): Promise<number> {
  const url = new URL(new URL(streamUrl).pathname, endpoint.replace(/^http/, 'ws'));
  const cols = process.stdout.columns;
  const rows = process.stdout.rows;
  if (tty) {
    url.searchParams.set('tty', '1');
    if (cols && rows) (url.searchParams.set('cols', String(cols)), url.searchParams.set('rows', String(rows)));
  }
  const ws = new WebSocket(url, { headers: { [TOKEN_HEADER]: token } });
  const stdin = process.stdin;
  const rawWas = stdin.isTTY ? stdin.isRaw : undefined;
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = (code: number, message?: string) => {
      if (done) return;
      done = true;
      if (rawWas !== undefined && tty) stdin.setRawMode(rawWas);
      stdin.pause();
      process.stdout.off('resize', onResize);
      if (message) process.stderr.write(`skiff: ${message}\n`);
      resolve(code);
    };
    const onResize = () => {
      if (ws.readyState === ws.OPEN && process.stdout.columns && process.stdout.rows) ws.send(resizeFrame(process.stdout.columns, process.stdout.rows));
    };
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let message = body;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? body;
        } catch { /* plain text */ }
        finish(1, `the exec session was refused (HTTP ${res.statusCode}): ${message}`);
      });
    });
    ws.on('error', (err) => finish(1, `exec stream: ${err.message}`));
    ws.on('open', () => {
      if (tty) {
        if (stdin.isTTY) stdin.setRawMode(true);
        process.stdout.on('resize', onResize);
      }
      stdin.on('data', (d: Buffer) => {
        if (ws.readyState !== ws.OPEN) return;
        const over = ws.bufferedAmount + d.length > 1 << 20;
        ws.send(encodeFrame(Channel.Stdin, d), over ? () => stdin.resume() : undefined);
        if (over) stdin.pause();
      });
      stdin.on('end', () => {
        if (ws.readyState === ws.OPEN) ws.send(encodeFrame(Channel.Eof));
      });
      stdin.resume();
    });
    ws.on('message', (data: Buffer) => {
      const { channel, payload } = decodeFrame(data);
      if (channel === Channel.Stdout) process.stdout.write(payload);
      else if (channel === Channel.Stderr) process.stderr.write(payload);
      else if (channel === Channel.Exit) finish(readExit(payload));
      else if (channel === Channel.Error) finish(1, payload.toString('utf8'));
    });
    ws.on('close', (code, reason) => finish(1, `the exec session ended without an exit status (WebSocket close ${code}${reason.length ? `: ${reason.toString()}` : ''})`));
  });
}
