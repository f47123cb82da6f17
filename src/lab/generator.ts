// The lab's kernel-speed traffic generator (GUIDE.md, "This kernel"): bpf/trafficgen.bpf.c run
// with bpf_prog_test_run_opts in live-frames mode sends real frames out of the client-side veth
// towards the balancer, millions per second where Node's sockets manage ~20k.
//
// Why a child process: ctx.ingress_ifindex is looked up in the calling thread's network namespace
// (from the root namespace the call fails with ENODEV), and one long run blocks its thread. So
// `ip netns exec <lab ns> node generator-child.js <spec>` loads its own copy of the program (no
// pins: under ip netns exec /sys/fs/bpf is not bpffs), pins itself to one CPU and runs in chunks
// it can stop between. Everything it loaded goes with the process.
//
// Protocol: one JSON spec in argv; on stdin, JSON lines {"stop":true} / {"rate":N} /
// {"weights":[...]}; on stdout, JSON lines {"ready":...}, {"progress":...} and last {"report":...}.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseIp } from '../dataplane/abi.js';
import { buildFrame, tagFrame, vlanTags, TCP_FLAGS, type LabVlanTag } from './frames.js';

/** One kind of traffic: a VIP, a protocol, and the flows it cycles over. */
export interface GenStream {
  /** 'tcp-syn': every packet a SYN (a new flow when it is a new 5-tuple); 'tcp-ack': established-flow packets. */
  proto: 'tcp-syn' | 'tcp-ack' | 'udp';
  dst: string;
  dport: number;
  /** Client addresses cycled over, from the lab's first client up (v4 at most 254, v6 at most 65534; default 1). */
  clients?: number;
  /** Source ports per client, from `sportBase` up (default 1; sportBase + ports <= 65536). */
  ports?: number;
  sportBase?: number;
  /** Frame bytes before padding (default: headers only; padded to a multiple of 8, at least 64). */
  size?: number;
  /** Share of the rate, relative to the other streams' (default 1). */
  weight?: number;
  /**
   * Send the frame already encapsulated (IPIP / IP6IP6 to this outer destination): the bench's
   * floor program only swaps MACs, so what it sends back is what the sink counts as for a real.
   */
  encapTo?: string;
  /**
   * Send the frames tagged (802.1Q, or an 802.1ad pair) as a trunk port would: live frames do not
   * pass the lab switch's tc egress tagger, so the tag is written into the template itself.
   */
  vlan?: LabVlanTag;
}

export interface GenSpec {
  /** The client-side interface in the lab namespace: frames leave it (ctx.ingress_ifindex). */
  ifname: string;
  srcMac: string;
  dstMac: string;
  /** The lab's first client address per family (the flow cycle counts up from it). */
  clientV4: string;
  clientV6: string;
  streams: GenStream[];
  /** Packets per second over all streams; 0 / absent: flat out. */
  ratePps?: number;
  /** Stop after this many packets (absent: only the time bound). */
  packets?: number;
  /** Stop after this long (required bound; at most 1 h). */
  durationMs: number;
  /** The CPU the child pins itself to (default: the one it starts on). */
  cpu?: number;
  /**
   * Nice value of the child (-20..19). 19 makes the generator the filler on its CPU: a NAPI thread
   * pinned to the same CPU (the sink's) gets what it needs first.
   */
  nice?: number;
  /** Frames per cycle flat out (default 262144: ~0.2 s at 1.3 Mpps, the stop latency; at most 2^26). */
  chunk?: number;
  /** Frames per batch inside one test run (1-256, default 256: one veth ring's worth). */
  batchSize?: number;
  /** Progress lines every this many ms (default 500). */
  progressMs?: number;
}

export interface GenProgress {
  /** Frames handed to the program (the sum of the test runs' repeat counts). */
  offered: number;
  /** Per stream, in spec order. */
  perStream: number[];
  elapsedMs: number;
}

