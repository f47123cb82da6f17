// VLANs in the console, against the fake (its VLAN changes go through the real planner, so every
// refusal is worded by the product's rules): the header's VLAN line, the V panel's per-VLAN rates
// with unparsed VIP traffic marked, the add / change / delete forms (valid input applies after
// y; invalid input shows one line and changes nothing), the attach form's VLAN fields, and
// "not available" for a program without the VLAN maps.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessHost } from '../../src/dataplane/worker/in-process.js';
import { App } from '../../src/ui/App.js';
import { vlanHeaderLine, vlanRows } from '../../src/ui/model/vlans.js';
import { demoFake, FakeHost, type FakeOptions } from '../helpers/fake-dataplane.js';
import { fits, frame, KEY, ManualScheduler, mount, press, setup, type } from './harness.js';

const GW = '02:00:5e:00:05:74';

function vlanFake(o: FakeOptions = {}) {
  const f = demoFake(o);
  if (o.vlans !== false) f.dp.vlanTable.rows = [{ ingress: '573', egress: '574', mac: GW }, { ingress: '575', egress: '575', mac: null }];
  return f;
}

/** The frame with form borders and line wraps taken out: a wrapped message reads as one line. */
const flat = (f: string): string => f.split('\n').map((l) => l.replace(/^[│\s]+|[│\s]+$/g, '')).join(' ').replace(/\s+/g, ' ');

const rowOf = (f: string, vlan: string): string => f.split('\n').find((l) => new RegExp(`^[ >] ${vlan.replace('.', '\\.')}\\s`).test(l)) ?? '';

test('header: the VLANs with their gateway MACs in a third line; compact when many; none without mappings', async () => {
  const { r } = await setup({ fake: vlanFake(), props: { width: 120 } });
  let f = frame(r);
  assert.match(f, /^VLANs 573 -> 574 gw 02:00:5e:00:05:74 · 575 gw default 02:00:00:00:00:01$/m);
  assert.ok(fits(f, 120, 24).ok, fits(f, 120, 24).why);
  r.unmount();
  const many = vlanFake();
  many.dp.vlanTable.rows = Array.from({ length: 30 }, (_, i) => ({ ingress: String(100 + i), egress: String(200 + i), mac: GW }));
  const m = await setup({ fake: many });
  f = frame(m.r);
  assert.match(f, /^VLANs 100->200, 101->201, .* \+\d+ more \(V\)$/m);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  m.r.unmount();
  const plain = await setup();
  assert.doesNotMatch(frame(plain.r), /VLANs/);
  plain.r.unmount();
  // the line's rule on its own: full, then without MACs, then "+N more"
  const rows = [{ ingress: '573', egress: '574', mac: GW }, { ingress: '100.573', egress: '100.574', mac: null }];
  assert.equal(vlanHeaderLine(rows, null, null, 200), 'VLANs 573 -> 574 gw 02:00:5e:00:05:74 · 100.573 -> 100.574 gw default unset');
  assert.equal(vlanHeaderLine(rows, null, null, 40), 'VLANs 573->574, 100.573->100.574');
  assert.equal(vlanHeaderLine(rows, null, null, 30), 'VLANs 573->574 +1 more (V)');
});

