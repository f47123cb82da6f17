// The balancer's PASS / DROP rules, ICMP handling, drops with their counters, and every
// truncation of valid frames (expected verdicts from a table written from docs/abi.md, not
// from running the program).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XDP_ACTION } from '../../src/dataplane/kernel/libbpf.js';
import { requireBpf } from '../helpers/env.js';
import {
  ETH_P, ICMP, ICMP6, PROTO, echoRequestFrame, ethernet, flowFrame, icmp4, icmp6, icmpErrorFrame, ipv4, ipv6, ipv6Fragment,
  parseEncap, pattern, tcp, udp,
} from '../helpers/packets.js';
import { GLOBAL, type BalancerFixture } from '../helpers/balancer-fixture.js';
import {
  LB_MAC, REALS, VIPS, assertBytes, assertDelta, closeFixture, expectedEncap, fixture, pktBytes, replyPacket, take, xdp,
} from './balancer-common.js';

const C1 = '203.0.113.50';
const C6 = '2001:db8:c::50';
const ROUTER = '203.0.113.254';
const ROUTER6 = '2001:db8:ff::1';

after(() => closeFixture());

type Verdict = 'tx' | 'drop' | 'pass';
const ACTION: Record<Verdict, number> = { tx: XDP_ACTION.TX, drop: XDP_ACTION.DROP, pass: XDP_ACTION.PASS };

function runExpect(fx: BalancerFixture, frame: Buffer, v: Verdict, what: string): Buffer {
  const r = fx.run(frame);
  assert.equal(r.retval, ACTION[v], `${what}: verdict`);
  if (v !== 'tx') assertBytes(r.data, frame, `${what}: output equals input`);
  return r.data;
}

function onlyXdp(fx: BalancerFixture, frame: Buffer, v: Verdict, what: string): void {
  const b = take(fx);
  runExpect(fx, frame, v, what);
  assertDelta(b, take(fx), { globals: xdp(v, frame.length) }, what);
}

