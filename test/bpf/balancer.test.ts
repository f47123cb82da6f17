// The XDP balancer through prog_test_run: byte-exact outputs, real selection (LRU and Katran's
// ring hash computed independently in TypeScript), PASS / DROP rules and exact counter deltas.
// Every case runs on CPU 0 (pinned), the only CPU with its own LRU in lru_mapping.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XDP_ACTION, mapDelete, mapUpdate } from '../../src/dataplane/kernel/libbpf.js';
import { MAP, u32Key } from '../../src/dataplane/abi.js';
import { requireBpf } from '../helpers/env.js';
import { flowFrame, parseEncap, ipipV4Source, ipipV6Source } from '../helpers/packets.js';
import {
  GW_MAC, LB_MAC, REALS, VIPS, assertBytes, assertDelta, closeFixture, expectedEncap, fixture, pktBytes, take, xdp,
} from './balancer-common.js';

const C1 = '203.0.113.7';
const C6 = '2001:db8:c::1234:5678';

after(() => closeFixture());

describe('balancer: forwarding', () => {
  it('v4 TCP SYN goes by the ring, the ACK of the same flow hits the LRU: same real, byte-exact IPIP', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.tcp;
    const flow = { src: C1, sport: 31337, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 1);
    fx.traceVip(vip);

    const syn = flowFrame({ src: C1, dst: vip.address, sport: 31337, dport: 80, proto: 'tcp', flags: 'S', tos: 0x28 });
    let b = take(fx);
    let r = fx.run(syn);
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(syn, REALS[1], C1, 31337), 'SYN');
    const p = parseEncap(r.data);
    assert.equal(p.outer.family, 4);
    if (p.outer.family === 4) {
      assert.ok(p.outer.ip.checksumOk, 'outer IPv4 checksum verifies');
      assert.equal(p.outer.ip.src, ipipV4Source(C1, 31337));
      assert.equal(p.outer.ip.tos, 0x28);
      assert.equal(p.outer.ip.ttl, 64);
      assert.equal(p.outer.ip.df, false);
    }
    assert.deepEqual(p.eth.dst, Buffer.from(GW_MAC.split(':').map((x) => parseInt(x, 16))));
    assertBytes(p.inner, syn.subarray(14), 'inner packet');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(syn)] },
      reals: { 1: [1, pktBytes(syn)] },
      lruMiss: { 1: 1 },
    }, 'SYN counters');
    assert.deepEqual(fx.lruEntry({ src: C1, dst: vip.address, sport: 31337, dport: 80, proto: 'tcp' }, 0), { pos: 1, atime: 0n });

    // The ring slot now points elsewhere: the ACK must still follow the LRU to real 1.
    fx.setSlot(vip.vipNum, pos, 2);
    const ack = flowFrame({ src: C1, dst: vip.address, sport: 31337, dport: 80, proto: 'tcp', flags: 'A', payloadLen: 100 });
    b = take(fx);
    r = fx.run(ack);
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(ack, REALS[1], C1, 31337), 'ACK');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', ack.length), lru: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(ack)] },
      reals: { 1: [1, pktBytes(ack)] },
    }, 'ACK counters');
    fx.traceVip(null);
  });

  it('v4 UDP: IPIP byte-exact, LRU entry with atime, UDP entries older than 30 s are misses', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.udp;
    const flow = { src: C1, sport: 5353, dport: 53, proto: 'udp' as const };
    const pos = fx.routeFlow(flow, vip, 2);
    const pkt = flowFrame({ ...flow, dst: vip.address, payloadLen: 40 });
    let b = take(fx);
    const t0 = process.hrtime.bigint();
    let r = fx.run(pkt);
    const t1 = process.hrtime.bigint();
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(pkt, REALS[2], C1, 5353), 'UDP');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', pkt.length), lru: [1, 1] },
      vips: { [vip.vipNum]: [1, pktBytes(pkt)] },
      reals: { 2: [1, pktBytes(pkt)] },
    }, 'UDP counters');
    const key = { src: C1, dst: vip.address, sport: 5353, dport: 53, proto: 'udp' as const };
    const e = fx.lruEntry(key, 0)!;
    assert.equal(e.pos, 2);
    assert.ok(e.atime >= t0 && e.atime <= t1, 'atime is the ktime (CLOCK_MONOTONIC) of the packet');

    // A fresh entry to real 4 wins over the ring...
    fx.setLruEntry(key, 0, 4, process.hrtime.bigint());
    r = fx.run(pkt);
    assertBytes(r.data, expectedEncap(pkt, REALS[4], C1, 5353), 'UDP LRU hit');
    // ...an entry older than 30 s does not: the ring (real 2) decides and the entry is rewritten.
    fx.setLruEntry(key, 0, 4, process.hrtime.bigint() - 31_000_000_000n);
    b = take(fx);
    r = fx.run(pkt);
    assertBytes(r.data, expectedEncap(pkt, REALS[2], C1, 5353), 'UDP stale LRU entry');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', pkt.length), lru: [1, 1] },
      vips: { [vip.vipNum]: [1, pktBytes(pkt)] },
      reals: { 2: [1, pktBytes(pkt)] },
    }, 'stale UDP counters');
    assert.equal(fx.lruEntry(key, 0)!.pos, 2);
    fx.setSlot(vip.vipNum, pos, 0);
  });

  it('v6 TCP to a v6 real: IP6IP6 byte-exact (traffic class, hop limit, 100:: source)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.v6tcp;
    const flow = { src: C6, sport: 40000, dport: 443, proto: 'tcp' as const };
    fx.routeFlow(flow, vip, 3);
    const syn = flowFrame({ ...flow, dst: vip.address, flags: 'S', tos: 0xb8 });
    const b = take(fx);
    const r = fx.run(syn);
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(syn, REALS[3], C6, 40000), 'v6 SYN');
    const p = parseEncap(r.data);
    assert.equal(p.outer.family, 6);
    if (p.outer.family === 6) {
      assert.equal(p.outer.ip.src, '100::8e74:5678', "docs/abi.md's example: 2001:db8::1234:5678 port 40000");
      assert.equal(p.outer.ip.next, 41);
      assert.equal(p.outer.ip.tclass, 0xb8);
      assert.equal(p.outer.ip.flowLabel, 0);
      assert.equal(p.outer.ip.hopLimit, 64);
      assert.equal(p.outer.ip.payloadLen, syn.length - 14);
    }
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(syn)] },
      reals: { 3: [1, pktBytes(syn)] },
    }, 'v6 SYN counters');
  });

  it('v6 UDP to a v6 real and the ACK-less UDP LRU hit', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.v6udp;
    const flow = { src: '2001:db8:c::99', sport: 12345, dport: 4500, proto: 'udp' as const };
    const pos = fx.routeFlow(flow, vip, 5);
    const pkt = flowFrame({ ...flow, dst: vip.address });
    assertBytes(fx.run(pkt).data, expectedEncap(pkt, REALS[5], flow.src, 12345), 'v6 UDP');
    fx.setSlot(vip.vipNum, pos, 0);
    const b = take(fx);
    assertBytes(fx.run(pkt).data, expectedEncap(pkt, REALS[5], flow.src, 12345), 'v6 UDP LRU hit');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', pkt.length), lru: [1, 0] },
      vips: { [vip.vipNum]: [1, pktBytes(pkt)] },
      reals: { 5: [1, pktBytes(pkt)] },
    }, 'v6 UDP hit counters');
  });

  it('v4 client to a v6 real: IPv4-in-IPv6 (next header 4, payload_len = inner tot_len)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.v4ToV6;
    const flow = { src: '192.168.1.10', sport: 31337, dport: 80, proto: 'tcp' as const };
    fx.routeFlow(flow, vip, 5);
    const syn = flowFrame({ ...flow, dst: vip.address, flags: 'S', tos: 0x10 });
    const r = fx.run(syn);
    assert.equal(r.retval, XDP_ACTION.TX);
    assertBytes(r.data, expectedEncap(syn, REALS[5], flow.src, 31337), 'v4 in v6');
    const p = parseEncap(r.data);
    if (p.outer.family !== 6) assert.fail('outer header is IPv6');
    assert.equal(p.outer.ip.next, 4);
    assert.equal(p.outer.ip.payloadLen, syn.length - 14);
    assert.equal(p.outer.ip.src, ipipV6Source(flow.src, 31337));
    assert.equal(ipipV4Source(flow.src, 31337), '172.16.104.112', "docs/abi.md's IPIP example");
  });

  it('NO_SPORT: the source port is left out of the hash, the LRU key and the outer source', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.noSport;
    const pos = fx.routeFlow({ src: C1, sport: 1111, dport: 80, proto: 'tcp' }, vip, 4);
    assert.equal(pos, fx.position({ src: C1, sport: 2222, dport: 80, proto: 'tcp' }, vip), 'every source port hashes alike');
    for (const sport of [1111, 2222, 65000]) {
      const syn = flowFrame({ src: C1, dst: vip.address, sport, dport: 80, proto: 'tcp', flags: 'S' });
      const r = fx.run(syn);
      assert.equal(r.retval, XDP_ACTION.TX, `sport ${sport}`);
      assertBytes(r.data, expectedEncap(syn, REALS[4], C1, 0), `NO_SPORT sport ${sport}`);
    }
    assert.deepEqual(fx.lruEntry({ src: C1, dst: vip.address, sport: 0, dport: 80, proto: 'tcp' }, 0), { pos: 4, atime: 0n });
    assert.equal(fx.lruEntry({ src: C1, dst: vip.address, sport: 1111, dport: 80, proto: 'tcp' }, 0), null);
  });

  it('DPORT_HASH: only the destination port picks the real; LRU written under {0, sport = dport}; outer source from the client\'s port, address 0', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.dportHash;
    const pos = fx.routeFlow({ src: C1, sport: 1, dport: 8080, proto: 'udp' }, vip, 6);
    for (const [src, sport] of [[C1, 1], ['203.0.113.200', 5000], ['203.0.113.1', 65535]] as const) {
      assert.equal(fx.position({ src, sport, dport: 8080, proto: 'udp' }, vip), pos);
      const pkt = flowFrame({ src, dst: vip.address, sport, dport: 8080, proto: 'udp' });
      const r = fx.run(pkt);
      assert.equal(r.retval, XDP_ACTION.TX, `${src}:${sport}`);
      assertBytes(r.data, expectedEncap(pkt, REALS[6], '0.0.0.0', sport), `DPORT_HASH ${src}:${sport}`);
    }
    // docs/abi.md: 172.16.(sport & 0xff).(sport >> 8), 40000 gives 172.16.64.156.
    assert.equal(parseEncap(fx.run(flowFrame({ src: C1, dst: vip.address, sport: 40000, dport: 8080, proto: 'udp' })).data).outer.ip.src, '172.16.64.156');
    assert.equal(fx.lruEntry({ src: '0.0.0.0', dst: vip.address, sport: 8080, dport: 8080, proto: 'udp' }, 0)?.pos, 6);
  });

  it('port-0 VIP: any destination port matches, dport leaves the hash (kept with HASH_SRC_DST_PORT / DPORT_HASH)', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.port0;
    const pos = fx.routeFlow({ src: C1, sport: 4242, dport: 443, proto: 'tcp' }, vip, 7);
    assert.equal(pos, fx.position({ src: C1, sport: 4242, dport: 8443, proto: 'tcp' }, vip));
    for (const dport of [443, 8443, 1]) {
      const syn = flowFrame({ src: C1, dst: vip.address, sport: 4242, dport, proto: 'tcp', flags: 'S' });
      const b = take(fx);
      const r = fx.run(syn);
      assert.equal(r.retval, XDP_ACTION.TX, `dport ${dport}`);
      assertBytes(r.data, expectedEncap(syn, REALS[7], C1, 4242), `port-0 VIP dport ${dport}`);
      assertDelta(b, take(fx), {
        globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0] },
        vips: { [vip.vipNum]: [1, pktBytes(syn)] },
        reals: { 7: [1, pktBytes(syn)] },
      }, `port-0 counters dport ${dport}`);
    }
    assert.equal(fx.lruEntry({ src: C1, dst: vip.address, sport: 4242, dport: 0, proto: 'tcp' }, 0)?.pos, 7);

    const sd = VIPS.port0SrcDst;
    const p1 = fx.routeFlow({ src: C1, sport: 4242, dport: 443, proto: 'tcp' }, sd, 1);
    const p2 = fx.position({ src: C1, sport: 4242, dport: 444, proto: 'tcp' }, sd);
    assert.notEqual(p1, p2, 'the destination port stays in the hash');
    fx.setSlot(sd.vipNum, p2, 2);
    const a = flowFrame({ src: C1, dst: sd.address, sport: 4242, dport: 443, proto: 'tcp', flags: 'S' });
    const c = flowFrame({ src: C1, dst: sd.address, sport: 4242, dport: 444, proto: 'tcp', flags: 'S' });
    assertBytes(fx.run(a).data, expectedEncap(a, REALS[1], C1, 4242), 'HASH_SRC_DST_PORT dport 443');
    assertBytes(fx.run(c).data, expectedEncap(c, REALS[2], C1, 4242), 'HASH_SRC_DST_PORT dport 444');

    const dp = VIPS.port0Dport;
    fx.routeFlow({ src: C1, sport: 7, dport: 5060, proto: 'udp' }, dp, 4);
    const u = flowFrame({ src: C1, dst: dp.address, sport: 7, dport: 5060, proto: 'udp' });
    assertBytes(fx.run(u).data, expectedEncap(u, REALS[4], '0.0.0.0', 7), 'port-0 DPORT_HASH keeps dport');
  });

  it('ring conformance: fixed flows land on the one slot Katran\'s hash (TypeScript) gives them', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const cases = [
      { vip: VIPS.tcp, flow: { src: '203.0.113.1', sport: 1024, dport: 80, proto: 'tcp' as const }, real: 2 },
      { vip: VIPS.tcp, flow: { src: '203.0.113.254', sport: 65535, dport: 80, proto: 'tcp' as const }, real: 4 },
      { vip: VIPS.udp, flow: { src: '203.0.113.77', sport: 33333, dport: 53, proto: 'udp' as const }, real: 6 },
      { vip: VIPS.v6tcp, flow: { src: '2001:db8:ffff::1', sport: 51000, dport: 443, proto: 'tcp' as const }, real: 3 },
      { vip: VIPS.v6udp, flow: { src: '2001:db8:abcd:1::42', sport: 500, dport: 4500, proto: 'udp' as const }, real: 5 },
      { vip: VIPS.v4ToV6, flow: { src: '203.0.113.9', sport: 2000, dport: 80, proto: 'tcp' as const }, real: 3 },
    ];
    for (const c of cases) {
      const pos = fx.routeFlow(c.flow, c.vip, c.real);
      const syn = flowFrame({ ...c.flow, dst: c.vip.address, flags: 'S' });
      const r = fx.run(syn);
      assert.equal(r.retval, XDP_ACTION.TX, `${c.flow.src}:${c.flow.sport} -> slot ${pos}`);
      assertBytes(r.data, expectedEncap(syn, REALS[c.real], c.flow.src, c.flow.sport), `${c.flow.src}:${c.flow.sport}`);
      fx.setSlot(c.vip.vipNum, pos, 0);
      // UDP has no SYN: forget the LRU entry the first packet wrote, so the ring decides again.
      if (c.flow.proto === 'udp') assert.ok(fx.deleteLruEntry({ ...c.flow, dst: c.vip.address }, 0));
      // With that slot empty the flow has nowhere to go: nothing else in the ring was used.
      const b = take(fx);
      assert.equal(fx.run(syn).retval, XDP_ACTION.DROP, `${c.flow.src}:${c.flow.sport} with its slot emptied`);
      assertDelta(b, take(fx), {
        globals: { ...xdp('drop', syn.length), lru: [1, 0], chDrop: [0, 1], ...(c.flow.proto === 'tcp' ? { lruMiss: [1, 0] } : {}) },
      }, 'emptied slot counters');
    }
  });

  it('NO_LRU: every packet goes by the ring and no LRU entry is written', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const vip = VIPS.noLru;
    const flow = { src: C1, sport: 6000, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, vip, 1);
    const syn = flowFrame({ ...flow, dst: vip.address, flags: 'S' });
    assertBytes(fx.run(syn).data, expectedEncap(syn, REALS[1], C1, 6000), 'NO_LRU SYN');
    assert.equal(fx.lruEntry({ ...flow, dst: vip.address }, 0), null);
    fx.setSlot(vip.vipNum, pos, 2);
    const ack = flowFrame({ ...flow, dst: vip.address, flags: 'A' });
    const b = take(fx);
    assertBytes(fx.run(ack).data, expectedEncap(ack, REALS[2], C1, 6000), 'NO_LRU ACK follows the ring');
    assertDelta(b, take(fx), {
      globals: { ...xdp('tx', ack.length), lru: [1, 1], lruMiss: [0, 1] },
      vips: { [vip.vipNum]: [1, pktBytes(ack)] },
      reals: { 2: [1, pktBytes(ack)] },
    }, 'NO_LRU ACK counters');
  });

  it('a TCP RST is forwarded by the ring without writing the LRU', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const flow = { src: C1, sport: 6001, dport: 80, proto: 'tcp' as const };
    fx.routeFlow(flow, VIPS.tcp, 2);
    const rst = flowFrame({ ...flow, dst: VIPS.tcp.address, flags: 'R' });
    assertBytes(fx.run(rst).data, expectedEncap(rst, REALS[2], C1, 6001), 'RST');
    assert.equal(fx.lruEntry({ ...flow, dst: VIPS.tcp.address }, 0), null);
  });

  it('a CPU without an inner LRU uses fallback_cache and counts FALLBACK_LRU', async (t) => {
    if (!(await requireBpf(t))) return;
    const fx = fixture();
    const flow = { src: C1, sport: 7007, dport: 80, proto: 'tcp' as const };
    const pos = fx.routeFlow(flow, VIPS.tcp, 4);
    mapDelete(fx.fds[MAP.lruMapping], u32Key(0));
    try {
      const syn = flowFrame({ ...flow, dst: VIPS.tcp.address, flags: 'S' });
      const b = take(fx);
      assertBytes(fx.run(syn).data, expectedEncap(syn, REALS[4], C1, 7007), 'fallback SYN');
      assertDelta(b, take(fx), {
        globals: { ...xdp('tx', syn.length), lru: [1, 1], lruMiss: [1, 0], fallbackLru: [1, 0] },
        vips: { [VIPS.tcp.vipNum]: [1, pktBytes(syn)] },
        reals: { 4: [1, pktBytes(syn)] },
      }, 'fallback counters');
      assert.deepEqual(fx.lruEntry({ ...flow, dst: VIPS.tcp.address }, -1), { pos: 4, atime: 0n });
      assert.equal(fx.lruEntry({ ...flow, dst: VIPS.tcp.address }, 0), null);
      fx.setSlot(VIPS.tcp.vipNum, pos, 1);
      const ack = flowFrame({ ...flow, dst: VIPS.tcp.address, flags: 'A' });
      assertBytes(fx.run(ack).data, expectedEncap(ack, REALS[4], C1, 7007), 'fallback LRU hit');
    } finally {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(fx.lruFds.get(0)!, 0);
      mapUpdate(fx.fds[MAP.lruMapping], u32Key(0), v);
    }
  });
});
