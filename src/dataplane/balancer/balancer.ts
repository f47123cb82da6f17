// One balancer as the console and the CLI see it (types.ts Dataplane): a BalancerHandle from
// attach.ts or open.ts (attached, reopened from pins, or observed read-only) composed with the durable
// state (state.ts), the control plane (control.ts), the sampler (stats.ts) and the tracer
// (trace.ts). Read-only handles refuse every write with ReadOnlyError naming the reason.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { MAP, formatVip, realDefinition, type VipFlagName, type VipKey, type VlanMappingText } from '../abi.js';
import { ControlPlane } from '../control/control.js';
import { type DesiredConfig, type DesiredStore } from '../control/desired.js';
import { type FaultHook } from '../control/reconciler.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { StatsSampler, type SampleReal, type SampleVip } from '../stats/stats.js';
import { StateStore } from '../control/state.js';
import { Tracer } from '../trace/trace.js';
import { purgeFlows, readFlows } from '../lru/flows.js';
import { RUN_TIME_STATS_COST_NS, RunTimeMeter, runTimeStatsHeld, setRunTimeStats } from '../stats/runtime.js';
import { requireOwnWritable } from './checks.js';
import { detach as lifecycleDetach } from './detach.js';
import { interfaceStateOf } from './interface-state.js';
import { reattach as lifecycleReattach, type ReattachResult } from './reattach.js';
import { ReadOnlyError } from '../types.js';
import type {
  BalancerInfo, ChangeLogEntry, ChangeOptions, ChangeResult, Dataplane, HealthcheckState, InterfaceState, QuicMapping, StatsSample, TraceRequest,
  FlowCursor, FlowList, FlowQuery, PurgeResult,
  TraceResult, VipSpec, VipState,
} from '../types.js';
import { vipFlagsToNames } from '../abi.js';

export interface BalancerOpenOptions {
  /** State root: the balancer's desired state lives in <stateDir>/<intf>/. */
  stateDir?: string;
  /** A store to use instead of opening <stateDir>/<intf> (tests). */
  store?: DesiredStore & { close?(): void };
  /** Fault injection points of control.ts (tests). */
  faults?: FaultHook;
  /** Detaches the handle (default: detach.ts's detach). */
  detach?: (h: BalancerHandle) => { detached: boolean; messages: string[] };
  /** Monotonic clock for the sampler (tests). */
  monotonicMs?: () => number;
  /** Re-attaches the handle (default: reattach.ts's reattach). */
  reattach?: (h: BalancerHandle, o: { dryRun?: boolean }) => ReattachResult;
}

/** How old an interface check info() may reuse (sample() always checks afresh). */
const IFSTATE_MAX_AGE_MS = 200;

/** The state directory of one balancer under a state root. */
export function balancerStateDir(stateRoot: string, intf: string): string {
  return join(stateRoot, intf);
}

export class Balancer implements Dataplane {
  readonly control: ControlPlane;
  private readonly sampler: StatsSampler;
  private readonly tracer: Tracer;
  private readonly runTime: RunTimeMeter;
  /** This balancer turned the run-time statistics on (close() turns them off). */
  private statsOwner = false;
  private readonly store: (DesiredStore & { close?(): void }) | null;
  private lists: { version: number; at: number; vips: SampleVip[]; reals: SampleReal[] } | null = null;
  private closed = false;
  private ifState: { at: number; st: InterfaceState } | null = null;
  /** The name the balancer was opened under: a rename is relative to it (or to the pins' name). */
  private readonly openedAs: string;

  private constructor(readonly handle: BalancerHandle, store: (DesiredStore & { close?(): void }) | null, private readonly o: BalancerOpenOptions) {
    this.store = store;
    this.openedAs = handle.pinName ?? handle.intf;
    try {
      this.control = ControlPlane.open(handle, store, { faults: o.faults });
    } catch (e) {
      store?.close?.();
      throw e;
    }
    this.sampler = new StatsSampler(handle.maps, handle.sizes, {
      hcStats: handle.healthcheck?.maps.get(MAP.hcStats), monotonicMs: o.monotonicMs, vlans: this.control.vlanTable,
    });
    this.tracer = new Tracer(handle);
    this.runTime = new RunTimeMeter(handle.progFd);
  }

