// A child process doing what the product does on a box, for the tests that look at a running
// katran-tui from outside (sockets, the writer lock, kill -9): attaches a balancer to <intf> (or
// reopens the one pinned there) under <pinRoot>, opens it as the console and the CLI do
// (balancer.ts: state under <stateDir>/<intf>, the writer lock, the sampler), prints
// "ready <pid>" and keeps sampling every 100 ms until <seconds> have passed.
// Usage: node child-product.js <intf> <pinRoot> <stateDir> <seconds> [attach]
import { attach } from '../../src/dataplane/balancer/attach.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';

const [intf, pinRoot, stateDir, secondsText, mode] = process.argv.slice(2);
const seconds = Math.min(Number(secondsText) || 10, 120);
const h = mode === 'attach'
  ? attach({ intf, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot, lruSize: 1024 })
  : openPinned(intf, { pinRoot });
const dp = Balancer.open(h, { stateDir });
let n = 0;
const tick = (): void => {
  dp.sample();
  n++;
};
tick();
process.stdout.write(`ready ${process.pid}\n`);
const timer = setInterval(tick, 100);
setTimeout(() => {
  clearInterval(timer);
  dp.close();
  h.close();
  process.stdout.write(`done ${n} samples\n`);
}, seconds * 1000);
