// quic map add / del / list (QUIC server-id mappings, global as in Katran) and real down / up.
import { parseServerId, parseVip } from '../dataplane/abi.js';
import { parseRealAddress } from '../dataplane/rules.js';
import type { Dataplane } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';
import { table } from './format.js';

interface ChangeFlags { dryRun?: boolean; json?: boolean }

/** The id range check needs the loaded map's size; before opening, only the shape (a whole number in Katran's range). */
function shapeOfId(text: string): void {
  parseServerId(text);
}

export async function quicMapAdd(ctx: Ctx, idText: string, realText: string, f: ChangeFlags): Promise<void> {
  shapeOfId(idText);
  const { address } = parseRealAddress(realText);
  ensureWritable(ctx);
  ctx.requireRoot('quic map add');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.addQuicMapping(idText, address, { dryRun: !!f.dryRun }), f));
}

export async function quicMapDel(ctx: Ctx, idText: string, f: ChangeFlags): Promise<void> {
  shapeOfId(idText);
  ensureWritable(ctx);
  ctx.requireRoot('quic map del');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.removeQuicMapping(idText, { dryRun: !!f.dryRun }), f));
}

/** Ids whose kernel entry differs from the listed mapping (only the listed ids are read). */
function drift(dp: Dataplane): number[] {
  const d = (dp as Dataplane & { quicMappingsDrift?: () => number[] }).quicMappingsDrift;
  return d ? d.call(dp) : [];
}

export async function quicMapList(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('quic map list');
  await ctx.withDataplane({ write: false }, (dp) => {
    const mappings = dp.quicMappings();
    const bad = new Set(drift(dp));
    if (bad.size) ctx.warn(`server_id_map differs from the desired state for id(s) ${[...bad].join(', ')}: a writer's next open repairs it`);
    if (f.json) {
      ctx.json({ intf: dp.info().intf, mappings: mappings.map((m) => ({ id: m.id, real: m.real, index: m.index })) });
      return;
    }
    if (!mappings.length) {
      ctx.out('no QUIC server-id mappings (add one: katran-tui quic map add 1024 198.51.100.72)');
      return;
    }
    ctx.out(table(['ID', 'REAL', 'INDEX'], mappings.map((m) => [String(m.id), m.real, String(m.index) + (bad.has(m.id) ? ' (kernel differs)' : '')])));
  });
}

export async function realDown(ctx: Ctx, vipText: string, realText: string, down: boolean, f: ChangeFlags): Promise<void> {
  const key = parseVip(vipText);
  const { address } = parseRealAddress(realText);
  ensureWritable(ctx);
  ctx.requireRoot(down ? 'real down' : 'real up');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.setRealDown(key, address, down, { dryRun: !!f.dryRun }), f));
}
