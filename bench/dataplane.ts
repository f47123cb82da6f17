// Control plane and sampler figures (issue 4 "Speed"): one sample of 512 VIPs, 4096 reals and the
// globals (target <= 5 ms), and adding a VIP with 10 reals in one process (target <= 100 ms), on a
// real loaded (not attached) balancer. Prints figures and ratios to the targets; never fails.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Balancer } from '../src/dataplane/balancer/balancer.js';
import type { BalancerHandle } from '../src/dataplane/kernel/handle.js';
import { loadBalancer } from '../src/dataplane/kernel/loader.js';
import { bundledObject } from '../src/dataplane/kernel/paths.js';
import { StateStore } from '../src/dataplane/control/state.js';
import type { DesiredConfig } from '../src/dataplane/control/desired.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function line(what: string, ms: number, target: number): void {
  console.log(`${what.padEnd(58)} ${ms.toFixed(2).padStart(8)} ms   target ${target} ms   ratio ${(ms / target).toFixed(2)}`);
}

export async function benchDataplane(): Promise<void> {
  let lb;
  try {
    lb = loadBalancer(bundledObject('balancer'), { lruSize: 4096 });
  } catch (e) {
    console.log(`skipped: cannot load the balancer (${(e as Error).message})`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'katran-tui-bench-'));
  const handle: BalancerHandle = {
    intf: 'bench0', ifindex: 0, mode: 'unknown', progFd: lb.progFd, progId: 0, progTag: '', progName: lb.program.name,
    maps: lb.maps, sizes: lb.sizes, vipFlagsSupported: lb.vipFlagsSupported, owner: 'katran-tui', readOnly: false,
    objectPath: lb.objectPath, forwardingCpus: lb.forwardingCpus, healthcheck: null, close() {},
  };
  const store = StateStore.open(dir, { write: true });
  const bal = Balancer.open(handle, { store });
  try {
    const maxVips = lb.sizes.maxVips;
    const maxReals = lb.sizes.maxReals - 1;
    // 512 VIPs sharing 4095 reals, 8 reals each (one transaction; rings written once)
    const cfg: DesiredConfig = { mac: '02:00:00:00:00:01', vips: [] };
    for (let v = 0; v < maxVips; v++) {
      const reals = [];
      for (let j = 0; j < 8; j++) {
        const i = (v * 8 + j) % maxReals;
        reals.push({ address: `10.${(i >> 8) & 0xff}.${i & 0xff}.${1 + ((i >> 16) & 0x3f)}`, weight: 1 });
      }
      cfg.vips.push({ key: { address: `192.0.${2 + (v >> 8)}.${v & 0xff}`, port: 80, proto: 'tcp' }, reals });
    }
    let t0 = performance.now();
    bal.applyConfig(cfg);
    console.log(`setup: ${maxVips} VIPs, ${bal.info().capacity.reals} reals applied in ${(performance.now() - t0).toFixed(0)} ms`);

    const samples: number[] = [];
    bal.sample();
    for (let i = 0; i < 200; i++) {
      t0 = performance.now();
      const s = bal.sample();
      samples.push(performance.now() - t0);
      if (s.vips.length !== maxVips) throw new Error('bench: sample lost VIPs');
    }
    const s = bal.sample();
    line(`one sample: ${s.vips.length} VIPs, ${s.reals.length} reals, globals (median of 200)`, median(samples), 5);

    // Adding a VIP with 10 reals: free two VIPs (and their reals) first, then one config apply
    cfg.vips.splice(-2);
    bal.applyConfig(cfg);
    const adds: number[] = [];
    for (let round = 0; round < 10; round++) {
      const c2: DesiredConfig = { mac: cfg.mac, vips: [...cfg.vips, {
        key: { address: '198.18.0.1', port: 1000 + round, proto: 'udp' },
        reals: Array.from({ length: 10 }, (_, j) => ({ address: `10.200.${round}.${j + 1}`, weight: 1 })),
      }] };
      t0 = performance.now();
      bal.applyConfig(c2);
      adds.push(performance.now() - t0);
      bal.applyConfig(cfg); // remove it again
    }
    line('add a VIP with 10 reals (config apply, median of 10)', median(adds), 100);
    const lib: number[] = [];
    for (let round = 0; round < 5; round++) {
      const key = { address: '198.18.0.2', port: 2000 + round, proto: 'udp' as const };
      t0 = performance.now();
      bal.addVip(key);
      for (let j = 0; j < 10; j++) bal.addReal(key, { address: `10.201.${round}.${j + 1}` });
      lib.push(performance.now() - t0);
      bal.removeVip(key);
    }
    line('add a VIP then 10 reals one call each (11 transactions)', median(lib), 100);
  } finally {
    bal.close();
    store.close();
    lb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
