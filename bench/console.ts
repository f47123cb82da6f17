// The console on the REAL balancer (issue 5, Speed): 512 VIPs and 4095 reals (index 0 is reserved,
// so that is the reals map full) on a balancer attached to a lab interface, traffic flowing to a few
// VIPs, the real bin/katran-tui in a detached 80x24 tmux session at a 1 s refresh. Prints the time
// to the first frame (spawn -> the header in capture-pane), then over ~30 s of the dashboard: CPU %
// of one core (/proc/<pid>/stat utime + stime deltas) and resident memory (VmRSS, VmHWM from
// /proc/<pid>/status), beside the targets as ratios; then ~10 s of the VIP detail (blessed chart).
// Not a test: nothing fails on a slow machine. Cleans up lab, pins, state and tmux also on failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
const TARGET = { cpuPct: 5, rssMiB: 150, firstFrameMs: 1000 };
const MEASURE_S = 30;
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
    for (let j = 0; j < 8; j++) reals.push({ address: realAddr((v * 8 + j) % maxReals), weight: 1 + (j % 3) });
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
    await tmux.waitFor(/192\.0\.2\.\d+:(80|443)\/udp/, 5_000, 'the VIP table');
    const pid = tmux.consolePid();
    ratio('first frame (spawn -> header in capture-pane, 5 ms polls)', `${firstFrame.toFixed(0)} ms`, `${TARGET.firstFrameMs} ms`, firstFrame / TARGET.firstFrameMs);

    await delay(3000); // warm-up: the JIT settles, the history fills a little
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

// `node dist/bench/console.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchConsole().catch((e) => { console.error(e); process.exit(1); });
}
