// stats: counters and rates, as a table, JSON (one document per sample, one per line) or the
// Prometheus text format. Rates need two samples: each printed sample comes one interval after the
// previous read, so even --once prints real rates.
import type { StatsSample, VlanStat } from '../dataplane/types.js';
import { REASON_ADVICE, busiestReasons } from '../dataplane/rules.js';
import type { Ctx } from './context.js';
import { UsageError } from './errors.js';
import { human, pct, prometheus, statsJson, table, vlanLabel } from './format.js';
import { parseIntIn } from './validate.js';

export interface StatsFlags {
  json?: boolean;
  prometheus?: boolean;
  once?: boolean;
  count?: string;
  runTime?: boolean;
}

export function statsText(intf: string, s: StatsSample): string {
  const g = s.global;
  const lines: string[] = [];
  lines.push(`${new Date(s.at).toISOString()}  ${intf}  interval ${(s.elapsedMs / 1000).toFixed(1)} s${s.underFlood ? '  UNDER FLOOD' : ''}${s.resets.length ? `  reset: ${s.resets.join(', ')}` : ''}`);
  lines.push(table(['XDP', 'PPS', 'BPS', 'PACKETS', 'BYTES'], [
    ['total', human(g.xdpTotal.r1), human(g.xdpTotal.r2 * 8), human(g.xdpTotal.v1), human(g.xdpTotal.v2, 'B')],
    ['tx', human(g.xdpTx.r1), human(g.xdpTx.r2 * 8), human(g.xdpTx.v1), human(g.xdpTx.v2, 'B')],
    ['pass', human(g.xdpPass.r1), human(g.xdpPass.r2 * 8), human(g.xdpPass.v1), human(g.xdpPass.v2, 'B')],
    ['drop', human(g.xdpDrop.r1), human(g.xdpDrop.r2 * 8), human(g.xdpDrop.v1), human(g.xdpDrop.v2, 'B')],
  ]));
  const lruTotal = g.lru.v1;
  const hit = lruTotal > 0 ? 1 - g.lru.v2 / lruTotal : 0;
  lines.push(`LRU hit ${lruTotal > 0 ? pct(hit) : '-'}  misses ${human(g.lru.v2)}  fallback LRU ${human(g.fallbackLru.v1)}  CH drops ${human(g.chDrop.v1 + g.chDrop.v2)}  encap failures ${human(g.encapFail.v1 + g.encapFail.v2)}`);
  const total = s.vips.reduce((a, v) => a + v.pps, 0);
  if (s.vips.length) {
    lines.push(table(['VIP', 'PPS', 'BPS', 'SHARE', 'PACKETS'],
      [...s.vips].sort((a, b) => b.pps - a.pps).map((v) => [v.id, human(v.pps), human(v.bps), total > 0 ? pct(v.pps / total) : '-', human(v.packets)])));
  }
  if (s.reals.length) {
    lines.push(table(['REAL', 'PPS', 'BPS', 'PACKETS'], [...s.reals].sort((a, b) => b.pps - a.pps).map((r) => [r.address, human(r.pps), human(r.bps), human(r.packets)])));
  }
  lines.push(...reasonsText(s));
  if (s.vlans?.length) lines.push(vlanTable(s.vlans));
  if (s.runTime) {
    const rt = s.runTime;
    lines.push(`run time ${rt.nsPerPacket.toFixed(0)} ns/packet  core share per CPU (estimate: pps × ns): ${rt.perCpuShare.map((c) => `cpu${c.cpu} ${pct(c.share)}`).join('  ')}`);
  }
  return lines.join('\n');
}

/** The reasons that counted something since the balancer was loaded: drops first, busiest first. */
export function reasonsText(s: StatsSample): string[] {
  if (s.reasons === undefined) return [];
  if (s.reasons === null) return ['reasons: not available for this program (it has no kt_reasons map)'];
  const rows = [
    ...busiestReasons(s.reasons.drop).map((r) => ({ ...r, kind: 'drop' })),
    ...busiestReasons(s.reasons.pass).map((r) => ({ ...r, kind: 'pass' })),
  ];
  if (!rows.length) return ['reasons: nothing dropped or passed yet'];
  return [table(['REASON', 'VERDICT', 'PPS', 'PACKETS', 'BYTES', 'WHAT'],
    rows.map((r) => [r.reason, r.kind, human(r.pps), human(r.packets), human(r.bytes, 'B'), REASON_ADVICE[r.reason].label]))];
}

/** One line per VLAN that counted something; a VLAN the balancer does not parse is marked (doctor names the fix). */
function vlanTable(vlans: VlanStat[]): string {
  return table(['VLAN', 'IN PPS', 'BALANCED PPS', 'PASSED PPS', 'IN', 'BALANCED', 'PASSED', 'BPS IN'], vlans.map((v) => [
    v.configured ? vlanLabel(v) : `${vlanLabel(v)} (not parsed: VIP traffic passed)`,
    human(v.in.pps), human(v.balanced.pps), human(v.passed.pps), human(v.in.packets), human(v.balanced.packets), human(v.passed.packets), human(v.in.bps),
  ]));
}

export async function stats(ctx: Ctx, f: StatsFlags): Promise<void> {
  if (f.json && f.prometheus) throw new UsageError('stats: --json and --prometheus exclude each other');
  if (f.once && f.count !== undefined) throw new UsageError('stats: --once and --count exclude each other');
  let count = f.once ? 1 : f.count !== undefined ? parseIntIn(f.count, '--count', 1, 1_000_000) : Infinity;
  if (f.prometheus) {
    if (count !== Infinity && count !== 1) throw new UsageError('stats --prometheus prints one exposition (a textfile collector reads one): use --once, not --count');
    count = 1;
  }
  ctx.requireRoot('stats');
  const interval = ctx.common.intervalMs;
  const ac = new AbortController();
  const off = ctx.deps.onInterrupt(() => ac.abort());
  try {
    await ctx.withDataplane({ write: false }, async (dp) => {
      const intf = dp.info().intf;
      // On while this command runs (the kernel turns them off when the process ends, also when killed).
      if (f.runTime) {
        const rt = dp.runTimeStats(true);
        ctx.warn(`BPF run-time statistics on while this runs: they cost about ${rt.costNs} ns per packet for every BPF program on the box`);
      }
      dp.sample();
      for (let i = 0; i < count && !ac.signal.aborted; i++) {
        try {
          await ctx.deps.sleep(interval, ac.signal);
        } catch {
          break;
        }
        if (ac.signal.aborted) break;
        const s = dp.sample();
        const pending = dp.info().pendingChange; // afresh per sample: another writer may finish it meanwhile
        if (f.prometheus) ctx.deps.stdout.write(prometheus(intf, s, pending));
        else if (f.json) ctx.json(statsJson(intf, s), pending);
        else ctx.out(`${i > 0 ? '\n' : ''}${statsText(intf, s)}`);
      }
    });
  } finally {
    off();
  }
}
