import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cell, fmtBps, fmtDuration, fmtMac, fmtPct, fmtPps, human, sparkline } from '../../src/ui/format.js';
import { nextInterval } from '../../src/ui/hooks/useStats.js';
import { dropLevel, lruHitRatio } from '../../src/ui/model/health.js';
import { History } from '../../src/ui/model/history.js';
import { buildRows, filterRows, moveSelection, scrollTop, sortRows } from '../../src/ui/model/table.js';
import { parseVipFlagList as parseFlagList } from '../../src/dataplane/rules.js';
import { parseWeight } from '../../src/dataplane/abi.js';
import { demoFake } from '../helpers/fake-dataplane.js';

test('format: humanised numbers, rates, durations, MACs, cells, sparklines', () => {
  assert.equal(human(0), '0');
  assert.equal(human(999), '999');
  assert.equal(human(1234), '1.23k');
  assert.equal(human(12_345_678), '12.3M');
  assert.equal(human(1e9), '1G');
  assert.equal(fmtPps(12.4), '12');
  assert.equal(fmtBps(1_500_000_000), '1.5Gb/s');
  assert.equal(fmtPct(0.1234), '12.3%');
  assert.equal(fmtDuration(900), '0.9s');
  assert.equal(fmtDuration(65_000), '1m05s');
  assert.equal(fmtDuration(3_723_000), '1h02m');
  assert.equal(fmtDuration(3 * 86_400_000), '3d00h');
  assert.equal(fmtMac('2:0:0:A:b:1'), '02:00:00:0a:0b:01');
  assert.equal(fmtMac(null), 'unset');
  assert.equal(cell('abcdef', 4), 'abc…');
  assert.equal(cell('ab', 4, 'right'), '  ab');
  assert.equal(sparkline([0, 1, 2, 4], 6), '  ▁▃▅█');
  assert.equal(sparkline([0, 0], 2), '▁▁');
});

test('model: rows joined with the sample, sorted, filtered; selection kept by id', () => {
  const { dp } = demoFake();
  dp.sample(); const s = dp.sample();
  const rows = buildRows(dp.vips(), s);
  const byPps = sortRows(rows, 'pps', true).map((r) => r.id);
  assert.deepEqual(byPps, ['[2001:db8::10]:53/udp', '192.0.2.11:443/tcp', '192.0.2.10:80/tcp']);
  assert.deepEqual(sortRows(rows, 'vip', false).map((r) => r.id), ['192.0.2.10:80/tcp', '192.0.2.11:443/tcp', '[2001:db8::10]:53/udp']);
  assert.ok(Math.abs(rows.reduce((a, r) => a + r.share, 0) - 1) < 1e-9);
  assert.deepEqual(filterRows(rows, 'no-sport').map((r) => r.id), ['[2001:db8::10]:53/udp']);
  const sorted = sortRows(rows, 'vip', false);
  assert.equal(moveSelection(sorted, '192.0.2.11:443/tcp', 1), '[2001:db8::10]:53/udp');
  assert.equal(moveSelection(sorted, '192.0.2.11:443/tcp', 10), '[2001:db8::10]:53/udp');
  assert.equal(moveSelection(sorted, 'gone', 'top'), '192.0.2.10:80/tcp');
  assert.equal(scrollTop(20, 10, 0, 100), 11);
  assert.equal(scrollTop(5, 10, 11, 100), 5);
});

test('model: history is bounded, skips the rate-less first sample, and snapshots for pause', () => {
  const { dp } = demoFake();
  const h = new History(3);
  h.push(dp.sample());
  assert.deepEqual(h.get('192.0.2.10:80/tcp'), []);
  for (let i = 0; i < 5; i++) h.push(dp.sample());
  assert.deepEqual(h.get('192.0.2.10:80/tcp'), [130, 100, 110]);
  const snap = h.snapshot();
  h.push(dp.sample());
  assert.deepEqual(snap.get('192.0.2.10:80/tcp'), [130, 100, 110]);
  assert.deepEqual(h.get('192.0.2.10:80/tcp'), [100, 110, 120]);
});

test('model: thresholds, LRU hit ratio, interval steps, weight and flag parsing', () => {
  const { dp } = demoFake();
  dp.sample();
  const s = dp.sample();
  assert.equal(dropLevel(s), 'ok');
  dp.dropSpike = 100;
  const spike = dp.sample();
  assert.equal(dropLevel(spike, 1), 'bad');
  assert.equal(lruHitRatio({ v1: 0, v2: 0, r1: 100, r2: 10 }), 0.9);
  assert.equal(lruHitRatio({ v1: 0, v2: 0, r1: 0, r2: 0 }), null);
  assert.equal(nextInterval(1000, 1), 2000);
  assert.equal(nextInterval(1000, -1), 500);
  assert.equal(nextInterval(250, -1), 250);
  assert.equal(parseWeight('0'), 0);
  assert.throws(() => parseWeight('-1'), /bad weight/);
  assert.throws(() => parseWeight('2147483648'), /bad weight/); // the same limit as the control plane's
  assert.deepEqual(parseFlagList('NO_SPORT, no-lru', ['no-sport', 'no-lru']), ['no-sport', 'no-lru']);
  assert.throws(() => parseFlagList('quic', ['no-sport']), /not implemented by this balancer/);
});

test('model: before the VIP list is read, rows come from the sample, pending (reals unknown)', () => {
  const { dp } = demoFake();
  dp.sample(); const s = dp.sample();
  const rows = buildRows(null, s);
  assert.deepEqual(rows.map((r) => r.id).sort(), s.vips.map((v) => v.id).sort());
  assert.ok(rows.every((r) => r.pending && r.reals === 0));
  assert.ok(Math.abs(rows.reduce((a, r) => a + r.share, 0) - 1) < 1e-9);
  assert.ok(buildRows(dp.vips(), s).every((r) => !r.pending));
});
