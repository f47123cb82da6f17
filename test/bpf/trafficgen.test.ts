// bpf/trafficgen.bpf.c byte for byte (prog_test_run, repeat 1, no live frames): whatever is in the
// page (a recycled one comes back overwritten), the program writes the template and stamps flow k
// = (seq mod flows): client address + k / ports, source port + k mod ports, checksums updated. The
// output must equal the lab's frame builder's frame of that flow, checksums included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, TestRunner, XDP_ACTION, mapUpdate, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { buildFrame, TCP_FLAGS } from '../../src/lab/frames.js';
import { streamConfig, type GenStream } from '../../src/lab/generator.js';
import { requireBpf } from '../helpers/env.js';

const base = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', clientV4: '203.0.113.1', clientV6: '2001:db8:c::1' };

function expected(s: GenStream, k: number, len: number): Buffer {
  const ports = s.ports ?? 1;
  const client = Math.floor(k / ports);
  const v6 = s.dst.includes(':');
  const src = v6 ? `2001:db8:c::${(1 + client).toString(16)}` : `203.0.113.${1 + client}`;
  const tcp = s.proto !== 'udp';
  const headers = 14 + (v6 ? 40 : 20) + (tcp ? 20 : 8);
  const f = buildFrame({ ...base, src, dst: s.dst, sport: (s.sportBase ?? 1024) + (k % ports), dport: s.dport, proto: tcp ? 'tcp' : 'udp',
    tcpFlags: s.proto === 'tcp-syn' ? TCP_FLAGS.SYN : TCP_FLAGS.ACK, payload: Buffer.alloc(Math.max(0, (s.size ?? headers) - headers), 0x6b) });
  const out = Buffer.alloc(len);
  f.copy(out);
  return out;
}

test('trafficgen: every flow of the cycle is the builder\'s frame of that flow, checksums included, over a garbage page', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0); // the flow sequence is per CPU
  const obj = BpfObject.open(bundledObject('trafficgen'));
  try {
    obj.load();
    const run = new TestRunner(obj.program('trafficgen')!.fd, 256, 'trafficgen');
    const cfgFd = obj.map('gen_cfg')!.fd;
    const streams: GenStream[] = [
      { proto: 'tcp-syn', dst: '192.0.2.30', dport: 80, clients: 3, ports: 7, sportBase: 65000 },
      { proto: 'tcp-ack', dst: '2001:db8:f::30', dport: 443, clients: 5, ports: 3 },
      { proto: 'udp', dst: '192.0.2.31', dport: 53, clients: 2, ports: 4, size: 90 },
      { proto: 'udp', dst: '2001:db8:f::31', dport: 5353, clients: 254, ports: 1 },
    ];
    for (const s of streams) {
      const c = streamConfig(base, s);
      mapUpdate(cfgFd, Buffer.alloc(4), c.cfg);
      const garbage = Buffer.alloc(c.frame.length, 0xa5);
      // The sequence is per CPU and carries on across streams: find where this CPU's cycle is.
      const first = run.run(garbage);
      assert.equal(first.retval, XDP_ACTION.TX);
      let k0 = -1;
      for (let k = 0; k < c.flows && k0 < 0; k++) if (first.data.equals(expected(s, k, c.frame.length))) k0 = k;
      assert.ok(k0 >= 0, `the first frame of ${s.proto} to ${s.dst} is one of its flows`);
      for (let i = 1; i <= c.flows + 2; i++) {
        const r = run.run(garbage);
        const k = (k0 + i) % c.flows;
        assert.deepEqual(r.data, expected(s, k, c.frame.length), `${s.proto} to ${s.dst}, flow ${k}`);
      }
    }
    run.close();
  } finally {
    obj.close();
    unpin();
  }
});

test('trafficgen: a stream with a VLAN option sends its frames tagged (802.1Q, 802.1ad), the tag bytes in front of the ethertype, every flow\'s checksums right', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0);
  const obj = BpfObject.open(bundledObject('trafficgen'));
  try {
    obj.load();
    const run = new TestRunner(obj.program('trafficgen')!.fd, 256, 'trafficgen');
    const cfgFd = obj.map('gen_cfg')!.fd;
    // Tag bytes written out by hand (TPID, then PCP:3 DEI:1 VID:12, big-endian), not by the code under test.
    const cases: { s: GenStream; tag: number[] }[] = [
      // 573 = 0x23d; PCP 5 -> 0xa000; DEI -> 0x1000
      { s: { proto: 'tcp-syn', dst: '192.0.2.30', dport: 80, clients: 2, ports: 3, vlan: { vid: 573, pcp: 5, dei: true } }, tag: [0x81, 0x00, 0xb2, 0x3d] },
      { s: { proto: 'udp', dst: '2001:db8:f::31', dport: 53, clients: 3, ports: 2, vlan: { vid: 100, inner: 573 } }, tag: [0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x02, 0x3d] },
      { s: { proto: 'udp', dst: '192.0.2.31', dport: 53, clients: 2, ports: 2, size: 100, vlan: { vid: 100, inner: 574, outerTpid: 0x8100, pcp: 7 } }, tag: [0x81, 0x00, 0xe0, 0x64, 0x81, 0x00, 0xe2, 0x3e] },
    ];
    for (const { s, tag } of cases) {
      const c = streamConfig(base, s);
      mapUpdate(cfgFd, Buffer.alloc(4), c.cfg);
      const untagged = (k: number): Buffer => {
        const e = expected({ ...s, size: s.size === undefined ? undefined : s.size - tag.length }, k, c.frame.length);
        return Buffer.concat([e.subarray(0, 12), Buffer.from(tag), e.subarray(12)]).subarray(0, c.frame.length);
      };
      const garbage = Buffer.alloc(c.frame.length, 0x5a);
      const first = run.run(garbage);
      assert.equal(first.retval, XDP_ACTION.TX);
      let k0 = -1;
      for (let k = 0; k < c.flows && k0 < 0; k++) if (first.data.equals(untagged(k))) k0 = k;
      assert.ok(k0 >= 0, `the first tagged frame to ${s.dst} is one of its flows: ${first.data.toString('hex')}`);
      assert.deepEqual([...first.data.subarray(12, 12 + tag.length)], tag, 'the tag bytes');
      for (let i = 1; i <= c.flows + 1; i++) {
        const k = (k0 + i) % c.flows;
        assert.deepEqual(run.run(garbage).data, untagged(k), `${s.proto} to ${s.dst} tagged, flow ${k}`);
      }
    }
    assert.throws(() => streamConfig(base, { proto: 'udp', dst: '192.0.2.31', dport: 53, vlan: { vid: 4095 } }), /lab VLAN 4095: expected 1\.\.4094/);
    run.close();
  } finally {
    obj.close();
    unpin();
  }
});
