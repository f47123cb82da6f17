// 802.1Q / 802.1ad in the balancer (bpf/vlan.h) through prog_test_run: byte-exact outputs (the
// expected frame built from the rules: the untagged encapsulation with the egress tag and MAC),
// every VIP path of the untagged tests on tagged frames, PASS of what the feature does not parse,
// and exact counter deltas (globals, per VIP, per real, per VLAN). CPU 0 pinned (its own LRU).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XDP_ACTION } from '../../src/dataplane/kernel/libbpf.js';
import { InputError, parseMac } from '../../src/dataplane/abi.js';
import { requireBpf } from '../helpers/env.js';
import {
  ETH_P, ICMP, ICMP6, PROTO, echoRequestFrame, ethernet, flowFrame, icmp4, icmp6, icmpErrorFrame, ipv4, ipv6, pattern, tcp, udp,
  withVlanTags, type VlanTag,
} from '../helpers/packets.js';
import { cidFor, quicShort } from '../helpers/quic.js';
import {
  GW_MAC, LB_MAC, REALS, VIPS, assertBytes, assertDelta, closeFixture, fixture, pktBytes, replyPacket, take, xdp,
} from './balancer-common.js';
import {
  MAC_201, MAC_573, MAC_QINQ, VL, assertVlanDelta, expectedTaggedEncap, resetVlanTable, vlanCounters, vlanTable,
} from './vlan-common.js';

const C1 = '203.0.113.60';
const C6 = '2001:db8:c::60';
const ROUTER = '203.0.113.254';
const ROUTER6 = '2001:db8:ff::1';

after(() => {
  resetVlanTable();
  closeFixture();
});

const one = (vid: number, pcpDei = 0): VlanTag[] => [{ tpid: ETH_P.vlan, tci: (pcpDei << 12) | vid }];
const two = (outer: number, inner: number, tpid: number = ETH_P.qinq, pcpDei = 0): VlanTag[] => [
  { tpid, tci: (pcpDei << 12) | outer }, { tpid: ETH_P.vlan, tci: ((pcpDei ^ 0x5) << 12) | inner },
];

function run(frame: Buffer, want: 'tx' | 'drop' | 'pass', what: string): Buffer {
  const r = fixture().run(frame);
  const action = want === 'tx' ? XDP_ACTION.TX : want === 'drop' ? XDP_ACTION.DROP : XDP_ACTION.PASS;
  assert.equal(r.retval, action, `${what}: verdict`);
  if (want !== 'tx') assertBytes(r.data, frame, `${what}: output equals input`);
  return r.data;
}

