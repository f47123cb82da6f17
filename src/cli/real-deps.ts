// The real outside world for main(): process streams, the libbpf-backed Host, the Ink console, the
// demo lab, the filesystem. Modules that need libbpf or React are imported lazily, so that --help,
// --version and bad usage answer without loading them.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { Host } from '../dataplane/types.js';
import { bundledObject } from '../dataplane/paths.js';
import type { CliDeps, ConsoleOptions, DemoOptions, HostOptions } from './context.js';
import type { DoctorProbe } from './doctor.js';

const here = dirname(fileURLToPath(import.meta.url));

let identityCache: ReturnType<CliDeps['identity']> | null = null;
export function identity(): ReturnType<CliDeps['identity']> {
  if (identityCache) return identityCache;
  let version = '0.0.0';
  for (const up of ['../../..', '../..']) {
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

/** Imports a sibling module by path at run time (modules that other engineers deliver). */
async function load<T>(relative: string, what: string): Promise<T> {
  const p = join(here, relative);
  if (!existsSync(p)) throw new Error(`${what} is not built (${p} is missing): run npm run build`);
  return (await import(pathToFileURL(p).href)) as T;
}

export async function createRealHost(o: HostOptions): Promise<Host> {
  const m = await load<{ createHost(o: HostOptions): Host }>('../dataplane/host.js', 'the dataplane host');
  return m.createHost(o);
}

/** The console; its dataplane lives in a worker thread (no kernel call on the thread that draws). */
export async function runRealConsole(o: ConsoleOptions): Promise<void> {
  // The threads first: they load the dataplane while this one loads React and Ink.
  const { startWorkerHost } = await import('../dataplane/worker/client.js');
  const host = startWorkerHost({ pinRoot: o.pinRoot, stateDir: o.stateDir });
  let m: typeof import('../ui/run.js');
  try {
    m = await load<typeof import('../ui/run.js')>('../ui/run.js', 'the console');
  } catch (e) {
    await host.close();
    throw e;
  }
  await m.runConsole(host, o);
}

export async function runRealDemo(o: DemoOptions): Promise<number> {
  const m = await load<{ runDemo(o: DemoOptions): Promise<number> }>('../demo.js', 'the demo');
  return m.runDemo(o);
}

export const realProbe: DoctorProbe = {
  readFile: (p) => { try { return readFileSync(p, 'utf8'); } catch { return null; } },
  readdir: (p) => { try { return readdirSync(p); } catch { return null; } },
  readlink: (p) => { try { return readlinkSync(p); } catch { return null; } },
  libbpfVersion: async () => (await import('../dataplane/libbpf.js')).libbpfVersion(),
  removeDir: (p) => rmSync(p, { recursive: true, force: true }),
};

export async function realDeps(): Promise<CliDeps> {
  const isRoot = () => (process.geteuid ? process.geteuid() === 0 : false);
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: !!process.stdin.isTTY,
    env: process.env,
    isRoot: () => isRoot(),
    createHost: createRealHost,
    runConsole: runRealConsole,
    runDemo: runRealDemo,
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
}