describe('balancer: PASS and DROP rules', () => {
  it('PASS: non-VIP destination, non-IP ethertype, 802.1Q-tagged frame to a VIP; output = input', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    onlyXdp(fx, flowFrame({ src: C1, dst: '192.0.2.99', sport: 1, dport: 80, proto: 'tcp', flags: 'S' }), 'pass', 'non-VIP address');
    onlyXdp(fx, flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 81, proto: 'tcp', flags: 'S' }), 'pass', 'VIP address, other port');
    onlyXdp(fx, flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80, proto: 'udp' }), 'pass', 'VIP address, other proto');
    onlyXdp(fx, flowFrame({ src: C6, dst: '2001:db8::99', sport: 1, dport: 443, proto: 'tcp' }), 'pass', 'non-VIP v6');
    onlyXdp(fx, ethernet({ type: ETH_P.arp }, pattern(28)), 'pass', 'ARP');
    onlyXdp(fx, ethernet({ type: 0x88cc }, pattern(46)), 'pass', 'LLDP');
    onlyXdp(fx, flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80, proto: 'tcp', flags: 'S', vlan: 100 }), 'pass', '802.1Q to a VIP');
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: 47 }, pattern(24))), 'pass', 'GRE to a VIP address');
    onlyXdp(fx, ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: 0 }, Buffer.concat([Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]), tcp({ src: C6, dst: VIPS.v6tcp.address, sport: 5, dport: 443, flags: 'S' })]))), 'pass', 'IPv6 hop-by-hop header before TCP');
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: '192.0.2.99', proto: PROTO.icmp }, icmp4({ type: ICMP.timeExceeded, body: pattern(28) }))), 'pass', 'ICMP time exceeded');
    onlyXdp(fx, flowFrame({ src: C1, dst: '192.0.2.99', sport: 1, dport: 80, proto: 'tcp', payloadLen: 1600 }), 'pass', 'oversized non-VIP frame');
  });

  it('DROP: IPv4 options, IPv4 fragments, IPv6 fragment header, oversized VIP frames', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const seg = tcp({ src: C1, dst: VIPS.tcp.address, sport: 2, dport: 80, flags: 'S' });
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, seg)), 'drop', 'IPv4 options');
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: '192.0.2.99', proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, seg)), 'drop', 'IPv4 options, non-VIP');
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, seg)), 'drop', 'first fragment (MF)');
    onlyXdp(fx, ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, fragOffset: 3 }, seg)), 'drop', 'last fragment (offset)');
    const v6seg = tcp({ src: C6, dst: VIPS.v6tcp.address, sport: 2, dport: 443, flags: 'S' });
    onlyXdp(fx, ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: PROTO.frag6 }, Buffer.concat([ipv6Fragment({ next: PROTO.tcp, more: true }), v6seg]))), 'drop', 'IPv6 fragment header');

    // DF alone is no fragment: forwarded.
    fx.fillRing(VIPS.tcp.vipNum, 1);
    const df = ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, df: true }, seg));
    assertBytes(runExpect(fx, df, 'tx', 'DF'), expectedEncap(df, REALS[1], C1, 2), 'DF set');

    // 1514 bytes is the largest VIP frame forwarded; 1515 is dropped before any VIP counter.
    const max = flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 3, dport: 80, proto: 'tcp', flags: 'S', payloadLen: 1514 - 54 });
    assert.equal(max.length, 1514);
    runExpect(fx, max, 'tx', '1514-byte VIP frame');
    const big = flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 3, dport: 80, proto: 'tcp', flags: 'S', payloadLen: 1515 - 54 });
    onlyXdp(fx, big, 'drop', '1515-byte VIP frame');
    const big6 = flowFrame({ src: C6, dst: VIPS.v6tcp.address, sport: 3, dport: 443, proto: 'tcp', flags: 'S', payloadLen: 1600 });
    onlyXdp(fx, big6, 'drop', 'oversized v6 VIP frame');
  });

  it('DROP with an all-zero default MAC, counted at stats[MAX_VIPS + 22] (an offset Katran never uses); forwarding resumes with a MAC', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    fx.fillRing(VIPS.tcp.vipNum, 1);
    fx.setMac(null);
    try {
      const syn = flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 9000, dport: 80, proto: 'tcp', flags: 'S' });
      const b = take(fx);
      runExpect(fx, syn, 'drop', 'zero MAC');
      assertDelta(b, take(fx), { globals: { ...xdp('drop', syn.length), lru: [1, 1], lruMiss: [1, 0], zeroMac: [1, syn.length] } }, 'zero MAC counters');
      assert.equal(GLOBAL.zeroMac, 22);
      // Non-VIP traffic and ICMP echo are not affected.
      onlyXdp(fx, flowFrame({ src: C1, dst: '192.0.2.99', sport: 1, dport: 80, proto: 'tcp' }), 'pass', 'non-VIP with zero MAC');
    } finally {
      fx.setMac('02:aa:bb:cc:dd:01');
    }
    const syn = flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 9000, dport: 80, proto: 'tcp', flags: 'S' });
    runExpect(fx, syn, 'tx', 'MAC set again');
  });

  it('DROP on an empty ring slot (CH_DROP.v2) and on a slot naming no real (CH_DROP.v1)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const syn = flowFrame({ src: C1, dst: VIPS.empty.address, sport: 1234, dport: 80, proto: 'tcp', flags: 'S' });
    let b = take(fx);
    runExpect(fx, syn, 'drop', 'empty ring');
    assertDelta(b, take(fx), { globals: { ...xdp('drop', syn.length), lru: [1, 0], lruMiss: [1, 0], chDrop: [0, 1] } }, 'empty ring counters');

    const flow = { src: C1, sport: 1234, dport: 80, proto: 'tcp' as const };
    fx.routeFlow(flow, VIPS.badReal, 5000); // beyond MAX_REALS: reals has no such index
    const ack = flowFrame({ ...flow, dst: VIPS.badReal.address, flags: 'A' });
    b = take(fx);
    runExpect(fx, ack, 'drop', 'no such real');
    assertDelta(b, take(fx), { globals: { ...xdp('drop', ack.length), lru: [1, 0], lruMiss: [0, 1], chDrop: [1, 0] } }, 'missing real counters');
  });

  it('an IPv6 client to an IPv4 real goes in IPIP (protocol 4, tot_len = payload_len + 20, source from address bytes 2-3), as Katran', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const flow = { src: C6, sport: 1000, dport: 80, proto: 'tcp' as const };
    fx.routeFlow(flow, VIPS.v6ToV4, 1);
    const syn = flowFrame({ ...flow, dst: VIPS.v6ToV4.address, flags: 'S', tos: 0x2c });
    const b = take(fx);
    const out = runExpect(fx, syn, 'tx', 'v6 to v4 real');
    assertBytes(out, expectedEncap(syn, REALS[1], C6, 1000), 'IPv6 in IPIP');
    const p = parseEncap(out);
    if (p.outer.family !== 4) assert.fail('outer header is IPv4');
    assert.equal(p.outer.ip.proto, 4);
    assert.equal(p.outer.ip.totLen, syn.length - 14 - 40 + 20, '40 short of the real length, as upstream');
    assert.equal(p.outer.ip.tos, 0x2c);
    assert.ok(p.outer.ip.checksumOk);
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0] },
      vips: { [VIPS.v6ToV4.vipNum]: [1, pktBytes(syn)] },
      reals: { 1: [1, pktBytes(syn)] },
    }, 'v6 in IPIP counters');
  });
});

