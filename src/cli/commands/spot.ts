/** `skiff spot interrupt TASK`: reclaim a FARGATE_SPOT task (warning, SIGTERM, then stopped with SpotInterruption). */
import { skiffFetch } from '../client.ts';
import { render } from '../render.ts';
import type { CommandModule } from '../context.ts';

export const spotCommands: CommandModule = ({ program, globals, format }) => {
  const spot = program.command('spot').description('Fargate Spot capacity');
  spot
    .command('interrupt')
    .description('interrupt a FARGATE_SPOT task as AWS reclaims Spot capacity: SIGTERM now, SIGKILL after the warning period')
    .argument('<task>', 'task id or ARN')
    .action(async (task: string) => {
      const id = task.split('/').pop()!;
      const res = await skiffFetch(globals(), `/skiff/v1/tasks/${encodeURIComponent(id)}/spot-interruption`, { method: 'POST', body: {} });
      const out = (await res.json()) as { task: { taskArn: string; desiredStatus: string; lastStatus: string; stopCode?: string; stoppedReason?: string } };
      render(format(), out, () => ({
        columns: ['TASK', 'DESIRED', 'STATUS', 'STOP CODE', 'REASON'],
        rows: [[id, out.task.desiredStatus, out.task.lastStatus, out.task.stopCode, out.task.stoppedReason]],
      }));
    });
};
