// The LRU view, the FLOWS column and safe drains, against the fake through the async client: counts
// per real, a drain's flows falling, the numbers in the y/N of a drain and a removal, purge asking
// y/N with the count, and a big read in slices with progress.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoFake } from '../helpers/fake-dataplane.js';
import { FLOW_SLICE } from '../../src/dataplane/lru/query.js';
import { fits, frame, KEY, press, setup } from './harness.js';

const VIP = '192.0.2.10:80/tcp';

function fakeWithFlows() {
  const f = demoFake();
  f.dp.seedFlows(VIP, '198.51.100.1', 7).seedFlows(VIP, '198.51.100.2', 12).seedFlows(VIP, '198.51.100.3', 3).seedFlows('192.0.2.11:443/tcp', '198.51.100.4', 5);
  return f;
}

async function openDetail(fake = fakeWithFlows()) {
  const s = await setup({ ticks: 3, fake });
  await press(s.r, '1', KEY.enter); // 192.0.2.10:80/tcp first by VIP
  await s.sched.tick(1);
  return s;
}

test('VIP detail: a FLOWS column with the VIP\'s held flows per real; a drain shows them falling and says so in the y/N', async () => {
  const { r, dp, sched } = await openDetail();
  let f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /198\.51\.100\.1\s+1\s+25\.0%\s+7\s+\d+/);
  assert.match(f, /198\.51\.100\.2\s+1\s+25\.0%\s+12\s+\d+/);
  await press(r, 'j', 'n');
  f = frame(r);
  assert.match(f, /198\.51\.100\.2: 12 flow\(s\) held in the LRU, \d+ pps now; weight 1 -> 0/);
  await press(r, 'y');
  dp.ageFlows('198.51.100.2', 5);
  await sched.tick(2);
  f = frame(r);
  assert.match(f, /198\.51\.100\.2\s+0 drain\s+0\.0%\s+7 \(↓5\)/, f);
  r.unmount();
});

test('removing a real that holds flows: the y/N shows its flows and pps', async () => {
  const { r, dp } = await openDetail();
  await press(r, 'j', 'j', 'x');
  const f = frame(r);
  assert.match(f, /198\.51\.100\.3: 3 flow\(s\) held in the LRU, \d+ pps now/);
  await press(r, 'n');
  assert.equal(dp.vipMap.get(VIP)!.reals.length, 3);
  r.unmount();
});

test('LRU view: f lists the VIP\'s flows with a count per real; F only the real\'s; d purges after y/N with the count', async () => {
  const { r, dp, sched } = await openDetail();
  await press(r, 'f');
  await sched.tick(1);
  let f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /LRU flows of 192\.0\.2\.10:80\/tcp · 22 held/);
  assert.match(f, /per real: 198\.51\.100\.2 12 {2}198\.51\.100\.1 7 {2}198\.51\.100\.3 3/);
  assert.match(f, /CLIENT\s+REAL\s+CPU\s+AGE/);
  assert.match(f, /203\.0\.113\.1:40000\s+198\.51\.100\.1\s+0\s+-/);
  await press(r, KEY.esc);
  await press(r, 'j', 'F');
  await sched.tick(1);
  f = frame(r);
  assert.match(f, /LRU flows of 192\.0\.2\.10:80\/tcp on 198\.51\.100\.2 · 12 held/);
  await press(r, 'd');
  f = frame(r).replace(/\s*│\n│\s*/g, ' ');
  assert.match(f, /purge flows of 192\.0\.2\.10:80\/tcp on 198\.51\.100\.2 from the LRU: 12 flow\(s\)/);
  await press(r, 'n');
  assert.equal(dp.heldFlows.length, 27, 'No purges nothing');
  await press(r, 'd', 'y');
  await sched.tick(1);
  assert.equal(dp.heldFlows.filter((e) => e.real === '198.51.100.2').length, 0);
  assert.equal(dp.heldFlows.length, 15);
  assert.match(frame(r), /on 198\.51\.100\.2 · 0 held/);
  assert.match(frame(r), /no flows held on 198\.51\.100\.2 for this VIP/, 'F names the real when it holds none');
  r.unmount();
});

test('LRU view: a big LRU is read in slices with progress, the screen answering meanwhile', async () => {
  const fake = demoFake();
  fake.dp.seedFlows(VIP, '198.51.100.1', FLOW_SLICE + 10);
  const gate: { release: (() => void) | null } = { release: null };
  let calls = 0;
  let armed = false;
  const s = await setup({
    ticks: 3, fake,
    serve: { before: (call) => { if (call === 'flows' && armed && ++calls === 2) return new Promise<void>((res) => { gate.release = res; }); return undefined; } },
  });
  await press(s.r, '1', KEY.enter);
  await s.sched.tick(1);
  armed = true;
  await press(s.r, 'f');
  let f = frame(s.r);
  assert.match(f, /reading the LRUs… 65\.5k of at most 65\.5k entries|reading the LRUs… [\d.]+k of at most [\d.]+k entries/, f);
  assert.ok(fake.dp.flowCalls.every((c) => c.slice === FLOW_SLICE), 'every read is a bounded slice');
  assert.ok(gate.release, 'the second slice is held');
  gate.release();
  await s.sched.tick(1);
  f = frame(s.r);
  assert.match(f, /LRU flows of 192\.0\.2\.10:80\/tcp · 65\.5k held \(first 1\.0k listed\)|LRU flows of 192\.0\.2\.10:80\/tcp · [\d.]+k held/);
  s.r.unmount();
});
