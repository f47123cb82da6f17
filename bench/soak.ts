// `npm run soak`: the minute-long reliability runs of issue 7 (not part of npm test). Prints figures.
//
// 1. Load: the kernel generator flat out (UDP + new-flow TCP SYNs from the client namespace) for
//    KATRAN_TUI_SOAK_SECONDS (default 60) while a real is added, drained (weight 0) and removed
//    every second and the default MAC is changed every 10 s. Every packet accounted for: offered =
//    received by the balancer + dropped at its ring (veth's counters, read with SIOCETHTOOL);
//    TX = at the sink + TX errors; no DROP, CH_DROP, ENCAP_FAIL or zero-MAC drop, no ABORTED. The
//    console runs beside it in tmux: its frame gaps and key answers are printed.
// 2. Stickiness and movement (prog_test_run on the live program, pinned to CPU 0, crafted packets):
//    established TCP flows (ACKs, in the LRU) keep their real when a real joins; the share of new
//    flows (SYNs, ring only) that move when one real joins N is compared with Maglev's 1/(N+1).
// 3. kill -9: KATRAN_TUI_SOAK_KILLS (default 50) children each making one change (VIP / real / ring
//    weight / MAC / flags) through the product, SIGKILLed at a random point of the transaction,
//    under traffic. After each: the balancer still forwards, a reader opened before any writer
//    reports the pending change whenever an intent was left (counted) and lists every ring slot
//    the kernel holds, the next open finds the kernel equal to the state file, and the change is
//    fully applied or fully absent.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { hasTmux, Tmux } from '../test/helpers/tmux.js';
import { ethtoolStats, vethXdpDelta } from '../src/lab/ethtool.js';
import { startLabGenerator } from '../src/lab/generator.js';
import { createLab, cleanupLab, type Lab } from '../src/lab/lab.js';
import { attach } from '../src/dataplane/balancer/attach.js';
import { detach } from '../src/dataplane/balancer/detach.js';
import { openPinned } from '../src/dataplane/balancer/open.js';
import { Balancer, balancerStateDir } from '../src/dataplane/balancer/balancer.js';
import { STATE_FILES } from '../src/dataplane/control/state.js';
import type { BalancerHandle } from '../src/dataplane/kernel/handle.js';
import { TestRunner, XDP_ACTION, pinToCpu, numPossibleCpus } from '../src/dataplane/kernel/libbpf.js';
import { STATS, VIP_FLAGS, formatIp, formatMac, u32Key, vipDefinition, vipMeta } from '../src/dataplane/abi.js';
import { sumPerCpuU64 } from '../src/dataplane/kernel/maps.js';
import type { VipKey } from '../src/dataplane/types.js';
import type { DesiredState } from '../src/dataplane/control/desired.js';

const SECONDS = Math.max(5, Math.min(600, Number(process.env.KATRAN_TUI_SOAK_SECONDS ?? 60)));
const KILLS = Math.max(1, Math.min(500, Number(process.env.KATRAN_TUI_SOAK_KILLS ?? 50)));
const ID = `s${process.pid.toString(36)}`.slice(0, 8);
const work = `/tmp/katran-tui-soak-${ID}`;
const pinRoot = `/sys/fs/bpf/katran-tui-soak-${ID}`;
const stateDir = join(work, 'state');
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const childChange = fileURLToPath(new URL('../test/reliability/child-change.js', import.meta.url));

const UDP_VIP: VipKey = { address: '192.0.2.50', port: 53, proto: 'udp' };
const TCP_VIP: VipKey = { address: '192.0.2.51', port: 80, proto: 'tcp' };
const KILL_VIP: VipKey = { address: '192.0.2.52', port: 443, proto: 'tcp' };
const realAddr = (i: number): string => `198.51.100.${i}`;
const ALT_MAC = '02:00:5e:00:53:99';

function log(s: string): void {
  process.stdout.write(`${s}\n`);
}

