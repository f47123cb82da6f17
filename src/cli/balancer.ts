// attach, detach, status: the balancer's lifecycle on an interface.
import { addVlansToRequest } from './vlan.js';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { DEFAULTS, formatMac, InputError, parseMac } from '../dataplane/abi.js';
import { ReadOnlyError, type AttachRequest, type XdpModeRequest } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { UsageError } from './errors.js';
import { balancerStateText, changeJson, changeText, summaryJson, table } from './format.js';
import { parseCpuList, parseIntIn, parsePath, parseXdpMode } from './validate.js';
import { parseIntfName } from '../dataplane/rules.js';

export interface AttachFlags {
  defaultMac?: string;
  xdpMode?: string;
  balancerProg?: string;
  healthcheckerProg?: string;
  hcIntf?: string;
  lruSize?: string;
  forwardingCores?: string;
  quicServerIds?: string;
  force?: boolean;
  vlan?: string[];
  vlanMac?: string[];
  dryRun?: boolean;
  json?: boolean;
}

function objectPath(text: string, what: string): string {
  const p = parsePath(text, what);
  if (!existsSync(p)) throw new InputError(`${what} ${p} does not exist`);
  if (!statSync(p).isFile()) throw new InputError(`${what} ${p} is not a file`);
  const head = Buffer.alloc(20);
  const fd = openSync(p, 'r');
  try { readSync(fd, head, 0, 20, 0); } finally { closeSync(fd); }
  // ELF magic, and e_machine 247 (EM_BPF) in either byte order
  if (head.readUInt32BE(0) !== 0x7f454c46) throw new InputError(`${what} ${p} is not an ELF object (compile it with clang -target bpf)`);
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  if (machine !== 247) throw new InputError(`${what} ${p} is an ELF object for another machine (e_machine ${machine}), not BPF`);
  return p;
}

/** Validates every attach flag (throws InputError / UsageError); writes nothing. */
export function attachRequest(intf: string | undefined, f: AttachFlags): AttachRequest {
  if (!intf) throw new UsageError('attach needs --intf IF (the interface the balancer receives and sends on)');
  if (f.defaultMac === undefined || f.defaultMac === '') {
    throw new UsageError('attach needs --default-mac MAC (the next hop every encapsulated packet goes to, e.g. the gateway of --intf)');
  }
  const req: AttachRequest = { intf: parseIntfName(intf), defaultMac: formatMac(parseMac(f.defaultMac)) };
  if (f.xdpMode !== undefined) req.mode = parseXdpMode(f.xdpMode) as XdpModeRequest;
  if (f.balancerProg !== undefined) req.balancerProg = objectPath(f.balancerProg, 'balancer program');
  if (f.healthcheckerProg !== undefined) req.healthcheckerProg = objectPath(f.healthcheckerProg, 'healthchecker program');
  if (f.hcIntf) req.hcIntf = parseIntfName(f.hcIntf, 'healthcheck interface');
  if (f.lruSize !== undefined && f.lruSize !== '') req.lruSize = parseIntIn(f.lruSize, 'LRU size', 1, 1_000_000_000, ' (entries, split across the forwarding cores)');
  if (f.forwardingCores !== undefined && f.forwardingCores !== '') req.forwardingCores = parseCpuList(f.forwardingCores);
  if (f.quicServerIds !== undefined && f.quicServerIds !== '') {
    req.quicServerIds = parseIntIn(f.quicServerIds, '--quic-server-ids', 2, DEFAULTS.quicServerIds, ` (server_id_map entries; Katran's is ${DEFAULTS.quicServerIds}, about 128 MiB)`);
  }
  if (f.force) req.force = true;
  addVlansToRequest(req, f.vlan, f.vlanMac);
  return req;
}

export function ensureWritable(ctx: Ctx): void {
  if (ctx.common.readonly) throw new ReadOnlyError('--readonly was given', { op: 'write', object: 'balancer (--readonly)' });
}

export function printChange(ctx: Ctx, r: import('../dataplane/types.js').ChangeResult, o: { json?: boolean; dryRun?: boolean }): void {
  for (const w of r.warnings) ctx.warn(w);
  if (o.json) ctx.json(changeJson(r));
  else for (const l of changeText(r, o.dryRun)) ctx.out(l);
}

export async function attach(ctx: Ctx, f: AttachFlags): Promise<void> {
  const req = attachRequest(ctx.common.intf, f);
  ensureWritable(ctx);
  ctx.requireRoot('attach');
  const host = await ctx.host();
  const { dataplane, result } = host.attach(req, { dryRun: !!f.dryRun });
  try {
    printChange(ctx, result, f);
  } finally {
    dataplane?.close();
  }
}

export async function detach(ctx: Ctx, f: { dryRun?: boolean; json?: boolean }): Promise<void> {
  if (!ctx.common.intf) throw new UsageError('detach needs --intf IF: detaching is never implicit');
  ensureWritable(ctx);
  ctx.requireRoot('detach');
  await ctx.withDataplane({ write: true }, (dp) => printChange(ctx, dp.detach({ dryRun: !!f.dryRun }), f));
}

/**
 * Attaches the pinned program again after its interface was deleted and came back (or the program
 * was detached behind our back): the same program and maps, so VIPs and LRU survive.
 */
export async function reattach(ctx: Ctx, f: { dryRun?: boolean; json?: boolean }): Promise<void> {
  if (!ctx.common.intf) throw new UsageError('reattach needs --intf IF (the interface that came back)');
  ensureWritable(ctx);
  ctx.requireRoot('reattach');
  await ctx.withDataplane({ write: true, detached: true }, (dp) => printChange(ctx, dp.reattach({ dryRun: !!f.dryRun }), f));
}

export async function status(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('status');
  const host = await ctx.host();
  const all = host.balancers();
  const id = ctx.deps.identity();
  const stale = all.filter((b) => b.owner === 'katran-tui' && b.differsFromBundled);
  if (f.json) {
    // Top level: the pending change of the balancer a command without --intf acts on (the first one pending).
    const pending = (ctx.common.intf ? all.filter((b) => b.intf === ctx.common.intf) : all).find((b) => b.pendingChange)?.pendingChange ?? null;
    ctx.json({ version: id.version, bundled: { object: id.object, sha256: id.sha256 }, balancers: all.map(summaryJson) }, pending);
  } else if (all.length === 0) {
    ctx.out('no balancer on this box (attach one: katran-tui attach --intf IF --default-mac MAC)');
  } else {
    ctx.out(table(['INTF', 'IFINDEX', 'MODE', 'PROG ID', 'TAG', 'OWNER', 'PINS', 'STATE'],
      all.map((b) => [b.intf, b.ifindex, b.mode, b.progId, b.tag + (b.differsFromBundled ? ' *' : ''), b.owner, b.pinDir ?? '-', balancerStateText(b)])));
  }
  for (const b of all) {
    const st = b.interfaceState;
    if (!st || st.status === 'ok') continue;
    ctx.warn(`${b.intf}: ${st.message}${st.canReattach ? ` (katran-tui reattach --intf ${st.intf})` : ''}`);
  }
  for (const b of all) if (b.pendingChange) ctx.warn(`${b.intf}: ${b.pendingChange.message}`);
  for (const b of stale) {
    ctx.warn(`${b.intf}: the pinned program (tag ${b.tag}) differs from the bundled object (sha256 ${id.sha256?.slice(0, 16) ?? 'unknown'}…): it keeps running until it is re-attached`);
  }
}
