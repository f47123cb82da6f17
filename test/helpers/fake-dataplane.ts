// An in-memory Host + Dataplane for console tests and the UI bench. It follows the interface's
// contract: inputs are validated by the abi.ts parsers (InputError), writes in read-only mode throw
// ReadOnlyError, dryRun writes nothing, capacity limits hold, and counters grow deterministically
// per sample (so a test can assert exact rates). The ring share is weight / sum of weights.
import { DEFAULT_HASH, DEFAULT_WEIGHT, DROP_REASONS, OWN_VIP_FLAGS, PASS_REASONS, QUIC_STATS_FIELDS, formatVip, InputError, isZeroMac, parseIp, parseMac, parsePort, parseVipFlags, parseWeight, vipFlagsToNames, VIP_FLAGS } from '../../src/dataplane/abi.js';
import type { DropReason, GlobalCounter, PassReason, VipFlagName, VipKey } from '../../src/dataplane/abi.js';
import { AlreadyAttachedError, BpfError, InterfaceMissingError, LockedError, MapFullError, ReadOnlyError } from '../../src/dataplane/errors.js';
import type { VlanMappingText } from '../../src/dataplane/abi.js';
import { FakeVlans } from './fake-vlans.js';
import { checkFlowQuery } from '../../src/dataplane/lru/query.js';
import { checkHashChange, checkRealForVip, parseRealAddress, parseVipFlagList } from '../../src/dataplane/rules.js';
import { planAddQuicMapping, planRemoveQuicMapping, planSetRealDown, type Limits, type Plan } from '../../src/dataplane/control/planner.js';
import type { DesiredQuicMapping, DesiredState } from '../../src/dataplane/control/desired.js';
import type {
  AttachRequest, BalancerInfo, BalancerSummary, ChangeLogEntry, ChangeOptions, ChangeResult, CpuStat, Dataplane,
  HashKind, HealthcheckState, Host, InterfaceInfo, PairStat, PendingChange, RealStat, StatsSample, TraceRequest, TraceResult,
  VipSpec, VipState, VipStat, VlanStat, CountStat, ReasonsSample, InterfaceState, QuicCounter, QuicMapping, QuicSample, FlowCursor, FlowEntry, FlowList, FlowQuery, PurgeResult,
} from '../../src/dataplane/types.js';

const GLOBALS: GlobalCounter[] = ['lru', 'lruMiss', 'newConnRate', 'fallbackLru', 'icmpTooBig', 'encapFail', 'chDrop', 'xdpTotal', 'xdpTx', 'xdpDrop', 'xdpPass'];
export const FAKE_T0 = 1_700_000_000_000;

interface FakeReal { address: string; weight: number; down?: boolean }
interface FakeVip { key: VipKey; flags: VipFlagName[]; hash: HashKind; vipNum: number; reals: FakeReal[] }

export interface FakeOptions {
  intf?: string;
  readOnly?: boolean;
  readOnlyReason?: string;
  owner?: 'katran-tui' | 'observed';
  cpus?: number;
  maxVips?: number;
  maxReals?: number;
  ringSize?: number;
  /** ms between samples as the fake's clock sees it. */
  stepMs?: number;
  defaultMac?: string | null;
  healthcheck?: boolean;
  /** VIP flags the fake's "program" implements (default: the four older ones). */
  vipFlags?: VipFlagName[];
  /** False: an object without katran-tui's VLAN maps (upstream Katran): vlans() and sample().vlans are null. */
  vlans?: boolean;
  /** False: an object without kt_reasons (upstream Katran): sample().reasons is null. */
  reasons?: boolean;
}

function pair(): PairStat { return { v1: 0, v2: 0, r1: 0, r2: 0 }; }

/** A kernel error as the real dataplane throws it (errors.ts, not libbpf.ts: no koffi here). */
export function fakeBpfError(op: string, object: string, errno: number, detail: string): BpfError {
  return new BpfError(op, object, errno, detail);
}

export class FakeDataplane implements Dataplane {
  readonly intf: string;
  readOnly: boolean;
  readOnlyReason: string;
  owner: 'katran-tui' | 'observed';
  cpus: number;
  maxVips: number;
  maxReals: number;
  ringSize: number;
  stepMs: number;
  defaultMac: string | null;
  hcEnabled: boolean;
  vipFlags: VipFlagName[];
  /** Sorted by insertion; key = formatVip. */
  readonly vipMap = new Map<string, FakeVip>();
  readonly realIndex = new Map<string, number>();
  private nextRealIndex = 1;
  /** QUIC server-id mappings (changed through the real planner). */
  quic: DesiredQuicMapping[] = [];
  /** server_id_map entries (0: no QUIC map). */
  quicServerIds = 0xfffffe;
  /** quic_stats_map counters per second (0: no QUIC traffic); null: the object has no QUIC map. */
  quicRates: Partial<Record<QuicCounter, number>> | null = {};
  private quicTotals: Record<string, number> = {};
  readonly log: ChangeLogEntry[] = [];
  /** Samples taken so far. */
  ticks = 0;
  /** vips() calls (the real one reads every VIP's ring: the console must call it sparingly). */
  vipsCalls = 0;
  /** The fake's clock (ms since the epoch); advances by stepMs per sample. */
  clock = FAKE_T0;
  closed = false;
  detached = false;
  detachCalls = 0;
  /** Number of calls that reached a write (dryRun or not), for "nothing was written" checks. */
  writes = 0;
  /** Extra drops per second in the next samples (a DROP spike), counted as spikeReason. */
  dropSpike = 0;
  spikeReason: DropReason = 'ipv4_fragment';
  /**
   * Drops and passes per second besides the VIPs' own (their traffic drops as slot_empty when no
   * real has weight, as zero_mac without a default MAC) and the VLANs' (vlanRates).
   */
  dropRates: Partial<Record<DropReason, number>> = { short_frame: 1 };
  passRates: Partial<Record<PassReason, number>> = { not_ip: 3, no_vip: 2 };
  /** The object has kt_reasons (FakeOptions.reasons). */
  reasonsMap: boolean;
  private reasonTotals = new Map<string, number>();
  underFlood = false;
  /** Fallback LRU hits per second. */
  fallbackRate = 0;
  /** The next change (dryRun or apply, per failOn) throws this. */
  failNext: Error | null = null;
  failOn: 'apply' | 'any' = 'apply';
  /** A change a killed writer left unfinished (info().pendingChange), as the real dataplane reports it. */
  pendingChange: PendingChange | null = null;
  /** What the open repaired (info().recovered). */
  recovered: string[] = [];
  /** sample() throws this (once). */
  sampleError: Error | null = null;
  /** Where the interface stands (deleteInterface / recreateInterface / renameInterface move it). */
  ifState: InterfaceState;
  reattachCalls = 0;
  private prev: StatsSample | null = null;
  private totals = { vip: new Map<string, { p: number; b: number }>(), real: new Map<string, { p: number; b: number }>(), g: new Map<GlobalCounter, [number, number]>() };

