// The real command line as an operator runs it: `node bin/katran-tui ARGS` in a child process
// (no debug output), and a check that it succeeded.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'katran-tui');

export interface Res { code: number; out: string; err: string }

export function cli(args: string[]): Res {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KATRAN_TUI_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** `r`, after asserting exit 0 (the message names `what` and the stderr). */
export function ok(r: Res, what: string): Res {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.err}`);
  return r;
}
