// The seed's VLAN layout in the lab, native mode on one port: real UDP and TCP SYN traffic from
// the client namespace, tagged by the lab's switch (tc egress bpf_skb_vlan_push, tx VLAN offload
// off), reaches each real through the egress VLAN with that VLAN's gateway MAC at the sink;
// 802.1ad pairs the same; an unconfigured VLAN passes (counted as VIP traffic the balancer does
// not parse); and with tx VLAN offload on, XDP never sees the tag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import { parseMac, type VlanKey } from '../../src/dataplane/abi.js';
import { VlanTable } from '../../src/dataplane/kernel/vlan.js';
import { pinRoot } from '../helpers/env.js';
import { globalStat, labId, newLab, pair, programVip, requireLab, settle, sinkOf, type TestVip } from './fixture.js';

const A: TestVip = { address: '192.0.2.31', port: 53, proto: 'udp', vipNum: 0, reals: [{ index: 1, address: '198.51.100.31' }] };
const B: TestVip = { address: '192.0.2.32', port: 80, proto: 'tcp', vipNum: 1, reals: [{ index: 2, address: '198.51.100.32' }, { index: 3, address: '198.51.100.33' }] };
const C: TestVip = { address: '2001:db8:f::31', port: 443, proto: 'tcp', vipNum: 2, reals: [{ index: 4, address: '2001:db8:e::31' }] };
const D: TestVip = { address: '2001:db8:f::32', port: 53, proto: 'udp', vipNum: 3, reals: [{ index: 5, address: '2001:db8:e::32' }] };

const IN: VlanKey = { outer: 573, inner: 0 };
const OUT: VlanKey = { outer: 574, inner: 0 };
const PAIR_IN: VlanKey = { outer: 100, inner: 573 };
const PAIR_OUT: VlanKey = { outer: 100, inner: 574 };
const GW_574 = '02:00:5e:00:05:74';
const GW_PAIR = '02:00:5e:01:05:74';

