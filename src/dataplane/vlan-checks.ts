// The VLAN checks doctor and attach share, over a LinkProbe (types.ts; kernel/link-probe.ts reads
// the real interfaces, tests inject one): which offload settings hide VLAN tags from XDP on an
// interface (on a veth: its peer's, the sender's), VIP traffic on VLANs the balancer does not parse,
// the parent of a VLAN sub-interface, and the neighbour table of an egress VLAN's interface. Pure:
// no koffi, so the CLI imports it. The parsers of /proc/net/arp and /proc/net/vlan/config live here
// too (one place).
//
// Why these settings: XDP runs on the frame as the driver hands it over. A NIC with rx VLAN offload
// on strips the tag into the receive descriptor, and a veth whose peer sends with tx VLAN offload on
// gets the tag in skb metadata only: either way the program sees an untagged frame (measured here
// for veth: the tag is readable only by bpf_xdp_metadata_rx_vlan_tag from a device-bound program).
// XDP_TX writes the frame as it is, so the balancer's own tx settings do not matter.
import { parseVlan, type VlanKey } from './abi.js';
import type { LinkFeatureState, LinkProbe, VlanDevice, VlanMappingText, VlanStat } from './types.js';

/** One VLAN offload feature: the kernel's name, how `ethtool -k` shows it, how `ethtool -K` sets it. */
interface OffloadFeature { feature: string; shown: string; set: string; side: 'rx' | 'tx'; tags: '802.1Q' | '802.1ad' }

export const VLAN_OFFLOAD: readonly OffloadFeature[] = [
  { feature: 'rx-vlan-hw-parse', shown: 'rx-vlan-offload', set: 'rxvlan', side: 'rx', tags: '802.1Q' },
  { feature: 'tx-vlan-hw-insert', shown: 'tx-vlan-offload', set: 'txvlan', side: 'tx', tags: '802.1Q' },
  { feature: 'rx-vlan-stag-hw-parse', shown: 'rx-vlan-stag-hw-parse', set: 'rx-vlan-stag-hw-parse', side: 'rx', tags: '802.1ad' },
  { feature: 'tx-vlan-stag-hw-insert', shown: 'tx-vlan-stag-hw-insert', set: 'tx-vlan-stag-hw-insert', side: 'tx', tags: '802.1ad' },
];

export interface OffloadSide {
  intf: string;
  /** `ethtool -k` spelling and state of each VLAN feature the interface has; null: unreadable. */
  features: { shown: string; active: boolean; fixed: boolean }[] | null;
}

export interface VlanOffload {
  intf: string;
  own: OffloadSide;
  /** A veth's peer: its name when it is in this network namespace (then its features too). */
  peer: (OffloadSide & { ifindex: number }) | { ifindex: number; intf: null; features: null } | null;
  /** Settings that are on and hide the tags from XDP, with the command that turns them off. */
  hiding: { intf: string; shown: string[]; fix: string; fixed: boolean }[];
  /** What could not be read, and what to check there. */
  unread: string | null;
  /** One line on what a hiding setting does to the traffic. */
  effect: string;
}

function side(probe: LinkProbe, intf: string): OffloadSide & { raw: Map<string, LinkFeatureState> | null } {
  let raw: Map<string, LinkFeatureState> | null = null;
  try { raw = probe.features(intf); } catch { raw = null; }
  const features = raw ? VLAN_OFFLOAD.filter((f) => raw!.has(f.feature)).map((f) => ({ shown: f.shown, active: raw!.get(f.feature)!.active, fixed: !raw!.get(f.feature)!.changeable })) : null;
  return { intf, features, raw };
}

/** The veth peer of `intf` in this namespace, found both ways round (its iflink is us and ours is it). */
function vethPeer(probe: LinkProbe, intf: string): { ifindex: number; intf: string | null } | null {
  if (probe.driver(intf) !== 'veth') return null;
  const own = probe.ifindex(intf);
  const link = probe.iflink(intf);
  if (!link || link === own) return null;
  const name = probe.name(link);
  if (name && name !== intf && probe.driver(name) === 'veth' && probe.iflink(name) === own) return { ifindex: link, intf: name };
  return { ifindex: link, intf: null };
}

/**
 * The VLAN offload settings that decide whether XDP on `intf` sees the tags: its rx ones, or on a
 * veth its peer's tx ones. `pairs`: 802.1ad pairs are configured (the stag features matter too).
 */
