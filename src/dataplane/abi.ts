// Katran's map ABI, mirrored from bpf/ (docs/abi.md): map names, default sizes,
// flags, stats indexes and the byte layout of every key and value. One place for each fact;
// bpf/constants.h and bpf/structs.h are the C side of the same facts.
import { isIP } from 'node:net';
import { InputError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Map names (the kernel keeps 15 characters of a map name)

export const MAP = {
  vips: 'vip_map',
  reals: 'reals',
  rings: 'ch_rings',
  stats: 'stats',
  realsStats: 'reals_stats',
  lruMapping: 'lru_mapping',
  fallbackLru: 'fallback_cache',
  ctl: 'ctl_array',
  lruMissStats: 'lru_miss_stats',
  vipMissStats: 'vip_miss_stats',
  /** QUIC connection-id routing (docs/abi.md): server id -> real index, its counters. */
  serverIds: 'server_id_map',
  quicStats: 'quic_stats_map',
  serverIdStats: 'server_id_stats',
  /** UDP flow migration: vip_definition -> inner HASH of down real indexes (kernel name vip_to_down_rea). */
  downReals: 'vip_to_down_reals_map',
  /** katran-tui only: its max_entries is the mask of VIP flags the object implements. */
  vipFlagsMarker: 'kt_vip_flags',
  /** katran-tui only (bpf/vlan.h): ARRAY by the VID of one-tag frames: balanced or not, egress VLAN, gateway MAC. */
  vlans: 'kt_vlan_map',
  /** katran-tui only (bpf/vlan.h): HASH {outer, inner} of 802.1ad pairs, the same values. */
  vlanPairs: 'kt_vlan_pairs',
  /** katran-tui only (bpf/vlan.h): PERCPU_ARRAY, per ingress VLAN in / balanced / passed. */
  vlanStats: 'kt_vlan_stats',
  /** katran-tui only (bpf/reasons.h): PERCPU_ARRAY, drop and pass reasons (DROP_REASONS, PASS_REASONS). */
  reasons: 'kt_reasons',
  hcReals: 'hc_reals_map',
  hcMacs: 'hc_pckt_macs',
  hcSrcs: 'hc_pckt_srcs_map',
  hcCtrl: 'hc_ctrl_map',
  hcStats: 'hc_stats_map',
} as const;

/** The kernel's view of a map name: at most 15 characters. */
export function kernelMapName(name: string): string {
  return name.slice(0, 15);
}

/** Katran's default build sizes; always read the real ones from the loaded object's maps. */
export const DEFAULTS = {
  maxVips: 512,
  maxReals: 4096,
  ringSize: 65537,
  ctlMapSize: 16,
  maxSupportedCpus: 128,
  defaultLruSize: 1000,
  maxPacketSize: 1514,
  lruUdpTimeoutNs: 30_000_000_000n,
  maxConnRate: 125000,
  /** server_id_map entries (ids 0..0xFFFFFD; about 128 MiB of kernel memory, values round up to 8 bytes). */
  quicServerIds: 0xfffffe,
} as const;

// ---------------------------------------------------------------------------------------------
// Flags

export const VIP_FLAGS = {
  'no-sport': 1,
  'no-lru': 2,
  'quic': 4,
  'dport-hash': 8,
  'src-routing': 16,
  'local-vip': 32,
  'global-lru': 64,
  'hash-src-dst-port': 128,
  'udp-stable-routing': 256,
  'udp-flow-migration': 512,
} as const;
export type VipFlagName = keyof typeof VIP_FLAGS;
export const VIP_FLAG_NAMES = Object.keys(VIP_FLAGS) as VipFlagName[];

/** What katran-tui's own object implements (it also says so through the kt_vip_flags map). */
export const OWN_VIP_FLAGS = VIP_FLAGS['no-sport'] | VIP_FLAGS['no-lru'] | VIP_FLAGS['quic'] | VIP_FLAGS['dport-hash']
  | VIP_FLAGS['hash-src-dst-port'] | VIP_FLAGS['udp-flow-migration'];
/** What an object without the marker (upstream Katran's default build) is taken to implement. */
export const UPSTREAM_DEFAULT_VIP_FLAGS = VIP_FLAGS['no-sport'] | VIP_FLAGS['no-lru'] | VIP_FLAGS['quic'] | VIP_FLAGS['dport-hash']
  | VIP_FLAGS['local-vip'] | VIP_FLAGS['hash-src-dst-port'];

export const REAL_FLAGS = { ipv6: 1, localReal: 2 } as const;

export function vipFlagsToNames(mask: number): VipFlagName[] {
  return VIP_FLAG_NAMES.filter((n) => (mask & VIP_FLAGS[n]) !== 0);
}

/** Parses "no-sport,no-lru" (also Katran's NO_SPORT spelling); throws on unknown names. */
export function parseVipFlags(text: unknown): number {
  const list = Array.isArray(text) ? text : typeof text === 'string' ? text.split(',') : null;
  if (list === null) throw new InputError(`bad VIP flags ${truncate(JSON.stringify(text))}: expected a comma-separated list of ${VIP_FLAG_NAMES.join(', ')}`);
  let mask = 0;
  for (const item of list) {
    if (typeof item !== 'string') throw new InputError(`bad VIP flag ${truncate(JSON.stringify(item))}: expected one of ${VIP_FLAG_NAMES.join(', ')}`);
    const p = item.trim();
    if (!p) continue;
    const name = p.toLowerCase().replace(/_/g, '-');
    // Object.hasOwn: "constructor" or "__proto__" are properties of every object, not flags.
    if (!Object.hasOwn(VIP_FLAGS, name)) throw new InputError(`unknown VIP flag "${truncate(p)}": allowed are ${VIP_FLAG_NAMES.join(', ')}`);
    mask |= VIP_FLAGS[name as VipFlagName];
  }
  return mask;
}

// ---------------------------------------------------------------------------------------------
// stats map indexes: per VIP at vip_num, globals at MAX_VIPS + offset

export const STATS = {
  lru: 0,
  lruMiss: 1,
  newConnRate: 2,
  fallbackLru: 3,
  icmpTooBig: 4,
  encapFail: 7,
  chDrop: 9,
  /** ICMP errors to QUIC VIPs: v1 each, v2 unreachable codes (v4 1 / 3, v6 3 / 4). */
  quicIcmp: 11,
  /** ICMPv6 packet too big / ICMPv4 frag needed, any destination: v1 each, v2 MTU < 1280. */
  icmpPtbV6: 12,
  icmpPtbV4: 13,
  /** UDP flow migration: v1 LRU hits dropped because their real is down. */
  udpFlowMigration: 15,
  xdpTotal: 16,
  xdpTx: 17,
  xdpDrop: 18,
  xdpPass: 19,
  /** katran-tui only: VIP packets dropped while the default MAC is all zero (v1 packets, v2 bytes);
   *  offsets 22 and up are unused upstream (the default build moves 11, 12, 13 and 15). */
  zeroMacDrop: 22,
} as const;
export type GlobalCounter = keyof typeof STATS;

// ---------------------------------------------------------------------------------------------
// Drop and pass reasons (katran-tui only: bpf/reasons.h, map kt_reasons, PERCPU_ARRAY of
// {u64 packets, u64 frame bytes} indexed by the reason's index). Every XDP_DROP counts exactly one
// drop reason and every XDP_PASS exactly one pass reason, so the sums equal the XDP counters.
// The index of each name is its place in its list, pass reasons from REASONS.passBase
// (bpf/reasons.h mirrors both); labels reuse the
// project's counter names. What each usually means, for operators: rules.ts REASON_ADVICE.

export const DROP_REASONS = [
  'short_frame',     // shorter than an Ethernet header
  'ipv4_options',    // IPv4 header with options (ihl != 5)
  'ipv4_fragment',
  'ipv6_fragment',
  'ip_header_cut',   // IP header (or an ICMP error's embedded IP header) cut short
  'l4_header_cut',   // TCP / UDP / ICMP header (or an ICMP error's embedded TCP / UDP header) cut short
  'too_big',         // VIP frame over the size limit
  'slot_empty',      // the VIP's ring slot holds no real (0)
  'real_missing',    // the ring (or a QUIC id) names a real index with no entry in reals
  'zero_mac',        // default (or the egress VLAN's) gateway MAC unset
  'encap_failed',
  'quic_unknown_real', // a QUIC connection id names a server id mapped to no real
  'internal',        // a map lookup that cannot fail did (quic_stats_map): a bug, never a packet's fault
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const PASS_REASONS = [
  'not_ip',          // ethertype (after the VLAN tags, if any) neither IPv4 nor IPv6
  'vlan_unparsed',   // tagged frame of a VLAN the balancer does not balance, or tags it does not parse (per VLAN: kt_vlan_stats)
  'not_tcp_udp',     // IP protocol not TCP / UDP / ICMP (IPv6 extension headers included)
  'icmp_other',      // ICMP that is neither an echo request nor an error about a VIP flow
  'no_vip',          // TCP / UDP to an address:port that is no VIP
] as const;
export type PassReason = (typeof PASS_REASONS)[number];

/** kt_reasons layout (bpf/reasons.h): drop reason i at [i], pass reason i at [passBase + i]. */
export const REASONS = { passBase: 32, size: 64 } as const;

/** ctl_array slot the datapath reads the default gateway MAC from. */
export const CTL_MAC_INDEX = 0;

export const IPPROTO = { tcp: 6, udp: 17 } as const;
export type Proto = keyof typeof IPPROTO;
export const PROTOS = Object.keys(IPPROTO) as Proto[];

// ---------------------------------------------------------------------------------------------
// Errors for operator input: what is wrong and what is allowed.

// InputError lives in errors.ts with the other error classes; re-exported for existing importers.
export { InputError };

// ---------------------------------------------------------------------------------------------
// Addresses

export interface IpAddress {
  family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  bytes: Buffer;
  /** Canonical text. */
  text: string;
}

export function parseIp(text: string, what = 'address'): IpAddress {
  const s = String(text).trim();
  const kind = isIP(s);
  if (kind === 4) {
    const bytes = Buffer.from(s.split('.').map((o) => Number(o)));
    return { family: 4, bytes, text: formatIp(bytes) };
  }
  if (kind === 6) {
    if (s.includes('%')) throw new InputError(`bad ${what} "${text}": zone ids (%) are not allowed`);
    const bytes = ipv6ToBytes(s);
    return { family: 6, bytes, text: formatIp(bytes) };
  }
  throw new InputError(`bad ${what} "${truncate(text)}": expected an IPv4 (192.0.2.1) or IPv6 (2001:db8::1) address`);
}

function ipv6ToBytes(s: string): Buffer {
  let text = s;
  const out = Buffer.alloc(16);
  // A trailing dotted quad (::ffff:192.0.2.1)
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tail: number[] = [];
  if (m) {
    const q = m[2].split('.').map(Number);
    tail = [(q[0] << 8) | q[1], (q[2] << 8) | q[3]];
    text = m[1].endsWith('::') ? m[1] : m[1].slice(0, -1);
  }
  const [head, rest] = text.split('::');
  const h = head ? head.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':').map((x) => parseInt(x, 16)) : [];
  const words = rest !== undefined ? [...h, ...new Array(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail] : [...h, ...tail];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i] ?? 0, i * 2);
  return out;
}

