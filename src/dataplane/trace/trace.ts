// "Where does this flow go" for a 5-tuple: computed in userspace (the VIP lookup, the LRU entries
// of the live per-CPU LRUs, Katran's flow hash and the ring slot read from the kernel), then
// confirmed by bpf_prog_test_run on a CLONE of the program: the same object loaded again with the
// live vip_map, reals, ch_rings and ctl_array reused and every other map (LRUs, stats, reals_stats,
// miss stats) its own. So a trace changes no live flow, LRU entry or counter. When the live LRU
// holds the flow, the entry is copied into the clone's own LRUs so that the kernel follows the same
// path.
import { closeFlowTables, openFlowTables } from '../lru/tables.js';
import {
  CTL_MAC_INDEX, DEFAULTS, IPPROTO, MAP, SIZES, VIP_FLAGS, flowKey, formatVip, isZeroMac, parseIp, parsePort, parseProto,
  quicHeader, quicPayload, realDefinition, realPosLru, u32Key, vipDefinition, vipFlagsToNames, vipMeta, type VipKey,
} from '../abi.js';
import { flowRingPosition } from './flowhash.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { TestRunner, XDP_ACTION, mapFdById } from '../kernel/libbpf.js';
import { InputError, ObjectMissingError } from '../errors.js';
import { loadBalancer, type LoadedBalancer } from '../kernel/loader.js';
import { BpfMap } from '../kernel/maps.js';
import { ReasonsReader } from '../stats/reasons.js';
import type { TraceRequest, TraceResult } from '../types.js';

const ACTIONS: Record<number, TraceResult['action']> = {
  [XDP_ACTION.ABORTED]: 'ABORTED', [XDP_ACTION.DROP]: 'DROP', [XDP_ACTION.PASS]: 'PASS', [XDP_ACTION.TX]: 'TX',
};

// ---------------------------------------------------------------------------------------------
// A frame for the 5-tuple

