// Rates at line rate (issue 13): millions of packets per second and tens of Gb/s keep the k / M / G
// suffixes and fit the VIP table's 80-column cells (PPS 8, BPS 11), in the console and in `stats`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBps, fmtPps } from '../../src/ui/format.js';
import { human } from '../../src/cli/format.js';

test('rates from 0 to 100 Mpps / 1 Tb/s fit their cells with k / M / G suffixes', () => {
  assert.equal(fmtPps(999_499), '999k');
  assert.equal(fmtPps(999_500), '1M');
  assert.equal(fmtPps(4_567_890), '4.57M');
  assert.equal(fmtBps(3_210_000_000), '3.21Gb/s');
  assert.equal(human(4_567_890), '4.57M');
  for (let x = 1; x < 1e8; x = x * 1.37 + 1) {
    assert.ok(fmtPps(x).length <= 8, `${x} pps -> ${fmtPps(x)}`);
    assert.ok(fmtBps(x * 10_000).length <= 11, `${x * 10_000} b/s -> ${fmtBps(x * 10_000)}`);
    assert.ok(human(x).length <= 8, `stats: ${x} -> ${human(x)}`);
  }
});
