// The desired state of one balancer (what state.json holds) and the pure operations on it: copy,
// the patch an intent records, and which VIPs two states differ in.
import { VIP_FLAGS, formatVip, type VipFlagName, type VipKey } from '../abi.js';
import { ringRecipe } from '../rules.js';
import type { BalancerConfig, ChangeLogEntry, HashKind } from '../types.js';

export interface DesiredReal {
  address: string;
  weight: number;
  /** Marked down (vip_to_down_reals_map; only on udp-flow-migration VIPs): its LRU hits are re-hashed. */
  down?: boolean;
}

/** A QUIC server id routed to a real (server_id_map[id] = the real's index), global as in Katran. */
export interface DesiredQuicMapping {
  id: number;
  real: string;
}

export interface DesiredVip {
  key: VipKey;
  flags: VipFlagName[];
  hash: HashKind;
  vipNum: number;
  reals: DesiredReal[];
}

export interface DesiredState {
  version: 1;
  intf: string;
  mode: string;
  /** Default gateway MAC (ctl_array[0]); null: all zero (katran-tui's object drops then). */
  mac: string | null;
  vips: DesiredVip[];
  /** Real index allocations: one index per address, shared by every VIP that uses it (never 0). */
  reals: { address: string; index: number }[];
  /**
   * VLAN mappings (katran-tui's object only; optional in the file, [] when absent): per ingress
   * VLAN, the egress VLAN and its gateway MAC (null: the default MAC). VLANs as "573" / "100.573".
   */
  vlans?: DesiredVlan[];
  /** QUIC server-id mappings, by id (absent in older state files: none). Each holds a reference on its real's index. */
  quic?: DesiredQuicMapping[];
}

export interface DesiredVlan {
  ingress: string;
  egress: string;
  mac: string | null;
}

/** `config apply`'s input: the Dataplane interface's BalancerConfig (vip_nums and indexes are ours). */
export type DesiredConfig = BalancerConfig;

/** A transaction's record: what it changes, from what to what. */
export interface Intent {
  op: string;
  target: string;
  old: unknown;
  new: unknown;
}

/** What the control plane needs of the state store (state.ts's StateStore is one). */
export interface DesiredStore {
  readonly writable: boolean;
  read<T>(): T | null;
  write<T>(state: T): void;
  beginIntent(intent: Intent): void;
  pendingIntent(): (Intent & { at?: string; pid?: number }) | null;
  clearIntent(): void;
  appendChangeLog(entry: ChangeLogEntry): void;
  changeLog(limit?: number): ChangeLogEntry[];
  /** A writer's open took over the lock of this dead pid (StateStore). */
  readonly takenOverFrom?: number | null;
}

export const vipId = formatVip;

export function emptyState(intf: string, mode: string): DesiredState {
  return { version: 1, intf, mode, mac: null, vips: [], reals: [], vlans: [], quic: [] };
}

/** A deep copy of a desired state (structuredClone is ~20x slower for 512 VIPs). */
export function copyState(s: DesiredState): DesiredState {
  return {
    version: 1, intf: s.intf, mode: s.mode, mac: s.mac,
    vips: s.vips.map((v) => ({ key: { address: v.key.address, port: v.key.port, proto: v.key.proto }, flags: [...v.flags], hash: v.hash, vipNum: v.vipNum, reals: v.reals.map(copyReal) })),
    reals: s.reals.map((r) => ({ address: r.address, index: r.index })),
    vlans: (s.vlans ?? []).map((v) => ({ ingress: v.ingress, egress: v.egress, mac: v.mac })),
    quic: quicMappings(s).map((m) => ({ id: m.id, real: m.real })),
  };
}

export function vlansOf(s: DesiredState): DesiredVlan[] {
  return s.vlans ?? [];
}

function sameVlans(a: DesiredState, b: DesiredState): boolean {
  return JSON.stringify(vlansOf(a)) === JSON.stringify(vlansOf(b));
}

function copyReal(r: DesiredReal): DesiredReal {
  return r.down ? { address: r.address, weight: r.weight, down: true } : { address: r.address, weight: r.weight };
}

/** The QUIC server-id mappings of a state (none in a state written before they existed). */
export function quicMappings(s: DesiredState): DesiredQuicMapping[] {
  return s.quic ?? [];
}

/** Addresses of the reals of `v` marked down. */
export function downReals(v: DesiredVip): string[] {
  return v.reals.filter((r) => r.down).map((r) => r.address);
}

/**
 * The part of a desired state a change touches: VIPs (by id; null = absent), index allocations
 * (by address; null = none) and the MAC. The intent records one for the old and one for the new
 * state; applied to either of them (whichever state.json holds after a crash) they give back
 * the old and the new state.
 */
