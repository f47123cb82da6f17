// A second process for the lab tests (`node dist/test/e2e/child.js <json>`):
//   mode 'attach':  katran-tui's attach (pins under pinRoot), VIPs programmed;
//   mode 'foreign': a Katran-like process: load, MAC, VIPs, netlink attach, no pins (as
//                   katran_server_grpc does), so that the parent can only observe it.
// Prints {"progId": N} when ready, then exits when its stdin says "exit" (or closes).
import { createInterface } from 'node:readline';
import { CTL_MAC_INDEX, ctlMac, parseMac, u32Key } from '../../src/dataplane/abi.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { XDP_FLAGS, ifNameToIndex, progInfo, xdpAttach } from '../../src/dataplane/kernel/libbpf.js';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { loadBalancer, sizesFrom } from '../../src/dataplane/kernel/loader.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { programVip, type TestVip } from './fixture.js';

interface ChildSpec {
  mode: 'attach' | 'foreign';
  intf: string;
  defaultMac: string;
  pinRoot?: string;
  vips: TestVip[];
}

const spec = JSON.parse(process.argv[2]) as ChildSpec;
let progId: number;
if (spec.mode === 'attach') {
  const h = attach({ intf: spec.intf, defaultMac: spec.defaultMac, mode: 'native', pinRoot: spec.pinRoot, lruSize: 4096 });
  for (const v of spec.vips) programVip(h, v);
  progId = h.progId;
} else {
  const l = loadBalancer(bundledObject('balancer'), { lruSize: 4096 });
  l.maps.ctl.update(u32Key(CTL_MAC_INDEX), ctlMac.encode(parseMac(spec.defaultMac)));
  const h = { maps: l.maps, sizes: sizesFrom((n) => l.maps.all.get(n)) } as unknown as BalancerHandle;
  for (const v of spec.vips) programVip(h, v);
  xdpAttach(ifNameToIndex(spec.intf), l.progFd, XDP_FLAGS.UPDATE_IF_NOEXIST | XDP_FLAGS.DRV_MODE);
  progId = progInfo(l.progFd).id;
}
process.stdout.write(`${JSON.stringify({ progId, pid: process.pid })}\n`);
const rl = createInterface({ input: process.stdin });
const timer = setTimeout(() => process.exit(0), 60_000);
rl.on('line', (l) => { if (l.trim() === 'exit') { clearTimeout(timer); process.exit(0); } });
rl.on('close', () => { clearTimeout(timer); process.exit(0); });