  constructor(o: FakeOptions = {}) {
    this.intf = o.intf ?? 'kt-veth0';
    this.owner = o.owner ?? 'katran-tui';
    this.readOnly = o.readOnly ?? this.owner === 'observed';
    this.readOnlyReason = o.readOnlyReason ?? (this.owner === 'observed' ? 'observing a balancer katran-tui does not own' : '--readonly');
    this.cpus = o.cpus ?? 4;
    this.maxVips = o.maxVips ?? 512;
    this.maxReals = o.maxReals ?? 4096;
    this.ringSize = o.ringSize ?? 65537;
    this.stepMs = o.stepMs ?? 1000;
    this.defaultMac = o.defaultMac === undefined ? '02:00:00:00:00:01' : o.defaultMac;
    this.hcEnabled = o.healthcheck ?? true;
    this.vipFlags = o.vipFlags ?? ['no-sport', 'no-lru', 'dport-hash', 'hash-src-dst-port'];
    this.ifState = { status: 'ok', intf: this.intf, ifindex: 7, canReattach: false, message: `attached to ${this.intf} (ifindex 7)` };
    this.vlanTable.available = o.vlans !== false;
    this.reasonsMap = o.reasons !== false;
  }

  /** `ip link del`: the attachment goes, the maps stay; rates drop to 0. */
  deleteInterface(): this {
    const { intf, ifindex } = this.ifState;
    this.ifState = { status: 'gone', intf, ifindex, canReattach: false, message: `interface ${intf} (ifindex ${ifindex}) is gone: its XDP attachment went with it, nothing is balanced; the program and maps stay pinned until ${intf} is back to re-attach them` };
    return this;
  }

  /** An interface of the same name appears again at `ifindex`. */
  recreateInterface(ifindex = 9): this {
    const { intf } = this.ifState;
    this.ifState = { ...this.ifState, status: 'gone', reappeared: { ifindex }, canReattach: true, message: `interface ${intf} (ifindex ${this.ifState.ifindex}) was deleted; ${intf} exists again as ifindex ${ifindex}: re-attach the pinned program there (the same maps: VIPs, reals and LRU kept)` };
    return this;
  }

  /** `ip link set X name Y`: still attached. */
  renameInterface(name: string): this {
    const { ifindex } = this.ifState;
    this.ifState = { status: 'renamed', intf: name, from: this.intf, ifindex, canReattach: false, message: `interface renamed ${this.intf} -> ${name} (ifindex ${ifindex}): still attached and forwarding; pins and state stay under ${this.intf}` };
    return this;
  }

  private get forwarding(): boolean {
    return this.ifState.status === 'ok' || this.ifState.status === 'renamed';
  }
  /** Seeds VIPs and reals without validation bookkeeping in the change log. */
  seed(vips: { vip: string; reals?: (string | [string, number])[]; flags?: VipFlagName[] }[]): this {
    const ro = this.readOnly;
    this.readOnly = false;
    for (const v of vips) {
      const m = /^(?:\[(.+)\]|([^:]+)):(\d+)\/(tcp|udp)$/.exec(v.vip);
      if (!m) throw new Error(`seed: bad vip ${v.vip}`);
      const key: VipKey = { address: parseIp(m[1] ?? m[2]).text, port: Number(m[3]), proto: m[4] as 'tcp' | 'udp' };
      this.addVip({ ...key, flags: v.flags }, { quiet: true } as ChangeOptions);
      for (const r of v.reals ?? []) {
        const [address, weight] = Array.isArray(r) ? r : [r, 1];
        this.addReal(key, { address, weight }, { quiet: true } as ChangeOptions);
      }
    }
    this.readOnly = ro;
    this.log.length = 0;
    this.writes = 0;
    return this;
  }

  /** Seeds n VIPs (192.0.2.x, ports 8000+) with `realsPer` distinct reals each (198.51.x.y). */
  seedMany(n: number, realsPer: number): this {
    const vips = [];
    let r = 0;
    for (let i = 0; i < n; i++) {
      const reals: string[] = [];
      for (let j = 0; j < realsPer; j++, r++) reals.push(`198.51.${100 + Math.floor(r / 250) % 100}.${(r % 250) + 1}`);
      vips.push({ vip: `192.0.2.${(i % 250) + 1}:${8000 + Math.floor(i / 250)}/tcp`, reals });
    }
    return this.seed(vips);
  }

