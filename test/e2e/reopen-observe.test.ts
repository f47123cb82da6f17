// Two processes: a balancer attached by one process and reopened (from pins) or observed (by
// program id, maps read-only) by another, with traffic flowing the whole time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { u32Key, vipDefinition, vipMeta } from '../../src/dataplane/abi.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import { BpfError, ERRNO, XDP_FLAGS, mapUpdate, xdpDetach, xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import { listInterfaces } from '../../src/dataplane/kernel/interfaces.js';
import { attach, type AttachedBalancer } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import { listBalancers } from '../../src/dataplane/balancer/list.js';
import { observe, openPinned } from '../../src/dataplane/balancer/open.js';
import { StatsSampler } from '../../src/dataplane/stats/stats.js';
import { ReadOnlyError } from '../../src/dataplane/types.js';
import { pinRoot } from '../helpers/env.js';
import {
  labId, lruEntries, newLab, pair, requireLab, settle, sinkOf, spawnChild, type ChildBalancer, type TestVip,
} from './fixture.js';

const U: TestVip = { address: '192.0.2.10', port: 5000, proto: 'udp', vipNum: 0, reals: [{ index: 1, address: '198.51.100.10' }] };
const T: TestVip = { address: '2001:db8:f::10', port: 80, proto: 'tcp', vipNum: 1, reals: [{ index: 2, address: '2001:db8:e::10' }, { index: 3, address: '2001:db8:e::11' }] };

test('reopen after the attaching process exits: same program, forwarding never stopped, LRU kept', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('reopen');
  let lab: Lab | undefined;
  let child: ChildBalancer | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('r'));
    child = await spawnChild({ mode: 'attach', intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root, vips: [U, T] });
    // SYNs while the first process is alive: their LRU entries must survive it.
    const syns = await lab.traffic({ flows: [{ proto: 'tcp-syn', src: lab.clientsV6[0], dst: T.address, dport: T.port, count: 4 }] });
    // Steady UDP across the exit: 600 datagrams over ~2 s; the child exits after ~0.5 s.
    const run = lab.startTraffic({ ratePps: 300, durationMs: 10_000, flows: [{ proto: 'udp', src: lab.clientsV4[0], sport: 41000, dst: U.address, dport: U.port, count: 600 }] });
    await settle(500);
    assert.equal(await child.exit(), 0);
    const udp = await run.done;
    assert.deepEqual(udp.errors, []);
    assert.equal(udp.flows[0].packets, 600);
    await settle();
    assert.equal(sinkOf(lab, U.reals[0].address), 600, 'every datagram was forwarded, before and after the exit');

    h = openPinned(lab.intf, { pinRoot: root });
    assert.equal(h.progId, child.progId, 'not reloaded: the same program');
    assert.equal(h.owner, 'katran-tui');
    assert.equal(h.mode, 'native');
    assert.equal(h.readOnly, false);
    assert.ok(h.attachedAt && Date.now() - h.attachedAt < 120_000);
    assert.equal(pair(h, 'stats', U.vipNum).v1, 600);
    for (const sport of syns.flows[0].sports) {
      const e = lruEntries(h, { src: lab.clientsV6[0], dst: T.address, sport, dport: T.port, proto: 'tcp' });
      assert.ok(e.length >= 1, `LRU entry of SYN flow port ${sport} kept`);
      assert.ok([2, 3].includes(e[0].pos));
    }
    assert.ok(lruEntries(h, { src: lab.clientsV4[0], dst: U.address, sport: 41000, dport: U.port, proto: 'udp' }).length >= 1);
    // listBalancers and the picker know it as ours.
    const b = listBalancers({ pinRoot: root }).find((x) => x.intf === lab!.intf);
    assert.ok(b);
    assert.equal(b.owner, 'katran-tui');
    assert.equal(b.progId, child.progId);
    assert.equal(b.differsFromBundled, false);
    const i = listInterfaces({ pinRoot: root }).find((x) => x.name === lab!.intf);
    assert.deepEqual(i?.xdp && { ours: i.xdp.ours, katranAbi: i.xdp.katranAbi, mode: i.xdp.mode }, { ours: true, katranAbi: true, mode: 'native' });

    // Read-only reopen: the kernel refuses writes through its fds.
    const ro = openPinned(lab.intf, { pinRoot: root, readOnly: true });
    try {
      assert.equal(ro.progId, child.progId);
      assert.throws(() => mapUpdate(ro.maps.ctl.fd, u32Key(1), Buffer.alloc(8)), (e: unknown) => e instanceof BpfError && e.errno === ERRNO.EPERM);
    } finally {
      ro.close();
    }

    const r = detach(h);
    h = undefined;
    assert.equal(r.detached, true);
    assert.equal(xdpQuery(lab.ifindex).progId, 0);
    assert.equal(existsSync(join(root, lab.intf)), false, 'pins removed');
  } finally {
    await child?.exit();
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});

