// Headroom: the kernel's BPF run-time statistics (bpf_enable_stats(BPF_STATS_RUN_TIME)). On only
// while this process holds the fd (closed with the process, also on kill -9), off by default: they
// cost every BPF program on the box time per run. While they move, the program's ns per packet
// comes from run_time_ns / run_cnt deltas, and each CPU's share of a core is ESTIMATED as that CPU's
// pps × the average ns (the kernel gives no per-CPU split).
import { closeFd, enableRunTimeStats, progRunStats } from '../kernel/libbpf.js';
import type { CpuStat, RunTime } from '../types.js';

/** What the statistics cost per packet, measured on this project's test machine (shown before turning them on). */
export const RUN_TIME_STATS_COST_NS = 72;

let statsFd = -1;

/** Turns run-time statistics on (holding the fd) or off (closing it); returns whether they are on. */
export function setRunTimeStats(on: boolean): boolean {
  if (on && statsFd < 0) statsFd = enableRunTimeStats();
  if (!on && statsFd >= 0) { closeFd(statsFd); statsFd = -1; }
  return statsFd >= 0;
}

export function runTimeStatsHeld(): boolean {
  return statsFd >= 0;
}

/** Per-CPU share estimates from per-CPU pps and the average ns per packet. */
export function coreShares(perCpu: CpuStat[], nsPerPacket: number): { cpu: number; share: number }[] {
  return perCpu.map((c) => ({ cpu: c.cpu, share: Math.min(1, (c.total.r1 * nsPerPacket) / 1e9) }));
}

/** ns per packet over each interval, from the program's run_time_ns / run_cnt. */
export class RunTimeMeter {
  private last: { runTimeNs: bigint; runCnt: bigint } | null = null;
  constructor(private readonly progFd: number) {}

  /** Null while the counters do not move (statistics off, or no packet). */
  sample(perCpu: CpuStat[]): RunTime | null {
    const now = progRunStats(this.progFd);
    const prev = this.last;
    this.last = now;
    if (!prev || now.runCnt <= prev.runCnt || now.runTimeNs < prev.runTimeNs) return null;
    const nsPerPacket = Number(now.runTimeNs - prev.runTimeNs) / Number(now.runCnt - prev.runCnt);
    const perCpuShare = coreShares(perCpu, nsPerPacket);
    const busiest = perCpuShare.reduce<{ cpu: number; share: number } | null>((b, c) => (!b || c.share > b.share ? c : b), null);
    return { nsPerPacket, runs: Number(now.runCnt - prev.runCnt), perCpuShare, busiest, estimate: true };
  }
}

/** Whether run-time statistics are on now (someone holds the fd): run_cnt of `progFd` moves over `run` (which runs it). */
export function runTimeStatsMoving(progFd: number, run: () => void): boolean {
  const a = progRunStats(progFd).runCnt;
  run();
  return progRunStats(progFd).runCnt !== a;
}
