// The dataplane's only koffi file (the lab keeps its own, src/lab/libc.ts): libbpf.so.1 and the
// few libc calls the dataplane needs, each declared once with its TypeScript signature, wrapped so
// that every failure becomes a typed error (errors.ts) naming the operation and the object.
//
// Conventions: libbpf >= 1.0 returns -errno from int APIs; pointer APIs return NULL
// and set errno (read koffi.errno() at once). Opts structs start with `sz`. Map reads are sync
// calls into reused native buffers: koffi's async path costs ~70x more.
import koffi, { type LibraryHandle } from 'koffi';
import {
  BpfError, ClosedError, DriverRefusedError, ERRNO, InputError, InterfaceBusyError, InterfaceMissingError, LibbpfMissingError, MapFullError,
  NotExistError, NotRootError, VerifierError, XdpModeUnsupportedError, errnoName, setErrnoDescriber,
} from '../errors.js';
import type { LinkFeatureState } from '../types.js';

// The error classes live in errors.ts (no koffi there); re-exported for existing importers.
export { BpfError, ERRNO, LibbpfMissingError };

// ---------------------------------------------------------------------------------------------
// Native memory: stable allocations (koffi.alloc) that we address as BigInt pointers and edit
// through a DataView. Used for opts structs and for buffers whose address goes into a struct.

