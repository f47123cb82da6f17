// The demo / test topology (network safety): only interfaces this module creates, iproute2
// through execFile with argument arrays (never a shell), documentation prefixes, bounded traffic,
// and cleanup also on failure. The balancer's interface stays in the ROOT namespace (bpffs and our
// pins live there); the clients live in a lab namespace behind the veth peer:
//
//   root ns                              lab ns kt-<id>-cl
//   kt<id>b  (balancer, XDP native) <==> kt<id>p  (sink XDP: counts IPIP / IP6IP6 per outer dst)
//     no addresses, IPv6 off               clients 203.0.113.1-N/24, 2001:db8:c::1-N/64
//                                          192.0.2.0/24 via 203.0.113.254, 2001:db8:f::/64 via fe80::1,
//                                          both gateways' neighbour entries = kt<id>b's MAC
//   kt<id>h  (optional healthcheck intf) <==> kt<id>g  (no XDP, nothing counts there)
//
// The sink is loaded and attached to the peer from the root namespace, before the peer moves into
// the lab namespace (an XDP program attached through netlink moves with its device). The lab's
// default MAC is the peer's MAC: encapsulated packets the balancer sends back (XDP_TX) reach the
// sink. No real answers (no ipip module), so TCP never establishes: established-flow packets are
// crafted frames sent by AF_PACKET inside the namespace.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatIp, formatMac, parseMac } from '../dataplane/abi.js';
import { buildFrame, type FrameSpec } from './frames.js';
import type { TrafficReport, TrafficSpec } from './traffic.js';
import {
  BPF_PROG_TYPE, BpfObject, XDP_FLAGS, ifNameToIndex, isRoot, linkBasics, mapDelete,
  mapLookup, mapNextKey, mapUpdate, numPossibleCpus, progInfo, xdpAttach,
} from '../dataplane/kernel/libbpf.js';
import { bundledObject } from '../dataplane/kernel/paths.js';
import { PacketSender } from './libc.js';
import { createVlanSwitch, type LabVlanSwitch } from './vlan.js';
import { labNames } from './names.js';
import { NotABalancerError, NotRootError, ObjectMissingError } from '../dataplane/errors.js';

export { labNames };

export type { TrafficFlow, TrafficReport, TrafficSpec } from './traffic.js';

export const LAB_PREFIXES = {
  clientsV4: '203.0.113.0/24',
  clientsV6: '2001:db8:c::/64',
  vipsV4: '192.0.2.0/24',
  vipsV6: '2001:db8:f::/64',
  realsV4: '198.51.100.0/24',
  realsV6: '2001:db8:e::/64',
} as const;
const GW_V4 = '203.0.113.254';
const GW_V6 = 'fe80::1';
export const LAB_MTU = 1600;

export interface LabOptions {
  /** Lowercase letters and digits, 1-10: names are kt<id>b / kt<id>p / kt-<id>-cl. */
  id: string;
  /** Client addresses per family (default 4). */
  clients?: number;
  /** Also create a healthcheck interface pair (kt<id>h in the root namespace). */
  healthcheck?: boolean;
  /** Path of the sink object (default: the bundled sink.bpf.o). */
  sinkObject?: string;
  /** false: the sink counts per real only, not per flow (sinkFlows() stays empty): the bench's Mpps of new flows. */
  sinkFlows?: boolean;
  /** The VLAN switch (vlan.ts): a tagger on the peer's tc egress, tx VLAN offload off there. */
  vlan?: boolean;
}

export interface SinkCount {
  /** Outer destination: the real. */
  dst: string;
  family: 4 | 6;
  packets: number;
  /** Bytes, when the sink counts them. */
  bytes?: number;
  /** Packets whose destination MAC was not the sink's own (the default MAC), when the sink says. */
  wrongMac?: number;
}

export interface SinkFlow {
  real: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  /** IP protocol number of the inner packet (6 TCP, 17 UDP). */
  proto: number;
  packets: number;
}

export interface RunningTraffic {
  /** Resolves with the generator's report when it ends. */
  done: Promise<TrafficReport>;
  /** Stops it early (SIGTERM) and waits for its report. */
  stop(): Promise<TrafficReport>;
}

