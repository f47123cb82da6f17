// lru list / purge: the connection table (the flows held in the per-CPU LRUs and the fallback
// LRU). list is read-only (observe mode works on another process's Katran); purge never prompts:
// it is for scripts (--dry-run prints the count).
import { parseVip } from '../dataplane/abi.js';
import { checkFlowQuery, DEFAULT_FLOW_LIMIT, MAX_FLOW_LIMIT } from '../dataplane/lru/query.js';
import type { FlowList, FlowQuery } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';
import { UsageError } from './errors.js';
import { table } from './format.js';
import { parseIntIn } from './validate.js';

interface ListFlags { vip?: string; real?: string; client?: string; limit?: string; json?: boolean }

/** The `--json` shape of `lru list` (README "JSON output"). */
export function flowsJson(l: FlowList): object {
  return {
    intf: l.intf,
    flows: l.flows.map((f) => ({ vip: f.vip, client: f.client, real: f.real, cpu: f.cpu, ageMs: f.ageMs })),
    truncated: l.truncated, matched: l.matched, perReal: l.perReal,
  };
}

export async function lruList(ctx: Ctx, f: ListFlags): Promise<void> {
  const q: FlowQuery = {
    ...(f.vip !== undefined ? { vip: parseVip(f.vip) } : {}),
    ...(f.real !== undefined ? { real: f.real } : {}),
    ...(f.client !== undefined ? { client: f.client } : {}),
    limit: f.limit !== undefined ? parseIntIn(f.limit, '--limit', 1, MAX_FLOW_LIMIT, ' (flows)') : DEFAULT_FLOW_LIMIT,
  };
  checkFlowQuery(q); // bad input says so before the root check
  ctx.requireRoot('lru list');
  await ctx.withDataplane({ write: false }, (dp) => {
    const l = dp.flows(q);
    if (f.json) {
      ctx.out(JSON.stringify(flowsJson(l)));
      return;
    }
    if (l.matched === 0) {
      ctx.out(`no flows held in the LRU${q.vip || q.real || q.client ? ' match' : ''}`);
      return;
    }
    ctx.out(table(['VIP', 'CLIENT', 'REAL', 'CPU', 'AGE'], l.flows.map((e) => [
      e.vip, e.client, e.real ?? `(index ${e.realIndex})`, e.cpu === null ? 'fallback' : String(e.cpu), e.ageMs === null ? '-' : `${(e.ageMs / 1000).toFixed(1)}s`,
    ])));
    if (l.truncated) ctx.out(`… ${l.matched - l.flows.length} more (--limit ${l.flows.length} reached)`);
    ctx.out('');
    ctx.out(table(['REAL', 'FLOWS'], l.perReal.map((r) => [r.real, r.flows])));
  });
}

export async function lruPurge(ctx: Ctx, f: { vip?: string; real?: string; dryRun?: boolean; json?: boolean }): Promise<void> {
  if (f.vip === undefined) throw new UsageError('lru purge needs --vip ADDR:PORT/PROTO (and optionally --real ADDR)');
  const vip = parseVip(f.vip);
  checkFlowQuery({ vip, ...(f.real !== undefined ? { real: f.real } : {}) });
  if (!f.dryRun) ensureWritable(ctx);
  ctx.requireRoot('lru purge');
  await ctx.withDataplane({ write: !f.dryRun }, (dp) => {
    const r = dp.purgeFlows({ vip, ...(f.real !== undefined ? { real: f.real } : {}) }, { dryRun: !!f.dryRun });
    if (f.json) { ctx.out(JSON.stringify({ applied: r.applied, flows: r.flows, summary: r.summary, warnings: r.warnings })); return; }
    printChange(ctx, r, f);
  });
}
