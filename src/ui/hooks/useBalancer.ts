// The balancer as the console sees it: info, VIPs, the log pane's entries, and change operations
// run in two steps (a dry run that describes the change, then the write) with errors as values.
import { useCallback, useEffect, useState } from 'react';
import type { BalancerInfo, ChangeOptions, ChangeResult, Dataplane, VipState } from '../../dataplane/types.js';
import { describeError } from '../errors.js';

export interface LogEntry { at: number; level: 'info' | 'warn' | 'error'; text: string }

/** One change: what it is called and how to run it (dry or for real). */
export interface Op { label: string; run(o: ChangeOptions): ChangeResult }

export type Outcome = { ok: true; result: ChangeResult } | { ok: false; error: Error; message: string };

export interface Balancer {
  info: BalancerInfo;
  vips: VipState[];
  log: LogEntry[];
  addLog(level: LogEntry['level'], text: string): void;
  refresh(): void;
  /** Info only (capacity, MAC, mode): cheaper than the VIP list. */
  refreshInfo(): void;
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
  const [vips, setVips] = useState(() => dp.vips());
  const [log, setLog] = useState<LogEntry[]>(() => dp.changeLog(20).map((c) => ({
    at: Date.parse(c.at) || now(), level: 'info' as const, text: `${c.op} ${c.target}: ${short(c.old)} -> ${short(c.new)}`,
  })));

  const addLog = useCallback((level: LogEntry['level'], text: string) => {
    setLog((l) => [...l.slice(-(LOG_CAP - 1)), { at: now(), level, text }]);
  }, [now]);

  const refresh = useCallback(() => {
    try {
      setInfo(dp.info());
      setVips(dp.vips());
    } catch (e) {
      addLog('error', `refresh: ${describeError(e as Error)}`);
    }
  }, [dp, addLog]);

  const refreshInfo = useCallback(() => {
    // Re-render only when something changed (this runs with every sample).
    try { const n = dp.info(); setInfo((o) => (JSON.stringify(o) === JSON.stringify(n) ? o : n)); } catch (e) { addLog('error', `refresh: ${describeError(e as Error)}`); }
  }, [dp, addLog]);

  useEffect(() => { refresh(); }, [refresh]);

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

  return { info, vips, log, addLog, refresh, refreshInfo, refusal, preview, apply };
}

function short(v: unknown): string {
  if (v === null || v === undefined) return '-';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
}
