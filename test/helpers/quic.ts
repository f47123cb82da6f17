// QUIC-shaped UDP payloads for prog_test_run tests, the bench and the lab: long and short headers
// and the connection-id encodings (CID versions 1, 2, 3) that carry a server id, written from
// docs/abi.md (packet path step 7). Plain Buffers; nothing here touches the kernel.

/** Long-header packet types (byte 0 & 0x30). */
export const QUIC_LONG = { initial: 0x00, zeroRtt: 0x10, handshake: 0x20, retry: 0x30 } as const;
export type QuicLongType = keyof typeof QUIC_LONG;

/**
 * The first CID bytes that carry `id` in CID version `version` (CID[0] >> 6):
 *   v1: ((CID[0] & 0x3F) << 10) | (CID[1] << 2) | (CID[2] >> 6)  (16 bits, 1..65535 reachable)
 *   v2: CID[1..3] big-endian (24 bits)
 *   v3: CID[1..4] big-endian (32 bits, signed)
 * Returns 8 bytes: the id bytes, then `fill` (default a recognisable pattern).
 */
export function cidFor(version: 0 | 1 | 2 | 3, id: number, length = 8, fill = 0xa5): Buffer {
  const c = Buffer.alloc(length, fill);
  const top = (version & 3) << 6;
  if (version === 1) {
    c[0] = top | ((id >>> 10) & 0x3f);
    c[1] = (id >>> 2) & 0xff;
    c[2] = ((id & 3) << 6) | (c[2] & 0x3f);
  } else if (version === 2) {
    c[0] = top | (c[0] & 0x3f);
    c[1] = (id >>> 16) & 0xff;
    c[2] = (id >>> 8) & 0xff;
    c[3] = id & 0xff;
  } else if (version === 3) {
    c[0] = top | (c[0] & 0x3f);
    c.writeUInt32BE(id >>> 0, 1);
  } else {
    c[0] = top | (c[0] & 0x3f);
  }
  return c;
}

/** Short header: byte 0 with the top bit clear (0x40: fixed bit), then the DCID, then `rest`. */
export function quicShort(cid: Uint8Array, rest: Uint8Array = Buffer.alloc(0), byte0 = 0x40): Buffer {
  return Buffer.concat([Buffer.from([byte0 & 0x7f]), Buffer.from(cid), Buffer.from(rest)]);
}

/**
 * Long header: byte 0 = 0xC0 | type, version (4 bytes), DCID length, DCID, then `rest`.
 * `dcidLen` overrides the length byte (the CID bytes written are `cid` as given).
 */
export function quicLong(type: QuicLongType, cid: Uint8Array, o: { dcidLen?: number; version?: number; rest?: Uint8Array } = {}): Buffer {
  const h = Buffer.alloc(6);
  h[0] = 0xc0 | QUIC_LONG[type];
  h.writeUInt32BE((o.version ?? 1) >>> 0, 1);
  h[5] = o.dcidLen ?? cid.length;
  return Buffer.concat([h, Buffer.from(cid), Buffer.from(o.rest ?? Buffer.alloc(0))]);
}