export class NativeBuffer {
  readonly ptr: bigint;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  private freed = false;
  constructor(size: number) {
    this.size = Math.max(1, size);
    this.ptr = koffi.alloc('uint8_t', this.size) as unknown as bigint;
    const ab = koffi.view(this.ptr, this.size) as ArrayBuffer;
    this.bytes = new Uint8Array(ab);
    this.view = new DataView(ab);
    this.bytes.fill(0);
  }
  at(offset: number): bigint {
    return this.ptr + BigInt(offset);
  }
  free(): void {
    if (!this.freed) {
      this.freed = true;
      koffi.free(this.ptr as unknown as never);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Struct layouts of libbpf 1.1 (x86_64 / aarch64 LP64). test/unit/layout.test.ts compiles a C
// program against the installed headers and checks every number here.

export const LAYOUT = {
  bpf_object_open_opts: { size: 80, object_name: 8, pin_root_path: 24, kernel_log_buf: 56, kernel_log_size: 64, kernel_log_level: 72 },
  bpf_test_run_opts: { size: 80, data_in: 8, data_out: 16, data_size_in: 24, data_size_out: 28, ctx_in: 32, ctx_out: 40, ctx_size_in: 48, ctx_size_out: 52, retval: 56, repeat: 60, duration: 64, flags: 68, cpu: 72, batch_size: 76 },
  bpf_xdp_attach_opts: { size: 16, old_prog_fd: 8 },
  bpf_xdp_query_opts: { size: 32, prog_id: 8, drv_prog_id: 12, hw_prog_id: 16, skb_prog_id: 20, attach_mode: 24 },
  bpf_map_batch_opts: { size: 24, elem_flags: 8, flags: 16 },
  bpf_map_create_opts: { size: 48, btf_fd: 8, inner_map_fd: 24, map_flags: 28, numa_node: 40, map_ifindex: 44 },
  bpf_get_fd_by_id_opts: { size: 16, open_flags: 8 },
  bpf_obj_get_opts: { size: 16, file_flags: 8 },
  bpf_tc_hook: { size: 24, ifindex: 8, attach_point: 12, parent: 16 },
  bpf_tc_opts: { size: 32, prog_fd: 8, flags: 12, prog_id: 16, handle: 20, priority: 24 },
  bpf_prog_info: { size: 232, type: 0, id: 4, tag: 8, load_time: 40, created_by_uid: 48, nr_map_ids: 52, map_ids: 56, name: 64, run_time_ns: 192, run_cnt: 200 },
  bpf_map_info: { size: 88, type: 0, id: 4, key_size: 8, value_size: 12, max_entries: 16, map_flags: 20, name: 24 },
} as const;

// Kernel constants used by callers.
export const BPF_MAP_TYPE = {
  HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11,
  ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13,
} as const;
export const BPF_PROG_TYPE = { SCHED_CLS: 3, XDP: 6 } as const;
export const XDP_FLAGS = {
  UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16,
} as const;
export const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;
export const XDP_ACTION = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
/** bpf_prog_test_run_opts flag: the frames an XDP program returns XDP_TX for are really sent. */
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
/** Map flag: hash map elements allocated on update (Katran's vip_to_down_reals_map and its inner maps). */
export const BPF_F_NO_PREALLOC = 1 << 0;
export const BPF_F_RDONLY = 1 << 3;
export const BPF_ANY = 0;
const BPF_TC = { EGRESS: 2 } as const;
const BPF_TC_F_REPLACE = 1;

// ---------------------------------------------------------------------------------------------
// The library itself, loaded on first use so that `--help` works on a box without libbpf.

/** A native address (koffi gives and takes pointers as BigInt). */
type Ptr = bigint;
/** Memory we own and pass by address: a Buffer / Uint8Array. */
type Bytes = Uint8Array;

/** Each libbpf function katran-tui calls, with its TypeScript signature (libbpf 1.1 headers). */
interface Libbpf {
  libbpf_major_version(): number;
  libbpf_minor_version(): number;
  libbpf_num_possible_cpus(): number;
  libbpf_strerror(err: number, buf: Bytes, size: number): number;
  libbpf_set_print(fn: unknown): unknown;
  bpf_object__open_file(path: string, opts: Ptr): Ptr | null;
  bpf_object__load(obj: Ptr): number;
  bpf_object__close(obj: Ptr): void;
  bpf_object__next_map(obj: Ptr, prev: Ptr | null): Ptr | null;
  bpf_object__next_program(obj: Ptr, prev: Ptr | null): Ptr | null;
  bpf_object__find_map_by_name(obj: Ptr, name: string): Ptr | null;
  bpf_object__find_program_by_name(obj: Ptr, name: string): Ptr | null;
  bpf_map__name(map: Ptr): string;
  bpf_map__fd(map: Ptr): number;
  bpf_map__type(map: Ptr): number;
  bpf_map__key_size(map: Ptr): number;
  bpf_map__value_size(map: Ptr): number;
  bpf_map__max_entries(map: Ptr): number;
  bpf_map__map_flags(map: Ptr): number;
  bpf_map__set_max_entries(map: Ptr, n: number): number;
  bpf_map__set_inner_map_fd(map: Ptr, fd: number): number;
  bpf_map__reuse_fd(map: Ptr, fd: number): number;
  bpf_program__name(prog: Ptr): string;
  bpf_program__fd(prog: Ptr): number;
  bpf_program__type(prog: Ptr): number;
  bpf_program__set_autoload(prog: Ptr, autoload: boolean): number;
  bpf_prog_test_run_opts(fd: number, opts: Ptr): number;
  bpf_map_create(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, opts: Ptr): number;
  bpf_map_lookup_elem(fd: number, key: Bytes, value: Bytes): number;
  bpf_map_update_elem(fd: number, key: Bytes, value: Bytes, flags: number): number;
  bpf_map_delete_elem(fd: number, key: Bytes): number;
  bpf_map_get_next_key(fd: number, key: Bytes | null, nextKey: Bytes): number;
  bpf_map_lookup_batch(fd: number, inBatch: Bytes | null, outBatch: Bytes, keys: Bytes, values: Bytes, count: [number], opts: Ptr): number;
  bpf_map_update_batch(fd: number, keys: Bytes, values: Bytes, count: [number], opts: Ptr): number;
  bpf_map_delete_batch(fd: number, keys: Bytes, count: [number], opts: Ptr): number;
  bpf_obj_pin(fd: number, path: string): number;
  bpf_obj_get_opts(path: string, opts: Ptr): number;
  bpf_obj_get_info_by_fd(fd: number, info: Ptr, len: [number]): number;
  bpf_enable_stats(type: number): number;
  bpf_prog_get_fd_by_id(id: number): number;
  bpf_map_get_fd_by_id_opts(id: number, opts: Ptr): number;
  bpf_xdp_attach(ifindex: number, progFd: number, flags: number, opts: Ptr): number;
  bpf_xdp_detach(ifindex: number, flags: number, opts: Ptr): number;
  bpf_xdp_query(ifindex: number, flags: number, opts: Ptr): number;
  bpf_tc_hook_create(hook: Ptr): number;
  bpf_tc_attach(hook: Ptr, opts: Ptr): number;
  bpf_tc_detach(hook: Ptr, opts: Ptr): number;
  bpf_tc_query(hook: Ptr, opts: Ptr): number;
}

/** The libc functions the dataplane needs (interfaces, CPUs, the uid, varargs formatting). */
interface Libc {
  close(fd: number): number;
  if_nametoindex(name: string): number;
  if_indextoname(ifindex: number, buf: Bytes): string | null;
  vsnprintf(buf: Bytes, size: number, fmt: string, ap: Ptr): number;
  sched_setaffinity(pid: number, size: number, mask: Bytes): number;
  sched_getaffinity(pid: number, size: number, mask: Bytes): number;
  sched_getcpu(): number;
  geteuid(): number;
  if_nameindex(): Ptr | null;
  if_freenameindex(ptr: Ptr): void;
  socket(domain: number, type: number, protocol: number): number;
  ioctl(fd: number, request: number, arg: Bytes): number;
}

/** The C prototype of every function of T; the type checks that each prototype declares its own name. */
type Prototypes<T> = { [K in keyof T & string]: `${string}${K}(${string})` };

const LIBBPF_DECLS: Prototypes<Libbpf> = {
  libbpf_major_version: 'uint32_t libbpf_major_version(void)',
  libbpf_minor_version: 'uint32_t libbpf_minor_version(void)',
  libbpf_num_possible_cpus: 'int libbpf_num_possible_cpus(void)',
  libbpf_strerror: 'int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)',
  libbpf_set_print: 'void *libbpf_set_print(void *fn)',
  bpf_object__open_file: 'void *bpf_object__open_file(const char *path, void *opts)',
  bpf_object__load: 'int bpf_object__load(void *obj)',
  bpf_object__close: 'void bpf_object__close(void *obj)',
  bpf_object__next_map: 'void *bpf_object__next_map(void *obj, void *prev)',
  bpf_object__next_program: 'void *bpf_object__next_program(void *obj, void *prev)',
  bpf_object__find_map_by_name: 'void *bpf_object__find_map_by_name(void *obj, const char *name)',
  bpf_object__find_program_by_name: 'void *bpf_object__find_program_by_name(void *obj, const char *name)',
  bpf_map__name: 'const char *bpf_map__name(void *map)',
  bpf_map__fd: 'int bpf_map__fd(void *map)',
  bpf_map__type: 'int bpf_map__type(void *map)',
  bpf_map__key_size: 'uint32_t bpf_map__key_size(void *map)',
  bpf_map__value_size: 'uint32_t bpf_map__value_size(void *map)',
  bpf_map__max_entries: 'uint32_t bpf_map__max_entries(void *map)',
  bpf_map__map_flags: 'uint32_t bpf_map__map_flags(void *map)',
  bpf_map__set_max_entries: 'int bpf_map__set_max_entries(void *map, uint32_t n)',
  bpf_map__set_inner_map_fd: 'int bpf_map__set_inner_map_fd(void *map, int fd)',
  bpf_map__reuse_fd: 'int bpf_map__reuse_fd(void *map, int fd)',
  bpf_program__name: 'const char *bpf_program__name(void *prog)',
  bpf_program__fd: 'int bpf_program__fd(void *prog)',
  bpf_program__type: 'int bpf_program__type(void *prog)',
  bpf_program__set_autoload: 'int bpf_program__set_autoload(void *prog, bool autoload)',
  bpf_prog_test_run_opts: 'int bpf_prog_test_run_opts(int fd, void *opts)',
  bpf_map_create: 'int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, void *opts)',
  bpf_map_lookup_elem: 'int bpf_map_lookup_elem(int fd, void *key, void *value)',
  bpf_map_update_elem: 'int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)',
  bpf_map_delete_elem: 'int bpf_map_delete_elem(int fd, void *key)',
  bpf_map_get_next_key: 'int bpf_map_get_next_key(int fd, void *key, void *next_key)',
  bpf_map_lookup_batch: 'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, void *opts)',
  bpf_map_update_batch: 'int bpf_map_update_batch(int fd, void *keys, void *values, _Inout_ uint32_t *count, void *opts)',
  bpf_map_delete_batch: 'int bpf_map_delete_batch(int fd, void *keys, _Inout_ uint32_t *count, void *opts)',
  bpf_obj_pin: 'int bpf_obj_pin(int fd, const char *path)',
  bpf_obj_get_opts: 'int bpf_obj_get_opts(const char *path, void *opts)',
  bpf_obj_get_info_by_fd: 'int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *len)',
  bpf_enable_stats: 'int bpf_enable_stats(int type)',
  bpf_prog_get_fd_by_id: 'int bpf_prog_get_fd_by_id(uint32_t id)',
  bpf_map_get_fd_by_id_opts: 'int bpf_map_get_fd_by_id_opts(uint32_t id, void *opts)',
  bpf_xdp_attach: 'int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, void *opts)',
  bpf_xdp_detach: 'int bpf_xdp_detach(int ifindex, uint32_t flags, void *opts)',
  bpf_xdp_query: 'int bpf_xdp_query(int ifindex, int flags, void *opts)',
  bpf_tc_hook_create: 'int bpf_tc_hook_create(void *hook)',
  bpf_tc_attach: 'int bpf_tc_attach(void *hook, void *opts)',
  bpf_tc_detach: 'int bpf_tc_detach(void *hook, void *opts)',
  bpf_tc_query: 'int bpf_tc_query(void *hook, void *opts)',
};

const LIBC_DECLS: Prototypes<Libc> = {
  close: 'int close(int fd)',
  if_nametoindex: 'unsigned int if_nametoindex(const char *name)',
  if_indextoname: 'char *if_indextoname(unsigned int ifindex, _Out_ uint8_t *buf)',
  vsnprintf: 'int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *ap)',
  sched_setaffinity: 'int sched_setaffinity(int pid, size_t size, void *mask)',
  sched_getaffinity: 'int sched_getaffinity(int pid, size_t size, void *mask)',
  sched_getcpu: 'int sched_getcpu(void)',
  geteuid: 'unsigned int geteuid(void)',
  if_nameindex: 'void *if_nameindex(void)',
  if_freenameindex: 'void if_freenameindex(void *ptr)',
  socket: 'int socket(int domain, int type, int protocol)',
  ioctl: 'int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)',
};

let libCache: Libbpf | undefined;
let libcCache: Libc | undefined;

/** Declares every function of the table; one the library lacks throws LibbpfMissingError when called. */
function declare<T>(lib: LibraryHandle, decls: Prototypes<T>, missing: (name: string) => string): T {
  const out: Record<string, unknown> = {};
  for (const [name, proto] of Object.entries(decls) as [string, string][]) {
    try {
      out[name] = lib.func(proto);
    } catch {
      out[name] = () => {
        throw new LibbpfMissingError(missing(name));
      };
    }
  }
  return out as T;
}

// libbpf's messages (warnings, verifier retries) are kept here instead of going to stderr, where
// they would tear the console's frame; a failed load attaches the ones it caused to its error.
const LOG_KEEP = 200;
const libbpfMessages: string[] = [];
let printCallback: unknown;

function installPrintHook(lib: Libbpf, c: Libc): void {
  const setPrint = (fn: unknown): void => { lib.libbpf_set_print(fn); };
  // va_list is a pointer-sized array type only on x86_64; elsewhere we silence libbpf instead.
  if (process.arch !== 'x64') {
    setPrint(null);
    return;
  }
  const PrintFn = koffi.proto('int katran_tui_libbpf_print(int level, const char *fmt, void *args)');
  const buf = Buffer.alloc(4096);
  printCallback = koffi.register((level: number, fmt: string, args: bigint) => {
    const n = c.vsnprintf(buf, buf.length, fmt, args);
    const text = buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))).toString('utf8').trimEnd();
    libbpfMessages.push(`${['warn', 'info', 'debug'][level] ?? 'log'}: ${text}`);
    if (libbpfMessages.length > LOG_KEEP) libbpfMessages.splice(0, libbpfMessages.length - LOG_KEEP);
    if (process.env.KATRAN_TUI_LIBBPF_DEBUG) process.stderr.write(`libbpf: ${text}\n`);
    return 0;
  }, koffi.pointer(PrintFn));
  setPrint(printCallback);
}

