// QUIC connection-id routing through prog_test_run (docs/abi.md, packet path step 7): long and
// short headers, CID versions, the server_id_map outcomes, the LRU reconciliation and every
// counter, byte-exact. Expected ids come from the CID rules as the test writes them
// (test/helpers/quic.ts), expected frames from the encapsulation rules (docs/abi.md step 9).
//
// LRU-dependent sequences run in order on one program with the process pinned to CPU 0 (the only
// CPU given its own LRU in lru_mapping); the fallback_cache case removes CPU 0's LRU for its
// duration, as the existing fallback test does.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XDP_ACTION, mapDelete, mapUpdate, numPossibleCpus } from '../../src/dataplane/kernel/libbpf.js';
import { DEFAULTS, MAP, QUIC_STATS_FIELDS, quicHeader, u32Key, type QuicStatsField } from '../../src/dataplane/abi.js';
import { Rng } from '../helpers/fuzz.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { bundledObject, requireObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';
import { BalancerFixture, snapshot, type VipSpec } from '../helpers/balancer-fixture.js';
import { flowFrame, icmpErrorFrame, parseEncap } from '../helpers/packets.js';
import { cidFor, quicLong, quicShort } from '../helpers/quic.js';
import {
  REALS, REAL_IDX, assertBytes, assertDelta, closeFixture, expectedEncap, fixture, pktBytes, replyPacket, xdp, type ExpectedDelta,
} from './balancer-common.js';

const C4 = '203.0.113.60';
const C6 = '2001:db8:c::60';
const ROUTER = '203.0.113.254';
const ROUTER6 = '2001:db8:ff::1';
const QPORT = 443;

const Q4: VipSpec = { address: '192.0.2.40', port: QPORT, proto: 'udp', flags: 4, vipNum: 40 };
const Q6: VipSpec = { address: '2001:db8::40', port: QPORT, proto: 'udp', flags: 4, vipNum: 41 };
const Q4_NO_LRU: VipSpec = { address: '192.0.2.41', port: QPORT, proto: 'udp', flags: 4 | 2, vipNum: 42 };
const Q4_MIGRATE: VipSpec = { address: '192.0.2.42', port: QPORT, proto: 'udp', flags: 4 | 512, vipNum: 43 };
const PLAIN: VipSpec = { address: '192.0.2.43', port: QPORT, proto: 'udp', flags: 0, vipNum: 44 };
const QVIPS = [Q4, Q6, Q4_NO_LRU, Q4_MIGRATE, PLAIN];

/** server_id_map as the tests set it: id -> real index. */
const ID = {
  v1ToV4: 1024, // real 1
  v1ToV6: 2048, // real 3 (IPv6)
  v2: 0x012345, // real 2
  v3: 0x00abcdef, // real 4
  unmapped: 3000, // value 0
  beyondReals: 77, // real index 5000 >= MAX_REALS
  emptyReal: 78, // real index 4000: inside reals, never configured
  remap: 500, // moved between reals by the LRU test
} as const;
const UNCONFIGURED_REAL = 4000;

let ready = false;
function qfx(): BalancerFixture {
  const fx = fixture();
  if (ready) return fx;
  for (const v of QVIPS) {
    fx.addVip(v);
    fx.fillRing(v.vipNum, 0); // an empty ring: anything that falls back to CH drops (CH_DROP.v2)
  }
  fx.setServerId(ID.v1ToV4, 1);
  fx.setServerId(ID.v1ToV6, 3);
  fx.setServerId(ID.v2, 2);
  fx.setServerId(ID.v3, 4);
  fx.setServerId(ID.beyondReals, 5000);
  fx.setServerId(ID.emptyReal, UNCONFIGURED_REAL);
  ready = true;
  return fx;
}

after(() => closeFixture());

const VIP_NUMS = QVIPS.map((v) => v.vipNum);
const REAL_NUMS = [...REAL_IDX, UNCONFIGURED_REAL];

interface QSnap { s: ReturnType<typeof snapshot>; q: ReturnType<BalancerFixture['quicStats']>; sid: Map<number, [bigint, bigint]> }
function take(fx: BalancerFixture): QSnap {
  const sid = new Map<number, [bigint, bigint]>();
  for (const n of VIP_NUMS) {
    const c = fx.serverIdStat(n);
    sid.set(n, [c.v1, c.v2]);
  }
  return { s: snapshot(fx, VIP_NUMS, REAL_NUMS), q: fx.quicStats(), sid };
}

type QuicDelta = Partial<Record<Exclude<QuicStatsField, 'cidInvalidServerIdSample'>, number>>;

