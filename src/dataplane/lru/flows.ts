// Flows held in the connection table, in the operator's words: which VIP, which client, which
// real, which CPU's LRU, and (UDP) how long ago the flow last sent. One reading of flow_key /
// real_pos_lru for `lru list`, `lru purge`, the console's LRU view and the drain numbers of the
// planner (how many held flows sit on reals that lose ring slots).
import { formatIp, formatVip, realDefinition, u32Key, type Proto, type VipKey } from '../abi.js';
import type { BalancerHandle } from '../kernel/handle.js';
import type { FlowCursor, FlowEntry, FlowList, FlowQuery } from '../types.js';
import { checkFlowQuery, type FlowFilter } from './query.js';
import { closeFlowTables, openFlowTables, walkFlows, type FlowTable } from './tables.js';

const PROTO_OF: Record<number, Proto> = { 6: 'tcp', 17: 'udp' };

/** A flow_key decoded; the address family is the one of the VIP it matches (a v4 key leaves bytes 4..15 zero). */
interface RawFlow { src: string; dst: string; sport: number; dport: number; proto: Proto }

function decodeKey(k: Buffer, family: 4 | 6): RawFlow | null {
  const proto = PROTO_OF[k[36]];
  if (!proto) return null;
  const n = family === 4 ? 4 : 16;
  return { src: formatIp(k.subarray(0, n)), dst: formatIp(k.subarray(16, 16 + n)), sport: k.readUInt16BE(32), dport: k.readUInt16BE(34), proto };
}

const zeroTail = (k: Buffer, off: number) => k.subarray(off + 4, off + 16).every((b) => b === 0);

/** Resolves real indexes to addresses from the reals map (cached per walk). */
class RealNames {
  private readonly cache = new Map<number, string | null>();
  private readonly v: Buffer;
  constructor(private readonly h: BalancerHandle) { this.v = h.maps.reals.newValueBuffer(); }
  of(index: number): string | null {
    let a = this.cache.get(index);
    if (a === undefined) {
      a = index > 0 && index < this.h.maps.reals.maxEntries && this.h.maps.reals.lookup(u32Key(index), this.v) ? realDefinition.decode(this.v)?.address ?? null : null;
      this.cache.set(index, a);
    }
    return a;
  }
}

/** The VIPs a flow can belong to: exact port first, then the VIP's port 0 (every port). */
class VipMatcher {
  private readonly ids = new Set<string>();
  constructor(vips: VipKey[]) { for (const v of vips) this.ids.add(formatVip(v)); }
  match(k: Buffer): { flow: RawFlow; vip: VipKey } | null {
    const families: (4 | 6)[] = zeroTail(k, 16) ? [4, 6] : [6];
    for (const fam of families) {
      const f = decodeKey(k, fam);
      if (!f) return null;
      for (const port of [f.dport, 0]) {
        const vip = { address: f.dst, port, proto: f.proto };
        if (this.ids.has(formatVip(vip))) return { flow: f, vip };
      }
    }
    // A VIP removed since: name it by the flow's own destination.
    const f = decodeKey(k, families[0]);
    return f ? { flow: f, vip: { address: f.dst, port: f.dport, proto: f.proto } } : null;
  }
}

const endpoint = (a: string, p: number) => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);

/** One walk over the tables with a filter: rows in, FlowEntry out. */
export class FlowReader {
  private readonly names: RealNames;
  private readonly vips: VipMatcher;
  private readonly nowNs: bigint;
  constructor(private readonly h: BalancerHandle, vips: VipKey[], private readonly f: FlowFilter, monotonicNs: () => bigint = () => process.hrtime.bigint()) {
    this.names = new RealNames(h);
    this.vips = new VipMatcher(vips);
    this.nowNs = monotonicNs();
  }

