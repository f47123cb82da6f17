// Byte-by-byte packet builders and parsers for prog_test_run tests (balancer, healthcheck, sink,
// fuzz, lab). Everything is plain Buffers in network order; nothing here touches the kernel.
//
// Builders nest like the packet: ethernet({...}, ipv4({...}, tcp({...}))). Checksums (IPv4 header,
// TCP / UDP / ICMPv6 with their pseudo-headers, ICMP) are computed unless a field overrides them,
// so a test can also build a deliberately wrong packet. Parsers return every field plus whether
// the checksum verifies, for asserting what a program wrote.
import { parseIp, parseMac } from '../../src/dataplane/abi.js';

export const ETH_P = { ipv4: 0x0800, ipv6: 0x86dd, arp: 0x0806, vlan: 0x8100, qinq: 0x88a8 } as const;
export const PROTO = { icmp: 1, ipip: 4, tcp: 6, udp: 17, ipv6: 41, frag6: 44, icmp6: 58, hopopts: 0 } as const;
export const TCP_FLAGS = { fin: 0x01, syn: 0x02, rst: 0x04, psh: 0x08, ack: 0x10, urg: 0x20 } as const;

// ---------------------------------------------------------------------------------------------
// Addresses and checksums

/** 4 or 16 address bytes from text ("192.0.2.1", "2001:db8::1"). */
export function ipBytes(text: string): Buffer {
  return Buffer.from(parseIp(text).bytes);
}

export function macBytes(m: string | Uint8Array): Buffer {
  return typeof m === 'string' ? parseMacAny(m) : Buffer.from(m);
}

function parseMacAny(s: string): Buffer {
  // parseMac refuses multicast (it validates a gateway); test frames may use any MAC.
  const b = Buffer.from(s.split(/[:-]/).map((x) => parseInt(x, 16)));
  if (b.length !== 6 || b.some((x) => Number.isNaN(x))) return parseMac(s);
  return b;
}

/** RFC 1071 one's-complement sum of `parts` (odd lengths padded), not yet inverted. */
export function onesSum(...parts: Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i] << 8) | p[i + 1];
    if (p.length & 1) sum += p[p.length - 1] << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum of `parts` (what goes into the header field, big-endian). */
export function inetChecksum(...parts: Uint8Array[]): number {
  return (~onesSum(...parts)) & 0xffff;
}