/** Exactly these counters moved (stats, reals_stats, quic_stats_map, server_id_stats). */
function assertMoved(b: QSnap, a: QSnap, exp: ExpectedDelta & { quic?: QuicDelta; sid?: Record<number, [number, number]> }, what: string): void {
  assertDelta(b.s, a.s, exp, what);
  const q: QuicDelta = {};
  for (const f of QUIC_STATS_FIELDS) {
    if (f === 'cidInvalidServerIdSample') continue;
    const d = Number(a.q[f] - b.q[f]);
    if (d !== 0) q[f] = d;
  }
  assert.deepEqual(q, exp.quic ?? {}, `${what}: quic_stats_map`);
  const sid: Record<number, [number, number]> = {};
  for (const [n, [v1, v2]] of a.sid) {
    const [p1, p2] = b.sid.get(n)!;
    if (v1 !== p1 || v2 !== p2) sid[n] = [Number(v1 - p1), Number(v2 - p2)];
  }
  assert.deepEqual(sid, exp.sid ?? {}, `${what}: server_id_stats`);
}

function qframe(vip: VipSpec, client: string, sport: number, payload: Buffer): Buffer {
  return flowFrame({ src: client, dst: vip.address, sport, dport: vip.port, proto: 'udp', payload });
}

const lruKey = (vip: VipSpec, client: string, sport: number) => ({ src: client, dst: vip.address, sport, dport: vip.port, proto: 'udp' as const });

/** A packet the id routes to `real` (no LRU lookup, no CH): byte-exact, and its counters. */
function expectRouted(fx: BalancerFixture, frame: Buffer, vip: VipSpec, real: number, realAddr: string, client: string, sport: number,
  quic: QuicDelta, what: string, sid: Record<number, [number, number]> = {}): void {
  const b = take(fx);
  const r = fx.run(frame);
  assert.equal(r.retval, XDP_ACTION.TX, `${what}: verdict`);
  assertBytes(r.data, expectedEncap(frame, realAddr, client, sport), what);
  assertMoved(b, take(fx), {
    globals: { ...xdp('tx', frame.length), lru: [1, 0] },
    vips: { [vip.vipNum]: [1, pktBytes(frame)] },
    reals: { [real]: [1, pktBytes(frame)] },
    quic: { cidRouted: 1, ...quic },
    sid,
  }, what);
}

/** A packet that falls back to LRU + CH; the VIP's ring is empty, so CH drops it (CH_DROP.v2). */
function expectFallback(fx: BalancerFixture, frame: Buffer, quic: QuicDelta, what: string, sid: Record<number, [number, number]> = {}): void {
  const b = take(fx);
  const r = fx.run(frame);
  assert.equal(r.retval, XDP_ACTION.DROP, `${what}: verdict (fell back to an empty ring)`);
  assertBytes(r.data, frame, `${what}: DROP leaves the frame`);
  assertMoved(b, take(fx), { globals: { ...xdp('drop', frame.length), lru: [1, 0], chDrop: [0, 1] }, quic, sid }, what);
}

