// The samples the dataplane pushes at the interval (taken off this thread), and the history. Pause
// freezes what is shown while sampling continues (so unpausing shows current rates and an unbroken
// history). The interval moves through fixed steps with +/-.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AsyncDataplane, SampleWatch } from '../../dataplane/async.js';
import type { StatsSample } from '../../dataplane/types.js';
import { History } from '../model/history.js';

export type { Scheduler } from '../../dataplane/async.js';

export const INTERVAL_STEPS = [250, 500, 1000, 2000, 5000, 10000, 30000];

export function nextInterval(ms: number, dir: 1 | -1): number {
  if (dir > 0) return INTERVAL_STEPS.find((s) => s > ms) ?? INTERVAL_STEPS[INTERVAL_STEPS.length - 1];
  return [...INTERVAL_STEPS].reverse().find((s) => s < ms) ?? INTERVAL_STEPS[0];
}

export interface Stats {
  /** What the view shows (frozen while paused). */
  sample: StatsSample | null;
  history: History;
  /** The newest sample, also while paused. */
  latest: StatsSample | null;
  /** The DROP rate of the sample before the shown one (for spike detection). */
  prevDropRate: number | undefined;
  paused: boolean;
  togglePause(): void;
  intervalMs: number;
  slower(): void;
  faster(): void;
  /** The last sampling error, cleared by the next good sample. */
  error: Error | null;
  samples: number;
  /** No sample yet (the first is being read) and no error either. */
  loading: boolean;
}

export function useStats(dp: AsyncDataplane | null, o: { intervalMs?: number } = {}): Stats {
  const history = useRef(new History());
  const [live, setLive] = useState<{ sample: StatsSample | null; prevDrop?: number; n: number }>({ sample: null, n: 0 });
  const [frozen, setFrozen] = useState<{ sample: StatsSample | null; prevDrop?: number; history: History } | null>(null);
  const [intervalMs, setIntervalMs] = useState(o.intervalMs ?? 1000);
  const [error, setError] = useState<Error | null>(null);

  const watch = useRef<SampleWatch | null>(null);
  const interval = useRef(intervalMs);
  interval.current = intervalMs;

  useEffect(() => {
    history.current = new History();
    if (!dp) return undefined;
    const w = dp.watch(interval.current, {
      sample: (s) => {
        history.current.push(s);
        setLive((p) => ({ sample: s, prevDrop: p.sample?.global.xdpDrop.r1, n: p.n + 1 }));
        setError((e) => (e ? null : e));
      },
      error: (e) => setError(e),
    });
    watch.current = w;
    return () => { w.stop(); watch.current = null; };
  }, [dp]);

  useEffect(() => { watch.current?.setInterval(intervalMs); }, [intervalMs]);

  const togglePause = useCallback(() => {
    setFrozen((f) => (f ? null : { sample: live.sample, prevDrop: live.prevDrop, history: history.current.snapshot() }));
  }, [live]);
  const slower = useCallback(() => setIntervalMs((ms) => nextInterval(ms, 1)), []);
  const faster = useCallback(() => setIntervalMs((ms) => nextInterval(ms, -1)), []);

  return {
    sample: frozen ? frozen.sample : live.sample,
    history: frozen ? frozen.history : history.current,
    latest: live.sample,
    prevDropRate: frozen ? frozen.prevDrop : live.prevDrop,
    paused: frozen !== null,
    togglePause,
    intervalMs,
    slower,
    faster,
    error,
    samples: live.n,
    loading: live.sample === null && error === null,
  };
}
