// The reconciler: the one place that writes a balancer's kernel maps. It makes them equal to a
// desired state (only what differs is written), and applies a plan as a transaction over the
// durable store:
//   1. record the intent {op, target, old, new} (fsynced) before the first kernel write;
//   2. reconcile(new);
//   3. write the desired state, append the change log, clear the intent.
// A kernel write that fails midway is undone by reconcile(old); a process killed midway leaves the
// intent behind, and the next open recovers: it finishes it (reconcile(new)) or, if that fails,
// undoes it. Changes, rollback, recovery and `config apply` all go through reconcile().
//
// Ordering inside reconcile (what traffic may see at every step):
//   a. VIPs leaving vip_map go first (before their vip_num or ring slice can be reused);
//   b. reals entries for newly allocated indexes (reals_stats zeroed first when the index held
//      another real), so a ring never points at an index before it holds its address;
//   c. ring slices, one VIP at a time, only the changed slots, in batches;
//   d. VIPs entering vip_map (stats[vip_num] zeroed first when it held another VIP) or changing flags:
//      a VIP appears only once its ring is complete;
//   e. the default MAC;
//   f. VLAN mappings (katran-tui's object): made equal to the target's, entry by entry (a VLAN's
//      traffic is balanced from the moment its entry holds the egress VLAN and gateway MAC). A
//      VLAN added or deleted gets its counters zeroed right after its entry is written, so they
//      count from the mapping change on (a rollback puts the old counters back).
// QUIC server ids: unmapped ids are cleared (0) with a; ids are written after b (an id never names
// an index before it holds its address). Down reals (vip_to_down_reals_map) follow d.
import {
  CTL_MAC_INDEX, DEFAULT_HASH, DOWN_REALS_INNER, formatMac, formatVlan, isZeroMac, parseMac, parseVlan, realDefinition, u32Key, vipDefinition, vipFlagsToNames, vipMeta, type VipKey, type VlanEntry, type VlanKey, type VlanMappingText,
} from '../abi.js';
import {
  VlanTable,
} from '../kernel/vlan.js';
import {
  VlanUnavailableError,
} from '../types.js';
import type {
  BalancerMaps,
} from '../kernel/loader.js';
import {
  ArrayRangeReader, BpfMap,
} from '../kernel/maps.js';
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE, mapCreate, mapFdById,
} from '../kernel/libbpf.js';
import {
  movedShare, ringCounts, ringDiff, ringForReals,
} from './maglev.js';
import {
  changedVips, diffStates, emptyState, flagsMask, indexMap, isPatch, patchState, vipId, vlansOf, downReals, quicMappings, type DesiredReal, type DesiredState, type DesiredStore, type DesiredVip, type Intent,
} from './desired.js';
import type {
  Plan,
} from './planner.js';
import {
  ringRecipe,
} from '../rules.js';

/**
 * Called at named points of a transaction: tests inject faults here (throw: a failing write;
 * process.kill(SIGKILL): a crash). Steps: 'intent', 'vip-delete', 'real', 'ring-batch', 'vip-add',
 * process.kill(SIGKILL): a crash). Steps: 'intent', 'vip-delete', 'server-id', 'real', 'ring-batch',
 * 'vip-add', 'down-reals', 'mac', 'vlan', 'applied', 'state'.
 */
export type FaultHook = (step: string, info: { op: string; done?: number; total?: number }) => void;

/** A change that failed in the kernel: what failed, and whether the old state was restored. */
export class ChangeError extends Error {
  constructor(message: string, readonly rolledBack: boolean, override readonly cause?: unknown) {
    super(message);
    this.name = 'ChangeError';
  }
}

/** What a reconcile overwrote that the desired state does not describe (restored by a rollback). */
export interface Undo {
  reals: Map<number, Buffer>;
  realsStats: Map<number, Buffer>;
  stats: Map<number, Buffer>;
  /** Ring slices as they were before this pass wrote them, by vip_num. */
  rings: Map<number, Uint32Array>;
  /** server_id_map values as they were, by id. */
  serverIds: Map<number, Buffer>;
  /** kt_vlan_stats slots (per CPU) as they were before a VLAN add / delete zeroed them, by ingress VLAN. */
  vlanStats: Map<string, Buffer>;
}

function newUndo(): Undo {
  return { reals: new Map(), realsStats: new Map(), stats: new Map(), rings: new Map(), serverIds: new Map(), vlanStats: new Map() };
}

