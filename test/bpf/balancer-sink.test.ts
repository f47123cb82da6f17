// The lab's backend sink (bpf/sink.bpf.c) through prog_test_run, fed with the balancer's own
// encapsulated output: counts per real (outer destination) and per (real, inner flow), drops the
// encapsulated frames, passes and counts everything else.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, TestRunner, XDP_ACTION, mapLookup, mapUpdate } from '../../src/dataplane/kernel/libbpf.js';
import { flowKey, parseIp, parseMac, u32Key } from '../../src/dataplane/abi.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';
import { ethernet, flowFrame, pattern, ETH_P } from '../helpers/packets.js';
import { GW_MAC, REALS, VIPS, closeFixture, fixture } from './balancer-common.js';

let obj: BpfObject | undefined;
let runner: TestRunner;
let fds: Record<string, number> = {};

after(() => {
  runner?.close();
  obj?.close();
  closeFixture();
});

function sinkKey(addr: string): Buffer {
  const a = parseIp(addr);
  const k = Buffer.alloc(20);
  a.bytes.copy(k, 0);
  k[16] = a.family;
  return k;
}

function count(map: string, key: Buffer): [number, number, number] | null {
  const v = Buffer.alloc(24);
  if (!mapLookup(fds[map], key, v)) return null;
  return [Number(v.readBigUInt64LE(0)), Number(v.readBigUInt64LE(8)), Number(v.readBigUInt64LE(16))];
}

describe('sink (lab backend)', () => {
  it('counts encapsulated frames per real and per (real, inner flow), drops them; passes and counts the rest', async (t) => {
    if (!(await requireBpf(t))) return;
    obj = BpfObject.open(bundledObject('sink'));
    obj.load();
    fds = Object.fromEntries(obj.maps().filter((m) => !m.name.startsWith('.')).map((m) => [m.name, m.fd]));
    runner = new TestRunner(obj.program('sink')!.fd, 4096, 'sink');
    const cfg = Buffer.alloc(8);
    Buffer.from(parseMac(GW_MAC)).copy(cfg, 0);
    mapUpdate(fds.sink_cfg, u32Key(0), cfg);

    const lb = fixture();
    lb.fillRing(VIPS.tcp.vipNum, 1);
    lb.fillRing(VIPS.v6tcp.vipNum, 3);
    const f4 = flowFrame({ src: '203.0.113.5', dst: VIPS.tcp.address, sport: 1000, dport: 80, proto: 'tcp', flags: 'S' });
    const f6 = flowFrame({ src: '2001:db8:c::5', dst: VIPS.v6tcp.address, sport: 1001, dport: 443, proto: 'tcp', flags: 'S' });
    const o4 = lb.run(f4);
    const o6 = lb.run(f6);
    assert.equal(o4.retval, XDP_ACTION.TX);
    assert.equal(o6.retval, XDP_ACTION.TX);

    for (let i = 0; i < 3; i++) assert.equal(runner.run(o4.data).retval, XDP_ACTION.DROP);
    assert.equal(runner.run(o6.data).retval, XDP_ACTION.DROP);
    assert.deepEqual(count('sink_counts', sinkKey(REALS[1])), [3, 3 * o4.data.length, 0]);
    assert.deepEqual(count('sink_counts', sinkKey(REALS[3])), [1, o6.data.length, 0]);

    const fk4 = Buffer.concat([sinkKey(REALS[1]), flowKey.encode({ src: '203.0.113.5', dst: VIPS.tcp.address, sport: 1000, dport: 80, proto: 'tcp' })]);
    const fk6 = Buffer.concat([sinkKey(REALS[3]), flowKey.encode({ src: '2001:db8:c::5', dst: VIPS.v6tcp.address, sport: 1001, dport: 443, proto: 'tcp' })]);
    assert.deepEqual(count('sink_flows', fk4), [3, 3 * o4.data.length, 0]);
    assert.deepEqual(count('sink_flows', fk6), [1, o6.data.length, 0]);

    // A frame to another MAC than the configured gateway's counts as wrong_mac.
    const wrong = Buffer.from(o4.data);
    wrong[5] ^= 0xff;
    assert.equal(runner.run(wrong).retval, XDP_ACTION.DROP);
    assert.deepEqual(count('sink_counts', sinkKey(REALS[1])), [4, 4 * o4.data.length, 1]);

    // Not encapsulated: passed and counted in sink_other.
    const before = count('sink_other', u32Key(0))!;
    const arp = ethernet({ type: ETH_P.arp }, pattern(28));
    for (const f of [f4, f6, arp]) {
      const r = runner.run(f);
      assert.equal(r.retval, XDP_ACTION.PASS);
      assert.ok(r.data.equals(f));
    }
    const afterOther = count('sink_other', u32Key(0))!;
    assert.deepEqual([afterOther[0] - before[0], afterOther[1] - before[1]], [3, f4.length + f6.length + arp.length]);
  });
});