function libc(): Libc {
  if (!libcCache) libcCache = declare(koffi.load('libc.so.6'), LIBC_DECLS, (name) => `libc.so.6 lacks ${name}`);
  return libcCache;
}

export function libbpf(): Libbpf {
  if (libCache) return libCache;
  let bpf: LibraryHandle;
  try {
    bpf = koffi.load('libbpf.so.1');
  } catch (e) {
    throw new LibbpfMissingError('libbpf.so.1 is not installed: katran-tui needs libbpf >= 1.1 (Debian/Ubuntu: apt-get install libbpf1, or run scripts/setup.sh)');
  }
  const lib = declare(bpf, LIBBPF_DECLS, (name) => `libbpf.so.1 lacks ${name}: katran-tui needs libbpf >= 1.1 (Debian 12+, Ubuntu 24.04+: apt-get install libbpf1)`);
  let major = 0;
  let minor = 0;
  try {
    major = lib.libbpf_major_version();
    minor = lib.libbpf_minor_version();
  } catch {
    // libbpf 0.5 has no version functions at all
  }
  if (major < 1 || (major === 1 && minor < 1)) {
    throw new LibbpfMissingError(`libbpf ${major}.${minor} is too old: katran-tui needs libbpf >= 1.1 for bpf_xdp_attach / bpf_xdp_query (Ubuntu 22.04 ships 0.5; use Debian 12+ or Ubuntu 24.04+)`);
  }
  installPrintHook(lib, libc());
  libCache = lib;
  return lib;
}

export function libbpfVersion(): string {
  const l = libbpf();
  return `${l.libbpf_major_version()}.${l.libbpf_minor_version()}`;
}

/** libbpf's text for an errno, with its name: "No such file or directory (ENOENT)". */
function describeErrno(errno: number): string {
  if (errno === ERRNO.ENOTSUPP) return 'operation not supported (ENOTSUPP)';
  const buf = Buffer.alloc(256);
  try {
    libbpf().libbpf_strerror(-errno, buf, buf.length);
    const text = buf.toString('utf8').replace(/\0.*$/s, '');
    return `${text} (${errnoName(errno)})`;
  } catch {
    return errnoName(errno);
  }
}
setErrnoDescriber(describeErrno);

/** Throws a BpfError for a libbpf int return < 0 (NotExistError for ENOENT); returns the value otherwise. */
export function check(ret: number, op: string, object: string): number {
  if (ret === -ERRNO.ENOENT) throw new NotExistError(op, object);
  if (ret < 0) throw new BpfError(op, object, -ret);
  return ret;
}

function checkPtr<T>(ptr: T | null, op: string, object: string): T {
  if (ptr === null || ptr === undefined || (ptr as unknown) === 0n) {
    const errno = koffi.errno() || ERRNO.EINVAL;
    throw errno === ERRNO.ENOENT ? new NotExistError(op, object) : new BpfError(op, object, errno);
  }
  return ptr;
}

// ---------------------------------------------------------------------------------------------
// File descriptors

export function closeFd(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

export function numPossibleCpus(): number {
  return check(libbpf().libbpf_num_possible_cpus(), 'count', 'possible CPUs');
}

export function isRoot(): boolean {
  return libc().geteuid() === 0;
}

export function ifNameToIndex(name: string): number {
  return libc().if_nametoindex(name);
}

export function ifIndexToName(index: number): string | undefined {
  const buf = Buffer.alloc(32);
  const r = libc().if_indextoname(index, buf);
  if (r === null) return undefined;
  return buf.toString('utf8').replace(/\0.*$/s, '');
}

/** Pins the calling thread (Node's main thread) to one CPU; tests that rely on the per-CPU LRU. */
export function pinToCpu(cpu: number): () => void {
  const c = libc();
  const old = Buffer.alloc(128);
  check(c.sched_getaffinity(0, old.length, old) < 0 ? -koffi.errno() : 0, 'get affinity of', 'this process');
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] |= 1 << (cpu & 7);
  if (c.sched_setaffinity(0, mask.length, mask) < 0) throw new BpfError('pin to', `cpu ${cpu}`, koffi.errno());
  return () => {
    c.sched_setaffinity(0, old.length, old);
  };
}

export function currentCpu(): number {
  return libc().sched_getcpu();
}

// ---------------------------------------------------------------------------------------------
// Objects, maps and programs before and after load

const KERNEL_LOG_SIZE = 8 << 20;
let kernelLog: NativeBuffer | undefined;

export interface OpenOptions {
  /** libbpf's pin_root_path: maps declared with LIBBPF_PIN_BY_NAME are pinned / reused there. */
  pinRoot?: string;
}

export class BpfObject {
  private ptr: bigint | null;
  readonly path: string;
  private opts: NativeBuffer;

