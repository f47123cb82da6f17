// One change through the product (balancer.ts over the pinned balancer), killed with SIGKILL at a
// chosen point of its transaction (control.ts's fault hook), for the kill -9 runs of bench/soak.ts.
// Usage: node child-change.js <intf> <pinRoot> <stateDir> <op json> <step|none> <nth>
// op: {"op":"addReal","vip":{...},"address":"...","weight":1} | removeReal | setRealWeight |
//     setDefaultMac {"mac"} | addVip {"vip","flags"} | removeVip {"vip"} | setVipFlags {"vip","flags"}
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';

const [intf, pinRoot, stateDir, opJson, step, nthText] = process.argv.slice(2);
const op = JSON.parse(opJson) as { op: string; vip?: never; address?: string; weight?: number; mac?: string; flags?: never };
const nth = Number(nthText) || 1;
let seen = 0;
const h = openPinned(intf, { pinRoot });
const dp = Balancer.open(h, {
  stateDir,
  faults: (s) => {
    if (s === step && ++seen >= nth) process.kill(process.pid, 'SIGKILL');
  },
});
if (dp.recovered) process.stdout.write(`recovered: ${dp.recovered}\n`);
process.stdout.write('start\n');
switch (op.op) {
  case 'addReal': dp.addReal(op.vip!, { address: op.address!, weight: op.weight ?? 1 }); break;
  case 'removeReal': dp.removeReal(op.vip!, op.address!); break;
  case 'setRealWeight': dp.setRealWeight(op.vip!, op.address!, op.weight!); break;
  case 'setDefaultMac': dp.setDefaultMac(op.mac!); break;
  case 'addVip': dp.addVip({ ...(op.vip! as object), flags: op.flags } as never); break;
  case 'removeVip': dp.removeVip(op.vip!); break;
  case 'setVipFlags': dp.setVipFlags(op.vip!, op.flags!); break;
  default: throw new Error(`unknown op ${op.op}`);
}
dp.close();
h.close();
process.stdout.write('done\n');