export interface Lab {
  id: string;
  ns: string;
  /** The balancer's interface (root namespace). */
  intf: string;
  ifindex: number;
  intfMac: string;
  /** The peer (in the lab namespace), where the sink runs. */
  peer: string;
  peerMac: string;
  /** The MAC the balancer must send to: the peer's. */
  defaultMac: string;
  /** Healthcheck interface in the root namespace, when asked for. */
  hcIntf?: string;
  clientsV4: string[];
  clientsV6: string[];
  prefixes: typeof LAB_PREFIXES;
  sinkProgId: number;
  /** Runs the generator in the client namespace until its counts are sent (bounded). */
  traffic(spec: TrafficSpec): Promise<TrafficReport>;
  /** Starts the generator in the background (the demo). */
  startTraffic(spec: TrafficSpec): RunningTraffic;
  /** Sends crafted frames from the client namespace out of the peer, by AF_PACKET. */
  sendFrames(frames: Uint8Array[], o?: { repeat?: number }): Promise<number>;
  /** A frame from the client side to the balancer (MACs filled in). */
  frame(spec: Omit<FrameSpec, 'srcMac' | 'dstMac'>): Buffer;
  /** Sends frames out of a root-namespace lab interface (e.g. the healthcheck one) with an SO_MARK. */
  sendFramesFromRoot(intf: string, frames: Uint8Array[], mark?: number): number;
  /** What each real (outer destination) received, from the sink's map. */
  sinkCounts(): SinkCount[];
  /** Which real each inner flow went to (sink_flows), when the sink records flows. */
  sinkFlows(): SinkFlow[];
  /** Frames the sink saw that were not encapsulated (passed to the lab namespace). */
  sinkOther(): number;
  /** The VLAN switch, when asked for (LabOptions.vlan). */
  vlan?: LabVlanSwitch;
  resetSinkCounts(): void;
  /** Deletes the balancer's interface (`ip link del`; its peer goes with it), as an operator might. */
  deleteLink(): void;
  /**
   * Creates the pair again after deleteLink(): the same names and MACs, the sink on the peer, the
   * lab namespace's addresses and routes; a new ifindex (returned, and in `ifindex`).
   */
  recreateLink(): number;
  /** Removes the namespace, the links and the sink; idempotent. */
  destroy(): void;
}

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
  }
}

function tryIp(args: string[]): boolean {
  try {
    ip(args);
    return true;
  } catch {
    return false;
  }
}


function netnsList(): string[] {
  try {
    return ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  } catch {
    return [];
  }
}

/** Removes whatever a lab with this id (or a crashed one) left: its namespace and links. */
export function cleanupLab(id: string): string[] {
  const n = labNames(id);
  const removed: string[] = [];
  if (netnsList().includes(n.ns) && tryIp(['netns', 'del', n.ns])) removed.push(`netns ${n.ns}`);
  for (const l of [n.b, n.h, n.p, n.g]) {
    if (ifNameToIndex(l) && tryIp(['link', 'del', l])) removed.push(`link ${l}`);
  }
  return removed;
}

/** Leftovers of labs whose id starts with `prefix` (a crashed demo), removed. */
export function cleanupLabs(prefix: string): string[] {
  const removed: string[] = [];
  for (const ns of netnsList()) {
    const m = /^kt-([a-z0-9]{1,10})-cl$/.exec(ns);
    if (m && m[1].startsWith(prefix)) removed.push(...cleanupLab(m[1]));
  }
  for (const line of ip(['-o', 'link', 'show']).split('\n')) {
    const name = line.split(': ')[1]?.split('@')[0];
    const m = name ? /^kt([a-z0-9]{1,10})[bphg]$/.exec(name) : null;
    if (m && m[1].startsWith(prefix) && ifNameToIndex(name!) && tryIp(['link', 'del', name!])) removed.push(`link ${name}`);
  }
  return removed;
}

function disableIpv6(intf: string): void {
  const p = `/proc/sys/net/ipv6/conf/${intf}/disable_ipv6`;
  if (existsSync(p)) writeFileSync(p, '1');
}

const trafficScript = fileURLToPath(new URL('./traffic.js', import.meta.url));