  private constructor(ptr: bigint, path: string, opts: NativeBuffer) {
    this.ptr = ptr;
    this.path = path;
    this.opts = opts;
  }

  static open(path: string, options: OpenOptions = {}): BpfObject {
    const lib = libbpf();
    if (!kernelLog) kernelLog = new NativeBuffer(KERNEL_LOG_SIZE);
    const L = LAYOUT.bpf_object_open_opts;
    const opts = new NativeBuffer(L.size + 512);
    const v = opts.view;
    v.setBigUint64(0, BigInt(L.size), true);
    if (options.pinRoot) {
      const s = Buffer.from(`${options.pinRoot}\0`);
      if (s.length > 500) throw InputError.at('open', path, 'pin root path too long');
      opts.bytes.set(s, L.size);
      v.setBigUint64(L.pin_root_path, opts.at(L.size), true);
    }
    v.setBigUint64(L.kernel_log_buf, kernelLog.ptr, true);
    v.setBigUint64(L.kernel_log_size, BigInt(KERNEL_LOG_SIZE), true);
    v.setUint32(L.kernel_log_level, 0, true);
    const ptr = checkPtr(lib.bpf_object__open_file(path, opts.ptr), 'open BPF object', path);
    return new BpfObject(ptr, path, opts);
  }

  private get handle(): bigint {
    if (this.ptr === null) throw new ClosedError('use', this.path, 'object already closed');
    return this.ptr;
  }

  maps(): MapDef[] {
    const lib = libbpf();
    const out: MapDef[] = [];
    let m: bigint | null = null;
    for (let i = 0; i < 10000; i++) {
      m = lib.bpf_object__next_map(this.handle, m);
      if (m === null) break;
      out.push(new MapDef(m, lib.bpf_map__name(m)));
    }
    return out;
  }

  programs(): ProgramDef[] {
    const lib = libbpf();
    const out: ProgramDef[] = [];
    let p: bigint | null = null;
    for (let i = 0; i < 10000; i++) {
      p = lib.bpf_object__next_program(this.handle, p);
      if (p === null) break;
      out.push(new ProgramDef(p, lib.bpf_program__name(p)));
    }
    return out;
  }

  map(name: string): MapDef | undefined {
    const m = libbpf().bpf_object__find_map_by_name(this.handle, name);
    return m === null ? undefined : new MapDef(m, name);
  }

  program(name: string): ProgramDef | undefined {
    const p = libbpf().bpf_object__find_program_by_name(this.handle, name);
    return p === null ? undefined : new ProgramDef(p, name);
  }

  /** Loads every program and creates every map; a verifier rejection carries the kernel's log. */
  load(): void {
    const lib = libbpf();
    kernelLog!.bytes[0] = 0;
    const before = libbpfMessages.length;
    const ret = lib.bpf_object__load(this.handle);
    if (ret < 0) {
      const errno = -ret;
      const klog = readCString(kernelLog!.bytes);
      const msgs = libbpfMessages.slice(before).join('\n');
      const log = klog || msgs || undefined;
      // EACCES / EINVAL / E2BIG / ENOSPC also come from other load failures: the kernel's log tells.
      if (log && (errno === ERRNO.EACCES || errno === ERRNO.EINVAL || errno === ERRNO.E2BIG || errno === ERRNO.ENOSPC)
          && /processed|invalid|R\d|verifier|unreachable|back-edge|BPF program is too large/i.test(log)) {
        throw new VerifierError('load', this.path, errno, log);
      }
      if (errno === ERRNO.EPERM) {
        throw new NotRootError('load', this.path, 'not permitted: loading BPF programs needs root (or CAP_BPF + CAP_NET_ADMIN)', { errno, log });
      }
      throw new BpfError('load', this.path, errno, undefined, log);
    }
  }

  close(): void {
    if (this.ptr !== null) {
      libbpf().bpf_object__close(this.ptr);
      this.ptr = null;
      this.opts.free();
    }
  }
}

function readCString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, end < 0 ? b.length : end).toString('utf8');
}

/** A map inside an object: shape and setup before load, fd after. */
export class MapDef {
  constructor(readonly ptr: bigint, readonly name: string) {}
  get type(): number { return libbpf().bpf_map__type(this.ptr); }
  get keySize(): number { return libbpf().bpf_map__key_size(this.ptr); }
  get valueSize(): number { return libbpf().bpf_map__value_size(this.ptr); }
  get maxEntries(): number { return libbpf().bpf_map__max_entries(this.ptr); }
  get mapFlags(): number { return libbpf().bpf_map__map_flags(this.ptr); }
  get fd(): number { return check(libbpf().bpf_map__fd(this.ptr), 'get fd of map', this.name); }
  setMaxEntries(n: number): void { check(libbpf().bpf_map__set_max_entries(this.ptr, n), 'set max_entries of map', this.name); }
  setInnerMapFd(fd: number): void { check(libbpf().bpf_map__set_inner_map_fd(this.ptr, fd), 'set inner map of', this.name); }
  reuseFd(fd: number): void { check(libbpf().bpf_map__reuse_fd(this.ptr, fd), 'reuse pinned map', this.name); }
}

export class ProgramDef {
  constructor(readonly ptr: bigint, readonly name: string) {}
  get fd(): number { return check(libbpf().bpf_program__fd(this.ptr), 'get fd of program', this.name); }
  get type(): number { return libbpf().bpf_program__type(this.ptr); }
  setAutoload(on: boolean): void { check(libbpf().bpf_program__set_autoload(this.ptr, on), 'set autoload of program', this.name); }
}

// ---------------------------------------------------------------------------------------------
// Map element operations by fd. Keys and values are Buffers (or any Uint8Array).

export function mapLookup(fd: number, key: Bytes, value: Bytes, what = `map fd ${fd}`): boolean {
  const r = libbpf().bpf_map_lookup_elem(fd, key, value);
  if (r === -ERRNO.ENOENT) return false;
  check(r, 'look up in', what);
  return true;
}

export function mapUpdate(fd: number, key: Bytes, value: Bytes, flags = BPF_ANY, what = `map fd ${fd}`): void {
  const r = libbpf().bpf_map_update_elem(fd, key, value, flags);
  if (r === -ERRNO.E2BIG || r === -ERRNO.ENOSPC) throw new MapFullError('update', what, 'map full', { errno: -r });
  check(r, 'update', what);
}

export function mapDelete(fd: number, key: Bytes, what = `map fd ${fd}`): boolean {
  const r = libbpf().bpf_map_delete_elem(fd, key);
  if (r === -ERRNO.ENOENT) return false;
  check(r, 'delete from', what);
  return true;
}

/** Next key after `key` (null: the first); false at the end. */
export function mapNextKey(fd: number, key: Bytes | null, next: Bytes, what = `map fd ${fd}`): boolean {
  const r = libbpf().bpf_map_get_next_key(fd, key, next);
  if (r === -ERRNO.ENOENT) return false;
  check(r, 'iterate', what);
  return true;
}

