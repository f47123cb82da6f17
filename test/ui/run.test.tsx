import './env-live.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { NotATerminalError, runConsole } from '../../src/ui/run.js';
import { inProcessHost } from '../../src/dataplane/worker/in-process.js';
import { demoFake } from '../helpers/fake-dataplane.js';

function ttyPair() {
  const stdin = Object.assign(new PassThrough(), { isTTY: true, isRaw: false, setRawMode(this: { isRaw: boolean }, v: boolean) { this.isRaw = v; return this; }, ref() { return this; }, unref() { return this; } });
  let out = '';
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 80, rows: 24 });
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  return { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream, out: () => out, raw: () => stdin.isRaw };
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('runConsole: without a TTY it refuses with the subcommand hint and touches nothing', async () => {
  const { host, dp } = demoFake();
  const stdout = Object.assign(new PassThrough(), { isTTY: false });
  let wrote = '';
  stdout.on('data', (d: Buffer) => { wrote += d.toString(); });
  await assert.rejects(
    runConsole(inProcessHost(host), { stdin: new PassThrough() as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream }),
    (e: Error) => e instanceof NotATerminalError && e.name === 'NotATerminalError'
      && e.message === 'katran-tui: the console needs a terminal; use a subcommand such as `katran-tui status` or `katran-tui stats --once`',
  );
  assert.equal(wrote, '');
  assert.equal(dp.closed, false);
});

test('runConsole: q quits, the terminal is restored, the dataplane closed and NOT detached', async () => {
  const { host, dp } = demoFake();
  const io = ttyPair();
  const sigBefore = process.listenerCount('SIGTERM');
  let exited = 0;
  const run = runConsole(inProcessHost(host), { stdin: io.stdin, stdout: io.stdout, intervalMs: 250, noColor: true, onExit: () => { exited++; } });
  await until(() => io.out().includes('192.0.2.10:80/tcp'));
  assert.ok(io.out().startsWith('\x1b[?1049h'), 'alternate screen entered');
  assert.equal(io.raw(), true);
  (io.stdin as unknown as PassThrough).write('q');
  await run;
  assert.ok(io.out().endsWith('\x1b[?25h\x1b[?1049l'), 'cursor shown and alternate screen left, last');
  assert.equal(io.raw(), false);
  assert.equal(dp.closed, true);
  assert.equal(dp.detachCalls, 0);
  assert.equal(exited, 1);
  // ours are gone (signal-exit, loaded by Ink's dependencies, keeps one listener of its own)
  assert.ok(process.listeners('SIGTERM').every((f) => !String(f).includes('onSignal')), 'our signal handlers removed');
  assert.ok(process.listenerCount('SIGTERM') <= sigBefore + 1);
  assert.ok(process.listeners('uncaughtException').every((f) => !String(f).includes('onCrash')));
});

test('runConsole: SIGTERM restores the terminal and closes without detaching', async () => {
  const { host, dp } = demoFake();
  const io = ttyPair();
  const run = runConsole(inProcessHost(host), { stdin: io.stdin, stdout: io.stdout, noColor: true });
  await until(() => io.out().includes('192.0.2.10:80/tcp'));
  process.emit('SIGTERM', 'SIGTERM');
  await run;
  assert.equal(process.exitCode, 143);
  process.exitCode = 0;
  assert.ok(io.out().endsWith('\x1b[?25h\x1b[?1049l'));
  assert.equal(dp.closed, true);
  assert.equal(dp.detached, false);
});

test('runConsole: NO_COLOR in the environment turns colours off', async () => {
  const { host } = demoFake();
  const io = ttyPair();
  process.env.NO_COLOR = '1';
  try {
    const run = runConsole(inProcessHost(host), { stdin: io.stdin, stdout: io.stdout });
    await until(() => io.out().includes('192.0.2.10:80/tcp'));
    (io.stdin as unknown as PassThrough).write('q');
    await run;
  } finally {
    delete process.env.NO_COLOR;
  }
  assert.doesNotMatch(io.out(), /\x1b\[(3|4|9|10)\d(;\d+)*m/);
});

test('runConsole: a resize redraws at the new size', async () => {
  const { host } = demoFake();
  const io = ttyPair();
  const run = runConsole(inProcessHost(host), { stdin: io.stdin, stdout: io.stdout, noColor: true });
  await until(() => io.out().includes('192.0.2.10:80/tcp'));
  const plain = (t: string) => t.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(plain(io.out()), /HISTORY {8}\n/, '80 columns: HISTORY column 15 wide');
  const out = io.stdout as unknown as PassThrough & { columns: number; rows: number };
  out.columns = 120; out.rows = 40;
  const before = io.out().length;
  out.emit('resize');
  await until(() => /HISTORY {20,}/.test(plain(io.out().slice(before))));
  (io.stdin as unknown as PassThrough).write('q');
  await run;
});
