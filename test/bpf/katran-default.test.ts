// The rest of Katran's default build through prog_test_run (docs/abi.md): the echo
// checksum byte rule over all 65536 inputs (v4 and v6), offsets 12 / 13 (ICMP too big / frag
// needed), DPORT_HASH outer sources, encapsulation across families, and down reals with UDP flow
// migration (offset 15). Expected bytes and counters are computed here from the facts, not by
// running the program. LRU-dependent sequences run in order on one program, the process pinned
// to CPU 0 (the only CPU with its own LRU in lru_mapping).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE, XDP_ACTION, closeFd, mapCreate, mapInfo, mapUpdate, numPossibleCpus,
} from '../../src/dataplane/kernel/libbpf.js';
import { DEFAULTS, DOWN_REALS_INNER, MAP, OWN_VIP_FLAGS, VIP_FLAGS, kernelMapName, u32Key, vipDefinition } from '../../src/dataplane/abi.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { bundledObject, requireObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';
import { snapshot, type BalancerFixture, type VipSpec } from '../helpers/balancer-fixture.js';
import {
  ETH_P, ICMP, ICMP6, PROTO, echoRequestFrame, ethernet, flowFrame, icmp4, icmp6, icmpErrorFrame, ipipV4Source, ipipV6Source, ipv4, ipv6,
  parseEncap, pattern,
} from '../helpers/packets.js';
import {
  LB_MAC, REALS, REAL_IDX, assertBytes, assertDelta, closeFixture, expectedEncap, fixture, pktBytes, replyPacket, xdp, type ExpectedDelta,
} from './balancer-common.js';

const C1 = '203.0.113.70';
const C6 = '2001:db8:c::70';
const ROUTER = '203.0.113.254';
const ROUTER6 = '2001:db8:ff::1';

const D4: VipSpec = { address: '192.0.2.50', port: 8080, proto: 'udp', flags: 8, vipNum: 50 };
const D4_NO_SPORT: VipSpec = { address: '192.0.2.51', port: 8080, proto: 'udp', flags: 8 | 1, vipNum: 51 };
const D6: VipSpec = { address: '2001:db8::50', port: 8080, proto: 'udp', flags: 8, vipNum: 52 };
const D6_NO_SPORT: VipSpec = { address: '2001:db8::51', port: 8080, proto: 'udp', flags: 8 | 1, vipNum: 53 };
const X4: VipSpec = { address: '192.0.2.52', port: 80, proto: 'tcp', vipNum: 54 };
const X6: VipSpec = { address: '2001:db8::52', port: 80, proto: 'tcp', vipNum: 55 };
const M4: VipSpec = { address: '192.0.2.60', port: 5000, proto: 'udp', flags: 512, vipNum: 60 };
const M0: VipSpec = { address: '192.0.2.61', port: 0, proto: 'udp', flags: 512, vipNum: 61 };
const MT: VipSpec = { address: '192.0.2.62', port: 80, proto: 'tcp', flags: 512, vipNum: 62 };
const MN: VipSpec = { address: '192.0.2.63', port: 5000, proto: 'udp', flags: 0, vipNum: 63 };
const MINE = [D4, D4_NO_SPORT, D6, D6_NO_SPORT, X4, X6, M4, M0, MT, MN];
const UNCONFIGURED_REAL = 4000;

let ready = false;
function kfx(): BalancerFixture {
  const fx = fixture();
  if (ready) return fx;
  for (const v of MINE) {
    fx.addVip(v);
    fx.fillRing(v.vipNum, 0);
  }
  ready = true;
  return fx;
}

after(() => closeFixture());

const take = (fx: BalancerFixture) => snapshot(fx, MINE.map((v) => v.vipNum), [...REAL_IDX, UNCONFIGURED_REAL]);

function runTx(fx: BalancerFixture, frame: Buffer, want: Buffer, exp: ExpectedDelta, what: string): Buffer {
  const b = take(fx);
  const r = fx.run(frame);
  assert.equal(r.retval, XDP_ACTION.TX, `${what}: verdict`);
  assertBytes(r.data, want, what);
  assertDelta(b, take(fx), exp, what);
  return r.data;
}