const batchOpts = (() => {
  let b: NativeBuffer | undefined;
  return (elemFlags = 0): NativeBuffer => {
    if (!b) b = new NativeBuffer(LAYOUT.bpf_map_batch_opts.size);
    b.view.setBigUint64(0, BigInt(LAYOUT.bpf_map_batch_opts.size), true);
    b.view.setBigUint64(LAYOUT.bpf_map_batch_opts.elem_flags, BigInt(elemFlags), true);
    b.view.setBigUint64(LAYOUT.bpf_map_batch_opts.flags, 0n, true);
    return b;
  };
})();

/**
 * One chunk of bpf_map_lookup_batch. `inBatch` null starts at the beginning; `outBatch` receives
 * the token for the next call (a key-sized buffer for HASH maps, 4 bytes for ARRAY maps).
 * Returns the number of rows and whether this was the last chunk (libbpf says ENOENT then, even
 * when it returned rows).
 */
export function mapLookupBatch(fd: number, inBatch: Bytes | null, outBatch: Bytes, keys: Bytes, values: Bytes, max: number, what = `map fd ${fd}`): { count: number; done: boolean } {
  const count: [number] = [max];
  const r = libbpf().bpf_map_lookup_batch(fd, inBatch, outBatch, keys, values, count, batchOpts().ptr);
  if (r === -ERRNO.ENOENT) return { count: count[0], done: true };
  check(r, 'batch look up in', what);
  return { count: count[0], done: false };
}

export function mapUpdateBatch(fd: number, keys: Bytes, values: Bytes, n: number, what = `map fd ${fd}`, elemFlags = 0): void {
  if (n === 0) return;
  const count: [number] = [n];
  const r = libbpf().bpf_map_update_batch(fd, keys, values, count, batchOpts(elemFlags).ptr);
  if (r === -ERRNO.E2BIG || r === -ERRNO.ENOSPC) throw new MapFullError('batch update', what, `map full after ${count[0]} of ${n} entries`, { errno: -r });
  if (r < 0) throw new BpfError('batch update', what, -r, `${describeErrno(-r)} after ${count[0]} of ${n} entries`);
}

export function mapDeleteBatch(fd: number, keys: Bytes, n: number, what = `map fd ${fd}`): number {
  if (n === 0) return 0;
  const count: [number] = [n];
  const r = libbpf().bpf_map_delete_batch(fd, keys, count, batchOpts().ptr);
  if (r < 0 && r !== -ERRNO.ENOENT) throw new BpfError('batch delete', what, -r, `${describeErrno(-r)} after ${count[0]} of ${n} entries`);
  return count[0];
}

export interface CreateMapOptions {
  flags?: number;
  innerMapFd?: number;
}

export function mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, o: CreateMapOptions = {}): number {
  const L = LAYOUT.bpf_map_create_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    opts.view.setUint32(L.map_flags, o.flags ?? 0, true);
    opts.view.setUint32(L.inner_map_fd, o.innerMapFd ?? 0, true);
    const r = libbpf().bpf_map_create(type, name.slice(0, 15), keySize, valueSize, maxEntries, opts.ptr);
    if (r === -ERRNO.EPERM) throw new NotRootError('create map', name, 'not permitted: creating BPF maps needs root (or CAP_BPF)', { errno: ERRNO.EPERM });
    return check(r, 'create map', name);
  } finally {
    opts.free();
  }
}

// ---------------------------------------------------------------------------------------------
// prog_test_run: one reusable context (opts + in/out buffers) per program.

export interface TestRunResult {
  retval: number;
  /** Output packet, a copy. */
  data: Buffer;
  /** Kernel-measured ns per repetition. */
  duration: number;
  /** ctx_out (same size as the ctx given to run()), e.g. a tc program's struct __sk_buff after the run. */
  ctx?: Buffer;
}

/** Largest ctx_in / ctx_out TestRunner takes (struct __sk_buff is 192 bytes on 6.x kernels). */
export const TEST_RUN_MAX_CTX = 256;

export class TestRunner {
  private readonly block: NativeBuffer;
  private readonly dataIn: number;
  private readonly dataOut: number;
  constructor(readonly progFd: number, readonly maxPacket = 4096, readonly what = `program fd ${progFd}`) {
    const L = LAYOUT.bpf_test_run_opts;
    this.dataIn = L.size;
    this.dataOut = L.size + maxPacket;
    this.block = new NativeBuffer(L.size + maxPacket * 2 + TEST_RUN_MAX_CTX * 2);
  }

  /**
   * Runs `packet` through the program; returns the verdict and the output bytes. `ctx` is passed
   * as ctx_in (and the same size is read back as ctx_out), e.g. a struct __sk_buff carrying a mark.
   */
  run(packet: Uint8Array, repeat = 1, ctx?: Uint8Array): TestRunResult {
    const r = this.runRaw(packet, repeat, ctx);
    const out = Buffer.from(this.block.bytes.subarray(this.dataOut, this.dataOut + r.outLen));
    const res: TestRunResult = { retval: r.retval, data: out, duration: r.duration };
    if (ctx) {
      const at = this.dataOut + this.maxPacket + TEST_RUN_MAX_CTX;
      res.ctx = Buffer.from(this.block.bytes.subarray(at, at + ctx.length));
    }
    return res;
  }

  /** As run() without copying the output (benchmarks). */
  runRaw(packet: Uint8Array, repeat = 1, ctx?: Uint8Array): { retval: number; outLen: number; duration: number } {
    if (packet.length > this.maxPacket) throw InputError.at('test run', this.what, `packet of ${packet.length} bytes exceeds ${this.maxPacket}`);
    if (ctx && ctx.length > TEST_RUN_MAX_CTX) throw InputError.at('test run', this.what, `ctx of ${ctx.length} bytes exceeds ${TEST_RUN_MAX_CTX}`);
    const L = LAYOUT.bpf_test_run_opts;
    const v = this.block.view;
    this.block.bytes.fill(0, 0, L.size);
    this.block.bytes.set(packet, this.dataIn);
    v.setBigUint64(0, BigInt(L.size), true);
    v.setBigUint64(L.data_in, this.block.at(this.dataIn), true);
    v.setBigUint64(L.data_out, this.block.at(this.dataOut), true);
    v.setUint32(L.data_size_in, packet.length, true);
    v.setUint32(L.data_size_out, this.maxPacket, true);
    v.setInt32(L.repeat, repeat, true);
    if (ctx) {
      const ctxIn = this.dataOut + this.maxPacket;
      const ctxOut = ctxIn + TEST_RUN_MAX_CTX;
      this.block.bytes.set(ctx, ctxIn);
      this.block.bytes.fill(0, ctxOut, ctxOut + TEST_RUN_MAX_CTX);
      v.setBigUint64(L.ctx_in, this.block.at(ctxIn), true);
      v.setBigUint64(L.ctx_out, this.block.at(ctxOut), true);
      v.setUint32(L.ctx_size_in, ctx.length, true);
      v.setUint32(L.ctx_size_out, ctx.length, true);
    }
    const ret = libbpf().bpf_prog_test_run_opts(this.progFd, this.block.ptr);
    check(ret, 'test run', this.what);
    return { retval: v.getUint32(L.retval, true), outLen: v.getUint32(L.data_size_out, true), duration: v.getUint32(L.duration, true) };
  }