describe('QUIC: header parsing', () => {
  it('long header Initial and 0-RTT (>= 14 bytes): cid_initial, server_id_stats[vip].v1, fall back; shorter: no id', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    // The CID would name a mapped id: an initial packet never looks at it.
    for (const type of ['initial', 'zeroRtt'] as const) {
      const p = quicLong(type, cidFor(1, ID.v1ToV4), { rest: Buffer.alloc(20) });
      expectFallback(fx, qframe(Q4, C4, 1000, p), { cidInitial: 1 }, `${type}`, { [Q4.vipNum]: [1, 0] });
      // Exactly 14 bytes is enough; 13 is "no id" (even an Initial): ch_routed.
      const p14 = quicLong(type, cidFor(1, ID.v1ToV4));
      assert.equal(p14.length, 14);
      expectFallback(fx, qframe(Q4, C4, 1001, p14), { cidInitial: 1 }, `${type} of 14 bytes`, { [Q4.vipNum]: [1, 0] });
      expectFallback(fx, qframe(Q4, C4, 1002, p14.subarray(0, 13)), { chRouted: 1 }, `${type} of 13 bytes`);
    }
    // The version and the fixed bit are not checked.
    const odd = quicLong('initial', cidFor(1, ID.v1ToV4), { version: 0xfaceb00c, rest: Buffer.alloc(4) });
    odd[0] = 0x80;
    expectFallback(fx, qframe(Q4, C4, 1003, odd), { cidInitial: 1 }, 'initial without the fixed bit', { [Q4.vipNum]: [1, 0] });
  });

  it('long header Handshake / Retry: DCID at byte 6 when its length (byte 5) >= 8, else no id; under 14 bytes no id', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    for (const type of ['handshake', 'retry'] as const) {
      let sport = type === 'retry' ? 1200 : 1100;
      expectRouted(fx, qframe(Q4, C4, sport, quicLong(type, cidFor(1, ID.v1ToV4), { rest: Buffer.alloc(16) })), Q4, 1, REALS[1], C4, sport,
        { cidV1: 1, dstNotFoundInLru: 1 }, `${type}, DCID length 8`);
      sport++;
      expectRouted(fx, qframe(Q4, C4, sport, quicLong(type, cidFor(1, ID.v1ToV4, 20))), Q4, 1, REALS[1], C4, sport,
        { cidV1: 1, dstNotFoundInLru: 1 }, `${type}, DCID length 20`);
      sport++;
      expectFallback(fx, qframe(Q4, C4, sport, quicLong(type, cidFor(1, ID.v1ToV4), { dcidLen: 7, rest: Buffer.alloc(8) })), { chRouted: 1 },
        `${type}, DCID length 7`);
      sport++;
      // 13 bytes: byte 5 says 8, but the header is cut before 14 bytes.
      expectFallback(fx, qframe(Q4, C4, sport, quicLong(type, cidFor(1, ID.v1ToV4)).subarray(0, 13)), { chRouted: 1 }, `${type} of 13 bytes`);
      sport++;
      // 14 bytes exactly with DCID length 8: the CID is at bytes 6..13.
      expectRouted(fx, qframe(Q4, C4, sport, quicLong(type, cidFor(1, ID.v1ToV4))), Q4, 1, REALS[1], C4, sport,
        { cidV1: 1, dstNotFoundInLru: 1 }, `${type} of 14 bytes`);
    }
  });

  it('short header: CID at byte 1 with >= 9 bytes; 8 bytes: no id; Ethernet padding counts (UDP and IP lengths are not read)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    const short = quicShort(cidFor(1, ID.v1ToV4));
    assert.equal(short.length, 9);
    expectRouted(fx, qframe(Q4, C4, 1300, short), Q4, 1, REALS[1], C4, 1300, { cidV1: 1, dstNotFoundInLru: 1 }, 'short header of 9 bytes');
    expectFallback(fx, qframe(Q4, C4, 1301, short.subarray(0, 8)), { chRouted: 1 }, 'short header of 8 bytes');
    // The top bit clear is all that makes it short: byte 0 = 0x00 works too.
    expectRouted(fx, qframe(Q4, C4, 1302, quicShort(cidFor(1, ID.v1ToV4), Buffer.alloc(4), 0x00)), Q4, 1, REALS[1], C4, 1302,
      { cidV1: 1, dstNotFoundInLru: 1 }, 'short header, byte 0 = 0');
    // A UDP payload of 1 byte (UDP length 9, IP length 29) followed by 8 bytes of Ethernet padding
    // holding the CID: routed by the id in the padding.
    const one = qframe(Q4, C4, 1303, Buffer.from([0x40]));
    const padded = Buffer.concat([one, cidFor(1, ID.v1ToV4)]);
    expectRouted(fx, padded, Q4, 1, REALS[1], C4, 1303, { cidV1: 1, dstNotFoundInLru: 1 }, 'CID in the Ethernet padding');
    // An empty UDP payload: no id.
    expectFallback(fx, qframe(Q4, C4, 1304, Buffer.alloc(0)), { chRouted: 1 }, 'empty UDP payload');
  });
});

