// The one interface between the dataplane and its users (the console, the CLI). The console and
// the CLI see only these types; src/dataplane/balancer/balancer.ts implements them over libbpf, and UI tests
// use a fake that implements them too. Plain numbers (not BigInt) cross this line: counters are
// summed in BigInt inside stats.ts and converted once per sample.
import type { DropReason, GlobalCounter, HashKind, PassReason, VipFlagName, VipKey, VlanMappingText } from './abi.js';

export type { VipKey, VipFlagName, GlobalCounter, HashKind, VlanMappingText, DropReason, PassReason } from './abi.js';

export type XdpMode = 'native' | 'generic';
export type XdpModeRequest = XdpMode | 'auto';

/** A network interface as the start screen lists it. */
export interface InterfaceInfo {
  name: string;
  ifindex: number;
  up: boolean;
  mac: string;
  mtu: number;
  /** The XDP program attached, if any. */
  xdp: { progId: number; mode: XdpMode | 'offload' | 'multi'; name: string; katranAbi: boolean; ours: boolean } | null;
  /** Carries the default route: attaching there can cut the box off. */
  defaultRoute: boolean;
}

/**
 * Where the balancer's interface stands, checked with every sample (if_indextoname on the ifindex
 * the balancer is attached to, and bpf_xdp_query there):
 * - ok: the interface is there under the same name and runs our program;
 * - renamed: the same ifindex runs our program under another name (`intf` is the new name, `from`
 *   the old one); nothing to do, the balancer keeps forwarding;
 * - gone: the ifindex no longer exists (`ip link del`): the XDP attachment went with it, the pinned
 *   program and maps remain; `reappeared` is set when an interface of the last name exists again
 *   (another ifindex): Dataplane.reattach() puts the pinned program there, maps (VIPs, LRU) kept;
 * - replaced: the ifindex exists but runs another program (`otherProgId`) or none (0); with none,
 *   reattach() puts ours back.
 */
export interface InterfaceState {
  status: 'ok' | 'gone' | 'renamed' | 'replaced';
  /** The interface's name now (renamed: the new name; gone: the last name it had). */
  intf: string;
  /** The ifindex the balancer is attached to (gone: was attached to). */
  ifindex: number;
  /** renamed: the name it had before. */
  from?: string;
  /** gone: an interface of the same name exists again at this ifindex. */
  reappeared?: { ifindex: number };
  /** replaced: the program now attached there (0: none). */
  otherProgId?: number;
  /** reattach() can bring the balancer back (gone + reappeared, or replaced by nothing). */
  canReattach: boolean;
  /** One line for the operator. */
  message: string;
}

/** One balancer on the box: ours (pinned by katran-tui) or another process's Katran. */
export interface BalancerSummary {
  intf: string;
  ifindex: number;
  progId: number;
  mode: XdpMode | 'unknown';
  owner: 'katran-tui' | 'observed';
  pinDir?: string;
  tag: string;
  /** The pinned program differs from the bundled object (an upgrade is available). */
  differsFromBundled?: boolean;
  /** Ours: where its interface stands (gone, renamed...); absent when unknown. */
  interfaceState?: InterfaceState;
  /** Ours: a change a killed process left unfinished (null: none; absent: not checked). */
  pendingChange?: PendingChange | null;
}

/**
 * A change a killed process left unfinished: its intent record is still in the state directory,
 * and the kernel may hold it half-applied until a writer finishes (or undoes) it.
 */
export interface PendingChange {
  /** The change, in the change log's words (add-real, set-weight, apply-config...). */
  op: string;
  target: string;
  /** ISO time the change started. */
  at: string;
  /** The process that started it (dead, or it would not be pending). */
  pid: number;
  /** One line for the operator: what, since when, by whom, and how to finish it. */
  message: string;
}

export interface AttachRequest {
  intf: string;
  defaultMac: string;
  mode?: XdpModeRequest;
  /** Object to load; default: the bundled balancer. */
  balancerProg?: string;
  healthcheckerProg?: string;
  hcIntf?: string;
  /** Total LRU entries, split across the forwarding CPUs. */
  lruSize?: number;
  forwardingCores?: number[];
  /** server_id_map entries (default Katran's 0xFFFFFE, about 128 MiB); ids beyond fall back to hashing. */
  quicServerIds?: number;
  /** Replace an XDP program that is not ours. */
  force?: boolean;
  /** VLAN mappings (--vlan / --vlan-mac); refused before anything is attached when they break a rule. */
  vlans?: VlanMappingText[];
  /** Egress VLANs a --vlan-mac was given for (one no mapping leaves on is refused). */
  vlanMacs?: string[];
}