describe('VLAN: balanced tagged frames', () => {
  it('one tag, v4 TCP: the SYN by the ring, the ACK by the LRU; tag kept, the VLAN\'s own MAC; every counter', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const vip = VIPS.tcp;
    fx.fillRing(vip.vipNum, 0);
    const flow = { src: C1, sport: 41000, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 1);
    const syn = withVlanTags(flowFrame({ ...flow, dst: vip.address, flags: 'S', tos: 0x28 }), one(573));
    let b = take(fx);
    let v = vlanCounters(vt, VL.kept);
    assertBytes(run(syn, 'tx', 'tagged SYN'), expectedTaggedEncap(syn, [573], MAC_573, REALS[1], C1, 41000), 'tagged SYN');
    const inner = pktBytes(withVlanTagsRemoved(syn));
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0] },
      vips: { [vip.vipNum]: [1, inner] },
      reals: { 1: [1, inner] },
    }, 'tagged SYN counters');
    assertVlanDelta(v, vlanCounters(vt, VL.kept), { in: [1, syn.length], balanced: [1, syn.length] }, 'tagged SYN');
    assert.deepEqual(fx.lruEntry({ ...flow, dst: vip.address }, 0), { pos: 1, atime: 0n }, 'the LRU key has no tag');

    fx.setSlot(vip.vipNum, pos, 2);
    const ack = withVlanTags(flowFrame({ ...flow, dst: vip.address, flags: 'A', payloadLen: 100 }), one(573, 0xb));
    b = take(fx);
    v = vlanCounters(vt, VL.kept);
    assertBytes(run(ack, 'tx', 'tagged ACK'), expectedTaggedEncap(ack, [573], MAC_573, REALS[1], C1, 41000), 'tagged ACK (LRU)');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', ack.length), lru: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(withVlanTagsRemoved(ack))] },
      reals: { 1: [1, pktBytes(withVlanTagsRemoved(ack))] },
    }, 'tagged ACK counters');
    assertVlanDelta(v, vlanCounters(vt, VL.kept), { in: [1, ack.length], balanced: [1, ack.length] }, 'tagged ACK');
  });

  it('the tag is not part of the flow: an untagged SYN and a tagged ACK of one flow meet in the LRU; the ring position is the untagged one', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    vlanTable(fx);
    const vip = VIPS.tcp;
    fx.fillRing(vip.vipNum, 0);
    const flow = { src: C1, sport: 41001, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 4);
    assert.equal(run(flowFrame({ ...flow, dst: vip.address, flags: 'S' }), 'tx', 'untagged SYN').length > 0, true);
    fx.setSlot(vip.vipNum, pos, 6);
    const ack = withVlanTags(flowFrame({ ...flow, dst: vip.address }), one(100));
    assertBytes(run(ack, 'tx', 'tagged ACK'), expectedTaggedEncap(ack, [574], GW_MAC, REALS[4], C1, 41001), 'tagged ACK follows the untagged SYN\'s LRU entry');
    // A new flow tagged: the slot Katran's hash (no tag in it) gives.
    const f2 = { src: C1, sport: 41002, dport: 80, proto: 'tcp' as const };
    fx.routeFlow(f2, vip, 7);
    const syn2 = withVlanTags(flowFrame({ ...f2, dst: vip.address, flags: 'S' }), two(30, 40));
    assertBytes(run(syn2, 'tx', 'double-tagged SYN'), expectedTaggedEncap(syn2, [31, 41], GW_MAC, REALS[7], C1, 41002), 'double-tagged SYN by the ring');
  });

  it('tag rewritten (100 in, 574 out) with the default MAC, PCP and DEI kept: v4 UDP, v6 TCP / UDP, v4 client to a v6 real', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const cases = [
      { vip: VIPS.udp, flow: { src: C1, sport: 5300, dport: 53, proto: 'udp' as const }, real: 2 },
      { vip: VIPS.v6tcp, flow: { src: C6, sport: 5301, dport: 443, proto: 'tcp' as const }, real: 3 },
      { vip: VIPS.v6udp, flow: { src: C6, sport: 5302, dport: 4500, proto: 'udp' as const }, real: 5 },
      { vip: VIPS.v4ToV6, flow: { src: C1, sport: 5303, dport: 80, proto: 'tcp' as const }, real: 5 },
    ];
    for (const [i, c] of cases.entries()) {
      fx.fillRing(c.vip.vipNum, 0);
      fx.routeFlow(c.flow, c.vip, c.real);
      for (const pcpDei of [0x0, 0x7, 0x8, 0xf]) {
        const f = withVlanTags(flowFrame({ ...c.flow, dst: c.vip.address, flags: 'S', tos: 0x10 + i, payloadLen: 30 }), one(100, pcpDei));
        const b = take(fx);
        const v = vlanCounters(vt, VL.rewritten);
        const out = run(f, 'tx', `${c.vip.address} PCP/DEI ${pcpDei}`);
        assertBytes(out, expectedTaggedEncap(f, [574], GW_MAC, REALS[c.real], c.flow.src, c.flow.sport), `${c.vip.address} PCP/DEI ${pcpDei}`);
        assert.equal(out.readUInt16BE(14) >> 12, pcpDei, 'PCP and DEI kept');
        assert.equal(out.readUInt16BE(14) & 0xfff, 574, 'egress VID');
        const d = take(fx);
        assert.equal(Number(d.reals.get(c.real)!.v1 - b.reals.get(c.real)!.v1), 1, 'per-real counter');
        assertVlanDelta(v, vlanCounters(vt, VL.rewritten), { in: [1, f.length], balanced: [1, f.length] }, `${c.vip.address}`);
      }
    }
    // Rewritten with a MAC of its own (200 in, 201 out).
    const f = withVlanTags(flowFrame({ src: C1, dst: VIPS.udp.address, sport: 5300, dport: 53, proto: 'udp', payloadLen: 30 }), one(200, 0x3));
    assertBytes(run(f, 'tx', 'VLAN 200'), expectedTaggedEncap(f, [201], MAC_201, REALS[2], C1, 5300), 'VLAN 200 -> 201 with its MAC');
  });

  it('802.1ad pairs (outer 0x88a8 or 0x8100, inner 0x8100): kept with their MAC and rewritten, v4 and v6, PCP / DEI of both tags kept', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const cases = [
      { vip: VIPS.tcp, flow: { src: C1, sport: 6001, dport: 80, proto: 'tcp' as const }, real: 1 },
      { vip: VIPS.v6udp, flow: { src: C6, sport: 6002, dport: 4500, proto: 'udp' as const }, real: 3 },
      { vip: VIPS.v6ToV4, flow: { src: C6, sport: 6003, dport: 80, proto: 'tcp' as const }, real: 0 },
    ];
    for (const c of cases) {
      fx.fillRing(c.vip.vipNum, 0);
      if (c.real) fx.routeFlow(c.flow, c.vip, c.real);
      for (const tpid of [ETH_P.qinq, ETH_P.vlan]) {
        for (const [key, egress, mac] of [[VL.qinqKept, [10, 20], MAC_QINQ], [VL.qinqRewritten, [31, 41], GW_MAC]] as const) {
          const f = withVlanTags(flowFrame({ ...c.flow, dst: c.vip.address, flags: 'S', payloadLen: 12 }), two(key.outer, key.inner, tpid, 0xa));
          const v = vlanCounters(vt, key);
          const what = `${c.vip.address} ${tpid.toString(16)} ${key.outer}.${key.inner}`;
          if (!c.real) {
            // An IPv6 client to an IPv4-only ring: no real, DROP, as untagged.
            run(f, 'drop', what);
            assertVlanDelta(v, vlanCounters(vt, key), { in: [1, f.length] }, what);
            continue;
          }
          const out = run(f, 'tx', what);
          assertBytes(out, expectedTaggedEncap(f, [...egress], mac, REALS[c.real], c.flow.src, c.flow.sport), what);
          assert.equal(out.readUInt16BE(12), tpid, 'outer TPID kept');
          assert.equal(out.readUInt16BE(16), ETH_P.vlan, 'inner TPID kept');
          assertVlanDelta(v, vlanCounters(vt, key), { in: [1, f.length], balanced: [1, f.length] }, what);
        }
      }
    }
  });

  it('port-0 VIP, NO_SPORT and DPORT_HASH on tagged frames: the same flow rewriting as untagged', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    vlanTable(fx);
    // NO_SPORT: sport leaves hash, LRU key and outer source.
    fx.fillRing(VIPS.noSport.vipNum, 0);
    fx.routeFlow({ src: C1, sport: 7001, dport: 80, proto: 'tcp' }, VIPS.noSport, 6);
    const ns = withVlanTags(flowFrame({ src: C1, dst: VIPS.noSport.address, sport: 7001, dport: 80, proto: 'tcp', flags: 'S' }), one(573));
    assertBytes(run(ns, 'tx', 'NO_SPORT'), expectedTaggedEncap(ns, [573], MAC_573, REALS[6], C1, 0), 'NO_SPORT tagged');
    assert.ok(fx.lruEntry({ src: C1, dst: VIPS.noSport.address, sport: 0, dport: 80, proto: 'tcp' }, 0), 'NO_SPORT LRU key');
    // Port-0 VIP: any dport; the flow forgets the dport.
    fx.fillRing(VIPS.port0.vipNum, 0);
    fx.routeFlow({ src: C1, sport: 7002, dport: 0, proto: 'tcp' }, VIPS.port0, 7);
    const p0 = withVlanTags(flowFrame({ src: C1, dst: VIPS.port0.address, sport: 7002, dport: 8443, proto: 'tcp', flags: 'S' }), two(10, 20));
    assertBytes(run(p0, 'tx', 'port-0 VIP'), expectedTaggedEncap(p0, [10, 20], MAC_QINQ, REALS[7], C1, 7002), 'port-0 VIP tagged');
    assert.ok(fx.lruEntry({ src: C1, dst: VIPS.port0.address, sport: 7002, dport: 0, proto: 'tcp' }, 0), 'port-0 LRU key');
    // DPORT_HASH: the ring by the dport only; the outer source from address 0 and the client's port.
    fx.fillRing(VIPS.dportHash.vipNum, 0);
    fx.routeFlow({ src: C1, sport: 7003, dport: 8080, proto: 'udp' }, VIPS.dportHash, 4);
    const dh = withVlanTags(flowFrame({ src: C1, dst: VIPS.dportHash.address, sport: 7003, dport: 8080, proto: 'udp' }), one(100));
    assertBytes(run(dh, 'tx', 'DPORT_HASH'), expectedTaggedEncap(dh, [574], GW_MAC, REALS[4], '0.0.0.0', 7003), 'DPORT_HASH tagged');
  });

  it('QUIC on a tagged frame: the connection id picks the real (server_id_map), the egress tag and MAC as for any flow', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const quic = { address: '192.0.2.45', port: 443, proto: 'udp' as const, flags: 4, vipNum: 45 };
    fx.addVip(quic);
    fx.fillRing(quic.vipNum, 0); // an empty ring: only the connection id can route
    assert.ok(fx.setServerId(1024, 2), 'server_id_map present');
    for (const [tags, egress, mac, key] of [[one(573), [573], MAC_573, VL.kept], [two(30, 40), [31, 41], GW_MAC, VL.qinqRewritten]] as const) {
      const f = withVlanTags(flowFrame({ src: C1, dst: quic.address, sport: 43000, dport: 443, proto: 'udp', payload: quicShort(cidFor(1, 1024), Buffer.alloc(24)) }), [...tags]);
      const v = vlanCounters(vt, key);
      assertBytes(run(f, 'tx', `QUIC ${key.outer}.${key.inner}`), expectedTaggedEncap(f, [...egress], mac, REALS[2], C1, 43000), `QUIC short header on ${key.outer}.${key.inner}`);
      assertVlanDelta(v, vlanCounters(vt, key), { in: [1, f.length], balanced: [1, f.length] }, 'QUIC');
    }
    fx.removeVip(quic);
  });

  it('ICMP on a balanced VLAN: echo answered in place keeping the received tag; errors go to their flow\'s real with the egress tag', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    // Echo v4 / v6: the reply goes back to the asker on its own VLAN (the received tag, not the egress one).
    const req4 = withVlanTags(echoRequestFrame({ src: C1, dst: VIPS.tcp.address, id: 0x1234, seq: 7, ttl: 50, ethSrc: '02:00:00:00:00:99' }), one(100, 0x9));
    const want4 = withVlanTags(ethernet({ dst: '02:00:00:00:00:99', src: LB_MAC }, ipv4({ src: VIPS.tcp.address, dst: C1, proto: PROTO.icmp, ttl: 64 },
      icmp4({ type: ICMP.echoReply, rest: (0x1234 << 16) | 7, body: pattern(32, 3) }))), one(100, 0x9));
    let b = take(fx);
    let v = vlanCounters(vt, VL.rewritten);
    assertBytes(run(req4, 'tx', 'tagged echo v4'), want4, 'tagged echo reply v4');
    assertDelta(b, take(fx), { globals: xdp('tx', req4.length) }, 'tagged echo v4 counters');
    assertVlanDelta(v, vlanCounters(vt, VL.rewritten), { in: [1, req4.length] }, 'echo is neither balanced nor passed');
    const req6 = withVlanTags(echoRequestFrame({ src: C6, dst: VIPS.v6tcp.address, id: 0xbeef, seq: 2, ttl: 33, ethSrc: '02:00:00:00:00:98' }), two(30, 40));
    const want6 = withVlanTags(ethernet({ dst: '02:00:00:00:00:98', src: LB_MAC, type: ETH_P.ipv6 }, ipv6({ src: VIPS.v6tcp.address, dst: C6, next: PROTO.icmp6, hopLimit: 64 },
      icmp6({ src: VIPS.v6tcp.address, dst: C6, type: ICMP6.echoReply, rest: (0xbeef << 16 | 2) >>> 0, body: pattern(32, 3) }))), two(30, 40));
    assertBytes(run(req6, 'tx', 'double-tagged echo v6'), want6, 'double-tagged echo reply v6');

    // Errors: v4 unreachable via the LRU (real 4), v6 too big by the ring (real 3).
    const vip = VIPS.tcp;
    fx.fillRing(vip.vipNum, 0);
    const flow = { src: C1, sport: 42001, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 4);
    run(withVlanTags(flowFrame({ ...flow, dst: vip.address, flags: 'S' }), one(573)), 'tx', 'SYN');
    fx.setSlot(vip.vipNum, pos, 2);
    const err = withVlanTags(icmpErrorFrame({ from: ROUTER, to: vip.address, original: replyPacket(vip.address, C1, 80, 42001, 'tcp') }), one(100, 0x2));
    b = take(fx);
    v = vlanCounters(vt, VL.rewritten);
    assertBytes(run(err, 'tx', 'tagged ICMP unreachable'), expectedTaggedEncap(err, [574], GW_MAC, REALS[4], C1, 42001), 'tagged ICMP unreachable to the flow\'s real');
    const ib = pktBytes(withVlanTagsRemoved(err));
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', err.length), lru: [1, 0], icmpPtbV4: [1, 0] },
      vips: { [vip.vipNum]: [1, ib] },
      reals: { 4: [1, ib] },
    }, 'tagged ICMP counters');
    assertVlanDelta(v, vlanCounters(vt, VL.rewritten), { in: [1, err.length], balanced: [1, err.length] }, 'tagged ICMP');

    const v6 = VIPS.v6tcp;
    fx.fillRing(v6.vipNum, 0);
    fx.routeFlow({ src: C6, sport: 42002, dport: 443, proto: 'tcp' }, v6, 3);
    const err6 = withVlanTags(icmpErrorFrame({ from: ROUTER6, to: v6.address, original: replyPacket(v6.address, C6, 443, 42002, 'tcp') }), two(10, 20));
    assertBytes(run(err6, 'tx', 'double-tagged ICMPv6 too big'), expectedTaggedEncap(err6, [10, 20], MAC_QINQ, REALS[3], C6, 42002), 'double-tagged ICMPv6 too big');
  });
});

