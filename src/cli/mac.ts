// mac get / set: the default gateway MAC every encapsulated packet is sent to (ctl_array[0]).
import { formatMac, parseMac } from '../dataplane/abi.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';

export async function macGet(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('mac get');
  await ctx.withDataplane({ write: false }, (dp) => {
    const mac = dp.getDefaultMac();
    if (f.json) ctx.json({ intf: dp.info().intf, defaultMac: mac });
    else ctx.out(mac ?? 'not set (00:00:00:00:00:00): VIP traffic is dropped until it is set with katran-tui mac set MAC');
  });
}

export async function macSet(ctx: Ctx, macText: string, f: { json?: boolean; dryRun?: boolean }): Promise<void> {
  const mac = formatMac(parseMac(macText));
  ensureWritable(ctx);
  ctx.requireRoot('mac set');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.setDefaultMac(mac, { dryRun: !!f.dryRun }), f));
}
