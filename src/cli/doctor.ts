// doctor: checks of the box, each with a verdict and, when it is not ok, a fix.
import { join } from 'node:path';
import { DEFAULTS } from '../dataplane/abi.js';
import type { BalancerSummary, Host, InterfaceInfo, LinkProbe, ReasonsSample, VlanMappingText, VlanStat } from '../dataplane/types.js';
import { REASON_ADVICE, busiestReasons } from '../dataplane/rules.js';
import {
  arpEntries, egressGateways, offloadFixes, offloadText, unparsedVlans, vlanInterfaceOn, vlanOffload, vlanParentOf,
} from '../dataplane/vlan-checks.js';
import type { Ctx, DoctorProbe } from './context.js';
import { table } from './format.js';

export type Verdict = 'ok' | 'warn' | 'fail' | 'info';
export interface Check { check: string; verdict: Verdict; detail: string; fix?: string }

/** Drivers with native XDP (ndo_bpf) in mainline kernels. */
const NATIVE_XDP_DRIVERS = new Set([
  'veth', 'virtio_net', 'tun', 'mlx5_core', 'mlx4_en', 'mlx4_core', 'i40e', 'ice', 'ixgbe', 'ixgbevf', 'igb', 'igc', 'bnxt_en', 'ena',
  'nfp', 'qede', 'thunder-nicvf', 'dpaa2-eth', 'hv_netvsc', 'netsec', 'mvneta', 'mvpp2', 'stmmac', 'sfc', 'cpsw', 'fec', 'gve', 'atlantic',
  'lan966x-switch', 'enetc', 'bond', 'tsnep', 'octeontx2-nicpf', 'mana', 'idpf', 'ionic',
]);

export function driverOf(p: DoctorProbe, intf: string): { driver: string | null; kind: string | null } {
  const link = p.readlink(`/sys/class/net/${intf}/device/driver`);
  const uevent = p.readFile(`/sys/class/net/${intf}/uevent`) ?? '';
  const devtype = /^DEVTYPE=(.*)$/m.exec(uevent)?.[1] ?? null;
  return { driver: link ? link.split('/').pop() ?? null : devtype, kind: devtype };
}

export function nativeXdpWhy(p: DoctorProbe, intf: string): { native: boolean | null; why: string; driver: string | null } {
  return { ...nativeWhy(p, intf), driver: driverOf(p, intf).driver };
}

function nativeWhy(p: DoctorProbe, intf: string): { native: boolean | null; why: string } {
  const { driver, kind } = driverOf(p, intf);
  if (kind === 'vlan') {
    return { native: false, why: `${intf} is a VLAN sub-interface: the 8021q driver has no native XDP, so only generic (skb) mode works there; native needs the parent interface with --vlan (see the VLAN sub-interface check)` };
  }
  if (driver && NATIVE_XDP_DRIVERS.has(driver)) return { native: true, why: `driver ${driver} supports native XDP` };
  if (driver) return { native: false, why: `driver ${driver} is not known to support native XDP: attach --xdp-mode auto falls back to generic (slower: the packet has already been turned into an skb)` };
  if (p.readlink(`/sys/class/net/${intf}`)?.includes('/virtual/')) {
    return { native: null, why: `${intf} is a virtual device (veth, tun, bridge...): veth and tun run XDP natively, most others only in generic mode` };
  }
  return { native: null, why: 'driver unknown' };
}

export { arpEntries };

/** The top drop reasons since the program was loaded (info: counters since load say nothing about now). */
export function dropReasonsCheck(intf: string, r: ReasonsSample | null): Check {
  const check = `${intf} drop reasons`;
  if (!r) return { check, verdict: 'info', detail: 'not available for this program (it has no kt_reasons map)' };
  const top = busiestReasons(r.drop, 3);
  if (!top.length) return { check, verdict: 'info', detail: 'nothing dropped since the program was loaded' };
  return {
    check, verdict: 'info',
    detail: `since the program was loaded: ${top.map((x) => `${x.reason} ${x.packets} (${REASON_ADVICE[x.reason].label})`).join(', ')}`,
    fix: `${top[0].reason}: ${REASON_ADVICE[top[0].reason].advice}`,
  };
}

