// Per-VIP rate history for sparklines and the detail chart. Pure data: no React,
// no screen. Bounded: `cap` points per series in fixed ring buffers (no per-sample allocation);
// series of VIPs that disappear are dropped.
import type { StatsSample } from '../../dataplane/types.js';

export const HISTORY_CAP = 120;

interface Ring { buf: Float64Array; len: number; head: number; seen: number }

export class History {
  private series = new Map<string, Ring>();
  private times: number[] = [];
  private gen = 0;
  constructor(readonly cap = HISTORY_CAP) {}

  private add(id: string, v: number): void {
    let r = this.series.get(id);
    if (!r) { r = { buf: new Float64Array(this.cap), len: 0, head: 0, seen: 0 }; this.series.set(id, r); }
    r.buf[r.head] = v;
    r.head = (r.head + 1) % this.cap;
    if (r.len < this.cap) r.len++;
    r.seen = this.gen;
  }

  push(s: StatsSample): void {
    if (s.elapsedMs <= 0) return; // the first sample has no rate
    this.gen++;
    this.times.push(s.at);
    if (this.times.length > this.cap) this.times.shift();
    for (const v of s.vips) this.add(v.id, v.pps);
    this.add('xdp:total', s.global.xdpTotal.r1);
    this.add('xdp:drop', s.global.xdpDrop.r1);
    for (const [id, r] of this.series) if (r.seen !== this.gen) this.series.delete(id);
  }

  /** The series, oldest first (a fresh array). */
  get(id: string): number[] {
    const r = this.series.get(id);
    if (!r) return [];
    const out = new Array<number>(r.len);
    const start = (r.head - r.len + this.cap) % this.cap;
    for (let i = 0; i < r.len; i++) out[i] = r.buf[(start + i) % this.cap];
    return out;
  }

  /** Sample times (ms since the epoch) matching the last points of every series. */
  at(): readonly number[] {
    return this.times;
  }

  /** A frozen copy (for the paused view). */
  snapshot(): History {
    const h = new History(this.cap);
    for (const [k, r] of this.series) h.series.set(k, { buf: r.buf.slice(), len: r.len, head: r.head, seen: 0 });
    h.times = [...this.times];
    return h;
  }
}
