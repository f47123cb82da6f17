// Attach / detach / upgrade / openPinned on the lab's interface, in one process, plus the errors an
// operator meets: missing interface, not root, a foreign XDP program, stale pins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import type { Lab } from '../../src/lab/lab.js';
import {
  BpfError, BpfObject, XDP_FLAGS, closeFd, mapInfo, progFdById, xdpAttach, xdpDetach, xdpQuery,
} from '../../src/dataplane/kernel/libbpf.js';
import { attach, checkAttach } from '../../src/dataplane/balancer/attach.js';
import { BpffsMissingError, InputError, InterfaceMissingError, NoBalancerError } from '../../src/dataplane/errors.js';
import { detach, detachPinned } from '../../src/dataplane/balancer/detach.js';
import { listBalancers } from '../../src/dataplane/balancer/list.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { upgrade } from '../../src/dataplane/balancer/upgrade.js';
import { builtObject, bundledObject } from '../../src/dataplane/kernel/paths.js';
import { pinRoot, readableCheckout } from '../helpers/env.js';
import { labId, lruEntries, newLab, pair, programVip, requireLab, settle, sinkOf, type TestVip } from './fixture.js';

const U: TestVip = { address: '192.0.2.20', port: 7000, proto: 'udp', vipNum: 5, reals: [{ index: 9, address: '198.51.100.20' }] };

function foreignProgram(): { obj: BpfObject; fd: number } {
  const obj = BpfObject.open(builtObject('bench/floor.bpf.c'));
  obj.load();
  return { obj, fd: obj.program('xdp_floor')!.fd };
}

test('errors: a missing interface, a bad mode or MAC, and a non-root user each say so', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('errors');
  assert.throws(() => attach({ intf: 'ktnosuchif0', defaultMac: '02:00:00:00:00:01', pinRoot: root }),
    (e: unknown) => e instanceof InterfaceMissingError && e.op === 'attach to' && e.object === 'interface ktnosuchif0' && /ktnosuchif0 does not exist/.test(e.message));
  assert.throws(() => openPinned('ktnosuchif0', { pinRoot: root }), (e: unknown) => e instanceof NoBalancerError && /no balancer pinned for ktnosuchif0/.test(e.message));
  assert.throws(() => attach({ intf: 'lo', defaultMac: '02:00:00:00:00:01', pinRoot: root, mode: 'turbo' as never }), (e: unknown) => e instanceof InputError && /auto, native or generic/.test(e.message));
  assert.throws(() => attach({ intf: 'lo', defaultMac: 'not-a-mac', pinRoot: root }), (e: unknown) => e instanceof InputError && /MAC/i.test(e.message));
  assert.throws(() => attach({ intf: 'lo', defaultMac: '02:00:00:00:00:01', pinRoot: '/tmp/not-bpffs-kt' }), (e: unknown) => e instanceof BpffsMissingError && /not on bpffs/.test(e.message));
  // Non-root: a child that drops to nobody before calling attach.
  // (from a readable copy: user nobody may not be able to read this checkout, e.g. under /root)
  const attachJs = join(readableCheckout(), 'dist', 'src', 'dataplane', 'balancer', 'attach.js');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    `process.setgid(65534); process.setuid(65534); const m = await import(${JSON.stringify(attachJs)}); try { m.attach({ intf: 'lo', defaultMac: '02:00:00:00:00:01', pinRoot: ${JSON.stringify(root)} }); } catch (e) { console.log(e.name + ': ' + e.message); }`],
  { encoding: 'utf8', timeout: 20_000 });
  assert.match(r.stdout, /^NotRootError: .*not root/, r.stderr);
  assert.equal(existsSync(root), false, 'nothing pinned by the failed attempts');
});