test('observe a Katran another process attached: found by its maps, read-only, the kernel refuses writes', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('observe');
  let lab: Lab | undefined;
  let child: ChildBalancer | undefined;
  let h: BalancerHandle | undefined;
  let ours: AttachedBalancer | undefined;
  try {
    lab = newLab(labId('o'));
    child = await spawnChild({ mode: 'foreign', intf: lab.intf, defaultMac: lab.defaultMac, vips: [U] });
    assert.equal(await child.exit(), 0);
    assert.equal(xdpQuery(lab.ifindex).progId, child.progId, 'a netlink attach outlives its process');

    const listed = listBalancers({ pinRoot: root }).find((x) => x.intf === lab!.intf);
    assert.ok(listed, 'listed');
    assert.equal(listed.owner, 'observed');
    assert.equal(listed.progId, child.progId);
    assert.equal(listed.pinDir, undefined);
    const i = listInterfaces({ pinRoot: root }).find((x) => x.name === lab!.intf);
    assert.equal(i?.xdp?.katranAbi, true);
    assert.equal(i?.xdp?.ours, false);

    h = observe(lab.intf);
    assert.equal(h.owner, 'observed');
    assert.equal(h.readOnly, true);
    assert.match(h.readOnlyReason ?? '', /read-only/);
    assert.equal(h.progId, child.progId);
    assert.equal(h.mode, 'native');
    assert.equal(h.sizes.ringSize, 65537);
    assert.ok(h.maps.lruMapping && h.maps.fallbackLru, 'maps found by their (15-character) kernel names');
    assert.ok(h.forwardingCpus.length >= 1);
    const meta = Buffer.alloc(8);
    assert.ok(h.maps.vips.lookup(vipDefinition.encode(U), meta));
    assert.equal(vipMeta.decode(meta).vipNum, U.vipNum);

    await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[1], dst: U.address, dport: U.port, count: 7 }] });
    await settle();
    assert.equal(pair(h, 'stats', U.vipNum).v1, 7, 'the observer sees the counters move');
    // The drop / pass reasons read through the read-only fds too (kt_reasons fits a kernel name).
    const rs = new StatsSampler(h.maps, h.sizes).sample([], []);
    assert.ok(rs.reasons, 'observed: kt_reasons found');
    assert.equal(rs.reasons.pass.reduce((n, r) => n + r.packets, 0), rs.global.xdpPass.v1);
    assert.equal(sinkOf(lab, U.reals[0].address), 7);

    // Our wrapper refuses, and so does the kernel when asked directly through the read-only fds.
    assert.throws(() => h!.maps.vips.delete(vipDefinition.encode(U)), ReadOnlyError);
    for (const m of [h.maps.vips, h.maps.reals, h.maps.rings, h.maps.ctl]) {
      const key = m === h.maps.vips ? vipDefinition.encode(U) : u32Key(1);
      assert.throws(() => mapUpdate(m.fd, key, Buffer.alloc(m.valueBufferSize)), (e: unknown) => e instanceof BpfError && e.errno === ERRNO.EPERM, `kernel refuses a write to ${m.name}`);
    }
    assert.throws(() => detach(h!), ReadOnlyError);

    // attach refuses to replace it without force, and names it as a Katran to observe.
    assert.throws(() => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root }), /not ours.*force|observe it instead/);
    assert.equal(xdpQuery(lab.ifindex).progId, child.progId);
    // forced: replaced atomically; detach then removes ours only, the foreign one is not restored.
    ours = attach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root, force: true });
    assert.notEqual(ours.progId, child.progId);
    assert.ok(ours.warnings.some((w) => /replacing program/.test(w)));
    assert.equal(xdpQuery(lab.ifindex).progId, ours.progId);
    detach(ours);
    ours = undefined;
    assert.equal(xdpQuery(lab.ifindex).progId, 0);
  } finally {
    await child?.exit();
    try { if (ours) detach(ours); } catch (e) { console.error(e); }
    if (lab && h && xdpQuery(lab.ifindex).progId === h.progId) xdpDetach(lab.ifindex, XDP_FLAGS.DRV_MODE, h.progFd);
    h?.close();
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});