export function createLab(o: LabOptions): Lab {
  if (!isRoot()) throw new NotRootError('create', 'lab', 'not root: the lab creates network namespaces and attaches XDP programs');
  const n = labNames(o.id);
  cleanupLab(o.id);
  const clients = Math.min(Math.max(1, o.clients ?? 4), 50);
  let sink: BpfObject | undefined;
  let vlan: LabVlanSwitch | undefined;
  try {
    ip(['link', 'add', n.b, 'mtu', String(LAB_MTU), 'type', 'veth', 'peer', 'name', n.p, 'mtu', String(LAB_MTU)]);
    disableIpv6(n.b);
    const peerMac = formatMac(linkBasics(n.p).mac);
    const intfMac = formatMac(linkBasics(n.b).mac);

    // The sink, attached natively to the peer while it is still in this namespace.
    const sinkPath = o.sinkObject ?? bundledObject('sink');
    if (!existsSync(sinkPath)) throw new ObjectMissingError('open BPF object', sinkPath, `open BPF object ${sinkPath}: the lab's sink object is missing: run npm run build`);
    sink = BpfObject.open(sinkPath);
    sink.load();
    const prog = sink.programs().find((p) => p.type === BPF_PROG_TYPE.XDP);
    if (!prog) throw new NotABalancerError('open', sinkPath, 'no XDP program in the sink object');
    const sinkMapDef = sink.map('sink_counts');
    if (!sinkMapDef) throw new NotABalancerError('open', sinkPath, 'the sink object has no map sink_counts');
    // The MAC the balancer must send to: the sink counts frames to any other as wrong_mac.
    const cfg = sink.map('sink_cfg');
    if (cfg) {
      const v = Buffer.alloc(cfg.valueSize);
      parseMac(peerMac).copy(v, 0);
      if (o.sinkFlows === false) v[6] = 1; // sink_cfg.no_flows
      mapUpdate(cfg.fd, Buffer.alloc(4), v, 0, 'map sink_cfg');
    }
    const progFd = prog.fd;
    const sinkProgId = progInfo(progFd).id;
    const inNs = (args: string[]): string => ip(['-n', n.ns, ...args]);
    const clientsV4: string[] = [];
    const clientsV6: string[] = [];
    for (let i = 1; i <= clients; i++) {
      clientsV4.push(`203.0.113.${i}`);
      clientsV6.push(`2001:db8:c::${i.toString(16)}`);
    }
    // The sink on the peer (natively, while it is still in this namespace), then the peer into the
    // lab namespace with the clients' addresses and routes to the VIPs, then the balancer's side up.
    const wire = (): void => {
      xdpAttach(ifNameToIndex(n.p), progFd, XDP_FLAGS.UPDATE_IF_NOEXIST | XDP_FLAGS.DRV_MODE, undefined, `interface ${n.p}`);
      ip(['link', 'set', n.p, 'netns', n.ns]);
      inNs(['link', 'set', n.p, 'up']);
      for (let i = 0; i < clients; i++) {
        inNs(['addr', 'add', `${clientsV4[i]}/24`, 'dev', n.p]);
        inNs(['-6', 'addr', 'add', `${clientsV6[i]}/64`, 'dev', n.p, 'nodad']);
      }
      inNs(['neigh', 'replace', GW_V4, 'lladdr', intfMac, 'dev', n.p, 'nud', 'permanent']);
      inNs(['-6', 'neigh', 'replace', GW_V6, 'lladdr', intfMac, 'dev', n.p, 'nud', 'permanent']);
      inNs(['route', 'add', LAB_PREFIXES.vipsV4, 'via', GW_V4, 'dev', n.p]);
      inNs(['-6', 'route', 'add', LAB_PREFIXES.vipsV6, 'via', GW_V6, 'dev', n.p]);
      ip(['link', 'set', n.b, 'up']);
    };
    ip(['netns', 'add', n.ns]);
    inNs(['link', 'set', 'lo', 'up']);
    wire();
    if (o.vlan) vlan = createVlanSwitch({ ns: n.ns, peer: n.p, sink });

    let hcIntf: string | undefined;
    if (o.healthcheck) {
      ip(['link', 'add', n.h, 'mtu', String(LAB_MTU), 'type', 'veth', 'peer', 'name', n.g, 'mtu', String(LAB_MTU)]);
      disableIpv6(n.h);
      ip(['link', 'set', n.g, 'netns', n.ns]);
      inNs(['link', 'set', n.g, 'up']);
      ip(['link', 'set', n.h, 'up']);
      hcIntf = n.h;
    }

    const sinkFd = sinkMapDef.fd;
    const flowsDef = ((m) => (m ? { fd: m.fd, keySize: m.keySize, valueSize: m.valueSize } : null))(sink.map('sink_flows'));
    const otherDef = ((m) => (m ? { fd: m.fd, valueSize: m.valueSize } : null))(sink.map('sink_other'));
    const sinkShape = { keySize: sinkMapDef.keySize, valueSize: sinkMapDef.valueSize, type: sinkMapDef.type };
    const obj = sink;
    const running = new Set<ReturnType<typeof spawn>>();
    let destroyed = false;

    const startTraffic = (spec: TrafficSpec): RunningTraffic => {
      const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, trafficScript, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => { out += d; });
      child.stderr!.on('data', (d) => { err += d; });
      const limit = Math.min(spec.durationMs ?? 30_000, 3_600_000) + 15_000;
      const timer = setTimeout(() => child.kill('SIGKILL'), limit);
      const done = new Promise<TrafficReport>((resolve, reject) => {
        child.on('error', (e) => { clearTimeout(timer); running.delete(child); reject(e); });
        child.on('close', (code) => {
          clearTimeout(timer);
          running.delete(child);
          const line = out.trim().split('\n').pop() ?? '';
          try {
            const r = JSON.parse(line) as TrafficReport;
            if (code !== 0 && r.errors.length === 0) r.errors.push(`generator exited with ${code}: ${err.trim()}`);
            resolve(r);
          } catch {
            reject(new Error(`lab traffic generator failed (exit ${code}): ${(err || out).trim().slice(0, 2000)}`));
          }
        });
      });
      done.catch(() => { /* the caller sees it through `done`; never an unhandled rejection */ });
      return {
        done,
        stop: () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          return done;
        },
      };
    };

    const lab: Lab = {
      id: o.id,
      ns: n.ns,
      intf: n.b,
      ifindex: ifNameToIndex(n.b),
      intfMac,
      peer: n.p,
      peerMac,
      defaultMac: peerMac,
      hcIntf,
      clientsV4,
      clientsV6,
      prefixes: LAB_PREFIXES,
      sinkProgId,
      traffic: (spec) => startTraffic(spec).done,
      startTraffic,
      async sendFrames(frames, so = {}) {
        const r = await startTraffic({ frames: { ifname: n.p, hex: frames.map((f) => Buffer.from(f).toString('hex')), repeat: so.repeat }, durationMs: 10_000 }).done;
        if (r.errors.length) throw new Error(`send frames in ${n.ns}: ${r.errors.join('; ')}`);
        return r.frames;
      },
      frame: (spec) => buildFrame({ ...spec, srcMac: peerMac, dstMac: intfMac }),
      sendFramesFromRoot(intf, frames, mark) {
        if (intf !== n.b && intf !== n.h) throw new Error(`lab ${o.id}: ${intf} is not one of this lab's interfaces`);
        const s = new PacketSender(intf, mark);
        try {
          let k = 0;
          for (const f of frames.slice(0, 100_000)) {
            s.send(f);
            k++;
          }
          return k;
        } finally {
          s.close();
        }
      },
      sinkCounts: () => readSink(sinkFd, sinkShape),
      sinkFlows: () => (flowsDef ? readSinkFlows(flowsDef.fd, flowsDef.keySize, flowsDef.valueSize) : []),
      vlan,
      sinkOther() {
        if (!otherDef) return 0;
        const v = Buffer.alloc(otherDef.valueSize);
        return mapLookup(otherDef.fd, Buffer.alloc(4), v, 'map sink_other') ? Number(v.readBigUInt64LE(0)) : 0;
      },
      deleteLink() {
        if (ifNameToIndex(n.b)) ip(['link', 'del', n.b]);
      },
      recreateLink() {
        if (ifNameToIndex(n.b)) throw new Error(`lab ${o.id}: ${n.b} still exists (deleteLink first)`);
        // The same names and MACs: the balancer's default MAC (the peer's) stays right.
        ip(['link', 'add', n.b, 'address', intfMac, 'mtu', String(LAB_MTU), 'type', 'veth', 'peer', 'name', n.p, 'address', peerMac, 'mtu', String(LAB_MTU)]);
        disableIpv6(n.b);
        wire();
        vlan?.attach();
        lab.ifindex = ifNameToIndex(n.b);
        return lab.ifindex;
      },
      resetSinkCounts() {
        for (const [fd, size] of [[sinkFd, sinkShape.keySize], ...(flowsDef ? [[flowsDef.fd, flowsDef.keySize]] : [])]) {
          for (const k of sinkKeys(fd, size)) mapDelete(fd, k, 'map sink_counts');
        }
        if (otherDef) mapUpdate(otherDef.fd, Buffer.alloc(4), Buffer.alloc(otherDef.valueSize), 0, 'map sink_other');
      },
      destroy() {
        if (destroyed) return;
        destroyed = true;
        for (const c of running) c.kill('SIGKILL');
        running.clear();
        cleanupLab(o.id);
        vlan?.close();
        obj.close();
      },
    };
    return lab;
  } catch (e) {
    cleanupLab(o.id);
    vlan?.close();
    sink?.close();
    throw e;
  }
}

function sinkKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (let i = 0; i < 65536; i++) {
    const k = Buffer.alloc(keySize);
    if (!mapNextKey(fd, prev, k, 'map sink_counts')) break;
    keys.push(k);
    prev = k;
  }
  return keys;
}

/**
 * Reads the sink's counters. Key: the outer destination (4 bytes v4, 16 bytes v6, or a 20-byte
 * real_definition-like {addr[16], family/flags}); value: u64 packets [, u64 bytes [, u64 wrong-MAC]],
 * per CPU or not.
 */
function readSink(fd: number, shape: { keySize: number; valueSize: number; type: number }): SinkCount[] {
  const cpus = numPossibleCpus();
  const percpu = shape.type === 5 || shape.type === 6 || shape.type === 10;
  const stride = percpu ? (shape.valueSize + 7) & ~7 : shape.valueSize;
  const v = Buffer.alloc(percpu ? cpus * stride : shape.valueSize);
  const out: SinkCount[] = [];
  for (const k of sinkKeys(fd, shape.keySize)) {
    if (!mapLookup(fd, k, v, 'map sink_counts')) continue;
    const sum = (field: number): number => {
      if (field * 8 + 8 > shape.valueSize) return 0;
      let s = 0n;
      for (let c = 0; c < (percpu ? cpus : 1); c++) s += v.readBigUInt64LE(c * stride + field * 8);
      return Number(s);
    };
    const packets = sum(0);
    if (packets === 0) continue;
    let family: 4 | 6;
    let addr: Buffer;
    if (shape.keySize === 4) {
      family = 4;
      addr = k;
    } else if (shape.keySize === 16) {
      family = k.subarray(4).some((b) => b !== 0) ? 6 : 4;
      addr = family === 6 ? k : k.subarray(0, 4);
    } else {
      const fam = k[16];
      family = fam === 6 || fam === 1 || fam === 10 ? 6 : fam === 4 || fam === 2 || fam === 0 ? (k.subarray(4, 16).some((b) => b !== 0) ? 6 : 4) : 4;
      addr = family === 6 ? k.subarray(0, 16) : k.subarray(0, 4);
    }
    const c: SinkCount = { dst: formatIp(addr), family, packets };
    if (shape.valueSize >= 16) c.bytes = sum(1);
    if (shape.valueSize >= 24) c.wrongMac = sum(2);
    out.push(c);
  }
  return out.sort((a, b) => a.dst.localeCompare(b.dst));
}

