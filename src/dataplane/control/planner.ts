// The planner: a request and the current desired state in, the next desired state out, with every
// policy of the control plane (what is refused and why, how vip_nums and real indexes are handed
// out, what the operator is told). Pure: it writes nothing; the one thing it asks of the kernel is
// how many ring slots a change moves (the `moved` callback), for the summary.
import {
  DEFAULT_HASH, DEFAULT_WEIGHT, InputError, formatMac, isZeroMac, parseHash, parseMac, parsePort, parseProto, parseVipFlags, parseWeight, formatVlan, parseVlan, parseVlanMapping, vipFlagsToNames, type VipFlagName, type VipKey, type VlanMappingText, parseServerId,
} from '../abi.js';
import {
  VlanUnavailableError,
} from '../types.js';
import type {
  HashKind, VipSpec,
} from '../types.js';
import {
  MapFullError,
} from '../errors.js';
import {
  changedVips, copyState, flagsMask, vipId, vlansOf, type DesiredConfig, type DesiredReal, type DesiredState, type DesiredVip, downReals, quicMappings, type DesiredQuicMapping,
} from './desired.js';
import {
  checkHashChange, checkRealForVip, checkVlanMappings, describeChange, parseRealAddress, parseVipAddress, parseVipFlagList, pct,
} from '../rules.js';

/** What the loaded balancer allows. */
export interface Limits {
  maxVips: number;
  /** Entries of the reals map: indexes 1 .. maxReals-1 are usable (0 means "no real"). */
  maxReals: number;
  /** Mask of VIP flags the program implements. */
  vipFlagsSupported: number;
  /** The object has katran-tui's VLAN maps (bpf/vlan.h); upstream Katran's has none. */
  vlans: boolean;
  /** Entries of server_id_map (0: the object has none): routable ids 1 .. min(0xFFFFFD, entries - 1). */
  maxServerIds: number;
}

/** Share of `v`'s ring slots that move from what the kernel holds to the ring `v` has in `s`. */
export type MovedShare = (v: DesiredVip, s: DesiredState) => number;

/** A change to make: the next desired state, what the change log records, what to tell. */
export interface Plan {
  op: string;
  target: string;
  next: DesiredState;
  logOld: unknown;
  logNew: unknown;
  /** VIPs whose ring and vip_map entry the reconciler compares. */
  scope: Set<string>;
  /** False when the balancer already holds it: nothing to write. */
  changes: boolean;
  summary: string[];
  warnings: string[];
  movedShare?: number;
}

// ---------------------------------------------------------------------------------------------
// Operator input (before anything is written)

export function checkVipKey(k: VipKey): VipKey {
  if (!k || typeof k !== 'object') throw new InputError('bad VIP: expected {address, port, proto}');
  return { address: parseVipAddress(k.address), port: parsePort(k.port as unknown as string, 'VIP port'), proto: parseProto(k.proto) };
}

const checkRealAddress = parseRealAddress;

function checkHash(h: unknown): HashKind {
  return h === undefined ? DEFAULT_HASH : parseHash(h);
}

/** Flag names, refusing unknown ones and those the loaded object does not implement. */
function checkFlags(flags: unknown, supported: number): VipFlagName[] {
  return parseVipFlagList(flags, vipFlagsToNames(supported));
}

function flagsText(names: VipFlagName[]): string {
  return names.length ? names.join(',') : 'none';
}