function runUntouched(fx: BalancerFixture, frame: Buffer, v: 'pass' | 'drop', exp: ExpectedDelta, what: string): void {
  const b = take(fx);
  const r = fx.run(frame);
  assert.equal(r.retval, v === 'pass' ? XDP_ACTION.PASS : XDP_ACTION.DROP, `${what}: verdict`);
  assertBytes(r.data, frame, `${what}: output = input`);
  assertDelta(b, take(fx), exp, what);
}

/** This CPU's NEW_CONN_RATE window: v1 flows so far, starting now (bpf_ktime_get_ns and hrtime are CLOCK_MONOTONIC). */
function setRate(fx: BalancerFixture, flows: number): void {
  const ncpu = numPossibleCpus();
  const v = Buffer.alloc(16 * ncpu);
  const now = process.hrtime.bigint();
  for (let c = 0; c < ncpu; c++) {
    v.writeBigUInt64LE(BigInt(flows), c * 16);
    v.writeBigUInt64LE(now, c * 16 + 8);
  }
  mapUpdate(fx.fds[MAP.stats], u32Key(DEFAULTS.maxVips + 2), v);
}

// ---------------------------------------------------------------------------------------------

describe('maps of the default build', () => {
  it('server_id_map, quic_stats_map, server_id_stats, vip_to_down_reals_map (and its inner maps): Katran\'s names, types, sizes, flags; kt_vip_flags gains quic and udp-flow-migration', async (t) => {
    if (!(await requireBpf(t))) return;
    const lb = loadBalancer(requireObject(bundledObject('balancer')), { lruSize: numPossibleCpus() });
    try {
      const info = (name: string) => {
        const m = lb.maps.all.get(name);
        assert.ok(m, `map ${name}`);
        const i = mapInfo(m.fd);
        return { name: i.name, type: i.type, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, mapFlags: i.mapFlags };
      };
      assert.deepEqual(info(MAP.serverIds), { name: 'server_id_map', type: BPF_MAP_TYPE.ARRAY, keySize: 4, valueSize: 4, maxEntries: 0xfffffe, mapFlags: 0 });
      assert.deepEqual(info(MAP.quicStats), { name: 'quic_stats_map', type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 13 * 8, maxEntries: 1, mapFlags: 0 });
      assert.deepEqual(info(MAP.serverIdStats), { name: 'server_id_stats', type: BPF_MAP_TYPE.PERCPU_ARRAY, keySize: 4, valueSize: 16, maxEntries: 512, mapFlags: 0 });
      assert.deepEqual(info(MAP.downReals), {
        name: 'vip_to_down_rea', type: BPF_MAP_TYPE.HASH_OF_MAPS, keySize: 20, valueSize: 4, maxEntries: 512, mapFlags: BPF_F_NO_PREALLOC,
      });
      assert.equal(kernelMapName(MAP.downReals), 'vip_to_down_rea');
      assert.equal(info(MAP.vipFlagsMarker).maxEntries, 655);
      assert.equal(lb.vipFlagsSupported, OWN_VIP_FLAGS);
      assert.equal(OWN_VIP_FLAGS & VIP_FLAGS['quic'], VIP_FLAGS['quic']);
      assert.equal(OWN_VIP_FLAGS & VIP_FLAGS['udp-flow-migration'], VIP_FLAGS['udp-flow-migration']);
      // The inner maps userspace stores must have the template's shape: HASH u32 -> u8, MAX_REALS entries, NO_PREALLOC.
      const ok = lb.maps.all.get(MAP.downReals)!;
      const key = vipDefinition.encode({ address: '192.0.2.1', port: 53, proto: 'udp' });
      const good = mapCreate(BPF_MAP_TYPE.HASH, 'kt_t_down', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, DEFAULTS.maxReals, { flags: BPF_F_NO_PREALLOC });
      const bad = mapCreate(BPF_MAP_TYPE.HASH, 'kt_t_bad', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, DEFAULTS.maxReals);
      try {
        ok.update(key, u32Key(good));
        assert.throws(() => ok.update(key, u32Key(bad)), 'a preallocated inner map does not match the template');
      } finally {
        closeFd(good);
        closeFd(bad);
      }
    } finally {
      lb.close();
    }
  });
});

