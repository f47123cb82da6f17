// Where a balancer's interface stands under it: deleted, renamed, our program replaced.
import { attachedProgId } from '../kernel/interfaces.js';
import { ifIndexToName, ifNameToIndex, xdpQuery } from '../kernel/libbpf.js';
import type { InterfaceState } from '../types.js';

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
    attached = attachedProgId(xdpQuery(p.ifindex));
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
