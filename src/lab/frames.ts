// Ethernet frames for the lab's crafted traffic (sent by AF_PACKET from the client namespace):
// TCP segments with any flags (ACKs of a flow that never established: no real answers in
// the lab) and UDP datagrams, IPv4 or IPv6, with correct checksums.
import { isIP } from 'node:net';
import { parseIp, parseMac } from '../dataplane/abi.js';

export const TCP_FLAGS = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface FrameSpec {
  srcMac: string;
  dstMac: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp';
  /** TCP flags; default ACK. */
  tcpFlags?: number;
  payload?: Uint8Array;
  /** IPv4 TOS / IPv6 traffic class */
  tos?: number;
  ttl?: number;
}

function csumAdd(sum: number, b: Uint8Array): number {
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (b.length & 1) sum += b[b.length - 1] << 8;
  return sum;
}
function csumFold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Builds one Ethernet frame (no FCS). */
export function buildFrame(s: FrameSpec): Buffer {
  const src = parseIp(s.src, 'source address');
  const dst = parseIp(s.dst, 'destination address');
  if (src.family !== dst.family) throw new Error(`frame: ${s.src} and ${s.dst} are of different families`);
  const payload = Buffer.from(s.payload ?? []);
  const l4len = (s.proto === 'tcp' ? 20 : 8) + payload.length;
  const l4 = Buffer.alloc(l4len);
  l4.writeUInt16BE(s.sport, 0);
  l4.writeUInt16BE(s.dport, 2);
  if (s.proto === 'tcp') {
    l4.writeUInt32BE(0x1000_0001, 4); // seq
    const flags = s.tcpFlags ?? TCP_FLAGS.ACK;
    l4.writeUInt32BE(flags & TCP_FLAGS.ACK ? 0x2000_0001 : 0, 8);
    l4[12] = 5 << 4;
    l4[13] = flags;
    l4.writeUInt16BE(64240, 14);
    payload.copy(l4, 20);
  } else {
    l4.writeUInt16BE(l4len, 4);
    payload.copy(l4, 8);
  }
  const protoNum = s.proto === 'tcp' ? 6 : 17;
  // pseudo header
  const pseudo = Buffer.alloc(src.family === 4 ? 12 : 40);
  if (src.family === 4) {
    src.bytes.copy(pseudo, 0);
    dst.bytes.copy(pseudo, 4);
    pseudo[9] = protoNum;
    pseudo.writeUInt16BE(l4len, 10);
  } else {
    src.bytes.copy(pseudo, 0);
    dst.bytes.copy(pseudo, 16);
    pseudo.writeUInt32BE(l4len, 32);
    pseudo[39] = protoNum;
  }
  let c = csumFold(csumAdd(csumAdd(0, pseudo), l4));
  if (s.proto === 'udp' && c === 0) c = 0xffff;
  l4.writeUInt16BE(c, s.proto === 'tcp' ? 16 : 6);

  let ip: Buffer;
  if (src.family === 4) {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip[1] = s.tos ?? 0;
    ip.writeUInt16BE(20 + l4len, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = s.ttl ?? 64;
    ip[9] = protoNum;
    src.bytes.copy(ip, 12);
    dst.bytes.copy(ip, 16);
    ip.writeUInt16BE(csumFold(csumAdd(0, ip)), 10);
  } else {
    ip = Buffer.alloc(40);
    const tc = s.tos ?? 0;
    ip.writeUInt32BE((6 << 28) | (tc << 20), 0);
    ip.writeUInt16BE(l4len, 4);
    ip[6] = protoNum;
    ip[7] = s.ttl ?? 64;
    src.bytes.copy(ip, 8);
    dst.bytes.copy(ip, 24);
  }
  const eth = Buffer.alloc(14);
  parseMac(s.dstMac).copy(eth, 0);
  parseMac(s.srcMac).copy(eth, 6);
  eth.writeUInt16BE(src.family === 4 ? 0x0800 : 0x86dd, 12);
  return Buffer.concat([eth, ip, l4]);
}

/**
 * VLAN tags in front of a lab frame's ethertype, the way a trunk port sends it: one 802.1Q tag
 * (TPID 0x8100), or an 802.1ad pair (outer TPID 0x88a8 by default, or 0x8100; inner 0x8100).
 * The lab's switch (vlan.ts) and the traffic generator (generator.ts) both tag with this.
 */
export interface LabVlanTag {
  vid: number;
  /** 802.1ad: the inner (customer) VID; the outer is `vid`. */
  inner?: number;
  /** Outer TPID of a pair: 0x88a8 (default) or 0x8100. */
  outerTpid?: number;
  /** Priority (PCP, 0-7) and drop-eligible bit, on every tag. */
  pcp?: number;
  dei?: boolean;
}

/** The tag's TPIDs and TCIs, outer first (one entry for 802.1Q, two for 802.1ad); a bad tag throws. */
export function vlanTags(tag: LabVlanTag): { tpid: number; tci: number }[] {
  for (const id of [tag.vid, ...(tag.inner === undefined ? [] : [tag.inner])]) {
    if (!Number.isInteger(id) || id < 1 || id > 4094) throw new RangeError(`lab VLAN ${id}: expected 1..4094`);
  }
  if (tag.pcp !== undefined && !(Number.isInteger(tag.pcp) && tag.pcp >= 0 && tag.pcp <= 7)) throw new RangeError(`lab VLAN PCP ${tag.pcp}: expected 0..7`);
  if (tag.outerTpid !== undefined && tag.outerTpid !== 0x88a8 && tag.outerTpid !== 0x8100) throw new RangeError(`lab VLAN outer TPID ${tag.outerTpid}: expected 0x88a8 or 0x8100`);
  const bits = ((tag.pcp ?? 0) & 7) << 13 | (tag.dei ? 1 << 12 : 0);
  if (!tag.inner) return [{ tpid: 0x8100, tci: bits | tag.vid }];
  return [{ tpid: tag.outerTpid ?? 0x88a8, tci: bits | tag.vid }, { tpid: 0x8100, tci: bits | tag.inner }];
}

/** The frame with the tag(s) inserted after the MACs (4 bytes each); the rest is untouched. */
export function tagFrame(frame: Buffer, tag: LabVlanTag): Buffer {
  const tags = vlanTags(tag);
  const t = Buffer.alloc(4 * tags.length);
  tags.forEach((x, i) => { t.writeUInt16BE(x.tpid, 4 * i); t.writeUInt16BE(x.tci, 4 * i + 2); });
  return Buffer.concat([frame.subarray(0, 12), t, frame.subarray(12)]);
}

export function familyOf(address: string): 4 | 6 {
  return isIP(address) === 6 ? 6 : 4;
}
