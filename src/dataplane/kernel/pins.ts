// The pin layout of a katran-tui balancer under its pin root (default /sys/fs/bpf/katran-tui):
//
//   <pinRoot>/<intf>/            directory, mode 0700
//     prog                       the XDP program
//     <map name>                 every map of the object, by its full (libbpf) name
//     kt_meta                    ARRAY map of one 1024-byte entry: what bpffs cannot hold as a file
//     hc_prog, hc_<map>          the healthcheck program and its maps, when one is attached
//
// kt_meta layout (little-endian): magic u32 'KTM1' @0, version u32 @4, ifindex u32 @8, mode u32 @12
// (1 native, 2 generic), attachedAt u64 ms @16, hcIfindex u32 @24, hcHandle u32 @28,
// hcPriority u32 @32, forwarding-CPU mask 128 bits @40, intf name char[16] @56, hc intf name
// char[16] @72, object path char[256] @88, hc object path char[256] @344.
import { existsSync, readdirSync, rmSync, statfsSync, statSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  BPF_MAP_TYPE, closeFd, mapCreate, mapLookup, mapUpdate, objGet, progInfo, type ProgInfo,
} from './libbpf.js';
import { u32Key } from '../abi.js';
import { BpffsMissingError, InputError } from '../errors.js';
import { intfNameProblem } from '../rules.js';
import type { XdpMode } from '../types.js';

export const PROG_PIN = 'prog';
export const META_PIN = 'kt_meta';
export const HC_PROG_PIN = 'hc_prog';
export const HC_MAP_PREFIX = 'hc_';
const META_SIZE = 1024;
const META_MAGIC = 0x314d544b; // 'KTM1'
const BPF_FS_MAGIC = 0xcafe4a11;

export interface PinMeta {
  ifindex: number;
  mode: XdpMode | 'unknown';
  /** ms since the epoch */
  attachedAt: number;
  intf: string;
  objectPath: string;
  forwardingCpus: number[];
  hc: { ifindex: number; intf: string; handle: number; priority: number; objectPath: string } | null;
}

export function pinDirFor(pinRoot: string, intf: string): string {
  const badName = intfNameProblem(intf);
  if (badName) {
    throw InputError.at('pin', `interface ${JSON.stringify(intf)}`, `not an interface name: ${badName}`);
  }
  return join(pinRoot, intf);
}

/** Throws a clear error when `path` (or its nearest existing ancestor) is not on bpffs. */
export function requireBpffs(path: string): void {
  let p = path;
  for (let i = 0; i < 64 && !existsSync(p); i++) p = dirname(p);
  let type: number;
  try {
    type = Number(statfsSync(p).type);
  } catch (e) {
    throw new BpffsMissingError('check pin root', path, `cannot stat ${p}: ${(e as Error).message}`);
  }
  if (type !== BPF_FS_MAGIC) {
    throw new BpffsMissingError('check pin root', path, `${p} is not on bpffs: mount it (mount -t bpf bpf /sys/fs/bpf) or choose a pin root under /sys/fs/bpf`);
  }
}

function putStr(b: Buffer, off: number, len: number, s: string): void {
  b.fill(0, off, off + len);
  b.write(s.slice(0, len - 1), off, len - 1, 'utf8');
}
function getStr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? len : end).toString('utf8');
}

export function encodeMeta(m: PinMeta): Buffer {
  const b = Buffer.alloc(META_SIZE);
  b.writeUInt32LE(META_MAGIC, 0);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(m.ifindex >>> 0, 8);
  b.writeUInt32LE(m.mode === 'native' ? 1 : m.mode === 'generic' ? 2 : 0, 12);
  b.writeBigUInt64LE(BigInt(Math.max(0, Math.round(m.attachedAt))), 16);
  b.writeUInt32LE(m.hc?.ifindex ?? 0, 24);
  b.writeUInt32LE(m.hc?.handle ?? 0, 28);
  b.writeUInt32LE(m.hc?.priority ?? 0, 32);
  for (const c of m.forwardingCpus) if (c >= 0 && c < 128) b[40 + (c >> 3)] |= 1 << (c & 7);
  putStr(b, 56, 16, m.intf);
  putStr(b, 72, 16, m.hc?.intf ?? '');
  putStr(b, 88, 256, m.objectPath);
  putStr(b, 344, 256, m.hc?.objectPath ?? '');
  return b;
}

