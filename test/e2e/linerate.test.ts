// Flat out for a few seconds (millions of packets) through the balancer attached natively: the
// generator's new-flow SYNs to a v4 VIP with three weighted reals and LRU-hit UDP to a v6 VIP.
// Asserts the accounting, never a rate: the sink's per-real split follows the ring, the
// balancer's per-VIP and per-real counters match the sink, TOTAL = TX + DROP + PASS, and every
// frame offered is at the sink or in one of the kernel's named drop counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import { ethtoolStats, vethXdp, vethXdpDelta } from '../../src/lab/ethtool.js';
import { startLabGenerator } from '../../src/lab/generator.js';
import { pinRoot } from '../helpers/env.js';
import { globalStat, labId, newLab, pair, programVip, requireLab, settle, sinkOf, type TestVip } from './fixture.js';

const A: TestVip = { address: '192.0.2.40', port: 80, proto: 'tcp', vipNum: 0, reals: [
  { index: 1, address: '198.51.100.41', weight: 1 }, { index: 2, address: '198.51.100.42', weight: 2 }, { index: 3, address: '198.51.100.43', weight: 3 }] };
const B: TestVip = { address: '2001:db8:f::40', port: 53, proto: 'udp', vipNum: 1, reals: [{ index: 4, address: '2001:db8:e::41' }, { index: 5, address: '2001:db8:e::42' }] };

test('flat out: per-real counts follow the ring, the balancer\'s counters match the sink, every packet accounted for', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('linerate');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('r'), { sinkFlows: false }); // per real only: a new flow per packet would fill sink_flows
    h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native', pinRoot: root, lruSize: 65536 });
    const ringA = programVip(h, A);
    const ringB = programVip(h, B);
    const before = vethXdp(ethtoolStats(lab.intf));
    const r = await startLabGenerator(lab, {
      streams: [
        { proto: 'tcp-syn', dst: A.address, dport: A.port, clients: 254, ports: 200, weight: 3 },
        { proto: 'udp', dst: B.address, dport: B.port, clients: 10, ports: 30, weight: 1 },
      ],
      durationMs: 3000,
    }).done;
    await settle(300);
    assert.deepEqual(r.errors, []);
    assert.equal(r.sent, r.offered);
    assert.ok(r.offered > 100_000, `the generator sent ${r.offered} frames`);
    const peer = vethXdpDelta(r.ethtoolStart, r.ethtool);
    const after = vethXdp(ethtoolStats(lab.intf));
    const txErr = after.xdpTxErr - before.xdpTxErr;

    // Offered = received by the balancer (per VIP) + dropped at the balancer's ring.
    const vipA = pair(h, 'stats', A.vipNum).v1;
    const vipB = pair(h, 'stats', B.vipNum).v1;
    assert.equal(vipA + vipB + peer.xmitErr, r.offered, 'offered = per-VIP packets + drops at the balancer\'s ring');
    // XDP action counters: TOTAL = TX + DROP + PASS; every VIP packet was sent (no DROP).
    const tot = globalStat(h, 'xdpTotal').v1;
    const tx = globalStat(h, 'xdpTx').v1;
    assert.equal(tot, tx + globalStat(h, 'xdpDrop').v1 + globalStat(h, 'xdpPass').v1);
    assert.equal(globalStat(h, 'xdpDrop').v1, 0);
    assert.equal(tx, vipA + vipB);
    // The veth's own count of frames through XDP matches, but for the namespace's own frames (passed)
    // that arrive between reading the two.
    const seen = after.rxXdp - before.rxXdp;
    assert.ok(Math.abs(seen - tot) <= globalStat(h, 'xdpPass').v1 + 2, `veth counted ${seen} frames through XDP, the balancer ${tot}`);
    // TX = at the sink + the kernel's TX errors.
    const reals = [...A.reals, ...B.reals];
    const sinkTotal = reals.reduce((s, x) => s + sinkOf(lab!, x.address), 0);
    assert.equal(sinkTotal + txErr, tx, `TX ${tx} = sink ${sinkTotal} + TX errors ${txErr}`);
    assert.equal(lab.sinkOther(), 0);
    assert.deepEqual(lab.sinkFlows(), [], 'sinkFlows: false keeps the per-flow map empty');
    // Per real: the balancer's counter = the sink's (within the TX errors, which have no real).
    for (const x of reals) {
      const d = pair(h, 'realsStats', x.index).v1 - sinkOf(lab, x.address);
      assert.ok(d >= 0 && d <= txErr, `real ${x.address}: counter - sink = ${d} (TX errors ${txErr})`);
    }
    // The split follows the ring shares (50800 SYN flows cycled evenly; 300 UDP flows).
    for (const [vip, ring, sent] of [[A, ringA, vipA], [B, ringB, vipB]] as const) {
      for (const x of vip.reals) {
        const share = ring.filter((i) => i === x.index).length / ring.length;
        const got = sinkOf(lab, x.address) / sent;
        assert.ok(Math.abs(got - share) < (vip === A ? 0.03 : 0.15), `${x.address}: ${got.toFixed(3)} of ${vip.address}'s packets, ring share ${share.toFixed(3)}`);
      }
    }
  } finally {
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});
