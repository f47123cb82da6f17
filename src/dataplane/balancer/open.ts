// open: reopen a balancer katran-tui attached earlier from its pins (nothing reloaded); observe:
// open the Katran-ABI program another process attached, read-only.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MAP, kernelMapName } from '../abi.js';
import type { BalancerHandle, HealthcheckHandle } from '../kernel/handle.js';
import { attachedMode, attachedProgId, isKatranAbi, xdpAttached, xdpProgramOn } from '../kernel/interfaces.js';
import { closeFd, ifIndexToName, ifNameToIndex, mapFdById, mapInfo, objGet, progFdById, progInfo, xdpQuery, type ProgInfo } from '../kernel/libbpf.js';
import { BpfMap } from '../kernel/maps.js';
import { DEFAULT_PIN_ROOT } from '../kernel/paths.js';
import { HC_PROG_PIN, META_PIN, PROG_PIN, pinDirFor, pinnedDirs, pinnedProgInfo, readMeta, type PinMeta } from '../kernel/pins.js';
import type { XdpMode } from '../types.js';
import { InterfaceMissingError, NoBalancerError, NotABalancerError, StalePinsError } from '../errors.js';
import { requireInterface } from './checks.js';
import { forwardingCpusFromLruMapping, handleFrom, isBalancerMapPin, openHcMaps, openPinnedMaps, readMetaSafe } from './handles.js';
import { interfaceStateOf } from './interface-state.js';

export interface OpenOptions {
  pinRoot?: string;
  readOnly?: boolean;
  /**
   * Open the pins even when our program is no longer attached where they say (the interface was
   * deleted, recreated, or the program detached behind our back), to sample the maps and
   * reattach(). The handle's ifindex is the recorded one.
   */
  allowDetached?: boolean;
}

/**
 * The pin directory of the balancer attached to the interface now called `intf` when its pins live
 * under another name: the interface was renamed after the attach (`ip link set X name Y`). Pins and
 * the desired state stay under the attach-time name (a running console holds them and the writer
 * lock, so nothing is moved); they are found by the ifindex kt_meta records, and only when the
 * program pinned there is the one attached to that ifindex now (an ifindex the kernel reused for
 * another interface does not match). Null when there is none.
 */
export function pinDirByIfindex(pinRoot: string, intf: string): string | null {
  const ifindex = ifNameToIndex(intf);
  if (!ifindex) return null;
  let attachedId = 0;
  try {
    attachedId = xdpAttached(ifindex).progId;
  } catch {
    return null;
  }
  if (!attachedId) return null;
  for (const { dir } of pinnedDirs(pinRoot)) {
    const meta = readMetaSafe(dir);
    if (meta?.ifindex !== ifindex) continue;
    try {
      if (pinnedProgInfo(join(dir, PROG_PIN))?.id === attachedId) return dir;
    } catch { /* a half-removed dir */ }
  }
  return null;
}

/** The pin directory for `intf`: <pinRoot>/<intf>, or the renamed interface's (pinDirByIfindex); null when neither. */
export function pinDirOf(pinRoot: string, intf: string): string | null {
  const dir = pinDirFor(pinRoot, intf);
  if (existsSync(join(dir, PROG_PIN))) return dir;
  return pinDirByIfindex(pinRoot, intf);
}

/** The healthcheck of a pinned balancer, when kt_meta records one and its program is still pinned. */
function pinnedHealthcheck(dir: string, meta: PinMeta, readOnly: boolean): HealthcheckHandle | null {
  const hcInfo = meta.hc ? pinnedProgInfo(join(dir, HC_PROG_PIN)) : null;
  if (!meta.hc || !hcInfo) return null;
  return { intf: meta.hc.intf, ifindex: meta.hc.ifindex, progId: hcInfo.id, maps: openHcMaps(dir, readOnly) };
}

/**
 * Reopens a balancer katran-tui attached earlier (maybe by another process) from its pins:
 * nothing is reloaded, the program keeps forwarding, the LRUs keep their flows.
 */
