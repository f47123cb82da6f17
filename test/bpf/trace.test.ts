// trace: "where does this flow go", computed in userspace and confirmed by prog_test_run on a clone
// of the program; the live LRUs and counters are untouched by a trace, and the live program then
// sends the same flow exactly where the trace said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { DOWN_REALS_INNER, parseVip, quicHeader, u32Key, vipDefinition } from '../../src/dataplane/abi.js';
import { BpfMap } from '../../src/dataplane/kernel/maps.js';
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE, TestRunner, XDP_ACTION, closeFd, mapCreate, mapFdById, mapUpdate, pinToCpu,
} from '../../src/dataplane/kernel/libbpf.js';
import { encapDestination, traceFrame } from '../../src/dataplane/trace/trace.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { handleFrom, loadTestBalancer, snapshot } from './control-helpers.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { builtObject, requireObject } from '../../src/dataplane/kernel/paths.js';

const V = parseVip('192.0.2.40:80/udp');
const T = parseVip('192.0.2.41:443/tcp');
const V6 = parseVip('[2001:db8::40]:80/udp');

/** Every entry of every live LRU (per-CPU inner maps and the fallback), as text. */
function liveLru(lb: ReturnType<typeof loadTestBalancer>): string[] {
  const out: string[] = [];
  const v = Buffer.alloc(4);
  for (let cpu = 0; cpu < lb.maps.lruMapping!.cpus; cpu++) {
    if (!lb.maps.lruMapping!.lookup(u32Key(cpu), v) || !v.readUInt32LE(0)) continue;
    const m = BpfMap.fromFd(`lru${cpu}`, mapFdById(v.readUInt32LE(0), true), { readOnly: true });
    const val = Buffer.alloc(16);
    for (const k of m.keys()) { m.lookup(k, val); out.push(`${cpu}:${k.toString('hex')}=${val.toString('hex')}`); }
    m.close();
  }
  const f = lb.maps.fallbackLru!;
  const val = Buffer.alloc(16);
  for (const k of f.keys()) { f.lookup(k, val); out.push(`fb:${k.toString('hex')}=${val.toString('hex')}`); }
  return out.sort();
}

test('trace agrees with the kernel clone and the live program, and changes no live LRU entry or counter', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const store = StateStore.open(scratchDir('trace'), { write: true });
  const bal = Balancer.open(handleFrom(lb), { store });
  const unpin = pinToCpu(0);
  const runner = new TestRunner(lb.progFd);
  try {
    bal.setDefaultMac('02:00:00:00:00:cc');
    for (const k of [V, T, V6]) bal.addVip({ ...k });
    for (const a of ['198.51.100.41', '198.51.100.42', '198.51.100.43']) bal.addReal(V, { address: a });
    bal.addReal(T, { address: '198.51.100.41', weight: 3 });
    bal.addReal(T, { address: '2001:db8:3::1' });
    bal.addReal(V6, { address: '2001:db8:3::1' });
    bal.addReal(V6, { address: '2001:db8:3::2' });

    // A few flows already in the live LRU, so that "unchanged" means something
    for (let i = 0; i < 5; i++) runner.run(traceFrame(`203.0.113.${100 + i}`, 9000 + i, V.address, 80, 'udp', false));
    const lruBefore = liveLru(lb);
    assert.ok(lruBefore.length >= 5);
    const before = snapshot(lb, [0, 1, 2]);

    const cases: { src: string; sport: number; vip: typeof V; syn?: boolean }[] = [];
    for (let i = 0; i < 20; i++) cases.push({ src: `203.0.113.${i + 1}`, sport: 20000 + i * 7, vip: V });
    for (let i = 0; i < 10; i++) cases.push({ src: `203.0.113.${i + 50}`, sport: 30000 + i, vip: T, syn: true });
    for (let i = 0; i < 10; i++) cases.push({ src: `2001:db8:ff::${i + 1}`, sport: 40000 + i, vip: V6 });
    const results = cases.map((c) => bal.trace({ src: c.src, sport: c.sport, vip: c.vip, syn: c.syn }));
    for (const [i, r] of results.entries()) {
      assert.equal(r.confirmedByKernel, true, `case ${i}: ${r.steps.join(' | ')}`);
      assert.equal(r.action, 'TX');
      assert.ok(r.real);
      assert.ok(r.ringSlot !== undefined);
    }
    // Nothing live changed: counters, rings, reals, vip_map and every LRU entry
    assert.deepEqual(snapshot(lb, [0, 1, 2]), before);
    assert.deepEqual(liveLru(lb), lruBefore);

    // The live program sends each flow where the trace said
    for (const [i, c] of cases.entries()) {
      const r = runner.run(traceFrame(c.src, c.sport, c.vip.address, c.vip.port, c.vip.proto, c.syn ?? false));
      assert.equal(r.retval, XDP_ACTION.TX);
      assert.equal(encapDestination(r.data), results[i].real, `case ${i}`);
    }
  } finally {
    runner.close();
    unpin();
    bal.close();
    lb.close();
  }
});