export interface BalancerInfo {
  intf: string;
  ifindex: number;
  mode: XdpMode | 'unknown';
  progId: number;
  progTag: string;
  progName: string;
  /** ms since the epoch: when katran-tui attached it (ours). */
  attachedAt?: number;
  /** ms since the epoch: when the kernel loaded the program (observed ones). */
  loadedAt?: number;
  cpus: number;
  forwardingCpus: number[];
  defaultMac: string | null;
  owner: 'katran-tui' | 'observed';
  /** --readonly, or observing another process's balancer. */
  readOnly: boolean;
  readOnlyReason?: string;
  objectPath?: string;
  pinDir?: string;
  capacity: { vips: number; maxVips: number; reals: number; maxReals: number; ringSize: number; quicServerIds?: number };
  vipFlagsSupported: VipFlagName[];
  healthcheck: { intf: string; progId: number } | null;
  /** Where the interface stands now (deleted, renamed, program replaced); absent: not checked. */
  interfaceState?: InterfaceState;
  /**
   * A change a killed process left unfinished, checked afresh on every info() (null: none). Read
   * views (vips()) then show what the kernel holds, not the desired state.
   */
  pendingChange: PendingChange | null;
  /** What opening this balancer repaired (an interrupted change finished or undone, a dead writer's lock taken over), one line each. */
  recovered: string[];
}

/** Totals and per-second rates of one lb_stats pair (v1, v2) over the last interval. */
export interface PairStat {
  v1: number;
  v2: number;
  /** v1 per second */
  r1: number;
  /** v2 per second */
  r2: number;
}

export interface VipStat {
  /** formatVip(key) */
  id: string;
  key: VipKey;
  packets: number;
  bytes: number;
  pps: number;
  /** bits per second */
  bps: number;
}

export interface RealStat {
  index: number;
  address: string;
  packets: number;
  bytes: number;
  pps: number;
  bps: number;
}

export interface CpuStat {
  cpu: number;
  total: PairStat;
  tx: PairStat;
  drop: PairStat;
  pass: PairStat;
}

/** The program's cost over the last interval, while the kernel's run-time statistics are on. */
export interface RunTime {
  /** run_time_ns / run_cnt deltas: the average ns the program took per packet. */
  nsPerPacket: number;
  /** Program runs (packets) in the interval. */
  runs: number;
  /** Per CPU: pps × nsPerPacket / 1e9, an ESTIMATE of the share of a core (the kernel gives no per-CPU split). */
  perCpuShare: { cpu: number; share: number }[];
  busiest: { cpu: number; share: number } | null;
  estimate: true;
}

/** Packets and bytes of one counter, totals and per-second rates over the last interval. */
export interface CountStat {
  packets: number;
  bytes: number;
  pps: number;
  /** bits per second */
  bps: number;
}

/** kt_reasons summed over CPUs, in DROP_REASONS / PASS_REASONS order (every reason, zero or not). */
export interface ReasonsSample {
  drop: ({ reason: DropReason } & CountStat)[];
  pass: ({ reason: PassReason } & CountStat)[];
}

/** One ingress VLAN's kt_vlan_stats summed over CPUs (bpf/vlan.h: in = balanced + passed + dropped/answered). */
export interface VlanStat {
  /** '573' (one tag), '100.573' (802.1ad outer.inner); null: every 802.1ad pair without an entry. */
  vlan: string | null;
  /** Balanced by a mapping; false: VIP traffic on a VLAN the balancer does not parse. */
  configured: boolean;
  in: CountStat;
  balanced: CountStat;
  passed: CountStat;
}