/** Validates a desired state read from disk or an intent (shape, ranges, consistency). */
export function validateState(raw: DesiredState, what: string, limits: Limits): DesiredState {
  const bad = (why: string): never => { throw new InputError(`${what}: ${why}`); };
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.vips) || !Array.isArray(raw.reals)) bad('not a desired state');
  const s = structuredClone(raw);
  const idx = new Map<string, number>();
  const used = new Set<number>();
  for (const r of s.reals) {
    if (!Number.isInteger(r.index) || r.index < 1 || r.index >= limits.maxReals) bad(`real index ${r.index} out of range`);
    if (used.has(r.index)) bad(`real index ${r.index} given twice`);
    used.add(r.index);
    idx.set(checkRealAddress(r.address).address, r.index);
  }
  const nums = new Set<number>();
  for (const v of s.vips) {
    v.key = checkVipKey(v.key);
    if (!Number.isInteger(v.vipNum) || v.vipNum < 0 || v.vipNum >= limits.maxVips) bad(`vip_num ${v.vipNum} out of range`);
    if (nums.has(v.vipNum)) bad(`vip_num ${v.vipNum} given twice`);
    nums.add(v.vipNum);
    v.hash = checkHash(v.hash);
    v.flags = vipFlagsToNames(parseVipFlags(v.flags ?? []));
    for (const r of v.reals) {
      r.address = checkRealAddress(r.address).address;
      r.weight = parseWeight(r.weight);
      if (r.down !== undefined && r.down !== true) delete r.down;
      if (!idx.has(r.address)) bad(`real ${r.address} of ${vipId(v.key)} has no index`);
    }
  }
  const ids = new Set<number>();
  s.quic = (Array.isArray(s.quic) ? s.quic : []).map((q) => {
    const id = parseServerId(q?.id, limits.maxServerIds);
    if (ids.has(id)) bad(`QUIC server id ${id} given twice`);
    ids.add(id);
    const real = checkRealAddress(q.real).address;
    if (!idx.has(real)) bad(`real ${real} of QUIC server id ${id} has no index`);
    return { id, real };
  }).sort((a, b) => a.id - b.id);
  if (s.mac !== null && s.mac !== undefined) s.mac = formatMac(parseMac(s.mac));
  else s.mac = null;
  // A saved state is loaded even if its MACs are short (the refusal is for changes).
  s.vlans = checkVlanMappings(s.vlans ?? [], s.mac ?? 'saved');
  s.version = 1;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Allocation: vip_nums and real indexes

function lowestFreeVipNum(s: DesiredState, limits: Limits): number | null {
  const used = new Set(s.vips.map((v) => v.vipNum));
  for (let i = 0; i < limits.maxVips; i++) if (!used.has(i)) return i;
  return null;
}

/**
 * Drops the index allocations nothing references any more (their index becomes free). A VIP's
 * real and a QUIC server-id mapping each hold a reference, as Katran's refcounted allocator does.
 */
function gcReals(s: DesiredState): void {
  const used = new Set<string>();
  for (const v of s.vips) for (const r of v.reals) used.add(r.address);
  for (const q of quicMappings(s)) used.add(q.real);
  s.reals = s.reals.filter((r) => used.has(r.address));
}

/** Server ids routed to `address`. */
function idsOf(s: DesiredState, address: string): number[] {
  return quicMappings(s).filter((q) => q.real === address).map((q) => q.id);
}

function idList(ids: number[]): string {
  return ids.length <= 4 ? ids.join(', ') : `${ids.slice(0, 4).join(', ')}, ... (${ids.length})`;
}

/** Warnings for reals that leave their last VIP while QUIC mappings still name them (the index is kept). */
function keptByMappings(cur: DesiredState, next: DesiredState, addresses: Iterable<string>): string[] {
  const out: string[] = [];
  for (const a of new Set(addresses)) {
    const ids = idsOf(next, a);
    const inVip = next.vips.some((v) => v.reals.some((r) => r.address === a));
    if (ids.length && !inVip && cur.vips.some((v) => v.reals.some((r) => r.address === a))) {
      const index = next.reals.find((r) => r.address === a)?.index;
      out.push(`${a} is in no VIP now, but QUIC server id(s) ${idList(ids)} still route to it: its index ${index} is kept and id-routed packets keep reaching it (quic map del ID to stop them)`);
    }
  }
  return out;
}

/**
 * The real-index allocator: every address of `addresses` gets an index in `s`. An address that has
 * one keeps it; a new one gets the lowest index free in `s` and not in `reserved` (the caller
 * reserves indexes freed by this very change, so that a flow held in the LRU never reaches
 * another real through a reused index).
 */
function allocRealIndexes(s: DesiredState, addresses: Iterable<string>, limits: Limits, reserved: Iterable<number> = []): Map<string, number> {
  const have = new Map(s.reals.map((r) => [r.address, r.index]));
  const used = new Set([...have.values(), ...reserved]);
  let cursor = 1;
  let added = false;
  for (const address of addresses) {
    if (have.has(address)) continue;
    while (cursor < limits.maxReals && used.has(cursor)) cursor++;
    if (cursor >= limits.maxReals) throw new MapFullError('add real', address, `map full (${limits.maxReals - 1})`, { maxEntries: limits.maxReals - 1 });
    have.set(address, cursor);
    used.add(cursor);
    s.reals.push({ address, index: cursor });
    added = true;
  }
  if (added) s.reals.sort((a, b) => a.index - b.index);
  return have;
}

