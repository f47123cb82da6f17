import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoFake } from '../helpers/fake-dataplane.js';
import { frame, KEY, press, setup } from './harness.js';

test('--readonly: READ-ONLY badge, every write key refused with the reason, nothing written', async () => {
  const { r, dp } = await setup({ fake: demoFake({ readOnly: true }) });
  assert.match(frame(r), /\[READ-ONLY\]/);
  for (const [k, what] of [['a', 'add VIP'], ['d', 'delete VIP'], ['m', 'default MAC'], ['D', 'detach']] as const) {
    await press(r, k);
    const f = frame(r);
    assert.match(f, new RegExp(`${what}: refused, read-only \\(--readonly\\)`));
    assert.doesNotMatch(f, /Apply\?|Enter: review/);
  }
  await press(r, KEY.enter); // detail
  for (const [k, what] of [['a', 'add real'], ['w', 'change weight'], ['n', 'drain'], ['x', 'remove real']] as const) {
    await press(r, k);
    assert.match(frame(r), new RegExp(`${what}: refused, read-only`));
  }
  assert.equal(dp.writes, 0);
  assert.equal(dp.log.length, 0);
  r.unmount();
});

test('observe mode: OBSERVING + READ-ONLY badges and the refusal names the reason', async () => {
  const { r, dp } = await setup({ fake: demoFake({ owner: 'observed' }) });
  const f = frame(r);
  assert.match(f, /\[OBSERVING\]\[READ-ONLY\]/);
  assert.match(f, /loaded 2h00m/);
  await press(r, 'a');
  assert.match(frame(r), /add VIP: refused, read-only \(observing a balancer katran-tui does not own\)/);
  assert.equal(dp.writes, 0);
  r.unmount();
});

test('a ReadOnlyError raised by the dataplane itself is shown in the form', async () => {
  const { r, dp } = await setup();
  await press(r, 'm');
  dp.readOnly = true; // e.g. another writer took over between opening the form and the dry run
  await press(r, KEY.enter);
  assert.match(frame(r), /error: set default MAC: refused: --readonly/);
  assert.equal(dp.defaultMac, '02:00:00:00:00:01');
  r.unmount();
});