export interface GenReport extends GenProgress {
  /** Frames the program returned XDP_TX for (its own per-CPU counter). */
  sent: number;
  /** ms from the first chunk to the end (elapsedMs less the start: the rate's denominator). */
  activeMs: number;
  /** ms spent inside the test-run calls (each costs ~25 ms of kernel set-up here besides sending). */
  callMs: number;
  /** The test-run calls made. */
  calls: number;
  cpu: number;
  /** Why it stopped. */
  stoppedBy: 'packets' | 'time' | 'stop' | 'error';
  /** The client interface's ethtool statistics (veth: per-queue XDP counters) at the start and the end. */
  ethtoolStart: Record<string, number>;
  ethtool: Record<string, number>;
  /** The program's run time and runs (kernel.bpf_stats_enabled = 1 only; else 0). */
  runTimeNs: number;
  runCnt: number;
  /** CPU time the child used (user + system, ms). */
  cpuMs: number;
  progId: number;
  errors: string[];
}

export const GEN_LIMITS = { maxDurationMs: 3_600_000, maxRatePps: 20_000_000, maxStreams: 64, batchSize: 256 } as const;

// struct gen_cfg of bpf/trafficgen.bpf.c
export const GEN_CFG = { size: 160, maxFrame: 128, len: 128, flows: 132, ports: 136, addrOff: 140, sportOff: 142, ipCsumOff: 144, l4CsumOff: 146, udp: 148 } as const;

/** The bytes of one stream's gen_cfg value: its template (flow 0) and where the flow fields are. */
export function streamConfig(spec: Pick<GenSpec, 'srcMac' | 'dstMac' | 'clientV4' | 'clientV6'>, s: GenStream): { cfg: Buffer; frame: Buffer; flows: number } {
  const dst = parseIp(s.dst, 'stream destination');
  const v6 = dst.family === 6;
  const client = parseIp(v6 ? spec.clientV6 : spec.clientV4, 'client address');
  const clients = Math.floor(s.clients ?? 1);
  const ports = Math.floor(s.ports ?? 1);
  const sportBase = Math.floor(s.sportBase ?? 1024);
  const low = client.bytes.readUInt16BE(client.bytes.length - 2);
  const maxClients = v6 ? 0xffff - low : 254 - client.bytes[3] + 1;
  if (!(clients >= 1 && clients <= maxClients)) throw new RangeError(`stream to ${s.dst}: clients ${s.clients} out of range (1-${maxClients} from ${client.text})`);
  if (!(sportBase >= 1 && ports >= 1 && sportBase + ports <= 65536)) throw new RangeError(`stream to ${s.dst}: ports ${sportBase}+${ports} must stay within 1-65535`);
  if (!(s.dport >= 1 && s.dport <= 65535)) throw new RangeError(`stream to ${s.dst}: port ${s.dport} out of range (1-65535)`);
  const tcp = s.proto !== 'udp';
  const headers = 14 + (v6 ? 40 : 20) + (tcp ? 20 : 8);
  const payloadLen = Math.max(0, Math.floor(s.size ?? headers) - headers - (s.encapTo ? (v6 ? 40 : 20) : 0) - (s.vlan ? 4 * vlanTags(s.vlan).length : 0));
  let frame = buildFrame({
    srcMac: spec.srcMac, dstMac: spec.dstMac, src: client.text, dst: dst.text, sport: sportBase, dport: s.dport,
    proto: tcp ? 'tcp' : 'udp', tcpFlags: s.proto === 'tcp-syn' ? TCP_FLAGS.SYN : TCP_FLAGS.ACK, payload: Buffer.alloc(payloadLen, 0x6b),
  });
  let shift = 0;
  if (s.encapTo) {
    const outer = parseIp(s.encapTo, 'encapsulation destination');
    if (outer.family !== dst.family) throw new RangeError(`stream to ${s.dst}: encapsulation to ${s.encapTo} is of the other family`);
    frame = encapsulate(frame, outer.bytes, client.bytes);
    shift = v6 ? 40 : 20;
  }
  if (s.vlan) {
    frame = tagFrame(frame, s.vlan);
    shift += 4 * vlanTags(s.vlan).length;
  }
  const len = Math.max(64, (frame.length + 7) & ~7);
  if (len > GEN_CFG.maxFrame) throw new RangeError(`stream to ${s.dst}: frame of ${len} bytes exceeds ${GEN_CFG.maxFrame}`);
  const padded = Buffer.alloc(len); // Ethernet padding after the IP datagram
  frame.copy(padded);
  const l3 = 14 + shift;
  const l4 = l3 + (v6 ? 40 : 20);
  const cfg = Buffer.alloc(GEN_CFG.size);
  padded.copy(cfg, 0);
  cfg.writeUInt32LE(len, GEN_CFG.len);
  cfg.writeUInt32LE(clients * ports, GEN_CFG.flows);
  cfg.writeUInt32LE(ports, GEN_CFG.ports);
  cfg.writeUInt16LE(v6 ? l3 + 8 + 14 : l3 + 12 + 2, GEN_CFG.addrOff);
  cfg.writeUInt16LE(l4, GEN_CFG.sportOff);
  cfg.writeUInt16LE(v6 ? 0 : l3 + 10, GEN_CFG.ipCsumOff);
  cfg.writeUInt16LE(l4 + (tcp ? 16 : 6), GEN_CFG.l4CsumOff);
  cfg[GEN_CFG.udp] = tcp ? 0 : 1;
  return { cfg, frame: padded, flows: clients * ports };
}