test('tagged client traffic (802.1Q 573 -> 574, 802.1ad 100.573 -> 100.574) reaches each real through the egress VLAN\'s gateway; an unconfigured VLAN passes; with tx VLAN offload on XDP sees no tag', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('vlan');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('v'), { vlan: true });
    const sw = lab.vlan!;
    h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native', pinRoot: root, lruSize: 4096 });
    assert.equal(h.mode, 'native');
    for (const v of [A, B, C, D]) programVip(h, v);
    const vlans = VlanTable.fromMaps((n) => h!.maps.all.get(n), lab.intf);
    vlans.set(IN, { balance: true, egress: OUT, mac: parseMac(GW_574) });
    vlans.set(PAIR_IN, { balance: true, egress: PAIR_OUT, mac: parseMac(GW_PAIR) });
    sw.setGatewayMac(OUT, GW_574);
    sw.setGatewayMac(PAIR_OUT, GW_PAIR);
    const [c4, c6] = [lab.clientsV4, lab.clientsV6];
    const send = async (flows: Parameters<Lab['traffic']>[0]['flows']): Promise<number> => {
      const r = await lab!.traffic({ ratePps: 400, durationMs: 20_000, flows });
      assert.deepEqual(r.errors, []);
      await settle();
      return r.flows.reduce((s, f) => s + f.packets, 0);
    };
    const total = (k: VlanKey): number => sw.counts().filter((c) => c.vlan.outer === k.outer && c.vlan.inner === k.inner).reduce((s, c) => s + c.packets, 0);
    const onVlan = (k: VlanKey, real: string): number => sw.counts().find((c) => c.vlan.outer === k.outer && c.vlan.inner === k.inner && c.real === real)?.packets ?? 0;

    // 1. One tag, VLAN 573 in, 574 out with its own gateway.
    sw.setClientVlan({ vid: 573, pcp: 5 });
    const sent = await send([
      { proto: 'udp', src: c4[0], sport: 40001, dst: A.address, dport: A.port, count: 10 },
      { proto: 'udp', src: c4[1], sport: 40002, dst: A.address, dport: A.port, count: 10 },
      ...c4.map((src) => ({ proto: 'tcp-syn' as const, src, dst: B.address, dport: B.port, count: 3 })),
      { proto: 'tcp-syn', src: c6[0], dst: C.address, dport: C.port, count: 4 },
      ...c6.slice(0, 2).map((src, i) => ({ proto: 'udp' as const, src, sport: 42000 + i, dst: D.address, dport: D.port, count: 5 })),
    ]);
    assert.equal(sent, 20 + 12 + 4 + 10);
    assert.ok(sw.tagged().frames >= sent, 'the switch tagged every client frame');
    assert.equal(onVlan(OUT, A.reals[0].address), 20, 'A\'s real through VLAN 574');
    assert.equal(onVlan(OUT, B.reals[0].address) + onVlan(OUT, B.reals[1].address), 12, 'B\'s reals through VLAN 574');
    assert.equal(onVlan(OUT, C.reals[0].address), 4, 'C\'s (v6) real through VLAN 574');
    assert.equal(onVlan(OUT, D.reals[0].address), 10, 'D\'s (v6) real through VLAN 574');
    assert.equal(total(OUT), sent, 'everything came back on VLAN 574');
    assert.equal(total(IN), 0, 'nothing came back on the ingress VLAN');
    assert.deepEqual(sw.counts().filter((c) => c.wrongMac > 0), [], 'every frame went to VLAN 574\'s gateway MAC');
    assert.equal(lab.sinkCounts().reduce((s, c) => s + c.packets, 0), sent, 'no untagged copies');
    let vc = vlans.counters(IN)!;
    // The namespace's own IPv6 chatter (MLD, ND) is tagged too: it is not VIP traffic and passes.
    assert.equal(vc.balanced.packets, BigInt(sent));
    assert.equal(vc.in.packets, vc.balanced.packets + vc.passed.packets, 'nothing on VLAN 573 was dropped');
    assert.equal(pair(h, 'stats', A.vipNum).v1, 20);
    assert.equal(pair(h, 'realsStats', 1).v1, 20);

    // 2. 802.1ad: 100.573 in, 100.574 out with its own gateway.
    sw.setClientVlan({ vid: 100, inner: 573 });
    const sentPair = await send([
      { proto: 'udp', src: c4[2], sport: 40003, dst: A.address, dport: A.port, count: 8 },
      { proto: 'tcp-syn', src: c6[1], dst: C.address, dport: C.port, count: 3 },
    ]);
    assert.equal(sentPair, 11);
    assert.equal(onVlan(PAIR_OUT, A.reals[0].address), 8);
    assert.equal(onVlan(PAIR_OUT, C.reals[0].address), 3);
    assert.deepEqual(sw.counts().filter((c) => c.wrongMac > 0), [], 'the pair\'s gateway MAC');
    assert.equal(vlans.counters(PAIR_IN)!.balanced.packets, 11n);

    // 3. An unconfigured VLAN: passed to the kernel untouched, counted as VIP traffic on VLAN 575.
    sw.setClientVlan({ vid: 575 });
    const passBefore = globalStat(h, 'xdpPass').v1;
    const sinkBefore = lab.sinkCounts().reduce((s, c) => s + c.packets, 0);
    const sentOther = await send([{ proto: 'udp', src: c4[0], sport: 40009, dst: A.address, dport: A.port, count: 7 }]);
    assert.equal(sentOther, 7);
    assert.ok(globalStat(h, 'xdpPass').v1 - passBefore >= 7, 'passed');
    assert.equal(lab.sinkCounts().reduce((s, c) => s + c.packets, 0), sinkBefore, 'nothing reached a real');
    const other = vlans.counters({ outer: 575, inner: 0 })!;
    assert.equal(other.in.packets, 7n, 'VIP traffic on VLAN 575 counted');
    assert.equal(other.passed.packets, 7n);
    assert.equal(other.balanced.packets, 0n);
    assert.ok(vlans.allCounters().some((r) => r.vlan?.outer === 575), 'listed for doctor');

    // 4. tx VLAN offload on: the tag travels in skb metadata, XDP gets the frame untagged and
    //    balances it as untagged traffic (default MAC, no tag at the sink, VLAN 573 counts nothing).
    sw.setTxVlanOffload(true);
    sw.setClientVlan({ vid: 573 });
    vc = vlans.counters(IN)!;
    const untaggedBefore = sinkOf(lab, A.reals[0].address);
    const vlanBefore = total(OUT);
    const sentOffload = await send([{ proto: 'udp', src: c4[3], sport: 40010, dst: A.address, dport: A.port, count: 6 }]);
    assert.equal(sentOffload, 6);
    assert.equal(sinkOf(lab, A.reals[0].address) - untaggedBefore, 6, 'balanced as untagged');
    assert.equal(total(OUT), vlanBefore, 'not on VLAN 574');
    assert.equal(vlans.counters(IN)!.in.packets, vc.in.packets, 'XDP saw no VLAN 573 tag');
    assert.deepEqual(lab.sinkCounts().filter((c) => (c.wrongMac ?? 0) > 0), [], 'untagged frames went to the default MAC');
  } finally {
    if (h) {
      try { detach(h); } catch { /* the lab goes anyway */ }
    }
    lab?.destroy();
    (await import('node:fs')).rmSync(root, { recursive: true, force: true });
  }
});
