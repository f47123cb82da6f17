// Operator input parsing and struct codecs: the one place each rule lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InputError, parseVip, formatVip, parseIp, formatIp, parseMac, formatMac, parsePort, parseVipFlags, parseEndpoint,
  vipDefinition, realDefinition, flowKey, vipMeta, VIP_FLAGS, STATS, OWN_VIP_FLAGS, parseServerId, quicHeader, quicStats, QUIC_STATS_FIELDS,
} from '../../src/dataplane/abi.js';

test('parseVip accepts v4 and bracketed v6, port 0 and both protocols', () => {
  assert.deepEqual(parseVip('192.0.2.1:80/tcp'), { address: '192.0.2.1', port: 80, proto: 'tcp' });
  assert.deepEqual(parseVip('[2001:db8::1]:443/UDP'), { address: '2001:db8::1', port: 443, proto: 'udp' });
  assert.deepEqual(parseVip('[2001:DB8:0:0::1]:0/tcp'), { address: '2001:db8::1', port: 0, proto: 'tcp' });
  assert.equal(formatVip(parseVip('[2001:db8::1]:443/udp')), '[2001:db8::1]:443/udp');
});

test('parseVip rejects bad input with what is allowed', () => {
  const bad: [string, RegExp][] = [
    ['192.0.2.1:80', /ADDR:PORT\/PROTO/],
    ['192.0.2.1:65536/tcp', /0 to 65535/],
    ['192.0.2.1:-1/tcp', /0 to 65535/],
    ['192.0.2.1:80/sctp', /tcp or udp/],
    ['192.0.2.300:80/tcp', /IPv4/],
    ['2001:db8::1:443/tcp', /brackets/],
    ['$(reboot):80/tcp', /address/],
    ['', /ADDR:PORT\/PROTO/],
  ];
  for (const [input, why] of bad) {
    assert.throws(() => parseVip(input), (e: unknown) => e instanceof InputError && why.test((e as Error).message), input);
  }
});

