// Headroom in the console, against the fake: t turns the run-time statistics on (saying what they
// cost), the header shows ns per packet and the busiest CPU's estimated core share, the per-CPU
// panel an estimate per CPU; t again turns them off.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fits, frame, press, setup } from './harness.js';

test('t: run-time statistics on with their cost shown, ns/packet and the busiest CPU in the header, off again', async () => {
  const { r, dp, sched } = await setup({ ticks: 3 });
  assert.doesNotMatch(frame(r), /ns\/pkt/, 'off by default');
  assert.equal(dp.runTimeOn, false);
  await press(r, 't');
  let f = frame(r);
  assert.equal(dp.runTimeOn, true);
  assert.match(f, /run-time statistics ON: they cost about 72 ns per packet for every BPF program/);
  await sched.tick(2);
  f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /250ns\/pkt cpu\d \d+%est · every/);
  await press(r, 'c');
  f = frame(r);
  assert.match(f, /CORE~/);
  assert.match(f, /estimated share of a core \(pps × 250 ns\/packet/);
  await press(r, 't');
  assert.equal(dp.runTimeOn, false);
  await sched.tick(2);
  assert.doesNotMatch(frame(r), /ns\/pkt/);
  r.unmount();
});