test('V panel: per-VLAN in / balanced / passed rates from the sample; an unparsed VLAN with VIP traffic is marked (panel and header)', async () => {
  const fake = vlanFake();
  fake.dp.vlanRates = { 573: { balanced: 900, passed: 12 }, 576: { passed: 40 } };
  const { r } = await setup({ fake, props: { width: 120 } });
  await press(r, 'V');
  const f = frame(r);
  assert.match(f, /VLAN\s+OUT\s+GATEWAY MAC\s+IN\/s\s+BALANCED\/s\s+PASSED\/s/);
  assert.match(rowOf(f, '573'), /573\s+574\s+02:00:5e:00:05:74\s+912\s+900\s+12$/);
  assert.match(rowOf(f, '575'), /575\s+575\s+default 02:00:00:00:00:01\s+-\s+-\s+-$/, 'no counters for 575 in the sample: - (not 0)');
  assert.match(rowOf(f, '576'), /576\s+-\s+-\s+40\s+0\s+40 ! not parsed: a adds it/);
  assert.match(f, /^! VIP traffic on unparsed VLAN 576 · VLANs 573 -> 574/m);
  assert.match(f, /Esc\/V back {2}j\/k VLAN {2}a add {2}e\/Enter change {2}d delete/);
  // Enter on the unparsed VLAN: the add form with IN filled in
  await press(r, 'j', 'j', KEY.enter);
  assert.match(frame(r), /Add a VLAN mapping/);
  assert.match(frame(r), /IN\[:OUT\]\s+576_? ✓/);
  await press(r, KEY.esc);
  await press(r, KEY.esc);
  assert.match(frame(r), /VIP:PORT\/PROTO|192\.0\.2\.10:80\/tcp/, 'Esc goes back to the VIPs');
  r.unmount();
});

