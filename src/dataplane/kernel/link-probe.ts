// The real LinkProbe (types.ts) of the VLAN checks (vlan-checks.ts): names and ifindexes through
// libc, drivers and offload features through the SIOCETHTOOL ioctl (never by running ethtool),
// iflink, VLAN sub-interfaces and neighbours from /sys and /proc. katran-tui runs in the root
// network namespace, where /sys/class/net is that namespace's (GUIDE: not after a bare setns).
import { readFileSync } from 'node:fs';
import { ifIndexToName, ifNameToIndex, linkDriver, linkFeatures } from './libbpf.js';
import { arpEntries, vlanConfigEntries } from '../vlan-checks.js';
import type { LinkProbe } from '../types.js';

function read(path: string): string | null {
  try { return readFileSync(path, 'utf8'); } catch { return null; }
}

/** An interface name safe to put in a /sys path (no separators, as the kernel allows). */
const SAFE_NAME = /^[^/\s\0]{1,15}$/;

export const realLinkProbe: LinkProbe = {
  ifindex: (name) => (SAFE_NAME.test(name) ? ifNameToIndex(name) : 0),
  name: (ifindex) => ifIndexToName(ifindex) ?? null,
  driver: (name) => { try { return linkDriver(name); } catch { return null; } },
  iflink: (name) => {
    const t = SAFE_NAME.test(name) && name !== '.' && name !== '..' ? read(`/sys/class/net/${name}/iflink`) : null;
    const n = t === null ? NaN : Number(t.trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  },
  features: (name) => { try { return linkFeatures(name); } catch { return null; } },
  vlanDevices: () => vlanConfigEntries(read('/proc/net/vlan/config') ?? ''),
  neighbours: () => arpEntries(read('/proc/net/arp') ?? ''),
};