function readNum(p: DoctorProbe, path: string): number | null {
  const t = p.readFile(path);
  return t === null ? null : Number(t.trim());
}

/**
 * The VLAN checks of one interface: a VLAN sub-interface's parent (native mode there with --vlan),
 * the offload settings that hide tags from XDP (vlan-checks.ts, shared with attach), VIP traffic on
 * VLANs the balancer does not parse, and each egress VLAN's gateway MAC in the neighbour table of
 * that VLAN's interface, where there is one (a warning, never a refusal).
 */
export function vlanChecks(link: LinkProbe, intf: string, vlans: readonly VlanMappingText[], stats: readonly VlanStat[] | null, defaultMac: string | null): Check[] {
  const out: Check[] = [];
  const devices = link.vlanDevices();
  const sub = vlanParentOf(devices, intf);
  if (sub) {
    out.push({
      check: `${intf} VLAN sub-interface`, verdict: 'info',
      detail: `${intf} is VLAN ${sub.vlan} on ${sub.parent}: XDP runs in generic mode only here (about 0.3 of native); native mode is possible on the parent ${sub.parent} with --vlan ${sub.vlan}: the balancer parses the tag itself`,
      fix: `katran-tui attach --intf ${sub.parent} --vlan ${sub.vlan} --default-mac MAC (VLAN ${sub.vlan}'s gateway; ${sub.parent}'s switch port must carry VLAN ${sub.vlan} tagged)`,
    });
  }

  const configured = vlans.length > 0;
  const r = vlanOffload(link, intf, { pairs: vlans.some((v) => v.ingress.includes('.')) });
  const where = r.peer ? `; its peer ${r.peer.intf ?? `(ifindex ${r.peer.ifindex}, another network namespace)`}: ${r.peer.intf ? offloadText(r.peer) : 'not readable from here'}` : '';
  const seen = (stats ?? []).some((v) => v.configured && v.balanced.packets > 0);
  let verdict: Check['verdict'] = 'info';
  let why: string;
  let fix: string | undefined;
  if (r.hiding.length) {
    verdict = configured ? 'warn' : 'info';
    why = configured ? r.effect : `these matter only with --vlan: ${r.effect}`;
    fix = offloadFixes(r).join('; ');
  } else if (r.unread) {
    verdict = configured && !seen ? 'warn' : 'info';
    why = `${r.unread}${seen ? ' (tagged VIP traffic was balanced, so tags do reach XDP)' : ''}`;
    fix = configured ? r.unread : undefined;
  } else {
    verdict = configured ? 'ok' : 'info';
    why = r.peer ? 'the peer sends the tags in the frame: XDP sees them' : 'no rx VLAN offload strips the tags: XDP sees them';
  }
  out.push({ check: `${intf} VLAN offload`, verdict, detail: `${intf}: ${offloadText(r.own)}${where}: ${why}`, ...(fix ? { fix } : {}) });

  for (const u of unparsedVlans(stats)) out.push({ check: `${intf} VLAN ${u.vlan ?? '802.1ad pairs'}`, verdict: 'warn', detail: u.detail, fix: u.fix });

  const arp = configured ? link.neighbours() : [];
  for (const g of egressGateways(vlans, defaultMac)) {
    if (!g.mac) continue; // no MAC at all: the default MAC check fails already
    const whose = `VLAN ${g.vlan}'s gateway ${g.mac}${g.own ? '' : ' (the default MAC)'}`;
    const dev = vlanInterfaceOn(devices, sub?.parent ?? intf, g.vlan);
    const check = `${intf} VLAN ${g.vlan} gateway`;
    if (!dev) {
      out.push({ check, verdict: 'info', detail: `${whose}: no VLAN ${g.vlan} interface on ${intf} to look it up in a neighbour table (the balancer needs none); check it on a host in VLAN ${g.vlan} (ip neigh)` });
      continue;
    }
    const here = arp.find((a) => a.mac === g.mac && a.dev === dev);
    const elsewhere = arp.find((a) => a.mac === g.mac && a.dev !== dev);
    if (here) out.push({ check, verdict: 'ok', detail: `${whose} is ${here.ip} in the neighbour table of ${dev}` });
    else {
      out.push({
        check, verdict: 'warn',
        detail: `${whose} is not in the neighbour table of ${dev}${elsewhere ? ` (it is a neighbour on ${elsewhere.dev})` : ''}: frames leaving on VLAN ${g.vlan} may go nowhere`,
        fix: `ping the gateway through ${dev}, then ip neigh show dev ${dev}; katran-tui vlan mac ${g.vlan} MAC sets VLAN ${g.vlan}'s gateway`,
      });
    }
  }
  return out;
}

