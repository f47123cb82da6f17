// The durable state directory: atomic writes that survive kill -9, corruption reported (never
// silently lost), permissions, the writer lock against other processes, intents, the change log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateCorruptError, StateStore } from '../../src/dataplane/control/state.js';
import { LockedError, ReadOnlyError, type ChangeLogEntry } from '../../src/dataplane/types.js';
import { scratchDir } from '../helpers/env.js';

const stateModule = new URL('../../src/dataplane/control/state.js', import.meta.url).href;

/** A pid that existed a moment ago and is dead now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Runs `body` in a child node process with StateStore imported; lines it prints come back. */
function child(body: string, env: Record<string, string> = {}): { proc: ChildProcessWithoutNullStreams; line: () => Promise<string>; exited: Promise<number | null> } {
  const src = `import { StateStore } from ${JSON.stringify(stateModule)};\n${body}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  proc.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l); else lines.push(l);
    }
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const line = (): Promise<string> => {
    const l = lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`child printed nothing within 10 s; stderr: ${stderr}`)), 10_000);
      waiters.push((x) => { clearTimeout(t); res(x); });
    });
  };
  return { proc, line, exited };
}

const mode = (p: string): number => statSync(p).mode & 0o777;

test('write / read round trip; directory 0700 and every file 0600 even with umask 0', () => {
  const dir = join(scratchDir('state-perm'), 'st');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const old = process.umask(0);
  try {
    const s = StateStore.open(dir, { write: true });
    assert.equal(s.read(), null);
    s.write({ vips: [{ id: '192.0.2.1:80/tcp', reals: ['198.51.100.1'] }] });
    s.write({ vips: [] });
    s.beginIntent({ op: 'add-vip', target: '192.0.2.2:80/tcp', old: null, new: { port: 80 } });
    s.appendChangeLog({ at: new Date().toISOString(), op: 'add-vip', target: 'x', old: null, new: 1 });
    assert.deepEqual(s.read(), { vips: [] });
    assert.equal(mode(dir), 0o700, 'an existing 0755 directory is tightened');
    for (const f of ['state.json', 'state.json.prev', 'intent.json', 'changes.jsonl', 'lock']) {
      assert.equal(mode(join(dir, f)), 0o600, `${f} is 0600`);
    }
    s.close();
  } finally {
    process.umask(old);
  }
  const fresh = join(scratchDir('state-perm2'), 'a', 'b');
  const s2 = StateStore.open(fresh, { write: true });
  assert.equal(mode(fresh), 0o700);
  s2.close();
});

test('read-only: no lock, nothing created, every write refused', () => {
  const dir = join(scratchDir('state-ro'), 'missing');
  const r = StateStore.open(dir, { write: false });
  assert.equal(r.read(), null);
  assert.deepEqual(r.changeLog(), []);
  assert.equal(r.pendingIntent(), null);
  assert.throws(() => r.write({}), ReadOnlyError);
  assert.throws(() => r.beginIntent({ op: 'x', target: 'y', old: 1, new: 2 }), ReadOnlyError);
  assert.throws(() => r.appendChangeLog({ at: 'now', op: 'x', target: 'y', old: 1, new: 2 }), ReadOnlyError);
  assert.equal(existsSync(dir), false);
  // A read-only open beside a writer sees its state and does not disturb the lock.
  const w = StateStore.open(dir, { write: true });
  w.write({ n: 1 });
  const r2 = StateStore.open(dir, { write: false });
  assert.deepEqual(r2.read(), { n: 1 });
  r2.close();
  assert.equal(StateStore.lockHolder(dir), process.pid);
  w.close();
  assert.equal(StateStore.lockHolder(dir), null);
});

test('a crashed write (temp file left behind) changes nothing; the next writer sweeps it', () => {
  const dir = scratchDir('state-tmp');
  const s = StateStore.open(dir, { write: true });
  s.write({ generation: 1 });
  s.close();
  const tmp = join(dir, `.state.json.${deadPid()}.a1b2c3.tmp`);
  writeFileSync(tmp, '{"format":"katran-tui-state","version":1,"sta', { mode: 0o600 });
  const r = StateStore.open(dir, { write: false });
  assert.deepEqual(r.read(), { generation: 1 });
  const w = StateStore.open(dir, { write: true });
  assert.equal(existsSync(tmp), false, 'temp file of a dead writer removed');
  assert.deepEqual(w.read(), { generation: 1 });
  w.close();
});

test('kill -9 in the middle of writes: state.json always whole, one of the written generations', async () => {
  const dir = scratchDir('state-kill');
  for (let round = 0; round < 6; round++) {
    const c = child(`
      const s = StateStore.open(${JSON.stringify(dir)}, { write: true });
      const prev = s.read();
      let g = prev ? prev.generation + 1 : 0;
      console.log('ready ' + g);
      for (;;) s.write({ generation: g++, pad: 'x'.repeat(20000 + (g % 7) * 3000) });
    `);
    const ready = await c.line();
    const startGen = Number(ready.split(' ')[1]);
    await new Promise((r) => setTimeout(r, 30 + Math.floor(Math.random() * 120)));
    c.proc.kill('SIGKILL');
    await c.exited;
    const r = StateStore.open(dir, { write: false });
    const st = r.read<{ generation: number; pad: string }>();
    assert.ok(st, `round ${round}: a state is there`);
    assert.ok(st.generation >= startGen - 1, `round ${round}: generation ${st.generation} >= ${startGen - 1}`);
    assert.equal(st.pad.length, 20000 + ((st.generation + 1) % 7) * 3000);
  }
  // The stale lock of the killed writer is taken over, its temp files swept.
  const w = StateStore.open(dir, { write: true });
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  w.close();
});

test('a truncated state.json: StateCorruptError naming the file, the problem and the good copy; recoverFromPrevious', () => {
  const dir = scratchDir('state-corrupt');
  const s = StateStore.open(dir, { write: true });
  s.write({ generation: 1, vips: ['192.0.2.1:80/tcp'] });
  s.write({ generation: 2, vips: ['192.0.2.1:80/tcp', '192.0.2.2:80/tcp'] });
  const file = join(dir, 'state.json');
  const size = statSync(file).size;
  truncateSync(file, Math.floor(size / 2));
  const damaged = readFileSync(file);
  let err: unknown;
  try { s.read(); } catch (e) { err = e; }
  assert.ok(err instanceof StateCorruptError, 'StateCorruptError');
  assert.equal(err.file, file);
  assert.match(err.problem, /truncated/);
  assert.equal(err.previous, join(dir, 'state.json.prev'));
  assert.match(err.message, /state\.json is unusable: not valid JSON/);
  assert.match(err.message, /last good copy .*state\.json\.prev .*exists/);
  // Reading again changes nothing: the damaged file is still there, byte for byte.
  assert.throws(() => s.read(), StateCorruptError);
  assert.deepEqual(readFileSync(file), damaged);

  const recovered = s.recoverFromPrevious<{ generation: number }>();
  assert.equal(recovered.generation, 1);
  assert.deepEqual(s.read(), { generation: 1, vips: ['192.0.2.1:80/tcp'] });
  const kept = readdirSync(dir).filter((f) => f.startsWith('state.json.corrupt-'));
  assert.equal(kept.length, 1, 'the damaged file is kept');
  assert.deepEqual(readFileSync(join(dir, kept[0])), damaged);
  assert.equal(mode(file), 0o600);
  assert.throws(() => s.recoverFromPrevious(), /intact: nothing to recover/);
  s.close();
});

test('damage that still parses is caught by the checksum; a missing state.json beside .prev is reported', () => {
  const dir = scratchDir('state-damage');
  const s = StateStore.open(dir, { write: true });
  s.write({ weight: 10 });
  s.write({ weight: 20 });
  const file = join(dir, 'state.json');
  writeFileSync(file, readFileSync(file, 'utf8').replace('"weight": 20', '"weight": 29'));
  assert.throws(() => s.read(), (e: unknown) => e instanceof StateCorruptError && /checksum mismatch/.test(e.problem));
  // Writing over a damaged file keeps it aside and keeps .prev as the last good copy.
  s.write({ weight: 30 });
  assert.deepEqual(s.read(), { weight: 30 });
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('state.json.corrupt-')).length, 1);
  assert.match(readFileSync(join(dir, 'state.json.prev'), 'utf8'), /"weight": 10/);
  // state.json gone while a good previous copy exists: not "no state"
  rmSync(file);
  assert.throws(() => s.read(), (e: unknown) => e instanceof StateCorruptError && /missing/.test(e.problem) && e.previous !== null);
  assert.deepEqual(s.recoverFromPrevious(), { weight: 10 });
  // A previous copy that is damaged too: the error says there is no good copy.
  writeFileSync(file, '{');
  writeFileSync(join(dir, 'state.json.prev'), '');
  assert.throws(() => s.read(), (e: unknown) => e instanceof StateCorruptError && e.previous === null && /No good previous copy/.test(e.message));
  assert.throws(() => s.recoverFromPrevious(), /previous copy is unusable too: empty/);
  s.close();
});

test('two writers: the second gets LockedError with the holder pid; after kill -9 the lock is taken over', async () => {
  const dir = scratchDir('state-lock');
  const c = child(`
    const s = StateStore.open(${JSON.stringify(dir)}, { write: true });
    s.write({ holder: process.pid });
    console.log('holding ' + process.pid);
    process.stdin.resume();
    process.stdin.on('end', () => { s.close(); process.exit(0); });
  `);
  try {
    const l = await c.line();
    assert.equal(l, `holding ${c.proc.pid}`);
    let err: unknown;
    try { StateStore.open(dir, { write: true }); } catch (e) { err = e; }
    assert.ok(err instanceof LockedError, 'LockedError');
    assert.equal(err.pid, c.proc.pid);
    assert.match(err.message, new RegExp(`locked by pid ${c.proc.pid}$`));
    assert.equal(StateStore.lockHolder(dir), c.proc.pid);
    assert.deepEqual(StateStore.open(dir, { write: false }).read(), { holder: c.proc.pid }, 'readers are not blocked');
  } finally {
    c.proc.kill('SIGKILL');
    await c.exited;
  }
  const s = StateStore.open(dir, { write: true });
  assert.equal(readFileSync(join(dir, 'lock'), 'utf8').split('\n')[0], String(process.pid));
  assert.deepEqual(s.read(), { holder: c.proc.pid });
  s.close();
  assert.equal(existsSync(join(dir, 'lock')), false, 'close() releases');
});

test('a lock left by a process that exited without close() is released at exit', async () => {
  const dir = scratchDir('state-exit');
  const c = child(`StateStore.open(${JSON.stringify(dir)}, { write: true }); console.log('ok');`);
  assert.equal(await c.line(), 'ok');
  assert.equal(await c.exited, 0);
  assert.equal(existsSync(join(dir, 'lock')), false);
});

test('stale locks: dead pid, reused pid (other start time), unreadable old file: each taken over', () => {
  const dir = scratchDir('state-stale');
  const lock = join(dir, 'lock');
  const dead = deadPid();
  writeFileSync(lock, `${dead}\n{"start":"1","token":"00112233445566778899aabb","at":"2020-01-01T00:00:00Z"}\n`, { mode: 0o600 });
  assert.equal(StateStore.lockHolder(dir), null);
  let s = StateStore.open(dir, { write: true });
  assert.equal(readFileSync(lock, 'utf8').split('\n')[0], String(process.pid));
  s.close();
  // The pid is alive (our parent) but it is another process than the one that took the lock.
  writeFileSync(lock, `${process.ppid}\n{"start":"1","token":"aabbccddeeff001122334455"}\n`, { mode: 0o600 });
  s = StateStore.open(dir, { write: true });
  s.close();
  // The same live pid with its true start time is a holder.
  const ppidStart = readFileSync(`/proc/${process.ppid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  writeFileSync(lock, `${process.ppid}\n{"start":"${ppidStart}","token":"aabbccddeeff001122334466"}\n`, { mode: 0o600 });
  assert.throws(() => StateStore.open(dir, { write: true }), (e: unknown) => e instanceof LockedError && e.pid === process.ppid);
  // Garbage in an old lock file: nobody can hold it.
  writeFileSync(lock, 'garbage', { mode: 0o600 });
  utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  s = StateStore.open(dir, { write: true });
  assert.deepEqual(readdirSync(dir).filter((f) => f !== 'lock'), [], 'no takeover guards or temp files left');
  s.close();
});

