// The `--vlan` / `--vlan-mac` syntax (abi.ts): what is accepted, and one clear line for the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, parseMac, parseVlan, parseVlanMapping, parseVlanMac, parseVlanOptions } from '../../src/dataplane/abi.js';
import { checkVlanMappings } from '../../src/dataplane/rules.js';

const refuses = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: Error) => e instanceof InputError && re.test(e.message) && !e.message.includes('\n'), re.source);
};

test('VLAN IDs and 802.1ad pairs: 1..4094 each', () => {
  assert.deepEqual(parseVlan('573'), { outer: 573, inner: 0 });
  assert.deepEqual(parseVlan(' 100.573 '), { outer: 100, inner: 573 });
  assert.deepEqual(parseVlan('1'), { outer: 1, inner: 0 });
  assert.deepEqual(parseVlan('4094.4094'), { outer: 4094, inner: 4094 });
  for (const bad of ['0', '4095', '100.0', '0.5', '100.4095']) refuses(() => parseVlan(bad), /VLAN IDs are 1\.\.4094/);
  for (const bad of ['', 'a', '57x', '1.2.3', '-5', '12345', '100.', '.5', '5 5']) refuses(() => parseVlan(bad), /expected a VLAN ID 1\.\.4094 \(573\) or an 802\.1ad pair/);
});

test('--vlan: 573, 573:574, 100.573:100.574; shapes must match', () => {
  assert.deepEqual(parseVlanMapping('573'), { ingress: { outer: 573, inner: 0 }, egress: { outer: 573, inner: 0 } });
  assert.deepEqual(parseVlanMapping('573:574'), { ingress: { outer: 573, inner: 0 }, egress: { outer: 574, inner: 0 } });
  assert.deepEqual(parseVlanMapping('100.573:100.574'), { ingress: { outer: 100, inner: 573 }, egress: { outer: 100, inner: 574 } });
  assert.deepEqual(parseVlanMapping('100.573'), { ingress: { outer: 100, inner: 573 }, egress: { outer: 100, inner: 573 } });
  refuses(() => parseVlanMapping('573:100.574'), /both be one tag/);
  refuses(() => parseVlanMapping('100.573:574'), /both be one tag/);
  refuses(() => parseVlanMapping('573:574:575'), /expected IN\[:OUT\]/);
  refuses(() => parseVlanMapping('573:'), /expected IN\[:OUT\]/);
  refuses(() => parseVlanMapping(':574'), /expected IN\[:OUT\]/);
  refuses(() => parseVlanMapping('573:4095'), /bad egress VLAN "4095": VLAN IDs are 1\.\.4094/);
  refuses(() => parseVlanMapping('0:5'), /bad ingress VLAN "0"/);
});

test('--vlan-mac: EGRESS=MAC', () => {
  assert.deepEqual(parseVlanMac('574=58:e4:34:56:46:e0'), { vlan: { outer: 574, inner: 0 }, mac: parseMac('58:e4:34:56:46:e0') });
  assert.deepEqual(parseVlanMac('100.574=58-e4-34-56-46-e0').vlan, { outer: 100, inner: 574 });
  refuses(() => parseVlanMac('574'), /expected EGRESS_VLAN=MAC/);
  refuses(() => parseVlanMac('574=zz'), /bad MAC/);
  refuses(() => parseVlanMac('574=ff:ff:ff:ff:ff:ff'), /multicast or broadcast address cannot be a gateway \(the default MAC or a VLAN's\)/);
  refuses(() => parseVlanMac('5000=58:e4:34:56:46:e0'), /VLAN IDs are 1\.\.4094/);
});

test('repeated options: one row per --vlan with its egress VLAN\'s MAC; two MACs for one VLAN refused', () => {
  const mac = '58:e4:34:56:46:e0';
  assert.deepEqual(parseVlanOptions(['573:574', '575', '100.573:100.574'], ['574=58-E4-34-56-46-E0']).vlans, [
    { ingress: '573', egress: '574', mac },
    { ingress: '575', egress: '575', mac: null },
    { ingress: '100.573', egress: '100.574', mac: null },
  ]);
  refuses(() => parseVlanOptions(['573:574'], ['574=58:e4:34:56:46:e0', '574=58:e4:34:56:46:e1']), /VLAN 574: two gateway MACs/);
  assert.deepEqual(parseVlanOptions([], []).vlans, []);
});

test('the rules (rules.ts): duplicates, stray MACs and no MAC at all refused; one MAC per egress VLAN shared', () => {
  const mac = '58:e4:34:56:46:e0';
  const rows = (v: string[], m: string[] = []) => parseVlanOptions(v, m);
  const check = (v: string[], m: string[], def: string | null) => { const r = rows(v, m); return checkVlanMappings(r.vlans, def, r.macs.keys()); };
  // Two ingress VLANs may leave on one egress VLAN and share its MAC (given once).
  assert.deepEqual(check(['576:574', '573:574'], [`574=${mac}`], null), [
    { ingress: '573', egress: '574', mac }, { ingress: '576', egress: '574', mac },
  ]);
  refuses(() => check(['573', '573:574'], [], mac), /VLAN 573: given twice as an ingress VLAN/);
  refuses(() => check(['573:574'], [`575=${mac}`], mac), /--vlan-mac 575: no --vlan leaves on VLAN 575/);
  refuses(() => check(['573:574'], [], null), /VLAN 573 -> 574: no gateway MAC \(give --vlan-mac 574=MAC or a default MAC\)/);
  refuses(() => checkVlanMappings([{ ingress: '0', egress: '5', mac: null }], mac), /bad ingress VLAN "0"/);
  refuses(() => checkVlanMappings([{ ingress: '5', egress: '4095', mac: null }], mac), /VLAN IDs are 1\.\.4094/);
  refuses(() => checkVlanMappings([{ ingress: '5', egress: '6', mac }, { ingress: '7', egress: '6', mac: '58:e4:34:56:46:e1' }], mac), /VLAN 6: two gateway MACs/);
});

test('the trunk warning comes with the change that makes a rewrite, not with every later change', async () => {
  const { FakeVlans } = await import('../helpers/fake-vlans.js');
  const trunk = /needs the switch port to trunk both VLANs/;
  const gw = '02:00:5e:00:05:74';
  const v = new FakeVlans();
  const warned = (r: { warnings: string[] }) => r.warnings.some((w) => trunk.test(w));
  assert.equal(warned(v.add(gw, '573', null, false)), false, 'no rewrite: 573 -> 573');
  assert.equal(warned(v.add(gw, '575:574', null, true)), true, 'dry run of a new rewrite warns');
  assert.equal(warned(v.add(gw, '575:574', null, false)), true, 'a new rewrite warns');
  assert.equal(warned(v.add(gw, '576', null, false)), false, 'adding 576 -> 576 beside the rewrite');
  assert.equal(warned(v.setMac(gw, '574', '02:00:5e:00:05:99', false)), false, 'a new gateway MAC for 574');
  assert.equal(warned(v.remove(gw, '576', false)), false, 'deleting 576');
  assert.equal(warned(v.add(gw, '573:577', null, false, true)), true, 'changing 573 to leave on 577');
  assert.equal(warned(v.add(gw, '575:578', null, false, true)), true, 'changing the egress of a rewrite');
  assert.equal(warned(v.setAll(gw, v.rows, [], false)), false, 'the same list again');
});