/** docs/abi.md's byte rule on the wire bytes c0 c1 of the ICMP checksum. */
function katranEcho(c0: number, c1: number, v6: boolean): [number, number] {
  if (!v6) {
    const n0 = c0 + 8;
    return n0 > 0xff ? [n0 & 0xff, (c1 + 1) & 0xff] : [n0, c1];
  }
  return c0 === 0 ? [0xff, (c1 - 1) & 0xff] : [c0 - 1, c1];
}

/** RFC 1624 eq. 3 for the type word changing from `from` to `to` (big-endian 16-bit values). */
function rfc1624(check: number, from: number, to: number): number {
  let sum = (~check & 0xffff) + (~from & 0xffff) + to;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

describe('ICMP echo: Katran\'s checksum byte rule', () => {
  for (const v6 of [false, true]) {
    it(`${v6 ? 'v6' : 'v4'}: every one of the 65536 checksum values gives Katran's bytes (a little-endian u16 ${v6 ? '- 1' : '+ 8'}), the rest of the reply byte-exact`, async (t) => {
      if (!(await requireBpf(t))) return;
      const fx = kfx();
      const dst = v6 ? '2001:db8::99' : '8.8.8.8';
      const src = v6 ? C6 : C1;
      const req = echoRequestFrame({ src, dst, id: 0x4321, seq: 9, ttl: 17, ethSrc: '02:00:00:00:00:77' });
      // The reply as docs/abi.md step 4 builds it; its checksum bytes are replaced per input below.
      const rest = ((0x4321 << 16) | 9) >>> 0;
      const want = v6
        ? ethernet({ dst: '02:00:00:00:00:77', src: LB_MAC, type: ETH_P.ipv6 }, ipv6({ src: dst, dst: src, next: PROTO.icmp6, hopLimit: 64 },
          icmp6({ src: dst, dst: src, type: ICMP6.echoReply, rest, body: pattern(32, 3) })))
        : ethernet({ dst: '02:00:00:00:00:77', src: LB_MAC }, ipv4({ src: dst, dst: src, proto: PROTO.icmp, ttl: 64 },
          icmp4({ type: ICMP.echoReply, rest, body: pattern(32, 3) })));
      const at = v6 ? 14 + 40 + 2 : 14 + 20 + 2;
      const [from, to] = v6 ? [ICMP6.echo << 8, ICMP6.echoReply << 8] : [ICMP.echo << 8, ICMP.echoReply << 8];
      const total0 = fx.global(16);
      const tx0 = fx.global(17);
      let differFromRfc = 0;
      for (let x = 0; x < 0x10000; x++) {
        const c0 = x >> 8;
        const c1 = x & 0xff;
        req[at] = c0;
        req[at + 1] = c1;
        const [e0, e1] = katranEcho(c0, c1, v6);
        want[at] = e0;
        want[at + 1] = e1;
        const r = fx.run(req);
        if (r.retval !== XDP_ACTION.TX || !r.data.equals(want)) {
          assert.fail(`checksum ${c0.toString(16).padStart(2, '0')} ${c1.toString(16).padStart(2, '0')}: verdict ${r.retval}\n actual:   ${r.data.toString('hex')}\n expected: ${want.toString('hex')}`);
        }
        if (((e0 << 8) | e1) !== rfc1624((c0 << 8) | c1, from, to)) differFromRfc++;
      }
      // docs/abi.md: 9 v4 inputs and 1 v6 input differ from RFC 1624 eq. 3.
      assert.equal(differFromRfc, v6 ? 1 : 9, 'inputs where the byte rule and RFC 1624 disagree');
      assert.deepEqual(katranEcho(0xff, 0xff, false), [0x07, 0x00], 'v4 FF FF gives 07 00 (the carry out of c1 is lost)');
      assert.deepEqual(katranEcho(0x00, 0x00, true), [0xff, 0xff], 'v6 00 00 gives FF FF');
      // Echo replies count only XDP_TOTAL and XDP_TX.
      assert.equal(fx.global(16).v1 - total0.v1, 0x10000n);
      assert.equal(fx.global(17).v1 - tx0.v1, 0x10000n);
    });
  }
});

describe('ICMP too big: offsets 12 (v6) and 13 (v4)', () => {
  it('v4 frag needed (3/4): v1 each, v2 MTU < 1280, any destination, before the VIP lookup, even with no embedded header', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    const other = '192.0.2.200'; // no VIP
    const orig = replyPacket(other, C1, 80, 4000, 'tcp');
    for (const [mtu, v2] of [[1279, 1], [1280, 0], [0, 1], [1500, 0]] as const) {
      const f = icmpErrorFrame({ from: ROUTER, to: other, original: orig, code: 4, mtu });
      runUntouched(fx, f, 'pass', { globals: { ...xdp('pass', f.length), icmpPtbV4: [1, v2] } }, `frag needed MTU ${mtu} to a non-VIP`);
    }
    for (const code of [0, 1, 3, 13]) {
      const f = icmpErrorFrame({ from: ROUTER, to: other, original: orig, code, mtu: 500 });
      runUntouched(fx, f, 'pass', { globals: xdp('pass', f.length) }, `unreachable code ${code}: not counted`);
    }
    // No embedded header at all: counted, then DROP.
    const bare = ethernet({}, ipv4({ src: ROUTER, dst: other, proto: PROTO.icmp }, icmp4({ type: 3, code: 4, rest: 1000 })));
    runUntouched(fx, bare, 'drop', { globals: { ...xdp('drop', bare.length), icmpPtbV4: [1, 1] } }, 'frag needed without an embedded header');
    // To a VIP but over MAX_PCKT_SIZE: counted before the size check's DROP.
    const big = icmpErrorFrame({ from: ROUTER, to: X4.address, original: Buffer.concat([replyPacket(X4.address, C1, 80, 4000, 'tcp'), Buffer.alloc(1500)]), code: 4, mtu: 1400 });
    assert.ok(big.length > DEFAULTS.maxPacketSize);
    runUntouched(fx, big, 'drop', { globals: { ...xdp('drop', big.length), icmpPtbV4: [1, 0] } }, 'oversized frag needed to a VIP');
    // Echo requests never count here.
    const echo = echoRequestFrame({ src: C1, dst: other });
    const b = take(fx);
    assert.equal(fx.run(echo).retval, XDP_ACTION.TX);
    assertDelta(b, take(fx), { globals: xdp('tx', echo.length) }, 'echo');
  });

  it('v6 packet too big (type 2, any code): v1 each, v2 MTU < 1280 (32-bit field); destination unreachable not counted', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    const other = '2001:db8::200';
    const orig = replyPacket(other, C6, 80, 4000, 'tcp');
    for (const [mtu, code, v2] of [[1279, 0, 1], [1280, 0, 0], [0x10000 + 100, 0, 0], [100, 7, 1]] as const) {
      const f = icmpErrorFrame({ from: ROUTER6, to: other, original: orig, v6Type: 'too-big', code, mtu });
      runUntouched(fx, f, 'pass', { globals: { ...xdp('pass', f.length), icmpPtbV6: [1, v2] } }, `too big MTU ${mtu} code ${code}`);
    }
    const un = icmpErrorFrame({ from: ROUTER6, to: other, original: orig, v6Type: 'unreach', code: 4 });
    runUntouched(fx, un, 'pass', { globals: xdp('pass', un.length) }, 'v6 unreachable: not counted');
    const bare = ethernet({ type: ETH_P.ipv6 }, ipv6({ src: ROUTER6, dst: other, next: PROTO.icmp6 },
      icmp6({ src: ROUTER6, dst: other, type: ICMP6.packetTooBig, rest: 1000 })));
    runUntouched(fx, bare, 'drop', { globals: { ...xdp('drop', bare.length), icmpPtbV6: [1, 1] } }, 'too big without an embedded header');
  });
});