  info(): BalancerInfo {
    const reals = new Set<string>();
    for (const v of this.vipMap.values()) for (const r of v.reals) reals.add(r.address);
    return {
      intf: this.ifState.status === 'renamed' ? this.ifState.intf : this.intf,
      ifindex: this.ifState.ifindex,
      mode: 'native',
      progId: 42,
      progTag: 'a1b2c3d4e5f60718',
      progName: 'balancer_ingress',
      attachedAt: this.owner === 'katran-tui' ? FAKE_T0 - 3_600_000 : undefined,
      loadedAt: this.owner === 'observed' ? FAKE_T0 - 7_200_000 : undefined,
      cpus: this.cpus,
      forwardingCpus: Array.from({ length: this.cpus }, (_, i) => i),
      defaultMac: this.defaultMac,
      owner: this.owner,
      readOnly: this.readOnly,
      readOnlyReason: this.readOnly ? this.readOnlyReason : undefined,
      pinDir: this.owner === 'katran-tui' ? `/sys/fs/bpf/katran-tui/${this.intf}` : undefined,
      capacity: { vips: this.vipMap.size, maxVips: this.maxVips, reals: this.realIndex.size, maxReals: this.maxReals, ringSize: this.ringSize, quicServerIds: this.quicServerIds },
      vipFlagsSupported: [...this.vipFlags],
      healthcheck: this.hcEnabled ? { intf: this.intf, progId: 43 } : null,
      interfaceState: { ...this.ifState },
      pendingChange: this.pendingChange ? { ...this.pendingChange } : null,
      recovered: [...this.recovered],
    };
  }

  /** pps of a VIP at a tick: deterministic, different per VIP, moving a little. */
  vipPps(vipNum: number, tick: number): number {
    return (vipNum + 1) * 100 + (tick % 4) * 10;
  }

  sample(): StatsSample {
    if (this.sampleError) { const e = this.sampleError; this.sampleError = null; throw e; }
    const first = this.prev === null;
    if (!first) { this.ticks++; this.clock += this.stepMs; }
    // No interface, no packets: every counter stands still.
    const dt = first || !this.forwarding ? 0 : this.stepMs / 1000;
    const vips: VipStat[] = [];
    const reals: RealStat[] = [];
    const realPps = new Map<string, number>();
    let total = 0;
    // What the datapath does with each VIP's packets: TX, or one drop reason (the reasons' order).
    const drops = new Map<DropReason, number>(Object.entries(this.dropRates) as [DropReason, number][]);
    const passes = new Map<PassReason, number>(Object.entries(this.passRates) as [PassReason, number][]);
    const count = <R,>(m: Map<R, number>, r: R, pps: number) => m.set(r, (m.get(r) ?? 0) + pps);
    if (this.dropSpike) count(drops, this.spikeReason, this.dropSpike);
    let tx = 0;
    for (const v of this.vipMap.values()) {
      const id = formatVip(v.key);
      const pps = this.ticks === 0 ? 0 : this.vipPps(v.vipNum, this.ticks);
      const t = this.totals.vip.get(id) ?? { p: 0, b: 0 };
      t.p += pps * dt; t.b += pps * dt * 500;
      this.totals.vip.set(id, t);
      vips.push({ id, key: v.key, packets: t.p, bytes: t.b, pps: dt ? pps : 0, bps: dt ? pps * 500 * 8 : 0 });
      total += dt ? pps : 0;
      const w = v.reals.reduce((s, r) => s + r.weight, 0);
      const live = dt ? pps : 0;
      if (w === 0) count(drops, 'slot_empty', live);
      else if (this.defaultMac === null || isZeroMac(parseMac(this.defaultMac))) count(drops, 'zero_mac', live);
      else tx += live;
      for (const r of v.reals) realPps.set(r.address, (realPps.get(r.address) ?? 0) + (w ? (pps * r.weight) / w : 0));
    }
    for (const [address, index] of this.realIndex) {
      const pps = dt ? realPps.get(address) ?? 0 : 0;
      const t = this.totals.real.get(address) ?? { p: 0, b: 0 };
      t.p += pps * dt; t.b += pps * dt * 520;
      this.totals.real.set(address, t);
      reals.push({ index, address, packets: t.p, bytes: t.b, pps, bps: pps * 520 * 8 });
    }
    const vlans = this.vlanSample(dt);
    for (const v of vlans ?? []) {
      if (v.configured) { tx += v.balanced.pps; count(passes, 'no_vip', v.passed.pps); } else count(passes, 'vlan_unparsed', v.passed.pps);
      total += v.balanced.pps + v.passed.pps;
    }
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const drop = dt ? sum(drops) : 0;
    const pass = dt ? sum(passes) : 0;
    const reasons = this.reasonsMap ? this.reasonSample(drops, passes, dt) : null;
    const rates: Record<GlobalCounter, [number, number]> = {
      lru: [total, total * 0.1], lruMiss: [total * 0.05, 0], newConnRate: [this.underFlood ? 1 : 0, 0],
      fallbackLru: [this.fallbackRate, 0], icmpTooBig: [0, 0], encapFail: [0, 0], chDrop: [0, 0], quicIcmp: [0, 0], icmpPtbV6: [0, 0], icmpPtbV4: [0, 0], udpFlowMigration: [0, 0], zeroMacDrop: [0, 0],
      xdpTotal: [tx + drop + pass, 0], xdpTx: [tx, 0], xdpDrop: [drop, 0], xdpPass: [pass, 0],
    };
    const global = {} as Record<GlobalCounter, PairStat>;
    for (const g of GLOBALS) {
      const [a, b] = rates[g];
      const t = this.totals.g.get(g) ?? [0, 0];
      t[0] += a * dt; t[1] += b * dt;
      this.totals.g.set(g, t);
      global[g] = { v1: t[0], v2: t[1], r1: dt ? a : 0, r2: dt ? b : 0 };
    }
    const perCpu: CpuStat[] = [];
    for (let c = 0; c < this.cpus; c++) {
      const f = (c + 1) / ((this.cpus * (this.cpus + 1)) / 2);
      const part = (p: PairStat): PairStat => ({ v1: p.v1 * f, v2: p.v2 * f, r1: p.r1 * f, r2: p.r2 * f });
      perCpu.push({ cpu: c, total: part(global.xdpTotal), tx: part(global.xdpTx), drop: part(global.xdpDrop), pass: part(global.xdpPass) });
    }
    let quic: QuicSample | null = null;
    if (this.quicRates) {
      const totals = {} as Record<QuicCounter, number>;
      const qr = {} as Record<QuicCounter, number>;
      for (const f of QUIC_STATS_FIELDS) {
        if (f === 'cidInvalidServerIdSample') continue;
        const r = dt ? this.quicRates[f] ?? 0 : 0;
        this.quicTotals[f] = (this.quicTotals[f] ?? 0) + r * dt;
        totals[f] = this.quicTotals[f];
        qr[f] = r;
      }
      quic = { totals, rates: qr, invalidIdSamples: [] };
    }
    const s: StatsSample = {
      quic,
      vlans,
      reasons,
      at: this.clock,
      elapsedMs: first ? 0 : this.stepMs,
      global,
      perCpu,
      vips,
      reals,
      healthcheck: this.hcEnabled ? { processed: this.ticks * 10, dropped: 0, skipped: 0, tooBig: 0 } : null,
      resets: [],
      underFlood: this.underFlood,
      interfaceState: { ...this.ifState },
    };
    if (this.runTimeOn && !first) {
      const ns = 250;
      const perCpuShare = perCpu.map((c) => ({ cpu: c.cpu, share: Math.min(1, (c.total.r1 * ns) / 1e9) }));
      s.runTime = { nsPerPacket: ns, runs: global.xdpTotal.r1, perCpuShare, busiest: perCpuShare.reduce((b, c) => (c.share > b.share ? c : b)), estimate: true };
    }
    this.prev = s;
    return s;
  }

