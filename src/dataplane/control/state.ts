// The durable desired state of one balancer, in a state directory (default /var/lib/katran-tui):
//
//   state.json        the desired state, written atomically (temp file, fsync, rename, fsync dir),
//                     in an envelope with a SHA-256 of the state, so truncation or damage is seen
//   state.json.prev   the previous good copy (kept by every write)
//   intent.json       the transaction in flight: fsynced before the first kernel write, removed after
//   changes.jsonl     the change log, one JSON object a line, appended and fsynced
//   lock              the writer lock: the holder's pid on the first line
//
// The directory is 0700 and every file 0600. Only a writer (one process, holding the lock) changes
// anything; read-only opens take no lock and only ever see whole files (rename is atomic).
import {
  accessSync, chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync,
  readFileSync, readSync, renameSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ChangeLogEntry, PendingChange } from '../types.js';
import {
  ClosedError, IntentPendingError, LockedError, LockTimeoutError, NotRootError, ReadOnlyError, StateCorruptError, StateDirError,
} from '../errors.js';
import type { Intent } from './desired.js';

export const STATE_FILES = {
  state: 'state.json',
  prev: 'state.json.prev',
  intent: 'intent.json',
  changes: 'changes.jsonl',
  lock: 'lock',
} as const;

const STATE_FORMAT = 'katran-tui-state';
const INTENT_FORMAT = 'katran-tui-intent';
const FORMAT_VERSION = 1;

export interface PendingIntent extends Intent {
  /** ISO time the intent was recorded. */
  at: string;
  /** The process that recorded it. */
  pid: number;
}

// StateCorruptError lives in errors.ts with the other error classes; re-exported for existing importers.
export { StateCorruptError };

/** The operator's view of a pending intent: what, since when, by whom, and how to finish it. */
export function pendingChangeOf(p: Intent & { at?: string; pid?: number }): PendingChange {
  const at = p.at ?? '';
  const pid = p.pid ?? 0;
  return {
    op: p.op, target: p.target, at, pid,
    message: `an interrupted change is pending: ${p.op} ${p.target}, started ${at || 'at an unknown time'}${pid ? ` by pid ${pid}` : ''}, which died before finishing it`
      + ' (the kernel may hold it half-applied); run `katran-tui recover` or any change to finish it',
  };
}