export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);
  // Longest run of zero words (length >= 2) becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Operator text quoted in an error: at most `n` characters. */
export function truncate(s: unknown, n = 60): string {
  const t = String(s);
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

// ---------------------------------------------------------------------------------------------
// VIPs: "192.0.2.1:80/tcp", "[2001:db8::1]:443/udp"

export interface VipKey {
  address: string;
  port: number;
  proto: Proto;
}

export function parsePort(text: string | number, what = 'port'): number {
  const s = String(text).trim();
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65535) throw new InputError(`bad ${what} "${truncate(text)}": expected a number from 0 to 65535`);
  return Number(s);
}

export function parseProto(text: string): Proto {
  const p = String(text).trim().toLowerCase();
  if (p === 'tcp' || p === '6') return 'tcp';
  if (p === 'udp' || p === '17') return 'udp';
  throw new InputError(`bad protocol "${truncate(text)}": expected tcp or udp`);
}

const VIP_FORMAT = 'ADDR:PORT/PROTO, e.g. 192.0.2.1:80/tcp or [2001:db8::1]:443/udp (port 0 matches every port)';

export function parseVip(text: string): VipKey {
  const s = String(text).trim();
  const m = /^(?:\[([^\]]+)\]|([^:/[\]]+)):([^/]*)\/(.*)$/.exec(s);
  if (!m) {
    if (/^[0-9a-f:]+:\d+\/\w+$/i.test(s) && s.split(':').length > 2) throw new InputError(`bad VIP "${truncate(text)}": put an IPv6 address in brackets, ${VIP_FORMAT}`);
    throw new InputError(`bad VIP "${truncate(text)}": expected ${VIP_FORMAT}`);
  }
  if (m[2] && m[3].includes(':')) throw new InputError(`bad VIP "${truncate(text)}": put an IPv6 address in brackets, ${VIP_FORMAT}`);
  const addr = parseIp(m[1] ?? m[2], 'VIP address');
  if (m[2] && addr.family === 6) throw new InputError(`bad VIP "${truncate(text)}": put an IPv6 address in brackets, ${VIP_FORMAT}`);
  return { address: addr.text, port: parsePort(m[3], 'VIP port'), proto: parseProto(m[4]) };
}