export function vlanOffload(probe: LinkProbe, intf: string, o: { pairs?: boolean } = {}): VlanOffload {
  const shapes = new Set<string>(['802.1Q', ...(o.pairs ? ['802.1ad'] : [])]);
  const own = side(probe, intf);
  const p = vethPeer(probe, intf);
  const hiding: VlanOffload['hiding'] = [];
  const check = (s: ReturnType<typeof side>, dir: 'rx' | 'tx') => {
    if (!s.raw) return;
    const on = VLAN_OFFLOAD.filter((f) => f.side === dir && shapes.has(f.tags) && s.raw!.get(f.feature)?.active);
    if (on.length) {
      hiding.push({
        intf: s.intf, shown: on.map((f) => f.shown), fix: `ethtool -K ${s.intf} ${on.map((f) => `${f.set} off`).join(' ')}`,
        fixed: on.some((f) => !s.raw!.get(f.feature)!.changeable),
      });
    }
  };
  const txNames = VLAN_OFFLOAD.filter((f) => f.side === 'tx' && shapes.has(f.tags));
  let peer: VlanOffload['peer'] = null;
  let unread: string | null = null;
  let effect: string;
  if (p) {
    const txSet = txNames.map((f) => `${f.set} off`).join(' ');
    if (p.intf) {
      const ps = side(probe, p.intf);
      peer = { ifindex: p.ifindex, intf: p.intf, features: ps.features };
      check(ps, 'tx');
      if (!ps.raw) unread = `the features of ${intf}'s peer ${p.intf} could not be read: check its ${txNames.map((f) => f.shown).join(' / ')} (ethtool -K ${p.intf} ${txSet})`;
    } else {
      peer = { ifindex: p.ifindex, intf: null, features: null };
      unread = `${intf} is a veth whose peer (ifindex ${p.ifindex}) is in another network namespace: its sender's ${txNames.map((f) => f.shown).join(' / ')} decides, so there run ethtool -K PEER ${txSet} (ip -d link show ${intf} names the namespace)`;
    }
    effect = `a veth whose peer sends with tx VLAN offload on delivers the frames untagged to XDP on ${intf} (the tag rides in metadata)`;
  } else {
    check(own, 'rx');
    if (!own.raw) unread = `the offload features of ${intf} could not be read: check ${VLAN_OFFLOAD.filter((f) => f.side === 'rx' && shapes.has(f.tags)).map((f) => f.shown).join(' / ')} (ethtool -k ${intf})`;
    effect = `with rx VLAN offload on, the NIC strips the tag before XDP on ${intf} sees the frame`;
  }
  effect += ': VLAN traffic then reaches the program untagged and is balanced as untagged traffic (default MAC, no tag) or passed';
  return { intf, own: { intf, features: own.features }, peer, hiding, unread, effect };
}

/** `ethtool -k` style: "rx-vlan-offload on, tx-vlan-offload off [fixed]". */
export function offloadText(s: OffloadSide | null): string {
  if (!s?.features) return 'unreadable';
  if (!s.features.length) return 'no VLAN offload features';
  return s.features.map((f) => `${f.shown} ${f.active ? 'on' : 'off'}${f.fixed ? ' [fixed]' : ''}`).join(', ');
}