/** The untagged frame of a tagged one (tags counted from the TPIDs). */
function withVlanTagsRemoved(f: Buffer): Buffer {
  let n = 0;
  while (n < 2 && (f.readUInt16BE(12 + 4 * n) === ETH_P.vlan || f.readUInt16BE(12 + 4 * n) === ETH_P.qinq)) n++;
  return Buffer.concat([f.subarray(0, 12), f.subarray(12 + 4 * n)]);
}

describe('VLAN: PASS, DROP and the size limit', () => {
  it('passes untouched: an unconfigured VLAN (its VIP traffic counted, other traffic not), a VLAN that is not balanced, and every tag shape the feature does not parse', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const toVip = flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 8001, dport: 80, proto: 'tcp', flags: 'S' });
    const toVip6 = flowFrame({ src: C6, dst: VIPS.v6udp.address, sport: 8001, dport: 4500, proto: 'udp' });
    const toPort0 = flowFrame({ src: C1, dst: VIPS.port0.address, sport: 8001, dport: 9999, proto: 'tcp' });
    const notVip = flowFrame({ src: C1, dst: '192.0.2.99', sport: 8001, dport: 80, proto: 'tcp' });
    const echo = echoRequestFrame({ src: C1, dst: VIPS.tcp.address });
    // key 'pairs': the counters of every 802.1ad pair without an entry.
    const read = (key: { outer: number; inner: number } | 'pairs') => (key === 'pairs' ? vt.unparsedPairCounters() : vlanCounters(vt, key));
    const pass = (f: Buffer, key: { outer: number; inner: number } | 'pairs' | null, counted: boolean, what: string): void => {
      const b = take(fx);
      const v = key ? read(key) : null;
      run(f, 'pass', what);
      assertDelta(b, take(fx), { globals: xdp('pass', f.length) }, what);
      if (key) assertVlanDelta(v!, read(key), counted ? { in: [1, f.length], passed: [1, f.length] } : {}, what);
    };
    assert.equal(vt.allCounters().some((r) => r.vlan?.outer === 575), false, 'VLAN 575 had counted nothing before');
    pass(withVlanTags(toVip, one(575)), VL.unconfigured, true, 'unconfigured VLAN 575, v4 TCP to a VIP');
    assert.equal(vt.allCounters().some((r) => r.vlan?.outer === 575 && r.vlan.inner === 0), true, 'VLAN 575 is listed with counters');
    pass(withVlanTags(toVip6, one(575, 0xf)), VL.unconfigured, true, 'unconfigured VLAN 575, v6 UDP to a VIP');
    pass(withVlanTags(toPort0, one(575)), VL.unconfigured, true, 'unconfigured VLAN 575, to a port-0 VIP');
    pass(withVlanTags(notVip, one(575)), VL.unconfigured, false, 'unconfigured VLAN 575, not to a VIP');
    pass(withVlanTags(echo, one(575)), VL.unconfigured, false, 'unconfigured VLAN 575, echo (not answered)');
    pass(withVlanTags(toVip, two(10, 21)), 'pairs', true, 'unconfigured pair 10.21 to a VIP');
    assert.equal(vt.counters({ outer: 10, inner: 21 }), null, 'a pair without an entry has no counters of its own');
    pass(withVlanTags(notVip, two(10, 21)), 'pairs', false, 'unconfigured pair 10.21, not to a VIP');
    pass(withVlanTags(toVip, two(573, 0)), 'pairs', false, 'inner VID 0');
    pass(withVlanTags(toVip, one(600)), VL.notBalanced, true, 'VLAN 600: an entry that is not balanced');
    // IPv4 options and fragments on an unconfigured VLAN: no DROP rule applies, they pass.
    pass(withVlanTags(ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), one(575)),
      VL.unconfigured, true, 'unconfigured VLAN, IPv4 options to a VIP');
    pass(withVlanTags(ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), one(575)),
      VL.unconfigured, true, 'unconfigured VLAN, IPv4 fragment to a VIP');
    // Shapes the feature does not parse: never counted.
    const rows = vt.allCounters().length;
    pass(withVlanTags(toVip, [{ tpid: ETH_P.qinq, tci: 573 }]), null, false, '0x88a8 alone');
    pass(withVlanTags(toVip, [{ tpid: ETH_P.qinq, tci: 10 }, { tpid: ETH_P.qinq, tci: 20 }]), null, false, 'inner 0x88a8');
    pass(withVlanTags(toVip, [{ tci: 10 }, { tci: 20 }, { tci: 30 }]), null, false, 'three tags');
    pass(withVlanTags(ethernet({ type: ETH_P.arp }, pattern(28)), one(573)), null, false, 'ARP on VLAN 573');
    pass(withVlanTags(toVip, [{ tpid: 0x9100, tci: 573 }]), null, false, 'TPID 0x9100');
    assert.equal(vt.allCounters().length, rows, 'no counters created for shapes the feature does not parse');
    // A balanced VLAN's traffic that is not VIP traffic passes and counts as passed.
    for (const [f, what] of [[notVip, 'not to a VIP'], [ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: 47 }, pattern(24))), 'GRE to a VIP address']] as const) {
      const tagged = withVlanTags(f, one(573));
      pass(tagged, VL.kept, true, `VLAN 573, ${what}`);
    }
    pass(withVlanTags(ethernet({ type: ETH_P.arp }, pattern(28)), two(10, 20)), null, false, 'ARP on 10.20');
  });

  it('a balanced VLAN applies the DROP rules (counted in `in` only) and the size limit to the frame without its tags', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const drop = (f: Buffer, key: { outer: number; inner: number }, what: string): void => {
      const b = take(fx);
      const v = vlanCounters(vt, key);
      run(f, 'drop', what);
      assertDelta(b, take(fx), { globals: xdp('drop', f.length) }, what);
      assertVlanDelta(v, vlanCounters(vt, key), { in: [1, f.length] }, what);
    };
    drop(withVlanTags(ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), one(573)), VL.kept, 'IPv4 options');
    drop(withVlanTags(ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), two(10, 20)), VL.qinqKept, 'IPv4 fragment');

    fx.fillRing(VIPS.tcp.vipNum, 1);
    fx.fillRing(VIPS.v6tcp.vipNum, 3);
    // 1514 bytes untagged: balanced with one or two tags (1518 / 1522); one byte more: dropped.
    for (const [tags, key, egress, mac] of [[one(573), VL.kept, [573], MAC_573], [two(30, 40), VL.qinqRewritten, [31, 41], GW_MAC]] as const) {
      for (const [src, vip, real, hdr] of [[C1, VIPS.tcp, 1, 40], [C6, VIPS.v6tcp, 3, 60]] as const) {
        const max = withVlanTags(flowFrame({ src, dst: vip.address, sport: 8100, dport: vip.port, proto: 'tcp', payloadLen: 1514 - 14 - hdr }), [...tags]);
        assert.equal(max.length, 1514 + 4 * tags.length);
        assertBytes(run(max, 'tx', `${max.length}-byte tagged frame`), expectedTaggedEncap(max, [...egress], mac, REALS[real], src, 8100), `${max.length}-byte tagged frame`);
        const over = withVlanTags(flowFrame({ src, dst: vip.address, sport: 8100, dport: vip.port, proto: 'tcp', payloadLen: 1515 - 14 - hdr }), [...tags]);
        drop(over, key, `${over.length}-byte tagged frame`);
      }
    }
  });

  it('with an all-zero default MAC a VLAN without its own MAC drops (ZERO_MAC_DROP), one with its own forwards', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    fx.fillRing(VIPS.tcp.vipNum, 1);
    fx.setMac(null);
    try {
      const f = withVlanTags(flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 8200, dport: 80, proto: 'tcp', flags: 'S' }), one(100));
      const b = take(fx);
      const v = vlanCounters(vt, VL.rewritten);
      run(f, 'drop', 'VLAN 100 (default MAC) with a zero default MAC');
      const d = take(fx);
      assert.equal(Number(d.globals.zeroMac.v1 - b.globals.zeroMac.v1), 1, 'ZERO_MAC_DROP packets');
      assert.equal(Number(d.globals.zeroMac.v2 - b.globals.zeroMac.v2), f.length, 'ZERO_MAC_DROP bytes');
      assertVlanDelta(v, vlanCounters(vt, VL.rewritten), { in: [1, f.length] }, 'zero MAC drop');
      const g = withVlanTags(flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 8200, dport: 80, proto: 'tcp', flags: 'S' }), one(573));
      assertBytes(run(g, 'tx', 'VLAN 573 (own MAC) with a zero default MAC'), expectedTaggedEncap(g, [573], MAC_573, REALS[1], C1, 8200), 'own MAC');
    } finally {
      fx.setMac(GW_MAC);
    }
  });
});

