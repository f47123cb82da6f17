// Terminal setup and teardown for the console: the alternate screen, the cursor, raw mode, and
// the promise that whatever happens (q, a crash, SIGTERM, SIGINT, SIGHUP) the terminal comes back.
export interface TerminalStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

const ENTER = '\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J';
const LEAVE = '\x1b[?25h\x1b[?1049l';

export class TerminalSession {
  private restored = false;
  /** The terminal hung up (SSH dropped): writing to it fails with EIO, so nothing more is written. */
  private hungUp = false;
  private readonly handlers: [string, (...a: unknown[]) => void][] = [];

  constructor(private readonly io: TerminalStreams) {}

  enter(): void {
    this.io.stdout.write(ENTER);
  }

  /** Idempotent: leaves the alternate screen, shows the cursor, leaves raw mode. */
  restore(): void {
    if (this.restored) return;
    this.restored = true;
    if (!this.hungUp) {
      try { if (this.io.stdin.isTTY && this.io.stdin.isRaw) this.io.stdin.setRawMode(false); } catch { /* closed */ }
      try { this.io.stdout.write(LEAVE); } catch { /* closed */ }
    }
    for (const [ev, h] of this.handlers) process.off(ev, h);
    this.handlers.length = 0;
  }

  /**
   * After a hangup every write to the terminal fails with EIO, asynchronously, as an 'error' event
   * that would crash the process before the caller's clean-up (the demo's teardown) runs. Swallow
   * those errors for the rest of the process's life; the output has nowhere to go anyway.
   */
  hangUp(): void {
    if (this.hungUp) return;
    this.hungUp = true;
    const ignore = () => { /* the terminal is gone */ };
    for (const s of new Set<NodeJS.EventEmitter>([this.io.stdout, this.io.stdin, process.stdout, process.stderr])) s.on('error', ignore);
    // At exit Node restores the tty's termios and aborts (an assertion in ResetStdio) when the tty
    // is gone. By the time 'exit' fires every clean-up has run; end without that last step.
    process.once('exit', () => process.kill(process.pid, 'SIGKILL'));
  }

  /** Calls `onSignal` for SIGTERM / SIGINT / SIGHUP and `onCrash` for uncaught errors. */
  watch(onSignal: (sig: NodeJS.Signals) => void, onCrash: (e: unknown) => void): void {
    const add = (ev: string, h: (...a: unknown[]) => void) => { process.on(ev, h); this.handlers.push([ev, h]); };
    for (const sig of ['SIGTERM', 'SIGINT'] as NodeJS.Signals[]) add(sig, () => onSignal(sig));
    add('SIGHUP', () => {
      this.hangUp();
      onSignal('SIGHUP');
    });
    add('uncaughtException', (e) => onCrash(e));
    add('unhandledRejection', (e) => onCrash(e));
    add('exit', () => this.restore());
  }
}
