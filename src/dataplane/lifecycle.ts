// The balancer's life on an interface: attach (load, set the MAC, pin, attach through netlink),
// reopen from pins without reloading, observe another process's Katran read-only, upgrade in
// place (XDP_FLAGS_REPLACE), detach (ours only), the healthcheck program at tc egress, and the list
// of every balancer on the box. Every kernel interaction goes through libbpf.ts.
//
// How "differs from the bundled object" is decided (listBalancers): the bundled object is loaded
// once per process against the pinned maps of a balancer (every map reused, so nothing big is
// created and nothing is written), its program's tag read and the program closed again; a pinned
// program whose tag differs is another build. The tag is the kernel's hash of the instructions with
// map references blanked, so the same source built the same way gives the same tag.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  CTL_MAC_INDEX, MAP, UPSTREAM_DEFAULT_VIP_FLAGS, ctlMac, isZeroMac, kernelMapName, parseMac, realDefinition, u32Key,
} from './abi.js';
import { intfNameProblem } from './rules.js';
import type { BalancerHandle, HealthcheckHandle } from './handle.js';
import { defaultRouteInterfaces, isKatranAbi, listInterfaces, modeOf, xdpProgramOn } from './interfaces.js';
import {
  BPF_PROG_TYPE, BpfError, BpfObject, ERRNO, XDP_FLAGS, closeFd, ifIndexToName, ifNameToIndex, isRoot, linkBasics,
  listLinks, mapFdById, mapInfo, numPossibleCpus, objGet, objPin, progFdById, progInfo, tcAttachEgress, tcDetachEgress,
  tcQueryEgress, xdpAttach, xdpDetach, xdpQuery, type ProgInfo,
} from './libbpf.js';
import { balancerMaps, loadBalancer, sizesFrom, type LoadedBalancer } from './loader.js';
import { BpfMap } from './maps.js';
import { DEFAULT_PIN_ROOT, bundledObject } from './paths.js';
import {
  HC_MAP_PREFIX, HC_PROG_PIN, META_PIN, PROG_PIN, createMeta, pinDirFor, pinnedDirs, pinnedProgIds, pinnedProgInfo,
  readMeta, removePinDir, requireBpffs, writeMeta, type PinMeta,
} from './pins.js';
import type { AttachRequest, BalancerSummary, InterfaceInfo, InterfaceState, XdpMode, XdpModeRequest } from './types.js';
import { ReadOnlyError } from './types.js';

/** tc handle / priority of the healthcheck filter at the hc interface's egress. */
export const HC_TC_HANDLE = 0x4b54;
export const HC_TC_PRIORITY = 0xc0de;
/** Bytes the encapsulation adds: IPIP and IP6IP6. */
export const ENCAP_OVERHEAD = { v4: 20, v6: 40 } as const;

/** A handle from attach(): what was done, and what the operator should know. */
export interface AttachedBalancer extends BalancerHandle {
  warnings: string[];
}

export interface AttachOptions extends AttachRequest {
  pinRoot?: string;
  /** Outer source addresses of healthcheck probes (hc_pckt_srcs_map [0] v4, [1] v6). */
  hcSrcV4?: string;
  hcSrcV6?: string;
}

export interface DetachResult {
  detached: boolean;
  messages: string[];
}

// ---------------------------------------------------------------------------------------------
// Checks shared by attach and its dry run

function requireRoot(op: string, what: string): void {
  if (!isRoot()) throw new BpfError(op, what, ERRNO.EPERM, 'not root: katran-tui needs root (CAP_BPF and CAP_NET_ADMIN) to load and attach XDP programs');
}

/** The interface's ifindex, or a clear error saying it does not exist. */
export function requireInterface(intf: string, op = 'attach to'): number {
  const badName = intfNameProblem(intf);
  if (badName) throw new BpfError(op, `interface ${JSON.stringify(intf)}`, ERRNO.EINVAL, `not a valid interface name: ${badName}`);
  const ifindex = ifNameToIndex(intf);
  if (!ifindex) throw new BpfError(op, `interface ${intf}`, ERRNO.ENODEV, `interface ${intf} does not exist (ip link lists the interfaces)`);
  return ifindex;
}

/** Warnings about an interface before attaching: default route, MTU headroom. */
export function interfaceWarnings(intf: string): string[] {
  const w: string[] = [];
  if (defaultRouteInterfaces().has(intf)) {
    w.push(`${intf} carries the default route: a mistake here can cut this box off the network`);
  }
  try {
    const { mtu } = linkBasics(intf);
    const need = 1500 + ENCAP_OVERHEAD.v6;
    if (mtu < need) {
      w.push(`${intf} has MTU ${mtu}: encapsulation adds ${ENCAP_OVERHEAD.v4} bytes (IPIP) / ${ENCAP_OVERHEAD.v6} bytes (IP6IP6), so 1500-byte packets need MTU >= ${1500 + ENCAP_OVERHEAD.v4} / ${need} on the path to the reals (or clients must use a smaller MSS)`);
    }
  } catch {
    // vanished: the attach itself says so
  }
  return w;
}

function modeFlag(mode: XdpMode | 'unknown'): number {
  return mode === 'generic' ? XDP_FLAGS.SKB_MODE : mode === 'native' ? XDP_FLAGS.DRV_MODE : 0;
}

function validateMode(mode: string | undefined): XdpModeRequest {
  const m = mode ?? 'auto';
  if (m !== 'auto' && m !== 'native' && m !== 'generic') throw new BpfError('attach', `XDP mode ${JSON.stringify(m)}`, ERRNO.EINVAL, 'XDP mode must be auto, native or generic');
  return m;
}

