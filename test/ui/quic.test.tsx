// The console with a QUIC VIP (against the fake, whose QUIC and down-real changes go through the
// real planner): QUIC rates in the globals line, the mappings and "N server ids" in the VIP
// detail, and `u` marking a real down after y/N (only on udp-flow-migration VIPs).
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoFake } from '../helpers/fake-dataplane.js';
import { frame, KEY, press, setup } from './harness.js';

function quicFake() {
  const f = demoFake({ vipFlags: ['no-sport', 'no-lru', 'quic', 'dport-hash', 'hash-src-dst-port', 'udp-flow-migration'] });
  f.dp.seed([{ vip: '192.0.2.20:443/udp', reals: ['198.51.100.5', '198.51.100.6'], flags: ['quic', 'udp-flow-migration'] }]);
  f.dp.quicRates = { cidRouted: 250, chRouted: 12, cidInitial: 3, cidInvalidServerId: 1, dstMatchInLru: 240, dstMismatchInLru: 2, dstNotFoundInLru: 8 };
  f.dp.addQuicMapping(1024, '198.51.100.5');
  f.dp.addQuicMapping(1025, '198.51.100.5');
  return f;
}

test('console: QUIC rates in the globals line when a QUIC VIP exists; none without one', async () => {
  const { r } = await setup({ ticks: 3, fake: quicFake(), props: { width: 200 } });
  const f = frame(r);
  assert.match(f, /QUIC by id 250\/s by hash 12\/s initial 3\/s invalid id 1\/s unknown real 0\/s LRU match\/mismatch\/new 240\/2\/8/);
  r.unmount();
  const plain = await setup({ ticks: 3, props: { width: 200 } });
  assert.doesNotMatch(frame(plain.r), /QUIC by id/);
  plain.r.unmount();
});

test('console: VIP detail lists the mappings, "N server ids" on the real, u marks it DOWN after y', async () => {
  const fake = quicFake();
  const { r, dp } = await setup({ ticks: 3, fake, props: { width: 120 } });
  await press(r, '1', 'j', 'j', KEY.enter); // by VIP: 192.0.2.10, 192.0.2.11, 192.0.2.20
  let f = frame(r);
  assert.match(f, /192\.0\.2\.20:443\/udp/);
  assert.match(f, /198\.51\.100\.5 .* 2 server ids/);
  assert.match(f, /QUIC server ids: 1024→198\.51\.100\.5  1025→198\.51\.100\.5/);
  await press(r, 'u');
  assert.match(frame(r), /mark 198\.51\.100\.5 in 192\.0\.2\.20:443\/udp down \(vip_to_down_reals_map\)/);
  assert.match(frame(r), /the ring is unchanged, so the hash may pick/);
  await press(r, 'y');
  f = frame(r);
  assert.match(f, /198\.51\.100\.5 .* DOWN 2 server ids/);
  assert.equal(dp.vipMap.get('192.0.2.20:443/udp')!.reals[0].down, true);
  // and back up
  await press(r, 'u', 'y');
  assert.doesNotMatch(frame(r), /DOWN/);
  r.unmount();
});

test('console: u on a VIP without udp-flow-migration says why and changes nothing', async () => {
  const { r, dp } = await setup({ ticks: 3, fake: quicFake(), props: { width: 160 } });
  await press(r, '1', KEY.enter); // 192.0.2.10:80/tcp
  const writes = dp.writes;
  await press(r, 'u');
  assert.match(frame(r), /mark real down: 192\.0\.2\.10:80\/tcp has no udp-flow-migration flag/);
  assert.equal(dp.writes, writes);
  r.unmount();
});
