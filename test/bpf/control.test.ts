// The control plane on a real loaded balancer (not attached): changes land in the kernel maps in
// the right order, packets run through prog_test_run go where the ring says, indexes and vip_nums
// are reused with their counters zeroed, bad input and full maps change nothing, and a kernel
// write failing midway is rolled back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from '../../src/dataplane/control/control.js';
import { type DesiredState } from '../../src/dataplane/control/desired.js';
import { ChangeError } from '../../src/dataplane/control/reconciler.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { InputError, parseVip, realDefinition, u32Key, vipDefinition, vipMeta } from '../../src/dataplane/abi.js';
import { BPF_MAP_TYPE, TestRunner, XDP_ACTION, mapCreate, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { BpfMap, sumPerCpuU64 } from '../../src/dataplane/kernel/maps.js';
import { ringCounts, ringForReals } from '../../src/dataplane/control/maglev.js';
import { ReadOnlyError } from '../../src/dataplane/types.js';
import { ERRNO, MapFullError } from '../../src/dataplane/errors.js';
import { describeChange } from '../../src/dataplane/rules.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { handleFrom, ipipOuterDst, loadTestBalancer, snapshot, v4Frame } from './control-helpers.js';

const MAC = '02:00:00:00:00:aa';
const VIP = parseVip('192.0.2.10:80/udp');

function setup(name: string, o: { readOnly?: boolean } = {}) {
  const lb = loadTestBalancer();
  const dir = scratchDir(name);
  const store = StateStore.open(dir, { write: true });
  const handle = handleFrom(lb, o);
  const cp = ControlPlane.open(handle, store);
  return {
    lb, dir, store, handle, cp,
    close() { store.close(); lb.close(); },
  };
}

function stateFile(dir: string): string {
  const p = join(dir, 'state.json');
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

function realsStat(lb: ReturnType<typeof loadTestBalancer>, index: number): bigint {
  const b = lb.maps.realsStats.newValueBuffer();
  lb.maps.realsStats.lookup(u32Key(index), b);
  return sumPerCpuU64(b, 0, lb.maps.realsStats.cpus, lb.maps.realsStats.valueBufferSize / lb.maps.realsStats.cpus, 0);
}

function vipStat(lb: ReturnType<typeof loadTestBalancer>, vipNum: number): bigint {
  const b = lb.maps.stats.newValueBuffer();
  lb.maps.stats.lookup(u32Key(vipNum), b);
  return sumPerCpuU64(b, 0, lb.maps.stats.cpus, lb.maps.stats.valueBufferSize / lb.maps.stats.cpus, 0);
}

test('add VIP and reals: maps in the kernel, packets go to the ring\'s reals, ring share matches Maglev', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('basic');
  const unpin = pinToCpu(0);
  try {
    const { cp, lb } = s;
    assert.equal(cp.recovered, null);
    cp.setDefaultMac(MAC);
    const r0 = cp.addVip({ ...VIP });
    assert.equal(r0.applied, true);
    assert.match(r0.summary[0], /add VIP 192\.0\.2\.10:80\/udp \(vip_num 0, hash maglev-v2/);
    const reals = [['198.51.100.1', 1], ['198.51.100.2', 1], ['198.51.100.3', 2]] as const;
    let last;
    for (const [a, w] of reals) last = cp.addReal(VIP, { address: a, weight: w });
    assert.ok(last && last.movedShare! > 0 && last.movedShare! < 1, 'adding a third real moves part of the ring');

    // vip_map holds the VIP with vip_num 0; reals hold indexes 1..3 with their addresses
    const meta = Buffer.alloc(8);
    assert.ok(lb.maps.vips.lookup(vipDefinition.encode(VIP), meta));
    assert.deepEqual(vipMeta.decode(meta), { flags: 0, vipNum: 0 });
    const def = Buffer.alloc(20);
    for (let i = 1; i <= 3; i++) {
      lb.maps.reals.lookup(u32Key(i), def);
      assert.equal(realDefinition.decode(def)!.address, reals[i - 1][0]);
    }
    // The kernel's ring is Maglev's ring for these reals
    const want = ringForReals(reals.map(([a, w], i) => ({ index: i + 1, address: a, weight: w })), lb.sizes.ringSize, 'maglev-v2')!;
    assert.deepEqual(cp.readRing(0), want);
    const counts = ringCounts(want);
    const vs = cp.vips();
    assert.equal(vs.length, 1);
    for (const r of vs[0].reals) {
      assert.equal(r.ringSlots, counts.get(r.index));
      assert.equal(r.ringShare, counts.get(r.index)! / lb.sizes.ringSize);
    }
    // Packets: every one is encapsulated to one of the reals; per-real counters agree with the sink.
    const runner = new TestRunner(lb.progFd);
    const seen = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const r = runner.run(v4Frame({ src: `203.0.113.${1 + (i % 200)}`, dst: VIP.address, sport: 10000 + i, dport: 80, proto: 'udp' }));
      assert.equal(r.retval, XDP_ACTION.TX);
      const dst = ipipOuterDst(r.data);
      assert.ok(dst && reals.some(([a]) => a === dst), `packet ${i} went to ${dst}`);
      assert.equal(r.data.subarray(0, 6).toString('hex'), MAC.replace(/:/g, ''));
      seen.set(dst!, (seen.get(dst!) ?? 0) + 1);
    }
    runner.close();
    for (let i = 1; i <= 3; i++) assert.equal(realsStat(lb, i), BigInt(seen.get(reals[i - 1][0]) ?? 0));
    assert.equal(vipStat(lb, 0), 400n);
    // The weight-2 real has half the ring: it gets the most of 400 flows
    assert.ok(seen.get('198.51.100.3')! > seen.get('198.51.100.1')! && seen.get('198.51.100.3')! > seen.get('198.51.100.2')!);

    // The change log has every change; the state file the desired state
    const log = cp.state();
    assert.equal(log.vips[0].reals.length, 3);
    assert.deepEqual(s.store.changeLog().map((e) => e.op), ['set-mac', 'add-vip', 'add-real', 'add-real', 'add-real']);
    assert.equal(s.store.pendingIntent(), null);
    const onDisk = s.store.read<DesiredState>()!;
    assert.deepEqual(onDisk.reals, [{ address: '198.51.100.1', index: 1 }, { address: '198.51.100.2', index: 2 }, { address: '198.51.100.3', index: 3 }]);
  } finally {
    unpin();
    s.close();
  }
});

test('removing the last real empties the ring: traffic dropped as CH drops, after a warning', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('lastreal');
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.1' });
    const dry = cp.removeReal(VIP, '198.51.100.1', { dryRun: true });
    assert.equal(dry.applied, false);
    assert.match(dry.warnings.join('\n'), /no real with weight > 0 left.*CH drops/);
    assert.equal(dry.movedShare, 1);
    assert.equal(ringCounts(cp.readRing(0)).get(1), lb.sizes.ringSize, 'dry run wrote nothing');
    const r = cp.removeReal(VIP, '198.51.100.1');
    assert.match(r.warnings.join('\n'), /ring is emptied/);
    assert.deepEqual([...ringCounts(cp.readRing(0))], [[0, lb.sizes.ringSize]]);
    const runner = new TestRunner(lb.progFd);
    const res = runner.run(v4Frame({ src: '203.0.113.7', dst: VIP.address, sport: 4000, dport: 80, proto: 'udp' }));
    runner.close();
    assert.equal(res.retval, XDP_ACTION.DROP);
    const b = lb.maps.stats.newValueBuffer();
    lb.maps.stats.lookup(u32Key(lb.sizes.maxVips + 9), b);
    const stride = lb.maps.stats.valueBufferSize / lb.maps.stats.cpus;
    assert.equal(sumPerCpuU64(b, 0, lb.maps.stats.cpus, stride, 8), 1n, 'CH_DROP.v2 (ring slot empty) counted');
  } finally {
    s.close();
  }
});

