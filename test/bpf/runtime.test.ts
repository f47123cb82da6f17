// Headroom: the kernel's BPF run-time statistics move a program's run_cnt only while a process
// holds the bpf_enable_stats fd (its /proc/PID/fd shows anon_inode:bpf-stats), and stop when that
// process exits or is killed with SIGKILL. While they move, RunTimeMeter gives ns per packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { TestRunner, progRunStats } from '../../src/dataplane/kernel/libbpf.js';
import { RunTimeMeter, runTimeStatsMoving } from '../../src/dataplane/stats/runtime.js';
import { requireBpf } from '../helpers/env.js';
import { loadTestBalancer, v4Frame } from './control-helpers.js';

const runtimeJs = new URL('../../src/dataplane/stats/runtime.js', import.meta.url).pathname;

/** A child that turns the statistics on through the product's module and holds them until it ends. */
async function holder(exit: 'stdin' | 'never'): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(runtimeJs)}); m.setRunTimeStats(true); console.log('on');
     ${exit === 'stdin' ? "process.stdin.on('data', () => { m.setRunTimeStats(false); process.exit(0); });" : ''} setTimeout(() => {}, 60000);`],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    c.stdout!.on('data', (d) => { if (String(d).includes('on')) res(); });
    c.once('exit', (code) => rej(new Error(`holder exited ${code}`)));
  });
  return c;
}

function bpfStatsFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((f) => { try { return readlinkSync(`/proc/${pid}/fd/${f}`) === 'anon_inode:bpf-stats'; } catch { return false; } }).length;
}

test('run-time statistics: run_cnt moves only while a process holds the fd, and stops after it exits or is killed', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const runner = new TestRunner(lb.progFd);
  const frame = v4Frame({ src: '203.0.113.1', dst: '192.0.2.99', sport: 4000, dport: 80, proto: 'udp' });
  const moved = (n = 50) => {
    const a = progRunStats(lb.progFd).runCnt;
    for (let i = 0; i < n; i++) runner.run(frame);
    return Number(progRunStats(lb.progFd).runCnt - a);
  };
  const children: ChildProcess[] = [];
  try {
    if (moved() !== 0) { t.skip('another process on this box holds BPF run-time statistics on: the off state cannot be observed now'); return; }
    assert.equal(moved(), 0, 'off by default');
    for (const how of ['exit', 'kill -9'] as const) {
      const c = await holder(how === 'exit' ? 'stdin' : 'never');
      children.push(c);
      assert.equal(bpfStatsFds(c.pid!), 1, `/proc/${c.pid}/fd shows anon_inode:bpf-stats`);
      assert.equal(moved(), 50, `on while the holder lives (${how})`);
      assert.equal(runTimeStatsMoving(lb.progFd, () => runner.run(frame)), true, 'the bench\'s check sees them on');
      const meter = new RunTimeMeter(lb.progFd);
      meter.sample([]);
      for (let i = 0; i < 20; i++) runner.run(frame);
      const rt = meter.sample([{ cpu: 0, total: { v1: 0, v2: 0, r1: 1_000_000, r2: 0 }, tx: { v1: 0, v2: 0, r1: 0, r2: 0 }, drop: { v1: 0, v2: 0, r1: 0, r2: 0 }, pass: { v1: 0, v2: 0, r1: 0, r2: 0 } }]);
      assert.ok(rt && rt.runs === 20 && rt.nsPerPacket > 0, JSON.stringify(rt));
      assert.ok(Math.abs(rt.perCpuShare[0].share - Math.min(1, rt.nsPerPacket / 1000)) < 1e-9, 'the estimate is pps × ns');
      const gone = new Promise((res) => c.once('exit', res));
      if (how === 'exit') c.stdin!.write('x'); else c.kill('SIGKILL');
      await gone;
      assert.equal(moved(), 0, `off after the holder's ${how}`);
      assert.equal(runTimeStatsMoving(lb.progFd, () => runner.run(frame)), false, 'and off');
      const off = new RunTimeMeter(lb.progFd);
      off.sample([]);
      for (let i = 0; i < 20; i++) runner.run(frame);
      assert.equal(off.sample([]), null, 'no ns per packet while off');
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
    lb.close();
  }
});