function findVip(s: DesiredState, key: VipKey, what: string): DesiredVip {
  const k = checkVipKey(key);
  const v = s.vips.find((x) => vipId(x.key) === vipId(k));
  if (!v) throw new InputError(`${what}: no VIP ${vipId(k)}`);
  return v;
}

function plan(p: Omit<Plan, 'changes'> & { changes?: boolean }): Plan {
  return { changes: true, ...p };
}

// ---------------------------------------------------------------------------------------------
// The changes

export function planAddVip(cur: DesiredState, limits: Limits, spec: VipSpec): Plan {
  const key = checkVipKey(spec);
  const flags = checkFlags(spec.flags, limits.vipFlagsSupported);
  const hash = checkHash(spec.hash);
  const id = vipId(key);
  const next = copyState(cur);
  if (next.vips.some((v) => vipId(v.key) === id)) throw new InputError(`add VIP ${id}: it already exists`);
  const vipNum = lowestFreeVipNum(next, limits);
  if (vipNum === null || next.vips.length >= limits.maxVips) throw new MapFullError('add VIP', id, `map full (${limits.maxVips})`, { maxEntries: limits.maxVips, message: `add VIP: map full (${limits.maxVips})` });
  const nv: DesiredVip = { key, flags, hash, vipNum, reals: [] };
  next.vips.push(nv);
  return plan({
    op: 'add-vip', target: id, next, logOld: null, logNew: nv, scope: new Set([id]),
    summary: [describeChange({ op: 'add-vip', target: id, old: null, new: nv })],
    warnings: [`VIP ${id} has no reals yet: its traffic is dropped (counted as CH drops) until a real is added`],
  });
}

export function planRemoveVip(cur: DesiredState, key: VipKey): Plan {
  const next = copyState(cur);
  const v = findVip(next, key, 'remove VIP');
  const id = vipId(v.key);
  next.vips = next.vips.filter((x) => x !== v);
  gcReals(next);
  const freed = cur.reals.filter((r) => !next.reals.some((x) => x.index === r.index));
  const summary = [describeChange({ op: 'remove-vip', target: id, old: v, new: null })];
  if (freed.length) summary.push(`free real index(es) ${freed.map((r) => `${r.index} (${r.address})`).join(', ')}`);
  return plan({
    op: 'remove-vip', target: id, next, logOld: v, logNew: null, scope: new Set([id]), summary,
    warnings: [`traffic to ${id} is no longer balanced: it passes to the host's stack`, ...keptByMappings(cur, next, v.reals.map((r) => r.address))],
  });
}

export function planSetVipFlags(cur: DesiredState, limits: Limits, key: VipKey, flagsIn: VipFlagName[]): Plan {
  const flags = checkFlags(flagsIn, limits.vipFlagsSupported);
  const next = copyState(cur);
  const v = findVip(next, key, 'set VIP flags');
  const id = vipId(v.key);
  const before = v.flags;
  v.flags = flags;
  const changes = flagsMask(before) !== flagsMask(flags);
  const warnings = changes ? ['flows held in the LRU keep their real; new flows hash with the new flags'] : [];
  const down = downReals(v);
  if (down.length && !flags.includes('udp-flow-migration')) {
    for (const r of v.reals) delete r.down;
    warnings.push(`${id} loses udp-flow-migration: the down mark(s) of ${down.join(', ')} are cleared (the kernel consults them only for udp-flow-migration VIPs)`);
  }
  return plan({
    op: 'set-vip-flags', target: id, next, logOld: before, logNew: flags, scope: new Set([id]), changes,
    summary: changes ? [describeChange({ op: 'set-vip-flags', target: id, old: before, new: flags })] : [`${id} already has flags ${flagsText(flags)}: nothing to change`],
    warnings,
  });
}

export function planAddReal(cur: DesiredState, limits: Limits, key: VipKey, real: { address: string; weight?: number }, moved: MovedShare): Plan {
  const next = copyState(cur);
  const v = findVip(next, key, 'add real');
  const id = vipId(v.key);
  const { address } = checkRealAddress(real?.address);
  const weight = parseWeight(real.weight ?? DEFAULT_WEIGHT);
  checkRealForVip(address, v.key);
  if (v.reals.some((r) => r.address === address)) throw new InputError(`add real ${address} to ${id}: it is already a real of this VIP (change its weight instead)`);
  const index = allocRealIndexes(next, [address], limits).get(address)!;
  v.reals.push({ address, weight });
  const ms = moved(v, next);
  const warnings: string[] = [];
  if (weight === 0) warnings.push(`${address} has weight 0: it takes no new flows`);
  return plan({
    op: 'add-real', target: `${id} ${address}`, next, logOld: null, logNew: { address, weight, index }, scope: new Set([id]),
    summary: [describeChange({ op: 'add-real', target: `${id} ${address}`, old: null, new: { address, weight, index } }), `ring of ${id}: ${pct(ms)} of slots move`], warnings, movedShare: ms,
  });
}

