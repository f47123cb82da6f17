// A small in-memory Host / Dataplane for the CLI's unit tests: it records every write so a test
// can assert that bad input changed nothing.
import { DEFAULT_HASH, formatMac, formatVip, parseMac, type VipKey, type VlanMappingText } from '../../src/dataplane/abi.js';
import { FakeVlans } from '../helpers/fake-vlans.js';
import { checkVlanMappings } from '../../src/dataplane/rules.js';
import { checkHashChange } from '../../src/dataplane/rules.js';
import {
  ReadOnlyError, type AttachRequest, type BalancerConfig, type BalancerInfo, type BalancerSummary, type ChangeOptions, type ChangeResult, type Dataplane,
  type HashKind, type Host, type InterfaceInfo, type InterfaceState, type PendingChange, type ReasonsSample, type StatsSample, type TraceRequest, type TraceResult, type VipFlagName, type VipSpec, type VipState, type VlanStat, type LinkProbe,
  type FlowEntry, type FlowList, type FlowQuery, type PurgeResult,
} from '../../src/dataplane/types.js';
import { checkFlowQuery } from '../../src/dataplane/lru/query.js';
import { arpEntries, vlanConfigEntries } from '../../src/dataplane/vlan-checks.js';
import type { CliDeps, Out } from '../../src/cli/context.js';
import type { DoctorProbe } from '../../src/cli/context.js';

interface FakeVip { key: VipKey; flags: VipFlagName[]; hash: HashKind; reals: Map<string, number> }

export class FakeBox {
  vips = new Map<string, FakeVip>();
  mac: string | null = '02:00:00:00:00:01';
  quic: { id: number; real: string }[] = [];
  /** What sample() reports as drop / pass reasons (null: a program without kt_reasons). */
  reasons: ReasonsSample | null = null;
  writes: string[] = [];
  vlans = new FakeVlans();
  /** Per-VLAN counters of every sample (null when the VLAN maps are not available). */
  vlanStats: VlanStat[] = [];
  /** The box's interfaces (host.interfaces()). */
  links = ['veth-lb'];
  attached = new Map<string, AttachRequest>();
  opened: { intf: string; readOnly: boolean }[] = [];
  failOn: string | null = null;
  /** Interfaces that vanished while their pins stayed. */
  gone = new Set<string>();
  /** Of those, interfaces of the same name that exist again (re-attach possible). */
  back = new Set<string>();
  /** Interfaces renamed while attached: old name -> new name. */
  renamed = new Map<string, string>();
  ifState(intf: string): InterfaceState {
    if (this.gone.has(intf)) {
      return this.back.has(intf)
        ? { status: 'gone', intf, ifindex: 7, reappeared: { ifindex: 9 }, canReattach: true, message: `interface ${intf} (ifindex 7) was deleted; ${intf} exists again as ifindex 9: re-attach the pinned program there (the same maps: VIPs, reals and LRU kept)` }
        : { status: 'gone', intf, ifindex: 7, canReattach: false, message: `interface ${intf} (ifindex 7) is gone: its XDP attachment went with it, nothing is balanced; the program and maps stay pinned until ${intf} is back to re-attach them` };
    }
    const to = this.renamed.get(intf);
    if (to) return { status: 'renamed', intf: to, from: intf, ifindex: 7, canReattach: false, message: `interface renamed ${intf} -> ${to} (ifindex 7): still attached and forwarding; pins and state stay under ${intf}` };
    return { status: 'ok', intf, ifindex: 7, canReattach: false, message: `attached to ${intf} (ifindex 7)` };
  }
  /** Flows held in the LRUs. */
  flows: FlowEntry[] = [];
  /** Run-time statistics turned on by a command. */
  runTime = false;
  /** A change a killed writer left unfinished; a writable open finishes it (as the real one does). */
  pending: PendingChange | null = null;
  counter = 0;
  snapshot(): string {
    return JSON.stringify({ vips: [...this.vips.entries()].map(([k, v]) => [k, v.flags, v.hash, [...v.reals]]), mac: this.mac, att: [...this.attached.keys()], vlans: this.vlans.rows });
  }
}

const pair = (v1 = 0, v2 = 0, r1 = 0, r2 = 0) => ({ v1, v2, r1, r2 });

