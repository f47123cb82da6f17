// The Host the CLI and the console use (host.ts): attach through it, configure VIPs and reals
// through the control plane (balancer.ts), real traffic from the lab, and the sample's per-VIP and
// per-real counters against what the sink saw; then reopen, list and detach through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseVip } from '../../src/dataplane/abi.js';
import { createHost } from '../../src/dataplane/balancer/host.js';
import { withWorkerHost } from '../../src/dataplane/worker/client.js';
import type { Lab } from '../../src/lab/lab.js';
import { xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import type { Dataplane } from '../../src/dataplane/types.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { labId, newLab, requireLab, settle, sinkOf } from './fixture.js';

test('host: attach, VIPs through the control plane, traffic counted per VIP and per real, reopen, detach', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('host');
  const stateDir = scratchDir('host-state');
  let lab: Lab | undefined;
  let dp: Dataplane | null = null;
  try {
    lab = newLab(labId('h'));
    const host = createHost({ pinRoot: root, stateDir });
    const dry = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' }, { dryRun: true });
    assert.equal(dry.dataplane, null);
    assert.equal(dry.result.applied, false);
    assert.equal(xdpQuery(lab.ifindex).progId, 0, 'a dry run attaches nothing');

    const { dataplane, result } = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
    dp = dataplane!;
    assert.equal(result.applied, true);
    const info = dp.info();
    assert.equal(info.mode, 'native');
    assert.equal(info.owner, 'katran-tui');
    assert.equal(info.defaultMac, lab.defaultMac);
    const v4 = parseVip('192.0.2.30:8080/udp');
    const v6 = parseVip('[2001:db8:f::30]:443/tcp');
    dp.addVip(v4);
    dp.addReal(v4, { address: '198.51.100.30', weight: 1 });
    dp.addVip(v6);
    dp.addReal(v6, { address: '2001:db8:e::30', weight: 1 });
    dp.sample();

    await lab.traffic({ flows: [
      { proto: 'udp', src: lab.clientsV4[0], dst: v4.address, dport: v4.port, count: 25 },
      { proto: 'tcp-syn', src: lab.clientsV6[0], dst: v6.address, dport: v6.port, count: 5 },
    ] });
    await settle();
    assert.equal(sinkOf(lab, '198.51.100.30'), 25);
    assert.equal(sinkOf(lab, '2001:db8:e::30'), 5);
    const s = dp.sample();
    assert.equal(s.vips.find((v) => v.id === '192.0.2.30:8080/udp')?.packets, 25);
    assert.equal(s.vips.find((v) => v.key.address === '2001:db8:f::30')?.packets, 5);
    assert.equal(s.reals.find((r) => r.address === '198.51.100.30')?.packets, 25);
    assert.equal(s.reals.find((r) => r.address === '2001:db8:e::30')?.packets, 5);
    // Drop / pass reasons: the sums are the XDP counters (the lab's own frames pass too).
    const sum = (l: { packets: number }[]): number => l.reduce((n, r) => n + r.packets, 0);
    assert.equal(sum(s.reasons!.pass), s.global.xdpPass.v1);
    assert.equal(sum(s.reasons!.drop), s.global.xdpDrop.v1);
    const progId = info.progId;
    dp.close();
    dp = null;

    // Listed as ours; reopened without reload (same program), VIPs from the state.
    const b = host.balancers().find((x) => x.intf === lab!.intf);
    assert.equal(b?.owner, 'katran-tui');
    assert.equal(b?.progId, progId);
    assert.equal(host.interfaces().find((i) => i.name === lab!.intf)?.xdp?.ours, true);
    dp = host.open(lab.intf);
    assert.equal(dp.info().progId, progId);
    assert.equal(dp.vips().length, 2);
    const ro = host.open(lab.intf, { readOnly: true });
    assert.equal(ro.info().readOnly, true);
    assert.throws(() => ro.addVip(parseVip('192.0.2.31:1/udp')), /refused|read-only/i);
    assert.ok(ro.sample().reasons, 'reopened read-only from the pins: kt_reasons is read too');
    ro.close();
    // Through the console's worker thread (samples cross a structured clone).
    await withWorkerHost({ pinRoot: root, stateDir }, async (wh) => {
      const w = await wh.open(lab!.intf, { readOnly: true });
      const ws = await w.sample();
      assert.deepEqual(ws.reasons?.pass.map((r) => r.reason), ['not_ip', 'vlan_unparsed', 'not_tcp_udp', 'icmp_other', 'no_vip']);
      await w.close();
    });

    const d = dp.detach();
    dp = null;
    assert.equal(d.applied, true);
    assert.equal(xdpQuery(lab.ifindex).progId, 0);
    assert.equal(existsSync(join(root, lab.intf)), false);
  } finally {
    try { dp?.detach(); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