test('trace follows a live LRU entry after the ring changed; PASS for no VIP; DROP for an empty ring', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const store = StateStore.open(scratchDir('trace-lru'), { write: true });
  const bal = Balancer.open(handleFrom(lb), { store });
  const unpin = pinToCpu(0);
  const runner = new TestRunner(lb.progFd);
  try {
    bal.setDefaultMac('02:00:00:00:00:cc');
    bal.addVip({ ...V });
    bal.addReal(V, { address: '198.51.100.41' });
    // 40 UDP flows enter the live LRU on CPU 0, all to the only real
    for (let i = 0; i < 40; i++) runner.run(traceFrame('203.0.113.7', 50000 + i, V.address, 80, 'udp', false));
    bal.addReal(V, { address: '198.51.100.42' });
    bal.addReal(V, { address: '198.51.100.43' });
    // A flow the ring now sends elsewhere still goes to .41 through the LRU
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      const r = bal.trace({ src: '203.0.113.7', sport: 50000 + i, vip: V });
      assert.equal(r.confirmedByKernel, true, r.steps.join(' | '));
      assert.equal(r.real, '198.51.100.41');
      assert.ok(r.steps.some((s) => /LRU: CPU 0's LRU holds the flow/.test(s)), r.steps.join(' | '));
      const fresh = bal.trace({ src: '203.0.113.8', sport: 50000 + i, vip: V });
      if (fresh.real !== '198.51.100.41') found = true;
    }
    assert.ok(found, 'some new flow goes to another real');

    const pass = bal.trace({ src: '203.0.113.7', sport: 1, vip: parseVip('192.0.2.99:80/udp') });
    assert.deepEqual([pass.action, pass.real, pass.confirmedByKernel, pass.reason], ['PASS', null, true, 'no_vip']);
    bal.addVip({ address: '192.0.2.42', port: 53, proto: 'udp' });
    const drop = bal.trace({ src: '203.0.113.7', sport: 1, vip: parseVip('192.0.2.42:53/udp') });
    assert.deepEqual([drop.action, drop.real, drop.confirmedByKernel, drop.reason], ['DROP', null, true, 'slot_empty']);
    assert.ok(drop.steps.some((s) => /empty/.test(s)));
    assert.ok(drop.steps.some((s) => /kernel .*: DROP \(reason slot_empty\) — agrees/.test(s)), drop.steps.join(' | '));
    assert.equal(bal.trace({ src: '203.0.113.7', sport: 2, vip: V }).reason, undefined, 'a forwarded flow has no reason');
  } finally {
    runner.close();
    unpin();
    bal.close();
    lb.close();
  }
});

