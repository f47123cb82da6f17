// Loading a balancer object (ours or upstream Katran's) into the kernel: the inner-map templates of
// lru_mapping and vip_to_down_reals_map and the size of server_id_map before load, one LRU per
// forwarding CPU after, and typed handles for every map with every size read from the object itself
// (docs/abi.md: never hard-code them).
import { existsSync } from 'node:fs';
import { DEFAULTS, DOWN_REALS_INNER, MAP, OWN_VIP_FLAGS, SIZES, UPSTREAM_DEFAULT_VIP_FLAGS, kernelMapName, u32Key } from '../abi.js';
import {
  BPF_F_NO_PREALLOC, BPF_MAP_TYPE, BPF_PROG_TYPE, BpfError, BpfObject, closeFd, mapCreate, numPossibleCpus, type ProgramDef,
} from './libbpf.js';
import { BpfMap } from './maps.js';
import { InputError, MapShapeError, NotABalancerError, ObjectMissingError } from '../errors.js';

/** The maps the control plane and the sampler use; optional ones are features an object may lack. */
export interface BalancerMaps {
  vips: BpfMap;
  reals: BpfMap;
  rings: BpfMap;
  stats: BpfMap;
  realsStats: BpfMap;
  ctl: BpfMap;
  lruMapping?: BpfMap;
  fallbackLru?: BpfMap;
  lruMissStats?: BpfMap;
  vipMissStats?: BpfMap;
  /** QUIC connection-id routing and down reals (Katran's default build; absent from older objects). */
  serverIds?: BpfMap;
  quicStats?: BpfMap;
  serverIdStats?: BpfMap;
  downReals?: BpfMap;
  /** Every map of the program by name (including the above). */
  all: Map<string, BpfMap>;
}

/** Sizes of this object, read from its maps. */
export interface BalancerSizes {
  maxVips: number;
  maxReals: number;
  ringSize: number;
  chRingsSize: number;
  statsSize: number;
  maxCpus: number;
}

export interface LoadOptions {
  /** Total LRU entries across forwarding CPUs (Katran's -lru_size). Default: DEFAULT_LRU_TOTAL. */
  lruSize?: number;
  /** CPUs that get an LRU of their own (Katran's -forwarding_cores). Default: every possible CPU. */
  forwardingCpus?: number[];
  /** Maps to reuse instead of creating (pinned maps of a running balancer): name -> fd. */
  reuse?: Map<string, number>;
  /** Skip creating per-CPU LRUs (the reused lru_mapping already holds them). */
  keepLruMapping?: boolean;
  /**
   * server_id_map entries (QUIC server ids 0..N-1; ids >= N fall back to hashing). Default: the
   * object's own, Katran's 0xFFFFFE (about 128 MiB of kernel memory). Ignored when the map is reused.
   */
  quicServerIds?: number;
}

/** Default LRU entries per forwarding CPU when no total is given. Katran's default total is 8M. */
export const DEFAULT_LRU_PER_CPU = 100_000;

export interface LoadedBalancer {
  object: BpfObject;
  objectPath: string;
  program: ProgramDef;
  progFd: number;
  maps: BalancerMaps;
  sizes: BalancerSizes;
  /** Mask of VIP flags the object implements (kt_vip_flags marker, else Katran's default build). */
  vipFlagsSupported: number;
  /** Whether the object is katran-tui's own (it carries the kt_vip_flags marker). */
  ownObject: boolean;
  /** fds of the per-CPU LRU maps we created (closed on close(); the kernel keeps them via lru_mapping). */
  lruFds: number[];
  forwardingCpus: number[];
  close(): void;
}

const REQUIRED = [MAP.vips, MAP.reals, MAP.rings, MAP.stats, MAP.ctl] as const;