  /** kt_reasons as stats.ts reports it: every reason in abi.ts order, totals and rates (bytes: 500 a packet). */
  private reasonSample(drops: Map<DropReason, number>, passes: Map<PassReason, number>, dt: number): ReasonsSample {
    const stat = <R extends string>(reason: R, m: Map<R, number>) => {
      const pps = dt ? m.get(reason) ?? 0 : 0;
      const packets = (this.reasonTotals.get(reason) ?? 0) + pps * dt;
      this.reasonTotals.set(reason, packets);
      return { reason, packets, bytes: packets * 500, pps, bps: pps * 500 * 8 };
    };
    return { drop: DROP_REASONS.map((r) => stat(r, drops)), pass: PASS_REASONS.map((r) => stat(r, passes)) };
  }

  vips(): VipState[] {
    this.vipsCalls++;
    return [...this.vipMap.values()].map((v) => {
      const w = v.reals.reduce((s, r) => s + r.weight, 0);
      return {
        id: formatVip(v.key),
        key: { ...v.key },
        flags: [...v.flags],
        hash: v.hash,
        vipNum: v.vipNum,
        reals: v.reals.map((r) => {
          const share = w ? r.weight / w : 0;
          const ids = this.quic.filter((q) => q.real === r.address).length;
          return {
            address: r.address, weight: r.weight, index: this.realIndex.get(r.address) ?? 0, ringSlots: Math.round(share * this.ringSize), ringShare: share,
            ...(r.down ? { down: true } : {}), ...(ids ? { serverIds: ids } : {}),
          };
        }),
      };
    });
  }

  // ---- writes -----------------------------------------------------------------------------

  private guard(o: ChangeOptions | undefined): boolean {
    if (this.readOnly) throw new ReadOnlyError(this.readOnlyReason);
    const dry = o?.dryRun === true;
    if (!(o as { quiet?: boolean } | undefined)?.quiet) this.writes++;
    if (this.failNext && (this.failOn === 'any' || !dry)) { const e = this.failNext; this.failNext = null; throw e; }
    return dry;
  }

  private record(op: string, target: string, old: unknown, nu: unknown): void {
    this.log.push({ at: new Date(this.clock).toISOString(), op, target, old, new: nu });
  }

  private key(k: VipKey): { id: string; vip: FakeVip } {
    const id = formatVip({ address: parseIp(k.address, 'VIP address').text, port: parsePort(k.port, 'VIP port'), proto: k.proto });
    const vip = this.vipMap.get(id);
    if (!vip) throw new InputError(`no VIP ${id}`);
    return { id, vip };
  }

  addVip(spec: VipSpec, o?: ChangeOptions): ChangeResult {
    const quiet = (o as { quiet?: boolean } | undefined)?.quiet;
    const dry = this.guard(o);
    const key: VipKey = { address: parseIp(spec.address, 'VIP address').text, port: parsePort(spec.port, 'VIP port'), proto: spec.proto };
    if (key.proto !== 'tcp' && key.proto !== 'udp') throw new InputError(`bad protocol "${String(spec.proto)}": expected tcp or udp`);
    const id = formatVip(key);
    const flags = parseVipFlagList(spec.flags, this.info().vipFlagsSupported);
    const mask = parseVipFlags(flags);
    if (this.vipMap.has(id)) throw new InputError(`add VIP ${id}: already exists`);
    if (this.vipMap.size >= this.maxVips) throw new MapFullError('add VIP', id, `map full (${this.maxVips})`, { maxEntries: this.maxVips });
    const hash = spec.hash ?? DEFAULT_HASH;
    const summary = [`add VIP ${id}${flags.length ? ` flags ${vipFlagsToNames(mask).join(',')}` : ''} hash ${hash}`];
    const warnings = this.vipMap.size + 1 > this.maxVips * 0.9 ? [`VIP map ${this.vipMap.size + 1}/${this.maxVips}`] : [];
    if (!dry) {
      const used = new Set([...this.vipMap.values()].map((v) => v.vipNum));
      let vipNum = 0;
      while (used.has(vipNum)) vipNum++;
      this.vipMap.set(id, { key, flags: vipFlagsToNames(mask), hash, vipNum, reals: [] });
      if (!quiet) this.record('add-vip', id, null, { flags: vipFlagsToNames(mask), hash });
    }
    return { applied: !dry, summary, warnings };
  }

