// The VLAN commands against the fake Host (whose VLAN changes run the real planner): attach
// --vlan / --vlan-mac, vlan add / del / mac / list, and every refusal in one line with nothing changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, FakeBox, fakeDeps } from './fake-host.js';

async function run(box: FakeBox, argv: string[]) {
  const f = fakeDeps(box);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

const GW = '58:e4:34:56:46:e0';

test('attach --vlan / --vlan-mac, each repeatable: the request carries the mappings, the box holds them', async () => {
  const box = new FakeBox();
  const r = await run(box, ['attach', '--intf', 'veth-lb', '--default-mac', '02:00:00:00:00:01', '--vlan', '573:574', '--vlan', '575', '--vlan', '100.573:100.574', '--vlan-mac', `574=${GW.toUpperCase()}`]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(box.attached.get('veth-lb')!.vlans, [
    { ingress: '573', egress: '574', mac: GW }, { ingress: '575', egress: '575', mac: null }, { ingress: '100.573', egress: '100.574', mac: null },
  ]);
  const l = await run(box, ['vlan', 'list', '--json']);
  assert.equal(l.code, 0, l.err);
  const j = JSON.parse(l.out);
  assert.deepEqual(j.vlans.map((v: { ingress: string; egress: string; gateway: string }) => [v.ingress, v.egress, v.gateway]), [
    ['100.573', '100.574', '02:00:00:00:00:01'], ['573', '574', GW], ['575', '575', '02:00:00:00:00:01'],
  ]);
});

test('attach refusals: one line, exit 2, nothing attached', async () => {
  const cases: [string[], RegExp][] = [
    [['--vlan', '4095'], /VLAN IDs are 1\.\.4094/],
    [['--vlan', '0:5'], /bad ingress VLAN "0"/],
    [['--vlan', '573', '--vlan', '573:574'], /VLAN 573: given twice as an ingress VLAN/],
    [['--vlan', '573:574', '--vlan-mac', `575=${GW}`], /--vlan-mac 575: no --vlan leaves on VLAN 575/],
    [['--vlan', '573:100.574'], /both be one tag/],
  ];
  for (const [extra, re] of cases) {
    const box = new FakeBox();
    const before = box.snapshot();
    const r = await run(box, ['attach', '--intf', 'veth-lb', '--default-mac', '02:00:00:00:00:01', ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.equal(box.snapshot(), before);
  }
});

test('vlan add / mac / del on a running balancer, --dry-run writes nothing, --json', async () => {
  const box = attachedBox();
  const dry = await run(box, ['vlan', 'add', '573:574', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /add VLAN 573 -> 574 \(gateway the default MAC\)/);
  assert.deepEqual(box.vlans.rows, []);
  const add = await run(box, ['vlan', 'add', '573:574', '--json']);
  assert.equal(add.code, 0, add.err);
  assert.equal(JSON.parse(add.out).applied, true);
  assert.deepEqual(box.vlans.rows, [{ ingress: '573', egress: '574', mac: null }]);
  // A second VLAN leaving on 574 shares its MAC once one is set.
  assert.equal((await run(box, ['vlan', 'add', '576:574'])).code, 0);
  const mac = await run(box, ['vlan', 'mac', '574', GW]);
  assert.equal(mac.code, 0, mac.err);
  assert.deepEqual(box.vlans.list()!.map((v) => v.mac), [GW, GW]);
  const list = await run(box, ['vlan', 'list']);
  assert.match(list.out, /573\s+574\s+58:e4:34:56:46:e0/);
  assert.equal((await run(box, ['vlan', 'del', '576'])).code, 0);
  assert.deepEqual(box.vlans.rows, [{ ingress: '573', egress: '574', mac: GW }]);
});

test('vlan mac OUT default (and vlan add --mac default) puts an egress VLAN back on the default MAC; --help says so', async () => {
  const box = attachedBox();
  assert.equal((await run(box, ['vlan', 'add', '573:574', '--mac', GW])).code, 0);
  assert.equal((await run(box, ['vlan', 'add', '576:574'])).code, 0);
  const dry = await run(box, ['vlan', 'mac', '574', 'default', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /change VLAN 573 -> 574 \(gateway 58:e4:34:56:46:e0\) -> 574 \(gateway the default MAC\)/);
  assert.deepEqual(box.vlans.list()!.map((v) => v.mac), [GW, GW], 'dry run: nothing written');
  const r = await run(box, ['vlan', 'mac', '574', 'DEFAULT']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(box.vlans.list()!.map((v) => v.mac), [null, null], 'every mapping leaving on 574');
  assert.match((await run(box, ['vlan', 'list'])).out, /573\s+574\s+02:00:00:00:00:01 \(default\)/);
  // vlan add --replace --mac default: the same for the egress VLAN of a changed mapping.
  assert.equal((await run(box, ['vlan', 'mac', '574', GW])).code, 0);
  assert.equal((await run(box, ['vlan', 'add', '573:574', '--replace', '--mac', 'default'])).code, 0);
  assert.deepEqual(box.vlans.list()!.map((v) => v.mac), [null, null]);
  const bad = await run(box, ['vlan', 'mac', '574', 'defaults']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad MAC "defaults"/);
  const help = await run(box, ['vlan', 'mac', '--help']);
  assert.match(help.out, /'default'\s+puts\s+it\s+back\s+on\s+the\s+default\s+MAC/);
});

test('vlan refusals on a running balancer: one line, nothing changed', async () => {
  const box = attachedBox();
  assert.equal((await run(box, ['vlan', 'add', '573:574'])).code, 0);
  const before = box.snapshot();
  const writes = box.writes.length;
  const cases: [string[], RegExp][] = [
    [['vlan', 'add', '4095'], /VLAN IDs are 1\.\.4094/],
    [['vlan', 'add', '573:575'], /VLAN 573 is already an ingress VLAN/],
    [['vlan', 'del', '575'], /VLAN 575 is not an ingress VLAN/],
    [['vlan', 'mac', '575', GW], /no VLAN mapping leaves on VLAN 575/],
    [['vlan', 'mac', '574', 'ff:ff:ff:ff:ff:ff'], /multicast or broadcast/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(box, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
  assert.equal(box.snapshot(), before);
  assert.equal(box.writes.length, writes);
});

test('no MAC at all: a VLAN without its own MAC on a balancer without a default MAC is refused', async () => {
  const box = attachedBox();
  box.mac = null;
  const r = await run(box, ['vlan', 'add', '573:574']);
  assert.equal(r.code, 2);
  assert.match(r.err, /VLAN 573 -> 574: no gateway MAC \(give --vlan-mac 574=MAC or a default MAC\)/);
  assert.deepEqual(box.vlans.rows, []);
  assert.equal((await run(box, ['vlan', 'add', '573:574', '--mac', GW])).code, 0);
});

test('an object without the VLAN maps: "VLANs: not available for this program", exit 1', async () => {
  const box = attachedBox();
  box.vlans.available = false;
  for (const argv of [['vlan', 'list'], ['vlan', 'add', '573']]) {
    const r = await run(box, argv);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /^katran-tui: VLANs: not available for this program/);
    assert.equal(r.err.trim().split('\n').length, 1);
  }
  assert.deepEqual(box.vlans.rows, []);
});

test('config: "vlans" round trip (export -> apply: no changes); a bad entry refused with nothing written', async () => {
  const box = attachedBox();
  assert.equal((await run(box, ['vlan', 'add', '573:574', '--mac', GW])).code, 0);
  assert.equal((await run(box, ['vlan', 'add', '100.5:100.6'])).code, 0);
  const ex = await run(box, ['config', 'export', '--json']);
  assert.equal(ex.code, 0, ex.err);
  const doc = JSON.parse(ex.out);
  assert.equal(doc.katranTuiConfig, 1);
  assert.deepEqual(doc.vlans, [{ ingress: '100.5', egress: '100.6', mac: null }, { ingress: '573', egress: '574', mac: GW }]);
  const fresh = attachedBox();
  const files = { '/cfg.json': JSON.stringify(doc) };
  const apply = async (b: FakeBox, text: string, extra: string[] = []) => {
    const f = fakeDeps(b, { files: { '/cfg.json': text } });
    const code = await main(['config', 'apply', '/cfg.json', ...extra], f.deps);
    return { code, out: f.stdout.text, err: f.stderr.text };
  };
  const a = await apply(fresh, files['/cfg.json']);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /\+ vlan 573 -> 574 via 58:e4:34:56:46:e0/);
  assert.deepEqual(fresh.vlans.rows, box.vlans.rows);
  const again = await apply(fresh, files['/cfg.json']);
  assert.match(again.out, /no changes/);
  // A file without "vlans" keeps them; a bad one changes nothing.
  const before = fresh.snapshot();
  for (const bad of [[{ ingress: '573', egress: '4095' }], [{ ingress: '573' }, { ingress: '573', egress: '5' }], 'x']) {
    const r = await apply(fresh, JSON.stringify({ ...doc, vlans: bad }));
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
  assert.equal(fresh.snapshot(), before);
});
