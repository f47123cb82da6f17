// Judgements the dashboard shows as colours and badges, from a sample. No screen here.
import type { PairStat, StatsSample } from '../../dataplane/types.js';

export type Level = 'ok' | 'warn' | 'bad' | 'idle';

/** DROP as a share of TOTAL: > 1% warn, > 5% (or a spike of 10x the previous rate) bad. */
export function dropLevel(s: StatsSample | null, prevDropRate?: number): Level {
  if (!s) return 'idle';
  const total = s.global.xdpTotal.r1;
  const drop = s.global.xdpDrop.r1;
  if (drop <= 0) return total > 0 ? 'ok' : 'idle';
  const share = total > 0 ? drop / total : 1;
  if (share > 0.05 || (prevDropRate !== undefined && prevDropRate > 0 && drop > prevDropRate * 10)) return 'bad';
  if (share > 0.01) return 'warn';
  return 'ok';
}

/** PASS share of TOTAL: a large PASS share means traffic that is not for a VIP. */
export function passLevel(s: StatsSample | null): Level {
  if (!s) return 'idle';
  const total = s.global.xdpTotal.r1;
  if (total <= 0) return 'idle';
  return s.global.xdpPass.r1 / total > 0.5 ? 'warn' : 'ok';
}

/** LRU hit ratio: 1 - misses / VIP packets (rates over the interval); null without traffic. */
export function lruHitRatio(lru: PairStat): number | null {
  if (lru.r1 <= 0) return null;
  return Math.max(0, 1 - lru.r2 / lru.r1);
}

/** FALLBACK_LRU moved during the interval: some forwarding CPU has no LRU of its own. */
export function fallbackAlarm(s: StatsSample | null): boolean {
  return !!s && s.global.fallbackLru.r1 > 0;
}

/** Per-CPU imbalance: max / mean of total rates (1 = even); null without traffic. */
export function cpuImbalance(s: StatsSample | null): number | null {
  if (!s || !s.perCpu.length) return null;
  const rates = s.perCpu.map((c) => c.total.r1);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  if (mean <= 0) return null;
  return Math.max(...rates) / mean;
}