interface Envelope {
  format: string;
  version: number;
  writtenAt: string;
  pid: number;
  sha256: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function encode(format: string, field: string, value: unknown): string {
  const canonical = JSON.stringify(value);
  if (canonical === undefined) throw new TypeError(`${format}: the value is not representable as JSON`);
  const env = { format, version: FORMAT_VERSION, writtenAt: new Date().toISOString(), pid: process.pid, sha256: sha256(canonical), [field]: value };
  return `${JSON.stringify(env, null, 2)}\n`;
}

type Decoded = { ok: true; value: unknown; env: Envelope } | { ok: false; problem: string };

/** The value and its envelope, or the problem that makes the text unusable. */
function decode(format: string, field: string, text: string): Decoded {
  const bad = (problem: string): Decoded => ({ ok: false, problem });
  if (text.length === 0) return bad('empty (0 bytes): truncated');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return bad(`not valid JSON (${(e as Error).message}; ${Buffer.byteLength(text)} bytes): truncated or damaged`);
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as Envelope).format !== format) return bad(`not a ${format} file`);
  const env = parsed as Envelope & Record<string, unknown>;
  if (typeof env.version !== 'number' || env.version > FORMAT_VERSION) return bad(`format version ${String(env.version)} is newer than this katran-tui understands (${FORMAT_VERSION})`);
  if (!(field in env)) return bad(`the "${field}" field is missing: truncated or damaged`);
  const value = env[field];
  if (typeof env.sha256 !== 'string' || sha256(JSON.stringify(value)) !== env.sha256) return bad('checksum mismatch: damaged on disk or edited by hand');
  return { ok: true, value, env };
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function tempName(dir: string, base: string): string {
  return join(dir, `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Creates `path` (which must not exist) with `data`, mode 0600, fsynced. */
function writeNewFile(path: string, data: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    fchmodSync(fd, 0o600);
    const buf = Buffer.from(data);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** temp file in the same directory, write, fsync, rename over `name`, fsync the directory. */
function atomicWrite(dir: string, name: string, data: string): void {
  const tmp = tempName(dir, name);
  try {
    writeNewFile(tmp, data);
    renameSync(tmp, join(dir, name));
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* not created, or already renamed */ }
    throw e;
  }
  fsyncDir(dir);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) === 'EPERM'; // exists, owned by someone else
  }
}

/** Start time of a process (clock ticks since boot, /proc/<pid>/stat field 22): tells pid reuse apart. */
function procStartTime(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// The writer lock
//
// A lock file appears atomically with its whole content: it is written to a temp file and then
// hard-linked to its name, which fails with EEXIST when the name exists (the same exclusive
// create as O_EXCL, without a window where the file exists but is still empty). Its content:
//   line 1: pid
//   line 2: {"start": <process start time>, "token": <random>, "at": <ISO time>}
// A lock whose pid is dead (kill(pid, 0) -> ESRCH) or now belongs to another process (different
// start time) is stale. Taking a stale lock over: the taker first takes a guard lock named after the
// stale lock's token (the same procedure, recursively), checks under the guard that the lock still
// is that stale one, removes it, and then competes for the lock with an ordinary exclusive create.
// Of two takers, only one holds the guard; the other sees a different lock afterwards: only one wins.

interface LockInfo {
  pid: number;
  start: string | null;
  token: string;
  ino: number;
  ageMs: number;
}

function readLock(path: string): LockInfo | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    if (errno(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    const text = readFileSync(fd, 'utf8');
    const [first, second] = text.split('\n');
    const pid = /^\d+$/.test(first ?? '') ? Number(first) : 0;
    let meta: { start?: string; token?: string } = {};
    try { meta = JSON.parse(second ?? '') as typeof meta; } catch { /* unparsable: identified by inode below */ }
    return {
      pid,
      start: typeof meta.start === 'string' ? meta.start : null,
      token: typeof meta.token === 'string' && /^[0-9a-f]{8,64}$/.test(meta.token) ? meta.token : `ino${st.ino}-${Math.floor(st.mtimeMs)}`,
      ino: st.ino,
      ageMs: Date.now() - st.mtimeMs,
    };
  } finally {
    closeSync(fd);
  }
}

function lockHeld(info: LockInfo): boolean {
  if (!(info.pid > 0)) return false;
  if (!pidAlive(info.pid)) return false;
  if (info.start !== null) {
    const now = procStartTime(info.pid);
    if (now !== null && now !== info.start) return false; // the pid was reused
  }
  return true;
}

/** Exclusive create of a lock file with our pid and `token`. false: the name exists. */
function tryCreateLock(path: string, token: string): boolean {
  const content = `${process.pid}\n${JSON.stringify({ start: procStartTime(process.pid), token, at: new Date().toISOString() })}\n`;
  const dir = join(path, '..');
  const tmp = join(dir, `.lock.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  writeNewFile(tmp, content);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if (errno(e) === 'EEXIST') return false;
    if (errno(e) !== 'EPERM' && errno(e) !== 'ENOTSUP' && errno(e) !== 'EOPNOTSUPP') throw e;
    // A filesystem without hard links: plain O_EXCL (readers wait out an empty file, see acquire).
    try {
      writeNewFile(path, content);
    } catch (e2) {
      if (errno(e2) === 'EEXIST') return false;
      throw e2;
    }
  } finally {
    try { unlinkSync(tmp); } catch { /* gone */ }
  }
  fsyncDir(dir);
  return true;
}

export interface StateStoreOpenOptions {
  write: boolean;
  /**
   * Called when the writer lock is held by a dead process, before taking it over: the seam where
   * tests widen the race between takers.
   */
  onStaleLock?: () => void;
}

/** What acquireLock tells its caller: a stale lock seen (before the takeover), a dead holder's lock removed. */
interface LockHooks {
  onStaleLock?: () => void;
  tookOver?: (pid: number) => void;
}