export interface StatePatch {
  kind: 'patch';
  mac: string | null;
  vips: Record<string, DesiredVip | null>;
  reals: Record<string, number | null>;
  /** The whole VLAN list (a handful of entries) when the change touches it. */
  vlans?: DesiredVlan[];
  /** QUIC server ids (decimal text) -> real address; null = unmapped. Absent: no QUIC change. */
  quic?: Record<string, string | null>;
}

export function diffStates(a: DesiredState, b: DesiredState): { old: StatePatch; new: StatePatch } {
  const o: StatePatch = { kind: 'patch', mac: a.mac, vips: {}, reals: {} };
  const n: StatePatch = { kind: 'patch', mac: b.mac, vips: {}, reals: {} };
  const va = new Map(a.vips.map((v) => [vipId(v.key), v]));
  const vb = new Map(b.vips.map((v) => [vipId(v.key), v]));
  for (const id of new Set([...va.keys(), ...vb.keys()])) {
    const x = va.get(id) ?? null;
    const y = vb.get(id) ?? null;
    if (JSON.stringify(x) !== JSON.stringify(y)) { o.vips[id] = x; n.vips[id] = y; }
  }
  const ra = new Map(a.reals.map((r) => [r.address, r.index]));
  const rb = new Map(b.reals.map((r) => [r.address, r.index]));
  for (const addr of new Set([...ra.keys(), ...rb.keys()])) {
    const x = ra.get(addr) ?? null;
    const y = rb.get(addr) ?? null;
    if (x !== y) { o.reals[addr] = x; n.reals[addr] = y; }
  }
  if (!sameVlans(a, b)) { o.vlans = vlansOf(a); n.vlans = vlansOf(b); }
  const qa = new Map(quicMappings(a).map((m) => [m.id, m.real]));
  const qb = new Map(quicMappings(b).map((m) => [m.id, m.real]));
  for (const id of new Set([...qa.keys(), ...qb.keys()])) {
    const x = qa.get(id) ?? null;
    const y = qb.get(id) ?? null;
    if (x !== y) { (o.quic ??= {})[id] = x; (n.quic ??= {})[id] = y; }
  }
  return { old: o, new: n };
}

export function patchState(base: DesiredState, p: StatePatch): DesiredState {
  const s = copyState(base);
  s.mac = p.mac;
  const vips = new Map(s.vips.map((v) => [vipId(v.key), v]));
  for (const [id, v] of Object.entries(p.vips)) {
    if (v === null) vips.delete(id);
    else vips.set(id, v);
  }
  s.vips = [...vips.values()].sort((x, y) => x.vipNum - y.vipNum);
  const reals = new Map(s.reals.map((r) => [r.address, r.index]));
  for (const [a, i] of Object.entries(p.reals)) {
    if (i === null) reals.delete(a);
    else reals.set(a, i);
  }
  s.reals = [...reals].map(([address, index]) => ({ address, index })).sort((x, y) => x.index - y.index);
  if (p.vlans) s.vlans = p.vlans.map((v) => ({ ...v }));
  if (p.quic) {
    const q = new Map(quicMappings(s).map((m) => [m.id, m.real]));
    for (const [id, a] of Object.entries(p.quic)) {
      if (a === null) q.delete(Number(id));
      else q.set(Number(id), a);
    }
    s.quic = [...q].map(([id, real]) => ({ id, real })).sort((x, y) => x.id - y.id);
  }
  return s;
}

export function isPatch(x: unknown): x is StatePatch {
  return !!x && typeof x === 'object' && (x as StatePatch).kind === 'patch';
}

export function flagsMask(names: VipFlagName[]): number {
  return names.reduce((m, n) => m | VIP_FLAGS[n], 0);
}

export function indexMap(s: DesiredState): Map<string, number> {
  return new Map(s.reals.map((r) => [r.address, r.index]));
}

/** Ring-relevant projection of a VIP: when it differs between two states, the ring must be checked. */
function ringSig(v: DesiredVip, idx: Map<string, number>): string {
  return `${v.vipNum} ${ringRecipe(v, (a) => idx.get(a))}`;
}

function downSig(v: DesiredVip): string {
  return downReals(v).sort().join(',');
}

/** VIPs whose ring, flags, down reals or presence differs between two desired states. */
export function changedVips(a: DesiredState, b: DesiredState): Set<string> {
  const out = new Set<string>();
  const ia = indexMap(a);
  const ib = indexMap(b);
  const va = new Map(a.vips.map((v) => [vipId(v.key), v]));
  const vb = new Map(b.vips.map((v) => [vipId(v.key), v]));
  for (const [id, v] of va) {
    const w = vb.get(id);
    if (!w || ringSig(v, ia) !== ringSig(w, ib) || flagsMask(v.flags) !== flagsMask(w.flags) || downSig(v) !== downSig(w)) out.add(id);
  }
  for (const id of vb.keys()) if (!va.has(id)) out.add(id);
  return out;
}