describe('DPORT_HASH: outer sources', () => {
  const cases = [
    { vip: D4, real: 1, noSport: false, want: '172.16.64.156' },
    { vip: D4, real: 3, noSport: false, want: '100::9c40:0' },
    { vip: D4_NO_SPORT, real: 1, noSport: true, want: '172.16.0.0' },
    { vip: D4_NO_SPORT, real: 3, noSport: true, want: '100::' },
    { vip: D6, real: 5, noSport: false, want: '100::9c40:0' },
    { vip: D6, real: 2, noSport: false, want: '172.16.64.156' },
    { vip: D6_NO_SPORT, real: 5, noSport: true, want: '100::' },
    { vip: D6_NO_SPORT, real: 2, noSport: true, want: '172.16.0.0' },
  ];
  for (const c of cases) {
    it(`${c.vip.address.includes(':') ? 'v6' : 'v4'} VIP${c.noSport ? ' + NO_SPORT' : ''} to ${REALS[c.real]}: source ${c.want} (client port ${c.noSport ? 'dropped' : 'restored'}, address 0); LRU written under {0, dport}`, async (t) => {
      if (!(await requireBpf(t))) return;
      const fx = kfx();
      const v6 = c.vip.address.includes(':');
      const client = v6 ? C6 : C1;
      const zero = v6 ? '::' : '0.0.0.0';
      const sport = 40000;
      // Only the slot the dport-only hash gives is set: a hash of anything else would drop.
      const pos = fx.routeFlow({ src: client, sport, dport: 8080, proto: 'udp' }, c.vip, c.real);
      assert.equal(pos, fx.position({ src: v6 ? '2001:db8:c::1' : '203.0.113.1', sport: 1, dport: 8080, proto: 'udp' }, c.vip), 'only the dport is hashed');
      const f = flowFrame({ src: client, dst: c.vip.address, sport, dport: 8080, proto: 'udp', payloadLen: 24 });
      const exp: ExpectedDelta = {
        globals: { ...xdp('tx', f.length), lru: [1, 1] }, vips: { [c.vip.vipNum]: [1, pktBytes(f)] }, reals: { [c.real]: [1, pktBytes(f)] },
      };
      for (let i = 0; i < 2; i++) {
        // Every packet is hashed again (lru.v2 each time): the entry is written under a key no packet looks up.
        const out = runTx(fx, f, expectedEncap(f, REALS[c.real], zero, c.noSport ? 0 : sport), exp, `DPORT_HASH packet ${i + 1}`);
        const p = parseEncap(out);
        assert.equal(p.outer.ip.src, c.want);
      }
      const written = { src: zero, dst: c.vip.address, sport: 8080, dport: 8080, proto: 'udp' as const };
      assert.equal(fx.lruEntry(written, 0)?.pos, c.real, 'LRU entry under {0, sport = dport, dst, dport, proto}');
      const clientKey = { src: client, dst: c.vip.address, sport: c.noSport ? 0 : sport, dport: 8080, proto: 'udp' as const };
      assert.equal(fx.lruEntry(clientKey, 0), null, 'nothing under the client\'s flow');
      // The lookup uses the unmodified flow: an entry there (written before the flag was set, say) is a hit, and then nothing is rewritten.
      const other = c.real === 1 || c.real === 2 ? 4 : 5;
      const otherAddr = REALS[other];
      if (otherAddr.includes(':') === REALS[c.real].includes(':')) {
        fx.setLruEntry(clientKey, 0, other, process.hrtime.bigint());
        runTx(fx, f, expectedEncap(f, otherAddr, client, c.noSport ? 0 : sport), {
          globals: { ...xdp('tx', f.length), lru: [1, 0] }, vips: { [c.vip.vipNum]: [1, pktBytes(f)] }, reals: { [other]: [1, pktBytes(f)] },
        }, 'DPORT_HASH LRU hit under the client flow');
        fx.deleteLruEntry(clientKey, 0);
      }
      fx.deleteLruEntry(written, 0);
      fx.setSlot(c.vip.vipNum, pos, 0);
    });
  }
});

