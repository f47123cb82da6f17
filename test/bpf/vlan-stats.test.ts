// Per-VLAN counters in every stats sample, on a real loaded balancer with prog_test_run frames:
// a configured VLAN's in / balanced / passed move with rates over the controlled clock; VIP
// traffic on a VLAN the balancer does not parse appears as configured false; a second Balancer
// over the same maps opened read-only, with no state directory (as observe mode opens them),
// samples the same counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { parseVip } from '../../src/dataplane/abi.js';
import { TestRunner, XDP_ACTION } from '../../src/dataplane/kernel/libbpf.js';
import type { VlanStat } from '../../src/dataplane/types.js';
import { flowFrame, withVlanTags } from '../helpers/packets.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { handleFrom, loadTestBalancer } from './control-helpers.js';

const VIP = parseVip('192.0.2.60:53/udp');

test('sample: per-VLAN in / balanced / passed with rates; VIP traffic on an unparsed VLAN is configured false; read-only sampling sees the same', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const store = StateStore.open(scratchDir('vlan-stats'), { write: true });
  let clock = 1000;
  const bal = Balancer.open(handleFrom(lb), { store, monotonicMs: () => clock });
  let ro: Balancer | null = null;
  try {
    bal.setDefaultMac('02:00:00:00:00:bb');
    bal.addVip({ ...VIP });
    bal.addReal(VIP, { address: '198.51.100.61' });
    bal.addVlan('573:574', '02:00:5e:00:05:74');
    ro = Balancer.open(handleFrom(lb, { readOnly: true, readOnlyReason: 'test' }), { monotonicMs: () => clock });
    const s0 = bal.sample();
    ro.sample();
    assert.deepEqual(s0.vlans, [], 'nothing counted yet: no VLAN rows, but VLAN maps (not null)');

    const runner = new TestRunner(lb.progFd);
    const frame = (i: number, dst = VIP.address) => flowFrame({ src: `203.0.113.${i + 1}`, dst, sport: 5000 + i, dport: 53, proto: 'udp', payloadLen: 16 });
    const tag = (vid: number) => [{ tci: vid }];
    let bytes573 = 0;
    let passedBytes = 0;
    for (let i = 0; i < 8; i++) {
      const f = withVlanTags(frame(i), tag(573));
      assert.equal(runner.run(f).retval, XDP_ACTION.TX);
      bytes573 += f.length;
    }
    for (let i = 0; i < 2; i++) {
      const f = withVlanTags(frame(i, '192.0.2.99'), tag(573)); // no VIP: passed on a balanced VLAN
      assert.equal(runner.run(f).retval, XDP_ACTION.PASS);
      bytes573 += f.length;
      passedBytes += f.length;
    }
    let bytes575 = 0;
    for (let i = 0; i < 6; i++) {
      const f = withVlanTags(frame(i), tag(575));
      assert.equal(runner.run(f).retval, XDP_ACTION.PASS, 'VLAN 575 is not configured: its VIP traffic passes');
      bytes575 += f.length;
    }
    runner.close();
    clock += 2000;
    const s1 = bal.sample();
    const r1 = ro.sample();
    const byId = (s: VlanStat[] | null | undefined, id: string) => s?.find((v) => v.vlan === id);
    const v573 = byId(s1.vlans, '573')!;
    assert.ok(v573, 'VLAN 573 listed');
    assert.equal(v573.configured, true);
    assert.deepEqual(v573.in, { packets: 10, bytes: bytes573, pps: 5, bps: (bytes573 / 2) * 8 });
    assert.equal(v573.balanced.packets, 8);
    assert.equal(v573.balanced.pps, 4);
    assert.deepEqual(v573.passed, { packets: 2, bytes: passedBytes, pps: 1, bps: (passedBytes / 2) * 8 });
    const v575 = byId(s1.vlans, '575')!;
    assert.ok(v575, 'VLAN 575 listed: VIP traffic on a VLAN the balancer does not parse');
    assert.equal(v575.configured, false);
    assert.deepEqual(v575.in, { packets: 6, bytes: bytes575, pps: 3, bps: (bytes575 / 2) * 8 });
    assert.deepEqual(v575.passed, v575.in, 'every VIP frame of an unparsed VLAN passes');
    assert.equal(v575.balanced.packets, 0);
    assert.deepEqual(s1.vlans!.map((v) => v.vlan), ['573', '575'], 'only VLANs that counted something, in VLAN order');
    assert.deepEqual(r1.vlans, s1.vlans, 'the read-only balancer samples the same counters and rates');

    // Next interval: nothing sent, totals stay and rates drop to 0.
    clock += 1000;
    const s2 = bal.sample();
    assert.equal(byId(s2.vlans, '573')!.in.packets, 10);
    assert.equal(byId(s2.vlans, '573')!.in.pps, 0);
    // Once VLAN 575 is configured, the same counters say so.
    bal.addVlan('575');
    clock += 1000;
    assert.equal(byId(bal.sample().vlans, '575')!.configured, true);
  } finally {
    ro?.close();
    bal.close();
    lb.close();
  }
});
