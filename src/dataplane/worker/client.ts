// The console's side: the AsyncHost / AsyncDataplane of async.ts over a message port. Each call is
// a request with an id; the reply settles its promise, an error reply rejects it with the error
// rebuilt as its own class. startWorkerHost() puts the real Host in a worker thread (koffi and
// every kernel call live there); worker/in-process.ts connects the same client to a Host in this
// thread for tests.
import { Worker } from 'node:worker_threads';
import { DATAPLANE_CALLS, type AsyncDataplane, type AsyncHost, type SampleWatch } from '../async.js';
import type { BalancerInfo, ChangeOptions, ChangeResult, StatsSample } from '../types.js';
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

  watch(h: number, ms: number, on: Watcher, prime = false): SampleWatch {
    const w = this.nextId++;
    this.watchers.set(w, on);
    if (!this.dead) this.port.post({ t: 'watch', h, w, ms, prime });
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
type OpenArgs = [intf: string, o: { readOnly?: boolean; detached?: boolean } | undefined];

/** Calls that change the balancer (unless a dry run): the sampler's read-only handle is reopened after them. */
const WRITES = new Set<string>(['addVip', 'removeVip', 'setVipFlags', 'addReal', 'removeReal', 'setRealWeight', 'setDefaultMac', 'applyConfig', 'addVlan', 'removeVlan', 'setVlanMac', 'reattach',
  'addQuicMapping', 'removeQuicMapping', 'setRealDown', 'purgeFlows']);

/**
 * Samples from a second thread: a slow call on the writer's thread (the first 512-VIP ring read, a
 * change, the writer lock) holds back no sample. The sampler opens the same balancer read-only
 * (no lock); as a read-only handle keeps the VIP list it opened with, it is reopened after each of
 * our changes, its first sample there only setting the baseline. If it cannot open, the writer's
 * thread samples.
 */
class SamplerWatch implements SampleWatch {
  private inner: { h: number | null; w: SampleWatch } | null = null;
  private stopped = false;
  private turn: Promise<void> = Promise.resolve();
  constructor(private readonly s: Connection, private readonly fallback: (ms: number) => SampleWatch, private readonly args: OpenArgs,
    private ms: number, private readonly on: Watcher) {
    this.restart(false);
  }
  setInterval(ms: number): void { this.ms = ms; this.inner?.w.setInterval(ms); }
  stop(): void { this.stopped = true; this.restart(false); }
  /** After one of our changes: a fresh read-only handle (serialised with earlier restarts). */
  reopen(): void { if (!this.stopped) this.restart(true); }
  private restart(prime: boolean): void {
    this.turn = this.turn.then(async () => {
      const old = this.inner;
      this.inner = null;
      old?.w.stop();
      if (old?.h != null) await this.s.call(old.h, 'close', []).catch(() => undefined);
      if (this.stopped) return;
      try {
        const { h } = await this.s.call<Opened>(HOST, 'open', [this.args[0], { ...this.args[1], readOnly: true }]);
        if (this.stopped) { await this.s.call(h, 'close', []).catch(() => undefined); return; }
        this.inner = { h, w: this.s.watch(h, this.ms, this.on, prime) };
      } catch {
        if (!this.stopped) this.inner = { h: null, w: this.fallback(this.ms) };
      }
    });
  }
}

function remoteDataplane(c: Connection, { h, info }: Opened, sampler?: { s: Connection; args: OpenArgs }): AsyncDataplane {
  const dp = { lastInfo: info } as { -readonly [K in keyof AsyncDataplane]: AsyncDataplane[K] };
  const watches = new Set<SamplerWatch>();
  const calls = dp as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const m of DATAPLANE_CALLS) {
    calls[m] = async (...a: unknown[]) => {
      const v = await c.call(h, m, a);
      const last = a[a.length - 1] as ChangeOptions | undefined;
      if (WRITES.has(m) && !(last && typeof last === 'object' && 'dryRun' in last && last.dryRun)) for (const w of watches) w.reopen();
      return v;
    };
  }
  dp.info = async () => { dp.lastInfo = await c.call<BalancerInfo>(h, 'info', []); return dp.lastInfo; };
  dp.watch = (ms, on) => {
    if (!sampler) return c.watch(h, ms, on);
    const w = new SamplerWatch(sampler.s, (n) => c.watch(h, n, on), sampler.args, ms, on);
    watches.add(w);
    return { setInterval: (n) => w.setInterval(n), stop: () => { watches.delete(w); w.stop(); } };
  };
  dp.close = async () => {
    for (const w of watches) w.stop();
    watches.clear();
    await c.call(h, 'close', []);
  };
  return dp;
}

