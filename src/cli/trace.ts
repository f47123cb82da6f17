// trace: where a flow goes and why (the dataplane computes it and confirms it on a clone of the
// program, so no live flow, LRU entry or counter changes).
import { InputError, parseEndpoint, parseQuicPacket, parseVip } from '../dataplane/abi.js';
import type { Ctx } from './context.js';
import { traceJson } from './format.js';
import { REASON_ADVICE } from '../dataplane/rules.js';

export async function trace(ctx: Ctx, srcText: string, vipText: string, f: { syn?: boolean; json?: boolean; quicHeader?: string; cid?: string }): Promise<void> {
  const src = parseEndpoint(srcText, 'source');
  const vip = parseVip(vipText);
  if (f.quicHeader !== undefined && f.cid === undefined) throw new InputError('trace --quic-header needs --cid HEX (the destination connection id)');
  const quic = f.cid !== undefined ? parseQuicPacket(f.quicHeader, f.cid) : undefined;
  if (quic && vip.proto !== 'udp') throw new InputError(`trace --cid: ${vip.proto} VIP ${vipText.trim()} carries no QUIC (QUIC VIPs are UDP)`);
  if (src.address.includes(':') !== vip.address.includes(':')) {
    throw new InputError(`source ${src.address} and VIP ${vip.address} are of different IP families`);
  }
  ctx.requireRoot('trace');
  await ctx.withDataplane({ write: false }, (dp) => {
    const t = dp.trace({ src: src.address, sport: src.port, vip, syn: !!f.syn, ...(quic ? { quic } : {}) });
    if (f.json) {
      ctx.json({ src: srcText.trim(), ...traceJson(t) });
      return;
    }
    const why = t.reason ? ` (${t.reason}: ${REASON_ADVICE[t.reason].label})` : '';
    const where = t.real ? `${t.action} to real ${t.real}` : `${t.action}${why}`;
    ctx.out(`${src.address.includes(':') ? `[${src.address}]` : src.address}:${src.port} -> ${t.vip}: ${where}${t.ringSlot !== undefined ? ` (ring slot ${t.ringSlot})` : ''}`);
    for (const s of t.steps) ctx.out(`  ${s}`);
    if (t.reason) ctx.out(`  what to check: ${REASON_ADVICE[t.reason].advice}`);
    ctx.out(t.confirmedByKernel ? '  confirmed by the kernel (the program run on a clone of the maps)' : '  NOT confirmed by the kernel: computed in userspace only');
  });
}