describe('QUIC: connection-id versions and server ids', () => {
  it('CID v1 / v2 / v3 ids route through server_id_map; v0, id 0 and a negative v3 id are "no id"', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    expectRouted(fx, qframe(Q4, C4, 2000, quicShort(cidFor(1, ID.v1ToV4))), Q4, 1, REALS[1], C4, 2000, { cidV1: 1, dstNotFoundInLru: 1 }, 'CID v1');
    expectRouted(fx, qframe(Q4, C4, 2001, quicShort(cidFor(2, ID.v2))), Q4, 2, REALS[2], C4, 2001, { cidV2: 1, dstNotFoundInLru: 1 }, 'CID v2');
    expectRouted(fx, qframe(Q4, C4, 2002, quicShort(cidFor(3, ID.v3))), Q4, 4, REALS[4], C4, 2002, { cidV3: 1, dstNotFoundInLru: 1 }, 'CID v3');
    // v1 reads only the top two bits of CID[2]: the other six are free.
    const v1 = cidFor(1, ID.v1ToV4);
    v1[2] |= 0x3f;
    expectRouted(fx, qframe(Q4, C4, 2003, quicShort(v1)), Q4, 1, REALS[1], C4, 2003, { cidV1: 1, dstNotFoundInLru: 1 }, 'CID v1, low bits of CID[2] set');
    // v2 and v3 ignore CID[0]'s low six bits.
    const v2 = cidFor(2, ID.v2, 8, 0xff);
    expectRouted(fx, qframe(Q4, C4, 2004, quicShort(v2)), Q4, 2, REALS[2], C4, 2004, { cidV2: 1, dstNotFoundInLru: 1 }, 'CID v2, CID[0] low bits set');

    expectFallback(fx, qframe(Q4, C4, 2010, quicShort(cidFor(0, ID.v1ToV4, 8, 0xff))), { chRouted: 1 }, 'CID v0 (cid_v0 never moves)');
    for (const v of [1, 2, 3] as const) {
      expectFallback(fx, qframe(Q4, C4, 2011 + v, quicShort(cidFor(v, 0, 8, 0))), { chRouted: 1 }, `CID v${v} id 0`);
    }
    // v3 is signed: the top bit set is <= 0.
    expectFallback(fx, qframe(Q4, C4, 2020, quicShort(cidFor(3, 0x80000001))), { chRouted: 1 }, 'CID v3 id 0x80000001');
    expectFallback(fx, qframe(Q4, C4, 2021, quicShort(cidFor(3, 0xffffffff))), { chRouted: 1 }, 'CID v3 id -1');
  });

  it('unmapped id (value 0) and ids >= max_entries: cid_invalid_server_id, the sample, ch_routed, fall back', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    // CPU 0's cid_invalid_server_id_sample (the process is pinned there).
    const sample = (): bigint => BigInt(fx.quic().samples.find((x) => x.cpu === 0)?.id ?? 0);
    expectFallback(fx, qframe(Q4, C4, 2100, quicShort(cidFor(1, ID.unmapped))), { cidV1: 1, cidInvalidServerId: 1, chRouted: 1 }, 'unmapped v1 id');
    assert.equal(sample(), BigInt(ID.unmapped), 'the sample is the last invalid id');
    // Katran's size: keys 0..0xFFFFFD; the kernel refuses a write at 0xFFFFFE.
    assert.equal(fx.setServerId(DEFAULTS.quicServerIds, 1), false, 'server_id_map refuses key 0xFFFFFE');
    assert.equal(fx.setServerId(DEFAULTS.quicServerIds - 1, 2), true, 'key 0xFFFFFD is the last one');
    expectRouted(fx, qframe(Q4, C4, 2101, quicShort(cidFor(2, 0xfffffd))), Q4, 2, REALS[2], C4, 2101, { cidV2: 1, dstNotFoundInLru: 1 }, 'v2 id 0xFFFFFD');
    expectFallback(fx, qframe(Q4, C4, 2102, quicShort(cidFor(2, 0xfffffe))), { cidV2: 1, cidInvalidServerId: 1, chRouted: 1 }, 'v2 id 0xFFFFFE');
    assert.equal(sample(), 0xfffffen);
    expectFallback(fx, qframe(Q4, C4, 2103, quicShort(cidFor(3, 0x7fffffff))), { cidV3: 1, cidInvalidServerId: 1, chRouted: 1 }, 'v3 id 0x7FFFFFFF');
    assert.equal(sample(), 0x7fffffffn);
    // An id-less packet leaves the sample alone (it is each CPU's last invalid id, never reset).
    expectFallback(fx, qframe(Q4, C4, 2104, quicShort(cidFor(0, 0))), { chRouted: 1 }, 'no id');
    assert.equal(sample(), 0x7fffffffn);
    fx.setServerId(DEFAULTS.quicServerIds - 1, 0);
  });

  it('an id mapped to a real index >= MAX_REALS: DROP, cid_unknown_real_dropped; counts 0 v1, 16, 18 only', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    const f = qframe(Q4, C4, 2200, quicShort(cidFor(1, ID.beyondReals)));
    const b = take(fx);
    const r = fx.run(f);
    assert.equal(r.retval, XDP_ACTION.DROP);
    assertBytes(r.data, f, 'DROP leaves the frame');
    assertMoved(b, take(fx), { globals: { ...xdp('drop', f.length), lru: [1, 0] }, quic: { cidV1: 1, cidUnknownRealDropped: 1 } }, 'unknown real');
    assert.equal(fx.lruEntry(lruKey(Q4, C4, 2200), 0), null, 'no LRU entry');
  });

  it('a real index inside reals but never configured is an IPv4 real 0.0.0.0, for v4 and v6 VIPs', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    expectRouted(fx, qframe(Q4, C4, 2300, quicShort(cidFor(1, ID.emptyReal))), Q4, UNCONFIGURED_REAL, '0.0.0.0', C4, 2300,
      { cidV1: 1, dstNotFoundInLru: 1 }, 'v4 VIP to real 0.0.0.0');
    expectRouted(fx, qframe(Q6, C6, 2301, quicShort(cidFor(1, ID.emptyReal))), Q6, UNCONFIGURED_REAL, '0.0.0.0', C6, 2301,
      { cidV1: 1, dstNotFoundInLru: 1 }, 'v6 VIP to real 0.0.0.0');
  });
});

