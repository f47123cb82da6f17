import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fits, frame, KEY, press, setup, type } from './harness.js';

async function openDetail() {
  const s = await setup({ ticks: 5 });
  await press(s.r, '1'); // by VIP: 192.0.2.10:80/tcp first (3 reals, weights 1, 1, 2)
  await press(s.r, KEY.enter);
  return s;
}

test('detail: chart drawn by blessed-contrib off-screen, reals with weight, ring share, pps, bps', async () => {
  const { r } = await openDetail();
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /192\.0\.2\.10:80\/tcp 1\d0 pps/);
  assert.match(f, /192\.0\.2\.10:80\/tcp pps · max 130/);
  assert.match(f, /[⡀-⣿]/, 'braille line drawn');
  assert.match(f, /-4s/, 'x labels: seconds ago');
  assert.match(f, /198\.51\.100\.1\s+1\s+25\.0%/);
  assert.match(f, /198\.51\.100\.3\s+2\s+50\.0%\s+\d+/);
  assert.match(f, /REAL\s+WEIGHT\s+RING\s+FLOWS\s+PPS\s+BPS \(all VIPs\)/, 'per-real rates are the real\'s totals, and say so');
  await press(r, KEY.esc);
  assert.match(frame(r), /> 192\.0\.2\.10:80\/tcp/, 'back with the VIP still selected');
  r.unmount();
});

test('detail: add real shows the share of ring slots that move; y applies', async () => {
  const { r, dp } = await openDetail();
  await press(r, 'a');
  await type(r, '198.51.100.9');
  await press(r, KEY.tab, KEY.backspace);
  await type(r, 'x');
  assert.match(frame(r), /bad weight "x"/);
  await press(r, KEY.backspace);
  await type(r, '4');
  await press(r, KEY.enter);
  let f = frame(r);
  assert.match(f, /add real 198\.51\.100\.9 weight 4 to 192\.0\.2\.10:80\/tcp/);
  assert.match(f, /ring slots that move to another real: 50\.0%/);
  await press(r, 'y');
  f = frame(r);
  assert.deepEqual(dp.vipMap.get('192.0.2.10:80/tcp')?.reals.map((x) => x.weight), [1, 1, 2, 4]);
  assert.match(f, /198\.51\.100\.9\s+4\s+50\.0%/);
  r.unmount();
});

test('detail: change weight, drain and remove a real, each after y/N', async () => {
  const { r, dp } = await openDetail();
  const reals = () => dp.vipMap.get('192.0.2.10:80/tcp')!.reals.map((x) => `${x.address}=${x.weight}`);
  await press(r, 'w', KEY.backspace);
  await type(r, '3');
  await press(r, KEY.enter);
  assert.match(frame(r), /set weight of 198\.51\.100\.1 on 192\.0\.2\.10:80\/tcp: 1 -> 3/);
  await press(r, 'n');
  assert.deepEqual(reals(), ['198.51.100.1=1', '198.51.100.2=1', '198.51.100.3=2']);
  await press(r, 'w', KEY.backspace); await type(r, '3'); await press(r, KEY.enter, 'y');
  assert.deepEqual(reals(), ['198.51.100.1=3', '198.51.100.2=1', '198.51.100.3=2']);
  await press(r, 'j', 'n');
  assert.match(frame(r), /drain 198\.51\.100\.2 on 192\.0\.2\.10:80\/tcp: 1 -> 0/);
  await press(r, 'y');
  assert.deepEqual(reals(), ['198.51.100.1=3', '198.51.100.2=0', '198.51.100.3=2']);
  assert.match(frame(r), /198\.51\.100\.2\s+0 drain/);
  await press(r, 'j', 'x');
  assert.match(frame(r), /remove real 198\.51\.100\.3 from 192\.0\.2\.10:80\/tcp/);
  await press(r, KEY.enter); // Enter = No
  assert.equal(reals().length, 3);
  await press(r, 'x', 'y');
  assert.deepEqual(reals(), ['198.51.100.1=3', '198.51.100.2=0']);
  r.unmount();
});

test('detail: an IPv4 real behind an IPv6 VIP is refused as you type, in the dataplane\'s words', async () => {
  const { r, dp } = await setup({ ticks: 5, props: { width: 160 } });
  await press(r, '1', 'G', KEY.enter); // [2001:db8::10]:53/udp, last by VIP
  await press(r, 'a');
  await type(r, '198.51.100.9');
  assert.match(frame(r).replace(/\s*│\n│\s*/g, " "), /real 198\.51\.100\.9 is IPv4 but VIP \[2001:db8::10\]:53\/udp is IPv6: Katran's IPIP header for an IPv6 packet is 40 bytes short in total length, so the real would drop it/);
  await press(r, KEY.enter);
  assert.doesNotMatch(frame(r), /Apply\?/);
  assert.equal(dp.writes, 0);
  r.unmount();
});
