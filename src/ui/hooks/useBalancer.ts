// The balancer as the console sees it: info, VIPs, the log pane's entries, and change operations
// run in two steps (a dry run that describes the change, then the write) with errors as values.
// Every call is a promise (the dataplane lives on another thread): while a change is applied
// `applying` names it, and keys and frames go on.
//
// The VIP list is dear: Dataplane.vips() counts every VIP's ring slots in the kernel's ring (kept
// per VIP until its ring changes, but the first read at 512 VIPs takes seconds). So it is read
// once at start (until then the table is built from the sample), after our own changes, and when a
// sample shows that someone else changed something (the VIP set, the capacity, or a new change-log
// entry) — never on a timer. One read at a time: a request during a read runs once after it.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AsyncDataplane } from '../../dataplane/async.js';
import type { BalancerInfo, ChangeLogEntry, ChangeOptions, ChangeResult, StatsSample, VipState } from '../../dataplane/types.js';
import { describeError } from '../errors.js';
import { describeChange } from '../../dataplane/rules.js';

export interface LogEntry { at: number; level: 'info' | 'warn' | 'error'; text: string }

/** One change: what it is called and how to run it (dry or for real). */
export interface Op { label: string; run(o: ChangeOptions): Promise<ChangeResult> }

export type Outcome = { ok: true; result: ChangeResult } | { ok: false; error: Error; message: string };

export interface Balancer {
  info: BalancerInfo;
  vips: VipState[];
  /** False until the first VIP list is read. */
  vipsLoaded: boolean;
  /** The change being applied (its label), null when none. */
  applying: string | null;
  log: LogEntry[];
  addLog(level: LogEntry['level'], text: string): void;
  refresh(): Promise<void>;
  /** Info only (capacity, MAC, mode): cheaper than the VIP list. */
  refreshInfo(): void;
  /**
   * Per sample: info (re-rendering only when it changed), and the VIP list only when the sample,
   * the capacity or the change log show a change made elsewhere.
   */
  refreshIfChanged(sample: StatsSample | null): void;
  /** Why writes are refused, or null when they are allowed. */
  refusal: string | null;
  preview(op: Op): Promise<Outcome>;
  /** Runs the change, logs its outcome and re-reads the VIP list; `applying` names it meanwhile. */
  apply(op: Op): Promise<Outcome>;
}

const LOG_CAP = 200;

export async function runOp(op: Op, dryRun: boolean): Promise<Outcome> {
  try {
    return { ok: true, result: await op.run({ dryRun }) };
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    return { ok: false, error, message: `${op.label}: ${describeError(error)}` };
  }
}

export function useBalancer(dp: AsyncDataplane, now: () => number = Date.now): Balancer {
  const [info, setInfo] = useState(() => dp.lastInfo);
  const infoNow = useRef(info);
  infoNow.current = info;
  const [vips, setVips] = useState<VipState[]>([]);
  const [vipsLoaded, setVipsLoaded] = useState(false);
  const [applying, setApplying] = useState<string | null>(null);
  // What the last VIP list read saw: the newest change-log entry and the VIP ids.
  const seen = useRef<{ logHead: string; ids: Set<string> } | null>(null);
  const [log, setLog] = useState<LogEntry[]>([]);

  const addLog = useCallback((level: LogEntry['level'], text: string) => {
    setLog((l) => [...l.slice(-(LOG_CAP - 1)), { at: now(), level, text }]);
  }, [now]);

  const newInfo = useCallback((n: BalancerInfo) => setInfo((o) => (sameInfo(o, n) ? o : n)), []);

  const reading = useRef<Promise<void> | null>(null);
  const again = useRef(false);
  const refresh = useCallback((): Promise<void> => {
    if (reading.current) { again.current = true; return reading.current; }
    const read = async () => {
      do {
        again.current = false;
        try {
          const head = logHead(await dp.changeLog(1));
          newInfo(await dp.info());
          const v = await dp.vips();
          seen.current = { logHead: head, ids: new Set(v.map((x) => x.id)) };
          setVips(v);
          setVipsLoaded(true);
        } catch (e) {
          addLog('error', `refresh: ${describeError(e as Error)}`);
        }
      } while (again.current);
      reading.current = null;
    };
    reading.current = read();
    return reading.current;
  }, [dp, addLog, newInfo]);

  const refreshInfo = useCallback(() => {
    // Re-render only when something changed (this runs with every sample).
    dp.info().then(newInfo, (e: Error) => addLog('error', `refresh: ${describeError(e)}`));
  }, [dp, addLog, newInfo]);

  const refreshIfChanged = useCallback((sample: StatsSample | null) => {
    const s = seen.current;
    if (!s || reading.current) { refreshInfo(); return; } // the first read is still to come, or a read is on its way
    void (async () => {
      try {
        const n = await dp.info();
        const o = infoNow.current;
        let changed = n.capacity.vips !== o.capacity.vips || n.capacity.reals !== o.capacity.reals;
        if (!changed) changed = logHead(await dp.changeLog(1)) !== s.logHead;
        if (!changed && sample) changed = sample.vips.length !== s.ids.size || sample.vips.some((v) => !s.ids.has(v.id));
        newInfo(n);
        if (changed) await refresh();
      } catch (e) {
        addLog('error', `refresh: ${describeError(e as Error)}`);
      }
    })();
  }, [dp, addLog, refresh, refreshInfo, newInfo]);

  // At start: the change log's tail for the log pane, and the first VIP list.
  useEffect(() => {
    dp.changeLog(20).then(
      (entries) => setLog((l) => [...entries.map((c) => ({ at: Date.parse(c.at) || now(), level: 'info' as const, text: describeChange(c) })), ...l].slice(-LOG_CAP)),
      (e: Error) => addLog('error', `change log: ${describeError(e)}`),
    );
    void refresh();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dp]);

  const refusal = info.readOnly ? `read-only (${info.readOnlyReason ?? (info.owner === 'observed' ? 'observing a balancer that is not ours' : '--readonly')})` : null;

  const preview = useCallback((op: Op) => runOp(op, true), []);
  const apply = useCallback(async (op: Op) => {
    setApplying(op.label);
    try {
      const r = await runOp(op, false);
      if (r.ok) {
        for (const s of r.result.summary) addLog('info', s);
        for (const w of r.result.warnings) addLog('warn', w);
      } else {
        addLog('error', r.message);
      }
      await refresh();
      return r;
    } finally {
      setApplying(null);
    }
  }, [addLog, refresh]);

  return { info, vips, vipsLoaded, applying, log, addLog, refresh, refreshInfo, refreshIfChanged, refusal, preview, apply };
}

function logHead(entries: ChangeLogEntry[]): string {
  const e = entries[entries.length - 1];
  return e ? `${e.at} ${e.op} ${e.target}` : '';
}

function sameInfo(a: BalancerInfo, b: BalancerInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