  removeVip(k: VipKey, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const { id, vip } = this.key(k);
    const summary = [`remove VIP ${id} and its ${vip.reals.length} real(s)`];
    if (!dry) {
      this.vipMap.delete(id);
      this.gcReals();
      this.record('remove-vip', id, { reals: vip.reals.length }, null);
    }
    return { applied: !dry, summary, warnings: vip.reals.length ? [`traffic to ${id} will be passed to the host`] : [] };
  }

  setVipFlags(k: VipKey, flags: VipFlagName[], o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const { id, vip } = this.key(k);
    const names = vipFlagsToNames(parseVipFlags(flags));
    if (!dry) { this.record('set-vip-flags', id, vip.flags, names); vip.flags = names; }
    return { applied: !dry, summary: [`VIP ${id} flags: ${vip.flags.join(',') || 'none'} -> ${names.join(',') || 'none'}`], warnings: [] };
  }

  private shares(reals: FakeReal[]): Map<string, number> {
    const w = reals.reduce((s, r) => s + r.weight, 0);
    return new Map(reals.map((r) => [r.address, w ? r.weight / w : 0]));
  }

  /** Share of slots that move between two ring compositions (weight-proportional rings). */
  private moved(before: FakeReal[], after: FakeReal[]): number {
    const a = this.shares(before);
    const b = this.shares(after);
    const all = new Set([...a.keys(), ...b.keys()]);
    let d = 0;
    for (const x of all) d += Math.abs((a.get(x) ?? 0) - (b.get(x) ?? 0));
    if (![...b.values()].some((v) => v > 0)) return [...a.values()].some((v) => v > 0) ? 1 : 0;
    return d / 2;
  }

  private weight(w: unknown): number {
    return parseWeight(w);
  }

  addReal(k: VipKey, real: { address: string; weight?: number }, o?: ChangeOptions): ChangeResult {
    const quiet = (o as { quiet?: boolean } | undefined)?.quiet;
    const dry = this.guard(o);
    const { id, vip } = this.key(k);
    const { address } = parseRealAddress(real.address);
    checkRealForVip(address, vip.key);
    const weight = this.weight(real.weight ?? DEFAULT_WEIGHT);
    if (vip.reals.some((r) => r.address === address)) throw new InputError(`add real ${address} to ${id}: already there`);
    if (!this.realIndex.has(address) && this.realIndex.size >= this.maxReals) throw new MapFullError('add real', address, `reals map full (${this.maxReals})`, { maxEntries: this.maxReals });
    const after = [...vip.reals, { address, weight }];
    const movedShare = this.moved(vip.reals, after);
    const summary = [`add real ${address} weight ${weight} to ${id}`];
    if (!dry) {
      if (!this.realIndex.has(address)) this.realIndex.set(address, this.nextRealIndex++);
      vip.reals = after;
      if (!quiet) this.record('add-real', `${id} ${address}`, null, { weight });
    }
    return { applied: !dry, summary, warnings: [], movedShare };
  }

  removeReal(k: VipKey, address: string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const { id, vip } = this.key(k);
    const a = parseIp(address, 'real address').text;
    const r = vip.reals.find((x) => x.address === a);
    if (!r) throw new InputError(`remove real ${a}: not a real of ${id}`);
    const after = vip.reals.filter((x) => x !== r);
    const movedShare = this.moved(vip.reals, after);
    const warnings = after.every((x) => x.weight === 0) ? [`${id} has no real with weight > 0 after this: its traffic is dropped`] : [];
    if (!dry) { vip.reals = after; this.gcReals(); this.record('remove-real', `${id} ${a}`, { weight: r.weight }, null); }
    return { applied: !dry, summary: [`remove real ${a} from ${id}`], warnings, movedShare };
  }

  setRealWeight(k: VipKey, address: string, weight: number, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const { id, vip } = this.key(k);
    const a = parseIp(address, 'real address').text;
    const w = this.weight(weight);
    const r = vip.reals.find((x) => x.address === a);
    if (!r) throw new InputError(`set weight: ${a} is not a real of ${id}`);
    const after = vip.reals.map((x) => (x === r ? { ...x, weight: w } : x));
    const movedShare = this.moved(vip.reals, after);
    const warnings = after.every((x) => x.weight === 0) ? [`${id} has no real with weight > 0 after this: its traffic is dropped`] : [];
    const summary = [`${w === 0 ? 'drain' : 'set weight of'} ${a} on ${id}: ${r.weight} -> ${w}`];
    if (!dry) { this.record('set-weight', `${id} ${a}`, r.weight, w); r.weight = w; }
    return { applied: !dry, summary, warnings, movedShare };
  }

  private gcReals(): void {
    const used = new Set<string>();
    for (const v of this.vipMap.values()) for (const r of v.reals) used.add(r.address);
    for (const q of this.quic) used.add(q.real);
    for (const a of [...this.realIndex.keys()]) if (!used.has(a)) this.realIndex.delete(a);
  }

  // ---- QUIC mappings and down reals: the real planner on a desired state built from the fake's model

  private desired(): DesiredState {
    return {
      version: 1, intf: this.intf, mode: 'native', mac: this.defaultMac,
      vips: [...this.vipMap.values()].map((v) => ({ key: { ...v.key }, flags: [...v.flags], hash: v.hash, vipNum: v.vipNum, reals: v.reals.map((r) => ({ ...r })) })),
      reals: [...this.realIndex].map(([address, index]) => ({ address, index })),
      quic: this.quic.map((q) => ({ ...q })),
    };
  }

