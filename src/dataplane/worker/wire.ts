// What crosses the boundary between the console and the thread that owns the dataplane: requests,
// replies, pushed samples, and errors as name + message + fields, rebuilt on the other side as the
// same class (so `instanceof ReadOnlyError` still works in the console).
import { ChangeError } from '../control/reconciler.js';
import { DATAPLANE_ERROR_CLASSES } from '../errors.js';
import type { StatsSample } from '../types.js';

/** Handle 0 is the Host; open / attach hand out the others (one per dataplane). */
export const HOST = 0;

export type Request =
  | { t: 'call'; id: number; h: number; m: string; a: unknown[] }
  /** prime: the first sample only sets the baseline (a fresh handle's first rates are 0), the next is posted. */
  | { t: 'watch'; h: number; w: number; ms: number; prime?: boolean }
  | { t: 'interval'; w: number; ms: number }
  | { t: 'unwatch'; w: number };

export type Reply =
  | { t: 'ok'; id: number; v: unknown }
  | { t: 'err'; id: number; e: WireError }
  | { t: 'sample'; w: number; s: StatsSample }
  | { t: 'sampleErr'; w: number; e: WireError };

/** One end of a message channel (a worker's port, or an in-process pair). */
export interface Port<Out, In> {
  post(m: Out): void;
  listen(fn: (m: In) => void): void;
}

export interface WireError { name: string; message: string; stack?: string; fields: Record<string, unknown>; cause?: WireError }

// Every error class the dataplane throws and the console tells apart. A class missing here arrives
// as a plain Error with its name, message and fields.
const CLASSES = new Map<string, { prototype: Error }>(
  [...DATAPLANE_ERROR_CLASSES, ChangeError].map((c) => [c.name, c]),
);

export function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'cause') continue;
    try { fields[k] = structuredClone(v); } catch { /* not cloneable: left out */ }
  }
  return { name: e.name, message: e.message, stack: e.stack, fields, ...(e.cause !== undefined ? { cause: toWire(e.cause) } : {}) };
}

export function fromWire(w: WireError): Error {
  const proto = CLASSES.get(w.name)?.prototype ?? Error.prototype;
  const e = Object.create(proto) as Error;
  const own = (k: string, value: unknown) => Object.defineProperty(e, k, { value, writable: true, configurable: true, enumerable: k !== 'message' && k !== 'stack' });
  own('message', w.message);
  own('stack', w.stack);
  for (const [k, v] of Object.entries(w.fields)) own(k, v);
  if (w.name !== e.name) own('name', w.name);
  if (w.cause) own('cause', fromWire(w.cause));
  return e;
}