/** Wraps an Ethernet frame's IP packet in an outer IPv4 (IPIP) or IPv6 (IP6IP6) header. */
function encapsulate(frame: Buffer, outerDst: Buffer, outerSrc: Buffer): Buffer {
  const inner = frame.subarray(14);
  const v6 = outerDst.length === 16;
  const h = Buffer.alloc(v6 ? 40 : 20);
  if (v6) {
    h.writeUInt32BE(6 << 28, 0);
    h.writeUInt16BE(inner.length, 4);
    h[6] = 41;
    h[7] = 64;
    outerSrc.copy(h, 8);
    outerDst.copy(h, 24);
  } else {
    h[0] = 0x45;
    h.writeUInt16BE(20 + inner.length, 2);
    h[8] = 64;
    h[9] = 4;
    outerSrc.copy(h, 12);
    outerDst.copy(h, 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    h.writeUInt16BE(~sum & 0xffff, 10);
  }
  return Buffer.concat([frame.subarray(0, 14), h, inner]);
}

/** Checks a spec before a child is started: a clear one-line error, nothing started. */
export function validateSpec(spec: GenSpec): void {
  if (!Array.isArray(spec.streams) || spec.streams.length === 0 || spec.streams.length > GEN_LIMITS.maxStreams) {
    throw new RangeError(`generator: 1-${GEN_LIMITS.maxStreams} streams, got ${spec.streams?.length ?? 0}`);
  }
  if (!(spec.durationMs > 0 && spec.durationMs <= GEN_LIMITS.maxDurationMs)) throw new RangeError(`generator: durationMs ${spec.durationMs} out of range (1-${GEN_LIMITS.maxDurationMs})`);
  if (spec.ratePps !== undefined && !(spec.ratePps >= 0 && spec.ratePps <= GEN_LIMITS.maxRatePps)) throw new RangeError(`generator: rate ${spec.ratePps} pps out of range (0 = flat out, at most ${GEN_LIMITS.maxRatePps})`);
  if (spec.packets !== undefined && !(Number.isInteger(spec.packets) && spec.packets >= 0)) throw new RangeError(`generator: packets ${spec.packets} must be a whole number >= 0`);
  if (spec.batchSize !== undefined && !(Number.isInteger(spec.batchSize) && spec.batchSize >= 1 && spec.batchSize <= GEN_LIMITS.batchSize)) throw new RangeError(`generator: batch size ${spec.batchSize} out of range (1-${GEN_LIMITS.batchSize})`);
  if (spec.nice !== undefined && !(Number.isInteger(spec.nice) && spec.nice >= -20 && spec.nice <= 19)) throw new RangeError(`generator: nice ${spec.nice} out of range (-20-19)`);
  for (const s of spec.streams) {
    if (s.weight !== undefined && !(s.weight >= 0)) throw new RangeError(`stream to ${s.dst}: weight ${s.weight} must be >= 0`);
    streamConfig(spec, s);
  }
}

export interface RunningGenerator {
  /** The child's pid (its CPU use can be read from /proc). */
  pid: number;
  /** Resolves once the program is loaded and the first chunk is about to go. */
  ready: Promise<{ progId: number; cpu: number }>;
  /** Resolves with the report when the generator ends (its bounds, stop(), or an error). */
  done: Promise<GenReport>;
  /** The latest progress line. */
  progress(): GenProgress;
  setRate(pps: number): void;
  setWeights(weights: number[]): void;
  /** Asks the child to stop after its current chunk; resolves with its report. */
  stop(): Promise<GenReport>;
}

const childScript = fileURLToPath(new URL('./generator-child.js', import.meta.url));

/**
 * Starts the generator in network namespace `ns` (a lab's). The child is killed if it outlives its
 * time bound by 15 s.
 */
export function startGenerator(ns: string, spec: GenSpec): RunningGenerator {
  validateSpec(spec);
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, childScript, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let buf = '';
  let err = '';
  let last: GenProgress = { offered: 0, perStream: spec.streams.map(() => 0), elapsedMs: 0 };
  let report: GenReport | undefined;
  let onReady: (r: { progId: number; cpu: number }) => void = () => {};
  let onReadyFail: (e: Error) => void = () => {};
  const ready = new Promise<{ progId: number; cpu: number }>((res, rej) => { onReady = res; onReadyFail = rej; });
  ready.catch(() => { /* seen through done */ });
  child.stdout!.on('data', (d) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const m = JSON.parse(line) as { ready?: { progId: number; cpu: number }; progress?: GenProgress; report?: GenReport };
      if (m.ready) onReady(m.ready);
      if (m.progress) last = m.progress;
      if (m.report) report = m.report;
    }
  });
  child.stderr!.on('data', (d) => { err += d; });
  child.stdin!.on('error', () => { /* the child is gone: done says why */ });
  const killer = setTimeout(() => child.kill('SIGKILL'), spec.durationMs + 15_000);
  const done = new Promise<GenReport>((resolve, reject) => {
    child.on('error', (e) => { clearTimeout(killer); onReadyFail(e); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      if (report) {
        if (code !== 0 && report.errors.length === 0) report.errors.push(`generator exited with ${code ?? signal}: ${err.trim()}`);
        onReadyFail(new Error(`generator ended before it was ready: ${report.errors.join('; ')}`));
        resolve(report);
      } else {
        const e = new Error(`generator in ${ns} failed (exit ${code ?? signal}): ${err.trim().slice(0, 2000)}`);
        onReadyFail(e);
        reject(e);
      }
    });
  });
  done.catch(() => { /* the caller sees it through `done` */ });
  const send = (m: object): void => {
    if (child.exitCode === null && child.stdin!.writable) child.stdin!.write(`${JSON.stringify(m)}\n`);
  };
  return {
    pid: child.pid ?? 0,
    ready,
    done,
    progress: () => last,
    setRate: (pps) => send({ rate: pps }),
    setWeights: (weights) => send({ weights }),
    stop: () => {
      send({ stop: true });
      return done;
    },
  };
}

/** What the generator needs to know of a lab (src/dataplane/lab.ts's Lab has all of it). */
export interface LabEnds {
  ns: string;
  peer: string;
  peerMac: string;
  intfMac: string;
  clientsV4: string[];
  clientsV6: string[];
}

/** startGenerator from the lab's client side (its peer veth) to the balancer's interface. */
export function startLabGenerator(lab: LabEnds, o: Omit<GenSpec, 'ifname' | 'srcMac' | 'dstMac' | 'clientV4' | 'clientV6'>): RunningGenerator {
  return startGenerator(lab.ns, { ...o, ifname: lab.peer, srcMac: lab.peerMac, dstMac: lab.intfMac, clientV4: lab.clientsV4[0], clientV6: lab.clientsV6[0] });
}
