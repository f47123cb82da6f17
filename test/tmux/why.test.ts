// Issue 14 in the real terminal: bin/katran-tui in tmux (80x24, its own tmux server) on a real
// balancer attached to a lab interface, traffic from the lab namespace.
// 1. The why panel and the header name the reason within one refresh: the first screen whose XDP
//    line shows DROP moving names the drop reason too (a VIP whose ring is empty: slot_empty; the
//    default MAC unset behind the console's back: zero_mac), and VIP traffic tagged with a VLAN no
//    mapping parses (the lab's switch tags it) shows as "tagged frames passed", with VLAN 575 and the
//    command that adds it.
// 2. Run-time statistics (t): run_cnt moves while the console holds the bpf_enable_stats fd (its
//    /proc/PID/fd shows anon_inode:bpf-stats), and stops after q and after kill -9 of the console.
// KATRAN_TUI_TMUX_DEBUG=1 prints every pane the test waited for.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { createHost } from '../../src/dataplane/balancer/host.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { closeFd, progFdById, progRunStats, TestRunner, xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import type { Lab, LabOptions, RunningTraffic } from '../../src/lab/lab.js';
import { v4Frame } from '../bpf/control-helpers.js';
import { labId, newLab, requireLab, setMac } from '../e2e/fixture.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { hasTmux, procState, Tmux } from '../helpers/tmux.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VIP = { address: '192.0.2.60', port: 53, proto: 'udp' as const };
const EMPTY = { address: '192.0.2.61', port: 53, proto: 'udp' as const }; // no reals: an empty ring
const REAL = '198.51.100.60';

/** A rate on the XDP actions line ("DROP 1.2k/s" -> 1200), or null. */
function actionRate(pane: string, name: 'DROP' | 'PASS'): number | null {
  const line = pane.split('\n').find((l) => l.startsWith('XDP TOTAL')) ?? '';
  const m = new RegExp(`${name} ([\\d.]+)([kMG]?)/s`).exec(line);
  return m ? Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]] : null;
}

/** The header's second line (badges, the reason named while DROP moves, interval, capacity). */
function headerLine(pane: string): string {
  return pane.split('\n')[1] ?? '';
}

interface Rig {
  lab: Lab;
  tmux: Tmux;
  progId: number;
  cmd: string;
  conf: string;
  pins: string;
  stateDir: string;
  tmuxDir: string;
}

/** A lab, the balancer attached with VIP (one real) and EMPTY (none), the console not started yet. */
function rig(letter: string, labOptions: Omit<LabOptions, 'id'> = {}): Rig {
  const pins = pinRoot(`tmux-why-${letter}`);
  const stateDir = scratchDir(`tmux-why-${letter}-state`);
  const tmuxDir = scratchDir(`tmux-why-${letter}-tmux`);
  const lab = newLab(labId(letter), labOptions);
  const r: Rig = {
    lab, pins, stateDir, tmuxDir, progId: 0, conf: join(tmuxDir, 'tmux.conf'), tmux: new Tmux(join(tmuxDir, 'sock'), 'why', root),
    cmd: `${process.execPath} bin/katran-tui --intf ${lab.intf} --pin-root ${pins} --state-dir ${stateDir} --interval 500; echo CONSOLE-EXIT=$?`,
  };
  const { dataplane } = createHost({ pinRoot: pins, stateDir }).attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
  try {
    dataplane!.addVip(VIP);
    dataplane!.addReal(VIP, { address: REAL, weight: 1 });
    dataplane!.addVip(EMPTY);
  } finally {
    dataplane!.close(); // the writer lock goes to the console; the program stays attached
  }
  r.progId = xdpQuery(lab.ifindex).progId;
  assert.ok(r.progId > 0, 'attached');
  return r;
}

async function startConsole(r: Rig): Promise<number> {
  r.tmux.start(r.cmd, { width: 80, height: 24, conf: r.conf, env: { TERM: 'xterm-256color' } });
  await r.tmux.waitFor(new RegExp(`${r.lab.intf} native prog ${r.progId}`), 15_000, 'the dashboard header');
  await r.tmux.waitFor(/192\.0\.2\.60:53\/udp/, 10_000, 'the VIP rows');
  return r.tmux.consolePid();
}

