// A change a killed writer left pending, as every command shows it (against the fake Host; the
// kill -9 runs against the real kernel are in test/bpf/pending.test.ts): read commands say so on
// stderr and in their JSON, prometheus has the gauge, status and doctor flag it, recover --dry-run
// describes it and writes nothing, recover (or any writer) finishes it and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, FakeBox, fakeDeps } from './fake-host.js';

async function run(box: FakeBox, argv: string[], o: Parameters<typeof fakeDeps>[1] = {}) {
  const f = fakeDeps(box, o);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

const MESSAGE = 'an interrupted change is pending: add-real 192.0.2.1:80/tcp 198.51.100.61, started 2026-12-01T20:00:00.000Z by pid 4242, which died before finishing it (the kernel may hold it half-applied); run `katran-tui recover` or any change to finish it';

function pendingBox(): FakeBox {
  const box = attachedBox();
  box.pending = { op: 'add-real', target: '192.0.2.1:80/tcp 198.51.100.61', at: '2026-12-01T20:00:00.000Z', pid: 4242, message: MESSAGE };
  return box;
}

const probe = {
  readFile: (p: string) => (p === '/proc/mounts' ? 'bpf /sys/fs/bpf bpf rw 0 0\n' : null),
  readlink: () => null,
  readdir: (p: string) => (p === '/sys/fs/bpf/katran-tui' ? ['veth-lb'] : null),
};

test('read commands with a pending change: one stderr line, pendingChange in the JSON, the prometheus gauge, status and doctor', async () => {
  const box = pendingBox();
  for (const argv of [['vip', 'list'], ['vip', 'list', '--json'], ['mac', 'get', '--json'], ['stats', '--once', '--json'], ['stats', '--prometheus']]) {
    const r = await run(box, argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.err}`);
    assert.equal(r.err, `katran-tui: warning: ${MESSAGE}\n`, argv.join(' '));
    if (argv.includes('--json')) assert.deepEqual(JSON.parse(r.out.trim().split('\n')[0]).pendingChange, box.pending, argv.join(' '));
  }
  const prom = await run(box, ['stats', '--prometheus']);
  assert.match(prom.out, /^# TYPE katran_pending_change gauge\nkatran_pending_change\{intf="veth-lb"\} 1$/m);
  const st = await run(box, ['status']);
  assert.match(st.out, /veth-lb\s+7.*ok, CHANGE PENDING\n/);
  assert.match(st.err, /veth-lb: an interrupted change is pending: add-real/);
  const sj = JSON.parse((await run(box, ['status', '--json'])).out);
  assert.deepEqual(sj.pendingChange, box.pending);
  assert.deepEqual(sj.balancers[0].pendingChange, box.pending);
  const d = await run(box, ['doctor', '--json'], { probe });
  assert.equal(d.code, 1);
  const doc = JSON.parse(d.out);
  const c = doc.checks.find((x: { check: string }) => x.check === 'veth-lb pending change');
  assert.equal(c.verdict, 'fail');
  assert.equal(c.detail, MESSAGE);
  assert.match(c.fix, /katran-tui recover --intf veth-lb/);
  assert.deepEqual(doc.pendingChange, box.pending);
  assert.deepEqual(box.writes, [], 'no read command wrote anything');
});

test('recover: --dry-run describes and writes nothing; recover finishes and says what it did; then nothing is pending', async () => {
  const box = pendingBox();
  const dry = await run(box, ['recover', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.equal(dry.out, 'would: finish the interrupted change add-real 192.0.2.1:80/tcp 198.51.100.61 (started 2026-12-01T20:00:00.000Z by pid 4242): make the kernel hold its new state and write the state file; undo it if that fails\n');
  assert.deepEqual(box.writes, []);
  assert.ok(box.pending);
  const dj = JSON.parse((await run(box, ['recover', '--dry-run', '--json'])).out);
  assert.equal(dj.applied, false);
  assert.deepEqual(dj.pendingChange, box.pending);
  const ro = await run(box, ['recover', '--readonly']);
  assert.equal(ro.code, 1);
  assert.match(ro.err, /^katran-tui: refused: --readonly was given/);
  assert.ok(box.pending, '--readonly changed nothing');
  const r = await run(box, ['recover', '--json']);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.applied, true);
  assert.match(doc.summary[0], /^an interrupted change add-real 192\.0\.2\.1:80\/tcp 198\.51\.100\.61 \(started .* by pid 4242\) was finished/);
  assert.equal(doc.pendingChange, null);
  assert.deepEqual(doc.recovered, doc.summary);
  assert.equal(r.err, '', 'recover says it on stdout, once');
  assert.deepEqual(box.writes, ['recover']);
  const again = await run(box, ['recover']);
  assert.equal(again.code, 0);
  assert.equal(again.out, 'nothing pending on veth-lb: no interrupted change to finish\n');
  const list = await run(box, ['vip', 'list', '--json']);
  assert.equal(list.err, '');
  assert.equal(JSON.parse(list.out).pendingChange, null);
});

test('any writer finishes a pending change and says so on stderr', async () => {
  const box = pendingBox();
  const r = await run(box, ['mac', 'set', '02:00:00:00:00:01']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^katran-tui: recovered: an interrupted change add-real .* was finished: the kernel and the state file now hold it\n$/);
  assert.equal(box.pending, null);
});
