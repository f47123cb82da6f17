// The lab sink's VLAN side (bpf/sink.bpf.c) through prog_test_run, fed with the balancer's own
// tagged output: per (egress VLAN, real) counts in sink_vlan_counts, the destination MAC checked
// against that VLAN's gateway (sink_vlan_cfg), and the usual per-real counts as well.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, TestRunner, XDP_ACTION, mapLookup, mapUpdate } from '../../src/dataplane/kernel/libbpf.js';
import { parseIp, parseMac, u32Key } from '../../src/dataplane/abi.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';
import { ETH_P, flowFrame, withVlanTags } from '../helpers/packets.js';
import { GW_MAC, REALS, VIPS, closeFixture, fixture } from './balancer-common.js';
import { MAC_573, MAC_QINQ, resetVlanTable, vlanTable } from './vlan-common.js';

let obj: BpfObject | undefined;
let runner: TestRunner | undefined;

after(() => {
  runner?.close();
  obj?.close();
  resetVlanTable();
  closeFixture();
});

function vlanKey(outer: number, inner: number, real: string): Buffer {
  const a = parseIp(real);
  const k = Buffer.alloc(24);
  k.writeUInt16LE(outer, 0);
  k.writeUInt16LE(inner, 2);
  a.bytes.copy(k, 4);
  k[20] = a.family;
  return k;
}

describe('sink (lab backend): VLANs', () => {
  it('counts tagged encapsulated frames per (VLAN, real), checks each VLAN\'s gateway MAC, and counts per real as before', async (t) => {
    if (!(await requireBpf(t))) return;
    obj = BpfObject.open(bundledObject('sink'));
    obj.load();
    const fds = Object.fromEntries(obj.maps().filter((m) => !m.name.startsWith('.')).map((m) => [m.name, m.fd]));
    runner = new TestRunner(obj.program('sink')!.fd, 4096, 'sink');
    const cfg = (mac: string): Buffer => Buffer.concat([parseMac(mac), Buffer.alloc(2)]);
    mapUpdate(fds.sink_cfg, u32Key(0), cfg(GW_MAC));
    const vk = (outer: number, inner: number): Buffer => Buffer.from([outer & 0xff, outer >> 8, inner & 0xff, inner >> 8]);
    mapUpdate(fds.sink_vlan_cfg, vk(573, 0), cfg(MAC_573));
    mapUpdate(fds.sink_vlan_cfg, vk(10, 20), cfg(MAC_QINQ));
    const count = (map: string, key: Buffer): number[] | null => {
      const v = Buffer.alloc(24);
      return mapLookup(fds[map], key, v) ? [0, 8, 16].map((o) => Number(v.readBigUInt64LE(o))) : null;
    };

    const lb = fixture();
    vlanTable(lb);
    lb.fillRing(VIPS.tcp.vipNum, 1);
    lb.fillRing(VIPS.v6tcp.vipNum, 3);
    const one = lb.run(withVlanTags(flowFrame({ src: '203.0.113.9', dst: VIPS.tcp.address, sport: 1000, dport: 80, proto: 'tcp' }), [{ tci: 573 }]));
    const pair = lb.run(withVlanTags(flowFrame({ src: '2001:db8:c::9', dst: VIPS.v6tcp.address, sport: 1001, dport: 443, proto: 'tcp' }), [{ tpid: ETH_P.qinq, tci: 10 }, { tci: 20 }]));
    const rewritten = lb.run(withVlanTags(flowFrame({ src: '203.0.113.9', dst: VIPS.tcp.address, sport: 1002, dport: 80, proto: 'tcp' }), [{ tci: 100 }]));
    for (const r of [one, pair, rewritten]) assert.equal(r.retval, XDP_ACTION.TX);

    for (let i = 0; i < 2; i++) assert.equal(runner.run(one.data).retval, XDP_ACTION.DROP);
    assert.equal(runner.run(pair.data).retval, XDP_ACTION.DROP);
    assert.equal(runner.run(rewritten.data).retval, XDP_ACTION.DROP);
    assert.deepEqual(count('sink_vlan_counts', vlanKey(573, 0, REALS[1])), [2, 2 * one.data.length, 0]);
    assert.deepEqual(count('sink_vlan_counts', vlanKey(10, 20, REALS[3])), [1, pair.data.length, 0]);
    // VLAN 574 (100's egress) has no MAC of its own in the sink: the lab default (GW_MAC) is checked.
    assert.deepEqual(count('sink_vlan_counts', vlanKey(574, 0, REALS[1])), [1, rewritten.data.length, 0]);
    assert.equal(count('sink_counts', Buffer.concat([parseIp(REALS[1]).bytes, Buffer.alloc(12), Buffer.from([4, 0, 0, 0])]))![0], 3, 'per real, tagged or not');

    // The right MAC for another VLAN is the wrong one for this VLAN.
    const wrong = Buffer.from(one.data);
    parseMac(MAC_QINQ).copy(wrong, 0);
    assert.equal(runner.run(wrong).retval, XDP_ACTION.DROP);
    assert.deepEqual(count('sink_vlan_counts', vlanKey(573, 0, REALS[1])), [3, 3 * one.data.length, 1]);
  });
});
