// Shared setup of the balancer prog_test_run tests: addresses (documentation prefixes only),
// VIPs, reals, the expected-output builders and counter assertions.
import assert from 'node:assert/strict';
import { pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { BalancerFixture, delta, snapshot, type Delta, type GlobalName, type Snapshot, type VipSpec } from '../helpers/balancer-fixture.js';
import {
  DEFAULT_DST_MAC, ETH_P, PROTO, ethernet, ipipV4Source, ipipV6Source, ipv4, ipv6, macBytes, pattern, tcp, udp,
} from '../helpers/packets.js';

export const GW_MAC = '02:aa:bb:cc:dd:01';
/** The balancer's own MAC (what incoming frames are addressed to). */
export const LB_MAC = DEFAULT_DST_MAC;

export const REALS: Record<number, string> = {
  1: '198.51.100.1',
  2: '198.51.100.2',
  3: '2001:db8:1::3',
  4: '198.51.100.4',
  5: '2001:db8:1::5',
  6: '198.51.100.6',
  7: '198.51.100.7',
};
export const REAL_IDX = Object.keys(REALS).map(Number);

export const VIPS = {
  tcp: { address: '192.0.2.10', port: 80, proto: 'tcp', vipNum: 1 },
  udp: { address: '192.0.2.11', port: 53, proto: 'udp', vipNum: 2 },
  v6tcp: { address: '2001:db8::10', port: 443, proto: 'tcp', vipNum: 3 },
  v4ToV6: { address: '192.0.2.12', port: 80, proto: 'tcp', vipNum: 4 },
  noSport: { address: '192.0.2.13', port: 80, proto: 'tcp', flags: 1, vipNum: 5 },
  dportHash: { address: '192.0.2.14', port: 8080, proto: 'udp', flags: 8, vipNum: 6 },
  port0: { address: '192.0.2.15', port: 0, proto: 'tcp', vipNum: 7 },
  port0SrcDst: { address: '192.0.2.16', port: 0, proto: 'tcp', flags: 128, vipNum: 8 },
  noLru: { address: '192.0.2.17', port: 80, proto: 'tcp', flags: 2, vipNum: 9 },
  empty: { address: '192.0.2.18', port: 80, proto: 'tcp', vipNum: 10 },
  badReal: { address: '192.0.2.19', port: 80, proto: 'tcp', vipNum: 11 },
  v6ToV4: { address: '2001:db8::12', port: 80, proto: 'tcp', vipNum: 12 },
  v6udp: { address: '2001:db8::13', port: 4500, proto: 'udp', vipNum: 13 },
  port0Dport: { address: '192.0.2.20', port: 0, proto: 'udp', flags: 8, vipNum: 14 },
} satisfies Record<string, VipSpec>;
export const VIP_NUMS = Object.values(VIPS).map((v) => v.vipNum);

let shared: { fx: BalancerFixture; unpin: () => void } | undefined;

/** One loaded balancer for the whole test file, pinned to CPU 0 (the only CPU with its own LRU). */
export function fixture(): BalancerFixture {
  if (shared) return shared.fx;
  const unpin = pinToCpu(0);
  const fx = new BalancerFixture([0]);
  for (const [i, a] of Object.entries(REALS)) fx.setReal(Number(i), a);
  for (const v of Object.values(VIPS)) fx.addVip(v);
  fx.setMac(GW_MAC);
  shared = { fx, unpin };
  return fx;
}

export function closeFixture(): void {
  if (!shared) return;
  shared.fx.close();
  shared.unpin();
  shared = undefined;
}

/** The L3 length the program takes from the inner header (IPv4 tot_len, IPv6 payload_len + 40). */
export function l3Len(frame: Buffer): number {
  return frame.readUInt16BE(12) === ETH_P.ipv6 ? frame.readUInt16BE(18) + 40 : frame.readUInt16BE(16);
}

/** Per-VIP / per-real byte count: IPv4 tot_len, IPv6 payload_len. */
export function pktBytes(frame: Buffer): number {
  return frame.readUInt16BE(12) === ETH_P.ipv6 ? frame.readUInt16BE(18) : frame.readUInt16BE(16);
}

/**
 * The frame docs/abi.md packet path step 8 says comes out: Ethernet dst = gateway MAC, src = the frame's dst
 * MAC; outer IPv4 (IPIP) or IPv6 header built here independently (checksum by the builder); the
 * received packet after its Ethernet header, untouched. `sport`: the source port after NO_SPORT
 * (0; DPORT_HASH keeps the client's); `client`: the source after DPORT_HASH (0.0.0.0 / ::).
 * An IPv6 packet to an IPv4 real gets tot_len = payload_len + 20 (docs/abi.md
 * "Encapsulation across families": 40 short of the frame, as upstream).
 */
export function expectedEncap(input: Buffer, real: string, client: string, sport: number): Buffer {
  const inner = input.subarray(14);
  const innerV6 = input.readUInt16BE(12) === ETH_P.ipv6;
  const tos = innerV6 ? (input.readUInt16BE(14) >> 4) & 0xff : input[15];
  const len = l3Len(input);
  const eth = { dst: GW_MAC, src: input.subarray(0, 6) };
  if (!real.includes(':')) {
    return ethernet({ ...eth, type: ETH_P.ipv4 }, ipv4({ src: ipipV4Source(client, sport), dst: real, proto: PROTO.ipip, tos, ttl: 64, id: 0, totLen: pktBytes(input) + 20 }, inner));
  }
  return ethernet({ ...eth, type: ETH_P.ipv6 }, ipv6({ src: ipipV6Source(client, sport), dst: real, next: innerV6 ? PROTO.ipv6 : PROTO.ipip, tclass: tos, hopLimit: 64, payloadLen: len }, inner));
}

/** The embedded packet of an ICMP error about flow (client -> vip): what the VIP had sent back. */
export function replyPacket(vip: string, client: string, vport: number, cport: number, proto: 'tcp' | 'udp', flags = 'A'): Buffer {
  const l4 = proto === 'tcp' ? tcp({ src: vip, dst: client, sport: vport, dport: cport, flags, payload: pattern(8) })
    : udp({ src: vip, dst: client, sport: vport, dport: cport, payload: pattern(8) });
  const p = proto === 'tcp' ? PROTO.tcp : PROTO.udp;
  return vip.includes(':') ? ipv6({ src: vip, dst: client, next: p }, l4) : ipv4({ src: vip, dst: client, proto: p }, l4);
}

export function assertBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (!actual.equals(expected)) {
    assert.fail(`${what}: bytes differ\n actual:   ${actual.toString('hex')}\n expected: ${expected.toString('hex')}`);
  }
}

