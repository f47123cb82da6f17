// Small typed handles over BPF maps (in the manner of cilium/ebpf): a map knows its name, shape and
// whether it may be written, and every error names the operation and the map. Byte layouts come
// from abi.ts; per-CPU values are read into reused buffers and summed in BigInt.
import {
  closeFd, mapDelete, mapDeleteBatch, mapInfo, mapLookup, mapLookupBatch, mapNextKey,
  mapUpdate, mapUpdateBatch, numPossibleCpus, BPF_ANY, BPF_MAP_TYPE,
} from './libbpf.js';
import { perCpuStride, u32Key } from '../abi.js';
import { ClosedError, InputError, MapFullError, ReadOnlyError } from '../errors.js';

export interface MapShape {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
}

const PERCPU_TYPES = new Set<number>([BPF_MAP_TYPE.PERCPU_ARRAY, BPF_MAP_TYPE.PERCPU_HASH, BPF_MAP_TYPE.LRU_PERCPU_HASH]);

export class BpfMap {
  readonly perCpu: boolean;
  /** Bytes of one lookup's value buffer (all CPUs for per-CPU maps). */
  readonly valueBufferSize: number;
  private closed = false;

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly shape: MapShape,
    /** Opened read-only (BPF_F_RDONLY, observe mode or --readonly): writes are refused here and by the kernel. */
    readonly readOnly: boolean,
    /** Whether close() closes the fd (false when libbpf's object owns it). */
    private readonly ownsFd: boolean,
    readonly cpus: number = numPossibleCpus(),
  ) {
    this.perCpu = PERCPU_TYPES.has(shape.type);
    this.valueBufferSize = this.perCpu ? cpus * perCpuStride(shape.valueSize) : shape.valueSize;
  }

  /** Wraps an fd, reading its shape from the kernel. */
  static fromFd(name: string, fd: number, o: { readOnly?: boolean; ownsFd?: boolean } = {}): BpfMap {
    const i = mapInfo(fd);
    return new BpfMap(name, fd, { type: i.type, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, mapFlags: i.mapFlags }, o.readOnly ?? false, o.ownsFd ?? true);
  }

  get maxEntries(): number {
    return this.shape.maxEntries;
  }

  private guardWrite(op: string): void {
    if (this.closed) throw new ClosedError(op, `map ${this.name}`, 'map already closed');
    if (this.readOnly) throw new ReadOnlyError(`${op} map ${this.name}: opened read-only`, { op, object: `map ${this.name}` });
  }

  private checkKey(key: Uint8Array, op: string): void {
    if (key.length !== this.shape.keySize) {
      throw InputError.at(op, `map ${this.name}`, `key of ${key.length} bytes, the map's keys have ${this.shape.keySize}`);
    }
  }

  newValueBuffer(): Buffer {
    return Buffer.alloc(this.valueBufferSize);
  }

  /** Fills `value` (valueBufferSize bytes); false when the key is absent. */
  lookup(key: Uint8Array, value: Uint8Array): boolean {
    this.checkKey(key, 'look up in');
    if (value.length < this.valueBufferSize) throw InputError.at('look up in', `map ${this.name}`, `value buffer of ${value.length} bytes, need ${this.valueBufferSize}`);
    return mapLookup(this.fd, key, value, `map ${this.name}`);
  }

  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    this.guardWrite('update');
    this.checkKey(key, 'update');
    if (value.length < this.valueBufferSize) throw InputError.at('update', `map ${this.name}`, `value of ${value.length} bytes, need ${this.valueBufferSize}`);
    try {
      mapUpdate(this.fd, key, value, flags, `map ${this.name}`);
    } catch (e) {
      if (e instanceof MapFullError) {
        throw new MapFullError('update', `map ${this.name}`, `map full (${this.shape.maxEntries})`, { errno: e.errno, maxEntries: this.shape.maxEntries });
      }
      throw e;
    }
  }

  delete(key: Uint8Array): boolean {
    this.guardWrite('delete from');
    this.checkKey(key, 'delete from');
    return mapDelete(this.fd, key, `map ${this.name}`);
  }

  /** Every key (HASH-like maps); bounded by max_entries. */
  keys(): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    for (let i = 0; i <= this.shape.maxEntries; i++) {
      const next = Buffer.alloc(this.shape.keySize);
      if (!mapNextKey(this.fd, prev, next, `map ${this.name}`)) break;
      out.push(next);
      prev = next;
    }
    return out;
  }

  /** Writes `n` u32-keyed entries (keys: n*4 bytes, values: n*valueSize bytes) in batches. */
  updateBatch(keys: Uint8Array, values: Uint8Array, n: number, chunk = 8192): void {
    this.guardWrite('batch update');
    const ks = this.shape.keySize;
    const vs = this.valueBufferSize;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      mapUpdateBatch(this.fd, keys.subarray(i * ks, (i + m) * ks), values.subarray(i * vs, (i + m) * vs), m, `map ${this.name}`);
    }
  }

  deleteBatch(keys: Uint8Array, n: number): number {
    this.guardWrite('batch delete');
    return mapDeleteBatch(this.fd, keys, n, `map ${this.name}`);
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      if (this.ownsFd) closeFd(this.fd);
    }
  }
}

