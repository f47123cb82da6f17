// Entry point the CLI calls for `katran-tui` without a subcommand.
import { render } from 'ink';
import type { AsyncDataplane, AsyncHost } from '../dataplane/async.js';
import { App } from './App.js';
import { destroyChart } from './chart.js';
import { NotATerminalError } from './errors.js';
import { TerminalSession } from './terminal.js';
import { colorsOff } from './theme.js';

export { NotATerminalError } from './errors.js';

export interface ConsoleOptions {
  intf?: string;
  readOnly?: boolean;
  intervalMs?: number;
  noColor?: boolean;
  onExit?: () => void;
  /** Streams (default: the process's); they must be TTYs. */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
}

/**
 * Runs the console until q / Ctrl-C / a signal. Throws NotATerminalError (before touching the
 * terminal) when stdin or stdout is not a TTY. Never detaches the balancer: the dataplane handle is
 * closed (fds, lock), the host closed (the dataplane's thread ends) and the program stays attached.
 */
export async function runConsole(host: AsyncHost, o: ConsoleOptions = {}): Promise<void> {
  const stdin = o.stdin ?? process.stdin;
  const stdout = o.stdout ?? process.stdout;
  if (!stdin.isTTY || !stdout.isTTY || typeof stdin.setRawMode !== 'function') {
    await host.close();
    throw new NotATerminalError();
  }

  const term = new TerminalSession({ stdin, stdout });
  let dp: AsyncDataplane | null = null;
  let crash: unknown = null;
  const closeDp = () => {
    const d = dp;
    dp = null;
    d?.close().catch(() => { /* best effort: the host's close closes it too */ });
  };

  term.enter();
  let app: ReturnType<typeof render> | null = null;
  term.watch(
    (sig) => {
      process.exitCode = sig === 'SIGINT' ? 130 : sig === 'SIGHUP' ? 129 : 143;
      app?.unmount();
    },
    (e) => {
      crash = e;
      try { app?.unmount(); } catch { /* already gone */ }
      closeDp();
      term.restore();
      process.stderr.write(`katran-tui: console crashed: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
  try {
    app = render(
      <App host={host} intf={o.intf} readOnly={o.readOnly} intervalMs={o.intervalMs} noColor={colorsOff(o.noColor)}
        onDataplane={(d) => { dp = d; }} />,
      { stdin, stdout, exitOnCtrlC: false, patchConsole: true, maxFps: 20 },
    );
    await app.waitUntilExit();
  } catch (e) {
    crash = e;
  } finally {
    destroyChart();
    term.restore();
    closeDp();
    await host.close();
  }
  o.onExit?.();
  if (crash) throw crash;
}
