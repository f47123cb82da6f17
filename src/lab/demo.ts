// `katran-tui demo`: a self-contained lab with the console on it.
//
// The lab (lab.ts) makes a veth pair whose balancer end stays in the root namespace and whose peer
// (with an XDP sink counting what each real receives) sits in a client namespace. The balancer is
// attached natively there with the lab's default MAC (the peer's), its own pin root and state
// directory (never the operator's), four VIPs with reals of different weights, and the kernel
// traffic generator (src/lab/generator.ts, --rate pps, default 100k) whose per-VIP rates swing over
// time with bursts of new connections. With --vlans the same on one port with VLANs, the seed's
// "load balancer on a stick" (DEMO_VLANS): the generator tags the client traffic VLAN 573 (its
// live frames skip the lab switch's tc tagger, so it writes the tag itself), the balancer sends it
// back on VLAN 574 to that VLAN's gateway MAC, the sink counts it per VLAN and checks the MAC; a
// little VIP traffic arrives on VLAN 575, which the balancer does not parse (it passes, counted:
// the console's VLAN panel marks it). Quitting the console (or the end of --duration) tears
// everything down; leftovers of a crashed demo are removed at the next start. The demo touches no
// interface it did not create.
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_HASH, formatVip, parseVip, parseVlan, type VlanMappingText } from '../dataplane/abi.js';
import type { Dataplane, Host, VlanStat } from '../dataplane/types.js';
import { DEMO_RATE, type DemoOptions, type Out } from '../cli/context.js';
import { createHost } from '../dataplane/balancer/host.js';
import { table } from '../cli/format.js';
import { startLabGenerator, type GenReport, type GenStream } from './generator.js';
import { parseLabId } from './names.js';

export const DEMO_PIN_ROOT = '/sys/fs/bpf/katran-tui-demo';
export const DEMO_STATE_DIR = '/tmp/katran-tui-demo';

/** The demo's default lab id; `demo --id ID` runs another one beside it (tests do). */
export const DEMO_ID = 'demo';

/** Pin root and state directory of the demo with this id (the default one's have no suffix). */
export function demoPaths(id: string): { pinRoot: string; stateDir: string } {
  return id === DEMO_ID ? { pinRoot: DEMO_PIN_ROOT, stateDir: DEMO_STATE_DIR } : { pinRoot: `${DEMO_PIN_ROOT}-${id}`, stateDir: `${DEMO_STATE_DIR}-${id}` };
}

export interface DemoVip {
  vip: string;
  reals: { address: string; weight: number }[];
  /** Share of the demo's rate (the shares add up to 1). */
  share: number;
  /** The VIP's rate swings between 10% and 100% of its share over this period. */
  periodMs: number;
}

/** Four VIPs (IPv4 TCP, IPv4 UDP, IPv6 TCP, IPv6 UDP), reals of different weights, documentation prefixes. */
export const DEMO_VIPS: DemoVip[] = [
  { vip: '192.0.2.10:80/tcp', share: 0.3, periodMs: 20_000,
    reals: [{ address: '198.51.100.1', weight: 1 }, { address: '198.51.100.2', weight: 2 }, { address: '198.51.100.3', weight: 3 }] },
  { vip: '192.0.2.20:53/udp', share: 0.4, periodMs: 30_000,
    reals: [{ address: '198.51.100.11', weight: 1 }, { address: '198.51.100.12', weight: 1 }, { address: '198.51.100.13', weight: 2 }, { address: '198.51.100.14', weight: 4 }] },
  { vip: '[2001:db8:f::10]:443/tcp', share: 0.2, periodMs: 45_000,
    reals: [{ address: '2001:db8:e::1', weight: 1 }, { address: '2001:db8:e::2', weight: 2 }, { address: '2001:db8:e::3', weight: 5 }] },
  { vip: '[2001:db8:f::20]:53/udp', share: 0.1, periodMs: 15_000,
    reals: [{ address: '2001:db8:e::11', weight: 1 }, { address: '2001:db8:e::12', weight: 3 }] },
];

/**
 * demo --vlans: client traffic arrives tagged `clients`, leaves tagged `reals` to that VLAN's
 * gateway MAC; a share of VIP traffic arrives on `unparsed`, a VLAN the balancer is not told of.
 */
