// What every kernel-touching test needs: a run id for unique names, and a gate that fails (in CI)
// or skips (elsewhere, with the reason) when BPF is not available.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const runId = process.env.KATRAN_TUI_TEST_RUN ?? `t${process.pid.toString(36)}`;
/** Running in CI: BPF must be available (scripts/run-tests.mjs turns CI=true into KATRAN_TUI_CI). */
export const inCI = process.env.KATRAN_TUI_CI === 'true' || process.env.CI === 'true';

let cached: string | null | undefined;

/** Why BPF cannot be used here, or null when it can. */
export async function bpfUnavailableReason(): Promise<string | null> {
  if (cached !== undefined) return cached;
  cached = await probe();
  return cached;
}

async function probe(): Promise<string | null> {
  if (process.getuid && process.getuid() !== 0) return 'not root: BPF tests need root';
  const mounts = existsSync('/proc/mounts') ? readFileSync('/proc/mounts', 'utf8') : '';
  if (!/ \/sys\/fs\/bpf bpf /.test(mounts)) return 'bpffs is not mounted at /sys/fs/bpf (bash scripts/setup.sh mounts it)';
  try {
    const lb = await import('../../src/dataplane/kernel/libbpf.js');
    const fd = lb.mapCreate(lb.BPF_MAP_TYPE.ARRAY, 'kt_probe', 4, 4, 1);
    lb.closeFd(fd);
  } catch (e) {
    return `libbpf / bpf() unusable: ${(e as Error).message}`;
  }
  return null;
}

/**
 * Call first in every test that needs the kernel's BPF. In CI (CI=true) an unavailable BPF is a
 * failure; elsewhere the test is skipped with the reason. Returns false when skipped.
 */
export async function requireBpf(t: TestContext): Promise<boolean> {
  const why = await bpfUnavailableReason();
  if (why === null) return true;
  if (inCI) throw new Error(`BPF is required in CI and unavailable: ${why}`);
  t.skip(why);
  return false;
}

/** A scratch directory of this run, removed by the caller (and by the runner's sweep). */
export function scratchDir(name: string): string {
  const d = join('/tmp', `katran-tui-test-${runId}`, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true, mode: 0o700 });
  return d;
}

/** A bpffs pin root of this run. */
export function pinRoot(name: string): string {
  const d = join('/sys/fs/bpf', `katran-tui-test-${runId}`, name);
  rmSync(d, { recursive: true, force: true });
  return d;
}

/** True when every directory above `path` lets others through and `path` lets them read it. */
function othersCanRead(path: string): boolean {
  for (let p = path, first = true; ; p = dirname(p), first = false) {
    const m = statSync(p).mode;
    if (!(m & 0o001) || (first && !(m & 0o004))) return false;
    if (p === dirname(p)) return true;
  }
}

let readable: string | undefined;

/**
 * The program as an unprivileged user can run it, wherever the checkout lives: a checkout under
 * /root is unreadable to user nobody (ERR_MODULE_NOT_FOUND instead of the message under test), so
 * bin/, package.json and the built dist/src, dist/bpf and dist/test/reliability are copied to a
 * world-readable directory of this run (node_modules linked when others can read it, else copied).
 * Returns that directory's root, laid out like the checkout.
 */
export function readableCheckout(): string {
  if (readable) return readable;
  const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const base = join('/tmp', `katran-tui-test-${runId}`);
  mkdirSync(base, { recursive: true });
  chmodSync(base, 0o755); // the run's other scratch dirs inside stay 0700
  const d = join(base, 'readable-checkout');
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { mode: 0o755 });
  for (const part of ['bin', 'package.json', 'dist/src', 'dist/bpf', 'dist/test/reliability']) cpSync(join(repo, part), join(d, part), { recursive: true });
  const modules = realpathSync(join(repo, 'node_modules'));
  if (othersCanRead(modules)) symlinkSync(modules, join(d, 'node_modules'));
  else cpSync(modules, join(d, 'node_modules'), { recursive: true, dereference: true });
  execFileSync('chmod', ['-R', 'a+rX', d]); // whatever the umask of the checkout was
  readable = d;
  return d;
}
