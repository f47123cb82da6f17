// The why panel (w) and the header's top reason, against the fake, whose reasons follow its own
// traffic: the demo's trickle (runts, non-IP, no VIP), a VIP without reals (slot_empty), no default
// MAC (zero_mac), VIP traffic tagged with a VLAN no mapping parses (vlan_unparsed), an object
// without kt_reasons (upstream Katran).
import './env.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DROP_REASONS, PASS_REASONS } from '../../src/dataplane/abi.js';
import { demoFake } from '../helpers/fake-dataplane.js';
import { fits, frame, press, rawFrame, setup, stripAnsi } from './harness.js';

const RED = '\x1b[31m';
const DIM = '\x1b[90m';
/** The line of the frame that contains `re` (the first one). */
function lineOf(f: string, re: RegExp): string {
  return f.split('\n').find((l) => re.test(stripAnsi(l))) ?? '';
}

test('fake: the reasons add up to DROP and PASS in every sample (the contract the panel relies on)', () => {
  const { dp } = demoFake();
  dp.seed([{ vip: '192.0.2.99:80/tcp' }]);
  dp.vlanRates = { 575: { passed: 40 } };
  for (let i = 0; i < 4; i++) {
    if (i === 2) { dp.defaultMac = null; dp.dropSpike = 7; }
    const s = dp.sample();
    const drop = s.reasons!.drop.reduce((a, r) => a + r.pps, 0);
    const pass = s.reasons!.pass.reduce((a, r) => a + r.pps, 0);
    assert.equal(drop, s.global.xdpDrop.r1, `sample ${i}: drop reasons = DROP`);
    assert.equal(pass, s.global.xdpPass.r1, `sample ${i}: pass reasons = PASS`);
    assert.equal(s.reasons!.drop.reduce((a, r) => a + r.packets, 0), s.global.xdpDrop.v1, `sample ${i}: totals`);
    assert.equal(s.global.xdpTotal.r1, s.global.xdpTx.r1 + drop + pass);
  }
});

test('w: the why panel lists every reason with rate and total, moving ones first with advice, zeros folded; w again closes', async () => {
  const { r } = await setup({ ticks: 3 });
  assert.doesNotMatch(frame(r), /what to check/);
  assert.match(frame(r), /\? help {2}w why {2}\/ filter/, 'the footer lists w');
  await press(r, 'w');
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f, /WHY\s+reason\s+RATE\/s\s+TOTAL {2}what to check$/m);
  const lines = f.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  // the demo: 1 runt/s dropped, 3 non-IP/s and 2/s to no VIP passed, over 3 intervals of 1 s
  assert.match(f, /DROP frame shorter than Ethernet\s+1\s+3$/m);
  assert.match(f, /PASS not IP\s+3\s+9$/m);
  assert.match(f, /PASS no VIP matched\s+2\s+6$/m);
  assert.ok(at(/frame shorter than Ethernet/) < at(/not IP/) && at(/not IP/) < at(/no VIP matched/), 'drops first, then passes by rate');
  assert.match(lines[at(/frame shorter than Ethernet/) + 1], /^ {9}runt frames: a broken sender or a capture replay/, 'the advice line under a moving reason');
  assert.match(lines[at(/not IP\s/) + 1], /ARP, LLDP and other non-IP frames go to the kernel: normal/);
  // the reasons that never counted, each by name
  const fold = lines.find((l) => /… \d+ more at 0:/.test(l)) ?? '';
  assert.match(fold, new RegExp(`… ${DROP_REASONS.length + PASS_REASONS.length - 3} more at 0: ipv4_options ipv4_fragment`));
  assert.doesNotMatch(f, /192\.0\.2\.10:80\/tcp/, 'the panel replaced the VIP table');
  await press(r, 'w');
  assert.match(frame(r), /192\.0\.2\.10:80\/tcp/);
  assert.doesNotMatch(frame(r), /what to check/);
  await press(r, '?');
  assert.match(frame(r), /w\s+why: drop \/ pass reasons/, 'the help lists w');
  r.unmount();
});