export class FakeDp implements Dataplane {
  closed = false;
  private recovered: string[] = [];
  constructor(private box: FakeBox, private intf: string, private ro: boolean) {
    if (!ro && box.pending) {
      this.recovered.push(`an interrupted change ${box.pending.op} ${box.pending.target} (started ${box.pending.at} by pid ${box.pending.pid}) was finished: the kernel and the state file now hold it`);
      box.pending = null;
      box.writes.push('recover');
    }
  }
  private change(op: string, o: ChangeOptions | undefined, summary: string, fn: () => void): ChangeResult {
    if (this.ro) throw new ReadOnlyError('opened read-only');
    if (this.box.failOn && op.startsWith(this.box.failOn)) throw new Error(`${op}: injected failure`);
    if (!o?.dryRun) {
      fn();
      this.box.writes.push(op);
    }
    return { applied: !o?.dryRun, summary: [summary], warnings: [] };
  }
  private get(key: VipKey): FakeVip {
    const v = this.box.vips.get(formatVip(key));
    if (!v) throw new Error(`VIP ${formatVip(key)} does not exist`);
    return v;
  }
  info(): BalancerInfo {
    return {
      intf: this.intf, ifindex: 7, mode: 'native', progId: 42, progTag: 'abcdef0123456789', progName: 'balancer_ingress', attachedAt: 1_700_000_000_000,
      cpus: 2, forwardingCpus: [0, 1], defaultMac: this.box.mac, owner: 'katran-tui', readOnly: this.ro,
      capacity: { vips: this.box.vips.size, maxVips: 4, reals: 0, maxReals: 16, ringSize: 65537 },
      vipFlagsSupported: ['no-sport', 'no-lru', 'dport-hash', 'hash-src-dst-port'], healthcheck: null, interfaceState: this.box.ifState(this.intf),
      pendingChange: this.box.pending, recovered: [...this.recovered],
    };
  }
  sample(): StatsSample {
    this.box.counter++;
    const n = this.box.counter * 100;
    const global = {
      lru: pair(n, 3), lruMiss: pair(1, 2), newConnRate: pair(), fallbackLru: pair(), icmpTooBig: pair(), encapFail: pair(), chDrop: pair(0, 1), quicIcmp: pair(), icmpPtbV6: pair(), icmpPtbV4: pair(), udpFlowMigration: pair(), zeroMacDrop: pair(),
      xdpTotal: pair(n, n * 100, 100, 10000), xdpTx: pair(n - 5, 0, 99, 9900), xdpDrop: pair(5, 500, 1, 100), xdpPass: pair(),
    };
    return {
      at: 1_700_000_000_000 + this.box.counter * 1000, elapsedMs: this.box.counter > 1 ? 1000 : 0, global,
      perCpu: [{ cpu: 0, total: pair(n), tx: pair(n), drop: pair(), pass: pair() }],
      vips: [...this.box.vips.keys()].map((id) => ({ id, key: this.box.vips.get(id)!.key, packets: n, bytes: n * 60, pps: 10, bps: 4800 })),
      reals: [{ index: 1, address: '198.51.100.1', packets: n, bytes: n * 80, pps: 10, bps: 6400 }],
      healthcheck: null, resets: [], underFlood: false, reasons: this.box.reasons,
      vlans: this.box.vlans.available ? this.box.vlanStats.map((v) => ({ ...v })) : null,
    };
  }
  vips(): VipState[] {
    return [...this.box.vips.values()].map((v, i) => ({
      id: formatVip(v.key), key: v.key, flags: v.flags, hash: v.hash, vipNum: i,
      reals: [...v.reals].map(([address, weight], j) => ({ address, weight, index: j + 1, ringSlots: 100, ringShare: 1 / v.reals.size })),
    }));
  }
  addVip(spec: VipSpec, o?: ChangeOptions): ChangeResult {
    const key = { address: spec.address, port: spec.port, proto: spec.proto };
    const id = formatVip(key);
    if (this.box.vips.has(id)) throw new Error(`VIP ${id} exists`);
    if (this.box.vips.size >= 4) throw new Error('add VIP: map full (4)');
    return this.change(`addVip ${id}`, o, `add VIP ${id}`, () => this.box.vips.set(id, { key, flags: spec.flags ?? [], hash: spec.hash ?? DEFAULT_HASH, reals: new Map() }));
  }
  removeVip(key: VipKey, o?: ChangeOptions): ChangeResult {
    this.get(key);
    return this.change(`removeVip ${formatVip(key)}`, o, `remove VIP ${formatVip(key)}`, () => this.box.vips.delete(formatVip(key)));
  }
  setVipFlags(key: VipKey, flags: VipFlagName[], o?: ChangeOptions): ChangeResult {
    const v = this.get(key);
    return this.change(`setVipFlags ${formatVip(key)}`, o, 'flags', () => { v.flags = flags; });
  }
  addReal(key: VipKey, real: { address: string; weight?: number }, o?: ChangeOptions): ChangeResult {
    const v = this.get(key);
    if (v.reals.has(real.address)) throw new Error(`real ${real.address} already in ${formatVip(key)}`);
    return this.change(`addReal ${formatVip(key)} ${real.address}`, o, `add real ${real.address}`, () => v.reals.set(real.address, real.weight ?? 1));
  }
  removeReal(key: VipKey, address: string, o?: ChangeOptions): ChangeResult {
    const v = this.get(key);
    if (!v.reals.has(address)) throw new Error(`real ${address} not in ${formatVip(key)}`);
    return this.change(`removeReal ${formatVip(key)} ${address}`, o, `remove real ${address}`, () => v.reals.delete(address));
  }
  setRealWeight(key: VipKey, address: string, weight: number, o?: ChangeOptions): ChangeResult {
    const v = this.get(key);
    if (!v.reals.has(address)) throw new Error(`real ${address} not in ${formatVip(key)}`);
    const r = this.change(`setRealWeight ${formatVip(key)} ${address}`, o, `weight ${address} -> ${weight}`, () => v.reals.set(address, weight));
    return { ...r, movedShare: 0.25 };
  }
  applyConfig(cfg: BalancerConfig, o?: ChangeOptions): ChangeResult {
    // All or nothing, like the real one: build the new state aside, then swap it in.
    const next = new Map<string, FakeVip>();
    for (const v of cfg.vips) {
      const id = formatVip(v.key);
      const cur = this.box.vips.get(id);
      if (cur) checkHashChange(cur.key, cur.hash, v.hash ?? DEFAULT_HASH);
      if (this.box.failOn && `applyConfig ${id}`.startsWith(this.box.failOn)) throw new Error(`applyConfig ${id}: injected failure`);
      next.set(id, { key: v.key, flags: v.flags ?? [], hash: v.hash ?? DEFAULT_HASH, reals: new Map((v.reals ?? []).map((r) => [r.address, r.weight])) });
    }
    if (next.size > 4) throw new Error('apply config: map full (4)');
    if (cfg.vlans) this.box.vlans.setAll(cfg.mac ?? this.box.mac, cfg.vlans, [], true); // the planner's rules, before anything
    return this.change('applyConfig', o, `apply config: ${next.size} VIPs`, () => {
      if (cfg.vlans) this.box.vlans.setAll(cfg.mac ?? this.box.mac, cfg.vlans, [], false);
      this.box.vips = next;
      if (cfg.mac) this.box.mac = cfg.mac;
    });
  }
  quicMappings() { return this.box.quic.map((q, i) => ({ ...q, index: i + 1 })); }
  addQuicMapping(id: number | string, real: string, o?: ChangeOptions): ChangeResult {
    return this.change(`addQuicMapping ${id}`, o, `map QUIC server id ${id} -> ${real}`, () => { this.box.quic = [...this.box.quic.filter((q) => q.id !== Number(id)), { id: Number(id), real }]; });
  }
  removeQuicMapping(id: number | string, o?: ChangeOptions): ChangeResult {
    return this.change(`removeQuicMapping ${id}`, o, `unmap QUIC server id ${id}`, () => { this.box.quic = this.box.quic.filter((q) => q.id !== Number(id)); });
  }
  setRealDown(key: VipKey, address: string, down: boolean, o?: ChangeOptions): ChangeResult {
    this.get(key);
    return this.change(`setRealDown ${formatVip(key)} ${address}`, o, `mark ${address} ${down ? 'down' : 'up'}`, () => undefined);
  }
  getDefaultMac(): string | null { return this.box.mac; }
  vlans(): VlanMappingText[] | null { return this.box.vlans.list(); }
  private vlanChange(op: string, o: ChangeOptions | undefined, run: (dry: boolean) => ChangeResult): ChangeResult {
    if (this.ro) throw new ReadOnlyError('opened read-only');
    const r = run(!!o?.dryRun);
    if (!o?.dryRun && r.summary.length) this.box.writes.push(op);
    return r;
  }
  addVlan(mapping: string, mac?: string | null, o?: ChangeOptions & { replace?: boolean }): ChangeResult {
    return this.vlanChange('addVlan', o, (dry) => this.box.vlans.add(this.box.mac, mapping, mac, dry, !!o?.replace));
  }
  removeVlan(vlan: string, o?: ChangeOptions): ChangeResult {
    return this.vlanChange('removeVlan', o, (dry) => this.box.vlans.remove(this.box.mac, vlan, dry));
  }
  setVlanMac(egress: string, mac: string, o?: ChangeOptions): ChangeResult {
    return this.vlanChange('setVlanMac', o, (dry) => this.box.vlans.setMac(this.box.mac, egress, mac, dry));
  }
  setDefaultMac(mac: string, o?: ChangeOptions): ChangeResult {
    return this.change('setDefaultMac', o, `default MAC -> ${mac}`, () => { this.box.mac = mac; });
  }
  healthcheck() { return null; }
  trace(req: TraceRequest): TraceResult {
    const v = this.get(req.vip);
    const reals = [...v.reals.keys()];
    const real = reals.length ? reals[req.sport % reals.length] : null;
    return {
      vip: formatVip(req.vip), real, action: real ? 'TX' : 'DROP', steps: ['VIP match', `ring slot ${req.sport % 65537}`], ringSlot: req.sport % 65537, confirmedByKernel: true,
      ...(real ? {} : { reason: 'slot_empty' as const }),
    };
  }
  changeLog() { return []; }
  flows(q: FlowQuery): FlowList {
    const f = checkFlowQuery(q);
    const m = this.box.flows.filter((e) => (!f.vip || e.vip === formatVip(f.vip)) && (!f.real || e.real === f.real) && (!f.client || e.client.startsWith(`${f.client.address}:`)));
    const per = new Map<string, number>();
    for (const e of m) per.set(e.real ?? '?', (per.get(e.real ?? '?') ?? 0) + 1);
    return { intf: this.intf, flows: m.slice(0, f.limit), truncated: m.length > f.limit, matched: m.length, perReal: [...per].map(([real, flows]) => ({ real, flows })), read: this.box.flows.length, capacity: 4096, cursor: null };
  }
  runTimeStats(on?: boolean): { on: boolean; costNs: number } {
    if (on !== undefined) this.box.runTime = on;
    return { on: this.box.runTime, costNs: 72 };
  }
  purgeFlows(q: { vip: VipKey; real?: string }, o?: ChangeOptions): PurgeResult {
    const hit = (e: FlowEntry) => e.vip === formatVip(q.vip) && (!q.real || e.real === q.real);
    const n = this.box.flows.filter(hit).length;
    const summary = `purge flows of ${formatVip(q.vip)} from the LRU: ${n} flow(s)`;
    if (o?.dryRun) return { applied: false, summary: [summary], warnings: [], flows: n };
    const r = this.change('lru purge', o, summary, () => { this.box.flows = this.box.flows.filter((e) => !hit(e)); });
    return { ...r, flows: n };
  }
  reattach(o?: ChangeOptions): ChangeResult {
    const st = this.box.ifState(this.intf);
    if (!st.canReattach) throw new Error(`re-attach balancer of ${this.intf}: ${st.status === 'gone' ? `interface ${this.intf} (ifindex 7) is gone and no interface ${this.intf} exists: create it first` : `program 42 is attached to ${st.intf} (ifindex 7): nothing to re-attach`}`);
    return this.change('reattach', o, `re-attach program 42 to ${this.intf} (ifindex 9) with the same maps`, () => { this.box.gone.delete(this.intf); this.box.back.delete(this.intf); });
  }
  detach(o?: ChangeOptions): ChangeResult {
    return this.change('detach', o, `detach from ${this.intf}`, () => this.box.attached.delete(this.intf));
  }
  close(): void { this.closed = true; }
}

