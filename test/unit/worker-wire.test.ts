// The boundary between the console and the dataplane's thread: errors keep their class and fields
// (the console matches them with instanceof), and the async client over a Host answers as the Host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/dataplane/abi.js';
import { ChangeError } from '../../src/dataplane/control/reconciler.js';
import { BpfError } from '../../src/dataplane/kernel/libbpf.js';
import { LockedError, ReadOnlyError } from '../../src/dataplane/types.js';
import { DATAPLANE_ERROR_CLASSES, MapFullError } from '../../src/dataplane/errors.js';
import { inProcessHost } from '../../src/dataplane/worker/in-process.js';
import { fromWire, toWire } from '../../src/dataplane/worker/wire.js';
import { demoFake, FakeDataplane, FakeHost } from '../helpers/fake-dataplane.js';

const across = (e: unknown) => fromWire(structuredClone(toWire(e)));

test('worker wire: each dataplane error class is rebuilt as itself, with its message and fields', () => {
  const ro = across(new ReadOnlyError('--readonly'));
  assert.ok(ro instanceof ReadOnlyError);
  assert.equal(ro.message, 'refused: --readonly');
  assert.equal(ro.name, 'ReadOnlyError');

  const locked = across(new LockedError(4242, '/tmp/state'));
  assert.ok(locked instanceof LockedError);
  assert.equal(locked.pid, 4242);
  assert.match(locked.message, /locked by pid 4242/);

  const bpf = across(new BpfError('update', 'ctl_array', 1));
  assert.ok(bpf instanceof BpfError);
  assert.deepEqual([bpf.op, bpf.object, bpf.errno, bpf.code], ['update', 'ctl_array', 1, 'EPERM']);

  const change = across(new ChangeError('add VIP: map full', true, new BpfError('update', 'vip_map', 7)));
  assert.ok(change instanceof ChangeError);
  assert.equal(change.rolledBack, true);
  assert.ok(change.cause instanceof BpfError, 'the cause keeps its class too');

  assert.ok(across(new InputError('bad port "x"')) instanceof InputError);
  const plain = across('a thrown string');
  assert.ok(plain instanceof Error);
  assert.equal(plain.message, 'a thrown string');
});

test('worker wire: every class of errors.ts is registered, so each arrives as itself with op and object', () => {
  for (const C of DATAPLANE_ERROR_CLASSES) {
    const e = Object.assign(Object.create(C.prototype) as Error, { name: C.name, message: `${C.name} sample`, op: 'op', object: 'obj' });
    const back = across(e) as Error & { op?: string; object?: string };
    assert.ok(back instanceof C, `${C.name} rebuilt as ${Object.getPrototypeOf(back)?.constructor?.name}`);
    assert.deepEqual([back.name, back.message, back.op, back.object], [C.name, `${C.name} sample`, 'op', 'obj']);
  }
  const full = across(new MapFullError('add VIP', '192.0.2.1:80/tcp', 'map full (512)', { maxEntries: 512, message: 'add VIP: map full (512)' }));
  assert.ok(full instanceof MapFullError && full.maxEntries === 512 && full.object === '192.0.2.1:80/tcp');
});

test('worker wire: the async client over a Host rejects with the dataplane\'s own classes and answers with its data', async () => {
  const { host, dp } = demoFake();
  const ah = inProcessHost(host);
  const adp = await ah.open('kt-veth0');
  assert.equal(adp.lastInfo.intf, 'kt-veth0');
  assert.deepEqual((await adp.vips()).map((v) => v.id), dp.vips().map((v) => v.id));
  await assert.rejects(adp.addVip({ address: '192.0.2.10', port: 80, proto: 'tcp' }), (e: Error) => e instanceof InputError && /already exists/.test(e.message));
  const r = await adp.addVip({ address: '192.0.2.77', port: 80, proto: 'tcp' }, { dryRun: true });
  assert.equal(r.applied, false);
  assert.equal(dp.vipMap.has('192.0.2.77:80/tcp'), false);
  await adp.close();
  assert.equal(dp.closed, true);
  await assert.rejects(adp.vips(), /closed/);

  const ro = await inProcessHost(new FakeHost({ balancers: [new FakeDataplane({ readOnly: true })] })).open('kt-veth0');
  await assert.rejects(ro.setDefaultMac('02:00:00:00:00:99'), (e: Error) => e instanceof ReadOnlyError);
  await assert.rejects(inProcessHost(new FakeHost({ balancers: [new FakeDataplane()], lockedBy: 77 })).open('kt-veth0'),
    (e: Error) => e instanceof LockedError && e.pid === 77);
  await assert.rejects(ah.open('nope0'), (e: Error) => e instanceof InputError);
  await ah.close();
});
