// The operator's "why" from a sample: drop and pass reasons ordered so the moving ones come first,
// the one the header names, and the VLANs whose VIP traffic passes unbalanced. No screen here; the
// words are REASON_ADVICE's (rules.ts), the names and order abi.ts's.
import { REASON_ADVICE } from '../../dataplane/rules.js';
import type { DropReason, PassReason, ReasonsSample, StatsSample, VlanStat } from '../../dataplane/types.js';
import { fmtPps } from '../format.js';
import { dropLevel } from './health.js';

export interface ReasonRow {
  kind: 'drop' | 'pass';
  reason: DropReason | PassReason;
  label: string;
  advice: string;
  pps: number;
  packets: number;
  /** It counted during the last interval. */
  moving: boolean;
}

/** Drops before passes inside each group; the group order is what the panel shows top down. */
const group = (r: ReasonRow): number => (r.moving ? 0 : r.packets > 0 ? 1 : 2) * 2 + (r.kind === 'drop' ? 0 : 1);

/** Every reason: moving ones first (by rate), then those that counted before (by total), then zeros (abi.ts order). */
export function reasonRows(r: ReasonsSample): ReasonRow[] {
  const rows: ReasonRow[] = [
    ...r.drop.map((x) => ({ kind: 'drop' as const, reason: x.reason, pps: x.pps, packets: x.packets })),
    ...r.pass.map((x) => ({ kind: 'pass' as const, reason: x.reason, pps: x.pps, packets: x.packets })),
  ].map((x) => ({ ...x, ...REASON_ADVICE[x.reason], moving: x.pps > 0 }));
  // Array.prototype.sort is stable: zeros keep the abi.ts order.
  return rows.sort((a, b) => group(a) - group(b) || (a.moving ? b.pps - a.pps : b.packets - a.packets));
}

/** VLANs whose VIP traffic passed because no mapping parses them (kt_vlan_stats), busiest first. */
export function unparsedVlans(s: StatsSample | null): VlanStat[] {
  return (s?.vlans ?? []).filter((v) => !v.configured && v.passed.packets > 0)
    .sort((a, b) => b.passed.pps - a.passed.pps || b.passed.packets - a.passed.packets);
}

/** "VIP traffic on VLAN 575: 1.2k pps — katran-tui vlan add 575". */
export function vlanAdvice(v: VlanStat): string {
  const where = v.vlan === null ? '802.1ad pairs without an entry' : `VLAN ${v.vlan}`;
  return `VIP traffic on ${where}: ${fmtPps(v.passed.pps)} pps — katran-tui vlan add ${v.vlan ?? 'OUTER.INNER'}`;
}

export interface HeaderReason {
  text: string;
  level: 'ok' | 'warn' | 'bad';
  /** An alarm (DROP over 1% of TOTAL, or VIP traffic passed unbalanced): first on the line. */
  first: boolean;
}

/**
 * What the header names: while DROP moves, the top moving drop reason ("DROP 1.2k pps: default
 * MAC unset"), first on the line when DROP is over 1% of TOTAL; tagged VIP traffic passed unparsed
 * outranks a trickle of drops. Null without reasons or while nothing of the kind moves.
 */
export function headerReason(s: StatsSample | null): HeaderReason | null {
  if (!s?.reasons) return null;
  const rows = reasonRows(s.reasons); // moving ones first, busiest first
  const d = s.global.xdpDrop.r1 > 0 ? rows.find((r) => r.kind === 'drop' && r.moving) : undefined;
  const level = dropLevel(s);
  const drop = d ? { text: `DROP ${fmtPps(d.pps)} pps: ${d.label}`, level: level === 'idle' ? 'ok' as const : level, first: level === 'warn' || level === 'bad' } : null;
  if (drop?.first) return drop;
  const v = rows.find((r) => r.reason === 'vlan_unparsed' && r.moving);
  return v ? { text: `PASS ${fmtPps(v.pps)} pps: ${v.label}`, level: 'warn', first: true } : drop;
}