test('weight 0 drains with a warning; IPv4 real behind an IPv6 VIP is refused', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('drain');
  try {
    const { cp } = s;
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.1' });
    cp.addReal(VIP, { address: '198.51.100.2' });
    const r = cp.setRealWeight(VIP, '198.51.100.2', 0);
    assert.match(r.warnings.join('\n'), /draining 198\.51\.100\.2.*LRU.*age out/);
    // One formatter: the summary the CLI prints is the change log's entry as the console shows it.
    assert.equal(r.summary[0], 'set weight of 198.51.100.2 in 192.0.2.10:80/udp: 1 -> 0');
    assert.equal(describeChange(s.store.changeLog(1)[0]), r.summary[0]);
    const v = cp.vips()[0];
    assert.equal(v.reals.find((x) => x.address === '198.51.100.2')!.ringSlots, 0);
    assert.equal(v.reals.find((x) => x.address === '198.51.100.1')!.ringShare, 1);
    const v6 = parseVip('[2001:db8::10]:443/tcp');
    cp.addVip({ ...v6 });
    assert.throws(() => cp.addReal(v6, { address: '198.51.100.1' }), (e: Error) => e instanceof InputError && /^real 198\.51\.100\.1 is IPv4 but VIP \[2001:db8::10\]:443\/tcp is IPv6: Katran's IPIP header for an IPv6 packet is 40 bytes short in total length, so the real would drop it$/.test(e.message));
    cp.addReal(v6, { address: '2001:db8:1::1' });
    const def = Buffer.alloc(20);
    s.lb.maps.reals.lookup(u32Key(3), def);
    assert.deepEqual(realDefinition.decode(def), { address: '2001:db8:1::1', flags: 1 }, 'IPv6 flag from the address');
    // An IPv6 real behind an IPv4 VIP is fine (IPv4 in IPv6)
    cp.addReal(VIP, { address: '2001:db8:1::1' });
    assert.equal(cp.state().reals.find((x) => x.address === '2001:db8:1::1')!.index, 3, 'one index shared by both VIPs');
  } finally {
    s.close();
  }
});

