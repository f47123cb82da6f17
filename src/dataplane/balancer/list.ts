// list: every balancer on the box, katran-tui's pinned ones and every Katran-ABI program someone
// else attached.
//
// How "differs from the bundled object" is decided: the bundled object is loaded once per process
// against the pinned maps of a balancer (every map reused, so nothing big is created and nothing
// is written), its program's tag read and the program closed again; a pinned program whose tag
// differs is another build. The tag is the kernel's hash of the instructions with map references
// blanked, so the same source built the same way gives the same tag.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { xdpAttached, xdpProgramOn } from '../kernel/interfaces.js';
import { closeFd, ifNameToIndex, listLinks, objGet, progInfo, type ProgInfo } from '../kernel/libbpf.js';
import { loadBalancer } from '../kernel/loader.js';
import { DEFAULT_PIN_ROOT, bundledObject } from '../kernel/paths.js';
import { PROG_PIN, pinnedDirs, pinnedProgInfo, readMeta, type PinMeta } from '../kernel/pins.js';
import type { BalancerSummary, XdpMode } from '../types.js';
import { isBalancerMapPin, readdirNames } from './handles.js';
import { interfaceStateOf } from './interface-state.js';

const bundledTags = new Map<string, string | null>();

/** The tag the bundled (or given) object's program gets when loaded against `dir`'s pinned maps. */
export function objectTagAgainst(dir: string, objectPath = bundledObject('balancer')): string | null {
  if (bundledTags.has(objectPath)) return bundledTags.get(objectPath)!;
  if (!existsSync(objectPath)) return null;
  const reuse = new Map<string, number>();
  const fds: number[] = [];
  let tag: string | null = null;
  try {
    for (const name of readdirNames(dir)) {
      if (!isBalancerMapPin(name)) continue;
      const fd = objGet(join(dir, name));
      fds.push(fd);
      reuse.set(name, fd);
    }
    const l = loadBalancer(objectPath, { reuse, keepLruMapping: true });
    try {
      tag = progInfo(l.progFd).tag;
    } finally {
      l.close();
    }
  } catch {
    return null; // incompatible maps: certainly another build; do not cache
  } finally {
    for (const fd of fds) closeFd(fd);
  }
  bundledTags.set(objectPath, tag);
  return tag;
}

/** Every balancer on the box: katran-tui's pinned ones and every Katran-ABI program someone else attached. */
export function listBalancers(o: { pinRoot?: string } = {}): BalancerSummary[] {
  const pinRoot = o.pinRoot ?? DEFAULT_PIN_ROOT;
  const out: BalancerSummary[] = [];
  const ourIds = new Set<number>();
  for (const { intf, dir } of pinnedDirs(pinRoot)) {
    let info: ProgInfo | null = null;
    let meta: PinMeta | null = null;
    try {
      info = pinnedProgInfo(join(dir, PROG_PIN));
      meta = readMeta(dir);
    } catch {
      continue;
    }
    if (!info) continue;
    ourIds.add(info.id);
    let mode: XdpMode | 'unknown' = 'unknown';
    const ifindex = ifNameToIndex(intf);
    // Where it stands, by the recorded ifindex: a renamed interface is listed under its new name.
    const st = meta ? interfaceStateOf({ intf, pinName: intf, ifindex: meta.ifindex, progId: info.id }) : undefined;
    if (st && (st.status === 'ok' || st.status === 'renamed')) {
      try {
        mode = xdpAttached(st.ifindex).mode;
      } catch { /* unknown */ }
    }
    const bundledTag = objectTagAgainst(dir);
    out.push({
      intf: st?.status === 'renamed' ? st.intf : intf, ifindex: meta?.ifindex ?? ifindex, progId: info.id, mode, owner: 'katran-tui', pinDir: dir, tag: info.tag,
      differsFromBundled: bundledTag === null ? true : bundledTag !== info.tag,
      ...(st ? { interfaceState: st } : {}),
    });
  }
  for (const { ifindex, name } of listLinks()) {
    try {
      const p = xdpProgramOn(ifindex);
      if (!p || !p.katranAbi || ourIds.has(p.progId)) continue;
      out.push({ intf: name, ifindex, progId: p.progId, mode: p.mode === 'native' || p.mode === 'generic' ? p.mode : 'unknown', owner: 'observed', tag: p.tag });
    } catch { /* vanished */ }
  }
  return out;
}