describe('balancer: ICMP', () => {
  it('echo request v4 is answered in place, byte-exact (any destination)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    for (const dst of [VIPS.tcp.address, '192.0.2.200']) {
      const req = echoRequestFrame({ src: C1, dst, id: 0x1234, seq: 7, ttl: 50, ethSrc: '02:00:00:00:00:99' });
      const want = ethernet({ dst: '02:00:00:00:00:99', src: LB_MAC }, ipv4({ src: dst, dst: C1, proto: PROTO.icmp, ttl: 64 },
        icmp4({ type: ICMP.echoReply, rest: (0x1234 << 16) | 7, body: pattern(32, 3) })));
      const b = take(fx);
      assertBytes(runExpect(fx, req, 'tx', `echo to ${dst}`), want, `echo reply from ${dst}`);
      assertDelta(b, take(fx), { globals: xdp('tx', req.length) }, 'echo counters');
    }
  });

  it('echo request v4 with a bad IPv4 header checksum gets a correct one (the header is summed whole, as upstream does)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const dst = VIPS.tcp.address;
    const req = echoRequestFrame({ src: C1, dst, id: 0x1234, seq: 7, ttl: 50, ethSrc: '02:00:00:00:00:99' });
    req[24] ^= 0x5a; // IPv4 header checksum, high byte
    const want = ethernet({ dst: '02:00:00:00:00:99', src: LB_MAC }, ipv4({ src: dst, dst: C1, proto: PROTO.icmp, ttl: 64 },
      icmp4({ type: ICMP.echoReply, rest: (0x1234 << 16) | 7, body: pattern(32, 3) })));
    const b = take(fx);
    assertBytes(runExpect(fx, req, 'tx', 'echo with a bad header checksum'), want, 'echo reply with a correct header checksum');
    assertDelta(b, take(fx), { globals: xdp('tx', req.length) }, 'echo counters');
  });

  it('echo request v6 is answered in place, byte-exact', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const dst = VIPS.v6tcp.address;
    const req = echoRequestFrame({ src: C6, dst, id: 0xbeef, seq: 0x0102, ttl: 33, ethSrc: '02:00:00:00:00:98' });
    const want = ethernet({ dst: '02:00:00:00:00:98', src: LB_MAC, type: ETH_P.ipv6 }, ipv6({ src: dst, dst: C6, next: PROTO.icmp6, hopLimit: 64 },
      icmp6({ src: dst, dst: C6, type: ICMP6.echoReply, rest: (0xbeef << 16 | 0x0102) >>> 0, body: pattern(32, 3) })));
    const b = take(fx);
    assertBytes(runExpect(fx, req, 'tx', 'v6 echo'), want, 'v6 echo reply');
    assertDelta(b, take(fx), { globals: xdp('tx', req.length) }, 'v6 echo counters');
  });

  it('ICMP destination unreachable (v4) goes to the real of the flow it is about: via LRU and via the ring', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.tcp;
    fx.fillRing(vip.vipNum, 0);
    // A flow established through real 4 (LRU); then the ring moves it to real 2: the ICMP error follows the LRU.
    const flow = { src: C1, sport: 40001, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 4);
    fx.run(flowFrame({ ...flow, dst: vip.address, flags: 'S' }));
    fx.setSlot(vip.vipNum, pos, 2);
    const err = icmpErrorFrame({ from: ROUTER, to: vip.address, original: replyPacket(vip.address, C1, 80, 40001, 'tcp') });
    let b = take(fx);
    assertBytes(runExpect(fx, err, 'tx', 'ICMP unreachable (LRU)'), expectedEncap(err, REALS[4], C1, 40001), 'ICMP unreachable to the flow\'s real');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', err.length), lru: [1, 0], icmpPtbV4: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(err)] },
      reals: { 4: [1, pktBytes(err)] },
    }, 'ICMP via LRU counters');

    // The embedded header's SYN counts as the packet's: a quoted SYN-ACK skips the LRU (ring: real 2).
    const errSyn = icmpErrorFrame({ from: ROUTER, to: vip.address, original: replyPacket(vip.address, C1, 80, 40001, 'tcp', 'SA') });
    b = take(fx);
    assertBytes(runExpect(fx, errSyn, 'tx', 'ICMP about a SYN-ACK'), expectedEncap(errSyn, REALS[2], C1, 40001), 'ICMP about a SYN-ACK goes by the ring');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', errSyn.length), lru: [1, 1], lruMiss: [1, 0], icmpPtbV4: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(errSyn)] },
      reals: { 2: [1, pktBytes(errSyn)] },
    }, 'ICMP SYN counters');

    // A flow never seen: the ring slot of the original flow decides (UDP too).
    const f2 = { src: C1, sport: 40002, dport: 53, proto: 'udp' as const };
    fx.fillRing(VIPS.udp.vipNum, 0);
    fx.routeFlow(f2, VIPS.udp, 6);
    const err2 = icmpErrorFrame({ from: ROUTER, to: VIPS.udp.address, original: replyPacket(VIPS.udp.address, C1, 53, 40002, 'udp') });
    b = take(fx);
    assertBytes(runExpect(fx, err2, 'tx', 'ICMP unreachable (ring)'), expectedEncap(err2, REALS[6], C1, 40002), 'ICMP unreachable by the ring');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', err2.length), lru: [1, 1], icmpPtbV4: [1, 0] },
      vips: { [VIPS.udp.vipNum]: [1, pktBytes(err2)] },
      reals: { 6: [1, pktBytes(err2)] },
    }, 'ICMP via ring counters');

    // The embedded IPv4 header must be 20 bytes long.
    const bad = replyPacket(vip.address, C1, 80, 40001, 'tcp');
    const withOpts = ipv4({ src: vip.address, dst: C1, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, bad.subarray(20));
    // Frag needed (3/4) counts at offset 13 before the embedded header is looked at (MTU 1400: v1 only).
    const optsErr = icmpErrorFrame({ from: ROUTER, to: vip.address, original: withOpts });
    b = take(fx);
    runExpect(fx, optsErr, 'drop', 'embedded IPv4 header with options');
    assertDelta(b, take(fx), { globals: { ...xdp('drop', optsErr.length), icmpPtbV4: [1, 0] } }, 'embedded IPv4 header with options');
  });

  it('ICMPv6 packet too big and destination unreachable go to the real of their flow', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.v6tcp;
    fx.fillRing(vip.vipNum, 0);
    const flow = { src: C6, sport: 50001, dport: 443, proto: 'tcp' as const };
    fx.routeFlow(flow, vip, 3);
    for (const v6Type of ['too-big', 'unreach'] as const) {
      const err = icmpErrorFrame({ from: ROUTER6, to: vip.address, original: replyPacket(vip.address, C6, 443, 50001, 'tcp'), v6Type });
      const b = take(fx);
      assertBytes(runExpect(fx, err, 'tx', `ICMPv6 ${v6Type}`), expectedEncap(err, REALS[3], C6, 50001), `ICMPv6 ${v6Type}`);
      const d = take(fx);
      assert.equal(Number(d.globals.lruMiss.v2 - b.globals.lruMiss.v2) + Number(d.globals.lruMiss.v1 - b.globals.lruMiss.v1) <= 1, true);
      assert.equal(Number(d.reals.get(3)!.v1 - b.reals.get(3)!.v1), 1);
      assert.equal(Number(d.vips.get(vip.vipNum)!.v2 - b.vips.get(vip.vipNum)!.v2), pktBytes(err));
    }
    assert.equal(parseEncap(fx.run(icmpErrorFrame({ from: ROUTER6, to: vip.address, original: replyPacket(vip.address, C6, 443, 50001, 'tcp') })).data).outer.family, 6);
  });
});

