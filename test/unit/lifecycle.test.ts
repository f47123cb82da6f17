// The pure parts of the lifecycle and the lab: the kt_meta record, pin-dir names, lab names, the
// crafted frames' checksums, and the XDP attach-mode names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMeta, encodeMeta, pinDirFor, type PinMeta } from '../../src/dataplane/kernel/pins.js';
import { labNames } from '../../src/lab/lab.js';
import { buildFrame, TCP_FLAGS } from '../../src/lab/frames.js';
import { isKatranAbi, modeOf } from '../../src/dataplane/kernel/interfaces.js';

test('kt_meta round-trips every field', () => {
  const m: PinMeta = {
    ifindex: 42, mode: 'generic', attachedAt: 1_790_000_000_123, intf: 'eno2.573', objectPath: '/opt/katran/balancer.bpf.o',
    forwardingCpus: [0, 3, 64, 127],
    hc: { ifindex: 7, intf: 'hc0', handle: 0x4b54, priority: 0xc0de, objectPath: '/x/healthcheck.bpf.o' },
  };
  assert.deepEqual(decodeMeta(encodeMeta(m)), m);
  assert.deepEqual(decodeMeta(encodeMeta({ ...m, hc: null, mode: 'unknown' })), { ...m, hc: null, mode: 'unknown' });
  assert.equal(decodeMeta(Buffer.alloc(1024)), null, 'no magic: not ours');
});

test('pin dirs refuse what is not an interface name', () => {
  assert.equal(pinDirFor('/sys/fs/bpf/katran-tui', 'eno2.573'), '/sys/fs/bpf/katran-tui/eno2.573');
  for (const bad of ['', '..', '.', 'a/b', 'x'.repeat(16)]) assert.throws(() => pinDirFor('/r', bad), /not an interface name/);
});

test('lab names fit in 15 characters and refuse odd ids', () => {
  const n = labNames('abcdefghij');
  for (const l of [n.b, n.p, n.h, n.g]) assert.ok(l.length <= 15, l);
  assert.equal(n.ns, 'kt-abcdefghij-cl');
  for (const bad of ['', 'UPPER', 'a-b', 'abcdefghijk', '../x']) assert.throws(() => labNames(bad));
});

function fold(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

test('crafted frames carry valid IPv4, TCP and UDP checksums (v4 and v6)', () => {
  const f = buildFrame({ srcMac: '02:00:00:00:00:02', dstMac: '02:00:00:00:00:01', src: '203.0.113.1', dst: '192.0.2.1', sport: 31337, dport: 80, proto: 'tcp', tcpFlags: TCP_FLAGS.ACK });
  assert.equal(f.length, 14 + 20 + 20);
  assert.equal(f.readUInt16BE(12), 0x0800);
  assert.equal(fold(f.subarray(14, 34)), 0xffff, 'IPv4 header checksum');
  const pseudo = Buffer.concat([f.subarray(26, 34), Buffer.from([0, 6, 0, 20])]);
  assert.equal(fold(Buffer.concat([pseudo, f.subarray(34)])), 0xffff, 'TCP checksum');
  assert.equal(f[34 + 13], TCP_FLAGS.ACK);

  const u = buildFrame({ srcMac: '02:00:00:00:00:02', dstMac: '02:00:00:00:00:01', src: '2001:db8:c::1', dst: '2001:db8:f::1', sport: 4000, dport: 53, proto: 'udp', payload: Buffer.from('hello') });
  assert.equal(u.readUInt16BE(12), 0x86dd);
  assert.equal(u.length, 14 + 40 + 8 + 5);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const pseudo6 = Buffer.concat([u.subarray(22, 54), len, Buffer.from([0, 0, 0, 17])]);
  assert.equal(fold(Buffer.concat([pseudo6, u.subarray(54)])), 0xffff, 'UDP checksum over v6');
  assert.throws(() => buildFrame({ srcMac: '02:00:00:00:00:02', dstMac: '02:00:00:00:00:01', src: '203.0.113.1', dst: '2001:db8::1', sport: 1, dport: 1, proto: 'udp' }), /different families/);
});

test('attach modes and the Katran-ABI test by map names', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map(modeOf), ['unknown', 'native', 'generic', 'offload', 'multi']);
  assert.equal(isKatranAbi(['vip_map', 'reals', 'ch_rings', 'stats', 'ctl_array', 'vip_to_down_rea']), true);
  assert.equal(isKatranAbi(['vip_map', 'reals', 'stats']), false);
});
