// kt_reasons read straight from the map (bpf/reasons.h layout from abi.ts REASONS), for the
// prog_test_run tests: every reason's packets and bytes summed over CPUs, and deltas between two reads.
import { DROP_REASONS, MAP, PASS_REASONS, REASONS, u32Key } from '../../src/dataplane/abi.js';
import { numPossibleCpus } from '../../src/dataplane/kernel/libbpf.js';
import type { BpfMap } from '../../src/dataplane/kernel/maps.js';
import type { LoadedBalancer } from '../../src/dataplane/kernel/loader.js';

/** 'drop.zero_mac', 'pass.no_vip', ... -> [packets, bytes] */
export type ReasonCounts = Record<string, [bigint, bigint]>;

export const REASON_KEYS: { key: string; index: number }[] = [
  ...DROP_REASONS.map((r, i) => ({ key: `drop.${r}`, index: i })),
  ...PASS_REASONS.map((r, i) => ({ key: `pass.${r}`, index: REASONS.passBase + i })),
];

/** Reads every reason through `read(index)` (packets, bytes summed over CPUs). */
export function readReasons(read: (index: number) => { v1: bigint; v2: bigint }): ReasonCounts {
  const out: ReasonCounts = {};
  for (const { key, index } of REASON_KEYS) {
    const c = read(index);
    out[key] = [c.v1, c.v2];
  }
  return out;
}

/** kt_reasons of a loaded balancer. */
export function reasonsOf(lb: LoadedBalancer): ReasonCounts {
  const m: BpfMap | undefined = lb.maps.all.get(MAP.reasons);
  if (!m) throw new Error('the object has no kt_reasons map');
  const buf = m.newValueBuffer();
  const cpus = numPossibleCpus();
  const stride = buf.length / cpus;
  return readReasons((i) => {
    m.lookup(u32Key(i), buf);
    let v1 = 0n;
    let v2 = 0n;
    for (let c = 0; c < cpus; c++) {
      v1 += buf.readBigUInt64LE(c * stride);
      v2 += buf.readBigUInt64LE(c * stride + 8);
    }
    return { v1, v2 };
  });
}

/** after - before, only the reasons that moved, as numbers. */
export function reasonDelta(before: ReasonCounts, after: ReasonCounts): Record<string, [number, number]> {
  const d: Record<string, [number, number]> = {};
  for (const k of Object.keys(after)) {
    const p = Number(after[k][0] - before[k][0]);
    const b = Number(after[k][1] - before[k][1]);
    if (p || b) d[k] = [p, b];
  }
  return d;
}

/** Sum of the drop (or pass) reasons: [packets, bytes]. */
export function reasonSum(c: ReasonCounts, kind: 'drop' | 'pass'): [bigint, bigint] {
  let p = 0n;
  let b = 0n;
  for (const [k, v] of Object.entries(c)) {
    if (k.startsWith(`${kind}.`)) {
      p += v[0];
      b += v[1];
    }
  }
  return [p, b];
}
