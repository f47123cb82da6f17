// Drop and pass reasons (bpf/reasons.h, kt_reasons): a crafted frame for every reason moves that
// reason by exactly one packet and the frame's bytes, and no other reason; XDP_TX moves none.
// Untagged frames and tagged frames on a balanced VLAN (same reasons after the tags), and the
// frames of VLANs the balancer does not balance. The fuzz corpus checks the sums (fuzz.test.ts).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError, ERRNO, XDP_ACTION } from '../../src/dataplane/kernel/libbpf.js';
import { DROP_REASONS, PASS_REASONS, VIP_FLAGS } from '../../src/dataplane/abi.js';
import { REASON_ADVICE } from '../../src/dataplane/rules.js';
import { requireBpf } from '../helpers/env.js';
import {
  ETH_P, ICMP, PROTO, echoRequestFrame, ethernet, flowFrame, icmp4, icmp6, icmpErrorFrame, ipv4, ipv6, ipv6Fragment, pattern, tcp,
  withVlanTags,
} from '../helpers/packets.js';
import { cidFor, quicShort } from '../helpers/quic.js';
import type { BalancerFixture, VipSpec } from '../helpers/balancer-fixture.js';
import { GW_MAC, VIPS, closeFixture, fixture, replyPacket } from './balancer-common.js';
import { VL, vlanTable } from './vlan-common.js';
import { readReasons, reasonDelta, type ReasonCounts } from './reasons-common.js';

const BPF_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bpf');
const C1 = '203.0.113.60';
const C6 = '2001:db8:c::60';
const ROUTER = '203.0.113.254';
const ROUTER6 = '2001:db8:ff::1';
const QUIC_VIP: VipSpec = { address: '192.0.2.40', port: 443, proto: 'udp', flags: VIP_FLAGS.quic, vipNum: 40 };
const QUIC_ID_BEYOND_REALS = 91;

/**
 * No frame can make these in prog_test_run: it refuses frames under 14 bytes, metadata or not
 * (the test below shows it); it gives every frame 256 bytes of headroom, so bpf_xdp_adjust_head
 * never fails; `internal` is a lookup of a one-entry ARRAY at index 0.
 */
const NOT_CRAFTABLE = new Set(['drop.short_frame', 'drop.encap_failed', 'drop.internal']);

after(() => closeFixture());

let ready = false;
function rfx(): BalancerFixture {
  const fx = fixture();
  if (ready) return fx;
  vlanTable(fx);
  fx.addVip(QUIC_VIP);
  fx.setServerId(QUIC_ID_BEYOND_REALS, 5000);
  fx.fillRing(VIPS.tcp.vipNum, 1);
  ready = true;
  return fx;
}

function reasons(fx: BalancerFixture): ReasonCounts {
  return readReasons((i) => {
    const c = fx.reason(i);
    assert.ok(c, 'the balancer object has kt_reasons');
    return c;
  });
}

const tag = (vid: number): { tci: number }[] => [{ tci: vid }];

interface Case {
  reason: string;
  what: string;
  frame: () => Buffer;
  setup?: (fx: BalancerFixture) => void;
  teardown?: (fx: BalancerFixture) => void;
}

const seg4 = (dst: string, dport = 80): Buffer => tcp({ src: C1, dst, sport: 4000, dport, flags: 'S' });
const syn4 = (dst: string, dport = 80, o: { payloadLen?: number } = {}): Buffer =>
  flowFrame({ src: C1, dst, sport: 4001, dport, proto: 'tcp', flags: 'S', ...o });
const zeroMac = { setup: (fx: BalancerFixture) => fx.setMac(null), teardown: (fx: BalancerFixture) => fx.setMac(GW_MAC) };