export const DEMO_VLANS = {
  clients: '573',
  reals: '574',
  gateway: '02:00:5e:00:05:74',
  unparsed: '575',
  /** Weight of the unparsed VLAN's stream beside the VIPs' (whose shares add up to 1). */
  unparsedShare: 0.02,
} as const;

/** The demo's one mapping, as attach --vlan 573:574 --vlan-mac 574=GW says it. */
export function demoVlanMappings(): VlanMappingText[] {
  return [{ ingress: DEMO_VLANS.clients, egress: DEMO_VLANS.reals, mac: DEMO_VLANS.gateway }];
}

/** Every BURST_EVERY_MS, for BURST_MS, the TCP VIPs' new connections (SYNs) go up tenfold. */
const BURST_EVERY_MS = 25_000;
const BURST_MS = 2_000;
/** Of a TCP VIP's packets, this share are SYNs of new connections (the rest established flows). */
const SYN_SHARE = 0.1;

/**
 * The generator's streams for the demo VIPs: a TCP VIP gets an established-flow stream (ACKs of
 * 4 clients x 64 ports) and a new-connection stream (SYNs cycling over many 5-tuples); a UDP VIP
 * one stream of 4 clients x 64 ports.
 */
export function demoStreams(o: { vlans?: boolean } = {}): GenStream[] {
  const tag = o.vlans ? { vlan: { vid: parseVlan(DEMO_VLANS.clients).outer } } : {};
  const streams = DEMO_VIPS.flatMap((v): GenStream[] => {
    const key = parseVip(v.vip);
    const v6 = key.address.includes(':');
    const est: GenStream = { proto: key.proto === 'udp' ? 'udp' : 'tcp-ack', dst: key.address, dport: key.port, clients: 4, ports: 64, sportBase: 20000, ...tag };
    if (key.proto === 'udp') return [est];
    return [est, { proto: 'tcp-syn', dst: key.address, dport: key.port, clients: v6 ? 4000 : 254, ports: 200, sportBase: 30000, ...tag }];
  });
  if (!o.vlans) return streams;
  // VIP traffic on a VLAN the balancer does not parse: it passes to the host unbalanced.
  const k = parseVip(DEMO_VIPS[1].vip);
  return [...streams, { proto: 'udp', dst: k.address, dport: k.port, clients: 4, ports: 16, sportBase: 50000, vlan: { vid: parseVlan(DEMO_VLANS.unparsed).outer } }];
}

/**
 * Rate and stream weights at `elapsedMs`: each VIP swings between 10% and 100% of its share on its
 * own period and phase, and every 25 s the TCP VIPs' SYNs burst tenfold for 2 s. The total follows.
 */
export function demoPlan(ratePps: number, elapsedMs: number, o: { vlans?: boolean } = {}): { ratePps: number; weights: number[]; burst: boolean } {
  const burst = elapsedMs % BURST_EVERY_MS >= BURST_EVERY_MS - BURST_MS;
  const weights: number[] = [];
  DEMO_VIPS.forEach((v, i) => {
    const w = v.share * (0.55 + 0.45 * Math.sin((2 * Math.PI * elapsedMs) / v.periodMs + i * 1.7));
    if (parseVip(v.vip).proto === 'udp') weights.push(w);
    else weights.push(w * (1 - SYN_SHARE), w * SYN_SHARE * (burst ? 10 : 1));
  });
  if (o.vlans) weights.push(DEMO_VLANS.unparsedShare);
  const total = weights.reduce((a, b) => a + b, 0);
  return { ratePps: Math.max(1, Math.round(ratePps * total)), weights, burst };
}

type LabModule = typeof import('./lab.js');
type Lab = import('./lab.js').Lab;

function say(out: Out, line: string): void {
  out.write(`${line}\n`);
}

/** Removes what an earlier (crashed) demo with this id left: namespace, links, pins, state. */
export function cleanLeftovers(labMod: LabModule, id: string): string[] {
  const removed = labMod.cleanupLab(id);
  const { pinRoot, stateDir } = demoPaths(id);
  for (const d of [pinRoot, stateDir]) {
    if (existsSync(d)) {
      rmSync(d, { recursive: true, force: true });
      removed.push(d);
    }
  }
  return removed;
}

function configure(dp: Dataplane): void {
  for (const v of DEMO_VIPS) {
    const key = parseVip(v.vip);
    dp.addVip({ ...key, hash: DEFAULT_HASH });
    for (const r of v.reals) dp.addReal(key, r);
  }
}

