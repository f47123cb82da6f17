// The generator's child process (src/lab/generator.ts says why and how it is started): in the lab
// namespace, pinned to one CPU, it loads bpf/trafficgen.bpf.o and sends in chunks of live-frames
// test runs, switching gen_cfg between streams by their share, until its packet or time bound, a
// {"stop":true} line on stdin, or SIGTERM. Every test run with repeat > 1 costs ~25 ms here that is
// not spent sending (the kernel waits, the CPU is free), so the generator paces in bursts: each
// cycle sends what the rate owes since the last (at most 250 ms worth), one run per stream; the
// frames of one run leave at the pipeline's speed.
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { BPF_PROG_TYPE, BpfObject, TestRunner, currentCpu, ifNameToIndex, mapLookup, mapUpdate, numPossibleCpus, pinToCpu, progInfo } from '../dataplane/kernel/libbpf.js';
import { bundledObject } from '../dataplane/kernel/paths.js';
import { ethtoolStats } from './ethtool.js';
import { GEN_LIMITS, streamConfig, type GenReport, type GenSpec } from './generator.js';

const XDP_MD_SIZE = 24; // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
const XDP_MD_DATA_END = 4; // must equal the frame's length (the kernel checks it)
const XDP_MD_INGRESS_IFINDEX = 12;

