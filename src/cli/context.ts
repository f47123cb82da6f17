// What every command gets: where to write, the options common to all commands, and the Host
// (injected: the real one over libbpf, or a fake in unit tests).
import type { Dataplane, Host, LinkProbe, PendingChange } from '../dataplane/types.js';
import { OperationError, UsageError } from './errors.js';

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface HostOptions {
  pinRoot: string;
  stateDir: string;
}

export interface ConsoleOptions extends HostOptions {
  intf?: string;
  readOnly: boolean;
  intervalMs: number;
  noColor: boolean;
}

/** The demo's default rate (packets per second over all VIPs) and the range --rate takes. */
export const DEMO_RATE = { default: 100_000, min: 100, max: 2_000_000 } as const;

export interface DemoOptions {
  /** `demo --id`: the lab id (names kt<id>b / kt<id>p / kt-<id>-cl, its own pins and state); default "demo". */
  id?: string;
  durationS?: number;
  /** Packets per second over all the demo's VIPs (default DEMO_RATE.default). */
  ratePps?: number;
  /** `demo --vlans`: the on-a-stick layout (clients on VLAN 573, reals through VLAN 574's gateway, one port). */
  vlans?: boolean;
  intervalMs: number;
  noColor: boolean;
  interactive: boolean;
  out: Out;
  err: Out;
}

/** Everything main() needs from the outside world; tests pass fakes. */
export interface CliDeps {
  stdout: Out;
  stderr: Out;
  stdinIsTTY: boolean;
  env: Record<string, string | undefined>;
  isRoot(): boolean;
  createHost(o: HostOptions): Host | Promise<Host>;
  /** The console, with its own Host (in a worker thread) on the same pin root and state directory. */
  runConsole?(o: ConsoleOptions): Promise<void>;
  runDemo?(o: DemoOptions): Promise<number>;
  /** Reads a file, or stdin for "-". */
  readInput(path: string): Promise<string>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls cb on SIGINT / SIGTERM until the returned function is called. */
  onInterrupt(cb: () => void): () => void;
  /** The package version and the bundled object's identity, for --version and status. */
  identity(): { version: string; object: string; sha256: string | null };
  /** Filesystem and /proc reads for doctor; injectable for tests. */
  probe?: DoctorProbe;
  now?(): number;
}

/** The reads doctor needs, injectable for tests. Every method returns null when the thing is absent. */
export interface DoctorProbe {
  readFile(path: string): string | null;
  readdir(path: string): string[] | null;
  readlink(path: string): string | null;
  libbpfVersion(): string | Promise<string>;
  /** Removes a stale pin directory (only ever called with a path under the pin root). */
  removeDir(path: string): void;
  /** Interfaces as the VLAN checks read them (the real one: dataplane/kernel/link-probe.ts). */
  link(): LinkProbe | Promise<LinkProbe>;
}

export interface CommonOptions {
  intf?: string;
  readonly: boolean;
  intervalMs: number;
  stateDir: string;
  pinRoot: string;
  noColor: boolean;
}

export class Ctx {
  private hostP: Promise<Host> | null = null;
  /** The change a killed writer left pending on the balancer this command opened (every --json document carries it). */
  pending: PendingChange | null = null;
  /** What opening it repaired (a writer finishes a pending change at open), one line each. */
  recovered: string[] = [];
  constructor(readonly deps: CliDeps, readonly common: CommonOptions) {}

  /** One JSON document on stdout, with the pending change (null: none) and, when the open repaired something, what. */
  json(doc: object, pending: PendingChange | null = this.pending): void {
    this.out(JSON.stringify({ ...doc, pendingChange: pending, ...(this.recovered.length ? { recovered: this.recovered } : {}) }));
  }

  /**
   * Says on stderr what opening `dp` found: a pending change (a reader repairs nothing) and what a
   * writer repaired (an interrupted change finished or undone, a dead writer's lock taken over).
   */
  reportOpen(dp: Dataplane, o: { quietRecovered?: boolean } = {}): void {
    const i = dp.info();
    this.pending = i.pendingChange;
    this.recovered = i.recovered;
    if (!o.quietRecovered) for (const r of i.recovered) this.deps.stderr.write(`katran-tui: recovered: ${r}\n`);
    if (i.pendingChange) this.warn(i.pendingChange.message);
  }

  out(line = ''): void {
    this.deps.stdout.write(`${line}\n`);
  }

  warn(line: string): void {
    this.deps.stderr.write(`katran-tui: warning: ${line}\n`);
  }

  note(line: string): void {
    this.deps.stderr.write(`${line}\n`);
  }

  requireRoot(what: string): void {
    if (!this.deps.isRoot()) {
      throw new OperationError(`${what} needs root (BPF maps and XDP need CAP_BPF / CAP_NET_ADMIN): run it as root, e.g. sudo katran-tui ${what}`);
    }
  }

  async host(): Promise<Host> {
    this.hostP ??= Promise.resolve(this.deps.createHost({ pinRoot: this.common.pinRoot, stateDir: this.common.stateDir }));
    return this.hostP;
  }

  /** The interface to act on: --intf, else the only balancer on the box. */
  async pickIntf(): Promise<string> {
    if (this.common.intf) return this.common.intf;
    const all = (await this.host()).balancers();
    if (all.length === 0) {
      throw new OperationError('no balancer on this box: attach one with katran-tui attach --intf IF --default-mac MAC');
    }
    if (all.length > 1) {
      throw new UsageError(`${all.length} balancers on this box (${all.map((b) => b.intf).join(', ')}): pick one with --intf`);
    }
    return all[0].intf;
  }

  /** Opens the selected balancer; the caller closes it. */
  async open(o: { write: boolean; detached?: boolean; quietRecovered?: boolean }): Promise<Dataplane> {
    const intf = await this.pickIntf();
    const dp = (await this.host()).open(intf, { readOnly: this.common.readonly || !o.write, ...(o.detached ? { detached: true } : {}) });
    try {
      this.reportOpen(dp, o);
    } catch (e) {
      dp.close();
      throw e;
    }
    return dp;
  }

  /** Runs fn on the selected balancer and always closes it. */
  async withDataplane<T>(o: { write: boolean; detached?: boolean; quietRecovered?: boolean }, fn: (dp: Dataplane) => T | Promise<T>): Promise<T> {
    const dp = await this.open(o);
    try {
      return await fn(dp);
    } finally {
      dp.close();
    }
  }
}
