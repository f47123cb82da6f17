// The sampler on a real loaded balancer: counters from prog_test_run packets appear per VIP, per
// real, globally and per CPU, with rates over the elapsed time of a controlled monotonic clock;
// counters that go backwards are resets (rate 0, listed); NEW_CONN_RATE over the limit is a flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { DROP_REASONS, MAP, PASS_REASONS, REASONS, STATS, parseVip, u32Key } from '../../src/dataplane/abi.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { builtObject, requireObject } from '../../src/dataplane/kernel/paths.js';
import { TestRunner, XDP_ACTION, currentCpu, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { flowFrame } from '../helpers/packets.js';
import { encapDestination } from '../../src/dataplane/trace/trace.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { handleFrom, loadTestBalancer } from './control-helpers.js';

const A = parseVip('192.0.2.30:80/udp');
const B = parseVip('[2001:db8::30]:443/udp');

test('sample: per-VIP, per-real, global and per-CPU counters and rates from real packets', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const store = StateStore.open(scratchDir('stats'), { write: true });
  let clock = 1000;
  const bal = Balancer.open(handleFrom(lb), { store, monotonicMs: () => clock });
  const unpin = pinToCpu(0);
  try {
    bal.setDefaultMac('02:00:00:00:00:bb');
    bal.addVip({ ...A });
    bal.addReal(A, { address: '198.51.100.31' });
    bal.addReal(A, { address: '198.51.100.32' });
    bal.addVip({ ...B });
    bal.addReal(B, { address: '2001:db8:2::1' });
    const s0 = bal.sample();
    assert.equal(s0.elapsedMs, 0);
    assert.equal(s0.global.xdpTotal.r1, 0);
    assert.deepEqual(s0.resets, []);

    const runner = new TestRunner(lb.progFd);
    const perReal = new Map<string, number>();
    const cpu = currentCpu();
    for (let i = 0; i < 30; i++) {
      const r = runner.run(flowFrame({ src: `203.0.113.${i + 1}`, dst: A.address, sport: 3000 + i, dport: 80, proto: 'udp', payloadLen: 16 }));
      assert.equal(r.retval, XDP_ACTION.TX);
      const dst = encapDestination(r.data)!;
      perReal.set(dst, (perReal.get(dst) ?? 0) + 1);
    }
    for (let i = 0; i < 10; i++) {
      const r = runner.run(flowFrame({ src: `2001:db8:ff::${i + 1}`, dst: B.address, sport: 3000 + i, dport: 443, proto: 'udp', payloadLen: 16 }));
      assert.equal(r.retval, XDP_ACTION.TX);
    }
    const passed = flowFrame({ src: '203.0.113.200', dst: '192.0.2.99', sport: 3000, dport: 80, proto: 'udp' });
    for (let i = 0; i < 5; i++) {
      const r = runner.run(flowFrame({ src: '203.0.113.200', dst: '192.0.2.99', sport: 3000 + i, dport: 80, proto: 'udp' }));
      assert.equal(r.retval, XDP_ACTION.PASS);
    }
    // Three frames cut inside their UDP header: dropped as l4_header_cut.
    const cut = passed.subarray(0, 14 + 20 + 4);
    for (let i = 0; i < 3; i++) assert.equal(runner.run(cut).retval, XDP_ACTION.DROP);
    runner.close();
    clock += 2000;
    const s1 = bal.sample();
    assert.equal(s1.elapsedMs, 2000);
    const va = s1.vips.find((v) => v.id === '192.0.2.30:80/udp')!;
    const vb = s1.vips.find((v) => v.id === '[2001:db8::30]:443/udp')!;
    // v4: bytes are IPv4 tot_len (20 + 8 + 16); v6: payload_len (8 + 16)
    assert.deepEqual({ p: va.packets, b: va.bytes, pps: va.pps, bps: va.bps }, { p: 30, b: 30 * 44, pps: 15, bps: 15 * 44 * 8 });
    assert.deepEqual({ p: vb.packets, b: vb.bytes, pps: vb.pps, bps: vb.bps }, { p: 10, b: 10 * 24, pps: 5, bps: 5 * 24 * 8 });
    for (const r of s1.reals) {
      const want = r.address === '2001:db8:2::1' ? 10 : perReal.get(r.address) ?? 0;
      assert.equal(r.packets, want, `real ${r.address}`);
      assert.equal(r.pps, want / 2);
    }
    assert.equal(s1.global.xdpTotal.v1, 48);
    assert.equal(s1.global.xdpTotal.r1, 24);
    assert.equal(s1.global.xdpTx.v1, 40);
    assert.equal(s1.global.xdpPass.v1, 5);
    assert.equal(s1.global.xdpDrop.v1, 3);
    // kt_reasons: every reason in list order; only no_vip and l4_header_cut moved.
    const rs = s1.reasons!;
    assert.deepEqual(rs.drop.map((r) => r.reason), [...DROP_REASONS]);
    assert.deepEqual(rs.pass.map((r) => r.reason), [...PASS_REASONS]);
    const moved = [...rs.drop, ...rs.pass].filter((r) => r.packets > 0).map((r) => ({ ...r }));
    assert.deepEqual(moved, [
      { reason: 'l4_header_cut', packets: 3, bytes: 3 * cut.length, pps: 1.5, bps: 1.5 * cut.length * 8 },
      { reason: 'no_vip', packets: 5, bytes: 5 * passed.length, pps: 2.5, bps: 2.5 * passed.length * 8 },
    ]);
    assert.equal(rs.pass.find((r) => r.reason === 'no_vip')!.bytes, s1.global.xdpPass.v2, 'pass reasons sum to XDP_PASS bytes');
    assert.equal(s1.global.lru.v1, 40, 'LRU.v1 counts VIP packets');
    assert.equal(s1.global.lru.v2, 40, 'all new flows: ring-routed (LRU misses)');
    assert.equal(s1.perCpu.length, lb.maps.stats.cpus);
    assert.equal(s1.perCpu.reduce((n, c) => n + c.total.v1, 0), 48);
    assert.equal(s1.perCpu[cpu].total.v1, 48, 'every packet ran on the pinned CPU');
    assert.equal(s1.perCpu[cpu].tx.r1, 20);
    assert.deepEqual(s1.resets, []);
    assert.equal(s1.underFlood, false);

    // A counter that goes backwards (as after a reload) is a reset: rate 0 and listed
    const stats = lb.maps.stats;
    stats.update(u32Key(lb.sizes.maxVips + STATS.xdpTotal), stats.newValueBuffer());
    const rz = lb.maps.realsStats;
    rz.update(u32Key(3), rz.newValueBuffer());
    clock += 1000;
    const s2 = bal.sample();
    assert.equal(s2.global.xdpTotal.v1, 0);
    assert.equal(s2.global.xdpTotal.r1, 0);
    assert.ok(s2.resets.includes('xdpTotal.v1') && s2.resets.includes('xdpTotal.v2'), s2.resets.join());
    assert.ok(s2.resets.includes('cpu0.xdpTotal.v1') || cpu !== 0);
    assert.ok(s2.resets.some((r) => r.startsWith('real 2001:db8:2::1#3')), s2.resets.join());
    assert.ok(s2.reals.every((r) => r.pps >= 0) && s2.perCpu.every((c) => c.total.r1 >= 0));
    assert.equal(s2.global.xdpTx.r1, 0, 'no traffic: rate 0');

    // NEW_CONN_RATE over the per-CPU limit in the interval: under flood
    const v = stats.newValueBuffer();
    const stride = stats.valueBufferSize / stats.cpus;
    v.writeBigUInt64LE(200000n, cpu * stride);
    v.writeBigUInt64LE(123n, cpu * stride + 8);
    stats.update(u32Key(lb.sizes.maxVips + STATS.newConnRate), v);
    clock += 1000;
    assert.equal(bal.sample().underFlood, true);
    clock += 1000;
    assert.equal(bal.sample().underFlood, false, 'the window did not move in this interval');
  } finally {
    unpin();
    bal.close();
    lb.close();
  }
});

