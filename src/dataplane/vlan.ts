// Typed access to the VLAN maps of katran-tui's balancer (bpf/vlan.h): read / write one ingress
// VLAN's entry and read the per-VLAN counters. Layouts and limits come from abi.ts; an object
// without kt_vlan_map (upstream Katran) has no VLAN feature: VlanUnavailableError.
import {
  InputError, MAP, VLAN, formatVlan, vlanKey, vlanStats, vlanValue,
  type VlanCounters, type VlanEntry, type VlanKey,
} from './abi.js';
import { BPF_NOEXIST, BpfError, ERRNO } from './libbpf.js';
import type { BpfMap } from './maps.js';

/** The loaded object has no VLAN maps (an upstream Katran object, or an older katran-tui one). */
export class VlanUnavailableError extends Error {
  constructor(readonly op: string, readonly object: string) {
    super(`${op} ${object}: this balancer object has no ${MAP.vlans} map (VLAN tags need katran-tui's own balancer)`);
    this.name = 'VlanUnavailableError';
  }
}

/** A VLAN ID an operator may configure: 1..4094. */
export function checkVid(n: number, what = 'VLAN ID'): number {
  if (!Number.isInteger(n) || n < VLAN.minVid || n > VLAN.maxVid) {
    throw new InputError(`bad ${what} ${JSON.stringify(n)}: expected a whole number from ${VLAN.minVid} to ${VLAN.maxVid}`);
  }
  return n;
}

/** An ingress or egress VLAN key: one tag (inner 0) or an 802.1ad pair, every ID in 1..4094. */
export function checkVlanKey(k: VlanKey, what = 'VLAN'): VlanKey {
  checkVid(k.outer, `${what} ID`);
  if (k.inner !== 0) checkVid(k.inner, `${what} inner ID`);
  return { outer: k.outer, inner: k.inner };
}

export interface VlanRow { vlan: VlanKey; entry: VlanEntry }
export interface VlanCounterRow { vlan: VlanKey; counters: VlanCounters }

export class VlanTable {
  private readonly keyBuf = Buffer.alloc(vlanKey.size);
  private readonly valueBuf = Buffer.alloc(vlanValue.size);
  private readonly statsBuf: Buffer;

  constructor(readonly entries: BpfMap, readonly stats: BpfMap) {
    this.statsBuf = stats.newValueBuffer();
  }

  /** From an object's maps by name; VlanUnavailableError when it has none. */
  static fromMaps(byName: (name: string) => BpfMap | undefined, object: string): VlanTable {
    const e = byName(MAP.vlans);
    const s = byName(MAP.vlanStats);
    if (!e || !s) throw new VlanUnavailableError('open VLAN maps of', object);
    return new VlanTable(e, s);
  }

  get(vlan: VlanKey): VlanEntry | null {
    if (!this.entries.lookup(vlanKey.encode(vlan, this.keyBuf), this.valueBuf)) return null;
    return vlanValue.decode(this.valueBuf);
  }

  /**
   * Writes one ingress VLAN's entry (its counters entry first, so the program never has to create
   * it). Bad input: InputError and nothing written.
   */
  set(vlan: VlanKey, entry: VlanEntry): void {
    const k = checkVlanKey(vlan, 'ingress VLAN');
    const eg = checkVlanKey(entry.egress, 'egress VLAN');
    if ((k.inner === 0) !== (eg.inner === 0)) {
      throw new InputError(`VLAN ${formatVlan(k)} -> ${formatVlan(eg)}: ingress and egress must both be one tag (573) or both an 802.1ad pair (100.573)`);
    }
    if (entry.mac && entry.mac.length < 6) throw new InputError(`VLAN ${formatVlan(k)}: a gateway MAC has 6 bytes`);
    const key = vlanKey.encode(k);
    const value = vlanValue.encode({ ...entry, egress: eg });
    const created = !this.stats.lookup(key, this.statsBuf);
    if (created) {
      try {
        this.stats.update(key, Buffer.alloc(this.stats.valueBufferSize), BPF_NOEXIST);
      } catch (e) {
        // EEXIST: the program created it in between, which is just as good.
        if (!(e instanceof BpfError && e.errno === ERRNO.EEXIST)) throw e;
      }
    }
    try {
      this.entries.update(key, value);
    } catch (e) {
      if (created) this.stats.delete(key);
      throw e;
    }
  }

  /** Removes one ingress VLAN's entry (its traffic passes again); its counters stay. */
  delete(vlan: VlanKey): boolean {
    return this.entries.delete(vlanKey.encode(vlan));
  }

  list(): VlanRow[] {
    const rows: VlanRow[] = [];
    for (const k of this.entries.keys()) {
      if (this.entries.lookup(k, this.valueBuf)) rows.push({ vlan: vlanKey.decode(k), entry: vlanValue.decode(this.valueBuf) });
    }
    return rows.sort(byVlan);
  }

  /** One ingress VLAN's counters summed over CPUs, or null when it has none. */
  counters(vlan: VlanKey): VlanCounters | null {
    if (!this.stats.lookup(vlanKey.encode(vlan, this.keyBuf), this.statsBuf)) return null;
    return vlanStats.sum(this.statsBuf, this.stats.cpus);
  }

  /** Every VLAN with counters: configured ones and VLANs whose VIP traffic the balancer does not parse. */
  allCounters(): VlanCounterRow[] {
    const rows: VlanCounterRow[] = [];
    for (const k of this.stats.keys()) {
      if (this.stats.lookup(k, this.statsBuf)) rows.push({ vlan: vlanKey.decode(k), counters: vlanStats.sum(this.statsBuf, this.stats.cpus) });
    }
    return rows.sort(byVlan);
  }
}

function byVlan(a: { vlan: VlanKey }, b: { vlan: VlanKey }): number {
  return a.vlan.outer - b.vlan.outer || a.vlan.inner - b.vlan.inner;
}