  /**
   * Live frames (BPF_F_TEST_XDP_LIVE_FRAMES): `repeat` frames built from `packet` go through the
   * program in batches of `batchSize`, and those it returns XDP_TX / XDP_REDIRECT for are really
   * sent, out of ctx.ingress_ifindex (looked up in the calling thread's network namespace). No
   * output is copied back (the kernel refuses data_out / ctx_out in this mode).
   */
  runLive(packet: Uint8Array, repeat: number, ctx: Uint8Array, batchSize: number): void {
    if (packet.length > this.maxPacket) throw new BpfError('test run', this.what, ERRNO.EINVAL, `packet of ${packet.length} bytes exceeds ${this.maxPacket}`);
    if (ctx.length > TEST_RUN_MAX_CTX) throw new BpfError('test run', this.what, ERRNO.EINVAL, `ctx of ${ctx.length} bytes exceeds ${TEST_RUN_MAX_CTX}`);
    const L = LAYOUT.bpf_test_run_opts;
    const v = this.block.view;
    const ctxIn = this.dataOut + this.maxPacket;
    this.block.bytes.fill(0, 0, L.size);
    this.block.bytes.set(packet, this.dataIn);
    this.block.bytes.set(ctx, ctxIn);
    v.setBigUint64(0, BigInt(L.size), true);
    v.setBigUint64(L.data_in, this.block.at(this.dataIn), true);
    v.setUint32(L.data_size_in, packet.length, true);
    v.setBigUint64(L.ctx_in, this.block.at(ctxIn), true);
    v.setUint32(L.ctx_size_in, ctx.length, true);
    v.setInt32(L.repeat, repeat, true);
    v.setUint32(L.flags, BPF_F_TEST_XDP_LIVE_FRAMES, true);
    v.setUint32(L.batch_size, batchSize, true);
    check(libbpf().bpf_prog_test_run_opts(this.progFd, this.block.ptr) as number, 'test run (live frames)', this.what);
  }

  close(): void {
    this.block.free();
  }
}

// ---------------------------------------------------------------------------------------------
// XDP attach / detach / query through netlink

export function xdpAttach(ifindex: number, progFd: number, flags: number, oldProgFd?: number, what = `ifindex ${ifindex}`): void {
  const L = LAYOUT.bpf_xdp_attach_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    opts.view.setInt32(L.old_prog_fd, oldProgFd ?? 0, true);
    const r = libbpf().bpf_xdp_attach(ifindex, progFd, flags, opts.ptr);
    if (r === -ERRNO.EBUSY || r === -ERRNO.EEXIST) throw new InterfaceBusyError('attach XDP to', what, -r, 'another XDP program is already attached (or a bpf_link holds the interface)');
    if (r === -ERRNO.ENODEV) throw new InterfaceMissingError('attach XDP to', what, undefined, { errno: -r });
    if (r === -ERRNO.EOPNOTSUPP || r === -ERRNO.ENOTSUPP) throw new XdpModeUnsupportedError('attach XDP to', what, -r);
    if (r === -ERRNO.EPERM) throw new NotRootError('attach XDP to', what, 'not permitted: attaching XDP needs root (CAP_NET_ADMIN)', { errno: -r });
    check(r, 'attach XDP to', what);
  } finally {
    opts.free();
  }
}

export function xdpDetach(ifindex: number, flags: number, oldProgFd?: number, what = `ifindex ${ifindex}`): void {
  const L = LAYOUT.bpf_xdp_attach_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    opts.view.setInt32(L.old_prog_fd, oldProgFd ?? 0, true);
    check(libbpf().bpf_xdp_detach(ifindex, flags, opts.ptr), 'detach XDP from', what);
  } finally {
    opts.free();
  }
}

export interface XdpQuery {
  progId: number;
  drvProgId: number;
  hwProgId: number;
  skbProgId: number;
  /** XDP_ATTACHED.* */
  attachMode: number;
}

export function xdpQuery(ifindex: number, what = `ifindex ${ifindex}`): XdpQuery {
  const L = LAYOUT.bpf_xdp_query_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    const r = libbpf().bpf_xdp_query(ifindex, 0, opts.ptr);
    if (r === -ERRNO.ENODEV || r === -ERRNO.EINVAL && ifindex <= 0) throw new InterfaceMissingError('query XDP on', what, undefined, { errno: -r });
    check(r, 'query XDP on', what);
    const v = opts.view;
    return {
      progId: v.getUint32(L.prog_id, true),
      drvProgId: v.getUint32(L.drv_prog_id, true),
      hwProgId: v.getUint32(L.hw_prog_id, true),
      skbProgId: v.getUint32(L.skb_prog_id, true),
      attachMode: v.getUint8(L.attach_mode),
    };
  } finally {
    opts.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Pins, ids and object info

export function objPin(fd: number, path: string): void {
  check(libbpf().bpf_obj_pin(fd, path), 'pin', path);
}

export function objGet(path: string, readOnly = false): number {
  const L = LAYOUT.bpf_obj_get_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    opts.view.setUint32(L.file_flags, readOnly ? BPF_F_RDONLY : 0, true);
    return check(libbpf().bpf_obj_get_opts(path, opts.ptr), 'open pinned', path);
  } finally {
    opts.free();
  }
}

export function progFdById(id: number): number {
  return check(libbpf().bpf_prog_get_fd_by_id(id), 'open program', `id ${id}`);
}

export function mapFdById(id: number, readOnly = false): number {
  const L = LAYOUT.bpf_get_fd_by_id_opts;
  const opts = new NativeBuffer(L.size);
  try {
    opts.view.setBigUint64(0, BigInt(L.size), true);
    opts.view.setUint32(L.open_flags, readOnly ? BPF_F_RDONLY : 0, true);
    return check(libbpf().bpf_map_get_fd_by_id_opts(id, opts.ptr), 'open map', `id ${id}`);
  } finally {
    opts.free();
  }
}

/** enum bpf_stats_type: the kernel's run-time statistics (run_time_ns / run_cnt in bpf_prog_info). */
export const BPF_STATS_RUN_TIME = 0;

/**
 * Turns the kernel's BPF run-time statistics on for as long as the returned fd is open (the kernel
 * turns them off when the last holder closes it or dies). They cost every BPF program on the box
 * time per run: callers keep them off by default.
 */
export function enableRunTimeStats(): number {
  return check(libbpf().bpf_enable_stats(BPF_STATS_RUN_TIME), 'enable', 'BPF run-time statistics');
}

/** run_time_ns and run_cnt of a program (they move only while run-time statistics are on). */
export function progRunStats(fd: number): { runTimeNs: bigint; runCnt: bigint } {
  const i = progInfo(fd);
  return { runTimeNs: i.runTimeNs, runCnt: i.runCnt };
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
  /** Boot-time ns at which the program was loaded. */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  /** Time spent in the program and runs (kernel.bpf_stats_enabled = 1 only; else 0). */
  runTimeNs: bigint;
  runCnt: bigint;
}