export function planRemoveReal(cur: DesiredState, key: VipKey, addressIn: string, moved: MovedShare): Plan {
  const next = copyState(cur);
  const v = findVip(next, key, 'remove real');
  const id = vipId(v.key);
  const { address } = checkRealAddress(addressIn);
  const r = v.reals.find((x) => x.address === address);
  if (!r) throw new InputError(`remove real ${address} from ${id}: it is not a real of this VIP`);
  v.reals = v.reals.filter((x) => x !== r);
  gcReals(next);
  const ms = moved(v, next);
  const summary = [describeChange({ op: 'remove-real', target: `${id} ${address}`, old: r, new: null }), `ring of ${id}: ${pct(ms)} of slots move`];
  const warnings = [`flows of ${address} held in the LRU keep going to it until they age out`];
  if (!v.reals.some((x) => x.weight > 0)) {
    warnings.unshift(`${id} has no real with weight > 0 left: its ring is emptied, and its traffic is dropped (counted as CH drops)`);
  }
  if (!next.reals.some((x) => x.address === address)) summary.push(`index ${cur.reals.find((x) => x.address === address)!.index} is freed (no VIP uses ${address})`);
  warnings.push(...keptByMappings(cur, next, [address]));
  return plan({ op: 'remove-real', target: `${id} ${address}`, next, logOld: r, logNew: null, scope: new Set([id]), summary, warnings, movedShare: ms });
}

export function planSetRealWeight(cur: DesiredState, key: VipKey, addressIn: string, weightIn: number, moved: MovedShare): Plan {
  const next = copyState(cur);
  const v = findVip(next, key, 'set weight');
  const id = vipId(v.key);
  const { address } = checkRealAddress(addressIn);
  const weight = parseWeight(weightIn);
  const r = v.reals.find((x) => x.address === address);
  if (!r) throw new InputError(`set weight of ${address} in ${id}: it is not a real of this VIP`);
  const before = r.weight;
  r.weight = weight;
  const ms = moved(v, next);
  const warnings: string[] = [];
  if (weight === 0) warnings.push(`draining ${address}: new flows go to the other reals; flows held in the LRU stay on it until they age out`);
  const ids = idsOf(next, address);
  if (weight === 0 && ids.length) warnings.push(`draining does not stop id-routed QUIC traffic: server id(s) ${idList(ids)} still route to ${address} (quic map del ID to stop them)`);
  if (!v.reals.some((x) => x.weight > 0)) warnings.unshift(`${id} has no real with weight > 0 left: its ring is emptied, and its traffic is dropped (counted as CH drops)`);
  const changes = before !== weight;
  return plan({
    op: 'set-weight', target: `${id} ${address}`, next, logOld: before, logNew: weight, scope: new Set([id]), changes,
    summary: changes ? [describeChange({ op: 'set-weight', target: `${id} ${address}`, old: before, new: weight }), `ring of ${id}: ${pct(ms)} of slots move`] : [`${address} in ${id} already has weight ${weight}: nothing to change`],
    warnings, movedShare: ms,
  });
}

/** A MAC as the desired state holds it: canonical text, null for all zero. */
function desiredMac(mac: string): string | null {
  const b = parseMac(mac);
  return isZeroMac(b) ? null : formatMac(b);
}

export function planSetDefaultMac(cur: DesiredState, macIn: string): Plan {
  const text = desiredMac(macIn);
  if (text === null) checkVlanMappings(vlansOf(cur), null);
  const next = copyState(cur);
  const before = next.mac;
  next.mac = text;
  return plan({
    op: 'set-mac', target: 'default MAC', next, logOld: before, logNew: text, scope: new Set(), changes: before !== text,
    summary: [describeChange({ op: 'set-mac', target: 'default MAC', old: before, new: text })],
    warnings: text === null ? ['an all-zero MAC: katran-tui\'s program drops every balanced packet until a MAC is set'] : [],
  });
}

