// The balancer as the console sees it: info, VIPs, the log pane's entries, and change operations
// run in two steps (a dry run that describes the change, then the write) with errors as values.
//
// The VIP list is dear: Dataplane.vips() counts every VIP's ring slots in the kernel's ring, ~7 ms
// per VIP here (4 s for 512 VIPs x 65537 slots, all of it in bpf_map_lookup_batch). So it is read
// once after the first frame is drawn (until then the table is built from the sample), after our
// own changes, and when a sample shows that someone else changed something (the VIP set, the
// capacity, or a new change-log entry) — never on a timer.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { BalancerInfo, ChangeLogEntry, ChangeOptions, ChangeResult, Dataplane, StatsSample, VipState } from '../../dataplane/types.js';
import { describeError } from '../errors.js';
import { describeChange } from '../../dataplane/rules.js';

export interface LogEntry { at: number; level: 'info' | 'warn' | 'error'; text: string }

/** One change: what it is called and how to run it (dry or for real). */
export interface Op { label: string; run(o: ChangeOptions): ChangeResult }

export type Outcome = { ok: true; result: ChangeResult } | { ok: false; error: Error; message: string };

export interface Balancer {
  info: BalancerInfo;
  vips: VipState[];
  /** False until the first VIP list is read (shortly after the first frame). */
  vipsLoaded: boolean;
  log: LogEntry[];
  addLog(level: LogEntry['level'], text: string): void;
  refresh(): void;
  /** Info only (capacity, MAC, mode): cheaper than the VIP list. */
  refreshInfo(): void;
  /**
   * Per sample: info (re-rendering only when it changed), and the VIP list only when the sample,
   * the capacity or the change log show a change made elsewhere.
   */
  refreshIfChanged(sample: StatsSample | null): void;
  /** Why writes are refused, or null when they are allowed. */
  refusal: string | null;
  preview(op: Op): Outcome;
  apply(op: Op): Outcome;
}

const LOG_CAP = 200;

export function runOp(op: Op, dryRun: boolean): Outcome {
  try {
    return { ok: true, result: op.run({ dryRun }) };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    return { ok: false, error, message: `${op.label}: ${describeError(error)}` };
  }
}

export function useBalancer(dp: Dataplane, now: () => number = Date.now): Balancer {
  const [info, setInfo] = useState(() => dp.info());
  const [vips, setVips] = useState<VipState[]>([]);
  const [vipsLoaded, setVipsLoaded] = useState(false);
  // What the last VIP list read saw: the newest change-log entry and the VIP ids.
  const seen = useRef<{ logHead: string; ids: Set<string> } | null>(null);
  const [log, setLog] = useState<LogEntry[]>(() => dp.changeLog(20).map((c) => ({
    at: Date.parse(c.at) || now(), level: 'info' as const, text: describeChange(c),
  })));

  const addLog = useCallback((level: LogEntry['level'], text: string) => {
    setLog((l) => [...l.slice(-(LOG_CAP - 1)), { at: now(), level, text }]);
  }, [now]);

  const refresh = useCallback(() => {
    try {
      const head = logHead(dp.changeLog(1));
      setInfo(dp.info());
      const v = dp.vips();
      seen.current = { logHead: head, ids: new Set(v.map((x) => x.id)) };
      setVips(v);
      setVipsLoaded(true);
    } catch (e) {
      addLog('error', `refresh: ${describeError(e as Error)}`);
    }
  }, [dp, addLog]);

  const refreshInfo = useCallback(() => {
    // Re-render only when something changed (this runs with every sample).
    try { const n = dp.info(); setInfo((o) => (sameInfo(o, n) ? o : n)); } catch (e) { addLog('error', `refresh: ${describeError(e as Error)}`); }
  }, [dp, addLog]);

  const refreshIfChanged = useCallback((sample: StatsSample | null) => {
    const s = seen.current;
    if (!s) { refreshInfo(); return; } // the first read is still to come
    let changed = false;
    try {
      const n = dp.info();
      const o = info;
      changed = n.capacity.vips !== o.capacity.vips || n.capacity.reals !== o.capacity.reals;
      if (!changed) changed = logHead(dp.changeLog(1)) !== s.logHead;
      if (!changed && sample) changed = sample.vips.length !== s.ids.size || sample.vips.some((v) => !s.ids.has(v.id));
      if (!changed) { setInfo((x) => (sameInfo(x, n) ? x : n)); return; }
    } catch (e) {
      addLog('error', `refresh: ${describeError(e as Error)}`);
      return;
    }
    refresh();
  }, [dp, info, addLog, refresh, refreshInfo]);

  // The first VIP list after the first frame is on the screen (a timer, not the commit: Ink writes
  // the frame after the commit, and a long read in an effect would hold it back).
  useEffect(() => {
    const t = setTimeout(refresh, 0);
    return () => clearTimeout(t);
  }, [refresh]);

  const refusal = info.readOnly ? `read-only (${info.readOnlyReason ?? (info.owner === 'observed' ? 'observing a balancer that is not ours' : '--readonly')})` : null;

  const preview = useCallback((op: Op) => runOp(op, true), []);
  const apply = useCallback((op: Op) => {
    const r = runOp(op, false);
    if (r.ok) {
      for (const s of r.result.summary) addLog('info', s);
      for (const w of r.result.warnings) addLog('warn', w);
    } else {
      addLog('error', r.message);
    }
    refresh();
    return r;
  }, [addLog, refresh]);

  return { info, vips, vipsLoaded, log, addLog, refresh, refreshInfo, refreshIfChanged, refusal, preview, apply };
}

function logHead(entries: ChangeLogEntry[]): string {
  const e = entries[entries.length - 1];
  return e ? `${e.at} ${e.op} ${e.target}` : '';
}

function sameInfo(a: BalancerInfo, b: BalancerInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

