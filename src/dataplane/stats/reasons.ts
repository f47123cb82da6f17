// Drop and pass reasons (kt_reasons, bpf/reasons.h): one batch read of the drop rows and the pass
// rows into buffers allocated once, summed over CPUs, totals and rates through the sampler's
// RateBook. Objects without kt_reasons (upstream Katran) have no reader: the sample says null.
import { DROP_REASONS, PASS_REASONS, REASONS, type DropReason, type PassReason } from '../abi.js';
import { ArrayRangeReader, type BpfMap } from '../kernel/maps.js';
import type { CountStat, ReasonsSample } from '../types.js';
import type { RateBook } from './stats.js';

const DROP_NAMES = DROP_REASONS.map((r) => `reason.drop.${r}`);
const PASS_NAMES = PASS_REASONS.map((r) => `reason.pass.${r}`);

export class ReasonsReader {
  private readonly reader: ArrayRangeReader;
  private readonly rows: number;
  private readonly cpus: number;
  private readonly stride: number;
  private readonly view: DataView;

  constructor(private readonly map: BpfMap) {
    // Rows 0 .. the last pass reason; a smaller map (an older object) is read as far as it goes.
    this.rows = Math.min(map.maxEntries, REASONS.passBase + PASS_REASONS.length);
    this.reader = new ArrayRangeReader(map, this.rows);
    this.cpus = map.perCpu ? map.cpus : 1;
    this.stride = map.valueBufferSize / this.cpus;
    this.view = new DataView(this.reader.values.buffer, this.reader.values.byteOffset, this.reader.values.byteLength);
  }

  /** Row `row` of the last read summed over CPUs: [packets, bytes] (0 past the rows read). */
  private sum(got: number, row: number): [bigint, bigint] {
    let packets = 0n;
    let bytes = 0n;
    if (row < got) {
      const base = row * this.map.valueBufferSize;
      for (let c = 0; c < this.cpus; c++) {
        packets += this.view.getBigUint64(base + c * this.stride, true);
        bytes += this.view.getBigUint64(base + c * this.stride + 8, true);
      }
    }
    return [packets, bytes];
  }

  private count(book: RateBook, got: number, row: number, name: string): CountStat {
    const [packets, bytes] = this.sum(got, row);
    const p = book.pair(name, packets, bytes);
    return { packets: p.v1, bytes: p.v2, pps: p.r1, bps: p.r2 * 8 };
  }

  /** Packets per reason, drop reasons then pass reasons (for the difference a single packet makes). */
  packets(): bigint[] {
    const got = this.reader.read(0, this.rows);
    return [...DROP_REASONS.map((_, i) => this.sum(got, i)[0]), ...PASS_REASONS.map((_, i) => this.sum(got, REASONS.passBase + i)[0])];
  }

  /** The one reason that moved between two packets() reads, or null (none, or more than one). */
  static moved(before: bigint[], after: bigint[]): DropReason | PassReason | null {
    const moved = after.map((v, i) => (v !== before[i] ? i : -1)).filter((i) => i >= 0);
    if (moved.length !== 1) return null;
    const i = moved[0];
    return i < DROP_REASONS.length ? DROP_REASONS[i] : PASS_REASONS[i - DROP_REASONS.length];
  }

  /** Every reason in DROP_REASONS / PASS_REASONS order, zero or not; call between book.begin() and end(). */
  read(book: RateBook): ReasonsSample {
    const got = this.reader.read(0, this.rows);
    return {
      drop: DROP_REASONS.map((reason: DropReason, i) => ({ reason, ...this.count(book, got, i, DROP_NAMES[i]) })),
      pass: PASS_REASONS.map((reason: PassReason, i) => ({ reason, ...this.count(book, got, REASONS.passBase + i, PASS_NAMES[i]) })),
    };
  }
}
