// The healthcheck program at tc egress of the hc interface: loaded, filled, pinned next to the
// balancer's pins and attached by attach(); detached with the balancer.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MAP, realDefinition, u32Key } from '../abi.js';
import type { HealthcheckHandle } from '../kernel/handle.js';
import {
  BPF_PROG_TYPE, BpfObject, ifNameToIndex, objPin, progInfo, tcAttachEgress, tcDetachEgress, tcQueryEgress,
} from '../kernel/libbpf.js';
import { BpfMap } from '../kernel/maps.js';
import { HC_MAP_PREFIX, HC_PROG_PIN, pinnedProgInfo, removePinDir, type PinMeta } from '../kernel/pins.js';
import { requireInterface } from './checks.js';
import { InterfaceMissingError, NotABalancerError, ObjectMissingError } from '../errors.js';
import { openHcMaps } from './handles.js';

/** tc handle / priority of the healthcheck filter at the hc interface's egress. */
export const HC_TC_HANDLE = 0x4b54;
export const HC_TC_PRIORITY = 0xc0de;

/** The healthcheck object is upstream's ipip variant (redirects through ipip0 / ipip60). */
function isIpipHealthcheck(obj: BpfObject): boolean {
  return !obj.map(MAP.hcMacs);
}

export interface HcSetup {
  hcIntf: string;
  objectPath: string;
  mainIfindex: number;
  mainMac: Buffer;
  gatewayMac: Buffer;
  srcV4?: string;
  srcV6?: string;
}

const isHcPin = (n: string): boolean => n === HC_PROG_PIN || n.startsWith(HC_MAP_PREFIX);

/** Loads, fills, pins (under `dir`) and attaches the healthcheck program. */
export function attachHealthcheck(s: HcSetup, dir: string): HealthcheckHandle {
  const hcIfindex = requireInterface(s.hcIntf, 'attach healthcheck to');
  if (!existsSync(s.objectPath)) throw new ObjectMissingError('open healthcheck object', s.objectPath, `open healthcheck object ${s.objectPath}: file not found`);
  const obj = BpfObject.open(s.objectPath);
  try {
    const progs = obj.programs().filter((p) => p.type === BPF_PROG_TYPE.SCHED_CLS);
    const prog = progs.find((p) => p.name === 'healthcheck_encap') ?? progs[0];
    if (!prog) throw new NotABalancerError('open healthcheck object', s.objectPath, 'no tc (SEC("tc")) program in the object');
    for (const p of obj.programs()) if (p.name !== prog.name) p.setAutoload(false);
    const ipip = isIpipHealthcheck(obj);
    const tun4 = ifNameToIndex('ipip0');
    const tun6 = ifNameToIndex('ipip60');
    if (ipip && (!tun4 || !tun6)) {
      throw new InterfaceMissingError('attach healthcheck', s.objectPath,
        `this is upstream's ipip healthchecker (it redirects through tunnel devices): it needs ipip0 and ipip60, and ${[!tun4 && 'ipip0', !tun6 && 'ipip60'].filter(Boolean).join(' and ')} do not exist (they need the kernel's ipip / ip6_tunnel modules); use the bundled healthcheck program instead`);
    }
    for (const name of [MAP.hcReals, MAP.hcCtrl]) {
      if (!obj.map(name)) throw new NotABalancerError('open healthcheck object', s.objectPath, `not a Katran healthcheck program: it has no map ${name}`);
    }
    obj.load();
    const maps = new Map<string, BpfMap>();
    for (const def of obj.maps()) {
      if (def.name.includes('.')) continue;
      maps.set(def.name, new BpfMap(def.name, def.fd, { type: def.type, keySize: def.keySize, valueSize: def.valueSize, maxEntries: def.maxEntries, mapFlags: def.mapFlags }, false, false));
    }
    const ctrl = maps.get(MAP.hcCtrl)!;
    const ctl = (index: number, value: number): void => {
      if (index >= ctrl.maxEntries) return;
      const v = Buffer.alloc(ctrl.valueBufferSize);
      v.writeUInt32LE(value, 0);
      ctrl.update(u32Key(index), v);
    };
    ctl(3, s.mainIfindex);
    if (ipip) {
      ctl(1, tun4);
      ctl(2, tun6);
    }
    const macs = maps.get(MAP.hcMacs);
    if (macs) {
      const v = Buffer.alloc(macs.valueBufferSize);
      s.mainMac.copy(v, 0, 0, 6);
      macs.update(u32Key(0), v);
      v.fill(0);
      s.gatewayMac.copy(v, 0, 0, 6);
      macs.update(u32Key(1), v);
    }
    const srcs = maps.get(MAP.hcSrcs);
    if (srcs) {
      const put = (i: number, a: string | undefined): void => {
        if (!a) return;
        const v = Buffer.alloc(srcs.valueBufferSize);
        realDefinition.encode({ address: a }).copy(v, 0, 0, Math.min(20, v.length));
        srcs.update(u32Key(i), v);
      };
      put(0, s.srcV4);
      put(1, s.srcV6);
    }
    // Pin first (a crash leaves stale pins, never an unpinned program), then attach.
    const progFd = prog.fd;
    objPin(progFd, join(dir, HC_PROG_PIN));
    for (const [name, m] of maps) objPin(m.fd, join(dir, `${HC_MAP_PREFIX}${name.startsWith(HC_MAP_PREFIX) ? name.slice(HC_MAP_PREFIX.length) : name}`));
    const progId = tcAttachEgress(hcIfindex, progFd, HC_TC_HANDLE, HC_TC_PRIORITY, `interface ${s.hcIntf}`);
    // Reopen the pinned maps so that the handle outlives the object.
    const reopened = openHcMaps(dir, false);
    return { intf: s.hcIntf, ifindex: hcIfindex, progId: progId || progInfo(progFd).id, maps: reopened };
  } catch (e) {
    removePinDir(dir, isHcPin);
    throw e;
  } finally {
    obj.close();
  }
}

/** Detaches our healthcheck filter (only if it is still ours) and removes its pins; says what it did in `messages`. */
export function detachHealthcheck(dir: string, meta: PinMeta | null, messages: string[]): void {
  const hc = meta?.hc;
  const info = pinnedProgInfo(join(dir, HC_PROG_PIN));
  if (hc && info) {
    try {
      const current = tcQueryEgress(hc.ifindex, hc.handle, hc.priority);
      if (current === info.id) {
        tcDetachEgress(hc.ifindex, hc.handle, hc.priority, `interface ${hc.intf}`);
        messages.push(`healthcheck program ${info.id} detached from ${hc.intf} egress`);
      } else if (current) {
        messages.push(`healthcheck filter on ${hc.intf} is program ${current}, not ours (${info.id}): left in place`);
      }
    } catch (e) {
      messages.push(`healthcheck on ${hc.intf}: ${(e as Error).message}`);
    }
  }
  removePinDir(dir, isHcPin);
}
