// The balancer attached natively on the lab's veth, real traffic from the client namespace: UDP
// datagrams and TCP SYNs to IPv4 and IPv6 VIPs, then crafted ACKs of those (never established)
// flows. The sink on the peer must see IPIP / IP6IP6 to the expected reals, and the per-VIP and
// per-real counters must agree with what was sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import { TCP_FLAGS } from '../../src/lab/frames.js';
import { pinRoot } from '../helpers/env.js';
import { globalStat, labId, lruEntries, newLab, pair, programVip, readMac, requireLab, setMac, settle, sinkOf, type TestVip } from './fixture.js';

const A: TestVip = { address: '192.0.2.1', port: 53, proto: 'udp', vipNum: 0, reals: [{ index: 1, address: '198.51.100.1' }] };
const B: TestVip = { address: '192.0.2.2', port: 80, proto: 'tcp', vipNum: 1, reals: [{ index: 2, address: '198.51.100.2' }, { index: 3, address: '198.51.100.3', weight: 2 }] };
const C: TestVip = { address: '2001:db8:f::1', port: 443, proto: 'tcp', vipNum: 2, reals: [{ index: 4, address: '2001:db8:e::1' }] };
const D: TestVip = { address: '2001:db8:f::2', port: 53, proto: 'udp', vipNum: 3, reals: [{ index: 5, address: '2001:db8:e::2' }, { index: 6, address: '2001:db8:e::3' }] };

