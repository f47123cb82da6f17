import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoFake, fakeBpfError } from '../helpers/fake-dataplane.js';
import { ERRNO } from '../../src/dataplane/errors.js';
import { fits, frame, KEY, press, rawFrame, setup, stripAnsi, type } from './harness.js';

function vipOrder(f: string): string[] {
  return f.split('\n').map((l) => /(\[?[0-9a-f:.]+\]?:\d+\/(?:tcp|udp))/.exec(l)?.[1]).filter((x): x is string => !!x);
}
function selectedLine(f: string): string {
  return f.split('\n').find((l) => l.startsWith('> ')) ?? '';
}

test('dashboard: header, actions, globals and the VIP table fit 80x24', async () => {
  const { r, dp } = await setup();
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /kt-veth0 native prog 42 · attached 1h00m · 4 CPUs · gw 02:00:00:00:00:01/);
  assert.match(f, /every 1s · sample 0\.0s ago · VIPs 3\/512 · reals 6\/4096/);
  // rates of the 3rd sample: vipNum 0..2 -> 100+30, 200+30, 300+30 pps
  assert.match(f, /TOTAL 696\/s/);
  assert.match(f, /DROP 1\/s/);
  assert.match(f, /LRU hit 90\.0%/);
  assert.match(f, /192\.0\.2\.10:80\/tcp\s+130\s+520kb\/s\s+18\.8%\s+3/);
  assert.match(f, /\[2001:db8::10\]:53\/udp\s+330/);
  assert.equal(dp.ticks, 3);
  // noColor (NO_COLOR): no colour escapes at all, although the test forces colour support on
  assert.doesNotMatch(rawFrame(r), /\x1b\[(3|4|9|10)\d(;\d+)*m/);
  r.unmount();
});

