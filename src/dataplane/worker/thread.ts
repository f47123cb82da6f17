// The worker thread's entry: the real Host (libbpf through koffi) served to the console's thread.
import { parentPort, workerData } from 'node:worker_threads';
import { createHost } from '../balancer/host.js';
import { serve } from './server.js';
import type { Reply, Request } from './wire.js';

if (!parentPort) throw new Error('thread.ts runs as a worker thread');
const port = parentPort;
serve(createHost(workerData as { pinRoot: string; stateDir: string }), {
  post: (m: Reply) => port.postMessage(m),
  listen: (fn: (m: Request) => void) => port.on('message', fn),
});
