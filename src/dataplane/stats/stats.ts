// The sampler: per-VIP (stats[vip_num]), per-real (reals_stats[index]) and the global counters
// (stats[MAX_VIPS + offset], docs/abi.md) read with batch lookups into buffers allocated once,
// summed over CPUs in BigInt and also kept per CPU for the XDP action counters. Rates are over the
// real elapsed time between samples (a monotonic clock); a counter that goes backwards is a reset
// (rate 0 for that interval, named in `resets`), never a negative rate.
//
// The pure part (deltas, rates, resets, flood detection) is separate from the kernel reads so
// that it is unit-tested without BPF: see RateBook and the functions below it.
import { DEFAULTS, MAP, QUIC_STATS_FIELDS, STATS, formatVip, quicStats, type GlobalCounter, type VipKey } from '../abi.js';
import type { BalancerMaps, BalancerSizes } from '../kernel/loader.js';
import type { VlanTable } from '../kernel/vlan.js';
import { sampleVlans } from './vlans.js';
import { ArrayRangeReader, type BpfMap } from '../kernel/maps.js';
import { ReasonsReader } from './reasons.js';
import type { CpuStat, PairStat, QuicCounter, QuicSample, RealStat, StatsSample, VipStat } from '../types.js';

/** quic_stats_map's counters (every field but the per-CPU last invalid id, which is no count). */
export const QUIC_COUNTERS = QUIC_STATS_FIELDS.filter((f) => f !== 'cidInvalidServerIdSample') as QuicCounter[];

export const GLOBAL_COUNTERS = Object.keys(STATS) as GlobalCounter[];
/** Counters that are gauges, not monotonic: never a reset, no rate. */
const GAUGES = new Set<GlobalCounter>(['newConnRate']);

// ---------------------------------------------------------------------------------------------
// Pure logic

/** Delta of a monotonic counter; a value lower than before is a reset (delta 0). */
export function counterDelta(prev: bigint | undefined, cur: bigint): { delta: bigint; reset: boolean } {
  if (prev === undefined) return { delta: 0n, reset: false };
  if (cur < prev) return { delta: 0n, reset: true };
  return { delta: cur - prev, reset: false };
}

/** Per-second rate of `delta` over `elapsedMs` (0 when no time passed). */
export function perSecond(delta: bigint, elapsedMs: number): number {
  if (!(elapsedMs > 0) || delta <= 0n) return 0;
  return (Number(delta) * 1000) / elapsedMs;
}

/**
 * Remembers the previous reading of every named counter and turns readings into totals and rates.
 * Call begin() once per sample, then pair() for each (v1, v2) counter; names not read in a sample
 * are forgotten at end() (a VIP that went away, a real index reused by another address).
 */
export class RateBook {
  private prev = new Map<string, [bigint, bigint]>();
  private next = new Map<string, [bigint, bigint]>();
  private elapsedMs = 0;
  resets: string[] = [];

  begin(elapsedMs: number): void {
    this.elapsedMs = elapsedMs;
    this.next = new Map();
    this.resets = [];
  }

  /** Totals and rates of one (v1, v2) counter; `name` identifies it across samples. */
  pair(name: string, v1: bigint, v2: bigint, gauge = false): PairStat {
    const p = this.prev.get(name);
    this.next.set(name, [v1, v2]);
    if (gauge || p === undefined) return { v1: Number(v1), v2: Number(v2), r1: 0, r2: 0 };
    const a = counterDelta(p[0], v1);
    const b = counterDelta(p[1], v2);
    if (a.reset) this.resets.push(`${name}.v1`);
    if (b.reset) this.resets.push(`${name}.v2`);
    return { v1: Number(v1), v2: Number(v2), r1: perSecond(a.delta, this.elapsedMs), r2: perSecond(b.delta, this.elapsedMs) };
  }

  /**
   * pair() of a counter that is listed only once it counts something (an absent one was 0): its
   * first listing is rated from 0 rather than left without a rate.
   */
  pairFromZero(name: string, v1: bigint, v2: bigint): PairStat {
    if (!this.prev.has(name)) this.prev.set(name, [0n, 0n]);
    return this.pair(name, v1, v2);
  }

  end(): void {
    this.prev = this.next;
  }
}

/**
 * Whether new connections hit the per-CPU limit during the interval: on some CPU the NEW_CONN_RATE
 * window (v1 new flows, v2 window start) moved since the last sample and its count is over the
 * limit (the datapath skips the LRU write for flows above it).
 */