  /** The flow of one row, or null when the filter leaves it out. */
  entry(t: FlowTable, key: Buffer, value: Buffer): FlowEntry | null {
    const m = this.vips.match(key);
    if (!m) return null;
    const f = this.f;
    if (f.vip && formatVip(m.vip) !== formatVip(f.vip)) return null;
    if (f.client && (m.flow.src !== f.client.address || (f.client.port !== undefined && m.flow.sport !== f.client.port))) return null;
    const pos = value.readUInt32LE(0);
    const real = this.names.of(pos);
    if (f.real && real !== f.real) return null;
    const atime = value.readBigUInt64LE(8);
    const ageMs = m.flow.proto === 'udp' && atime > 0n ? Math.max(0, Number((this.nowNs - atime) / 1_000_000n)) : null;
    return { vip: formatVip(m.vip), client: endpoint(m.flow.src, m.flow.sport), real, realIndex: pos, cpu: t.cpu, ageMs };
  }
}

function countInto(perReal: Map<string, number>, e: FlowEntry): void {
  const k = e.real ?? `index ${e.realIndex}`;
  perReal.set(k, (perReal.get(k) ?? 0) + 1);
}

/**
 * Reads one slice (or, budget Infinity, all) of the tables from `cursor`: the matching flows up to
 * the limit, a count per real of every match, and where to go on.
 */
export function readFlows(h: BalancerHandle, vips: VipKey[], q: FlowQuery, o: { cursor?: FlowCursor | null; budget?: number; monotonicNs?: () => bigint } = {}): FlowList {
  const f = checkFlowQuery(q);
  const ts = openFlowTables(h);
  try {
    const reader = new FlowReader(h, vips, f, o.monotonicNs);
    const flows: FlowEntry[] = [];
    const perReal = new Map<string, number>();
    let matched = 0;
    const { cursor, read } = walkFlows(ts, o.cursor ?? null, o.budget ?? Number.MAX_SAFE_INTEGER, (t, k, v) => {
      const e = reader.entry(t, k, v);
      if (!e) return;
      matched++;
      countInto(perReal, e);
      if (flows.length < f.limit) flows.push(e);
    });
    const capacity = ts.reduce((s, t) => s + t.map.maxEntries, 0);
    return {
      intf: h.intf, flows, truncated: matched > flows.length, matched,
      perReal: [...perReal].map(([real, n]) => ({ real, flows: n })).sort((a, b) => b.flows - a.flows || (a.real < b.real ? -1 : 1)),
      read, capacity, cursor: cursor ?? null,
    };
  } finally {
    closeFlowTables(ts);
  }
}

/**
 * Deletes the flows of `vip` (of one real, with `real`) from every LRU, so each one's next packet
 * is hashed again. Returns how many were held (dry run) or deleted.
 */
export function purgeFlows(h: BalancerHandle, vips: VipKey[], q: { vip: VipKey; real?: string }, dryRun: boolean): number {
  const f = checkFlowQuery({ vip: q.vip, real: q.real, limit: 1 });
  const ts = openFlowTables(h, !dryRun);
  try {
    const reader = new FlowReader(h, vips, f);
    const doomed = new Map<FlowTable, Buffer[]>();
    walkFlows(ts, null, Number.MAX_SAFE_INTEGER, (t, k, v) => {
      if (!reader.entry(t, k, v)) return;
      let l = doomed.get(t);
      if (!l) doomed.set(t, (l = []));
      l.push(Buffer.from(k));
    });
    let n = 0;
    for (const [t, keys] of doomed) {
      if (dryRun) { n += keys.length; continue; }
      for (const k of keys) if (t.map.delete(k)) n++;
    }
    return n;
  } finally {
    closeFlowTables(ts);
  }
}

/** Held flows of `vip` per real index (the planner's drain numbers). */
export function heldFlowsByReal(h: BalancerHandle, vips: VipKey[], vip: VipKey): Map<number, number> {
  const f = checkFlowQuery({ vip, limit: 1 });
  const ts = openFlowTables(h);
  try {
    const reader = new FlowReader(h, vips, f);
    const out = new Map<number, number>();
    walkFlows(ts, null, Number.MAX_SAFE_INTEGER, (t, k, v) => {
      const e = reader.entry(t, k, v);
      if (e) out.set(e.realIndex, (out.get(e.realIndex) ?? 0) + 1);
    });
    return out;
  } finally {
    closeFlowTables(ts);
  }
}
