// A tmux server of our own for end-to-end console runs (test/tmux, bench/console.ts): -S socket in
// a scratch directory, no user config, remain-on-exit; capture-pane polling instead of sleeps.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * A tmux server of our own (-S socket in a scratch directory, no user config), so nothing touches
 * anyone else's tmux and the socket file goes with the directory (tmux leaves it behind on exit).
 */
export class Tmux {
  constructor(readonly socket: string, readonly session: string, readonly cwd: string) {}
  run(args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  start(cmd: string, o: { width: number; height: number; env?: Record<string, string>; conf: string }): void {
    // remain-on-exit keeps the dead pane so its exit status can be read.
    writeFileSync(o.conf, 'set -g remain-on-exit on\nset -g status off\n');
    const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    execFileSync('tmux', ['-S', this.socket, '-f', o.conf, 'new-session', '-d', '-s', this.session, '-x', String(o.width), '-y', String(o.height), ...env, '-c', this.cwd, cmd],
      { encoding: 'utf8', timeout: 10_000 });
  }
  /** The visible screen; with `history`, the scrollback too. */
  capture(history = false): string {
    return this.run(['capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', this.session]);
  }
  keys(...keys: string[]): void {
    this.run(['send-keys', '-t', this.session, ...keys]);
  }
  /** The pane's shell's child: the console process. */
  consolePid(): number {
    const sh = this.pane().pid;
    const kids = readFileSync(`/proc/${sh}/task/${sh}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    if (kids.length !== 1) throw new Error(`pane shell ${sh} has children ${kids.join(',') || 'none'}`);
    return kids[0];
  }
  /** Literal text (no key-name lookup). */
  type(text: string): void {
    this.run(['send-keys', '-t', this.session, '-l', text]);
  }
  pane(): { pid: number; dead: boolean; status: number | null; signal: number | null } {
    const [pid, dead, status, signal] = this.run(['display-message', '-p', '-t', this.session, '#{pane_pid}|#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}']).trim().split('|');
    const num = (x: string | undefined) => (x === undefined || x === '' ? null : Number(x));
    return { pid: Number(pid), dead: dead === '1', status: num(status), signal: num(signal) };
  }
  async waitFor(re: RegExp, ms: number, what = String(re), history = false): Promise<string> {
    const end = Date.now() + ms;
    let pane = '';
    for (;;) {
      pane = this.capture(history);
      if (re.test(pane)) { if (process.env.KATRAN_TUI_TMUX_DEBUG) console.log(`--- ${what}\n${pane}`); return pane; }
      if (Date.now() > end) throw new Error(`timed out (${ms} ms) waiting for ${what} in the pane:\n${pane}`);
      await delay(100);
    }
  }
  kill(): void {
    try { this.run(['kill-server']); } catch { /* no server */ }
  }
}

/** "gone", or the process's state line and what it waits in (for failure messages). */
export function procState(pid: number): string {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const state = /^State:\s*(.*)$/m.exec(st)?.[1] ?? '?';
    let wchan = '';
    try { wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8'); } catch { /* none */ }
    let threads = '';
    try { threads = readdirSync(`/proc/${pid}/task`).map((t) => { try { return readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1]?.slice(0, 1) + readFileSync(`/proc/${pid}/task/${t}/wchan`, 'utf8').slice(0, 20); } catch { return '?'; } }).join(','); } catch { /* none */ }
    let stacks = '';
    try { stacks = readdirSync(`/proc/${pid}/task`).map((t) => { try { return `[${t}] ${readFileSync(`/proc/${pid}/task/${t}/stack`, 'utf8')}`; } catch { return ''; } }).join('\n'); } catch { /* none */ }
    return `still there: ${state}, wchan ${wchan}, threads ${threads}\n${stacks}`;
  } catch {
    return 'gone';
  }
}

export function hasTmux(): boolean {
  try { execFileSync('tmux', ['-V'], { stdio: 'ignore' }); return true; } catch { return false; }
}