export function floodedCpus(
  prev: { v1: bigint; v2: bigint }[] | undefined,
  cur: { v1: bigint; v2: bigint }[],
  maxConnRate: number = DEFAULTS.maxConnRate,
): number[] {
  const out: number[] = [];
  const limit = BigInt(maxConnRate);
  for (let c = 0; c < cur.length; c++) {
    const p = prev?.[c];
    const moved = !p || p.v1 !== cur[c].v1 || p.v2 !== cur[c].v2;
    if (moved && cur[c].v1 > limit) out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kernel reads

export interface SampleVip {
  key: VipKey;
  vipNum: number;
}

export interface SampleReal {
  index: number;
  address: string;
}

export interface SamplerOptions {
  /** Monotonic clock in ms (default: performance.now). */
  monotonicMs?: () => number;
  /** Wall clock in ms since the epoch (default: Date.now). */
  wallMs?: () => number;
  /** The healthcheck program's hc_stats_map, when there is one. */
  hcStats?: BpfMap;
  maxConnRate?: number;
  /** The VLAN maps (katran-tui's balancer); null / absent: the sample's `vlans` is null. */
  vlans?: VlanTable | null;
}

const XDP_PER_CPU: [keyof Omit<CpuStat, 'cpu'>, GlobalCounter][] = [
  ['total', 'xdpTotal'], ['tx', 'xdpTx'], ['drop', 'xdpDrop'], ['pass', 'xdpPass'],
];

export class StatsSampler {
  private readonly statsReader: ArrayRangeReader;
  private readonly realsReader: ArrayRangeReader;
  private readonly statsRows: number;
  private readonly realsRows: number;
  private readonly cpus: number;
  private readonly stride: number;
  private readonly statsView: DataView;
  private readonly realsView: DataView;
  private readonly book = new RateBook();
  private readonly hcBuf?: Buffer;
  private readonly quicBuf?: Buffer;
  private readonly quicKey = Buffer.alloc(4);
  /** kt_reasons (katran-tui's own objects only). */
  private readonly reasons?: ReasonsReader;
  private lastMono: number | undefined;
  private prevConn: { v1: bigint; v2: bigint }[] | undefined;
  private readonly mono: () => number;
  private readonly wall: () => number;
  private vipNames: { list: readonly SampleVip[]; ids: string[]; names: string[] } | null = null;
  private realNames: { list: readonly SampleReal[]; names: string[] } | null = null;

  constructor(private readonly maps: BalancerMaps, private readonly sizes: BalancerSizes, private readonly o: SamplerOptions = {}) {
    // Globals sit at MAX_VIPS + offset: read from 0 through the highest global we know, or the
    // whole map when it is smaller.
    const maxOff = Math.max(...Object.values(STATS));
    this.statsRows = Math.min(maps.stats.maxEntries, sizes.maxVips + maxOff + 1);
    this.realsRows = maps.realsStats.maxEntries;
    this.statsReader = new ArrayRangeReader(maps.stats, this.statsRows);
    this.realsReader = new ArrayRangeReader(maps.realsStats, this.realsRows);
    this.cpus = maps.stats.cpus;
    this.stride = maps.stats.perCpu ? maps.stats.valueBufferSize / this.cpus : maps.stats.valueBufferSize;
    this.statsView = new DataView(this.statsReader.values.buffer, this.statsReader.values.byteOffset, this.statsReader.values.byteLength);
    this.realsView = new DataView(this.realsReader.values.buffer, this.realsReader.values.byteOffset, this.realsReader.values.byteLength);
    if (o.hcStats) this.hcBuf = o.hcStats.newValueBuffer();
    if (maps.quicStats) this.quicBuf = maps.quicStats.newValueBuffer();
    const reasons = maps.all.get(MAP.reasons);
    if (reasons) this.reasons = new ReasonsReader(reasons);
    this.mono = o.monotonicMs ?? (() => performance.now());
    this.wall = o.wallMs ?? (() => Date.now());
  }

  private cpusOf(map: BpfMap): number {
    return map.perCpu ? map.cpus : 1;
  }

  /** Sum over CPUs of u64 `field` (0: v1, 8: v2) of row `row`. */
  private sum(view: DataView, rowBytes: number, cpus: number, stride: number, row: number, field: number): bigint {
    let s = 0n;
    const base = row * rowBytes + field;
    for (let c = 0; c < cpus; c++) s += view.getBigUint64(base + c * stride, true);
    return s;
  }

  /** Reads every counter once and computes rates since the previous call. */
  sample(vips: readonly SampleVip[], reals: readonly SampleReal[]): StatsSample {
    const now = this.mono();
    const elapsedMs = this.lastMono === undefined ? 0 : Math.max(0, now - this.lastMono);
    this.lastMono = now;

    const gotStats = this.statsReader.read(0, this.statsRows);
    const maxReal = reals.reduce((m, r) => Math.max(m, r.index), 0);
    const realRows = Math.min(this.realsRows, maxReal + 1);
    const gotReals = realRows > 0 ? this.realsReader.read(0, realRows) : 0;

    const book = this.book;
    book.begin(elapsedMs);
    const cpus = this.cpusOf(this.maps.stats);
    const rowBytes = this.maps.stats.valueBufferSize;
    const stride = this.stride;
    const sv = this.statsView;
    const row = (i: number): boolean => i < gotStats;

    const global = {} as Record<GlobalCounter, PairStat>;
    for (const name of GLOBAL_COUNTERS) {
      const i = this.sizes.maxVips + STATS[name];
      const v1 = row(i) ? this.sum(sv, rowBytes, cpus, stride, i, 0) : 0n;
      const v2 = row(i) ? this.sum(sv, rowBytes, cpus, stride, i, 8) : 0n;
      global[name] = book.pair(name, v1, v2, GAUGES.has(name));
    }

    const perCpu: CpuStat[] = [];
    for (let c = 0; c < cpus; c++) {
      const cs = { cpu: c } as CpuStat;
      for (const [field, name] of XDP_PER_CPU) {
        const i = this.sizes.maxVips + STATS[name];
        const off = i * rowBytes + c * stride;
        const v1 = row(i) ? sv.getBigUint64(off, true) : 0n;
        const v2 = row(i) ? sv.getBigUint64(off + 8, true) : 0n;
        cs[field] = book.pair(`cpu${c}.${name}`, v1, v2);
      }
      perCpu.push(cs);
    }

    const conn: { v1: bigint; v2: bigint }[] = [];
    const ci = this.sizes.maxVips + STATS.newConnRate;
    if (row(ci)) {
      for (let c = 0; c < cpus; c++) {
        const off = ci * rowBytes + c * stride;
        conn.push({ v1: sv.getBigUint64(off, true), v2: sv.getBigUint64(off + 8, true) });
      }
    }
    const underFlood = conn.length > 0 && this.prevConn !== undefined && floodedCpus(this.prevConn, conn, this.o.maxConnRate).length > 0;
    this.prevConn = conn;

    const vipStats: VipStat[] = [];
    if (this.vipNames?.list !== vips) {
      const ids = vips.map((v) => formatVip(v.key));
      // The VIP's identity is part of the name: a vip_num reused by another VIP starts afresh.
      this.vipNames = { list: vips, ids, names: vips.map((v, k) => `vip ${ids[k]}#${v.vipNum}`) };
    }
    const vn = this.vipNames;
    for (let k = 0; k < vips.length; k++) {
      const v = vips[k];
      const id = vn.ids[k];
      const i = v.vipNum;
      const pk = row(i) ? this.sum(sv, rowBytes, cpus, stride, i, 0) : 0n;
      const by = row(i) ? this.sum(sv, rowBytes, cpus, stride, i, 8) : 0n;
      const p = book.pair(vn.names[k], pk, by);
      vipStats.push({ id, key: v.key, packets: p.v1, bytes: p.v2, pps: p.r1, bps: p.r2 * 8 });
    }

    const realStats: RealStat[] = [];
    const rcpus = this.cpusOf(this.maps.realsStats);
    const rRow = this.maps.realsStats.valueBufferSize;
    const rStride = this.maps.realsStats.perCpu ? rRow / rcpus : rRow;
    if (this.realNames?.list !== reals) this.realNames = { list: reals, names: reals.map((r) => `real ${r.address}#${r.index}`) };
    const rn = this.realNames.names;
    for (let k = 0; k < reals.length; k++) {
      const r = reals[k];
      const ok = r.index < gotReals;
      const pk = ok ? this.sum(this.realsView, rRow, rcpus, rStride, r.index, 0) : 0n;
      const by = ok ? this.sum(this.realsView, rRow, rcpus, rStride, r.index, 8) : 0n;
      const p = book.pair(rn[k], pk, by);
      realStats.push({ index: r.index, address: r.address, packets: p.v1, bytes: p.v2, pps: p.r1, bps: p.r2 * 8 });
    }

    let healthcheck: StatsSample['healthcheck'] = null;
    if (this.o.hcStats && this.hcBuf) {
      const m = this.o.hcStats;
      const key = Buffer.alloc(m.shape.keySize);
      if (m.lookup(key, this.hcBuf)) {
        const hv = new DataView(this.hcBuf.buffer, this.hcBuf.byteOffset, this.hcBuf.byteLength);
        const hc = this.cpusOf(m);
        const hs = m.perCpu ? m.valueBufferSize / hc : m.valueBufferSize;
        const f = (off: number): number => (off + 8 <= m.shape.valueSize ? Number(this.sum(hv, 0, hc, hs, 0, off)) : 0);
        healthcheck = { processed: f(0), dropped: f(8), skipped: f(16), tooBig: f(24) };
      }
    }

    let quic: QuicSample | null = null;
    const qm = this.maps.quicStats;
    if (qm && this.quicBuf && qm.lookup(this.quicKey, this.quicBuf)) {
      const d = quicStats.decodePerCpu(this.quicBuf, this.cpusOf(qm), qm.valueBufferSize / this.cpusOf(qm));
      const totals = {} as Record<QuicCounter, number>;
      const rates = {} as Record<QuicCounter, number>;
      for (const f of QUIC_COUNTERS) {
        const p = book.pair(`quic.${f}`, d.totals[f], 0n);
        totals[f] = p.v1;
        rates[f] = p.r1;
      }
      quic = { totals, rates, invalidIdSamples: d.samples };
    }

    const reasons = this.reasons ? this.reasons.read(book) : null;
    const vlans = this.o.vlans ? sampleVlans(this.o.vlans, book) : null;

    book.end();
    return {
      quic,
      reasons,
      vlans,
      at: this.wall(),
      elapsedMs,
      global,
      perCpu,
      vips: vipStats,
      reals: realStats,
      healthcheck,
      resets: book.resets.slice(),
      underFlood,
    };
  }
}
