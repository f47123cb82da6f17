// Shared by the control, stats, trace and crash tests: a real loaded balancer (no attach) wrapped
// as a BalancerHandle, small packet builders, and snapshots of kernel maps to prove "nothing changed".
import { createHash } from 'node:crypto';
import { loadBalancer, type LoadedBalancer } from '../../src/dataplane/kernel/loader.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { bundledObject, requireObject } from '../../src/dataplane/kernel/paths.js';
import { ArrayRangeReader, type BpfMap } from '../../src/dataplane/kernel/maps.js';
import { u32Key } from '../../src/dataplane/abi.js';

export function balancerObject(): string {
  return requireObject(bundledObject('balancer'));
}

/** Loads the bundled balancer (nothing attached) with small LRUs on every CPU. */
export function loadTestBalancer(lruSize = 4096): LoadedBalancer {
  return loadBalancer(balancerObject(), { lruSize });
}

/** A BalancerHandle over a loaded (unattached) balancer, as lifecycle.ts would hand it over. */
export function handleFrom(lb: LoadedBalancer, o: { intf?: string; readOnly?: boolean; readOnlyReason?: string } = {}): BalancerHandle {
  return {
    intf: o.intf ?? 'test0',
    ifindex: 0,
    mode: 'unknown',
    progFd: lb.progFd,
    progId: 0,
    progTag: '',
    progName: lb.program.name,
    maps: lb.maps,
    sizes: lb.sizes,
    vipFlagsSupported: lb.vipFlagsSupported,
    owner: 'katran-tui',
    readOnly: o.readOnly ?? false,
    readOnlyReason: o.readOnlyReason,
    objectPath: lb.objectPath,
    forwardingCpus: lb.forwardingCpus,
    healthcheck: null,
    close() { /* the test closes the LoadedBalancer */ },
  };
}

// ---------------------------------------------------------------------------------------------
// Packets

function csum16(b: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const ETH_DST = Buffer.from('020000000001', 'hex');
const ETH_SRC = Buffer.from('020000000002', 'hex');

function ipv4Bytes(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/** An Ethernet + IPv4 + UDP/TCP frame. TCP: flags (default ACK; 0x02 SYN). */
export function v4Frame(o: { src: string; dst: string; sport: number; dport: number; proto: 'udp' | 'tcp'; tcpFlags?: number; payload?: number }): Buffer {
  const payload = Buffer.alloc(o.payload ?? 16, 0xab);
  const l4 = o.proto === 'udp' ? Buffer.alloc(8) : Buffer.alloc(20);
  l4.writeUInt16BE(o.sport, 0);
  l4.writeUInt16BE(o.dport, 2);
  if (o.proto === 'udp') {
    l4.writeUInt16BE(8 + payload.length, 4);
  } else {
    l4.writeUInt32BE(1, 4);
    l4[12] = 5 << 4;
    l4[13] = o.tcpFlags ?? 0x10;
    l4.writeUInt16BE(65535, 14);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4.length + payload.length, 2);
  ip[8] = 64;
  ip[9] = o.proto === 'udp' ? 17 : 6;
  ipv4Bytes(o.src).copy(ip, 12);
  ipv4Bytes(o.dst).copy(ip, 16);
  ip.writeUInt16BE(csum16(ip), 10);
  return Buffer.concat([ETH_DST, ETH_SRC, Buffer.from([0x08, 0x00]), ip, l4, payload]);
}

/** Outer destination of an IPIP-encapsulated frame (null when not IPIP). */
export function ipipOuterDst(frame: Buffer): string | null {
  if (frame.length < 34 || frame.readUInt16BE(12) !== 0x0800 || frame[23] !== 4) return null;
  return Array.from(frame.subarray(30, 34)).join('.');
}

// ---------------------------------------------------------------------------------------------
// Snapshots

function hashArray(map: BpfMap, start: number, count: number): string {
  const r = new ArrayRangeReader(map, count);
  const got = r.read(start, count);
  return createHash('sha256').update(r.keys.subarray(0, got * 4)).update(r.values.subarray(0, got * map.valueBufferSize)).digest('hex');
}

function hashHash(map: BpfMap): string {
  const rows = map.keys().map((k) => {
    const v = map.newValueBuffer();
    map.lookup(k, v);
    return `${k.toString('hex')}=${v.toString('hex')}`;
  }).sort();
  return rows.join(',');
}

/** A comparable picture of every control-plane map (ring slices of `vipNums` only). */
export function snapshot(lb: { maps: LoadedBalancer['maps']; sizes: LoadedBalancer['sizes'] }, vipNums: number[] = [0, 1, 2, 3]): Record<string, string> {
  const m = lb.maps;
  const out: Record<string, string> = {
    vip_map: hashHash(m.vips),
    reals: hashArray(m.reals, 0, m.reals.maxEntries),
    reals_stats: hashArray(m.realsStats, 0, m.realsStats.maxEntries),
    stats: hashArray(m.stats, 0, m.stats.maxEntries),
  };
  const ctl = m.ctl.newValueBuffer();
  m.ctl.lookup(u32Key(0), ctl);
  out.ctl = ctl.toString('hex');
  for (const n of vipNums) out[`ring${n}`] = hashArray(m.rings, n * lb.sizes.ringSize, lb.sizes.ringSize);
  return out;
}