async function cleanup(r: Rig | undefined): Promise<void> {
  if (!r) return;
  r.tmux.kill();
  try {
    const { detach } = await import('../../src/dataplane/balancer/detach.js');
    detach(openPinned(r.lab.intf, { pinRoot: r.pins }));
  } catch { /* not attached */ }
  r.lab.destroy();
  for (const d of [r.pins, r.stateDir, r.tmuxDir]) rmSync(d, { recursive: true, force: true });
}

async function ready(t: TestContext): Promise<boolean> {
  if (!(await requireLab(t))) return false;
  if (!hasTmux()) { t.skip('tmux is not installed (bash scripts/setup.sh installs it)'); return false; }
  return true;
}

/**
 * Polls the pane until the XDP line shows `name` moving, then returns that very screen: what it
 * shows came with the first sample that saw the traffic (no extra refresh to wait for).
 */
async function firstMoving(tmux: Tmux, name: 'DROP' | 'PASS', min: number, what: string): Promise<string> {
  const end = Date.now() + 20_000;
  for (;;) {
    const pane = tmux.capture();
    if ((actionRate(pane, name) ?? 0) >= min) {
      if (process.env.KATRAN_TUI_TMUX_DEBUG) console.log(`--- ${what}\n${pane}`);
      return pane;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${name} >= ${min}/s (${what}):\n${pane}`);
    await delay(100);
  }
}

test('console in tmux: the why panel and the header name the reason with the first sample that sees it (empty ring, default MAC unset, tagged on an unparsed VLAN)', { timeout: 240_000 }, async (t) => {
  if (!(await ready(t))) return;
  let r: Rig | undefined;
  let traffic: RunningTraffic | undefined;
  let h: BalancerHandle | undefined;
  const stop = async () => { await traffic?.stop(); traffic = undefined; };
  try {
    r = rig('y', { vlan: true });
    const { lab, tmux } = r;
    await startConsole(r);
    tmux.keys('w');
    await tmux.waitFor(/WHY\s+reason\s+RATE\/s\s+TOTAL\s+what to check/, 5_000, 'the why panel');
    // Whatever the lab's namespace sends by itself (IPv6 neighbour discovery) passes; nothing drops.
    await tmux.waitFor(/DROP 0\/s/, 10_000, 'DROP at 0 before any traffic');
    assert.doesNotMatch(headerLine(tmux.capture()), /pps: /, 'no reason named while nothing moves');

    const flow = (dst: string, src = lab.clientsV4[0]) => ({ proto: 'udp' as const, src, dst, dport: 53, count: 40_000, ports: 8 });
    const rate = { ratePps: 600, durationMs: 60_000 };

    // 1. An empty ring: VIP traffic to a VIP without reals.
    traffic = lab.startTraffic({ flows: [flow(EMPTY.address)], ...rate });
    let pane = await firstMoving(tmux, 'DROP', 50, 'drops to the VIP without reals');
    assert.match(headerLine(pane), /^DROP [\d.]+k? pps: ring slot empty · every/, `the header names it first\n${pane}`);
    assert.match(pane, /^ {2}DROP ring slot empty\s+[\d.]+k?\s+[\d.]+k?$/m, `the panel's row\n${pane}`);
    assert.match(pane, /the VIP has no real with weight > 0: katran-tui real add VIP REAL/);
    await stop();
    pane = await tmux.waitFor(/DROP 0\/s/, 10_000, 'the drops stopped');
    await tmux.waitFor(/^ {2}DROP ring slot empty\s+0\s/m, 5_000, 'slot_empty quiet, its total kept');
    assert.doesNotMatch(headerLine(tmux.capture()), /ring slot empty/, 'the header no longer names it');

    // 2. The default MAC unset behind the console's back (written straight into ctl_array).
    h = openPinned(lab.intf, { pinRoot: r.pins });
    setMac(h, '00:00:00:00:00:00');
    traffic = lab.startTraffic({ flows: [flow(VIP.address)], ...rate });
    pane = await firstMoving(tmux, 'DROP', 50, 'drops for want of a MAC');
    assert.match(headerLine(pane), /^DROP [\d.]+k? pps: default MAC unset · every/, `the header names it\n${pane}`);
    const rows = pane.split('\n').filter((l) => /^ {2}(DROP|PASS) /.test(l));
    assert.match(rows[0], /^ {2}DROP default MAC unset\s+[\d.]+k?\s+[\d.]+k?$/, `on top of the panel\n${pane}`);
    assert.match(pane, /no gateway MAC to send to: katran-tui mac set MAC/);
    await stop();
    setMac(h, lab.defaultMac);
    await tmux.waitFor(/DROP 0\/s/, 10_000, 'the drops stopped');

    // 3. VIP traffic tagged 575, a VLAN no mapping parses: passed to the kernel, unbalanced.
    lab.vlan!.setClientVlan({ vid: 575 });
    traffic = lab.startTraffic({ flows: [flow(VIP.address)], ...rate });
    pane = await tmux.waitFor(/^ {2}PASS tagged frames passed\s+[1-9]/m, 20_000, 'tagged frames passed, moving');
    assert.match(headerLine(pane), /PASS [\d.]+k? pps: tagged frames passed · /, `the header names it\n${pane}`);
    assert.match(pane, /VIP traffic arrives on a VLAN the balancer does not parse/);
    // kt_vlan_stats names the VLAN and the panel the command (the line may come a sample later: the
    // per-VLAN counters count VIP traffic only, and the first tagged frames may be something else).
    pane = await tmux.waitFor(/^ {9}VIP traffic on VLAN 575: [\d.]+k? pps — katran-tui vlan add 575$/m, 5_000, 'VLAN 575 named with its command');
    assert.equal(actionRate(pane, 'DROP'), 0, 'nothing dropped');
    await stop();
  } finally {
    try { await traffic?.stop(); } catch { /* ended */ }
    try { h?.close(); } catch { /* closed */ }
    await cleanup(r);
  }
});

