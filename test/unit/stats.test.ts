// The sampler's pure logic: deltas, rates over elapsed time, resets, flood detection. No kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateBook, counterDelta, floodedCpus, perSecond } from '../../src/dataplane/stats/stats.js';

test('counterDelta: first reading has no delta, growth is the delta, going backwards is a reset', () => {
  assert.deepEqual(counterDelta(undefined, 5n), { delta: 0n, reset: false });
  assert.deepEqual(counterDelta(5n, 12n), { delta: 7n, reset: false });
  assert.deepEqual(counterDelta(12n, 12n), { delta: 0n, reset: false });
  assert.deepEqual(counterDelta(12n, 3n), { delta: 0n, reset: true });
  // Past 2^53: exact in BigInt
  const big = (1n << 60n) + 1n;
  assert.deepEqual(counterDelta(big, big + 3n), { delta: 3n, reset: false });
});

test('perSecond: over the real elapsed ms, 0 when no time passed', () => {
  assert.equal(perSecond(100n, 1000), 100);
  assert.equal(perSecond(100n, 500), 200);
  assert.equal(perSecond(3n, 1500), 2);
  assert.equal(perSecond(100n, 0), 0);
  assert.equal(perSecond(0n, 1000), 0);
});

test('RateBook: totals, rates, resets listed and never negative, forgotten names start afresh', () => {
  const b = new RateBook();
  b.begin(0);
  let p = b.pair('vip A', 10n, 1000n);
  assert.deepEqual(p, { v1: 10, v2: 1000, r1: 0, r2: 0 });
  b.end();
  assert.deepEqual(b.resets, []);

  b.begin(2000);
  p = b.pair('vip A', 30n, 5000n);
  assert.deepEqual(p, { v1: 30, v2: 5000, r1: 10, r2: 2000 });
  const q = b.pair('vip B', 7n, 70n); // new this sample: no rate yet
  assert.deepEqual(q, { v1: 7, v2: 70, r1: 0, r2: 0 });
  b.end();

  b.begin(1000);
  p = b.pair('vip A', 4n, 6000n); // v1 went backwards: reset, rate 0; v2 still grows
  assert.deepEqual(p, { v1: 4, v2: 6000, r1: 0, r2: 1000 });
  assert.deepEqual(b.resets, ['vip A.v1']);
  // vip B not read in this sample: forgotten
  b.end();

  b.begin(1000);
  const q2 = b.pair('vip B', 100n, 100n);
  assert.deepEqual(q2, { v1: 100, v2: 100, r1: 0, r2: 0 }, 'a name that was absent starts afresh');
  p = b.pair('vip A', 6n, 6000n);
  assert.deepEqual(p, { v1: 6, v2: 6000, r1: 2, r2: 0 });
  assert.deepEqual(b.resets, []);
  b.end();
});

test('RateBook: a gauge is never a reset and has no rate', () => {
  const b = new RateBook();
  b.begin(0);
  b.pair('newConnRate', 500n, 10n, true);
  b.end();
  b.begin(1000);
  const p = b.pair('newConnRate', 3n, 20n, true);
  assert.deepEqual(p, { v1: 3, v2: 20, r1: 0, r2: 0 });
  assert.deepEqual(b.resets, []);
});

test('RateBook.pairFromZero: a counter listed only once it counts is rated from 0 at its first listing, then as any other', () => {
  const b = new RateBook();
  b.begin(0);
  assert.deepEqual(b.pairFromZero('vlan 573.in', 7n, 700n), { v1: 7, v2: 700, r1: 0, r2: 0 }, 'first sample: no time passed, no rate');
  b.end();
  b.begin(2000);
  assert.deepEqual(b.pairFromZero('vlan 575.in', 10n, 1000n), { v1: 10, v2: 1000, r1: 5, r2: 500 }, 'absent before: was 0');
  assert.deepEqual(b.pairFromZero('vlan 573.in', 9n, 900n), { v1: 9, v2: 900, r1: 1, r2: 100 });
  b.end();
  b.begin(1000);
  assert.deepEqual(b.pairFromZero('vlan 573.in', 4n, 400n), { v1: 4, v2: 400, r1: 0, r2: 0 }, 'backwards: a reset');
  assert.deepEqual(b.resets, ['vlan 573.in.v1', 'vlan 573.in.v2']);
});

test('floodedCpus: a CPU whose window moved and is over the limit', () => {
  const prev = [{ v1: 10n, v2: 1n }, { v1: 200n, v2: 5n }];
  // CPU 1 is over the limit but its window has not moved since the last sample: not this interval.
  assert.deepEqual(floodedCpus(prev, [{ v1: 11n, v2: 1n }, { v1: 200n, v2: 5n }], 100), []);
  // CPU 0 goes over within the interval
  assert.deepEqual(floodedCpus(prev, [{ v1: 101n, v2: 1n }, { v1: 200n, v2: 5n }], 100), [0]);
  // A new window (v2 moved) whose count is over
  assert.deepEqual(floodedCpus(prev, [{ v1: 5n, v2: 1n }, { v1: 150n, v2: 9n }], 100), [1]);
  // At the limit is not over it
  assert.deepEqual(floodedCpus(prev, [{ v1: 100n, v2: 2n }, { v1: 200n, v2: 5n }], 100), []);
});