/** IPv4 / IPv6 pseudo-header for TCP, UDP and ICMPv6 checksums. */
export function pseudoHeader(src: Uint8Array, dst: Uint8Array, proto: number, length: number): Buffer {
  if (src.length === 4) {
    const p = Buffer.alloc(12);
    p.set(src, 0);
    p.set(dst, 4);
    p[9] = proto;
    p.writeUInt16BE(length, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  p.set(src, 0);
  p.set(dst, 16);
  p.writeUInt32BE(length, 32);
  p[39] = proto;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Layer 2

export interface EthernetOpts {
  dst?: string | Uint8Array;
  src?: string | Uint8Array;
  /** Ethertype of the payload (after any VLAN tag). Default IPv4. */
  type?: number;
  /** 802.1Q tag: the VLAN id (and priority bits, if you like, in the top 4 bits of the TCI). */
  vlan?: number;
}

export const DEFAULT_DST_MAC = '02:00:00:00:00:01';
export const DEFAULT_SRC_MAC = '02:00:00:00:00:02';

export function ethernet(o: EthernetOpts, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const tag = o.vlan !== undefined ? 4 : 0;
  const h = Buffer.alloc(14 + tag);
  macBytes(o.dst ?? DEFAULT_DST_MAC).copy(h, 0);
  macBytes(o.src ?? DEFAULT_SRC_MAC).copy(h, 6);
  if (o.vlan !== undefined) {
    h.writeUInt16BE(ETH_P.vlan, 12);
    h.writeUInt16BE(o.vlan & 0xffff, 14);
  }
  h.writeUInt16BE(o.type ?? ETH_P.ipv4, 12 + tag);
  return Buffer.concat([h, payload]);
}

export interface VlanTag {
  /** TPID (default 0x8100). */
  tpid?: number;
  /** Tag control information: PCP (3 bits), DEI (1 bit), VLAN ID (12 bits). */
  tci: number;
}

/** The frame with these VLAN tags (outermost first) inserted after its MACs. */
export function withVlanTags(frame: Uint8Array, tags: VlanTag[]): Buffer {
  const t = Buffer.alloc(4 * tags.length);
  tags.forEach((g, i) => {
    t.writeUInt16BE(g.tpid ?? ETH_P.vlan, i * 4);
    t.writeUInt16BE(g.tci & 0xffff, i * 4 + 2);
  });
  const f = Buffer.from(frame);
  return Buffer.concat([f.subarray(0, 12), t, f.subarray(12)]);
}

/** The frame without the `n` VLAN tags after its MACs. */
export function withoutVlanTags(frame: Uint8Array, n: number): Buffer {
  const f = Buffer.from(frame);
  return Buffer.concat([f.subarray(0, 12), f.subarray(12 + 4 * n)]);
}

// ---------------------------------------------------------------------------------------------
// Layer 3

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  tos?: number;
  ttl?: number;
  id?: number;
  /** Don't-fragment bit. */
  df?: boolean;
  /** More-fragments bit. */
  mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** IP options, padded to a multiple of 4 bytes (ihl grows accordingly). */
  options?: Uint8Array;
  /** Overrides: total length and header checksum (default: computed). */
  totLen?: number;
  check?: number;
  /** Raw overrides for bad-packet tests: version nibble, IHL as written, the whole flags+offset field. */
  version?: number;
  ihl?: number;
  fragField?: number;
}

export function ipv4(o: Ipv4Opts, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const opt = o.options ? Buffer.concat([Buffer.from(o.options), Buffer.alloc((4 - (o.options.length % 4)) % 4)]) : Buffer.alloc(0);
  const hl = 20 + opt.length;
  const h = Buffer.alloc(hl);
  h[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? hl / 4) & 0xf);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE((o.totLen ?? hl + payload.length) & 0xffff, 2);
  h.writeUInt16BE(o.id ?? 0x1234, 4);
  h.writeUInt16BE((o.fragField ?? ((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff))) & 0xffff, 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ipBytes(o.src).copy(h, 12);
  ipBytes(o.dst).copy(h, 16);
  opt.copy(h, 20);
  h.writeUInt16BE(o.check ?? inetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  /** Next header. */
  next: number;
  /** Traffic class (8 bits). */
  tclass?: number;
  flowLabel?: number;
  hopLimit?: number;
  /** Override of payload_len (default: the payload's length). */
  payloadLen?: number;
}

export function ipv6(o: Ipv6Opts, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(40);
  const tc = o.tclass ?? 0;
  h.writeUInt32BE(((6 << 28) | (tc << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE(o.payloadLen ?? payload.length, 4);
  h[6] = o.next;
  h[7] = o.hopLimit ?? 64;
  ipBytes(o.src).copy(h, 8);
  ipBytes(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** IPv6 fragment extension header (8 bytes); put it first in the payload with next = 44. */
export function ipv6Fragment(o: { next: number; offset?: number; more?: boolean; id?: number }): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.next;
  h.writeUInt16BE((((o.offset ?? 0) & 0x1fff) << 3) | (o.more ? 1 : 0), 2);
  h.writeUInt32BE(o.id ?? 0xabcd, 4);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Layer 4. `src` / `dst` are the IP addresses (for the pseudo-header checksum).

export interface TcpOpts {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** TCP_FLAGS bits, or letters: "S", "SA", "A", "R", "F", "P". */
  flags?: number | string;
  seq?: number;
  ack?: number;
  window?: number;
  payload?: Uint8Array;
  /** Override of the checksum. */
  check?: number;
}

export function tcpFlags(f: number | string | undefined): number {
  if (f === undefined) return TCP_FLAGS.ack;
  if (typeof f === 'number') return f;
  const map: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32 };
  let n = 0;
  for (const ch of f.toUpperCase()) n |= map[ch] ?? 0;
  return n;
}

export function tcp(o: TcpOpts): Buffer {
  const data = Buffer.from(o.payload ?? Buffer.alloc(0));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE((o.seq ?? 1000) >>> 0, 4);
  h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = tcpFlags(o.flags);
  h.writeUInt16BE(o.window ?? 65535, 14);
  const seg = Buffer.concat([h, data]);
  const s = ipBytes(o.src);
  const d = ipBytes(o.dst);
  seg.writeUInt16BE(o.check ?? inetChecksum(pseudoHeader(s, d, PROTO.tcp, seg.length), seg), 16);
  return seg;
}

export interface UdpOpts {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload?: Uint8Array;
  check?: number;
}

export function udp(o: UdpOpts): Buffer {
  const data = Buffer.from(o.payload ?? Buffer.alloc(0));
  const h = Buffer.alloc(8);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt16BE(8 + data.length, 4);
  const seg = Buffer.concat([h, data]);
  let c = o.check ?? inetChecksum(pseudoHeader(ipBytes(o.src), ipBytes(o.dst), PROTO.udp, seg.length), seg);
  if (o.check === undefined && c === 0) c = 0xffff;
  seg.writeUInt16BE(c, 6);
  return seg;
}

/** ICMPv4 message: type, code, the 4 "rest of header" bytes and a body; checksum computed. */
export function icmp4(o: { type: number; code?: number; rest?: number; body?: Uint8Array; check?: number }): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  h.writeUInt32BE((o.rest ?? 0) >>> 0, 4);
  const m = Buffer.concat([h, Buffer.from(o.body ?? Buffer.alloc(0))]);
  m.writeUInt16BE(o.check ?? inetChecksum(m), 2);
  return m;
}

/** ICMPv6 message; `src` / `dst` are the IPv6 addresses of the carrying header (pseudo-header). */
export function icmp6(o: { src: string; dst: string; type: number; code?: number; rest?: number; body?: Uint8Array; check?: number }): Buffer {
  const h = Buffer.alloc(8);
  h[0] = o.type;
  h[1] = o.code ?? 0;
  h.writeUInt32BE((o.rest ?? 0) >>> 0, 4);
  const m = Buffer.concat([h, Buffer.from(o.body ?? Buffer.alloc(0))]);
  m.writeUInt16BE(o.check ?? inetChecksum(pseudoHeader(ipBytes(o.src), ipBytes(o.dst), PROTO.icmp6, m.length), m), 2);
  return m;
}

export const ICMP = { echoReply: 0, destUnreach: 3, echo: 8, timeExceeded: 11 } as const;
export const ICMP6 = { destUnreach: 1, packetTooBig: 2, timeExceeded: 3, echo: 128, echoReply: 129 } as const;

// ---------------------------------------------------------------------------------------------
// Whole frames for the common cases

export interface FlowFrameOpts {
  /** Client (source) and VIP (destination); the family comes from the addresses. */
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp';
  /** TCP flags (default "A"). */
  flags?: number | string;
  /** Payload bytes (default: 16 bytes of a recognisable pattern). */
  payload?: Uint8Array;
  payloadLen?: number;
  tos?: number;
  ttl?: number;
  ethDst?: string;
  ethSrc?: string;
  vlan?: number;
}

export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** Ethernet + IPv4/IPv6 + TCP/UDP frame of one flow. */
export function flowFrame(o: FlowFrameOpts): Buffer {
  const v6 = o.src.includes(':');
  const payload = o.payload ?? pattern(o.payloadLen ?? 16, o.sport);
  const l4 = o.proto === 'tcp'
    ? tcp({ src: o.src, dst: o.dst, sport: o.sport, dport: o.dport, flags: o.flags, payload })
    : udp({ src: o.src, dst: o.dst, sport: o.sport, dport: o.dport, payload });
  const proto = o.proto === 'tcp' ? PROTO.tcp : PROTO.udp;
  const l3 = v6
    ? ipv6({ src: o.src, dst: o.dst, next: proto, tclass: o.tos, hopLimit: o.ttl }, l4)
    : ipv4({ src: o.src, dst: o.dst, proto, tos: o.tos, ttl: o.ttl }, l4);
  return ethernet({ dst: o.ethDst, src: o.ethSrc, type: v6 ? ETH_P.ipv6 : ETH_P.ipv4, vlan: o.vlan }, l3);
}

/** Echo request frame (v4 or v6 by address family). */
export function echoRequestFrame(o: { src: string; dst: string; id?: number; seq?: number; data?: Uint8Array; ethDst?: string; ethSrc?: string; ttl?: number }): Buffer {
  const v6 = o.src.includes(':');
  const rest = (((o.id ?? 0x4242) & 0xffff) << 16 | ((o.seq ?? 1) & 0xffff)) >>> 0;
  const body = o.data ?? pattern(32, 3);
  if (v6) {
    const m = icmp6({ src: o.src, dst: o.dst, type: ICMP6.echo, rest, body });
    return ethernet({ dst: o.ethDst, src: o.ethSrc, type: ETH_P.ipv6 }, ipv6({ src: o.src, dst: o.dst, next: PROTO.icmp6, hopLimit: o.ttl }, m));
  }
  const m = icmp4({ type: ICMP.echo, rest, body });
  return ethernet({ dst: o.ethDst, src: o.ethSrc }, ipv4({ src: o.src, dst: o.dst, proto: PROTO.icmp, ttl: o.ttl }, m));
}

/**
 * An ICMP error about `original` (an IP packet, no Ethernet header), sent by `from` to `to`:
 * v4 destination unreachable (type 3, code default 4 "fragmentation needed" with next-hop MTU), v6
 * packet too big (type 2, MTU in `rest`) or destination unreachable (type 1). `quote` limits how
 * many bytes of the original are quoted (default: 28 bytes for v4 beyond the IP header... all).
 */
export function icmpErrorFrame(o: { from: string; to: string; original: Uint8Array; v6Type?: 'too-big' | 'unreach'; code?: number; mtu?: number; quote?: number; ethDst?: string; ethSrc?: string }): Buffer {
  const body = Buffer.from(o.original.subarray(0, o.quote ?? o.original.length));
  if (o.from.includes(':')) {
    const type = o.v6Type === 'unreach' ? ICMP6.destUnreach : ICMP6.packetTooBig;
    const m = icmp6({ src: o.from, dst: o.to, type, code: o.code ?? 0, rest: type === ICMP6.packetTooBig ? (o.mtu ?? 1280) : 0, body });
    return ethernet({ dst: o.ethDst, src: o.ethSrc, type: ETH_P.ipv6 }, ipv6({ src: o.from, dst: o.to, next: PROTO.icmp6 }, m));
  }
  const m = icmp4({ type: ICMP.destUnreach, code: o.code ?? 4, rest: o.mtu ?? 1400, body });
  return ethernet({ dst: o.ethDst, src: o.ethSrc }, ipv4({ src: o.from, dst: o.to, proto: PROTO.icmp }, m));
}

// ---------------------------------------------------------------------------------------------
// Parsers

export interface ParsedEthernet {
  dst: Buffer;
  src: Buffer;
  type: number;
  /** Offset of the payload. */
  payloadOffset: number;
}

export function parseEthernet(b: Uint8Array): ParsedEthernet {
  const buf = Buffer.from(b);
  if (buf.length < 14) throw new Error(`frame of ${buf.length} bytes is shorter than an Ethernet header`);
  return { dst: buf.subarray(0, 6), src: buf.subarray(6, 12), type: buf.readUInt16BE(12), payloadOffset: 14 };
}

export interface ParsedIpv4 {
  version: number;
  ihl: number;
  tos: number;
  totLen: number;
  id: number;
  df: boolean;
  mf: boolean;
  fragOffset: number;
  ttl: number;
  proto: number;
  check: number;
  /** The header checksum verifies. */
  checksumOk: boolean;
  src: string;
  dst: string;
  /** Offset of the payload in the buffer given. */
  payloadOffset: number;
}

export function parseIpv4(b: Uint8Array, off = 14): ParsedIpv4 {
  const buf = Buffer.from(b);
  if (buf.length < off + 20) throw new Error(`no room for an IPv4 header at ${off} in ${buf.length} bytes`);
  const ihl = buf[off] & 0x0f;
  const flags = buf.readUInt16BE(off + 6);
  return {
    version: buf[off] >> 4,
    ihl,
    tos: buf[off + 1],
    totLen: buf.readUInt16BE(off + 2),
    id: buf.readUInt16BE(off + 4),
    df: (flags & 0x4000) !== 0,
    mf: (flags & 0x2000) !== 0,
    fragOffset: flags & 0x1fff,
    ttl: buf[off + 8],
    proto: buf[off + 9],
    check: buf.readUInt16BE(off + 10),
    checksumOk: onesSum(buf.subarray(off, off + ihl * 4)) === 0xffff,
    src: Array.from(buf.subarray(off + 12, off + 16)).join('.'),
    dst: Array.from(buf.subarray(off + 16, off + 20)).join('.'),
    payloadOffset: off + ihl * 4,
  };
}

export interface ParsedIpv6 {
  version: number;
  tclass: number;
  flowLabel: number;
  payloadLen: number;
  next: number;
  hopLimit: number;
  src: string;
  dst: string;
  payloadOffset: number;
}

export function formatIpBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // Canonical compression via Node's parser round trip.
  return parseIp(words.join(':')).text;
}

export function parseIpv6(b: Uint8Array, off = 14): ParsedIpv6 {
  const buf = Buffer.from(b);
  if (buf.length < off + 40) throw new Error(`no room for an IPv6 header at ${off} in ${buf.length} bytes`);
  const w = buf.readUInt32BE(off);
  return {
    version: w >>> 28,
    tclass: (w >>> 20) & 0xff,
    flowLabel: w & 0xfffff,
    payloadLen: buf.readUInt16BE(off + 4),
    next: buf[off + 6],
    hopLimit: buf[off + 7],
    src: formatIpBytes(buf.subarray(off + 8, off + 24)),
    dst: formatIpBytes(buf.subarray(off + 24, off + 40)),
    payloadOffset: off + 40,
  };
}

export interface ParsedEncap {
  eth: ParsedEthernet;
  /** The outer header: IPv4 (IPIP) or IPv6 (IP6IP6 / IPv4-in-IPv6). */
  outer: { family: 4; ip: ParsedIpv4 } | { family: 6; ip: ParsedIpv6 };
  /** Everything after the outer header: the packet as received without its Ethernet header. */
  inner: Buffer;
}

/** Splits a balancer / healthcheck output frame into Ethernet, outer IP header and inner packet. */
export function parseEncap(b: Uint8Array): ParsedEncap {
  const buf = Buffer.from(b);
  const eth = parseEthernet(buf);
  if (eth.type === ETH_P.ipv4) {
    const ip = parseIpv4(buf, 14);
    return { eth, outer: { family: 4, ip }, inner: buf.subarray(ip.payloadOffset) };
  }
  if (eth.type === ETH_P.ipv6) {
    const ip = parseIpv6(buf, 14);
    return { eth, outer: { family: 6, ip }, inner: buf.subarray(ip.payloadOffset) };
  }
  throw new Error(`ethertype 0x${eth.type.toString(16)} is neither IPv4 nor IPv6`);
}

// ---------------------------------------------------------------------------------------------
// Katran's outer source addresses (docs/abi.md packet path step 8), for expected values in tests

/**
 * IPIP outer source: 172.16.(c ^ (sport & 0xff)).(d ^ (sport >> 8)), c.d = the client's address
 * bytes 2-3: an IPv4 client's last two octets, and for an IPv6 client (an IPv6 VIP with an IPv4
 * real) bytes 2-3 of its address too (docs/abi.md).
 */
export function ipipV4Source(client: string, sport: number): string {
  const b = ipBytes(client);
  const c = b[2];
  const d = b[3];
  return `172.16.${c ^ (sport & 0xff)}.${d ^ (sport >> 8)}`;
}

/** IPv6 outer source: 100:: + the client's last 32 bits, the first two bytes XORed with sport. */
export function ipipV6Source(client: string, sport: number): string {
  const b = ipBytes(client);
  const tail = Buffer.from(b.subarray(b.length - 4));
  tail[0] ^= sport >> 8;
  tail[1] ^= sport & 0xff;
  const out = Buffer.alloc(16);
  out[0] = 0x01;
  tail.copy(out, 12);
  return formatIpBytes(out);
}