function out(m: object): void {
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

async function main(spec: GenSpec): Promise<GenReport> {
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const ms = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
  const report: GenReport = {
    offered: 0, perStream: spec.streams.map(() => 0), elapsedMs: 0, activeMs: 0, callMs: 0, sent: 0, calls: 0, cpu: -1,
    stoppedBy: 'time', ethtoolStart: {}, ethtool: {}, runTimeNs: 0, runCnt: 0, cpuMs: 0, progId: 0, errors: [],
  };
  let stopping = false;
  let rate = spec.ratePps ?? 0;
  let weights = spec.streams.map((s) => s.weight ?? 1);
  // Shares are kept exact from the last weight change on, not since the start: a stream the old
  // weights favoured would otherwise get nothing until the totals caught up (seconds of silence).
  let sharesSince = { offered: 0, perStream: spec.streams.map(() => 0) };
  let rateSince = 0;
  let sentSinceRate = 0;
  process.on('SIGTERM', () => { stopping = true; });
  process.on('SIGINT', () => { stopping = true; });
  // The parent gone (its end of stdin closed): stop, whatever the bounds say.
  createInterface({ input: process.stdin }).on('close', () => { stopping = true; }).on('line', (line) => {
    try {
      const m = JSON.parse(line) as { stop?: boolean; rate?: number; weights?: number[] };
      if (m.stop) stopping = true;
      if (typeof m.rate === 'number' && m.rate >= 0 && m.rate <= GEN_LIMITS.maxRatePps) {
        rate = m.rate;
        rateSince = ms();
        sentSinceRate = 0;
      }
      if (Array.isArray(m.weights) && m.weights.length === spec.streams.length && m.weights.every((w) => w >= 0)) {
        weights = m.weights;
        sharesSince = { offered: report.offered, perStream: [...report.perStream] };
      }
    } catch { /* not a command */ }
  });

  const cpu = spec.cpu ?? currentCpu();
  const unpin = pinToCpu(cpu);
  if (spec.nice !== undefined) setPriority(0, spec.nice);
  report.cpu = cpu;
  const obj = BpfObject.open(bundledObject('trafficgen'));
  let runner: TestRunner | undefined;
  try {
    obj.load();
    const prog = obj.programs().find((p) => p.type === BPF_PROG_TYPE.XDP)!;
    report.progId = progInfo(prog.fd).id;
    const cfgFd = obj.map('gen_cfg')!.fd;
    const stateFd = obj.map('gen_state')!.fd;
    const ifindex = ifNameToIndex(spec.ifname);
    if (!ifindex) throw new Error(`generator: no interface ${spec.ifname} in this namespace`);
    const streams = spec.streams.map((s) => {
      const c = streamConfig(spec, s);
      const ctx = Buffer.alloc(XDP_MD_SIZE);
      ctx.writeUInt32LE(c.frame.length, XDP_MD_DATA_END);
      ctx.writeUInt32LE(ifindex, XDP_MD_INGRESS_IFINDEX);
      return { ...c, ctx };
    });
    runner = new TestRunner(prog.fd, 256, 'trafficgen');
    const chunkMax = Math.max(1, Math.min(spec.chunk ?? 262_144, 1 << 26));
    const limit = spec.packets ?? Number.MAX_SAFE_INTEGER;
    const key = Buffer.alloc(4);
    let current = -1;
    let lastProgress = 0;
    report.ethtoolStart = ethtoolStats(spec.ifname);
    out({ ready: { progId: report.progId, cpu } });
    const start = ms();
    for (let guard = 0; guard < 1e9; guard++) {
      const now = ms();
      if (stopping) { report.stoppedBy = 'stop'; break; }
      if (report.offered >= limit) { report.stoppedBy = 'packets'; break; }
      if (now >= spec.durationMs) { report.stoppedBy = 'time'; break; }
      if (now - lastProgress >= (spec.progressMs ?? 500)) {
        lastProgress = now;
        out({ progress: { offered: report.offered, perStream: report.perStream, elapsedMs: now } });
      }
      // One cycle: n frames (flat out: a chunk; paced: what the rate owes, at most 250 ms worth),
      // split over the streams by weight, one test run per stream that has frames due.
      let n = Math.min(chunkMax, limit - report.offered);
      if (rate > 0) {
        const owed = Math.floor((rate * (now - rateSince)) / 1000) - sentSinceRate;
        n = Math.min(n, owed, Math.ceil(rate / 4));
        if (n <= 0) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
      }
      const total = weights.reduce((a, b) => a + b, 0);
      if (total <= 0) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      // Each stream's due: its share of everything sent since the last weight change plus this cycle, less what it got
      // (so shares stay exact over cycles); whatever rounding leaves goes to the most behind.
      const due = streams.map((_, i) => (weights[i] > 0 ? Math.max(0, Math.floor((weights[i] / total) * (report.offered - sharesSince.offered + n) - (report.perStream[i] - sharesSince.perStream[i]))) : 0));
      let left = n - due.reduce((a, b) => a + b, 0);
      for (let i = 0; i < streams.length && left < 0; i++) {
        const cut = Math.min(due[i], -left);
        due[i] -= cut;
        left += cut;
      }
      if (left > 0) {
        let pick = 0;
        let behind = -Infinity;
        for (let i = 0; i < streams.length; i++) {
          if (weights[i] <= 0) continue;
          const b = (weights[i] / total) * (report.offered - sharesSince.offered + n) - (report.perStream[i] - sharesSince.perStream[i]) - due[i];
          if (b > behind) { behind = b; pick = i; }
        }
        due[pick] += left;
      }
      for (let i = 0; i < streams.length; i++) {
        if (due[i] <= 0) continue;
        if (i !== current) {
          mapUpdate(cfgFd, key, streams[i].cfg, 0, 'map gen_cfg');
          current = i;
        }
        const c0 = ms();
        runner.runLive(streams[i].frame, due[i], streams[i].ctx, spec.batchSize ?? GEN_LIMITS.batchSize);
        report.callMs += ms() - c0;
        report.calls++;
        report.offered += due[i];
        report.perStream[i] += due[i];
        sentSinceRate += due[i];
      }
      // Let stdin and signals in between cycles (paced too: a rate the runs cannot keep up with
      // always owes frames, and the stop line must still be read).
      await new Promise((r) => setImmediate(r));
    }
    report.activeMs = ms() - start;
    const ncpu = numPossibleCpus();
    const v = Buffer.alloc(ncpu * 16);
    if (mapLookup(stateFd, key, v, 'map gen_state')) {
      for (let c = 0; c < ncpu; c++) report.sent += Number(v.readBigUInt64LE(c * 16 + 8));
    }
    const info = progInfo(prog.fd);
    report.runTimeNs = Number(info.runTimeNs);
    report.runCnt = Number(info.runCnt);
    try {
      report.ethtool = ethtoolStats(spec.ifname);
    } catch (e) {
      report.errors.push((e as Error).message);
    }
  } catch (e) {
    report.stoppedBy = 'error';
    report.errors.push((e as Error).message);
  } finally {
    runner?.close();
    obj.close();
    unpin();
  }
  report.elapsedMs = ms();
  const u = process.cpuUsage(cpu0);
  report.cpuMs = (u.user + u.system) / 1000;
  return report;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as GenSpec;
main(spec).then((r) => {
  out({ report: r });
  process.exit(r.stoppedBy === 'error' ? 1 : 0);
}, (e) => {
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
