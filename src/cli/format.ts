// Output of the command line: aligned tables for people, JSON documents for scripts (their shapes
// are a public interface, documented in README.md), and the Prometheus text exposition format.
import type {
  BalancerInfo, BalancerSummary, ChangeResult, InterfaceState, PendingChange, StatsSample, TraceResult, VipState, GlobalCounter, PairStat, QuicSample,
  CountStat, ReasonsSample, VlanStat,
} from '../dataplane/types.js';

// ---------------------------------------------------------------------------------------------
// Text

/** Left-aligned columns, two spaces apart; numbers right-aligned. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => String(c)))];
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd())
    .join('\n');
}

// Numbers in the operator's words: the console's and the CLI's one definition (rules.ts).
export { human, pct } from '../dataplane/rules.js';
import { pct } from '../dataplane/rules.js';

export function changeText(r: ChangeResult, dryRun = false): string[] {
  const lines = r.summary.map((s) => (dryRun || !r.applied ? `would: ${s}` : s));
  if (r.movedShare !== undefined) lines.push(`ring slots moved: ${pct(r.movedShare)}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// JSON shapes (see README "JSON output")

export function changeJson(r: ChangeResult): object {
  return { applied: r.applied, summary: r.summary, warnings: r.warnings, ...(r.movedShare !== undefined ? { movedShare: r.movedShare } : {}) };
}

export function summaryJson(b: BalancerSummary): object {
  return {
    intf: b.intf, ifindex: b.ifindex, progId: b.progId, mode: b.mode, owner: b.owner, tag: b.tag,
    pinDir: b.pinDir ?? null, differsFromBundled: b.differsFromBundled ?? false,
    interfaceState: b.interfaceState ?? null,
    pendingChange: b.pendingChange ?? null,
  };
}

/** The STATE column of `status`: ok, or what happened to the interface. */
export function interfaceStateText(st: InterfaceState | undefined): string {
  if (!st) return '-';
  switch (st.status) {
    case 'ok': return 'ok';
    case 'renamed': return `renamed from ${st.from}`;
    case 'gone': return st.reappeared ? `GONE, back as ifindex ${st.reappeared.ifindex}` : 'GONE';
    case 'replaced': return st.otherProgId ? `REPLACED by prog ${st.otherProgId}` : 'NOT ATTACHED';
    default: return st.status;
  }
}

/** The STATE column of `status`: the interface's state, and CHANGE PENDING while a killed writer's change is unfinished. */
export function balancerStateText(b: BalancerSummary): string {
  const st = interfaceStateText(b.interfaceState);
  return b.pendingChange ? `${st === '-' ? '' : `${st}, `}CHANGE PENDING` : st;
}

export function infoJson(i: BalancerInfo): object {
  return {
    intf: i.intf, ifindex: i.ifindex, mode: i.mode, progId: i.progId, progTag: i.progTag, progName: i.progName,
    attachedAt: i.attachedAt ?? null, loadedAt: i.loadedAt ?? null, cpus: i.cpus, forwardingCpus: i.forwardingCpus,
    defaultMac: i.defaultMac, owner: i.owner, readOnly: i.readOnly, objectPath: i.objectPath ?? null, pinDir: i.pinDir ?? null,
    capacity: i.capacity, vipFlagsSupported: i.vipFlagsSupported, healthcheck: i.healthcheck,
  };
}

export function vipJson(v: VipState): object {
  return {
    vip: v.id, address: v.key.address, port: v.key.port, proto: v.key.proto, flags: v.flags, hash: v.hash, vipNum: v.vipNum,
    reals: v.reals.map((r) => ({
      address: r.address, weight: r.weight, index: r.index, ringSlots: r.ringSlots, ringShare: r.ringShare, ...(r.kernelOnly ? { kernelOnly: true } : {}),
      ...(r.pendingWeight !== undefined ? { pendingWeight: r.pendingWeight } : {}),
    })),
    ...(v.kernelOnly ? { kernelOnly: true } : {}),
    ...(v.notInKernel ? { notInKernel: true } : {}),
  };
}

