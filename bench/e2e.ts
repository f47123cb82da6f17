// End to end in the lab for `npm run bench`: the generator (src/lab/generator.ts) flat out from the
// client namespace, the object under test attached to the balancer's veth, the sink on the peer.
// Forwarded packets per second at the sink for new-flow traffic (every packet a SYN of a new
// 5-tuple) and LRU-hit traffic (300 flows repeated), v4 and v6, for katran-tui's balancer, the
// floor (bench/floor.bpf.c: parse, swap MACs, XDP_TX; fed frames that are already encapsulated so
// the sink counts what it sends back) and, when KATRAN_REF_OBJ names one, another Katran-ABI
// object. Native and generic mode. Rounds interleaved (every object and mode once per round, the
// order rotated), medians, ratios within the run only.
//
// Where the time goes: the loss at each stage of the median run (offered by the generator, dropped
// at the balancer's ring, sent by the balancer, TX errors, at the sink) and each program's ns per
// packet from the kernel's run-time statistics (kernel.bpf_stats_enabled, on for the bench and
// restored after). The layout (KT_E2E_LAYOUT):
//   inline (default): no threaded NAPI; the balancer's and the sink's NAPI polls run in softirq on
//     the generator's CPU (CPU 0) as its test run flushes each batch: one core does all three, so
//     back-pressure is natural and nothing is lost; the figure is that core's.
//   threaded: threaded NAPI, the balancer's thread pinned to CPU 1 and the sink's to CPU 0 beside
//     the generator (nice 19, so the sink's thread goes first). Loses frames at the rings whenever
//     a stage falls behind; on a 2-core box shared with other work it is noisier.
// Environment: KT_E2E_ROUNDS (5), KT_E2E_PACKETS per run (500000), KT_E2E_MODES (native,generic),
// KT_E2E_LAYOUT (inline).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { attach } from '../src/dataplane/balancer/attach.js';
import { detach } from '../src/dataplane/balancer/detach.js';
import type { BalancerHandle } from '../src/dataplane/kernel/handle.js';
import { createLab, type Lab } from '../src/lab/lab.js';
import { BpfObject, XDP_FLAGS, closeFd, progFdById, progInfo, xdpAttach, xdpDetach, xdpQuery } from '../src/dataplane/kernel/libbpf.js';
import { builtObject, bundledObject } from '../src/dataplane/kernel/paths.js';
import { ethtoolStats, setGro, vethXdpDelta } from '../src/lab/ethtool.js';
import { startLabGenerator, type GenStream } from '../src/lab/generator.js';
import { placeNapi } from '../src/lab/napi.js';
import { globalStat, programVip, type TestVip } from '../test/e2e/fixture.js';

const ROUNDS = Math.max(1, Number(process.env.KT_E2E_ROUNDS ?? 5));
// Packets per run, sent in ONE test run: every run with repeat > 1 costs ~25 ms of kernel set-up
// here (waiting, not sending), so one call per run keeps that out of the rate but a few percent.
const PACKETS = Math.max(10_000, Math.min(1 << 26, Number(process.env.KT_E2E_PACKETS ?? 500_000)));
const MODES = (process.env.KT_E2E_MODES ?? 'native,generic').split(',').filter((m) => m === 'native' || m === 'generic') as ('native' | 'generic')[];
const LAYOUT = process.env.KT_E2E_LAYOUT === 'threaded' ? 'threaded' : 'inline';
const GEN_CPU = 0;

const V4: TestVip = { address: '192.0.2.50', port: 80, proto: 'tcp', vipNum: 0, reals: [{ index: 1, address: '198.51.100.51' }, { index: 2, address: '198.51.100.52' }] };
const V6: TestVip = { address: '2001:db8:f::50', port: 80, proto: 'tcp', vipNum: 1, reals: [{ index: 3, address: '2001:db8:e::51' }, { index: 4, address: '2001:db8:e::52' }] };

interface Obj { name: string; kind: 'katran' | 'floor'; path: string }
interface Traffic { name: string; vip: TestVip; stream: GenStream }

