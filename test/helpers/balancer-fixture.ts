// A balancer object loaded for prog_test_run tests and benchmarks, the way the control plane
// loads it: an LRU_HASH inner-map template given to lru_mapping before load, then one LRU per
// chosen CPU stored in lru_mapping after load. Helpers write VIPs, reals, ring slots and the MAC,
// and read the per-CPU counters summed over CPUs.
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE, BpfObject, TestRunner, closeFd, mapCreate, mapDelete, mapLookup, mapUpdate, mapUpdateBatch,
  numPossibleCpus, type TestRunResult,
} from '../../src/dataplane/kernel/libbpf.js';
import {
  DEFAULTS, DOWN_REALS_INNER, MAP, SIZES, ctlMac, flowKey, parseMac, perCpuStride, quicStats, realDefinition, u32Key, vipDefinition,
  vipMeta, type FlowKey, type Proto,
} from '../../src/dataplane/abi.js';
import { bundledObject, requireObject } from '../../src/dataplane/kernel/paths.js';
import { flowRingPosition } from '../../src/dataplane/trace/flowhash.js';

export const RING_SIZE = DEFAULTS.ringSize;
export const MAX_VIPS = DEFAULTS.maxVips;
export const CH_RINGS_SIZE = DEFAULTS.maxVips * DEFAULTS.ringSize;
/** katran-tui's zero-MAC drop counter (bpf/constants.h ZERO_MAC_DROP_CNTR): an offset Katran never uses. */
export const ZERO_MAC_DROP = 22;

export interface Counter { v1: bigint; v2: bigint }

export interface VipSpec { address: string; port: number; proto: Proto; flags?: number; vipNum: number }

export class BalancerFixture {
  readonly obj: BpfObject;
  readonly runner: TestRunner;
  readonly progFd: number;
  readonly fds: Record<string, number> = {};
  readonly lruFds = new Map<number, number>();
  /** Inner maps of vip_to_down_reals_map this fixture created, by VIP. */
  private readonly downFds = new Map<string, number>();
  private readonly ncpu = numPossibleCpus();

  /**
   * Loads dist/bpf/balancer.bpf.o; `lruCpus`: CPUs that get their own LRU (others use
   * fallback_cache); `quicServerIds`: server_id_map entries (default the object's, Katran's).
   */
  constructor(lruCpus: number[] = [0], objectPath = bundledObject('balancer'), o: { quicServerIds?: number } = {}) {
    this.obj = BpfObject.open(requireObject(objectPath));
    let template = -1;
    try {
      template = mapCreate(BPF_MAP_TYPE.LRU_HASH, 'kt_lru_tmpl', SIZES.flowKey, SIZES.realPosLru, DEFAULTS.defaultLruSize);
      this.obj.map(MAP.lruMapping)!.setInnerMapFd(template);
      if (o.quicServerIds !== undefined) this.obj.map(MAP.serverIds)!.setMaxEntries(o.quicServerIds);
      this.obj.load();
    } catch (e) {
      if (template >= 0) closeFd(template);
      this.obj.close();
      throw e;
    }
    closeFd(template);
    for (const m of this.obj.maps()) if (!m.name.startsWith('.')) this.fds[m.name] = m.fd;
    for (const cpu of lruCpus) this.addCpuLru(cpu);
    this.progFd = this.obj.program('balancer_ingress')!.fd;
    this.runner = new TestRunner(this.progFd, 4096, 'balancer_ingress');
  }

  addCpuLru(cpu: number, entries = 4096): number {
    const fd = mapCreate(BPF_MAP_TYPE.LRU_HASH, `kt_lru_${cpu}`, SIZES.flowKey, SIZES.realPosLru, entries);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(fd, 0);
    mapUpdate(this.fds[MAP.lruMapping], u32Key(cpu), v);
    this.lruFds.set(cpu, fd);
    return fd;
  }

  run(frame: Uint8Array): TestRunResult {
    return this.runner.run(frame);
  }

  setMac(mac: string | null): void {
    mapUpdate(this.fds[MAP.ctl], u32Key(0), mac === null ? Buffer.alloc(8) : ctlMac.encode(parseMac(mac)));
  }

  addVip(v: VipSpec): void {
    mapUpdate(this.fds[MAP.vips], vipDefinition.encode(v), vipMeta.encode({ flags: v.flags ?? 0, vipNum: v.vipNum }));
  }

  removeVip(v: VipSpec): void {
    mapDelete(this.fds[MAP.vips], vipDefinition.encode(v));
  }

  setReal(index: number, address: string | null): void {
    mapUpdate(this.fds[MAP.reals], u32Key(index), address === null ? Buffer.alloc(20) : realDefinition.encode({ address }));
  }

  setSlot(vipNum: number, pos: number, realIndex: number): void {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(realIndex, 0);
    mapUpdate(this.fds[MAP.rings], u32Key(vipNum * RING_SIZE + pos), v);
  }

