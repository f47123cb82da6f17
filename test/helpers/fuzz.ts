// Seeded randomness and raw frame builders for the fuzz and bad-input tests. Every generator
// takes the PRNG, so a run is reproduced from its seed alone (KATRAN_TUI_FUZZ_SEED=<seed>).
// The builders here write every header field as given, including wrong ones (IHL, lengths,
// checksums): they are for packets the balancer must survive, not for well-formed traffic.
import { inetChecksum, ipBytes, ipv4, type Ipv4Opts } from './packets.js';

/** sfc32: small, fast, good enough for fuzzing; state from a 32-bit seed via splitmix32. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(readonly seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t >>> 0;
  }

  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.u32() / 4294967296) * (hi - lo + 1));
  }

  bool(p = 0.5): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

/** The seed of this run: KATRAN_TUI_FUZZ_SEED if set, else a fresh one (printed by the tests). */
export function fuzzSeed(): number {
  const env = process.env.KATRAN_TUI_FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`KATRAN_TUI_FUZZ_SEED must be a u32, got "${env}"`);
    return n;
  }
  return (Date.now() ^ (process.pid << 16) ^ Math.floor(Math.random() * 0x7fffffff)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Raw frames

export const ETHERTYPE = { ipv4: 0x0800, ipv6: 0x86dd, arp: 0x0806, vlan: 0x8100, qinq: 0x88a8 } as const;
export const IPPROTO_NUM = { hopopts: 0, icmp: 1, ipip: 4, tcp: 6, udp: 17, ipv6: 41, routing: 43, frag: 44, esp: 50, ah: 51, icmp6: 58, none: 59, dstopts: 60, mobility: 135 } as const;

// Addresses and checksums are packets.ts's (one parsing rule, one checksum).
export const ipBytesOf = ipBytes;
export const ip4 = ipBytes;
export const ip6 = ipBytes;
export const csum = inetChecksum;

export const MAC_DST = Buffer.from('020000000001', 'hex');
export const MAC_SRC = Buffer.from('020000000002', 'hex');

/** Ethernet header; `tags`: 802.1Q / 802.1ad tags as [tpid, tci] pairs, outermost first. */
export function eth(type: number, payload: Uint8Array, tags: [number, number][] = []): Buffer {
  const h = Buffer.alloc(14 + 4 * tags.length);
  MAC_DST.copy(h, 0);
  MAC_SRC.copy(h, 6);
  let off = 12;
  for (const [tpid, tci] of tags) {
    h.writeUInt16BE(tpid, off);
    h.writeUInt16BE(tci & 0xffff, off + 2);
    off += 4;
  }
  h.writeUInt16BE(type, off);
  return Buffer.concat([h, payload]);
}

/** An IPv4 header written as given, wrong fields included (packets.ts's builder, raw overrides). */
export type V4Header = Pick<Ipv4Opts, 'src' | 'dst' | 'proto' | 'ihl' | 'version' | 'tos' | 'totLen' | 'id' | 'fragField' | 'ttl' | 'options' | 'check'>;

export function v4(o: V4Header, payload: Uint8Array): Buffer {
  return ipv4(o, payload);
}

export interface V6Header {
  src: string;
  dst: string;
  next: number;
  tclass?: number;
  payloadLen?: number;
  hop?: number;
  version?: number;
}

export function v6(o: V6Header, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE((((o.version ?? 6) << 28) | ((o.tclass ?? 0) << 20)) >>> 0, 0);
  h.writeUInt16BE((o.payloadLen ?? payload.length) & 0xffff, 4);
  h[6] = o.next;
  h[7] = o.hop ?? 64;
  ip6(o.src).copy(h, 8);
  ip6(o.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** TCP header (+ data); `doff` in words as written (default 5). Checksum left 0 (XDP ignores it). */
export function tcpSeg(sport: number, dport: number, flags: number, data: Uint8Array = Buffer.alloc(0), doff = 5): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(1000, 4);
  h.writeUInt32BE(flags & 0x10 ? 2000 : 0, 8);
  h[12] = (doff & 0xf) << 4;
  h[13] = flags & 0xff;
  h.writeUInt16BE(65535, 14);
  return Buffer.concat([h, data]);
}

export function udpSeg(sport: number, dport: number, data: Uint8Array = Buffer.alloc(0), len?: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE((len ?? 8 + data.length) & 0xffff, 4);
  return Buffer.concat([h, data]);
}

/** ICMP / ICMPv6 message (the v6 checksum is not computed: XDP does not check it). */
export function icmpMsg(type: number, code: number, rest: number, body: Uint8Array): Buffer {
  const h = Buffer.alloc(8);
  h[0] = type;
  h[1] = code;
  h.writeUInt32BE(rest >>> 0, 4);
  const m = Buffer.concat([h, body]);
  m.writeUInt16BE(csum(m), 2);
  return m;
}

/** An IPv6 extension header (hop-by-hop, routing, destination options; AH uses 4-byte units). */
export function v6Ext(kind: number, next: number, bodyLen: number, rng?: Rng): Buffer {
  if (kind === IPPROTO_NUM.frag) {
    const h = Buffer.alloc(8);
    h[0] = next;
    if (rng) {
      h.writeUInt16BE(rng.u32() & 0xffff, 2);
      h.writeUInt32BE(rng.u32(), 4);
    }
    return h;
  }
  const units = Math.max(0, Math.min(255, Math.floor(bodyLen / 8)));
  const len = kind === IPPROTO_NUM.ah ? (units * 8 + 8) : units * 8 + 8;
  const h = rng ? rng.bytes(len) : Buffer.alloc(len);
  h[0] = next;
  h[1] = kind === IPPROTO_NUM.ah ? ((len / 4) - 2) & 0xff : units;
  return h;
}

export function hex(b: Uint8Array, max = 256): string {
  const s = Buffer.from(b.subarray(0, max)).toString('hex');
  return b.length > max ? `${s}… (${b.length} bytes)` : s;
}

// ---------------------------------------------------------------------------------------------
// Hostile strings for the bad-input tests

const HOSTILE = [
  '', ' ', '\t', '\n', '\0', '\r\n', '-', '--', '-1', '+1', '0x10', '1e3', '1.5', 'NaN', 'Infinity', '-Infinity',
  'null', 'undefined', 'true', '[]', '{}', '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  '$(reboot)', '`reboot`', '; rm -rf /', '| cat /etc/shadow', '&& echo pwned', '$IFS', '${PATH}', "'", '"', '\\',
  '../../../../etc/passwd', '/dev/null', 'eth0; ip link del eth0', 'a'.repeat(5000), '٣', '１２３', 'ℌ', '\u202e80',
  '\u0000192.0.2.1', '192.0.2.1\u0000', '192.0.2.1 ', ' 192.0.2.1', '192.0.2.256', '192.0.2', '192.0.2.1.5', '192.0.02.1',
  '0x7f.0.0.1', '3232235777', '::', '::1', ':::', '2001:db8::1::2', '2001:db8::g', '[2001:db8::1]', 'fe80::1%eth0',
  '2001:db8:0:0:0:0:0:0:1', '::ffff:192.0.2.1', '192.0.2.1:80', '192.0.2.1:80/tcp', '192.0.2.1:65536/tcp', '192.0.2.1:-1/tcp',
  '192.0.2.1:80/icmp', '192.0.2.1:80/TCP', '[2001:db8::1]:443/udp', '2001:db8::1:443/udp', '[192.0.2.1]:80/tcp',
  '192.0.2.1:/tcp', ':80/tcp', '192.0.2.1:80/', '192.0.2.1:80/tcp/udp', '192.0.2.1:0080/tcp', '192.0.2.1:99999999999999999999/tcp',
  '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '02:00:00:00:00:01', '02:00:00:00:00', '02:00:00:00:00:01:02',
  '02-00-00-00-00-01', '020000000001', '02:00:00:00:00:0g', '2:0:0:0:0:1', '0x02:00:00:00:00:01',
  'no-sport', 'NO_SPORT', 'no-sport,no-lru', 'no-sport,,', 'bogus', 'no-sport,bogus', 'quic', ',', ',,,',
  '65535', '65536', '0', '00000', '123456', '80 ', '8 0', '４４３', 'tcp', 'udp', '6', '17', 'sctp', 'TCP ', 'tcp\0',
];

/** A hostile string: a fixed nasty one, a mutation of one, or random bytes / code points. */
export function hostileString(rng: Rng): string {
  const r = rng.int(0, 9);
  if (r <= 3) return rng.pick(HOSTILE);
  if (r <= 6) {
    // mutate a hostile or plausible string
    const base = rng.pick(HOSTILE);
    const chars = Array.from(base);
    const n = rng.int(1, 3);
    for (let i = 0; i < n; i++) {
      const op = rng.int(0, 2);
      const at = rng.int(0, chars.length);
      if (op === 0) chars.splice(at, 0, String.fromCharCode(rng.int(0, 0x7f)));
      else if (op === 1 && chars.length) chars.splice(Math.min(at, chars.length - 1), 1);
      else if (chars.length) chars[Math.min(at, chars.length - 1)] = String.fromCharCode(rng.int(0x20, 0x7e));
    }
    return chars.join('');
  }
  if (r === 7) return rng.bytes(rng.int(0, 40)).toString('latin1');
  if (r === 8) {
    let s = '';
    const n = rng.int(0, 30);
    for (let i = 0; i < n; i++) s += String.fromCodePoint(rng.int(0, 0x10ffff) & ~0x800 /* avoid lone surrogates mostly */);
    return s;
  }
  const alphabet = '0123456789abcdefABCDEF:./[]-_, ';
  let s = '';
  const n = rng.int(0, 45);
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

/** Non-string values a JSON config file can hand a parser in place of a string. */
export function hostileJsonValue(rng: Rng): unknown {
  const xs: unknown[] = [null, 0, -1, 1.5, 1e21, 2 ** 53, true, false, {}, [], ['192.0.2.1'], [80], { address: '192.0.2.1' }];
  return rng.pick(xs);
}
