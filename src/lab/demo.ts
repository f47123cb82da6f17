// `katran-tui demo`: a self-contained lab with the console on it.
//
// The lab (lab.ts) makes a veth pair whose balancer end stays in the root namespace and whose peer
// (with an XDP sink counting what each real receives) sits in a client namespace. The balancer is
// attached natively there with the lab's default MAC (the peer's), its own pin root and state
// directory (never the operator's), three VIPs with reals of different weights, and traffic
// generators whose rates swing over time. Quitting the console (or the end of --duration) tears
// everything down; leftovers of a crashed demo are removed at the next start. The demo touches no
// interface it did not create.
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULT_HASH, formatVip, parseVip } from '../dataplane/abi.js';
import type { Dataplane, Host } from '../dataplane/types.js';
import type { DemoOptions, Out } from '../cli/context.js';
import { createHost } from '../dataplane/balancer/host.js';
import { table } from '../cli/format.js';

export const DEMO_PIN_ROOT = '/sys/fs/bpf/katran-tui-demo';
export const DEMO_STATE_DIR = '/tmp/katran-tui-demo';

/** The demo's lab id: "demo", or KATRAN_TUI_DEMO_ID (tests run their own demo next to the operator's). */
export function demoId(env: Record<string, string | undefined> = process.env): string {
  const id = env.KATRAN_TUI_DEMO_ID;
  if (id === undefined || id === '') return 'demo';
  if (!/^[a-z0-9]{1,10}$/.test(id)) throw new Error(`KATRAN_TUI_DEMO_ID ${JSON.stringify(id).slice(0, 40)}: use 1-10 lowercase letters or digits`);
  return id;
}

export function demoPaths(id: string): { pinRoot: string; stateDir: string } {
  return id === 'demo' ? { pinRoot: DEMO_PIN_ROOT, stateDir: DEMO_STATE_DIR } : { pinRoot: `${DEMO_PIN_ROOT}-${id}`, stateDir: `${DEMO_STATE_DIR}-${id}` };
}

export interface DemoVip { vip: string; reals: { address: string; weight: number }[]; ratePps: number; periodMs: number }

/** Three VIPs (IPv4 TCP, IPv4 UDP, IPv6 TCP), reals of different weights, documentation prefixes. */
export const DEMO_VIPS: DemoVip[] = [
  { vip: '192.0.2.10:80/tcp', ratePps: 300, periodMs: 20_000,
    reals: [{ address: '198.51.100.1', weight: 1 }, { address: '198.51.100.2', weight: 2 }, { address: '198.51.100.3', weight: 3 }] },
  { vip: '192.0.2.20:53/udp', ratePps: 1200, periodMs: 30_000,
    reals: [{ address: '198.51.100.11', weight: 1 }, { address: '198.51.100.12', weight: 1 }, { address: '198.51.100.13', weight: 2 }, { address: '198.51.100.14', weight: 4 }] },
  { vip: '[2001:db8:f::10]:443/tcp', ratePps: 150, periodMs: 45_000,
    reals: [{ address: '2001:db8:e::1', weight: 1 }, { address: '2001:db8:e::2', weight: 2 }, { address: '2001:db8:e::3', weight: 5 }] },
];

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

function startTraffic(lab: Lab, durationMs: number) {
  return DEMO_VIPS.map((v) => {
    const key = parseVip(v.vip);
    const v6 = key.address.includes(':');
    const srcs = v6 ? lab.clientsV6 : lab.clientsV4;
    // UDP: each client's flow rotates over 32 source ports (32 sockets), so 128 distinct 5-tuples
    // spread over the ring by weight; TCP: every SYN is a new connection from a new ephemeral port.
    const flows = srcs.map((src) => ({
      proto: key.proto === 'udp' ? 'udp' as const : 'tcp-syn' as const, src, dst: key.address, dport: key.port, count: 10_000_000, size: 200,
      ...(key.proto === 'udp' ? { ports: 32 } : {}),
    }));
    return lab.startTraffic({ flows, ratePps: v.ratePps, profile: 'wave', periodMs: v.periodMs, durationMs });
  });
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const id = demoId();
  const { pinRoot, stateDir } = demoPaths(id);
  const labMod: LabModule = await import('./lab.js');
  const left = cleanLeftovers(labMod, id);
  if (left.length) say(o.err, `katran-tui demo: removed leftovers of an earlier demo: ${left.join(', ')}`);

  let lab: Lab | null = null;
  let host: Host | null = null;
  let traffic: ReturnType<typeof startTraffic> = [];
  let interrupted = false;
  const ac = new AbortController();
  const onSignal = () => { interrupted = true; ac.abort(); };
  if (!o.interactive) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    lab = labMod.createLab({ id, clients: 4 });
    say(o.err, `katran-tui demo: lab ${lab.ns} with ${lab.intf} (balancer, root namespace) <-> ${lab.peer} (sink, ${lab.ns}); pins ${pinRoot}, state ${stateDir}`);
    host = createHost({ pinRoot, stateDir });
    const { dataplane, result } = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
    for (const w of result.warnings) say(o.err, `katran-tui demo: ${w}`);
    const dp = dataplane ?? host.open(lab.intf);
    try {
      configure(dp);
    } finally {
      dp.close();
    }
    const durationMs = o.durationS !== undefined ? o.durationS * 1000 : 3_600_000;
    traffic = startTraffic(lab, durationMs);

    if (o.interactive) {
      const { withWorkerHost } = await import('../dataplane/worker/client.js');
      const intf = lab.intf;
      await withWorkerHost({ pinRoot, stateDir }, async (h) => (await import('../ui/run.js')).runConsole(h, { intf, readOnly: false, intervalMs: o.intervalMs, noColor: o.noColor }));
    } else {
      say(o.err, `katran-tui demo: ${DEMO_VIPS.length} VIPs, traffic for ${o.durationS} s (Ctrl-C stops early)`);
      try {
        await delay(durationMs, undefined, { signal: ac.signal });
      } catch { /* interrupted */ }
      await Promise.all(traffic.map((t) => t.stop().catch(() => null)));
      await delay(300); // the last packets reach the sink
      report(o.out, lab);
    }
    return interrupted ? 130 : 0;
  } finally {
    if (!o.interactive) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    await Promise.all(traffic.map((t) => t.stop().catch(() => null)));
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
