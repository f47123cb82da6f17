import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeBpfError } from '../helpers/fake-dataplane.js';
import { ERRNO } from '../../src/dataplane/errors.js';
import { frame, KEY, press, setup, type } from './harness.js';

test('add VIP: validation as you type, dry-run summary, N writes nothing, y applies', async () => {
  const { r, dp } = await setup();
  await press(r, 'a');
  assert.match(frame(r), /Add VIP/);
  await type(r, '192.0.2.300');
  assert.match(frame(r), /bad VIP address "192\.0\.2\.300"/);
  await press(r, KEY.enter); // invalid: no dry run
  assert.equal(dp.writes, 0);
  assert.doesNotMatch(frame(r), /Apply\?/);
  await press(r, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, '50');
  assert.match(frame(r), /address\s+192\.0\.2\.50_? ✓/);
  await press(r, KEY.tab);
  await type(r, '99999');
  assert.match(frame(r), /bad port "99999": expected a number from 0 to 65535/);
  await press(r, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, '8080');
  await press(r, KEY.tab, KEY.right); // protocol -> udp
  assert.match(frame(r), /\[udp\]/);
  await press(r, KEY.tab);
  await type(r, 'quic');
  assert.match(frame(r), /VIP flag quic not implemented by this balancer's program/);
  await press(r, KEY.backspace, KEY.backspace, KEY.backspace, KEY.backspace);
  await type(r, 'bogus');
  assert.match(frame(r), /unknown VIP flag "bogus"/);
  for (let i = 0; i < 5; i++) await press(r, KEY.backspace);
  await type(r, 'no-sport');
  await press(r, KEY.enter);
  let f = frame(r);
  assert.match(f, /This will:/);
  assert.match(f, /add VIP 192\.0\.2\.50:8080\/udp flags no-sport hash maglev/);
  assert.match(f, /Apply\? \[y\/N\]/);
  assert.equal(dp.vipMap.size, 3, 'dry run wrote nothing');
  await press(r, 'n');
  assert.match(frame(r), /cancelled: nothing was written/);
  assert.equal(dp.vipMap.size, 3);
  assert.equal(dp.log.length, 0);

  await press(r, 'a');
  await type(r, '192.0.2.50'); await press(r, KEY.tab); await type(r, '8080'); await press(r, KEY.enter, 'y');
  f = frame(r);
  assert.ok(dp.vipMap.has('192.0.2.50:8080/tcp'));
  assert.deepEqual(dp.vipMap.get('192.0.2.50:8080/tcp')?.flags, []);
  assert.match(f, /done: add VIP 192\.0\.2\.50:8080\/tcp/);
  assert.match(f, /VIPs 4\/512/);
  assert.match(f, /192\.0\.2\.50:8080\/tcp/);
  r.unmount();
});

test('add VIP: a duplicate is refused by the dry run, shown in the form; Esc backs out', async () => {
  const { r, dp } = await setup();
  await press(r, 'a');
  await type(r, '192.0.2.10'); await press(r, KEY.tab); await type(r, '80'); await press(r, KEY.enter);
  assert.match(frame(r), /error: add VIP: add VIP 192\.0\.2\.10:80\/tcp: already exists/);
  assert.doesNotMatch(frame(r), /Apply\?/);
  await press(r, KEY.esc);
  assert.doesNotMatch(frame(r), /Add VIP/);
  assert.equal(dp.vipMap.size, 3);
  r.unmount();
});

test('delete VIP: y/N on the selected VIP', async () => {
  const { r, dp } = await setup();
  await press(r, '1'); // by VIP: 192.0.2.10 first
  await press(r, 'd');
  assert.match(frame(r), /Delete VIP 192\.0\.2\.10:80\/tcp/);
  assert.match(frame(r), /remove VIP 192\.0\.2\.10:80\/tcp and its 3 real\(s\)/);
  await press(r, 'N');
  assert.equal(dp.vipMap.size, 3);
  await press(r, 'd', 'y');
  assert.equal(dp.vipMap.has('192.0.2.10:80/tcp'), false);
  assert.doesNotMatch(frame(r), /^[> ] 192\.0\.2\.10:80/m, 'gone from the table');
  assert.match(frame(r), /VIPs 2\/512/);
  assert.match(frame(r), /cancelled, nothing written/, 'the N is in the log');
  assert.match(frame(r), /WARN traffic to 192\.0\.2\.10:80\/tcp will be passed to the host/);
  r.unmount();
});

test('default MAC: multicast refused as you type, valid MAC applied after y', async () => {
  const { r, dp } = await setup();
  await press(r, 'm');
  assert.match(frame(r), /now 02:00:00:00:00:01/);
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '01:00:5e:00:00:01');
  assert.match(frame(r), /bad MAC "01:00:5e:00:00:01": a multicast or broadcast address cannot be/);
  await press(r, KEY.enter);
  assert.doesNotMatch(frame(r), /Apply\?/);
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '58:E4:34:56:46:E0');
  await press(r, KEY.enter);
  assert.match(frame(r), /default gateway MAC: 02:00:00:00:00:01 -> 58:e4:34:56:46:e0/);
  await press(r, 'y');
  assert.equal(dp.defaultMac, '58:e4:34:56:46:e0');
  assert.match(frame(r), /gw 58:e4:34:56:46:e0/);
  r.unmount();
});

test('a failing write is shown and nothing changes', async () => {
  const { r, dp } = await setup();
  await press(r, 'm');
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '02:00:00:00:00:99');
  await press(r, KEY.enter);
  dp.failNext = fakeBpfError('update', 'ctl_array', ERRNO.EACCES, 'Permission denied');
  await press(r, 'y');
  const f = frame(r);
  assert.match(f, /error: set default MAC: update ctl_array: Permission denied/);
  assert.equal(dp.defaultMac, '02:00:00:00:00:01');
  r.unmount();
});

test('detach: needs the interface name, then y detaches and returns to the start screen', async () => {
  const { r, dp } = await setup();
  await press(r, 'D');
  assert.match(frame(r), /Detach the balancer from kt-veth0/);
  await type(r, 'eth0');
  assert.match(frame(r), /type kt-veth0 to confirm/);
  await press(r, KEY.enter);
  assert.equal(dp.detachCalls, 0);
  for (let i = 0; i < 4; i++) await press(r, KEY.backspace);
  await type(r, 'kt-veth0');
  await press(r, KEY.enter);
  assert.match(frame(r), /detach program 42 from kt-veth0/);
  await press(r, 'y');
  assert.equal(dp.detached, true);
  assert.equal(dp.closed, true);
  assert.match(frame(r), /katran-tui · interfaces/);
  r.unmount();
});

test('add VIP: the hash field preselects the default every entry point uses (maglev-v2), and the VIP gets it', async () => {
  const { r, dp } = await setup();
  await press(r, 'a');
  assert.match(frame(r), /hash\s+ maglev  \[maglev-v2\]/);
  await type(r, '192.0.2.60'); await press(r, KEY.tab); await type(r, '80'); await press(r, KEY.enter, 'y');
  assert.equal(dp.vipMap.get('192.0.2.60:80/tcp')?.hash, 'maglev-v2');
  r.unmount();
});
