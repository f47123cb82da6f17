// Operator input parsing and struct codecs: the one place each rule lives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  InputError, parseVip, formatVip, parseIp, formatIp, parseMac, formatMac, parsePort, parseVipFlags, parseEndpoint,
  vipDefinition, realDefinition, flowKey, vipMeta, VIP_FLAGS,
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
