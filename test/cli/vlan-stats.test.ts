// Per-VLAN counters through the CLI (fake host): `stats --json` carries `vlans` (null for a program
// without VLAN maps), the table prints a line per VLAN and marks the ones the balancer does not
// parse, `--prometheus` has katran_vlan_packets_total / katran_vlan_bytes_total{vlan,what} and
// katran_vlan_configured, parsed back with the strict parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import type { CountStat, VlanStat } from '../../src/dataplane/types.js';
import { attachedBox, fakeDeps, type FakeBox } from './fake-host.js';
import { parseExposition } from './prom-parse.js';

const c = (packets: number, pps: number): CountStat => ({ packets, bytes: packets * 100, pps, bps: pps * 800 });
const VLANS: VlanStat[] = [
  { vlan: '573', configured: true, in: c(1000, 10), balanced: c(900, 9), passed: c(100, 1) },
  { vlan: '575', configured: false, in: c(40, 4), balanced: c(0, 0), passed: c(40, 4) },
  { vlan: null, configured: false, in: c(3, 0), balanced: c(0, 0), passed: c(3, 0) },
];

async function run(box: FakeBox, argv: string[]) {
  const f = fakeDeps(box);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

test('stats --json carries vlans; null for a program without VLAN maps', async () => {
  const box = attachedBox();
  box.vlanStats = VLANS;
  const r = await run(box, ['stats', '--once', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out).vlans, VLANS);
  box.vlans.available = false;
  const none = await run(box, ['stats', '--once', '--json']);
  assert.equal(JSON.parse(none.out).vlans, null);
});

test('stats table: one line per VLAN, an unparsed VLAN marked', async () => {
  const box = attachedBox();
  box.vlanStats = VLANS;
  const r = await run(box, ['stats', '--once']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /VLAN\s+IN PPS\s+BALANCED PPS\s+PASSED PPS/);
  assert.match(r.out, /\n573\s+10\s+9\s+1\s/);
  assert.match(r.out, /\n575 \(not parsed: VIP traffic passed\)\s+4\s+0\s+4\s/);
  assert.match(r.out, /\nother-pairs \(not parsed/);
  box.vlanStats = [];
  assert.doesNotMatch((await run(box, ['stats', '--once'])).out, /^VLAN/m, 'no VLAN table when no VLAN counted anything');
});

test('stats --prometheus: katran_vlan_packets_total / _bytes_total {vlan, what} and katran_vlan_configured', async () => {
  const box = attachedBox();
  box.vlanStats = VLANS;
  const r = await run(box, ['stats', '--prometheus']);
  assert.equal(r.code, 0, r.err);
  const { types, samples } = parseExposition(r.out);
  assert.equal(types.get('katran_vlan_packets_total'), 'counter');
  assert.equal(types.get('katran_vlan_bytes_total'), 'counter');
  assert.equal(types.get('katran_vlan_configured'), 'gauge');
  const pk = (vlan: string, what: string) => samples.find((s) => s.name === 'katran_vlan_packets_total' && s.labels.vlan === vlan && s.labels.what === what)?.value;
  assert.equal(pk('573', 'in'), 1000);
  assert.equal(pk('573', 'balanced'), 900);
  assert.equal(pk('573', 'passed'), 100);
  assert.equal(pk('575', 'passed'), 40);
  assert.equal(pk('other-pairs', 'in'), 3);
  assert.equal(samples.find((s) => s.name === 'katran_vlan_bytes_total' && s.labels.vlan === '573' && s.labels.what === 'in')?.value, 100000);
  assert.ok(samples.filter((s) => s.name.startsWith('katran_vlan_')).every((s) => s.labels.intf === 'veth-lb'));
  const conf = Object.fromEntries(samples.filter((s) => s.name === 'katran_vlan_configured').map((s) => [s.labels.vlan, s.value]));
  assert.deepEqual(conf, { 573: 1, 575: 0, 'other-pairs': 0 });
  box.vlans.available = false;
  const none = parseExposition((await run(box, ['stats', '--prometheus'])).out);
  assert.equal(none.types.has('katran_vlan_packets_total'), false, 'no VLAN metrics without VLAN maps');
});
