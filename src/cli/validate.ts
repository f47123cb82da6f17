// Validation of command-line values that abi.ts and rules.ts do not cover: numbers, CPU lists,
// file paths. Everything throws InputError (exit 2) with what is wrong and what is allowed.
// Interface names follow the dataplane's one rule (rules.ts parseIntfName).
import { InputError, XDP_MODE_REQUESTS } from '../dataplane/abi.js';
import { sanitize } from './errors.js';

export function parseIntIn(text: unknown, what: string, min: number, max: number, unit = ''): number {
  const s = String(text ?? '').trim();
  if (!/^\d{1,10}$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new InputError(`bad ${what} "${sanitize(s, 40)}": expected a whole number from ${min} to ${max}${unit}`);
  }
  return Number(s);
}


export function parseIntervalMs(text: unknown): number {
  return parseIntIn(text, 'interval', 100, 3_600_000, ' (milliseconds)');
}

/** "0,1,2-5" -> [0,1,2,3,4,5] (Katran's -forwarding_cores takes "0,1,2"; ranges are a bonus). */
export function parseCpuList(text: unknown, maxCpu = 1023): number[] {
  const s = String(text ?? '').trim();
  const bad = () => new InputError(`bad CPU list "${sanitize(s, 60)}": expected comma-separated CPU numbers or ranges like 0,1,4-7 (0 to ${maxCpu})`);
  if (s === '' || !/^[\d,\s-]+$/.test(s)) throw bad();
  const out = new Set<number>();
  for (const part of s.split(',').map((p) => p.trim())) {
    const m = /^(\d{1,4})(?:-(\d{1,4}))?$/.exec(part);
    if (!m) throw bad();
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a > maxCpu || b > maxCpu || b < a) throw bad();
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/** A file path given by the operator: no NUL, bounded length. Existence is checked by the caller. */
export function parsePath(text: unknown, what = 'file'): string {
  const s = String(text ?? '');
  if (s === '' || s.length > 4096 || s.includes('\0')) throw new InputError(`bad ${what} path "${sanitize(s, 60)}"`);
  return s;
}

export function parseXdpMode(text: unknown): (typeof XDP_MODE_REQUESTS)[number] {
  const s = String(text ?? '').trim().toLowerCase();
  const known = XDP_MODE_REQUESTS.find((m) => m === s);
  if (known) return known;
  if (s === 'drv' || s === 'driver') return 'native';
  if (s === 'skb') return 'generic';
  throw new InputError(`bad XDP mode "${sanitize(s, 40)}": expected auto, native or generic`);
}