/** How many bpf_enable_stats fds the process holds. */
function bpfStatsFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((f) => { try { return readlinkSync(`/proc/${pid}/fd/${f}`) === 'anon_inode:bpf-stats'; } catch { return false; } }).length;
}

test('console in tmux: with run-time statistics on (t) run_cnt moves while the console holds the fd, and stops after q and after kill -9', { timeout: 180_000 }, async (t) => {
  if (!(await ready(t))) return;
  let r: Rig | undefined;
  let progFd = -1;
  try {
    r = rig('z');
    const { tmux } = r;
    progFd = progFdById(r.progId);
    // The balancer's run_cnt across 50 runs of one frame (prog_test_run on the attached program).
    const runner = new TestRunner(progFd);
    const frame = v4Frame({ src: '203.0.113.1', dst: VIP.address, sport: 4000, dport: VIP.port, proto: 'udp' });
    const moved = () => {
      const a = progRunStats(progFd).runCnt;
      for (let i = 0; i < 50; i++) runner.run(frame);
      return Number(progRunStats(progFd).runCnt - a);
    };
    if (moved() !== 0) { t.skip('another process on this box holds BPF run-time statistics on: the off state cannot be observed now'); return; }

    for (const end of ['q', 'kill -9'] as const) {
      const pid = await startConsole(r);
      assert.equal(bpfStatsFds(pid), 0, 'off by default');
      assert.equal(moved(), 0, 'run_cnt still while off');
      tmux.keys('t');
      await tmux.waitFor(/run-time statistics ON: they cost about \d+ ns per packet/, 10_000, 'statistics on, with their cost');
      assert.equal(bpfStatsFds(pid), 1, `/proc/${pid}/fd shows anon_inode:bpf-stats`);
      assert.equal(moved(), 50, 'run_cnt moves while the console holds the fd');
      if (end === 'q') {
        tmux.keys('q');
        await tmux.waitFor(/CONSOLE-EXIT=0/, 10_000, 'the console\'s exit', true);
      } else {
        process.kill(pid, 'SIGKILL');
        await tmux.waitFor(/CONSOLE-EXIT=137/, 10_000, 'the shell saw the kill', true);
      }
      assert.equal(procState(pid), 'gone', 'the console process is gone');
      assert.equal(moved(), 0, `run_cnt stops after ${end}`);
      assert.equal(xdpQuery(r.lab.ifindex).progId, r.progId, 'the balancer stays attached');
      tmux.kill();
    }
  } finally {
    if (progFd >= 0) closeFd(progFd);
    await cleanup(r);
  }
});