test('apply refuses a hash change of a live VIP (the policy is the dataplane\'s): nothing changed', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('hashchange');
  try {
    const { cp, lb, dir } = s;
    cp.apply({ vips: [{ key: VIP, hash: 'maglev-v2', reals: [{ address: '198.51.100.1', weight: 1 }] }] });
    const before = snapshot(lb);
    const file = stateFile(dir);
    for (const dryRun of [true, false]) {
      assert.throws(() => cp.apply({ vips: [{ key: VIP, hash: 'maglev', reals: [{ address: '198.51.100.1', weight: 1 }] }] }, { dryRun }),
        (e: Error) => e instanceof InputError && /VIP 192\.0\.2\.10:80\/udp uses hash maglev-v2, the config says maglev: changing the hash of a live VIP/.test(e.message));
    }
    assert.deepEqual(snapshot(lb), before);
    assert.equal(stateFile(dir), file);
    assert.equal(cp.vips()[0].hash, 'maglev-v2');
  } finally {
    s.close();
  }
});

test('vip_num and real index reuse: lowest free, counters zeroed before reuse, index 0 never used', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('reuse');
  try {
    const { cp, lb } = s;
    cp.setDefaultMac(MAC);
    const A = parseVip('192.0.2.1:80/udp');
    const B = parseVip('192.0.2.2:80/udp');
    const C = parseVip('192.0.2.3:80/udp');
    const D = parseVip('192.0.2.4:80/udp');
    for (const v of [A, B, C]) cp.addVip({ ...v });
    cp.addReal(A, { address: '198.51.100.1' });
    cp.addReal(B, { address: '198.51.100.2' });
    cp.addReal(B, { address: '198.51.100.1' });
    cp.addReal(C, { address: '198.51.100.3' });
    assert.deepEqual(cp.state().reals.map((r) => r.index), [1, 2, 3]);
    const runner = new TestRunner(lb.progFd);
    for (let i = 0; i < 20; i++) runner.run(v4Frame({ src: '203.0.113.9', dst: B.address, sport: 2000 + i, dport: 80, proto: 'udp' }));
    for (let i = 0; i < 5; i++) runner.run(v4Frame({ src: '203.0.113.9', dst: A.address, sport: 2000 + i, dport: 80, proto: 'udp' }));
    assert.equal(vipStat(lb, 1), 20n);
    assert.equal(realsStat(lb, 1) + realsStat(lb, 2), 25n);
    assert.ok(realsStat(lb, 2) > 0n, 'real 2 got packets');

    // Removing B: vip_num 1 leaves vip_map; index 2 (only B used it) is freed, index 1 (A too) is not
    const rm = cp.removeVip(B);
    assert.match(rm.summary.join('\n'), /free real index\(es\) 2 \(198\.51\.100\.2\)/);
    assert.equal(lb.maps.vips.lookup(vipDefinition.encode(B), Buffer.alloc(8)), false);
    assert.deepEqual(cp.state().reals.map((r) => r.index), [1, 3]);
    // D takes vip_num 1 with its counters zeroed
    cp.addVip({ ...D });
    assert.equal(cp.state().vips.find((v) => v.key.address === D.address)!.vipNum, 1);
    assert.equal(vipStat(lb, 1), 0n, 'stats[1] zeroed before reuse');
    // A new address takes index 2 with its counters zeroed
    cp.addReal(D, { address: '198.51.100.9' });
    assert.equal(cp.state().reals.find((r) => r.address === '198.51.100.9')!.index, 2);
    assert.equal(realsStat(lb, 2), 0n, 'reals_stats[2] zeroed before reuse');
    const def = Buffer.alloc(20);
    lb.maps.reals.lookup(u32Key(2), def);
    assert.equal(realDefinition.decode(def)!.address, '198.51.100.9');
    lb.maps.reals.lookup(u32Key(0), def);
    assert.equal(realDefinition.decode(def), null, 'index 0 is never used');
    // D's packets go to its new real
    const r = runner.run(v4Frame({ src: '203.0.113.9', dst: D.address, sport: 5555, dport: 80, proto: 'udp' }));
    assert.equal(ipipOuterDst(r.data), '198.51.100.9');
    runner.close();
  } finally {
    s.close();
  }
});

