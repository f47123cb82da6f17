import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inProcessHost } from '../../src/dataplane/worker/in-process.js';
import { App } from '../../src/ui/App.js';
import { FakeDataplane, FakeHost } from '../helpers/fake-dataplane.js';
import { fits, frame, KEY, ManualScheduler, mount, press, type } from './harness.js';

function start(host: FakeHost, props: { intf?: string; readOnly?: boolean } = {}) {
  const sched = new ManualScheduler();
  const quits: number[] = [];
  return mount(<App host={inProcessHost(host, { scheduler: sched })} width={80} height={24} noColor onQuit={() => quits.push(1)} {...props} />)
    .then((r) => ({ r, sched, quits }));
}

test('start: one pinned balancer opens straight into the dashboard', async () => {
  const dp = new FakeDataplane({ intf: 'kt-veth0' }).seed([{ vip: '192.0.2.10:80/tcp' }]);
  const host = new FakeHost({ balancers: [dp] });
  const { r } = await start(host);
  assert.deepEqual(host.opened, [{ intf: 'kt-veth0', readOnly: false }]);
  assert.match(frame(r), /192\.0\.2\.10:80\/tcp/);
  r.unmount();
});

test('start: several balancers -> pick one with j and Enter', async () => {
  const host = new FakeHost({ balancers: [new FakeDataplane({ intf: 'kt-veth0' }), new FakeDataplane({ intf: 'kt-veth2', owner: 'observed' })] });
  const { r } = await start(host);
  let f = frame(r);
  assert.match(f, /balancers on this box/);
  assert.match(f, /kt-veth2\s+42\s+native\s+observed/);
  await press(r, 'j', KEY.enter);
  assert.deepEqual(host.opened, [{ intf: 'kt-veth2', readOnly: false }]);
  f = frame(r);
  assert.match(f, /kt-veth2 native prog 42/);
  assert.match(f, /\[OBSERVING\]/);
  r.unmount();
});

test('start: no balancer -> interface picker with state, MAC, MTU, XDP and the default-route warning', async () => {
  const host = new FakeHost();
  const { r, quits } = await start(host);
  let f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /katran-tui · interfaces/);
  assert.match(f, /eth0\s+up\s+52:54:00:12:34:56\s+1500\s+-\s+! default route/);
  assert.match(f, /kt-veth1\s+DOWN\s+02:00:00:00:00:0b\s+1500\s+77 generic other \(xdp_other\)/);
  await press(r, 'j'); // eth0
  assert.match(frame(r), /eth0 carries the default route: attaching a balancer there can cut this box\s+off/);
  await press(r, 'q');
  assert.equal(quits.length, 1);
  r.unmount();
});

test('start: attach form validates, dry-runs, N writes nothing, y attaches and opens the dashboard', async () => {
  const host = new FakeHost();
  const { r } = await start(host);
  await press(r, 'j', 'j', KEY.enter); // kt-veth0
  let f = frame(r);
  assert.match(f, /Attach the balancer to kt-veth0/);
  await type(r, 'ff:ff:ff:ff:ff:ff');
  assert.match(frame(r), /multicast or broadcast/);
  for (let i = 0; i < 17; i++) await press(r, KEY.backspace);
  await type(r, '02:00:00:00:00:fe');
  await press(r, KEY.tab, KEY.right, KEY.right); // generic
  assert.match(frame(r), /\[generic\]/);
  await press(r, KEY.tab);
  await type(r, 'nope0');
  assert.match(frame(r), /no interface "nope0"/);
  for (let i = 0; i < 5; i++) await press(r, KEY.backspace);
  await type(r, 'kt-veth1');
  await press(r, KEY.enter);
  f = frame(r);
  assert.match(f, /load the bundled balancer and attach it to kt-veth0 \(generic\)/);
  assert.match(f, /healthchecker on kt-veth1/);
  await press(r, 'n');
  assert.equal(host.attaches.length, 0);
  assert.match(frame(r), /attach to kt-veth0: cancelled, nothing was written/);
  await press(r, KEY.enter);
  await type(r, '02:00:00:00:00:fe');
  await press(r, KEY.enter, 'y');
  assert.deepEqual(host.attaches, [{ intf: 'kt-veth0', defaultMac: '02:00:00:00:00:fe', mode: 'auto', hcIntf: undefined }]);
  assert.match(frame(r), /kt-veth0 native prog 42 · attached .* gw 02:00:00:00:00:fe/);
  r.unmount();
});

test('start: --intf opens that balancer; an unknown --intf says so; --readonly refuses to attach', async () => {
  const dp = new FakeDataplane({ intf: 'kt-veth0' });
  const host = new FakeHost({ balancers: [dp] });
  const a = await start(host, { intf: 'kt-veth0', readOnly: true });
  assert.deepEqual(host.opened, [{ intf: 'kt-veth0', readOnly: true }]);
  assert.match(frame(a.r), /\[READ-ONLY\]/);
  a.r.unmount();
  const b = await start(new FakeHost(), { intf: 'nope0' });
  assert.match(frame(b.r), /no interface nope0 on this box/);
  b.r.unmount();
  const c = await start(new FakeHost(), { intf: 'kt-veth0', readOnly: true });
  assert.match(frame(c.r), /no balancer on kt-veth0; attaching is refused: read-only \(--readonly\)/);
  c.r.unmount();
});

test('start: a balancer locked by another writer can be opened read-only with r', async () => {
  const host = new FakeHost({ balancers: [new FakeDataplane({ intf: 'kt-veth0' })], lockedBy: 4242 });
  const { r } = await start(host);
  assert.match(frame(r), /open kt-veth0: state directory \/var\/lib\/katran-tui is locked by pid 4242 \(open\s+read-only, or stop the other writer\) — r: open read-only/);
  await press(r, 'r');
  assert.deepEqual(host.opened, [{ intf: 'kt-veth0', readOnly: true }]);
  assert.match(frame(r), /\[READ-ONLY\]/);
  r.unmount();
});

test('start: attaching over another XDP program needs "replace" = yes (force); without it the error stays in the form', async () => {
  const host = new FakeHost();
  const { r } = await start(host);
  await press(r, 'G', KEY.enter); // kt-veth1: xdp_other (prog 77), not Katran
  let f = frame(r);
  assert.match(f, /Attach the balancer to kt-veth1/);
  assert.match(f, /has XDP prog 77 \(xdp_other\), not ours: replace=yes/);
  assert.match(f, /replace prog 77\s+\[no\]\s+yes/);
  await type(r, '02:00:00:00:00:fe');
  await press(r, KEY.enter);
  assert.match(frame(r), /already has XDP program 77 \(xdp_other\);[\s│]+replacing it needs force/);
  assert.equal(host.attaches.length, 0);
  await press(r, KEY.tab, KEY.tab, KEY.tab, 'y'); // -> replace: yes
  assert.match(frame(r), /replace prog 77\s+no\s+\[yes\]/);
  await press(r, KEY.enter);
  f = frame(r);
  assert.match(f, /Apply\? \[y\/N\]/);
  await press(r, 'y');
  assert.deepEqual(host.attaches, [{ intf: 'kt-veth1', defaultMac: '02:00:00:00:00:fe', mode: 'auto', hcIntf: undefined, force: true }]);
  assert.match(frame(r), /kt-veth1 native prog 42/);
  r.unmount();
});
