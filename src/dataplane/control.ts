// The control plane: VIPs, reals, rings and the default MAC of one balancer, as transactions over
// the kernel maps and the durable desired state.
//
// Every change works on a whole desired state:
//   1. validate the request completely (InputError, nothing written), derive the new desired state;
//   2. record the intent {op, target, old, new} (fsynced) before the first kernel write;
//   3. reconcile(new): make the kernel maps equal to it (only what differs is written);
//   4. write the desired state, append the change log, clear the intent.
// A kernel write that fails midway is undone by reconcile(old); a process killed midway leaves the
// intent behind, and the next open() finishes it (reconcile(new)) or, if that fails, undoes it.
// reconcile() is the one function that writes kernel maps: changes, rollback, recovery and
// `config apply` all use it.
//
// Ordering inside reconcile (what traffic may see at every step):
//   a. VIPs leaving vip_map go first (before their vip_num or ring slice can be reused);
//   b. reals entries for newly allocated indexes (reals_stats zeroed first when the index held
//      another real), so a ring never points at an index before it holds its address;
//   c. ring slices, one VIP at a time, only the changed slots, in batches;
//   d. VIPs entering vip_map (stats[vip_num] zeroed first when it held another VIP) or changing flags:
//      a VIP appears only once its ring is complete;
//   e. the default MAC.
import {
  CTL_MAC_INDEX, DEFAULT_HASH, DEFAULT_WEIGHT, InputError, MAX_WEIGHT, REAL_FLAGS, parseHash, parseWeight, VIP_FLAGS, VIP_FLAG_NAMES, formatMac, formatVip, isZeroMac, parseMac,
  parsePort, parseProto, parseVipFlags, realDefinition, u32Key, vipDefinition, vipFlagsToNames, vipMeta,
  type VipFlagName, type VipKey,
} from './abi.js';
import type { BalancerHandle } from './handle.js';
import { ArrayRangeReader } from './maps.js';
import { movedShare, ringCounts, ringDiff, ringForReals } from './maglev.js';
import { checkHashChange, checkRealForVip, describeChange, pct, ringRecipe, parseRealAddress, parseVipAddress, parseVipFlagList } from './rules.js';
import type { BalancerConfig, ChangeLogEntry, ChangeOptions, ChangeResult, HashKind, RealState, VipSpec, VipState } from './types.js';
import { ReadOnlyError } from './types.js';

// ---------------------------------------------------------------------------------------------
// Desired state (what state.json holds)

export interface DesiredReal {
  address: string;
  weight: number;
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
}

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
}

/**
 * Called at named points of a transaction: tests inject faults here (throw: a failing write;
 * process.kill(SIGKILL): a crash). Steps: 'intent', 'vip-delete', 'real', 'ring-batch', 'vip-add',
 * 'mac', 'applied', 'state'.
 */
export type FaultHook = (step: string, info: { op: string; done?: number; total?: number }) => void;

/** A change that failed in the kernel: what failed, and whether the old state was restored. */
export class ChangeError extends Error {
  constructor(message: string, readonly rolledBack: boolean, override readonly cause?: unknown) {
    super(message);
    this.name = 'ChangeError';
  }
}

export { DEFAULT_HASH, MAX_WEIGHT };

/** A config as `config apply` takes it: every VIP with its reals; vip_nums and indexes are ours. */
/** `config apply`'s input: the Dataplane interface's BalancerConfig. */
export type DesiredConfig = BalancerConfig;

const vipId = formatVip;

function clone<T>(x: T): T {
  return structuredClone(x);
}

/** A deep copy of a desired state (structuredClone is ~20x slower for 512 VIPs). */
export function copyState(s: DesiredState): DesiredState {
  return {
    version: 1, intf: s.intf, mode: s.mode, mac: s.mac,
    vips: s.vips.map((v) => ({ key: { address: v.key.address, port: v.key.port, proto: v.key.proto }, flags: [...v.flags], hash: v.hash, vipNum: v.vipNum, reals: v.reals.map((r) => ({ address: r.address, weight: r.weight })) })),
    reals: s.reals.map((r) => ({ address: r.address, index: r.index })),
  };
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
  return s;
}

function isPatch(x: unknown): x is StatePatch {
  return !!x && typeof x === 'object' && (x as StatePatch).kind === 'patch';
}

export function emptyState(intf: string, mode: string): DesiredState {
  return { version: 1, intf, mode, mac: null, vips: [], reals: [] };
}

// ---------------------------------------------------------------------------------------------
// Validation of operator input (before anything is written)

function checkVipKey(k: VipKey): VipKey {
  if (!k || typeof k !== 'object') throw new InputError('bad VIP: expected {address, port, proto}');
  return { address: parseVipAddress(k.address), port: parsePort(k.port as unknown as string, 'VIP port'), proto: parseProto(k.proto) };
}

const checkRealAddress = parseRealAddress;

export const checkWeight = parseWeight;

function checkHash(h: unknown): HashKind {
  return h === undefined ? DEFAULT_HASH : parseHash(h);
}

/** Flag names, refusing unknown ones and those the loaded object does not implement. */
function checkFlags(flags: unknown, supported: number): VipFlagName[] {
  return parseVipFlagList(flags, vipFlagsToNames(supported));
}

function flagsMask(names: VipFlagName[]): number {
  return names.reduce((m, n) => m | VIP_FLAGS[n], 0);
}

function flagsText(names: VipFlagName[]): string {
  return names.length ? names.join(',') : 'none';
}


// ---------------------------------------------------------------------------------------------