test('bad input: a clear error each, and nothing changed in the kernel maps or the state file', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('badinput');
  try {
    const { cp, lb, dir } = s;
    cp.setDefaultMac(MAC);
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.1' });
    const before = snapshot(lb);
    const file = stateFile(dir);
    const bad: [string, () => unknown, RegExp][] = [
      ['VIP address', () => cp.addVip({ address: '192.0.2.300', port: 80, proto: 'tcp' }), /bad VIP address/],
      ['VIP address shell', () => cp.addVip({ address: '$(reboot)', port: 80, proto: 'tcp' }), /bad VIP address/],
      ['VIP unspecified', () => cp.addVip({ address: '0.0.0.0', port: 80, proto: 'tcp' }), /unspecified/],
      ['port', () => cp.addVip({ address: '192.0.2.11', port: 70000, proto: 'tcp' }), /0 to 65535/],
      ['port negative', () => cp.addVip({ address: '192.0.2.11', port: -1, proto: 'tcp' }), /0 to 65535/],
      ['protocol', () => cp.addVip({ address: '192.0.2.11', port: 80, proto: 'sctp' as 'tcp' }), /tcp or udp/],
      ['unknown flag', () => cp.addVip({ ...parseVip('192.0.2.11:80/tcp'), flags: ['bogus' as 'no-lru'] }), /unknown VIP flag "bogus"/],
      ['unimplemented flag', () => cp.addVip({ ...parseVip('192.0.2.11:80/tcp'), flags: ['local-vip', 'global-lru'] }), /flags local-vip, global-lru not implemented by this balancer's program/],
      ['hash', () => cp.addVip({ ...parseVip('192.0.2.11:80/tcp'), hash: 'ring' as 'maglev' }), /maglev or maglev-v2/],
      ['duplicate VIP', () => cp.addVip({ ...VIP }), /already exists/],
      ['real address', () => cp.addReal(VIP, { address: '198.51.100.256' }), /bad real address/],
      ['real multicast', () => cp.addReal(VIP, { address: '224.0.0.1' }), /multicast/],
      ['weight negative', () => cp.addReal(VIP, { address: '198.51.100.2', weight: -1 }), /bad weight/],
      ['weight fraction', () => cp.addReal(VIP, { address: '198.51.100.2', weight: 1.5 }), /bad weight/],
      ['weight huge', () => cp.setRealWeight(VIP, '198.51.100.1', 2 ** 32), /bad weight/],
      ['weight text', () => cp.setRealWeight(VIP, '198.51.100.1', 'ten' as unknown as number), /bad weight/],
      ['duplicate real', () => cp.addReal(VIP, { address: '198.51.100.1' }), /already a real/],
      ['unknown VIP', () => cp.addReal(parseVip('192.0.2.99:80/udp'), { address: '198.51.100.2' }), /no VIP 192\.0\.2\.99:80\/udp/],
      ['unknown real', () => cp.removeReal(VIP, '198.51.100.77'), /not a real of this VIP/],
      ['MAC', () => cp.setDefaultMac('02:00:00:00:00'), /bad MAC/],
      ['MAC multicast', () => cp.setDefaultMac('01:00:5e:00:00:01'), /multicast/],
      ['MAC junk', () => cp.setDefaultMac('zz:zz:zz:zz:zz:zz; rm -rf /'), /bad MAC/],
    ];
    for (const [what, fn, why] of bad) {
      assert.throws(fn, (e: Error) => e instanceof InputError && why.test(e.message), `${what}: expected an InputError matching ${why}`);
    }
    assert.deepEqual(snapshot(lb), before, 'kernel maps unchanged');
    assert.equal(stateFile(dir), file, 'state file unchanged');
    assert.equal(s.store.changeLog().length, 3);
  } finally {
    s.close();
  }
});

