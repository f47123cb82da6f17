// The connection table as a screen reads it: slice after slice of the LRUs (each a bounded call
// on the dataplane's thread, so writes and samples are never stuck behind a 1M-entry read), with
// progress, re-read when `tick` moves (a sample) and the last read is done. The previous read's
// counts per real stay beside the new ones: a draining real's flow count is seen falling.
import { useEffect, useRef, useState } from 'react';
import type { AsyncDataplane } from '../../dataplane/async.js';
import type { FlowList, FlowQuery } from '../../dataplane/types.js';
import { FLOW_SLICE, mergeFlowLists, DEFAULT_FLOW_LIMIT } from '../../dataplane/lru/query.js';
import { describeError } from '../errors.js';

export interface Flows {
  /** The last complete read (null until the first is done). */
  list: FlowList | null;
  /** Counts per real before the last change of them (a draining real's count is seen falling). */
  before: Map<string, number> | null;
  /** The read under way: entries read so far of the LRUs' total size. */
  progress: { read: number; capacity: number } | null;
  error: string | null;
  /** Reads again now (after a purge). */
  reload(): void;
}

/** Reads the flows matching `q` (null: nothing to read) whenever `tick` changes and no read is running. */
export function useFlows(dp: AsyncDataplane, q: FlowQuery | null, tick: number, o: { slice?: number; limit?: number } = {}): Flows {
  const [list, setList] = useState<FlowList | null>(null);
  const [before, setBefore] = useState<Map<string, number> | null>(null);
  const [progress, setProgress] = useState<{ read: number; capacity: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [again, setAgain] = useState(0);
  const running = useRef(false);
  const key = q ? JSON.stringify(q) : '';
  const live = useRef(key);
  live.current = key;
  // A new query starts from nothing.
  const last = useRef<FlowList | null>(null);
  useEffect(() => { last.current = null; setList(null); setBefore(null); }, [key]);

  useEffect(() => {
    if (!q || running.current) return;
    running.current = true;
    const mine = key;
    const limit = o.limit ?? q.limit ?? DEFAULT_FLOW_LIMIT;
    void (async () => {
      let acc: FlowList | null = null;
      try {
        let cursor = null;
        // Bounded: every slice reads entries or ends the walk; 10,000 slices cover 655M entries.
        for (let i = 0; i < 10_000; i++) {
          const part: FlowList = await dp.flows({ ...q, limit }, { cursor, slice: o.slice ?? FLOW_SLICE });
          if (live.current !== mine) return;
          acc = mergeFlowLists(acc, part, limit);
          cursor = part.cursor;
          if (!cursor) break;
          setProgress({ read: acc.read, capacity: acc.capacity });
        }
        if (!acc) return;
        const prev = last.current;
        if (prev && !samePerReal(prev, acc)) setBefore(new Map(prev.perReal.map((r) => [r.real, r.flows])));
        last.current = acc;
        setList(acc);
        setError(null);
      } catch (e) {
        if (live.current === mine) setError(describeError(e as Error));
      } finally {
        running.current = false;
        setProgress(null);
      }
    })();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dp, key, tick, again]);

  return { list, before, progress, error, reload: () => setAgain((n) => n + 1) };
}

function samePerReal(a: FlowList, b: FlowList): boolean {
  return a.perReal.length === b.perReal.length && a.perReal.every((r, i) => r.real === b.perReal[i].real && r.flows === b.perReal[i].flows);
}