  /**
   * Opens the control plane of `handle`. A writable handle takes the writer lock of
   * <stateDir>/<intf> (LockedError: "locked by pid N") and finishes or undoes a change a killed
   * process left half-applied (see `recovered`). Read-only and observed handles take no lock.
   */
  static open(handle: BalancerHandle, o: BalancerOpenOptions = {}): Balancer {
    let store: (DesiredStore & { close?(): void }) | null = o.store ?? null;
    if (!store && o.stateDir && handle.owner === 'katran-tui') {
      // Keyed by the pins' name: a renamed interface keeps its desired state (and writer lock).
      const dir = balancerStateDir(o.stateDir, handle.pinName ?? handle.intf);
      if (!handle.readOnly) store = StateStore.open(dir, { write: true });
      else if (existsSync(dir)) store = StateStore.open(dir, { write: false });
    }
    return new Balancer(handle, store, o);
  }

  /** What open() found and repaired (an interrupted change finished or undone), or null. */
  get recovered(): string | null {
    return this.control.recovered;
  }

  /**
   * Where the interface stands (deleted, renamed, our program replaced): if_indextoname and
   * bpf_xdp_query on the ifindex, at most every `maxAgeMs`. A rename is followed: the handle takes
   * the interface's new name (detach and upgrade find it by that name).
   */
  interfaceState(maxAgeMs = 0): InterfaceState {
    const now = Date.now();
    if (this.ifState && now - this.ifState.at <= maxAgeMs) return this.ifState.st;
    const h = this.handle;
    const st = interfaceStateOf({ intf: h.intf, pinName: this.openedAs, ifindex: h.ifindex, progId: h.progId });
    if (st.status !== 'gone') h.intf = st.intf;
    this.ifState = { at: now, st };
    return st;
  }

  info(): BalancerInfo {
    const interfaceState = this.interfaceState(IFSTATE_MAX_AGE_MS);
    const h = this.handle;
    const s = this.control.counts();
    const info: BalancerInfo = {
      intf: h.intf,
      ifindex: h.ifindex,
      mode: h.mode,
      progId: h.progId,
      progTag: h.progTag,
      progName: h.progName,
      cpus: h.maps.stats.cpus,
      forwardingCpus: h.forwardingCpus,
      defaultMac: this.control.getDefaultMac(),
      owner: h.owner,
      readOnly: h.readOnly || !this.store?.writable,
      capacity: {
        vips: s.vips, maxVips: h.sizes.maxVips, reals: s.reals, maxReals: h.sizes.maxReals, ringSize: h.sizes.ringSize,
        ...(h.maps.serverIds ? { quicServerIds: h.maps.serverIds.maxEntries } : {}),
      },
      vipFlagsSupported: vipFlagsToNames(h.vipFlagsSupported),
      healthcheck: h.healthcheck ? { intf: h.healthcheck.intf, progId: h.healthcheck.progId } : null,
      interfaceState,
      pendingChange: this.control.pendingChange(),
      recovered: [...this.control.recoveredLines],
    };
    if (h.attachedAt !== undefined) info.attachedAt = h.attachedAt;
    if (h.loadedAt !== undefined) info.loadedAt = h.loadedAt;
    if (h.objectPath !== undefined) info.objectPath = h.objectPath;
    if (h.pinDir !== undefined) info.pinDir = h.pinDir;
    if (info.readOnly) info.readOnlyReason = h.readOnlyReason ?? (h.readOnly ? 'opened read-only' : 'no writable state directory');
    return info;
  }

  /** The VIPs and reals to sample: from the desired state, or (no state: observed) from the kernel, at most once a second. */
  private sampleLists(): { vips: SampleVip[]; reals: SampleReal[] } {
    const now = Date.now();
    // A pending change may have put reals in the kernel the desired state lacks: sample what the
    // kernel holds, and look again (once a second) whether another process finished it meanwhile.
    if (this.store && this.control.hasPending && (!this.lists || now - this.lists.at >= 1000)) this.control.pendingChange();
    const fromKernel = !this.store || this.control.hasPending;
    if (this.lists && (fromKernel ? now - this.lists.at < 1000 : this.lists.version === this.control.version)) return this.lists;
    if (fromKernel) {
      const k = this.control.kernelLists();
      this.lists = { version: this.control.version, at: now, ...k };
    } else {
      const s = this.control.state();
      this.lists = {
        version: this.control.version,
        at: now,
        vips: s.vips.map((v) => ({ key: v.key, vipNum: v.vipNum })),
        reals: s.reals.map((r) => ({ index: r.index, address: r.address })),
      };
    }
    return this.lists;
  }

