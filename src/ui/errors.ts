// How the console words the dataplane's errors (errors.ts has no koffi: no component loads the binding).
import { BpfError, LockedError } from '../dataplane/errors.js';

export function describeError(e: Error): string {
  if (e instanceof LockedError) return `${e.message} (open read-only, or stop the other writer)`;
  if (e instanceof BpfError && !e.codeInMessage) return `${e.message} (${e.code})`;
  return e.message || String(e);
}

/** The CLI prints this message and exits non-zero when the console has no terminal. */
export class NotATerminalError extends Error {
  constructor() {
    super('katran-tui: the console needs a terminal; use a subcommand such as `katran-tui status` or `katran-tui stats --once`');
    this.name = 'NotATerminalError';
  }
}