describe('QUIC: families', () => {
  it('v6 VIPs parse alike; id routing across families: v4 VIP to a v6 real, v6 VIP to v4 and v6 reals', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    expectRouted(fx, qframe(Q4, C4, 2400, quicShort(cidFor(1, ID.v1ToV6))), Q4, 3, REALS[3], C4, 2400, { cidV1: 1, dstNotFoundInLru: 1 }, 'v4 VIP to v6 real');
    expectRouted(fx, qframe(Q6, C6, 2401, quicShort(cidFor(1, ID.v1ToV6))), Q6, 3, REALS[3], C6, 2401, { cidV1: 1, dstNotFoundInLru: 1 }, 'v6 VIP to v6 real');
    const c6 = '2001:db8:aabb::1';
    const f = qframe(Q6, c6, 40000, quicLong('handshake', cidFor(2, ID.v2), { rest: Buffer.alloc(8) }));
    expectRouted(fx, f, Q6, 2, REALS[2], c6, 40000, { cidV2: 1, dstNotFoundInLru: 1 }, 'v6 VIP to v4 real');
    const p = parseEncap(fx.run(f).data);
    if (p.outer.family !== 4) assert.fail('outer IPv4');
    assert.equal(p.outer.ip.src, '172.16.77.36', "Katran's example (checked on its object): 2001:db8:aabb::1 port 40000");
    assert.equal(p.outer.ip.proto, 4);
    assert.equal(p.outer.ip.totLen, f.readUInt16BE(18) + 20);
    expectFallback(fx, qframe(Q6, C6, 2402, quicLong('initial', cidFor(1, ID.v1ToV4), { rest: Buffer.alloc(8) })), { cidInitial: 1 }, 'v6 initial',
      { [Q6.vipNum]: [1, 0] });
  });
});

