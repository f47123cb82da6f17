// The VIP table as data: rows joined from the VIP list and the last sample, sorting, filtering,
// and a selection kept by VIP id across re-sorts and refreshes. No screen here.
import { DEFAULT_HASH } from '../../dataplane/abi.js';
import type { StatsSample, VipState } from '../../dataplane/types.js';

export type SortKey = 'vip' | 'pps' | 'bps' | 'share' | 'reals';
export const SORT_KEYS: SortKey[] = ['vip', 'pps', 'bps', 'share', 'reals'];

export interface VipRow {
  id: string;
  vip: VipState;
  pps: number;
  bps: number;
  /** Share of all VIP traffic (pps), 0..1. */
  share: number;
  reals: number;
  /** Reals with weight > 0. */
  liveReals: number;
  /** Built from the sample alone (the VIP list is not read yet): reals unknown. */
  pending?: boolean;
}

/**
 * Rows joined from the VIP list and the sample. Before the first VIP list is read (`vips` null),
 * the rows come from the sample's VIPs, marked pending (flags and reals unknown).
 */
export function buildRows(vips: readonly VipState[] | null, sample: StatsSample | null): VipRow[] {
  let total = 0;
  for (const v of sample?.vips ?? []) total += v.pps;
  if (vips === null) {
    return (sample?.vips ?? []).map((s) => ({
      id: s.id, vip: { id: s.id, key: s.key, flags: [], hash: DEFAULT_HASH, vipNum: -1, reals: [] }, pps: s.pps, bps: s.bps,
      share: total > 0 ? s.pps / total : 0, reals: 0, liveReals: 0, pending: true,
    }));
  }
  const stat = new Map(sample?.vips.map((v) => [v.id, v]) ?? []);
  return vips.map((v) => {
    const s = stat.get(v.id);
    const pps = s?.pps ?? 0;
    let live = 0;
    for (const r of v.reals) if (r.weight > 0) live++;
    return {
      id: v.id, vip: v, pps, bps: s?.bps ?? 0, share: total > 0 ? pps / total : 0,
      reals: v.reals.length, liveReals: live,
    };
  });
}

function vipOrder(a: VipRow, b: VipRow): number {
  const fa = a.vip.key.address.includes(':') ? 6 : 4;
  const fb = b.vip.key.address.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  if (a.vip.key.address !== b.vip.key.address) {
    if (fa === 4) {
      const na = a.vip.key.address.split('.').map(Number);
      const nb = b.vip.key.address.split('.').map(Number);
      for (let i = 0; i < 4; i++) if (na[i] !== nb[i]) return na[i] - nb[i];
    }
    return a.vip.key.address < b.vip.key.address ? -1 : 1;
  }
  if (a.vip.key.port !== b.vip.key.port) return a.vip.key.port - b.vip.key.port;
  return a.vip.key.proto < b.vip.key.proto ? -1 : a.vip.key.proto > b.vip.key.proto ? 1 : 0;
}

/** Sorts a copy. Numeric columns default to descending; ties fall back to VIP order. */
export function sortRows(rows: readonly VipRow[], key: SortKey, desc: boolean): VipRow[] {
  const dir = desc ? -1 : 1;
  return [...rows].sort((a, b) => {
    const d = key === 'vip' ? vipOrder(a, b) : (a[key] - b[key]);
    return d !== 0 ? d * dir : vipOrder(a, b);
  });
}

/** Case-insensitive substring match on "vip:port/proto" and the flags. */
export function filterRows(rows: readonly VipRow[], text: string): VipRow[] {
  const t = text.trim().toLowerCase();
  if (!t) return [...rows];
  return rows.filter((r) => r.id.toLowerCase().includes(t) || r.vip.flags.some((f) => f.includes(t)));
}

export function indexOfId(rows: readonly { id: string }[], id: string | null): number {
  if (id === null) return rows.length ? 0 : -1;
  const i = rows.findIndex((r) => r.id === id);
  return i >= 0 ? i : rows.length ? 0 : -1;
}

export type Move = number | 'top' | 'bottom';

/** The id selected after a move (keeps the id when it is still visible). */
export function moveSelection(rows: readonly { id: string }[], id: string | null, move: Move): string | null {
  if (!rows.length) return null;
  const cur = indexOfId(rows, id);
  let i = move === 'top' ? 0 : move === 'bottom' ? rows.length - 1 : cur + move;
  i = Math.max(0, Math.min(rows.length - 1, i));
  return rows[i].id;
}

/** First visible row so that `index` is inside a window of `height` rows (scrolls minimally). */
export function scrollTop(index: number, height: number, prevTop: number, count: number): number {
  if (height <= 0 || index < 0) return 0;
  let top = Math.min(prevTop, Math.max(0, count - height));
  if (index < top) top = index;
  if (index >= top + height) top = index - height + 1;
  return Math.max(0, top);
}
