// The control plane of one balancer: VIPs, reals, rings and the default MAC, as transactions over
// the kernel maps and the durable desired state. Every change is planned on a whole desired state
// (planner.ts: validated completely, nothing written, every policy), then applied by the
// reconciler (reconciler.ts: intent, kernel writes, rollback; recovery at the next open).
import type {
  VipFlagName, VipKey, VlanMappingText,
} from '../abi.js';
import type {
  BalancerHandle,
} from '../kernel/handle.js';
import type {
  ChangeOptions, ChangeResult, PendingChange, QuicMapping, RealState, VipSpec, VipState,
} from '../types.js';
import {
  ReadOnlyError,
} from '../types.js';
import {
  copyState, emptyState, indexMap, isPatch, patchState, quicMappings, vipId, type DesiredConfig, type DesiredState, type DesiredStore, type DesiredVip,
} from './desired.js';
import {
  ringCounts,
} from './maglev.js';
import {
  pendingChangeOf, StateCorruptError,
} from './state.js';
import {
  planAddReal, planAddVip, planAddVlan, planApply, planRemoveVlan, planSetVlanMac, planSetVlans, planRemoveReal, planRemoveVip, planSetDefaultMac, planSetRealWeight, planSetVipFlags, validateState, planAddQuicMapping, planRemoveQuicMapping, planSetRealDown, type Limits, type Plan,
} from './planner.js';
import {
  Reconciler, type FaultHook,
} from './reconciler.js';
import {
  heldFlowsByReal,
} from '../lru/flows.js';
import type {
  Intent,
} from './desired.js';

export interface ControlOptions {
  faults?: FaultHook;
}

export class ControlPlane {
  private readonly kernel: Reconciler;
  private readonly limits: Limits;
  private readonly ringSize: number;
  private desired: DesiredState;
  /** What the last open() found and repaired, in the operator's words, one line each. */
  recoveredLines: string[] = [];
  /** The pending intent as last seen by pendingChange() (a reader re-reads the state once it is gone). */
  private pendingSeen: (Intent & { at?: string; pid?: number }) | null = null;
  /** Bumped on every applied change (caches of kernel reads key on it). */
  version = 0;