test('trace on UDP flow-migration and QUIC VIPs: a hit on a down real is re-hashed; the trace packet names no server id', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const store = StateStore.open(scratchDir('trace-quic'), { write: true });
  const bal = Balancer.open(handleFrom(lb), { store });
  const unpin = pinToCpu(0);
  const runner = new TestRunner(lb.progFd);
  const M = parseVip('192.0.2.43:5000/udp');
  const Q = parseVip('192.0.2.44:443/udp');
  let inner = -1;
  try {
    bal.setDefaultMac('02:00:00:00:00:cc');
    bal.addVip({ ...M, flags: ['udp-flow-migration'] });
    bal.addVip({ ...Q, flags: ['quic'] });
    for (const a of ['198.51.100.41', '198.51.100.42']) {
      bal.addReal(M, { address: a });
      bal.addReal(Q, { address: a });
    }
    const indexOf = (a: string) => bal.vips().find((v) => v.id === '192.0.2.43:5000/udp')!.reals.find((r) => r.address === a)!.index;
    // A flow in the live LRU; then its real is listed as down for M.
    runner.run(traceFrame('203.0.113.9', 41000, M.address, 5000, 'udp', false));
    const first = bal.trace({ src: '203.0.113.9', sport: 41000, vip: M });
    assert.equal(first.confirmedByKernel, true, first.steps.join(' | '));
    const hitReal = first.real!;
    inner = mapCreate(BPF_MAP_TYPE.HASH, 'kt_t_down', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, lb.sizes.maxReals, { flags: BPF_F_NO_PREALLOC });
    mapUpdate(inner, u32Key(indexOf(hitReal)), Buffer.alloc(1));
    lb.maps.downReals!.update(vipDefinition.encode(M), u32Key(inner));
    const down = bal.trace({ src: '203.0.113.9', sport: 41000, vip: M });
    assert.equal(down.confirmedByKernel, true, down.steps.join(' | '));
    assert.ok(down.steps.some((s) => /is down for 192\.0\.2\.43:5000\/udp/.test(s)), down.steps.join(' | '));
    assert.ok(down.ringSlot !== undefined, 'the ring decided');

    // The old trace payload (16 x 0x5a) parsed as CID v1 server id 26985: mapped, the clone would route by it.
    assert.deepEqual(quicHeader(Buffer.alloc(16, 0x5a)), { kind: 'id', cidVersion: 1, id: 26985 });
    assert.equal(quicHeader(traceFrame('203.0.113.9', 1, Q.address, 443, 'udp', false).subarray(42)).kind, 'none');
    const other = bal.trace({ src: '203.0.113.10', sport: 41001, vip: Q });
    const elsewhere = ['198.51.100.41', '198.51.100.42'].find((a) => a !== other.real)!;
    lb.maps.serverIds!.update(u32Key(26985), u32Key(indexOf(elsewhere)));
    const q = bal.trace({ src: '203.0.113.10', sport: 41001, vip: Q });
    assert.equal(q.confirmedByKernel, true, q.steps.join(' | '));
    assert.equal(q.real, other.real);
  } finally {
    if (inner >= 0) closeFd(inner);
    runner.close();
    unpin();
    bal.close();
    lb.close();
  }
});

test('trace names the reason from the clone\'s kt_reasons; without kt_reasons (as upstream) the userspace one', async (t) => {
  if (!(await requireBpf(t))) return;
  for (const [name, lb] of [['own', loadTestBalancer()], ['no kt_reasons', loadBalancer(requireObject(builtObject('test/bpf/balancer_no_reasons.bpf.c')), { lruSize: 4096 })]] as const) {
    const bal = Balancer.open(handleFrom(lb), { store: StateStore.open(scratchDir(`trace-reason-${name === 'own' ? 'own' : 'none'}`), { write: true }) });
    try {
      bal.setDefaultMac('02:00:00:00:00:cc');
      bal.addVip({ address: '192.0.2.44', port: 53, proto: 'udp' });
      const drop = bal.trace({ src: '203.0.113.7', sport: 1, vip: parseVip('192.0.2.44:53/udp') });
      assert.deepEqual([drop.action, drop.reason, drop.confirmedByKernel], ['DROP', 'slot_empty', true], `${name}: ${drop.steps.join(' | ')}`);
      assert.equal(drop.steps.some((s) => /\(reason slot_empty\)/.test(s)), name === 'own', `${name}: the kernel's reason only where it counts one`);
    } finally {
      bal.close();
      lb.close();
    }
  }
});
