// Per-VIP (and per-real) rate history for sparklines and the detail chart. Pure data: no React,
// no screen. Bounded: `cap` points per series; series of VIPs that disappear are dropped.
import type { StatsSample } from '../../dataplane/types.js';

export const HISTORY_CAP = 120;

export class History {
  private series = new Map<string, number[]>();
  private times: number[] = [];
  constructor(readonly cap = HISTORY_CAP) {}

  push(s: StatsSample): void {
    if (s.elapsedMs <= 0) return; // the first sample has no rate
    const seen = new Set<string>();
    this.times.push(s.at);
    if (this.times.length > this.cap) this.times.shift();
    const add = (id: string, v: number): void => {
      seen.add(id);
      let a = this.series.get(id);
      if (!a) { a = []; this.series.set(id, a); }
      a.push(v);
      if (a.length > this.cap) a.shift();
    };
    for (const v of s.vips) add(v.id, v.pps);
    for (const r of s.reals) add(`real:${r.address}`, r.pps);
    add('xdp:total', s.global.xdpTotal.r1);
    add('xdp:drop', s.global.xdpDrop.r1);
    for (const id of [...this.series.keys()]) if (!seen.has(id)) this.series.delete(id);
  }

  get(id: string): readonly number[] {
    return this.series.get(id) ?? [];
  }

  /** Sample times (ms since the epoch) matching the last points of every series. */
  at(): readonly number[] {
    return this.times;
  }

  /** A frozen copy (for the paused view). */
  snapshot(): History {
    const h = new History(this.cap);
    for (const [k, v] of this.series) h.series.set(k, [...v]);
    h.times = [...this.times];
    return h;
  }
}