test('capacity: VIP 513 on a 512 map is refused with "add VIP: map full (512)", nothing changed', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('capacity');
  try {
    const { cp, lb, dir } = s;
    assert.equal(lb.maps.vips.maxEntries, 512);
    const vips = Array.from({ length: 512 }, (_, i) => ({ key: { address: `192.0.2.${i >> 8 ? 200 : 1}`, port: 1 + i, proto: 'tcp' as const } }));
    const r = cp.apply({ vips });
    assert.equal(r.applied, true);
    assert.equal(lb.maps.vips.keys().length, 512);
    const before = snapshot(lb, [0, 511]);
    const file = stateFile(dir);
    assert.throws(() => cp.addVip({ address: '192.0.2.250', port: 9, proto: 'udp' }), (e: Error) => {
      assert.ok(e instanceof MapFullError, `${e.name}: ${e.message}`);
      assert.equal(e.message, 'add VIP: map full (512)');
      assert.equal(e.op, 'add VIP');
      assert.equal(e.object, '192.0.2.250:9/udp');
      assert.equal(e.maxEntries, 512);
      return true;
    });
    assert.deepEqual(snapshot(lb, [0, 511]), before);
    assert.equal(stateFile(dir), file);
    // Freeing one makes room again, at the freed vip_num
    cp.removeVip(vips[7].key);
    cp.addVip({ address: '192.0.2.250', port: 9, proto: 'udp' });
    assert.equal(cp.state().vips.find((v) => v.key.address === '192.0.2.250')!.vipNum, 7);
  } finally {
    s.close();
  }
});

test('read-only handles refuse every write with the reason', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('readonly', { readOnly: true });
  try {
    const { cp, lb } = s;
    const before = snapshot(lb);
    for (const fn of [
      () => cp.addVip({ ...VIP }), () => cp.removeVip(VIP), () => cp.setVipFlags(VIP, []), () => cp.addReal(VIP, { address: '198.51.100.1' }),
      () => cp.removeReal(VIP, '198.51.100.1'), () => cp.setRealWeight(VIP, '198.51.100.1', 1), () => cp.setDefaultMac(MAC),
      () => cp.apply({ vips: [] }),
    ]) {
      assert.throws(fn, (e: Error) => e instanceof ReadOnlyError && /read-only/.test(e.message));
    }
    assert.deepEqual(snapshot(lb), before);
  } finally {
    s.close();
  }
});

