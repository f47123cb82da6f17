// config export / apply against the fake: validation of the whole file first, diff, one
// transaction (the dataplane's applyConfig: a failure applies nothing), round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, FakeBox, fakeDeps } from './fake-host.js';
import { FakeDataplane } from '../helpers/fake-dataplane.js';
import { InputError } from '../../src/dataplane/abi.js';

async function run(box: FakeBox, argv: string[], files: Record<string, string> = {}) {
  const f = fakeDeps(box, { files });
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text };
}

const FILE = JSON.stringify({
  katranTuiConfig: 1,
  defaultMac: '58:e4:34:56:46:e0',
  vips: [
    { vip: '192.0.2.1:80/tcp', flags: ['no-sport'], hash: 'maglev-v2', reals: [{ address: '198.51.100.1', weight: 1 }, { address: '198.51.100.2', weight: 3 }] },
    { vip: '192.0.2.2:53/udp', reals: [{ address: '198.51.100.3' }] },
    { vip: '[2001:db8::1]:443/tcp', hash: 'maglev', reals: [{ address: '2001:db8:1::1', weight: 2 }] },
  ],
});

test('apply: diff, then applied; export of the result applies as "no changes"', async () => {
  const box = attachedBox();
  const dry = await run(box, ['config', 'apply', 'f.json', '--dry-run'], { 'f.json': FILE });
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /^~ mac 02:00:00:00:00:01 -> 58:e4:34:56:46:e0\n\+ vip 192\.0\.2\.1:80\/tcp flags no-sport hash maglev-v2\n/);
  assert.match(dry.out, /dry run: 8 changes shown, nothing written/);
  assert.deepEqual(box.writes, []);
  const r = await run(box, ['config', 'apply', 'f.json', '--json'], { 'f.json': FILE });
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.equal(doc.applied, true);
  assert.equal(doc.changes.length, 8);
  const exp = await run(box, ['config', 'export']);
  assert.equal(exp.code, 0);
  const exported = JSON.parse(exp.out);
  assert.deepEqual(exported.vips.map((v: { vip: string }) => v.vip), ['192.0.2.1:80/tcp', '192.0.2.2:53/udp', '[2001:db8::1]:443/tcp']);
  assert.deepEqual(exported.vips[0].reals, [{ address: '198.51.100.1', weight: 1 }, { address: '198.51.100.2', weight: 3 }]);
  const again = await run(box, ['config', 'apply', 'e.json'], { 'e.json': exp.out });
  assert.equal(again.out, 'no changes: the balancer already matches the file\n');
  // export --json is the same document on one line
  const one = await run(box, ['config', 'export', '--json']);
  assert.deepEqual(JSON.parse(one.out), exported);
  assert.equal(one.out.trim().split('\n').length, 1);
});

test('apply: changes, weights and removals in a safe order', async () => {
  const box = attachedBox();
  await run(box, ['config', 'apply', 'f.json'], { 'f.json': FILE });
  const next = JSON.parse(FILE);
  next.vips[0].reals = [{ address: '198.51.100.2', weight: 5 }, { address: '198.51.100.4', weight: 1 }];
  next.vips.splice(1, 1);
  const r = await run(box, ['config', 'apply', 'n.json'], { 'n.json': JSON.stringify(next) });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), [
    '- vip 192.0.2.2:53/udp (1 real)',
    '+ real 192.0.2.1:80/tcp 198.51.100.4 weight 1',
    '~ real 192.0.2.1:80/tcp 198.51.100.2 weight 3 -> 5',
    '- real 192.0.2.1:80/tcp 198.51.100.1 (weight 1)',
    'applied 4 changes',
  ]);
});

