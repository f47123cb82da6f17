// config export / apply: the balancer's desired state as one JSON file. apply validates the whole
// file before anything is written, prints the diff, and applies it as one transaction through the
// dataplane (one intent record: a failure or a crash leaves it fully applied or fully absent).
import {
  DEFAULT_HASH, DEFAULT_WEIGHT, formatMac, formatVip, formatVlan, parseVlanMapping, type VlanMappingText, InputError, parseHash, parseServerId, parseWeight, parseMac, parseVip, parseVipFlags, vipFlagsToNames,
} from '../dataplane/abi.js';
import { checkHashChange, checkRealForVip, ingressOnce, parseRealAddress, parseVipFlagList } from '../dataplane/rules.js';
import type { BalancerConfig, Dataplane, HashKind, VipFlagName, VipKey, VipState } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { ensureWritable } from './balancer.js';
import { vlanLine } from './vlan.js';
import { OperationError, isRefusedRequest, sanitize } from './errors.js';

/**
 * The config file's format version. New optional keys keep it (an older file applies unchanged,
 * and a file that does not use a new key reads as before); unknown keys are refused, so a file
 * using a key this version does not know is refused, naming the key. Only a change of what an
 * existing key means raises it. README "Config file" says the same.
 */
export const CONFIG_FORMAT = 1;

export interface ConfigReal { address: string; weight: number; down?: boolean }
export interface ConfigVip { vip: string; flags: VipFlagName[]; hash: HashKind; reals: ConfigReal[] }
export interface ConfigQuicMapping { id: number; real: string }
export interface ConfigDoc { katranTuiConfig: number; intf?: string; defaultMac: string | null; vips: ConfigVip[]; vlans?: VlanMappingText[]; quicMappings?: ConfigQuicMapping[] }

export function exportConfig(dp: Dataplane): ConfigDoc {
  // A config file is the desired state: what only a pending change put in the kernel stays out
  // (the pending change is reported on stderr).
  const vips = [...dp.vips()].filter((v) => !v.kernelOnly).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((v) => ({
    vip: v.id,
    flags: [...v.flags].sort(),
    hash: v.hash,
    reals: v.reals.filter((r) => !r.kernelOnly).map((r) => ({ address: r.address, weight: r.weight, ...(r.down ? { down: true } : {}) })).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)),
  }));
  const doc: ConfigDoc = { katranTuiConfig: CONFIG_FORMAT, intf: dp.info().intf, defaultMac: dp.getDefaultMac(), vips };
  // Optional key (format 1 stays readable by an older katran-tui when no VLANs are configured).
  const vlans = dp.vlans();
  if (vlans?.length) doc.vlans = vlans;
  const quic = dp.quicMappings().map((m) => ({ id: m.id, real: m.real }));
  if (quic.length) doc.quicMappings = quic;
  return doc;
}

/** "vlans": [{"ingress": "573", "egress": "574", "mac": "58:e4:..." | null}]; syntax here, the rules in the dataplane. */
function parseConfigVlans(raw: unknown): VlanMappingText[] {
  if (!Array.isArray(raw)) throw new InputError('config: "vlans" must be an array of {"ingress", "egress", "mac"}');
  const seen = new Set<string>();
  return raw.map((v: unknown, i: number) => {
    const where = `config vlans[${i}]`;
    if (!isObj(v)) throw new InputError(`${where}: expected {"ingress": "573", "egress": "574", "mac": null}`);
    onlyKeys(v, ['ingress', 'egress', 'mac'], where);
    if (typeof v.ingress !== 'string' && typeof v.ingress !== 'number') throw new InputError(`${where}: "ingress" must be a VLAN like "573" or "100.573"`);
    const egressText = v.egress === undefined ? v.ingress : v.egress;
    if (typeof egressText !== 'string' && typeof egressText !== 'number') throw new InputError(`${where}: "egress" must be a VLAN like "574"`);
    const m = at(where, () => parseVlanMapping(`${v.ingress}:${egressText}`));
    at(where, () => ingressOnce(seen, formatVlan(m.ingress))); // here too, so the error names the entry
    if (v.mac !== undefined && v.mac !== null && typeof v.mac !== 'string') throw new InputError(`${where}: "mac" must be a MAC string or null (the default MAC)`);
    return { ingress: formatVlan(m.ingress), egress: formatVlan(m.egress), mac: typeof v.mac === 'string' ? at(where, () => formatMac(parseMac(v.mac as string))) : null };
  });
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new InputError(`${where}: unknown key "${sanitize(k, 40)}" (allowed: ${allowed.join(', ')})`);
}