export function progInfo(fd: number): ProgInfo {
  const L = LAYOUT.bpf_prog_info;
  const info = new NativeBuffer(L.size);
  const ids = new NativeBuffer(4 * 64);
  try {
    info.view.setUint32(L.nr_map_ids, 64, true);
    info.view.setBigUint64(L.map_ids, ids.ptr, true);
    const len: [number] = [L.size];
    check(libbpf().bpf_obj_get_info_by_fd(fd, info.ptr, len), 'get info of program', `fd ${fd}`);
    const v = info.view;
    const n = Math.min(64, v.getUint32(L.nr_map_ids, true));
    const mapIds: number[] = [];
    for (let i = 0; i < n; i++) mapIds.push(ids.view.getUint32(i * 4, true));
    return {
      type: v.getUint32(L.type, true),
      id: v.getUint32(L.id, true),
      tag: Buffer.from(info.bytes.subarray(L.tag, L.tag + 8)).toString('hex'),
      name: readCString(info.bytes.subarray(L.name, L.name + 16)),
      loadTime: v.getBigUint64(L.load_time, true),
      createdByUid: v.getUint32(L.created_by_uid, true),
      mapIds,
      runTimeNs: v.getBigUint64(L.run_time_ns, true),
      runCnt: v.getBigUint64(L.run_cnt, true),
    };
  } finally {
    info.free();
    ids.free();
  }
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
}

export function mapInfo(fd: number): MapInfo {
  const L = LAYOUT.bpf_map_info;
  const info = new NativeBuffer(L.size);
  try {
    const len: [number] = [L.size];
    check(libbpf().bpf_obj_get_info_by_fd(fd, info.ptr, len), 'get info of map', `fd ${fd}`);
    const v = info.view;
    return {
      type: v.getUint32(L.type, true),
      id: v.getUint32(L.id, true),
      keySize: v.getUint32(L.key_size, true),
      valueSize: v.getUint32(L.value_size, true),
      maxEntries: v.getUint32(L.max_entries, true),
      mapFlags: v.getUint32(L.map_flags, true),
      name: readCString(info.bytes.subarray(L.name, L.name + 16)),
    };
  } finally {
    info.free();
  }
}

// ---------------------------------------------------------------------------------------------
// tc (clsact) hooks for the healthcheck program

function tcHook(ifindex: number, attachPoint: number): NativeBuffer {
  const L = LAYOUT.bpf_tc_hook;
  const h = new NativeBuffer(L.size);
  h.view.setBigUint64(0, BigInt(L.size), true);
  h.view.setInt32(L.ifindex, ifindex, true);
  h.view.setUint32(L.attach_point, attachPoint, true);
  return h;
}

function tcOpts(progFd: number, handle: number, priority: number, flags = 0): NativeBuffer {
  const L = LAYOUT.bpf_tc_opts;
  const o = new NativeBuffer(L.size);
  o.view.setBigUint64(0, BigInt(L.size), true);
  o.view.setInt32(L.prog_fd, progFd, true);
  o.view.setUint32(L.flags, flags, true);
  o.view.setUint32(L.handle, handle, true);
  o.view.setUint32(L.priority, priority, true);
  return o;
}

/** Creates the clsact qdisc (EEXIST is fine) and attaches `progFd` at egress. */
export function tcAttachEgress(ifindex: number, progFd: number, handle: number, priority: number, what = `ifindex ${ifindex}`): number {
  const hook = tcHook(ifindex, BPF_TC.EGRESS);
  const opts = tcOpts(progFd, handle, priority, BPF_TC_F_REPLACE);
  try {
    const r = libbpf().bpf_tc_hook_create(hook.ptr);
    if (r < 0 && r !== -ERRNO.EEXIST) check(r, 'create clsact qdisc on', what);
    check(libbpf().bpf_tc_attach(hook.ptr, opts.ptr), 'attach tc egress program to', what);
    return opts.view.getUint32(LAYOUT.bpf_tc_opts.prog_id, true);
  } finally {
    hook.free();
    opts.free();
  }
}

/** The program id at egress handle/priority, or 0. */
export function tcQueryEgress(ifindex: number, handle: number, priority: number, what = `ifindex ${ifindex}`): number {
  const hook = tcHook(ifindex, BPF_TC.EGRESS);
  const opts = tcOpts(0, handle, priority);
  try {
    const r = libbpf().bpf_tc_query(hook.ptr, opts.ptr);
    if (r === -ERRNO.ENOENT || r === -ERRNO.EINVAL) return 0;
    check(r, 'query tc egress on', what);
    return opts.view.getUint32(LAYOUT.bpf_tc_opts.prog_id, true);
  } finally {
    hook.free();
    opts.free();
  }
}

export function tcDetachEgress(ifindex: number, handle: number, priority: number, what = `ifindex ${ifindex}`): void {
  const hook = tcHook(ifindex, BPF_TC.EGRESS);
  const opts = tcOpts(0, handle, priority);
  try {
    const r = libbpf().bpf_tc_detach(hook.ptr, opts.ptr);
    if (r === -ERRNO.ENOENT) return;
    check(r, 'detach tc egress program from', what);
  } finally {
    hook.free();
    opts.free();
  }
}

// ---------------------------------------------------------------------------------------------
// Interfaces (libc if_nameindex + ioctl: right in whatever network namespace the process is in,
// unlike /sys/class/net after a bare setns).

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCGIFMTU = 0x8921;
const SIOCGIFHWADDR = 0x8927;
export const IFF_UP = 0x1;

/** Every interface of this network namespace: ifindex and name (libc if_nameindex). */
export function listLinks(): { ifindex: number; name: string }[] {
  const c = libc();
  const ptr = c.if_nameindex();
  if (ptr === null) throw new BpfError('list', 'network interfaces', koffi.errno() || ERRNO.ENOMEM);
  const out: { ifindex: number; name: string }[] = [];
  try {
    for (let i = 0; i < 65536; i++) {
      const index = koffi.decode(ptr, i * 16, 'uint32_t') as number;
      if (index === 0) break;
      const name = koffi.decode(ptr, i * 16 + 8, 'const char *') as string | null;
      if (name !== null) out.push({ ifindex: index, name });
    }
  } finally {
    c.if_freenameindex(ptr);
  }
  return out;
}

export interface LinkBasics {
  flags: number;
  mtu: number;
  /** 6 bytes (zero for interfaces without an Ethernet address, e.g. lo). */
  mac: Buffer;
  /** ARPHRD_* of the hardware address (1: Ethernet, 772: loopback). */
  hwType: number;
}

/** Flags, MTU and hardware address of one interface (SIOCGIF* ioctls on a throwaway socket). */
export function linkBasics(name: string): LinkBasics {
  return withIoctlSocket(name, (fd) => {
    const req = Buffer.alloc(40);
    const ioctl = (op: number, what: string): void => {
      req.fill(0);
      req.write(name, 0, 'utf8');
      if (libc().ioctl(fd, op, req) < 0) throwIoctlError(`read ${what} of`, name);
    };
    ioctl(SIOCGIFFLAGS, 'flags');
    const flags = req.readUInt16LE(16);
    ioctl(SIOCGIFMTU, 'MTU');
    const mtu = req.readInt32LE(16);
    ioctl(SIOCGIFHWADDR, 'hardware address');
    const hwType = req.readUInt16LE(16);
    const mac = Buffer.from(req.subarray(18, 24));
    return { flags, mtu, mac, hwType };
  });
}