export interface StatsSample {
  /** ms since the epoch */
  at: number;
  /** real ms since the previous sample; 0 for the first (rates are 0 then). */
  elapsedMs: number;
  global: Record<GlobalCounter, PairStat>;
  perCpu: CpuStat[];
  vips: VipStat[];
  reals: RealStat[];
  healthcheck: { processed: number; dropped: number; skipped: number; tooBig: number } | null;
  /** Counters that went backwards since the previous sample (a reset, not a negative rate). */
  resets: string[];
  /** New connections hit the per-CPU limit during this interval. */
  underFlood: boolean;
  /** The interface checked with this sample (deleted, renamed...); absent: not checked. */
  interfaceState?: InterfaceState;
  /** quic_stats_map (absent from objects without QUIC routing: null). */
  quic?: QuicSample | null;
  /** Drop / pass reasons; null when the program has no kt_reasons map (upstream Katran). */
  reasons?: ReasonsSample | null;
  /** VLANs that counted something; null when the program has no VLAN maps (upstream Katran). */
  vlans?: VlanStat[] | null;
  /** Present while the kernel's run-time statistics move (turned on by runTimeStats, or by another process). */
  runTime?: RunTime;
}

export interface RealState {
  address: string;
  weight: number;
  /** Index in the reals map (shared by every VIP that uses the address). */
  index: number;
  /** Slots of this VIP's ring that point at the real, counted from the kernel's ring. */
  ringSlots: number;
  ringShare: number;
  /** Marked down (udp-flow-migration VIPs): its LRU hits are re-hashed. */
  down?: boolean;
  /** QUIC server ids routed to this real (they hold its index). */
  serverIds?: number;
  /** While a change is pending: the kernel's ring points at this real, the desired state does not list it. */
  kernelOnly?: true;
  /** While a change is pending: the weight it sets, when it changes this real's (the kernel's ring may hold either). */
  pendingWeight?: number;
}

export interface VipState {
  id: string;
  key: VipKey;
  flags: VipFlagName[];
  hash: HashKind;
  vipNum: number;
  reals: RealState[];
  /** While a change is pending: in the kernel's vip_map, not in the desired state. */
  kernelOnly?: true;
  /** While a change is pending: in the desired state, not in the kernel's vip_map. */
  notInKernel?: true;
}

export interface VipSpec extends VipKey {
  flags?: VipFlagName[];
  hash?: HashKind;
}

/** A whole desired configuration (`config apply`): the balancer holds exactly this afterwards. */
export interface BalancerConfig {
  /** Default gateway MAC; undefined keeps the current one, null clears it. */
  mac?: string | null;
  /** VLAN mappings (katran-tui's object); undefined keeps the current ones, [] removes them. */
  vlans?: VlanMappingText[];
  vips: { key: VipKey; flags?: VipFlagName[]; hash?: HashKind; reals?: { address: string; weight: number; down?: boolean }[] }[];
  /** QUIC server-id mappings; undefined keeps the current ones. */
  quicMappings?: { id: number; real: string }[];
}

/** A QUIC server id routed to a real (global, as in Katran). */
export interface QuicMapping {
  id: number;
  real: string;
  /** The real's index (shared with the rings). */
  index: number;
}

/** QUIC counters of quic_stats_map, summed over CPUs, with rates over the last interval. */
export interface QuicSample {
  totals: Record<QuicCounter, number>;
  /** per second */
  rates: Record<QuicCounter, number>;
  /** Each CPU's latest non-zero cid_invalid_server_id_sample (a last value, never summed). */
  invalidIdSamples: { cpu: number; id: number }[];
}

export type QuicCounter =
  | 'chRouted' | 'cidInitial' | 'cidInvalidServerId' | 'cidRouted' | 'cidUnknownRealDropped'
  | 'cidV0' | 'cidV1' | 'cidV2' | 'cidV3' | 'dstMatchInLru' | 'dstMismatchInLru' | 'dstNotFoundInLru';

export interface ChangeOptions {
  /** Validate and describe the change; write nothing. */
  dryRun?: boolean;
}

export interface ChangeResult {
  applied: boolean;
  /** What changes (or changed), one line each, in the operator's words. */
  summary: string[];
  warnings: string[];
  /** For ring changes: the share of the VIP's slots that move to another real (0..1). */
  movedShare?: number;
}

export interface ChangeLogEntry {
  at: string;
  op: string;
  target: string;
  old: unknown;
  new: unknown;
}

export interface TraceRequest {
  src: string;
  sport: number;
  vip: VipKey;
  syn?: boolean;
  /** For QUIC VIPs: the packet's header form and destination connection id (else a CID naming no server id). */
  quic?: import('./abi.js').QuicPacketSpec;
}