/** The generator in the lab namespace with the demo's streams, re-planned every 500 ms. */
function startTraffic(lab: Lab, ratePps: number, durationMs: number, vlans: boolean): { stop(): Promise<GenReport | null> } {
  const plan0 = demoPlan(ratePps, 0, { vlans });
  const gen = startLabGenerator(lab, { streams: demoStreams({ vlans }).map((st, i) => ({ ...st, weight: plan0.weights[i] })), ratePps: plan0.ratePps, durationMs });
  const t0 = Date.now();
  const timer = setInterval(() => {
    const p = demoPlan(ratePps, Date.now() - t0, { vlans });
    gen.setWeights(p.weights);
    gen.setRate(p.ratePps);
  }, 500);
  timer.unref();
  let stopped: Promise<GenReport | null> | undefined;
  return {
    stop() {
      clearInterval(timer);
      stopped ??= gen.stop().catch(() => null);
      return stopped;
    },
  };
}

/** One line on the generator's work: packets, rate and CPU (the child's; softirq work included). */
function generatorLine(r: GenReport | null): string {
  if (!r) return 'katran-tui demo: the traffic generator failed';
  const s = Math.max(0.001, r.activeMs / 1000);
  return `katran-tui demo: generator sent ${r.offered} packets in ${s.toFixed(1)} s (${(r.offered / s / 1000).toFixed(1)} kpps), using ${(r.cpuMs / 10 / s).toFixed(1)}% of one CPU${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}`;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const id = o.id === undefined ? DEMO_ID : parseLabId(o.id, 'demo --id');
  const { pinRoot, stateDir } = demoPaths(id);
  const labMod: LabModule = await import('./lab.js');
  const left = cleanLeftovers(labMod, id);
  if (left.length) say(o.err, `katran-tui demo: removed leftovers of an earlier demo: ${left.join(', ')}`);

  let lab: Lab | null = null;
  let host: Host | null = null;
  let traffic: ReturnType<typeof startTraffic> | null = null;
  let interrupted = false;
  const ac = new AbortController();
  const onSignal = () => { interrupted = true; ac.abort(); };
  if (!o.interactive) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const vlans = !!o.vlans;
    lab = labMod.createLab({ id, clients: 4, vlan: vlans });
    say(o.err, `katran-tui demo: lab ${lab.ns} with ${lab.intf} (balancer, root namespace) <-> ${lab.peer} (sink, ${lab.ns}); pins ${pinRoot}, state ${stateDir}`);
    host = createHost({ pinRoot, stateDir });
    // --vlans: the sink checks that what comes back on VLAN 574 goes to 574's gateway MAC.
    if (vlans) lab.vlan!.setGatewayMac(parseVlan(DEMO_VLANS.reals), DEMO_VLANS.gateway);
    const { dataplane, result } = host.attach({
      intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native', ...(vlans ? { vlans: demoVlanMappings(), vlanMacs: [DEMO_VLANS.reals] } : {}),
    });
    for (const w of result.warnings) say(o.err, `katran-tui demo: ${w}`);
    if (vlans) say(o.err, `katran-tui demo: here the lab's switch turned tx VLAN offload off on ${lab.peer} (in ${lab.ns}), and the generator writes its tags into the frames`);
    const dp = dataplane ?? host.open(lab.intf);
    try {
      configure(dp);
    } finally {
      dp.close();
    }
    const durationMs = o.durationS !== undefined ? o.durationS * 1000 : 3_600_000;
    const ratePps = o.ratePps ?? DEMO_RATE.default;
    traffic = startTraffic(lab, ratePps, durationMs, vlans);
    if (vlans) say(o.err, `katran-tui demo: VLANs on one port, native mode: clients on VLAN ${DEMO_VLANS.clients}, reals through VLAN ${DEMO_VLANS.reals}'s gateway ${DEMO_VLANS.gateway}; VIP traffic on VLAN ${DEMO_VLANS.unparsed} too, which the balancer does not parse`);

    if (o.interactive) {
      const { withWorkerHost } = await import('../dataplane/worker/client.js');
      const intf = lab.intf;
      await withWorkerHost({ pinRoot, stateDir }, async (h) => (await import('../ui/run.js')).runConsole(h, { intf, readOnly: false, intervalMs: o.intervalMs, noColor: o.noColor }));
      say(o.err, generatorLine(await traffic.stop()));
    } else {
      say(o.err, `katran-tui demo: ${DEMO_VIPS.length} VIPs, ${ratePps} pps (swinging, bursts of new connections) for ${o.durationS} s (Ctrl-C stops early)`);
      try {
        await delay(durationMs, undefined, { signal: ac.signal });
      } catch { /* interrupted */ }
      say(o.err, generatorLine(await traffic.stop()));
      await delay(300); // the last packets reach the sink
      report(o.out, lab);
      if (vlans) vlanReport(o.out, lab, host);
    }
    return interrupted ? 130 : 0;
  } finally {
    if (!o.interactive) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await traffic?.stop();
    const torn: string[] = [];
    if (host && lab) {
      try {
        const dp = host.open(lab.intf);
        try { dp.detach(); torn.push(`balancer on ${lab.intf}`); } finally { dp.close(); }
      } catch (e) {
        say(o.err, `katran-tui demo: detach: ${(e as Error).message} (removing the lab removes the attachment anyway)`);
      }
    }
    if (lab) {
      lab.destroy();
      torn.push(`netns ${lab.ns}`, `links ${lab.intf}/${lab.peer}`);
    }
    torn.push(...cleanLeftovers(labMod, id));
    say(o.err, `katran-tui demo: torn down: ${torn.join(', ')}`);
  }
}

