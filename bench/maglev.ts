// Maglev ring speed: a full 65537-slot ring for 100 reals, both variants, against Katran's C++
// (1.6 ms on this machine kind; issue 4: at most 20 ms, aim for a few), and ringDiff.
import { buildRing, ipHash, movedShare, ringDiff, ringForReals, type Endpoint } from '../src/dataplane/control/maglev.js';
import type { HashKind } from '../src/dataplane/types.js';

const RING_SIZE = 65537;
const REALS = 100;
const LIMIT_MS = 20;
const RUNS = 41;
const WARMUP = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn: () => unknown): { median: number; min: number; max: number } {
  for (let i = 0; i < WARMUP; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { median: median(ts), min: Math.min(...ts), max: Math.max(...ts) };
}

const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

export async function benchMaglev(): Promise<void> {
  const reals = Array.from({ length: REALS }, (_, i) => ({ index: i + 1, address: `198.51.100.${i + 1}`, weight: 1 }));
  const endpoints: Endpoint[] = reals.map((r) => ({ num: r.index, weight: r.weight, hash: ipHash(r.address) }));
  console.log(`${REALS} reals, ring ${RING_SIZE} slots, median of ${RUNS} runs (after ${WARMUP} warm-up)`);
  for (const kind of ['maglev', 'maglev-v2'] as HashKind[]) {
    const full = time(() => ringForReals(reals, RING_SIZE, kind));
    const fill = time(() => buildRing(endpoints, RING_SIZE, kind));
    const verdict = full.median <= LIMIT_MS ? 'within' : 'OVER';
    console.log(`  ${kind.padEnd(9)} full ring (ipHash + permutations + fill): ${fmt(full.median)} (min ${fmt(full.min)}, max ${fmt(full.max)}), `
      + `${(full.median / LIMIT_MS).toFixed(2)}x the ${LIMIT_MS} ms limit (${verdict})`);
    // Same run: the share of the full build that is hashing and permutation work rather than the fill.
    console.log(`  ${kind.padEnd(9)} buildRing (hashes known):               ${fmt(fill.median)}, ${(fill.median / full.median).toFixed(2)}x the full build`);
  }
  // ringDiff: one real joins 100 (the control plane then writes only these slots).
  const before = ringForReals(reals, RING_SIZE, 'maglev-v2')!;
  const after = ringForReals([...reals, { index: REALS + 1, address: '198.51.100.200', weight: 1 }], RING_SIZE, 'maglev-v2')!;
  const diff = time(() => ringDiff(before, after));
  const changed = ringDiff(before, after).length;
  console.log(`  ringDiff (real ${REALS + 1} joins ${REALS}): ${fmt(diff.median)}, ${changed} slots change `
    + `(${(movedShare(before, after) * 100).toFixed(2)}%, ideal ${(100 / (REALS + 1)).toFixed(2)}%)`);
  const diffAll = time(() => ringDiff(null, after));
  console.log(`  ringDiff (no old ring, every slot): ${fmt(diffAll.median)}`);
}

// Run directly: node dist/bench/maglev.js
if (import.meta.url === `file://${process.argv[1]}`) await benchMaglev();
