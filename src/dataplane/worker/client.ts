// The console's side: the AsyncHost / AsyncDataplane of async.ts over a message port. Each call is
// a request with an id; the reply settles its promise, an error reply rejects it with the error
// rebuilt as its own class. startWorkerHost() puts the real Host in a worker thread (koffi and
// every kernel call live there); worker/in-process.ts connects the same client to a Host in this
// thread for tests.
import { Worker } from 'node:worker_threads';
import { DATAPLANE_CALLS, type AsyncDataplane, type AsyncHost, type SampleWatch } from '../async.js';
import type { BalancerInfo, ChangeResult, StatsSample } from '../types.js';
import { fromWire, HOST, type Port, type Reply, type Request } from './wire.js';

/** The thread that owned the dataplane is gone (crashed or terminated): every pending call fails with this. */
export class DataplaneThreadError extends Error {
  constructor(why: string) {
    super(`the dataplane thread ended: ${why}`);
    this.name = 'DataplaneThreadError';
  }
}

interface Watcher { sample(s: StatsSample): void; error(e: Error): void }

export class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly watchers = new Map<number, Watcher>();
  private dead: Error | null = null;

  constructor(private readonly port: Port<Request, Reply>, private readonly busy: (calls: number) => void = () => { /* nothing to track */ }) {
    port.listen((m) => this.receive(m));
  }

  call<T>(h: number, m: string, a: unknown[]): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.busy(this.pending.size);
      this.port.post({ t: 'call', id, h, m, a });
    });
  }

  watch(h: number, ms: number, on: Watcher): SampleWatch {
    const w = this.nextId++;
    this.watchers.set(w, on);
    if (!this.dead) this.port.post({ t: 'watch', h, w, ms });
    return {
      setInterval: (n) => { if (!this.dead) this.port.post({ t: 'interval', w, ms: n }); },
      stop: () => { if (this.watchers.delete(w) && !this.dead) this.port.post({ t: 'unwatch', w }); },
    };
  }

  /** The other side is gone: fail what is pending and everything after. */
  fail(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const w of this.watchers.values()) w.error(e);
    this.watchers.clear();
    this.busy(0);
  }

  private receive(m: Reply): void {
    if (m.t === 'sample' || m.t === 'sampleErr') {
      const w = this.watchers.get(m.w);
      if (w) { if (m.t === 'sample') w.sample(m.s); else w.error(fromWire(m.e)); }
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.busy(this.pending.size);
    if (m.t === 'ok') p.resolve(m.v); else p.reject(fromWire(m.e));
  }
}

type Opened = { h: number; info: BalancerInfo };

function remoteDataplane(c: Connection, { h, info }: Opened): AsyncDataplane {
  const dp = { lastInfo: info } as { -readonly [K in keyof AsyncDataplane]: AsyncDataplane[K] };
  const calls = dp as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const m of DATAPLANE_CALLS) calls[m] = (...a: unknown[]) => c.call(h, m, a);
  dp.info = async () => { dp.lastInfo = await c.call<BalancerInfo>(h, 'info', []); return dp.lastInfo; };
  dp.watch = (ms, on) => c.watch(h, ms, on);
  dp.close = async () => { await c.call(h, 'close', []); };
  return dp;
}

/** An AsyncHost over a connection; `end` runs after the host's close (ends the thread). */
export function remoteHost(c: Connection, end: () => Promise<void> = async () => { /* nothing to end */ }): AsyncHost {
  let closing: Promise<void> | null = null;
  return {
    interfaces: () => c.call(HOST, 'interfaces', []),
    balancers: () => c.call(HOST, 'balancers', []),
    open: async (intf, o) => remoteDataplane(c, await c.call<Opened>(HOST, 'open', [intf, o])),
    attach: async (req, o) => {
      const r = await c.call<{ h: number | null; info: BalancerInfo | null; result: ChangeResult }>(HOST, 'attach', [req, o]);
      return { dataplane: r.h !== null && r.info ? remoteDataplane(c, { h: r.h, info: r.info }) : null, result: r.result };
    },
    close: () => {
      closing ??= c.call(HOST, 'close', []).then(() => undefined, () => undefined).then(end);
      return closing;
    },
  };
}

/** How long close() waits for the thread to close the dataplanes (fds, lock) before it is terminated. */
const CLOSE_WAIT_MS = 5000;

/**
 * The real Host ({pinRoot, stateDir}) in a worker thread. The worker keeps the process alive only
 * while a call is pending, so a console that quits never hangs on it; close() closes the
 * dataplanes there (never detaching) and terminates the thread.
 */
export function startWorkerHost(o: { pinRoot: string; stateDir: string }): AsyncHost {
  const worker = new Worker(new URL('./thread.js', import.meta.url), { workerData: o });
  worker.unref();
  let closing = false;
  const c = new Connection(
    { post: (m) => worker.postMessage(m), listen: (fn) => worker.on('message', fn) },
    (n) => { if (n > 0 || closing) worker.ref(); else worker.unref(); },
  );
  worker.on('error', (e) => c.fail(new DataplaneThreadError(e.message)));
  worker.on('exit', (code) => c.fail(new DataplaneThreadError(`exit code ${code}`)));
  const host = remoteHost(c, async () => { await worker.terminate(); });
  const close = host.close;
  host.close = () => {
    closing = true;
    worker.ref();
    const t = setTimeout(() => { void worker.terminate(); }, CLOSE_WAIT_MS);
    return close().finally(() => clearTimeout(t));
  };
  return host;
}