test('a kernel write failing midway is rolled back: maps and state as before, the error says what failed', async (t) => {
  if (!(await requireBpf(t))) return;
  // Failure injection, two ways: (1) a real kernel refusal: the handle's vip_map is swapped for a
  // 1-entry HASH map, so the second VIP's vip_map insert fails with E2BIG after its reals and ring
  // were written; (2) a fault hook that throws after the first ring batch.
  const lb = loadTestBalancer();
  const dir = scratchDir('rollback');
  const store = StateStore.open(dir, { write: true });
  const tinyFd = mapCreate(BPF_MAP_TYPE.HASH, 'tiny_vip_map', 20, 8, 1);
  const tiny = BpfMap.fromFd('vip_map', tinyFd);
  const handle = handleFrom(lb);
  handle.maps = { ...lb.maps, vips: tiny };
  let failAt: string | null = null;
  const cp = ControlPlane.open(handle, store, { faults: (step) => {
    if (step === failAt) {
      failAt = null; // one shot: the rollback's own writes succeed
      throw new Error(`injected failure at ${step}`);
    }
  } });
  try {
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.1' });
    const snap = () => ({ ...snapshot(lb, [0, 1]), vip_map: snapshot({ maps: handle.maps, sizes: lb.sizes }, []).vip_map });
    const before = snap();
    const file = stateFile(dir);
    const log = store.changeLog().length;
    const B = parseVip('192.0.2.20:80/udp');
    assert.throws(() => cp.apply({ vips: [{ key: VIP, reals: [{ address: '198.51.100.1', weight: 1 }] }, { key: B, reals: [{ address: '198.51.100.5', weight: 1 }, { address: '198.51.100.6', weight: 1 }] }] }),
      (e: Error) => {
        assert.ok(e instanceof ChangeError && e.rolledBack, `${e.name}: ${e.message}`);
        assert.match(e.message, /apply-config .*update map vip_map: map full \(1\).*nothing changed \(rolled back\)/);
        // The kernel's refusal underneath, typed: the operation, the map, its capacity and the errno.
        assert.ok(e.cause instanceof MapFullError, `cause: ${(e.cause as Error)?.name}`);
        assert.equal(e.cause.op, 'update');
        assert.equal(e.cause.object, 'map vip_map');
        assert.equal(e.cause.maxEntries, 1);
        assert.ok(e.cause.errno === ERRNO.E2BIG || e.cause.errno === ERRNO.ENOSPC, `errno ${e.cause.errno}`);
        return true;
      });
    assert.deepEqual(snap(), before, 'ring slice 1, reals, stats and vip_map as before');
    assert.equal(stateFile(dir), file);
    assert.equal(store.pendingIntent(), null);
    assert.equal(store.changeLog().length, log);

    // (2) fault after the first ring batch of a real change on VIP 0
    failAt = 'ring-batch';
    assert.throws(() => cp.addReal(VIP, { address: '198.51.100.2' }), (e: Error) => e instanceof ChangeError && /injected failure at ring-batch.*rolled back/.test(e.message));
    assert.equal(failAt, null, 'the fault fired');
    assert.deepEqual(snap(), before);
    assert.equal(stateFile(dir), file);
    assert.deepEqual(cp.state().vips[0].reals, [{ address: '198.51.100.1', weight: 1 }]);
    // And the balancer still takes changes afterwards
    cp.addReal(VIP, { address: '198.51.100.2' });
    assert.equal(cp.vips()[0].reals.length, 2);
  } finally {
    store.close();
    tiny.close();
    lb.close();
  }
});

test('Balancer over an observed (read-only) handle: VIPs imported from the kernel, every write and detach refused', async (t) => {
  if (!(await requireBpf(t))) return;
  const s = setup('observed');
  try {
    s.cp.setDefaultMac(MAC);
    s.cp.addVip({ ...VIP, flags: ['no-sport'] });
    s.cp.addReal(VIP, { address: '198.51.100.1' });
    const { Balancer } = await import('../../src/dataplane/balancer/balancer.js');
    const h = { ...handleFrom(s.lb, { readOnly: true, readOnlyReason: 'observing program 42 of another process' }), owner: 'observed' as const };
    const bal = Balancer.open(h, { stateDir: join(s.dir, 'unused') });
    const before = snapshot(s.lb);
    const v = bal.vips();
    assert.deepEqual(v.map((x) => [x.id, x.vipNum, x.flags, x.reals.map((r) => [r.address, r.index, r.ringSlots])]),
      [['192.0.2.10:80/udp', 0, ['no-sport'], [['198.51.100.1', 1, s.lb.sizes.ringSize]]]]);
    const info = bal.info();
    assert.equal(info.readOnly, true);
    assert.match(info.readOnlyReason!, /another process/);
    assert.equal(info.defaultMac, MAC);
    assert.deepEqual(info.capacity, { vips: 1, maxVips: 512, reals: 1, maxReals: 4096, ringSize: 65537, quicServerIds: 0xfffffe });
    const sample = bal.sample();
    assert.deepEqual(sample.vips.map((x) => x.id), ['192.0.2.10:80/udp']);
    assert.deepEqual(sample.reals.map((x) => x.address), ['198.51.100.1']);
    for (const fn of [() => bal.addVip({ address: '192.0.2.77', port: 1, proto: 'tcp' }), () => bal.setDefaultMac(MAC), () => bal.detach(), () => bal.removeReal(VIP, '198.51.100.1')]) {
      assert.throws(fn, (e: Error) => e instanceof ReadOnlyError && /another process|read-only/.test(e.message));
    }
    assert.deepEqual(snapshot(s.lb), before);
    assert.equal(existsSync(join(s.dir, 'unused')), false, 'an observer creates no state directory');
    assert.deepEqual(bal.changeLog(), []);
  } finally {
    s.close();
  }
});