// Each taker pauses 100 ms between reading the stale lock and acting on it (StateStore.open's
// onStaleLock seam), so all eight act on the same stale lock: a takeover that simply deleted it and
// created its own would let several win.
test('eight processes race to take over one stale lock: exactly one wins, the others name it', async () => {
  const dir = scratchDir('state-race');
  writeFileSync(join(dir, 'lock'), `${deadPid()}\n{"start":"1","token":"0123456789abcdef01234567"}\n`, { mode: 0o600 });
  const at = Date.now() + 700;
  const kids = Array.from({ length: 8 }, () => child(`
    while (Date.now() < ${at}) { /* start together */ }
    try {
      const pause = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      const s = StateStore.open(${JSON.stringify(dir)}, { write: true, onStaleLock: pause });
      console.log('won ' + process.pid);
    } catch (e) {
      console.log(e.name === 'LockedError' ? 'locked ' + e.pid : 'error ' + e.message);
    }
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));
  `));
  try {
    const results = await Promise.all(kids.map((k) => k.line()));
    const winners = results.filter((r) => r.startsWith('won '));
    assert.equal(winners.length, 1, `exactly one winner: ${results.join(', ')}`);
    const winner = winners[0].split(' ')[1];
    for (const r of results) if (!r.startsWith('won ')) assert.equal(r, `locked ${winner}`);
    assert.equal(readFileSync(join(dir, 'lock'), 'utf8').split('\n')[0], winner);
  } finally {
    for (const k of kids) k.proc.stdin.end();
    await Promise.all(kids.map((k) => k.exited));
  }
});