interface KernelVip {
  id: string;
  key: VipKey;
  keyBuf: Buffer;
  flags: number;
  vipNum: number;
}

export class Reconciler {
  private readonly ringReader: ArrayRangeReader;
  /** Address held at each index of the reals map (null: empty). */
  private realsReader: ArrayRangeReader | null = null;
  private readonly ringCountCache = new Map<number, { sig: string; counts: Map<number, number> }>();
  private readonly ringMemo = new Map<string, Uint32Array>();

  /** The VLAN maps; null for an object without them (upstream Katran). */
  readonly vlan: VlanTable | null;

  constructor(private readonly maps: BalancerMaps, private readonly ringSize: number, private readonly faults?: FaultHook) {
    this.ringReader = new ArrayRangeReader(maps.rings, ringSize);
    let vlan: VlanTable | null = null;
    try {
      vlan = VlanTable.fromMaps((n) => maps.all.get(n), 'the balancer');
    } catch (e) {
      if (!(e instanceof VlanUnavailableError)) throw e;
    }
    this.vlan = vlan;
  }

  /** The VLAN mappings the kernel holds ([] without VLAN maps). */
  kernelVlans(): VlanMappingText[] {
    if (!this.vlan) return [];
    return this.vlan.list().filter((r) => r.entry.balance).map((r) => ({
      ingress: formatVlan(r.vlan), egress: formatVlan(r.entry.egress), mac: r.entry.mac ? formatMac(r.entry.mac) : null,
    }));
  }

  private vlansDiffer(s: DesiredState): boolean {
    return JSON.stringify(this.kernelVlans()) !== JSON.stringify(vlansOf(s));
  }

  /**
   * Step f: kt_vlan_map / kt_vlan_pairs equal to `target`'s mappings (only entries that differ are
   * written). A VLAN added or deleted (against the kernel or `committed`) has its counters zeroed
   * after its entry is written, their old bytes kept in `saved`: the counters then describe the
   * VLAN as it is now (what it balanced before a delete is not later read as VIP traffic it passed).
   */
  private writeVlans(target: DesiredState, committed: DesiredState, op: string, saved: Undo): void {
    const t = this.vlan;
    const want = vlansOf(target);
    if (!t) return; // the planner refuses VLANs for such an object; a state from another object keeps them on paper

    const have = new Map(this.kernelVlans().map((v) => [v.ingress, v]));
    const wanted = new Set(want.map((v) => v.ingress));
    const before = new Set(vlansOf(committed).map((v) => v.ingress));
    const keep = (k: VlanKey, id: string): void => {
      if (saved.vlanStats.has(id)) return;
      const b = t.counterBytes(k);
      if (b) saved.vlanStats.set(id, b);
    };
    // Leaving: the kernel's entries, and `committed`'s mappings (a recovery may find the entry gone already).
    const leaving = new Map<string, VlanKey>([...before].map((id) => [id, parseVlan(id)]));
    for (const r of t.list()) leaving.set(formatVlan(r.vlan), r.vlan);
    for (const [id, k] of leaving) {
      if (wanted.has(id)) continue;
      keep(k, id);
      t.delete(k);
      t.setCounterBytes(k); // a pair's slot is freed with its entry (zeroed when given out again): false
      this.fault('vlan', op);
    }
    for (const v of want) {
      const h = have.get(v.ingress);
      const added = !h || !before.has(v.ingress);
      if (h && h.egress === v.egress && h.mac === v.mac && !added) continue;
      const k = parseVlan(v.ingress);
      if (added) keep(k, v.ingress);
      const entry: VlanEntry = { balance: true, egress: parseVlan(v.egress), mac: v.mac ? parseMac(v.mac) : null };
      t.set(k, entry);
      if (added) t.setCounterBytes(k);
      this.fault('vlan', op);
    }
  }