function report(out: Out, lab: Lab): void {
  const counts = new Map(lab.sinkCounts().map((c) => [c.dst, c.packets]));
  const rows: (string | number)[][] = [];
  let total = 0;
  for (const v of DEMO_VIPS) {
    const sum = v.reals.reduce((a, r) => a + (counts.get(r.address) ?? 0), 0);
    const wsum = v.reals.reduce((a, r) => a + r.weight, 0);
    for (const r of v.reals) {
      const n = counts.get(r.address) ?? 0;
      total += n;
      rows.push([formatVip(parseVip(v.vip)), r.address, r.weight, `${((100 * r.weight) / wsum).toFixed(1)}%`, n, sum ? `${((100 * n) / sum).toFixed(1)}%` : '-']);
    }
  }
  out.write(`${table(['VIP', 'REAL', 'WEIGHT', 'EXPECTED', 'RECEIVED', 'SHARE'], rows)}\n`);
  out.write(`total received by the reals: ${total} packets\n`);
}

/**
 * demo --vlans, after the table: what the sink received per egress VLAN (and whether it went to that
 * VLAN's gateway MAC), then the balancer's own per-VLAN counters (kt_vlan_stats).
 */
function vlanReport(out: Out, lab: Lab, host: Host): void {
  const byVlan = new Map<string, { packets: number; wrongMac: number }>();
  for (const c of lab.vlan!.counts()) {
    const k = c.vlan.inner ? `${c.vlan.outer}.${c.vlan.inner}` : String(c.vlan.outer);
    const t = byVlan.get(k) ?? { packets: 0, wrongMac: 0 };
    t.packets += c.packets;
    t.wrongMac += c.wrongMac;
    byVlan.set(k, t);
  }
  const total = lab.sinkCounts().reduce((a, c) => a + c.packets, 0);
  const tagged = [...byVlan.values()].reduce((a, t) => a + t.packets, 0);
  for (const [vlan, t] of byVlan) {
    const gw = vlan === DEMO_VLANS.reals ? `its gateway ${DEMO_VLANS.gateway}` : 'its gateway';
    out.write(`VLAN ${vlan} (out): ${t.packets} packets to the reals, ${t.packets - t.wrongMac} to ${gw}, ${t.wrongMac} to another MAC\n`);
  }
  out.write(`untagged frames to the reals: ${total - tagged}\n`);
  let stats: VlanStat[] | null | undefined;
  const dp = host.open(lab.intf);
  try { stats = dp.sample().vlans; } finally { dp.close(); }
  for (const v of stats ?? []) {
    const name = v.vlan ?? 'other 802.1ad pairs';
    const what = v.configured ? `in -> ${demoVlanMappings().find((m) => m.ingress === v.vlan)?.egress ?? '?'}` : 'not configured';
    const tail = v.configured ? '' : `: VIP traffic the balancer does not parse (katran-tui vlan add ${name} would balance it)`;
    out.write(`VLAN ${name} (${what}): in ${v.in.packets}, balanced ${v.balanced.packets}, passed ${v.passed.packets} packets${tail}\n`);
  }
}