/** The failed ioctl's errno, typed: InterfaceMissingError for ENODEV. */
function throwIoctlError(what: string, name: string): never {
  const e = koffi.errno();
  if (e === ERRNO.ENODEV) throw new InterfaceMissingError(what, `interface ${name}`, undefined, { errno: e });
  throw new BpfError(what, `interface ${name}`, e);
}

// ---------------------------------------------------------------------------------------------
// Offload features (SIOCETHTOOL: ETHTOOL_GFEATURES / SFEATURES by the kernel's feature names, e.g.
// "tx-vlan-hw-insert"), of an interface of the network namespace the calling thread is in.

/** The ethtool ioctl's numbers (linux/sockios.h, linux/ethtool.h), for this file and the lab's statistics. */
export const ETHTOOL = {
  SIOCETHTOOL: 0x8946,
  GDRVINFO: 0x03,
  GSTRINGS: 0x1b,
  GSTATS: 0x1d,
  GGRO: 0x2b,
  SGRO: 0x2c,
  GSSET_INFO: 0x37,
  GFEATURES: 0x3a,
  SFEATURES: 0x3b,
  SS_STATS: 1,
  SS_FEATURES: 4,
  GSTRING_LEN: 32,
} as const;
const { SIOCETHTOOL, GDRVINFO: ETHTOOL_GDRVINFO, GSTRINGS: ETHTOOL_GSTRINGS, GSSET_INFO: ETHTOOL_GSSET_INFO, GFEATURES: ETHTOOL_GFEATURES, SFEATURES: ETHTOOL_SFEATURES,
  SS_FEATURES: ETH_SS_FEATURES, GSTRING_LEN: ETH_GSTRING_LEN } = ETHTOOL;

/** One offload feature's state (types.ts LinkFeatureState: what the VLAN checks read). */
export type LinkFeature = LinkFeatureState;

function ethtool(fd: number, name: string, cmd: NativeBuffer, what: string): void {
  const req = Buffer.alloc(40);
  req.write(name, 0, 'utf8');
  req.writeBigUInt64LE(cmd.ptr, 16);
  if (libc().ioctl(fd, SIOCETHTOOL, req) < 0) throwIoctlError(what, name);
}

function withIoctlSocket<T>(name: string, fn: (fd: number) => T): T {
  if (Buffer.byteLength(name) > 15) throw InputError.at('inspect', `interface ${name}`, 'interface names have at most 15 characters');
  const fd = libc().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new BpfError('open', 'an ioctl socket', koffi.errno());
  try {
    return fn(fd);
  } finally {
    libc().close(fd);
  }
}

/** The names of the kernel's feature bits, in bit order (ETH_SS_FEATURES strings). */
function featureNames(fd: number, name: string): string[] {
  const info = new NativeBuffer(20);
  const strings = new NativeBuffer(12 + 256 * ETH_GSTRING_LEN);
  try {
    info.view.setUint32(0, ETHTOOL_GSSET_INFO, true);
    info.view.setBigUint64(8, 1n << BigInt(ETH_SS_FEATURES), true);
    ethtool(fd, name, info, 'read feature names of');
    const n = Math.min(info.view.getUint32(16, true), 256);
    strings.view.setUint32(0, ETHTOOL_GSTRINGS, true);
    strings.view.setUint32(4, ETH_SS_FEATURES, true);
    strings.view.setUint32(8, n, true);
    ethtool(fd, name, strings, 'read feature names of');
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(Buffer.from(strings.bytes.subarray(12 + i * ETH_GSTRING_LEN, 12 + (i + 1) * ETH_GSTRING_LEN)).toString('latin1').replace(/\0.*$/s, ''));
    return out;
  } finally {
    info.free();
    strings.free();
  }
}

function readFeatures(fd: number, name: string, names: string[]): Map<string, LinkFeature> {
  const blocks = Math.ceil(names.length / 32);
  const g = new NativeBuffer(8 + blocks * 16);
  try {
    g.view.setUint32(0, ETHTOOL_GFEATURES, true);
    g.view.setUint32(4, blocks, true);
    ethtool(fd, name, g, 'read offload features of');
    const out = new Map<string, LinkFeature>();
    names.forEach((f, i) => {
      const b = 8 + (i >> 5) * 16;
      const bit = 1 << (i & 31);
      const available = (g.view.getUint32(b, true) & bit) !== 0;
      const neverChanged = (g.view.getUint32(b + 12, true) & bit) !== 0;
      out.set(f, { active: (g.view.getUint32(b + 8, true) & bit) !== 0, changeable: available && !neverChanged });
    });
    return out;
  } finally {
    g.free();
  }
}

/** struct ethtool_drvinfo: cmd u32, then driver[32] (what `ethtool -i` prints as "driver"), ... 196 bytes. */
const DRVINFO_SIZE = 196;

/** The driver of an interface of this network namespace ("veth", "mlx5_core", "802.1Q VLAN Support"). */
export function linkDriver(name: string): string {
  return withIoctlSocket(name, (fd) => {
    const d = new NativeBuffer(DRVINFO_SIZE);
    try {
      d.view.setUint32(0, ETHTOOL_GDRVINFO, true);
      ethtool(fd, name, d, 'read the driver of');
      return Buffer.from(d.bytes.subarray(4, 36)).toString('latin1').replace(/\0.*$/s, '');
    } finally {
      d.free();
    }
  });
}

/** Offload features of an interface of this network namespace, by the kernel's names. */
export function linkFeatures(name: string): Map<string, LinkFeature> {
  return withIoctlSocket(name, (fd) => readFeatures(fd, name, featureNames(fd, name)));
}

/** Turns features on / off (e.g. { 'tx-vlan-hw-insert': false }); throws unless all took effect. */
export function setLinkFeatures(name: string, want: Record<string, boolean>): void {
  withIoctlSocket(name, (fd) => {
    const names = featureNames(fd, name);
    const blocks = Math.ceil(names.length / 32);
    const sf = new NativeBuffer(8 + blocks * 8);
    try {
      sf.view.setUint32(0, ETHTOOL_SFEATURES, true);
      sf.view.setUint32(4, blocks, true);
      for (const [f, on] of Object.entries(want)) {
        const i = names.indexOf(f);
        if (i < 0) throw InputError.at('set offload features of', `interface ${name}`, `no feature "${f}"`);
        const b = 8 + (i >> 5) * 8;
        const bit = 1 << (i & 31);
        sf.view.setUint32(b, (sf.view.getUint32(b, true) | bit) >>> 0, true);
        if (on) sf.view.setUint32(b + 4, (sf.view.getUint32(b + 4, true) | bit) >>> 0, true);
      }
      ethtool(fd, name, sf, 'set offload features of');
    } finally {
      sf.free();
    }
    const now = readFeatures(fd, name, names);
    const off = Object.entries(want).filter(([f, on]) => now.get(f)?.active !== on).map(([f]) => f);
    if (off.length) throw new DriverRefusedError('set offload features of', `interface ${name}`, `the driver kept ${off.join(', ')} as they were`);
  });
}