export async function doctorChecks(ctx: Ctx, p: DoctorProbe, o: { clean?: boolean }): Promise<Check[]> {
  const checks: Check[] = [];
  const root = ctx.deps.isRoot();
  checks.push(root ? { check: 'root', verdict: 'ok', detail: 'running as root' }
    : { check: 'root', verdict: 'fail', detail: 'not root: BPF and XDP need CAP_BPF / CAP_NET_ADMIN', fix: 'run as root (sudo katran-tui ...)' });

  const mounts = p.readFile('/proc/mounts') ?? '';
  const bpffs = mounts.split('\n').map((l) => l.split(' ')).filter((c) => c[2] === 'bpf').map((c) => c[1]);
  const pinUnder = bpffs.filter((m) => ctx.common.pinRoot === m || ctx.common.pinRoot.startsWith(`${m}/`));
  checks.push(pinUnder.length ? { check: 'bpffs', verdict: 'ok', detail: `bpffs mounted at ${pinUnder[0]} (pin root ${ctx.common.pinRoot})` }
    : { check: 'bpffs', verdict: 'fail', detail: `no bpffs holds the pin root ${ctx.common.pinRoot}${bpffs.length ? ` (bpffs at ${bpffs.join(', ')})` : ''}: pins cannot survive the process`, fix: 'mount -t bpf bpf /sys/fs/bpf (bash scripts/setup.sh does it)' });

  try {
    const v = await p.libbpfVersion();
    checks.push({ check: 'libbpf', verdict: 'ok', detail: `libbpf ${v} (>= 1.1 needed)` });
  } catch (e) {
    checks.push({ check: 'libbpf', verdict: 'fail', detail: (e as Error).message, fix: 'apt-get install libbpf1 (Debian 12+ / Ubuntu 24.04+)' });
  }

  const id = ctx.deps.identity();
  checks.push(id.sha256 ? { check: 'bundled object', verdict: 'ok', detail: `${id.object} sha256 ${id.sha256.slice(0, 16)}…` }
    : { check: 'bundled object', verdict: 'fail', detail: `${id.object} is missing`, fix: 'npm run build (clang compiles bpf/)' });

  // docs/abi.md: ARRAY maps are allocated whole at load, values rounded up to 8 bytes.
  checks.push({
    check: 'kernel memory', verdict: 'info',
    detail: `each balancer holds about ${Math.round((DEFAULTS.maxVips * DEFAULTS.ringSize * 8) / 2 ** 20)} MiB for ch_rings and ${Math.round((DEFAULTS.quicServerIds * 8) / 2 ** 20)} MiB for server_id_map (QUIC server ids 1-${DEFAULTS.quicServerIds - 1}, Katran's size), allocated at attach whether or not a VIP uses QUIC (attach --quic-server-ids N sizes it: ids N and up then fall back to hashing, unlike on Katran)`,
  });

  let host: Host | null = null;
  let balancers: BalancerSummary[] = [];
  let interfaces: InterfaceInfo[] = [];
  if (root) {
    try {
      host = await ctx.host();
      balancers = host.balancers();
      interfaces = host.interfaces();
    } catch (e) {
      checks.push({ check: 'dataplane', verdict: 'fail', detail: (e as Error).message });
    }
  }

  const intfs = ctx.common.intf ? [ctx.common.intf] : balancers.map((b) => b.intf);
  let link: LinkProbe | null = null;
  if (intfs.length) {
    try {
      link = await p.link();
    } catch (e) {
      checks.push({ check: 'VLAN checks', verdict: 'warn', detail: `cannot read the interfaces' offload features: ${(e as Error).message}` });
    }
  }
  ctx.pending = balancers.find((b) => intfs.includes(b.intf) && b.pendingChange)?.pendingChange ?? null;
  if (intfs.length === 0) checks.push({ check: 'interfaces', verdict: 'info', detail: 'no balancer attached: pass --intf IF to check an interface before attaching' });
  for (const intf of intfs) {
    const ii = interfaces.find((i) => i.name === intf);
    const b = balancers.find((x) => x.intf === intf);
    const st = b?.interfaceState;
    if (st && st.status !== 'ok') {
      const fix = st.canReattach ? `katran-tui reattach --intf ${st.intf} (the same program and maps: VIPs and LRU kept)`
        : st.status === 'gone' ? `recreate ${st.intf}, then katran-tui reattach --intf ${st.intf}; or katran-tui detach --intf ${st.intf} to drop the balancer`
          : st.status === 'renamed' ? `none needed; katran-tui --intf ${st.intf} opens it (pins stay under ${b!.pinDir ?? st.from})`
            : `detach the other program, then katran-tui reattach --intf ${st.intf}; or katran-tui detach --intf ${st.intf}`;
      checks.push({ check: `${intf} interface`, verdict: st.status === 'renamed' ? 'warn' : 'fail', detail: st.message, fix });
      if (st.status === 'gone') continue;
    }
    if (!ii && root && host) {
      checks.push({ check: `${intf}`, verdict: 'fail', detail: `no interface ${intf} on this box`, fix: 'ip -br link lists the interfaces' });
      continue;
    }
    const nat = nativeXdpWhy(p, intf);
    if (b) {
      if (b.mode === 'native') checks.push({ check: `${intf} XDP mode`, verdict: 'ok', detail: `native: the driver runs the program before the kernel allocates an skb${nat.driver ? ` (driver ${nat.driver})` : ''}` });
      else checks.push({ check: `${intf} XDP mode`, verdict: 'warn', detail: `${b.mode}: ${nat.why}`, fix: nat.native ? `re-attach with --xdp-mode native (katran-tui detach --intf ${intf}; katran-tui attach --intf ${intf} --xdp-mode native ...)` : 'attach to an interface whose driver has native XDP for full speed' });
    } else {
      checks.push({ check: `${intf} XDP mode`, verdict: nat.native === false ? 'warn' : 'info', detail: `not attached; ${nat.native ? 'native expected' : nat.native === false ? 'generic expected' : 'mode unknown'}: ${nat.why}` });
    }
    if (ii) {
      checks.push(ii.mtu >= 1540
        ? { check: `${intf} MTU`, verdict: 'ok', detail: `MTU ${ii.mtu}: room for a 1500-byte packet plus 40 bytes of IP6IP6 (20 of IPIP)` }
        : { check: `${intf} MTU`, verdict: 'warn', detail: `MTU ${ii.mtu}: a full-size ${Math.min(ii.mtu, 1500)}-byte packet grows by 20 (IPIP) / 40 (IP6IP6) bytes and exceeds it on the way to the reals`,
          fix: `raise the MTU of ${intf} and of the path to the reals to >= ${Math.min(ii.mtu, 1500) + 40} (ip link set dev ${intf} mtu ${Math.min(ii.mtu, 1500) + 40}), or clamp the clients' TCP MSS by 40 bytes` });
    }
    const all = readNum(p, '/proc/sys/net/ipv4/conf/all/rp_filter');
    const own = readNum(p, `/proc/sys/net/ipv4/conf/${intf}/rp_filter`);
    if (all !== null || own !== null) {
      const eff = Math.max(all ?? 0, own ?? 0);
      checks.push(eff === 1
        ? { check: `${intf} rp_filter`, verdict: 'warn', detail: `rp_filter is strict (1) on ${intf}: VIP traffic is balanced in XDP before rp_filter, but packets the program passes (healthchecks, anything asymmetric) may be dropped; the reals need it off (0 or 2) on their tunnel devices`, fix: `sysctl -w net.ipv4.conf.${intf}.rp_filter=2 net.ipv4.conf.all.rp_filter=2` }
        : { check: `${intf} rp_filter`, verdict: 'ok', detail: `rp_filter ${eff} (${eff === 0 ? 'off' : 'loose'}); the reals need 0 or 2 on their tunnel devices too` });
    }
    if (b?.pendingChange) {
      checks.push({
        check: `${intf} pending change`, verdict: 'fail', detail: b.pendingChange.message,
        fix: `katran-tui recover --intf ${intf} (--dry-run first shows what it finishes); any change finishes it too`,
      });
    }
    let mac: string | null = null;
    let vlans: VlanMappingText[] = [];
    let vlanStats: VlanStat[] | null = null;
    if (b && host) {
      let reasons: ReasonsSample | null | undefined;
      let read = false;
      try {
        const dp = host.open(intf, { readOnly: true });
        try {
          mac = dp.getDefaultMac();
          read = true;
          vlans = dp.vlans() ?? [];
          const sample = dp.sample();
          vlanStats = sample.vlans ?? null;
          reasons = sample.reasons;
        } finally { dp.close(); }
      } catch (e) {
        checks.push({ check: `${intf} ${read ? 'VLANs' : 'default MAC'}`, verdict: 'warn', detail: `cannot read ${read ? 'the VLAN mappings and counters' : 'it'}: ${(e as Error).message}` });
      }
      if (mac === null) {
        checks.push({ check: `${intf} default MAC`, verdict: 'fail', detail: 'not set: encapsulated packets have no next hop', fix: 'katran-tui mac set MAC (the gateway\'s MAC, see ip neigh)' });
      } else {
        const arp = link ? link.neighbours() : arpEntries(p.readFile('/proc/net/arp') ?? '');
        const here = arp.filter((a) => a.mac === mac && a.dev === intf);
        const elsewhere = arp.filter((a) => a.mac === mac && a.dev !== intf);
        if (here.length) checks.push({ check: `${intf} default MAC`, verdict: 'ok', detail: `${mac} is ${here[0].ip} in the neighbour table of ${intf}` });
        else if (elsewhere.length) checks.push({ check: `${intf} default MAC`, verdict: 'warn', detail: `${mac} is a neighbour on ${elsewhere[0].dev}, not on ${intf}: XDP_TX sends out of ${intf}, where it may not be reachable`, fix: `use the MAC of the next hop on ${intf}'s network (ip neigh show dev ${intf})` });
        else checks.push({ check: `${intf} default MAC`, verdict: 'warn', detail: `${mac} is not in the IPv4 neighbour table (/proc/net/arp): the next hop may be unreachable from ${intf}`, fix: `ping the gateway through ${intf}, then check ip neigh show dev ${intf}; the default MAC must be the gateway's` });
      }
      if (reasons !== undefined) checks.push(dropReasonsCheck(intf, reasons));
    }
    if (link && (ii || b)) checks.push(...vlanChecks(link, intf, vlans, vlanStats, mac));
  }

  const pinDirs = p.readdir(ctx.common.pinRoot);
  if (pinDirs && root && host) {
    const byDir = new Map(balancers.filter((b) => b.pinDir).map((b) => [b.pinDir!.replace(/\/+$/, ''), b]));
    // stale: nothing usable is pinned there (removable). detached: a balancer program and its maps
    // (VIPs, reals, LRU) are pinned but attached nowhere: `reattach` brings them back, so --clean
    // never removes those; `detach` does, on explicit request.
    const stale: { dir: string; why: string }[] = [];
    const detached: { dir: string; intf: string; why: string }[] = [];
    for (const name of pinDirs) {
      if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') continue;
      const dir = join(ctx.common.pinRoot, name);
      const b = byDir.get(dir);
      if (!b) { stale.push({ dir, why: 'no balancer program pinned there' }); continue; }
      if (b.mode !== 'unknown') continue;
      const ii = interfaces.find((i) => i.name === b.intf);
      if (!ii) detached.push({ dir, intf: b.intf, why: `interface ${b.intf} is gone` });
      else if (ii.xdp?.progId !== b.progId) detached.push({ dir, intf: b.intf, why: `the pinned program ${b.progId} is no longer attached to ${b.intf}` });
    }
    if (detached.length) {
      checks.push({
        check: 'detached balancers', verdict: 'warn',
        detail: `pinned but attached nowhere (VIPs and LRU kept in the pins): ${detached.map((x) => `${x.dir} (${x.why})`).join(', ')}`,
        fix: detached.map((x) => `katran-tui reattach --intf ${x.intf} (or katran-tui detach --intf ${x.intf} to remove it)`).join('; '),
      });
    }
    if (stale.length === 0) checks.push({ check: 'pins', verdict: 'ok', detail: `${pinDirs.length} pin dir(s) under ${ctx.common.pinRoot}, none stale` });
    else if (o.clean) {
      const removed: string[] = [];
      for (const { dir } of stale) {
        try { p.removeDir(dir); removed.push(dir); } catch (e) { checks.push({ check: 'pins', verdict: 'fail', detail: `cannot remove ${dir}: ${(e as Error).message}` }); }
      }
      checks.push({ check: 'pins', verdict: 'ok', detail: `removed ${removed.length} stale pin dir(s): ${removed.join(', ')}` });
    } else {
      checks.push({ check: 'pins', verdict: 'warn', detail: `stale pins: ${stale.map((x) => `${x.dir} (${x.why})`).join(', ')}`, fix: 'katran-tui doctor --clean removes them' });
    }
  } else if (!pinDirs) {
    checks.push({ check: 'pins', verdict: 'info', detail: `no pins under ${ctx.common.pinRoot}` });
  }
  return checks;
}

export async function doctor(ctx: Ctx, p: DoctorProbe, f: { json?: boolean; clean?: boolean }): Promise<boolean> {
  if (f.clean) ctx.requireRoot('doctor --clean');
  const checks = await doctorChecks(ctx, p, f);
  if (f.json) ctx.json({ ok: !checks.some((c) => c.verdict === 'fail'), checks: checks.map((c) => ({ ...c, fix: c.fix ?? null })) });
  else {
    ctx.out(table(['CHECK', 'VERDICT', 'DETAIL'], checks.map((c) => [c.check, c.verdict === 'fail' ? 'FAIL' : c.verdict, c.detail])));
    for (const c of checks) if (c.fix && c.verdict !== 'ok') ctx.out(`fix ${c.check}: ${c.fix}`);
  }
  const failed = checks.filter((c) => c.verdict === 'fail');
  if (failed.length) ctx.deps.stderr.write(`katran-tui: doctor: ${failed.length} check(s) failed: ${failed.map((c) => c.check).join(', ')}\n`);
  return failed.length === 0;
}