const pair = (p: PairStat) => ({ v1: p.v1, v2: p.v2, r1: p.r1, r2: p.r2 });

export function statsJson(intf: string, s: StatsSample): object {
  const global: Record<string, object> = {};
  for (const [k, v] of Object.entries(s.global) as [GlobalCounter, PairStat][]) global[k] = pair(v);
  return {
    intf, at: s.at, elapsedMs: s.elapsedMs,
    xdp: {
      total: { packets: s.global.xdpTotal.v1, bytes: s.global.xdpTotal.v2, pps: s.global.xdpTotal.r1, bps: s.global.xdpTotal.r2 * 8 },
      tx: { packets: s.global.xdpTx.v1, bytes: s.global.xdpTx.v2, pps: s.global.xdpTx.r1, bps: s.global.xdpTx.r2 * 8 },
      drop: { packets: s.global.xdpDrop.v1, bytes: s.global.xdpDrop.v2, pps: s.global.xdpDrop.r1, bps: s.global.xdpDrop.r2 * 8 },
      pass: { packets: s.global.xdpPass.v1, bytes: s.global.xdpPass.v2, pps: s.global.xdpPass.r1, bps: s.global.xdpPass.r2 * 8 },
    },
    global,
    vips: s.vips.map((v) => ({ vip: v.id, packets: v.packets, bytes: v.bytes, pps: v.pps, bps: v.bps })),
    reals: s.reals.map((r) => ({ address: r.address, index: r.index, packets: r.packets, bytes: r.bytes, pps: r.pps, bps: r.bps })),
    perCpu: s.perCpu.map((c) => ({ cpu: c.cpu, total: pair(c.total), tx: pair(c.tx), drop: pair(c.drop), pass: pair(c.pass) })),
    healthcheck: s.healthcheck,
    resets: s.resets,
    underFlood: s.underFlood,
    quic: s.quic ? quicJson(s.quic) : null,
    reasons: s.reasons ? reasonsJson(s.reasons) : null,
    vlans: s.vlans ?? null,
    ...(s.runTime ? { nsPerPacket: s.runTime.nsPerPacket, coreShareEstimate: s.runTime.perCpuShare } : {}),
  };
}

const count = (c: CountStat) => ({ packets: c.packets, bytes: c.bytes, pps: c.pps, bps: c.bps });

/** Every reason by name, in list order, zero or not: {"drop": {"zero_mac": {packets, bytes, pps, bps}, ...}, "pass": {...}}. */
export function reasonsJson(r: ReasonsSample): object {
  return {
    drop: Object.fromEntries(r.drop.map((x) => [x.reason, count(x)])),
    pass: Object.fromEntries(r.pass.map((x) => [x.reason, count(x)])),
  };
}

/** Katran's name of a quic_stats_map field: chRouted -> ch_routed, cidV1 -> cid_v1. */
export function quicKind(f: string): string {
  return f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Counters summed over CPUs, their rates, and each CPU's latest non-zero invalid id (never summed). */
function quicJson(q: QuicSample): object {
  const out: Record<string, unknown> = {};
  const rates: Record<string, number> = {};
  for (const [k, v] of Object.entries(q.totals)) {
    out[quicKind(k)] = v;
    rates[quicKind(k)] = q.rates[k as keyof QuicSample['rates']];
  }
  out.cid_invalid_server_id_sample = q.invalidIdSamples.map((x) => ({ cpu: x.cpu, id: x.id }));
  out.rates = rates;
  return out;
}

export function traceJson(t: TraceResult): object {
  return {
    vip: t.vip, real: t.real, action: t.action, ringSlot: t.ringSlot ?? null, ...(t.quic ? { quic: t.quic } : {}), ...(t.reason ? { reason: t.reason } : {}),
    confirmedByKernel: t.confirmedByKernel, steps: t.steps,
  };
}

// ---------------------------------------------------------------------------------------------
// Prometheus text exposition format 0.0.4 (node_exporter's textfile collector reads it)

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}