export interface TraceResult {
  vip: string;
  /** The real the flow goes to, or null when it is dropped / passed. */
  real: string | null;
  action: 'TX' | 'DROP' | 'PASS' | 'ABORTED';
  /** Why, step by step: VIP match, LRU or ring slot, hash value. */
  steps: string[];
  ringSlot?: number;
  /** QUIC VIPs: the server id the packet carries and whether server_id_map routed it. */
  quic?: { serverId: number | null; routed: boolean; why: string };
  /** Why a DROP / PASS: the reason the clone's kt_reasons counted (computed in userspace for a program without kt_reasons). */
  reason?: DropReason | PassReason;
  /** The userspace computation and the kernel (prog_test_run on a clone) agree. */
  confirmedByKernel: boolean;
}

/** Which flows of the connection table to read: every filter optional (a VIP, a real, a client ADDR or ADDR:PORT). */
export interface FlowQuery {
  vip?: VipKey;
  real?: string;
  client?: string;
  /** Most flows listed (default 1000); the per-real counts cover every match. */
  limit?: number;
}

/** A flow held in an LRU. */
export interface FlowEntry {
  /** The VIP it belongs to, formatVip; a VIP removed since is named by the flow's destination. */
  vip: string;
  /** "203.0.113.9:40000" ([v6]:port for IPv6). */
  client: string;
  /** The real's address, null when its index no longer names a real. */
  real: string | null;
  realIndex: number;
  /** The CPU whose LRU holds it; null: the shared fallback LRU. */
  cpu: number | null;
  /** UDP: ms since the flow's last packet (from atime vs the monotonic clock); null for TCP. */
  ageMs: number | null;
}

/** Where a slice-by-slice read of the LRUs stands (opaque to callers). */
export interface FlowCursor { table: number; token: number | null }

export interface FlowList {
  intf: string;
  flows: FlowEntry[];
  /** More flows matched than were listed. */
  truncated: boolean;
  /** Flows that matched the filter. */
  matched: number;
  /** Matching flows per real (every match, not only the listed ones), most first. */
  perReal: { real: string; flows: number }[];
  /** LRU entries read, and the LRUs' total size: the progress of a read in slices. */
  read: number;
  capacity: number;
  /** Pass it back to read the next slice; null when every LRU was read. */
  cursor: FlowCursor | null;
}

export interface PurgeResult extends ChangeResult {
  /** Flows deleted (dry run: that would be). */
  flows: number;
}

export interface HealthcheckState {
  intf: string;
  progId: number;
  marks: { mark: number; real: string }[];
}