/** Derives the sizes the way docs/abi.md says userspace can learn them. */
export function sizesFrom(get: (name: string) => { maxEntries: number } | undefined): BalancerSizes {
  const vips = get(MAP.vips)!.maxEntries;
  const rings = get(MAP.rings)!.maxEntries;
  return {
    maxVips: vips,
    maxReals: get(MAP.reals)!.maxEntries,
    ringSize: Math.floor(rings / vips),
    chRingsSize: rings,
    statsSize: get(MAP.stats)!.maxEntries,
    maxCpus: get(MAP.lruMapping)?.maxEntries ?? DEFAULTS.maxSupportedCpus,
  };
}

/** Wraps named fds as BalancerMaps; throws a clear error for a map the control plane cannot do without. */
export function balancerMaps(all: Map<string, BpfMap>, what: string): BalancerMaps {
  for (const name of REQUIRED) {
    if (!all.has(name)) throw new NotABalancerError('open', what, `not a Katran-ABI balancer: it has no map ${name}`);
  }
  const rs = all.get(MAP.realsStats);
  if (!rs) throw new NotABalancerError('open', what, `not a Katran-ABI balancer: it has no map ${MAP.realsStats}`);
  return {
    vips: all.get(MAP.vips)!,
    reals: all.get(MAP.reals)!,
    rings: all.get(MAP.rings)!,
    stats: all.get(MAP.stats)!,
    realsStats: rs,
    ctl: all.get(MAP.ctl)!,
    lruMapping: all.get(MAP.lruMapping),
    fallbackLru: all.get(MAP.fallbackLru),
    lruMissStats: all.get(MAP.lruMissStats),
    vipMissStats: all.get(MAP.vipMissStats),
    serverIds: all.get(MAP.serverIds),
    quicStats: all.get(MAP.quicStats),
    serverIdStats: all.get(MAP.serverIdStats),
    // A program another process attached is opened by kernel names, which keep 15 characters.
    downReals: all.get(MAP.downReals) ?? all.get(kernelMapName(MAP.downReals)),
    all,
  };
}

/**
 * Opens and loads a balancer object. The verifier log comes with a rejection (VerifierError.log).
 * Does not attach anything.
 */