test('attach pins everything 0700 with kt_meta; refuses a foreign program unless forced; detach removes only ours', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('attach');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  const foreign = foreignProgram();
  try {
    lab = newLab(labId('a'));
    // Not ours there: refused, nothing changed.
    xdpAttach(lab.ifindex, foreign.fd, XDP_FLAGS.UPDATE_IF_NOEXIST | XDP_FLAGS.DRV_MODE);
    const foreignId = xdpQuery(lab.ifindex).progId;
    assert.throws(() => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root }), /xdp_floor.*not ours.*force/);
    assert.equal(xdpQuery(lab.ifindex).progId, foreignId);
    assert.throws(() => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root, force: true, mode: 'generic' }), /cannot swap across modes/);
    assert.equal(existsSync(join(root, lab.intf)), false);

    // Forced: replaced (auto keeps the foreign program's native mode).
    const a = attach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root, force: true });
    h = a;
    assert.equal(a.mode, 'native');
    assert.equal(xdpQuery(lab.ifindex).progId, a.progId);
    const dir = join(root, lab.intf);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const pins = readdirSync(dir);
    for (const p of ['prog', 'kt_meta', 'vip_map', 'reals', 'ch_rings', 'stats', 'reals_stats', 'ctl_array', 'lru_mapping', 'fallback_cache']) assert.ok(pins.includes(p), `pin ${p}`);
    assert.equal(a.pinDir, dir);
    assert.ok(a.attachedAt && Math.abs(Date.now() - a.attachedAt) < 60_000);
    assert.equal(a.ifindex, lab.ifindex);
    // A second attach is refused: it is ours and attached.
    assert.throws(() => attach({ intf: lab!.intf, defaultMac: lab!.defaultMac, pinRoot: root }), /already attached/);

    // Someone replaces ours: openPinned says so; detach leaves theirs and removes our pins.
    xdpAttach(lab.ifindex, foreign.fd, XDP_FLAGS.REPLACE | XDP_FLAGS.DRV_MODE, a.progFd);
    assert.throws(() => openPinned(lab!.intf, { pinRoot: root }), /another XDP program \(id \d+ "xdp_floor"\) replaced ours/);
    const d = detach(a);
    h = undefined;
    assert.equal(d.detached, false);
    assert.ok(d.messages.some((m) => /not ours.*left attached/.test(m)));
    assert.equal(xdpQuery(lab.ifindex).progId, foreignId, 'the foreign program stays');
    assert.equal(existsSync(dir), false, 'our pins are gone');
    xdpDetach(lab.ifindex, XDP_FLAGS.DRV_MODE, foreign.fd);

    // Generic mode on request; stale pins (our program detached behind our back) are cleaned by detachPinned.
    const g = attach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root, mode: 'generic' });
    h = g;
    assert.equal(g.mode, 'generic');
    assert.equal(xdpQuery(lab.ifindex).skbProgId, g.progId);
    xdpDetach(lab.ifindex, XDP_FLAGS.SKB_MODE, g.progFd);
    g.close();
    h = undefined;
    assert.throws(() => openPinned(lab!.intf, { pinRoot: root }), /no XDP program is attached any more/);
    const s = detachPinned(lab.intf, { pinRoot: root });
    assert.equal(s.detached, false);
    assert.equal(existsSync(dir), false);

    // MTU headroom: the lab's 1600 is enough; 1500 earns a warning.
    assert.deepEqual(checkAttach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root }), []);
    execFileSync('ip', ['link', 'set', lab.intf, 'mtu', '1500']);
    assert.ok(checkAttach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root }).some((w) => /MTU 1500.*1540/.test(w)));
  } finally {
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    foreign.obj.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('upgrade swaps the program atomically under traffic: maps kept, no packet lost, pins and status follow', async (t) => {
  if (!(await requireLab(t))) return;
  const root = pinRoot('upgrade');
  let lab: Lab | undefined;
  let h: BalancerHandle | undefined;
  try {
    lab = newLab(labId('u'));
    const a = attach({ intf: lab.intf, defaultMac: lab.defaultMac, pinRoot: root });
    h = a;
    programVip(a, U);
    const mapIds = new Map([...a.maps.all].map(([n, m]) => [n, mapInfo(m.fd).id]));
    const run = lab.startTraffic({ ratePps: 300, durationMs: 10_000, flows: [{ proto: 'udp', src: lab.clientsV4[2], sport: 43000, dst: U.address, dport: U.port, count: 450 }] });
    await settle(500);
    const oldTag = a.progTag;
    const oldId = a.progId;
    const up = upgrade(a, builtObject('test/e2e/balancer_ttl63.bpf.c'));
    h = up;
    assert.notEqual(up.progId, oldId, 'a new program');
    assert.notEqual(up.progTag, oldTag, 'another build: another tag');
    assert.equal(xdpQuery(lab.ifindex).progId, up.progId);
    const rep = await run.done;
    assert.equal(rep.flows[0].packets, 450);
    await settle();
    assert.equal(sinkOf(lab, U.reals[0].address), 450, 'no packet lost across the swap');
    for (const [n, m] of up.maps.all) if (mapIds.has(n)) assert.equal(mapInfo(m.fd).id, mapIds.get(n), `map ${n} kept`);
    assert.equal(pair(up, 'stats', U.vipNum).v1, 450, 'counters continue across the swap');
    assert.ok(lruEntries(up, { src: lab.clientsV4[2], dst: U.address, sport: 43000, dport: U.port, proto: 'udp' }).length >= 1, 'LRU kept');
    // The old program is gone from the kernel once nothing holds it.
    assert.throws(() => closeFd(progFdById(oldId)), /ENOENT|No such/);
    // The pins follow: a reopen finds the new program; status says it is not the bundled build.
    const re = openPinned(lab.intf, { pinRoot: root });
    assert.equal(re.progId, up.progId);
    re.close();
    const st = listBalancers({ pinRoot: root }).find((b) => b.intf === lab!.intf);
    assert.deepEqual([st?.progId, st?.tag, st?.differsFromBundled], [up.progId, up.progTag, true]);
    // And back to the bundled build.
    const back = upgrade(up, bundledObject('balancer'));
    h = back;
    assert.equal(back.progTag, oldTag);
    assert.equal(listBalancers({ pinRoot: root }).find((b) => b.intf === lab!.intf)?.differsFromBundled, false);
    await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[2], sport: 43000, dst: U.address, dport: U.port, count: 5 }] });
    await settle();
    assert.equal(sinkOf(lab, U.reals[0].address), 455);
    detach(back);
    h = undefined;
    assert.equal(xdpQuery(lab.ifindex).progId, 0);
  } finally {
    try { if (h) detach(h); } catch (e) { console.error(e); }
    lab?.destroy();
    rmSync(root, { recursive: true, force: true });
  }
});
