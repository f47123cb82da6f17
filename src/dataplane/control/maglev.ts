// Katran's Maglev ring, bit-identical to Katran's userspace (katran/lib: Maglev V1 and MaglevV2),
// written from the facts in docs/abi.md ("The Maglev ring").
//
// The per-endpoint hashes (folly's IPAddress hash, MurmurHash3 x64 128) run once per real, in
// BigInt for clarity. The ring fill is the hot part: it runs in plain u32 number arithmetic on
// typed arrays.
import { parseIp } from '../abi.js';
import type { HashKind } from '../types.js';

const MASK64 = (1n << 64n) - 1n;

function rotl64(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & MASK64;
}

// ---------------------------------------------------------------------------------------------
// folly hashes

/** folly's fnv32 (FNV-1 with the prime as shifts, each byte sign-extended from int8), u32. */
export function fnv32(bytes: Uint8Array): number {
  let h = 2166136261;
  for (let i = 0; i < bytes.length; i++) {
    // h += (h<<1)+(h<<4)+(h<<7)+(h<<8)+(h<<24) is h *= 16777619 (mod 2^32)
    h = Math.imul(h, 16777619);
    const b = bytes[i];
    h ^= b & 0x80 ? b | 0xffffff00 : b;
  }
  return h >>> 0;
}

/** folly::hash::hash_128_to_64(upper, lower), mod 2^64. */
export function hash128to64(upper: bigint, lower: bigint): bigint {
  const k = 0x9ddfea08eb382d69n;
  let a = ((lower ^ upper) * k) & MASK64;
  a ^= a >> 47n;
  let b = ((upper ^ a) * k) & MASK64;
  b ^= b >> 47n;
  b = (b * k) & MASK64;
  return b;
}

const SC_CONST = 0xdeadbeefdeadbeefn;

function u64le(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]);
  return v;
}

