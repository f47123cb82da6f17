// The interfaces of this box as the console's picker shows them.
//
// Choice: names and indexes come from libc if_nameindex(), flags / MTU / MAC from SIOCGIF* ioctls
// (both through libbpf.ts), not from /sys/class/net: they answer for the network namespace the
// process is in, where sysfs shows whichever namespace it was mounted in (after a bare
// setns /sys/class/net still shows the root namespace). The XDP program comes from bpf_xdp_query
// (netlink), its maps from bpf_obj_get_info_by_fd; default routes from /proc/net/route and
// /proc/net/ipv6_route, which are per namespace too.
import { existsSync, readFileSync } from 'node:fs';
import { MAP, formatMac, kernelMapName } from '../abi.js';
import {
  IFF_UP, XDP_ATTACHED, closeFd, linkBasics, listLinks, mapFdById, mapInfo, progFdById, progInfo, xdpQuery, type XdpQuery,
} from './libbpf.js';
import { DEFAULT_PIN_ROOT } from './paths.js';
import { NotExistError } from '../errors.js';
import { pinnedProgIds } from './pins.js';
import type { InterfaceInfo, XdpMode } from '../types.js';

/** Maps whose presence makes a program a Katran-ABI balancer (kernel names, 15 chars). */
export const KATRAN_ABI_MAPS = [MAP.vips, MAP.reals, MAP.rings, MAP.stats, MAP.ctl].map(kernelMapName);

/** Names of the interfaces that carry a default route (IPv4 or IPv6) in this namespace. */
export function defaultRouteInterfaces(): Set<string> {
  const out = new Set<string>();
  if (existsSync('/proc/net/route')) {
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
      if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000') out.add(f[0]);
    }
  }
  if (existsSync('/proc/net/ipv6_route')) {
    for (const line of readFileSync('/proc/net/ipv6_route', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      // dest plen src plen nexthop metric refcnt use flags iface
      if (f.length >= 10 && /^0{32}$/.test(f[0]) && f[1] === '00' && f[9] !== 'lo') {
        const flags = parseInt(f[8], 16);
        if (!(flags & 0x0200)) out.add(f[9]); // RTF_REJECT: the kernel's unreachable default
      }
    }
  }
  return out;
}

export interface XdpProgramInfo {
  progId: number;
  mode: XdpMode | 'offload' | 'multi';
  name: string;
  tag: string;
  /** Kernel names of the program's maps. */
  mapNames: string[];
  katranAbi: boolean;
}

export function modeOf(attachMode: number): XdpMode | 'offload' | 'multi' | 'unknown' {
  switch (attachMode) {
    case XDP_ATTACHED.DRV: return 'native';
    case XDP_ATTACHED.SKB: return 'generic';
    case XDP_ATTACHED.HW: return 'offload';
    case XDP_ATTACHED.MULTI: return 'multi';
    default: return 'unknown';
  }
}

/** The id of the XDP program a query found attached (0: none), whichever mode it is in. */
export function attachedProgId(q: XdpQuery): number {
  return q.progId || q.drvProgId || q.skbProgId || q.hwProgId;
}

/** The mode a query found: native or generic, else 'unknown' (none, offloaded, several). */
export function attachedMode(q: XdpQuery): XdpMode | 'unknown' {
  const m = modeOf(q.attachMode);
  return m === 'native' || m === 'generic' ? m : 'unknown';
}

/** What is attached to `ifindex` now: program id (0: none) and mode (bpf_xdp_query). */
export function xdpAttached(ifindex: number, what?: string): { progId: number; mode: XdpMode | 'unknown' } {
  const q = xdpQuery(ifindex, what);
  return { progId: attachedProgId(q), mode: attachedMode(q) };
}

/** The mode of whatever is attached to `ifindex`, 'unknown' when it cannot be asked (gone). */
export function xdpModeNow(ifindex: number): XdpMode | 'unknown' {
  try {
    return attachedMode(xdpQuery(ifindex));
  } catch {
    return 'unknown';
  }
}

/** Kernel names of the maps a program uses. */
export function programMapNames(progFd: number): string[] {
  const names: string[] = [];
  for (const id of progInfo(progFd).mapIds) {
    let fd = -1;
    try {
      fd = mapFdById(id, true);
      names.push(mapInfo(fd).name);
    } catch {
      // the map went away between the two calls
    } finally {
      closeFd(fd);
    }
  }
  return names;
}

export function isKatranAbi(mapNames: string[]): boolean {
  return KATRAN_ABI_MAPS.every((n) => mapNames.includes(n));
}

/** The XDP program attached to `ifindex`, or null. */
export function xdpProgramOn(ifindex: number): XdpProgramInfo | null {
  const q = xdpQuery(ifindex);
  const id = attachedProgId(q);
  if (!id) return null;
  let fd = -1;
  try {
    fd = progFdById(id);
    const info = progInfo(fd);
    const mapNames = programMapNames(fd);
    const mode = modeOf(q.attachMode);
    return { progId: id, mode: mode === 'unknown' ? 'native' : mode, name: info.name, tag: info.tag, mapNames, katranAbi: isKatranAbi(mapNames) };
  } catch (e) {
    if (e instanceof NotExistError) return null; // detached meanwhile
    throw e;
  } finally {
    closeFd(fd);
  }
}

/** Every interface of this namespace, for the console's picker. `pinRoot` decides what is ours. */
export function listInterfaces(o: { pinRoot?: string } = {}): InterfaceInfo[] {
  const ours = pinnedProgIds(o.pinRoot ?? DEFAULT_PIN_ROOT);
  const defaults = defaultRouteInterfaces();
  const out: InterfaceInfo[] = [];
  for (const { ifindex, name } of listLinks()) {
    let basics;
    try {
      basics = linkBasics(name);
    } catch {
      continue; // vanished while listing
    }
    let xdp: InterfaceInfo['xdp'] = null;
    try {
      const p = xdpProgramOn(ifindex);
      if (p) xdp = { progId: p.progId, mode: p.mode, name: p.name, katranAbi: p.katranAbi, ours: ours.has(p.progId) };
    } catch {
      xdp = null;
    }
    out.push({
      name, ifindex, up: (basics.flags & IFF_UP) !== 0, mac: formatMac(basics.mac), mtu: basics.mtu, xdp, defaultRoute: defaults.has(name),
    });
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}
