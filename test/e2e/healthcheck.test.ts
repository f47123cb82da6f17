// The healthcheck program at the healthcheck interface's egress: a marked probe is encapsulated
// toward its real and really leaves through the MAIN interface (prog_test_run cannot show a
// redirect): the sink behind the main interface counts it, the healthcheck interface's peer does
// not see it. Unmarked frames go out untouched. Detach removes the filter with the balancer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { realDefinition, u32Key } from '../../src/dataplane/abi.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import { ifNameToIndex, tcQueryEgress } from '../../src/dataplane/kernel/libbpf.js';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import { HC_TC_HANDLE, HC_TC_PRIORITY } from '../../src/dataplane/balancer/healthcheck.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { sumPerCpuU64 } from '../../src/dataplane/kernel/maps.js';
import { builtObject, bundledObject } from '../../src/dataplane/kernel/paths.js';
import { buildFrame } from '../../src/lab/frames.js';
import { pinRoot } from '../helpers/env.js';
import { labId, newLab, requireLab, settle, sinkOf } from './fixture.js';
import { existsSync } from 'node:fs';

function rxPackets(ns: string, dev: string): number {
  const j = JSON.parse(execFileSync('ip', ['-n', ns, '-j', '-s', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as { stats64: { rx: { packets: number } } }[];
  return j[0].stats64.rx.packets;
}

function hcStats(h: BalancerHandle): { processed: number; dropped: number; skipped: number } {
  const m = h.healthcheck!.maps.get('hc_stats_map')!;
  const b = m.newValueBuffer();
  m.lookup(u32Key(0), b);
  const stride = (m.shape.valueSize + 7) & ~7;
  return { processed: Number(sumPerCpuU64(b, 0, m.cpus, stride, 0)), dropped: Number(sumPerCpuU64(b, 0, m.cpus, stride, 8)), skipped: Number(sumPerCpuU64(b, 0, m.cpus, stride, 16)) };
}

test('healthcheck: marked probes are encapsulated and leave through the main interface; detach removes the filter', async (t) => {
  if (!(await requireLab(t))) return;
  if (!existsSync(bundledObject('healthcheck'))) {
    t.skip('bpf/healthcheck.bpf.c is not built yet');
    return;
  }
  const root = pinRoot('hc');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('c'), { healthcheck: true });
    const hcIntf = lab.hcIntf!;
    h = attach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root, hcIntf, hcSrcV4: '198.51.100.250', hcSrcV6: '2001:db8:e::fa' });
    assert.ok(h.healthcheck, 'a healthcheck handle');
    assert.equal(h.healthcheck.intf, hcIntf);
    const hcIfindex = ifNameToIndex(hcIntf);
    assert.equal(tcQueryEgress(hcIfindex, HC_TC_HANDLE, HC_TC_PRIORITY), h.healthcheck.progId);
    const reals = h.healthcheck.maps.get('hc_reals_map')!;
    reals.update(u32Key(1001), realDefinition.encode({ address: '198.51.100.40' }));
    reals.update(u32Key(1002), realDefinition.encode({ address: '2001:db8:e::40' }));

    const hcMac = '02:00:00:00:00:aa';
    const probe4 = buildFrame({ srcMac: hcMac, dstMac: '02:00:00:00:00:bb', src: '198.51.100.250', dst: '192.0.2.99', sport: 3333, dport: 80, proto: 'tcp', tcpFlags: 0x02 });
    const probe6 = buildFrame({ srcMac: hcMac, dstMac: '02:00:00:00:00:bb', src: '2001:db8:e::fa', dst: '2001:db8:f::99', sport: 3333, dport: 80, proto: 'tcp', tcpFlags: 0x02 });
    const gBefore = rxPackets(lab.ns, `kt${lab.id}g`);
    assert.equal(lab.sendFramesFromRoot(hcIntf, [probe4, probe4, probe4], 1001), 3);
    assert.equal(lab.sendFramesFromRoot(hcIntf, [probe6, probe6], 1002), 2);
    assert.equal(lab.sendFramesFromRoot(hcIntf, [probe4, probe4], 4242), 2, 'an unknown mark');
    assert.equal(lab.sendFramesFromRoot(hcIntf, [probe4], undefined), 1, 'unmarked');
    await settle();
    assert.equal(sinkOf(lab, '198.51.100.40'), 3, 'IPIP probes arrived behind the main interface');
    assert.equal(sinkOf(lab, '2001:db8:e::40'), 2, 'IP6IP6 probes arrived behind the main interface');
    for (const c of lab.sinkCounts()) if (c.wrongMac !== undefined) assert.equal(c.wrongMac, 0);
    assert.equal(rxPackets(lab.ns, `kt${lab.id}g`) - gBefore, 3, 'only the unmarked / unknown-mark frames left through the hc interface');
    const st = hcStats(h);
    assert.equal(st.processed, 5);
    assert.equal(st.dropped, 0);
    assert.equal(st.skipped, 3);

    // A reopen finds the healthcheck too.
    const re = openPinned(lab.intf, { pinRoot: root });
    assert.equal(re.healthcheck?.progId, h.healthcheck.progId);
    assert.equal(re.healthcheck?.intf, hcIntf);
    re.close();

    const d = detach(h);
    h = undefined;
    assert.ok(d.messages.some((m) => /healthcheck program \d+ detached/.test(m)));
    assert.equal(tcQueryEgress(hcIfindex, HC_TC_HANDLE, HC_TC_PRIORITY), 0, 'the tc filter is gone');
  } finally {
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});

test('an upstream ipip healthchecker is refused without ipip0 / ipip60, and nothing is left attached', async (t) => {
  if (!(await requireLab(t))) return;
  if (ifNameToIndex('ipip0') && ifNameToIndex('ipip60')) {
    t.skip('this box has ipip0 and ipip60');
    return;
  }
  const root = pinRoot('hcipip');
  let lab: Lab | undefined;
  let floor: import('../../src/dataplane/kernel/libbpf.js').BpfObject | undefined;
  try {
    lab = newLab(labId('i'), { healthcheck: true });
    assert.throws(
      () => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root, hcIntf: lab!.hcIntf, healthcheckerProg: builtObject('test/e2e/healthchecking_ipip.bpf.c') }),
      /ipip healthchecker.*needs ipip0 and ipip60/,
    );
    const { BpfObject, XDP_FLAGS, xdpAttach, xdpQuery } = await import('../../src/dataplane/kernel/libbpf.js');
    assert.equal(xdpQuery(lab.ifindex).progId, 0, 'the balancer attach was rolled back');
    assert.equal(tcQueryEgress(ifNameToIndex(lab.hcIntf!), HC_TC_HANDLE, HC_TC_PRIORITY), 0);
    assert.equal(existsSync(`${root}/${lab.intf}`), false);
    // A forced replace that fails afterwards puts the replaced program back.
    floor = BpfObject.open(builtObject('bench/floor.bpf.c'));
    floor.load();
    xdpAttach(lab.ifindex, floor.program('xdp_floor')!.fd, XDP_FLAGS.UPDATE_IF_NOEXIST | XDP_FLAGS.DRV_MODE);
    const floorId = xdpQuery(lab.ifindex).progId;
    assert.throws(
      () => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root, hcIntf: lab!.hcIntf, force: true, healthcheckerProg: builtObject('test/e2e/healthchecking_ipip.bpf.c') }),
      /needs ipip0 and ipip60/,
    );
    assert.equal(xdpQuery(lab.ifindex).progId, floorId, 'the foreign program is back');
    assert.equal(existsSync(`${root}/${lab.intf}`), false);
  } finally {
    lab?.destroy();
    floor?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