export function decodeMeta(b: Buffer): PinMeta | null {
  if (b.length < META_SIZE || b.readUInt32LE(0) !== META_MAGIC) return null;
  const mode = b.readUInt32LE(12);
  const cpus: number[] = [];
  for (let c = 0; c < 128; c++) if (b[40 + (c >> 3)] & (1 << (c & 7))) cpus.push(c);
  const hcIfindex = b.readUInt32LE(24);
  return {
    ifindex: b.readUInt32LE(8),
    mode: mode === 1 ? 'native' : mode === 2 ? 'generic' : 'unknown',
    attachedAt: Number(b.readBigUInt64LE(16)),
    intf: getStr(b, 56, 16),
    objectPath: getStr(b, 88, 256),
    forwardingCpus: cpus,
    hc: hcIfindex ? {
      ifindex: hcIfindex, intf: getStr(b, 72, 16), handle: b.readUInt32LE(28), priority: b.readUInt32LE(32), objectPath: getStr(b, 344, 256),
    } : null,
  };
}

/** Creates the kt_meta map holding `m`; returns its fd (the caller pins and closes it). */
export function createMeta(m: PinMeta): number {
  const fd = mapCreate(BPF_MAP_TYPE.ARRAY, META_PIN, 4, META_SIZE, 1);
  try {
    mapUpdate(fd, u32Key(0), encodeMeta(m), 0, 'map kt_meta');
    return fd;
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

export function writeMeta(dir: string, m: PinMeta): void {
  const fd = objGet(join(dir, META_PIN));
  try {
    mapUpdate(fd, u32Key(0), encodeMeta(m), 0, 'map kt_meta');
  } finally {
    closeFd(fd);
  }
}

export function readMeta(dir: string): PinMeta | null {
  const path = join(dir, META_PIN);
  if (!existsSync(path)) return null;
  const fd = objGet(path, true);
  try {
    const b = Buffer.alloc(META_SIZE);
    if (!mapLookup(fd, u32Key(0), b, 'map kt_meta')) return null;
    return decodeMeta(b);
  } finally {
    closeFd(fd);
  }
}

/** Info of a pinned program (opened and closed again), or null when there is no such pin. */
export function pinnedProgInfo(path: string): ProgInfo | null {
  if (!existsSync(path)) return null;
  const fd = objGet(path);
  try {
    return progInfo(fd);
  } finally {
    closeFd(fd);
  }
}

/** Every balancer directory under the pin root (those holding a program pin). */
export function pinnedDirs(pinRoot: string): { intf: string; dir: string }[] {
  if (!existsSync(pinRoot)) return [];
  const out: { intf: string; dir: string }[] = [];
  for (const e of readdirSync(pinRoot, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const dir = join(pinRoot, e.name);
    if (existsSync(join(dir, PROG_PIN)) || existsSync(join(dir, META_PIN))) out.push({ intf: e.name, dir });
  }
  return out.sort((a, b) => a.intf.localeCompare(b.intf));
}

/** Ids of every program pinned under the pin root (ours), with their interface. */
export function pinnedProgIds(pinRoot: string): Map<number, string> {
  const ids = new Map<number, string>();
  for (const { intf, dir } of pinnedDirs(pinRoot)) {
    try {
      const i = pinnedProgInfo(join(dir, PROG_PIN));
      if (i) ids.set(i.id, intf);
    } catch {
      // a half-removed pin dir: not a balancer
    }
  }
  return ids;
}

/** Removes every pin in `dir` (files only; bpffs holds no regular files) and the dir itself. */
export function removePinDir(dir: string, only?: (name: string) => boolean): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    if (only && !only(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) continue;
    rmSync(p, { force: true });
  }
  if (!only) {
    try {
      rmdirSync(dir);
    } catch {
      // something else lives there: leave it
    }
  }
}