describe('encapsulation across families', () => {
  it('IPv4 VIP, IPv6 real: 40 more bytes, payload length = inner tot_len (padding kept after it), next header 4, src 100::(a^hi)(b^lo):cd', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    assert.equal(ipipV6Source('10.1.2.3', 40000), '100::9641:203', "Katran's example (checked on its object)");
    const client = '203.0.113.3';
    const pos = fx.routeFlow({ src: client, sport: 40000, dport: 80, proto: 'tcp' }, X4, 5);
    const f = Buffer.concat([flowFrame({ src: client, dst: X4.address, sport: 40000, dport: 80, proto: 'tcp', flags: 'S', tos: 0xa4, payloadLen: 0 }), Buffer.alloc(6, 0xee)]);
    const out = runTx(fx, f, expectedEncap(f, REALS[5], client, 40000), {
      globals: { ...xdp('tx', f.length), lru: [1, 1], lruMiss: [1, 0] }, vips: { [X4.vipNum]: [1, pktBytes(f)] }, reals: { 5: [1, pktBytes(f)] },
    }, 'v4 in v6 with padding');
    assert.equal(out.length, f.length + 40);
    const p = parseEncap(out);
    if (p.outer.family !== 6) assert.fail('outer IPv6');
    assert.equal(p.outer.ip.src, '100::5740:7103');
    assert.equal(p.outer.ip.payloadLen, 40, 'inner tot_len, not the padded length');
    assert.equal(p.outer.ip.tclass, 0xa4);
    assert.equal(p.outer.ip.next, 4);
    assertBytes(p.inner, f.subarray(14), 'the IPv4 packet and its padding unchanged');
    fx.setSlot(X4.vipNum, pos, 0);
  });

  it('IPv6 VIP, IPv4 real: IPIP, protocol 4, tot_len = payload_len + 20, TOS = traffic class, src 172.16.(s2^lo).(s3^hi); unconfigured index is 0.0.0.0', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    const client = '2001:db8:aabb::1';
    const pos = fx.routeFlow({ src: client, sport: 40000, dport: 80, proto: 'tcp' }, X6, 2);
    const f = Buffer.concat([flowFrame({ src: client, dst: X6.address, sport: 40000, dport: 80, proto: 'tcp', flags: 'S', tos: 0x88, payloadLen: 10 }), Buffer.alloc(4, 0xdd)]);
    const out = runTx(fx, f, expectedEncap(f, REALS[2], client, 40000), {
      globals: { ...xdp('tx', f.length), lru: [1, 1], lruMiss: [1, 0] }, vips: { [X6.vipNum]: [1, pktBytes(f)] }, reals: { 2: [1, pktBytes(f)] },
    }, 'v6 in IPIP');
    const p = parseEncap(out);
    if (p.outer.family !== 4) assert.fail('outer IPv4');
    assert.equal(p.outer.ip.src, '172.16.77.36', "Katran's example (checked on its object)");
    assert.equal(p.outer.ip.src, ipipV4Source(client, 40000));
    assert.equal(p.outer.ip.totLen, 30 + 20, 'payload_len + 20');
    assert.equal(p.outer.ip.tos, 0x88);
    assert.equal(p.outer.ip.id, 0);
    assert.equal(p.outer.ip.ttl, 64);
    assert.equal(p.outer.ip.proto, 4);
    assert.ok(p.outer.ip.checksumOk);
    // A ring slot naming an index inside reals that was never configured: an IPv4 real 0.0.0.0.
    fx.setSlot(X6.vipNum, pos, UNCONFIGURED_REAL);
    runTx(fx, f, expectedEncap(f, '0.0.0.0', client, 40000), {
      globals: { ...xdp('tx', f.length), lru: [1, 1], lruMiss: [1, 0] }, vips: { [X6.vipNum]: [1, pktBytes(f)] }, reals: { [UNCONFIGURED_REAL]: [1, pktBytes(f)] },
    }, 'v6 VIP to the unconfigured real 0.0.0.0');
    fx.setSlot(X6.vipNum, pos, 0);
  });
});