test('UDP, TCP SYNs and crafted ACKs to v4 and v6 VIPs reach the expected reals; counters agree', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('fwd');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('f'));
    h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native', pinRoot: root, lruSize: 4096 });
    assert.equal(h.mode, 'native');
    assert.equal(readMac(h).toString('hex'), lab.defaultMac.replace(/:/g, ''));
    for (const v of [A, B, C, D]) programVip(h, v);

    const [c4, c6] = [lab.clientsV4, lab.clientsV6];
    const report = await lab.traffic({
      ratePps: 400,
      durationMs: 20_000,
      flows: [
        { proto: 'udp', src: c4[0], sport: 40001, dst: A.address, dport: A.port, count: 10 },
        { proto: 'udp', src: c4[1], sport: 40002, dst: A.address, dport: A.port, count: 10 },
        ...c4.map((src) => ({ proto: 'tcp-syn' as const, src, dst: B.address, dport: B.port, count: 3 })),
        { proto: 'tcp-syn', src: c6[0], dst: C.address, dport: C.port, count: 3 },
        { proto: 'tcp-syn', src: c6[1], dst: C.address, dport: C.port, count: 3 },
        ...c6.map((src, i) => ({ proto: 'udp' as const, src, sport: 42000 + i, dst: D.address, dport: D.port, count: 5 })),
      ],
    });
    assert.deepEqual(report.errors, []);
    const sent = (vip: TestVip): number => report.flows.filter((f) => f.dst === vip.address && f.dport === vip.port).reduce((s, f) => s + f.packets, 0);
    assert.equal(sent(A), 20);
    assert.equal(sent(B), 12);
    assert.equal(sent(C), 6);
    assert.equal(sent(D), 20);
    await settle();

    // Which real did each SYN flow get? The LRU (written by the SYN) says.
    const synFlows = report.flows.filter((f) => f.proto === 'tcp-syn');
    const realOfFlow = new Map<string, number>();
    for (const f of synFlows) {
      assert.equal(f.sports.length, f.packets, 'every SYN used its own ephemeral port');
      for (const sport of f.sports) {
        const e = lruEntries(h, { src: f.src, dst: f.dst, sport, dport: f.dport, proto: 'tcp' });
        assert.ok(e.length >= 1, `an LRU entry for ${f.src}:${sport} -> ${f.dst}:${f.dport}`);
        realOfFlow.set(`${f.src}|${sport}|${f.dst}`, e[0].pos);
      }
    }
    // Crafted ACKs for each of those flows: an established flow's packets.
    const acks = synFlows.flatMap((f) => f.sports.map((sport) => lab!.frame({ src: f.src, dst: f.dst, sport, dport: f.dport, proto: 'tcp', tcpFlags: TCP_FLAGS.ACK })));
    const lruBefore = globalStat(h, 'lru');
    const missBefore = globalStat(h, 'lruMiss');
    assert.equal(await lab.sendFrames(acks, { repeat: 2 }), acks.length * 2);
    await settle();
    const lruAfter = globalStat(h, 'lru');
    const missAfter = globalStat(h, 'lruMiss');
    assert.equal(lruAfter.v1 - lruBefore.v1, acks.length * 2, 'every ACK was a VIP packet');
    assert.equal(missAfter.v1 - missBefore.v1, 0, 'no ACK counted as a SYN miss');

    // Expected per real: UDP VIPs with one real exactly; TCP flows by their LRU real (SYN + 2 ACKs).
    const expected = new Map<number, number>();
    const add = (idx: number, n: number): void => { expected.set(idx, (expected.get(idx) ?? 0) + n); };
    add(1, 20);
    for (const pos of realOfFlow.values()) add(pos, 3);
    const realAddr = new Map([...A.reals, ...B.reals, ...C.reals, ...D.reals].map((r) => [r.index, r.address]));
    for (const [idx, n] of expected) {
      assert.equal(sinkOf(lab, realAddr.get(idx)!), n, `sink count of real ${realAddr.get(idx)}`);
      assert.equal(pair(h, 'realsStats', idx).v1, n, `reals_stats of real ${idx}`);
    }
    // D's two reals: split unknown, total exact; per-real counters equal the sink's.
    assert.equal(sinkOf(lab, '2001:db8:e::2') + sinkOf(lab, '2001:db8:e::3'), 20);
    for (const r of D.reals) assert.equal(pair(h, 'realsStats', r.index).v1, sinkOf(lab, r.address));
    // B's flows spread over both reals (12 SYN flows over weights 1:2; the chance that all land on one is tiny).
    assert.equal(sinkOf(lab, '198.51.100.2') + sinkOf(lab, '198.51.100.3'), 36);

    // Per-VIP counters.
    assert.equal(pair(h, 'stats', A.vipNum).v1, 20);
    assert.equal(pair(h, 'stats', B.vipNum).v1, 36);
    assert.equal(pair(h, 'stats', C.vipNum).v1, 18);
    assert.equal(pair(h, 'stats', D.vipNum).v1, 20);
    // Nothing else was encapsulated; the sink saw the default MAC on every frame (when it counts that).
    const total = lab.sinkCounts().reduce((s, c) => s + c.packets, 0);
    assert.equal(total, 20 + 36 + 18 + 20);
    for (const c of lab.sinkCounts()) {
      assert.ok(c.family === (c.dst.includes(':') ? 6 : 4));
      if (c.wrongMac !== undefined) assert.equal(c.wrongMac, 0, `frames to ${c.dst} carried the default MAC`);
    }
    assert.ok(globalStat(h, 'xdpTx').v1 >= total);

    // Per flow (sink_flows): every SYN flow arrived at the real its LRU entry names; each UDP flow
    // to D stuck to one real.
    const flows = lab.sinkFlows();
    for (const [k, pos] of realOfFlow) {
      const [src, sport, dst] = k.split('|');
      const seen = flows.filter((f) => f.src === src && f.sport === Number(sport) && f.dst === dst);
      assert.deepEqual(seen.map((f) => [f.real, f.packets]), [[realAddr.get(pos), 3]], `flow ${k}`);
    }
    for (const f of report.flows.filter((x) => x.dst === D.address)) {
      const seen = flows.filter((x) => x.src === f.src && x.sport === f.sports[0] && x.dst === D.address);
      assert.equal(seen.length, 1, `UDP flow ${f.src}:${f.sports[0]} went to one real`);
      assert.equal(seen[0].packets, 5);
      assert.equal(seen[0].proto, 17);
    }

    // The MAC check has teeth: with another default MAC the sink counts wrong-MAC frames.
    setMac(h, '02:00:00:00:00:99');
    lab.resetSinkCounts();
    await lab.traffic({ flows: [{ proto: 'udp', src: c4[0], dst: A.address, dport: A.port, count: 3 }] });
    await settle();
    assert.deepEqual(lab.sinkCounts().map((c) => [c.dst, c.packets, c.wrongMac]), [['198.51.100.1', 3, 3]]);
  } finally {
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});