  getSlot(vipNum: number, pos: number): number {
    const v = Buffer.alloc(4);
    mapLookup(this.fds[MAP.rings], u32Key(vipNum * RING_SIZE + pos), v);
    return v.readUInt32LE(0);
  }

  /** Every slot of a VIP's ring to one real index (0 empties the ring). */
  fillRing(vipNum: number, realIndex: number): void {
    const keys = Buffer.alloc(4 * RING_SIZE);
    const vals = Buffer.alloc(4 * RING_SIZE);
    for (let i = 0; i < RING_SIZE; i++) {
      keys.writeUInt32LE(vipNum * RING_SIZE + i, i * 4);
      vals.writeUInt32LE(realIndex, i * 4);
    }
    mapUpdateBatch(this.fds[MAP.rings], keys, vals, RING_SIZE);
  }

  /** The ring position Katran's hash gives this flow on this VIP (computed in TypeScript). */
  position(flow: { src: string; sport: number; dport: number; proto: Proto }, vip: VipSpec): number {
    return flowRingPosition(flow, vip.flags ?? 0, vip.port, RING_SIZE, CH_RINGS_SIZE, MAX_VIPS).pos;
  }

  /** Sets only the slot this flow hashes to. Returns the position. */
  routeFlow(flow: { src: string; sport: number; dport: number; proto: Proto }, vip: VipSpec, realIndex: number): number {
    const pos = this.position(flow, vip);
    this.setSlot(vip.vipNum, pos, realIndex);
    return pos;
  }

  private perCpu(mapName: string, index: number, valueSize: number): Buffer {
    const stride = perCpuStride(valueSize);
    const buf = Buffer.alloc(stride * this.ncpu);
    mapLookup(this.fds[mapName], u32Key(index), buf);
    return buf;
  }

  private sum(mapName: string, index: number): Counter {
    const buf = this.perCpu(mapName, index, 16);
    let v1 = 0n;
    let v2 = 0n;
    for (let c = 0; c < this.ncpu; c++) {
      v1 += buf.readBigUInt64LE(c * 16);
      v2 += buf.readBigUInt64LE(c * 16 + 8);
    }
    return { v1, v2 };
  }

  /** stats[index] summed over CPUs. */
  stat(index: number): Counter {
    return this.sum(MAP.stats, index);
  }

  /** stats[MAX_VIPS + offset]. */
  global(offset: number): Counter {
    return this.stat(MAX_VIPS + offset);
  }

  /** stats[MAX_VIPS + offset] of one CPU. */
  globalOnCpu(offset: number, cpu: number): Counter {
    const buf = this.perCpu(MAP.stats, MAX_VIPS + offset, 16);
    return { v1: buf.readBigUInt64LE(cpu * 16), v2: buf.readBigUInt64LE(cpu * 16 + 8) };
  }

  /** kt_reasons[index] summed over CPUs (bpf/reasons.h); null for an object without kt_reasons. */
  reason(index: number): Counter | null {
    return this.fds[MAP.reasons] === undefined ? null : this.sum(MAP.reasons, index);
  }

  realStat(index: number): Counter {
    return this.sum(MAP.realsStats, index);
  }

  lruMiss(realIndex: number): number {
    const buf = this.perCpu(MAP.lruMissStats, realIndex, 4);
    let n = 0;
    for (let c = 0; c < this.ncpu; c++) n += buf.readUInt32LE(c * 8);
    return n;
  }

  traceVip(v: VipSpec | null): void {
    mapUpdate(this.fds[MAP.vipMissStats], u32Key(0), v === null ? Buffer.alloc(20) : vipDefinition.encode(v));
  }

  /** The LRU entry of a flow key in one CPU's LRU (or fallback_cache with cpu = -1). */
  lruEntry(key: FlowKey, cpu: number): { pos: number; atime: bigint } | null {
    const fd = cpu < 0 ? this.fds[MAP.fallbackLru] : this.lruFds.get(cpu);
    if (fd === undefined) return null;
    const v = Buffer.alloc(16);
    if (!mapLookup(fd, flowKey.encode(key), v)) return null;
    return { pos: v.readUInt32LE(0), atime: v.readBigUInt64LE(8) };
  }

  deleteLruEntry(key: FlowKey, cpu: number): boolean {
    const fd = cpu < 0 ? this.fds[MAP.fallbackLru] : this.lruFds.get(cpu)!;
    return mapDelete(fd, flowKey.encode(key));
  }

  setLruEntry(key: FlowKey, cpu: number, pos: number, atime: bigint): void {
    const fd = cpu < 0 ? this.fds[MAP.fallbackLru] : this.lruFds.get(cpu)!;
    const v = Buffer.alloc(16);
    v.writeUInt32LE(pos, 0);
    v.writeBigUInt64LE(atime, 8);
    mapUpdate(fd, flowKey.encode(key), v);
  }