  private constructor(readonly handle: BalancerHandle, private readonly store: DesiredStore | null, o: ControlOptions) {
    this.ringSize = handle.sizes.ringSize;
    this.kernel = new Reconciler(handle.maps, this.ringSize, o.faults);
    this.limits = {
      maxVips: handle.sizes.maxVips, maxReals: handle.maps.reals.maxEntries, vipFlagsSupported: handle.vipFlagsSupported,
      maxServerIds: handle.maps.serverIds?.maxEntries ?? 0, vlans: this.kernel.vlan !== null,
    };
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

  private get writer(): boolean {
    return !this.handle.readOnly && !!this.store?.writable;
  }

  private validate = (s: DesiredState, what: string): DesiredState => validateState(s, what, this.limits);

  /** What the last open() found and repaired, joined into one line; null when nothing. */
  get recovered(): string | null {
    return this.recoveredLines.length ? this.recoveredLines.join('; ') : null;
  }

  private load(): void {
    const st = this.store?.read<DesiredState>() ?? null;
    const notes: string[] = [];
    const dead = this.store?.takenOverFrom;
    if (dead !== undefined && dead !== null) {
      notes.push(`took over the writer lock ${dead ? `of pid ${dead}, which is dead` : '(an unreadable lock file of a dead writer)'}`);
    }
    if (st) {
      this.desired = this.validate(st, 'state file');
    } else {
      this.desired = this.importFromKernel();
      if (this.desired.vips.length) {
        notes.push(`no desired state on disk: imported ${this.desired.vips.length} VIP(s) from the kernel (weights unknown: each real set to 1 until changed)`);
      }
      // A writer adopts what it found, so that the state file exists from the first open on.
      if (this.writer && !this.store!.pendingIntent()) this.store!.write(this.desired);
    }
    const pending = this.store?.pendingIntent() ?? null;
    if (pending) {
      // A reader says so through pendingChange() (info().pendingChange): it repairs nothing.
      if (this.writer) {
        const r = this.kernel.recover(this.store!, this.desired, pending, this.validate);
        if (r.state !== this.desired) {
          this.desired = r.state;
          this.version++;
        }
        notes.push(r.note);
      }
    } else if (st && this.writer) {
      // No change was in flight: the kernel should equal the state. Cheap check of what can drift
      // without a ring read (vip_map, reals, MAC); repair what differs.
      const drift = this.kernel.cheapDrift(this.desired);
      if (drift.length) {
        this.kernel.reconcile(this.desired, this.desired, new Set(drift));
        notes.push(`the kernel differed from the desired state (${drift.join(', ')}): reapplied`);
      }
    }
    this.recoveredLines = notes;
    this.pendingSeen = this.store?.pendingIntent() ?? null;
  }

  /**
   * The change a killed process left unfinished, read afresh from the state directory (null: none).
   * A reader whose pending change another process just finished re-reads the desired state.
   */
  pendingChange(): PendingChange | null {
    if (!this.store) return null;
    let p: (Intent & { at?: string; pid?: number }) | null;
    try {
      p = this.store.pendingIntent();
    } catch (e) {
      if (!(e instanceof StateCorruptError)) throw e;
      return { op: 'unknown', target: '', at: '', pid: 0, message: `an interrupted change is pending but its record is unreadable (${e.message}); run \`katran-tui recover\` or any change to reset the kernel to the saved desired state` };
    }
    if (!p && this.pendingSeen && !this.writer) {
      const st = this.store.read<DesiredState>();
      if (st) this.desired = this.validate(st, 'state file');
      this.version++;
    }
    this.pendingSeen = p;
    return p ? pendingChangeOf(p) : null;
  }

  /** A change was pending at the last look (open, pendingChange()): read views show the kernel's content. */
  get hasPending(): boolean {
    return this.pendingSeen !== null;
  }

  /** The desired state the pending intent leads to, when it can be read (weights of reals the kernel already holds). */
  private pendingTarget(): DesiredState | null {
    const p = this.pendingSeen;
    if (!p) return null;
    try {
      return isPatch(p.new) ? patchState(this.desired, p.new) : p.new as DesiredState;
    } catch {
      return null;
    }
  }

  /**
   * Finishes (or, if that fails, undoes) a pending change in this process (a writer whose rollback
   * failed leaves one; one a killed process left is finished at open already). Dry run: describes it.
   */
  recover(o: ChangeOptions = {}): ChangeResult {
    this.guardWrite('recover');
    const p = this.store!.pendingIntent();
    if (!p) return { applied: false, summary: ['nothing pending: no interrupted change'], warnings: [] };
    const what = pendingChangeOf(p);
    if (o.dryRun) {
      return { applied: false, summary: [`finish the interrupted change ${what.op} ${what.target} (started ${what.at} by pid ${what.pid}), or undo it if it cannot be finished`], warnings: [] };
    }
    const r = this.kernel.recover(this.store!, this.desired, p, this.validate);
    if (r.state !== this.desired) {
      this.desired = r.state;
      this.version++;
    }
    this.pendingSeen = null;
    return { applied: true, summary: [r.note], warnings: [] };
  }

  private importFromKernel(): DesiredState {
    return this.kernel.importFromKernel(this.handle.intf, this.handle.mode, this.limits.maxVips);
  }

  // -------------------------------------------------------------------------------------------
  // Views

  /** A copy of the desired state. */
  state(): DesiredState {
    return copyState(this.desired);
  }

  /** VIPs and real indexes in use. */
  counts(): { vips: number; reals: number } {
    return { vips: this.desired.vips.length, reals: this.desired.reals.length };
  }

  /**
   * Every VIP with its reals, ring slots counted from the kernel's ring. While a change is pending
   * the kernel may hold it half-applied, so the view is the kernel's: every ring read afresh,
   * reals the ring points at that the desired state lacks listed as kernelOnly, VIPs in vip_map
   * the desired state lacks listed as kernelOnly, and desired VIPs vip_map lacks marked notInKernel.
   */
  vips(): VipState[] {
    const s = this.desired;
    const idx = indexMap(s);
    const ids = new Map<string, number>();
    for (const q of quicMappings(s)) ids.set(q.real, (ids.get(q.real) ?? 0) + 1);
    const pending = this.pendingSeen !== null;
    const kernel = pending ? this.kernel.kernelLists(s) : null;
    const kernelAt = new Map(kernel?.reals.map((r) => [r.index, r.address]));
    const target = pending ? this.pendingTarget() : null;
    const weightOf = (id: string, address: string): number =>
      target?.vips.find((x) => vipId(x.key) === id)?.reals.find((r) => r.address === address)?.weight ?? 0;
    const view = (v: DesiredVip, counts: Map<number, number>, known: Map<string, number>): VipState => {
      const id = vipId(v.key);
      const reals: RealState[] = v.reals.map((r) => {
        const index = known.get(r.address)!;
        const slots = counts.get(index) ?? 0;
        const st: RealState = { address: r.address, weight: r.weight, index, ringSlots: slots, ringShare: slots / this.ringSize };
        if (r.down) st.down = true;
        if (ids.has(r.address)) st.serverIds = ids.get(r.address);
        if (target) {
          const w = weightOf(id, r.address);
          if (w !== r.weight) st.pendingWeight = w;
        }
        return st;
      });
      if (pending) {
        const listed = new Set(reals.map((r) => r.index));
        for (const [index, slots] of [...counts].sort((a, b) => a[0] - b[0])) {
          if (index === 0 || listed.has(index)) continue;
          const address = kernelAt.get(index) ?? `(index ${index}: no address in the reals map)`;
          reals.push({ address, weight: weightOf(id, address), index, ringSlots: slots, ringShare: slots / this.ringSize, kernelOnly: true });
        }
      }
      return { id, key: v.key, flags: [...v.flags], hash: v.hash, vipNum: v.vipNum, reals };
    };
    const out = s.vips.map((v) => {
      if (!pending) return view(v, this.kernel.ringCountsOf(v, idx), idx);
      const st = view(v, ringCounts(this.kernel.readRing(v.vipNum)), idx);
      if (!kernel!.vips.some((k) => vipId(k.key) === st.id && k.vipNum === v.vipNum)) st.notInKernel = true;
      return st;
    });
    if (pending) {
      const ids = new Set(out.map((v) => v.id));
      const extra = kernel!.vips.filter((k) => !ids.has(vipId(k.key)));
      if (extra.length) {
        const imported = this.importFromKernel();
        for (const k of extra) {
          const v = imported.vips.find((x) => x.vipNum === k.vipNum);
          if (!v) continue;
          const t = target?.vips.find((x) => vipId(x.key) === vipId(v.key));
          const st = view({ ...v, reals: [], hash: t?.hash ?? v.hash, flags: v.flags }, ringCounts(this.kernel.readRing(v.vipNum)), indexMap(imported));
          st.kernelOnly = true;
          out.push(st);
        }
      }
    }
    return out;
  }

  /**
   * QUIC server-id mappings: from the desired state (server_id_map holds 16M entries); without a
   * state store (observe mode) from one batched scan of the kernel's map, kept until refreshed.
   */
  quicMappings(): QuicMapping[] {
    if (!this.store) {
      if (!this.observedIds || this.observedIds.version !== this.version) {
        const byIndex = new Map(this.kernel.kernelLists(this.desired).reals.map((r) => [r.index, r.address]));
        this.observedIds = { version: this.version, list: this.kernel.scanServerIds().map((q) => ({ id: q.id, real: byIndex.get(q.index) ?? '(unknown index)', index: q.index })) };
      }
      return this.observedIds.list.map((q) => ({ ...q }));
    }
    const idx = indexMap(this.desired);
    return quicMappings(this.desired).map((q) => ({ id: q.id, real: q.real, index: idx.get(q.real)! }));
  }

  private observedIds: { version: number; list: QuicMapping[] } | null = null;

  /** Ids of `ids` whose server_id_map entry differs from the desired index (a check of the listed ids only). */
  quicMappingsDrift(): number[] {
    return this.quicMappings().filter((q) => this.kernel.serverIdIndex(q.id) !== q.index).map((q) => q.id);
  }

  /** One VIP's ring slice as the kernel holds it (a copy). */
  readRing(vipNum: number): Uint32Array {
    return this.kernel.readRing(vipNum);
  }

  /** The ring `v` should have in `s` (all zero when no real has weight > 0). */
  desiredRing(v: DesiredVip, s: DesiredState): Uint32Array {
    return this.kernel.desiredRing(v, s);
  }

  getDefaultMac(): string | null {
    return this.kernel.getDefaultMac();
  }

  /** VIPs (vip_num) and reals (index) as the kernel holds them, without ring reads (sampling an observed balancer). */
  kernelLists(): { vips: { key: VipKey; vipNum: number }[]; reals: { index: number; address: string }[] } {
    return this.kernel.kernelLists(this.desired);
  }

  /** Without a state store (observe mode): re-reads the desired picture from the kernel. */
  refreshFromKernel(): void {
    if (this.store) return;
    this.desired = this.importFromKernel();
    this.version++;
  }

  // -------------------------------------------------------------------------------------------
  // Changes

  private guardWrite(what: string): void {
    const where = { op: what, object: `balancer on ${this.handle.intf}` };
    if (this.handle.readOnly) throw new ReadOnlyError(`${what}: ${this.handle.readOnlyReason ?? 'the balancer is open read-only'}`, where);
    if (!this.store) throw new ReadOnlyError(`${what}: no state directory is open for writing`, where);
    if (!this.store.writable) throw new ReadOnlyError(`${what}: the state directory is open read-only`, where);
  }

  /** Plans a change (after the write guard) and, unless a dry run or already so, applies it. */
  private change(what: string, o: ChangeOptions, make: () => Plan): ChangeResult {
    this.guardWrite(what);
    const p = make();
    if (p.changes) {
      // Counted before the write: a removed real's index still names it.
      const held = this.heldOnLosingReals(p);
      p.summary.push(...held.summary);
      p.warnings.push(...held.warnings);
    }
    if (!o.dryRun && p.changes) {
      this.kernel.commit(this.store!, this.desired, p, (s) => {
        this.desired = s;
        this.version++;
      });
    }
    const r: ChangeResult = { applied: !o.dryRun, summary: p.summary, warnings: p.warnings };
    if (p.movedShare !== undefined) r.movedShare = p.movedShare;
    return r;
  }

  private readonly moved = (v: DesiredVip, s: DesiredState): number => this.kernel.moved(v, s);

  /**
   * The drain numbers of a ring change, one policy for the console, the CLI and `config apply`: per
   * VIP whose ring changes, the flows held in the LRU on reals that lose ring slots (those flows
   * keep their real until they end; new flows follow the new ring), and a warning for each removed
   * real that still holds flows.
   */
  private heldOnLosingReals(p: Plan): { summary: string[]; warnings: string[] } {
    const out = { summary: [] as string[], warnings: [] as string[] };
    const m = this.handle.maps;
    if (!m.lruMapping && !m.fallbackLru) return out;
    const cur = this.desired;
    const addrOf = new Map(cur.reals.map((r) => [r.index, r.address]));
    const keys = cur.vips.map((v) => v.key);
    for (const id of p.scope) {
      const before = cur.vips.find((v) => vipId(v.key) === id);
      if (!before) continue; // a new VIP holds no flows
      const after = p.next.vips.find((v) => vipId(v.key) === id);
      const was = ringCounts(this.kernel.readRing(before.vipNum));
      const will = after ? ringCounts(this.kernel.desiredRing(after, p.next)) : new Map<number, number>();
      const losing = [...was].filter(([i, n]) => i !== 0 && (will.get(i) ?? 0) < n).map(([i]) => i);
      if (!losing.length) continue;
      const held = heldFlowsByReal(this.handle, keys, before.key);
      const parts = losing.map((i) => ({ i, address: addrOf.get(i) ?? `index ${i}`, n: held.get(i) ?? 0 }));
      const total = parts.reduce((a, x) => a + x.n, 0);
      const list = parts.filter((x) => x.n > 0).map((x) => `${x.address} ${x.n}`).join(', ');
      out.summary.push(`${id}: ${total} flow(s) held in the LRU are on reals that lose ring slots${list ? ` (${list})` : ''}`);
      for (const x of parts) {
        if (x.n > 0 && after && !after.reals.some((r) => r.address === x.address)) {
          out.warnings.push(`${x.address} still holds ${x.n} flow(s) of ${id} in the LRU: they keep going to it until they end (katran-tui lru purge --vip ${id} --real ${x.address} re-hashes them now)`);
        }
      }
    }
    return out;
  }

  addVip(spec: VipSpec, o: ChangeOptions = {}): ChangeResult {
    return this.change('add VIP', o, () => planAddVip(this.desired, this.limits, spec));
  }

  removeVip(key: VipKey, o: ChangeOptions = {}): ChangeResult {
    return this.change('remove VIP', o, () => planRemoveVip(this.desired, key));
  }

  setVipFlags(key: VipKey, flags: VipFlagName[], o: ChangeOptions = {}): ChangeResult {
    return this.change('set VIP flags', o, () => planSetVipFlags(this.desired, this.limits, key, flags));
  }

  addReal(key: VipKey, real: { address: string; weight?: number }, o: ChangeOptions = {}): ChangeResult {
    return this.change('add real', o, () => planAddReal(this.desired, this.limits, key, real, this.moved));
  }

  removeReal(key: VipKey, address: string, o: ChangeOptions = {}): ChangeResult {
    return this.change('remove real', o, () => planRemoveReal(this.desired, key, address, this.moved));
  }

  setRealWeight(key: VipKey, address: string, weight: number, o: ChangeOptions = {}): ChangeResult {
    return this.change('set weight', o, () => planSetRealWeight(this.desired, key, address, weight, this.moved));
  }

  setDefaultMac(mac: string, o: ChangeOptions = {}): ChangeResult {
    return this.change('set default MAC', o, () => planSetDefaultMac(this.desired, mac));
  }

  addQuicMapping(id: number | string, real: string, o: ChangeOptions = {}): ChangeResult {
    return this.change('add QUIC mapping', o, () => planAddQuicMapping(this.desired, this.limits, id, real));
  }

  removeQuicMapping(id: number | string, o: ChangeOptions = {}): ChangeResult {
    return this.change('delete QUIC mapping', o, () => planRemoveQuicMapping(this.desired, this.limits, id));
  }

  setRealDown(key: VipKey, address: string, down: boolean, o: ChangeOptions = {}): ChangeResult {
    return this.change(down ? 'mark real down' : 'mark real up', o, () => planSetRealDown(this.desired, key, address, down));
  }

  /** `config apply`: makes the balancer hold exactly `cfg` (VIPs not in it are removed). */
  apply(cfg: DesiredConfig, o: ChangeOptions = {}): ChangeResult {
    return this.change('apply config', o, () => planApply(this.desired, this.limits, cfg, this.moved));
  }

  /** The VLAN mappings (desired = kernel), or null when the program has no VLAN maps. */
  vlans(): VlanMappingText[] | null {
    return this.kernel.vlan ? (this.desired.vlans ?? []).map((v) => ({ ...v })) : null;
  }

  /** The VLAN maps (counters), or null. */
  get vlanTable() {
    return this.kernel.vlan;
  }

  addVlan(mapping: string, mac?: string | null, o: ChangeOptions & { replace?: boolean } = {}): ChangeResult {
    return this.change(o.replace ? 'change VLAN' : 'add VLAN', o, () => planAddVlan(this.desired, this.limits, mapping, mac, !!o.replace));
  }

  removeVlan(vlan: string, o: ChangeOptions = {}): ChangeResult {
    return this.change('remove VLAN', o, () => planRemoveVlan(this.desired, this.limits, vlan));
  }

  setVlanMac(egress: string, mac: string | null, o: ChangeOptions = {}): ChangeResult {
    return this.change('set VLAN MAC', o, () => planSetVlanMac(this.desired, this.limits, egress, mac));
  }

  setVlans(rows: VlanMappingText[], strayMacs: string[] = [], o: ChangeOptions = {}): ChangeResult {
    return this.change('set VLANs', o, () => planSetVlans(this.desired, this.limits, rows, strayMacs));
  }

  /** Makes the kernel equal to the saved desired state, reading every ring ('repair'). */
  repair(): ChangeResult {
    this.guardWrite('repair');
    this.kernel.reconcile(this.desired, this.desired, 'all', 'repair');
    return { applied: true, summary: ['kernel maps reconciled to the saved desired state'], warnings: [] };
  }
}