export const KNOWN_INTERFACES = ['veth-lb', 'veth-new', 'a0', 'b0'];

export class FakeHost implements Host {
  constructor(readonly box: FakeBox) {}
  interfaces(): InterfaceInfo[] {
    return this.box.links.map((name, i) => ({ name, ifindex: 7 + i, up: true, mac: '02:00:00:00:00:02', mtu: 1500, xdp: null, defaultRoute: false })).filter((i) => !this.box.gone.has(i.name));
  }
  balancers(): BalancerSummary[] {
    return [...this.box.attached.keys()].map((intf) => {
      const st = this.box.ifState(intf);
      return { intf: st.intf, ifindex: 7, progId: 42, mode: this.box.gone.has(intf) ? 'unknown' as const : 'native' as const, owner: 'katran-tui' as const, pinDir: `/sys/fs/bpf/katran-tui/${intf}`, tag: 'abcdef0123456789', interfaceState: st, pendingChange: this.box.pending };
    });
  }
  open(intf: string, o?: { readOnly?: boolean; detached?: boolean }): Dataplane {
    if (!this.box.attached.has(intf)) throw new Error(`no balancer on ${intf}`);
    if (this.box.gone.has(intf) && !o?.detached) throw new Error(`open balancer on ${intf}: interface ${intf} (ifindex 7) no longer exists`);
    this.box.opened.push({ intf, readOnly: !!o?.readOnly });
    return new FakeDp(this.box, intf, !!o?.readOnly);
  }
  attach(req: AttachRequest, o?: ChangeOptions): { dataplane: Dataplane | null; result: ChangeResult } {
    for (const i of [req.intf, req.hcIntf]) if (i !== undefined && !KNOWN_INTERFACES.includes(i)) throw new Error(`attach: no interface ${i}`);
    if (this.box.attached.has(req.intf)) throw new Error(`${req.intf} already has a balancer`);
    if (req.vlans?.length || req.vlanMacs?.length) checkVlanMappings(req.vlans ?? [], formatMac(parseMac(req.defaultMac)), req.vlanMacs ?? []);
    if (!o?.dryRun && req.vlans?.length) this.box.vlans.setAll(req.defaultMac, req.vlans, req.vlanMacs ?? [], false);
    if (!o?.dryRun) {
      this.box.attached.set(req.intf, req);
      this.box.mac = req.defaultMac;
      this.box.writes.push(`attach ${req.intf}`);
    }
    return { dataplane: o?.dryRun ? null : new FakeDp(this.box, req.intf, false), result: { applied: !o?.dryRun, summary: [`attach to ${req.intf} (native)`], warnings: [] } };
  }
}

