// The operator's rules, each written once: what a name, address or VIP flag list may be, what the
// balancer refuses and why, and how a change and a number are said in the operator's words. The
// console's forms, the CLI, `config apply` and the control plane all call these (abi.ts holds the
// byte-level parsers they build on). A rule returns or throws InputError (what is wrong, what is
// allowed); the caller decides nothing about the wording.
import {
  InputError, formatMac, formatVip, formatVlan, isZeroMac, parseIp, parseMac, parseVipFlags, parseVlanMapping, truncate as clip, vipFlagsToNames,
  type DropReason, type HashKind, type PassReason, type VipFlagName, type VipKey, type VlanMappingText,
} from './abi.js';

// ---------------------------------------------------------------------------------------------
// Interface names

/** The safe subset of Linux interface names (IFNAMSIZ 16 with the NUL): letters, digits, . - _. */
const INTF_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$/;
const INTF_NAME_ALLOWED = "up to 15 letters, digits, '.', '-' or '_', starting with a letter or digit (e.g. eno2.573)";

/** Why `name` is not an interface name katran-tui accepts, or null when it is one. */
export function intfNameProblem(name: unknown): string | null {
  return typeof name === 'string' && INTF_NAME.test(name) ? null : `expected ${INTF_NAME_ALLOWED}`;
}