test('intent round trip: fsynced record, one at a time, survives reopen, cleared', () => {
  const dir = scratchDir('state-intent');
  let s = StateStore.open(dir, { write: true });
  assert.equal(s.pendingIntent(), null);
  const intent = { op: 'set-weight', target: '192.0.2.1:80/tcp 198.51.100.2', old: { weight: 1 }, new: { weight: 5 } };
  s.beginIntent(intent);
  const p = s.pendingIntent();
  assert.ok(p);
  assert.deepEqual({ op: p.op, target: p.target, old: p.old, new: p.new }, intent);
  assert.equal(p.pid, process.pid);
  assert.ok(Math.abs(Date.parse(p.at) - Date.now()) < 60_000);
  assert.throws(() => s.beginIntent({ op: 'x', target: 'y', old: 0, new: 1 }), /already pending \(set-weight/);
  s.close();
  s = StateStore.open(dir, { write: true });
  assert.deepEqual(s.pendingIntent()?.new, { weight: 5 }, 'a new process finds the pending intent');
  s.clearIntent();
  assert.equal(s.pendingIntent(), null);
  assert.equal(existsSync(join(dir, 'intent.json')), false);
  s.clearIntent(); // idempotent
  // A damaged intent record is reported, not ignored.
  writeFileSync(join(dir, 'intent.json'), '{"format":"katran-tui-intent"');
  assert.throws(() => s.pendingIntent(), (e: unknown) => e instanceof StateCorruptError && /pending intent is unreadable/.test(e.message));
  s.close();
});

test('change log: newest last, limit, a torn last line skipped and the next entry intact', () => {
  const dir = scratchDir('state-log');
  const s = StateStore.open(dir, { write: true });
  const entry = (i: number): ChangeLogEntry => ({ at: new Date(1_700_000_000_000 + i * 1000).toISOString(), op: 'set-weight', target: `198.51.100.${i}`, old: i, new: i + 1 });
  for (let i = 1; i <= 3; i++) s.appendChangeLog(entry(i));
  assert.deepEqual(s.changeLog(), [entry(1), entry(2), entry(3)]);
  assert.deepEqual(s.changeLog(2), [entry(2), entry(3)]);
  assert.deepEqual(s.changeLog(0), []);
  // A crash in the middle of an append leaves half a line.
  appendFileSync(join(dir, 'changes.jsonl'), '{"at":"2024-01-01T00:00:00.000Z","op":"add-re');
  assert.deepEqual(s.changeLog(), [entry(1), entry(2), entry(3)]);
  s.appendChangeLog(entry(4));
  assert.deepEqual(s.changeLog(), [entry(1), entry(2), entry(3), entry(4)]);
  assert.deepEqual(StateStore.open(dir, { write: false }).changeLog(1), [entry(4)]);
  // A long log is read from its tail.
  const big = (i: number): ChangeLogEntry => ({ ...entry(i), new: 'y'.repeat(2000) });
  for (let i = 5; i < 205; i++) s.appendChangeLog(big(i));
  assert.deepEqual(s.changeLog(3), [big(202), big(203), big(204)]);
  assert.equal(s.changeLog(1000).length, 204);
  s.close();
});