describe('QUIC: the LRU', () => {
  it('not found: {real, atime 0} written; match: untouched; mismatch: pos rewritten, atime kept, server_id_stats.v2 (CPU 0 pinned)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    const sport = 3000;
    const key = lruKey(Q4, C4, sport);
    fx.setServerId(ID.remap, 1);
    const f = qframe(Q4, C4, sport, quicShort(cidFor(1, ID.remap), Buffer.alloc(30)));
    expectRouted(fx, f, Q4, 1, REALS[1], C4, sport, { cidV1: 1, dstNotFoundInLru: 1 }, 'first packet: not found');
    assert.deepEqual(fx.lruEntry(key, 0), { pos: 1, atime: 0n }, 'written with atime 0');
    expectRouted(fx, f, Q4, 1, REALS[1], C4, sport, { cidV1: 1, dstMatchInLru: 1 }, 'second packet: match');
    assert.deepEqual(fx.lruEntry(key, 0), { pos: 1, atime: 0n }, 'a match never refreshes atime');
    fx.setLruEntry(key, 0, 1, 12345n);
    expectRouted(fx, f, Q4, 1, REALS[1], C4, sport, { cidV1: 1, dstMatchInLru: 1 }, 'match with an atime');
    assert.deepEqual(fx.lruEntry(key, 0), { pos: 1, atime: 12345n });
    // The id moves to real 4: the packet follows the id, the entry's pos is rewritten, atime kept.
    fx.setServerId(ID.remap, 4);
    expectRouted(fx, f, Q4, 4, REALS[4], C4, sport, { cidV1: 1, dstMismatchInLru: 1 }, 'remapped id: mismatch',
      { [Q4.vipNum]: [0, 1] });
    assert.deepEqual(fx.lruEntry(key, 0), { pos: 4, atime: 12345n });

    // Id-less packets of the flow use the LRU entry id routing left (when fresh), and refresh it.
    const now = process.hrtime.bigint();
    fx.setLruEntry(key, 0, 4, now);
    const idless = qframe(Q4, C4, sport, Buffer.from([0x40, 1, 2]));
    let b = take(fx);
    let r = fx.run(idless);
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(idless, REALS[4], C4, sport), 'id-less packet follows the LRU');
    assertMoved(b, take(fx), {
      globals: { ...xdp('tx', idless.length), lru: [1, 0] }, vips: { [Q4.vipNum]: [1, pktBytes(idless)] }, reals: { 4: [1, pktBytes(idless)] },
      quic: { chRouted: 1 },
    }, 'id-less LRU hit');
    assert.ok(fx.lruEntry(key, 0)!.atime > now, 'an LRU hit of an id-less packet refreshes atime');

    // An entry id routing wrote (atime 0) is older than 30 s for an id-less packet: the ring decides.
    const sport2 = 3001;
    const f2 = qframe(Q4, C4, sport2, quicShort(cidFor(1, ID.v1ToV4)));
    expectRouted(fx, f2, Q4, 1, REALS[1], C4, sport2, { cidV1: 1, dstNotFoundInLru: 1 }, 'id-routed, atime 0');
    const pos = fx.routeFlow({ src: C4, sport: sport2, dport: QPORT, proto: 'udp' }, Q4, 6);
    const idless2 = qframe(Q4, C4, sport2, Buffer.from([0x40]));
    b = take(fx);
    r = fx.run(idless2);
    assertBytes(r.data, expectedEncap(idless2, REALS[6], C4, sport2), 'id-less packet after an atime-0 entry goes by the ring');
    assertMoved(b, take(fx), {
      globals: { ...xdp('tx', idless2.length), lru: [1, 1] }, vips: { [Q4.vipNum]: [1, pktBytes(idless2)] }, reals: { 6: [1, pktBytes(idless2)] },
      quic: { chRouted: 1 },
    }, 'id-less CH');
    assert.equal(fx.lruEntry(lruKey(Q4, C4, sport2), 0)!.pos, 6, 'CH rewrote the entry');
    fx.setSlot(Q4.vipNum, pos, 0);
    // ...and the next id-routed packet finds real 6 there: a mismatch, back to real 1.
    expectRouted(fx, f2, Q4, 1, REALS[1], C4, sport2, { cidV1: 1, dstMismatchInLru: 1 }, 'id after CH: mismatch', { [Q4.vipNum]: [0, 1] });
    fx.setServerId(ID.remap, 0);
  });

  it('NO_LRU is ignored (the entry is still written); over MAX_CONN_RATE a not-found entry is not written', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    const f = qframe(Q4_NO_LRU, C4, 3100, quicShort(cidFor(1, ID.v1ToV4)));
    expectRouted(fx, f, Q4_NO_LRU, 1, REALS[1], C4, 3100, { cidV1: 1, dstNotFoundInLru: 1 }, 'NO_LRU QUIC VIP');
    assert.deepEqual(fx.lruEntry(lruKey(Q4_NO_LRU, C4, 3100), 0), { pos: 1, atime: 0n });
    expectRouted(fx, f, Q4_NO_LRU, 1, REALS[1], C4, 3100, { cidV1: 1, dstMatchInLru: 1 }, 'NO_LRU QUIC VIP, match');

    // This CPU over the rate in a window that starts now: the not-found write is skipped (and ticks the rate).
    const ncpu = numPossibleCpus();
    const v = Buffer.alloc(16 * ncpu);
    const start = process.hrtime.bigint();
    for (let c = 0; c < ncpu; c++) {
      v.writeBigUInt64LE(BigInt(DEFAULTS.maxConnRate + 10), c * 16);
      v.writeBigUInt64LE(start, c * 16 + 8);
    }
    const rateKey = u32Key(DEFAULTS.maxVips + 2);
    mapUpdate(fx.fds[MAP.stats], rateKey, v);
    try {
      const g = qframe(Q4, C4, 3101, quicShort(cidFor(1, ID.v1ToV4)));
      expectRouted(fx, g, Q4, 1, REALS[1], C4, 3101, { cidV1: 1, dstNotFoundInLru: 1 }, 'over rate');
      assert.equal(fx.lruEntry(lruKey(Q4, C4, 3101), 0), null, 'over MAX_CONN_RATE: not written');
      assert.equal(fx.globalOnCpu(2, 0).v1, BigInt(DEFAULTS.maxConnRate + 11), 'the not-found step ticked NEW_CONN_RATE once');
    } finally {
      mapUpdate(fx.fds[MAP.stats], rateKey, Buffer.alloc(16 * ncpu));
    }
  });

  it('a CPU without its own LRU reconciles in fallback_cache and counts FALLBACK_LRU (also on the unknown-real DROP)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    mapDelete(fx.fds[MAP.lruMapping], u32Key(0));
    try {
      const f = qframe(Q4, C4, 3200, quicShort(cidFor(1, ID.v1ToV4)));
      let b = take(fx);
      let r = fx.run(f);
      assertBytes(r.data, expectedEncap(f, REALS[1], C4, 3200), 'routed on fallback');
      assertMoved(b, take(fx), {
        globals: { ...xdp('tx', f.length), lru: [1, 0], fallbackLru: [1, 0] }, vips: { [Q4.vipNum]: [1, pktBytes(f)] }, reals: { 1: [1, pktBytes(f)] },
        quic: { cidV1: 1, dstNotFoundInLru: 1, cidRouted: 1 },
      }, 'fallback not found');
      assert.deepEqual(fx.lruEntry(lruKey(Q4, C4, 3200), -1), { pos: 1, atime: 0n }, 'written in fallback_cache');
      assert.equal(fx.lruEntry(lruKey(Q4, C4, 3200), 0), null, 'not in CPU 0\'s LRU');
      fx.setLruEntry(lruKey(Q4, C4, 3200), -1, 2, 99n);
      b = take(fx);
      r = fx.run(f);
      assertBytes(r.data, expectedEncap(f, REALS[1], C4, 3200), 'mismatch on fallback');
      assertMoved(b, take(fx), {
        globals: { ...xdp('tx', f.length), lru: [1, 0], fallbackLru: [1, 0] }, vips: { [Q4.vipNum]: [1, pktBytes(f)] }, reals: { 1: [1, pktBytes(f)] },
        quic: { cidV1: 1, dstMismatchInLru: 1, cidRouted: 1 }, sid: { [Q4.vipNum]: [0, 1] },
      }, 'fallback mismatch');
      assert.deepEqual(fx.lruEntry(lruKey(Q4, C4, 3200), -1), { pos: 1, atime: 99n });
      const d = qframe(Q4, C4, 3201, quicShort(cidFor(1, ID.beyondReals)));
      b = take(fx);
      assert.equal(fx.run(d).retval, XDP_ACTION.DROP);
      assertMoved(b, take(fx), { globals: { ...xdp('drop', d.length), lru: [1, 0], fallbackLru: [1, 0] }, quic: { cidV1: 1, cidUnknownRealDropped: 1 } }, 'fallback unknown real');
    } finally {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(fx.lruFds.get(0)!, 0);
      mapUpdate(fx.fds[MAP.lruMapping], u32Key(0), v);
    }
  });

  it('id-routed packets skip the flow-migration check (a down real still gets them); a VIP without QUIC_VIP never parses QUIC', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    fx.setRealDown(Q4_MIGRATE, 1, true);
    try {
      expectRouted(fx, qframe(Q4_MIGRATE, C4, 3300, quicShort(cidFor(1, ID.v1ToV4))), Q4_MIGRATE, 1, REALS[1], C4, 3300,
        { cidV1: 1, dstNotFoundInLru: 1 }, 'id to a down real');
    } finally {
      fx.setRealDown(Q4_MIGRATE, 1, false);
    }
    // Plain UDP VIP: the same payload is just UDP (LRU, then the ring), no QUIC counter moves.
    const f = qframe(PLAIN, C4, 3301, quicShort(cidFor(1, ID.v1ToV4)));
    const b = take(fx);
    assert.equal(fx.run(f).retval, XDP_ACTION.DROP);
    assertMoved(b, take(fx), { globals: { ...xdp('drop', f.length), lru: [1, 0], chDrop: [0, 1] } }, 'plain UDP VIP');
  });
});

