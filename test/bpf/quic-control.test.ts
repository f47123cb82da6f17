// QUIC server-id mappings and down reals through the control plane on a real loaded balancer (not
// attached; server_id_map sized 4096): server_id_map and vip_to_down_reals_map hold what the desired
// state says, a mapping holds a reference on its real's index, bad input changes nothing, a
// failing write rolls back, and a packet whose CID names a mapped id goes to that real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from '../../src/dataplane/control/control.js';
import { ChangeError, Reconciler } from '../../src/dataplane/control/reconciler.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { InputError, parseVip, u32Key } from '../../src/dataplane/abi.js';
import { TestRunner, XDP_ACTION, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { StatsSampler } from '../../src/dataplane/stats/stats.js';
import { prometheus, statsJson } from '../../src/cli/format.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { balancerObject, handleFrom, ipipOuterDst, snapshot, v4Frame } from './control-helpers.js';

const MAC = '02:00:00:00:00:aa';
const QV = parseVip('192.0.2.20:443/udp');
const R1 = '198.51.100.71';
const R2 = '198.51.100.72';
const R3 = '198.51.100.73';
const IDS = 4096;

function setup(name: string, faults?: (step: string) => void) {
  const lb = loadBalancer(balancerObject(), { lruSize: 4096, quicServerIds: IDS });
  const dir = scratchDir(name);
  const store = StateStore.open(dir, { write: true });
  const handle = handleFrom(lb);
  const cp = ControlPlane.open(handle, store, faults ? { faults } : {});
  return { lb, dir, store, cp, close() { store.close(); lb.close(); } };
}

function sid(lb: ReturnType<typeof loadBalancer>, id: number): number {
  const b = Buffer.alloc(4);
  lb.maps.serverIds!.lookup(u32Key(id), b);
  return b.readUInt32LE(0);
}

function state(dir: string): string {
  return readFileSync(join(dir, 'state.json'), 'utf8');
}

/** A snapshot of every map this feature writes, plus the state file. */
function all(s: ReturnType<typeof setup>, ids: number[]): string {
  const r = new Reconciler(s.lb.maps, s.lb.sizes.ringSize);
  return JSON.stringify({ maps: snapshot(s.lb), ids: ids.map((i) => sid(s.lb, i)), down: [...r.downIndexes(QV)], state: JSON.parse(state(s.dir)).state });
}

/** A short-header QUIC datagram whose CID (v1) names `id`: CID[0] = 0x40 | id >> 10, CID[1] = id >> 2, CID[2] = (id & 3) << 6. */
function quicShort(id: number, sport: number): Buffer {
  const f = v4Frame({ src: '203.0.113.9', dst: QV.address, sport, dport: QV.port, proto: 'udp', payload: 16 });
  const p = 14 + 20 + 8;
  f[p] = 0x40; // short header
  f[p + 1] = 0x40 | (id >> 10);
  f[p + 2] = (id >> 2) & 0xff;
  f[p + 3] = (id & 3) << 6;
  return f;
}

test('QUIC mappings: kernel entries, refcounted indexes, id routing, delete clears the kernel', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('quic-map');
  const unpin = pinToCpu(0);
  const run = new TestRunner(s.lb.progFd);
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...QV, flags: ['quic'] });
    cp.addReal(QV, { address: R1 });
    cp.addReal(QV, { address: R2 });

    // A mapping to a real of the VIP shares its index.
    const idx = new Map(cp.state().reals.map((r) => [r.address, r.index]));
    const r = cp.addQuicMapping(1024, R2);
    assert.deepEqual(r.warnings, []);
    assert.equal(sid(lb, 1024), idx.get(R2));
    assert.deepEqual(cp.quicMappings(), [{ id: 1024, real: R2, index: idx.get(R2) }]);
    assert.deepEqual(JSON.parse(state(s.dir)).state.quic, [{ id: 1024, real: R2 }]);

    // Packets carrying id 1024 go to R2 whatever their flow; remapping to a new real moves them.
    for (const sport of [40000, 40001, 40002, 40003]) {
      const out = run.run(quicShort(1024, sport));
      assert.equal(out.retval, XDP_ACTION.TX);
      assert.equal(ipipOuterDst(out.data), R2);
    }
    const rm = cp.addQuicMapping('1024', R3);
    assert.match(rm.summary[0], /^remap QUIC server id 1024: 198\.51\.100\.72 -> 198\.51\.100\.73 \(index \d+\)$/);
    assert.ok(rm.warnings.some((w) => /is a real of no VIP/.test(w)), rm.warnings.join('|'));
    const i3 = cp.state().reals.find((x) => x.address === R3)!.index;
    assert.equal(sid(lb, 1024), i3);
    assert.equal(ipipOuterDst(run.run(quicShort(1024, 40000)).data), R3);

    // Removing a mapped real from its last VIP keeps its index (and says so); draining warns too.
    cp.addQuicMapping(7, R1);
    const dr = cp.setRealWeight(QV, R1, 0);
    assert.ok(dr.warnings.some((w) => /^draining does not stop id-routed QUIC traffic: server id\(s\) 7 still route to 198\.51\.100\.71/.test(w)), dr.warnings.join('|'));
    const i1 = idx.get(R1)!;
    const del = cp.removeReal(QV, R1);
    assert.ok(del.warnings.some((w) => w.startsWith(`${R1} is in no VIP now, but QUIC server id(s) 7 still route to it: its index ${i1} is kept`)), del.warnings.join('|'));
    assert.equal(cp.state().reals.find((x) => x.address === R1)?.index, i1);
    assert.equal(sid(lb, 7), i1);
    // ... and a new real does not get that index.
    cp.addReal(QV, { address: '198.51.100.74' });
    assert.notEqual(cp.state().reals.find((x) => x.address === '198.51.100.74')!.index, i1);

    // Deleting the last mapping frees the index and clears server_id_map[id].
    const qd = cp.removeQuicMapping(7);
    assert.ok(qd.summary.includes(`index ${i1} is freed (nothing uses ${R1})`), qd.summary.join('|'));
    assert.equal(sid(lb, 7), 0);
    assert.equal(cp.state().reals.some((x) => x.address === R1), false);

    // Bad ids and addresses: one clear line each, nothing changed.
    const before = all(s, [1, 7, 1024, 4095]);
    const bad: [() => unknown, RegExp][] = [
      [() => cp.addQuicMapping(0, R2), /^bad server id "0": expected a whole number from 1 to 4095 \(0xfff\), the ids server_id_map can route$/],
      [() => cp.addQuicMapping(4096, R2), /^bad server id "4096": expected a whole number from 1 to 4095/],
      [() => cp.addQuicMapping('abc', R2), /^bad server id "abc": expected a whole number/],
      [() => cp.addQuicMapping(5, '198.51.100.300'), /198\.51\.100\.300/],
      [() => cp.removeQuicMapping(5), /^delete QUIC mapping: server id 5 is not mapped/],
      [() => cp.removeQuicMapping(0), /^bad server id "0"/],
    ];
    for (const [f, re] of bad) {
      assert.throws(f, (e: Error) => e instanceof InputError && re.test(e.message) && !e.message.includes('\n'), String(re));
    }
    assert.equal(all(s, [1, 7, 1024, 4095]), before);

    // A new open (a later process) reads the mappings back from the state file; the kernel agrees.
    s.store.close();
    const again = ControlPlane.open(handleFrom(lb), StateStore.open(s.dir, { write: true }));
    assert.deepEqual(again.quicMappings(), [{ id: 1024, real: R3, index: i3 }]);
    assert.deepEqual(again.quicMappingsDrift(), []);
    // A hand-cleared entry is drift: the next writer's open repairs it.
    lb.maps.serverIds!.update(u32Key(1024), u32Key(0));
    assert.deepEqual(again.quicMappingsDrift(), [1024]);
  } finally {
    unpin();
    run.close();
    s.close();
  }
});