// ---------------------------------------------------------------------------------------------
// QUIC server ids and down reals

function checkServerIdMap(limits: Limits, what: string): void {
  if (limits.maxServerIds < 2) throw new InputError(`${what}: the loaded balancer has no server_id_map (not a QUIC-capable object)`);
}

/** Sorted by id, the state's canonical order. */
function setMappings(s: DesiredState, m: DesiredQuicMapping[]): void {
  s.quic = [...m].sort((a, b) => a.id - b.id);
}

export function planAddQuicMapping(cur: DesiredState, limits: Limits, idIn: unknown, realIn: string): Plan {
  checkServerIdMap(limits, 'add QUIC mapping');
  const id = parseServerId(idIn, limits.maxServerIds);
  const { address } = checkRealAddress(realIn);
  const next = copyState(cur);
  const before = quicMappings(next).find((q) => q.id === id) ?? null;
  const target = `server id ${id}`;
  if (before?.real === address) {
    return plan({ op: 'quic-map-add', target, next, logOld: before, logNew: before, scope: new Set(), changes: false, summary: [`server id ${id} already routes to ${address}: nothing to change`], warnings: [] });
  }
  const index = allocRealIndexes(next, [address], limits).get(address)!;
  setMappings(next, [...quicMappings(next).filter((q) => q.id !== id), { id, real: address }]);
  gcReals(next); // a remap may release the old real's last reference
  const summary = [before
    ? `remap QUIC server id ${id}: ${before.real} -> ${address} (index ${index})`
    : `map QUIC server id ${id} -> ${address} (index ${index}${cur.reals.some((r) => r.address === address) ? '' : ', new'})`];
  if (before && !next.reals.some((r) => r.address === before.real)) summary.push(`index ${cur.reals.find((r) => r.address === before.real)!.index} is freed (nothing uses ${before.real})`);
  const warnings: string[] = [];
  if (before) warnings.push(`QUIC connections carrying server id ${id} move from ${before.real} to ${address} with their next packet`);
  const vipsOf = next.vips.filter((v) => v.reals.some((r) => r.address === address));
  if (!vipsOf.length) warnings.push(`${address} is a real of no VIP: only packets whose connection id names server id ${id} reach it`);
  const drained = vipsOf.filter((v) => v.reals.some((r) => r.address === address && r.weight === 0));
  if (drained.length) warnings.push(`${address} is drained (weight 0) in ${drained.map((v) => vipId(v.key)).join(', ')}: id-routed packets reach it all the same`);
  if (id >= limits.maxServerIds) warnings.push(`server id ${id} is beyond server_id_map (${limits.maxServerIds} entries): it falls back to hashing`);
  return plan({ op: 'quic-map-add', target, next, logOld: before, logNew: { id, real: address, index }, scope: new Set(), summary, warnings });
}

export function planRemoveQuicMapping(cur: DesiredState, limits: Limits, idIn: unknown): Plan {
  checkServerIdMap(limits, 'delete QUIC mapping');
  const id = parseServerId(idIn, limits.maxServerIds);
  const next = copyState(cur);
  const before = quicMappings(next).find((q) => q.id === id);
  if (!before) throw new InputError(`delete QUIC mapping: server id ${id} is not mapped (quic map list shows the mappings)`);
  setMappings(next, quicMappings(next).filter((q) => q.id !== id));
  gcReals(next);
  const summary = [`unmap QUIC server id ${id} (was ${before.real}); server_id_map[${id}] is cleared to 0`];
  if (!next.reals.some((r) => r.address === before.real)) summary.push(`index ${cur.reals.find((r) => r.address === before.real)!.index} is freed (nothing uses ${before.real})`);
  return plan({
    op: 'quic-map-del', target: `server id ${id}`, next, logOld: before, logNew: null, scope: new Set(), summary,
    warnings: [`packets carrying server id ${id} fall back to the LRU and the ring (counted as invalid server ids)`],
  });
}

