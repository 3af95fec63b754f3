import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Channel, FrameError, decodeFrame, encodeFrame, exitFrame, readExit, readResize, resizeFrame } from './framing.ts';
import { ExecSessions } from './sessions.ts';
import { CommandLineError, joinCommand, splitCommand } from './command-line.ts';

const target = { taskArn: 'arn:aws:ecs:us-east-1:1:task/default/abc', taskId: 'abc', containerName: 'app', runtimeId: 'abc-app', args: ['sh'] };

test('frames: channel byte + payload, resize and exit carry 4 bytes, bad frames are refused', () => {
  const f = decodeFrame(encodeFrame(Channel.Stdout, Buffer.from('hi')));
  assert.equal(f.channel, Channel.Stdout);
  assert.equal(f.payload.toString(), 'hi');
  assert.deepEqual(readResize(decodeFrame(resizeFrame(132, 43)).payload), { cols: 132, rows: 43 });
  assert.deepEqual(readResize(decodeFrame(resizeFrame(1e6, -3)).payload), { cols: 65535, rows: 0 }, 'clamped to uint16');
  assert.equal(readExit(decodeFrame(exitFrame(137)).payload), 137);
  assert.equal(readExit(decodeFrame(exitFrame(-1)).payload), -1);
  assert.equal(decodeFrame(encodeFrame(Channel.Eof)).payload.length, 0);
  assert.throws(() => decodeFrame(Buffer.alloc(0)), FrameError);
  assert.throws(() => decodeFrame(Buffer.from([9, 1])), /unknown channel 9/);
  assert.throws(() => decodeFrame(Buffer.from([Channel.Resize, 1, 2])), /4 bytes/);
  assert.throws(() => decodeFrame(Buffer.from([Channel.Eof, 1])), /empty/);
});

test('tokens: unguessable, single use, bound to their session, expiring', () => {
  let now = 1_000;
  const s = new ExecSessions({ streamBase: () => 'ws://h:1', ttlMs: 60_000, now: () => now });
  const a = s.create(target);
  const b = s.create({ ...target, args: ['id'] });
  assert.match(a.token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.notEqual(a.token, b.token);
  assert.equal(a.streamUrl, `ws://h:1/skiff/v1/exec/${a.sessionId}`);
  assert.deepEqual(s.redeem(b.sessionId, a.token), { ok: false, reason: 'the token does not belong to this exec session' });
  assert.equal(s.redeem(a.sessionId, undefined).ok, false);
  assert.equal(s.redeem(a.sessionId, a.token.slice(0, -1) + (a.token.endsWith('A') ? 'B' : 'A')).ok, false);
  const r = s.redeem(a.sessionId, a.token);
  assert.ok(r.ok);
  assert.deepEqual(r.target, target, 'the stored hash never leaves');
  assert.equal(s.redeem(a.sessionId, a.token).ok, false, 'a used token is refused');
  now += 60_000;
  assert.match((s.redeem(b.sessionId, b.token) as { reason: string }).reason, /expired/, 'an unused token expires');
  assert.equal(s.size, 0);
});

test('tokens: at most maxPending wait; the oldest goes first', () => {
  const s = new ExecSessions({ streamBase: () => 'ws://h:1', maxPending: 2 });
  const a = s.create(target);
  const b = s.create(target);
  const c = s.create(target);
  assert.equal(s.size, 2);
  assert.equal(s.redeem(a.sessionId, a.token).ok, false);
  assert.ok(s.redeem(b.sessionId, b.token).ok);
  assert.ok(s.redeem(c.sessionId, c.token).ok);
});

test('command lines split like shell words, without expansion, and join back', () => {
  assert.deepEqual(splitCommand('ls -la /tmp'), ['ls', '-la', '/tmp']);
  assert.deepEqual(splitCommand(`sh -c 'echo out; exit 7'`), ['sh', '-c', 'echo out; exit 7']);
  assert.deepEqual(splitCommand(`echo "a \\"b\\" $HOME" c\\ d ''`), ['echo', 'a "b" $HOME', 'c d', '']);
  assert.deepEqual(splitCommand('  '), []);
  assert.throws(() => splitCommand(`echo 'open`), CommandLineError);
  assert.throws(() => splitCommand('echo "open'), CommandLineError);
  assert.throws(() => splitCommand('echo \\'), CommandLineError);
  for (const argv of [['sh', '-c', `echo it's "quoted"; exit 7`], ['printf', '%s\\n', 'a b', '', '$X', '*']]) {
    assert.deepEqual(splitCommand(joinCommand(argv)), argv);
  }
  assert.equal(joinCommand(['ls', '-la', '/tmp']), 'ls -la /tmp');
});
