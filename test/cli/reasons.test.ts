// Drop and pass reasons on the command line: stats --json's `reasons` object (every reason by
// name, or null for a program without kt_reasons), the table's non-zero reasons, and the
// Prometheus katran_drop_* / katran_pass_* series, parsed back with the strict parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { DROP_REASONS, PASS_REASONS } from '../../src/dataplane/abi.js';
import type { ReasonsSample } from '../../src/dataplane/types.js';
import { attachedBox, fakeDeps, type FakeBox } from './fake-host.js';
import { parseExposition } from './prom-parse.js';

function sampleReasons(): ReasonsSample {
  const zero = { packets: 0, bytes: 0, pps: 0, bps: 0 };
  return {
    drop: DROP_REASONS.map((reason) => (reason === 'zero_mac' ? { reason, packets: 12, bytes: 840, pps: 3, bps: 1680 } : { reason, ...zero })),
    pass: PASS_REASONS.map((reason) => (reason === 'no_vip' ? { reason, packets: 7, bytes: 490, pps: 0.5, bps: 280 } : { reason, ...zero })),
  };
}

async function run(box: FakeBox, argv: string[], o: Parameters<typeof fakeDeps>[1] = {}): Promise<{ code: number; out: string; err: string }> {
  const f = fakeDeps(box, o);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

test('stats --json: reasons by name, every reason in list order; null without kt_reasons', async () => {
  const box = attachedBox();
  box.reasons = sampleReasons();
  const r = await run(box, ['stats', '--once', '--json']);
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.deepEqual(Object.keys(d.reasons), ['drop', 'pass']);
  assert.deepEqual(Object.keys(d.reasons.drop), [...DROP_REASONS]);
  assert.deepEqual(Object.keys(d.reasons.pass), [...PASS_REASONS]);
  assert.deepEqual(d.reasons.drop.zero_mac, { packets: 12, bytes: 840, pps: 3, bps: 1680 });
  assert.deepEqual(d.reasons.pass.no_vip, { packets: 7, bytes: 490, pps: 0.5, bps: 280 });
  assert.deepEqual(d.reasons.drop.slot_empty, { packets: 0, bytes: 0, pps: 0, bps: 0 });

  box.reasons = null;
  const n = JSON.parse((await run(box, ['stats', '--once', '--json'])).out);
  assert.equal(n.reasons, null);
});

test('stats table: names the reasons that counted, with the label; says when the program has none', async () => {
  const box = attachedBox();
  box.reasons = sampleReasons();
  const r = await run(box, ['stats', '--once']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /REASON\s+VERDICT\s+PPS\s+PACKETS\s+BYTES\s+WHAT/);
  assert.match(r.out, /\nzero_mac\s+drop\s+3\s+12\s+840\s?B\s+default MAC unset\n/);
  assert.match(r.out, /\nno_vip\s+pass\s+0\.5\s+7\s+490\s?B\s+no VIP matched/);
  assert.doesNotMatch(r.out, /slot_empty|not_ip/, 'zero reasons are left out');
  assert.ok(r.out.indexOf('zero_mac') < r.out.indexOf('no_vip'), 'drops first');

  box.reasons = null;
  assert.match((await run(box, ['stats', '--once'])).out, /reasons: not available for this program/);
});

test('stats --prometheus: katran_drop_* and katran_pass_* by reason (every reason); absent without kt_reasons', async () => {
  const box = attachedBox();
  box.reasons = sampleReasons();
  const r = await run(box, ['stats', '--prometheus']);
  assert.equal(r.code, 0, r.err);
  const { types, samples } = parseExposition(r.out);
  for (const m of ['katran_drop_packets_total', 'katran_drop_bytes_total', 'katran_pass_packets_total', 'katran_pass_bytes_total']) assert.equal(types.get(m), 'counter', m);
  const drop = samples.filter((s) => s.name === 'katran_drop_packets_total');
  assert.deepEqual(drop.map((s) => s.labels.reason), [...DROP_REASONS]);
  assert.ok(drop.every((s) => s.labels.intf === 'veth-lb'));
  assert.equal(drop.find((s) => s.labels.reason === 'zero_mac')?.value, 12);
  assert.equal(samples.find((s) => s.name === 'katran_drop_bytes_total' && s.labels.reason === 'zero_mac')?.value, 840);
  const pass = samples.filter((s) => s.name === 'katran_pass_packets_total');
  assert.deepEqual(pass.map((s) => s.labels.reason), [...PASS_REASONS]);
  assert.equal(pass.find((s) => s.labels.reason === 'no_vip')?.value, 7);
  assert.equal(samples.find((s) => s.name === 'katran_pass_bytes_total' && s.labels.reason === 'no_vip')?.value, 490);

  box.reasons = null;
  const n = parseExposition((await run(box, ['stats', '--prometheus'])).out);
  assert.equal(n.samples.some((s) => /^katran_(drop|pass)_/.test(s.name)), false);
  assert.ok(n.samples.some((s) => s.name === 'katran_xdp_packets_total'));
});

test('doctor: the top drop reasons since the program was loaded, the busiest one\'s advice as the fix (info only)', async () => {
  const probe = { probe: { readFile: () => null, readlink: () => null, readdir: () => null } };
  const box = attachedBox();
  box.reasons = sampleReasons();
  const d = JSON.parse((await run(box, ['doctor', '--intf', 'veth-lb', '--json'], probe)).out);
  const c = d.checks.find((x: { check: string }) => x.check === 'veth-lb drop reasons');
  assert.equal(c.verdict, 'info');
  assert.equal(c.detail, 'since the program was loaded: zero_mac 12 (default MAC unset)');
  assert.match(c.fix, /^zero_mac: .*katran-tui mac set/);

  box.reasons = { drop: sampleReasons().drop.map((r) => ({ ...r, packets: 0, bytes: 0, pps: 0, bps: 0 })), pass: sampleReasons().pass };
  const z = JSON.parse((await run(box, ['doctor', '--intf', 'veth-lb', '--json'], probe)).out).checks.find((x: { check: string }) => x.check === 'veth-lb drop reasons');
  assert.deepEqual([z.verdict, z.detail, z.fix], ['info', 'nothing dropped since the program was loaded', null]);

  box.reasons = null;
  const n = JSON.parse((await run(box, ['doctor', '--intf', 'veth-lb', '--json'], probe)).out).checks.find((x: { check: string }) => x.check === 'veth-lb drop reasons');
  assert.match(n.detail, /not available for this program/);
});

test('trace names the reason of a DROP and what to check; --json carries it', async () => {
  const box = attachedBox();
  await run(box, ['vip', 'add', '192.0.2.1:80/tcp']);
  const t = await run(box, ['trace', '203.0.113.5:40000', '192.0.2.1:80/tcp']);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /-> 192\.0\.2\.1:80\/tcp: DROP \(slot_empty: ring slot empty\) \(ring slot 40000\)/);
  assert.match(t.out, /what to check: the VIP has no real with weight > 0/);
  assert.equal(JSON.parse((await run(box, ['trace', '203.0.113.5:40000', '192.0.2.1:80/tcp', '--json'])).out).reason, 'slot_empty');
});