/** Takes the lock at `path` or throws LockedError(holder pid). Returns our token. */
function acquireLock(path: string, stateDir: string, hooks: LockHooks = {}, depth = 0): string {
  if (depth > 4) throw new LockTimeoutError(stateDir, `cannot take over the stale lock ${path} (too many abandoned takeovers)`);
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + 5000;
  for (;;) {
    if (tryCreateLock(path, token)) return token;
    const info = readLock(path);
    if (info === null) continue; // released meanwhile: try again
    if (info.pid === 0 && info.ageMs < 1000 && Date.now() < deadline) {
      sleepMs(20); // being written by a taker on a filesystem without hard links
      continue;
    }
    if (lockHeld(info)) throw new LockedError(info.pid, stateDir);
    if (depth === 0) hooks.onStaleLock?.();
    // Stale: take it over under a guard only one taker can hold.
    const guard = `${path}.takeover-${info.token}`;
    let guardToken: string;
    try {
      guardToken = acquireLock(guard, stateDir, {}, depth + 1);
    } catch (e) {
      if (!(e instanceof LockedError) || Date.now() > deadline) throw e;
      sleepMs(10); // another process is taking this stale lock over right now
      continue;
    }
    try {
      const again = readLock(path);
      if (again && again.token === info.token && again.ino === info.ino) {
        unlinkSync(path);
        fsyncDir(join(path, '..'));
        hooks.tookOver?.(info.pid);
      }
    } finally {
      releaseLock(guard, guardToken);
    }
    if (Date.now() > deadline) throw new LockTimeoutError(stateDir, 'could not take the lock within 5 s');
  }
}

/** Removes the lock at `path` if it is still ours. */
function releaseLock(path: string, token: string): void {
  let info: LockInfo | null;
  try {
    info = readLock(path);
  } catch {
    return;
  }
  if (!info || info.token !== token || info.pid !== process.pid) return;
  try {
    unlinkSync(path);
    fsyncDir(join(path, '..'));
  } catch { /* already gone */ }
}

const openWriters = new Set<StateStore>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' runs for process.exit() and a normal end. A signal that kills the process leaves the
  // lock behind: the next writer sees the pid dead and takes it over.
  process.on('exit', () => {
    for (const s of [...openWriters]) s.close();
  });
}

// ---------------------------------------------------------------------------------------------

export class StateStore {
  readonly dir: string;
  readonly writable: boolean;
  private lockToken: string | null;
  /** The dead writer whose lock this open took over (pid 0: an unreadable lock file), or null. */
  takenOverFrom: number | null = null;

  private constructor(dir: string, writable: boolean, lockToken: string | null) {
    this.dir = dir;
    this.writable = writable;
    this.lockToken = lockToken;
  }

  /**
   * Opens a state directory. With write: creates it (0700) if needed and takes the writer lock, or
   * throws LockedError naming the holder's pid. Read-only opens take no lock and create nothing.
   */
  static open(dir: string, o: StateStoreOpenOptions): StateStore {
    try {
      return StateStore.openUnchecked(dir, o);
    } catch (e) {
      if (errno(e) === 'EACCES' || errno(e) === 'EPERM') {
        throw new NotRootError('open', `state directory ${dir}`, `permission denied (${(e as Error).message}); it is root-only (0700): run as root`);
      }
      throw e;
    }
  }

