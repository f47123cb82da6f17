// Typed access to the VLAN maps of katran-tui's balancer (bpf/vlan.h): read / write one ingress
// VLAN's entry and read the per-VLAN counters. Layouts and limits come from abi.ts; an object
// without kt_vlan_map (upstream Katran) has no VLAN feature: VlanUnavailableError.
import {
  InputError, MAP, VLAN, checkVlanKey, formatVlan, perCpuStride, u32Key, vlanKey, vlanStats, vlanValue,
  type VlanCounters, type VlanEntry, type VlanKey,
} from '../abi.js';
import { ArrayRangeReader, type BpfMap } from './maps.js';
import { VlanUnavailableError } from '../types.js';

export { VlanUnavailableError };

export interface VlanRow { vlan: VlanKey; entry: VlanEntry }
/** `vlan` null: every 802.1ad pair without an entry (counted together). */
export interface VlanCounterRow { vlan: VlanKey | null; counters: VlanCounters }

/**
 * kt_vlan_map (ARRAY by VID, one-tag VLANs), kt_vlan_pairs (HASH, 802.1ad pairs, each with a
 * counter slot) and kt_vlan_stats (PERCPU_ARRAY: [VID], [pairStats + slot]); see bpf/vlan.h.
 */
export class VlanTable {
  private readonly keyBuf = Buffer.alloc(vlanKey.size);
  private readonly valueBuf = Buffer.alloc(vlanValue.size);
  private readonly statsBuf: Buffer;
  private readonly statsReader: ArrayRangeReader;
  private readonly entriesReader: ArrayRangeReader;

  constructor(readonly entries: BpfMap, readonly pairs: BpfMap, readonly stats: BpfMap) {
    this.statsBuf = stats.newValueBuffer();
    this.statsReader = new ArrayRangeReader(stats, stats.maxEntries);
    this.entriesReader = new ArrayRangeReader(entries, entries.maxEntries);
  }

  /** From an object's maps by name; VlanUnavailableError when it has none. */
  static fromMaps(byName: (name: string) => BpfMap | undefined, object: string): VlanTable {
    const e = byName(MAP.vlans);
    const p = byName(MAP.vlanPairs);
    const s = byName(MAP.vlanStats);
    if (!e || !p || !s) throw new VlanUnavailableError('open VLAN maps of', object);
    return new VlanTable(e, p, s);
  }

  private lookup(vlan: VlanKey): { entry: VlanEntry; slot: number } | null {
    const found = vlan.inner === 0
      ? this.entries.lookup(u32Key(vlan.outer, this.keyBuf), this.valueBuf)
      : this.pairs.lookup(vlanKey.encode(vlan, this.keyBuf), this.valueBuf);
    return found ? vlanValue.decode(this.valueBuf) : null;
  }

  get(vlan: VlanKey): VlanEntry | null {
    return this.lookup(vlan)?.entry ?? null;
  }

  /**
   * Writes one ingress VLAN's entry, in one map update. A new 802.1ad pair gets a free counter
   * slot, zeroed first. Bad input or no free slot: InputError and nothing written.
   */
  set(vlan: VlanKey, entry: VlanEntry): void {
    const k = checkVlanKey(vlan, 'ingress VLAN');
    const eg = checkVlanKey(entry.egress, 'egress VLAN');
    if ((k.inner === 0) !== (eg.inner === 0)) {
      throw new InputError(`VLAN ${formatVlan(k)} -> ${formatVlan(eg)}: ingress and egress must both be one tag (573) or both an 802.1ad pair (100.573)`);
    }
    if (entry.mac && entry.mac.length < 6) throw new InputError(`VLAN ${formatVlan(k)}: a gateway MAC has 6 bytes`);
    const e = { ...entry, egress: eg };
    if (k.inner === 0) {
      this.entries.update(u32Key(k.outer), vlanValue.encode(e));
      return;
    }
    let slot = this.lookup(k)?.slot;
    if (slot === undefined) {
      const used = new Set(this.pairRows().map((r) => r.slot));
      slot = 0;
      for (let i = 1; i < Math.min(VLAN.pairsMax, this.stats.maxEntries - VLAN.pairStats); i++) if (!used.has(i)) { slot = i; break; }
      if (slot === 0) throw new InputError(`VLAN ${formatVlan(k)}: all ${VLAN.pairsMax - 1} 802.1ad pairs are in use (delete one first)`);
      this.stats.update(u32Key(VLAN.pairStats + slot), Buffer.alloc(this.stats.valueBufferSize));
    }
    this.pairs.update(vlanKey.encode(k), vlanValue.encode(e, slot));
  }

