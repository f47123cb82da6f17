// Checks the lifecycle verbs share: root, the interface, the XDP mode asked for, what the operator
// should know about an interface before attaching, and the guard that only katran-tui's own,
// writable balancer is re-attached, upgraded or detached.
import { ifNameToIndex, isRoot, linkBasics } from '../kernel/libbpf.js';
import { InputError, InterfaceMissingError, NotRootError } from '../errors.js';
import { intfNameProblem } from '../rules.js';
import { defaultRouteInterfaces } from '../kernel/interfaces.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { ReadOnlyError, type XdpModeRequest } from '../types.js';

/** Bytes the encapsulation adds: IPIP and IP6IP6. */
export const ENCAP_OVERHEAD = { v4: 20, v6: 40 } as const;

export function requireRoot(op: string, what: string): void {
  if (!isRoot()) throw new NotRootError(op, what, 'not root: katran-tui needs root (CAP_BPF and CAP_NET_ADMIN) to load and attach XDP programs');
}

/** The interface's ifindex, or a clear error saying it does not exist. */
export function requireInterface(intf: string, op = 'attach to'): number {
  const badName = intfNameProblem(intf);
  if (badName) throw InputError.at(op, `interface ${JSON.stringify(intf)}`, `not a valid interface name: ${badName}`);
  const ifindex = ifNameToIndex(intf);
  if (!ifindex) throw new InterfaceMissingError(op, `interface ${intf}`, `interface ${intf} does not exist (ip link lists the interfaces)`);
  return ifindex;
}

export function validateMode(mode: string | undefined): XdpModeRequest {
  const m = mode ?? 'auto';
  if (m !== 'auto' && m !== 'native' && m !== 'generic') throw InputError.at('attach', `XDP mode ${JSON.stringify(m)}`, 'XDP mode must be auto, native or generic');
  return m;
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

/** The verbs only katran-tui's own balancer allows, and how the refusal says them. */
const OWN_VERBS = { 'detach': 'detaches', 're-attach': 're-attaches', 'upgrade': 'upgrades' } as const;

/**
 * Refuses `verb` on a balancer another process attached, or one opened read-only. `pinned`:
 * the verb also needs the balancer's pin directory (the lifecycle verbs; the Dataplane's own
 * guard runs before a dry run, where the handle alone decides).
 */
export function requireOwnWritable(h: BalancerHandle, verb: keyof typeof OWN_VERBS, o: { pinned?: boolean } = {}): void {
  if (h.owner !== 'katran-tui' || (o.pinned && !h.pinDir)) {
    throw new ReadOnlyError(`${verb} ${h.intf}: program ${h.progId} was attached by another process; katran-tui only ${OWN_VERBS[verb]} its own`, { op: verb, object: h.intf });
  }
  if (h.readOnly) throw new ReadOnlyError(`${verb} ${h.intf}: ${h.readOnlyReason ?? 'opened read-only'}`, { op: verb, object: h.intf });
}
