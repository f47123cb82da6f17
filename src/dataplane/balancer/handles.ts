// Building a BalancerHandle from what a verb opened (a program fd, its maps), and opening the maps
// a pin directory holds.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MAP, UPSTREAM_DEFAULT_VIP_FLAGS, u32Key } from '../abi.js';
import type { BalancerHandle, HealthcheckHandle } from '../kernel/handle.js';
import { closeFd, numPossibleCpus, objGet, type ProgInfo } from '../kernel/libbpf.js';
import { balancerMaps, sizesFrom } from '../kernel/loader.js';
import { BpfMap } from '../kernel/maps.js';
import { HC_MAP_PREFIX, HC_PROG_PIN, META_PIN, PROG_PIN, readMeta, type PinMeta } from '../kernel/pins.js';
import type { XdpMode } from '../types.js';

/** Upgrade pins the new program here first, then renames it over PROG_PIN (bpffs refuses '.' in names). */
export const PROG_PIN_NEW = `${PROG_PIN}_new`;
export const isBalancerMapPin = (name: string): boolean => name !== PROG_PIN && name !== PROG_PIN_NEW && name !== META_PIN && !name.startsWith(HC_MAP_PREFIX);

/** boot-time ns (bpf_prog_info.load_time) -> ms since the epoch. */
function bootNsToEpochMs(ns: bigint): number | undefined {
  if (!ns) return undefined;
  try {
    const up = parseFloat(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Math.round(Date.now() - up * 1000 + Number(ns / 1_000_000n));
  } catch {
    return undefined;
  }
}

function vipFlagsOf(all: Map<string, BpfMap>): number {
  return all.get(MAP.vipFlagsMarker)?.maxEntries ?? UPSTREAM_DEFAULT_VIP_FLAGS;
}

export function forwardingCpusFromLruMapping(m: BpfMap | undefined): number[] {
  if (!m) return [];
  const out: number[] = [];
  const v = Buffer.alloc(m.valueBufferSize);
  const n = Math.min(m.maxEntries, numPossibleCpus());
  for (let c = 0; c < n; c++) {
    if (m.lookup(u32Key(c), v) && v.readUInt32LE(0) !== 0) out.push(c);
  }
  return out;
}

export function handleFrom(p: {
  intf: string; ifindex: number; mode: XdpMode | 'unknown'; progFd: number; info: ProgInfo; all: Map<string, BpfMap>;
  owner: 'katran-tui' | 'observed'; readOnly: boolean; readOnlyReason?: string; pinDir?: string; objectPath?: string;
  attachedAt?: number; forwardingCpus: number[]; healthcheck: HealthcheckHandle | null; onClose: () => void; what: string;
}): BalancerHandle {
  const maps = balancerMaps(p.all, p.what);
  let closed = false;
  return {
    intf: p.intf,
    ifindex: p.ifindex,
    mode: p.mode,
    progFd: p.progFd,
    progId: p.info.id,
    progTag: p.info.tag,
    progName: p.info.name,
    maps,
    sizes: sizesFrom((n) => p.all.get(n)),
    vipFlagsSupported: vipFlagsOf(p.all),
    owner: p.owner,
    readOnly: p.readOnly,
    readOnlyReason: p.readOnlyReason,
    pinDir: p.pinDir,
    pinName: p.pinDir ? basename(p.pinDir) : undefined,
    objectPath: p.objectPath,
    attachedAt: p.attachedAt,
    loadedAt: bootNsToEpochMs(p.info.loadTime),
    forwardingCpus: p.forwardingCpus,
    healthcheck: p.healthcheck,
    close() {
      if (closed) return;
      closed = true;
      for (const m of p.healthcheck?.maps.values() ?? []) m.close();
      p.onClose();
    },
  };
}

/** Names of the pins in `dir` (bpffs holds pins only), sorted. */
export function readdirNames(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Opens the pinned maps in `dir` whose names pass `filter`, as BpfMaps by name. */
export function openPinnedMaps(dir: string, readOnly: boolean, filter: (name: string) => boolean): Map<string, BpfMap> {
  const all = new Map<string, BpfMap>();
  try {
    for (const name of readdirNames(dir)) {
      if (!filter(name)) continue;
      const fd = objGet(join(dir, name), readOnly);
      try {
        all.set(name, BpfMap.fromFd(name, fd, { readOnly, ownsFd: true }));
      } catch (e) {
        closeFd(fd);
        throw e;
      }
    }
    return all;
  } catch (e) {
    for (const m of all.values()) m.close();
    throw e;
  }
}

/** hc_* pins -> maps by their object names (hc_reals_map, hc_pckt_macs, ...). */
export function openHcMaps(dir: string, readOnly: boolean): Map<string, BpfMap> {
  return openPinnedMaps(dir, readOnly, (name) => name.startsWith(HC_MAP_PREFIX) && name !== HC_PROG_PIN);
}

/** kt_meta of `dir`, or null when it is missing or unreadable. */
export function readMetaSafe(dir: string): PinMeta | null {
  try {
    return readMeta(dir);
  } catch {
    return null;
  }
}
