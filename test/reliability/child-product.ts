// A child process doing what the product does on a box, for the tests that look at a running
// katran-tui from outside (sockets, kill -9): opens the balancer pinned for <intf> under <pinRoot>
// (or attaches one), opens the control plane over the state directory <stateDir>, samples the
// counters every 100 ms, prints "ready <pid>" and keeps sampling until <seconds> have passed.
// Usage: node child-product.js <intf> <pinRoot> <stateDir> <seconds> [attach]
import { attach, openPinned } from '../../src/dataplane/lifecycle.js';
import { ControlPlane } from '../../src/dataplane/control.js';
import { StateStore } from '../../src/dataplane/state.js';
import { StatsSampler } from '../../src/dataplane/stats.js';

const [intf, pinRoot, stateDir, secondsText, mode] = process.argv.slice(2);
const seconds = Math.min(Number(secondsText) || 10, 120);
const h = mode === 'attach'
  ? attach({ intf, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot, lruSize: 1024 })
  : openPinned(intf, { pinRoot });
const store = StateStore.open(stateDir, { write: true });
const cp = ControlPlane.open(h, store);
const sampler = new StatsSampler(h.maps, h.sizes);
let n = 0;
const tick = (): void => {
  sampler.sample([], []);
  n++;
};
tick();
process.stdout.write(`ready ${process.pid}\n`);
const timer = setInterval(tick, 100);
setTimeout(() => {
  clearInterval(timer);
  cp.vips();
  store.close();
  h.close();
  process.stdout.write(`done ${n} samples\n`);
}, seconds * 1000);