function globals(h: BalancerHandle): Record<string, bigint> {
  const st = h.maps.stats;
  const buf = st.newValueBuffer();
  const cpus = numPossibleCpus();
  const out: Record<string, bigint> = {};
  for (const [name, off] of Object.entries(STATS)) {
    st.lookup(u32Key(h.sizes.maxVips + off), buf);
    out[`${name}.v1`] = sumPerCpuU64(buf, 0, cpus, 16, 0);
    out[`${name}.v2`] = sumPerCpuU64(buf, 0, cpus, 16, 8);
  }
  out.zeroMac = out['zeroMacDrop.v1']; // STATS names its offset (22 since the default build's counters)
  return out;
}

function diff(a: Record<string, bigint>, b: Record<string, bigint>): Record<string, bigint> {
  const o: Record<string, bigint> = {};
  for (const k of Object.keys(b)) o[k] = b[k] - (a[k] ?? 0n);
  return o;
}

const sinkTotal = (lab: Lab): number => lab.sinkCounts().reduce((s, c) => s + c.packets, 0);

// ---------------------------------------------------------------------------------------------
// 1. Load with churn

async function load(lab: Lab, h: BalancerHandle, dp: Balancer): Promise<string[]> {
  const problems: string[] = [];
  for (let i = 1; i <= 8; i++) dp.addReal(UDP_VIP, { address: realAddr(i), weight: 1 });
  for (let i = 1; i <= 8; i++) dp.addReal(TCP_VIP, { address: realAddr(i), weight: 1 });
  lab.resetSinkCounts();
  const g0 = globals(h);
  const eth0 = ethtoolStats(lab.intf);
  const if0 = ifStats(lab.intf);
  // The kernel generator flat out (src/lab/generator.ts): established-flow UDP (5000 flows) and
  // new-flow SYNs (50 x 400 5-tuples cycled: every SYN takes the new-flow path; few enough that
  // CPU 0's LRU keeps room for the stickiness flows below, which an eviction would move). Pinned to CPU 0; the veths' NAPI polls run in
  // softirq beside it (no threaded NAPI), this process (the churn) and the console on the other.
  const ui = await consoleWatch(lab, h);
  const gen = startLabGenerator(lab, {
    streams: [
      { proto: 'udp', dst: UDP_VIP.address, dport: UDP_VIP.port, clients: 50, ports: 100, weight: 1 },
      { proto: 'tcp-syn', dst: TCP_VIP.address, dport: TCP_VIP.port, clients: 50, ports: 400, weight: 1 },
    ],
    durationMs: (SECONDS + 30) * 1000, cpu: 0, // stopped below; the bound is a safety net
  });
  await gen.ready;
  let next = 9;
  const live: number[] = [1, 2, 3, 4, 5, 6, 7, 8];
  const draining: number[] = [];
  let changes = 0;
  let macChanges = 0;
  const t0 = Date.now();
  for (let s = 0; s < SECONDS && Date.now() - t0 < (SECONDS + 5) * 1000; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    try {
      // add one, drain one, remove the one drained a second ago
      const add = next++ > 200 ? (next = 9) : next - 1;
      if (!live.includes(add)) {
        dp.addReal(UDP_VIP, { address: realAddr(add), weight: 1 });
        live.push(add);
        changes++;
      }
      if (draining.length) {
        const gone = draining.shift()!;
        dp.removeReal(UDP_VIP, realAddr(gone));
        changes++;
      }
      if (live.length > 4) {
        const d = live.shift()!;
        dp.setRealWeight(UDP_VIP, realAddr(d), 0);
        draining.push(d);
        changes++;
      }
      // The default MAC: another one for a second every 10 s, then the sink's again. Frames sent
      // meanwhile still reach the sink (veth delivers to its XDP whatever the MAC): counted there
      // as wrong-MAC, never dropped by the balancer.
      if (s % 10 === 5) { dp.setDefaultMac(ALT_MAC); macChanges++; }
      if (s % 10 === 6) { dp.setDefaultMac(lab.defaultMac); macChanges++; }
    } catch (e) {
      problems.push(`churn at second ${s}: ${(e as Error).message}`);
    }
  }
  dp.setDefaultMac(lab.defaultMac);
  const uiReport = await ui.stop();
  const r = await gen.stop();
  await new Promise((res) => setTimeout(res, 500));
  const d = diff(g0, globals(h));
  const b = vethXdpDelta(eth0, ethtoolStats(lab.intf));
  const peer = vethXdpDelta(r.ethtoolStart, r.ethtool);
  const if1 = ifStats(lab.intf);
  const counts = lab.sinkCounts();
  const forwarded = counts.reduce((a, c) => a + c.packets, 0);
  const wrongMac = counts.reduce((a, c) => a + (c.wrongMac ?? 0), 0);
  const total = Number(d['xdpTotal.v1']);
  const tx = Number(d['xdpTx.v1']);
  const pass = Number(d['xdpPass.v1']);
  const drop = Number(d['xdpDrop.v1']);
  const secs = r.activeMs / 1000;
  log(`load: ${secs.toFixed(1)} s flat out: ${(r.offered / secs / 1e6).toFixed(3)} Mpps offered, ${(forwarded / secs / 1e6).toFixed(3)} Mpps at the sink; ${changes} real changes (add / drain / remove every second), ${macChanges} default MAC changes`);
  log(`  offered ${r.offered} = received by the balancer ${b.rxXdp} (XDP_TOTAL ${total}, of which ${pass} PASS: the namespace's own frames) + dropped at its ring ${peer.xmitErr} (peer tx_queue_0_xdp_xmit_errors)`);
  log(`  TX ${tx} (veth rx_queue_0_xdp_tx ${b.xdpTx} + _xdp_tx_errors ${b.xdpTxErr}) = at the sink ${forwarded} (${wrongMac} while the MAC was another) + TX errors ${b.xdpTxErr} (rx_queue_0_xdp_tx_errors); DROP ${drop}, CH_DROP ${d['chDrop.v1'] + d['chDrop.v2']}, ENCAP_FAIL ${d['encapFail.v1'] + d['encapFail.v2']}, zero-MAC ${d.zeroMac}; interface rx_dropped ${if1.rxDropped - if0.rxDropped}, tx_dropped ${if1.txDropped - if0.txDropped}`);
  log(`  generator: pinned to CPU ${r.cpu} with the veths' NAPI polls (softirq, no threaded NAPI); its process used ${(r.cpuMs / 10 / secs).toFixed(0)}% of that CPU over ${r.calls} test runs; this process (the churn) and the console ran where the scheduler put them`);
  log(uiReport.line);
  problems.push(...uiReport.problems);
  if (r.errors.length) problems.push(`generator errors: ${r.errors.slice(0, 3).join('; ')}`);
  if (r.sent !== r.offered) problems.push(`the generator's program sent ${r.sent} of ${r.offered}`);
  // (the namespace's own frames, passed, may arrive between reading the two)
  if (Math.abs(b.rxXdp - total) > pass + 2) problems.push(`veth counted ${b.rxXdp} frames through XDP, the balancer ${total}`);
  if (r.offered !== total - pass + peer.xmitErr) problems.push(`offered ${r.offered} != balancer VIP packets ${total - pass} + ring drops ${peer.xmitErr}`);
  if (pass > 1000) problems.push(`PASS ${pass}: more than the namespace's own frames`);
  if (drop !== 0 || d['chDrop.v1'] !== 0n || d['encapFail.v1'] !== 0n || d.zeroMac !== 0n) problems.push(`the balancer dropped: DROP ${drop}, CH_DROP ${d['chDrop.v1']}, ENCAP_FAIL ${d['encapFail.v1']}, zero-MAC ${d.zeroMac}`);
  if (tx !== b.xdpTx + b.xdpTxErr) problems.push(`the balancer's TX ${tx} != veth's XDP_TX ${b.xdpTx} + its errors ${b.xdpTxErr}`);
  if (forwarded + b.xdpTxErr !== tx) problems.push(`TX ${tx} != sink ${forwarded} + TX errors ${b.xdpTxErr}`);
  if (macChanges > 0 && wrongMac === 0) problems.push('no frame reached the sink with the other default MAC');
  return problems;
}

