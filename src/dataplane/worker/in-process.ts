// The worker's contract without the worker: the same client and server joined by an in-memory
// channel in this thread, every message structured-cloned as postMessage would (so what cannot
// cross a thread cannot cross here either, and errors are rebuilt the same way). UI tests run the
// console on it over a fake Host; `before` delays calls (a write that takes its time).
import type { AsyncHost } from '../async.js';
import type { Host } from '../types.js';
import { Connection, remoteHost } from './client.js';
import { serve, type ServeOptions } from './server.js';
import type { Port, Reply, Request } from './wire.js';

function channel(): [Port<Request, Reply>, Port<Reply, Request>] {
  let toServer: (m: Request) => void = () => { /* not listening yet */ };
  let toClient: (m: Reply) => void = () => { /* not listening yet */ };
  const deliver = <T>(fn: () => (m: T) => void, m: T) => { const c = structuredClone(m); queueMicrotask(() => fn()(c)); };
  return [
    { post: (m) => deliver(() => toServer, m), listen: (fn) => { toClient = fn; } },
    { post: (m) => deliver(() => toClient, m), listen: (fn) => { toServer = fn; } },
  ];
}

export function inProcessHost(host: Host, o: ServeOptions = {}): AsyncHost {
  const [client, server] = channel();
  serve(host, server, o);
  return remoteHost(new Connection(client));
}