test('dashboard: colours on, DROP spike is red, UNDER FLOOD and FALLBACK_LRU badges', async () => {
  const { r, dp, sched } = await setup({ props: { noColor: false } });
  assert.doesNotMatch(frame(r), /UNDER FLOOD|FALLBACK_LRU/);
  dp.dropSpike = 500; dp.underFlood = true; dp.fallbackRate = 3;
  await sched.tick();
  const f = rawFrame(r);
  assert.match(stripAnsi(f), /\[UNDER FLOOD\]\[FALLBACK_LRU\]/);
  assert.match(f, /\x1b\[31m[^\n]*501\/s/, 'DROP rate drawn in red');
  assert.match(stripAnsi(f), /fallback 3\/s/);
  r.unmount();
});

test('dashboard: sort keys reorder, selection is kept by VIP across sorts', async () => {
  const { r } = await setup();
  assert.deepEqual(vipOrder(frame(r)), ['[2001:db8::10]:53/udp', '192.0.2.11:443/tcp', '192.0.2.10:80/tcp']); // pps desc
  await press(r, 'j'); // select 192.0.2.11
  assert.match(selectedLine(frame(r)), /192\.0\.2\.11:443/);
  await press(r, 'r'); // ascending
  assert.deepEqual(vipOrder(frame(r)), ['192.0.2.10:80/tcp', '192.0.2.11:443/tcp', '[2001:db8::10]:53/udp']);
  assert.match(frame(r), /PPS▲/);
  await press(r, '1'); // by VIP
  assert.deepEqual(vipOrder(frame(r)), ['192.0.2.10:80/tcp', '192.0.2.11:443/tcp', '[2001:db8::10]:53/udp']);
  assert.match(frame(r), /VIP▲/);
  await press(r, '5'); // by reals, descending
  assert.deepEqual(vipOrder(frame(r)), ['192.0.2.10:80/tcp', '[2001:db8::10]:53/udp', '192.0.2.11:443/tcp']);
  assert.match(selectedLine(frame(r)), /192\.0\.2\.11:443/, 'selection followed the VIP');
  await press(r, 's'); // next column after reals wraps to vip
  assert.match(frame(r), /VIP▲/);
  await press(r, 'G');
  assert.match(selectedLine(frame(r)), /2001:db8::10/);
  await press(r, 'g');
  assert.match(selectedLine(frame(r)), /192\.0\.2\.10:80/);
  await press(r, KEY.down, KEY.down, KEY.up);
  assert.match(selectedLine(frame(r)), /192\.0\.2\.11:443/);
  r.unmount();
});

test('dashboard: / filters live, Enter keeps, Esc clears', async () => {
  const { r } = await setup();
  await press(r, '/');
  await type(r, '192.0.2.1');
  assert.match(frame(r), /filter: 192\.0\.2\.1_/);
  assert.deepEqual(vipOrder(frame(r)).sort(), ['192.0.2.10:80/tcp', '192.0.2.11:443/tcp']);
  await press(r, KEY.backspace, '1', '1');
  assert.deepEqual(vipOrder(frame(r)), ['192.0.2.11:443/tcp']);
  await press(r, KEY.enter);
  assert.match(frame(r), /filter "192\.0\.2\.11" \(1\/3\)/);
  await press(r, '/'); await type(r, 'zzz'); await press(r, KEY.enter);
  assert.match(frame(r), /no VIP matches "192\.0\.2\.11zzz"/);
  await press(r, KEY.esc);
  assert.equal(vipOrder(frame(r)).length, 3);
  r.unmount();
});

test('dashboard: p pauses the view while sampling continues; +/- change the interval', async () => {
  const { r, dp, sched } = await setup();
  assert.match(frame(r), /TOTAL 696\/s/);
  await press(r, 'p');
  assert.match(frame(r), /\[PAUSED\]/);
  await sched.tick(); // tick 4: 100+0 ... -> total rate changes
  assert.equal(dp.ticks, 4, 'sampling continued');
  assert.match(frame(r), /TOTAL 696\/s/, 'view frozen');
  await press(r, 'p');
  assert.doesNotMatch(frame(r), /PAUSED/);
  assert.match(frame(r), /TOTAL 606\/s/);
  await press(r, '+');
  assert.match(frame(r), /every 2s/);
  assert.deepEqual(sched.intervals, [2000]);
  await press(r, '-', '-');
  assert.match(frame(r), /every 500ms/);
  assert.deepEqual(sched.intervals, [500]);
  r.unmount();
});

test('dashboard: ? shows the help overlay, Esc closes it', async () => {
  const { r } = await setup();
  await press(r, '?');
  let f = frame(r);
  assert.match(f, /keys \(Esc or \? closes\)/);
  assert.match(f, /pause view \(sampling continues\)/);
  assert.match(f, /quit \(never detaches\)/);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  await press(r, KEY.esc);
  f = frame(r);
  assert.doesNotMatch(f, /keys \(Esc/);
  assert.match(f, /192\.0\.2\.10:80\/tcp/);
  r.unmount();
});

test('dashboard: per-CPU, healthcheck and log panels', async () => {
  const { r } = await setup();
  await press(r, 'c');
  let f = frame(r);
  assert.match(f, /CPU\s+TOTAL\/s\s+TX\/s/);
  assert.match(f, /imbalance 1\.60x/); // shares 1:2:3:4 of 4 CPUs -> max/mean = 0.4/0.25
  assert.match(f, /^\s+3\s+278\s/m);
  await press(r, 'h');
  f = frame(r);
  assert.match(f, /healthcheck on kt-veth0 prog 43: processed 30 dropped 0/);
  assert.match(f, /1001\s+198\.51\.100\.1/);
  await press(r, 'v');
  assert.match(frame(r), /VIP\s+PPS▼/);
  r.unmount();
});

test('dashboard: a sampling error and a failed write show in the log pane', async () => {
  const { r, dp, sched } = await setup();
  dp.sampleError = fakeBpfError('lookup batch', 'stats', ERRNO.EPERM, 'Operation not permitted');
  await sched.tick();
  assert.match(frame(r), /ERROR sample: lookup batch stats: Operation not permitted/);
  r.unmount();
});

test('dashboard: q and Ctrl-C quit without detaching', async () => {
  const s1 = await setup();
  await press(s1.r, 'q');
  assert.equal(s1.quits.length, 1);
  assert.equal(s1.dp.detachCalls, 0);
  assert.equal(s1.dp.detached, false);
  const s2 = await setup({ fake: demoFake() });
  await press(s2.r, KEY.ctrlC);
  assert.equal(s2.quits.length, 1);
  assert.equal(s2.dp.detachCalls, 0);
});

test('dashboard: 512 VIPs page with PgDn / PgUp and keep 80x24', async () => {
  const fake = demoFake();
  fake.dp.seedMany(300, 1);
  const { r } = await setup({ fake, props: { height: 24 } });
  assert.match(frame(r), /VIPs 303\/512/);
  await press(r, '1'); // by VIP ascending: 192.0.2.1:8000, 192.0.2.1:8001, 192.0.2.2:8000, ...
  assert.match(selectedLine(frame(r)), /192\.0\.2\.1:8000/);
  await press(r, KEY.pgDown); // one page = the 14 table rows of 80x24
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(selectedLine(f), /192\.0\.2\.8:8000\/tcp/);
  assert.equal(vipOrder(f).length, 14);
  await press(r, 'G');
  assert.match(selectedLine(frame(r)), /2001:db8::10/);
  await press(r, 'g', KEY.pgDown, KEY.pgUp);
  assert.match(selectedLine(frame(r)), /192\.0\.2\.1:8000/);
  r.unmount();
});

test('dashboard: the VIP list (every ring on the real balancer) is read once, then only when a sample shows a change', async () => {
  const { r, dp, sched } = await setup();
  assert.equal(dp.vipsCalls, 1, 'read once after the first frame');
  await sched.tick(5);
  assert.equal(dp.vipsCalls, 1, 'quiet samples read no VIP list');
  // another writer adds a VIP: the sample's VIP set and the capacity change
  dp.addVip({ address: '192.0.2.99', port: 99, proto: 'udp' });
  await sched.tick();
  assert.equal(dp.vipsCalls, 2);
  assert.match(frame(r), /192\.0\.2\.99:99\/udp/);
  // another writer drains a real: only the change log says so
  dp.setRealWeight({ address: '192.0.2.10', port: 80, proto: 'tcp' }, dp.vips()[0].reals[0].address, 0);
  const calls = dp.vipsCalls;
  await sched.tick();
  assert.equal(dp.vipsCalls, calls + 1);
  assert.match(frame(r), /192\.0\.2\.10:80\/tcp.*\s2\/3\s/);
  await sched.tick(3);
  assert.equal(dp.vipsCalls, calls + 1, 'and quiet again');
  // our own change through a form: one read, not a second one at the next sample
  await press(r, 'a');
  await type(r, '192.0.2.98');
  await press(r, KEY.tab);
  await type(r, '98');
  await press(r, KEY.enter, 'y');
  assert.match(frame(r), /192\.0\.2\.98:98\/tcp/);
  const after = dp.vipsCalls;
  await sched.tick(2);
  assert.equal(dp.vipsCalls, after);
  r.unmount();
});

test('dashboard: the log pane says the change log in the operator\'s words (as the CLI\'s change summaries), not JSON', async () => {
  const fake = demoFake();
  const at = new Date(fake.dp.clock).toISOString();
  // Entries as the control plane records them in the state directory's change log.
  fake.dp.log.push(
    { at, op: 'add-vip', target: '[2001:db8:f::10]:443/tcp', old: null, new: { key: { address: '2001:db8:f::10', port: 443, proto: 'tcp' }, flags: [], hash: 'maglev-v2', vipNum: 3, reals: [] } },
    { at, op: 'add-real', target: '[2001:db8:f::10]:443/tcp 2001:db8:e::1', old: null, new: { address: '2001:db8:e::1', weight: 1, index: 7 } },
    { at, op: 'set-weight', target: '[2001:db8:f::10]:443/tcp 2001:db8:e::1', old: 1, new: 0 },
  );
  const { r } = await setup({ fake, props: { width: 120 } });
  await press(r, 'l');
  const f = frame(r);
  assert.match(f, /add VIP \[2001:db8:f::10\]:443\/tcp \(vip_num 3, hash maglev-v2, flags none\)/);
  assert.match(f, /add real 2001:db8:e::1 \(weight 1, index 7\) to \[2001:db8:f::10\]:443\/tcp/);
  assert.match(f, /set weight of 2001:db8:e::1 in \[2001:db8:f::10\]:443\/tcp: 1 -> 0/);
  assert.doesNotMatch(f, /[{}"]/);
  r.unmount();
});
