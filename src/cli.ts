// Command line entry point: bin/katran-tui imports this. The program lives in src/cli/: commander
// wiring in program.ts, one module per command group; the real outside world (process streams,
// the libbpf-backed Host, the Ink console, the demo lab, the filesystem) is wired here. Modules that
// need libbpf or React are imported lazily, so that --help, --version and bad usage answer without
// loading them.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { bundledObject } from './dataplane/kernel/paths.js';
import type { CliDeps, DoctorProbe } from './cli/context.js';
import { main } from './cli/program.js';

const here = dirname(fileURLToPath(import.meta.url));

let identityCache: ReturnType<CliDeps['identity']> | null = null;
function identity(): ReturnType<CliDeps['identity']> {
  if (identityCache) return identityCache;
  let version = '0.0.0';
  // dist/src/cli.js, or src/cli.ts run from the checkout
  for (const up of ['../..', '..']) {
    const p = join(here, up, 'package.json');
    if (existsSync(p)) {
      version = (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
      break;
    }
  }
  const object = bundledObject('balancer');
  const sha256 = existsSync(object) ? createHash('sha256').update(readFileSync(object)).digest('hex') : null;
  identityCache = { version, object, sha256 };
  return identityCache;
}

const realProbe: DoctorProbe = {
  readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return null; } },
  readdir: (p) => { try { return readdirSync(p); } catch { return null; } },
  readlink: (p) => { try { return readlinkSync(p); } catch { return null; } },
  libbpfVersion: async () => (await import('./dataplane/kernel/libbpf.js')).libbpfVersion(),
  removeDir: (p) => rmSync(p, { recursive: true, force: true }),
  link: async () => (await import('./dataplane/kernel/link-probe.js')).realLinkProbe,
};

const realDeps: CliDeps = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdinIsTTY: !!process.stdin.isTTY,
  env: process.env,
  isRoot: () => (process.geteuid ? process.geteuid() === 0 : false),
  createHost: async (o) => (await import('./dataplane/balancer/host.js')).createHost(o),
  // The dataplane's threads start first: they load it while this thread loads React and Ink.
  runConsole: async (o) => (await import('./dataplane/worker/client.js')).withWorkerHost(o, async (h) => (await import('./ui/run.js')).runConsole(h, o)),
  runDemo: async (o) => (await import('./lab/demo.js')).runDemo(o),
  readInput: async (p) => {
    if (p === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return readFile(p, 'utf8');
  },
  sleep: async (ms, signal) => { await delay(ms, undefined, { signal }); },
  onInterrupt: (cb) => {
    const h = () => cb();
    process.on('SIGINT', h);
    process.on('SIGTERM', h);
    return () => { process.off('SIGINT', h); process.off('SIGTERM', h); };
  },
  identity,
  probe: realProbe,
};

process.exitCode = await main(process.argv.slice(2), realDeps);
