// Katran's Maglev ring (docs/abi.md, "The Maglev ring"): the test vectors Katran's rings give, plus the
// properties the control plane relies on (one endpoint, no endpoint, minimal movement, ringDiff).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildRing, fnv32, hash128to64, ipHash, movedShare, murmur3_x64_128_h1, ringCounts, ringDiff, ringForReals,
  spookyHash128, spookyHash32, type Endpoint,
} from '../../src/dataplane/control/maglev.js';
import type { HashKind } from '../../src/dataplane/types.js';

const M = 65537;
const KINDS: HashKind[] = ['maglev', 'maglev-v2'];

/** FNV-1a (32-bit) over the ring as little-endian u32s, as the spec's vectors are stated. */
function fnv1a(ring: Uint32Array): number {
  const bytes = new Uint8Array(ring.length * 4);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < ring.length; i++) dv.setUint32(i * 4, ring[i], true);
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

function counts(ring: Uint32Array): Record<number, number> {
  return Object.fromEntries([...ringCounts(ring)].sort((a, b) => a[0] - b[0]));
}

const threeReals = (w: [number, number, number]) => [1, 2, 3].map((i) => ({ index: i, address: `10.0.0.${i}`, weight: w[i - 1] }));

test('ipHash: the vectors, and IPv4-mapped IPv6 hashes as IPv4', () => {
  assert.equal(ipHash('10.0.0.1'), 0xd671359dbaa15954n);
  assert.equal(ipHash('10.0.0.2'), 0x2cd426d008b90279n);
  assert.equal(ipHash('10.0.0.3'), 0x6eb4a2989236785dn);
  assert.equal(ipHash('192.168.1.200'), 0xede9b08ae275064en);
  assert.equal(ipHash('::ffff:10.0.0.1'), ipHash('10.0.0.1'));
  assert.equal(ipHash('::ffff:a00:1'), ipHash('10.0.0.1'));
  // IPv6: hash128to64(10, hash128to64(spooky h1, h2)) of the 16 bytes, within u64, and not the v4 one
  const v6 = ipHash('2001:db8::1');
  const bytes = Buffer.from('20010db8000000000000000000000001', 'hex');
  const [h1, h2] = spookyHash128(bytes);
  assert.equal(v6, hash128to64(10n, hash128to64(h1, h2)));
  assert.ok(v6 >= 0n && v6 < 1n << 64n);
  assert.notEqual(ipHash('::a00:1'), ipHash('10.0.0.1'), 'only ::ffff:0:0/96 is IPv4-mapped');
  assert.throws(() => ipHash('10.0.0.256'), /bad address/);
});

test('fnv32 (folly, bytes sign-extended) and SpookyHash V2 Hash32 vectors', () => {
  assert.equal(fnv32(Buffer.from('hello, world!')), 3605494790);
  assert.equal(fnv32(Uint8Array.from([0xff, 0xff, 0xff])), 2420936562);
  assert.equal(fnv32(new Uint8Array(0)), 2166136261);
  const msg = Uint8Array.from({ length: 16 }, (_, i) => 128 + i);
  assert.equal(spookyHash32(msg, 0), 0xf274736c);
  assert.throws(() => spookyHash128(new Uint8Array(192)), /short path/);
});

test('hash128to64 and murmur3 stay within u64 and depend on every input', () => {
  const a = hash128to64(2n, 1n);
  assert.ok(a >= 0n && a < 1n << 64n);
  assert.notEqual(a, hash128to64(1n, 2n));
  const m = murmur3_x64_128_h1(0xd671359dbaa15954n, 42n, 0);
  assert.ok(m >= 0n && m < 1n << 64n);
  assert.notEqual(m, murmur3_x64_128_h1(0xd671359dbaa15954n, 42n, 2307));
  assert.notEqual(m, murmur3_x64_128_h1(0xd671359dbaa15954n, 43n, 0));
});

for (const kind of KINDS) {
  test(`${kind}: reals 10.0.0.1-3, weight 1, M=65537: the spec's ring`, () => {
    const ring = ringForReals(threeReals([1, 1, 1]), M, kind);
    assert.ok(ring);
    assert.equal(ring.length, M);
    assert.deepEqual(Array.from(ring.subarray(0, 16)), [2, 1, 3, 2, 1, 3, 3, 1, 1, 2, 1, 2, 2, 1, 2, 3]);
    assert.equal(ring[65536], 1);
    assert.deepEqual(counts(ring), { 1: 21845, 2: 21846, 3: 21846 });
    assert.equal(fnv1a(ring), 0x18364ac4);
  });
}

test('maglev (V1): weights 1, 2, 3: the spec counts and FNV-1a', () => {
  const ring = ringForReals(threeReals([1, 2, 3]), M, 'maglev');
  assert.ok(ring);
  assert.deepEqual(counts(ring), { 1: 21844, 2: 21846, 3: 21847 });
  assert.equal(fnv1a(ring), 0xd22db1e6);
});

test('maglev-v2: shares follow the weights (1:2:3)', () => {
  const ring = ringForReals(threeReals([1, 2, 3]), M, 'maglev-v2');
  assert.ok(ring);
  const c = ringCounts(ring);
  for (const [real, w] of [[1, 1], [2, 2], [3, 3]]) {
    const want = (M * w) / 6;
    assert.ok(Math.abs((c.get(real) ?? 0) - want) <= 2, `real ${real}: ${c.get(real)} slots, want ~${want.toFixed(1)}`);
  }
});