  private limits(): Limits {
    return { maxVips: this.maxVips, maxReals: this.maxReals + 1, vipFlagsSupported: OWN_VIP_FLAGS, maxServerIds: this.quicServerIds, vlans: true };
  }

  /** Adopts a plan's next state (mappings, indexes, down marks) unless a dry run. */
  private adopt(p: Plan, dry: boolean): ChangeResult {
    if (!dry && p.changes) {
      this.quic = p.next.quic ?? [];
      this.realIndex.clear();
      for (const r of p.next.reals) this.realIndex.set(r.address, r.index);
      this.nextRealIndex = Math.max(this.nextRealIndex, ...p.next.reals.map((r) => r.index + 1));
      for (const nv of p.next.vips) {
        const v = this.vipMap.get(formatVip(nv.key));
        if (v) v.reals = nv.reals.map((r) => ({ ...r }));
      }
      this.record(p.op, p.target, p.logOld, p.logNew);
    }
    return { applied: !dry, summary: p.summary, warnings: p.warnings };
  }

  quicMappings(): QuicMapping[] {
    return this.quic.map((q) => ({ id: q.id, real: q.real, index: this.realIndex.get(q.real) ?? 0 }));
  }

  addQuicMapping(id: number | string, real: string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    return this.adopt(planAddQuicMapping(this.desired(), this.limits(), id, real), dry);
  }

  removeQuicMapping(id: number | string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    return this.adopt(planRemoveQuicMapping(this.desired(), this.limits(), id), dry);
  }

  setRealDown(key: VipKey, address: string, down: boolean, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    return this.adopt(planSetRealDown(this.desired(), key, address, down), dry);
  }

  getDefaultMac(): string | null { return this.defaultMac; }

  /** VLAN mappings, changed through the real planner. */
  readonly vlanTable = new FakeVlans();
  /**
   * Per ingress VLAN ("573", "100.573"), packets per second the fake's kt_vlan_stats count from the
   * next sample on: balanced (a mapping's) and passed (an unconfigured VLAN's VIP traffic).
   */
  vlanRates: Record<string, { balanced?: number; passed?: number }> = {};
  private vlanTotals = new Map<string, { in: number; balanced: number; passed: number }>();

  /** sample().vlans: every VLAN with a rate, as stats.ts reports kt_vlan_stats (null without the maps). */
  private vlanSample(dt: number): VlanStat[] | null {
    if (!this.vlanTable.available) return null;
    const configured = new Set(this.vlanTable.rows.map((v) => v.ingress));
    const stat = (packets: number, pps: number): CountStat => ({ packets, bytes: packets * 500, pps, bps: pps * 500 * 8 });
    return Object.entries(this.vlanRates).map(([vlan, r]) => {
      const b = dt ? r.balanced ?? 0 : 0;
      const p = dt ? r.passed ?? 0 : 0;
      const t = this.vlanTotals.get(vlan) ?? { in: 0, balanced: 0, passed: 0 };
      t.in += (b + p) * dt; t.balanced += b * dt; t.passed += p * dt;
      this.vlanTotals.set(vlan, t);
      return { vlan, configured: configured.has(vlan), in: stat(t.in, b + p), balanced: stat(t.balanced, b), passed: stat(t.passed, p) };
    });
  }

  vlans(): VlanMappingText[] | null { return this.vlanTable.list(); }

  addVlan(mapping: string, mac?: string | null, o?: ChangeOptions & { replace?: boolean }): ChangeResult {
    const dry = this.guard(o);
    const r = this.vlanTable.add(this.defaultMac, mapping, mac, dry, !!o?.replace);
    if (!dry) this.record(o?.replace ? 'set-vlan' : 'add-vlan', `VLAN ${mapping}`, null, mapping);
    return r;
  }

  removeVlan(vlan: string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const r = this.vlanTable.remove(this.defaultMac, vlan, dry);
    if (!dry) this.record('remove-vlan', `VLAN ${vlan}`, vlan, null);
    return r;
  }

  setVlanMac(egress: string, mac: string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const r = this.vlanTable.setMac(this.defaultMac, egress, mac, dry);
    if (!dry) this.record('set-vlan-mac', `VLAN ${egress}`, null, mac);
    return r;
  }

  setDefaultMac(mac: string, o?: ChangeOptions): ChangeResult {
    const dry = this.guard(o);
    const b = parseMac(mac);
    const text = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
    if (!dry) { this.record('set-mac', 'default', this.defaultMac, text); this.defaultMac = text; }
    return { applied: !dry, summary: [`default gateway MAC: ${this.defaultMac ?? 'unset'} -> ${text}`], warnings: [] };
  }

  /**
   * The whole-config apply (Dataplane.applyConfig, `config apply`): afterwards exactly `cfg`.
   * Not atomic like the real one's single transaction; enough for screens that show the result.
   */
  applyConfig(cfg: { mac?: string | null; vips: { key: VipKey; flags?: VipFlagName[]; hash?: HashKind; reals?: { address: string; weight: number }[] }[] }, o?: ChangeOptions): ChangeResult {
    const summary = [`apply a configuration of ${cfg.vips.length} VIP(s)${cfg.mac ? `, default MAC ${cfg.mac}` : ''}`];
    for (const v of cfg.vips) {
      const cur = this.vipMap.get(formatVip(v.key));
      if (cur) checkHashChange(cur.key, cur.hash, v.hash ?? DEFAULT_HASH);
    }
    if (this.guard(o)) return { applied: false, summary, warnings: [] };
    const quiet = { quiet: true } as ChangeOptions;
    const want = new Set(cfg.vips.map((v) => formatVip(v.key)));
    for (const [id, v] of [...this.vipMap]) if (!want.has(id)) this.removeVip(v.key, quiet);
    for (const v of cfg.vips) {
      const id = formatVip(v.key);
      const cur = this.vipMap.get(id);
      if (cur) this.removeVip(cur.key, quiet);
      this.addVip({ ...v.key, flags: v.flags, hash: v.hash }, quiet);
      for (const r of v.reals ?? []) this.addReal(v.key, r, quiet);
    }
    if (cfg.mac) this.setDefaultMac(cfg.mac, quiet);
    return { applied: true, summary, warnings: [] };
  }