describe('QUIC: ICMP errors to QUIC VIPs', () => {
  it('no QUIC parsing, the LRU / ring as usual; offset 11: v1 each, v2 for v4 codes 1 and 3, v6 codes 3 and 4', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = qfx();
    const sport = 3400;
    const pos4 = fx.routeFlow({ src: C4, sport, dport: QPORT, proto: 'udp' }, Q4, 6);
    // The first error goes by the ring (and writes the LRU), the next ones hit that entry.
    for (const [i, code] of [0, 1, 2, 3, 4, 13].entries()) {
      const err = icmpErrorFrame({ from: ROUTER, to: Q4.address, original: replyPacket(Q4.address, C4, QPORT, sport, 'udp'), code, mtu: 1400 });
      const b = take(fx);
      const r = fx.run(err);
      assert.equal(r.retval, XDP_ACTION.TX, `v4 code ${code}`);
      assertBytes(r.data, expectedEncap(err, REALS[6], C4, sport), `v4 ICMP code ${code} by the ring`);
      assertMoved(b, take(fx), {
        globals: {
          ...xdp('tx', err.length), lru: [1, i === 0 ? 1 : 0], quicIcmp: [1, code === 1 || code === 3 ? 1 : 0], ...(code === 4 ? { icmpPtbV4: [1, 0] } : {}),
        },
        vips: { [Q4.vipNum]: [1, pktBytes(err)] }, reals: { 6: [1, pktBytes(err)] },
      }, `v4 ICMP code ${code}`);
    }
    fx.setSlot(Q4.vipNum, pos4, 0);
    const pos6 = fx.routeFlow({ src: C6, sport, dport: QPORT, proto: 'udp' }, Q6, 5);
    for (const [i, [v6Type, code]] of ([['unreach', 0], ['unreach', 3], ['unreach', 4], ['unreach', 1], ['too-big', 0], ['too-big', 3]] as const).entries()) {
      const err = icmpErrorFrame({ from: ROUTER6, to: Q6.address, original: replyPacket(Q6.address, C6, QPORT, sport, 'udp'), v6Type, code, mtu: 1500 });
      const b = take(fx);
      const r = fx.run(err);
      assertBytes(r.data, expectedEncap(err, REALS[5], C6, sport), `v6 ICMP ${v6Type} code ${code}`);
      assertMoved(b, take(fx), {
        globals: {
          ...xdp('tx', err.length), lru: [1, i === 0 ? 1 : 0], quicIcmp: [1, code === 3 || code === 4 ? 1 : 0], ...(v6Type === 'too-big' ? { icmpPtbV6: [1, 0] } : {}),
        },
        vips: { [Q6.vipNum]: [1, pktBytes(err)] }, reals: { 5: [1, pktBytes(err)] },
      }, `v6 ICMP ${v6Type} code ${code}`);
    }
    fx.setSlot(Q6.vipNum, pos6, 0);
    // To a plain UDP VIP: offset 11 stays.
    const err = icmpErrorFrame({ from: ROUTER, to: PLAIN.address, original: replyPacket(PLAIN.address, C4, QPORT, sport, 'udp'), code: 3 });
    const b = take(fx);
    assert.equal(fx.run(err).retval, XDP_ACTION.DROP);
    assertMoved(b, take(fx), { globals: { ...xdp('drop', err.length), lru: [1, 0], chDrop: [0, 1] } }, 'ICMP to a plain VIP');
  });
});