/** What a reconcile overwrote that the desired state does not describe (restored by a rollback). */
export interface Undo {
  reals: Map<number, Buffer>;
  realsStats: Map<number, Buffer>;
  stats: Map<number, Buffer>;
  /** Ring slices as they were before this pass wrote them, by vip_num. */
  rings: Map<number, Uint32Array>;
}

function newUndo(): Undo {
  return { reals: new Map(), realsStats: new Map(), stats: new Map(), rings: new Map() };
}

interface KernelVip {
  id: string;
  key: VipKey;
  keyBuf: Buffer;
  flags: number;
  vipNum: number;
}

/** Ring-relevant projection of a VIP: when it differs between two states, the ring must be checked. */
function ringSig(v: DesiredVip, idx: Map<string, number>): string {
  return `${v.vipNum} ${ringRecipe(v, (a) => idx.get(a))}`;
}

function indexMap(s: DesiredState): Map<string, number> {
  return new Map(s.reals.map((r) => [r.address, r.index]));
}

/** VIPs whose ring or presence differs between two desired states. */
export function changedVips(a: DesiredState, b: DesiredState): Set<string> {
  const out = new Set<string>();
  const ia = indexMap(a);
  const ib = indexMap(b);
  const va = new Map(a.vips.map((v) => [vipId(v.key), v]));
  const vb = new Map(b.vips.map((v) => [vipId(v.key), v]));
  for (const [id, v] of va) {
    const w = vb.get(id);
    if (!w || ringSig(v, ia) !== ringSig(w, ib) || flagsMask(v.flags) !== flagsMask(w.flags)) out.add(id);
  }
  for (const id of vb.keys()) if (!va.has(id)) out.add(id);
  return out;
}

export interface ControlOptions {
  faults?: FaultHook;
}

export class ControlPlane {
  private readonly maps: BalancerHandle['maps'];
  private readonly ringSize: number;
  private readonly ringReader: ArrayRangeReader;
  private desired: DesiredState;
  /** What the last open() found and repaired, in the operator's words; null when nothing. */
  recovered: string | null = null;
  /** Bumped on every applied change (caches of kernel reads key on it). */
  version = 0;
  private readonly ringCountCache = new Map<number, { sig: string; counts: Map<number, number> }>();

  private constructor(readonly handle: BalancerHandle, private readonly store: DesiredStore | null, private readonly o: ControlOptions) {
    this.maps = handle.maps;
    this.ringSize = handle.sizes.ringSize;
    this.ringReader = new ArrayRangeReader(handle.maps.rings, this.ringSize);
    this.desired = emptyState(handle.intf, handle.mode);
  }

  /**
   * Opens the control plane: reads the desired state, finishes (or undoes) a change a previous
   * process left half-applied, and imports the kernel's content when there is no state yet.
   */
  static open(handle: BalancerHandle, store: DesiredStore | null, o: ControlOptions = {}): ControlPlane {
    const c = new ControlPlane(handle, store, o);
    c.load();
    return c;
  }

  private load(): void {
    const st = this.store?.read<DesiredState>() ?? null;
    const notes: string[] = [];
    if (st) {
      this.desired = this.validateState(st, 'state file');
    } else {
      this.desired = this.importFromKernel();
      if (this.desired.vips.length) {
        notes.push(`no desired state on disk: imported ${this.desired.vips.length} VIP(s) from the kernel (weights unknown: each real set to 1 until changed)`);
      }
      // A writer adopts what it found, so that the state file exists from the first open on.
      if (this.store?.writable && !this.handle.readOnly && !this.store.pendingIntent()) this.store.write(this.desired);
    }
    const pending = this.store?.pendingIntent() ?? null;
    if (pending) {
      if (this.handle.readOnly || !this.store?.writable) {
        notes.push(`an interrupted change (${pending.op} ${pending.target}) is pending: a writer will finish or undo it`);
      } else {
        notes.push(this.recover(pending));
      }
    } else if (st && !this.handle.readOnly && this.store?.writable) {
      // No change was in flight: the kernel should equal the state. Cheap check of what can drift
      // without a ring read (vip_map, reals, MAC); repair what differs.
      const drift = this.cheapDrift(this.desired);
      if (drift.length) {
        this.reconcile(this.desired, this.desired, new Set(drift));
        notes.push(`the kernel differed from the desired state (${drift.join(', ')}): reapplied`);
      }
    }
    this.recovered = notes.length ? notes.join('; ') : null;
  }

  private recover(p: Intent & { at?: string; pid?: number }): string {
    const what = `${p.op} ${p.target}${p.at ? ` (started ${p.at}${p.pid ? ` by pid ${p.pid}` : ''})` : ''}`;
    let oldS: DesiredState;
    let newS: DesiredState;
    try {
      const o = isPatch(p.old) ? patchState(this.desired, p.old) : p.old as DesiredState;
      const n = isPatch(p.new) ? patchState(this.desired, p.new) : p.new as DesiredState;
      oldS = this.validateState(o, 'intent (old)');
      newS = this.validateState(n, 'intent (new)');
    } catch (e) {
      // An intent we cannot read is not applied: reconcile the kernel to the committed state.
      this.reconcile(this.desired, this.desired, 'all');
      this.store!.clearIntent();
      return `an interrupted change ${what} had an unreadable record (${(e as Error).message}): the kernel was reset to the saved desired state`;
    }
    const scope = changedVips(oldS, newS);
    try {
      this.reconcile(newS, oldS, scope);
      this.store!.write(newS);
      this.desired = newS;
      this.store!.appendChangeLog({ at: new Date().toISOString(), op: `recover ${p.op}`, target: p.target, old: 'interrupted', new: 'finished' });
      this.store!.clearIntent();
      this.version++;
      return `an interrupted change ${what} was finished: the kernel and the state file now hold it`;
    } catch (e) {
      this.reconcile(oldS, oldS, scope);
      this.store!.write(oldS);
      this.desired = oldS;
      this.store!.appendChangeLog({ at: new Date().toISOString(), op: `recover ${p.op}`, target: p.target, old: 'interrupted', new: 'undone' });
      this.store!.clearIntent();
      this.version++;
      return `an interrupted change ${what} could not be finished (${(e as Error).message}) and was undone`;
    }
  }