class Sink implements Out {
  text = '';
  constructor(public isTTY = false) {}
  write(s: string) { this.text += s; return true; }
}

export interface Run { code: number; out: string; err: string; box: FakeBox }

export function fakeDeps(box: FakeBox, o: { tty?: boolean; root?: boolean; files?: Record<string, string>; probe?: Partial<DoctorProbe>; env?: Record<string, string> } = {}) {
  const stdout = new Sink(!!o.tty), stderr = new Sink();
  const consoleCalls: unknown[] = [];
  const deps: CliDeps = {
    stdout, stderr, stdinIsTTY: !!o.tty, env: o.env ?? {},
    isRoot: () => o.root ?? true,
    createHost: () => new FakeHost(box),
    runConsole: async (opts) => { consoleCalls.push(opts); },
    runDemo: async () => 0,
    readInput: async (p) => {
      if (o.files && p in o.files) return o.files[p];
      throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
    },
    sleep: async () => {},
    onInterrupt: () => () => {},
    identity: () => ({ version: '9.9.9', object: '/x/dist/bpf/balancer.bpf.o', sha256: 'ab'.repeat(32) }),
    probe: {
      readFile: () => null, readdir: () => null, readlink: () => null, libbpfVersion: () => '1.1', removeDir: () => {},
      link: () => fileLinkProbe(deps.probe!.readFile),
      ...o.probe,
    },
  };
  return { deps, stdout, stderr, consoleCalls };
}

/**
 * A LinkProbe with no interfaces that reads the neighbour and VLAN tables through `readFile` (so a
 * test's /proc/net/arp and /proc/net/vlan/config files are what doctor sees); `over` replaces parts.
 */
export function fileLinkProbe(readFile: (p: string) => string | null, over: Partial<LinkProbe> = {}): LinkProbe {
  return {
    ifindex: () => 0, name: () => null, driver: () => null, iflink: () => null, features: () => null,
    vlanDevices: () => vlanConfigEntries(readFile('/proc/net/vlan/config') ?? ''),
    neighbours: () => arpEntries(readFile('/proc/net/arp') ?? ''),
    ...over,
  };
}

export function attachedBox(intf = 'veth-lb'): FakeBox {
  const box = new FakeBox();
  box.attached.set(intf, { intf, defaultMac: '02:00:00:00:00:01' });
  return box;
}
