// The VLANs as the console shows them: the header's one line and the VLAN panel's rows, from the
// mappings (Dataplane.vlans()) and the sample's per-VLAN counters (StatsSample.vlans). Pure.
import type { VlanMappingText, VlanStat } from '../../dataplane/types.js';
import { fmtMac } from '../format.js';

/** Shown wherever VLANs would be when the program has no VLAN maps (upstream Katran's object). */
export const VLANS_UNAVAILABLE = 'VLANs: not available for this program (no kt_vlan_map: VLAN tags need katran-tui\'s own balancer)';

export interface VlanRow {
  /** The selection's key: the ingress VLAN, "other" for the 802.1ad catch-all. */
  id: string;
  /** The ingress VLAN ("573", "100.573"); null: every 802.1ad pair without a mapping. */
  vlan: string | null;
  /** The mapping, when there is one. */
  mapping: VlanMappingText | null;
  /** Packets per second over the last interval (null: the sample counted nothing for it). */
  inPps: number | null;
  balancedPps: number | null;
  passedPps: number | null;
  /** Tagged VIP traffic on a VLAN the balancer does not parse: the operator should add it. */
  unparsed: boolean;
}

/** "573 -> 574" (or "573" when it leaves on the same VLAN). */
export function vlanPath(m: VlanMappingText): string {
  return m.ingress === m.egress ? m.ingress : `${m.ingress} -> ${m.egress}`;
}

/** The egress VLAN's gateway: its own MAC, else the default MAC (the kernel's fallback). */
export function vlanGateway(m: VlanMappingText, defaultMac: string | null): string {
  return m.mac ? fmtMac(m.mac) : `default ${fmtMac(defaultMac)}`;
}

/**
 * The header's VLAN line within `width` columns: every mapping with its gateway MAC when that fits,
 * else without the MACs, else as many as fit and "+N more (V)". Unparsed VIP traffic comes first.
 */
export function vlanHeaderLine(vlans: readonly VlanMappingText[], defaultMac: string | null, stats: readonly VlanStat[] | null | undefined, width: number): string {
  const unparsed = (stats ?? []).filter((s) => !s.configured && s.passed.pps > 0).map((s) => s.vlan ?? 'other 802.1ad');
  const warn = unparsed.length ? `! VIP traffic on unparsed VLAN ${unparsed.join(', ')} · ` : '';
  const head = `${warn}VLANs `;
  const full = vlans.map((m) => `${vlanPath(m)} gw ${vlanGateway(m, defaultMac)}`).join(' · ');
  if ((head + full).length <= width) return head + full;
  const short = vlans.map((m) => vlanPath(m).replace(' -> ', '->'));
  const all = short.join(', ');
  if ((head + all).length <= width) return head + all;
  const more = (n: number) => ` +${n} more (V)`;
  let shown = 0;
  let text = '';
  for (const s of short) {
    const next = text ? `${text}, ${s}` : s;
    if ((head + next + more(short.length - shown - 1)).length > width) break;
    text = next;
    shown++;
  }
  return `${head}${text}${more(short.length - shown)}`;
}

/** The panel's rows: every mapping (in ingress order), then the unconfigured VLANs the sample counted. */
export function vlanRows(vlans: readonly VlanMappingText[], stats: readonly VlanStat[] | null | undefined): VlanRow[] {
  const by = new Map((stats ?? []).map((s) => [s.vlan, s]));
  const rows: VlanRow[] = vlans.map((m) => {
    const s = by.get(m.ingress);
    return { id: m.ingress, vlan: m.ingress, mapping: m, inPps: s?.in.pps ?? null, balancedPps: s?.balanced.pps ?? null, passedPps: s?.passed.pps ?? null, unparsed: false };
  });
  const mapped = new Set(vlans.map((m) => m.ingress));
  for (const s of stats ?? []) {
    if (s.vlan !== null && mapped.has(s.vlan)) continue;
    rows.push({ id: s.vlan ?? 'other', vlan: s.vlan, mapping: null, inPps: s.in.pps, balancedPps: s.balanced.pps, passedPps: s.passed.pps, unparsed: !s.configured && s.passed.packets > 0 });
  }
  return rows;
}
