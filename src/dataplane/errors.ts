// Every error the dataplane raises, as classes that carry what failed (`op`) on what (`object`),
// matched with instanceof, never by message text or by an errno standing in for a domain state
// (as cilium/ebpf does with ErrKeyNotExist and VerifierError). No koffi here: the screens and the
// CLI import this file without loading the native binding.
//
// Each class has its own `name`, and its fields are plain data (strings, numbers), so an error that
// crosses a thread boundary can be rebuilt by name on the other side.

/** Kernel errno numbers katran-tui acts on (Linux, every architecture we run on). */
export const ERRNO: Record<string, number> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, ENAMETOOLONG: 36, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOSPC: 28, ERANGE: 34,
  ENOTSUP: 95, EOPNOTSUPP: 95, ENOTSUPP: 524,
};
export const ERRNO_NAME: Record<number, string> = {};
for (const [name, n] of Object.entries(ERRNO)) if (!(n in ERRNO_NAME)) ERRNO_NAME[n] = name;

export function errnoName(errno: number): string {
  return ERRNO_NAME[errno] ?? `errno ${errno}`;
}

// libbpf's strerror lives in the binding; the binding installs it here when it loads, so a BpfError
// built without a detail says what the errno means. (Only the binding makes errno errors.)
let describeErrnoFn: (errno: number) => string = errnoName;
export function setErrnoDescriber(fn: (errno: number) => string): void {
  describeErrnoFn = fn;
}

/** Base of the dataplane's errors: `op` failed on `object`; `message` is the operator's one line. */
export class DataplaneError extends Error {
  readonly op: string;
  readonly object: string;
  constructor(op: string, object: string, message: string) {
    super(message);
    this.name = 'DataplaneError';
    this.op = op;
    this.object = object;
  }
}

/** `op object: detail`, the shape of most dataplane messages. */
function line(op: string, object: string, detail: string): string {
  return `${op} ${object}: ${detail}`;
}

// ---------------------------------------------------------------------------------------------
// What the kernel or libbpf said: a real errno from a real call.

/** A kernel or libbpf call failed: `op` on `object` with `errno` (the kernel's, never made up). */
export class BpfError extends DataplaneError {
  readonly errno: number;
  /** The errno's name (ENOENT...). */
  readonly code: string;
  /** Whether the message already names `code` (the errno's own description does). */
  readonly codeInMessage: boolean;
  /** The verifier log, when a program load was rejected. */
  readonly log?: string;
  constructor(op: string, object: string, errno: number, detail?: string, log?: string) {
    const code = errnoName(errno);
    super(op, object, line(op, object, detail ?? describeErrnoFn(errno)));
    this.name = 'BpfError';
    this.errno = errno;
    this.code = code;
    this.codeInMessage = detail === undefined || detail.includes(`(${code})`);
    if (log !== undefined) this.log = log;
  }
}

/** The kernel's verifier refused a program; `log` is its verifier log. */
export class VerifierError extends BpfError {
  declare readonly log: string;
  constructor(op: string, object: string, errno: number, log: string) {
    super(op, object, errno, `the kernel's verifier rejected the program (${errnoName(errno)}); verifier log follows`, log);
    this.name = 'VerifierError';
  }
}

/** ENOENT from a kernel lookup by id or path: the program, map or pin is not there (any more). */
export class NotExistError extends BpfError {
  constructor(op: string, object: string, detail?: string) {
    super(op, object, ERRNO.ENOENT, detail);
    this.name = 'NotExistError';
  }
}

/** The interface already has an XDP program (EBUSY / EEXIST), or a bpf_link holds it. */
export class InterfaceBusyError extends BpfError {
  constructor(op: string, object: string, errno: number, detail: string) {
    super(op, object, errno, detail);
    this.name = 'InterfaceBusyError';
  }
}

/** The driver refused the XDP mode asked for (EOPNOTSUPP / ENOTSUPP). */
export class XdpModeUnsupportedError extends BpfError {
  constructor(op: string, object: string, errno: number) {
    super(op, object, errno, 'the driver does not support this XDP mode');
    this.name = 'XdpModeUnsupportedError';
  }
}

// ---------------------------------------------------------------------------------------------
// Domain refusals: the class is the reason (an errno only where the kernel gave one).

