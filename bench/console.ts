// The console on the REAL balancer (issue 5, Speed; issue 10, the screen never waits): 512 VIPs and
// 4095 reals (index 0 is reserved, so that is the reals map full; VIP 0 has 100 of them) on a
// balancer attached to a lab interface, traffic flowing to a few VIPs, the real bin/katran-tui in a
// detached 80x24 tmux session at a 1 s refresh. Prints the time to the first frame (spawn -> the
// header in capture-pane) and to the VIP table with live numbers (rows drawn from a sample), the
// startup CPU, then over 60 s of the dashboard: CPU % of one core (/proc/<pid>/stat utime + stime
// deltas, every thread) and resident memory (VmRSS, VmHWM from /proc/<pid>/status), beside the
// targets as ratios; ~10 s of the VIP detail (blessed chart); then a 100-real change (the VIP with
// 100 reals removed through the console's form) during which keys are typed: the longest gap
// between two frames (pane output through pipe-pane, time-stamped) and key -> echo latencies.
// Not a test: nothing fails on a slow machine. Cleans up lab, pins, state and tmux also on failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { Balancer } from '../src/dataplane/balancer/balancer.js';
import type { DesiredConfig } from '../src/dataplane/control/desired.js';
import type { Lab, RunningTraffic } from '../src/lab/lab.js';
import { bundledObject } from '../src/dataplane/kernel/paths.js';
import { hasTmux, Tmux } from '../test/helpers/tmux.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = { cpuPct: 5, rssMiB: 150, firstFrameMs: 1000, tableMs: 1000, gapMs: 100 };
const MEASURE_S = 60;
/** Reals of VIP 0: the change measured at the end removes them at once. */
const BIG_VIP_REALS = 100;
const DETAIL_S = 10;

function ratio(label: string, value: string, target: string, r: number): void {
  console.log(`${label.padEnd(52)} ${value.padStart(10)}   target ${target.padEnd(8)} ratio ${r.toFixed(2)}`);
}

function clkTck(): number {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
}

/** utime + stime of a process, in clock ticks. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return Number(f[11]) + Number(f[12]); // utime (14), stime (15)
}

function memKiB(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MB`;

/** Samples CPU and RSS of `pid` every second for `seconds`. */
async function measure(pid: number, seconds: number): Promise<{ cpuPct: number; rssAvg: number; rssMax: number; hwm: number }> {
  const hz = clkTck();
  const t0 = performance.now();
  const c0 = cpuTicks(pid);
  const rss: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await delay(1000);
    rss.push(memKiB(pid).rss);
  }
  const cpuS = (cpuTicks(pid) - c0) / hz;
  const wallS = (performance.now() - t0) / 1000;
  return { cpuPct: (cpuS / wallS) * 100, rssAvg: rss.reduce((a, b) => a + b, 0) / rss.length, rssMax: Math.max(...rss), hwm: memKiB(pid).hwm };
}

function config(maxVips: number, maxReals: number): DesiredConfig {
  // 512 VIPs in 192.0.2.0/24 (ports 80 and 443), 8 reals each over 4095 distinct reals
  // (198.51.100.0/24 for the first 254, 2001:db8:e::/64 for the rest): the maps full.
  const realAddr = (i: number) => (i < 254 ? `198.51.100.${i + 1}` : `2001:db8:e::${(i + 1).toString(16)}`);
  const cfg: DesiredConfig = { vips: [] };
  for (let v = 0; v < maxVips; v++) {
    const reals = [];
    const n = v === 0 ? BIG_VIP_REALS : 8;
    for (let j = 0; j < n; j++) reals.push({ address: realAddr(v === 0 && j >= 8 ? j * 40 : (v * 8 + j) % maxReals), weight: 1 + (j % 3) });
    cfg.vips.push({ key: { address: `192.0.2.${v % 256}`, port: v < 256 ? 80 : 443, proto: 'udp' }, reals });
  }
  return cfg;
}