const CASES: Case[] = [
  { reason: 'drop.ipv4_options', what: 'IPv4 with options to a VIP', frame: () => ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, seg4(VIPS.tcp.address))) },
  { reason: 'drop.ipv4_options', what: 'ICMP error quoting a header with options', frame: () => ethernet({}, ipv4({ src: ROUTER, dst: VIPS.tcp.address, proto: PROTO.icmp }, icmp4({ type: ICMP.destUnreach, code: 1, body: ipv4({ src: VIPS.tcp.address, dst: C1, proto: PROTO.tcp, options: Buffer.from([1, 1, 1, 0]) }, seg4(C1)) }))) },
  { reason: 'drop.ipv4_fragment', what: 'first fragment (MF)', frame: () => ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, seg4(VIPS.tcp.address))) },
  { reason: 'drop.ipv4_fragment', what: 'non-VIP fragment (offset)', frame: () => ethernet({}, ipv4({ src: C1, dst: '192.0.2.99', proto: PROTO.udp, fragOffset: 10 }, pattern(40))) },
  { reason: 'drop.ipv6_fragment', what: 'IPv6 fragment header', frame: () => ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: PROTO.frag6 }, Buffer.concat([ipv6Fragment({ next: PROTO.tcp, more: true }), tcp({ src: C6, dst: VIPS.v6tcp.address, sport: 5, dport: 443, flags: 'S' })]))) },
  { reason: 'drop.ip_header_cut', what: 'IPv4 header of 10 bytes', frame: () => ethernet({}, pattern(10)) },
  { reason: 'drop.ip_header_cut', what: 'IPv6 header of 30 bytes', frame: () => ethernet({ type: ETH_P.ipv6 }, Buffer.concat([Buffer.from([0x60]), pattern(29)])) },
  { reason: 'drop.ip_header_cut', what: 'ICMP error with its embedded IPv4 header cut', frame: () => icmpErrorFrame({ from: ROUTER, to: VIPS.tcp.address, original: replyPacket(VIPS.tcp.address, C1, 80, 4000, 'tcp'), quote: 12 }) },
  { reason: 'drop.ip_header_cut', what: 'ICMPv6 error with its embedded IPv6 header cut', frame: () => icmpErrorFrame({ from: ROUTER6, to: VIPS.v6tcp.address, original: replyPacket(VIPS.v6tcp.address, C6, 443, 4000, 'tcp'), quote: 30 }) },
  { reason: 'drop.l4_header_cut', what: 'TCP header cut to 10 bytes', frame: () => syn4(VIPS.tcp.address).subarray(0, 14 + 20 + 10) },
  { reason: 'drop.l4_header_cut', what: 'UDP header cut to 6 bytes, non-VIP, IPv6', frame: () => flowFrame({ src: C6, dst: '2001:db8::99', sport: 1, dport: 53, proto: 'udp' }).subarray(0, 14 + 40 + 6) },
  { reason: 'drop.l4_header_cut', what: 'ICMP header cut to 3 bytes', frame: () => ethernet({}, ipv4({ src: C1, dst: '192.0.2.99', proto: PROTO.icmp }, Buffer.from([8, 0, 0]))) },
  { reason: 'drop.l4_header_cut', what: 'ICMP error quoting 10 bytes of TCP', frame: () => icmpErrorFrame({ from: ROUTER, to: VIPS.tcp.address, original: replyPacket(VIPS.tcp.address, C1, 80, 4000, 'tcp'), quote: 30 }) },
  { reason: 'drop.too_big', what: '1515-byte VIP frame', frame: () => syn4(VIPS.tcp.address, 80, { payloadLen: 1515 - 54 }) },
  { reason: 'drop.slot_empty', what: 'VIP with an empty ring', frame: () => syn4(VIPS.empty.address) },
  {
    reason: 'drop.real_missing', what: 'ring slot naming an index beyond reals',
    setup: (fx) => fx.routeFlow({ src: C1, sport: 4001, dport: 80, proto: 'tcp' }, VIPS.badReal, 5000),
    frame: () => syn4(VIPS.badReal.address),
  },
  { reason: 'drop.zero_mac', what: 'default MAC all zero', ...zeroMac, frame: () => syn4(VIPS.tcp.address) },
  { reason: 'drop.quic_unknown_real', what: 'QUIC id mapped to a real index >= MAX_REALS', frame: () => flowFrame({ src: C1, dst: QUIC_VIP.address, sport: 4002, dport: 443, proto: 'udp', payload: quicShort(cidFor(1, QUIC_ID_BEYOND_REALS)) }) },

  { reason: 'pass.not_ip', what: 'ARP', frame: () => ethernet({ type: ETH_P.arp }, pattern(28)) },
  { reason: 'pass.not_ip', what: 'ARP tagged on a balanced VLAN', frame: () => withVlanTags(ethernet({ type: ETH_P.arp }, pattern(28)), tag(VL.kept.outer)) },
  { reason: 'pass.vlan_unparsed', what: 'VIP frame on a VLAN without an entry', frame: () => withVlanTags(syn4(VIPS.tcp.address), tag(VL.unconfigured.outer)) },
  { reason: 'pass.vlan_unparsed', what: 'VIP frame on a VLAN that is not balanced', frame: () => withVlanTags(syn4(VIPS.tcp.address), tag(VL.notBalanced.outer)) },
  { reason: 'pass.vlan_unparsed', what: 'frame cut inside its tag', frame: () => withVlanTags(syn4(VIPS.tcp.address), tag(VL.kept.outer)).subarray(0, 16) },
  { reason: 'pass.vlan_unparsed', what: '802.1ad tag alone (no inner 802.1Q tag)', frame: () => withVlanTags(syn4(VIPS.tcp.address), [{ tpid: ETH_P.qinq, tci: VL.kept.outer }]) },
  { reason: 'pass.not_tcp_udp', what: 'GRE to a VIP address', frame: () => ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: 47 }, pattern(24))) },
  { reason: 'pass.not_tcp_udp', what: 'IPv6 hop-by-hop header before TCP', frame: () => ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: 0 }, Buffer.concat([Buffer.from([6, 0, 1, 4, 0, 0, 0, 0]), tcp({ src: C6, dst: VIPS.v6tcp.address, sport: 5, dport: 443, flags: 'S' })]))) },
  { reason: 'pass.icmp_other', what: 'ICMP time exceeded', frame: () => ethernet({}, ipv4({ src: ROUTER, dst: '192.0.2.99', proto: PROTO.icmp }, icmp4({ type: ICMP.timeExceeded, body: pattern(28) }))) },
  { reason: 'pass.icmp_other', what: 'ICMPv6 neighbour solicitation', frame: () => ethernet({ type: ETH_P.ipv6 }, ipv6({ src: C6, dst: VIPS.v6tcp.address, next: PROTO.icmp6 }, icmp6({ src: C6, dst: VIPS.v6tcp.address, type: 135, body: pattern(16) }))) },
  { reason: 'pass.icmp_other', what: 'ICMP error about a flow of no VIP', frame: () => icmpErrorFrame({ from: ROUTER, to: '192.0.2.99', original: replyPacket('192.0.2.99', C1, 80, 4000, 'tcp') }) },
  { reason: 'pass.icmp_other', what: 'ICMP error about a GRE packet', frame: () => icmpErrorFrame({ from: ROUTER, to: VIPS.tcp.address, original: ipv4({ src: VIPS.tcp.address, dst: C1, proto: 47 }, pattern(24)) }) },
  { reason: 'pass.no_vip', what: 'TCP to no VIP', frame: () => syn4('192.0.2.99') },
  { reason: 'pass.no_vip', what: 'UDP to a VIP address, other port, IPv6', frame: () => flowFrame({ src: C6, dst: VIPS.v6udp.address, sport: 7, dport: 4501, proto: 'udp' }) },

  // Tagged frames on a balanced VLAN take the untagged path after their tags.
  { reason: 'pass.no_vip', what: 'tagged on a balanced VLAN, to no VIP', frame: () => withVlanTags(syn4('192.0.2.99'), tag(VL.kept.outer)) },
  { reason: 'drop.slot_empty', what: 'tagged on a balanced VLAN, VIP with an empty ring', frame: () => withVlanTags(syn4(VIPS.empty.address), tag(VL.kept.outer)) },
  { reason: 'drop.ipv4_fragment', what: 'tagged (802.1ad pair) fragment', frame: () => withVlanTags(ethernet({}, ipv4({ src: C1, dst: VIPS.tcp.address, proto: PROTO.tcp, mf: true }, seg4(VIPS.tcp.address))), [{ tpid: ETH_P.qinq, tci: VL.qinqKept.outer }, { tci: VL.qinqKept.inner }]) },
  { reason: 'drop.too_big', what: 'tagged VIP frame of 1515 bytes without its tag', frame: () => withVlanTags(syn4(VIPS.tcp.address, 80, { payloadLen: 1515 - 54 }), tag(VL.kept.outer)) },
  { reason: 'drop.zero_mac', what: 'tagged on a VLAN without its own MAC, default MAC all zero', ...zeroMac, frame: () => withVlanTags(syn4(VIPS.tcp.address), tag(VL.rewritten.outer)) },
];