/** sink_flows: key = sink_key (20: addr[16], family u8, pad) + Katran's flow_key (40); value packets u64 first. */
function readSinkFlows(fd: number, keySize: number, valueSize: number): SinkFlow[] {
  if (keySize !== 60) return [];
  const v = Buffer.alloc(valueSize);
  const out: SinkFlow[] = [];
  for (const k of sinkKeys(fd, keySize)) {
    if (!mapLookup(fd, k, v, 'map sink_flows')) continue;
    const fam = k[16];
    const real = formatIp(fam === 6 ? k.subarray(0, 16) : k.subarray(0, 4));
    const f = k.subarray(20);
    const v6 = f.subarray(4, 16).some((b) => b !== 0) || f.subarray(20, 32).some((b) => b !== 0);
    out.push({
      real,
      src: formatIp(v6 ? f.subarray(0, 16) : f.subarray(0, 4)),
      dst: formatIp(v6 ? f.subarray(16, 32) : f.subarray(16, 20)),
      sport: f.readUInt16BE(32),
      dport: f.readUInt16BE(34),
      proto: f[36],
      packets: Number(v.readBigUInt64LE(0)),
    });
  }
  return out;
}

/** execFile, promisified, for callers that drive iproute2 in a lab namespace. */
export function execIn(ns: string, cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, encoding: 'utf8' }, (e, out, err) => {
      if (e) reject(new Error(`${cmd} in ${ns}: ${(err || e.message).trim()}`));
      else resolve(out);
    });
  });
}