/**
 * An AsyncHost over a connection; `end` runs after the host's close (ends the thread). With
 * `samples`, pushed samples come from that second connection's thread (see SamplerWatch).
 */
export function remoteHost(c: Connection, end: () => Promise<void> = async () => { /* nothing to end */ }, samples?: Connection): AsyncHost {
  let closing: Promise<void> | null = null;
  const sampler = (args: OpenArgs) => (samples ? { s: samples, args } : undefined);
  return {
    interfaces: () => c.call(HOST, 'interfaces', []),
    balancers: () => c.call(HOST, 'balancers', []),
    open: async (intf, o) => remoteDataplane(c, await c.call<Opened>(HOST, 'open', [intf, o]), sampler([intf, o])),
    attach: async (req, o) => {
      const r = await c.call<{ h: number | null; info: BalancerInfo | null; result: ChangeResult }>(HOST, 'attach', [req, o]);
      return { dataplane: r.h !== null && r.info ? remoteDataplane(c, { h: r.h, info: r.info }, sampler([req.intf, undefined])) : null, result: r.result };
    },
    close: () => {
      closing ??= c.call(HOST, 'close', []).then(() => undefined, () => undefined).then(end);
      return closing;
    },
  };
}

/** How long close() waits for a thread to close its dataplanes (fds, lock) before it is terminated. */
const CLOSE_WAIT_MS = 5000;

/**
 * A worker thread serving the real Host ({pinRoot, stateDir}). It keeps the process alive only
 * while a call is pending or it is closing, so a console that quits never hangs on it.
 */
function thread(o: { pinRoot: string; stateDir: string }): { c: Connection; close(): Promise<void> } {
  // A small young generation, as bin/katran-tui gives the main thread (--max-semi-space-size=2).
  const worker = new Worker(new URL('./thread.js', import.meta.url), { workerData: o, resourceLimits: { maxYoungGenerationSizeMb: 6 } });
  worker.unref();
  let closing = false;
  const c = new Connection(
    { post: (m) => worker.postMessage(m), listen: (fn) => worker.on('message', fn) },
    (n) => { if (n > 0 || closing) worker.ref(); else worker.unref(); },
  );
  worker.on('error', (e) => c.fail(new DataplaneThreadError(e.message)));
  worker.on('exit', (code) => c.fail(new DataplaneThreadError(`exit code ${code}`)));
  return {
    c,
    close: async () => {
      closing = true;
      worker.ref();
      const t = setTimeout(() => { void worker.terminate(); }, CLOSE_WAIT_MS);
      try { await c.call(HOST, 'close', []); } catch { /* gone already */ } finally { clearTimeout(t); }
      await worker.terminate();
    },
  };
}

/**
 * The real Host in worker threads: one owns the dataplane (every call, writes, the VIP list), one
 * only samples (SamplerWatch). koffi and every kernel call live there, none on the console's
 * thread. close() closes the dataplanes there (never detaching) and terminates both threads.
 */
export function startWorkerHost(o: { pinRoot: string; stateDir: string }): AsyncHost {
  const writer = thread(o);
  const sampler = thread(o);
  const host = remoteHost(writer.c, async () => { await Promise.all([writer.close(), sampler.close()]); }, sampler.c);
  return host;
}

/** Runs `fn` on a worker host for {pinRoot, stateDir} and closes it afterwards, also when fn throws. */
export async function withWorkerHost<T>(o: { pinRoot: string; stateDir: string }, fn: (host: AsyncHost) => Promise<T>): Promise<T> {
  const host = startWorkerHost(o);
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}