/**
 * Verdict of a valid frame cut to `len` bytes, from docs/abi.md's packet path: each header the
 * path needs, in order, must be complete (else DROP); once all are there, the frame's full verdict.
 * `needs` lists the byte offsets where the needed headers end.
 */
interface CutCase { name: string; frame: Buffer; needs: number[]; full: Verdict; setup?: (fx: BalancerFixture) => void }

function cutVerdict(c: CutCase, len: number): Verdict {
  if (c.full === 'pass' && c.needs.length === 0) return 'pass';
  for (const end of c.needs) if (len < end) return 'drop';
  return c.full;
}

describe('balancer: truncated frames', () => {
  it('every valid frame cut at every length from 14 bytes: verdict from the table, PASS / DROP output = input, XDP counters', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    fx.fillRing(VIPS.tcp.vipNum, 1);
    fx.fillRing(VIPS.udp.vipNum, 2);
    fx.fillRing(VIPS.v6tcp.vipNum, 3);
    fx.fillRing(VIPS.v6udp.vipNum, 5);
    const E = 14;
    const V4 = E + 20;
    const V6 = E + 40;
    const cases: CutCase[] = [
      { name: 'v4 TCP to VIP', frame: flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 777, dport: 80, proto: 'tcp', flags: 'A', payloadLen: 24 }), needs: [V4, V4 + 20], full: 'tx' },
      { name: 'v4 TCP SYN to VIP', frame: flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 778, dport: 80, proto: 'tcp', flags: 'S' }), needs: [V4, V4 + 20], full: 'tx' },
      { name: 'v4 UDP to VIP', frame: flowFrame({ src: C1, dst: VIPS.udp.address, sport: 777, dport: 53, proto: 'udp', payloadLen: 20 }), needs: [V4, V4 + 8], full: 'tx' },
      { name: 'v6 TCP to VIP', frame: flowFrame({ src: C6, dst: VIPS.v6tcp.address, sport: 777, dport: 443, proto: 'tcp', flags: 'S', payloadLen: 10 }), needs: [V6, V6 + 20], full: 'tx' },
      { name: 'v6 UDP to VIP', frame: flowFrame({ src: C6, dst: VIPS.v6udp.address, sport: 777, dport: 4500, proto: 'udp', payloadLen: 10 }), needs: [V6, V6 + 8], full: 'tx' },
      { name: 'v4 TCP non-VIP', frame: flowFrame({ src: C1, dst: '192.0.2.99', sport: 777, dport: 80, proto: 'tcp', payloadLen: 8 }), needs: [V4, V4 + 20], full: 'pass' },
      { name: 'v6 UDP non-VIP', frame: flowFrame({ src: C6, dst: '2001:db8::99', sport: 777, dport: 53, proto: 'udp', payloadLen: 8 }), needs: [V6, V6 + 8], full: 'pass' },
      { name: 'ARP', frame: ethernet({ type: ETH_P.arp }, pattern(28)), needs: [], full: 'pass' },
      { name: '802.1Q TCP to VIP', frame: flowFrame({ src: C1, dst: VIPS.tcp.address, sport: 777, dport: 80, proto: 'tcp', vlan: 7 }), needs: [], full: 'pass' },
      { name: 'v4 GRE', frame: ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: 47 }, pattern(16))), needs: [V4], full: 'pass' },
      { name: 'v6 hop-by-hop', frame: ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: 0 }, pattern(16))), needs: [V6], full: 'pass' },
      { name: 'v4 options', frame: ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), needs: [Infinity], full: 'drop' },
      { name: 'v4 fragment', frame: ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, tcp({ src: C1, dst: VIPS.tcp.address, sport: 1, dport: 80 }))), needs: [Infinity], full: 'drop' },
      { name: 'v6 fragment', frame: ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: PROTO.frag6 }, Buffer.concat([ipv6Fragment({ next: PROTO.tcp }), pattern(20)]))), needs: [Infinity], full: 'drop' },
      { name: 'v4 echo', frame: echoRequestFrame({ src: C1, dst: VIPS.tcp.address }), needs: [V4, V4 + 8], full: 'tx' },
      { name: 'v6 echo', frame: echoRequestFrame({ src: C6, dst: VIPS.v6tcp.address }), needs: [V6, V6 + 8], full: 'tx' },
      { name: 'v4 time exceeded', frame: ethernet({}, ipv4({ src: ROUTER, dst: VIPS.tcp.address, proto: PROTO.icmp }, icmp4({ type: ICMP.timeExceeded, body: pattern(28) }))), needs: [V4, V4 + 8], full: 'pass' },
      { name: 'v4 unreachable (TCP)', frame: icmpErrorFrame({ from: ROUTER, to: VIPS.tcp.address, original: replyPacket(VIPS.tcp.address, C1, 80, 779, 'tcp') }), needs: [V4, V4 + 8, V4 + 28, V4 + 48], full: 'tx' },
      { name: 'v4 unreachable (UDP)', frame: icmpErrorFrame({ from: ROUTER, to: VIPS.udp.address, original: replyPacket(VIPS.udp.address, C1, 53, 779, 'udp') }), needs: [V4, V4 + 8, V4 + 28, V4 + 36], full: 'tx' },
      { name: 'v6 too big (TCP)', frame: icmpErrorFrame({ from: ROUTER6, to: VIPS.v6tcp.address, original: replyPacket(VIPS.v6tcp.address, C6, 443, 779, 'tcp') }), needs: [V6, V6 + 8, V6 + 48, V6 + 68], full: 'tx' },
      { name: 'v6 unreachable (UDP)', frame: icmpErrorFrame({ from: ROUTER6, to: VIPS.v6udp.address, original: replyPacket(VIPS.v6udp.address, C6, 4500, 779, 'udp'), v6Type: 'unreach' }), needs: [V6, V6 + 8, V6 + 48, V6 + 56], full: 'tx' },
    ];
    let runs = 0;
    for (const c of cases) {
      for (let len = 14; len <= c.frame.length; len++) {
        const cut = Buffer.from(c.frame.subarray(0, len));
        const want = cutVerdict(c, len);
        const tot = fx.global(GLOBAL.xdpTotal);
        const act = fx.global(want === 'tx' ? GLOBAL.xdpTx : want === 'drop' ? GLOBAL.xdpDrop : GLOBAL.xdpPass);
        const out = runExpect(fx, cut, want, `${c.name} cut to ${len} of ${c.frame.length}`);
        const tot2 = fx.global(GLOBAL.xdpTotal);
        const act2 = fx.global(want === 'tx' ? GLOBAL.xdpTx : want === 'drop' ? GLOBAL.xdpDrop : GLOBAL.xdpPass);
        assert.deepEqual([tot2.v1 - tot.v1, tot2.v2 - tot.v2, act2.v1 - act.v1, act2.v2 - act.v2], [1n, BigInt(len), 1n, BigInt(len)], `${c.name} cut to ${len}: XDP counters`);
        if (want === 'tx' && !c.name.includes('echo')) {
          const grow = out.length - len;
          assert.ok(grow === 20 || grow === 40, `${c.name} cut to ${len}: encapsulated`);
          assertBytes(out.subarray(14 + grow), cut.subarray(14), `${c.name} cut to ${len}: inner packet untouched`);
        }
        runs++;
      }
    }
    assert.ok(runs > 1000, `ran ${runs} cuts`);
  });

  it('XDP_TOTAL = TX + DROP + PASS, packets and bytes', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const s = take(fx).globals;
    assert.ok(s.xdpTotal.v1 > 0n);
    assert.equal(s.xdpTotal.v1, s.xdpTx.v1 + s.xdpDrop.v1 + s.xdpPass.v1);
    assert.equal(s.xdpTotal.v2, s.xdpTx.v2 + s.xdpDrop.v2 + s.xdpPass.v2);
    assert.equal(s.icmpTooBig.v1 + s.icmpTooBig.v2, 0n, 'the default build never moves ICMP_TOOBIG');
  });
});
