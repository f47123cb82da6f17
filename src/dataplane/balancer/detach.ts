// detach: our program off its interface (only if it is still the one attached), the healthcheck
// off its egress, the pins removed.
import { existsSync } from 'node:fs';
import type { BalancerHandle } from '../kernel/handle.js';
import { xdpAttached } from '../kernel/interfaces.js';
import { ifNameToIndex, xdpDetach } from '../kernel/libbpf.js';
import { InterfaceMissingError, StalePinsError } from '../errors.js';
import { DEFAULT_PIN_ROOT } from '../kernel/paths.js';
import { pinDirFor, removePinDir } from '../kernel/pins.js';
import { requireOwnWritable, requireRoot } from './checks.js';
import { readMetaSafe } from './handles.js';
import { detachHealthcheck } from './healthcheck.js';
import { openPinned } from './open.js';
import { modeFlag } from './xdp.js';

export interface DetachResult {
  detached: boolean;
  messages: string[];
}

/** Detaches our program (only if it is still the one attached) and the healthcheck, removes the pins, closes the handle. */
export function detach(handle: BalancerHandle): DetachResult {
  requireOwnWritable(handle, 'detach', { pinned: true });
  requireRoot('detach from', `interface ${handle.intf}`);
  const messages: string[] = [];
  const dir = handle.pinDir!;
  const meta = readMetaSafe(dir);
  let detached = false;
  const ifindex = ifNameToIndex(handle.intf) === handle.ifindex ? handle.ifindex : 0;
  if (!ifindex) {
    messages.push(`interface ${handle.intf} (ifindex ${handle.ifindex}) is gone: nothing to detach`);
  } else {
    const now = xdpAttached(ifindex, `interface ${handle.intf}`);
    if (now.progId === handle.progId) {
      xdpDetach(ifindex, modeFlag(now.mode), handle.progFd, `interface ${handle.intf}`);
      detached = true;
      messages.push(`program ${handle.progId} detached from ${handle.intf}`);
    } else if (now.progId) {
      messages.push(`${handle.intf} now runs program ${now.progId}, not ours (${handle.progId}): left attached`);
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
    if (!(e instanceof StalePinsError || e instanceof InterfaceMissingError) || !existsSync(dir)) throw e;
    // Stale: our program is no longer attached there; remove the pins (and our hc filter).
    const messages = [e.message];
    detachHealthcheck(dir, readMetaSafe(dir), messages);
    removePinDir(dir);
    messages.push(`stale pins under ${dir} removed`);
    return { detached: false, messages };
  }
}