  private static openUnchecked(dir: string, o: StateStoreOpenOptions): StateStore {
    if (!o.write) {
      try {
        accessSync(dir, constants.R_OK | constants.X_OK);
      } catch (e) {
        if (errno(e) !== 'ENOENT') throw e;
      }
      return new StateStore(dir, false, null);
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) throw new StateDirError('open', `state directory ${dir}`, `state directory ${dir} is not a directory`);
    if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    let tookOver: number | null = null;
    const token = acquireLock(join(dir, STATE_FILES.lock), dir, { onStaleLock: o.onStaleLock, tookOver: (pid) => { tookOver = pid; } });
    const store = new StateStore(dir, true, token);
    store.takenOverFrom = tookOver;
    openWriters.add(store);
    installExitHook();
    try {
      store.sweep();
    } catch (e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** The pid holding the writer lock of `dir`, or null when nobody (alive) holds it. */
  static lockHolder(dir: string): number | null {
    const info = readLock(join(dir, STATE_FILES.lock));
    return info && lockHeld(info) ? info.pid : null;
  }

  path(name: keyof typeof STATE_FILES): string {
    return join(this.dir, STATE_FILES[name]);
  }

  /** The desired state, or null when none was ever written. Throws StateCorruptError. */
  read<T>(): T | null {
    const file = this.path('state');
    const text = readIfExists(file);
    if (text === null) {
      const prev = this.verifiedPrevious();
      if (prev) throw new StateCorruptError(file, 'missing, while a previous copy exists', prev.path, prev.writtenAt);
      return null;
    }
    const d = decode(STATE_FORMAT, 'state', text);
    if (d.ok) return d.value as T;
    const prev = this.verifiedPrevious();
    throw new StateCorruptError(file, d.problem, prev?.path ?? null, prev?.writtenAt);
  }

  /** Atomically replaces the desired state; the current good state becomes state.json.prev. */
  write<T>(state: T): void {
    this.assertWritable('write the state');
    const data = encode(STATE_FORMAT, 'state', state); // fails before anything on disk changes
    const file = this.path('state');
    const current = readIfExists(file);
    if (current !== null) {
      if (decode(STATE_FORMAT, 'state', current).ok) {
        // state.json.prev <- the current inode (a hard link, then an atomic rename over .prev)
        const tmp = tempName(this.dir, STATE_FILES.prev);
        linkSync(file, tmp);
        renameSync(tmp, this.path('prev'));
      } else {
        // Never lose it silently: the damaged file is kept beside; .prev stays the last good copy.
        linkSync(file, this.corruptName());
      }
    }
    atomicWrite(this.dir, STATE_FILES.state, data);
  }

  /**
   * Restores state.json from state.json.prev after a StateCorruptError. The damaged file is moved
   * to state.json.corrupt-<time>, never deleted. Refuses when state.json is intact.
   */
  recoverFromPrevious<T>(): T {
    this.assertWritable('recover the state');
    const file = this.path('state');
    const current = readIfExists(file);
    if (current !== null) {
      if (decode(STATE_FORMAT, 'state', current).ok) throw new StateDirError('recover', `state file ${file}`, `state file ${file} is intact: nothing to recover`);
    }
    const prevPath = this.path('prev');
    const prevText = readIfExists(prevPath);
    if (prevText === null) throw new StateCorruptError(file, 'damaged, and there is no previous copy', null);
    const prev = decode(STATE_FORMAT, 'state', prevText);
    if (!prev.ok) throw new StateCorruptError(prevPath, `the previous copy is unusable too: ${prev.problem}`, null);
    const value = prev.value;
    if (current !== null) renameSync(file, this.corruptName());
    atomicWrite(this.dir, STATE_FILES.state, prevText);
    return value as T;
  }

  /** Records a transaction before its first kernel write (fsynced). One at a time. */
  beginIntent(intent: Intent): void {
    this.assertWritable('record an intent');
    const pending = this.pendingIntent();
    if (pending) throw new IntentPendingError('record an intent', `state directory ${this.dir}`, `an intent is already pending (${pending.op} ${pending.target}, since ${pending.at}): finish or undo it first`);
    const record = { op: intent.op, target: intent.target, old: intent.old, new: intent.new };
    atomicWrite(this.dir, STATE_FILES.intent, encode(INTENT_FORMAT, 'intent', record));
  }

  /** The transaction a previous process left unfinished, or null. */
  pendingIntent(): PendingIntent | null {
    const file = this.path('intent');
    const text = readIfExists(file);
    if (text === null) return null;
    const d = decode(INTENT_FORMAT, 'intent', text);
    if (!d.ok) throw new StateCorruptError(file, `the pending intent is unreadable: ${d.problem}`, null);
    return { ...(d.value as Intent), at: d.env.writtenAt, pid: d.env.pid };
  }

  /** The transaction is finished (or undone): removes the intent record (directory fsynced). */
  clearIntent(): void {
    this.assertWritable('clear the intent');
    try {
      unlinkSync(this.path('intent'));
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw e;
      return;
    }
    fsyncDir(this.dir);
  }

  /** Appends one line to changes.jsonl and fsyncs it. A torn last line of a crash stays apart. */
  appendChangeLog(entry: ChangeLogEntry): void {
    this.assertWritable('append to the change log');
    const line = JSON.stringify({ at: entry.at, op: entry.op, target: entry.target, old: entry.old, new: entry.new });
    const file = this.path('changes');
    const fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
    let created = false;
    try {
      const size = fstatSync(fd).size;
      created = size === 0;
      if (created) fchmodSync(fd, 0o600);
      let prefix = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
      const buf = Buffer.from(`${prefix}${line}\n`);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) fsyncDir(this.dir);
  }

  /** The last `limit` entries, newest last. Lines that do not parse (a torn write) are skipped. */
  changeLog(limit = 100): ChangeLogEntry[] {
    if (!(limit > 0)) return [];
    let fd: number;
    try {
      fd = openSync(this.path('changes'), constants.O_RDONLY);
    } catch (e) {
      if (errno(e) === 'ENOENT') return [];
      throw e;
    }
    let text = '';
    try {
      // Read backwards in chunks until there are enough lines (the log only grows).
      const size = fstatSync(fd).size;
      let pos = size;
      const chunks: Buffer[] = [];
      let newlines = 0;
      while (pos > 0 && newlines <= limit + 1) {
        const n = Math.min(65536, pos);
        pos -= n;
        const b = Buffer.alloc(n);
        readSync(fd, b, 0, n, pos);
        chunks.unshift(b);
        for (const c of b) if (c === 0x0a) newlines++;
      }
      text = Buffer.concat(chunks).toString('utf8');
      if (pos > 0) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    } finally {
      closeSync(fd);
    }
    const out: ChangeLogEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as ChangeLogEntry;
        if (e && typeof e === 'object' && typeof e.op === 'string' && typeof e.at === 'string') out.push(e);
      } catch { /* torn line of an interrupted append */ }
    }
    return out.slice(-limit);
  }

