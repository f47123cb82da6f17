// A change a killed process left unfinished (issue 15): the read-only console shows a red
// CHANGE PENDING badge and banner line with the message, and logs it; once another process has
// finished it, both go and the log says so. A writer console that recovered at open says so in the
// banner line and the log. Against the fake dataplane (info().pendingChange / info().recovered).
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoFake } from '../helpers/fake-dataplane.js';
import { fits, frame, rawFrame, setup, stripAnsi } from './harness.js';

const MESSAGE = 'an interrupted change is pending: set-weight 192.0.2.1:80/tcp 198.51.100.7, started 2026-12-01T20:00:00.000Z by pid 4242, which died before finishing it (the kernel may hold it half-applied); run `katran-tui recover` or any change to finish it';

test('read-only console with a pending change: red CHANGE PENDING badge and banner, logged; gone once another process finished it', async () => {
  const fake = demoFake({ readOnly: true });
  fake.dp.pendingChange = { op: 'set-weight', target: '192.0.2.1:80/tcp 198.51.100.7', at: '2026-12-01T20:00:00.000Z', pid: 4242, message: MESSAGE };
  const { r, dp, sched } = await setup({ fake, props: { noColor: false } });
  const raw = rawFrame(r);
  const f = stripAnsi(raw);
  assert.match(f, /\[CHANGE PENDING\]/);
  assert.match(raw, /\x1b\[31m[^\n]*CHANGE PENDING: an interrupted change is pending: set-weight 192\.0\.2\.1:80\/tcp/, 'the banner line is red');
  assert.match(f, /ERROR an interrupted change is pending: set-weight/, 'logged');
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  dp.pendingChange = null; // a writer elsewhere finished it
  await sched.tick();
  await sched.tick();
  const after = frame(r);
  assert.doesNotMatch(after, /CHANGE PENDING/);
  assert.match(after, /no longer pending \(another process finished or undid it\): set-weight/);
  r.unmount();
});

test('a writer console that finished an interrupted change at open says so in the banner line and the log', async () => {
  const fake = demoFake();
  fake.dp.recovered = ['an interrupted change add-real 192.0.2.1:80/tcp 198.51.100.61 (started 2026-12-01T20:00:00.000Z by pid 4242) was finished: the kernel and the state file now hold it'];
  const { r } = await setup({ fake });
  const f = frame(r);
  assert.match(f, /RECOVERED AT OPEN: an interrupted change add-real 192\.0\.2\.1:80\/tcp/);
  assert.match(f, /recovered at open: an interrupted change add-real/);
  assert.doesNotMatch(f, /CHANGE PENDING/);
  r.unmount();
});