export async function benchConsole(): Promise<void> {
  if (process.getuid?.() !== 0) { console.log('skipped: not root (the lab needs network namespaces and XDP)'); return; }
  if (!hasTmux()) { console.log('skipped: tmux is not installed'); return; }
  if (!existsSync(bundledObject('balancer')) || !existsSync(bundledObject('sink'))) { console.log('skipped: BPF objects not built'); return; }
  const { createLab } = await import('../src/lab/lab.js');
  const { createHost } = await import('../src/dataplane/balancer/host.js');
  const { detach } = await import('../src/dataplane/balancer/detach.js');
  const { openPinned } = await import('../src/dataplane/balancer/open.js');

  const id = `bc${process.pid.toString(36)}`.slice(0, 10);
  const pins = join('/sys/fs/bpf', `katran-tui-bench-${id}`);
  const scratch = mkdtempSync(join(tmpdir(), 'katran-tui-bench-console-'));
  const stateDir = join(scratch, 'state');
  const tmux = new Tmux(join(scratch, 'tmux.sock'), 'console', root);
  let lab: Lab | undefined;
  let traffic: RunningTraffic | undefined;
  try {
    lab = createLab({ id });
    const host = createHost({ pinRoot: pins, stateDir });
    let t0 = performance.now();
    const { dataplane } = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
    const dp = dataplane!;
    const cap = dp.info().capacity;
    const cfg = config(cap.maxVips, cap.maxReals - 1);
    try {
      (dp as Balancer).applyConfig(cfg); // the Host's dataplane is the control plane's Balancer
    } finally {
      dp.close();
    }
    const after = host.open(lab.intf, { readOnly: true });
    const got = after.info().capacity;
    after.close();
    console.log(`setup: ${got.vips} VIPs, ${got.reals} reals on ${lab.intf} (config apply incl. attach ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    // Traffic to 16 VIPs (wave), bounded in count and time.
    traffic = lab.startTraffic({
      flows: Array.from({ length: 16 }, (_, i) => ({ proto: 'udp' as const, src: lab!.clientsV4[i % lab!.clientsV4.length], dst: `192.0.2.${i * 7}`, dport: 80, count: 200_000, ports: 4 })),
      ratePps: 2000, profile: 'wave', periodMs: 10_000, durationMs: (MEASURE_S + DETAIL_S + 60) * 1000,
    });

    // As an operator runs it: the executable, with the node flags of its shebang. Other flags can be
    // measured with KATRAN_TUI_BENCH_NODE_FLAGS (then node runs bin/katran-tui with exactly those).
    const flags = process.env.KATRAN_TUI_BENCH_NODE_FLAGS?.trim() ?? '';
    if (flags && !/^(--[a-z0-9-]+(=[\w.]+)?\s*)+$/.test(flags)) throw new Error(`KATRAN_TUI_BENCH_NODE_FLAGS: expected --flag[=value] words, got ${JSON.stringify(flags)}`);
    if (flags) console.log(`node flags for the console: ${flags}`);
    const cmd = `${flags ? `${process.execPath} ${flags} bin/katran-tui` : './bin/katran-tui'} --intf ${lab.intf} --pin-root ${pins} --state-dir ${stateDir} --interval 1000; echo CONSOLE-EXIT=$?`;
    t0 = performance.now();
    tmux.start(cmd, { width: 80, height: 24, conf: join(scratch, 'tmux.conf'), env: { TERM: 'xterm-256color' } });
    const header = new RegExp(`${lab.intf} native prog \\d+`);
    let firstFrame = NaN;
    for (let i = 0; i < 1500; i++) {
      if (header.test(tmux.capture())) { firstFrame = performance.now() - t0; break; }
      await delay(5);
    }
    if (!Number.isFinite(firstFrame)) throw new Error(`no dashboard in 10 s:\n${tmux.capture()}`);
    const pid = tmux.consolePid();
    // The VIP table with live numbers: rows drawn from a sample (a PPS figure, not the loading line).
    const liveRow = /192\.0\.2\.\d+:(80|443)\/udp\s+\d/;
    let table = NaN;
    for (let i = 0; i < 6000; i++) {
      if (liveRow.test(tmux.capture())) { table = performance.now() - t0; break; }
      await delay(5);
    }
    if (!Number.isFinite(table)) throw new Error(`no VIP table in 30 s:\n${tmux.capture()}`);
    // The VIP list read (every VIP's ring counted, on the dataplane's thread): the REALS column
    // filled; meanwhile the rates move (the second sample on): one poll loop watches for both.
    const fullRow = /192\.0\.2\.\d+:(80|443)\/udp\s+\S+\s+\S+\s+\S+\s+\d+ /;
    const nonZero = /192\.0\.2\.\d+:(80|443)\/udp\s+[1-9]/;
    let full = NaN;
    let moving = NaN;
    let startCpuS = NaN;
    for (let i = 0; i < 3000 && !(Number.isFinite(full) && Number.isFinite(moving)); i++) {
      const pane = tmux.capture();
      if (!Number.isFinite(moving) && nonZero.test(pane)) moving = performance.now() - t0;
      if (!Number.isFinite(full) && fullRow.test(pane)) { full = performance.now() - t0; startCpuS = cpuTicks(pid) / clkTck(); }
      await delay(20);
    }
    if (!Number.isFinite(startCpuS)) startCpuS = cpuTicks(pid) / clkTck();
    const upTo = Number.isFinite(full) ? full : performance.now() - t0;
    ratio('first frame (spawn -> header in capture-pane, 5 ms polls)', `${firstFrame.toFixed(0)} ms`, `${TARGET.firstFrameMs} ms`, firstFrame / TARGET.firstFrameMs);
    ratio('VIP table with live numbers (spawn -> rows from a sample)', `${table.toFixed(0)} ms`, `${TARGET.tableMs} ms`, table / TARGET.tableMs);
    console.log(`${'  VIP list read (REALS filled; every ring counted)'.padEnd(52)} ${(Number.isFinite(full) ? `${full.toFixed(0)} ms` : 'not in 60 s').padStart(10)}`);
    console.log(`${'  first non-zero rate in the table (2nd sample on)'.padEnd(52)} ${(Number.isFinite(moving) ? `${moving.toFixed(0)} ms` : 'not in 10 s').padStart(10)}`);
    console.log(`${'startup CPU (spawn -> VIP list read, every thread)'.padEnd(52)} ${`${startCpuS.toFixed(2)} s`.padStart(10)}   = ${((startCpuS / (upTo / 1000)) * 100).toFixed(0)} % of one core over ${(upTo / 1000).toFixed(1)} s`);

    await delay(3000); // warm-up: the JIT settles, the history fills a little (steady state: after the startup above)
    const m = await measure(pid, MEASURE_S);
    console.log(`dashboard, 80x24, 1 s refresh, ${got.vips} VIPs / ${got.reals} reals, ${MEASURE_S} s:`);
    ratio('  console CPU, % of one core (utime + stime)', `${m.cpuPct.toFixed(2)} %`, `${TARGET.cpuPct} %`, m.cpuPct / TARGET.cpuPct);
    ratio('  console VmRSS, mean over the run', mib(m.rssAvg), `${TARGET.rssMiB} MB`, m.rssAvg / 1024 / TARGET.rssMiB);
    ratio('  console VmRSS, max of 1 s samples', mib(m.rssMax), `${TARGET.rssMiB} MB`, m.rssMax / 1024 / TARGET.rssMiB);
    ratio('  console VmHWM (peak resident since start)', mib(m.hwm), `${TARGET.rssMiB} MB`, m.hwm / 1024 / TARGET.rssMiB);

    // The VIP detail of the top VIP: the blessed-contrib chart is loaded and drawn every sample.
    tmux.keys('Enter');
    await tmux.waitFor(/REAL\s+WEIGHT/, 5_000, 'the VIP detail');
    const d = await measure(pid, DETAIL_S);
    console.log(`VIP detail with the chart, ${DETAIL_S} s:`);
    ratio('  console CPU, % of one core', `${d.cpuPct.toFixed(2)} %`, `${TARGET.cpuPct} %`, d.cpuPct / TARGET.cpuPct);
    ratio('  console VmRSS max / VmHWM', `${mib(d.rssMax)}/${mib(d.hwm)}`, `${TARGET.rssMiB} MB`, d.hwm / 1024 / TARGET.rssMiB);

    tmux.keys('Escape');
    await tmux.waitFor(/VIP\s+PPS/, 5_000, 'the dashboard again');
    await bigChange(tmux, scratch, got.vips);
    tmux.keys('Escape');
    await delay(100);
    tmux.keys('Escape');
    await tmux.waitFor(/VIP\s+PPS/, 5_000, 'the dashboard after the change');
    tmux.keys('q');
    const out = await tmux.waitFor(/CONSOLE-EXIT=\d+/, 10_000, 'the console\'s exit', true);
    if (!/CONSOLE-EXIT=0/.test(out)) console.log(`console exit: ${/CONSOLE-EXIT=\d+/.exec(out)?.[0]}`);
  } catch (e) {
    console.log(`console bench failed: ${(e as Error).message}`);
  } finally {
    tmux.kill();
    try { await traffic?.stop(); } catch { /* ended */ }
    try {
      if (lab) detach(openPinned(lab.intf, { pinRoot: pins }));
    } catch { /* not attached */ }
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The 100-real change: VIP 0 (100 reals) removed through the console's form. From y until the
 * header shows one VIP less, a key at a time goes in (the filter prompt: x, Backspace, ...), each
 * as soon as the previous one is echoed; the pane's output is time-stamped through pipe-pane.
 */
async function bigChange(tmux: Tmux, scratch: string, vips: number): Promise<void> {
  const big = '192.0.2.0:80/udp';
  tmux.keys('/'); tmux.type(big); tmux.keys('Enter', 'g', 'd');
  await tmux.waitFor(/Apply\? \[y\/N\]/, 10_000, 'the delete VIP confirmation');
  const rec = join(scratch, 'rec.mjs');
  const log = join(scratch, 'frames.log');
  writeFileSync(rec, "import { appendFileSync } from 'node:fs';\nprocess.stdin.on('data', (d) => appendFileSync(process.argv[2], `${Date.now()} ${d.length}\\n`));\n");
  writeFileSync(log, '');
  tmux.run(['pipe-pane', '-t', tmux.session, `exec ${process.execPath} ${rec} ${log}`]);
  await delay(500); // the recorder is up
  const done = new RegExp(`VIPs ${vips - 1}/`);
  const tY = Date.now();
  tmux.keys('y');
  tmux.keys('/');
  const echoes: number[] = [];
  let text = '';
  let tDone = NaN;
  for (let i = 0; i < 2000 && Date.now() - tY < 60_000; i++) {
    const add = i % 2 === 0;
    const t = Date.now();
    if (add) { tmux.type('x'); text += 'x'; } else { tmux.keys('BSpace'); text = text.slice(0, -1); }
    const expect = new RegExp(`filter: ${escapeRe(big + text)}_`);
    let pane = '';
    for (let j = 0; j < 2000; j++) {
      pane = tmux.capture();
      if (expect.test(pane)) break;
      await delay(2);
    }
    echoes.push(Date.now() - t);
    if (done.test(pane)) { tDone = Date.now(); break; }
  }
  tmux.run(['pipe-pane', '-t', tmux.session]);
  await delay(200);
  const frames = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => Number(l.split(' ')[0])).filter((x) => x >= tY && (!Number.isFinite(tDone) || x <= tDone));
  let gap = frames.length ? frames[0] - tY : NaN;
  for (let i = 1; i < frames.length; i++) gap = Math.max(gap, frames[i] - frames[i - 1]);
  const sorted = [...echoes].sort((a, b) => a - b);
  console.log(`100-real change at ${vips} VIPs (remove the VIP with ${BIG_VIP_REALS} reals in the console, y -> header shows ${vips - 1}): ${Number.isFinite(tDone) ? `${tDone - tY} ms` : 'not done in 60 s'}`);
  ratio('  longest gap between two frames meanwhile', `${gap} ms`, `${TARGET.gapMs} ms`, gap / TARGET.gapMs);
  ratio(`  key -> echo meanwhile, max of ${echoes.length} keys`, `${sorted[sorted.length - 1] ?? NaN} ms`, `${TARGET.gapMs} ms`, (sorted[sorted.length - 1] ?? NaN) / TARGET.gapMs);
  console.log(`${'  key -> echo meanwhile, median (capture-pane polls)'.padEnd(52)} ${`${sorted[Math.floor(sorted.length / 2)] ?? NaN} ms`.padStart(10)}   ${frames.length} frames in the window`);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// `node dist/bench/console.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchConsole().catch((e) => { console.error(e); process.exit(1); });
}
