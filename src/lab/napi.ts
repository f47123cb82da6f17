// Where the lab's veth NAPI work runs (GUIDE.md, "This kernel"). By default a veth's NAPI poll runs
// in softirq on the CPU that put frames into its ring: the generator's live-frames run, the
// balancer on kt<id>b and the sink on kt<id>p then all share the generator's CPU, one after the
// other. With threaded NAPI (/sys/class/net/IF/threaded = 1) each veth's poll runs in its own
// kernel thread, "napi/<ifname>-<napi id>", which can be pinned to a CPU: on a 2-core box the
// generator on one CPU and the balancer's thread on the other. A veth has NAPI only while an XDP
// program is attached (the kernel adds it at attach and deletes it at detach), so the thread is
// made again after every re-attach: call placeNapi() after attaching.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pinThread } from './libc.js';

/** Turns threaded NAPI on or off for `ifname` (in network namespace `ns`, or this one). */
export function setThreaded(ifname: string, on: boolean, ns?: string): void {
  const path = `/sys/class/net/${ifname}/threaded`;
  const v = on ? '1\n' : '0\n';
  if (!ns) {
    // Writing fails (EOPNOTSUPP) on a veth without NAPI (no native XDP program): only when needed.
    if (readFileSync(path, 'utf8').trim() !== v.trim()) writeFileSync(path, v);
    return;
  }
  // ip netns exec mounts the namespace's own /sys; a bare setns would still see the root's.
  execFileSync('ip', ['netns', 'exec', ns, 'tee', path], { input: v, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
}

/**
 * The NAPI kernel threads of `ifname` (pids). Kernel thread names are cut at 15 characters, so
 * "napi/<ifname>-" must fit: interface names of at most 9 characters (lab ids of at most 6).
 */
export function napiThreads(ifname: string): number[] {
  const prefix = `napi/${ifname}-`;
  if (prefix.length > 15) throw new RangeError(`interface ${ifname}: name too long to find its NAPI threads (at most 9 characters)`);
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, 'utf8').startsWith(prefix)) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

/** The CPU a thread last ran on (field 39 of /proc/PID/stat), -1 when gone. */
export function lastCpu(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[36]);
  } catch {
    return -1;
  }
}

/** CPU time (user + system, ms) a thread or process used so far; 0 when gone. */
export function cpuTimeMs(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime in USER_HZ (100)
  } catch {
    return 0;
  }
}

export interface NapiPlacement {
  ifname: string;
  /** Threaded NAPI on, and the threads pinned to `cpu`; or off (softirq on the sender's CPU). */
  threaded: boolean;
  cpu?: number;
  pids: number[];
}

/**
 * Threaded NAPI for `ifname` pinned to `cpu`, or (cpu undefined) threaded NAPI off. Returns where
 * it runs now. Waits briefly for the kernel to start the thread.
 */
export async function placeNapi(ifname: string, cpu: number | undefined, ns?: string): Promise<NapiPlacement> {
  if (cpu === undefined) {
    setThreaded(ifname, false, ns);
    return { ifname, threaded: false, pids: [] };
  }
  setThreaded(ifname, true, ns);
  let pids: number[] = [];
  for (let i = 0; i < 50 && pids.length === 0; i++) {
    pids = napiThreads(ifname);
    if (pids.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  if (pids.length === 0) throw new Error(`interface ${ifname}: threaded NAPI on but no napi/${ifname}- thread (no XDP program attached?)`);
  for (const p of pids) pinThread(p, cpu);
  return { ifname, threaded: true, cpu, pids };
}

/** Whether /sys/class/net/IF/threaded exists for a root-namespace interface. */
export function hasThreadedKnob(ifname: string): boolean {
  return existsSync(`/sys/class/net/${ifname}/threaded`);
}