  private fault(step: string, op: string, done?: number, total?: number): void {
    this.faults?.(step, { op, done, total });
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

  /** server_id_map[id] (0: unset or no map). */
  serverIdIndex(id: number): number {
    const m = this.maps.serverIds;
    if (!m || id >= m.maxEntries) return 0;
    const b = Buffer.alloc(m.valueBufferSize);
    return m.lookup(u32Key(id), b) ? b.readUInt32LE(0) : 0;
  }

  /**
   * Every non-zero entry of server_id_map (observe mode, where no desired state lists them). 16M
   * entries take seconds: read in batches of 64k into one reused buffer, and only on request.
   */
  scanServerIds(): { id: number; index: number }[] {
    const m = this.maps.serverIds;
    if (!m) return [];
    const CH = 65536;
    const r = new ArrayRangeReader(m, CH);
    const out: { id: number; index: number }[] = [];
    for (let start = 0; start < m.maxEntries; start += CH) {
      const got = r.read(start, Math.min(CH, m.maxEntries - start));
      for (let i = 0; i < got; i++) {
        const index = r.values.readUInt32LE(i * m.valueBufferSize);
        if (index) out.push({ id: r.keys.readUInt32LE(i * 4), index });
      }
    }
    return out;
  }

  /** Real indexes listed down for a VIP in vip_to_down_reals_map (empty: none, or no map). */
  downIndexes(key: VipKey): Set<number> {
    const inner = this.openDownInner(vipDefinition.encode(key), true);
    if (!inner) return new Set();
    try {
      return new Set(inner.keys().map((k) => k.readUInt32LE(0)));
    } finally {
      inner.close();
    }
  }

  private openDownInner(outerKey: Buffer, readOnly: boolean): BpfMap | null {
    const outer = this.maps.downReals;
    if (!outer) return null;
    const v = Buffer.alloc(outer.valueBufferSize);
    if (!outer.lookup(outerKey, v)) return null;
    return BpfMap.fromFd('down reals (inner)', mapFdById(v.readUInt32LE(0), readOnly), { readOnly, ownsFd: true });
  }

  /**
   * Slots per real index in a VIP's ring as the kernel holds it. Reading one ring slice costs ~7 ms
   * (65537 lookups), so the counts are kept per vip_num and read again only when what the ring is
   * made of (hash, reals, indexes, weights) changed: a console refreshing 512 VIPs must not take 4 s.
   */
  ringCountsOf(v: DesiredVip, idx: Map<string, number>): Map<number, number> {
    const sig = ringRecipe(v, (a) => idx.get(a));
    const hit = this.ringCountCache.get(v.vipNum);
    if (hit && hit.sig === sig) return hit.counts;
    const counts = ringCounts(this.readRing(v.vipNum));
    this.ringCountCache.set(v.vipNum, { sig, counts });
    return counts;
  }

  /** Builds a desired state from what the kernel holds (observe mode; a balancer without state). */
  importFromKernel(intf: string, mode: string, maxVips: number): DesiredState {
    const s = emptyState(intf, mode);
    s.mac = this.getDefaultMac();
    const vips = this.readVipMap(new Map());
    const reals = this.readReals();
    const used = new Map<number, string>();
    for (const kv of [...vips.values()].sort((a, b) => a.vipNum - b.vipNum)) {
      const ring = kv.vipNum < maxVips ? this.readRing(kv.vipNum) : new Uint32Array(0);
      const counts = ringCounts(ring);
      const rs: DesiredReal[] = [];
      const down = this.downIndexes(kv.key);
      for (const idx of [...counts.keys()].sort((a, b) => a - b)) {
        const addr = idx > 0 ? reals[idx] : null;
        if (!addr) continue;
        used.set(idx, addr);
        rs.push(down.has(idx) ? { address: addr, weight: 1, down: true } : { address: addr, weight: 1 });
      }
      s.vips.push({ key: kv.key, flags: vipFlagsToNames(kv.flags), hash: DEFAULT_HASH, vipNum: kv.vipNum, reals: rs });
    }
    s.reals = [...used].map(([index, address]) => ({ address, index })).sort((a, b) => a.index - b.index);
    s.vlans = this.kernelVlans();
    return s;
  }

  /** VIPs (vip_num) and reals (index) as the kernel holds them, without ring reads (sampling an observed balancer). */
  kernelLists(s: DesiredState): { vips: { key: VipKey; vipNum: number }[]; reals: { index: number; address: string }[] } {
    const known = new Map(s.vips.map((v) => [vipDefinition.encode(v.key).toString('hex'), v.key]));
    const vips = [...this.readVipMap(known).values()].map((k) => ({ key: k.key, vipNum: k.vipNum })).sort((a, b) => a.vipNum - b.vipNum);
    const reals: { index: number; address: string }[] = [];
    this.readReals().forEach((a, index) => { if (a && index > 0) reals.push({ index, address: a }); });
    return { vips, reals };
  }

  /** VIPs whose vip_map entry, reals entries or the MAC differ from `s` (no ring reads). */
  cheapDrift(s: DesiredState): string[] {
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
    for (const v of s.vips) {
      const want = downReals(v).map((a) => idx.get(a)!).sort().join(',');
      if (this.maps.downReals && [...this.downIndexes(v.key)].sort().join(',') !== want && !out.includes(vipId(v.key))) out.push(vipId(v.key));
    }
    if (quicMappings(s).some((q) => this.serverIdIndex(q.id) !== idx.get(q.real))) out.push('QUIC mappings');
    const mac = this.getDefaultMac();
    if (mac !== s.mac && !out.length) out.push('default MAC');
    if (this.vlan && this.vlansDiffer(s)) out.push('VLANs');
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Rings

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

  /** Moved share of `v`'s ring: from the kernel's slice to the ring `v` has in `s`. */
  moved(v: DesiredVip, s: DesiredState): number {
    return movedShare(this.readRing(v.vipNum), this.desiredRing(v, s));
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
  // The one function that writes kernel maps

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
    // a'. QUIC server ids no longer mapped: cleared (Katran leaves them; a stale id would keep
    //     routing to an index that may change hands)
    const tAddrIdx = new Map(target.reals.map((r) => [r.address, r.index]));
    const tIds = new Map(quicMappings(target).map((q) => [q.id, tAddrIdx.get(q.real)!]));
    const idBuf = Buffer.alloc(4);
    const setId = (id: number, index: number): void => {
      const sm = m.serverIds!;
      const before = Buffer.alloc(sm.valueBufferSize);
      sm.lookup(u32Key(id), before);
      if (before.readUInt32LE(0) === index) return;
      if (!saved.serverIds.has(id)) saved.serverIds.set(id, before);
      idBuf.writeUInt32LE(index, 0);
      sm.update(u32Key(id), idBuf);
      this.fault('server-id', op);
    };
    if (tIds.size && !m.serverIds) throw new Error('the loaded balancer has no server_id_map');
    if (m.serverIds) {
      for (const q of [...quicMappings(committed), ...[...(undo?.serverIds.keys() ?? [])].map((id) => ({ id }))]) {
        if (!tIds.has(q.id) && q.id < m.serverIds.maxEntries) setId(q.id, 0);
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
    // b'. QUIC server ids -> their real's index
    for (const [id, index] of tIds) setId(id, index);
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
    // d'. down reals
    this.reconcileDownReals(target, tAddrIdx, op);
    // e. the default MAC
    const want = target.mac ? parseMac(target.mac) : Buffer.alloc(6);
    if (!this.readMac().equals(want)) {
      const b = Buffer.alloc(m.ctl.valueBufferSize);
      want.copy(b);
      m.ctl.update(u32Key(CTL_MAC_INDEX), b);
      this.fault('mac', op);
    }
    // f. VLAN mappings
    this.writeVlans(target, committed, op, saved);
    // g. rollback: entries the failed attempt overwrote that `target` does not use get their bytes back
    if (undo) {
      const usedNums = new Set(target.vips.map((v) => v.vipNum));
      for (const [i, b] of undo.reals) if (!tIdx.has(i)) m.reals.update(u32Key(i), b);
      for (const [i, b] of undo.realsStats) if (!tIdx.has(i)) m.realsStats.update(u32Key(i), b);
      for (const [n, b] of undo.stats) if (!usedNums.has(n)) m.stats.update(u32Key(n), b);
      for (const [n, r] of undo.rings) if (!usedNums.has(n)) this.writeRing(n, this.readRing(n), r, op);
      for (const [id, b] of undo.serverIds) if (!tIds.has(id)) m.serverIds!.update(u32Key(id), b);
      for (const [id, b] of undo.vlanStats) this.vlan?.setCounterBytes(parseVlan(id), b);
    }
    return saved;
  }

  /**
   * vip_to_down_reals_map equal to the down marks of `target`: an inner map per VIP with down
   * reals (created on first use, as Katran does), none for the others. The desired state describes
   * the whole map, so a rollback needs no record of it.
   */
  private reconcileDownReals(target: DesiredState, idx: Map<string, number>, op: string): void {
    const outer = this.maps.downReals;
    const want = new Map<string, { key: Buffer; indexes: Set<number> }>();
    for (const v of target.vips) {
      const d = downReals(v);
      if (!d.length) continue;
      const key = vipDefinition.encode(v.key);
      want.set(key.toString('hex'), { key, indexes: new Set(d.map((a) => idx.get(a)!)) });
    }
    if (!outer) {
      if (want.size) throw new Error('the loaded balancer has no vip_to_down_reals_map');
      return;
    }
    const one = Buffer.alloc(DOWN_REALS_INNER.valueSize);
    for (const k of outer.keys()) {
      if (!want.has(k.toString('hex'))) {
        outer.delete(k);
        this.fault('down-reals', op);
      }
    }
    for (const { key, indexes } of want.values()) {
      let inner = this.openDownInner(key, false);
      let created = false;
      if (!inner) {
        const fd = mapCreate(BPF_MAP_TYPE.HASH, 'kt_down_reals', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, this.maps.reals.maxEntries, { flags: BPF_F_NO_PREALLOC });
        inner = BpfMap.fromFd('down reals (inner)', fd, { ownsFd: true });
        created = true;
      }
      try {
        const have = new Set(inner.keys().map((k) => k.readUInt32LE(0)));
        for (const i of have) if (!indexes.has(i)) inner.delete(u32Key(i));
        for (const i of indexes) if (!have.has(i)) inner.update(u32Key(i), one);
        if (created) {
          const v = Buffer.alloc(outer.valueBufferSize);
          v.writeUInt32LE(inner.fd, 0);
          outer.update(key, v);
        }
        this.fault('down-reals', op);
      } finally {
        inner.close();
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Transactions

  /**
   * Applies `p` over `committed` as one transaction (see the file's header). `adopt` is called
   * with the new state once the kernel and the state file hold it.
   */
  commit(store: DesiredStore, committed: DesiredState, p: Plan, adopt: (s: DesiredState) => void): void {
    const { op, target, next, scope } = p;
    const d = diffStates(committed, next);
    store.beginIntent({ op, target, old: d.old, new: d.new });
    this.fault('intent', op);
    const undo = newUndo();
    try {
      this.reconcile(next, committed, scope, op, undefined, undo);
      this.fault('applied', op);
    } catch (e) {
      const why = (e as Error).message;
      try {
        this.reconcile(committed, committed, scope, `rollback ${op}`, undo);
      } catch (e2) {
        throw new ChangeError(`${op} ${target}: ${why}; rolling back failed too (${(e2 as Error).message}): the change stays pending and is finished or undone at the next open`, false, e);
      }
      store.clearIntent();
      throw new ChangeError(`${op} ${target}: ${why}; nothing changed (rolled back)`, true, e);
    }
    store.write(next);
    this.fault('state', op);
    adopt(next);
    store.appendChangeLog({ at: new Date().toISOString(), op, target, old: p.logOld, new: p.logNew });
    store.clearIntent();
  }

  /**
   * Finishes (or, if that fails, undoes) a change a killed process left pending over `committed`.
   * Returns the state the kernel and the store hold afterwards and what was done, in the
   * operator's words. `validate` checks the states the intent describes.
   */
  recover(
    store: DesiredStore, committed: DesiredState, p: Intent & { at?: string; pid?: number }, validate: (s: DesiredState, what: string) => DesiredState,
  ): { state: DesiredState; note: string } {
    const what = `${p.op} ${p.target}${p.at ? ` (started ${p.at}${p.pid ? ` by pid ${p.pid}` : ''})` : ''}`;
    let oldS: DesiredState;
    let newS: DesiredState;
    try {
      const o = isPatch(p.old) ? patchState(committed, p.old) : p.old as DesiredState;
      const n = isPatch(p.new) ? patchState(committed, p.new) : p.new as DesiredState;
      oldS = validate(o, 'intent (old)');
      newS = validate(n, 'intent (new)');
    } catch (e) {
      // An intent we cannot read is not applied: reconcile the kernel to the committed state.
      this.reconcile(committed, committed, 'all');
      store.clearIntent();
      return { state: committed, note: `an interrupted change ${what} had an unreadable record (${(e as Error).message}): the kernel was reset to the saved desired state` };
    }
    const scope = changedVips(oldS, newS);
    const settle = (s: DesiredState, outcome: string): void => {
      store.write(s);
      store.appendChangeLog({ at: new Date().toISOString(), op: `recover ${p.op}`, target: p.target, old: 'interrupted', new: outcome });
      store.clearIntent();
    };
    try {
      this.reconcile(newS, oldS, scope);
      settle(newS, 'finished');
      return { state: newS, note: `an interrupted change ${what} was finished: the kernel and the state file now hold it` };
    } catch (e) {
      this.reconcile(oldS, oldS, scope);
      settle(oldS, 'undone');
      return { state: oldS, note: `an interrupted change ${what} could not be finished (${(e as Error).message}) and was undone` };
    }
  }
}
