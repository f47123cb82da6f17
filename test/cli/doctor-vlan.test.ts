// doctor's VLAN checks through the CLI on a fake host with an injected interface probe
// (LinkProbe): this kernel has no VLAN sub-interfaces (no 8021q), so the sub-interface parent and
// the egress VLAN's neighbour table can only be tested this way; the offload and unparsed-VLAN
// checks are also tested for real in the lab (doctor-vlan-lab.test.ts). attach's warnings come from
// the same function (vlanOffloadWarnings), tested here on the injected probe too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import type { CountStat, LinkFeatureState, LinkProbe, VlanDevice } from '../../src/dataplane/types.js';
import { vlanOffloadWarnings } from '../../src/dataplane/vlan-checks.js';
import { FakeBox, attachedBox, fakeDeps, fileLinkProbe } from './fake-host.js';

interface Check { check: string; verdict: string; detail: string; fix: string | null }

const ARP_HEAD = 'IP address HW type Flags HW address Mask Device\n';

/** VLAN features as the kernel names them: on unless listed in `off`. */
function features(off: string[] = [], fixed: string[] = []): Map<string, LinkFeatureState> {
  const m = new Map<string, LinkFeatureState>();
  for (const f of ['rx-vlan-hw-parse', 'tx-vlan-hw-insert', 'rx-vlan-stag-hw-parse', 'tx-vlan-stag-hw-insert', 'rx-vlan-filter']) {
    m.set(f, { active: !off.includes(f), changeable: !fixed.includes(f) });
  }
  return m;
}

interface FakeLink { ifindex: number; driver: string; iflink?: number; features?: Map<string, LinkFeatureState> | null }

/** A probe over a table of links (this namespace), VLAN devices and /proc/net/arp text. */
function probeOf(links: Record<string, FakeLink>, o: { vlanDevices?: VlanDevice[]; arp?: string } = {}): LinkProbe {
  const byIndex = new Map(Object.entries(links).map(([n, l]) => [l.ifindex, n]));
  return fileLinkProbe((p) => (p === '/proc/net/arp' ? ARP_HEAD + (o.arp ?? '') : null), {
    ifindex: (n) => links[n]?.ifindex ?? 0,
    name: (i) => byIndex.get(i) ?? null,
    driver: (n) => links[n]?.driver ?? null,
    iflink: (n) => (links[n] ? links[n].iflink ?? links[n].ifindex : null),
    features: (n) => links[n]?.features ?? null,
    vlanDevices: () => o.vlanDevices ?? [],
  });
}

async function doctor(box: FakeBox, intf: string, link: LinkProbe): Promise<{ checks: Check[]; out: string }> {
  const f = fakeDeps(box, { probe: { link: () => link } });
  await main(['doctor', '--intf', intf, '--json'], f.deps);
  const checks = JSON.parse(f.stdout.text).checks as Check[];
  const t = fakeDeps(box, { probe: { link: () => link } });
  await main(['doctor', '--intf', intf], t.deps);
  return { checks, out: t.stdout.text };
}
const find = (checks: Check[], name: string): Check => {
  const c = checks.find((x) => x.check === name);
  assert.ok(c, `check "${name}" in ${checks.map((x) => x.check).join(', ')}`);
  return c;
};

/** VLAN checks that failed (the fake probe's other checks, bpffs and such, may fail: not these). */
const vlanFailures = (checks: Check[]) => checks.filter((c) => c.check.includes('VLAN') && c.verdict === 'fail');

function vlanBox(intf: string, vlans: string[], mac: string | null = null): FakeBox {
  const box = attachedBox(intf);
  box.links = [intf];
  box.vlans.setAll(box.mac, vlans.map((v) => ({ ingress: v.split(':')[0], egress: v.split(':')[1] ?? v.split(':')[0], mac })), [], false);
  return box;
}