  sample(): StatsSample {
    const l = this.sampleLists();
    const s = this.sampler.sample(l.vips, l.reals);
    s.interfaceState = this.interfaceState();
    const rt = this.runTime.sample(s.perCpu);
    if (rt) s.runTime = rt;
    return s;
  }

  vips(): VipState[] {
    if (!this.store) this.control.refreshFromKernel();
    else this.control.pendingChange(); // afresh: another process may have finished it meanwhile
    return this.control.vips();
  }

  /** Finishes (or undoes) a change left pending in this process; dry run: describes it (see ControlPlane.recover). */
  recover(o: ChangeOptions = {}): ChangeResult {
    return this.control.recover(o);
  }

  addVip(spec: VipSpec, o?: ChangeOptions): ChangeResult {
    return this.control.addVip(spec, o);
  }

  removeVip(key: VipKey, o?: ChangeOptions): ChangeResult {
    return this.control.removeVip(key, o);
  }

  setVipFlags(key: VipKey, flags: VipFlagName[], o?: ChangeOptions): ChangeResult {
    return this.control.setVipFlags(key, flags, o);
  }

  addReal(key: VipKey, real: { address: string; weight?: number }, o?: ChangeOptions): ChangeResult {
    return this.control.addReal(key, real, o);
  }

  removeReal(key: VipKey, address: string, o?: ChangeOptions): ChangeResult {
    return this.control.removeReal(key, address, o);
  }

  setRealWeight(key: VipKey, address: string, weight: number, o?: ChangeOptions): ChangeResult {
    return this.control.setRealWeight(key, address, weight, o);
  }

  getDefaultMac(): string | null {
    return this.control.getDefaultMac();
  }

  setDefaultMac(mac: string, o?: ChangeOptions): ChangeResult {
    return this.control.setDefaultMac(mac, o);
  }

  quicMappings(): QuicMapping[] {
    return this.control.quicMappings();
  }

  /** Listed ids whose server_id_map entry differs from the desired state (reads only those ids). */
  quicMappingsDrift(): number[] {
    return this.control.quicMappingsDrift();
  }

  addQuicMapping(id: number | string, real: string, o?: ChangeOptions): ChangeResult {
    return this.control.addQuicMapping(id, real, o);
  }

  removeQuicMapping(id: number | string, o?: ChangeOptions): ChangeResult {
    return this.control.removeQuicMapping(id, o);
  }

  setRealDown(key: VipKey, address: string, down: boolean, o?: ChangeOptions): ChangeResult {
    return this.control.setRealDown(key, address, down, o);
  }

  /** `config apply`: the balancer holds exactly `cfg` afterwards (one transaction). */
  applyConfig(cfg: DesiredConfig, o?: ChangeOptions): ChangeResult {
    return this.control.apply(cfg, o);
  }

  /** The desired state as `config export` writes it (vip_nums and indexes left out; `vlans` only when there are some). */
  exportConfig(): DesiredConfig {
    const s = this.control.state();
    const cfg: DesiredConfig = { mac: s.mac, vips: s.vips.map((v) => ({ key: v.key, flags: v.flags, hash: v.hash, reals: v.reals })), quicMappings: s.quic ?? [] };
    if (s.vlans?.length) cfg.vlans = s.vlans;
    return cfg;
  }

  vlans(): VlanMappingText[] | null {
    return this.control.vlans();
  }

  addVlan(mapping: string, mac?: string | null, o?: ChangeOptions & { replace?: boolean }): ChangeResult {
    return this.control.addVlan(mapping, mac, o);
  }

  removeVlan(vlan: string, o?: ChangeOptions): ChangeResult {
    return this.control.removeVlan(vlan, o);
  }

  setVlanMac(egress: string, mac: string, o?: ChangeOptions): ChangeResult {
    return this.control.setVlanMac(egress, mac, o);
  }

  /** attach --vlan: the whole mapping list in one transaction. */
  setVlans(rows: VlanMappingText[], strayMacs: string[] = [], o?: ChangeOptions): ChangeResult {
    return this.control.setVlans(rows, strayMacs, o);
  }