test('endpoint order does not matter (sorted by hash), weight 0 takes no slot', () => {
  for (const kind of KINDS) {
    const a = ringForReals(threeReals([1, 1, 1]), M, kind);
    const b = ringForReals(threeReals([1, 1, 1]).reverse(), M, kind);
    assert.ok(a && b);
    assert.deepEqual(a, b);
    const drained = ringForReals([...threeReals([1, 1, 1]), { index: 4, address: '10.0.0.4', weight: 0 }], M, kind);
    assert.deepEqual(drained, a);
  }
});

test('one endpoint fills every slot; none (or only weight 0) returns null', () => {
  for (const kind of KINDS) {
    const ring = buildRing([{ num: 7, weight: 3, hash: ipHash('198.51.100.7') }], M, kind);
    assert.ok(ring);
    assert.equal(ring.length, M);
    assert.ok(ring.every((v) => v === 7));
    assert.equal(buildRing([], M, kind), null);
    assert.equal(buildRing([{ num: 1, weight: 0, hash: 1n }], M, kind), null);
    assert.equal(ringForReals([], M, kind), null);
  }
});

test('every slot is filled and each endpoint gets its share on a small prime ring', () => {
  const eps: Endpoint[] = [1, 2, 3, 4, 5].map((i) => ({ num: i, weight: 1, hash: ipHash(`198.51.100.${i}`) }));
  for (const kind of KINDS) {
    const ring = buildRing(eps, 13, kind);
    assert.ok(ring);
    const c = ringCounts(ring);
    assert.equal([...c.values()].reduce((x, y) => x + y, 0), 13);
    for (const e of eps) assert.ok((c.get(e.num) ?? 0) >= 2 && (c.get(e.num) ?? 0) <= 3, `real ${e.num}: ${c.get(e.num)} of 13`);
  }
});

test('bad ring sizes, weights and kinds are refused', () => {
  const eps: Endpoint[] = [{ num: 1, weight: 1, hash: 1n }, { num: 2, weight: 1, hash: 2n }];
  assert.throws(() => buildRing(eps, 1, 'maglev'), RangeError);
  assert.throws(() => buildRing(eps, 100.5, 'maglev'), RangeError);
  assert.throws(() => buildRing([{ num: 1, weight: 1.5, hash: 1n }], M, 'maglev'), RangeError);
  assert.throws(() => buildRing(eps, M, 'ring' as HashKind), /unknown hash/);
});

// Adding one real to N: Maglev moves close to the minimum, the new real's 1/(N+1) share. Tolerance:
// the new real gets its share within 1%, and at most 1.3 / (N + 1) of the slots change in total
// (Maglev moves a few slots between old reals too: measured 1.018x, 1.028x, 1.068x the ideal at N = 5, 10, 20).
for (const n of [5, 10, 20]) {
  for (const kind of KINDS) {
    test(`${kind}: adding one real to ${n} moves about 1/${n + 1} of the slots`, () => {
      const reals = Array.from({ length: n + 1 }, (_, i) => ({ index: i + 1, address: `198.51.100.${i + 10}`, weight: 1 }));
      const before = ringForReals(reals.slice(0, n), M, kind);
      const after = ringForReals(reals, M, kind);
      assert.ok(before && after);
      const ideal = 1 / (n + 1);
      const newSlots = ringCounts(after).get(n + 1) ?? 0;
      assert.ok(Math.abs(newSlots / M - ideal) <= 0.01 * ideal + 1 / M, `new real: ${newSlots} slots, ideal ${(M * ideal).toFixed(0)}`);
      const moved = movedShare(before, after);
      assert.ok(moved >= newSlots / M, 'every slot of the new real moved');
      assert.ok(moved <= 1.3 * ideal, `moved ${(moved * 100).toFixed(2)}% > 1.3 x ${(ideal * 100).toFixed(2)}%`);
      // Removing it again restores the old ring exactly (the ring is a function of the set).
      assert.deepEqual(ringForReals(reals.slice(0, n), M, kind), before);
    });
  }
}

test('ringDiff: exactly the changed positions, all of them without an old ring', () => {
  const reals = Array.from({ length: 6 }, (_, i) => ({ index: i + 1, address: `198.51.100.${i + 1}`, weight: 1 }));
  const a = ringForReals(reals.slice(0, 5), M, 'maglev-v2');
  const b = ringForReals(reals, M, 'maglev-v2');
  assert.ok(a && b);
  const d = ringDiff(a, b);
  const want: number[] = [];
  for (let i = 0; i < M; i++) if (a[i] !== b[i]) want.push(i);
  assert.deepEqual(Array.from(d), want);
  assert.equal(d.length / M, movedShare(a, b));
  // Applying only the changed slots to the old ring yields the new one.
  const patched = a.slice();
  for (const pos of d) patched[pos] = b[pos];
  assert.deepEqual(patched, b);
  assert.equal(ringDiff(b, b).length, 0);
  assert.equal(movedShare(b, b), 0);
  const all = ringDiff(null, b);
  assert.equal(all.length, M);
  assert.equal(all[0], 0);
  assert.equal(all[M - 1], M - 1);
  assert.equal(movedShare(null, b), 1);
  assert.equal(ringDiff(new Uint32Array(13), b).length, M, 'a ring of another size: every slot');
  // ringCounts counts every value, empty kernel slots (0) included
  assert.deepEqual(counts(Uint32Array.from([0, 3, 3, 1, 0])), { 0: 2, 1: 1, 3: 2 });
});