function csum(parts: Buffer[]): number {
  let s = 0;
  for (const b of parts) {
    for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
    if (b.length & 1) s += b[b.length - 1] << 8;
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4/IPv6 + TCP (SYN or ACK) / UDP frame from `src:sport` to `dst:dport`. */
export function traceFrame(src: string, sport: number, dst: string, dport: number, proto: 'tcp' | 'udp', syn: boolean, quic?: Buffer): Buffer {
  const s = parseIp(src, 'client address');
  const d = parseIp(dst, 'VIP address');
  // Zeros: for a QUIC VIP a short header whose CID (version 0) names no server id, so the clone
  // hashes the flow as the userspace computation does.
  const payload = quic ?? Buffer.alloc(16, 0);
  const l4 = Buffer.alloc(proto === 'tcp' ? 20 : 8);
  l4.writeUInt16BE(sport, 0);
  l4.writeUInt16BE(dport, 2);
  if (proto === 'tcp') {
    l4.writeUInt32BE(1, 4);
    l4[12] = 5 << 4;
    l4[13] = syn ? 0x02 : 0x10;
    l4.writeUInt16BE(65535, 14);
  } else {
    l4.writeUInt16BE(8 + payload.length, 4);
  }
  const len = l4.length + payload.length;
  const pseudo = Buffer.alloc(s.family === 4 ? 12 : 40);
  if (s.family === 4) {
    s.bytes.copy(pseudo, 0); d.bytes.copy(pseudo, 4); pseudo[9] = IPPROTO[proto]; pseudo.writeUInt16BE(len, 10);
  } else {
    s.bytes.copy(pseudo, 0); d.bytes.copy(pseudo, 16); pseudo.writeUInt32BE(len, 32); pseudo[39] = IPPROTO[proto];
  }
  l4.writeUInt16BE(csum([pseudo, l4, payload]) || (proto === 'udp' ? 0xffff : 0), proto === 'tcp' ? 16 : 6);
  let l3: Buffer;
  if (s.family === 4) {
    l3 = Buffer.alloc(20);
    l3[0] = 0x45;
    l3.writeUInt16BE(20 + len, 2);
    l3[8] = 64;
    l3[9] = IPPROTO[proto];
    s.bytes.copy(l3, 12);
    d.bytes.copy(l3, 16);
    l3.writeUInt16BE(csum([l3]), 10);
  } else {
    l3 = Buffer.alloc(40);
    l3[0] = 0x60;
    l3.writeUInt16BE(len, 4);
    l3[6] = IPPROTO[proto];
    l3[7] = 64;
    s.bytes.copy(l3, 8);
    d.bytes.copy(l3, 24);
  }
  const eth = Buffer.from(`0200000000010200000000fe${s.family === 4 ? '0800' : '86dd'}`, 'hex');
  return Buffer.concat([eth, l3, l4, payload]);
}

/** The real a balanced frame was encapsulated to (outer IPv4 or IPv6 destination), or null. */
export function encapDestination(frame: Buffer): string | null {
  if (frame.length < 34) return null;
  const type = frame.readUInt16BE(12);
  if (type === 0x0800 && frame[23] === 4) return parseIpBytes(frame.subarray(30, 34));
  if (type === 0x86dd && frame.length >= 54 && (frame[20] === 41 || frame[20] === 4)) return parseIpBytes(frame.subarray(38, 54));
  return null;
}

function parseIpBytes(b: Uint8Array): string {
  return realDefinition.decode(Buffer.concat([Buffer.from(b), Buffer.alloc(16 - b.length), Buffer.from([b.length === 16 ? 1 : 0, 0, 0, 0])]))?.address ?? '0.0.0.0';
}

// ---------------------------------------------------------------------------------------------

interface LruHit {
  where: string;
  pos: number;
  atime: bigint;
  value: Buffer;
}

export class Tracer {
  private clone: LoadedBalancer | null = null;
  private runner: TestRunner | null = null;
  /** The clone's own kt_reasons (null: the program has none). */
  private reasons: ReasonsReader | null = null;

  constructor(private readonly handle: BalancerHandle) {}

  /** Loads (once) the clone that shares vip_map, reals, ch_rings, ctl_array, server_id_map and vip_to_down_reals_map with the live program. */
  private ensureClone(): LoadedBalancer {
    if (this.clone) return this.clone;
    const path = this.handle.objectPath;
    if (!path) throw new ObjectMissingError('clone', 'the balancer program', 'clone the balancer program: the object file of this balancer is not known');
    const m = this.handle.maps;
    const reuse = new Map<string, number>([[MAP.vips, m.vips.fd], [MAP.reals, m.reals.fd], [MAP.rings, m.rings.fd], [MAP.ctl, m.ctl.fd]]);
    // The QUIC server ids and the down reals decide too (and server_id_map is 128 MiB: shared, not copied).
    if (m.serverIds) reuse.set(MAP.serverIds, m.serverIds.fd);
    if (m.downReals) reuse.set(MAP.downReals, m.downReals.fd);
    const cpus = this.handle.forwardingCpus.length ? this.handle.forwardingCpus : undefined;
    this.clone = loadBalancer(path, { reuse, forwardingCpus: cpus, lruSize: Math.max(16, (cpus?.length ?? 1) * 16) });
    this.runner = new TestRunner(this.clone.progFd, 2048, 'the trace clone of the balancer');
    const rm = this.clone.maps.all.get(MAP.reasons);
    this.reasons = rm ? new ReasonsReader(rm) : null;
    return this.clone;
  }

  private cloneLrus(c: LoadedBalancer): BpfMap[] {
    const out: BpfMap[] = [];
    for (const fd of c.lruFds) out.push(new BpfMap('clone lru', fd, { type: 9, keySize: SIZES.flowKey, valueSize: SIZES.realPosLru, maxEntries: 16, mapFlags: 0 }, false, false));
    if (c.maps.fallbackLru) out.push(c.maps.fallbackLru);
    return out;
  }

  trace(req: TraceRequest): TraceResult {
    const h = this.handle;
    const vipKey: VipKey = { address: parseIp(req.vip.address, 'VIP address').text, port: parsePort(req.vip.port, 'VIP port'), proto: parseProto(req.vip.proto) };
    const src = parseIp(req.src, 'client address');
    const sport = parsePort(req.sport, 'client port');
    if ((src.family === 6) !== vipKey.address.includes(':')) throw InputError.at('trace', 'flow', 'the client and the VIP must be of the same address family');
    const syn = vipKey.proto === 'tcp' && (req.syn ?? false);
    const steps: string[] = [];
    const id = formatVip(vipKey);
    let result: Omit<TraceResult, 'confirmedByKernel'> = { vip: id, real: null, action: 'PASS', steps };
    let quic: TraceResult['quic'];

    // 1. VIP lookup: {dst, dport, proto}, then {dst, 0, proto}
    const meta = Buffer.alloc(h.maps.vips.valueBufferSize);
    let matched: VipKey | null = null;
    if (h.maps.vips.lookup(vipDefinition.encode(vipKey), meta)) matched = vipKey;
    else if (h.maps.vips.lookup(vipDefinition.encode({ ...vipKey, port: 0 }), meta)) matched = { ...vipKey, port: 0 };
    let ringSlot: number | undefined;
    if (!matched) {
      steps.push(`no VIP ${id} (nor ${formatVip({ ...vipKey, port: 0 })}) in vip_map: the packet passes to the host's stack`);
      result = { ...result, reason: 'no_vip' };
    } else {
      const { flags, vipNum } = vipMeta.decode(meta);
      steps.push(`VIP ${formatVip(matched)} in vip_map: vip_num ${vipNum}, flags ${vipFlagsToNames(flags).join(',') || 'none'}`);
      // The LRU key: port-0 VIPs forget the dport (unless a port hash flag), NO_SPORT the sport.
      const dport = matched.port === 0 && !(flags & (VIP_FLAGS['dport-hash'] | VIP_FLAGS['hash-src-dst-port'])) ? 0 : vipKey.port;
      const lsport = flags & VIP_FLAGS['no-sport'] ? 0 : sport;
      const key = flowKey.encode({ src: src.text, dst: vipKey.address, sport: lsport, dport, proto: vipKey.proto });
      let realIndex: number | null = null;
      let hit: LruHit | null = null;
      let idRouted = false;
      if (vipKey.proto === 'udp' && (flags & VIP_FLAGS.quic)) {
        const q = this.quicStep(req.quic ? quicPayload(req.quic) : Buffer.alloc(16, 0), steps);
        quic = q.info;
        if (q.index !== null) { realIndex = q.index; idRouted = true; }
      }
      if (idRouted) { /* server_id_map decided: no LRU lookup, ring or flow-migration check */ }
      else if (syn) steps.push('LRU: skipped (TCP SYN: a new flow always takes the ring)');
      else if (flags & VIP_FLAGS['no-lru']) steps.push('LRU: skipped (the VIP has no-lru)');
      else {
        hit = this.lookupLru(key, vipKey.proto === 'udp', steps);
        if (hit) realIndex = hit.pos;
      }
      // UDP flow migration: an LRU hit on a real listed as down for the VIP is re-hashed.
      if (!idRouted && vipKey.proto === 'udp' && (flags & VIP_FLAGS['udp-flow-migration']) && this.isDown(matched, realIndex ?? 0)) {
        steps.push(`real index ${realIndex ?? 0} is down for ${formatVip(matched)} (vip_to_down_reals_map): the LRU hit is dropped and the ring decides`);
        realIndex = null;
      }
      if (realIndex === null) {
        const { hash, pos } = flowRingPosition({ src: src.text, sport, dport: vipKey.port, proto: vipKey.proto }, flags, matched.port, h.sizes.ringSize, h.sizes.chRingsSize, h.sizes.maxVips);
        ringSlot = pos;
        const slot = Buffer.alloc(h.maps.rings.valueBufferSize);
        h.maps.rings.lookup(u32Key(vipNum * h.sizes.ringSize + pos), slot);
        realIndex = slot.readUInt32LE(0);
        steps.push(`hash 0x${hash.toString(16).padStart(8, '0')}: ring position ${pos} of ${h.sizes.ringSize} holds real index ${realIndex}`);
      }
      if (idRouted && realIndex !== null && realIndex >= h.maps.reals.maxEntries) {
        steps.push(`real index ${realIndex} is beyond the reals map (${h.maps.reals.maxEntries}): dropped, counted as cid_unknown_real_dropped`);
        result = { ...result, action: 'DROP', reason: 'quic_unknown_real' };
      } else if (realIndex === 0) {
        steps.push('the slot is empty (the VIP has no real with weight > 0): dropped, counted as a CH drop');
        result = { ...result, action: 'DROP', ringSlot, reason: 'slot_empty' };
      } else {
        const def = Buffer.alloc(h.maps.reals.valueBufferSize);
        const have = h.maps.reals.lookup(u32Key(realIndex), def);
        const real = have ? realDefinition.decode(def) : null;
        if (!real) {
          steps.push(`real index ${realIndex} holds no address: dropped, counted as a CH drop`);
          result = { ...result, action: 'DROP', ringSlot, reason: 'real_missing' };
        } else {
          const mac = Buffer.alloc(h.maps.ctl.valueBufferSize);
          h.maps.ctl.lookup(u32Key(CTL_MAC_INDEX), mac);
          if (isZeroMac(mac) && this.ownObject()) {
            steps.push(`real ${real.address}, but the default MAC is all zero: katran-tui's program drops until one is set`);
            result = { ...result, action: 'DROP', real: null, ringSlot, reason: 'zero_mac' };
          } else {
            // An IPv6 flow to an IPv4 real goes in IPIP too, as Katran does (docs/abi.md).
            steps.push(`encapsulated (${real.flags & 1 ? (src.family === 6 ? 'IP6IP6' : 'IPv4 in IPv6') : (src.family === 6 ? 'IPv6 in IPIP' : 'IPIP')}) to real ${real.address}`);
            result = { ...result, action: 'TX', real: real.address, ringSlot };
          }
        }
      }
      if (hit) (result as { lruHit?: LruHit }).lruHit = hit;
    }

    // 2. The kernel's word, from a clone with its own LRUs and counters
    let confirmed = false;
    let kernelReason: TraceResult['reason'];
    try {
      const c = this.ensureClone();
      const lrus = this.cloneLrus(c);
      const hit = (result as { lruHit?: LruHit }).lruHit;
      const key = hit ? this.lastKey : null;
      if (hit && key) for (const m of lrus) m.update(key, hit.value);
      const frame = traceFrame(src.text, sport, vipKey.address, vipKey.port, vipKey.proto, syn, req.quic ? quicPayload(req.quic) : undefined);
      const counted = this.reasons?.packets();
      const r = this.runner!.run(frame);
      const action = ACTIONS[r.retval] ?? 'ABORTED';
      const real = action === 'TX' ? encapDestination(r.data) : null;
      // The program's own word on why (a DROP / PASS counts one reason in the clone's kt_reasons).
      if (this.reasons && counted) kernelReason = ReasonsReader.moved(counted, this.reasons.packets()) ?? undefined;
      // Leave the clone's LRUs empty for the next trace.
      if (matched) {
        for (const m of lrus) for (const k of m.keys()) m.delete(k);
      }
      confirmed = action === result.action && real === result.real && (!this.reasons || kernelReason === result.reason);
      steps.push(`kernel (prog_test_run on a clone with its own LRU and counters): ${action}${real ? ` to ${real}` : ''}${kernelReason ? ` (reason ${kernelReason})` : ''}${confirmed ? ' — agrees' : ' — DIFFERS from the userspace computation'}`);
    } catch (e) {
      steps.push(`kernel confirmation unavailable: ${(e as Error).message}`);
    }
    const out: TraceResult = { vip: result.vip, real: result.real, action: result.action, steps, confirmedByKernel: confirmed };
    if (result.ringSlot !== undefined) out.ringSlot = result.ringSlot;
    if (quic) out.quic = quic;
    const reason = this.reasons ? kernelReason : result.reason;
    if (reason) out.reason = reason;
    return out;
  }

  /** QUIC routing by the packet's server id (docs/abi.md): the real index server_id_map gives, or null (fallback). */
  private quicStep(payload: Buffer, steps: string[]): { index: number | null; info: NonNullable<TraceResult['quic']> } {
    const hdr = quicHeader(payload);
    if (hdr.kind === 'initial') {
      steps.push('QUIC: a long-header Initial / 0-RTT packet carries no server id yet: LRU and ring decide (cid_initial)');
      return { index: null, info: { serverId: null, routed: false, why: 'initial' } };
    }
    if (hdr.kind === 'none') {
      steps.push(`QUIC: no server id (${hdr.why}): LRU and ring decide`);
      return { index: null, info: { serverId: null, routed: false, why: hdr.why } };
    }
    const m = this.handle.maps.serverIds;
    const v = Buffer.alloc(4);
    const size = m?.maxEntries ?? 0;
    const index = m && hdr.id < size && m.lookup(u32Key(hdr.id), v) ? v.readUInt32LE(0) : 0;
    if (!index) {
      const why = hdr.id >= size ? `beyond server_id_map's ${size} entries` : 'not mapped (server_id_map holds 0)';
      steps.push(`QUIC: CID v${hdr.cidVersion} server id ${hdr.id} is ${why}: counted as an invalid server id; LRU and ring decide`);
      return { index: null, info: { serverId: hdr.id, routed: false, why } };
    }
    steps.push(`QUIC: CID v${hdr.cidVersion} server id ${hdr.id} -> real index ${index} (server_id_map): routed by id, no LRU lookup or ring (the flow's LRU entry is made to agree)`);
    return { index, info: { serverId: hdr.id, routed: true, why: 'routed by id' } };
  }

  private lastKey: Buffer | null = null;

  private lookupLru(key: Buffer, udp: boolean, steps: string[]): LruHit | null {
    this.lastKey = key;
    const v = Buffer.alloc(SIZES.realPosLru);
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC: the base of the kernel's ktime
    const lrus = openFlowTables(this.handle);
    let hit: LruHit | null = null;
    try {
      for (const { where, map } of lrus) {
        if (!map.lookup(key, v)) continue;
        const e = realPosLru.decode(v);
        if (udp && e.atime > 0n && now - e.atime > DEFAULTS.lruUdpTimeoutNs) {
          steps.push(`LRU: ${where} holds the flow (real index ${e.pos}) but it is older than 30 s: a miss for UDP`);
          continue;
        }
        steps.push(`LRU: ${where} holds the flow -> real index ${e.pos}${lrus.length > 2 ? ' (the CPU a packet lands on decides which LRU it sees)' : ''}`);
        if (!hit) hit = { where, pos: e.pos, atime: e.atime, value: Buffer.from(v) };
      }
      if (!hit) steps.push('LRU: miss (no live LRU holds the flow)');
    } finally {
      closeFlowTables(lrus);
    }
    return hit;
  }

  /** Whether vip_to_down_reals_map lists `realIndex` for the VIP as matched (a lookup returns the inner map's id). */
  private isDown(vip: VipKey, realIndex: number): boolean {
    const outer = this.handle.maps.downReals;
    if (!outer) return false;
    const v = Buffer.alloc(outer.valueBufferSize);
    if (!outer.lookup(vipDefinition.encode(vip), v)) return false;
    let inner: BpfMap | null = null;
    try {
      inner = BpfMap.fromFd('down reals', mapFdById(v.readUInt32LE(0), true), { readOnly: true });
      return inner.lookup(u32Key(realIndex), Buffer.alloc(inner.valueBufferSize));
    } catch {
      return false; // the inner map went away meanwhile
    } finally {
      inner?.close();
    }
  }

  private ownObject(): boolean {
    try {
      return this.ensureClone().ownObject;
    } catch {
      return true;
    }
  }

  close(): void {
    this.runner?.close();
    this.runner = null;
    this.reasons = null;
    this.clone?.close();
    this.clone = null;
  }
}
