// XDP speed for `npm run bench`: kernel-measured ns per packet (bpf_prog_test_run_opts duration,
// repeat = 1: with repeat > 1 the kernel would rerun the already rewritten buffer), CALLS calls per
// run, the median of RUNS runs' means, for each path of the balancer beside the floor program
// (parse Ethernet, swap MACs, XDP_TX) and, when named, other objects on the same paths:
// KATRAN_REF_OBJ (another Katran-ABI object) and KT_BENCH_BASELINE (e.g. an older build of ours).
// Every comparison is measured in this run, no figure comes from elsewhere. The process is pinned
// to CPU 0, the CPU given its own LRU. Rounds interleave the cases (round r runs every case of every
// object once, the objects' order turning every round; many short rounds: the host has slow
// stretches of tens of seconds), so the tagged rows (802.1Q / 802.1ad, bpf/vlan.h) and their
// untagged twins, and the other objects' rows, see the same stretches; ratios are medians of the
// per-round ratios.
import { BpfObject, TestRunner, mapUpdate, numPossibleCpus, pinToCpu } from '../src/dataplane/kernel/libbpf.js';
import { MAP, parseMac, u32Key } from '../src/dataplane/abi.js';
import { BpfMap } from '../src/dataplane/kernel/maps.js';
import { VlanTable } from '../src/dataplane/kernel/vlan.js';
import { builtObject } from '../src/dataplane/kernel/paths.js';
import { RUN_TIME_STATS_COST_NS, runTimeStatsMoving } from '../src/dataplane/stats/runtime.js';
import { BalancerFixture, MAX_VIPS } from '../test/helpers/balancer-fixture.js';
import { echoRequestFrame, flowFrame, withVlanTags } from '../test/helpers/packets.js';
import { cidFor, quicShort } from '../test/helpers/quic.js';

const CALLS = Number(process.env.KT_BENCH_CALLS ?? 20_000);
const RUNS = Number(process.env.KT_BENCH_RUNS ?? 25);
// KT_BENCH_CASES=substring[,substring...]: only the rows whose name contains one of them (each
// tagged row with its untagged twin, and the floor): more rounds of the rows one is working on.
const ONLY = (process.env.KT_BENCH_CASES ?? '').split(',').filter((x) => x !== '');
const NEW_CONN_RATE = 2;