/** Not root: we know before asking, or the kernel said EPERM (`errno` then). Needs CAP_BPF, CAP_NET_ADMIN. */
export class NotRootError extends DataplaneError {
  readonly errno?: number;
  readonly log?: string;
  constructor(op: string, object: string, detail: string, o: { errno?: number; log?: string } = {}) {
    super(op, object, line(op, object, detail));
    this.name = 'NotRootError';
    if (o.errno !== undefined) this.errno = o.errno;
    if (o.log !== undefined) this.log = o.log;
  }
}

/** The interface does not exist: no ifindex for the name, or the kernel said ENODEV (`errno` then). */
export class InterfaceMissingError extends DataplaneError {
  readonly errno?: number;
  constructor(op: string, object: string, detail = 'interface does not exist', o: { errno?: number } = {}) {
    super(op, object, line(op, object, detail));
    this.name = 'InterfaceMissingError';
    if (o.errno !== undefined) this.errno = o.errno;
  }
}

/** A map has no room for another entry: the planner's count, or E2BIG / ENOSPC from the kernel (`errno`). */
export class MapFullError extends DataplaneError {
  readonly errno?: number;
  /** The map's capacity, when known. */
  readonly maxEntries?: number;
  constructor(op: string, object: string, detail: string, o: { errno?: number; maxEntries?: number; message?: string } = {}) {
    super(op, object, o.message ?? line(op, object, detail));
    this.name = 'MapFullError';
    if (o.errno !== undefined) this.errno = o.errno;
    if (o.maxEntries !== undefined) this.maxEntries = o.maxEntries;
  }
}

/** libbpf.so.1 cannot be loaded, or is older than 1.1, or lacks a function we need. */
export class LibbpfMissingError extends DataplaneError {
  constructor(message: string, object = 'libbpf.so.1') {
    super('load', object, message);
    this.name = 'LibbpfMissingError';
  }
}

/** Operator input that is wrong: the message says what is wrong and what is allowed. */
export class InputError extends DataplaneError {
  constructor(message: string, where: { op?: string; object?: string } = {}) {
    super(where.op ?? 'validate', where.object ?? '', message);
    this.name = 'InputError';
  }

  /** `op object: detail`, carrying op and object. */
  static at(op: string, object: string, detail: string): InputError {
    return new InputError(line(op, object, detail), { op, object });
  }
}

/** Refusal of a write in --readonly or observe mode, or on a read-only map or state directory. */
export class ReadOnlyError extends DataplaneError {
  constructor(reason: string, where: { op?: string; object?: string } = {}) {
    super(where.op ?? 'write', where.object ?? '', `refused: ${reason}`);
    this.name = 'ReadOnlyError';
  }
}

/** Another katran-tui process holds the writer lock of `stateDir`. */
export class LockedError extends DataplaneError {
  constructor(readonly pid: number, readonly stateDir: string) {
    super('lock', `state directory ${stateDir}`, `state directory ${stateDir} is locked by pid ${pid}`);
    this.name = 'LockedError';
  }
}

/** The writer lock could not be taken (takeovers kept failing, or no turn within the deadline). */
export class LockTimeoutError extends DataplaneError {
  constructor(readonly stateDir: string, detail: string) {
    super('lock', `state directory ${stateDir}`, `state directory ${stateDir}: ${detail}`);
    this.name = 'LockTimeoutError';
  }
}

/** A refusal worded `op object: detail`, or `message` (the concrete classes below only add their name). */
class RefusalError extends DataplaneError {
  constructor(op: string, object: string, detail: string, message?: string) {
    super(op, object, message ?? line(op, object, detail));
  }
}

/** Pins of a balancer that no longer describe an attached katran-tui program. */
export class StalePinsError extends RefusalError {
  override readonly name = 'StalePinsError';
  constructor(op: string, object: string, detail: string, readonly pinDir: string) {
    super(op, object, detail);
  }
}

/** There is no balancer to act on: nothing pinned for the interface, no XDP program on it. */
export class NoBalancerError extends RefusalError {
  override readonly name = 'NoBalancerError';
}

