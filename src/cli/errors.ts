// Error classes of the command line and how each maps to an exit code and a one-line message.
// Exit codes (a public interface): 0 ok, 1 the operation failed, 2 bad usage or bad input.
import { InputError, MapFullError } from '../dataplane/errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad usage: a missing argument, conflicting flags, a flag that makes no sense here. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that cannot be done here and now (no balancer, several balancers, not root...). */
export class OperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

/** A request the dataplane refused before writing anything: bad input, or more than the maps hold. */
export function isRefusedRequest(e: unknown): boolean {
  return e instanceof InputError || e instanceof MapFullError;
}

export function exitCodeFor(e: unknown): number {
  if (isRefusedRequest(e) || e instanceof UsageError) return EXIT.usage;
  return EXIT.failed;
}

/**
 * Operator text shown back in a message: control characters escaped (no terminal injection),
 * one line, bounded length.
 */
export function sanitize(text: unknown, max = 300): string {
  let s = String(text)
    .replace(/\r?\n\s*/g, '; ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  if (s.length > max) s = `${s.slice(0, max)}…`;
  return s;
}

/** The one stderr line for an error: "katran-tui: <what failed>: <why>". */
export function errorLine(e: unknown, context?: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const prefix = context ? `${context}: ` : '';
  return `katran-tui: ${sanitize(prefix + msg, 600)}`;
}