/**
 * Verdict of a valid tagged frame cut to `len` bytes, from the rules: cut inside the tags or before
 * the inner ethertype: PASS. On an unconfigured VLAN everything passes. On a balanced VLAN the
 * untagged table with every offset moved by the tags: each header the path needs must be complete
 * (else DROP), then the frame's full verdict.
 */
interface TagCut { name: string; frame: Buffer; tagLen: number; needs: number[]; full: 'tx' | 'drop' | 'pass'; balanced: boolean }

function tagCutVerdict(c: TagCut, len: number): 'tx' | 'drop' | 'pass' {
  if (len < 14 + c.tagLen || !c.balanced) return 'pass';
  for (const end of c.needs) if (len < end + c.tagLen) return 'drop';
  return c.full;
}

describe('VLAN: truncated frames', () => {
  it('every tagged frame cut at every length from 14 bytes: verdict from the table, output = input unless TX, XDP and per-VLAN counters', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    fx.fillRing(VIPS.tcp.vipNum, 1);
    fx.fillRing(VIPS.udp.vipNum, 2);
    fx.fillRing(VIPS.v6tcp.vipNum, 3);
    fx.fillRing(VIPS.v6udp.vipNum, 5);
    const V4 = 14 + 20;
    const V6 = 14 + 40;
    const base = [
      { name: 'v4 TCP to VIP', frame: flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 9001, dport: 80, proto: 'tcp', payloadLen: 12 }), needs: [V4, V4 + 20], full: 'tx' as const },
      { name: 'v4 UDP to VIP', frame: flowFrame({ src: C1, dst: VIPS.udp.address, sport: 9001, dport: 53, proto: 'udp', payloadLen: 12 }), needs: [V4, V4 + 8], full: 'tx' as const },
      { name: 'v6 TCP to VIP', frame: flowFrame({ src: C6, dst: VIPS.v6tcp.address, sport: 9001, dport: 443, proto: 'tcp', payloadLen: 6 }), needs: [V6, V6 + 20], full: 'tx' as const },
      { name: 'v6 UDP to VIP', frame: flowFrame({ src: C6, dst: VIPS.v6udp.address, sport: 9001, dport: 4500, proto: 'udp', payloadLen: 6 }), needs: [V6, V6 + 8], full: 'tx' as const },
      { name: 'v4 TCP non-VIP', frame: flowFrame({ src: C1, dst: '192.0.2.99', sport: 9001, dport: 80, proto: 'tcp' }), needs: [V4, V4 + 20], full: 'pass' as const },
      { name: 'v4 echo', frame: echoRequestFrame({ src: C1, dst: VIPS.tcp.address }), needs: [V4, V4 + 8], full: 'tx' as const },
      { name: 'v6 echo', frame: echoRequestFrame({ src: C6, dst: VIPS.v6tcp.address }), needs: [V6, V6 + 8], full: 'tx' as const },
      { name: 'v4 unreachable (UDP)', frame: icmpErrorFrame({ from: ROUTER, to: VIPS.udp.address, original: replyPacket(VIPS.udp.address, C1, 53, 9002, 'udp') }), needs: [V4, V4 + 8, V4 + 28, V4 + 36], full: 'tx' as const },
      { name: 'v6 too big (TCP)', frame: icmpErrorFrame({ from: ROUTER6, to: VIPS.v6tcp.address, original: replyPacket(VIPS.v6tcp.address, C6, 443, 9002, 'tcp') }), needs: [V6, V6 + 8, V6 + 48, V6 + 68], full: 'tx' as const },
    ];
    const shapes = [
      { tags: one(573, 0x5), key: VL.kept, balanced: true },
      { tags: two(30, 40), key: VL.qinqRewritten, balanced: true },
      { tags: two(10, 20, ETH_P.vlan), key: VL.qinqKept, balanced: true },
      { tags: one(575), key: VL.unconfigured, balanced: false },
    ];
    let runs = 0;
    for (const s of shapes) {
      for (const b of base) {
        const c: TagCut = { ...b, frame: withVlanTags(b.frame, s.tags), tagLen: 4 * s.tags.length, balanced: s.balanced };
        for (let len = 14; len <= c.frame.length; len++) {
          const cut = Buffer.from(c.frame.subarray(0, len));
          const want = tagCutVerdict(c, len);
          const what = `${c.name} tagged ${s.key.outer}.${s.key.inner} cut to ${len} of ${c.frame.length}`;
          const g = take(fx).globals;
          const v = vlanCounters(vt, s.key);
          const out = run(cut, want, what);
          const g2 = take(fx).globals;
          const k = want === 'tx' ? 'xdpTx' : want === 'drop' ? 'xdpDrop' : 'xdpPass';
          assert.deepEqual([g2.xdpTotal.v1 - g.xdpTotal.v1, g2.xdpTotal.v2 - g.xdpTotal.v2, g2[k].v1 - g[k].v1, g2[k].v2 - g[k].v2],
            [1n, BigInt(len), 1n, BigInt(len)], `${what}: XDP counters`);
          const encap = want === 'tx' && !c.name.includes('echo');
          if (encap) {
            const grow = out.length - len;
            assert.ok(grow === 20 || grow === 40, `${what}: encapsulated`);
            for (let i = 0; i < s.tags.length; i++) {
              assert.equal(out.readUInt16BE(12 + 4 * i), s.tags[i].tpid, `${what}: TPID ${i} kept`);
              assert.equal(out.readUInt16BE(14 + 4 * i) >> 12, s.tags[i].tci >> 12, `${what}: PCP / DEI ${i} kept`);
            }
            assertBytes(out.subarray(14 + c.tagLen + grow), cut.subarray(14 + c.tagLen), `${what}: inner packet untouched`);
          }
          // Per-VLAN: a balanced VLAN counts every frame it parsed; an unconfigured one only VIP traffic it could see (IP header + ports).
          let exp: Record<string, [number, number]> = {};
          if (s.balanced && len >= 14 + c.tagLen) {
            exp = { in: [1, len] };
            if (want === 'pass') exp.passed = [1, len];
            if (encap) exp.balanced = [1, len];
          } else if (!s.balanced && c.full === 'tx' && !c.name.includes('echo') && !c.name.includes('unreach') && !c.name.includes('too big')) {
            const ipEnd = 14 + c.tagLen + (c.name.startsWith('v6') ? 40 : 20);
            if (len >= ipEnd + 4) exp = { in: [1, len], passed: [1, len] };
          }
          assertVlanDelta(v, vlanCounters(vt, s.key), exp, what);
          runs++;
        }
      }
    }
    assert.ok(runs > 1500, `ran ${runs} cuts`);
  });
});