  /** Releases the writer lock (idempotent). */
  close(): void {
    if (this.lockToken !== null) {
      releaseLock(this.path('lock'), this.lockToken);
      this.lockToken = null;
    }
    openWriters.delete(this);
  }

  /** Holds the writer lock right now (false after close()). */
  get locked(): boolean {
    return this.lockToken !== null;
  }

  private assertWritable(what: string): void {
    if (!this.writable) throw new ReadOnlyError(`cannot ${what}: state directory ${this.dir} is open read-only`, { op: what, object: `state directory ${this.dir}` });
    if (this.lockToken === null) throw new ClosedError(what, `state directory ${this.dir}`, 'the state store is closed', `cannot ${what}: the state store of ${this.dir} is closed`);
  }

  private verifiedPrevious(): { path: string; writtenAt: string } | null {
    const path = this.path('prev');
    const text = readIfExists(path);
    if (text === null) return null;
    const d = decode(STATE_FORMAT, 'state', text);
    return d.ok ? { path, writtenAt: d.env.writtenAt } : null;
  }

  private corruptName(): string {
    return join(this.dir, `${STATE_FILES.state}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`);
  }

  /** Removes temp files that crashed writers left behind (their pid is dead), and abandoned takeover guards. */
  private sweep(): void {
    for (const name of readdirSync(this.dir)) {
      const tmp = /^\..*\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
      if (tmp) {
        if (!pidAlive(Number(tmp[1]))) { try { unlinkSync(join(this.dir, name)); } catch { /* gone */ } }
        continue;
      }
      if (name.startsWith(`${STATE_FILES.lock}.takeover-`)) {
        const info = readLock(join(this.dir, name));
        if (info && !lockHeld(info)) { try { unlinkSync(join(this.dir, name)); } catch { /* gone */ } }
      }
    }
  }
}
