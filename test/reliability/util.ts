// Shared by the reliability tests: throwaway veth pairs (root namespace, run-id names, no
// addresses, no traffic), the sockets a process owns, snapshots of kernel maps and state files to
// prove "nothing changed", and child processes with a deadline.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runId } from '../helpers/env.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { ArrayRangeReader } from '../../src/dataplane/kernel/maps.js';

/** A short name unique to this run: `<prefix><run id>` (<= 13 characters, so +'a'/'b' fits IFNAMSIZ). */
export function shortName(prefix: string): string {
  return `${prefix}${runId.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(-8)}`.slice(0, 13);
}

/** Creates a veth pair <name>a / <name>b in the root namespace, up, MTU 1600. Returns the 'a' side. */
export function makeVeth(name: string): string {
  delVeth(name);
  execFileSync('ip', ['link', 'add', `${name}a`, 'mtu', '1600', 'type', 'veth', 'peer', 'name', `${name}b`, 'mtu', '1600'], { stdio: 'pipe', timeout: 10_000 });
  execFileSync('ip', ['link', 'set', `${name}a`, 'up'], { stdio: 'pipe', timeout: 10_000 });
  execFileSync('ip', ['link', 'set', `${name}b`, 'up'], { stdio: 'pipe', timeout: 10_000 });
  return `${name}a`;
}

export function delVeth(name: string): void {
  try {
    execFileSync('ip', ['link', 'del', `${name}a`], { stdio: 'pipe', timeout: 10_000 });
  } catch { /* not there */ }
}

// ---------------------------------------------------------------------------------------------
// Sockets of a process

export interface OwnedSocket {
  table: string;
  local: string;
  state: string;
  inode: number;
  listening: boolean;
}

/**
 * Every inet (tcp, tcp6, udp, udp6, raw, raw6) socket and every listening unix socket that
 * process `pid` holds an fd of (matched by inode through /proc/<pid>/fd and its net namespace's
 * /proc/<pid>/net tables).
 */
export function socketsOf(pid: number): OwnedSocket[] {
  const inodes = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try { link = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m) inodes.add(Number(m[1]));
  }
  const out: OwnedSocket[] = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6']) {
    const p = `/proc/${pid}/net/${table}`;
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const inode = Number(c[9]);
      if (!inodes.has(inode)) continue;
      // tcp: st 0A = LISTEN; a bound udp / raw socket receives from anyone: counts as listening.
      const listening = table.startsWith('tcp') ? c[3] === '0A' : true;
      out.push({ table, local: c[1], state: c[3], inode, listening });
    }
  }
  const unix = `/proc/${pid}/net/unix`;
  if (existsSync(unix)) {
    for (const line of readFileSync(unix, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 7) continue;
      const inode = Number(c[6]);
      if (!inodes.has(inode)) continue;
      const acceptCon = (parseInt(c[3], 16) & 0x10000) !== 0;
      out.push({ table: 'unix', local: c[7] ?? '(unnamed)', state: c[5], inode, listening: acceptCon });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * A digest of everything the control plane writes: vip_map (sorted entries), reals, ctl_array,
 * stats and reals_stats of the indexes in use, and the ring slices of vip_nums 0..ringSlices-1.
 */
export function kernelSnapshot(h: BalancerHandle, ringSlices = 8): Record<string, string> {
  const m = h.maps;
  const out: Record<string, string> = {};
  const val = Buffer.alloc(m.vips.valueBufferSize);
  const rows: string[] = [];
  for (const k of m.vips.keys()) {
    m.vips.lookup(k, val);
    rows.push(`${k.toString('hex')}=${val.toString('hex')}`);
  }
  out.vip_map = rows.sort().join(',');
  const arr = (map: typeof m.reals, n: number): string => {
    const r = new ArrayRangeReader(map, n);
    const got = r.read(0, n);
    return sha(r.values.subarray(0, got * map.valueBufferSize));
  };
  out.reals = arr(m.reals, m.reals.maxEntries);
  out.ctl = arr(m.ctl, m.ctl.maxEntries);
  const ring = new ArrayRangeReader(m.rings, h.sizes.ringSize);
  for (let v = 0; v < ringSlices; v++) {
    const got = ring.read(v * h.sizes.ringSize, h.sizes.ringSize);
    out[`ring${v}`] = sha(ring.values.subarray(0, got * 4));
  }
  return out;
}

/** sha256 of every regular file in a state directory (the lock file's content excluded: it is per process). */
export function dirSnapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (!st.isFile()) continue;
    out[name] = name === 'lock' ? 'lock' : sha(readFileSync(p));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Children

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (or kills it at the deadline). */
export function runChild(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
    c.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
    c.stdin.end(o.input ?? '');
  });
}

/** Starts a child and resolves once a line of its stdout matches `ready` (rejects at the deadline). */
export function startChild(cmd: string, args: string[], ready: RegExp, o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      c.kill('SIGKILL');
      reject(new Error(`child ${cmd} ${args.join(' ')} not ready within ${o.timeoutMs ?? 30_000} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, o.timeoutMs ?? 30_000);
    c.stdout!.on('data', (d) => {
      stdout += d;
      if (!done && ready.test(stdout)) {
        done = true;
        clearTimeout(timer);
        resolve({ child: c, out: () => stdout, err: () => stderr });
      }
    });
    c.stderr!.on('data', (d) => { stderr += d; });
    c.on('exit', (code, sig) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`child ${cmd} exited (${code ?? sig}) before ready; stdout: ${stdout}; stderr: ${stderr}`));
    });
  });
}

/** Kills a child (by its pid only) and waits for it to be gone. */
export async function killChild(c: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    c.once('exit', () => resolve());
    c.kill(sig);
  });
}

/** A way to run a command as user nobody, or null when this box has none. */
export function asNobody(): string[] | null {
  for (const [cmd, args] of [['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--']], ['runuser', ['-u', 'nobody', '--']]] as const) {
    try {
      execFileSync('which', [cmd], { stdio: 'pipe' });
      return [cmd, ...args];
    } catch { /* try the next */ }
  }
  return null;
}