const TRAFFIC: Traffic[] = [
  { name: 'new flow v4', vip: V4, stream: { proto: 'tcp-syn', dst: V4.address, dport: 80, clients: 254, ports: 60000 } },
  { name: 'new flow v6', vip: V6, stream: { proto: 'tcp-syn', dst: V6.address, dport: 80, clients: 60000, ports: 250 } },
  { name: 'LRU hit v4', vip: V4, stream: { proto: 'tcp-ack', dst: V4.address, dport: 80, clients: 3, ports: 100 } },
  { name: 'LRU hit v6', vip: V6, stream: { proto: 'tcp-ack', dst: V6.address, dport: 80, clients: 3, ports: 100 } },
];

interface Sample {
  elapsedMs: number;
  offered: number;
  /** Dropped putting frames into the balancer's ring (ring full or nothing to receive them). */
  ringDrop: number;
  /** Sent back by the balancer (XDP_TX), TX errors (the sink's ring full). */
  tx: number;
  txErr: number;
  sink: number;
  /** ns per packet in each program (kernel run-time statistics). */
  nsGen: number;
  nsLb: number;
  nsSink: number;
  /** Busy share of each CPU during the run (the whole machine's, other work included). */
  busy: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

function cpuTimes(): { busy: number; total: number }[] {
  return readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).map((l) => {
    const f = l.split(/\s+/).slice(1).map(Number);
    const idle = f[3] + f[4];
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  });
}

function progRun(progId: number): { ns: number; cnt: number } {
  const fd = progFdById(progId);
  try {
    const i = progInfo(fd);
    return { ns: Number(i.runTimeNs), cnt: Number(i.runCnt) };
  } finally {
    closeFd(fd);
  }
}

function ifStats(intf: string): { tx: number; txDropped: number } {
  const r = (k: string): number => Number(readFileSync(`/sys/class/net/${intf}/statistics/${k}`, 'utf8'));
  return { tx: r('tx_packets'), txDropped: r('tx_dropped') };
}

/** The object attached to the lab's balancer interface; detach() takes it off again. */
interface Attached { progId: number; detach(): void; handle?: BalancerHandle }

function attachObj(lab: Lab, o: Obj, mode: 'native' | 'generic', pinRoot: string): Attached {
  if (o.kind === 'katran') {
    const h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode, pinRoot, balancerProg: o.path, lruSize: 262_144 });
    programVip(h, V4);
    programVip(h, V6);
    const q = xdpQuery(lab.ifindex);
    return { progId: mode === 'native' ? q.drvProgId : q.skbProgId, handle: h, detach: () => { detach(h); rmSync(pinRoot, { recursive: true, force: true }); } };
  }
  const obj = BpfObject.open(o.path);
  obj.load();
  const fd = obj.programs()[0].fd;
  const flags = mode === 'native' ? XDP_FLAGS.DRV_MODE : XDP_FLAGS.SKB_MODE;
  xdpAttach(lab.ifindex, fd, XDP_FLAGS.UPDATE_IF_NOEXIST | flags, undefined, `interface ${lab.intf}`);
  return { progId: progInfo(fd).id, detach: () => { xdpDetach(lab.ifindex, flags, fd); obj.close(); } };
}