export function formatVip(v: VipKey): string {
  const a = v.address.includes(':') ? `[${v.address}]` : v.address;
  return `${a}:${v.port}/${v.proto}`;
}

/** "client:port" for trace: 203.0.113.5:40000 or [2001:db8::5]:40000 */
export function parseEndpoint(text: string, what = 'endpoint'): { address: string; port: number } {
  const s = String(text).trim();
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(s);
  if (!m) throw new InputError(`bad ${what} "${truncate(text)}": expected ADDR:PORT, e.g. 203.0.113.5:40000 or [2001:db8::5]:40000`);
  const a = parseIp(m[1] ?? m[2], `${what} address`);
  return { address: a.text, port: parsePort(m[3], `${what} port`) };
}

// ---------------------------------------------------------------------------------------------
// Weights and ring hashes

/** A real's weight when none is given (Katran's default). */
export const DEFAULT_WEIGHT = 1;

/** The largest weight a real may have (Maglev V2 sums weights in 32-bit signed arithmetic). */
export const MAX_WEIGHT = 0x7fffffff;

/** A real's weight: a whole number from 0 (drain) to MAX_WEIGHT, as a number or its digits. */
export function parseWeight(text: unknown): number {
  const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim() : '';
  if (!/^\d{1,10}$/.test(s) || Number(s) > MAX_WEIGHT) {
    throw new InputError(`bad weight "${truncate(typeof text === 'string' || typeof text === 'number' ? text : JSON.stringify(text), 40)}": expected a whole number from 0 to ${MAX_WEIGHT} (0 drains the real)`);
  }
  return Number(s);
}

