// Formatting for the console: humanised rates, sizes, durations, MACs, fixed-width cells.
// Pure functions, no React, no colours.

import { human, pct } from '../dataplane/rules.js';

// Numbers read the same in the console and the CLI: one human() (rules.ts).
export { human };

/** Packets per second. */
export function fmtPps(pps: number): string {
  return `${human(Math.round(pps))}`;
}

/** Bits per second: "1.2Gb/s". */
export function fmtBps(bps: number): string {
  return `${human(Math.round(bps))}b/s`;
}

/** A total counter: "1.23M". */
export function fmtCount(n: number): string {
  return human(n);
}

/** 0.1234 -> "12.3%". */
export const fmtPct = pct;

/** 3723000 -> "1h02m", 65000 -> "1m05s", 900 -> "0.9s". */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** Interval in ms -> "1s", "500ms", "2.5s". */
export function fmtInterval(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return `${+(ms / 1000).toFixed(1)}s`;
}

/** Lower-case, zero-padded, colon-separated; null -> "unset". */
export function fmtMac(mac: string | null | undefined): string {
  if (!mac) return 'unset';
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6) return mac;
  return parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
}

/** Wall clock "HH:MM:SS" of an epoch-ms time (local). */
export function fmtClock(at: number): string {
  const d = new Date(at);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

/** Cuts to `w` columns with an ellipsis, pads to `w` (left-aligned by default). */
export function cell(s: string, w: number, align: 'left' | 'right' = 'left'): string {
  if (w <= 0) return '';
  let t = s.length > w ? (w > 1 ? `${s.slice(0, w - 1)}…` : s.slice(0, w)) : s;
  if (t.length < w) t = align === 'left' ? t.padEnd(w) : t.padStart(w);
  return t;
}

const BARS = '▁▂▃▄▅▆▇█';

/** The last `w` values as a block sparkline scaled to their own max. */
export function sparkline(values: readonly number[], w: number): string {
  const v = values.slice(-w);
  const max = Math.max(0, ...v);
  let s = '';
  for (const x of v) s += max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.floor((x / max) * (BARS.length - 1) + 0.5))];
  return s.padStart(w, ' ');
}