  healthcheck(): HealthcheckState | null {
    if (!this.hcEnabled) return null;
    const marks: { mark: number; real: string }[] = [];
    for (const [address, index] of this.realIndex) marks.push({ mark: 1000 + index, real: address });
    return { intf: this.intf, progId: 43, marks };
  }

  trace(req: TraceRequest): TraceResult {
    const { id, vip } = this.key(req.vip);
    const live = vip.reals.filter((r) => r.weight > 0);
    const real = live.length ? live[req.sport % live.length].address : null;
    return { vip: id, real, action: real ? 'TX' : 'DROP', steps: [`VIP ${id} matched`], confirmedByKernel: false };
  }

  changeLog(limit = 50): ChangeLogEntry[] { return this.log.slice(-limit); }

  /** Flows the fake's LRUs hold (tests seed them; purge and ageFlows remove them). */
  heldFlows: FlowEntry[] = [];
  /** flows() calls, and the slice each asked for. */
  flowCalls: { slice?: number }[] = [];

  /** `n` flows of `vip` on `real` (clients 203.0.113.x:40000+i), spread over CPUs 0 and 1. */
  seedFlows(vip: string, real: string, n: number, o: { udp?: boolean } = {}): this {
    const index = this.realIndex.get(real) ?? 0;
    for (let i = 0; i < n; i++) {
      this.heldFlows.push({ vip, client: `203.0.113.${1 + (i % 200)}:${40000 + i}`, real, realIndex: index, cpu: i % 2, ageMs: o.udp ? 100 * i : null });
    }
    return this;
  }

  /** The oldest `n` flows of `real` age out. */
  ageFlows(real: string, n: number): this {
    for (let i = 0; i < n; i++) {
      const at = this.heldFlows.findIndex((f) => f.real === real);
      if (at < 0) break;
      this.heldFlows.splice(at, 1);
    }
    return this;
  }

  flows(q: FlowQuery, o: { cursor?: FlowCursor | null; slice?: number } = {}): FlowList {
    this.flowCalls.push({ slice: o.slice });
    const f = checkFlowQuery(q);
    const from = o.cursor?.table ?? 0;
    const to = o.slice ? Math.min(this.heldFlows.length, from + o.slice) : this.heldFlows.length;
    const match = this.heldFlows.slice(from, to).filter((e) => (!f.vip || e.vip === formatVip(f.vip)) && (!f.real || e.real === f.real)
      && (!f.client || e.client.startsWith(`${f.client.address}:`) && (f.client.port === undefined || e.client.endsWith(`:${f.client.port}`))));
    const per = new Map<string, number>();
    for (const e of match) per.set(e.real ?? '?', (per.get(e.real ?? '?') ?? 0) + 1);
    return {
      intf: this.intf, flows: match.slice(0, f.limit), truncated: match.length > f.limit, matched: match.length,
      perReal: [...per].map(([real, flows]) => ({ real, flows })).sort((a, b) => b.flows - a.flows),
      read: to - from, capacity: Math.max(this.heldFlows.length, 4096), cursor: to < this.heldFlows.length ? { table: to, token: null } : null,
    };
  }

  /** Run-time statistics as the console turned them (the fake's samples then carry runTime). */
  runTimeOn = false;
  runTimeStats(on?: boolean): { on: boolean; costNs: number } {
    if (on !== undefined) this.runTimeOn = on;
    return { on: this.runTimeOn, costNs: 72 };
  }

  purgeFlows(q: { vip: VipKey; real?: string }, o?: ChangeOptions): PurgeResult {
    const dry = this.guard(o);
    const id = formatVip(q.vip);
    const hit = (e: FlowEntry) => e.vip === id && (!q.real || e.real === q.real);
    const n = this.heldFlows.filter(hit).length;
    if (!dry) { this.heldFlows = this.heldFlows.filter((e) => !hit(e)); this.record('lru-purge', id, n, 0); }
    return { applied: !dry, summary: [`purge flows of ${id}${q.real ? ` on ${q.real}` : ''} from the LRU: ${n} flow(s)`], warnings: [], flows: n };
  }

  detach(o?: ChangeOptions): ChangeResult {
    this.detachCalls++;
    const dry = this.guard(o);
    if (!dry) { this.detached = true; this.record('detach', this.intf, 42, null); }
    return { applied: !dry, summary: [`detach program 42 from ${this.intf} and remove its pins`], warnings: [`${this.vipMap.size} VIP(s) stop being balanced`] };
  }

  reattach(o?: ChangeOptions): ChangeResult {
    this.reattachCalls++;
    const st = this.ifState;
    if (!st.canReattach) {
      if (this.readOnly) throw new ReadOnlyError(this.readOnlyReason);
      const what = `balancer of ${st.intf}`;
      if (st.status === 'gone') throw new InterfaceMissingError('re-attach', what, `interface ${st.intf} (ifindex ${st.ifindex}) is gone and no interface ${st.intf} exists: create it first`);
      throw new AlreadyAttachedError('re-attach', what, `program 42 is attached to ${st.intf} (ifindex ${st.ifindex}): nothing to re-attach`, 42);
    }
    const dry = this.guard(o);
    const target = st.reappeared?.ifindex ?? st.ifindex;
    if (!dry) {
      this.record('reattach', st.intf, { ifindex: st.ifindex }, { ifindex: target });
      this.ifState = { status: 'ok', intf: st.intf, ifindex: target, canReattach: false, message: `attached to ${st.intf} (ifindex ${target})` };
    }
    return {
      applied: !dry,
      summary: [`${dry ? 'attach' : 're-attached'} the pinned program 42 to ${st.intf} (ifindex ${target}) with the same maps (VIPs, reals, LRU kept)`, `${this.vipMap.size} VIP(s) in the maps go on being balanced there`],
      warnings: [],
    };
  }

