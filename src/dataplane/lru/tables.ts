// The connection table as the kernel holds it: one LRU per forwarding CPU (lru_mapping holds
// their map ids) and the shared fallback LRU. Opened by id, read-only unless the handle may write,
// and walked with batch lookups in bounded slices so a 1M-entry LRU never holds a thread for long.
import { u32Key, SIZES } from '../abi.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { BpfError, ERRNO, mapFdById, mapLookupBatch } from '../kernel/libbpf.js';
import { BpfMap } from '../kernel/maps.js';
import type { FlowCursor } from '../types.js';

/** One LRU: a CPU's own (cpu set) or the fallback LRU (cpu null). */
export interface FlowTable {
  cpu: number | null;
  where: string;
  map: BpfMap;
  /** We opened it by id (close it); the fallback LRU belongs to the handle. */
  owned: boolean;
}

/** The per-CPU LRUs by inner map id, then the fallback LRU. `writable` opens them for deletes. */
export function openFlowTables(h: BalancerHandle, writable = false): FlowTable[] {
  const out: FlowTable[] = [];
  const m = h.maps.lruMapping;
  const readOnly = !writable || h.readOnly;
  if (m) {
    const v = Buffer.alloc(m.valueBufferSize);
    const cpus = Math.min(m.maxEntries, m.cpus);
    for (let cpu = 0; cpu < cpus; cpu++) {
      if (!m.lookup(u32Key(cpu), v)) continue;
      const id = v.readUInt32LE(0);
      if (!id) continue;
      try {
        out.push({ cpu, where: `CPU ${cpu}'s LRU`, map: BpfMap.fromFd(`lru_cpu${cpu}`, mapFdById(id, readOnly), { readOnly }), owned: true });
      } catch { /* gone meanwhile */ }
    }
  }
  if (h.maps.fallbackLru) out.push({ cpu: null, where: 'the fallback LRU', map: h.maps.fallbackLru, owned: false });
  return out;
}

export function closeFlowTables(ts: FlowTable[]): void {
  for (const t of ts) if (t.owned) t.map.close();
}

/** Where a walk stands: the table (index into openFlowTables' list) and the htab batch token (a bucket number) in it, null at its start. */
export type { FlowCursor };

/** Rows per batch lookup; a bucket holding more than this is read with a bigger slice (ENOSPC). */
const BATCH_ROWS = 1024;

/**
 * Reads up to `budget` entries from `cursor` on, calling `row(table, key, value)` for each (key
 * 40 bytes of flow_key, value 16 bytes of real_pos_lru, both views into reused buffers). Returns
 * the cursor to continue from, or null when every table was read.
 */
export function walkFlows(ts: FlowTable[], from: FlowCursor | null, budget: number, row: (t: FlowTable, key: Buffer, value: Buffer) => void): { cursor: FlowCursor | null; read: number } {
  let cur: FlowCursor = from ?? { table: 0, token: null };
  let read = 0;
  let rows = BATCH_ROWS;
  let keys = Buffer.alloc(rows * SIZES.flowKey);
  let values = Buffer.alloc(rows * SIZES.realPosLru);
  const inTok = Buffer.alloc(8);
  const outTok = Buffer.alloc(8);
  // Bounded: every pass reads rows or moves to the next table; the guard stops a kernel that does neither.
  for (let guard = 0; cur.table < ts.length && read < budget && guard < budget + 4 * ts.length + 16; guard++) {
    const t = ts[cur.table];
    if (cur.token !== null) inTok.writeUInt32LE(cur.token, 0);
    let r: { count: number; done: boolean };
    try {
      r = mapLookupBatch(t.map.fd, cur.token === null ? null : inTok, outTok, keys, values, Math.min(rows, Math.max(1, budget - read)), `map ${t.map.name}`);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ERRNO.ENOSPC && rows < 1 << 20) {
        rows *= 4; // one hash bucket holds more entries than a slice: read it whole
        keys = Buffer.alloc(rows * SIZES.flowKey);
        values = Buffer.alloc(rows * SIZES.realPosLru);
        budget = Math.max(budget, read + rows);
        continue;
      }
      throw e;
    }
    for (let i = 0; i < r.count; i++) {
      row(t, keys.subarray(i * SIZES.flowKey, (i + 1) * SIZES.flowKey), values.subarray(i * SIZES.realPosLru, (i + 1) * SIZES.realPosLru));
    }
    read += r.count;
    cur = r.done || r.count === 0 ? { table: cur.table + 1, token: null } : { table: cur.table, token: outTok.readUInt32LE(0) };
  }
  return { cursor: cur.table < ts.length ? cur : null, read };
}
