// The dataplane as the console sees it: types.ts's Dataplane and Host with every call a promise,
// so no kernel call (a 512-VIP ring read, the writer lock's wait, a 100-real change) runs on the
// thread that draws frames and reads keys. The console gets one from worker/client.ts (a worker
// thread owns the real Dataplane / Host); UI tests get worker/in-process.ts over a fake, the same
// contract. Errors keep their class across the boundary (ReadOnlyError, LockedError ... still
// match instanceof). The CLI keeps the synchronous interface: it draws no frames.
import type { Dataplane, Host, StatsSample, BalancerInfo, AttachRequest, ChangeOptions, ChangeResult } from './types.js';

type Promised<F> = F extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never;

/** Calls every interval until stopped. The dataplane's timers go through this (tests drive it by hand). */
export interface Scheduler {
  every(ms: number, fn: () => void): () => void;
}

export const realScheduler: Scheduler = {
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
};

/** Samples pushed at an interval, taken where the dataplane lives. */
export interface SampleWatch {
  /** Changes the interval (the next sample comes one new interval after the last one). */
  setInterval(ms: number): void;
  stop(): void;
}

/** The calls of Dataplane that cross the boundary (close is the handle's own). */
export const DATAPLANE_CALLS = [
  'info', 'sample', 'vips', 'addVip', 'removeVip', 'setVipFlags', 'addReal', 'removeReal', 'setRealWeight', 'getDefaultMac',
  'setDefaultMac', 'applyConfig', 'vlans', 'addVlan', 'removeVlan', 'setVlanMac', 'healthcheck', 'trace', 'changeLog', 'reattach', 'detach',
  'quicMappings', 'addQuicMapping', 'removeQuicMapping', 'setRealDown', 'flows', 'purgeFlows', 'runTimeStats',
] as const satisfies readonly (keyof Dataplane)[];
export type DataplaneCall = (typeof DATAPLANE_CALLS)[number];

export type AsyncDataplane = { [K in DataplaneCall]: Promised<Dataplane[K]> } & {
  /** info() as of the last answer (the open, or the newest info() call): the header's first frame. */
  readonly lastInfo: BalancerInfo;
  /** A sample at once, then one every intervalMs, until stop(); a failed sample calls `error`. */
  watch(intervalMs: number, on: { sample(s: StatsSample): void; error(e: Error): void }): SampleWatch;
  /** Releases fds and the lock; never detaches. */
  close(): Promise<void>;
};

export interface AsyncHost {
  interfaces: Promised<Host['interfaces']>;
  balancers: Promised<Host['balancers']>;
  open(intf: string, o?: { readOnly?: boolean; detached?: boolean }): Promise<AsyncDataplane>;
  attach(req: AttachRequest, o?: ChangeOptions): Promise<{ dataplane: AsyncDataplane | null; result: ChangeResult }>;
  /** Closes every dataplane opened through it (never detaches) and ends the thread that owns them. */
  close(): Promise<void>;
}