test('addresses round-trip in canonical form', () => {
  for (const [a, canon] of [['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['::', '::'], ['::1', '::1'], ['2001:db8::', '2001:db8::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'], ['198.51.100.7', '198.51.100.7']]) {
    assert.equal(parseIp(a).text, canon, a);
    assert.equal(formatIp(parseIp(a).bytes), canon);
  }
  assert.throws(() => parseIp('fe80::1%eth0'), /zone/);
  assert.throws(() => parseIp('1.2.3'), InputError);
});

test('MACs, ports, flags, endpoints', () => {
  assert.equal(formatMac(parseMac('58:E4:34:56:46:E0')), '58:e4:34:56:46:e0');
  assert.throws(() => parseMac('ff:ff:ff:ff:ff:ff'), /multicast or broadcast/);
  assert.throws(() => parseMac('58:e4:34:56:46'), /six hex bytes/);
  assert.throws(() => parsePort('80a'), /0 to 65535/);
  assert.equal(parseVipFlags('no-sport,NO_LRU'), VIP_FLAGS['no-sport'] | VIP_FLAGS['no-lru']);
  assert.throws(() => parseVipFlags('no-sport,bogus'), /unknown VIP flag "bogus": allowed are/);
  assert.deepEqual(parseEndpoint('[2001:db8::5]:40000'), { address: '2001:db8::5', port: 40000 });
});

test('struct codecs lay bytes out as docs/abi.md says', () => {
  const v = vipDefinition.encode({ address: '192.0.2.1', port: 80, proto: 'tcp' });
  assert.equal(v.toString('hex'), 'c0000201' + '00'.repeat(12) + '0050' + '06' + '00');
  assert.deepEqual(vipDefinition.decode(v), { address: '192.0.2.1', port: 80, proto: 'tcp' });
  const v6 = vipDefinition.encode({ address: '2001:db8::1', port: 443, proto: 'udp' });
  assert.equal(v6.subarray(16).toString('hex'), '01bb1100');
  assert.deepEqual(vipDefinition.decode(v6), { address: '2001:db8::1', port: 443, proto: 'udp' });
  assert.equal(vipMeta.encode({ flags: 9, vipNum: 3 }).toString('hex'), '0900000003000000');
  const r = realDefinition.encode({ address: '2001:db8::2' });
  assert.equal(r[16], 1);
  assert.deepEqual(realDefinition.decode(r), { address: '2001:db8::2', flags: 1 });
  assert.equal(realDefinition.decode(Buffer.alloc(20)), null);
  const f = flowKey.encode({ src: '203.0.113.5', dst: '192.0.2.1', sport: 31337, dport: 80, proto: 'udp' });
  assert.equal(f.length, 40);
  assert.equal(f.subarray(32, 37).toString('hex'), '7a69005011');
});

test('parseVipFlags refuses non-strings, object built-ins and keeps errors short', () => {
  for (const bad of [[5], [null], [{}], 7, null]) {
    assert.throws(() => parseVipFlags(bad), InputError, JSON.stringify(bad));
  }
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    assert.throws(() => parseVipFlags(name), /unknown VIP flag/, name);
  }
  const long = 'x'.repeat(5000);
  assert.throws(() => parseVipFlags(long), (e: unknown) => e instanceof InputError && (e as Error).message.length < 300);
});

test('Katran default-build offsets: 11, 12, 13, 15 are Katran\'s; the zero-MAC drop is at 22 (unused upstream); quic and udp-flow-migration are ours', () => {
  assert.deepEqual([STATS.quicIcmp, STATS.icmpPtbV6, STATS.icmpPtbV4, STATS.udpFlowMigration, STATS.zeroMacDrop], [11, 12, 13, 15, 22]);
  assert.equal(OWN_VIP_FLAGS, 1 | 2 | 4 | 8 | 128 | 512);
  assert.equal(parseVipFlags('quic,udp-flow-migration'), 4 | 512);
  assert.equal(parseVipFlags('QUIC,UDP_FLOW_MIGRATION'), 4 | 512, "Katran's upper-case spelling");
});

test('parseServerId: 1 .. max_entries - 1 (Katran\'s 0xFFFFFD), decimal or 0x hex; one-line errors', () => {
  assert.equal(parseServerId('1'), 1);
  assert.equal(parseServerId(1024), 1024);
  assert.equal(parseServerId('0xfffffd'), 0xfffffd);
  assert.equal(parseServerId('4095', 4096), 4095);
  for (const [bad, max] of [['0', undefined], ['0xfffffe', undefined], ['16777214', undefined], ['4096', 4096], ['-1', undefined], ['1.5', undefined], ['abc', undefined], ['', undefined], [null, undefined]] as const) {
    assert.throws(() => parseServerId(bad, max), (e: unknown) => e instanceof InputError && /^bad server id .*: expected a whole number from 1 to \d+/.test((e as Error).message) && !(e as Error).message.includes('\n'), String(bad));
  }
});

test('quicHeader: long / short headers, CID versions, the length and DCID rules', () => {
  const cid1 = [0x41, 0x00, 0x25, 0, 0, 0, 0, 0]; // v1, id 1024
  assert.deepEqual(quicHeader(Buffer.from([0x40, ...cid1])), { kind: 'id', cidVersion: 1, id: 1024 });
  assert.equal(quicHeader(Buffer.from([0x40, ...cid1.slice(0, 7)])).kind, 'none');
  const long = (type: number, dcidLen: number, cid: number[]) => Buffer.from([0xc0 | type, 0, 0, 0, 1, dcidLen, ...cid]);
  assert.deepEqual(quicHeader(long(0x00, 8, cid1)), { kind: 'initial' });
  assert.deepEqual(quicHeader(long(0x10, 8, cid1)), { kind: 'initial' });
  assert.deepEqual(quicHeader(long(0x20, 8, cid1)), { kind: 'id', cidVersion: 1, id: 1024 });
  assert.deepEqual(quicHeader(long(0x30, 8, cid1)), { kind: 'id', cidVersion: 1, id: 1024 });
  assert.equal(quicHeader(long(0x20, 7, cid1)).kind, 'none');
  assert.equal(quicHeader(long(0x00, 8, cid1).subarray(0, 13)).kind, 'none');
  assert.deepEqual(quicHeader(Buffer.from([0x40, 0x80, 0x01, 0x23, 0x45, 0, 0, 0, 0])), { kind: 'id', cidVersion: 2, id: 0x012345 });
  assert.deepEqual(quicHeader(Buffer.from([0x40, 0xc0, 0x00, 0xab, 0xcd, 0xef, 0, 0, 0])), { kind: 'id', cidVersion: 3, id: 0xabcdef });
  assert.equal(quicHeader(Buffer.from([0x40, 0xc0, 0x80, 0, 0, 1, 0, 0, 0])).kind, 'none', 'v3 is signed');
  assert.equal(quicHeader(Buffer.from([0x40, 0x3f, 0xff, 0xff, 0xff, 0xff, 0, 0, 0])).kind, 'none', 'v0');
  assert.equal(quicHeader(Buffer.alloc(0)).kind, 'none');
});

test('quicStats.decodePerCpu sums the counters and lists the per-CPU samples apart', () => {
  const stride = quicStats.size;
  const buf = Buffer.alloc(stride * 3);
  for (let c = 0; c < 3; c++) QUIC_STATS_FIELDS.forEach((_, i) => buf.writeBigUInt64LE(BigInt((c + 1) * (i + 1)), c * stride + i * 8));
  buf.writeBigUInt64LE(0n, 1 * stride + 3 * 8);
  const { totals, samples } = quicStats.decodePerCpu(buf, 3, stride);
  assert.equal(totals.chRouted, 6n);
  assert.equal(totals.dstNotFoundInLru, 13n * 6n);
  assert.equal('cidInvalidServerIdSample' in totals, false);
  assert.deepEqual(samples, [{ cpu: 0, id: 4 }, { cpu: 2, id: 12 }]);
});