/** How the operator asks to attach: auto tries native (driver) XDP and falls back to generic. */
export const XDP_MODE_REQUESTS = ['auto', 'native', 'generic'] as const;

export const HASH_KINDS = ['maglev', 'maglev-v2'] as const;
export type HashKind = (typeof HASH_KINDS)[number];
/** What katran_server_grpc uses, and so katran-tui's default. */
export const DEFAULT_HASH: HashKind = 'maglev-v2';

/** "maglev" (Katran's library default, V1) or "maglev-v2"; also v1 / v2 / maglev_v2. */
export function parseHash(text: unknown): HashKind {
  const s = String(text ?? '').trim().toLowerCase().replace(/_/g, '-');
  if (s === 'maglev' || s === 'maglev-v1' || s === 'v1') return 'maglev';
  if (s === 'maglev-v2' || s === 'maglevv2' || s === 'v2') return 'maglev-v2';
  throw new InputError(`bad hash "${truncate(s, 40)}": expected maglev or maglev-v2`);
}

// ---------------------------------------------------------------------------------------------
// MACs

export function parseMac(text: string): Buffer {
  const s = String(text).trim();
  if (!/^[0-9a-f]{1,2}([:-][0-9a-f]{1,2}){5}$/i.test(s)) throw new InputError(`bad MAC "${truncate(text)}": expected six hex bytes like 58:e4:34:56:46:e0`);
  const b = Buffer.from(s.split(/[:-]/).map((x) => parseInt(x, 16)));
  if (b[0] & 1) throw new InputError(`bad MAC "${s}": a multicast or broadcast address cannot be a gateway (the default MAC or a VLAN's)`);
  return b;
}

export function formatMac(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function isZeroMac(b: Uint8Array): boolean {
  return b.subarray(0, 6).every((x) => x === 0);
}

// ---------------------------------------------------------------------------------------------
// Struct codecs (little-endian host; addresses and ports in network order; padding zero)

/** Writes a 4- or 16-byte address into a 16-byte slot at `off` (v4 in the first 4 bytes). */
function putAddr(buf: Buffer, off: number, addr: IpAddress): void {
  buf.fill(0, off, off + 16);
  addr.bytes.copy(buf, off);
}

export const SIZES = {
  vipDefinition: 20,
  vipMeta: 8,
  realDefinition: 20,
  flowKey: 40,
  realPosLru: 16,
  ctlValue: 8,
  lbStats: 16,
  vlanKey: 4,
  vlanValue: 16,
  vlanStats: 48,
} as const;

/** vip_definition: addr @0 (u32 or u32[4]), port be16 @16, proto u8 @18, pad 1. */
export const vipDefinition = {
  size: SIZES.vipDefinition,
  encode(v: VipKey, out: Buffer = Buffer.alloc(20), off = 0): Buffer {
    const a = parseIp(v.address);
    out.fill(0, off, off + 20);
    putAddr(out, off, a);
    out.writeUInt16BE(v.port, off + 16);
    out[off + 18] = IPPROTO[v.proto];
    return out;
  },
  /** `family` is needed because a v4 VIP and an all-zero-tail v6 VIP share a layout. */
  decode(buf: Uint8Array, off = 0, family?: 4 | 6): VipKey {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 20);
    const v6 = family === 6 || (family === undefined && b.subarray(4, 16).some((x) => x !== 0));
    const proto = b[18] === 17 ? 'udp' : 'tcp';
    return { address: formatIp(b.subarray(0, v6 ? 16 : 4)), port: b.readUInt16BE(16), proto };
  },
};

/** vip_meta: flags u32, vip_num u32. */
export const vipMeta = {
  size: SIZES.vipMeta,
  encode(m: { flags: number; vipNum: number }, out: Buffer = Buffer.alloc(8), off = 0): Buffer {
    out.writeUInt32LE(m.flags >>> 0, off);
    out.writeUInt32LE(m.vipNum >>> 0, off + 4);
    return out;
  },
  decode(buf: Uint8Array, off = 0): { flags: number; vipNum: number } {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 8);
    return { flags: b.readUInt32LE(0), vipNum: b.readUInt32LE(4) };
  },
};

/** real_definition: dst @0 (u32 or u32[4]), flags u8 @16 (IPV6 = 1), pad 3. */
export const realDefinition = {
  size: SIZES.realDefinition,
  encode(r: { address: string; flags?: number }, out: Buffer = Buffer.alloc(20), off = 0): Buffer {
    const a = parseIp(r.address, 'real address');
    out.fill(0, off, off + 20);
    putAddr(out, off, a);
    out[off + 16] = ((r.flags ?? 0) & ~REAL_FLAGS.ipv6) | (a.family === 6 ? REAL_FLAGS.ipv6 : 0);
    return out;
  },
  decode(buf: Uint8Array, off = 0): { address: string; flags: number } | null {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 20);
    const flags = b[16];
    const v6 = (flags & REAL_FLAGS.ipv6) !== 0;
    const addr = b.subarray(0, v6 ? 16 : 4);
    if (addr.every((x) => x === 0) && flags === 0) return null;
    return { address: formatIp(addr), flags };
  },
};

