// The interface under the console's balancer is deleted, comes back, is renamed (issue 7): the
// header badge, the banner line and the log say so; R re-attaches after y (dry run first, N writes
// nothing). Against the fake dataplane.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fits, frame, KEY, press, rawFrame, setup, stripAnsi } from './harness.js';

test('interface deleted: red INTERFACE GONE badge and a line naming it and its ifindex; rates drop to 0; R has nothing to do yet', async () => {
  const { r, dp, sched } = await setup({ props: { noColor: false } });
  assert.doesNotMatch(frame(r), /INTERFACE GONE/);
  dp.deleteInterface();
  await sched.tick();
  await sched.tick();
  const raw = rawFrame(r);
  const f = stripAnsi(raw);
  assert.match(f, /\[INTERFACE GONE\]/);
  assert.match(raw, /\x1b\[31m[^\n]*INTERFACE GONE: kt-veth0 \(ifindex 7\) was deleted/, 'the banner is red');
  assert.match(f, /TOTAL 0\/s/);
  assert.match(f, /ERROR interface kt-veth0 \(ifindex 7\) deleted: XDP attachment gone/, 'logged');
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  await press(r, 'R');
  assert.match(frame(r), /re-attach: nothing to do: interface kt-veth0 \(ifindex 7\) is gone/);
  assert.equal(dp.reattachCalls, 0);
  r.unmount();
});

test('interface back: the banner offers R; R shows the dry run, N writes nothing, y re-attaches with the same maps', async () => {
  const { r, dp, sched } = await setup();
  dp.deleteInterface();
  await sched.tick();
  dp.recreateInterface(9);
  await sched.tick();
  let f = frame(r);
  assert.match(f, /INTERFACE GONE: kt-veth0 is back as ifindex 9 \(was 7\): press R to re-attach/);
  assert.match(f, /ERROR kt-veth0 is back as ifindex 9 \(was 7\): R re-attaches/, 'logged');
  const writes = dp.writes;
  await press(r, 'R');
  f = frame(r);
  assert.match(f, /Re-attach the balancer to kt-veth0/);
  assert.match(f, /attach the pinned program 42 to kt-veth0 \(ifindex 9\) with the same maps/);
  assert.match(f, /3 VIP\(s\) in the maps go on being balanced there/);
  await press(r, 'n');
  assert.match(frame(r), /cancelled: nothing was written/);
  assert.equal(dp.ifState.status, 'gone');
  await press(r, 'R', 'y');
  assert.equal(dp.ifState.status, 'ok');
  assert.equal(dp.ifState.ifindex, 9);
  assert.ok(dp.writes > writes);
  await sched.tick();
  f = frame(r);
  assert.doesNotMatch(f, /INTERFACE GONE/);
  assert.match(f, /done: re-attached the pinned program 42 to kt-veth0 \(ifindex 9\)/);
  assert.match(f, /192\.0\.2\.10:80\/tcp/, 'the VIPs are still there');
  assert.match(f, /:\d\d kt-veth0 \(ifindex 9\): balancer attached/);
  assert.doesNotMatch(f, /TOTAL 0\/s/, 'forwarding again');
  r.unmount();
});

test('R is refused read-only; renamed: a RENAMED badge and the new name in the header, the console goes on', async () => {
  const ro = await setup({ props: { readOnly: true } });
  ro.dp.readOnly = true;
  ro.dp.deleteInterface().recreateInterface(9);
  await ro.sched.tick();
  await press(ro.r, 'R');
  assert.match(frame(ro.r), /re-attach: refused, read-only/);
  assert.equal(ro.dp.reattachCalls, 0);
  ro.r.unmount();

  const { r, dp, sched } = await setup();
  dp.renameInterface('lb0');
  await sched.tick();
  const f = frame(r);
  assert.match(f, /\[RENAMED kt-veth0 -> lb0\]/);
  assert.match(f, /renamed kt-veth0 -> lb0 \(ifindex 7\): still attached and forwarding/);
  assert.match(f, /^lb0 native prog 42/m, 'the header follows the new name');
  assert.doesNotMatch(f, /TOTAL 0\/s/, 'still forwarding');
  await press(r, KEY.enter);
  r.unmount();
});