test('why: default MAC unset: zero_mac drops in red on top, the header names it first; a quiet row is dimmed', async () => {
  const { r, dp, sched } = await setup({ ticks: 3, props: { noColor: false } });
  await press(r, 'w');
  dp.defaultMac = null;
  await sched.tick();
  const raw = rawFrame(r);
  const f = stripAnsi(raw);
  // 4th sample: 100+0, 200+0, 300+0 pps of VIP traffic, every packet dropped as zero_mac
  assert.match(f, /\[?DROP 600 pps: default MAC unset · every/, 'the header names the top drop reason first');
  assert.match(lineOf(raw, /DROP 600 pps/), new RegExp(`\\x1b\\[31m[^\\n]*DROP 600 pps`), 'in red (DROP is most of TOTAL)');
  const rows = f.split('\n').filter((l) => /^ {2}(DROP|PASS) /.test(l));
  assert.match(rows[0], /DROP default MAC unset\s+600\s+600$/, 'the moving drop reason on top');
  assert.ok(lineOf(raw, /DROP default MAC unset/).includes(RED), 'a moving drop reason is red');
  assert.match(f, /no gateway MAC to send to: katran-tui mac set MAC/);
  assert.ok(!lineOf(raw, /PASS not IP/).includes(RED), 'a pass reason is not red');
  // the MAC is back: zero_mac stops moving, keeps its total, dimmed below the moving ones
  dp.defaultMac = '02:00:00:00:00:01';
  await sched.tick();
  const raw2 = rawFrame(r);
  const quiet = lineOf(raw2, /DROP default MAC unset/);
  assert.match(stripAnsi(quiet), /default MAC unset\s+0\s+600 {2}no gateway MAC/, 'rate 0, total kept, advice inline');
  assert.ok(quiet.includes(DIM) && !quiet.includes(RED), 'quiet: dimmed, not red');
  const rows2 = stripAnsi(raw2).split('\n').filter((l) => /^ {2}(DROP|PASS) /.test(l));
  assert.ok(rows2.findIndex((l) => /default MAC unset/.test(l)) > rows2.findIndex((l) => /no VIP matched/.test(l)), 'below the moving reasons');
  assert.doesNotMatch(stripAnsi(raw2), /pps: default MAC unset/, 'the header no longer names it');
  r.unmount();
});

test('why: a VIP whose ring is empty (no reals): slot_empty named in the header and the panel', async () => {
  const fake = demoFake();
  fake.dp.seed([{ vip: '192.0.2.99:80/tcp' }]);
  const { r } = await setup({ ticks: 3, fake });
  const f0 = frame(r);
  // 3rd sample: vipNum 3 -> 400 + 30 pps (410 and 420 before), all dropped for lack of a real
  assert.match(f0, /DROP 431\/s/);
  assert.match(f0, /DROP 430 pps: ring slot empty · every/);
  await press(r, 'w');
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  assert.match(f.split('\n').filter((l) => /^ {2}(DROP|PASS) /.test(l))[0], /DROP ring slot empty\s+430\s+1\.26k$/);
  assert.match(f, /the VIP has no real with weight > 0: katran-tui real add VIP REAL/);
  r.unmount();
});

test('why: VIP traffic tagged with a VLAN nothing parses: vlan_unparsed with the VLAN and the command, named in the header', async () => {
  const fake = demoFake();
  fake.dp.vlanRates = { 575: { passed: 1200 }, 573: { balanced: 50 } };
  fake.dp.vlanTable.rows = [{ ingress: '573', egress: '573', mac: null }];
  const { r } = await setup({ ticks: 3, fake });
  assert.match(frame(r), /PASS 1\.2k pps: tagged frames passed · /);
  await press(r, 'w');
  const f = frame(r);
  assert.ok(fits(f, 80, 24).ok, fits(f, 80, 24).why);
  const lines = f.split('\n');
  const i = lines.findIndex((l) => /PASS tagged frames passed\s+1\.2k\s+3\.6k$/.test(l));
  assert.ok(i >= 0, f);
  assert.match(lines[i + 1], /VIP traffic arrives on a VLAN the balancer does not parse/);
  assert.match(lines[i + 2], /^ {9}VIP traffic on VLAN 575: 1\.2k pps — katran-tui vlan add 575$/);
  assert.doesNotMatch(f, /VLAN 573/, 'a configured VLAN is not listed');
  r.unmount();
});

test('why: an object without kt_reasons: "not available", and the header names no reason', async () => {
  const fake = demoFake({ reasons: false });
  fake.dp.dropSpike = 500;
  const { r } = await setup({ ticks: 3, fake });
  assert.match(frame(r), /DROP 501\/s/);
  assert.doesNotMatch(frame(r), /pps: /, 'no reason guessed in the header');
  await press(r, 'w');
  const f = frame(r);
  assert.match(f, /reasons: not available for this program/);
  assert.doesNotMatch(f, /^ {2}DROP /m);
  r.unmount();
});

test('why: a trickle of drops is named at the end of the header line, a spike first', async () => {
  const { r, dp, sched } = await setup({ ticks: 3, props: { width: 160 } });
  assert.match(frame(r), /reals 6\/4096 · DROP 1 pps: frame shorter than Ethernet/);
  dp.dropSpike = 500;
  await sched.tick();
  assert.match(frame(r), /DROP 500 pps: IPv4 fragment · every/);
  r.unmount();
});
