// The interface under a running balancer goes away or is renamed (issue 7): the dataplane reports
// it with every sample and in info, keeps sampling the maps, and re-attaches the pinned program (the
// same maps: VIPs and LRU survive) once an interface of that name is back. On a lab of this run;
// only the lab's own links are deleted, recreated and renamed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { createHost } from '../../src/dataplane/balancer/host.js';
import type { Lab } from '../../src/lab/lab.js';
import { ifNameToIndex, mapInfo, xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import { listBalancers } from '../../src/dataplane/balancer/list.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { readMeta } from '../../src/dataplane/kernel/pins.js';
import type { Dataplane, VipKey } from '../../src/dataplane/types.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { labId, newLab, requireLab, settle, sinkOf } from './fixture.js';

const VIP: VipKey = { address: '192.0.2.30', port: 7100, proto: 'udp' };
const REAL = '198.51.100.30';

function mapIds(dp: Dataplane): Map<string, number> {
  return new Map([...(dp as Balancer).handle.maps.all].map(([n, m]) => [n, mapInfo(m.fd).id]));
}

async function send(lab: Lab, count: number, sport = 44000): Promise<void> {
  const r = await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[1], sport, dst: VIP.address, dport: VIP.port, count }] });
  assert.deepEqual(r.errors, []);
  await settle();
}