async function sample(lab: Lab, o: Obj, a: Attached, t: Traffic, mode: 'native' | 'generic', packets = PACKETS): Promise<Sample> {
  const stream: GenStream = o.kind === 'floor' ? { ...t.stream, encapTo: t.vip.reals[0].address } : t.stream;
  lab.resetSinkCounts();
  const eth0 = ethtoolStats(lab.intf);
  const if0 = ifStats(lab.intf);
  const lb0 = progRun(a.progId);
  const sink0 = progRun(lab.sinkProgId);
  const tx0 = a.handle ? globalStat(a.handle, 'xdpTx').v1 : 0;
  const cpu0 = cpuTimes();
  const r = await startLabGenerator(lab, { streams: [stream], packets, chunk: packets, durationMs: 120_000, cpu: GEN_CPU, nice: LAYOUT === 'threaded' ? 19 : undefined }).done;
  await new Promise((res) => setTimeout(res, 100));
  const cpu1 = cpuTimes();
  if (r.errors.length) throw new Error(`generator: ${r.errors.join('; ')}`);
  const b = vethXdpDelta(eth0, ethtoolStats(lab.intf));
  const peer = vethXdpDelta(r.ethtoolStart, r.ethtool);
  const if1 = ifStats(lab.intf);
  const lb1 = progRun(a.progId);
  const sink1 = progRun(lab.sinkProgId);
  const sink = lab.sinkCounts().reduce((s, c) => s + c.packets, 0);
  // Native: veth's own XDP counters (xdp_tx counts the frames that made it into the sink's ring,
  // xdp_tx_errors those that did not: together what the object returned XDP_TX for). Generic: the
  // balancer's XDP_TX counter (the floor has none: what left the interface), and what the
  // interface dropped on the way out.
  const tx = mode === 'native' ? b.xdpTx + b.xdpTxErr : a.handle ? globalStat(a.handle, 'xdpTx').v1 - tx0 : if1.tx - if0.tx;
  const txErr = mode === 'native' ? b.xdpTxErr : if1.txDropped - if0.txDropped;
  const per = (x: { ns: number; cnt: number }, y: { ns: number; cnt: number }): number => (y.cnt > x.cnt ? (y.ns - x.ns) / (y.cnt - x.cnt) : NaN);
  return {
    elapsedMs: r.callMs, offered: r.offered, ringDrop: peer.xmitErr, tx, txErr, sink,
    nsGen: r.runCnt ? r.runTimeNs / r.runCnt : NaN, nsLb: per(lb0, lb1), nsSink: per(sink0, sink1),
    busy: cpu1.map((c, i) => (c.busy - cpu0[i].busy) / Math.max(1, c.total - cpu0[i].total)),
  };
}

function table(rows: string[][]): void {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
}

const mpps = (pps: number): string => (Number.isFinite(pps) ? (pps / 1e6).toFixed(3) : '-');
const ratio = (a: number, b: number): string => (Number.isFinite(a / b) && b > 0 ? (a / b).toFixed(2) : '-');
const ns = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '-');