/** boot-time ns (bpf_prog_info.load_time) -> ms since the epoch. */
function bootNsToEpochMs(ns: bigint): number | undefined {
  if (!ns) return undefined;
  try {
    const up = parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.round(Date.now() - up * 1000 + Number(ns / 1_000_000n));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Building handles

function vipFlagsOf(all: Map<string, BpfMap>): number {
  return all.get(MAP.vipFlagsMarker)?.maxEntries ?? UPSTREAM_DEFAULT_VIP_FLAGS;
}

function forwardingCpusFromLruMapping(m: BpfMap | undefined): number[] {
  if (!m) return [];
  const out: number[] = [];
  const v = Buffer.alloc(m.valueBufferSize);
  const n = Math.min(m.maxEntries, numPossibleCpus());
  for (let c = 0; c < n; c++) {
    if (m.lookup(u32Key(c), v) && v.readUInt32LE(0) !== 0) out.push(c);
  }
  return out;
}

function handleFrom(p: {
  intf: string; ifindex: number; mode: XdpMode | 'unknown'; progFd: number; info: ProgInfo; all: Map<string, BpfMap>;
  owner: 'katran-tui' | 'observed'; readOnly: boolean; readOnlyReason?: string; pinDir?: string; objectPath?: string;
  attachedAt?: number; forwardingCpus: number[]; healthcheck: HealthcheckHandle | null; onClose: () => void; what: string;
}): BalancerHandle {
  const maps = balancerMaps(p.all, p.what);
  let closed = false;
  return {
    intf: p.intf,
    ifindex: p.ifindex,
    mode: p.mode,
    progFd: p.progFd,
    progId: p.info.id,
    progTag: p.info.tag,
    progName: p.info.name,
    maps,
    sizes: sizesFrom((n) => p.all.get(n)),
    vipFlagsSupported: vipFlagsOf(p.all),
    owner: p.owner,
    readOnly: p.readOnly,
    readOnlyReason: p.readOnlyReason,
    pinDir: p.pinDir,
    pinName: p.pinDir ? basename(p.pinDir) : undefined,
    objectPath: p.objectPath,
    attachedAt: p.attachedAt,
    loadedAt: bootNsToEpochMs(p.info.loadTime),
    forwardingCpus: p.forwardingCpus,
    healthcheck: p.healthcheck,
    close() {
      if (closed) return;
      closed = true;
      for (const m of p.healthcheck?.maps.values() ?? []) m.close();
      p.onClose();
    },
  };
}

/** Opens every pinned map in `dir` (except meta and hc maps) as BpfMaps by name. */
function openPinnedMaps(dir: string, readOnly: boolean, filter: (name: string) => boolean): Map<string, BpfMap> {
  const all = new Map<string, BpfMap>();
  try {
    for (const name of readdirNames(dir)) {
      if (!filter(name)) continue;
      const fd = objGet(join(dir, name), readOnly);
      try {
        all.set(name, BpfMap.fromFd(name, fd, { readOnly, ownsFd: true }));
      } catch (e) {
        closeFd(fd);
        throw e;
      }
    }
    return all;
  } catch (e) {
    for (const m of all.values()) m.close();
    throw e;
  }
}

/** Names of the pins in `dir` (bpffs holds pins only), sorted. */
function readdirNames(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Upgrade pins the new program here first, then renames it over PROG_PIN (bpffs refuses '.' in names). */
const PROG_PIN_NEW = `${PROG_PIN}_new`;
const isBalancerMapPin = (name: string): boolean => name !== PROG_PIN && name !== PROG_PIN_NEW && name !== META_PIN && !name.startsWith(HC_MAP_PREFIX);

// ---------------------------------------------------------------------------------------------
// Healthcheck

/** The healthcheck object at `path` is upstream's ipip variant (redirects through ipip0 / ipip60). */
function isIpipHealthcheck(obj: BpfObject): boolean {
  return !obj.map(MAP.hcMacs);
}

interface HcSetup {
  hcIntf: string;
  objectPath: string;
  mainIfindex: number;
  mainMac: Buffer;
  gatewayMac: Buffer;
  srcV4?: string;
  srcV6?: string;
}

/** Loads, fills, pins (under `dir`) and attaches the healthcheck program. */
function attachHealthcheck(s: HcSetup, dir: string): HealthcheckHandle {
  const hcIfindex = requireInterface(s.hcIntf, 'attach healthcheck to');
  if (!existsSync(s.objectPath)) throw new BpfError('open healthcheck object', s.objectPath, ERRNO.ENOENT, 'file not found');
  const obj = BpfObject.open(s.objectPath);
  try {
    const progs = obj.programs().filter((p) => p.type === BPF_PROG_TYPE.SCHED_CLS);
    const prog = progs.find((p) => p.name === 'healthcheck_encap') ?? progs[0];
    if (!prog) throw new BpfError('open healthcheck object', s.objectPath, ERRNO.ENOENT, 'no tc (SEC("tc")) program in the object');
    for (const p of obj.programs()) if (p.name !== prog.name) p.setAutoload(false);
    const ipip = isIpipHealthcheck(obj);
    const tun4 = ifNameToIndex('ipip0');
    const tun6 = ifNameToIndex('ipip60');
    if (ipip && (!tun4 || !tun6)) {
      throw new BpfError('attach healthcheck', s.objectPath, ERRNO.ENODEV,
        `this is upstream's ipip healthchecker (it redirects through tunnel devices): it needs ipip0 and ipip60, and ${[!tun4 && 'ipip0', !tun6 && 'ipip60'].filter(Boolean).join(' and ')} do not exist (they need the kernel's ipip / ip6_tunnel modules); use the bundled healthcheck program instead`);
    }
    for (const name of [MAP.hcReals, MAP.hcCtrl]) {
      if (!obj.map(name)) throw new BpfError('open healthcheck object', s.objectPath, ERRNO.ENOENT, `not a Katran healthcheck program: it has no map ${name}`);
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
    removePinDir(dir, (n) => n === HC_PROG_PIN || n.startsWith(HC_MAP_PREFIX));
    throw e;
  } finally {
    obj.close();
  }
}

/** hc_* pins -> maps by their object names (hc_reals_map, hc_pckt_macs, ...). */
function openHcMaps(dir: string, readOnly: boolean): Map<string, BpfMap> {
  const out = new Map<string, BpfMap>();
  for (const name of readdirNames(dir)) {
    if (!name.startsWith(HC_MAP_PREFIX) || name === HC_PROG_PIN) continue;
    const fd = objGet(join(dir, name), readOnly);
    out.set(name, BpfMap.fromFd(name, fd, { readOnly, ownsFd: true }));
  }
  return out;
}

function detachHealthcheck(dir: string, meta: PinMeta | null, messages: string[]): void {
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
  removePinDir(dir, (n) => n === HC_PROG_PIN || n.startsWith(HC_MAP_PREFIX));
}

// ---------------------------------------------------------------------------------------------
// attach

/** Validates an attach request and returns the warnings it would produce; changes nothing. */
export function checkAttach(req: AttachOptions): string[] {
  requireRoot('attach to', `interface ${req.intf}`);
  validateMode(req.mode);
  parseMac(req.defaultMac);
  requireInterface(req.intf);
  const pinRoot = req.pinRoot ?? DEFAULT_PIN_ROOT;
  requireBpffs(pinRoot);
  const objectPath = req.balancerProg ?? bundledObject('balancer');
  if (!existsSync(objectPath)) throw new BpfError('open BPF object', objectPath, ERRNO.ENOENT, 'file not found');
  const w = interfaceWarnings(req.intf);
  if (isZeroMac(parseMac(req.defaultMac))) w.push('the default MAC is 00:00:00:00:00:00: katran-tui\'s program drops (and counts) every VIP packet until a MAC is set');
  return w;
}

export function attach(req: AttachOptions): AttachedBalancer {
  const pinRoot = req.pinRoot ?? DEFAULT_PIN_ROOT;
  const warnings = checkAttach(req);
  const mode = validateMode(req.mode);
  const mac = parseMac(req.defaultMac);
  const ifindex = requireInterface(req.intf);
  const objectPath = req.balancerProg ?? bundledObject('balancer');
  const dir = pinDirFor(pinRoot, req.intf);

  // What is attached there now?
  const q = xdpQuery(ifindex, `interface ${req.intf}`);
  const current = q.progId || q.drvProgId || q.skbProgId;
  const ours = pinnedProgIds(pinRoot);
  let oldProgFd: number | undefined;
  let currentMode: XdpMode | 'unknown' = 'unknown';
  if (current) {
    currentMode = ((m) => (m === 'native' || m === 'generic' ? m : 'unknown'))(modeOf(q.attachMode));
    if (ours.get(current) === req.intf) {
      throw new BpfError('attach to', `interface ${req.intf}`, ERRNO.EEXIST, `katran-tui's balancer (program ${current}) is already attached: open it (it is pinned under ${dir}), upgrade it, or detach it first`);
    }
    const p = xdpProgramOn(ifindex);
    const desc = `program ${current}${p ? ` "${p.name}"${p.katranAbi ? ' (a Katran-ABI balancer: observe it instead)' : ''}` : ''}`;
    if (!req.force) {
      throw new BpfError('attach to', `interface ${req.intf}`, ERRNO.EEXIST, `another XDP ${desc} is attached and is not ours: refusing to replace it (force replaces it)`);
    }
    if (mode !== 'auto' && currentMode !== 'unknown' && mode !== currentMode) {
      throw new BpfError('attach to', `interface ${req.intf}`, ERRNO.EEXIST, `the XDP ${desc} to replace is attached in ${currentMode} mode; ${mode} was requested: the kernel cannot swap across modes (detach it first)`);
    }
    oldProgFd = progFdById(current);
    warnings.push(`replacing ${desc} (forced)`);
  }

  // Stale pins of a balancer no longer attached here.
  if (existsSync(dir)) {
    const stale = pinnedProgInfo(join(dir, PROG_PIN));
    if (stale && stale.id === current) {
      throw new BpfError('attach to', `interface ${req.intf}`, ERRNO.EEXIST, `katran-tui's balancer is already attached (program ${current}, pinned under ${dir})`);
    }
    const meta = readMeta(dir);
    if (meta?.hc) detachHealthcheck(dir, meta, []);
    removePinDir(dir);
    warnings.push(`removed stale pins under ${dir} (their program was no longer attached)`);
  }

  let loaded: LoadedBalancer | undefined;
  let metaFd = -1;
  let attached = false;
  let hc: HealthcheckHandle | null = null;
  try {
    loaded = loadBalancer(objectPath, { lruSize: req.lruSize, forwardingCpus: req.forwardingCores });
    // The MAC first: a program attached with a zero MAC would drop (or misroute) every VIP packet.
    loaded.maps.ctl.update(u32Key(CTL_MAC_INDEX), ctlMac.encode(mac));

    mkdirSync(pinRoot, { recursive: true, mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
    const meta: PinMeta = {
      ifindex, mode: 'unknown', attachedAt: 0, intf: req.intf, objectPath, forwardingCpus: loaded.forwardingCpus, hc: null,
    };
    metaFd = createMeta(meta);
    objPin(metaFd, join(dir, META_PIN));
    for (const [name, m] of loaded.maps.all) objPin(m.fd, join(dir, name));
    objPin(loaded.progFd, join(dir, PROG_PIN));

    // Attach through netlink; auto = native, else generic.
    let got: XdpMode;
    const flagsBase = oldProgFd !== undefined ? XDP_FLAGS.REPLACE : XDP_FLAGS.UPDATE_IF_NOEXIST;
    const tryMode = (m: XdpMode): void => xdpAttach(ifindex, loaded!.progFd, flagsBase | modeFlag(m), oldProgFd, `interface ${req.intf}`);
    if (mode === 'auto') {
      const first: XdpMode = currentMode === 'generic' ? 'generic' : 'native';
      try {
        tryMode(first);
        got = first;
      } catch (e) {
        if (!(e instanceof BpfError) || first === 'generic' || oldProgFd !== undefined
            || !(e.errno === ERRNO.EOPNOTSUPP || e.errno === ERRNO.ENOTSUPP || e.errno === ERRNO.EINVAL)) throw e;
        tryMode('generic');
        got = 'generic';
        warnings.push(`native XDP is not available on ${req.intf} (${e.message}): attached in generic mode, which is much slower`);
      }
    } else {
      tryMode(mode);
      got = mode;
    }
    attached = true;
    meta.mode = got;
    meta.attachedAt = Date.now();

    if (req.hcIntf || req.healthcheckerProg) {
      const hcIntf = req.hcIntf ?? req.intf;
      const hcObject = req.healthcheckerProg ?? bundledObject('healthcheck');
      hc = attachHealthcheck({
        hcIntf, objectPath: hcObject, mainIfindex: ifindex, mainMac: linkBasics(req.intf).mac, gatewayMac: mac,
        srcV4: req.hcSrcV4, srcV6: req.hcSrcV6,
      }, dir);
      meta.hc = { ifindex: hc.ifindex, intf: hcIntf, handle: HC_TC_HANDLE, priority: HC_TC_PRIORITY, objectPath: hcObject };
    }
    writeMeta(dir, meta);
    closeFd(metaFd);
    metaFd = -1;

    const l = loaded;
    const handle = handleFrom({
      intf: req.intf, ifindex, mode: got, progFd: l.progFd, info: progInfo(l.progFd), all: l.maps.all, owner: 'katran-tui',
      readOnly: false, pinDir: dir, objectPath, attachedAt: meta.attachedAt, forwardingCpus: l.forwardingCpus, healthcheck: hc,
      onClose: () => l.close(), what: objectPath,
    });
    return Object.assign(handle, { warnings });
  } catch (e) {
    if (attached && loaded) {
      try {
        if (oldProgFd !== undefined) {
          // A forced replace that failed later: put the program we replaced back.
          xdpAttach(ifindex, oldProgFd, XDP_FLAGS.REPLACE | modeFlag(xdpModeNow(ifindex)), loaded.progFd);
        } else {
          xdpDetach(ifindex, modeFlag(xdpModeNow(ifindex)), loaded.progFd);
        }
      } catch { /* replaced meanwhile: not ours to touch */ }
    }
    if (hc) for (const m of hc.maps.values()) m.close();
    if (metaFd >= 0) closeFd(metaFd);
    if (existsSync(dir)) {
      detachHealthcheck(dir, readMetaSafe(dir), []);
      removePinDir(dir);
    }
    loaded?.close();
    throw e;
  } finally {
    if (oldProgFd !== undefined) closeFd(oldProgFd);
  }
}

function readMetaSafe(dir: string): PinMeta | null {
  try {
    return readMeta(dir);
  } catch {
    return null;
  }
}

function xdpModeNow(ifindex: number): XdpMode | 'unknown' {
  try {
    const m = modeOf(xdpQuery(ifindex).attachMode);
    return m === 'native' || m === 'generic' ? m : 'unknown';
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// openPinned

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
    const q = xdpQuery(ifindex);
    attachedId = q.progId || q.drvProgId || q.skbProgId;
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
    throw new BpfError('open', `balancer on ${intf}`, ERRNO.ENOENT, `katran-tui has no balancer pinned for ${intf} (nothing under ${dir}); attach one, or observe a Katran another process attached`);
  }
  const meta = readMeta(dir);
  if (!meta) throw new BpfError('open', `balancer on ${intf}`, ERRNO.EINVAL, `${join(dir, META_PIN)} is missing or unreadable: the pins under ${dir} are not katran-tui's (or are damaged)`);
  const progFd = objGet(progPath);
  let all: Map<string, BpfMap> | undefined;
  let hcMaps: Map<string, BpfMap> | undefined;
  try {
    const info = progInfo(progFd);
    if (o.allowDetached) {
      const st = interfaceStateOf({ intf, pinName: basename(dir), ifindex: meta.ifindex, progId: info.id });
      if (st.status !== 'ok' && st.status !== 'renamed') {
        all = openPinnedMaps(dir, readOnly, isBalancerMapPin);
        let healthcheck: HealthcheckHandle | null = null;
        const hcInfo = meta.hc ? pinnedProgInfo(join(dir, HC_PROG_PIN)) : null;
        if (meta.hc && hcInfo) {
          hcMaps = openHcMaps(dir, readOnly);
          healthcheck = { intf: meta.hc.intf, ifindex: meta.hc.ifindex, progId: hcInfo.id, maps: hcMaps };
        }
        return pinnedHandle(intf, meta.ifindex, meta.mode, progFd, info, all, readOnly, dir, meta, healthcheck);
      }
    }
    // Is it still attached where we left it?
    const nowIndex = ifNameToIndex(intf);
    const renamed = ifIndexToName(meta.ifindex);
    if (!nowIndex) {
      throw new BpfError('open', `balancer on ${intf}`, ERRNO.ENODEV, renamed
        ? `interface ${intf} was renamed to ${renamed} (ifindex ${meta.ifindex}): open it as ${renamed} (katran-tui --intf ${renamed}); its pins stay under ${dir}`
        : `interface ${intf} (ifindex ${meta.ifindex}) no longer exists: the balancer is not forwarding; its program and maps stay pinned under ${dir}: when ${intf} is back, katran-tui reattach --intf ${intf} attaches them again (VIPs kept); detach removes the stale pins`);
    }
    if (nowIndex !== meta.ifindex) {
      throw new BpfError('open', `balancer on ${intf}`, ERRNO.ENODEV, renamed
        ? `interface ${intf} is now ifindex ${nowIndex}; the balancer is on ifindex ${meta.ifindex}, renamed to ${renamed}: open it as ${renamed}`
        : `interface ${intf} is now ifindex ${nowIndex}, the balancer was attached to ifindex ${meta.ifindex}: the interface was recreated and our program is not on it (katran-tui reattach --intf ${intf} attaches the pinned program and maps to it)`);
    }
    const q = xdpQuery(nowIndex, `interface ${intf}`);
    const attachedId = q.progId || q.drvProgId || q.skbProgId;
    if (attachedId !== info.id) {
      let other = '';
      if (attachedId) {
        const p = xdpProgramOn(nowIndex);
        other = `another XDP program (id ${attachedId}${p ? ` "${p.name}"` : ''}) replaced ours (id ${info.id})`;
      } else {
        other = `no XDP program is attached any more (ours was id ${info.id})`;
      }
      throw new BpfError('open', `balancer on ${intf}`, ERRNO.ESRCH, `${other}: the pins under ${dir} are stale`);
    }
    all = openPinnedMaps(dir, readOnly, isBalancerMapPin);
    const mode = ((m) => (m === 'native' || m === 'generic' ? m : meta.mode))(modeOf(q.attachMode));
    let healthcheck: HealthcheckHandle | null = null;
    if (meta.hc) {
      const hcInfo = pinnedProgInfo(join(dir, HC_PROG_PIN));
      if (hcInfo) {
        hcMaps = openHcMaps(dir, readOnly);
        healthcheck = { intf: meta.hc.intf, ifindex: meta.hc.ifindex, progId: hcInfo.id, maps: hcMaps };
      }
    }
    return pinnedHandle(intf, nowIndex, mode, progFd, info, all, readOnly, dir, meta, healthcheck);
  } catch (e) {
    for (const m of all?.values() ?? []) m.close();
    for (const m of hcMaps?.values() ?? []) m.close();
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

// ---------------------------------------------------------------------------------------------
// The interface under a running balancer: deleted, renamed, our program replaced; re-attach

/**
 * Where the balancer's interface stands: if_indextoname on the ifindex it is attached to and
 * bpf_xdp_query there (two cheap calls per sample; if_nametoindex too while it is gone).
 * `intf`: the name it had last; `pinName`: the attach-time name (renamed is relative to it).
 */
export function interfaceStateOf(p: { intf: string; pinName?: string; ifindex: number; progId: number }): InterfaceState {
  const gone = (): InterfaceState => {
    // Back under the last name, or under the attach-time name.
    let again = ifNameToIndex(p.intf);
    let name = p.intf;
    if (!again && p.pinName && p.pinName !== p.intf) {
      again = ifNameToIndex(p.pinName);
      if (again) name = p.pinName;
    }
    if (again && again !== p.ifindex) {
      return {
        status: 'gone', intf: name, ifindex: p.ifindex, reappeared: { ifindex: again }, canReattach: true,
        message: `interface ${p.intf} (ifindex ${p.ifindex}) was deleted; ${name} exists again as ifindex ${again}: re-attach the pinned program there (the same maps: VIPs, reals and LRU kept)`,
      };
    }
    return {
      status: 'gone', intf: p.intf, ifindex: p.ifindex, canReattach: false,
      message: `interface ${p.intf} (ifindex ${p.ifindex}) is gone: its XDP attachment went with it, nothing is balanced; the program and maps stay pinned until ${p.intf} is back to re-attach them`,
    };
  };
  const name = ifIndexToName(p.ifindex);
  if (!name) return gone();
  let attached: number;
  try {
    const q = xdpQuery(p.ifindex);
    attached = q.progId || q.drvProgId || q.skbProgId || q.hwProgId;
  } catch {
    return gone(); // deleted between the two calls
  }
  if (attached !== p.progId) {
    return {
      status: 'replaced', intf: name, ifindex: p.ifindex, otherProgId: attached, canReattach: attached === 0,
      message: attached
        ? `another XDP program (id ${attached}) replaced ours (id ${p.progId}) on ${name} (ifindex ${p.ifindex}): katran-tui's maps are not in use there`
        : `our program (id ${p.progId}) is no longer attached to ${name} (ifindex ${p.ifindex}): nothing is balanced; re-attach puts it back (maps kept)`,
    };
  }
  const from = p.pinName ?? p.intf;
  if (name !== from) {
    return {
      status: 'renamed', intf: name, ifindex: p.ifindex, from, canReattach: false,
      message: `interface renamed ${from} -> ${name} (ifindex ${p.ifindex}): still attached and forwarding; pins and state stay under ${from}`,
    };
  }
  return { status: 'ok', intf: name, ifindex: p.ifindex, canReattach: false, message: `attached to ${name} (ifindex ${p.ifindex})` };
}

export interface ReattachResult {
  applied: boolean;
  summary: string[];
  warnings: string[];
}

/**
 * Attaches our pinned program (the handle's program fd: the same program, the same maps) to the
 * interface's current ifindex after it was deleted and recreated, or after our program was detached
 * behind our back, and records the ifindex in kt_meta. Refuses while the balancer is attached, while
 * no interface of the name exists, and over another XDP program. The handle follows (ifindex, intf,
 * mode). The healthcheck program's redirect target (hc_ctrl_map[3]) follows too.
 */
export function reattach(handle: BalancerHandle, o: { dryRun?: boolean } = {}): ReattachResult {
  if (handle.owner !== 'katran-tui' || !handle.pinDir) {
    throw new ReadOnlyError(`re-attach ${handle.intf}: program ${handle.progId} was attached by another process; katran-tui only re-attaches its own`);
  }
  if (handle.readOnly) throw new ReadOnlyError(`re-attach ${handle.intf}: ${handle.readOnlyReason ?? 'opened read-only'}`);
  const dir = handle.pinDir;
  const st = interfaceStateOf({ intf: handle.intf, pinName: handle.pinName, ifindex: handle.ifindex, progId: handle.progId });
  const what = `balancer of ${handle.intf}`;
  if (st.status === 'ok' || st.status === 'renamed') {
    throw new BpfError('re-attach', what, ERRNO.EEXIST, `program ${handle.progId} is attached to ${st.intf} (ifindex ${st.ifindex}): nothing to re-attach`);
  }
  if (st.status === 'replaced' && st.otherProgId) {
    throw new BpfError('re-attach', what, ERRNO.EBUSY, `another XDP program (id ${st.otherProgId}) is attached to ${st.intf}: katran-tui does not replace it; detach it first (ip link set dev ${st.intf} xdp off) if it should go`);
  }
  if (st.status === 'gone' && !st.reappeared) {
    throw new BpfError('re-attach', what, ERRNO.ENODEV, `interface ${st.intf} (ifindex ${st.ifindex}) is gone and no interface ${st.intf} exists: create it first`);
  }
  const target = st.reappeared?.ifindex ?? st.ifindex;
  const name = st.intf;
  const mode: XdpMode = handle.mode === 'generic' ? 'generic' : 'native';
  const summary = [`attach the pinned program ${handle.progId} (${handle.progName}) to ${name} (ifindex ${target}${target !== handle.ifindex ? `, was ${handle.ifindex}` : ''}) in ${mode} mode, with the same maps (VIPs, reals, LRU kept); kt_meta under ${dir} records ifindex ${target}`];
  const warnings = interfaceWarnings(name);
  const meta = readMetaSafe(dir);
  const hc = meta?.hc;
  const hcGone = !!hc && ifIndexToName(hc.ifindex) === undefined;
  if (hcGone) warnings.push(`the healthcheck program was at ${hc!.intf}'s egress (ifindex ${hc!.ifindex}), which is gone too: it is not re-attached (detach and attach again to restore healthchecks)`);
  if (o.dryRun) return { applied: false, summary, warnings };
  requireRoot('re-attach', what);
  let got: XdpMode = mode;
  try {
    xdpAttach(target, handle.progFd, XDP_FLAGS.UPDATE_IF_NOEXIST | modeFlag(mode), undefined, `interface ${name}`);
  } catch (e) {
    if (!(e instanceof BpfError) || mode !== 'native' || !(e.errno === ERRNO.EOPNOTSUPP || e.errno === ERRNO.ENOTSUPP || e.errno === ERRNO.EINVAL)) throw e;
    xdpAttach(target, handle.progFd, XDP_FLAGS.UPDATE_IF_NOEXIST | XDP_FLAGS.SKB_MODE, undefined, `interface ${name}`);
    got = 'generic';
    warnings.push(`native XDP is not available on ${name} (${e.message}): re-attached in generic mode, which is much slower`);
  }
  const attachedAt = Date.now();
  if (meta) {
    try {
      writeMeta(dir, { ...meta, ifindex: target, mode: got, attachedAt });
    } catch (e) {
      // Not recorded: undo, so that the pins never disagree with the kernel.
      try { xdpDetach(target, modeFlag(got), handle.progFd); } catch { /* replaced meanwhile */ }
      throw e;
    }
  }
  if (hc && !hcGone && handle.healthcheck) {
    const ctrl = handle.healthcheck.maps.get(MAP.hcCtrl);
    if (ctrl && ctrl.maxEntries > 3) {
      const v = Buffer.alloc(ctrl.valueBufferSize);
      v.writeUInt32LE(target, 0);
      ctrl.update(u32Key(3), v);
    }
  }
  summary[0] = `re-attached program ${handle.progId} to ${name} (ifindex ${target}) in ${got} mode: the same maps, VIPs and LRU kept`;
  handle.ifindex = target;
  handle.intf = name;
  handle.mode = got;
  handle.attachedAt = attachedAt;
  return { applied: true, summary, warnings };
}

// ---------------------------------------------------------------------------------------------
// observe

/**
 * Opens the Katran-ABI program another process attached to `intf`: every map by id with
 * BPF_F_RDONLY, so that the kernel itself refuses writes.
 */
export function observe(intf: string): BalancerHandle {
  const ifindex = requireInterface(intf, 'observe');
  const q = xdpQuery(ifindex, `interface ${intf}`);
  const id = q.progId || q.drvProgId || q.skbProgId;
  if (!id) throw new BpfError('observe', `interface ${intf}`, ERRNO.ENOENT, `no XDP program is attached to ${intf}`);
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
      if (name.includes('.') || all.has(byKernelName.get(name) ?? name)) {
        closeFd(fd);
        continue;
      }
      all.set(byKernelName.get(name) ?? name, BpfMap.fromFd(byKernelName.get(name) ?? name, fd, { readOnly: true, ownsFd: true }));
    }
    if (!isKatranAbi([...all.keys()].map(kernelMapName))) {
      throw new BpfError('observe', `interface ${intf}`, ERRNO.EINVAL, `the XDP program on ${intf} (id ${id} "${info.name}") is not a Katran-ABI balancer: it lacks ${[MAP.vips, MAP.reals, MAP.rings, MAP.stats, MAP.ctl].filter((n) => !all.has(n)).join(', ')}`);
    }
    const mode = ((m) => (m === 'native' || m === 'generic' ? m : 'unknown'))(modeOf(q.attachMode));
    return handleFrom({
      intf, ifindex, mode, progFd, info, all, owner: 'observed', readOnly: true,
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

// ---------------------------------------------------------------------------------------------
// detach

/** Detaches our program (only if it is still the one attached) and the healthcheck, removes the pins, closes the handle. */
export function detach(handle: BalancerHandle): DetachResult {
  if (handle.owner !== 'katran-tui' || !handle.pinDir) {
    throw new ReadOnlyError(`detach ${handle.intf}: program ${handle.progId} was attached by another process; katran-tui only detaches its own`);
  }
  if (handle.readOnly) throw new ReadOnlyError(`detach ${handle.intf}: ${handle.readOnlyReason ?? 'opened read-only'}`);
  requireRoot('detach from', `interface ${handle.intf}`);
  const messages: string[] = [];
  const dir = handle.pinDir;
  const meta = readMetaSafe(dir);
  let detached = false;
  const ifindex = ifNameToIndex(handle.intf) === handle.ifindex ? handle.ifindex : 0;
  if (!ifindex) {
    messages.push(`interface ${handle.intf} (ifindex ${handle.ifindex}) is gone: nothing to detach`);
  } else {
    const q = xdpQuery(ifindex, `interface ${handle.intf}`);
    const id = q.progId || q.drvProgId || q.skbProgId;
    if (id === handle.progId) {
      const m = modeOf(q.attachMode);
      xdpDetach(ifindex, modeFlag(m === 'native' || m === 'generic' ? m : 'unknown'), handle.progFd, `interface ${handle.intf}`);
      detached = true;
      messages.push(`program ${handle.progId} detached from ${handle.intf}`);
    } else if (id) {
      messages.push(`${handle.intf} now runs program ${id}, not ours (${handle.progId}): left attached`);
    } else {
      messages.push(`no XDP program on ${handle.intf} any more`);
    }
  }
  detachHealthcheck(dir, meta, messages);
  handle.close();
  removePinDir(dir);
  messages.push(`pins under ${dir} removed`);
  return { detached, messages };
}

/** Detaches the balancer pinned for `intf` (opens it first); stale pins are removed too. */
export function detachPinned(intf: string, o: { pinRoot?: string } = {}): DetachResult {
  const pinRoot = o.pinRoot ?? DEFAULT_PIN_ROOT;
  const dir = pinDirFor(pinRoot, intf);
  try {
    return detach(openPinned(intf, { pinRoot }));
  } catch (e) {
    if (!(e instanceof BpfError) || !existsSync(dir) || (e.code !== 'ESRCH' && e.code !== 'ENODEV')) throw e;
    // Stale: our program is no longer attached there; remove the pins (and our hc filter).
    const messages = [e.message];
    detachHealthcheck(dir, readMetaSafe(dir), messages);
    removePinDir(dir);
    messages.push(`stale pins under ${dir} removed`);
    return { detached: false, messages };
  }
}

// ---------------------------------------------------------------------------------------------
// upgrade

/**
 * Loads `objectPath` reusing every pinned map and swaps it in atomically (XDP_FLAGS_REPLACE with
 * the old program's fd): no flow loses its real. Returns the new handle; `handle` is closed.
 */
export function upgrade(handle: BalancerHandle, objectPath: string): AttachedBalancer {
  if (handle.owner !== 'katran-tui' || !handle.pinDir) throw new ReadOnlyError(`upgrade ${handle.intf}: not katran-tui's balancer`);
  if (handle.readOnly) throw new ReadOnlyError(`upgrade ${handle.intf}: ${handle.readOnlyReason ?? 'opened read-only'}`);
  requireRoot('upgrade', `balancer on ${handle.intf}`);
  const dir = handle.pinDir;
  const warnings: string[] = [];
  const q = xdpQuery(handle.ifindex, `interface ${handle.intf}`);
  const current = q.progId || q.drvProgId || q.skbProgId;
  if (current !== handle.progId) {
    throw new BpfError('upgrade', `balancer on ${handle.intf}`, ERRNO.ESRCH, current ? `program ${current} replaced ours (${handle.progId}) meanwhile: not upgrading` : 'our program is no longer attached');
  }
  const reuse = new Map<string, number>();
  for (const [name, m] of handle.maps.all) reuse.set(name, m.fd);
  let loaded: LoadedBalancer;
  try {
    loaded = loadBalancer(objectPath, { reuse, keepLruMapping: true, forwardingCpus: handle.forwardingCpus.length ? handle.forwardingCpus : undefined });
  } catch (e) {
    if (e instanceof BpfError && e.op.includes('reuse')) {
      throw new BpfError('upgrade', objectPath, e.errno, `its maps differ in shape from the pinned ones (${e.message}): an in-place upgrade needs the same map sizes`);
    }
    throw e;
  }
  try {
    // Maps the new object adds: pin them next to the others.
    for (const [name, m] of loaded.maps.all) if (!reuse.has(name)) objPin(m.fd, join(dir, name));
    const mode = handle.mode === 'unknown' ? ((m) => (m === 'native' || m === 'generic' ? m : 'unknown'))(modeOf(q.attachMode)) : handle.mode;
    xdpAttach(handle.ifindex, loaded.progFd, XDP_FLAGS.REPLACE | modeFlag(mode), handle.progFd, `interface ${handle.intf}`);
    // Re-pin the program: pin the new one aside, then rename over the old pin.
    const tmp = join(dir, PROG_PIN_NEW);
    rmSync(tmp, { force: true });
    objPin(loaded.progFd, tmp);
    try {
      renameSync(tmp, join(dir, PROG_PIN));
    } catch {
      rmSync(join(dir, PROG_PIN), { force: true });
      rmSync(tmp, { force: true });
      objPin(loaded.progFd, join(dir, PROG_PIN));
    }
    const meta = readMetaSafe(dir);
    if (meta) writeMeta(dir, { ...meta, objectPath });
    const hc = handle.healthcheck;
    // The old handle's maps stay referenced by the pins and the new program; its fds are released.
    const hcMaps = hc ? openHcMaps(dir, false) : null;
    handle.close();
    const l = loaded;
    const info = progInfo(l.progFd);
    if (info.tag === handle.progTag) warnings.push(`the new program has the same tag (${info.tag}) as the old one`);
    const nh = handleFrom({
      intf: handle.intf, ifindex: handle.ifindex, mode, progFd: l.progFd, info, all: l.maps.all, owner: 'katran-tui', readOnly: false,
      pinDir: dir, objectPath, attachedAt: meta?.attachedAt, forwardingCpus: handle.forwardingCpus,
      healthcheck: hc && hcMaps ? { ...hc, maps: hcMaps } : null, onClose: () => l.close(), what: objectPath,
    });
    return Object.assign(nh, { warnings });
  } catch (e) {
    loaded.close();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// listBalancers

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
    tag = null; // incompatible maps: certainly another build; do not cache
    return null;
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
        const m = modeOf(xdpQuery(st.ifindex).attachMode);
        mode = m === 'native' || m === 'generic' ? m : 'unknown';
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

// ---------------------------------------------------------------------------------------------
// The lifecycle as one object, for the CLI / console (host.ts wraps it into types.ts Host).

export interface Lifecycle {
  pinRoot: string;
  stateDir: string;
  attach(req: AttachRequest): AttachedBalancer;
  checkAttach(req: AttachRequest): string[];
  openPinned(intf: string, o?: { readOnly?: boolean; allowDetached?: boolean }): BalancerHandle;
  observe(intf: string): BalancerHandle;
  /**
   * Ours: reopened from pins (also after a rename: found by ifindex); otherwise observed read-only.
   * `detached`: ours also when its interface is gone or our program is not attached (to reattach).
   */
  open(intf: string, o?: { readOnly?: boolean; detached?: boolean }): BalancerHandle;
  reattach(handle: BalancerHandle, o?: { dryRun?: boolean }): ReattachResult;
  detach(handle: BalancerHandle): DetachResult;
  detachPinned(intf: string): DetachResult;
  upgrade(handle: BalancerHandle, objectPath: string): AttachedBalancer;
  listBalancers(): BalancerSummary[];
  listInterfaces(): InterfaceInfo[];
}

export function lifecycleFor(o: { pinRoot?: string; stateDir: string }): Lifecycle {
  const pinRoot = o.pinRoot ?? DEFAULT_PIN_ROOT;
  return {
    pinRoot,
    stateDir: o.stateDir,
    attach: (req) => attach({ ...req, pinRoot }),
    checkAttach: (req) => checkAttach({ ...req, pinRoot }),
    openPinned: (intf, x) => openPinned(intf, { pinRoot, readOnly: x?.readOnly, allowDetached: x?.allowDetached }),
    observe: (intf) => observe(intf),
    open(intf, x) {
      if (pinDirOf(pinRoot, intf)) return openPinned(intf, { pinRoot, readOnly: x?.readOnly, allowDetached: x?.detached });
      return observe(intf);
    },
    reattach: (h, x) => reattach(h, x),
    detach: (h) => detach(h),
    detachPinned: (intf) => detachPinned(intf, { pinRoot }),
    upgrade: (h, p) => upgrade(h, p),
    listBalancers: () => listBalancers({ pinRoot }),
    listInterfaces: () => listInterfaces({ pinRoot }),
  };
}

