// Child process of crash.test.ts (not a test itself): opens the balancer's maps from pins, takes
// the state directory's writer lock, starts a change, and kills itself with SIGKILL at a named
// point of the transaction (control.ts's fault hook): a real kill -9 in the middle of a change.
//
//   node crash-child.js <pinDir> <stateDir> <step> <nth> <config.json>
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAP } from '../../src/dataplane/abi.js';
import { ControlPlane } from '../../src/dataplane/control/control.js';
import { type DesiredConfig } from '../../src/dataplane/control/desired.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { objGet } from '../../src/dataplane/kernel/libbpf.js';
import { balancerMaps, sizesFrom } from '../../src/dataplane/kernel/loader.js';
import { BpfMap } from '../../src/dataplane/kernel/maps.js';
import { StateStore } from '../../src/dataplane/control/state.js';

export const CRASH_MAPS = [MAP.vips, MAP.reals, MAP.rings, MAP.stats, MAP.realsStats, MAP.ctl, MAP.lruMapping, MAP.fallbackLru];

/** A handle over maps pinned in `dir` (what lifecycle.ts's openPinned does, reduced to the maps). */
export function handleFromPins(dir: string): BalancerHandle {
  const all = new Map<string, BpfMap>();
  for (const name of CRASH_MAPS) all.set(name, BpfMap.fromFd(name, objGet(join(dir, name))));
  const maps = balancerMaps(all, dir);
  return {
    intf: 'crash0', ifindex: 0, mode: 'unknown', progFd: -1, progId: 0, progTag: '', progName: 'balancer_ingress',
    maps, sizes: sizesFrom((n) => all.get(n)), vipFlagsSupported: 0x8b, owner: 'katran-tui', readOnly: false,
    forwardingCpus: [], healthcheck: null,
    close() { for (const m of all.values()) m.close(); },
  };
}

const isMain = process.argv[1]?.endsWith('crash-child.js');
if (isMain) {
  const [pinDir, stateDir, step, nthText, cfgPath] = process.argv.slice(2);
  const nth = Number(nthText);
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as DesiredConfig;
  const handle = handleFromPins(pinDir);
  const store = StateStore.open(stateDir, { write: true });
  let seen = 0;
  const cp = ControlPlane.open(handle, store, {
    faults: (s) => {
      if (s === step && ++seen === nth) {
        process.stdout.write(`killing at ${s} #${nth}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  });
  cp.apply(cfg);
  process.stdout.write('finished without being killed\n');
}