export async function benchE2e(): Promise<void> {
  const objs: Obj[] = [
    { name: 'katran-tui', kind: 'katran', path: bundledObject('balancer') },
    { name: 'floor', kind: 'floor', path: builtObject('bench/floor.bpf.c') },
  ];
  if (process.env.KATRAN_REF_OBJ) objs.push({ name: 'reference', kind: 'katran', path: process.env.KATRAN_REF_OBJ });
  const id = `e${(process.pid % 46656).toString(36)}`;
  const pins = `/sys/fs/bpf/katran-tui-bench-${id}`;
  const statsPath = '/proc/sys/kernel/bpf_stats_enabled';
  const statsBefore = readFileSync(statsPath, 'utf8').trim();
  const lab = createLab({ id, sinkFlows: false });
  const samples = new Map<string, Sample[]>();
  const key = (t: string, o: string, m: string): string => `${t}|${o}|${m}`;
  try {
    writeFileSync(statsPath, '1');
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        // Generic mode: the balancer's veth needs NAPI without a native program (GRO on), or the
        // generator's frames are dropped uncounted.
        setGro(lab.intf, mode === 'generic');
        for (let k = 0; k < objs.length; k++) {
          const o = objs[(k + round) % objs.length];
          const a = attachObj(lab, o, mode, `${pins}/${o.name}`);
          try {
            if (LAYOUT === 'threaded') {
              if (mode === 'native') await placeNapi(lab.intf, 1);
              await placeNapi(lab.peer, GEN_CPU, lab.ns);
            }
            // Warm-up, not recorded: a fresh object's first new flows fill empty LRUs (first touch).
            await sample(lab, o, a, TRAFFIC[0], mode, 100_000);
            for (const t of TRAFFIC) {
              const s = await sample(lab, o, a, t, mode);
              const k2 = key(t.name, o.name, mode);
              samples.set(k2, [...(samples.get(k2) ?? []), s]);
            }
          } finally {
            a.detach();
          }
        }
      }
      process.stderr.write(`  e2e round ${round + 1}/${ROUNDS} done\n`);
    }
  } finally {
    writeFileSync(statsPath, statsBefore);
    lab.destroy();
    rmSync(pins, { recursive: true, force: true });
  }

  const pps = (s: Sample): number => (s.sink * 1000) / s.elapsedMs;
  const med = (t: string, o: string, m: string): number => median((samples.get(key(t, o, m)) ?? []).map(pps));
  const ref = objs.find((o) => o.name === 'reference');
  console.log(`Forwarded Mpps at the sink (median of ${ROUNDS} interleaved rounds of ${PACKETS} packets each; ratios within this run; ns/pkt: the object's own run time per packet, kernel run-time stats)`);
  const head = ['traffic', 'object'];
  for (const m of MODES) head.push(`${m} Mpps`, 'x floor', ...(ref ? ['x ref'] : []), 'ns/pkt');
  if (MODES.length === 2) head.push('gen/nat');
  const rows = [head];
  for (const t of TRAFFIC) {
    for (const o of objs) {
      const row = [t.name, o.name];
      for (const m of MODES) {
        const v = med(t.name, o.name, m);
        const nsObj = median((samples.get(key(t.name, o.name, m)) ?? []).map((s) => s.nsLb));
        row.push(mpps(v), ratio(v, med(t.name, 'floor', m)), ...(ref ? [ratio(v, med(t.name, 'reference', m))] : []), ns(nsObj));
      }
      if (MODES.length === 2) row.push(ratio(med(t.name, o.name, 'generic'), med(t.name, o.name, 'native')));
      rows.push(row);
    }
  }
  table(rows);

  console.log(`\nStages of the median run (packets over the run): offered by the generator, dropped at the balancer's ring, TX by the object, TX errors, at the sink; ns/pkt in each program (kernel run-time stats); CPU busy (whole machine)`);
  const srows = [['traffic', 'object', 'mode', 'offered', 'ring drop', 'TX', 'TX err', 'sink', 'lost', 'ns gen', 'ns obj', 'ns sink', 'cpu busy']];
  for (const t of TRAFFIC) {
    for (const o of objs) {
      for (const m of MODES) {
        const ss = samples.get(key(t.name, o.name, m)) ?? [];
        const mid = median(ss.map(pps));
        const s = ss.find((x) => pps(x) === mid);
        if (!s) continue;
        srows.push([t.name, o.name, m, String(s.offered), String(s.ringDrop), String(s.tx), String(s.txErr), String(s.sink),
          String(s.offered - s.ringDrop - s.tx), ns(s.nsGen), ns(s.nsLb), ns(s.nsSink), s.busy.map((b) => `${(b * 100).toFixed(0)}%`).join('/')]);
      }
    }
  }
  table(srows);
  const where = LAYOUT === 'inline'
    ? `generator pinned to CPU ${GEN_CPU}; no threaded NAPI: the balancer's and the sink's NAPI polls run in softirq on CPU ${GEN_CPU} too (one core does all three)`
    : `generator on CPU ${GEN_CPU} (nice 19) with the sink's NAPI thread; the balancer's NAPI thread on CPU 1 (native mode)`;
  console.log(`(${where}; "lost" = offered - ring drop - TX: frames the object passed or dropped; the floor's frames are pre-encapsulated (20 / 40 bytes longer); new flows: ${TRAFFIC[0].stream.clients! * TRAFFIC[0].stream.ports!} v4 / ${TRAFFIC[1].stream.clients! * TRAFFIC[1].stream.ports!} v6 5-tuples cycled, beyond Katran's new-connection rate limit the balancer skips the LRU write as Katran does)`);
  if (!ref) console.log('(set KATRAN_REF_OBJ=/path/to/balancer.bpf.o to add another Katran-ABI object to every row)');
}

if (import.meta.url === `file://${process.argv[1]}`) await benchE2e();