/**
 * Reads a contiguous range [start, start+count) of an ARRAY or PERCPU_ARRAY map with
 * bpf_map_lookup_batch into buffers allocated once. For ARRAY maps the batch token is the u32
 * index, so a range read starts at `start` directly (the last chunk says ENOENT).
 */
export class ArrayRangeReader {
  readonly keys: Buffer;
  readonly values: Buffer;
  private readonly inTok = Buffer.alloc(4);
  private readonly outTok = Buffer.alloc(4);
  private readonly stride: number;

  constructor(readonly map: BpfMap, readonly maxCount: number) {
    this.keys = Buffer.alloc(maxCount * 4);
    this.stride = map.valueBufferSize;
    this.values = Buffer.alloc(maxCount * this.stride);
  }

  /**
   * Reads `count` entries from index `start`; returns how many rows came back. Row i's key is
   * keys.readUInt32LE(i*4), its value at values[i*valueBufferSize].
   */
  read(start: number, count: number): number {
    if (count > this.maxCount) throw InputError.at('batch look up in', `map ${this.map.name}`, `range of ${count} exceeds reader size ${this.maxCount}`);
    let got = 0;
    let first = true;
    // The kernel's generic batch walks get_next_key from in_batch: rows start after it, and
    // out_batch is the last key returned. So reading from `start` passes start - 1 (or NULL).
    this.inTok.writeUInt32LE((start - 1) >>> 0, 0);
    for (let guard = 0; got < count && guard < count + 2; guard++) {
      const { count: n, done } = mapLookupBatch(
        this.map.fd, first && start === 0 ? null : this.inTok, this.outTok,
        this.keys.subarray(got * 4), this.values.subarray(got * this.stride), count - got, `map ${this.map.name}`,
      );
      first = false;
      got += n;
      if (done || n === 0) break;
      this.outTok.copy(this.inTok);
    }
    return Math.min(got, count);
  }
}

/** Sums one u64 field over the CPUs of a per-CPU value at `off` in `buf`. */
export function sumPerCpuU64(buf: Uint8Array, off: number, cpus: number, stride: number, field: number): bigint {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = 0n;
  for (let c = 0; c < cpus; c++) s += dv.getBigUint64(off + c * stride + field, true);
  return s;
}

/** u32-keyed ARRAY helpers. */
export function lookupU32(map: BpfMap, index: number, value: Buffer): boolean {
  return map.lookup(u32Key(index), value);
}

export function updateU32(map: BpfMap, index: number, value: Uint8Array): void {
  map.update(u32Key(index), value);
}
