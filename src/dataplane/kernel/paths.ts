// Where the package's compiled BPF objects live, found relative to this file so that a global
// npm install works: dist/src/dataplane/kernel/paths.js -> dist/bpf/*.bpf.o.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { ObjectMissingError } from '../errors.js';

const distDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Absolute path of a compiled object shipped with the package, e.g. bundledObject('balancer'). */
export function bundledObject(name: string): string {
  return join(distDir, 'bpf', `${name}.bpf.o`);
}

/** Absolute path of an object compiled from bench/ or test/ (not shipped). */
export function builtObject(relativeSource: string): string {
  return join(distDir, relativeSource.replace(/\.c$/, '.o'));
}

export function requireObject(path: string): string {
  if (!existsSync(path)) throw new ObjectMissingError('find', path, `BPF object ${path} is missing: run npm run build (clang builds bpf/*.bpf.c)`);
  return path;
}

export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/katran-tui';
export const DEFAULT_STATE_DIR = '/var/lib/katran-tui';