/** A BPF object or attached program that lacks Katran's maps or an XDP program. */
export class NotABalancerError extends RefusalError {
  override readonly name = 'NotABalancerError';
}

/** A BPF object file that does not exist (or is not known for this balancer). `message` is the whole line. */
export class ObjectMissingError extends DataplaneError {
  override readonly name = 'ObjectMissingError';
}

/** The pin root is not on bpffs (or cannot be checked). */
export class BpffsMissingError extends RefusalError {
  override readonly name = 'BpffsMissingError';
}

/** A handle (object, map, socket, state store) used after close(). */
export class ClosedError extends RefusalError {
  override readonly name = 'ClosedError';
}

/** Re-attach asked while the balancer is attached where it belongs: nothing to do. */
export class AlreadyAttachedError extends RefusalError {
  override readonly name = 'AlreadyAttachedError';
  constructor(op: string, object: string, detail: string, readonly progId: number) {
    super(op, object, detail);
  }
}

/** Another XDP program is on the interface where ours should be: katran-tui does not replace it. */
export class ForeignProgramError extends RefusalError {
  override readonly name = 'ForeignProgramError';
  constructor(op: string, object: string, detail: string, readonly otherProgId: number) {
    super(op, object, detail);
  }
}

/** The program on the interface is no longer the one we opened (replaced or detached meanwhile). */
export class ProgramReplacedError extends RefusalError {
  override readonly name = 'ProgramReplacedError';
}

/** The driver accepted the call but left a setting as it was (e.g. an offload feature it keeps). */
export class DriverRefusedError extends RefusalError {
  override readonly name = 'DriverRefusedError';
}

/** A new object's maps do not fit the pinned ones (an in-place upgrade needs the same shapes). `message` is the whole line. */
export class MapShapeError extends DataplaneError {
  override readonly name = 'MapShapeError';
}

/**
 * A state file (or intent record) that cannot be used: truncated, not JSON, checksum mismatch, or
 * missing while its previous copy exists. Nothing is deleted: the damaged file stays where it is
 * until recoverFromPrevious() moves it aside.
 */
export class StateCorruptError extends DataplaneError {
  constructor(
    readonly file: string,
    readonly problem: string,
    /** Path of the last good copy, when one exists and verifies. */
    readonly previous: string | null,
    previousWrittenAt?: string,
  ) {
    super('read', `state file ${file}`, `state file ${file} is unusable: ${problem}. `
      + (previous
        ? `The last good copy ${previous}${previousWrittenAt ? ` (written ${previousWrittenAt})` : ''} exists and verifies; `
          + 'recoverFromPrevious() restores it and keeps the damaged file beside it.'
        : 'No good previous copy exists; the file is left untouched for inspection.'));
    this.name = 'StateCorruptError';
  }
}

/** The state directory cannot be used: not a directory, not readable, nothing to recover. */
export class StateDirError extends DataplaneError {
  override readonly name = 'StateDirError';
}

/** A change was asked for while an interrupted one is still pending (finish or undo it first). */
export class IntentPendingError extends DataplaneError {
  override readonly name = 'IntentPendingError';
}

/** The loaded object has no VLAN maps (an upstream Katran object, or an older katran-tui one). */
export class VlanUnavailableError extends DataplaneError {
  constructor(op: string, object: string) {
    super(op, object, `VLANs: not available for this program (${op} ${object}: no kt_vlan_map map; VLAN tags need katran-tui's own balancer)`);
    this.name = 'VlanUnavailableError';
  }
}

/** Every class above, for code that rebuilds an error by its name (e.g. across a worker thread). */
export const DATAPLANE_ERROR_CLASSES = [
  DataplaneError, BpfError, VerifierError, NotRootError, InterfaceMissingError, MapFullError, NotExistError,
  InterfaceBusyError, XdpModeUnsupportedError, LibbpfMissingError, InputError, ReadOnlyError, LockedError,
  LockTimeoutError, StalePinsError, NoBalancerError, NotABalancerError, ObjectMissingError, BpffsMissingError,
  ClosedError, AlreadyAttachedError, ForeignProgramError, ProgramReplacedError, DriverRefusedError, MapShapeError, StateCorruptError,
  StateDirError, IntentPendingError, VlanUnavailableError,
] as const;