  healthcheck(): HealthcheckState | null {
    const hc = this.handle.healthcheck;
    if (!hc) return null;
    const marks: { mark: number; real: string }[] = [];
    const m = hc.maps.get(MAP.hcReals);
    if (m) {
      const v = m.newValueBuffer();
      for (const k of m.keys()) {
        if (!m.lookup(k, v)) continue;
        const r = realDefinition.decode(v);
        if (r) marks.push({ mark: k.readUInt32LE(0), real: r.address });
      }
      marks.sort((a, b) => a.mark - b.mark);
    }
    return { intf: hc.intf, progId: hc.progId, marks };
  }

  trace(req: TraceRequest): TraceResult {
    return this.tracer.trace(req);
  }

  changeLog(limit?: number): ChangeLogEntry[] {
    return this.store?.changeLog(limit) ?? [];
  }

  runTimeStats(on?: boolean): { on: boolean; costNs: number } {
    if (on !== undefined) { this.statsOwner = on; setRunTimeStats(on); }
    return { on: runTimeStatsHeld(), costNs: RUN_TIME_STATS_COST_NS };
  }

  /** The VIPs flows are matched against: the desired state's, or the kernel's (observed). */
  private vipKeys(): VipKey[] {
    return this.sampleLists().vips.map((v) => v.key);
  }

  flows(q: FlowQuery, o: { cursor?: FlowCursor | null; slice?: number } = {}): FlowList {
    return readFlows(this.handle, this.vipKeys(), q, { cursor: o.cursor, budget: o.slice });
  }

  purgeFlows(q: { vip: VipKey; real?: string }, o: ChangeOptions = {}): PurgeResult {
    const h = this.handle;
    const what = `purge flows of ${formatVip(q.vip)}${q.real ? ` on ${q.real}` : ''}`;
    if (!o.dryRun) {
      if (h.readOnly) throw new ReadOnlyError(`${what}: ${h.readOnlyReason ?? 'the balancer is open read-only'}`);
      if (this.store && !this.store.writable) throw new ReadOnlyError(`${what}: the state directory is open read-only`);
    }
    const n = purgeFlows(h, this.vipKeys(), q, !!o.dryRun);
    const summary = [`${what} from the LRU: ${n} flow(s)${n ? ', their next packets are hashed again' : ''}`];
    if (!o.dryRun && n) this.store?.appendChangeLog({ at: new Date().toISOString(), op: 'lru-purge', target: `${formatVip(q.vip)}${q.real ? ` ${q.real}` : ''}`, old: n, new: 0 });
    return { applied: !o.dryRun, summary, warnings: [], flows: n };
  }

  reattach(o: ChangeOptions = {}): ChangeResult {
    const h = this.handle;
    requireOwnWritable(h, 're-attach');
    if (this.store && !this.store.writable) throw new ReadOnlyError(`re-attach ${h.intf}: no writable state directory`, { op: 're-attach', object: h.intf });
    const old = { intf: h.intf, ifindex: h.ifindex };
    const r = (this.o.reattach ?? lifecycleReattach)(h, { dryRun: !!o.dryRun });
    const vips = this.control.counts().vips;
    const summary = [...r.summary, `${vips} VIP(s) in the maps go on being balanced there`];
    this.ifState = null;
    if (r.applied) {
      this.store?.appendChangeLog({ at: new Date().toISOString(), op: 'reattach', target: h.intf, old, new: { intf: h.intf, ifindex: h.ifindex } });
    }
    return { applied: r.applied, summary, warnings: r.warnings };
  }

  detach(o: ChangeOptions = {}): ChangeResult {
    const h = this.handle;
    requireOwnWritable(h, 'detach');
    const summary = [`detach program ${h.progId} from ${h.intf} and remove its pins${h.pinDir ? ` (${h.pinDir})` : ''}`];
    const warnings = [`traffic to the ${this.control.counts().vips} VIP(s) on ${h.intf} is no longer balanced`];
    if (o.dryRun) return { applied: false, summary, warnings };
    this.tracer.close();
    const r = (this.o.detach ?? lifecycleDetach)(h);
    this.store?.appendChangeLog({ at: new Date().toISOString(), op: 'detach', target: h.intf, old: { progId: h.progId }, new: null });
    this.closed = true;
    this.store?.close?.();
    return { applied: r.detached, summary: [...summary, ...r.messages], warnings };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.statsOwner) setRunTimeStats(false);
    this.tracer.close();
    this.store?.close?.();
    this.handle.close();
  }

  /** formatVip, re-exported for callers that hold only a Balancer. */
  static vipId = formatVip;
}