function u32le(b: Uint8Array, at: number): bigint {
  return BigInt((b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0);
}

/**
 * SpookyHash V2 Hash128 for messages shorter than 192 bytes (Bob Jenkins' "Short" path, which is
 * all folly's IPv6 hash ever uses). Returns [hash1, hash2].
 */
export function spookyHash128(message: Uint8Array, seed1 = 0n, seed2 = 0n): [bigint, bigint] {
  const length = message.length;
  if (length >= 192) throw new RangeError('spookyHash128: only the short path (< 192 bytes) is implemented');
  let h0 = seed1 & MASK64;
  let h1 = seed2 & MASK64;
  let h2 = SC_CONST;
  let h3 = SC_CONST;
  const add = (x: bigint, y: bigint): bigint => (x + y) & MASK64;
  const shortMix = (): void => {
    h2 = rotl64(h2, 50n); h2 = add(h2, h3); h0 ^= h2;
    h3 = rotl64(h3, 52n); h3 = add(h3, h0); h1 ^= h3;
    h0 = rotl64(h0, 30n); h0 = add(h0, h1); h2 ^= h0;
    h1 = rotl64(h1, 41n); h1 = add(h1, h2); h3 ^= h1;
    h2 = rotl64(h2, 54n); h2 = add(h2, h3); h0 ^= h2;
    h3 = rotl64(h3, 48n); h3 = add(h3, h0); h1 ^= h3;
    h0 = rotl64(h0, 38n); h0 = add(h0, h1); h2 ^= h0;
    h1 = rotl64(h1, 37n); h1 = add(h1, h2); h3 ^= h1;
    h2 = rotl64(h2, 62n); h2 = add(h2, h3); h0 ^= h2;
    h3 = rotl64(h3, 34n); h3 = add(h3, h0); h1 ^= h3;
    h0 = rotl64(h0, 5n); h0 = add(h0, h1); h2 ^= h0;
    h1 = rotl64(h1, 36n); h1 = add(h1, h2); h3 ^= h1;
  };
  const shortEnd = (): void => {
    h3 ^= h2; h2 = rotl64(h2, 15n); h3 = add(h3, h2);
    h0 ^= h3; h3 = rotl64(h3, 52n); h0 = add(h0, h3);
    h1 ^= h0; h0 = rotl64(h0, 26n); h1 = add(h1, h0);
    h2 ^= h1; h1 = rotl64(h1, 51n); h2 = add(h2, h1);
    h3 ^= h2; h2 = rotl64(h2, 28n); h3 = add(h3, h2);
    h0 ^= h3; h3 = rotl64(h3, 9n); h0 = add(h0, h3);
    h1 ^= h0; h0 = rotl64(h0, 47n); h1 = add(h1, h0);
    h2 ^= h1; h1 = rotl64(h1, 54n); h2 = add(h2, h1);
    h3 ^= h2; h2 = rotl64(h2, 32n); h3 = add(h3, h2);
    h0 ^= h3; h3 = rotl64(h3, 25n); h0 = add(h0, h3);
    h1 ^= h0; h0 = rotl64(h0, 63n); h1 = add(h1, h0);
  };

  let p = 0;
  let remainder = length % 32;
  if (length > 15) {
    const end = Math.floor(length / 32) * 32;
    for (; p < end; p += 32) {
      h2 = add(h2, u64le(message, p));
      h3 = add(h3, u64le(message, p + 8));
      shortMix();
      h0 = add(h0, u64le(message, p + 16));
      h1 = add(h1, u64le(message, p + 24));
    }
    if (remainder >= 16) {
      h2 = add(h2, u64le(message, p));
      h3 = add(h3, u64le(message, p + 8));
      shortMix();
      p += 16;
      remainder -= 16;
    }
  }
  h3 = add(h3, BigInt(length) << 56n);
  const byte = (i: number): bigint => BigInt(message[p + i]);
  // The switch of the reference falls through from the longest tail down to a word boundary.
  if (remainder >= 12) {
    if (remainder >= 15) h3 = add(h3, byte(14) << 48n);
    if (remainder >= 14) h3 = add(h3, byte(13) << 40n);
    if (remainder >= 13) h3 = add(h3, byte(12) << 32n);
    h3 = add(h3, u32le(message, p + 8));
    h2 = add(h2, u64le(message, p));
  } else if (remainder >= 8) {
    if (remainder >= 11) h3 = add(h3, byte(10) << 16n);
    if (remainder >= 10) h3 = add(h3, byte(9) << 8n);
    if (remainder >= 9) h3 = add(h3, byte(8));
    h2 = add(h2, u64le(message, p));
  } else if (remainder >= 4) {
    if (remainder >= 7) h2 = add(h2, byte(6) << 48n);
    if (remainder >= 6) h2 = add(h2, byte(5) << 40n);
    if (remainder >= 5) h2 = add(h2, byte(4) << 32n);
    h2 = add(h2, u32le(message, p));
  } else if (remainder >= 1) {
    if (remainder >= 3) h2 = add(h2, byte(2) << 16n);
    if (remainder >= 2) h2 = add(h2, byte(1) << 8n);
    h2 = add(h2, byte(0));
  } else {
    h2 = add(h2, SC_CONST);
    h3 = add(h3, SC_CONST);
  }
  shortEnd();
  return [h0, h1];
}

/** SpookyHash V2 Hash32: the low 32 bits of Hash128's first word with both seeds = seed. */
export function spookyHash32(message: Uint8Array, seed = 0): number {
  const s = BigInt(seed >>> 0);
  return Number(spookyHash128(message, s, s)[0] & 0xffffffffn);
}

const AF_INET = 2n;
const AF_INET6 = 10n;

/**
 * folly's IPAddress::hash() as Katran uses it for a real's address: IPv4 = hash_combine(AF_INET,
 * fnv32(bytes)); IPv6 = hash_combine(AF_INET6, spooky128(bytes)); an IPv4-mapped IPv6 address
 * hashes as its IPv4 address.
 */
export function ipHash(address: string): bigint {
  const ip = parseIp(address);
  let bytes: Uint8Array = ip.bytes;
  if (ip.family === 6 && isV4Mapped(bytes)) bytes = bytes.subarray(12);
  if (bytes.length === 4) return hash128to64(AF_INET, BigInt(fnv32(bytes)));
  const [a, b] = spookyHash128(bytes);
  return hash128to64(AF_INET6, hash128to64(a, b));
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

// ---------------------------------------------------------------------------------------------
// MurmurHash3 x64 128 of the 16 bytes [a, b] (u64 little-endian each), first output word.

const C1 = 0x87c37b91114253d5n;
const C2 = 0x4cf5ad432745937fn;

function fmix64(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

export function murmur3_x64_128_h1(a: bigint, b: bigint, seed: number | bigint): bigint {
  let h1 = BigInt(seed) & 0xffffffffn;
  let h2 = h1;
  let k1 = a & MASK64;
  let k2 = b & MASK64;
  k1 = (k1 * C1) & MASK64;
  k1 = rotl64(k1, 31n);
  k1 = (k1 * C2) & MASK64;
  h1 ^= k1;
  h1 = rotl64(h1, 27n);
  h1 = (h1 + h2) & MASK64;
  h1 = (h1 * 5n + 0x52dce729n) & MASK64;
  k2 = (k2 * C2) & MASK64;
  k2 = rotl64(k2, 33n);
  k2 = (k2 * C1) & MASK64;
  h2 ^= k2;
  h2 = rotl64(h2, 31n);
  h2 = (h2 + h1) & MASK64;
  h2 = (h2 * 5n + 0x38495ab5n) & MASK64;
  h1 ^= 16n;
  h2 ^= 16n;
  h1 = (h1 + h2) & MASK64;
  h2 = (h2 + h1) & MASK64;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 = (h1 + h2) & MASK64;
  return h1;
}

const OFFSET_B = 42n;
const OFFSET_SEED = 0;
const SKIP_B = 2718281828n;
const SKIP_SEED = 2307;

/** An endpoint's place in the permutation: offset in [0, M), skip in [1, M). */
export function permutation(hash: bigint, ringSize: number): { offset: number; skip: number } {
  const m = BigInt(ringSize);
  return {
    offset: Number(murmur3_x64_128_h1(hash, OFFSET_B, OFFSET_SEED) % m),
    skip: Number(murmur3_x64_128_h1(hash, SKIP_B, SKIP_SEED) % (m - 1n)) + 1,
  };
}

// ---------------------------------------------------------------------------------------------
// The ring

export interface Endpoint {
  /** What the ring slots hold: the real's index in the reals map. */
  num: number;
  weight: number;
  /** ipHash(address) */
  hash: bigint;
}

const MAX_WEIGHT = 0x7fffffff;

/**
 * Katran's Maglev ring of `ringSize` slots. Endpoints with weight 0 (or less) take no slots; when
 * none is left, returns null: the caller leaves the ring as it was (Katran does the same).
 */
export function buildRing(endpoints: Endpoint[], ringSize: number, kind: HashKind): Uint32Array | null {
  if (!Number.isInteger(ringSize) || ringSize < 2 || ringSize > 0xffffffff) {
    throw new RangeError(`ring size ${ringSize}: expected an integer from 2 to 2^32-1 (Katran: a prime, default 65537)`);
  }
  if (kind !== 'maglev' && kind !== 'maglev-v2') throw new RangeError(`unknown hash "${String(kind)}": expected maglev or maglev-v2`);
  for (const e of endpoints) {
    if (!Number.isInteger(e.weight) || e.weight > MAX_WEIGHT) throw new RangeError(`endpoint ${e.num}: weight ${e.weight} is not an integer from 0 to ${MAX_WEIGHT}`);
    if (!Number.isInteger(e.num) || e.num < 0 || e.num > MAX_WEIGHT) throw new RangeError(`endpoint number ${e.num} is not a valid real index`);
  }
  const eps = endpoints.filter((e) => e.weight > 0).sort((x, y) => (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : x.num - y.num));
  const n = eps.length;
  if (n === 0) return null;
  const M = ringSize;
  const out = new Uint32Array(M);
  if (n === 1) {
    out.fill(eps[0].num);
    return out;
  }
  const offset = new Uint32Array(n);
  const skip = new Uint32Array(n);
  const num = new Int32Array(n);
  const weight = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = permutation(eps[i].hash, M);
    offset[i] = p.offset;
    skip[i] = p.skip;
    num[i] = eps[i].num;
    weight[i] = eps[i].weight;
  }
  // Internal ring: -1 marks a free slot (a real index is never negative); returned as u32 view.
  const ring = new Int32Array(out.buffer);
  ring.fill(-1);
  const next = new Uint32Array(n);
  if (kind === 'maglev') fillV1(ring, M, n, offset, skip, next, num, weight);
  else fillV2(ring, M, n, offset, skip, next, num, weight);
  return out;
}

// Katran computes cur = (offset + next * skip) % M in uint32_t: offset + next * skip wraps mod
// 2^32 before the % M. Math.imul gives the exact low 32 bits of next * skip, the sum stays below
// 2^33 (exact in a double) and >>> 0 wraps it mod 2^32. (An incremental cur += skip without the
// division measured slower here: the probes are bound by the ring's memory, not by the %.)

function fillV1(ring: Int32Array, M: number, n: number, offset: Uint32Array, skip: Uint32Array, next: Uint32Array, num: Int32Array, weight: Float64Array): void {
  let runs = 0;
  let first = true;
  for (;;) {
    for (let i = 0; i < n; i++) {
      const off = offset[i];
      const sk = skip[i];
      const v = num[i];
      // Katran's V1 "weights": the first turn places `weight` slots, every later turn one.
      const turns = first ? weight[i] : 1;
      let nx = next[i];
      for (let j = 0; j < turns; j++) {
        let cur = ((off + (Math.imul(nx, sk) >>> 0)) >>> 0) % M;
        while (ring[cur] >= 0) {
          nx = (nx + 1) >>> 0;
          cur = ((off + (Math.imul(nx, sk) >>> 0)) >>> 0) % M;
        }
        ring[cur] = v;
        nx = (nx + 1) >>> 0;
        if (++runs === M) return;
      }
      next[i] = nx;
    }
    first = false;
  }
}

function fillV2(ring: Int32Array, M: number, n: number, offset: Uint32Array, skip: Uint32Array, next: Uint32Array, num: Int32Array, weight: Float64Array): void {
  let maxWeight = 0;
  for (let i = 0; i < n; i++) if (weight[i] > maxWeight) maxWeight = weight[i];
  const cum = new Float64Array(n);
  let runs = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      cum[i] += weight[i];
      // cum < maxWeight after the previous turn and weight <= maxWeight: at most one slot a turn.
      while (cum[i] >= maxWeight) {
        cum[i] -= maxWeight;
        const off = offset[i];
        const sk = skip[i];
        let nx = next[i];
        let cur = ((off + (Math.imul(nx, sk) >>> 0)) >>> 0) % M;
        while (ring[cur] >= 0) {
          nx = (nx + 1) >>> 0;
          cur = ((off + (Math.imul(nx, sk) >>> 0)) >>> 0) % M;
        }
        ring[cur] = num[i];
        next[i] = (nx + 1) >>> 0;
        if (++runs === M) return;
      }
    }
  }
}