  /** A copy of the desired state. */
  state(): DesiredState {
    return copyState(this.desired);
  }

  /** VIPs and real indexes in use. */
  counts(): { vips: number; reals: number } {
    return { vips: this.desired.vips.length, reals: this.desired.reals.length };
  }

  private fault(step: string, op: string, done?: number, total?: number): void {
    this.o.faults?.(step, { op, done, total });
  }

  // -------------------------------------------------------------------------------------------
  // Kernel reads

  private readVipMap(known: Map<string, VipKey>): Map<string, KernelVip> {
    const out = new Map<string, KernelVip>();
    const val = Buffer.alloc(this.maps.vips.valueBufferSize);
    for (const k of this.maps.vips.keys()) {
      if (!this.maps.vips.lookup(k, val)) continue;
      const key = known.get(k.toString('hex')) ?? vipDefinition.decode(k);
      const m = vipMeta.decode(val);
      out.set(vipId(key), { id: vipId(key), key, keyBuf: k, flags: m.flags, vipNum: m.vipNum });
    }
    return out;
  }

  /** Address held at each index of the reals map (null: empty). */
  private realsReader: ArrayRangeReader | null = null;

  private readReals(): (string | null)[] {
    const n = this.maps.reals.maxEntries;
    const r = this.realsReader ??= new ArrayRangeReader(this.maps.reals, n);
    const got = r.read(0, n);
    const vs = this.maps.reals.valueBufferSize;
    const out: (string | null)[] = new Array(n).fill(null);
    for (let i = 0; i < got; i++) {
      const idx = r.keys.readUInt32LE(i * 4);
      const d = realDefinition.decode(r.values, i * vs);
      if (idx < n) out[idx] = d ? d.address : null;
    }
    return out;
  }

  /** One VIP's ring slice as the kernel holds it (a copy). */
  readRing(vipNum: number): Uint32Array {
    const got = this.ringReader.read(vipNum * this.ringSize, this.ringSize);
    const out = new Uint32Array(this.ringSize);
    const v = this.ringReader.values;
    out.set(new Uint32Array(v.buffer, v.byteOffset, got));
    return out;
  }

  private readMac(): Buffer {
    const b = Buffer.alloc(this.maps.ctl.valueBufferSize);
    this.maps.ctl.lookup(u32Key(CTL_MAC_INDEX), b);
    return b.subarray(0, 6);
  }

  getDefaultMac(): string | null {
    const m = this.readMac();
    return isZeroMac(m) ? null : formatMac(m);
  }

  /** Builds a desired state from what the kernel holds (observe mode; a balancer without state). */
  private importFromKernel(): DesiredState {
    const s = emptyState(this.handle.intf, this.handle.mode);
    s.mac = this.getDefaultMac();
    const vips = this.readVipMap(new Map());
    const reals = this.readReals();
    const used = new Map<number, string>();
    for (const kv of [...vips.values()].sort((a, b) => a.vipNum - b.vipNum)) {
      const ring = kv.vipNum < this.handle.sizes.maxVips ? this.readRing(kv.vipNum) : new Uint32Array(0);
      const counts = ringCounts(ring);
      const rs: DesiredReal[] = [];
      for (const idx of [...counts.keys()].sort((a, b) => a - b)) {
        const addr = idx > 0 ? reals[idx] : null;
        if (!addr) continue;
        used.set(idx, addr);
        rs.push({ address: addr, weight: 1 });
      }
      s.vips.push({ key: kv.key, flags: vipFlagsToNames(kv.flags), hash: DEFAULT_HASH, vipNum: kv.vipNum, reals: rs });
    }
    s.reals = [...used].map(([index, address]) => ({ address, index })).sort((a, b) => a.index - b.index);
    return s;
  }

  /** VIPs (vip_num) and reals (index) as the kernel holds them, without ring reads (sampling an observed balancer). */
  kernelLists(): { vips: { key: VipKey; vipNum: number }[]; reals: { index: number; address: string }[] } {
    const known = new Map(this.desired.vips.map((v) => [vipDefinition.encode(v.key).toString('hex'), v.key]));
    const vips = [...this.readVipMap(known).values()].map((k) => ({ key: k.key, vipNum: k.vipNum })).sort((a, b) => a.vipNum - b.vipNum);
    const reals: { index: number; address: string }[] = [];
    this.readReals().forEach((a, index) => { if (a && index > 0) reals.push({ index, address: a }); });
    return { vips, reals };
  }

  /** Without a state store (observe mode): re-reads the desired picture from the kernel. */
  refreshFromKernel(): void {
    if (this.store) return;
    this.desired = this.importFromKernel();
    this.version++;
  }

