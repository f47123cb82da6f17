// recover: finishes (or, when it cannot be finished, undoes) the change a killed writer left
// pending. Opening the balancer as a writer does the work (every writer does, at open: control.ts);
// this verb does only that and says what was done. --dry-run opens read-only and describes it.
import { ReadOnlyError } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';

export async function recover(ctx: Ctx, f: { dryRun?: boolean; json?: boolean }): Promise<void> {
  ensureWritable(ctx);
  ctx.requireRoot('recover');
  await ctx.withDataplane({ write: !f.dryRun, quietRecovered: true }, (dp) => {
    const info = dp.info();
    if (info.owner === 'observed' || (!f.dryRun && info.readOnly)) {
      throw new ReadOnlyError(`recover ${info.intf}: ${info.readOnlyReason ?? 'the balancer is open read-only'}${info.owner === 'observed' ? '; katran-tui keeps no intent record for a balancer it did not attach' : ''}`);
    }
    const p = ctx.pending;
    let summary: string[];
    if (f.dryRun) {
      summary = p
        ? [`finish the interrupted change ${p.op} ${p.target} (started ${p.at || 'at an unknown time'}${p.pid ? ` by pid ${p.pid}` : ''}): make the kernel hold its new state and write the state file; undo it if that fails`]
        : [];
    } else {
      summary = [...ctx.recovered];
    }
    if (summary.length) {
      printChange(ctx, { applied: !f.dryRun, summary, warnings: [] }, f);
      return;
    }
    const nothing = `nothing pending on ${info.intf}: no interrupted change to finish`;
    if (f.json) ctx.json({ applied: false, summary: [nothing], warnings: [] });
    else ctx.out(nothing);
  });
}