export interface ExpectedDelta {
  globals?: Partial<Record<GlobalName, [number, number]>>;
  vips?: Record<number, [number, number]>;
  reals?: Record<number, [number, number]>;
  lruMiss?: Record<number, number>;
}

export function take(fx: BalancerFixture): Snapshot {
  return snapshot(fx, VIP_NUMS, [...REAL_IDX, 0]);
}

/** Exactly these counters moved, by exactly these amounts (every other one stayed put). */
export function assertDelta(before: Snapshot, after: Snapshot, exp: ExpectedDelta, what: string): void {
  const d: Delta = delta(before, after);
  assert.deepEqual(d.globals, exp.globals ?? {}, `${what}: global counters`);
  assert.deepEqual(Object.fromEntries(d.vips), exp.vips ?? {}, `${what}: per-VIP counters`);
  assert.deepEqual(Object.fromEntries(d.reals), exp.reals ?? {}, `${what}: per-real counters`);
  assert.deepEqual(Object.fromEntries(d.lruMiss), exp.lruMiss ?? {}, `${what}: lru_miss_stats`);
}

/** XDP counter deltas of one frame: TOTAL plus exactly one action. */
export function xdp(action: 'tx' | 'drop' | 'pass', frameLen: number): Partial<Record<GlobalName, [number, number]>> {
  const k: GlobalName = action === 'tx' ? 'xdpTx' : action === 'drop' ? 'xdpDrop' : 'xdpPass';
  return { xdpTotal: [1, frameLen], [k]: [1, frameLen] };
}

export { macBytes };
