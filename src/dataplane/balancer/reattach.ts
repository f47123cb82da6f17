// reattach: put our pinned program (the same program, the same maps) back on its interface after
// the interface was deleted and recreated, or after the program was detached behind our back.
import { MAP, u32Key } from '../abi.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { ifIndexToName, xdpDetach } from '../kernel/libbpf.js';
import { AlreadyAttachedError, ForeignProgramError, InterfaceMissingError } from '../errors.js';
import { writeMeta } from '../kernel/pins.js';
import type { XdpMode } from '../types.js';
import { interfaceWarnings, requireOwnWritable, requireRoot } from './checks.js';
import { readMetaSafe } from './handles.js';
import { interfaceStateOf } from './interface-state.js';
import { attachXdp, modeFlag } from './xdp.js';

export interface ReattachResult {
  applied: boolean;
  summary: string[];
  warnings: string[];
}

/**
 * Attaches our pinned program to the interface's current ifindex and records the ifindex in
 * kt_meta. Refuses while the balancer is attached, while no interface of the name exists, and over
 * another XDP program. The handle follows (ifindex, intf, mode). The healthcheck program's
 * redirect target (hc_ctrl_map[3]) follows too.
 */
export function reattach(handle: BalancerHandle, o: { dryRun?: boolean } = {}): ReattachResult {
  requireOwnWritable(handle, 're-attach', { pinned: true });
  const dir = handle.pinDir!;
  const st = interfaceStateOf({ intf: handle.intf, pinName: handle.pinName, ifindex: handle.ifindex, progId: handle.progId });
  const what = `balancer of ${handle.intf}`;
  if (st.status === 'ok' || st.status === 'renamed') {
    throw new AlreadyAttachedError('re-attach', what, `program ${handle.progId} is attached to ${st.intf} (ifindex ${st.ifindex}): nothing to re-attach`, handle.progId);
  }
  if (st.status === 'replaced' && st.otherProgId) {
    throw new ForeignProgramError('re-attach', what, `another XDP program (id ${st.otherProgId}) is attached to ${st.intf}: katran-tui does not replace it; detach it first (ip link set dev ${st.intf} xdp off) if it should go`, st.otherProgId);
  }
  if (st.status === 'gone' && !st.reappeared) {
    throw new InterfaceMissingError('re-attach', what, `interface ${st.intf} (ifindex ${st.ifindex}) is gone and no interface ${st.intf} exists: create it first`);
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
  const a = attachXdp({ ifindex: target, intf: name, progFd: handle.progFd, mode, fallback: true, done: 're-attached' });
  if (a.warning) warnings.push(a.warning);
  const got = a.mode;
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