export function openPinned(intf: string, o: OpenOptions = {}): BalancerHandle {
  const pinRoot = o.pinRoot ?? DEFAULT_PIN_ROOT;
  const readOnly = o.readOnly ?? false;
  const dir = pinDirOf(pinRoot, intf) ?? pinDirFor(pinRoot, intf);
  const progPath = join(dir, PROG_PIN);
  if (!existsSync(progPath)) {
    throw new NoBalancerError('open', `balancer on ${intf}`, `katran-tui has no balancer pinned for ${intf} (nothing under ${dir}); attach one, or observe a Katran another process attached`);
  }
  const meta = readMeta(dir);
  if (!meta) throw new NotABalancerError('open', `balancer on ${intf}`, `${join(dir, META_PIN)} is missing or unreadable: the pins under ${dir} are not katran-tui's (or are damaged)`);
  const progFd = objGet(progPath);
  let all: Map<string, BpfMap> | undefined;
  let healthcheck: HealthcheckHandle | null = null;
  try {
    const info = progInfo(progFd);
    if (o.allowDetached) {
      const st = interfaceStateOf({ intf, pinName: basename(dir), ifindex: meta.ifindex, progId: info.id });
      if (st.status !== 'ok' && st.status !== 'renamed') {
        all = openPinnedMaps(dir, readOnly, isBalancerMapPin);
        healthcheck = pinnedHealthcheck(dir, meta, readOnly);
        return pinnedHandle(intf, meta.ifindex, meta.mode, progFd, info, all, readOnly, dir, meta, healthcheck);
      }
    }
    // Is it still attached where we left it?
    const nowIndex = ifNameToIndex(intf);
    const renamed = ifIndexToName(meta.ifindex);
    if (!nowIndex) {
      throw new InterfaceMissingError('open', `balancer on ${intf}`, renamed
        ? `interface ${intf} was renamed to ${renamed} (ifindex ${meta.ifindex}): open it as ${renamed} (katran-tui --intf ${renamed}); its pins stay under ${dir}`
        : `interface ${intf} (ifindex ${meta.ifindex}) no longer exists: the balancer is not forwarding; its program and maps stay pinned under ${dir}: when ${intf} is back, katran-tui reattach --intf ${intf} attaches them again (VIPs kept); detach removes the stale pins`);
    }
    if (nowIndex !== meta.ifindex) {
      throw new InterfaceMissingError('open', `balancer on ${intf}`, renamed
        ? `interface ${intf} is now ifindex ${nowIndex}; the balancer is on ifindex ${meta.ifindex}, renamed to ${renamed}: open it as ${renamed}`
        : `interface ${intf} is now ifindex ${nowIndex}, the balancer was attached to ifindex ${meta.ifindex}: the interface was recreated and our program is not on it (katran-tui reattach --intf ${intf} attaches the pinned program and maps to it)`);
    }
    const now = xdpAttached(nowIndex, `interface ${intf}`);
    if (now.progId !== info.id) {
      let other = '';
      if (now.progId) {
        const p = xdpProgramOn(nowIndex);
        other = `another XDP program (id ${now.progId}${p ? ` "${p.name}"` : ''}) replaced ours (id ${info.id})`;
      } else {
        other = `no XDP program is attached any more (ours was id ${info.id})`;
      }
      throw new StalePinsError('open', `balancer on ${intf}`, `${other}: the pins under ${dir} are stale`, dir);
    }
    all = openPinnedMaps(dir, readOnly, isBalancerMapPin);
    const mode = now.mode === 'unknown' ? meta.mode : now.mode;
    healthcheck = pinnedHealthcheck(dir, meta, readOnly);
    return pinnedHandle(intf, nowIndex, mode, progFd, info, all, readOnly, dir, meta, healthcheck);
  } catch (e) {
    for (const m of all?.values() ?? []) m.close();
    for (const m of healthcheck?.maps.values() ?? []) m.close();
    closeFd(progFd);
    throw e;
  }
}