interface Case {
  name: string;
  /** Runs once per call before the packet goes in (e.g. a new source port); returns the frame. */
  next: (i: number) => Buffer;
  runner: TestRunner;
  /** Called every 10k calls (e.g. reset the per-CPU new-connection rate window). */
  every10k?: () => void;
  /** A tagged case: the name of the untagged case it is compared with. */
  untagged?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One run: the mean ns of CALLS calls. */
function runOnce(c: Case): number {
  let sum = 0;
  for (let i = 0; i < CALLS; i++) {
    if (c.every10k && i % 10_000 === 0) c.every10k();
    sum += c.runner.runRaw(c.next(i)).duration;
  }
  return sum / CALLS;
}

/**
 * RUNS interleaved rounds of every case of every group (an object's cases; after a warm-up each),
 * the groups' order turning every round; per case (in the groups' order, flattened) its runs' means.
 */
function measureAll(groups: Case[][]): number[][] {
  const cases = groups.flat();
  for (const c of cases) for (let i = 0; i < 2000; i++) c.runner.runRaw(c.next(i)); // warm-up
  const means = new Map<Case, number[]>(cases.map((c) => [c, []]));
  for (let r = 0; r < RUNS; r++) {
    for (let g = 0; g < groups.length; g++) for (const c of groups[(g + r) % groups.length]) means.get(c)!.push(runOnce(c));
  }
  return cases.map((c) => means.get(c)!);
}

/** The median over rounds of a / b, as "+x.y%". */
function ratio(a: number[], b: number[]): string {
  const m = median(a.map((x, r) => x / b[r]));
  return `${m >= 1 ? '+' : ''}${((m - 1) * 100).toFixed(1)}%`;
}

/** A frame whose TCP / UDP source port is rewritten per call (after any VLAN tags). */
function varySport(frame: Buffer): (i: number) => Buffer {
  let l3 = 14;
  while (l3 < 22 && (frame.readUInt16BE(l3 - 2) === 0x8100 || frame.readUInt16BE(l3 - 2) === 0x88a8)) l3 += 4;
  const off = l3 + (frame.readUInt16BE(l3 - 2) === 0x86dd ? 40 : 20);
  let n = 0; // its own count: the ports go on from round to round
  return () => {
    frame.writeUInt16BE(1024 + (n++ % 60000), off);
    return frame;
  };
}

/** The balancer's cases on one loaded object (the bundled one, or a baseline build to compare with). */
function balancerCases(lb: BalancerFixture): Case[] {
  const vip4 = { address: '192.0.2.10', port: 80, proto: 'tcp' as const, vipNum: 1 };
  const vip6 = { address: '2001:db8::10', port: 443, proto: 'tcp' as const, vipNum: 2 };
  const quic4 = { address: '192.0.2.20', port: 443, proto: 'udp' as const, flags: 4, vipNum: 3 };
  const dport4 = { address: '192.0.2.21', port: 8080, proto: 'udp' as const, flags: 8, vipNum: 4 };
  lb.addVip(vip4);
  lb.addVip(vip6);
  lb.addVip(quic4);
  lb.addVip(dport4);
  lb.setReal(1, '198.51.100.1');
  lb.setReal(2, '2001:db8:1::2');
  lb.fillRing(1, 1);
  lb.fillRing(2, 2);
  lb.fillRing(3, 1);
  lb.fillRing(4, 1);
  // Server id 1024 -> real 1 (an object without server_id_map balances the same packet as plain UDP).
  if (lb.fds.server_id_map !== undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(1, 0);
    mapUpdate(lb.fds.server_id_map, u32Key(1024), v);
  }
  lb.setMac('02:aa:bb:cc:dd:01');
  const run = lb.runner;

  // Resetting this CPU's NEW_CONN_RATE window keeps every SYN a full new flow (LRU write
  // included) instead of letting the 125k/s/CPU limit skip the write after the first 125k.
  const ncpu = numPossibleCpus();
  const resetRate = () => mapUpdate(lb.fds[MAP.stats], u32Key(MAX_VIPS + NEW_CONN_RATE), Buffer.alloc(16 * ncpu));
  // The opposite: this CPU over the limit in a window that starts now (bpf_ktime_get_ns and
  // process.hrtime are both CLOCK_MONOTONIC), so no SYN writes the LRU. The "same pkt" rows mix
  // both modes (the first 125k SYNs of each second write), in a share that depends on how fast
  // this process issues calls; these two rows do not.
  const overRate = () => {
    const v = Buffer.alloc(16 * ncpu);
    const now = process.hrtime.bigint();
    for (let c = 0; c < ncpu; c++) {
      v.writeBigUInt64LE(1n << 40n, c * 16);
      v.writeBigUInt64LE(now, c * 16 + 8);
    }
    mapUpdate(lb.fds[MAP.stats], u32Key(MAX_VIPS + NEW_CONN_RATE), v);
  };

  const ack = flowFrame({ src: '203.0.113.7', dst: vip4.address, sport: 31337, dport: 80, proto: 'tcp', flags: 'A', payloadLen: 64 });
  lb.run(flowFrame({ src: '203.0.113.7', dst: vip4.address, sport: 31337, dport: 80, proto: 'tcp', flags: 'S' }));
  const syn4 = flowFrame({ src: '203.0.113.7', dst: vip4.address, sport: 1024, dport: 80, proto: 'tcp', flags: 'S', payloadLen: 0 });
  const syn6 = flowFrame({ src: '2001:db8:c::7', dst: vip6.address, sport: 1024, dport: 443, proto: 'tcp', flags: 'S', payloadLen: 0 });
  const syn4Same = Buffer.from(syn4);
  const syn6Same = Buffer.from(syn6);
  const pass = flowFrame({ src: '203.0.113.7', dst: '192.0.2.99', sport: 5555, dport: 80, proto: 'tcp', flags: 'A', payloadLen: 64 });
  const echo = echoRequestFrame({ src: '203.0.113.7', dst: vip4.address });
  const echo6 = echoRequestFrame({ src: '2001:db8:c::7', dst: vip6.address });
  // QUIC short header whose CID (v1) names server id 1024: routed by the id, the LRU entry matches.
  const quicFrame = flowFrame({ src: '203.0.113.7', dst: quic4.address, sport: 40000, dport: 443, proto: 'udp', payload: quicShort(cidFor(1, 1024), Buffer.alloc(40)) });
  // DPORT_HASH: the LRU is looked up under the client's flow and written under {0, dport, ...}, so every packet is hashed.
  const dportFrame = flowFrame({ src: '203.0.113.7', dst: dport4.address, sport: 40000, dport: 8080, proto: 'udp', payloadLen: 64 });

  // The seed's VLAN layout, when the object has the VLAN maps: clients on VLAN 573, reals through
  // VLAN 574's gateway (its own MAC); and an 802.1ad pair 100.573 -> 100.574 on the default MAC.
  const tagged: Case[] = [];
  if (lb.fds[MAP.vlans] !== undefined) {
    const vlans = VlanTable.fromMaps((n) => (lb.fds[n] === undefined ? undefined : BpfMap.fromFd(n, lb.fds[n], { ownsFd: false })), 'balancer.bpf.o');
    vlans.set({ outer: 573, inner: 0 }, { balance: true, egress: { outer: 574, inner: 0 }, mac: parseMac('02:aa:bb:cc:05:74') });
    vlans.set({ outer: 100, inner: 573 }, { balance: true, egress: { outer: 100, inner: 574 }, mac: null });
    const q = [{ tci: 573 }];
    const ackQ = withVlanTags(ack, q);
    const ackQinq = withVlanTags(ack, [{ tpid: 0x88a8, tci: 100 }, { tci: 573 }]);
    const syn4Q = withVlanTags(syn4, q);
    const syn4SameQ = withVlanTags(syn4, q);
    const syn6Q = withVlanTags(syn6, q);
    tagged.push(
      { name: 'LRU hit (v4 ACK, 802.1Q)', next: () => ackQ, runner: run, untagged: 'LRU hit (v4 ACK)' },
      { name: 'LRU hit (v4 ACK, 802.1ad)', next: () => ackQinq, runner: run, untagged: 'LRU hit (v4 ACK)' },
      { name: 'new flow (v4 SYN, over rate, 802.1Q)', next: () => syn4SameQ, runner: run, every10k: overRate, untagged: 'new flow (v4 SYN, over rate)' },
      { name: 'new flow (v4 SYN, new sport, 802.1Q)', next: varySport(syn4Q), runner: run, every10k: resetRate, untagged: 'new flow (v4 SYN, new sport)' },
      { name: 'new flow (v6 SYN, new sport, 802.1Q)', next: varySport(syn6Q), runner: run, every10k: resetRate, untagged: 'new flow (v6 SYN, new sport)' },
    );
  }

  return selected([
    { name: 'LRU hit (v4 ACK)', next: () => ack, runner: run },
    // The same SYN every call. After 125k new flows in a second this CPU is "under flood" and
    // skips the LRU write, so the figure mixes both.
    { name: 'new flow (v4 SYN, same pkt)', next: () => syn4Same, runner: run },
    { name: 'new flow (v6 SYN, same pkt)', next: () => syn6Same, runner: run },
    { name: 'new flow (v4 SYN, over rate)', next: () => syn4Same, runner: run, every10k: overRate },
    { name: 'new flow (v6 SYN, over rate)', next: () => syn6Same, runner: run, every10k: overRate },
    // Every call a new flow (new source port) with its LRU insert: the honest worst case.
    { name: 'new flow (v4 SYN, new sport)', next: varySport(syn4), runner: run, every10k: resetRate },
    { name: 'new flow (v6 SYN, new sport)', next: varySport(syn6), runner: run, every10k: resetRate },
    { name: 'QUIC short header (v4, CID routed)', next: () => quicFrame, runner: run },
    { name: 'DPORT_HASH (v4 UDP)', next: () => dportFrame, runner: run, every10k: resetRate },
    { name: 'non-VIP pass', next: () => pass, runner: run },
    { name: 'ICMP echo (v4)', next: () => echo, runner: run },
    { name: 'ICMP echo (v6)', next: () => echo6, runner: run },
    ...tagged,
  ]);
}

/** The cases KT_BENCH_CASES names (all without it), each tagged case's untagged twin kept. */
function selected(cases: Case[]): Case[] {
  if (!ONLY.length) return cases;
  const picked = new Set(cases.filter((c) => ONLY.some((o) => c.name.includes(o))).map((c) => c.name));
  for (const c of cases) if (picked.has(c.name) && c.untagged) picked.add(c.untagged);
  return cases.filter((c) => picked.has(c.name));
}

/**
 * KT_BENCH_BASELINE=path/to/balancer.bpf.o (e.g. an older build) measures that object's cases in
 * the same interleaved rounds, so that the "vs base" column is a same-run ratio on this noisy host
 * rather than a figure from another run (is the untagged path unchanged?).
 */
/** The other objects measured beside ours, each named by its own environment variable. */
const OTHERS = [
  { label: 'ref', env: 'KATRAN_REF_OBJ' },
  { label: 'base', env: 'KT_BENCH_BASELINE' },
] as const;

export async function benchBpf(): Promise<void> {
  const unpin = pinToCpu(0);
  const lb = new BalancerFixture([0]);
  const others: { label: string; path: string; lb: BalancerFixture }[] = [];
  const floorObj = BpfObject.open(builtObject('bench/floor.bpf.c'));
  try {
    for (const o of OTHERS) {
      const path = process.env[o.env];
      if (path) others.push({ label: o.label, path, lb: new BalancerFixture([0], path) });
    }
    floorObj.load();
    const floor = new TestRunner(floorObj.program('xdp_floor')!.fd, 4096, 'xdp_floor');
    const floorFrame = flowFrame({ src: '203.0.113.7', dst: '192.0.2.10', sport: 31337, dport: 80, proto: 'tcp', flags: 'A', payloadLen: 64 });
    const cases: Case[] = [{ name: 'floor (xdp_floor)', next: () => floorFrame, runner: floor }, ...balancerCases(lb)];
    const otherCases = others.map((o) => balancerCases(o.lb));
    // Statistics left on (a console with t, a `stats --run-time`, bpftool prog profile...) add their cost to every figure.
    const statsOn = () => runTimeStatsMoving(floor.progFd, () => { for (let i = 0; i < 16; i++) floor.run(floorFrame); });
    const onBefore = statsOn();
    const means = measureAll([cases, ...otherCases]);
    const onAfter = statsOn();
    if (onBefore || onAfter) {
      console.log(`WARNING: BPF run-time statistics were on ${onBefore && onAfter ? 'during this run' : onBefore ? 'at the start of this run' : 'at the end of this run'} (run_cnt moved: some process holds bpf_enable_stats): every figure below includes their cost, about ${RUN_TIME_STATS_COST_NS} ns per packet`);
    }
    const byName = new Map(cases.map((c, k) => [c.name, means[k]]));
    let at = cases.length;
    const otherByName = otherCases.map((oc) => new Map(oc.map((c) => [c.name, means[at++]])));
    const floorNs = median(means[0]);
    // Each other object's tagged rows against its own untagged twins too (e.g. before / after a change).
    const rows = [['path', 'ns/pkt', 'x floor', 'vs untagged', ...others.flatMap((o) => [`${o.label} ns`, `vs ${o.label}`, `${o.label} vs untagged`])]];
    cases.forEach((c, k) => {
      const ns = median(means[k]);
      const twin = c.untagged ? byName.get(c.untagged) : undefined;
      rows.push([c.name, ns.toFixed(1), (ns / floorNs).toFixed(2), twin ? ratio(means[k], twin) : '-',
        ...otherByName.flatMap((m) => {
          const b = m.get(c.name);
          const bTwin = c.untagged ? m.get(c.untagged) : undefined;
          return [b ? median(b).toFixed(1) : '-', b ? ratio(means[k], b) : '-', b && bTwin ? ratio(b, bTwin) : '-'];
        })]);
    });
    const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  '));
    const named = others.map((o) => `"${o.label}": ${o.path}`).join(', ');
    console.log(`(${CALLS} calls per run, median of ${RUNS} interleaved rounds' means; "vs untagged" / "vs ${others.map((o) => o.label).join('" / "vs ') || 'ref'}": median of the per-round ratios to the untagged row / the other object's row (its "vs untagged": its own tagged row to its own untagged one); VLAN rows: 573 -> 574 with its own MAC, 100.573 -> 100.574; CPU 0 pinned; "over rate": NEW_CONN_RATE set over the limit every 10k calls, so no SYN writes the LRU; "new sport": a new source port per call and the NEW_CONN_RATE window reset every 10k calls, so every SYN inserts into the LRU; ${named ? `${named}, measured in the same rounds` : 'KATRAN_REF_OBJ (another Katran-ABI object) and KT_BENCH_BASELINE (another build) add columns'})`);
    floor.close();
  } finally {
    floorObj.close();
    for (const o of others) o.lb.close();
    lb.close();
    unpin();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchBpf();
