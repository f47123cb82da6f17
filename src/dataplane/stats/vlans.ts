// Per-VLAN counters in a stats sample (bpf/vlan.h kt_vlan_stats through VlanTable.allCounters()):
// every VLAN that counted something, with its in / balanced / passed totals and per-interval rates.
// `configured` is read from the kernel's own VLAN entry (so observe mode says the same as the
// balancer that wrote it); false means VIP traffic on a VLAN the balancer does not parse. A VLAN
// is listed once it counts something, so its first listing is rated from 0. The reconciler zeroes
// a VLAN's counters when its mapping is added or deleted, which is exactly when `configured` flips:
// such a VLAN is rated from 0 too and named in the sample's resets, never given a negative or a
// too-small rate from counts of before the change.
import { formatVlan, type VlanCounter } from '../abi.js';
import type { VlanTable } from '../kernel/vlan.js';
import type { CountStat, VlanStat } from '../types.js';
import type { RateBook } from './stats.js';

/** The RateBook name of 802.1ad pairs without an entry (VlanStat.vlan null). */
const OTHER_PAIRS = 'other-pairs';
const WHATS = ['in', 'balanced', 'passed'] as const;

function count(book: RateBook, name: string, c: VlanCounter): CountStat {
  const p = book.pairFromZero(name, c.packets, c.bytes);
  return { packets: p.v1, bytes: p.v2, pps: p.r1, bps: p.r2 * 8 };
}

/** Samples every VLAN's counters; remembers each listed VLAN's `configured` for the next sample. */
export class VlanSampler {
  private configured = new Map<string, boolean>();

  constructor(private readonly table: VlanTable) {}

  /** One sample; `book` is the sampler's, between its begin() and end(). */
  sample(book: RateBook): VlanStat[] {
    const seen = new Map<string, boolean>();
    const rows = this.table.allCounters().map(({ vlan, counters }): VlanStat => {
      const id = vlan ? formatVlan(vlan) : null;
      const name = `vlan ${id ?? OTHER_PAIRS}`;
      const configured = vlan ? this.table.get(vlan)?.balance === true : false;
      seen.set(name, configured);
      const was = this.configured.get(name);
      if (was !== undefined && was !== configured) book.restart(name, WHATS.map((w) => `${name}.${w}`));
      return {
        vlan: id, configured,
        in: count(book, `${name}.in`, counters.in),
        balanced: count(book, `${name}.balanced`, counters.balanced),
        passed: count(book, `${name}.passed`, counters.passed),
      };
    });
    this.configured = seen;
    return rows;
  }
}