describe('down reals and UDP flow migration (offset 15)', () => {
  it('an LRU hit on a down real is dropped and re-hashed (the ring is unchanged: CH may pick it again); misses and other reals untouched', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    const sport = 6000;
    const key = { src: C1, dst: M4.address, sport, dport: 5000, proto: 'udp' as const };
    const pos = fx.routeFlow({ src: C1, sport, dport: 5000, proto: 'udp' }, M4, 2);
    const f = flowFrame({ src: C1, dst: M4.address, sport, dport: 5000, proto: 'udp' });
    const hit = (real: number): ExpectedDelta => ({
      globals: { ...xdp('tx', f.length), lru: [1, 0] }, vips: { [M4.vipNum]: [1, pktBytes(f)] }, reals: { [real]: [1, pktBytes(f)] },
    });
    const migrated = (real: number): ExpectedDelta => ({
      globals: { ...xdp('tx', f.length), lru: [1, 1], flowMigration: [1, 0] }, vips: { [M4.vipNum]: [1, pktBytes(f)] }, reals: { [real]: [1, pktBytes(f)] },
    });
    fx.setRealDown(M4, 7, true); // the VIP's inner map exists; real 1 is not in it
    try {
      fx.setLruEntry(key, 0, 1, process.hrtime.bigint());
      setRate(fx, 5);
      runTx(fx, f, expectedEncap(f, REALS[1], C1, sport), hit(1), 'hit on an up real');
      assert.equal(fx.globalOnCpu(2, 0).v1, 6n, 'the check ticks NEW_CONN_RATE once');

      fx.setRealDown(M4, 1, true);
      setRate(fx, 5);
      runTx(fx, f, expectedEncap(f, REALS[2], C1, sport), migrated(2), 'hit on a down real: re-hashed to real 2');
      assert.equal(fx.globalOnCpu(2, 0).v1, 7n, 'the check and CH tick once each');
      assert.equal(fx.lruEntry(key, 0)?.pos, 2, 'CH rewrote the LRU');
      runTx(fx, f, expectedEncap(f, REALS[2], C1, sport), hit(2), 'next packet: hit on real 2');

      // Real 2 down too, the ring still names it: dropped hit, CH picks real 2 again.
      fx.setRealDown(M4, 2, true);
      runTx(fx, f, expectedEncap(f, REALS[2], C1, sport), migrated(2), 'down real picked again by the unchanged ring');

      // A miss: the index checked is 0, not listed: CH as usual, even onto a down real.
      const s2 = 6001;
      const p2 = fx.routeFlow({ src: C1, sport: s2, dport: 5000, proto: 'udp' }, M4, 2);
      const g = flowFrame({ src: C1, dst: M4.address, sport: s2, dport: 5000, proto: 'udp' });
      runTx(fx, g, expectedEncap(g, REALS[2], C1, s2), {
        globals: { ...xdp('tx', g.length), lru: [1, 1] }, vips: { [M4.vipNum]: [1, pktBytes(g)] }, reals: { 2: [1, pktBytes(g)] },
      }, 'miss');
      // Index 0 listed: a miss counts too ("0 if none").
      fx.deleteLruEntry({ ...key, sport: s2 }, 0);
      fx.setRealDown(M4, 0, true);
      runTx(fx, g, expectedEncap(g, REALS[2], C1, s2), {
        globals: { ...xdp('tx', g.length), lru: [1, 1], flowMigration: [1, 0] }, vips: { [M4.vipNum]: [1, pktBytes(g)] }, reals: { 2: [1, pktBytes(g)] },
      }, 'miss with index 0 listed');
      fx.setRealDown(M4, 0, false);
      fx.setSlot(M4.vipNum, p2, 0);

      // Over MAX_CONN_RATE the check is skipped: the down real's hit stands.
      fx.setLruEntry(key, 0, 1, process.hrtime.bigint());
      setRate(fx, DEFAULTS.maxConnRate + 1);
      runTx(fx, f, expectedEncap(f, REALS[1], C1, sport), hit(1), 'over MAX_CONN_RATE: no check');
      setRate(fx, 0);
      // A real that came back up keeps its hits.
      fx.setRealDown(M4, 1, false);
      runTx(fx, f, expectedEncap(f, REALS[1], C1, sport), hit(1), 'real 1 up again');
    } finally {
      for (const r of [1, 2, 7]) fx.setRealDown(M4, r, false);
      fx.setSlot(M4.vipNum, pos, 0);
    }
  });

  it('consulted only for UDP to UDP_FLOW_MIGRATION VIPs, keyed by the VIP as matched (port 0 for a port-0 VIP)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = kfx();
    // Port-0 VIP: the key has port 0 and the LRU key dport 0.
    const p0 = fx.routeFlow({ src: C1, sport: 6100, dport: 7777, proto: 'udp' }, M0, 4);
    const f0 = flowFrame({ src: C1, dst: M0.address, sport: 6100, dport: 7777, proto: 'udp' });
    fx.setLruEntry({ src: C1, dst: M0.address, sport: 6100, dport: 0, proto: 'udp' }, 0, 1, process.hrtime.bigint());
    fx.setRealDown(M0, 1, true);
    // TCP VIP with the flag, and a UDP VIP without it: never consulted.
    const ack = flowFrame({ src: C1, dst: MT.address, sport: 6101, dport: 80, proto: 'tcp', flags: 'A' });
    fx.setLruEntry({ src: C1, dst: MT.address, sport: 6101, dport: 80, proto: 'tcp' }, 0, 1, 0n);
    fx.setRealDown(MT, 1, true);
    const u = flowFrame({ src: C1, dst: MN.address, sport: 6102, dport: 5000, proto: 'udp' });
    fx.setLruEntry({ src: C1, dst: MN.address, sport: 6102, dport: 5000, proto: 'udp' }, 0, 1, process.hrtime.bigint());
    fx.setRealDown(MN, 1, true);
    try {
      runTx(fx, f0, expectedEncap(f0, REALS[4], C1, 6100), {
        globals: { ...xdp('tx', f0.length), lru: [1, 1], flowMigration: [1, 0] }, vips: { [M0.vipNum]: [1, pktBytes(f0)] }, reals: { 4: [1, pktBytes(f0)] },
      }, 'port-0 VIP: down real found under port 0');
      runTx(fx, ack, expectedEncap(ack, REALS[1], C1, 6101), {
        globals: { ...xdp('tx', ack.length), lru: [1, 0] }, vips: { [MT.vipNum]: [1, pktBytes(ack)] }, reals: { 1: [1, pktBytes(ack)] },
      }, 'TCP: not consulted');
      runTx(fx, u, expectedEncap(u, REALS[1], C1, 6102), {
        globals: { ...xdp('tx', u.length), lru: [1, 0] }, vips: { [MN.vipNum]: [1, pktBytes(u)] }, reals: { 1: [1, pktBytes(u)] },
      }, 'no UDP_FLOW_MIGRATION flag: not consulted');
    } finally {
      fx.setRealDown(M0, 1, false);
      fx.setRealDown(MT, 1, false);
      fx.setRealDown(MN, 1, false);
      fx.setSlot(M0.vipNum, p0, 0);
    }
  });
});