test('add VLAN: invalid input shows one line and writes nothing; the dry run\'s refusals as the rules word them; y applies', async () => {
  const { r, dp } = await setup({ fake: vlanFake(), props: { width: 120 } });
  await press(r, 'V', 'a');
  assert.match(frame(r), /Add a VLAN mapping/);
  await type(r, '5000');
  assert.match(frame(r), /bad ingress VLAN "5000": VLAN IDs are 1\.\.4094/);
  await press(r, KEY.enter);
  assert.doesNotMatch(frame(r), /Apply\?/);
  for (let i = 0; i < 4; i++) await press(r, KEY.backspace);
  await type(r, '573:100.574');
  assert.match(flat(frame(r)), /bad VLAN mapping "573:100\.574": in and out must both be one tag \(573:574\) or both an 802\.1ad pair \(100\.573:100\.574\)/);
  for (let i = 0; i < 11; i++) await press(r, KEY.backspace);
  await type(r, '573:580');
  // A duplicate ingress VLAN is said as you type (the form knows the mappings), and Enter goes no further.
  assert.match(flat(frame(r)), /VLAN 573 is already an ingress VLAN \(-> 574\): e changes it, d deletes it/);
  await press(r, KEY.enter);
  assert.doesNotMatch(frame(r), /Apply\?/);
  for (let i = 0; i < 7; i++) await press(r, KEY.backspace);
  await type(r, '100.573:100.574');
  await press(r, KEY.tab);
  await type(r, '00:00:00:00:00:00');
  await press(r, KEY.enter);
  assert.match(flat(frame(r)), /VLAN 100\.574: an all-zero gateway MAC \(give the gateway's MAC, or leave it out for the default MAC\)/);
  assert.equal(dp.log.length, 0, 'nothing was written (dry runs only)');
  assert.equal(dp.vlanTable.rows.length, 2);
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '02:00:5e:01:05:74');
  await press(r, KEY.enter);
  let f = frame(r);
  assert.match(f, /This will:/);
  assert.match(f, /add VLAN 100\.573 -> 100\.574 \(gateway 02:00:5e:01:05:74\)/);
  assert.equal(dp.vlanTable.rows.length, 2, 'the dry run changed nothing');
  await press(r, 'y');
  f = frame(r);
  assert.match(f, /done: add VLAN 100\.573 -> 100\.574/);
  assert.deepEqual(dp.vlanTable.rows.find((v) => v.ingress === '100.573'), { ingress: '100.573', egress: '100.574', mac: '02:00:5e:01:05:74' });
  assert.match(rowOf(f, '100.573'), /100\.573\s+100\.574\s+02:00:5e:01:05:74/);
  assert.match(f, /VLANs .*100\.573 -> 100\.574 gw 02:00:5e:01:05:74/, 'the header follows');
  r.unmount();
});

test('add VLAN: a rewrite with no MAC at all (no VLAN MAC, no default MAC) is refused in one line', async () => {
  const fake = vlanFake({ defaultMac: null });
  fake.dp.vlanTable.rows = [];
  const { r, dp } = await setup({ fake, props: { width: 120 } });
  await press(r, 'V');
  assert.match(frame(r), /no VLAN mappings: tagged frames pass to the host unbalanced \(a adds one\)/);
  await press(r, 'a');
  await type(r, '573:574');
  await press(r, KEY.enter);
  assert.match(flat(frame(r)), /error: add VLAN 573:574: VLAN 573 -> 574: no gateway MAC \(give --vlan-mac 574=MAC or a default MAC\)/);
  assert.deepEqual(dp.vlanTable.rows, []);
  r.unmount();
});

test('change and delete a VLAN: e changes its egress VLAN and gateway MAC after y; d asks y/N, N keeps it, y deletes it', async () => {
  const { r, dp } = await setup({ fake: vlanFake(), props: { width: 120 } });
  await press(r, 'V', 'e');
  let f = frame(r);
  assert.match(f, /Change VLAN 573/);
  assert.match(f, /now 573 -> 574 via 02:00:5e:00:05:74/);
  for (let i = 0; i < 3; i++) await press(r, KEY.backspace);
  await type(r, '100.580');
  assert.match(frame(r), /in and out must both be one tag/);
  for (let i = 0; i < 7; i++) await press(r, KEY.backspace);
  await type(r, '580');
  await press(r, KEY.tab);
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '02:00:5e:00:05:80');
  await press(r, KEY.enter);
  f = frame(r);
  assert.match(f, /change VLAN 573 -> 574 \(gateway 02:00:5e:00:05:74\) -> 580 \(gateway 02:00:5e:00:05:80\)/);
  assert.match(f, /a rewrite \(VLAN A in, VLAN B out\) needs the switch port to trunk both VLANs/);
  await press(r, 'y');
  assert.deepEqual(dp.vlanTable.rows[0], { ingress: '573', egress: '580', mac: '02:00:5e:00:05:80' });
  assert.match(rowOf(frame(r), '573'), /573\s+580\s+02:00:5e:00:05:80/);

  await press(r, 'j', 'd'); // 575
  f = frame(r);
  assert.match(f, /Delete VLAN 575/);
  assert.match(f, /remove VLAN 575 -> 575 \(gateway the default MAC\): its VIP traffic passes to the host's stack/);
  await press(r, 'n');
  assert.match(frame(r), /cancelled: nothing was written/);
  assert.equal(dp.vlanTable.rows.length, 2);
  await press(r, 'd', 'y');
  assert.deepEqual(dp.vlanTable.rows.map((v) => v.ingress), ['573']);
  assert.equal(rowOf(frame(r), '575'), '');
  assert.deepEqual(dp.log.map((e) => e.op), ['set-vlan', 'remove-vlan']);
  r.unmount();
});

test('VLANs not available (upstream Katran\'s object): the panel says so, the keys change nothing, no header line', async () => {
  const { r, dp } = await setup({ fake: vlanFake({ vlans: false }), props: { width: 120 } });
  assert.doesNotMatch(frame(r), /^VLANs/m);
  await press(r, 'V');
  assert.match(frame(r), /VLANs: not available for this program/);
  await press(r, 'a');
  assert.match(frame(r), /VLANs: not available for this program/);
  assert.doesNotMatch(frame(r), /Add a VLAN mapping/);
  assert.equal(dp.writes, 0);
  r.unmount();
});

test('read-only (observing or --readonly): the VLANs are listed with a note, changes refused before any form', async () => {
  const { r, dp } = await setup({ fake: vlanFake({ readOnly: true }), props: { width: 120 } });
  await press(r, 'V');
  let f = frame(r);
  assert.match(rowOf(f, '573'), /573\s+574/);
  assert.match(f, /read-only \(--readonly\): VLAN changes are refused here/);
  await press(r, 'a');
  f = frame(r);
  assert.match(f, /add VLAN: refused, read-only \(--readonly\)/);
  assert.doesNotMatch(f, /Add a VLAN mapping/);
  await press(r, 'd');
  assert.match(frame(r), /delete VLAN: refused, read-only/);
  assert.equal(dp.writes, 0);
  r.unmount();
});

test('attach form: VLAN mappings and VLAN MACs in the CLI\'s syntax; bad syntax under the field, a broken rule at the dry run, y attaches with them', async () => {
  const host = new FakeHost();
  const sched = new ManualScheduler();
  const r = await mount(<App host={inProcessHost(host, { scheduler: sched })} width={100} height={30} noColor onQuit={() => {}} />);
  await press(r, 'j', 'j', KEY.enter); // kt-veth0
  assert.match(frame(r), /VLANs\s+optional: 573 573:574 100\.573:100\.574/);
  await type(r, '02:00:00:00:00:fe');
  await press(r, KEY.tab, KEY.tab, KEY.tab);
  await type(r, '573:4095');
  assert.match(frame(r), /bad egress VLAN "4095": VLAN IDs are 1\.\.4094/);
  await press(r, KEY.enter);
  assert.doesNotMatch(frame(r), /Apply\?/);
  for (let i = 0; i < 4; i++) await press(r, KEY.backspace);
  await type(r, '574 100.573:100.574');
  await press(r, KEY.tab);
  await type(r, '574');
  assert.match(frame(r), /bad VLAN MAC "574": expected EGRESS_VLAN=MAC/);
  await type(r, `=${GW} 575=02:00:5e:00:05:75`);
  await press(r, KEY.enter);
  assert.match(frame(r), /--vlan-mac 575: no --vlan leaves on VLAN 575/);
  assert.equal(host.attaches.length, 0);
  for (let i = 0; i < ' 575=02:00:5e:00:05:75'.length; i++) await press(r, KEY.backspace);
  await press(r, KEY.enter);
  const f = frame(r);
  assert.match(f, /add VLAN 573 -> 574 \(gateway 02:00:5e:00:05:74\)/);
  assert.match(f, /add VLAN 100\.573 -> 100\.574 \(gateway the default MAC\)/);
  await press(r, 'y');
  assert.deepEqual(host.attaches[0].vlans, [{ ingress: '573', egress: '574', mac: GW }, { ingress: '100.573', egress: '100.574', mac: null }]);
  assert.deepEqual(host.attaches[0].vlanMacs, ['574']);
  await sched.tick(2);
  assert.match(frame(r), /^VLANs 100\.573 -> 100\.574 gw default 02:00:00:00:00:fe · 573 -> 574 gw 02:00:5e:00:05:74$/m);
  r.unmount();
});

test('V panel at 80x24 with a third header line: the frame fits; the 802.1ad catch-all row has its own name', async () => {
  const fake = vlanFake();
  fake.dp.vlanRates = { 573: { balanced: 50 } };
  const { r } = await setup({ fake });
  await press(r, 'V');
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(rowOf(f, '573'), /573\s+574\s+02:00:5e:00:05:74\s+50\s+50\s+0/);
  r.unmount();
  const rows = vlanRows([], [{ vlan: null, configured: false, in: cs(3), balanced: cs(0), passed: cs(3) }]);
  assert.deepEqual(rows.map((x) => [x.id, x.vlan, x.unparsed]), [['other', null, true]]);
});

function cs(pps: number) { return { packets: pps * 10, bytes: pps * 5000, pps, bps: pps * 40000 }; }

test('V panel with more VLANs than lines: j keeps the selection in sight', async () => {
  const fake = vlanFake();
  fake.dp.vlanTable.rows = Array.from({ length: 40 }, (_, i) => ({ ingress: String(100 + i), egress: String(100 + i), mac: GW }));
  const { r } = await setup({ fake });
  await press(r, 'V');
  let f = frame(r);
  assert.match(rowOf(f, '100'), /^> 100/);
  assert.match(f, /… \d+ more \(j\/k\)/);
  assert.equal(rowOf(f, '139'), '');
  for (let i = 0; i < 39; i++) await press(r, 'j');
  f = frame(r);
  assert.match(rowOf(f, '139'), /^> 139/);
  assert.equal(rowOf(f, '100'), '');
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  r.unmount();
});