/** What each hiding setting needs, one line each (attach's warnings; doctor's fix). */
export function offloadFixes(r: VlanOffload): string[] {
  return r.hiding.map((h) => `${h.intf === r.intf ? `${h.intf} has` : `${r.intf}'s peer ${h.intf} sends with`} ${h.shown.join(', ')} on, which hides the VLAN tags from XDP on ${r.intf}: ${h.fix}${h.fixed ? ' (the driver marks it fixed: use another port, or the VLAN sub-interface in generic mode)' : ''}`);
}

/** attach with VLANs: a warning per setting that will hide the tags (or could not be read). */
export function vlanOffloadWarnings(probe: LinkProbe, intf: string, vlans: readonly VlanMappingText[]): string[] {
  if (!vlans.length) return [];
  let r: VlanOffload;
  try {
    r = vlanOffload(probe, intf, { pairs: vlans.some((v) => v.ingress.includes('.')) });
  } catch (e) {
    return [`VLAN offload of ${intf}: cannot read it (${(e as Error).message}): check that no rx VLAN offload (on a veth: the peer's tx VLAN offload) hides the tags from XDP`];
  }
  const w = offloadFixes(r).map((l) => `${l} (else VLAN traffic reaches the program untagged: balanced as untagged traffic or passed)`);
  if (r.unread) w.push(r.unread);
  return w;
}

// ---------------------------------------------------------------------------------------------
// VIP traffic on VLANs the balancer does not parse (kt_vlan_stats rows with configured false)

export interface UnparsedVlan {
  /** '575', '100.575'; null: 802.1ad pairs without an entry (which ones is not counted). */
  vlan: string | null;
  packets: number;
  detail: string;
  fix: string;
}

export function unparsedVlans(stats: readonly VlanStat[] | null | undefined): UnparsedVlan[] {
  // `passed`, not `in`: a VLAN whose mapping was deleted keeps the frames it balanced meanwhile in `in`.
  return (stats ?? []).filter((v) => !v.configured && v.passed.packets > 0).map((v) => v.vlan === null
    ? {
      vlan: null, packets: v.passed.packets,
      detail: `VIP traffic arrives on 802.1ad pairs the balancer does not parse (${v.passed.packets} packets so far, passed to the kernel unbalanced): add --vlan OUTER.INNER for each`,
      fix: 'katran-tui vlan add OUTER.INNER for each pair the switch sends (or attach --vlan OUTER.INNER)',
    }
    : {
      vlan: v.vlan, packets: v.passed.packets,
      detail: `VIP traffic arrives on VLAN ${v.vlan}, which the balancer does not parse: add --vlan ${v.vlan} (${v.passed.packets} packets so far, passed to the kernel unbalanced)`,
      fix: `katran-tui vlan add ${v.vlan} on the running balancer (${v.vlan}:OUT and --mac for another egress VLAN or gateway), or attach --vlan ${v.vlan}`,
    });
}

// ---------------------------------------------------------------------------------------------
// VLAN sub-interfaces: their parent, and the interface of an egress VLAN

/** The physical parent of a VLAN sub-interface and the VLAN in --vlan syntax (802.1ad: outer.inner); null otherwise. */
export function vlanParentOf(devices: readonly VlanDevice[], intf: string): { parent: string; vlan: string } | null {
  const dev = devices.find((d) => d.name === intf);
  if (!dev) return null;
  const up = devices.find((d) => d.name === dev.parent);
  if (!up) return { parent: dev.parent, vlan: String(dev.vid) };
  if (devices.some((d) => d.name === up.parent)) return null; // three tags: not a shape the balancer parses
  return { parent: up.parent, vlan: `${up.vid}.${dev.vid}` };
}

/** The sub-interface of `vlan` ('574', '100.574') on `parent`, when one exists. */
export function vlanInterfaceOn(devices: readonly VlanDevice[], parent: string, vlan: string): string | null {
  let k: VlanKey;
  try { k = parseVlan(vlan); } catch { return null; }
  const on = (p: string, vid: number) => devices.find((d) => d.parent === p && d.vid === vid)?.name ?? null;
  if (k.inner === 0) return on(parent, k.outer);
  const outer = on(parent, k.outer);
  return outer ? on(outer, k.inner) : null;
}

/** Each egress VLAN once, with the gateway MAC its frames go to (its own, else the default: `own` false). */
export function egressGateways(vlans: readonly VlanMappingText[], defaultMac: string | null): { vlan: string; mac: string | null; own: boolean }[] {
  const out = new Map<string, string | null>();
  for (const v of vlans) out.set(v.egress, v.mac ?? out.get(v.egress) ?? null);
  return [...out].map(([vlan, mac]) => ({ vlan, mac: mac ?? defaultMac, own: mac !== null }));
}

// ---------------------------------------------------------------------------------------------
// /proc parsers

/** "IP HWtype Flags HWaddress Mask Device" rows of /proc/net/arp with complete entries. */
export function arpEntries(text: string): { ip: string; mac: string; dev: string }[] {
  return text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((c) => c.length >= 6 && (parseInt(c[2], 16) & 0x2) !== 0)
    .map((c) => ({ ip: c[0], mac: c[3].toLowerCase(), dev: c[5] }));
}

/** /proc/net/vlan/config: two header lines, then "eno2.573  | 573  | eno2". */
export function vlanConfigEntries(text: string): VlanDevice[] {
  return text.split('\n').slice(2).map((l) => l.split('|').map((c) => c.trim())).filter((c) => c.length === 3 && /^\d+$/.test(c[1]))
    .map((c) => ({ name: c[0], vid: Number(c[1]), parent: c[2] }));
}
