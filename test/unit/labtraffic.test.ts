// The demo's traffic must visibly move: a 'wave' generator's total over its flows swings, it is not
// a flat line made of flows whose phases cancel out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waveRate } from '../../src/lab/traffic.js';

test("a wave generator's total rate swings between ~10% and 100% over a period", () => {
  const flows = 16;
  const share = 1000 / flows;
  const totals: number[] = [];
  for (let t = 0; t < 20_000; t += 500) {
    let total = 0;
    for (let i = 0; i < flows; i++) total += waveRate(share, t, 20_000);
    totals.push(total);
  }
  const max = Math.max(...totals);
  const min = Math.min(...totals);
  assert.ok(max > 950 && max <= 1000, `peak ${max}`);
  assert.ok(min >= 100 && min < 150, `trough ${min}`);
});