test('doctor --intf on a physical port with VLANs: rx-vlan-offload on is a warning naming ethtool -K IF rxvlan off; off is ok; a fixed one says so', async () => {
  const box = vlanBox('eno2', ['573']);
  const on = await doctor(box, 'eno2', probeOf({ eno2: { ifindex: 2, driver: 'mlx5_core', features: features() } }));
  const c = find(on.checks, 'eno2 VLAN offload');
  assert.equal(c.verdict, 'warn');
  assert.match(c.detail, /^eno2: rx-vlan-offload on, tx-vlan-offload on, rx-vlan-stag-hw-parse on, tx-vlan-stag-hw-insert on: with rx VLAN offload on, the NIC strips the tag/);
  assert.match(c.fix!, /eno2 has rx-vlan-offload on, which hides the VLAN tags from XDP on eno2: ethtool -K eno2 rxvlan off$/);
  assert.doesNotMatch(c.fix!, /stag/, 'no 802.1ad pairs configured: the stag features do not matter');
  assert.match(on.out, /fix eno2 VLAN offload: .*ethtool -K eno2 rxvlan off/);
  assert.deepEqual(vlanFailures(on.checks), [], 'a warning, not a failure');

  const off = await doctor(box, 'eno2', probeOf({ eno2: { ifindex: 2, driver: 'mlx5_core', features: features(['rx-vlan-hw-parse']) } }));
  assert.equal(find(off.checks, 'eno2 VLAN offload').verdict, 'ok');
  assert.match(find(off.checks, 'eno2 VLAN offload').detail, /rx-vlan-offload off.*no rx VLAN offload strips the tags/);

  const pairs = vlanBox('eno2', ['100.573']);
  const q = await doctor(pairs, 'eno2', probeOf({ eno2: { ifindex: 2, driver: 'ixgbe', features: features(['rx-vlan-hw-parse'], ['rx-vlan-stag-hw-parse']) } }));
  const qc = find(q.checks, 'eno2 VLAN offload');
  assert.equal(qc.verdict, 'warn', '802.1ad pairs: the stag parse matters');
  assert.match(qc.detail, /rx-vlan-stag-hw-parse on \[fixed\]/);
  assert.match(qc.fix!, /ethtool -K eno2 rx-vlan-stag-hw-parse off \(the driver marks it fixed/);
});

test('doctor --intf on a veth: the PEER\'s tx-vlan-offload decides (read when it is in this namespace, else named as what to check)', async () => {
  const box = vlanBox('veth-lb', ['573']);
  const same = (peerOff: string[]) => probeOf({
    'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() },
    'veth-cl': { ifindex: 8, driver: 'veth', iflink: 7, features: features(peerOff) },
  });
  const on = await doctor(box, 'veth-lb', same([]));
  const c = find(on.checks, 'veth-lb VLAN offload');
  assert.equal(c.verdict, 'warn');
  assert.match(c.detail, /its peer veth-cl: rx-vlan-offload on, tx-vlan-offload on/);
  assert.match(c.detail, /a veth whose peer sends with tx VLAN offload on delivers the frames untagged to XDP on veth-lb/);
  assert.match(c.fix!, /^veth-lb's peer veth-cl sends with tx-vlan-offload on, which hides the VLAN tags from XDP on veth-lb: ethtool -K veth-cl txvlan off$/);
  assert.doesNotMatch(c.fix!, /ethtool -K veth-lb/, 'the veth\'s own rx settings are not what hides the tags');

  const off = await doctor(box, 'veth-lb', same(['tx-vlan-hw-insert']));
  assert.equal(find(off.checks, 'veth-lb VLAN offload').verdict, 'ok');
  assert.match(find(off.checks, 'veth-lb VLAN offload').detail, /the peer sends the tags in the frame: XDP sees them/);

  // ifindex 8 here is some other interface (not a veth pointing back): the peer is in another namespace.
  const other = await doctor(box, 'veth-lb', probeOf({
    'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() },
    eth9: { ifindex: 8, driver: 'virtio_net', features: features() },
  }));
  const oc = find(other.checks, 'veth-lb VLAN offload');
  assert.equal(oc.verdict, 'warn', 'VLANs configured and nothing shows the tags arrive');
  assert.match(oc.detail, /its peer \(ifindex 8, another network namespace\): not readable from here/);
  assert.match(oc.fix!, /veth-lb is a veth whose peer \(ifindex 8\) is in another network namespace: its sender's tx-vlan-offload decides, so there run ethtool -K PEER txvlan off/);
  // Balanced tagged traffic shows the tags do arrive: no longer a warning.
  const zero: CountStat = { packets: 0, bytes: 0, pps: 0, bps: 0 };
  box.vlanStats = [{ vlan: '573', configured: true, in: { ...zero, packets: 9 }, balanced: { ...zero, packets: 9 }, passed: zero }];
  const seen = find((await doctor(box, 'veth-lb', probeOf({ 'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() } }))).checks, 'veth-lb VLAN offload');
  assert.equal(seen.verdict, 'info');
  assert.match(seen.detail, /tagged VIP traffic was balanced, so tags do reach XDP/);
});

test('doctor --intf without VLANs configured: the offload features are info, with what would matter with --vlan', async () => {
  const box = attachedBox('veth-lb');
  const r = await doctor(box, 'veth-lb', probeOf({
    'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() },
    'veth-cl': { ifindex: 8, driver: 'veth', iflink: 7, features: features() },
  }));
  const c = find(r.checks, 'veth-lb VLAN offload');
  assert.equal(c.verdict, 'info');
  assert.match(c.detail, /these matter only with --vlan/);
  assert.match(c.fix!, /ethtool -K veth-cl txvlan off/);
});

test('doctor: VIP traffic on a VLAN the balancer does not parse is named with the fix (per-VLAN counters, configured false)', async () => {
  const box = vlanBox('veth-lb', ['573']);
  const n = (packets: number): CountStat => ({ packets, bytes: packets * 80, pps: 0, bps: 0 });
  box.vlanStats = [
    { vlan: '573', configured: true, in: n(50), balanced: n(50), passed: n(0) },
    { vlan: '575', configured: false, in: n(12), balanced: n(0), passed: n(12) },
    { vlan: null, configured: false, in: n(3), balanced: n(0), passed: n(3) },
  ];
  const r = await doctor(box, 'veth-lb', probeOf({ 'veth-lb': { ifindex: 7, driver: 'veth', features: features() } }));
  const c = find(r.checks, 'veth-lb VLAN 575');
  assert.equal(c.verdict, 'warn');
  assert.match(c.detail, /^VIP traffic arrives on VLAN 575, which the balancer does not parse: add --vlan 575 \(12 packets so far/);
  assert.match(c.fix!, /^katran-tui vlan add 575 on the running balancer/);
  assert.match(c.fix!, /attach --vlan 575$/);
  const p = find(r.checks, 'veth-lb VLAN 802.1ad pairs');
  assert.match(p.detail, /VIP traffic arrives on 802\.1ad pairs the balancer does not parse \(3 packets/);
  assert.equal(r.checks.some((x) => x.check === 'veth-lb VLAN 573'), false, 'a configured VLAN is not reported');
  assert.match(r.out, /veth-lb VLAN 575\s+warn\s+VIP traffic arrives on VLAN 575/);
});

test('doctor: a VLAN whose mapping was deleted counts only what was passed unbalanced, not what it balanced while it had one', async () => {
  const box = vlanBox('veth-lb', ['573']);
  const n = (packets: number): CountStat => ({ packets, bytes: packets * 80, pps: 0, bps: 0 });
  box.vlanStats = [{ vlan: '575', configured: false, in: n(600), balanced: n(530), passed: n(70) }];
  const r = await doctor(box, 'veth-lb', probeOf({ 'veth-lb': { ifindex: 7, driver: 'veth', features: features() } }));
  assert.match(find(r.checks, 'veth-lb VLAN 575').detail, /add --vlan 575 \(70 packets so far, passed to the kernel unbalanced\)/);
  box.vlanStats = [{ vlan: '575', configured: false, in: n(530), balanced: n(530), passed: n(0) }];
  const quiet = await doctor(box, 'veth-lb', probeOf({ 'veth-lb': { ifindex: 7, driver: 'veth', features: features() } }));
  assert.equal(quiet.checks.some((x) => x.check === 'veth-lb VLAN 575'), false, 'nothing passed unbalanced: nothing to report');
});

test('doctor (injected interface probe: no VLAN sub-interfaces on this kernel): on a VLAN sub-interface, native mode is possible on the parent with --vlan, named with the VID', async () => {
  const box = new FakeBox();
  box.links = ['eno2.573', 'eno2.100.573'];
  const devs: VlanDevice[] = [
    { name: 'eno2.573', vid: 573, parent: 'eno2' },
    { name: 'eno2.100', vid: 100, parent: 'eno2' },
    { name: 'eno2.100.573', vid: 573, parent: 'eno2.100' },
  ];
  const link = probeOf({ 'eno2.573': { ifindex: 9, driver: '802.1Q VLAN Support', iflink: 2, features: features() } }, { vlanDevices: devs });
  const r = await doctor(box, 'eno2.573', link);
  const c = find(r.checks, 'eno2.573 VLAN sub-interface');
  assert.match(c.detail, /^eno2\.573 is VLAN 573 on eno2: XDP runs in generic mode only here .*native mode is possible on the parent eno2 with --vlan 573/);
  assert.match(c.fix!, /^katran-tui attach --intf eno2 --vlan 573 --default-mac MAC/);
  const q = find((await doctor(box, 'eno2.100.573', link)).checks, 'eno2.100.573 VLAN sub-interface');
  assert.match(q.detail, /is VLAN 100\.573 on eno2: .*--vlan 100\.573/, 'a sub-interface of a sub-interface: an 802.1ad pair on the physical port');
  assert.equal(r.checks.some((x) => x.check === 'eno2.573 VLAN 573 gateway'), false, 'no balancer: no gateway checks');
});

test('doctor (injected interface probe: no VLAN sub-interfaces on this kernel): an egress VLAN\'s gateway MAC missing from its interface\'s neighbour table is a warning, never a refusal', async () => {
  const GW = '58:e4:34:56:46:e0';
  const box = vlanBox('eno2', ['573:574', '580'], GW);
  const devs: VlanDevice[] = [{ name: 'eno2.574', vid: 574, parent: 'eno2' }];
  const eno2 = { eno2: { ifindex: 2, driver: 'ice', features: features(['rx-vlan-hw-parse']) } };
  const miss = await doctor(box, 'eno2', probeOf(eno2, { vlanDevices: devs, arp: `10.0.0.1 0x1 0x2 ${GW} * eno2.999\n` }));
  const c = find(miss.checks, 'eno2 VLAN 574 gateway');
  assert.equal(c.verdict, 'warn');
  assert.match(c.detail, /^VLAN 574's gateway 58:e4:34:56:46:e0 is not in the neighbour table of eno2\.574 \(it is a neighbour on eno2\.999\): frames leaving on VLAN 574 may go nowhere/);
  assert.match(c.fix!, /ping the gateway through eno2\.574.*katran-tui vlan mac 574 MAC/);
  assert.deepEqual(vlanFailures(miss.checks), [], 'a warning: doctor does not fail on it');
  const none = find(miss.checks, 'eno2 VLAN 580 gateway');
  assert.equal(none.verdict, 'info');
  assert.match(none.detail, /no VLAN 580 interface on eno2 to look it up in a neighbour table/);
  const hit = await doctor(box, 'eno2', probeOf(eno2, { vlanDevices: devs, arp: `10.0.0.1 0x1 0x2 ${GW} * eno2.574\n` }));
  assert.equal(find(hit.checks, 'eno2 VLAN 574 gateway').verdict, 'ok');
  assert.match(find(hit.checks, 'eno2 VLAN 574 gateway').detail, /is 10\.0\.0\.1 in the neighbour table of eno2\.574/);
  // The same MAC is accepted by vlan mac (a warning is doctor's, the change is not refused).
  const f = fakeDeps(box);
  assert.equal(await main(['vlan', 'mac', '574', '02:00:5e:00:00:99'], f.deps), 0, f.stderr.text);
});

test('attach\'s VLAN offload warnings (injected interface probe): the same settings as doctor, one line each; none without VLANs', () => {
  const probe = probeOf({
    'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() },
    'veth-cl': { ifindex: 8, driver: 'veth', iflink: 7, features: features() },
  });
  assert.deepEqual(vlanOffloadWarnings(probe, 'veth-lb', []), []);
  const w = vlanOffloadWarnings(probe, 'veth-lb', [{ ingress: '100.573', egress: '100.573', mac: null }]);
  assert.equal(w.length, 1);
  assert.match(w[0], /^veth-lb's peer veth-cl sends with tx-vlan-offload, tx-vlan-stag-hw-insert on, which hides the VLAN tags from XDP on veth-lb: ethtool -K veth-cl txvlan off tx-vlan-stag-hw-insert off/);
  const other = vlanOffloadWarnings(probeOf({ 'veth-lb': { ifindex: 7, driver: 'veth', iflink: 8, features: features() } }), 'veth-lb', [{ ingress: '573', egress: '573', mac: null }]);
  assert.deepEqual(other, ['veth-lb is a veth whose peer (ifindex 8) is in another network namespace: its sender\'s tx-vlan-offload decides, so there run ethtool -K PEER txvlan off (ip -d link show veth-lb names the namespace)']);
});