export function loadBalancer(objectPath: string, o: LoadOptions = {}): LoadedBalancer {
  if (!existsSync(objectPath)) throw new ObjectMissingError('open BPF object', objectPath, `open BPF object ${objectPath}: file not found`);
  const object = BpfObject.open(objectPath);
  const lruFds: number[] = [];
  const templateFds: number[] = [];
  try {
    const defs = new Map(object.maps().map((m) => [m.name, m]));
    for (const name of REQUIRED) {
      if (!defs.has(name)) throw new NotABalancerError('open', objectPath, `not a Katran-ABI balancer: it has no map ${name}`);
    }
    const xdp = object.programs().filter((p) => p.type === BPF_PROG_TYPE.XDP);
    // Upstream objects carry more than one program (e.g. xdp_root); the balancer is balancer_ingress.
    const program = xdp.find((p) => p.name === 'balancer_ingress') ?? xdp[0];
    if (!program) throw new NotABalancerError('open', objectPath, 'no XDP program in the object');
    for (const p of object.programs()) if (p.name !== program.name) p.setAutoload(false);

    const marker = defs.get(MAP.vipFlagsMarker);
    const vipFlagsSupported = marker ? marker.maxEntries : UPSTREAM_DEFAULT_VIP_FLAGS;

    for (const [name, fd] of o.reuse ?? []) {
      try {
        defs.get(name)?.reuseFd(fd);
      } catch (e) {
        if (e instanceof BpfError) throw new MapShapeError(e.op, e.object, e.message);
        throw e;
      }
    }

    const serverIds = defs.get(MAP.serverIds);
    if (serverIds && o.quicServerIds !== undefined && !o.reuse?.has(MAP.serverIds)) {
      if (!Number.isInteger(o.quicServerIds) || o.quicServerIds < 1 || o.quicServerIds > DEFAULTS.quicServerIds) {
        throw InputError.at('configure', 'QUIC server ids', `server_id_map size ${o.quicServerIds} must be a whole number from 1 to ${DEFAULTS.quicServerIds}`);
      }
      serverIds.setMaxEntries(o.quicServerIds);
    }

    // Map-in-maps need an inner-map template before load (upstream's object defines none):
    // lru_mapping an LRU_HASH of Katran's shape, vip_to_down_reals_map a HASH real index -> u8 of
    // MAX_REALS entries, NO_PREALLOC (the inner maps userspace stores later must match it).
    const templates: [string, () => number][] = [
      [MAP.lruMapping, () => mapCreate(BPF_MAP_TYPE.LRU_HASH, 'lru_template', SIZES.flowKey, SIZES.realPosLru, DEFAULTS.defaultLruSize)],
      [MAP.downReals, () => mapCreate(BPF_MAP_TYPE.HASH, 'down_template', DOWN_REALS_INNER.keySize, DOWN_REALS_INNER.valueSize, defs.get(MAP.reals)!.maxEntries, { flags: BPF_F_NO_PREALLOC })],
    ];
    for (const [name, create] of templates) {
      const def = defs.get(name);
      if (!def || o.reuse?.has(name)) continue;
      const fd = create();
      templateFds.push(fd);
      def.setInnerMapFd(fd);
    }
    object.load();
    for (const fd of templateFds.splice(0)) closeFd(fd);

    const all = new Map<string, BpfMap>();
    for (const [name, def] of defs) {
      if (name.startsWith('.') || name.includes('.rodata') || name.includes('.bss') || name.includes('.data')) continue;
      all.set(name, new BpfMap(name, def.fd, {
        type: def.type, keySize: def.keySize, valueSize: def.valueSize, maxEntries: def.maxEntries, mapFlags: def.mapFlags,
      }, false, false));
    }
    const maps = balancerMaps(all, objectPath);
    const sizes = sizesFrom((n) => all.get(n));
    const cpus = numPossibleCpus();
    const forwardingCpus = o.forwardingCpus ?? Array.from({ length: Math.min(cpus, sizes.maxCpus) }, (_, i) => i);
    for (const c of forwardingCpus) {
      if (!Number.isInteger(c) || c < 0 || c >= Math.min(cpus, sizes.maxCpus)) {
        throw InputError.at('configure', 'forwarding cores', `CPU ${c} does not exist: this box has CPUs 0-${cpus - 1}`);
      }
    }
    if (maps.lruMapping && !o.keepLruMapping) {
      const total = o.lruSize ?? DEFAULT_LRU_PER_CPU * forwardingCpus.length;
      if (!Number.isInteger(total) || total < forwardingCpus.length) {
        throw InputError.at('configure', 'LRU size', `LRU size ${total} must be a whole number >= the number of forwarding CPUs (${forwardingCpus.length})`);
      }
      const perCpu = Math.max(1, Math.floor(total / forwardingCpus.length));
      for (const cpu of forwardingCpus) {
        const fd = mapCreate(BPF_MAP_TYPE.LRU_HASH, `lru_cpu${cpu}`, SIZES.flowKey, SIZES.realPosLru, perCpu);
        lruFds.push(fd);
        const v = Buffer.alloc(4);
        v.writeUInt32LE(fd, 0);
        maps.lruMapping.update(u32Key(cpu), v);
      }
    }
    const progFd = program.fd;
    return {
      object, objectPath, program, progFd, maps, sizes, vipFlagsSupported, ownObject: !!marker,
      lruFds, forwardingCpus,
      close() {
        for (const fd of lruFds.splice(0)) closeFd(fd);
        for (const m of all.values()) m.close();
        object.close();
      },
    };
  } catch (e) {
    for (const fd of templateFds) closeFd(fd);
    for (const fd of lruFds) closeFd(fd);
    object.close();
    throw e;
  }
}

export { OWN_VIP_FLAGS };