export interface FlowKey {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: Proto;
}

/** flow_key: src @0, dst @16, ports u32 @32 = [be16 sport, be16 dport], proto u8 @36, pad 3. */
export const flowKey = {
  size: SIZES.flowKey,
  encode(f: FlowKey, out: Buffer = Buffer.alloc(40), off = 0): Buffer {
    out.fill(0, off, off + 40);
    putAddr(out, off, parseIp(f.src));
    putAddr(out, off + 16, parseIp(f.dst));
    out.writeUInt16BE(f.sport, off + 32);
    out.writeUInt16BE(f.dport, off + 34);
    out[off + 36] = IPPROTO[f.proto];
    return out;
  },
};

/** real_pos_lru: pos u32 @0, pad 4, atime u64 @8. */
export const realPosLru = {
  size: SIZES.realPosLru,
  decode(buf: Uint8Array, off = 0): { pos: number; atime: bigint } {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 16);
    return { pos: b.readUInt32LE(0), atime: b.readBigUInt64LE(8) };
  },
};

/** ctl_value: union { u64 value; u32 ifindex; u8 mac[6] }. */
export const ctlMac = {
  size: SIZES.ctlValue,
  encode(mac: Uint8Array, out: Buffer = Buffer.alloc(8)): Buffer {
    out.fill(0);
    out.set(mac.subarray(0, 6), 0);
    return out;
  },
  decode(buf: Uint8Array): Buffer {
    return Buffer.from(buf.subarray(0, 6));
  },
};

// ---------------------------------------------------------------------------------------------
// QUIC connection-id routing (docs/abi.md; bpf/quic.h is the kernel side of these rules)

/** Routable server ids of a server_id_map of `maxEntries` entries: 1 .. maxEntries - 1 (Katran's: 1 .. 0xFFFFFD). */
export function parseServerId(text: unknown, maxEntries: number = DEFAULTS.quicServerIds): number {
  const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim() : '';
  const max = Math.min(maxEntries, DEFAULTS.quicServerIds) - 1;
  const n = /^\d{1,10}$/.test(s) ? Number(s) : /^0x[0-9a-f]{1,8}$/i.test(s) ? parseInt(s, 16) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new InputError(`bad server id "${truncate(typeof text === 'string' || typeof text === 'number' ? text : JSON.stringify(text), 40)}": expected a whole number from 1 to ${max} (0x${max.toString(16)}), the ids server_id_map can route`);
  }
  return n;
}

/** What a QUIC VIP packet's header carries, by the datapath's rules. */
export type QuicHeader =
  | { kind: 'id'; cidVersion: 1 | 2 | 3; id: number }
  | { kind: 'initial' }
  | { kind: 'none'; why: string };

/**
 * The server id in a UDP payload (its bytes up to the end of the frame: padding counts): long
 * header (byte 0 & 0x80) >= 14 bytes, Initial / 0-RTT "initial", Handshake / Retry with a DCID of
 * >= 8 bytes (byte 5) at byte 6; short header >= 9 bytes, DCID at byte 1. CID version = CID[0] >> 6;
 * v1 16 bits, v2 CID[1..3], v3 CID[1..4] signed; v0 or an id <= 0: none.
 */
export function quicHeader(p: Uint8Array): QuicHeader {
  if (p.length < 1) return { kind: 'none', why: 'empty UDP payload' };
  let cid: number;
  if (p[0] & 0x80) {
    if (p.length < 14) return { kind: 'none', why: `long header of ${p.length} bytes (14 needed)` };
    if ((p[0] & 0x30) <= 0x10) return { kind: 'initial' };
    if (p[5] < 8) return { kind: 'none', why: `DCID of ${p[5]} bytes (8 needed)` };
    cid = 6;
  } else {
    if (p.length < 9) return { kind: 'none', why: `short header of ${p.length} bytes (9 needed)` };
    cid = 1;
  }
  const v = p[cid] >> 6;
  let id: number;
  if (v === 1) id = ((p[cid] & 0x3f) << 10) | (p[cid + 1] << 2) | (p[cid + 2] >> 6);
  else if (v === 2) id = (p[cid + 1] << 16) | (p[cid + 2] << 8) | p[cid + 3];
  else if (v === 3) id = ((p[cid + 1] << 24) | (p[cid + 2] << 16) | (p[cid + 3] << 8) | p[cid + 4]) | 0;
  else return { kind: 'none', why: 'CID version 0' };
  if (id <= 0) return { kind: 'none', why: `server id ${id} (ids start at 1)` };
  return { kind: 'id', cidVersion: v as 1 | 2 | 3, id };
}

/** A QUIC packet as `trace` takes it: the header form and the destination connection id's bytes. */
export type QuicPacketKind = 'short' | 'initial' | '0rtt' | 'handshake' | 'retry';
export const QUIC_PACKET_KINDS: readonly QuicPacketKind[] = ['short', 'initial', '0rtt', 'handshake', 'retry'];

export interface QuicPacketSpec {
  kind: QuicPacketKind;
  /** The destination connection id (1..20 bytes). */
  cid: Buffer;
}