function pinnedHandle(
  intf: string, ifindex: number, mode: XdpMode | 'unknown', progFd: number, info: ProgInfo, all: Map<string, BpfMap>, readOnly: boolean,
  dir: string, meta: PinMeta, healthcheck: HealthcheckHandle | null,
): BalancerHandle {
  return handleFrom({
    intf, ifindex, mode, progFd, info, all, owner: 'katran-tui', readOnly,
    readOnlyReason: readOnly ? 'opened read-only (--readonly): maps opened with BPF_F_RDONLY' : undefined,
    pinDir: dir, objectPath: meta.objectPath || undefined, attachedAt: meta.attachedAt || undefined,
    forwardingCpus: meta.forwardingCpus, healthcheck,
    onClose: () => {
      for (const m of all.values()) m.close();
      closeFd(progFd);
    },
    what: dir,
  });
}

/**
 * Opens the Katran-ABI program another process attached to `intf`: every map by id with
 * BPF_F_RDONLY, so that the kernel itself refuses writes.
 */
export function observe(intf: string): BalancerHandle {
  const ifindex = requireInterface(intf, 'observe');
  const q = xdpQuery(ifindex, `interface ${intf}`);
  const id = attachedProgId(q);
  if (!id) throw new NoBalancerError('observe', `interface ${intf}`, `no XDP program is attached to ${intf}`);
  const progFd = progFdById(id);
  const all = new Map<string, BpfMap>();
  try {
    const info = progInfo(progFd);
    const byKernelName = new Map<string, string>();
    for (const full of Object.values(MAP)) byKernelName.set(kernelMapName(full), full);
    for (const mapId of info.mapIds) {
      const fd = mapFdById(mapId, true);
      let name: string;
      try {
        name = mapInfo(fd).name;
      } catch (e) {
        closeFd(fd);
        throw e;
      }
      const full = byKernelName.get(name) ?? name;
      if (name.includes('.') || all.has(full)) {
        closeFd(fd);
        continue;
      }
      all.set(full, BpfMap.fromFd(full, fd, { readOnly: true, ownsFd: true }));
    }
    if (!isKatranAbi([...all.keys()].map(kernelMapName))) {
      throw new NotABalancerError('observe', `interface ${intf}`, `the XDP program on ${intf} (id ${id} "${info.name}") is not a Katran-ABI balancer: it lacks ${[MAP.vips, MAP.reals, MAP.rings, MAP.stats, MAP.ctl].filter((n) => !all.has(n)).join(', ')}`);
    }
    return handleFrom({
      intf, ifindex, mode: attachedMode(q), progFd, info, all, owner: 'observed', readOnly: true,
      readOnlyReason: `observing program ${id} "${info.name}" that another process attached: its maps are open read-only (BPF_F_RDONLY), the kernel refuses writes`,
      forwardingCpus: forwardingCpusFromLruMapping(all.get(MAP.lruMapping)), healthcheck: null,
      onClose: () => {
        for (const m of all.values()) m.close();
        closeFd(progFd);
      },
      what: `program ${id} on ${intf}`,
    });
  } catch (e) {
    for (const m of all.values()) m.close();
    closeFd(progFd);
    throw e;
  }
}

/**
 * Ours: reopened from pins (also after a rename: found by ifindex); otherwise observed read-only.
 * `detached`: ours also when its interface is gone or our program is not attached (to reattach).
 */
export function openOrObserve(intf: string, o: { pinRoot?: string; readOnly?: boolean; detached?: boolean } = {}): BalancerHandle {
  const pinRoot = o.pinRoot ?? DEFAULT_PIN_ROOT;
  if (pinDirOf(pinRoot, intf)) return openPinned(intf, { pinRoot, readOnly: o.readOnly, allowDetached: o.detached });
  return observe(intf);
}
