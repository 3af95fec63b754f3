import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpawnHelper } from './spawn-helper.ts';
import { run, spawnPiped, useSpawnHelper, spawnHelperPid, CommandMissingError } from './exec.ts';

test('the helper runs tools with input, output, exit codes and cwd like a direct spawn', async () => {
  const h = new SpawnHelper();
  try {
    const r = await h.run('sh', ['-c', 'read x; echo "got $x in $(pwd)"; echo err >&2; exit 3'], { input: 'hello\n', cwd: '/tmp' });
    assert.deepEqual(r, { code: 3, stdout: 'got hello in /tmp\n', stderr: 'err\n' });
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => h.run('echo', [String(i)])));
    assert.deepEqual(many.map((m) => m.stdout.trim()), Array.from({ length: 20 }, (_, i) => String(i)), 'answers reach their callers');
    await assert.rejects(h.run('/nonexistent/tool', []), (e: Error & { code?: string }) => e.code === 'ENOENT');
  } finally {
    h.close();
  }
});

test('run() goes through the helper when it is on, and says which command is missing', async () => {
  useSpawnHelper(true);
  try {
    assert.equal((await run('echo', ['via helper'])).stdout, 'via helper\n');
    assert.ok(spawnHelperPid(), 'a helper process runs');
    await assert.rejects(run('/nonexistent/tool', []), CommandMissingError);
  } finally {
    useSpawnHelper(false);
  }
  assert.equal(spawnHelperPid(), undefined);
});

for (const mode of ['direct', 'helper'] as const) {
  test(`piped children (${mode}): extra fds both ways, close code, kill`, async () => {
    if (mode === 'helper') useSpawnHelper(true);
    try {
      // fd 3 carries a message out; fd 4 carries one in (as conmon's sync and start pipes).
      const p = spawnPiped('sh', ['-c', 'echo ready >&3; read go <&4; echo "go=$go" >&3; echo bye >&2'], { pipes: 3 });
      const seen: string[] = [];
      const closed = new Promise<number | null>((resolve) => p.onClose(resolve));
      p.onData((fd, chunk) => {
        seen.push(`${fd}:${chunk.toString().trim()}`);
        if (chunk.toString().includes('ready')) p.write(4, '1\n', true);
      });
      assert.equal(await closed, 0);
      assert.deepEqual(seen.sort(), ['2:bye', '3:go=1', '3:ready']);

      const sleeper = spawnPiped('sleep', ['30'], { pipes: 1 });
      const gone = new Promise<number | null>((resolve) => sleeper.onClose(resolve));
      sleeper.kill('SIGKILL');
      assert.notEqual(await gone, 0);
    } finally {
      if (mode === 'helper') useSpawnHelper(false);
    }
  });
}