/** Parses `--quic-header KIND` and `--cid HEX` (1 to 20 bytes). */
export function parseQuicPacket(kind: unknown, cidHex: unknown): QuicPacketSpec {
  const k = String(kind ?? 'short').trim().toLowerCase();
  if (!(QUIC_PACKET_KINDS as readonly string[]).includes(k)) throw new InputError(`bad QUIC header "${truncate(k, 20)}": expected one of ${QUIC_PACKET_KINDS.join(', ')}`);
  const h = String(cidHex ?? '').trim().replace(/^0x/i, '').replace(/[:\s]/g, '');
  if (!/^([0-9a-f]{2}){1,20}$/i.test(h)) throw new InputError(`bad connection id "${truncate(String(cidHex ?? ''), 50)}": expected 1 to 20 bytes in hex, e.g. 4100000000000000`);
  return { kind: k as QuicPacketKind, cid: Buffer.from(h, 'hex') };
}

/**
 * The UDP payload of such a packet: short header 0x40 then the CID; long header 0xC0 | type << 4,
 * version 1, DCID length, DCID (the datapath reads neither the version nor the fixed bit).
 */
export function quicPayload(q: QuicPacketSpec): Buffer {
  if (q.kind === 'short') return Buffer.concat([Buffer.from([0x40]), q.cid]);
  const type = { initial: 0, '0rtt': 1, handshake: 2, retry: 3 }[q.kind];
  return Buffer.concat([Buffer.from([0xc0 | (type << 4), 0, 0, 0, 1, q.cid.length]), q.cid]);
}

/** vip_to_down_reals_map's inner maps: HASH real index (u32) -> u8 (ignored), MAX_REALS entries, BPF_F_NO_PREALLOC. */
export const DOWN_REALS_INNER = { keySize: 4, valueSize: 1 } as const;

/** quic_stats_map[0] (PERCPU_ARRAY [1]): 13 u64 in Katran's order. */
export const QUIC_STATS_FIELDS = [
  'chRouted', 'cidInitial', 'cidInvalidServerId', 'cidInvalidServerIdSample', 'cidRouted', 'cidUnknownRealDropped',
  'cidV0', 'cidV1', 'cidV2', 'cidV3', 'dstMatchInLru', 'dstMismatchInLru', 'dstNotFoundInLru',
] as const;
export type QuicStatsField = (typeof QUIC_STATS_FIELDS)[number];
export type QuicStats = Record<QuicStatsField, bigint>;

export const quicStats = {
  size: QUIC_STATS_FIELDS.length * 8,
  /** One CPU's value at `off`. */
  decode(buf: Uint8Array, off = 0): QuicStats {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, QUIC_STATS_FIELDS.length * 8);
    const out = {} as QuicStats;
    QUIC_STATS_FIELDS.forEach((f, i) => { out[f] = b.readBigUInt64LE(i * 8); });
    return out;
  },
  /**
   * A per-CPU value buffer (`cpus` slots of `stride` bytes): every counter summed, except
   * cidInvalidServerIdSample, each CPU's last invalid id, which is no count: `samples` lists the
   * CPUs' non-zero ones (summing them is meaningless).
   */
  decodePerCpu(buf: Uint8Array, cpus: number, stride = perCpuStride(QUIC_STATS_FIELDS.length * 8)): { totals: Omit<QuicStats, 'cidInvalidServerIdSample'>; samples: { cpu: number; id: number }[] } {
    const totals = Object.fromEntries(QUIC_STATS_FIELDS.filter((f) => f !== 'cidInvalidServerIdSample').map((f) => [f, 0n])) as Omit<QuicStats, 'cidInvalidServerIdSample'>;
    const samples: { cpu: number; id: number }[] = [];
    for (let c = 0; c < cpus; c++) {
      const one = quicStats.decode(buf, c * stride);
      for (const f of QUIC_STATS_FIELDS) {
        if (f === 'cidInvalidServerIdSample') {
          if (one[f] !== 0n) samples.push({ cpu: c, id: Number(one[f]) });
        } else {
          totals[f] += one[f];
        }
      }
    }
    return { totals, samples };
  },
};

/** lb_stats: v1 u64, v2 u64. */
export const lbStats = {
  size: SIZES.lbStats,
};

/** Bytes one CPU's slot takes in a per-CPU value buffer: value size rounded up to 8. */
export function perCpuStride(valueSize: number): number {
  return (valueSize + 7) & ~7;
}