class Exposition {
  private lines: string[] = [];
  metric(name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    this.lines.push(`# TYPE ${name} ${type}`);
    for (const [l, v] of samples) this.lines.push(`${name}${labels(l)} ${num(v)}`);
  }
  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** The Prometheus `vlan` label: '573', '100.573', or every 802.1ad pair without an entry. */
export function vlanLabel(v: VlanStat): string {
  return v.vlan ?? 'other-pairs';
}

const VLAN_WHATS = ['in', 'balanced', 'passed'] as const;

function vlanMetrics(e: Exposition, base: Record<string, string>, vlans: VlanStat[]): void {
  const by = (f: (c: CountStat) => number) => vlans.flatMap((v) => VLAN_WHATS.map((w): [Record<string, string>, number] => [{ ...base, vlan: vlanLabel(v), what: w }, f(v[w])]));
  e.metric('katran_vlan_packets_total', 'counter', 'Tagged frames per ingress VLAN: in, balanced (sent to a real), passed (to the kernel). On a VLAN the balancer does not parse only VIP traffic counts (in = passed).',
    by((c) => c.packets));
  e.metric('katran_vlan_bytes_total', 'counter', 'Frame bytes (tags included) per ingress VLAN, as katran_vlan_packets_total.', by((c) => c.bytes));
  e.metric('katran_vlan_configured', 'gauge', '1: the balancer parses this VLAN; 0: VIP traffic arrives on a VLAN it does not parse (katran-tui vlan add VLAN).',
    vlans.map((v) => [{ ...base, vlan: vlanLabel(v) }, v.configured ? 1 : 0]));
}

export function prometheus(intf: string, s: StatsSample, pending: PendingChange | null = null): string {
  const e = new Exposition();
  const base = { intf };
  const actions: [string, PairStat][] = [['total', s.global.xdpTotal], ['tx', s.global.xdpTx], ['drop', s.global.xdpDrop], ['pass', s.global.xdpPass]];
  e.metric('katran_xdp_packets_total', 'counter', 'Packets seen by the XDP balancer, by action (total = every packet).',
    actions.map(([a, p]) => [{ ...base, action: a }, p.v1]));
  e.metric('katran_xdp_bytes_total', 'counter', 'Frame bytes seen by the XDP balancer, by action.',
    actions.map(([a, p]) => [{ ...base, action: a }, p.v2]));
  e.metric('katran_vip_packets_total', 'counter', 'Packets forwarded per VIP.', s.vips.map((v) => [{ ...base, vip: v.id }, v.packets]));
  e.metric('katran_vip_bytes_total', 'counter', 'IP payload bytes forwarded per VIP.', s.vips.map((v) => [{ ...base, vip: v.id }, v.bytes]));
  e.metric('katran_real_packets_total', 'counter', 'Packets sent to each real.', s.reals.map((r) => [{ ...base, real: r.address }, r.packets]));
  e.metric('katran_real_bytes_total', 'counter', 'Bytes sent to each real.', s.reals.map((r) => [{ ...base, real: r.address }, r.bytes]));
  const g = s.global;
  e.metric('katran_lru_packets_total', 'counter', 'VIP packets that went through real selection.', [[base, g.lru.v1]]);
  e.metric('katran_lru_misses_total', 'counter', 'LRU misses, by kind (ch = routed by the consistent-hash ring, tcp_syn, tcp_non_syn).',
    [[{ ...base, kind: 'ch' }, g.lru.v2], [{ ...base, kind: 'tcp_syn' }, g.lruMiss.v1], [{ ...base, kind: 'tcp_non_syn' }, g.lruMiss.v2]]);
  e.metric('katran_fallback_lru_packets_total', 'counter', 'Packets that used the shared fallback LRU (a CPU without its own LRU).', [[base, g.fallbackLru.v1]]);
  e.metric('katran_ch_drops_total', 'counter', 'Packets dropped by the ring: real not found, or ring slot empty.',
    [[{ ...base, reason: 'real_missing' }, g.chDrop.v1], [{ ...base, reason: 'slot_empty' }, g.chDrop.v2]]);
  if (g.zeroMacDrop) e.metric('katran_zero_mac_drops_total', 'counter', 'VIP packets dropped because the default MAC is unset (all zero).', [[base, g.zeroMacDrop.v1]]);
  e.metric('katran_encap_failures_total', 'counter', 'Encapsulation failures, by outer family.',
    [[{ ...base, family: 'ipv4' }, g.encapFail.v1], [{ ...base, family: 'ipv6' }, g.encapFail.v2]]);
  e.metric('katran_icmp_toobig_total', 'counter', 'ICMP too-big messages generated, by family.',
    [[{ ...base, family: 'ipv4' }, g.icmpTooBig.v1], [{ ...base, family: 'ipv6' }, g.icmpTooBig.v2]]);
  e.metric('katran_new_connections_under_flood', 'gauge', '1 when new connections hit the per-CPU rate limit in the last interval.', [[base, s.underFlood ? 1 : 0]]);
  e.metric('katran_cpu_xdp_packets_total', 'counter', 'Packets seen by the XDP balancer per CPU, by action.',
    s.perCpu.flatMap((c) => ([['total', c.total], ['tx', c.tx], ['drop', c.drop], ['pass', c.pass]] as [string, PairStat][])
      .map(([a, p]): [Record<string, string>, number] => [{ ...base, cpu: String(c.cpu), action: a }, p.v1])));
  if (s.healthcheck) {
    const h = s.healthcheck;
    e.metric('katran_healthcheck_packets_total', 'counter', 'Healthcheck packets, by result.',
      [[{ ...base, result: 'processed' }, h.processed], [{ ...base, result: 'dropped' }, h.dropped], [{ ...base, result: 'skipped' }, h.skipped], [{ ...base, result: 'too_big' }, h.tooBig]]);
  }
  if (s.quic) {
    e.metric('katran_quic_packets_total', 'counter', 'QUIC VIP packets by routing outcome (quic_stats_map, summed over CPUs; Katran\'s field names).',
      Object.entries(s.quic.totals).map(([k, v]): [Record<string, string>, number] => [{ ...base, kind: quicKind(k) }, v]));
    if (s.quic.invalidIdSamples.length) e.metric('katran_quic_invalid_server_id_sample', 'gauge', 'Each CPU\'s last QUIC server id that server_id_map could not route (a last value, not a count).',
      s.quic.invalidIdSamples.map((x): [Record<string, string>, number] => [{ ...base, cpu: String(x.cpu) }, x.id]));
  }
  if (s.reasons) {
    const r = s.reasons;
    e.metric('katran_drop_packets_total', 'counter', 'Dropped packets by reason (every XDP_DROP counts one reason; katran-tui\'s own program only).',
      r.drop.map((x): [Record<string, string>, number] => [{ ...base, reason: x.reason }, x.packets]));
    e.metric('katran_drop_bytes_total', 'counter', 'Frame bytes of dropped packets by reason.',
      r.drop.map((x): [Record<string, string>, number] => [{ ...base, reason: x.reason }, x.bytes]));
    e.metric('katran_pass_packets_total', 'counter', 'Packets passed to the kernel by reason (every XDP_PASS counts one reason).',
      r.pass.map((x): [Record<string, string>, number] => [{ ...base, reason: x.reason }, x.packets]));
    e.metric('katran_pass_bytes_total', 'counter', 'Frame bytes of packets passed to the kernel by reason.',
      r.pass.map((x): [Record<string, string>, number] => [{ ...base, reason: x.reason }, x.bytes]));
  }
  if (s.vlans) vlanMetrics(e, base, s.vlans);
  e.metric('katran_pending_change', 'gauge', '1 while a change a killed process started is unfinished (the kernel may hold it half-applied): katran-tui recover finishes it.',
    [[base, pending ? 1 : 0]]);
  e.metric('katran_sample_timestamp_seconds', 'gauge', 'When this sample was read.', [[base, s.at / 1000]]);
  return e.text();
}