/** An interface name from the operator; InputError names `what` and the rule. */
export function parseIntfName(text: unknown, what = 'interface'): string {
  const s = String(text ?? '');
  const why = intfNameProblem(s);
  if (why) throw new InputError(`bad ${what} name "${clip(s, 60)}": ${why}`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// VLAN mappings: what the balancer refuses (the syntax is abi.ts's)

/**
 * A complete VLAN mapping list, canonical: every ID 1..4094, each ingress VLAN once, one gateway
 * MAC per egress VLAN (shared by every mapping that leaves on it), and some MAC for each mapping
 * (its egress VLAN's, else the default MAC `defaultMac`). `strayMacs`: MACs given for egress VLANs
 * (--vlan-mac); one no mapping leaves on is refused.
 */
export function checkVlanMappings(rows: readonly VlanMappingText[], defaultMac: string | null, strayMacs: Iterable<string> = []): VlanMappingText[] {
  if (!Array.isArray(rows)) throw new InputError('bad VLANs: expected a list of {ingress, egress, mac}');
  const seen = new Set<string>();
  const macOf = new Map<string, string | null>();
  const out: VlanMappingText[] = [];
  for (const r of rows) {
    if (!r || typeof r !== 'object') throw new InputError('bad VLAN mapping: expected {ingress, egress, mac}');
    const m = parseVlanMapping(`${r.ingress}:${r.egress ?? r.ingress}`);
    const ingress = formatVlan(m.ingress);
    const egress = formatVlan(m.egress);
    if (seen.has(ingress)) throw new InputError(`VLAN ${ingress}: given twice as an ingress VLAN (each VLAN arrives on one mapping)`);
    seen.add(ingress);
    const mac = r.mac === null || r.mac === undefined ? null : vlanMac(r.mac, egress);
    if (mac !== null) {
      const had = macOf.get(egress);
      if (had && had !== mac) throw new InputError(`VLAN ${egress}: two gateway MACs given (${had} and ${mac})`);
      macOf.set(egress, mac);
    } else if (!macOf.has(egress)) macOf.set(egress, null);
    out.push({ ingress, egress, mac });
  }
  for (const k of strayMacs) if (!macOf.has(k)) throw new InputError(`--vlan-mac ${k}: no --vlan leaves on VLAN ${k}`);
  for (const r of out) {
    r.mac = macOf.get(r.egress) ?? null;
    if (r.mac === null && defaultMac === null) {
      throw new InputError(`VLAN ${r.ingress} -> ${r.egress}: no gateway MAC (give --vlan-mac ${r.egress}=MAC or a default MAC)`);
    }
  }
  return out.sort((a, b) => vlanOrder(a.ingress) - vlanOrder(b.ingress));
}

function vlanMac(text: string, egress: string): string {
  const b = parseMac(text);
  if (isZeroMac(b)) throw new InputError(`VLAN ${egress}: an all-zero gateway MAC (give the gateway's MAC, or leave it out for the default MAC)`);
  return formatMac(b);
}

function vlanOrder(v: string): number {
  const [o, i] = v.split('.').map(Number);
  return o * 4096 + (i ?? 0);
}

// ---------------------------------------------------------------------------------------------
// VIPs and reals: which addresses may be one, and which real may serve which VIP

function unicast(text: string, what: 'VIP' | 'real') {
  const a = parseIp(text, `${what} address`);
  if (a.bytes.every((b) => b === 0)) throw new InputError(`bad ${what} address "${clip(text)}": the unspecified address cannot be a ${what}`);
  if ((a.family === 4 && a.bytes[0] >= 224) || (a.family === 6 && a.bytes[0] === 0xff)) {
    throw new InputError(`bad ${what} address "${clip(text)}": multicast or broadcast cannot be a ${what}`);
  }
  return a;
}

/** A VIP's address: a unicast IPv4 or IPv6 address, canonical text. */
export function parseVipAddress(text: string): string {
  return unicast(text, 'VIP').text;
}

/** A real's address: a unicast IPv4 or IPv6 address. */
export function parseRealAddress(text: string): { address: string; family: 4 | 6 } {
  const a = unicast(text, 'real');
  return { address: a.text, family: a.family };
}

/**
 * A real behind a VIP: an IPv6 VIP needs an IPv6 real. Katran's default build does send an IPv6
 * VIP's packet to an IPv4 real (IPIP, protocol 4), but its outer total length is 40 bytes short,
 * so the real drops it: refused rather than silently lost.
 */
export function checkRealForVip(real: string, vip: VipKey): void {
  if (!real.includes(':') && vip.address.includes(':')) {
    throw new InputError(`real ${real} is IPv4 but VIP ${formatVip(vip)} is IPv6: Katran's IPIP header for an IPv6 packet is 40 bytes short in total length, so the real would drop it`);
  }
}

/** A VIP's flag names (a list or "a,b"), refusing unknown ones and those `supported` lacks. */
export function parseVipFlagList(flags: unknown, supported: readonly VipFlagName[]): VipFlagName[] {
  if (flags === undefined) return [];
  if (!Array.isArray(flags) && typeof flags !== 'string') throw new InputError('bad VIP flags: expected a list of flag names');
  const names = vipFlagsToNames(parseVipFlags(flags as string | string[]));
  const missing = names.filter((n) => !supported.includes(n));
  if (missing.length) {
    throw new InputError(`VIP flag${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not implemented by this balancer's program (it implements: ${supported.join(', ') || 'none'})`);
  }
  return names;
}

/** A live VIP keeps its hash: a new hash moves every slot of its ring, so every flow reshuffles. */
export function checkHashChange(vip: VipKey, current: HashKind, wanted: HashKind): void {
  if (current !== wanted) {
    throw new InputError(`VIP ${formatVip(vip)} uses hash ${current}, the config says ${wanted}: changing the hash of a live VIP reshuffles every flow; do it explicitly with vip del + vip add`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rings

/**
 * What a VIP's ring is made of: its hash and, per real, the real's index (the value in the slots),
 * address (what is hashed) and weight. The same recipe gives the same ring (maglev.ts ringForReals),
 * so when this text is unchanged the ring need not be rebuilt or read again.
 */
export function ringRecipe(v: { hash: HashKind; reals: readonly { address: string; weight: number }[] }, index: (address: string) => number | undefined): string {
  return `${v.hash} ${v.reals.map((r) => `${index(r.address)}/${r.address}/${r.weight}`).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Words: numbers and changes as the operator reads them

const SI = ['', 'k', 'M', 'G', 'T', 'P'];

/** 1234 -> "1.23k", 0.5 -> "0.5", 12 -> "12": three significant digits at most, then `unit`. */
export function human(n: number, unit = ''): string {
  if (!Number.isFinite(n)) return '-';
  const neg = n < 0;
  let v = Math.abs(n);
  let i = 0;
  while (v >= 999.5 && i < SI.length - 1) { v /= 1000; i++; }
  let s: string;
  if (i === 0 && Number.isInteger(v)) s = String(v);
  else if (v >= 100) s = v.toFixed(0);
  else if (v >= 10) s = v.toFixed(1);
  else s = v.toFixed(2);
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return `${neg ? '-' : ''}${s}${SI[i]}${unit}`;
}

/** 0.1234 -> "12.3%". */
export function pct(share: number, digits = 1): string {
  if (!Number.isFinite(share)) return '-';
  return `${(share * 100).toFixed(digits)}%`;
}

/** One change as the change log records it (and as a change's summary states it). */
export interface ChangeRecord {
  op: string;
  target: string;
  old: unknown;
  new: unknown;
}

type Rec = Record<string, unknown>;
const obj = (x: unknown): Rec => (typeof x === 'object' && x !== null ? (x as Rec) : {});
const flagsText = (x: unknown): string => (Array.isArray(x) && x.length ? x.join(',') : 'none');

/**
 * A change in the operator's words: "add real 2001:db8:e::1 (weight 1, index 3) to [2001:db8:f::10]:443/tcp".
 * The control plane states its summaries with it and the console's log pane shows the change log
 * with it, so a change reads the same wherever it is shown.
 */
export function describeChange(c: ChangeRecord): string {
  const [id, real = ''] = splitTarget(c.target);
  const o = obj(c.old), n = obj(c.new);
  switch (c.op) {
    case 'add-vip':
      return `add VIP ${c.target} (${n.vipNum !== undefined ? `vip_num ${n.vipNum}, ` : ''}hash ${n.hash}, flags ${flagsText(n.flags)})`;
    case 'remove-vip': {
      const count = Array.isArray(o.reals) ? o.reals.length : o.reals;
      return `remove VIP ${c.target} (${o.vipNum !== undefined ? `vip_num ${o.vipNum}, ` : ''}${count ?? 0} real(s))`;
    }
    case 'set-vip-flags':
      return `set flags of ${c.target}: ${flagsText(c.old)} -> ${flagsText(c.new)}`;
    case 'add-real':
      return `add real ${real} (weight ${n.weight}${n.index !== undefined ? `, index ${n.index}` : ''}) to ${id}`;
    case 'remove-real':
      return `remove real ${real} from ${id}`;
    case 'set-weight':
      return `set weight of ${real} in ${id}: ${c.old} -> ${c.new}`;
    case 'set-mac':
      return `set default gateway MAC: ${c.old ?? 'none'} -> ${c.new ?? '00:00:00:00:00:00'}`;
    case 'apply-config':
      return `apply config: ${c.old} -> ${c.new}`;
    default:
      return `${c.op} ${c.target}: ${word(c.old)} -> ${word(c.new)}`;
  }
}

/** "VIP REAL" targets: a VIP id has no spaces. */
function splitTarget(t: string): [string, string?] {
  const i = t.indexOf(' ');
  return i < 0 ? [t] : [t.slice(0, i), t.slice(i + 1)];
}

function word(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return flagsText(v);
  return Object.entries(v as Rec).filter(([, x]) => typeof x !== 'object' || x === null).map(([k, x]) => `${k} ${x}`).join(', ') || '-';
}

// ---------------------------------------------------------------------------------------------
// Drop and pass reasons in the operator's words: what each usually means and what to check. The
// console's why panel, `stats` and doctor say these lines; abi.ts holds the names and indexes.

export const REASON_ADVICE: Record<DropReason | PassReason, { label: string; advice: string }> = {
  short_frame: { label: 'frame shorter than Ethernet', advice: 'runt frames: a broken sender or a capture replay' },
  ipv4_options: { label: 'IPv4 options', advice: 'IPv4 with options is not balanced (as Katran): check the client path' },
  ipv4_fragment: { label: 'IPv4 fragment', advice: 'fragments are not balanced: check the path MTU (clients should not fragment toward a VIP)' },
  ipv6_fragment: { label: 'IPv6 fragment', advice: 'fragments are not balanced: check the path MTU' },
  ip_header_cut: { label: 'IP header cut short', advice: 'truncated frames: a broken sender or capture' },
  l4_header_cut: { label: 'TCP/UDP header cut short', advice: 'truncated frames: a broken sender or capture' },
  too_big: { label: 'VIP frame over the size limit', advice: 'frames over 1514 bytes (without VLAN tags) to a VIP: lower the clients\' MTU / MSS, or check GRO/LRO on the interface' },
  slot_empty: { label: 'ring slot empty', advice: 'the VIP has no real with weight > 0: katran-tui real add VIP REAL (or raise a weight)' },
  real_missing: { label: 'real missing', advice: 'the ring names a real that is not in the reals map: a change was interrupted? katran-tui recover' },
  zero_mac: { label: 'default MAC unset', advice: 'no gateway MAC to send to: katran-tui mac set MAC (or vlan mac VLAN MAC for a VLAN)' },
  encap_failed: { label: 'encapsulation failed', advice: 'the driver could not grow the frame (bpf_xdp_adjust_head): check the driver\'s XDP headroom' },
  quic_unknown_real: { label: 'QUIC id of an unknown real', advice: 'a QUIC connection id names a server id mapped to no real: katran-tui quic map list' },
  internal: { label: 'internal error', advice: 'a map lookup that cannot fail did: a bug in the balancer object, report it with `katran-tui --version`' },
  not_ip: { label: 'not IP', advice: 'ARP, LLDP and other non-IP frames go to the kernel: normal' },
  vlan_unparsed: { label: 'tagged frames passed', advice: 'VIP traffic arrives on a VLAN the balancer does not parse: katran-tui vlan add VLAN (see doctor)' },
  not_tcp_udp: { label: 'not TCP/UDP/ICMP', advice: 'other IP protocols (or IPv6 extension headers) go to the kernel' },
  icmp_other: { label: 'other ICMP', advice: 'ICMP that is no echo request and no error about a VIP flow goes to the kernel' },
  no_vip: { label: 'no VIP matched', advice: 'TCP/UDP to an address:port that is no VIP goes to the kernel: katran-tui vip list' },
};

/** The reasons of `list` that counted something, busiest first (by packets since the program was loaded). */
export function busiestReasons<R extends { packets: number }>(list: readonly R[], n = list.length): R[] {
  return list.filter((r) => r.packets > 0).sort((a, b) => b.packets - a.packets).slice(0, n);
}