/** u32 key helper (ARRAY maps). */
export function u32Key(n: number, out: Buffer = Buffer.alloc(4)): Buffer {
  out.writeUInt32LE(n >>> 0, 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// VLANs (katran-tui only, bpf/vlan.h): 802.1Q / 802.1ad on the balancer's port

export const VLAN = {
  /** kt_vlan_map entries: one per 12-bit VID (one-tag frames). */
  ids: 4096,
  /** kt_vlan_pairs entries, and pair counter slots (slot 0: every pair without an entry). */
  pairsMax: 256,
  /** kt_vlan_stats: [VID] one-tag VLANs, [pairStats + slot] 802.1ad pairs. */
  pairStats: 4096,
  statsSize: 4096 + 256,
  /** kt_vlan_value.flags: VIP traffic on this VLAN is balanced. */
  flagBalance: 1,
  /** TPIDs the balancer parses: one 802.1Q tag, or 802.1ad outer (0x88a8 or 0x8100) + inner 0x8100. */
  tpid8021q: 0x8100,
  tpid8021ad: 0x88a8,
  /** The VLAN IDs an operator may configure (0 is priority-only, 4095 reserved). */
  minVid: 1,
  maxVid: 4094,
  /** Bytes of one tag: the size limit applies to the frame without them. */
  tagLen: 4,
} as const;

/** An ingress (or egress) VLAN: one tag {outer: vid, inner: 0}, or an 802.1ad pair. */
export interface VlanKey {
  outer: number;
  inner: number;
}

/** "573" for one tag, "100.573" for an 802.1ad pair (outer.inner). */
export function formatVlan(k: VlanKey): string {
  return k.inner ? `${k.outer}.${k.inner}` : String(k.outer);
}

/** A VLAN ID an operator may configure: 1..4094. */
export function checkVid(n: number, what = 'VLAN ID'): number {
  if (!Number.isInteger(n) || n < VLAN.minVid || n > VLAN.maxVid) {
    throw new InputError(`bad ${what} ${JSON.stringify(n)}: expected a whole number from ${VLAN.minVid} to ${VLAN.maxVid}`);
  }
  return n;
}

/** An ingress or egress VLAN key: one tag (inner 0) or an 802.1ad pair, every ID in 1..4094. */
export function checkVlanKey(k: VlanKey, what = 'VLAN'): VlanKey {
  checkVid(k.outer, `${what} ID`);
  if (k.inner !== 0) checkVid(k.inner, `${what} inner ID`);
  return { outer: k.outer, inner: k.inner };
}

const VLAN_FORMAT = 'IN[:OUT] with VLAN IDs 1..4094, e.g. 573, 573:574, or 802.1ad OUTER.INNER like 100.573:100.574';

/** "573" or "100.573" (802.1ad outer.inner). */
export function parseVlan(text: string, what = 'VLAN'): VlanKey {
  const s = String(text).trim();
  const m = /^(\d{1,4})(?:\.(\d{1,4}))?$/.exec(s);
  if (!m) throw new InputError(`bad ${what} "${truncate(text)}": expected a VLAN ID 1..4094 (573) or an 802.1ad pair OUTER.INNER (100.573)`);
  const ids = [Number(m[1]), m[2] === undefined ? 0 : Number(m[2])];
  if (ids.some((n, i) => (i === 0 || m[2] !== undefined) && (n < VLAN.minVid || n > VLAN.maxVid))) {
    throw new InputError(`bad ${what} "${s}": VLAN IDs are ${VLAN.minVid}..${VLAN.maxVid}`);
  }
  return { outer: ids[0], inner: ids[1] };
}

export interface VlanMapping { ingress: VlanKey; egress: VlanKey }

/** `--vlan` syntax: "573" (in and out on 573), "573:574" (in on 573, out on 574), "100.573:100.574". */
export function parseVlanMapping(text: string): VlanMapping {
  const s = String(text).trim();
  const parts = s.split(':');
  if (parts.length > 2 || parts.some((p) => p.trim() === '')) throw new InputError(`bad VLAN mapping "${truncate(text)}": expected ${VLAN_FORMAT}`);
  const ingress = parseVlan(parts[0], 'ingress VLAN');
  const egress = parts.length === 2 ? parseVlan(parts[1], 'egress VLAN') : ingress;
  if ((ingress.inner === 0) !== (egress.inner === 0)) {
    throw new InputError(`bad VLAN mapping "${s}": in and out must both be one tag (573:574) or both an 802.1ad pair (100.573:100.574)`);
  }
  return { ingress, egress };
}

/** `--vlan-mac` syntax: "574=58:e4:34:56:46:e0" (the gateway MAC of egress VLAN 574; pairs as 100.574=MAC). */
export function parseVlanMac(text: string): { vlan: VlanKey; mac: Buffer } {
  const s = String(text).trim();
  const i = s.indexOf('=');
  if (i < 0) throw new InputError(`bad VLAN MAC "${truncate(text)}": expected EGRESS_VLAN=MAC, e.g. 574=58:e4:34:56:46:e0`);
  return { vlan: parseVlan(s.slice(0, i), 'egress VLAN'), mac: parseMac(s.slice(i + 1)) };
}

/** One VLAN mapping as the desired state, the config file and the CLI say it (VLANs as "573" / "100.573"). */
export interface VlanMappingText {
  ingress: string;
  egress: string;
  /** The egress VLAN's gateway MAC (canonical text); null: the default MAC. */
  mac: string | null;
}

/**
 * Repeated `--vlan` / `--vlan-mac` options, parsed: one row per `--vlan`, with the MAC given for
 * its egress VLAN (or null). Syntax only (and one MAC per `--vlan-mac` VLAN); what the balancer
 * refuses (duplicate ingress VLANs, stray MACs, no MAC at all) is rules.ts's checkVlanMappings.
 */
export function parseVlanOptions(vlans: string[], macs: string[]): { vlans: VlanMappingText[]; macs: Map<string, string> } {
  const macOf = new Map<string, string>();
  for (const t of macs) {
    const m = parseVlanMac(t);
    const k = formatVlan(m.vlan);
    if (macOf.has(k)) throw new InputError(`VLAN ${k}: two gateway MACs given (--vlan-mac ${k}=... twice)`);
    macOf.set(k, formatMac(m.mac));
  }
  const rows = vlans.map((t) => {
    const m = parseVlanMapping(t);
    const egress = formatVlan(m.egress);
    return { ingress: formatVlan(m.ingress), egress, mac: macOf.get(egress) ?? null };
  });
  return { vlans: rows, macs: macOf };
}

/** The --vlan / --vlan-mac options (or the console's attach form fields) as an attach request's `vlans` / `vlanMacs`; none given: {}. */
export function parseVlanAttach(vlans: string[], macs: string[]): { vlans?: VlanMappingText[]; vlanMacs?: string[] } {
  if (!vlans.length && !macs.length) return {};
  const p = parseVlanOptions(vlans, macs);
  return { vlans: p.vlans, vlanMacs: [...p.macs.keys()] };
}

/** kt_vlan_key (kt_vlan_pairs): outer u16 @0, inner u16 @2 (host order). */
export const vlanKey = {
  size: SIZES.vlanKey,
  encode(k: VlanKey, out: Buffer = Buffer.alloc(4), off = 0): Buffer {
    out.writeUInt16LE(k.outer & 0xfff, off);
    out.writeUInt16LE(k.inner & 0xfff, off + 2);
    return out;
  },
  decode(buf: Uint8Array, off = 0): VlanKey {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 4);
    return { outer: b.readUInt16LE(0), inner: b.readUInt16LE(2) };
  },
};

export interface VlanEntry {
  /** VIP traffic on this VLAN is balanced (false: it passes, counted as VIP traffic on an unparsed VLAN). */
  balance: boolean;
  /** The egress VLAN: the same shape as the ingress one (one tag or a pair). */
  egress: VlanKey;
  /** The egress VLAN's gateway MAC; null: the default MAC (ctl_array[0]). */
  mac: Buffer | null;
}

/**
 * kt_vlan_value: flags u16 @0, counter slot u16 @2 (pairs), egress outer u16 @4, egress inner u16 @6,
 * mac[6] @8 (ctl_value), pad 2. Egress outer 0: no entry (kt_vlan_map is an ARRAY).
 */
export const vlanValue = {
  size: SIZES.vlanValue,
  encode(e: VlanEntry, slot = 0, out: Buffer = Buffer.alloc(16), off = 0): Buffer {
    out.fill(0, off, off + 16);
    out.writeUInt16LE(e.balance ? VLAN.flagBalance : 0, off);
    out.writeUInt16LE(slot, off + 2);
    out.writeUInt16LE(e.egress.outer & 0xfff, off + 4);
    out.writeUInt16LE(e.egress.inner & 0xfff, off + 6);
    if (e.mac) out.set(e.mac.subarray(0, 6), off + 8);
    return out;
  },
  /** The entry and its counter slot; null for an empty kt_vlan_map slot. */
  decode(buf: Uint8Array, off = 0): { entry: VlanEntry; slot: number } | null {
    const b = Buffer.from(buf.buffer, buf.byteOffset + off, 16);
    if (b.readUInt16LE(4) === 0) return null;
    const mac = Buffer.from(b.subarray(8, 14));
    return {
      entry: {
        balance: (b.readUInt16LE(0) & VLAN.flagBalance) !== 0,
        egress: { outer: b.readUInt16LE(4), inner: b.readUInt16LE(6) },
        mac: isZeroMac(mac) ? null : mac,
      },
      slot: b.readUInt16LE(2),
    };
  },
};

export interface VlanCounter { packets: bigint; bytes: bigint }
export interface VlanCounters { in: VlanCounter; balanced: VlanCounter; passed: VlanCounter }

/** kt_vlan_stats (per CPU): in, balanced, passed, each {u64 packets, u64 frame bytes}; summed over CPUs. */
export const vlanStats = {
  size: SIZES.vlanStats,
  fields: ['in', 'balanced', 'passed'] as const,
  /** The sum of one entry's per-CPU values at `off` in `buf` (cpus * 48 bytes). */
  sum(buf: Uint8Array, cpus: number, off = 0): VlanCounters {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const stride = perCpuStride(SIZES.vlanStats);
    const out = {} as VlanCounters;
    vlanStats.fields.forEach((f, i) => {
      let packets = 0n;
      let bytes = 0n;
      for (let c = 0; c < cpus; c++) {
        packets += dv.getBigUint64(off + c * stride + i * 16, true);
        bytes += dv.getBigUint64(off + c * stride + i * 16 + 8, true);
      }
      out[f] = { packets, bytes };
    });
    return out;
  },
};