  /** Removes one ingress VLAN's entry (its traffic passes again); one-tag counters stay. */
  delete(vlan: VlanKey): boolean {
    if (vlan.inner !== 0) return this.pairs.delete(vlanKey.encode(vlan));
    if (!this.lookup(vlan)) return false;
    this.entries.update(u32Key(vlan.outer), Buffer.alloc(vlanValue.size));
    return true;
  }

  private pairRows(): (VlanRow & { slot: number })[] {
    const rows: (VlanRow & { slot: number })[] = [];
    for (const k of this.pairs.keys()) {
      if (!this.pairs.lookup(k, this.valueBuf)) continue;
      const v = vlanValue.decode(this.valueBuf);
      if (v) rows.push({ vlan: vlanKey.decode(k), entry: v.entry, slot: v.slot });
    }
    return rows;
  }

  list(): VlanRow[] {
    const rows: VlanRow[] = [];
    const n = this.entriesReader.read(0, this.entries.maxEntries);
    for (let i = 0; i < n; i++) {
      const v = vlanValue.decode(this.entriesReader.values, i * vlanValue.size);
      if (v) rows.push({ vlan: { outer: this.entriesReader.keys.readUInt32LE(i * 4), inner: 0 }, entry: v.entry });
    }
    for (const r of this.pairRows()) rows.push({ vlan: r.vlan, entry: r.entry });
    return rows.sort(byVlan);
  }

  /** One ingress VLAN's counters summed over CPUs: any one-tag VID; a pair only with an entry (else null). */
  counters(vlan: VlanKey): VlanCounters | null {
    let index = vlan.outer;
    if (vlan.inner !== 0) {
      const v = this.lookup(vlan);
      if (!v) return null;
      index = VLAN.pairStats + v.slot;
    }
    if (!this.stats.lookup(u32Key(index), this.statsBuf)) return null;
    return vlanStats.sum(this.statsBuf, this.stats.cpus);
  }

  /** The counters of every 802.1ad pair without an entry, together. */
  unparsedPairCounters(): VlanCounters {
    this.stats.lookup(u32Key(VLAN.pairStats), this.statsBuf);
    return vlanStats.sum(this.statsBuf, this.stats.cpus);
  }

  /**
   * Every VLAN that has counted something: one-tag VIDs (configured, or VIP traffic on a VLAN the
   * balancer does not parse), configured pairs, and (vlan null) pairs without an entry.
   */
  allCounters(): VlanCounterRow[] {
    const bySlot = new Map(this.pairRows().map((r) => [r.slot, r.vlan]));
    const n = this.statsReader.read(0, this.stats.maxEntries);
    const stride = this.stats.valueBufferSize;
    const rows: VlanCounterRow[] = [];
    const values = this.statsReader.values;
    const dv = new DataView(values.buffer, values.byteOffset, values.byteLength);
    const cpuStride = perCpuStride(vlanStats.size);
    for (let i = 0; i < n; i++) {
      // Almost every row is zero: look at `in` packets (the first u64 of each CPU) before summing in BigInt.
      let counted = false;
      for (let cpu = 0; cpu < this.stats.cpus && !counted; cpu++) {
        const off = i * stride + cpu * cpuStride;
        counted = (dv.getUint32(off, true) | dv.getUint32(off + 4, true)) !== 0;
      }
      if (!counted) continue;
      const index = this.statsReader.keys.readUInt32LE(i * 4);
      const c = vlanStats.sum(values, this.stats.cpus, i * stride);
      if (c.in.packets === 0n) continue;
      if (index < VLAN.pairStats) rows.push({ vlan: { outer: index, inner: 0 }, counters: c });
      else if (index === VLAN.pairStats) rows.push({ vlan: null, counters: c });
      else {
        const vlan = bySlot.get(index - VLAN.pairStats);
        if (vlan) rows.push({ vlan, counters: c });
      }
    }
    return rows.sort((a, b) => (a.vlan === null ? 1 : b.vlan === null ? -1 : byVlan(a as { vlan: VlanKey }, b as { vlan: VlanKey })));
  }
}

function byVlan(a: { vlan: VlanKey }, b: { vlan: VlanKey }): number {
  return a.vlan.outer - b.vlan.outer || a.vlan.inner - b.vlan.inner;
}
