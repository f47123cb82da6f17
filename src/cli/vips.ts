// vip add / del / list and real add / del / weight.
import { DEFAULT_WEIGHT, formatVip, parseHash, parseVip, parseVipFlags, parseWeight, vipFlagsToNames } from '../dataplane/abi.js';
import { checkRealForVip, parseRealAddress } from '../dataplane/rules.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';
import { pct, table, vipJson } from './format.js';

interface ChangeFlags { dryRun?: boolean; json?: boolean }

export async function vipAdd(ctx: Ctx, vipText: string, f: ChangeFlags & { flags?: string; hash?: string }): Promise<void> {
  const key = parseVip(vipText);
  const flags = f.flags !== undefined ? vipFlagsToNames(parseVipFlags(f.flags)) : [];
  const hash = f.hash !== undefined ? parseHash(f.hash) : undefined;
  ensureWritable(ctx);
  ctx.requireRoot('vip add');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.addVip({ ...key, flags, ...(hash ? { hash } : {}) }, { dryRun: !!f.dryRun }), f));
}

export async function vipDel(ctx: Ctx, vipText: string, f: ChangeFlags): Promise<void> {
  const key = parseVip(vipText);
  ensureWritable(ctx);
  ctx.requireRoot('vip del');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.removeVip(key, { dryRun: !!f.dryRun }), f));
}

export async function vipList(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('vip list');
  await ctx.withDataplane({ write: false }, (dp) => {
    const vips = [...dp.vips()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (f.json) {
      ctx.json({ intf: dp.info().intf, vips: vips.map(vipJson) });
      return;
    }
    if (vips.length === 0) {
      ctx.out('no VIPs (add one: katran-tui vip add 192.0.2.1:80/tcp)');
      return;
    }
    const rows: (string | number)[][] = [];
    for (const v of vips) {
      const head = [v.id, v.flags.join(',') || '-', v.hash];
      if (v.reals.length === 0) rows.push([...head, '(no reals: traffic is dropped)', '', '', '']);
      if (v.kernelOnly) head[0] += ' (in kernel only)';
      if (v.notInKernel) head[0] += ' (not in kernel)';
      v.reals.forEach((r, i) => rows.push([...(i === 0 ? head : ['', '', '']), r.address + (r.kernelOnly ? ' (in kernel ring only)' : ''), `${r.weight}${r.pendingWeight !== undefined ? ` (pending ${r.pendingWeight})` : ''}`, String(r.ringSlots), pct(r.ringShare)]));
    }
    ctx.out(table(['VIP', 'FLAGS', 'HASH', 'REAL', 'WEIGHT', 'SLOTS', 'SHARE'], rows));
  });
}

export async function realAdd(ctx: Ctx, vipText: string, realText: string, f: ChangeFlags & { weight?: string }): Promise<void> {
  const key = parseVip(vipText);
  const { address } = parseRealAddress(realText);
  checkRealForVip(address, key); // the dataplane's rule, asked before the root check so bad input says so first
  const weight = f.weight !== undefined ? parseWeight(f.weight) : DEFAULT_WEIGHT;
  ensureWritable(ctx);
  ctx.requireRoot('real add');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.addReal(key, { address, weight }, { dryRun: !!f.dryRun }), f));
}

export async function realDel(ctx: Ctx, vipText: string, realText: string, f: ChangeFlags): Promise<void> {
  const key = parseVip(vipText);
  const { address } = parseRealAddress(realText);
  ensureWritable(ctx);
  ctx.requireRoot('real del');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.removeReal(key, address, { dryRun: !!f.dryRun }), f));
}

export async function realWeight(ctx: Ctx, vipText: string, realText: string, weightText: string, f: ChangeFlags): Promise<void> {
  const key = parseVip(vipText);
  const { address } = parseRealAddress(realText);
  const weight = parseWeight(weightText);
  ensureWritable(ctx);
  ctx.requireRoot('real weight');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.setRealWeight(key, address, weight, { dryRun: !!f.dryRun }), f));
}

export { formatVip };
