// Shared setup of the VLAN prog_test_run tests (bpf/vlan.h): the VLAN table on the shared balancer
// fixture, the expected tagged output computed from the rules, and per-VLAN counter deltas.
import assert from 'node:assert/strict';
import { BpfMap } from '../../src/dataplane/kernel/maps.js';
import { VlanTable } from '../../src/dataplane/kernel/vlan.js';
import { parseMac, type VlanCounters, type VlanKey } from '../../src/dataplane/abi.js';
import type { BalancerFixture } from '../helpers/balancer-fixture.js';
import { macBytes, withoutVlanTags } from '../helpers/packets.js';
import { expectedEncap } from './balancer-common.js';

/** Gateway MACs of egress VLANs that have their own (the rest use the default, GW_MAC). */
export const MAC_573 = '02:aa:bb:cc:05:73';
export const MAC_201 = '02:aa:bb:cc:02:01';
export const MAC_QINQ = '02:aa:bb:cc:10:20';

/** The fixture's VLANs: kept with a MAC, rewritten without one, rewritten with one, 802.1ad kept / rewritten, not balanced. */
export const VL = {
  kept: { outer: 573, inner: 0 },
  rewritten: { outer: 100, inner: 0 },
  rewrittenOut: { outer: 574, inner: 0 },
  withMac: { outer: 200, inner: 0 },
  withMacOut: { outer: 201, inner: 0 },
  qinqKept: { outer: 10, inner: 20 },
  qinqRewritten: { outer: 30, inner: 40 },
  qinqRewrittenOut: { outer: 31, inner: 41 },
  notBalanced: { outer: 600, inner: 0 },
  unconfigured: { outer: 575, inner: 0 },
} satisfies Record<string, VlanKey>;

let table: VlanTable | undefined;

/** The VLAN table over the fixture's maps, with VL's entries written once. */
export function vlanTable(fx: BalancerFixture): VlanTable {
  if (table) return table;
  const byName = (n: string): BpfMap | undefined => (fx.fds[n] === undefined ? undefined : BpfMap.fromFd(n, fx.fds[n], { ownsFd: false }));
  table = VlanTable.fromMaps(byName, 'balancer.bpf.o');
  table.set(VL.kept, { balance: true, egress: VL.kept, mac: parseMac(MAC_573) });
  table.set(VL.rewritten, { balance: true, egress: VL.rewrittenOut, mac: null });
  table.set(VL.withMac, { balance: true, egress: VL.withMacOut, mac: parseMac(MAC_201) });
  table.set(VL.qinqKept, { balance: true, egress: VL.qinqKept, mac: parseMac(MAC_QINQ) });
  table.set(VL.qinqRewritten, { balance: true, egress: VL.qinqRewrittenOut, mac: null });
  table.set(VL.notBalanced, { balance: false, egress: VL.notBalanced, mac: null });
  return table;
}

export function resetVlanTable(): void {
  table = undefined;
}

/**
 * What the rules say a balanced tagged frame becomes: the untagged frame's encapsulation
 * (expectedEncap, built independently), with the egress VLAN's gateway MAC as destination and the
 * received tags between the MACs and the ethertype, each with its TPID, PCP and DEI and the egress
 * VID (`egress`: outer first).
 */
export function expectedTaggedEncap(input: Buffer, egress: number[], mac: string, real: string, client: string, sport: number): Buffer {
  const n = egress.length;
  const e = expectedEncap(withoutVlanTags(input, n), real, client, sport);
  const tags = Buffer.from(input.subarray(12, 12 + 4 * n));
  egress.forEach((vid, i) => tags.writeUInt16BE((tags.readUInt16BE(i * 4 + 2) & 0xf000) | vid, i * 4 + 2));
  return Buffer.concat([macBytes(mac), e.subarray(6, 12), tags, e.subarray(12)]);
}

export type VlanDelta = Partial<Record<'in' | 'balanced' | 'passed', [number, number]>>;

const ZERO: VlanCounters = { in: { packets: 0n, bytes: 0n }, balanced: { packets: 0n, bytes: 0n }, passed: { packets: 0n, bytes: 0n } };

export function vlanCounters(t: VlanTable, k: VlanKey): VlanCounters {
  return t.counters(k) ?? ZERO;
}

/** Exactly these per-VLAN counters of `k` moved (packets, bytes). */
export function assertVlanDelta(before: VlanCounters, after: VlanCounters, exp: VlanDelta, what: string): void {
  const d: VlanDelta = {};
  for (const f of ['in', 'balanced', 'passed'] as const) {
    const p = Number(after[f].packets - before[f].packets);
    const b = Number(after[f].bytes - before[f].bytes);
    if (p || b) d[f] = [p, b];
  }
  assert.deepEqual(d, exp, `${what}: per-VLAN counters`);
}
