// Attaching an XDP program to an interface, with the one native-to-generic fallback rule.
import { BpfError, ERRNO, XDP_FLAGS, xdpAttach } from '../kernel/libbpf.js';
import { XdpModeUnsupportedError } from '../errors.js';
import type { XdpMode } from '../types.js';

/** XDP_FLAGS_* of a mode (0: whatever the kernel picks, for a program attached in an unknown mode). */
export function modeFlag(mode: XdpMode | 'unknown'): number {
  return mode === 'generic' ? XDP_FLAGS.SKB_MODE : mode === 'native' ? XDP_FLAGS.DRV_MODE : 0;
}

/** What a driver says when it has no native XDP (EOPNOTSUPP, ENOTSUPP, or the kernel's EINVAL from some). */
function nativeRefused(e: unknown): e is BpfError {
  return e instanceof XdpModeUnsupportedError || (e instanceof BpfError && e.errno === ERRNO.EINVAL);
}

export interface XdpAttachRequest {
  ifindex: number;
  intf: string;
  progFd: number;
  mode: XdpMode;
  /** Replace this program (XDP_FLAGS_REPLACE) instead of refusing an attached one. */
  oldProgFd?: number;
  /** Native refused by the driver: attach in generic mode instead (never when replacing). */
  fallback: boolean;
  /** How the fallback warning says what was done: "attached", "re-attached". */
  done: string;
}

/** Attaches through netlink; returns the mode it got and, after a fallback, the warning to show. */
export function attachXdp(r: XdpAttachRequest): { mode: XdpMode; warning?: string } {
  const base = r.oldProgFd !== undefined ? XDP_FLAGS.REPLACE : XDP_FLAGS.UPDATE_IF_NOEXIST;
  const what = `interface ${r.intf}`;
  try {
    xdpAttach(r.ifindex, r.progFd, base | modeFlag(r.mode), r.oldProgFd, what);
    return { mode: r.mode };
  } catch (e) {
    if (!r.fallback || r.mode !== 'native' || r.oldProgFd !== undefined || !nativeRefused(e)) throw e;
    xdpAttach(r.ifindex, r.progFd, base | XDP_FLAGS.SKB_MODE, undefined, what);
    return { mode: 'generic', warning: `native XDP is not available on ${r.intf} (${e.message}): ${r.done} in generic mode, which is much slower` };
  }
}
