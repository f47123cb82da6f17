// How the console words the dataplane's errors: by name, so no component imports libbpf.ts.
export function describeError(e: Error): string {
  switch (e.name) {
    case 'ReadOnlyError': return e.message; // "refused: <reason>"
    case 'InputError': return e.message;
    case 'LockedError': return `${e.message} (open read-only, or stop the other writer)`;
    case 'BpfError': {
      const code = (e as Error & { code?: string }).code;
      return code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
    }
    default: return e.message || String(e);
  }
}

/** The CLI prints this message and exits non-zero when the console has no terminal. */
export class NotATerminalError extends Error {
  constructor() {
    super('katran-tui: the console needs a terminal; use a subcommand such as `katran-tui status` or `katran-tui stats --once`');
    this.name = 'NotATerminalError';
  }
}
