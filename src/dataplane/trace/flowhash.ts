// "Where does this flow go": the Linux kernel's jhash / jhash_2words (Bob Jenkins' lookup3, as in
// include/linux/jhash.h) and Katran's flow-hash rule (docs/abi.md packet path steps 5-7), in
// TypeScript. bpf/jhash.h and bpf/select.h are the kernel side; test/bpf/balancer*.test.ts checks
// that a packet lands exactly on the ring slot computed here.
import { parseIp, VIP_FLAGS } from '../abi.js';

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, s: number): number {
  return ((x << s) | (x >>> (32 - s))) >>> 0;
}

interface Abc { a: number; b: number; c: number }

function mix(v: Abc): void {
  let { a, b, c } = v;
  a = (a - c) >>> 0; a = (a ^ rol32(c, 4)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol32(a, 6)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol32(b, 8)) >>> 0; b = (b + a) >>> 0;
  a = (a - c) >>> 0; a = (a ^ rol32(c, 16)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rol32(a, 19)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rol32(b, 4)) >>> 0; b = (b + a) >>> 0;
  v.a = a; v.b = b; v.c = c;
}

function final(v: Abc): void {
  let { a, b, c } = v;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rol32(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rol32(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rol32(b, 24)) >>> 0;
  v.a = a; v.b = b; v.c = c;
}

function le32(k: Uint8Array, i: number): number {
  return (k[i] | (k[i + 1] << 8) | (k[i + 2] << 16) | (k[i + 3] << 24)) >>> 0;
}

/** The kernel's jhash(key, length, initval) over all of `bytes` (little-endian word reads). */
export function jhash(bytes: Uint8Array, initval: number): number {
  let length = bytes.length;
  const init = (JHASH_INITVAL + length + (initval >>> 0)) >>> 0;
  const v: Abc = { a: init, b: init, c: init };
  let i = 0;
  while (length > 12) {
    v.a = (v.a + le32(bytes, i)) >>> 0;
    v.b = (v.b + le32(bytes, i + 4)) >>> 0;
    v.c = (v.c + le32(bytes, i + 8)) >>> 0;
    mix(v);
    length -= 12;
    i += 12;
  }
  if (length === 0) return v.c;
  // The tail: bytes i .. i+length-1 added into a, b, c little-endian (the kernel's fall-through switch).
  for (let j = 0; j < length; j++) {
    const add = (bytes[i + j] << ((j & 3) * 8)) >>> 0;
    if (j < 4) v.a = (v.a + add) >>> 0;
    else if (j < 8) v.b = (v.b + add) >>> 0;
    else v.c = (v.c + add) >>> 0;
  }
  final(v);
  return v.c;
}

/** The kernel's jhash_2words(a, b, initval). */
export function jhash2words(a: number, b: number, initval: number): number {
  const iv = (initval + JHASH_INITVAL + (2 << 2)) >>> 0;
  const v: Abc = { a: (a + iv) >>> 0, b: (b + iv) >>> 0, c: iv };
  final(v);
  return v.c;
}

export interface HashFlow {
  /** Client address, IPv4 or IPv6 text. */
  src: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp';
}

/** Network-order [be16 sport, be16 dport] read as a little-endian u32 (flow_key.ports). */
export function portsWord(sport: number, dport: number): number {
  return (((sport >>> 8) & 0xff) | ((sport & 0xff) << 8) | (((dport >>> 8) & 0xff) << 16) | ((dport & 0xff) << 24)) >>> 0;
}

/**
 * The flow's fields after Katran's rules, in the datapath's order: a port-0 VIP zeroes dport
 * (unless DPORT_HASH or HASH_SRC_DST_PORT), NO_SPORT zeroes sport, DPORT_HASH sets sport = dport
 * and src = 0. What remains is the hash input and the key the LRU entry is written under; a
 * DPORT_HASH packet's outer source takes the zero address with the client's port
 * (docs/abi.md).
 */
export function hashedFlow(flow: HashFlow, vipFlags: number, vipPort: number): { src: Buffer; sport: number; dport: number } {
  const addr = parseIp(flow.src, 'client address');
  let src = Buffer.from(addr.bytes);
  let sport = flow.sport & 0xffff;
  let dport = flow.dport & 0xffff;
  if (vipPort === 0 && !(vipFlags & (VIP_FLAGS['dport-hash'] | VIP_FLAGS['hash-src-dst-port']))) dport = 0;
  if (vipFlags & VIP_FLAGS['no-sport']) sport = 0;
  if (vipFlags & VIP_FLAGS['dport-hash']) {
    sport = dport;
    src = Buffer.alloc(src.length);
  }
  return { src, sport, dport };
}

/**
 * Katran's consistent-hash position of a flow: IPv4 jhash_2words(src, ports, CH_RINGS_SIZE);
 * IPv6 jhash_2words(jhash(src, 16, MAX_VIPS), ports, CH_RINGS_SIZE); pos = hash % RING_SIZE.
 * The ring slot in ch_rings is vip_num * ringSize + pos.
 */
export function flowRingPosition(flow: HashFlow, vipFlags: number, vipPort: number, ringSize: number, chRingsSize: number,
  maxVips: number): { hash: number; pos: number } {
  const f = hashedFlow(flow, vipFlags, vipPort);
  const ports = portsWord(f.sport, f.dport);
  const first = f.src.length === 4 ? le32(f.src, 0) : jhash(f.src, maxVips);
  const hash = jhash2words(first, ports, chRingsSize);
  return { hash, pos: hash % ringSize };
}
