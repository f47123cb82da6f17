// flowhash.ts: the kernel's jhash / jhash_2words and Katran's flow-hash rule. The jhash vectors
// are Bob Jenkins' published lookup3 hashlittle() results (lookup3.c, driver5), which the kernel's
// jhash equals on little-endian hosts; the jhash_2words vectors were cross-checked once against
// the kernel header's algorithm compiled in C. The end-to-end check (a packet lands on the slot
// computed here) is in test/bpf/balancer.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowRingPosition, hashedFlow, jhash, jhash2words, portsWord } from '../../src/dataplane/trace/flowhash.js';

test('jhash matches lookup3 hashlittle vectors', () => {
  assert.equal(jhash(new Uint8Array(0), 0), 0xdeadbeef);
  assert.equal(jhash(new Uint8Array(0), 0xdeadbeef), 0xbd5b7dde);
  const four = Buffer.from('Four score and seven years ago');
  assert.equal(jhash(four, 0), 0x17770551);
  assert.equal(jhash(four, 1), 0xcd628161);
});

test('jhash and jhash_2words: vectors cross-checked with the kernel algorithm in C', () => {
  for (const [a, b, iv, want] of JHASH2_VECTORS) assert.equal(jhash2words(a, b, iv), want, `jhash_2words(${a}, ${b}, ${iv})`);
  for (const [hex, iv, want] of JHASH_VECTORS) assert.equal(jhash(Buffer.from(hex, 'hex'), iv), want, `jhash(${hex}, ${iv})`);
});

test('ports word is the network-order ports read little-endian', () => {
  assert.equal(portsWord(0x7a69, 0x0050), 0x5000697a);
  assert.equal(portsWord(0, 0), 0);
});

test('flow rule order: port-0 VIP, NO_SPORT, DPORT_HASH', () => {
  const f = { src: '203.0.113.7', sport: 1000, dport: 443, proto: 'tcp' as const };
  assert.deepEqual(hashedFlow(f, 0, 443), { src: Buffer.from([203, 0, 113, 7]), sport: 1000, dport: 443 });
  assert.deepEqual(hashedFlow(f, 0, 0), { src: Buffer.from([203, 0, 113, 7]), sport: 1000, dport: 0 });
  assert.deepEqual(hashedFlow(f, 128, 0), { src: Buffer.from([203, 0, 113, 7]), sport: 1000, dport: 443 });
  assert.deepEqual(hashedFlow(f, 1, 443), { src: Buffer.from([203, 0, 113, 7]), sport: 0, dport: 443 });
  assert.deepEqual(hashedFlow(f, 8, 0), { src: Buffer.alloc(4), sport: 443, dport: 443 });
  assert.deepEqual(hashedFlow(f, 1 | 8, 443), { src: Buffer.alloc(4), sport: 443, dport: 443 });
  assert.deepEqual(hashedFlow({ ...f, src: '2001:db8::1' }, 8, 443).src, Buffer.alloc(16));
});

test('flowRingPosition: v4 and v6 formulas', () => {
  const R = 65537;
  const CH = 512 * R;
  const v4 = flowRingPosition({ src: '203.0.113.7', sport: 1000, dport: 80, proto: 'tcp' }, 0, 80, R, CH, 512);
  assert.equal(v4.hash, jhash2words(0x077100cb, portsWord(1000, 80), CH));
  assert.equal(v4.pos, v4.hash % R);
  const src6 = Buffer.from('20010db8000000000000000000001234', 'hex');
  const v6 = flowRingPosition({ src: '2001:db8::1234', sport: 1000, dport: 80, proto: 'udp' }, 0, 80, R, CH, 512);
  assert.equal(v6.hash, jhash2words(jhash(src6, 512), portsWord(1000, 80), CH));
  // NO_SPORT: every source port, one position
  const a = flowRingPosition({ src: '203.0.113.7', sport: 1, dport: 80, proto: 'tcp' }, 1, 80, R, CH, 512);
  const b = flowRingPosition({ src: '203.0.113.7', sport: 2, dport: 80, proto: 'tcp' }, 1, 80, R, CH, 512);
  assert.deepEqual(a, b);
  // DPORT_HASH: every client, one position per dport
  const c = flowRingPosition({ src: '198.51.100.200', sport: 9, dport: 5060, proto: 'udp' }, 8, 5060, R, CH, 512);
  const d = flowRingPosition({ src: '2001:db8::5', sport: 7, dport: 5060, proto: 'udp' }, 8, 5060, R, CH, 512);
  assert.equal(c.hash, jhash2words(0, portsWord(5060, 5060), CH));
  assert.equal(d.hash, jhash2words(jhash(Buffer.alloc(16), 512), portsWord(5060, 5060), CH));
});

// [a, b, initval, jhash_2words]
const JHASH2_VECTORS: [number, number, number, number][] = [[0x0, 0x0, 0, 0x58c184bf],[0x1, 0x2, 3, 0x252781b5],[0x77100cb, 0x5000e803, 33554944, 0xcee478a9],[0xffffffff, 0xffffffff, 4294967295, 0xe7af1d40],[0xdeadbeef, 0x12345678, 512, 0xe1f9a055]];
// [bytes hex, initval, jhash]
const JHASH_VECTORS: [string, number, number][] = [['01', 0, 0x4ec883b],['010e1b', 77, 0xa95a620d],['010e1b28', 154, 0xb591b2f5],['010e1b2835424f', 231, 0x8876d452],['010e1b2835424f5c69768390', 308, 0x9367413e],['010e1b2835424f5c697683909d', 385, 0x4ac76df8],['010e1b2835424f5c697683909daab7c4', 462, 0xf0d7227a],['010e1b2835424f5c697683909daab7c4d1deebf805121f2c', 539, 0xa54cd70f],['010e1b2835424f5c697683909daab7c4d1deebf805121f2c39', 616, 0xcdf9cf92],['010e1b2835424f5c697683909daab7c4d1deebf805121f2c394653606d7a8794a1aebbc8d5e2effc', 693, 0x7084e531]];