  /** server_id_map[id] = real index (0 unsets). False when the kernel refuses the key (>= max_entries). */
  setServerId(id: number, realIndex: number): boolean {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(realIndex >>> 0, 0);
    try {
      mapUpdate(this.fds[MAP.serverIds], u32Key(id), v);
      return true;
    } catch {
      return false;
    }
  }

  /** quic_stats_map[0]: the counters summed over CPUs, and each CPU's non-zero invalid-id sample. */
  quic(): ReturnType<typeof quicStats.decodePerCpu> {
    const buf = Buffer.alloc(perCpuStride(quicStats.size) * this.ncpu);
    mapLookup(this.fds[MAP.quicStats], u32Key(0), buf);
    return quicStats.decodePerCpu(buf, this.ncpu);
  }

  quicStats(): ReturnType<typeof quicStats.decodePerCpu>['totals'] {
    return this.quic().totals;
  }

  /** server_id_stats[vip_num] summed over CPUs. */
  serverIdStat(vipNum: number): Counter {
    return this.sum(MAP.serverIdStats, vipNum);
  }

  /** Lists real `index` as down for `vip` (port as matched), creating the VIP's inner map on first use. */
  setRealDown(vip: VipSpec, index: number, down: boolean): void {
    const key = vipDefinition.encode(vip);
    const id = key.toString('hex');
    let fd = this.downFds.get(id);
    if (fd === undefined) {
      fd = mapCreate(BPF_MAP_TYPE.HASH, 'kt_down', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, DEFAULTS.maxReals, { flags: BPF_F_NO_PREALLOC });
      this.downFds.set(id, fd);
      const v = Buffer.alloc(4);
      v.writeUInt32LE(fd, 0);
      mapUpdate(this.fds[MAP.downReals], key, v);
    }
    if (down) mapUpdate(fd, u32Key(index), Buffer.alloc(1));
    else mapDelete(fd, u32Key(index));
  }

  close(): void {
    this.runner.close();
    for (const fd of this.lruFds.values()) closeFd(fd);
    this.lruFds.clear();
    for (const fd of this.downFds.values()) closeFd(fd);
    this.downFds.clear();
    this.obj.close();
  }
}

/** Counter snapshot helpers: take before / after and compare deltas. */
export const GLOBAL = {
  lru: 0, lruMiss: 1, newConnRate: 2, fallbackLru: 3, icmpTooBig: 4, encapFail: 7, chDrop: 9, quicIcmp: 11, icmpPtbV6: 12,
  icmpPtbV4: 13, flowMigration: 15, xdpTotal: 16, xdpTx: 17, xdpDrop: 18, xdpPass: 19, zeroMac: ZERO_MAC_DROP,
} as const;
export type GlobalName = keyof typeof GLOBAL;

export interface Snapshot {
  globals: Record<GlobalName, Counter>;
  vips: Map<number, Counter>;
  reals: Map<number, Counter>;
  lruMiss: Map<number, number>;
}

export function snapshot(f: BalancerFixture, vipNums: number[], realIdx: number[]): Snapshot {
  const globals = {} as Record<GlobalName, Counter>;
  for (const [k, off] of Object.entries(GLOBAL)) globals[k as GlobalName] = f.global(off);
  return {
    globals,
    vips: new Map(vipNums.map((n) => [n, f.stat(n)])),
    reals: new Map(realIdx.map((n) => [n, f.realStat(n)])),
    lruMiss: new Map(realIdx.map((n) => [n, f.lruMiss(n)])),
  };
}

export interface Delta {
  globals: Partial<Record<GlobalName, [number, number]>>;
  vips: Map<number, [number, number]>;
  reals: Map<number, [number, number]>;
  lruMiss: Map<number, number>;
}

/** after - before as plain numbers; counters that did not move are left out (NEW_CONN_RATE too: it is time-based). */
export function delta(a: Snapshot, b: Snapshot): Delta {
  const d = (x: Counter, y: Counter): [number, number] => [Number(y.v1 - x.v1), Number(y.v2 - x.v2)];
  const globals: Delta['globals'] = {};
  for (const k of Object.keys(GLOBAL) as GlobalName[]) {
    if (k === 'newConnRate') continue;
    const v = d(a.globals[k], b.globals[k]);
    if (v[0] !== 0 || v[1] !== 0) globals[k] = v;
  }
  const pick = (m1: Map<number, Counter>, m2: Map<number, Counter>) => {
    const out = new Map<number, [number, number]>();
    for (const [k, v] of m2) {
      const x = d(m1.get(k)!, v);
      if (x[0] !== 0 || x[1] !== 0) out.set(k, x);
    }
    return out;
  };
  const lm = new Map<number, number>();
  for (const [k, v] of b.lruMiss) if (v !== a.lruMiss.get(k)) lm.set(k, v - a.lruMiss.get(k)!);
  return { globals, vips: pick(a.vips, b.vips), reals: pick(a.reals, b.reals), lruMiss: lm };
}