export function planSetRealDown(cur: DesiredState, key: VipKey, addressIn: string, down: boolean): Plan {
  const what = down ? 'mark real down' : 'mark real up';
  const next = copyState(cur);
  const v = findVip(next, key, what);
  const id = vipId(v.key);
  const { address } = checkRealAddress(addressIn);
  if (!v.flags.includes('udp-flow-migration')) {
    throw new InputError(`${what} ${address} in ${id}: the VIP has no udp-flow-migration flag (the kernel consults down reals only for such VIPs; vip flags can add it)`);
  }
  const r = v.reals.find((x) => x.address === address);
  if (!r) throw new InputError(`${what} ${address} in ${id}: it is not a real of this VIP`);
  const changes = !!r.down !== down;
  if (down) r.down = true;
  else delete r.down;
  const target = `${id} ${address}`;
  const ids = idsOf(next, address);
  const warnings: string[] = [];
  if (down && changes) {
    warnings.push(`UDP flows of ${id} held in the LRU on ${address} are re-hashed with their next packet; the ring is unchanged, so the hash may pick ${address} again (set its weight to 0 to keep new flows away)`);
    if (ids.length) warnings.push(`server id(s) ${idList(ids)} still route QUIC packets to ${address}: a down mark does not stop id-routed traffic`);
  }
  return plan({
    op: down ? 'real-down' : 'real-up', target, next, logOld: !down, logNew: down, scope: new Set([id]), changes,
    summary: changes ? [`mark ${address} in ${id} ${down ? 'down' : 'up'} (vip_to_down_reals_map)`] : [`${address} in ${id} is already ${down ? 'down' : 'up'}: nothing to change`],
    warnings,
  });
}

/**
 * `config apply`: the balancer holds exactly `cfg` afterwards (VIPs not in it are removed).
 * Existing VIPs keep their vip_num and reals their index; new ones get the lowest free.
 */
