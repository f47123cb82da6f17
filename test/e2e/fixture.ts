// Shared pieces of the lab tests: a lab per test (named with the run id, removed in finally),
// VIP programming straight into the kernel maps with abi.ts codecs and maglev.ts rings (until the
// control plane's Balancer is used), and counter readers.
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { ctlMac, flowKey, lbStats, realDefinition, u32Key, vipDefinition, vipMeta, type FlowKey, type Proto, CTL_MAC_INDEX, parseMac, STATS } from '../../src/dataplane/abi.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { createLab, type Lab, type LabOptions } from '../../src/lab/lab.js';
import { closeFd, mapFdById, mapLookup } from '../../src/dataplane/kernel/libbpf.js';
import { ringForReals } from '../../src/dataplane/control/maglev.js';
import { sumPerCpuU64 } from '../../src/dataplane/kernel/maps.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { inCI, requireBpf, runId } from '../helpers/env.js';

/** A short lab id unique to this run: `<letter><runId-ish>`. Links are kt<id>b etc. (<= 15 chars). */
export function labId(letter: string): string {
  return `${letter}${runId.replace(/[^a-z0-9]/g, '').slice(-8)}`.slice(0, 10);
}

/** Where the lab's sink comes from: the bundled one, or KATRAN_TUI_LAB_SINK (another build of it). */
export function sinkObject(): string | undefined {
  return process.env.KATRAN_TUI_LAB_SINK || undefined;
}

/** requireBpf + the objects a lab test needs; false when the test was skipped. */
export async function requireLab(t: TestContext): Promise<boolean> {
  if (!(await requireBpf(t))) return false;
  const sink = sinkObject() ?? bundledObject('sink');
  if (!existsSync(sink)) {
    if (inCI) throw new Error(`the lab's sink object ${sink} is missing: the build did not make it`);
    t.skip(`the lab's sink object ${sink} is not built yet (bpf/sink.bpf.c)`);
    return false;
  }
  if (!existsSync(bundledObject('balancer'))) {
    if (inCI) throw new Error(`the balancer object ${bundledObject('balancer')} is missing: the build did not make it`);
    t.skip(`the balancer object ${bundledObject('balancer')} is not built yet`);
    return false;
  }
  return true;
}

export function newLab(id: string, o: Omit<LabOptions, 'id'> = {}): Lab {
  return createLab({ id, sinkObject: sinkObject(), ...o });
}

export interface TestVip {
  address: string;
  port: number;
  proto: Proto;
  vipNum: number;
  flags?: number;
  reals: { index: number; address: string; weight?: number }[];
}

/** Writes reals, the whole ring of the VIP, then the VIP (ring complete before the VIP appears). */
export function programVip(h: BalancerHandle, v: TestVip): Uint32Array {
  for (const r of v.reals) h.maps.reals.update(u32Key(r.index), realDefinition.encode({ address: r.address }));
  const ring = ringForReals(v.reals.map((r) => ({ index: r.index, address: r.address, weight: r.weight ?? 1 })), h.sizes.ringSize, 'maglev-v2');
  if (!ring) throw new Error('no ring');
  const n = h.sizes.ringSize;
  const keys = Buffer.alloc(n * 4);
  const vals = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(v.vipNum * n + i, i * 4);
    vals.writeUInt32LE(ring[i], i * 4);
  }
  h.maps.rings.updateBatch(keys, vals, n);
  h.maps.vips.update(vipDefinition.encode(v), vipMeta.encode({ flags: v.flags ?? 0, vipNum: v.vipNum }));
  return ring;
}

export function setMac(h: BalancerHandle, mac: string): void {
  h.maps.ctl.update(u32Key(CTL_MAC_INDEX), ctlMac.encode(parseMac(mac)));
}

export function readMac(h: BalancerHandle): Buffer {
  const v = Buffer.alloc(h.maps.ctl.valueBufferSize);
  h.maps.ctl.lookup(u32Key(CTL_MAC_INDEX), v);
  return ctlMac.decode(v);
}

/** Sum over CPUs of an lb_stats pair in a PERCPU_ARRAY (stats or reals_stats). */
export function pair(h: BalancerHandle, which: 'stats' | 'realsStats', index: number): { v1: number; v2: number } {
  const m = h.maps[which];
  const buf = m.newValueBuffer();
  if (!m.lookup(u32Key(index), buf)) return { v1: 0, v2: 0 };
  const stride = (lbStats.size + 7) & ~7;
  return {
    v1: Number(sumPerCpuU64(buf, 0, m.cpus, stride, 0)),
    v2: Number(sumPerCpuU64(buf, 0, m.cpus, stride, 8)),
  };
}

export function globalStat(h: BalancerHandle, name: keyof typeof STATS): { v1: number; v2: number } {
  return pair(h, 'stats', h.sizes.maxVips + STATS[name]);
}

/** Per-CPU LRU entries of a flow: which CPUs' LRUs hold it, and the real index they point at. */
export function lruEntries(h: BalancerHandle, flow: FlowKey): { cpu: number; pos: number }[] {
  const out: { cpu: number; pos: number }[] = [];
  const lm = h.maps.lruMapping;
  if (!lm) return out;
  const key = flowKey.encode(flow);
  const id = Buffer.alloc(lm.valueBufferSize);
  const val = Buffer.alloc(16);
  for (let cpu = 0; cpu < Math.min(lm.maxEntries, 128); cpu++) {
    if (!lm.lookup(u32Key(cpu), id)) continue;
    const mapId = id.readUInt32LE(0);
    if (!mapId) continue;
    const fd = mapFdById(mapId, true);
    try {
      if (mapLookup(fd, key, val)) out.push({ cpu, pos: val.readUInt32LE(0) });
    } finally {
      closeFd(fd);
    }
  }
  return out;
}

export async function settle(ms = 150): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Sink count of one real (0 when absent). */
export function sinkOf(lab: Lab, real: string): number {
  return lab.sinkCounts().find((c) => c.dst === real)?.packets ?? 0;
}

/** A second process (test/e2e/child.ts) holding a balancer; `exit()` ends it and waits. */
export interface ChildBalancer {
  progId: number;
  pid: number;
  exit(): Promise<number | null>;
}

export async function spawnChild(spec: { mode: 'attach' | 'foreign'; intf: string; defaultMac: string; pinRoot?: string; vips: TestVip[] }): Promise<ChildBalancer> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const script = fileURLToPath(new URL('./child.js', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const ready = await new Promise<{ progId: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child not ready in 30 s: ${err}`)); }, 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) { clearTimeout(timer); resolve(JSON.parse(line)); }
    });
    child.on('close', (code) => { clearTimeout(timer); reject(new Error(`child exited (${code}) before it was ready: ${err.trim()}`)); });
  });
  return {
    ...ready,
    exit() {
      if (child.exitCode === null) child.stdin.end('exit\n');
      return exited;
    },
  };
}