test('a failing write while mapping rolls back server_id_map, reals and the state', async (t) => {
  if (!(await requireBpf(t))) return;
  let armed = false;
  const s = setup('quic-rollback', (step) => { if (armed && step === 'down-reals') { armed = false; throw new Error('injected'); } });
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...QV, flags: ['quic', 'udp-flow-migration'] });
    cp.addReal(QV, { address: R1 });
    cp.setRealDown(QV, R1, true);
    const before = all(s, [9]);
    armed = true;
    assert.throws(() => cp.apply({ vips: [{ key: QV, flags: ['quic', 'udp-flow-migration'], reals: [{ address: R1, weight: 1 }] }], quicMappings: [{ id: 9, real: R2 }] }),
      (e: Error) => e instanceof ChangeError && e.rolledBack);
    assert.equal(sid(lb, 9), 0);
    assert.equal(all(s, [9]), before);
  } finally {
    s.close();
  }
});

test('down reals: only on udp-flow-migration VIPs, in vip_to_down_reals_map, cleared with the flag', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('quic-down');
  try {
    const { cp } = s;
    const rec = new Reconciler(s.lb.maps, s.lb.sizes.ringSize);
    cp.setDefaultMac(MAC);
    cp.addVip({ ...QV, flags: ['quic'] });
    cp.addReal(QV, { address: R1 });
    cp.addReal(QV, { address: R2 });
    const before = all(s, []);
    assert.throws(() => cp.setRealDown(QV, R1, true), (e: Error) => e instanceof InputError
      && e.message === `mark real down ${R1} in 192.0.2.20:443/udp: the VIP has no udp-flow-migration flag (the kernel consults down reals only for such VIPs; vip flags can add it)`);
    assert.equal(all(s, []), before);

    cp.setVipFlags(QV, ['quic', 'udp-flow-migration']);
    const d = cp.setRealDown(QV, R1, true);
    assert.ok(d.warnings[0].includes('the ring is unchanged, so the hash may pick'), d.warnings.join('|'));
    const i1 = cp.state().reals.find((x) => x.address === R1)!.index;
    assert.deepEqual([...rec.downIndexes(QV)], [i1]);
    assert.equal(cp.vips()[0].reals.find((r) => r.address === R1)!.down, true);
    assert.equal(cp.setRealDown(QV, R1, true).summary[0], `${R1} in 192.0.2.20:443/udp is already down: nothing to change`);
    assert.throws(() => cp.setRealDown(QV, R3, true), (e: Error) => e instanceof InputError && /it is not a real of this VIP$/.test(e.message));

    cp.setRealDown(QV, R1, false);
    assert.deepEqual([...rec.downIndexes(QV)], []);
    cp.setRealDown(QV, R2, true);
    const fl = cp.setVipFlags(QV, ['quic']);
    assert.ok(fl.warnings.some((w) => /down mark\(s\) of 198\.51\.100\.72 are cleared/.test(w)), fl.warnings.join('|'));
    assert.deepEqual([...rec.downIndexes(QV)], []);
    assert.equal(s.lb.maps.downReals!.keys().length, 0);
  } finally {
    s.close();
  }
});

