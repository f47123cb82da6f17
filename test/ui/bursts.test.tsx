// Keys that arrive together (a paste, a laggy SSH link) are written to stdin in one piece: every
// key must act on the state the previous key left, in the forms and on every screen.
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeDataplane, FakeHost } from '../helpers/fake-dataplane.js';
import { burst, frame, KEY, setup } from './harness.js';

test('bursts: the Add VIP form gets 192.0.2.98, Tab, 81 in one write as address and port; Enter y applies', async () => {
  const { r, dp } = await setup();
  await burst(r, 'a', '192.0.2.98', KEY.tab, '81');
  const f = frame(r);
  assert.match(f, /address\s+192\.0\.2\.98 ✓/);
  assert.match(f, /port\s+81_? ✓/);
  await burst(r, KEY.enter, 'y');
  assert.ok(dp.vipMap.has('192.0.2.98:81/tcp'), [...dp.vipMap.keys()].join(' '));
  assert.match(frame(r), /done: add VIP 192\.0\.2\.98:81\/tcp/);
  r.unmount();
});

test('bursts: backspaces and arrows inside a burst edit what the keys before them typed', async () => {
  const { r, dp } = await setup();
  await burst(r, 'a', '192.0.2.999', KEY.backspace, KEY.backspace, '7', KEY.down, '8080', KEY.down, KEY.right, KEY.enter);
  const f = frame(r);
  assert.match(f, /add VIP 192\.0\.2\.97:8080\/udp/, f);
  await burst(r, 'n');
  assert.equal(dp.vipMap.has('192.0.2.97:8080/udp'), false);
  r.unmount();
});

test('bursts: dashboard keys in one write move, sort and open the detail in order', async () => {
  const { r } = await setup();
  // sort by VIP ascending (1, then reverse twice = ascending), down twice, Enter: the third VIP's detail
  await burst(r, '1', 'jj', KEY.enter);
  assert.match(frame(r), /REAL\s+WEIGHT/);
  assert.match(frame(r), /^\[2001:db8::10\]:53\/udp/m);
  // Esc alone arrives a tick late: back on the dashboard, then / and a filter typed in one write
  await burst(r, KEY.esc);
  await burst(r, '/', '192.0.2.11', KEY.enter);
  assert.match(frame(r), /filter "192\.0\.2\.11" \(1\/3\)/);
  r.unmount();
});

test('bursts: the detail form (add real) and the start screen take bursts too', async () => {
  const { r, dp } = await setup();
  await burst(r, '1', KEY.enter, 'a', '198.51.100.77', KEY.tab, KEY.backspace, '5', KEY.enter, 'y');
  const vip = dp.vips().find((v) => v.reals.some((x) => x.address === '198.51.100.77'));
  assert.equal(vip?.reals.find((x) => x.address === '198.51.100.77')?.weight, 5);
  r.unmount();

  const host = new FakeHost({ balancers: [new FakeDataplane({ intf: 'kt-veth0' }), new FakeDataplane({ intf: 'kt-veth2' })] });
  const s = await setup({ fake: { host, dp: new FakeDataplane() }, ticks: 0 });
  await burst(s.r, 'j', KEY.enter);
  assert.deepEqual(host.opened, [{ intf: 'kt-veth2', readOnly: false }]);
  assert.match(frame(s.r), /kt-veth2 native prog 42/);
  s.r.unmount();
});
