// Per-VLAN counters in a stats sample (bpf/vlan.h kt_vlan_stats through VlanTable.allCounters()):
// every VLAN that counted something, with its in / balanced / passed totals and per-interval rates.
// `configured` is read from the kernel's own VLAN entry (so observe mode says the same as the
// balancer that wrote it); false means VIP traffic on a VLAN the balancer does not parse. A VLAN
// is listed once it counts something, so its first listing is rated from 0.
import { formatVlan, type VlanCounter } from '../abi.js';
import type { VlanTable } from '../kernel/vlan.js';
import type { CountStat, VlanStat } from '../types.js';
import type { RateBook } from './stats.js';

/** The RateBook name of 802.1ad pairs without an entry (VlanStat.vlan null). */
const OTHER_PAIRS = 'other-pairs';

function count(book: RateBook, name: string, c: VlanCounter): CountStat {
  const p = book.pairFromZero(name, c.packets, c.bytes);
  return { packets: p.v1, bytes: p.v2, pps: p.r1, bps: p.r2 * 8 };
}

/** One sample of every VLAN's counters; `book` is the sampler's, between its begin() and end(). */
export function sampleVlans(table: VlanTable, book: RateBook): VlanStat[] {
  return table.allCounters().map(({ vlan, counters }) => {
    const id = vlan ? formatVlan(vlan) : null;
    const name = `vlan ${id ?? OTHER_PAIRS}`;
    return {
      vlan: id,
      configured: vlan ? table.get(vlan)?.balance === true : false,
      in: count(book, `${name}.in`, counters.in),
      balanced: count(book, `${name}.balanced`, counters.balanced),
      passed: count(book, `${name}.passed`, counters.passed),
    };
  });
}