test('the sampler reads quic_stats_map: counters summed, the invalid-id sample per CPU; --json and Prometheus carry them', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('quic-stats');
  const unpin = pinToCpu(0);
  const run = new TestRunner(s.lb.progFd);
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...QV, flags: ['quic'] });
    cp.addReal(QV, { address: R1 });
    cp.addQuicMapping(1024, R1);
    const sampler = new StatsSampler(lb.maps, lb.sizes);
    sampler.sample([], []);
    for (const sport of [41000, 41001, 41002]) assert.equal(run.run(quicShort(1024, sport)).retval, XDP_ACTION.TX);
    assert.equal(run.run(quicShort(5000, 41003)).retval, XDP_ACTION.TX); // beyond the 4096-entry map: falls back
    const q = sampler.sample([], []).quic!;
    assert.equal(q.totals.cidRouted, 3);
    assert.equal(q.totals.cidV1, 4);
    assert.equal(q.totals.cidInvalidServerId, 1);
    assert.equal(q.totals.chRouted, 1);
    assert.deepEqual(q.invalidIdSamples, [{ cpu: 0, id: 5000 }]);
    const sample = { ...sampler.sample([], []), quic: q };
    const j = statsJson('test0', sample) as { quic: Record<string, unknown> };
    assert.equal(j.quic.cid_routed, 3);
    assert.equal(j.quic.dst_not_found_in_lru, 3);
    assert.deepEqual(j.quic.cid_invalid_server_id_sample, [{ cpu: 0, id: 5000 }]);
    const prom = prometheus('test0', sample);
    assert.match(prom, /^katran_quic_packets_total\{intf="test0",kind="cid_routed"\} 3$/m);
    assert.match(prom, /^katran_quic_packets_total\{intf="test0",kind="cid_invalid_server_id"\} 1$/m);
    assert.match(prom, /^katran_quic_invalid_server_id_sample\{intf="test0",cpu="0"\} 5000$/m);
  } finally {
    unpin();
    run.close();
    s.close();
  }
});

test('observe mode (no desired state, read-only): mappings from one batched scan of server_id_map, down marks and QUIC counters from the kernel', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('quic-observe');
  const unpin = pinToCpu(0);
  const run = new TestRunner(s.lb.progFd);
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...QV, flags: ['quic', 'udp-flow-migration'] });
    cp.addReal(QV, { address: R1 });
    cp.addReal(QV, { address: R2 });
    cp.addQuicMapping(3, R2);
    cp.addQuicMapping(4095, R1);
    cp.setRealDown(QV, R2, true);
    run.run(quicShort(3, 42000));
    const idx = new Map(cp.state().reals.map((r) => [r.address, r.index]));
    const observed = ControlPlane.open(handleFrom(lb, { readOnly: true, readOnlyReason: 'observing' }), null);
    assert.deepEqual(observed.quicMappings(), [{ id: 3, real: R2, index: idx.get(R2) }, { id: 4095, real: R1, index: idx.get(R1) }]);
    const v = observed.vips()[0];
    assert.deepEqual(v.reals.map((r) => [r.address, !!r.down]), [[R1, false], [R2, true]]);
    assert.throws(() => observed.addQuicMapping(5, R1), (e: Error) => e.name === 'ReadOnlyError');
    assert.equal(new StatsSampler(lb.maps, lb.sizes).sample([], []).quic!.totals.cidRouted, 1);
  } finally {
    unpin();
    run.close();
    s.close();
  }
});