/** One balancer, opened for watching and (unless read-only) changing. */
export interface Dataplane {
  info(): BalancerInfo;
  /** Reads every counter once (batch lookups, reused buffers) and computes rates. */
  sample(): StatsSample;
  vips(): VipState[];
  addVip(spec: VipSpec, o?: ChangeOptions): ChangeResult;
  removeVip(key: VipKey, o?: ChangeOptions): ChangeResult;
  setVipFlags(key: VipKey, flags: VipFlagName[], o?: ChangeOptions): ChangeResult;
  addReal(key: VipKey, real: { address: string; weight?: number }, o?: ChangeOptions): ChangeResult;
  removeReal(key: VipKey, address: string, o?: ChangeOptions): ChangeResult;
  setRealWeight(key: VipKey, address: string, weight: number, o?: ChangeOptions): ChangeResult;
  getDefaultMac(): string | null;
  setDefaultMac(mac: string, o?: ChangeOptions): ChangeResult;
  /**
   * Makes the balancer hold exactly `cfg` (VIPs not in it are removed) in ONE transaction: one
   * intent, so a crash leaves it fully applied or fully absent, unlike a series of single changes.
   */
  applyConfig(cfg: BalancerConfig, o?: ChangeOptions): ChangeResult;
  /** The VLAN mappings; null when the program has no VLAN maps (upstream Katran). */
  vlans(): VlanMappingText[] | null;
  /** `vlan add IN[:OUT]` (with `replace`: change an existing ingress VLAN); mac: the egress VLAN's gateway. */
  addVlan(mapping: string, mac?: string | null, o?: ChangeOptions & { replace?: boolean }): ChangeResult;
  removeVlan(vlan: string, o?: ChangeOptions): ChangeResult;
  setVlanMac(egress: string, mac: string, o?: ChangeOptions): ChangeResult;
  healthcheck(): HealthcheckState | null;
  /** QUIC server-id mappings from the desired state (server_id_map holds 16M entries: never scanned). */
  quicMappings(): QuicMapping[];
  /** Maps (or remaps) a server id to a real; the real's index comes from the shared allocator. */
  addQuicMapping(id: number | string, real: string, o?: ChangeOptions): ChangeResult;
  /** Unmaps a server id; server_id_map[id] is cleared to 0 too (Katran leaves it). */
  removeQuicMapping(id: number | string, o?: ChangeOptions): ChangeResult;
  /** Marks a real of a udp-flow-migration VIP down (its LRU hits are re-hashed) or up. */
  setRealDown(key: VipKey, address: string, down: boolean, o?: ChangeOptions): ChangeResult;
  trace(req: TraceRequest): TraceResult;
  changeLog(limit?: number): ChangeLogEntry[];
  /**
   * Flows held in the per-CPU LRUs and the fallback LRU (read-only; batch lookups). Without
   * `o.slice` every LRU is read; with it, at most that many entries from `o.cursor` on.
   */
  flows(q: FlowQuery, o?: { cursor?: FlowCursor | null; slice?: number }): FlowList;
  /**
   * The kernel's BPF run-time statistics: `on` true / false turns them on (this process holds the
   * fd) or off; without it, only says. They cost every BPF program on the box ~costNs per packet.
   */
  runTimeStats(on?: boolean): { on: boolean; costNs: number };
  /** Deletes the flows of a VIP (of one real) from the LRUs: their next packets are hashed again. */
  purgeFlows(q: { vip: VipKey; real?: string }, o?: ChangeOptions): PurgeResult;
  /**
   * After the interface was deleted and an interface of that name came back (or our program was
   * detached behind our back): attaches the pinned program to the interface's current ifindex and
   * records it in the pins. The same program and maps: VIPs, reals and LRU survive.
   */
  reattach(o?: ChangeOptions): ChangeResult;
  /** Detaches our program and removes the pins: only on explicit request. */
  detach(o?: ChangeOptions): ChangeResult;
  /** Releases fds and the lock; never detaches. */
  close(): void;
}

/** What the console's start screen needs from the box. */
export interface Host {
  interfaces(): InterfaceInfo[];
  balancers(): BalancerSummary[];
  /**
   * `detached`: open katran-tui's pinned balancer also when it is not attached (its interface was
   * deleted or recreated, or the program detached), to sample its maps and reattach() it.
   */
  open(intf: string, o?: { readOnly?: boolean; detached?: boolean }): Dataplane;
  attach(req: AttachRequest, o?: ChangeOptions): { dataplane: Dataplane | null; result: ChangeResult };
}

/** One offload feature of an interface (SIOCETHTOOL ETHTOOL_GFEATURES), by the kernel's name. */
export interface LinkFeatureState {
  active: boolean;
  /** The driver lets it be changed. */
  changeable: boolean;
}

/** An 802.1Q / 802.1ad sub-interface (/proc/net/vlan/config): VLAN `vid` on `parent`. */
export interface VlanDevice { name: string; vid: number; parent: string }

/**
 * What the VLAN checks of doctor and attach read about interfaces (vlan-checks.ts), in the network
 * namespace katran-tui runs in. The real one is kernel/link-probe.ts; tests inject their own where
 * this kernel cannot build the case (it has no VLAN sub-interfaces). Absent things are 0 / null / [].
 */
export interface LinkProbe {
  ifindex(name: string): number;
  name(ifindex: number): string | null;
  /** The driver as `ethtool -i` names it: "veth", "mlx5_core", ... */
  driver(name: string): string | null;
  /** The kernel's iflink: a veth's peer (an ifindex of the peer's namespace), a VLAN's parent, else its own ifindex. */
  iflink(name: string): number | null;
  features(name: string): Map<string, LinkFeatureState> | null;
  vlanDevices(): VlanDevice[];
  /** Complete IPv4 neighbour entries (/proc/net/arp). */
  neighbours(): { ip: string; mac: string; dev: string }[];
}

// The dataplane's errors live in errors.ts; these are re-exported here for existing importers.
export { ReadOnlyError, LockedError, VlanUnavailableError } from './errors.js';