/** Runs a dataplane rule, naming where in the file its InputError comes from. */
function at<T>(where: string, rule: () => T): T {
  try {
    return rule();
  } catch (e) {
    throw e instanceof InputError ? new InputError(`${where}: ${e.message}`) : e;
  }
}

interface DesiredVip { key: VipKey; id: string; flags: VipFlagName[]; hash: HashKind; reals: Map<string, number>; down: Set<string> }
export interface Desired {
  defaultMac: string | null;
  vips: Map<string, DesiredVip>;
  vlans?: VlanMappingText[];
  /** id -> real; undefined: the file has no "quicMappings" (the current ones are kept). */
  quic?: Map<number, string>;
}

/** Validates the whole document; every problem is an InputError naming where it is. */
export function validateConfig(text: string, limits?: { maxVips: number; maxReals: number; flags: VipFlagName[]; quicServerIds?: number }): Desired {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InputError(`config is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw new InputError('config: expected a JSON object like {"katranTuiConfig": 1, "defaultMac": ..., "vips": [...]}');
  onlyKeys(doc, ['katranTuiConfig', 'intf', 'defaultMac', 'vips', 'vlans', 'quicMappings'], 'config');
  const version = doc.katranTuiConfig;
  if (typeof version === 'number' && Number.isInteger(version) && version > CONFIG_FORMAT) {
    throw new InputError(`config: "katranTuiConfig" is ${version}, a newer format version than this katran-tui reads (${CONFIG_FORMAT}): upgrade katran-tui to apply it`);
  }
  if (version !== CONFIG_FORMAT) throw new InputError(`config: "katranTuiConfig" must be ${CONFIG_FORMAT} (the format version)`);
  let defaultMac: string | null = null;
  if (doc.defaultMac !== undefined && doc.defaultMac !== null) {
    if (typeof doc.defaultMac !== 'string') throw new InputError('config: "defaultMac" must be a string or null');
    defaultMac = formatMac(parseMac(doc.defaultMac));
  }
  if (!Array.isArray(doc.vips)) throw new InputError('config: "vips" must be an array');
  const vips = new Map<string, DesiredVip>();
  const allReals = new Set<string>();
  doc.vips.forEach((v: unknown, i: number) => {
    const where = `config vips[${i}]`;
    if (!isObj(v)) throw new InputError(`${where}: expected an object with "vip", "flags", "hash", "reals"`);
    onlyKeys(v, ['vip', 'flags', 'hash', 'reals'], where);
    if (typeof v.vip !== 'string') throw new InputError(`${where}: "vip" must be a string like 192.0.2.1:80/tcp`);
    const key = parseVip(v.vip);
    const id = formatVip(key);
    if (vips.has(id)) throw new InputError(`${where}: VIP ${id} appears twice`);
    let flags: VipFlagName[] = [];
    if (v.flags !== undefined) {
      if (!Array.isArray(v.flags) || !v.flags.every((x) => typeof x === 'string')) throw new InputError(`${where}: "flags" must be an array of flag names`);
      flags = limits ? at(where, () => parseVipFlagList(v.flags, limits.flags)) : vipFlagsToNames(parseVipFlags(v.flags as string[]));
    }
    const hash = v.hash === undefined ? DEFAULT_HASH : parseHash(typeof v.hash === 'string' ? v.hash : '?');
    if (v.reals !== undefined && !Array.isArray(v.reals)) throw new InputError(`${where}: "reals" must be an array`);
    const reals = new Map<string, number>();
    const down = new Set<string>();
    ((v.reals as unknown[] | undefined) ?? []).forEach((r, j) => {
      const w = `${where}.reals[${j}]`;
      if (!isObj(r)) throw new InputError(`${w}: expected {"address": ..., "weight": ...}`);
      onlyKeys(r, ['address', 'weight', 'down'], w);
      if (r.down !== undefined && typeof r.down !== 'boolean') throw new InputError(`${w}: "down" must be true or false`);
      if (r.down === true && !flags.includes('udp-flow-migration')) {
        throw new InputError(`${w}: "down" needs the VIP flag udp-flow-migration (the kernel consults down reals only for such VIPs)`);
      }
      if (typeof r.address !== 'string') throw new InputError(`${w}: "address" must be a string`);
      const { address } = parseRealAddress(r.address);
      at(w, () => checkRealForVip(address, key));
      if (reals.has(address)) throw new InputError(`${w}: real ${address} appears twice in ${id}`);
      const weight = r.weight === undefined ? DEFAULT_WEIGHT : typeof r.weight === 'number' ? parseWeight(r.weight) : parseWeight(JSON.stringify(r.weight));
      reals.set(address, weight);
      if (r.down === true) down.add(address);
      allReals.add(address);
    });
    vips.set(id, { key, id, flags, hash, reals, down });
  });
  let quic: Map<number, string> | undefined;
  if (doc.quicMappings !== undefined) {
    if (!Array.isArray(doc.quicMappings)) throw new InputError('config: "quicMappings" must be an array of {"id": ..., "real": ...}');
    quic = new Map();
    if (doc.quicMappings.length && limits?.quicServerIds !== undefined && limits.quicServerIds < 2) {
      throw new InputError('config: "quicMappings" given, but the loaded balancer has no server_id_map (not a QUIC-capable object)');
    }
    for (const [j, q] of (doc.quicMappings as unknown[]).entries()) {
      const w = `config quicMappings[${j}]`;
      if (!isObj(q)) throw new InputError(`${w}: expected {"id": ..., "real": ...}`);
      onlyKeys(q, ['id', 'real'], w);
      const mid = at(w, () => parseServerId(q.id, limits?.quicServerIds));
      if (quic.has(mid)) throw new InputError(`${w}: server id ${mid} appears twice`);
      if (typeof q.real !== 'string') throw new InputError(`${w}: "real" must be a string`);
      const { address } = at(w, () => parseRealAddress(q.real as string));
      quic.set(mid, address);
      allReals.add(address);
    }
  }
  if (limits) {
    if (vips.size > limits.maxVips) throw new InputError(`config: ${vips.size} VIPs, the program holds at most ${limits.maxVips}`);
    if (allReals.size > limits.maxReals) throw new InputError(`config: ${allReals.size} distinct reals, the program holds at most ${limits.maxReals}`);
  }
  const out: Desired = { defaultMac, vips, ...(quic ? { quic } : {}) };
  if (doc.vlans !== undefined) out.vlans = parseConfigVlans(doc.vlans);
  return out;
}

/** The validated file as the dataplane's one-transaction input. */
export function toBalancerConfig(want: Desired): BalancerConfig {
  return {
    mac: want.defaultMac ?? undefined,
    vips: [...want.vips.values()].map((v) => ({
      key: v.key, flags: v.flags, hash: v.hash, reals: [...v.reals].map(([address, weight]) => ({ address, weight, ...(v.down.has(address) ? { down: true } : {}) })),
    })),
    ...(want.quic ? { quicMappings: [...want.quic].map(([id, real]) => ({ id, real })) } : {}),
    ...(want.vlans ? { vlans: want.vlans } : {}),
  };
}

/** The VLAN lines of the diff ("+ vlan 573 -> 574 via MAC"); none when the file has no "vlans" key. */
export function planVlans(current: VlanMappingText[] | null, want: Desired): string[] {
  if (!want.vlans) return [];
  const cur = new Map((current ?? []).map((v) => [v.ingress, v]));
  const next = new Map(want.vlans.map((v) => [v.ingress, v]));
  const lines: string[] = [];
  for (const [k, v] of cur) if (!next.has(k)) lines.push(`- vlan ${vlanLine(v)}`);
  for (const [k, v] of next) {
    const c = cur.get(k);
    if (!c) lines.push(`+ vlan ${vlanLine(v)}`);
    else if (c.egress !== v.egress || c.mac !== v.mac) lines.push(`~ vlan ${vlanLine(c)} -> ${vlanLine(v)}`);
  }
  return lines;
}

/**
 * The changes that turn the current state into the desired one, one line each ("+ vip ...",
 * "- real ...", "~ weight ..."): the diff `config apply` shows. Applying is one transaction in
 * the dataplane (applyConfig), not these lines one by one.
 */
export function plan(current: VipState[], currentMac: string | null, want: Desired, currentQuic: { id: number; real: string }[] = []): string[] {
  const cur = new Map(current.map((v) => [formatVip(v.key), v]));
  const lines: string[] = [];
  if (want.defaultMac !== null && want.defaultMac !== currentMac) lines.push(`~ mac ${currentMac ?? 'unset'} -> ${want.defaultMac}`);
  for (const [id, v] of cur) {
    if (!want.vips.has(id)) lines.push(`- vip ${id} (${v.reals.length} real${v.reals.length === 1 ? '' : 's'})`);
  }
  const adds: string[] = [], flags: string[] = [], addReals: string[] = [], weights: string[] = [], delReals: string[] = [];
  for (const [id, d] of want.vips) {
    const c = cur.get(id);
    if (!c) {
      adds.push(`+ vip ${id}${d.flags.length ? ` flags ${d.flags.join(',')}` : ''} hash ${d.hash}`);
      for (const [a, w] of d.reals) addReals.push(`+ real ${id} ${a} weight ${w}`);
      continue;
    }
    checkHashChange(d.key, c.hash, d.hash); // the dataplane's policy, asked here so that the dry run refuses too
    const cf = [...c.flags].sort().join(','), df = [...d.flags].sort().join(',');
    if (cf !== df) flags.push(`~ vip ${id} flags ${cf || '-'} -> ${df || '-'}`);
    const have = new Map(c.reals.map((r) => [r.address, r.weight]));
    for (const [a, w] of d.reals) {
      const old = have.get(a);
      if (old === undefined) addReals.push(`+ real ${id} ${a} weight ${w}`);
      else if (old !== w) weights.push(`~ real ${id} ${a} weight ${old} -> ${w}`);
    }
    for (const [a, w] of have) if (!d.reals.has(a)) delReals.push(`- real ${id} ${a} (weight ${w})`);
  }
  const downs: string[] = [];
  for (const [id, d] of want.vips) {
    const wasDown = new Set((cur.get(id)?.reals ?? []).filter((r) => r.down).map((r) => r.address));
    for (const a of d.down) if (!wasDown.has(a)) downs.push(`~ real ${id} ${a} down`);
    for (const a of wasDown) if (d.reals.has(a) && !d.down.has(a)) downs.push(`~ real ${id} ${a} up`);
  }
  const quic: string[] = [];
  if (want.quic) {
    const have = new Map(currentQuic.map((q) => [q.id, q.real]));
    for (const [qid, r] of want.quic) {
      if (!have.has(qid)) quic.push(`+ quic ${qid} ${r}`);
      else if (have.get(qid) !== r) quic.push(`~ quic ${qid} ${have.get(qid)} -> ${r}`);
    }
    for (const [qid, r] of have) if (!want.quic.has(qid)) quic.push(`- quic ${qid} (${r})`);
  }
  return [...lines, ...adds, ...flags, ...addReals, ...weights, ...downs, ...quic, ...delReals];
}

export async function configExport(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('config export');
  await ctx.withDataplane({ write: false }, (dp) => {
    const doc = exportConfig(dp);
    ctx.out(f.json ? JSON.stringify(doc) : JSON.stringify(doc, null, 2));
  });
}

export async function configApply(ctx: Ctx, file: string, f: { dryRun?: boolean; json?: boolean }): Promise<void> {
  const text = await ctx.deps.readInput(file).catch((e: NodeJS.ErrnoException) => {
    throw new InputError(`cannot read config file ${sanitize(file, 80)}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  if (text.length > 64 * 1024 * 1024) throw new InputError('config file is larger than 64 MiB');
  validateConfig(text); // the shape first, before touching the balancer
  if (!f.dryRun) ensureWritable(ctx);
  ctx.requireRoot('config apply');
  await ctx.withDataplane({ write: !f.dryRun }, (dp) => {
    const info = dp.info();
    const want = validateConfig(text, { maxVips: info.capacity.maxVips, maxReals: info.capacity.maxReals - 1, flags: info.vipFlagsSupported, quicServerIds: info.capacity.quicServerIds ?? 0 });
    const steps = [...plan(dp.vips(), dp.getDefaultMac(), want, dp.quicMappings()), ...planVlans(dp.vlans(), want)];
    const report = (applied: boolean) => {
      if (f.json) ctx.json({ intf: info.intf, applied, dryRun: !!f.dryRun, changes: steps });
      else {
        for (const s of steps) ctx.out(s);
        if (steps.length === 0) ctx.out('no changes: the balancer already matches the file');
        else if (!applied) ctx.out(`dry run: ${steps.length} change${steps.length === 1 ? '' : 's'} shown, nothing written`);
        else ctx.out(`applied ${steps.length} change${steps.length === 1 ? '' : 's'}`);
      }
    };
    if (f.dryRun || steps.length === 0) {
      report(false);
      return;
    }
    try {
      dp.applyConfig(toBalancerConfig(want));
    } catch (e) {
      if (isRefusedRequest(e)) throw e; // the dataplane refused the file: nothing was written
      throw new OperationError(`config apply failed: ${(e as Error).message}; nothing was applied (one transaction), the balancer is as before`);
    }
    report(true);
  });
}
