// attach: load the bundled (or given) balancer, set the default MAC, pin everything, attach
// through netlink (auto: native, else generic), and the healthcheck program when asked.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CTL_MAC_INDEX, DEFAULTS, ctlMac, isZeroMac, parseMac, u32Key } from '../abi.js';
import type { BalancerHandle, HealthcheckHandle } from '../kernel/handle.js';
import { xdpAttached, xdpModeNow, xdpProgramOn } from '../kernel/interfaces.js';
import { XDP_FLAGS, closeFd, linkBasics, objPin, progFdById, progInfo, xdpAttach, xdpDetach } from '../kernel/libbpf.js';
import { loadBalancer, type LoadedBalancer } from '../kernel/loader.js';
import { DEFAULT_PIN_ROOT, bundledObject } from '../kernel/paths.js';
import {
  META_PIN, PROG_PIN, createMeta, pinDirFor, pinnedProgIds, pinnedProgInfo, readMeta, removePinDir, requireBpffs, writeMeta, type PinMeta,
} from '../kernel/pins.js';
import type { AttachRequest, XdpMode } from '../types.js';
import { interfaceWarnings, requireInterface, requireRoot, validateMode } from './checks.js';
import { handleFrom, readMetaSafe } from './handles.js';
import { HC_TC_HANDLE, HC_TC_PRIORITY, attachHealthcheck, detachHealthcheck } from './healthcheck.js';
import { attachXdp, modeFlag } from './xdp.js';
import { AlreadyAttachedError, ForeignProgramError, ObjectMissingError } from '../errors.js';

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

/** Validates an attach request and returns the warnings it would produce; changes nothing. */
export function checkAttach(req: AttachOptions): string[] {
  requireRoot('attach to', `interface ${req.intf}`);
  validateMode(req.mode);
  parseMac(req.defaultMac);
  requireInterface(req.intf);
  const pinRoot = req.pinRoot ?? DEFAULT_PIN_ROOT;
  requireBpffs(pinRoot);
  const objectPath = req.balancerProg ?? bundledObject('balancer');
  if (!existsSync(objectPath)) throw new ObjectMissingError('open BPF object', objectPath, `open BPF object ${objectPath}: file not found`);
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
  const { progId: current, mode: currentMode } = xdpAttached(ifindex, `interface ${req.intf}`);
  const ours = pinnedProgIds(pinRoot);
  let oldProgFd: number | undefined;
  if (current) {
    if (ours.get(current) === req.intf) {
      throw new AlreadyAttachedError('attach to', `interface ${req.intf}`, `katran-tui's balancer (program ${current}) is already attached: open it (it is pinned under ${dir}), upgrade it, or detach it first`, current);
    }
    const p = xdpProgramOn(ifindex);
    const desc = `program ${current}${p ? ` "${p.name}"${p.katranAbi ? ' (a Katran-ABI balancer: observe it instead)' : ''}` : ''}`;
    if (!req.force) {
      throw new ForeignProgramError('attach to', `interface ${req.intf}`, `another XDP ${desc} is attached and is not ours: refusing to replace it (force replaces it)`, current);
    }
    if (mode !== 'auto' && currentMode !== 'unknown' && mode !== currentMode) {
      throw new ForeignProgramError('attach to', `interface ${req.intf}`, `the XDP ${desc} to replace is attached in ${currentMode} mode; ${mode} was requested: the kernel cannot swap across modes (detach it first)`, current);
    }
    oldProgFd = progFdById(current);
    warnings.push(`replacing ${desc} (forced)`);
  }

  // Stale pins of a balancer no longer attached here.
  if (existsSync(dir)) {
    const stale = pinnedProgInfo(join(dir, PROG_PIN));
    if (stale && stale.id === current) {
      throw new AlreadyAttachedError('attach to', `interface ${req.intf}`, `katran-tui's balancer is already attached (program ${current}, pinned under ${dir})`, current);
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
    loaded = loadBalancer(objectPath, { lruSize: req.lruSize, forwardingCpus: req.forwardingCores, quicServerIds: req.quicServerIds });
    const ids = loaded.maps.serverIds?.maxEntries;
    if (ids !== undefined && ids < DEFAULTS.quicServerIds) {
      warnings.push(`server_id_map holds ${ids} entries (Katran's holds ${DEFAULTS.quicServerIds}): QUIC server ids ${ids} and up fall back to hashing here, so a box running Katran routes those connections differently (not interchangeable for them)`);
    }
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

    // Auto: native first (generic when replacing a generic program), generic if the driver has none.
    const first: XdpMode = mode !== 'auto' ? mode : currentMode === 'generic' ? 'generic' : 'native';
    const a = attachXdp({ ifindex, intf: req.intf, progFd: loaded.progFd, mode: first, oldProgFd, fallback: mode === 'auto', done: 'attached' });
    if (a.warning) warnings.push(a.warning);
    const got = a.mode;
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