export function planApply(cur: DesiredState, limits: Limits, cfg: DesiredConfig, moved: MovedShare): Plan {
  if (!cfg || !Array.isArray(cfg.vips)) throw new InputError('bad config: expected {vips: [...]}');
  const old = cur;
  const next = copyState(old);
  next.mac = cfg.mac === undefined ? old.mac : cfg.mac === null ? null : desiredMac(cfg.mac);
  if (cfg.vlans !== undefined) {
    if (cfg.vlans.length && !limits.vlans) throw vlansUnavailable('apply config');
    next.vlans = checkVlanMappings(cfg.vlans, next.mac);
  } else if (next.mac === null) checkVlanMappings(vlansOf(next), null);
  const vlansChange = JSON.stringify(vlansOf(old)) !== JSON.stringify(vlansOf(next));
  const seen = new Set<string>();
  const vips: DesiredVip[] = [];
  const summary: string[] = [];
  const warnings: string[] = [];
  for (const c of cfg.vips) {
    const key = checkVipKey(c.key);
    const id = vipId(key);
    if (seen.has(id)) throw new InputError(`bad config: VIP ${id} appears twice`);
    seen.add(id);
    const flags = checkFlags(c.flags, limits.vipFlagsSupported);
    const hash = checkHash(c.hash);
    const rs: DesiredReal[] = [];
    const rseen = new Set<string>();
    for (const r of c.reals ?? []) {
      const { address } = checkRealAddress(r?.address);
      if (rseen.has(address)) throw new InputError(`bad config: real ${address} appears twice in ${id}`);
      rseen.add(address);
      checkRealForVip(address, key);
      const dr: DesiredReal = { address, weight: parseWeight(r.weight ?? DEFAULT_WEIGHT) };
      if (r.down) {
        if (!flags.includes('udp-flow-migration')) throw new InputError(`bad config: real ${address} of ${id} is marked down, but the VIP has no udp-flow-migration flag (the kernel consults down reals only for such VIPs)`);
        dr.down = true;
      }
      rs.push(dr);
    }
    const prev = old.vips.find((v) => vipId(v.key) === id);
    if (prev) checkHashChange(key, prev.hash, hash);
    vips.push({ key, flags, hash, vipNum: prev?.vipNum ?? -1, reals: rs });
  }
  if (vips.length > limits.maxVips) throw new MapFullError('apply config', 'VIPs', '', { maxEntries: limits.maxVips, message: `apply config: map full (${limits.maxVips}): the config has ${vips.length} VIPs` });
  next.vips = vips;
  // QUIC mappings: absent from the config keeps the current ones (a file older than them applies as before).
  if (cfg.quicMappings !== undefined) {
    if (!Array.isArray(cfg.quicMappings)) throw new InputError('bad config: quicMappings must be a list of {id, real}');
    if (cfg.quicMappings.length) checkServerIdMap(limits, 'apply config');
    const ids = new Set<number>();
    const mappings = cfg.quicMappings.map((q) => {
      const mid = parseServerId(q?.id, limits.maxServerIds);
      if (ids.has(mid)) throw new InputError(`bad config: QUIC server id ${mid} appears twice`);
      ids.add(mid);
      return { id: mid, real: checkRealAddress(q.real).address };
    });
    setMappings(next, mappings);
  }
  for (const v of vips) {
    if (v.vipNum < 0) {
      const n = lowestFreeVipNum({ ...next, vips: vips.filter((x) => x.vipNum >= 0) }, limits);
      if (n === null) throw new MapFullError('apply config', 'VIPs', '', { maxEntries: limits.maxVips, message: `apply config: map full (${limits.maxVips})` });
      v.vipNum = n;
      summary.push(`add VIP ${vipId(v.key)} (vip_num ${n})`);
    }
  }
  for (const v of old.vips) if (!seen.has(vipId(v.key))) summary.push(`remove VIP ${vipId(v.key)}`);
  // Indexes: keep those of addresses still used; new addresses never take an index freed now.
  const freedNow = old.reals.map((r) => r.index);
  gcReals(next);
  allocRealIndexes(next, [...vips.flatMap((v) => v.reals.map((r) => r.address)), ...quicMappings(next).map((q) => q.real)], limits, freedNow);
  const scope = changedVips(old, next);
  const quicBefore = JSON.stringify(quicMappings(old));
  const quicChanged = JSON.stringify(quicMappings(next)) !== quicBefore;
  if (quicChanged) {
    const a = new Map(quicMappings(old).map((q) => [q.id, q.real]));
    const b = new Map(quicMappings(next).map((q) => [q.id, q.real]));
    for (const [qid, r] of b) if (a.get(qid) !== r) summary.push(a.has(qid) ? `remap QUIC server id ${qid}: ${a.get(qid)} -> ${r}` : `map QUIC server id ${qid} -> ${r}`);
    for (const [qid, r] of a) if (!b.has(qid)) summary.push(`unmap QUIC server id ${qid} (was ${r})`);
  }
  warnings.push(...keptByMappings(old, next, old.vips.flatMap((v) => v.reals.map((r) => r.address))));
  let movedShare: number | undefined;
  for (const id of scope) {
    const v = vips.find((x) => vipId(x.key) === id);
    if (v && old.vips.some((x) => vipId(x.key) === id)) {
      const ms = moved(v, next);
      summary.push(`change ${id}: ${pct(ms)} of slots move`);
      movedShare = Math.max(movedShare ?? 0, ms);
    }
    if (v && !v.reals.some((x) => x.weight > 0)) warnings.push(`${id} has no real with weight > 0: its traffic is dropped (counted as CH drops)`);
  }
  if (next.mac !== old.mac) summary.push(`set default gateway MAC: ${old.mac ?? 'none'} -> ${next.mac ?? 'none'}`);
  if (vlansChange) summary.push(...vlanSummary(vlansOf(old), vlansOf(next)));
  if (!summary.length) summary.push('the balancer already holds this config: nothing to change');
  return plan({
    op: 'apply-config', target: `${vips.length} VIP(s)`, next, logOld: `${old.vips.length} VIP(s)`, logNew: `${vips.length} VIP(s)`, scope,
    changes: scope.size > 0 || next.mac !== old.mac || vlansChange || quicChanged, summary, warnings, movedShare,
  });
}

// ---------------------------------------------------------------------------------------------
// VLAN mappings (katran-tui's object only)

export function vlansUnavailable(what: string): VlanUnavailableError {
  return new VlanUnavailableError(what, 'this program');
}

function vlanText(v: VlanMappingText): string {
  return `VLAN ${v.ingress} -> ${v.egress} (gateway ${v.mac ?? 'the default MAC'})`;
}

/** One line per mapping added, removed or changed between two lists. */
export function vlanSummary(a: readonly VlanMappingText[], b: readonly VlanMappingText[]): string[] {
  const out: string[] = [];
  const am = new Map(a.map((v) => [v.ingress, v]));
  const bm = new Map(b.map((v) => [v.ingress, v]));
  for (const [k, v] of am) {
    const w = bm.get(k);
    if (!w) out.push(`remove ${vlanText(v)}: its VIP traffic passes to the host's stack`);
    else if (w.egress !== v.egress || w.mac !== v.mac) out.push(`change ${vlanText(v)} -> ${w.egress} (gateway ${w.mac ?? 'the default MAC'})`);
  }
  for (const [k, w] of bm) if (!am.has(k)) out.push(`add ${vlanText(w)}`);
  return out;
}