test('sample: reasons null for an object without kt_reasons (as upstream Katran); rates of a reason reset to 0 when it goes backwards', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadBalancer(requireObject(builtObject('test/bpf/balancer_no_reasons.bpf.c')), { lruSize: 4096 });
  const store = StateStore.open(scratchDir('stats-noreasons'), { write: true });
  const bal = Balancer.open(handleFrom(lb), { store });
  try {
    assert.equal(lb.maps.all.has(MAP.reasons), false);
    const runner = new TestRunner(lb.progFd);
    assert.equal(runner.run(flowFrame({ src: '203.0.113.9', dst: '192.0.2.99', sport: 1, dport: 80, proto: 'udp' })).retval, XDP_ACTION.PASS);
    runner.close();
    const s = bal.sample();
    assert.equal(s.reasons, null);
    assert.equal(s.global.xdpPass.v1, 1, 'the rest of the sample is there');
  } finally {
    bal.close();
    lb.close();
  }

  // A reason counter that goes backwards (a reload) is a reset, as every counter.
  const own = loadTestBalancer();
  let clock = 0;
  const b2 = Balancer.open(handleFrom(own), { store: StateStore.open(scratchDir('stats-reasons-reset'), { write: true }), monotonicMs: () => clock });
  try {
    const runner = new TestRunner(own.progFd);
    runner.run(flowFrame({ src: '203.0.113.9', dst: '192.0.2.99', sport: 1, dport: 80, proto: 'udp' }));
    runner.close();
    b2.sample();
    const m = own.maps.all.get(MAP.reasons)!;
    m.update(u32Key(REASONS.passBase + PASS_REASONS.indexOf('no_vip')), m.newValueBuffer());
    clock += 1000;
    const s = b2.sample();
    assert.equal(s.reasons!.pass.find((r) => r.reason === 'no_vip')!.packets, 0);
    assert.ok(s.resets.includes('reason.pass.no_vip.v1'), s.resets.join());
    assert.ok([...s.reasons!.drop, ...s.reasons!.pass].every((r) => r.pps === 0));
  } finally {
    b2.close();
    own.close();
  }
});
