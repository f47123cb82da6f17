// The side that owns the dataplane: runs each request against the synchronous Host / Dataplane of
// types.ts, one at a time in arrival order (as one thread does), and pushes samples at each
// watcher's interval. A watcher never queues a second sample behind a slow one.
import { realScheduler, DATAPLANE_CALLS, type Scheduler } from '../async.js';
import type { Dataplane, Host } from '../types.js';
import { HOST, toWire, type Port, type Reply, type Request } from './wire.js';

export interface ServeOptions {
  scheduler?: Scheduler;
  /** Awaited before each call and each pushed sample ('sample'): tests make a write or a read take its time. */
  before?: (call: string, args: unknown[]) => Promise<void> | void;
}

interface Watch { h: number; ms: number; stop: () => void; queued: boolean; silent: boolean }

const CALLS = new Set<string>(DATAPLANE_CALLS);

export function serve(host: Host, port: Port<Reply, Request>, o: ServeOptions = {}): void {
  const scheduler = o.scheduler ?? realScheduler;
  const dps = new Map<number, Dataplane>();
  const watches = new Map<number, Watch>();
  let nextHandle = HOST + 1;
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (job: () => Promise<void> | void) => { chain = chain.then(job).catch(() => { /* each job reports its own */ }); };

  const keep = (dp: Dataplane) => { const h = nextHandle++; dps.set(h, dp); return { h, info: dp.info() }; };
  const dpOf = (h: number) => {
    const dp = dps.get(h);
    if (!dp) throw new Error(`dataplane handle ${h} is closed`);
    return dp;
  };
  const stopWatches = (h: number) => { for (const [id, w] of watches) if (w.h === h) { w.stop(); watches.delete(id); } };

  const run = (h: number, m: string, a: unknown[]): unknown => {
    if (h === HOST) {
      switch (m) {
        case 'interfaces': return host.interfaces();
        case 'balancers': return host.balancers();
        case 'open': return keep(host.open(a[0] as string, a[1] as Parameters<Host['open']>[1]));
        case 'attach': {
          const r = host.attach(a[0] as Parameters<Host['attach']>[0], a[1] as Parameters<Host['attach']>[1]);
          return { ...(r.dataplane ? keep(r.dataplane) : { h: null, info: null }), result: r.result };
        }
        case 'close':
          for (const h2 of [...dps.keys()]) { stopWatches(h2); try { dps.get(h2)?.close(); } catch { /* best effort */ } dps.delete(h2); }
          return null;
        default: throw new Error(`unknown host call ${m}`);
      }
    }
    if (m === 'close') { stopWatches(h); const dp = dps.get(h); dps.delete(h); dp?.close(); return null; }
    if (!CALLS.has(m)) throw new Error(`unknown dataplane call ${m}`);
    const dp = dpOf(h) as unknown as Record<string, (...x: unknown[]) => unknown>;
    return dp[m](...a);
  };

  const sampleFor = (id: number) => {
    const w = watches.get(id);
    if (!w || w.queued) return;
    w.queued = true;
    enqueue(async () => {
      await o.before?.('sample', []);
      w.queued = false;
      if (!watches.has(id)) return;
      try {
        const s = dpOf(w.h).sample();
        if (w.silent) w.silent = false; else port.post({ t: 'sample', w: id, s });
      } catch (e) {
        port.post({ t: 'sampleErr', w: id, e: toWire(e) });
      }
    });
  };
  const schedule = (id: number, w: Watch) => { w.stop(); w.stop = scheduler.every(w.ms, () => sampleFor(id)); };

  port.listen((r) => {
    switch (r.t) {
      case 'call':
        enqueue(async () => {
          try {
            await o.before?.(r.m, r.a);
            port.post({ t: 'ok', id: r.id, v: run(r.h, r.m, r.a) });
          } catch (e) {
            port.post({ t: 'err', id: r.id, e: toWire(e) });
          }
        });
        return;
      case 'watch': {
        const w: Watch = { h: r.h, ms: r.ms, stop: () => { /* not started */ }, queued: false, silent: !!r.prime };
        watches.set(r.w, w);
        sampleFor(r.w);
        schedule(r.w, w);
        return;
      }
      case 'interval': {
        const w = watches.get(r.w);
        if (w && w.ms !== r.ms) { w.ms = r.ms; schedule(r.w, w); }
        return;
      }
      case 'unwatch':
        watches.get(r.w)?.stop();
        watches.delete(r.w);
    }
  });
}