/** The warnings of a change from one list of mappings to another (attach's dry run says the same). */
export function vlanWarnings(before: readonly VlanMappingText[], after: readonly VlanMappingText[]): string[] {
  // Only when this change makes a rewrite (a new one, or a new egress VLAN): not on every later del / mac.
  const egressBefore = new Map(before.map((v) => [v.ingress, v.egress]));
  return after.some((v) => v.egress !== v.ingress && egressBefore.get(v.ingress) !== v.egress)
    ? ['a rewrite (VLAN A in, VLAN B out) needs the switch port to trunk both VLANs'] : [];
}

function vlanPlan(cur: DesiredState, limits: Limits, op: string, target: string, rows: VlanMappingText[], strayMacs: string[] = []): Plan {
  if (!limits.vlans) throw vlansUnavailable(op.replace('-', ' '));
  const next = copyState(cur);
  next.vlans = checkVlanMappings(rows, cur.mac, strayMacs);
  const before = vlansOf(cur);
  const summary = vlanSummary(before, next.vlans);
  const changes = summary.length > 0;
  const warnings = vlanWarnings(before, next.vlans);
  return plan({
    op, target, next, logOld: before, logNew: next.vlans, scope: new Set(), changes,
    summary: changes ? summary : [`the balancer already holds ${target}: nothing to change`], warnings,
  });
}

/** `vlan add IN[:OUT] [--mac MAC]`: a new ingress VLAN (or, with `replace`, a changed one). */
export function planAddVlan(cur: DesiredState, limits: Limits, mappingText: string, macIn?: string | null, replace = false): Plan {
  const m = parseVlanMapping(mappingText);
  const ingress = formatVlan(m.ingress);
  const egress = formatVlan(m.egress);
  const rows = vlansOf(cur).map((v) => ({ ...v }));
  const i = rows.findIndex((v) => v.ingress === ingress);
  if (i >= 0 && !replace) throw new InputError(`vlan add ${ingress}: VLAN ${ingress} is already an ingress VLAN (-> ${rows[i].egress}); delete it first or change it`);
  const mac = macIn ? formatMac(parseMac(macIn)) : rows.find((v) => v.egress === egress && v.mac)?.mac ?? null;
  if (mac) for (const r of rows) if (r.egress === egress) r.mac = mac;
  const row = { ingress, egress, mac };
  if (i >= 0) rows[i] = row; else rows.push(row);
  return vlanPlan(cur, limits, replace ? 'set-vlan' : 'add-vlan', `VLAN ${ingress}`, rows);
}

/** `vlan del IN`: the VLAN's VIP traffic passes again. */
export function planRemoveVlan(cur: DesiredState, limits: Limits, vlanText: string): Plan {
  const ingress = formatVlan(parseVlan(vlanText, 'ingress VLAN'));
  const rows = vlansOf(cur);
  if (!rows.some((v) => v.ingress === ingress)) throw new InputError(`vlan del ${ingress}: VLAN ${ingress} is not an ingress VLAN of the balancer`);
  return vlanPlan(cur, limits, 'remove-vlan', `VLAN ${ingress}`, rows.filter((v) => v.ingress !== ingress));
}

/** `vlan mac OUT MAC`: the gateway MAC of an egress VLAN, for every mapping that leaves on it. */
export function planSetVlanMac(cur: DesiredState, limits: Limits, vlanText: string, macIn: string | null): Plan {
  const egress = formatVlan(parseVlan(vlanText, 'egress VLAN'));
  const mac = macIn === null ? null : desiredMac(macIn);
  const rows = vlansOf(cur).map((v) => (v.egress === egress ? { ...v, mac } : v));
  if (!rows.some((v) => v.egress === egress)) throw new InputError(`vlan mac ${egress}: no VLAN mapping leaves on VLAN ${egress} (add one: katran-tui vlan add IN:${egress})`);
  return vlanPlan(cur, limits, 'set-vlan-mac', `VLAN ${egress} gateway`, rows);
}

/** attach --vlan / --vlan-mac: the whole list at once. */
export function planSetVlans(cur: DesiredState, limits: Limits, rows: VlanMappingText[], strayMacs: string[] = []): Plan {
  return vlanPlan(cur, limits, 'set-vlans', `${rows.length} VLAN mapping(s)`, rows, strayMacs);
}
