// The console never waits for the dataplane: it lives on another thread, every call is a promise.
// A slow first read shows "loading", a change shows "applying…" while keys and frames go on.
// Slowness is made with the in-process server's `before` hook (a call waits for a promise the
// test settles), never with clocks.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { act } from 'react';
import type { ChangeOptions } from '../../src/dataplane/types.js';
import { fakeBpfError, FakeDataplane, FakeHost } from '../helpers/fake-dataplane.js';
import { ERRNO } from '../../src/dataplane/errors.js';
import { frame, KEY, press, setup, type } from './harness.js';

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => { open = r; });
  return { p, open: async () => { await act(async () => { open(); await new Promise((r) => setTimeout(r, 5)); }); } };
}

test('async: opened on a balancer whose first sample and VIP list are still being read, the console says it is loading', async () => {
  const g = gate();
  const { r, dp } = await setup({ ticks: 0, serve: { before: (m) => (m === 'sample' || m === 'vips' ? g.p : undefined) } });
  let f = frame(r);
  assert.match(f, /loading: reading the VIPs from the balancer…/);
  assert.doesNotMatch(f, /no VIPs yet/);
  assert.match(f, /kt-veth0 native prog 42/, 'the header is drawn from the open');
  await press(r, '?'); // keys work meanwhile
  assert.match(frame(r), /keys/i);
  await press(r, KEY.esc);
  await g.open();
  f = frame(r);
  assert.doesNotMatch(f, /loading:/);
  assert.match(f, /192\.0\.2\.10:80\/tcp/);
  assert.match(f, /every 1s · sample 0\.0s ago/, 'the first sample is in');
  assert.equal(dp.vipsCalls, 1);
  r.unmount();
});

test('async: an empty balancer says "no VIPs yet" once its first sample is in', async () => {
  const dp = new FakeDataplane();
  const { r } = await setup({ fake: { host: new FakeHost({ balancers: [dp] }), dp } });
  assert.match(frame(r), /no VIPs yet: press a to add one/);
  r.unmount();
});

test('async: while a change is applied the footer says applying…, keys are echoed and the selection moves; then done', async () => {
  const g = gate();
  const slowWrite = (m: string, a: unknown[]) => (m === 'addVip' && !(a[1] as ChangeOptions | undefined)?.dryRun ? g.p : undefined);
  const { r, dp, sched } = await setup({ serve: { before: slowWrite } });
  await press(r, 'a');
  await type(r, '192.0.2.98'); await press(r, KEY.tab); await type(r, '81'); await press(r, KEY.enter);
  assert.match(frame(r), /Apply\? \[y\/N\]/);
  await press(r, 'y');
  let f = frame(r);
  assert.match(f, /applying add VIP…/);
  assert.doesNotMatch(f, /Add VIP/, 'the form is closed: the dashboard goes on');
  assert.equal(dp.vipMap.has('192.0.2.98:81/tcp'), false);

  // keys during the write: the selection moves, a second write waits its turn, the filter echoes
  const sel = () => frame(r).split('\n').find((l) => l.startsWith('> ')) ?? '';
  const before = sel();
  await press(r, 'j');
  assert.notEqual(sel(), before, 'j moved the selection');
  await press(r, 'm');
  assert.match(frame(r), /default MAC: wait, add VIP is still being applied/);
  await press(r, '/');
  await type(r, '192.0.2.1');
  assert.match(frame(r), /filter: 192\.0\.2\.1_/);
  await press(r, KEY.enter);
  await sched.tick(); // the timer fires; the sample waits behind the write on the dataplane's thread
  assert.match(frame(r), /applying add VIP…/);

  await g.open();
  f = frame(r);
  assert.ok(dp.vipMap.has('192.0.2.98:81/tcp'));
  assert.match(f, /done: add VIP 192\.0\.2\.98:81\/tcp/);
  assert.match(f, /VIPs 4\/512/);
  r.unmount();
});

test('async: a failing write shows the error once it is in, and the log pane keeps it', async () => {
  const g = gate();
  const { r, dp } = await setup({ serve: { before: (m, a) => (m === 'setDefaultMac' && !(a[1] as ChangeOptions | undefined)?.dryRun ? g.p : undefined) } });
  await press(r, 'm');
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '02:00:00:00:00:99');
  await press(r, KEY.enter, 'y');
  assert.match(frame(r), /applying set default MAC…/);
  dp.failNext = fakeBpfError('update', 'ctl_array', ERRNO.EACCES, 'Permission denied');
  await g.open();
  await press(r, 'l');
  const f = frame(r);
  assert.match(f, /set default MAC: update ctl_array: Permission denied/);
  assert.equal(dp.defaultMac, '02:00:00:00:00:01');
  r.unmount();
});

test('async: the detach form waits in the form (applying…) and keys typed meanwhile wait for the start screen', async () => {
  const g = gate();
  const { r, dp } = await setup({ serve: { before: (m, a) => (m === 'detach' && !(a[0] as ChangeOptions | undefined)?.dryRun ? g.p : undefined) } });
  await press(r, 'D');
  await type(r, 'kt-veth0');
  await press(r, KEY.enter, 'y');
  assert.match(frame(r), /applying detach…/);
  await press(r, 'i');
  assert.equal(dp.detached, false);
  await g.open();
  assert.equal(dp.detached, true);
  assert.match(frame(r), /katran-tui · interfaces/, 'the i typed during the detach reached the start screen');
  r.unmount();
});
