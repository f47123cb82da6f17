// lru list / purge against the fake Host: the JSON shape, filters, the default limit, bad input
// changing nothing, purge never prompting and --dry-run writing nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, FakeBox, fakeDeps } from './fake-host.js';

async function run(box: FakeBox, argv: string[]) {
  const f = fakeDeps(box);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

function boxWithFlows(n: number): FakeBox {
  const box = attachedBox();
  for (let i = 0; i < n; i++) {
    box.flows.push({ vip: '192.0.2.1:80/tcp', client: `203.0.113.9:${40000 + i}`, real: i % 3 ? '198.51.100.1' : '198.51.100.2', realIndex: i % 3 ? 1 : 2, cpu: i % 2, ageMs: null });
  }
  box.flows.push({ vip: '192.0.2.2:53/udp', client: '203.0.113.7:5353', real: '198.51.100.1', realIndex: 1, cpu: null, ageMs: 1500 });
  return box;
}

test('lru list --json: the documented shape; the default limit is 1000 and says truncated', async () => {
  const box = boxWithFlows(1200);
  const r = await run(box, ['lru', 'list', '--json']);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.intf, 'veth-lb');
  assert.equal(doc.flows.length, 1000);
  assert.equal(doc.truncated, true);
  assert.equal(doc.matched, 1201);
  assert.deepEqual(Object.keys(doc.flows[0]), ['vip', 'client', 'real', 'cpu', 'ageMs']);
  assert.deepEqual(doc.flows[0], { vip: '192.0.2.1:80/tcp', client: '203.0.113.9:40000', real: '198.51.100.2', cpu: 0, ageMs: null });
  const udp = JSON.parse((await run(box, ['lru', 'list', '--vip', '192.0.2.2:53/udp', '--json'])).out);
  assert.deepEqual(udp.flows, [{ vip: '192.0.2.2:53/udp', client: '203.0.113.7:5353', real: '198.51.100.1', cpu: null, ageMs: 1500 }]);
  assert.equal(udp.truncated, false);
});

test('lru list: a table of flows and a count per real; filters by real and client', async () => {
  const box = boxWithFlows(6);
  const r = await run(box, ['lru', 'list', '--real', '198.51.100.2']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^VIP\s+CLIENT\s+REAL\s+CPU\s+AGE/m);
  assert.equal((r.out.match(/198\.51\.100\.2/g) ?? []).length, 3, 'two flows and one count line');
  assert.match(r.out, /^198\.51\.100\.2\s+2$/m);
  const c = await run(box, ['lru', 'list', '--client', '203.0.113.7', '--limit', '5']);
  assert.match(c.out, /fallback\s+1\.5s/);
  assert.match((await run(box, ['lru', 'list', '--vip', '192.0.2.9:1/tcp'])).out, /no flows held in the LRU match/);
});

test('lru: bad input exits 2 with one line and changes nothing', async () => {
  const box = boxWithFlows(3);
  for (const argv of [
    ['lru', 'list', '--limit', '0'], ['lru', 'list', '--vip', '192.0.2.1:80'], ['lru', 'list', '--client', 'x'], ['lru', 'list', '--real', 'nope'],
    ['lru', 'purge'], ['lru', 'purge', '--vip', 'bad'], ['lru', 'purge', '--vip', '192.0.2.1:80/tcp', '--real', '300.1.1.1'],
  ]) {
    const r = await run(box, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
  assert.equal(box.flows.length, 4);
  assert.deepEqual(box.writes, []);
});

test('lru purge: --dry-run prints the count and deletes nothing; without it the flows go, no prompt', async () => {
  const box = boxWithFlows(6);
  const d = await run(box, ['lru', 'purge', '--vip', '192.0.2.1:80/tcp', '--real', '198.51.100.1', '--dry-run', '--json']);
  assert.equal(d.code, 0, d.err);
  assert.deepEqual({ applied: JSON.parse(d.out).applied, flows: JSON.parse(d.out).flows }, { applied: false, flows: 4 });
  assert.equal(box.flows.length, 7);
  const r = await run(box, ['lru', 'purge', '--vip', '192.0.2.1:80/tcp']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /6 flow\(s\)/);
  assert.deepEqual(box.flows.map((f) => f.vip), ['192.0.2.2:53/udp']);
  const ro = await run(box, ['--readonly', 'lru', 'purge', '--vip', '192.0.2.2:53/udp']);
  assert.equal(ro.code, 1);
  assert.equal(box.flows.length, 1);
});

test('stats --run-time: turns the run-time statistics on for the run and says what they cost', async () => {
  const box = attachedBox();
  const r = await run(box, ['stats', '--once', '--json', '--run-time']);
  assert.equal(r.code, 0, r.err);
  assert.equal(box.runTime, true);
  assert.match(r.err, /warning: BPF run-time statistics on while this runs: they cost about 72 ns per packet for every BPF program on the box/);
  const plain = attachedBox();
  await run(plain, ['stats', '--once', '--json']);
  assert.equal(plain.runTime, false, 'off unless asked');
});