test('interface deleted under a running balancer: gone in every sample, maps still sampled; recreated: re-attach keeps the maps and forwards again', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('ifgone');
  const stateDir = scratchDir('ifgone-state');
  let lab: Lab | undefined;
  let dp: Dataplane | undefined;
  try {
    lab = newLab(labId('g'));
    const host = createHost({ pinRoot: root, stateDir });
    dp = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac }).dataplane!;
    dp.addVip({ ...VIP });
    dp.addReal(VIP, { address: REAL });
    const progId = dp.info().progId;
    const ids = mapIds(dp);
    const oldIndex = lab.ifindex;
    dp.sample();
    await send(lab, 20);
    assert.equal(sinkOf(lab, REAL), 20);
    assert.equal(dp.sample().interfaceState?.status, 'ok');
    assert.equal(dp.info().interfaceState?.status, 'ok');

    // ip link del: the attachment goes with the interface; program and maps stay.
    lab.deleteLink();
    const s1 = dp.sample();
    assert.equal(s1.interfaceState?.status, 'gone');
    assert.equal(s1.interfaceState?.intf, lab.intf);
    assert.equal(s1.interfaceState?.ifindex, oldIndex);
    assert.equal(s1.interfaceState?.canReattach, false);
    assert.equal(s1.interfaceState?.reappeared, undefined);
    assert.match(s1.interfaceState!.message, new RegExp(`interface ${lab.intf} \\(ifindex ${oldIndex}\\) is gone`));
    assert.equal(s1.vips[0].packets, 20, 'the maps are still sampled');
    await settle(300);
    const s2 = dp.sample();
    assert.equal(s2.global.xdpTotal.r1, 0, 'no packets: rates drop to 0');
    assert.equal(s2.vips[0].pps, 0);
    const info = dp.info();
    assert.equal(info.interfaceState?.status, 'gone');
    assert.equal(info.progId, progId);
    assert.throws(() => dp!.reattach({ dryRun: true }), /is gone and no interface .* exists: create it first/);
    // status and a fresh open say so too; the pins are opened detached for reattach.
    const st = listBalancers({ pinRoot: root }).find((b) => b.pinDir === join(root, lab!.intf));
    assert.equal(st?.interfaceState?.status, 'gone');
    assert.throws(() => openPinned(lab!.intf, { pinRoot: root }), /no longer exists.*katran-tui reattach --intf/);

    // An interface of that name comes back (another ifindex): offered, not done by itself.
    const newIndex = lab.recreateLink();
    assert.notEqual(newIndex, oldIndex);
    const s3 = dp.sample();
    assert.equal(s3.interfaceState?.status, 'gone');
    assert.deepEqual(s3.interfaceState?.reappeared, { ifindex: newIndex });
    assert.equal(s3.interfaceState?.canReattach, true);
    assert.equal(xdpQuery(newIndex).progId, 0, 'nothing attached to the new interface by itself');
    const dry = dp.reattach({ dryRun: true });
    assert.equal(dry.applied, false);
    assert.match(dry.summary[0], new RegExp(`program ${progId} .* to ${lab.intf} \\(ifindex ${newIndex}, was ${oldIndex}\\)`));
    assert.equal(xdpQuery(newIndex).progId, 0, 'the dry run attaches nothing');

    const r = dp.reattach();
    assert.equal(r.applied, true);
    assert.equal(xdpQuery(newIndex).progId, progId, 'the same program, on the new ifindex');
    assert.equal(readMeta(join(root, lab.intf))?.ifindex, newIndex, 'kt_meta records the new ifindex');
    const after = dp.info();
    assert.equal(after.ifindex, newIndex);
    assert.equal(after.interfaceState?.status, 'ok');
    assert.equal(dp.sample().interfaceState?.status, 'ok');
    assert.deepEqual(mapIds(dp), ids, 'the same maps');
    assert.deepEqual(dp.vips().map((v) => [v.id, v.reals.map((x) => x.address)]), [['192.0.2.30:7100/udp', [REAL]]], 'the VIP survived');
    assert.ok(dp.changeLog(5).some((e) => e.op === 'reattach'));
    await send(lab, 15, 44001);
    assert.equal(sinkOf(lab, REAL), 35, 'forwarding again');
    assert.equal(dp.sample().vips[0].packets, 35, 'counters continue in the same maps');
    assert.throws(() => dp!.reattach({ dryRun: true }), /nothing to re-attach/);

    // A fresh open (another console) finds it attached where kt_meta says.
    dp.close();
    dp = host.open(lab.intf);
    assert.equal(dp.info().progId, progId);
    assert.equal(dp.info().interfaceState?.status, 'ok');
    assert.equal(dp.vips().length, 1);
  } finally {
    try { if (dp) dp.detach(); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('CLI-style re-attach: a balancer whose interface was recreated while no console ran opens detached and re-attaches', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('ifback');
  const stateDir = scratchDir('ifback-state');
  let lab: Lab | undefined;
  let dp: Dataplane | undefined;
  try {
    lab = newLab(labId('k'));
    const host = createHost({ pinRoot: root, stateDir });
    dp = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac }).dataplane!;
    dp.addVip({ ...VIP });
    dp.addReal(VIP, { address: REAL });
    const progId = dp.info().progId;
    dp.close();
    dp = undefined;
    lab.deleteLink();
    const newIndex = lab.recreateLink();
    assert.throws(() => host.open(lab!.intf), /recreated and our program is not on it/);
    dp = host.open(lab.intf, { detached: true });
    assert.equal(dp.info().interfaceState?.canReattach, true);
    dp.reattach();
    assert.equal(xdpQuery(newIndex).progId, progId);
    await send(lab, 10);
    assert.equal(sinkOf(lab, REAL), 10);
  } finally {
    try { if (dp) dp.detach(); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('interface renamed under a running balancer: still attached, the new name is noticed and opens it (pins found by ifindex)', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('ifren');
  const stateDir = scratchDir('ifren-state');
  let lab: Lab | undefined;
  let dp: Dataplane | undefined;
  const id = labId('n');
  const renamed = `kt${id}r`;
  try {
    lab = newLab(id);
    const host = createHost({ pinRoot: root, stateDir });
    dp = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac }).dataplane!;
    dp.addVip({ ...VIP });
    dp.addReal(VIP, { address: REAL });
    const progId = dp.info().progId;
    const ifindex = lab.ifindex;
    // A rename needs the link down; the attachment stays (same ifindex).
    execFileSync('ip', ['link', 'set', lab.intf, 'down']);
    execFileSync('ip', ['link', 'set', lab.intf, 'name', renamed]);
    execFileSync('ip', ['link', 'set', renamed, 'up']);
    assert.equal(ifNameToIndex(renamed), ifindex);
    const s = dp.sample();
    assert.deepEqual(
      [s.interfaceState?.status, s.interfaceState?.from, s.interfaceState?.intf, s.interfaceState?.ifindex],
      ['renamed', lab.intf, renamed, ifindex]);
    assert.match(s.interfaceState!.message, new RegExp(`renamed ${lab.intf} -> ${renamed}`));
    assert.equal(dp.info().intf, renamed, 'info follows the new name');
    await send(lab, 12);
    assert.equal(sinkOf(lab, REAL), 12, 'forwarding throughout');

    // Opens by the new name find the pins under the old name (by the ifindex in kt_meta) and the
    // desired state with them; the old name says where it went.
    const ro = host.open(renamed, { readOnly: true });
    try {
      const i = ro.info();
      assert.equal(i.progId, progId);
      assert.equal(i.intf, renamed);
      assert.equal(i.pinDir, join(root, lab.intf));
      assert.equal(i.interfaceState?.status, 'renamed');
      assert.deepEqual(ro.vips().map((v) => v.id), ['192.0.2.30:7100/udp']);
    } finally {
      ro.close();
    }
    assert.throws(() => openPinned(lab!.intf, { pinRoot: root }), new RegExp(`renamed to ${renamed}.*open it as ${renamed}`));
    const st = listBalancers({ pinRoot: root }).find((b) => b.progId === progId);
    assert.deepEqual([st?.intf, st?.interfaceState?.status, st?.mode], [renamed, 'renamed', 'native']);
    assert.throws(() => dp!.reattach({ dryRun: true }), /nothing to re-attach/);

    // Writes keep working, and detach finds the interface by its new name.
    dp.addReal(VIP, { address: '198.51.100.31' });
    const d = dp.detach();
    dp = undefined;
    assert.equal(d.applied, true);
    assert.equal(xdpQuery(ifindex).progId, 0);
  } finally {
    try { if (dp) dp.detach(); } catch (e) { console.error(e); }
    try { if (ifNameToIndex(renamed)) execFileSync('ip', ['link', 'del', renamed]); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