describe('VLAN: the typed accessor', () => {
  it('writes, reads, lists and deletes entries; refuses bad input with one line and writes nothing', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vt = vlanTable(fx);
    const n = vt.list().length;
    assert.deepEqual(vt.get(VL.kept), { balance: true, egress: VL.kept, mac: parseMac(MAC_573) });
    assert.deepEqual(vt.get(VL.rewritten), { balance: true, egress: VL.rewrittenOut, mac: null });
    assert.equal(vt.get({ outer: 4000, inner: 0 }), null);
    const zero = { in: { packets: 0n, bytes: 0n }, balanced: { packets: 0n, bytes: 0n }, passed: { packets: 0n, bytes: 0n } };
    assert.deepEqual(vt.counters({ outer: 4000, inner: 0 }), zero, 'every one-tag VID has (zero) counters');
    assert.equal(vt.counters({ outer: 7, inner: 8 }), null, 'a pair without an entry has none');
    for (const [k, e, re] of [
      [{ outer: 0, inner: 0 }, { balance: true, egress: { outer: 5, inner: 0 }, mac: null }, /ingress VLAN ID 0: expected a whole number from 1 to 4094/],
      [{ outer: 4095, inner: 0 }, { balance: true, egress: { outer: 5, inner: 0 }, mac: null }, /4095/],
      [{ outer: 5, inner: 0 }, { balance: true, egress: { outer: 5000, inner: 0 }, mac: null }, /egress VLAN ID 5000/],
      [{ outer: 5, inner: 0 }, { balance: true, egress: { outer: 5, inner: 6 }, mac: null }, /both be one tag/],
      [{ outer: 5, inner: 4095 }, { balance: true, egress: { outer: 5, inner: 6 }, mac: null }, /inner ID 4095/],
    ] as const) {
      assert.throws(() => vt.set(k, e), (err: Error) => err instanceof InputError && re.test(err.message) && !err.message.includes('\n'));
    }
    assert.equal(vt.list().length, n, 'nothing written');
    assert.equal(vt.allCounters().some((r) => r.vlan?.outer === 5), false, 'no counters written');
    vt.set({ outer: 4000, inner: 0 }, { balance: true, egress: { outer: 4001, inner: 0 }, mac: null });
    assert.deepEqual(vt.list().find((r) => r.vlan.outer === 4000)?.entry.egress, { outer: 4001, inner: 0 });
    assert.equal(vt.delete({ outer: 4000, inner: 0 }), true);
    assert.equal(vt.delete({ outer: 4000, inner: 0 }), false);
    assert.equal(vt.get({ outer: 4000, inner: 0 }), null);
    assert.equal(vt.list().length, n);

    // A pair's counter slot: counts, and a pair that later takes the freed slot starts at zero.
    vt.set({ outer: 7, inner: 8 }, { balance: true, egress: { outer: 7, inner: 8 }, mac: null });
    assert.deepEqual(vt.counters({ outer: 7, inner: 8 }), zero);
    fx.fillRing(VIPS.tcp.vipNum, 1);
    run(withVlanTags(flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 9100, dport: 80, proto: 'tcp' }), two(7, 8)), 'tx', 'pair 7.8');
    assert.equal(vt.counters({ outer: 7, inner: 8 })!.balanced.packets, 1n);
    assert.ok(vt.allCounters().some((r) => r.vlan?.outer === 7 && r.vlan.inner === 8), 'pair 7.8 listed with counters');
    assert.equal(vt.delete({ outer: 7, inner: 8 }), true);
    vt.set({ outer: 7, inner: 9 }, { balance: true, egress: { outer: 7, inner: 9 }, mac: null });
    assert.deepEqual(vt.counters({ outer: 7, inner: 9 }), zero, 'a new pair starts at zero');
    vt.delete({ outer: 7, inner: 9 });
    assert.ok(vt.allCounters().some((r) => r.vlan?.outer === 573 && r.counters.in.packets > 0n), 'VLAN 573 has counted');
  });
});