test('apply validates the whole file first: any bad entry, nothing written', async () => {
  const bad: [unknown, RegExp][] = [
    ['not json', /not valid JSON/],
    [[], /expected a JSON object/],
    [{ katranTuiConfig: 2, vips: [] }, /"katranTuiConfig" is 2, a newer format version than this katran-tui reads \(1\): upgrade katran-tui/],
    [{ katranTuiConfig: '1', vips: [] }, /"katranTuiConfig" must be 1 \(the format version\)/],
    [{ vips: [] }, /"katranTuiConfig" must be 1/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', vlan: 5 }] }, /config vips\[0\]: unknown key "vlan"/],
    [{ katranTuiConfig: 1, vips: [], extra: 1 }, /unknown key "extra"/],
    [{ katranTuiConfig: 1, vips: [], vlans: [{ ingress: '573', egress: '574' }, { ingress: 573, egress: '575' }] }, /^katran-tui: config vlans\[1\]: VLAN 573: given twice as an ingress VLAN \(each VLAN arrives on one mapping\)$/m],
    [{ katranTuiConfig: 1, vips: [], vlans: [{ ingress: '573', egress: '4095' }] }, /^katran-tui: config vlans\[0\]: .*1\.\.4094/m],
    [{ katranTuiConfig: 1, defaultMac: 'ff:ff:ff:ff:ff:ff', vips: [] }, /multicast/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp' }, { vip: '192.0.2.1:80/tcp' }] }, /appears twice/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp' }, { vip: '$(reboot)' }] }, /bad VIP/],
    [{ katranTuiConfig: 1, vips: [{ vip: '[2001:db8::1]:80/tcp', reals: [{ address: '198.51.100.1' }] }] }, /^katran-tui: config vips\[0\]\.reals\[0\]: real 198\.51\.100\.1 is IPv4 but VIP \[2001:db8::1\]:80\/tcp is IPv6: Katran's IPIP header for an IPv6 packet is 40 bytes short in total length, so the real would drop it$/m],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', reals: [{ address: '198.51.100.1', weight: -1 }] }] }, /bad weight/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', reals: [{ address: '198.51.100.1', weight: '1' }] }] }, /bad weight/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', flags: ['quic'] }] }, /config vips\[0\]: VIP flag quic not implemented by this balancer's program/],
    [{ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', flags: ['bogus'] }] }, /unknown VIP flag/],
    [{ katranTuiConfig: 1, vips: ['192.0.2.1:1/tcp', '192.0.2.1:2/tcp', '192.0.2.1:3/tcp', '192.0.2.1:4/tcp', '192.0.2.1:5/tcp'].map((vip) => ({ vip })) }, /at most 4/],
  ];
  for (const [doc, re] of bad) {
    const box = attachedBox();
    const r = await run(box, ['config', 'apply', 'b.json'], { 'b.json': typeof doc === 'string' ? doc : JSON.stringify(doc) });
    assert.equal(r.code, 2, `${JSON.stringify(doc)}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.split('\n').length, 2, r.err);
    assert.deepEqual(box.writes, []);
  }
  const missing = await run(attachedBox(), ['config', 'apply', '/nonexistent.json']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read config file \/nonexistent\.json: no such file/);
});

test('apply is one dataplane transaction: a failure applies nothing', async () => {
  const box = attachedBox();
  box.vips.set('192.0.2.9:80/tcp', { key: { address: '192.0.2.9', port: 80, proto: 'tcp' }, flags: [], hash: 'maglev-v2', reals: new Map([['198.51.100.9', 2]]) });
  const before = box.snapshot();
  box.failOn = 'applyConfig 192.0.2.2:53/udp';
  const r = await run(box, ['config', 'apply', 'f.json'], { 'f.json': FILE });
  assert.equal(r.code, 1);
  assert.match(r.err, /config apply failed: applyConfig 192\.0\.2\.2:53\/udp: injected failure; nothing was applied \(one transaction\)/);
  assert.equal(box.snapshot(), before);
  assert.deepEqual(box.writes, [], 'no single-step writes: the file goes through applyConfig only');
});

test('a hash change of a live VIP is refused', async () => {
  const box = attachedBox();
  await run(box, ['config', 'apply', 'f.json'], { 'f.json': FILE });
  const next = JSON.parse(FILE);
  next.vips[0].hash = 'maglev';
  const r = await run(box, ['config', 'apply', 'n.json'], { 'n.json': JSON.stringify(next) });
  assert.equal(r.code, 2);
  assert.match(r.err, /changing the hash of a live VIP/);
  const dry = await run(box, ['config', 'apply', 'n.json', '--dry-run'], { 'n.json': JSON.stringify(next) });
  assert.equal(dry.code, 2, 'the dry run gives the same answer');
  assert.match(dry.err, /^katran-tui: VIP 192\.0\.2\.1:80\/tcp uses hash maglev-v2, the config says maglev: changing the hash of a live VIP/m);
});

test('the console\'s fake dataplane refuses a hash change of a live VIP as the control plane does', () => {
  const dp = new FakeDataplane().seed([{ vip: '192.0.2.1:80/tcp', reals: ['198.51.100.1'] }]);
  const key = { address: '192.0.2.1', port: 80, proto: 'tcp' as const };
  assert.throws(() => dp.applyConfig({ vips: [{ key, hash: 'maglev', reals: [{ address: '198.51.100.1', weight: 1 }] }] }),
    (e: Error) => e instanceof InputError && /uses hash maglev-v2, the config says maglev: changing the hash of a live VIP/.test(e.message));
  assert.equal(dp.vipMap.get('192.0.2.1:80/tcp')?.hash, 'maglev-v2');
});

test('versioning: a format-1 file with only the keys of the first release applies unchanged, with the defaults', async () => {
  const box = attachedBox();
  const old = JSON.stringify({ katranTuiConfig: 1, vips: [{ vip: '192.0.2.7:80/tcp', reals: [{ address: '198.51.100.7' }] }] });
  const r = await run(box, ['config', 'apply', 'old.json'], { 'old.json': old });
  assert.equal(r.code, 0, r.err);
  const v = box.vips.get('192.0.2.7:80/tcp');
  assert.deepEqual({ flags: v?.flags, hash: v?.hash, reals: [...(v?.reals ?? [])] }, { flags: [], hash: 'maglev-v2', reals: [['198.51.100.7', 1]] });
});