/**
 * The console (bin/katran-tui, read-only, 1 s refresh) in an 80x24 tmux pane on the same balancer
 * while the load runs: the screen polled every 100 ms; a frame is a change of the screen; every
 * 5 s `?` is pressed and the time to the help overlay measured, then Esc. Without tmux: skipped.
 */
async function consoleWatch(lab: Lab, _h: BalancerHandle): Promise<{ stop(): Promise<{ line: string; problems: string[] }> }> {
  if (!hasTmux()) return { stop: async () => ({ line: '  console: not measured (tmux is not installed)', problems: [] }) };
  const tmux = new Tmux(join(work, 'tmux.sock'), 'soak', repoRoot);
  tmux.start(`./bin/katran-tui --intf ${lab.intf} --pin-root ${pinRoot} --state-dir ${stateDir} --interval 1000 --readonly`,
    { width: 80, height: 24, conf: join(work, 'tmux.conf'), env: { TERM: 'xterm-256color' } });
  await tmux.waitFor(/VIP\s+PPS/, 15_000, 'the console\'s dashboard');
  const gaps: number[] = [];
  const answers: number[] = [];
  let running = true;
  const loop = (async () => {
    let last = tmux.capture();
    let lastAt = performance.now();
    let nextKey = performance.now() + 5000;
    while (running) {
      await delay(100);
      const now = performance.now();
      if (now >= nextKey) {
        const t0 = performance.now();
        tmux.keys('?');
        for (let i = 0; i < 100 && !/keys \(Esc or \? closes\)/.test(tmux.capture()); i++) await delay(20);
        answers.push(performance.now() - t0);
        tmux.keys('Escape');
        await delay(300);
        last = tmux.capture();
        lastAt = performance.now();
        nextKey = lastAt + 5000;
        continue;
      }
      const screen = tmux.capture();
      if (screen !== last) {
        gaps.push(now - lastAt);
        last = screen;
        lastAt = now;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const problems: string[] = [];
      let dead = false;
      try { dead = tmux.pane().dead; } catch { dead = true; }
      tmux.kill();
      if (dead) problems.push('the console exited during the load');
      const sorted = [...gaps].sort((x, y) => x - y);
      const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
      const maxAnswer = Math.max(...answers);
      if (gaps.length === 0) problems.push('the console drew no frame during the load');
      if (answers.some((x) => x >= 2000)) problems.push(`the console took ${maxAnswer.toFixed(0)} ms to answer ?`);
      return {
        line: `  console (read-only, 1 s refresh, tmux 80x24, polled every 100 ms): ${gaps.length} frames, gap median ${p(0.5).toFixed(0)} ms, p99 ${p(0.99).toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms; ? answered in median ${median(answers).toFixed(0)} ms, max ${maxAnswer.toFixed(0)} ms (${answers.length} presses)`,
        problems,
      };
    },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
}

function ifStats(intf: string): { rxDropped: number; txDropped: number } {
  const r = (k: string): number => Number(readFileSync(`/sys/class/net/${intf}/statistics/${k}`, 'utf8'));
  return { rxDropped: r('rx_dropped'), txDropped: r('tx_dropped') };
}

// ---------------------------------------------------------------------------------------------
// 2. Stickiness and movement through prog_test_run on the live program (CPU 0)

function outerDst(out: Buffer): string {
  return formatIp(out.subarray(14 + 16, 14 + 20));
}

function stickiness(lab: Lab, h: BalancerHandle, dp: Balancer, n: number): string[] {
  const problems: string[] = [];
  const vip: VipKey = { address: '192.0.2.53', port: 8000 + n, proto: 'tcp' };
  dp.addVip({ ...vip });
  for (let i = 1; i <= n; i++) dp.addReal(vip, { address: realAddr(i), weight: 1 });
  const unpin = pinToCpu(0);
  const runner = new TestRunner(h.progFd, 2048, 'balancer_ingress');
  try {
    // Established flows and new flows are different flows: a SYN rewrites its flow's LRU entry.
    const FLOWS = 20_000;
    const flows = Array.from({ length: FLOWS }, (_, i) => ({ src: `203.0.113.${1 + (i % 250)}`, sport: 1024 + i }));
    const estFlows = Array.from({ length: 5000 }, (_, i) => ({ src: `203.0.113.${1 + (i % 250)}`, sport: 30000 + i }));
    const send = (f: { src: string; sport: number }, flags: number): string | null => {
      const r = runner.run(lab.frame({ src: f.src, dst: vip.address, sport: f.sport, dport: vip.port, proto: 'tcp', tcpFlags: flags }));
      if (r.retval === XDP_ACTION.ABORTED) problems.push('XDP_ABORTED');
      return r.retval === XDP_ACTION.TX ? outerDst(r.data) : null;
    };
    // established: one ACK each (LRU miss -> ring -> LRU written), then a real joins, ACK again
    const est = estFlows.map((f) => send(f, 0x10));
    const syn1 = flows.map((f) => send(f, 0x02));
    const r = dp.addReal(vip, { address: realAddr(n + 1), weight: 1 });
    const est2 = estFlows.map((f) => send(f, 0x10));
    const syn2 = flows.map((f) => send(f, 0x02));
    const kept = est.filter((x, i) => x !== null && x === est2[i]).length;
    const moved = syn1.filter((x, i) => x !== syn2[i]).length;
    const share = moved / FLOWS;
    const ideal = 1 / (n + 1);
    log(`stickiness: ${kept} of ${est.length} established flows (ACKs in the LRU) kept their real when real ${n + 1} joined ${n}`);
    log(`movement: ${moved} of ${FLOWS} new flows (SYNs) moved = ${(share * 100).toFixed(2)}%; Maglev ideal 1/(N+1) = ${(ideal * 100).toFixed(2)}%, ratio ${(share / ideal).toFixed(2)} (tolerance 0.8-1.6); ring slots moved ${((r.movedShare ?? 0) * 100).toFixed(2)}%`);
    if (kept !== est.length) problems.push(`${est.length - kept} established flows changed real`);
    if (share / ideal < 0.8 || share / ideal > 1.6) problems.push(`moved share ${share.toFixed(4)} outside 0.8-1.6 x ${ideal.toFixed(4)}`);
  } finally {
    runner.close();
    unpin();
    dp.removeVip(vip);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// 3. kill -9 at random points of changes, under traffic

const STEPS = ['intent', 'vip-delete', 'real', 'ring-batch', 'vip-add', 'mac', 'applied', 'state', 'none'];

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}

function runChange(intf: string, op: object, step: string, nth: number, killAfterMs: number | null): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [childChange, intf, pinRoot, stateDir, JSON.stringify(op), step, String(nth)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    const hard = setTimeout(() => c.kill('SIGKILL'), 20_000);
    let timer: NodeJS.Timeout | undefined;
    c.stdout.on('data', () => {
      if (killAfterMs !== null && !timer && out.includes('start')) timer = setTimeout(() => c.kill('SIGKILL'), killAfterMs);
    });
    c.on('close', (code, signal) => { clearTimeout(hard); if (timer) clearTimeout(timer); resolve({ code, signal, out }); });
  });
}

/** The kernel equals the desired state: vip_map entries, reals, every ring, the MAC. */
function consistent(h: BalancerHandle, dp: Balancer): string[] {
  const s: DesiredState = dp.control.state();
  const bad: string[] = [];
  const val = Buffer.alloc(h.maps.vips.valueBufferSize);
  let vipCount = 0;
  for (const _k of h.maps.vips.keys()) vipCount++;
  if (vipCount !== s.vips.length) bad.push(`vip_map holds ${vipCount} VIPs, the state ${s.vips.length}`);
  for (const v of s.vips) {
    if (!h.maps.vips.lookup(vipDefinition.encode(v.key), val)) { bad.push(`VIP ${v.key.address}:${v.key.port} missing from vip_map`); continue; }
    const m = vipMeta.decode(val);
    const mask = v.flags.reduce((a, f) => a | VIP_FLAGS[f], 0);
    if (m.vipNum !== v.vipNum || m.flags !== mask) bad.push(`VIP ${v.key.address}: kernel vip_num/flags ${m.vipNum}/${m.flags}, state ${v.vipNum}/${mask}`);
    const want = dp.control.desiredRing(v, s);
    const have = dp.control.readRing(v.vipNum);
    let d = 0;
    for (let i = 0; i < want.length; i++) if (want[i] !== have[i]) d++;
    if (d) bad.push(`VIP ${v.key.address}: ${d} ring slots differ from the state`);
  }
  const mac = dp.getDefaultMac();
  if ((s.mac ?? null) !== mac) bad.push(`MAC: kernel ${mac}, state ${s.mac}`);
  void formatMac;
  return bad;
}

async function kills(lab: Lab, intf: string): Promise<string[]> {
  const problems: string[] = [];
  let dp = Balancer.open(openPinned(intf, { pinRoot }), { stateDir });
  dp.addVip({ ...KILL_VIP });
  for (let i = 1; i <= 6; i++) dp.addReal(KILL_VIP, { address: realAddr(20 + i), weight: 1 + (i % 3) });
  dp.close();
  const traffic = lab.startTraffic({ ratePps: 5000, durationMs: 600_000, flows: lab.clientsV4.map((src, i) => ({ proto: 'udp' as const, src, sport: 45000 + i, dst: UDP_VIP.address, dport: UDP_VIP.port, count: 10_000_000 })) });
  let killed = 0;
  let runs = 0;
  let applied = 0;
  let absent = 0;
  let recoveredNotes = 0;
  let intentsLeft = 0;
  let readerReported = 0;
  try {
    // Runs until KILLS children were really killed mid-change (a kill point the op never reaches
    // lets the child finish: that run still checks the reopen), bounded at 4 x KILLS runs.
    for (let run = 0; killed < KILLS && run < KILLS * 4; run++) {
      runs++;
      const before = sinkTotal(lab);
      const k = rnd(7);
      const extra = `198.51.100.${100 + rnd(50)}`;
      const op = [
        { op: 'addReal', vip: KILL_VIP, address: extra, weight: 1 + rnd(3) },
        { op: 'removeReal', vip: KILL_VIP, address: realAddr(21 + rnd(6)) },
        { op: 'setRealWeight', vip: KILL_VIP, address: realAddr(21 + rnd(6)), weight: rnd(5) },
        { op: 'setDefaultMac', mac: lab.defaultMac },
        { op: 'addVip', vip: { address: `192.0.2.${100 + rnd(50)}`, port: 80, proto: 'tcp' } },
        { op: 'removeVip', vip: { address: `192.0.2.${100 + rnd(50)}`, port: 80, proto: 'tcp' } },
        { op: 'setVipFlags', vip: KILL_VIP, flags: rnd(2) ? ['no-sport'] : [] },
      ][k];
      // a kill point the op reaches: every op records an intent, applies, writes the state;
      // ring ops write ring batches, and each op has its own map step; 'none': a timer kill
      const own: Record<string, string[]> = {
        addReal: ['real', 'ring-batch'], removeReal: ['ring-batch'], setRealWeight: ['ring-batch'], setDefaultMac: ['mac'],
        addVip: ['vip-add'], removeVip: ['vip-delete'], setVipFlags: ['vip-add'],
      };
      const choices = [...STEPS.filter((x) => ['intent', 'applied', 'state', 'none'].includes(x)), ...own[op.op]];
      const step = choices[rnd(choices.length)];
      const r = await runChange(intf, op, step, 1, step === 'none' ? rnd(40) : null);
      if (r.signal === 'SIGKILL') killed++;
      else if (r.code !== 0 && !/InputError|not found|no real|no VIP|already|does not|unknown/i.test(r.out)) problems.push(`run ${run}: child ${JSON.stringify(op)} exited ${r.code}: ${r.out.trim().split('\n').pop()}`);
      // a reader first (as `vip list` / a read-only console opens it): with an intent left it must
      // report the pending change and list what the kernel's ring holds, every slot accounted for
      if (existsSync(join(balancerStateDir(stateDir, intf), STATE_FILES.intent))) {
        intentsLeft++;
        const ro = Balancer.open(openPinned(intf, { pinRoot, readOnly: true }), { stateDir });
        try {
          const p = ro.info().pendingChange;
          if (p) readerReported++;
          else problems.push(`run ${run} (${op.op}, killed at ${step}): an intent was left and the reader did not report it`);
          const v = ro.vips().find((x) => x.key.address === KILL_VIP.address);
          const slots = v ? v.reals.reduce((a, r) => a + r.ringSlots, 0) : 0;
          const ring = ro.info().capacity.ringSize;
          const filled = v ? ro.control.readRing(v.vipNum).reduce((a, x) => a + (x ? 1 : 0), 0) : 0;
          if (v && slots !== filled) problems.push(`run ${run} (${op.op}, killed at ${step}): the reader listed ${slots} of the ${filled} filled slots of ${ring}`);
        } finally {
          ro.close();
        }
      }
      // the next open: recovers, and the kernel equals the state file
      const h2 = openPinned(intf, { pinRoot });
      dp = Balancer.open(h2, { stateDir });
      if (dp.recovered) recoveredNotes++;
      const bad = consistent(h2, dp);
      if (bad.length) problems.push(`run ${run} (${op.op}, killed at ${step}): ${bad.join('; ')}`);
      // applied or absent
      const s = dp.control.state();
      const kv = s.vips.find((v) => v.key.address === KILL_VIP.address);
      let isApplied: boolean | null = null;
      const o = op as { op: string; address?: string; weight?: number; vip?: VipKey; flags?: string[]; mac?: string };
      if (o.op === 'addReal') isApplied = !!kv?.reals.some((x) => x.address === o.address);
      else if (o.op === 'removeReal') isApplied = !kv?.reals.some((x) => x.address === o.address);
      else if (o.op === 'setVipFlags') isApplied = JSON.stringify(kv?.flags ?? []) === JSON.stringify(o.flags);
      else if (o.op === 'addVip') isApplied = s.vips.some((v) => v.key.address === o.vip!.address);
      else if (o.op === 'removeVip') isApplied = !s.vips.some((v) => v.key.address === o.vip!.address);
      if (isApplied === true) applied++;
      else if (isApplied === false) absent++;
      // keep the KILL_VIP reals from running out
      if (kv && kv.reals.length < 3) for (let i = 1; i <= 6; i++) { try { dp.addReal(KILL_VIP, { address: realAddr(20 + i), weight: 1 }); } catch { /* present */ } }
      dp.close();
      h2.close();
      await new Promise((res) => setTimeout(res, 150));
      const after = sinkTotal(lab);
      if (after <= before) problems.push(`run ${run}: forwarding stalled (sink ${before} -> ${after})`);
    }
  } finally {
    await traffic.stop();
  }
  if (killed < KILLS) problems.push(`only ${killed} of ${KILLS} children were killed mid-change in ${runs} runs`);
  log(`kill -9: ${runs} runs, ${killed} children killed mid-change, ${intentsLeft} left an intent, the next reader reported the pending change in ${readerReported} of them, ${recoveredNotes} opens reported a recovery; afterwards ${applied} changes applied and ${absent} absent (the rest: MAC / weight, checked by consistency); forwarding never stalled: ${!problems.some((p) => p.includes('stalled'))}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    log('soak: needs root (BPF, XDP, network namespaces)');
    return 1;
  }
  mkdirSync(work, { recursive: true, mode: 0o700 });
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  const problems: string[] = [];
  try {
    lab = createLab({ id: ID });
    h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native', pinRoot, lruSize: 262_144 * Math.max(1, numPossibleCpus()) });
    log(`soak ${ID}: balancer ${h.progId} attached ${h.mode} on ${lab.intf}`);
    let dp = Balancer.open(h, { stateDir });
    dp.addVip({ ...UDP_VIP });
    dp.addVip({ ...TCP_VIP });
    problems.push(...(await load(lab, h, dp)));
    problems.push(...stickiness(lab, h, dp, 10));
    problems.push(...stickiness(lab, h, dp, 50));
    dp.close();
    problems.push(...(await kills(lab, lab.intf)));
  } catch (e) {
    problems.push(`soak aborted: ${(e as Error).stack ?? e}`);
  } finally {
    try { if (lab) detach(openPinned(lab.intf, { pinRoot })); } catch { /* gone */ }
    try { h?.close(); } catch { /* closed */ }
    lab?.destroy();
    cleanupLab(ID);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
  if (problems.length) {
    log(`soak: ${problems.length} problem(s):\n  ${problems.slice(0, 30).join('\n  ')}`);
    return 1;
  }
  log('soak: all checks held');
  return 0;
}

process.exitCode = await main();