/** The ring for a VIP's reals: num = real index, hash = ipHash(address); weight 0 takes no slot. */
export function ringForReals(reals: { index: number; address: string; weight: number }[], ringSize: number, kind: HashKind): Uint32Array | null {
  return buildRing(reals.map((r) => ({ num: r.index, weight: r.weight, hash: ipHash(r.address) })), ringSize, kind);
}

/** Positions whose value differs between two rings (every position when there is no old ring). */
export function ringDiff(oldRing: Uint32Array | null, newRing: Uint32Array): Uint32Array {
  const len = newRing.length;
  if (!oldRing || oldRing.length !== len) {
    const all = new Uint32Array(len);
    for (let i = 0; i < len; i++) all[i] = i;
    return all;
  }
  const tmp = new Uint32Array(len);
  let k = 0;
  for (let i = 0; i < len; i++) if (oldRing[i] !== newRing[i]) tmp[k++] = i;
  return tmp.slice(0, k);
}

/** Share of slots (0..1) whose real changes from the old ring to the new (1 without an old ring). */
export function movedShare(oldRing: Uint32Array | null, newRing: Uint32Array): number {
  if (newRing.length === 0) return 0;
  if (!oldRing || oldRing.length !== newRing.length) return 1;
  let moved = 0;
  for (let i = 0; i < newRing.length; i++) if (oldRing[i] !== newRing[i]) moved++;
  return moved / newRing.length;
}

/** Slots per value (real index). A kernel ring's empty slots show up as value 0. */
export function ringCounts(ring: Uint32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < ring.length; i++) {
    const v = ring[i];
    m.set(v, (m.get(v) ?? 0) + 1);
  }
  return m;
}