  close(): void { this.closed = true; }
}

export interface FakeHostOptions {
  interfaces?: InterfaceInfo[];
  /** Balancers pinned on the box: each one's dataplane. */
  balancers?: FakeDataplane[];
  /** Lock error thrown by open() of a writable balancer. */
  lockedBy?: number;
}

export function defaultInterfaces(): InterfaceInfo[] {
  return [
    { name: 'lo', ifindex: 1, up: true, mac: '00:00:00:00:00:00', mtu: 65536, xdp: null, defaultRoute: false },
    { name: 'eth0', ifindex: 2, up: true, mac: '52:54:00:12:34:56', mtu: 1500, xdp: null, defaultRoute: true },
    { name: 'kt-veth0', ifindex: 7, up: true, mac: '02:00:00:00:00:0a', mtu: 1600, xdp: null, defaultRoute: false },
    { name: 'kt-veth1', ifindex: 8, up: false, mac: '02:00:00:00:00:0b', mtu: 1500, xdp: { progId: 77, mode: 'generic', name: 'xdp_other', katranAbi: false, ours: false }, defaultRoute: false },
  ];
}

export class FakeHost implements Host {
  ifs: InterfaceInfo[];
  readonly dps: FakeDataplane[];
  lockedBy: number | undefined;
  opened: { intf: string; readOnly: boolean }[] = [];
  attaches: AttachRequest[] = [];

  constructor(o: FakeHostOptions = {}) {
    this.ifs = o.interfaces ?? defaultInterfaces();
    this.dps = o.balancers ?? [];
    this.lockedBy = o.lockedBy;
  }

  interfaces(): InterfaceInfo[] { return this.ifs.map((i) => ({ ...i })); }

  balancers(): BalancerSummary[] {
    return this.dps.filter((d) => !d.detached).map((d) => ({
      intf: d.intf, ifindex: 7, progId: 42, mode: 'native', owner: d.owner, tag: 'a1b2c3d4e5f60718',
      pinDir: d.owner === 'katran-tui' ? `/sys/fs/bpf/katran-tui/${d.intf}` : undefined,
    }));
  }

  open(intf: string, o?: { readOnly?: boolean; detached?: boolean }): FakeDataplane {
    const d = this.dps.find((x) => x.intf === intf && !x.detached);
    if (!d) throw new InputError(`no balancer on ${intf}`);
    if (this.lockedBy !== undefined && !o?.readOnly && d.owner === 'katran-tui') {
      throw new LockedError(this.lockedBy, '/var/lib/katran-tui');
    }
    this.opened.push({ intf, readOnly: !!o?.readOnly });
    if (o?.readOnly) { d.readOnly = true; d.readOnlyReason = '--readonly'; }
    return d;
  }

  attach(req: AttachRequest, o?: ChangeOptions): { dataplane: Dataplane | null; result: ChangeResult } {
    const ifc = this.ifs.find((i) => i.name === req.intf);
    if (!ifc) throw new InputError(`no interface ${req.intf}`);
    const mac = parseMac(req.defaultMac);
    if (req.hcIntf && !this.ifs.some((i) => i.name === req.hcIntf)) throw new InputError(`no interface ${req.hcIntf} for the healthchecker`);
    if (ifc.xdp && !ifc.xdp.ours && !req.force) throw new InputError(`${req.intf} already has XDP program ${ifc.xdp.progId} (${ifc.xdp.name}); replacing it needs force`);
    const macText = Array.from(mac, (x) => x.toString(16).padStart(2, '0')).join(':');
    const mode = req.mode ?? 'auto';
    const summary = [`load the bundled balancer and attach it to ${req.intf} (${mode})`, `default gateway MAC ${macText}`];
    if (req.hcIntf) summary.push(`healthchecker on ${req.hcIntf} (tc egress)`);
    // The VLAN rules before anything is attached (the real planner: its refusal, its summary).
    const vlans = new FakeVlans();
    if (req.vlans?.length || req.vlanMacs?.length) summary.push(...vlans.setAll(macText, req.vlans ?? [], req.vlanMacs ?? [], false).summary);
    const warnings = ifc.defaultRoute ? [`${req.intf} carries the default route: a mistake here can cut this box off`] : [];
    if (o?.dryRun) return { dataplane: null, result: { applied: false, summary, warnings } };
    this.attaches.push(req);
    const d = new FakeDataplane({ intf: req.intf, defaultMac: macText, healthcheck: !!req.hcIntf });
    d.vlanTable.rows = vlans.rows;
    this.dps.push(d);
    ifc.xdp = { progId: 42, mode: mode === 'generic' ? 'generic' : 'native', name: 'balancer_ingress', katranAbi: true, ours: true };
    return { dataplane: d, result: { applied: true, summary, warnings } };
  }
}

/** A fake host with one attached balancer of ours carrying a few VIPs. */
export function demoFake(o: FakeOptions = {}): { host: FakeHost; dp: FakeDataplane } {
  const dp = new FakeDataplane(o).seed([
    { vip: '192.0.2.10:80/tcp', reals: ['198.51.100.1', '198.51.100.2', ['198.51.100.3', 2]] },
    { vip: '192.0.2.11:443/tcp', reals: ['198.51.100.4'] },
    { vip: '[2001:db8::10]:53/udp', reals: ['2001:db8:1::1', '2001:db8:1::2'], flags: ['no-sport'] },
  ]);
  return { host: new FakeHost({ balancers: [dp] }), dp };
}

export { VIP_FLAGS };
