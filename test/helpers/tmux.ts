// A tmux server of the test's own (-L socket), so tests never touch the user's sessions: start a
// command in a pane of a fixed size, read the screen, type keys, and wait for text on it.
import { execFileSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

export class TmuxPane {
  constructor(readonly socket: string, readonly session = 'main') {}

  static available(): boolean {
    try {
      execFileSync('tmux', ['-V'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  }

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }

  /** Starts `command` (a shell line of the test's own making) in a detached session. */
  start(command: string, o: { cols?: number; rows?: number; cwd?: string; env?: Record<string, string> } = {}): void {
    const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.tmux(['new-session', '-d', '-s', this.session, '-x', String(o.cols ?? 80), '-y', String(o.rows ?? 24),
      ...(o.cwd ? ['-c', o.cwd] : []), ...env, command]);
  }

  capture(): string {
    return this.tmux(['capture-pane', '-p', '-t', this.session]);
  }

  /** The pid of the pane's process (the command itself when started with `exec`). */
  pid(): number {
    return Number(this.tmux(['display-message', '-p', '-t', this.session, '#{pane_pid}']).trim());
  }

  keys(...keys: string[]): void {
    this.tmux(['send-keys', '-t', this.session, ...keys]);
  }

  /** Polls the screen until `re` matches; throws with the last screen after `ms`. */
  async waitFor(re: RegExp, ms = 15_000): Promise<string> {
    let pane = '';
    for (let i = 0; i < Math.ceil(ms / 200); i++) {
      try {
        pane = this.capture();
      } catch {
        pane = '(no pane)';
      }
      if (re.test(pane)) return pane;
      await delay(200);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${re} on the screen:\n${pane}`);
  }

  /** Ends the server: every process in it gets SIGHUP, as when an SSH session drops. */
  kill(): void {
    try {
      this.tmux(['kill-server']);
    } catch { /* already gone */ }
  }
}