  /** VIPs whose vip_map entry, reals entries or the MAC differ from `s` (no ring reads). */
  private cheapDrift(s: DesiredState): string[] {
    const known = new Map(s.vips.map((v) => [vipDefinition.encode(v.key).toString('hex'), v.key]));
    const kv = this.readVipMap(known);
    const reals = this.readReals();
    const idx = indexMap(s);
    const out: string[] = [];
    for (const v of s.vips) {
      const id = vipId(v.key);
      const k = kv.get(id);
      if (!k || k.vipNum !== v.vipNum || k.flags !== flagsMask(v.flags) || v.reals.some((r) => reals[idx.get(r.address)!] !== r.address)) out.push(id);
    }
    for (const id of kv.keys()) if (!s.vips.some((v) => vipId(v.key) === id)) out.push(id);
    const mac = this.getDefaultMac();
    if (mac !== s.mac && !out.length) out.push('default MAC');
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // The one function that writes kernel maps

  /** The ring `v` should have in `s` (all zero when no real has weight > 0). */
  desiredRing(v: DesiredVip, s: DesiredState): Uint32Array {
    const idx = indexMap(s);
    const reals = v.reals.map((r) => ({ index: idx.get(r.address)!, address: r.address, weight: r.weight }));
    // A change computes the same ring for its dry-run figure and for the write: remember a few.
    const sig = ringRecipe(v, (a) => idx.get(a));
    const hit = this.ringMemo.get(sig);
    if (hit) return hit;
    const ring = ringForReals(reals, this.ringSize, v.hash) ?? new Uint32Array(this.ringSize);
    this.ringMemo.set(sig, ring);
    if (this.ringMemo.size > 8) this.ringMemo.delete(this.ringMemo.keys().next().value!);
    return ring;
  }

  private readonly ringMemo = new Map<string, Uint32Array>();

  /**
   * Makes the kernel maps equal to `target`. `committed` is the last state known to be fully in
   * the kernel (it decides whether an index / vip_num changes hands, so its counters are zeroed);
   * `scope` names the VIPs whose rings to read and compare ('all': every VIP). VIPs entering
   * vip_map are always in scope.
   */
  reconcile(target: DesiredState, committed: DesiredState, scope: Set<string> | 'all', op = 'reconcile', undo?: Undo, record?: Undo): Undo {
    const m = this.maps;
    // What this pass overwrites, recorded as it goes (so a failure midway still knows).
    const saved: Undo = record ?? newUndo();
    const known = new Map<string, VipKey>();
    for (const v of [...target.vips, ...committed.vips]) known.set(vipDefinition.encode(v.key).toString('hex'), v.key);
    const kernel = this.readVipMap(known);
    const kReals = this.readReals();
    const tIdx = new Map(target.reals.map((r) => [r.index, r.address]));
    const cIdx = new Map(committed.reals.map((r) => [r.index, r.address]));
    const conflicting: number[] = [];
    for (const [i, a] of tIdx) if (kReals[i] !== a) conflicting.push(i);
    conflicting.sort((a, b) => a - b);
    const conflictSet = new Set(conflicting);

    const tVips = new Map(target.vips.map((v) => [vipId(v.key), v]));
    const work: { v: DesiredVip; id: string; kernelRing: Uint32Array; ring: Uint32Array }[] = [];
    for (const v of target.vips) {
      const id = vipId(v.key);
      const k = kernel.get(id);
      if (scope !== 'all' && !scope.has(id) && k && k.vipNum === v.vipNum) continue;
      work.push({ v, id, kernelRing: this.readRing(v.vipNum), ring: this.desiredRing(v, target) });
    }
    // A VIP whose live ring points at an index about to change hands leaves vip_map for the
    // transaction (the allocator never does this; a hand-edited config or an odd recovery might).
    const unsafe = new Set<string>();
    if (conflictSet.size) {
      for (const w of work) {
        const k = kernel.get(w.id);
        if (k && k.vipNum === w.v.vipNum && w.kernelRing.some((x) => conflictSet.has(x))) unsafe.add(w.id);
      }
    }

    // a. VIPs leaving vip_map
    const present = new Set<string>();
    for (const [id, k] of kernel) {
      const t = tVips.get(id);
      if (!t || t.vipNum !== k.vipNum || unsafe.has(id)) {
        m.vips.delete(k.keyBuf);
        this.fault('vip-delete', op);
      } else {
        present.add(id);
      }
    }
    // b. reals entries of newly allocated indexes
    if (conflicting.length) {
      const zero = m.realsStats.newValueBuffer();
      const def = Buffer.alloc(m.reals.valueBufferSize);
      for (const i of conflicting) {
        const k = u32Key(i);
        const before = Buffer.alloc(m.reals.valueBufferSize);
        m.reals.lookup(k, before);
        if (!saved.reals.has(i)) saved.reals.set(i, before);
        if (cIdx.get(i) !== tIdx.get(i)) {
          const st = m.realsStats.newValueBuffer();
          m.realsStats.lookup(k, st);
          if (!saved.realsStats.has(i)) saved.realsStats.set(i, st);
          m.realsStats.update(k, zero);
        }
        realDefinition.encode({ address: tIdx.get(i)! }, def);
        m.reals.update(u32Key(i), def);
        this.fault('real', op);
      }
    }
    // c. rings, one VIP's slice at a time
    for (const w of work) {
      if (!saved.rings.has(w.v.vipNum)) saved.rings.set(w.v.vipNum, w.kernelRing);
      this.writeRing(w.v.vipNum, w.kernelRing, w.ring, op);
    }
    // d. VIPs entering vip_map, flag changes
    const cAt = new Map(committed.vips.map((v) => [v.vipNum, vipId(v.key)]));
    const meta = Buffer.alloc(m.vips.valueBufferSize);
    for (const v of target.vips) {
      const id = vipId(v.key);
      const flags = flagsMask(v.flags);
      const k = kernel.get(id);
      if (present.has(id) && k && k.flags === flags) continue;
      if (!present.has(id) && cAt.get(v.vipNum) !== id) {
        const st = m.stats.newValueBuffer();
        m.stats.lookup(u32Key(v.vipNum), st);
        if (!saved.stats.has(v.vipNum)) saved.stats.set(v.vipNum, st);
        m.stats.update(u32Key(v.vipNum), m.stats.newValueBuffer());
      }
      vipMeta.encode({ flags, vipNum: v.vipNum }, meta);
      m.vips.update(vipDefinition.encode(v.key), meta);
      this.fault('vip-add', op);
    }
    // e. the default MAC
    const want = target.mac ? parseMac(target.mac) : Buffer.alloc(6);
    if (!this.readMac().equals(want)) {
      const b = Buffer.alloc(m.ctl.valueBufferSize);
      want.copy(b);
      m.ctl.update(u32Key(CTL_MAC_INDEX), b);
      this.fault('mac', op);
    }
    // f. rollback: entries the failed attempt overwrote that `target` does not use get their bytes back
    if (undo) {
      const usedNums = new Set(target.vips.map((v) => v.vipNum));
      for (const [i, b] of undo.reals) if (!tIdx.has(i)) m.reals.update(u32Key(i), b);
      for (const [i, b] of undo.realsStats) if (!tIdx.has(i)) m.realsStats.update(u32Key(i), b);
      for (const [n, b] of undo.stats) if (!usedNums.has(n)) m.stats.update(u32Key(n), b);
      for (const [n, r] of undo.rings) if (!usedNums.has(n)) this.writeRing(n, this.readRing(n), r, op);
    }
    return saved;
  }

  /** Writes the slots of one VIP's slice that differ, in batches. Returns how many. */
  private writeRing(vipNum: number, oldRing: Uint32Array, newRing: Uint32Array, op: string): number {
    this.ringCountCache.delete(vipNum); // whatever happens below, count again from the kernel
    const diff = ringDiff(oldRing, newRing);
    const n = diff.length;
    if (n === 0) return 0;
    const keys = new Uint32Array(n);
    const vals = new Uint32Array(n);
    const base = vipNum * this.ringSize;
    for (let i = 0; i < n; i++) {
      keys[i] = base + diff[i];
      vals[i] = newRing[diff[i]];
    }
    const kb = Buffer.from(keys.buffer, keys.byteOffset, keys.byteLength);
    const vb = Buffer.from(vals.buffer, vals.byteOffset, vals.byteLength);
    const CHUNK = 8192;
    for (let i = 0; i < n; i += CHUNK) {
      const c = Math.min(CHUNK, n - i);
      this.maps.rings.updateBatch(kb.subarray(i * 4, (i + c) * 4), vb.subarray(i * 4, (i + c) * 4), c, CHUNK);
      this.fault('ring-batch', op, i + c, n);
    }
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Transactions

  private guardWrite(what: string): void {
    if (this.handle.readOnly) throw new ReadOnlyError(`${what}: ${this.handle.readOnlyReason ?? 'the balancer is open read-only'}`);
    if (!this.store) throw new ReadOnlyError(`${what}: no state directory is open for writing`);
    if (!this.store.writable) throw new ReadOnlyError(`${what}: the state directory is open read-only`);
  }

  /** Applies `next` as one transaction (see the file's header). */
  private commit(op: string, target: string, next: DesiredState, logOld: unknown, logNew: unknown, scope?: Set<string>): void {
    const store = this.store!;
    const old = this.desired;
    const sc = scope ?? changedVips(old, next);
    const d = diffStates(old, next);
    store.beginIntent({ op, target, old: d.old, new: d.new });
    this.fault('intent', op);
    const undo = newUndo();
    try {
      this.reconcile(next, old, sc, op, undefined, undo);
      this.fault('applied', op);
    } catch (e) {
      const why = (e as Error).message;
      try {
        this.reconcile(old, old, sc, `rollback ${op}`, undo);
      } catch (e2) {
        throw new ChangeError(`${op} ${target}: ${why}; rolling back failed too (${(e2 as Error).message}): the change stays pending and is finished or undone at the next open`, false, e);
      }
      store.clearIntent();
      throw new ChangeError(`${op} ${target}: ${why}; nothing changed (rolled back)`, true, e);
    }
    store.write(next);
    this.fault('state', op);
    this.desired = next;
    this.version++;
    store.appendChangeLog({ at: new Date().toISOString(), op, target, old: logOld, new: logNew });
    store.clearIntent();
  }

  private result(dryRun: boolean | undefined, summary: string[], warnings: string[], moved?: number): ChangeResult {
    const r: ChangeResult = { applied: !dryRun, summary, warnings };
    if (moved !== undefined) r.movedShare = moved;
    return r;
  }

  private findVip(s: DesiredState, key: VipKey, what: string): DesiredVip {
    const k = checkVipKey(key);
    const v = s.vips.find((x) => vipId(x.key) === vipId(k));
    if (!v) throw new InputError(`${what}: no VIP ${vipId(k)}`);
    return v;
  }

  private lowestFreeVipNum(s: DesiredState): number | null {
    const used = new Set(s.vips.map((v) => v.vipNum));
    for (let i = 0; i < this.handle.sizes.maxVips; i++) if (!used.has(i)) return i;
    return null;
  }

  /** Indexes in use by `s`, plus reals with no VIP left dropped (their index becomes free). */
  private gcReals(s: DesiredState): void {
    const used = new Set<string>();
    for (const v of s.vips) for (const r of v.reals) used.add(r.address);
    s.reals = s.reals.filter((r) => used.has(r.address));
  }

  /** Gives `address` an index in `s` (lowest free; indexes freed by this very change are not reused). */
  private allocIndex(s: DesiredState, address: string, reserved: Set<number>): number {
    const have = s.reals.find((r) => r.address === address);
    if (have) return have.index;
    const used = new Set([...s.reals.map((r) => r.index), ...reserved]);
    for (let i = 1; i < this.maps.reals.maxEntries; i++) {
      if (!used.has(i)) {
        s.reals.push({ address, index: i });
        s.reals.sort((a, b) => a.index - b.index);
        return i;
      }
    }
    throw new InputError(`add real ${address}: map full (${this.maps.reals.maxEntries - 1})`);
  }

  /** Moved share of `v`'s ring: from the kernel's slice to the ring `v` has in `s`. */
  private moved(v: DesiredVip, s: DesiredState): number {
    return movedShare(this.readRing(v.vipNum), this.desiredRing(v, s));
  }

  addVip(spec: VipSpec, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('add VIP');
    const key = checkVipKey(spec);
    const flags = checkFlags(spec.flags, this.handle.vipFlagsSupported);
    const hash = checkHash(spec.hash);
    const id = vipId(key);
    const next = copyState(this.desired);
    if (next.vips.some((v) => vipId(v.key) === id)) throw new InputError(`add VIP ${id}: it already exists`);
    const vipNum = this.lowestFreeVipNum(next);
    if (vipNum === null || next.vips.length >= this.maps.vips.maxEntries) throw new InputError(`add VIP: map full (${this.handle.sizes.maxVips})`);
    const nv: DesiredVip = { key, flags, hash, vipNum, reals: [] };
    next.vips.push(nv);
    const summary = [describeChange({ op: 'add-vip', target: id, old: null, new: nv })];
    const warnings = [`VIP ${id} has no reals yet: its traffic is dropped (counted as CH drops) until a real is added`];
    if (!o.dryRun) this.commit('add-vip', id, next, null, nv, new Set([id]));
    return this.result(o.dryRun, summary, warnings);
  }

  removeVip(key: VipKey, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('remove VIP');
    const next = copyState(this.desired);
    const v = this.findVip(next, key, 'remove VIP');
    const id = vipId(v.key);
    next.vips = next.vips.filter((x) => x !== v);
    this.gcReals(next);
    const freed = this.desired.reals.filter((r) => !next.reals.some((x) => x.index === r.index));
    const summary = [describeChange({ op: 'remove-vip', target: id, old: v, new: null })];
    if (freed.length) summary.push(`free real index(es) ${freed.map((r) => `${r.index} (${r.address})`).join(', ')}`);
    const warnings = [`traffic to ${id} is no longer balanced: it passes to the host's stack`];
    if (!o.dryRun) this.commit('remove-vip', id, next, v, null, new Set([id]));
    return this.result(o.dryRun, summary, warnings);
  }

  setVipFlags(key: VipKey, flagsIn: VipFlagName[], o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('set VIP flags');
    const flags = checkFlags(flagsIn, this.handle.vipFlagsSupported);
    const next = copyState(this.desired);
    const v = this.findVip(next, key, 'set VIP flags');
    const id = vipId(v.key);
    const before = v.flags;
    v.flags = flags;
    const summary = [describeChange({ op: 'set-vip-flags', target: id, old: before, new: flags })];
    const warnings: string[] = [];
    if (flagsMask(before) !== flagsMask(flags)) warnings.push('flows held in the LRU keep their real; new flows hash with the new flags');
    if (!o.dryRun && flagsMask(before) !== flagsMask(flags)) this.commit('set-vip-flags', id, next, before, flags, new Set([id]));
    return this.result(o.dryRun, flagsMask(before) === flagsMask(flags) ? [`${id} already has flags ${flagsText(flags)}: nothing to change`] : summary, warnings);
  }

  addReal(key: VipKey, real: { address: string; weight?: number }, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('add real');
    const next = copyState(this.desired);
    const v = this.findVip(next, key, 'add real');
    const id = vipId(v.key);
    const { address } = checkRealAddress(real?.address);
    const weight = checkWeight(real.weight ?? DEFAULT_WEIGHT);
    checkRealForVip(address, v.key);
    if (v.reals.some((r) => r.address === address)) throw new InputError(`add real ${address} to ${id}: it is already a real of this VIP (change its weight instead)`);
    const index = this.allocIndex(next, address, new Set());
    v.reals.push({ address, weight });
    const moved = this.moved(v, next);
    const summary = [describeChange({ op: 'add-real', target: `${id} ${address}`, old: null, new: { address, weight, index } }), `ring of ${id}: ${pct(moved)} of slots move`];
    const warnings: string[] = [];
    if (weight === 0) warnings.push(`${address} has weight 0: it takes no new flows`);
    if (!o.dryRun) this.commit('add-real', `${id} ${address}`, next, null, { address, weight, index }, new Set([id]));
    return this.result(o.dryRun, summary, warnings, moved);
  }

  removeReal(key: VipKey, addressIn: string, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('remove real');
    const next = copyState(this.desired);
    const v = this.findVip(next, key, 'remove real');
    const id = vipId(v.key);
    const { address } = checkRealAddress(addressIn);
    const r = v.reals.find((x) => x.address === address);
    if (!r) throw new InputError(`remove real ${address} from ${id}: it is not a real of this VIP`);
    v.reals = v.reals.filter((x) => x !== r);
    this.gcReals(next);
    const moved = this.moved(v, next);
    const summary = [describeChange({ op: 'remove-real', target: `${id} ${address}`, old: r, new: null }), `ring of ${id}: ${pct(moved)} of slots move`];
    const warnings = [`flows of ${address} held in the LRU keep going to it until they age out`];
    if (!v.reals.some((x) => x.weight > 0)) {
      warnings.unshift(`${id} has no real with weight > 0 left: its ring is emptied, and its traffic is dropped (counted as CH drops)`);
    }
    if (!next.reals.some((x) => x.address === address)) summary.push(`index ${this.desired.reals.find((x) => x.address === address)!.index} is freed (no VIP uses ${address})`);
    if (!o.dryRun) this.commit('remove-real', `${id} ${address}`, next, r, null, new Set([id]));
    return this.result(o.dryRun, summary, warnings, moved);
  }

  setRealWeight(key: VipKey, addressIn: string, weightIn: number, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('set weight');
    const next = copyState(this.desired);
    const v = this.findVip(next, key, 'set weight');
    const id = vipId(v.key);
    const { address } = checkRealAddress(addressIn);
    const weight = checkWeight(weightIn);
    const r = v.reals.find((x) => x.address === address);
    if (!r) throw new InputError(`set weight of ${address} in ${id}: it is not a real of this VIP`);
    const before = r.weight;
    r.weight = weight;
    const moved = this.moved(v, next);
    const summary = [describeChange({ op: 'set-weight', target: `${id} ${address}`, old: before, new: weight }), `ring of ${id}: ${pct(moved)} of slots move`];
    const warnings: string[] = [];
    if (weight === 0) warnings.push(`draining ${address}: new flows go to the other reals; flows held in the LRU stay on it until they age out`);
    if (!v.reals.some((x) => x.weight > 0)) warnings.unshift(`${id} has no real with weight > 0 left: its ring is emptied, and its traffic is dropped (counted as CH drops)`);
    if (!o.dryRun && before !== weight) this.commit('set-weight', `${id} ${address}`, next, before, weight, new Set([id]));
    return this.result(o.dryRun, before === weight ? [`${address} in ${id} already has weight ${weight}: nothing to change`] : summary, warnings, moved);
  }

  setDefaultMac(macIn: string, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('set default MAC');
    const mac = parseMac(macIn);
    const text = isZeroMac(mac) ? null : formatMac(mac);
    const next = copyState(this.desired);
    const before = next.mac;
    next.mac = text;
    const summary = [describeChange({ op: 'set-mac', target: 'default MAC', old: before, new: text })];
    const warnings = text === null ? ['an all-zero MAC: katran-tui\'s program drops every balanced packet until a MAC is set'] : [];
    if (!o.dryRun && before !== text) this.commit('set-mac', 'default MAC', next, before, text, new Set());
    return this.result(o.dryRun, summary, warnings);
  }

  /**
   * `config apply`: makes the balancer hold exactly `cfg` (VIPs not in it are removed). Existing
   * VIPs keep their vip_num and reals their index; new ones get the lowest free.
   */
  apply(cfg: DesiredConfig, o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('apply config');
    if (!cfg || !Array.isArray(cfg.vips)) throw new InputError('bad config: expected {vips: [...]}');
    const old = this.desired;
    const next = copyState(old);
    next.mac = cfg.mac === undefined ? old.mac : cfg.mac === null ? null : (isZeroMac(parseMac(cfg.mac)) ? null : formatMac(parseMac(cfg.mac)));
    const seen = new Set<string>();
    const vips: DesiredVip[] = [];
    const summary: string[] = [];
    const warnings: string[] = [];
    for (const c of cfg.vips) {
      const key = checkVipKey(c.key);
      const id = vipId(key);
      if (seen.has(id)) throw new InputError(`bad config: VIP ${id} appears twice`);
      seen.add(id);
      const flags = checkFlags(c.flags, this.handle.vipFlagsSupported);
      const hash = checkHash(c.hash);
      const rs: DesiredReal[] = [];
      const rseen = new Set<string>();
      for (const r of c.reals ?? []) {
        const { address } = checkRealAddress(r?.address);
        if (rseen.has(address)) throw new InputError(`bad config: real ${address} appears twice in ${id}`);
        rseen.add(address);
        checkRealForVip(address, key);
        rs.push({ address, weight: checkWeight(r.weight ?? DEFAULT_WEIGHT) });
      }
      const prev = old.vips.find((v) => vipId(v.key) === id);
      if (prev) checkHashChange(key, prev.hash, hash);
      vips.push({ key, flags, hash, vipNum: prev?.vipNum ?? -1, reals: rs });
    }
    if (vips.length > this.handle.sizes.maxVips) throw new InputError(`apply config: map full (${this.handle.sizes.maxVips}): the config has ${vips.length} VIPs`);
    next.vips = vips;
    for (const v of vips) {
      if (v.vipNum < 0) {
        const n = this.lowestFreeVipNum({ ...next, vips: vips.filter((x) => x.vipNum >= 0) });
        if (n === null) throw new InputError(`apply config: map full (${this.handle.sizes.maxVips})`);
        v.vipNum = n;
        summary.push(`add VIP ${vipId(v.key)} (vip_num ${n})`);
      }
    }
    for (const v of old.vips) if (!seen.has(vipId(v.key))) summary.push(`remove VIP ${vipId(v.key)}`);
    // Indexes: keep those of addresses still used; new addresses never take an index freed now.
    const freedNow = new Set(old.reals.map((r) => r.index));
    this.gcReals(next);
    {
      const have = new Map(next.reals.map((r) => [r.address, r.index]));
      const used = new Set([...next.reals.map((r) => r.index), ...freedNow]);
      let cursor = 1;
      for (const v of vips) {
        for (const r of v.reals) {
          if (have.has(r.address)) continue;
          while (cursor < this.maps.reals.maxEntries && used.has(cursor)) cursor++;
          if (cursor >= this.maps.reals.maxEntries) throw new InputError(`add real ${r.address}: map full (${this.maps.reals.maxEntries - 1})`);
          have.set(r.address, cursor);
          used.add(cursor);
          next.reals.push({ address: r.address, index: cursor });
        }
      }
      next.reals.sort((a, b) => a.index - b.index);
    }
    const scope = changedVips(old, next);
    let moved: number | undefined;
    for (const id of scope) {
      const v = vips.find((x) => vipId(x.key) === id);
      if (v && old.vips.some((x) => vipId(x.key) === id)) {
        const ms = this.moved(v, next);
        summary.push(`change ${id}: ${pct(ms)} of slots move`);
        moved = Math.max(moved ?? 0, ms);
      }
      if (v && !v.reals.some((x) => x.weight > 0)) warnings.push(`${id} has no real with weight > 0: its traffic is dropped (counted as CH drops)`);
    }
    if (next.mac !== old.mac) summary.push(`set default gateway MAC: ${old.mac ?? 'none'} -> ${next.mac ?? 'none'}`);
    if (!summary.length) summary.push('the balancer already holds this config: nothing to change');
    if (!o.dryRun && (scope.size || next.mac !== old.mac)) this.commit('apply-config', `${vips.length} VIP(s)`, next, `${old.vips.length} VIP(s)`, `${vips.length} VIP(s)`, scope);
    return this.result(o.dryRun, summary, warnings, moved);
  }

  /** Makes the kernel equal to the saved desired state, reading every ring ('repair'). */
  repair(): ChangeResult {
    this.guardWrite('repair');
    this.reconcile(this.desired, this.desired, 'all', 'repair');
    return { applied: true, summary: ['kernel maps reconciled to the saved desired state'], warnings: [] };
  }

  // -------------------------------------------------------------------------------------------
  // Views

  /** Every VIP with its reals, ring slots counted from the kernel's ring (one slice at a time). */
  /**
   * Slots per real index in a VIP's ring as the kernel holds it. Reading one ring slice costs ~7 ms
   * (65537 lookups), so the counts are kept per vip_num and read again only when what the ring is
   * made of (hash, reals, indexes, weights) changed: a console refreshing 512 VIPs must not take 4 s.
   */
  private kernelRingCounts(v: DesiredVip, idx: Map<string, number>): Map<number, number> {
    const sig = ringRecipe(v, (a) => idx.get(a));
    const hit = this.ringCountCache.get(v.vipNum);
    if (hit && hit.sig === sig) return hit.counts;
    const counts = ringCounts(this.readRing(v.vipNum));
    this.ringCountCache.set(v.vipNum, { sig, counts });
    return counts;
  }

  vips(): VipState[] {
    const s = this.desired;
    const idx = indexMap(s);
    return s.vips.map((v) => {
      const counts = this.kernelRingCounts(v, idx);
      const reals: RealState[] = v.reals.map((r) => {
        const index = idx.get(r.address)!;
        const slots = counts.get(index) ?? 0;
        return { address: r.address, weight: r.weight, index, ringSlots: slots, ringShare: slots / this.ringSize };
      });
      return { id: vipId(v.key), key: v.key, flags: [...v.flags], hash: v.hash, vipNum: v.vipNum, reals };
    });
  }

  /** Validates a desired state read from disk or an intent (shape, ranges, consistency). */
  private validateState(raw: DesiredState, what: string): DesiredState {
    const bad = (why: string): never => { throw new InputError(`${what}: ${why}`); };
    if (!raw || typeof raw !== 'object' || !Array.isArray(raw.vips) || !Array.isArray(raw.reals)) bad('not a desired state');
    const s = clone(raw);
    const idx = new Map<string, number>();
    const used = new Set<number>();
    for (const r of s.reals) {
      if (!Number.isInteger(r.index) || r.index < 1 || r.index >= this.maps.reals.maxEntries) bad(`real index ${r.index} out of range`);
      if (used.has(r.index)) bad(`real index ${r.index} given twice`);
      used.add(r.index);
      idx.set(checkRealAddress(r.address).address, r.index);
    }
    const nums = new Set<number>();
    for (const v of s.vips) {
      v.key = checkVipKey(v.key);
      if (!Number.isInteger(v.vipNum) || v.vipNum < 0 || v.vipNum >= this.handle.sizes.maxVips) bad(`vip_num ${v.vipNum} out of range`);
      if (nums.has(v.vipNum)) bad(`vip_num ${v.vipNum} given twice`);
      nums.add(v.vipNum);
      v.hash = checkHash(v.hash);
      v.flags = vipFlagsToNames(parseVipFlags(v.flags ?? []));
      for (const r of v.reals) {
        r.address = checkRealAddress(r.address).address;
        r.weight = checkWeight(r.weight);
        if (!idx.has(r.address)) bad(`real ${r.address} of ${vipId(v.key)} has no index`);
      }
    }
    if (s.mac !== null && s.mac !== undefined) s.mac = formatMac(parseMac(s.mac));
    else s.mac = null;
    s.version = 1;
    return s;
  }
}

export { VIP_FLAG_NAMES, REAL_FLAGS };
