// The demo's traffic plan (src/demo.ts): one generator stream per VIP and kind, rates that swing
// per VIP, bursts of new connections, a total that follows --rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_VIPS, DEMO_VLANS, demoPlan, demoStreams } from '../../src/lab/demo.js';
import { validateSpec } from '../../src/lab/generator.js';

test('demo plan: streams for every VIP, swinging weights, SYN bursts, the total under --rate', () => {
  const streams = demoStreams();
  assert.equal(new Set(streams.map((s) => s.dst)).size, DEMO_VIPS.length);
  assert.ok(streams.some((s) => s.proto === 'tcp-syn') && streams.some((s) => s.proto === 'tcp-ack') && streams.some((s) => s.proto === 'udp'));
  validateSpec({ ifname: 'x', srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', clientV4: '203.0.113.1', clientV6: '2001:db8:c::1', streams, durationMs: 1000 });
  const plans = Array.from({ length: 240 }, (_, i) => demoPlan(100_000, i * 500));
  for (const p of plans) {
    assert.equal(p.weights.length, streams.length);
    assert.ok(p.ratePps > 0 && p.ratePps <= 100_000 * 1.3, `rate ${p.ratePps}`);
  }
  const rates = plans.map((p) => p.ratePps);
  assert.ok(Math.max(...rates) / Math.min(...rates) > 1.3, 'the total swings');
  const first = plans.map((p) => p.weights[0]);
  assert.ok(Math.max(...first) / Math.min(...first) > 5, 'a VIP swings between 10% and 100% of its share');
  const syn = streams.findIndex((s) => s.proto === 'tcp-syn');
  const ratio = (p: { weights: number[] }): number => p.weights[syn] / p.weights[syn - 1]; // SYNs per established packet of that VIP
  const bursts = plans.filter((p) => p.burst);
  assert.ok(bursts.length >= 8, 'bursts happen (2 s of every 25 s)');
  const calm = plans.find((p) => !p.burst)!;
  assert.ok(Math.abs(ratio(bursts[0]) / ratio(calm) - 10) < 1e-9, 'new connections burst tenfold');
});

test('demo --vlans plan: every VIP stream tagged with the clients\' VLAN, one more stream on the unparsed VLAN, weights to match', () => {
  const streams = demoStreams({ vlans: true });
  const plain = demoStreams();
  assert.equal(streams.length, plain.length + 1);
  for (const s of streams.slice(0, -1)) assert.deepEqual(s.vlan, { vid: Number(DEMO_VLANS.clients) }, `${s.proto} to ${s.dst}`);
  const stray = streams[streams.length - 1];
  assert.deepEqual(stray.vlan, { vid: Number(DEMO_VLANS.unparsed) });
  assert.ok(DEMO_VIPS.some((v) => v.vip.startsWith(`${stray.dst}:${stray.dport}/`)), 'the unparsed VLAN carries VIP traffic');
  assert.equal(plain.some((s) => s.vlan), false, 'without --vlans nothing is tagged');
  validateSpec({ ifname: 'x', srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', clientV4: '203.0.113.1', clientV6: '2001:db8:c::1', streams, durationMs: 1000 });
  for (let i = 0; i < 60; i++) {
    const p = demoPlan(100_000, i * 500, { vlans: true });
    assert.equal(p.weights.length, streams.length);
    assert.equal(p.weights[p.weights.length - 1], DEMO_VLANS.unparsedShare);
    assert.deepEqual(p.weights.slice(0, -1), demoPlan(100_000, i * 500).weights);
  }
});