describe('drop and pass reasons (kt_reasons)', () => {
  it('every reason has a name, an advice line and, unless no frame can make it, a crafted frame below', () => {
    const all = [...DROP_REASONS.map((r) => `drop.${r}`), ...PASS_REASONS.map((r) => `pass.${r}`)];
    for (const r of [...DROP_REASONS, ...PASS_REASONS]) assert.ok(REASON_ADVICE[r]?.advice, `advice for ${r}`);
    const covered = new Set(CASES.map((c) => c.reason));
    assert.deepEqual(all.filter((r) => !covered.has(r) && !NOT_CRAFTABLE.has(r)), [], 'reasons without a frame');
    assert.deepEqual([...covered].filter((r) => !all.includes(r)), [], 'cases naming no reason');
  });

  it('bpf/reasons.h mirrors abi.ts: every index and the pass base', () => {
    const h = readFileSync(join(BPF_DIR, 'reasons.h'), 'utf8');
    const def = (name: string): string | undefined => h.match(new RegExp(`^#define ${name} (.+?)\\s*(/\\*.*)?$`, 'm'))?.[1];
    assert.equal(def('KT_PASS_BASE'), '32');
    DROP_REASONS.forEach((r, i) => assert.equal(def(`KT_DROP_${r.toUpperCase()}`), String(i), `KT_DROP_${r.toUpperCase()}`));
    PASS_REASONS.forEach((r, i) => assert.equal(def(`KT_PASS_${r.toUpperCase()}`), `(KT_PASS_BASE + ${i})`, `KT_PASS_${r.toUpperCase()}`));
  });

  it('no step of the balancer returns a bare XDP_DROP / XDP_PASS (each carries its reason)', () => {
    for (const f of ['balancer.bpf.c', 'parse.h', 'icmp.h', 'quic.h', 'select.h', 'encap.h', 'vlan.h', 'down_reals.h']) {
      const src = readFileSync(join(BPF_DIR, f), 'utf8');
      assert.doesNotMatch(src, /return\s+XDP_(DROP|PASS)\s*;/, `${f}: a verdict without a reason`);
    }
  });

  for (const c of CASES) {
    it(`${c.reason}: ${c.what}`, async (t) => {
      if (!(await requireBpf(t))) return;
      const fx = rfx();
      c.setup?.(fx);
      try {
        const frame = c.frame();
        const b = reasons(fx);
        const r = fx.run(frame);
        assert.equal(r.retval, c.reason.startsWith('drop.') ? XDP_ACTION.DROP : XDP_ACTION.PASS, 'verdict');
        assert.deepEqual(r.data, frame, 'DROP and PASS leave the frame as it was');
        assert.deepEqual(reasonDelta(b, reasons(fx)), { [c.reason]: [1, frame.length] }, 'exactly this reason moved, by one packet and the frame bytes');
      } finally {
        c.teardown?.(fx);
      }
    });
  }

  it('short_frame has no crafted frame: prog_test_run refuses a frame under 14 bytes, even after 4 bytes of metadata', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = rfx();
    const md = Buffer.alloc(24); // struct xdp_md: data (= metadata length) @0, data_end @4
    md.writeUInt32LE(4, 0);
    md.writeUInt32LE(16, 4);
    assert.throws(() => fx.runner.run(Buffer.alloc(16), 1, md), (e) => e instanceof BpfError && e.errno === ERRNO.EINVAL);
  });

  it('XDP_TX moves no reason: a forwarded SYN, a tagged one, an echo reply', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = rfx();
    for (const f of [syn4(VIPS.tcp.address), withVlanTags(syn4(VIPS.tcp.address), tag(VL.kept.outer)), echoRequestFrame({ src: C1, dst: '192.0.2.99' })]) {
      const b = reasons(fx);
      assert.equal(fx.run(f).retval, XDP_ACTION.TX);
      assert.deepEqual(reasonDelta(b, reasons(fx)), {});
    }
  });
});