describe('QUIC: server_id_map size', () => {
  it('userspace sizes server_id_map before load (loader quicServerIds): ids at or beyond it fall back as invalid', async (t) => {
    if (!(await requireBpf(t))) return;
    const lb = loadBalancer(requireObject(bundledObject('balancer')), { lruSize: numPossibleCpus(), quicServerIds: 4096 });
    try {
      assert.equal(lb.maps.all.get(MAP.serverIds)!.maxEntries, 4096);
      assert.throws(() => loadBalancer(requireObject(bundledObject('balancer')), { quicServerIds: 0 }), /server_id_map size 0 must be a whole number from 1 to 16777214/);
    } finally {
      lb.close();
    }
    const fx = new BalancerFixture([0], bundledObject('balancer'), { quicServerIds: 4096 });
    try {
      fx.setReal(1, REALS[1]);
      fx.setMac('02:aa:bb:cc:dd:01');
      fx.addVip(Q4);
      assert.equal(fx.setServerId(4095, 1), true);
      assert.equal(fx.setServerId(4096, 1), false, 'key 4096 is beyond the map');
      const ok = fx.run(qframe(Q4, C4, 3500, quicShort(cidFor(1, 4095))));
      assert.equal(ok.retval, XDP_ACTION.TX);
      const q0 = fx.quicStats();
      assert.equal(fx.run(qframe(Q4, C4, 3501, quicShort(cidFor(1, 4096)))).retval, XDP_ACTION.DROP, 'id 4096: invalid, falls back (empty ring)');
      const q1 = fx.quicStats();
      assert.equal(q1.cidInvalidServerId - q0.cidInvalidServerId, 1n);
      assert.equal(q1.chRouted - q0.chRouted, 1n);
    } finally {
      fx.close();
    }
  });
});

describe('QUIC: the userspace model agrees with the kernel', () => {
  it('abi.ts quicHeader() classifies 4000 random QUIC-shaped payloads as the program does (kind, CID version, id)', async (t) => {
    if (!(await requireBpf(t))) return;
    // A program of its own with an empty server_id_map: every id is invalid, so the kernel shows
    // each packet's outcome in its counters and the id in cid_invalid_server_id_sample.
    const fx = new BalancerFixture([0]);
    try {
      fx.setMac('02:aa:bb:cc:dd:01');
      fx.addVip(Q4);
      const rng = new Rng(0x51c);
      const sampleOf = () => fx.quic().samples.find((x) => x.cpu === 0)?.id;
      for (let i = 0; i < 4000; i++) {
        const len = rng.int(0, 24);
        const p = rng.bytes(len);
        if (len > 5 && rng.bool(0.5)) p[5] = rng.pick([0, 7, 8, 9, 255]);
        const want = quicHeader(p);
        const b = fx.quicStats();
        assert.equal(fx.run(qframe(Q4, C4, 4000 + (i % 1000), p)).retval, XDP_ACTION.DROP);
        const a = fx.quicStats();
        const d = (f: keyof typeof a) => Number(a[f] - b[f]);
        const got = d('cidInitial') ? 'initial' : d('cidV1') ? 'v1' : d('cidV2') ? 'v2' : d('cidV3') ? 'v3' : 'none';
        const exp = want.kind === 'id' ? `v${want.cidVersion}` : want.kind;
        assert.equal(got, exp, `payload ${Buffer.from(p).toString('hex')}: kernel ${got}, quicHeader ${JSON.stringify(want)}`);
        if (want.kind === 'id') assert.equal(sampleOf(), want.id, `payload ${Buffer.from(p).toString('hex')}: id`);
        else assert.equal(d('chRouted') + d('cidInitial'), 1);
      }
    } finally {
      fx.close();
    }
  });
});
