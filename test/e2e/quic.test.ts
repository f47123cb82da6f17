// QUIC connection-id routing and down reals end to end, through the real `bin/katran-tui` on a lab
// balancer (server_id_map sized 4096): QUIC-shaped datagrams (short header, CID v1 naming a mapped
// server id) from the client namespace reach the mapped real at the sink whatever their flow; a
// remapped id moves them; the same flow's id-less packets follow the LRU entry id routing wrote.
// Bad ids, addresses and `real down` on a VIP without udp-flow-migration: one line, nothing changed.
// config export / apply round trip with mappings and down reals; a deleted mapping is cleared in
// server_id_map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/lab.js';
import { u32Key } from '../../src/dataplane/abi.js';
import { closeFd, mapLookup, objGet, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { pinDirFor } from '../../src/dataplane/kernel/pins.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { labId, newLab, requireLab } from './fixture.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'katran-tui');
const VIP = '192.0.2.30:443/udp';
const PLAIN = '192.0.2.31:443/udp';
const REALS = ['198.51.100.81', '198.51.100.82', '198.51.100.83'];

interface Res { code: number; out: string; err: string }

function cli(args: string[], input?: string): Res {
  const r = spawnSync(process.execPath, [bin, ...args], { input: input ?? '', encoding: 'utf8', timeout: 60_000, env: { ...process.env, KATRAN_TUI_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ok(r: Res, what: string): Res {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.err}`);
  return r;
}

function json<T = any>(r: Res, what: string): T { // eslint-disable-line @typescript-eslint/no-explicit-any
  ok(r, what);
  return JSON.parse(r.out.trim()) as T;
}

/** A QUIC short-header payload; with `id`, a v1 CID naming it, else a v0 CID (no server id). */
function quicPayload(id?: number): Buffer {
  const p = Buffer.alloc(24, 0x11);
  p[0] = 0x40;
  if (id === undefined) {
    p[1] = 0x00; // CID version 0: no server id
  } else {
    p[1] = 0x40 | (id >> 10);
    p[2] = (id >> 2) & 0xff;
    p[3] = ((id & 3) << 6) | (p[3] & 0x3f);
  }
  return p;
}

test('QUIC server ids route datagrams to the mapped real in the lab; remaps move them; id-less packets follow the LRU', { timeout: 240_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('q');
  const pins = pinRoot('quic');
  const state = scratchDir('quic-state');
  let lab: Lab | null = null;
  // The LRU is per CPU and the veth runs the balancer on the sender's CPU: the sender (a child,
  // which inherits this affinity) stays on CPU 0 so that every packet of the flow sees one LRU.
  const unpin = pinToCpu(0);
  try {
    lab = newLab(id, { clients: 2 });
    const L = lab;
    const on = ['--pin-root', pins, '--state-dir', state, '--intf', L.intf];
    const run = (...a: string[]) => cli([...on, ...a]);
    const att = json(cli(['--pin-root', pins, '--state-dir', state, 'attach', '--intf', L.intf, '--default-mac', L.defaultMac, '--quic-server-ids', '4096', '--json']), 'attach');
    assert.ok(att.warnings.some((w: string) => /server_id_map holds 4096 entries .*fall back to hashing/.test(w)), att.warnings.join('|'));
    ok(run('vip', 'add', VIP, '--flags', 'quic,udp-flow-migration'), 'vip add quic');
    ok(run('vip', 'add', PLAIN), 'vip add plain');
    for (const r of REALS) ok(run('real', 'add', VIP, r), `real add ${r}`);
    ok(run('real', 'add', PLAIN, REALS[0]), 'real add plain');

    // A flow whose ring real is not the one we map the id to.
    const src = L.clientsV4[0];
    let sport = 45000;
    let chReal = '';
    for (; sport < 45100; sport++) {
      chReal = json(run('trace', `${src}:${sport}`, VIP, '--json'), 'trace').real;
      if (chReal !== REALS[1]) break;
    }
    assert.notEqual(chReal, REALS[1]);
    const r2 = json(run('quic', 'map', 'add', '1024', REALS[1], '--json'), 'quic map add');
    assert.equal(r2.applied, true);
    const list = json(run('quic', 'map', 'list', '--json'), 'quic map list');
    const idx = json(run('vip', 'list', '--json'), 'vip list').vips.find((v: { vip: string }) => v.vip === VIP).reals.find((r: { address: string }) => r.address === REALS[1]).index;
    assert.deepEqual({ intf: list.intf, mappings: list.mappings }, { intf: L.intf, mappings: [{ id: 1024, real: REALS[1], index: idx }] });

    const send = async (sp: number, qid?: number, n = 5) => {
      L.resetSinkCounts();
      const [vaddr, vport] = VIP.split('/')[0].split(':');
      const frames = Array.from({ length: n }, () => L.frame({ src, dst: vaddr, sport: sp, dport: Number(vport), proto: 'udp', payload: quicPayload(qid) }));
      assert.equal(await L.sendFrames(frames), n);
      await new Promise((r) => setTimeout(r, 300));
      return L.sinkCounts().map((c) => [c.dst, c.packets]);
    };
    // 1. the flow without a server id: the ring (and an LRU entry for it)
    assert.deepEqual(await send(sport), [[chReal, 5]], 'step 1: no id: the ring');
    // 2. id 1024 from several flows: all to the mapped real
    for (const sp of [sport, sport + 200, sport + 201]) assert.deepEqual(await send(sp, 1024), [[REALS[1], 5]], `flow ${sp}`);
    // 3. the same flow without a server id again: the LRU entry id routing rewrote
    assert.deepEqual(await send(sport), [[REALS[1], 5]], 'step 3: no id: the LRU entry id routing rewrote');
    // 4. remap: id 1024 moves, and so does the flow's LRU entry
    ok(run('quic', 'map', 'add', '1024', REALS[2]), 'remap');
    assert.deepEqual(await send(sport, 1024), [[REALS[2], 5]], 'step 4: remapped id');
    assert.deepEqual(await send(sport), [[REALS[2], 5]], 'step 4: no id after the remap');

    // trace with a QUIC packet description: routed by id, or why it fell back; confirmed on the clone
    const t1 = json(run('trace', `${src}:${sport + 300}`, VIP, '--cid', '4100000000000000', '--json'), 'trace id 1024');
    assert.deepEqual([t1.action, t1.real, t1.confirmedByKernel, t1.quic], ['TX', REALS[2], true, { serverId: 1024, routed: true, why: 'routed by id' }]);
    assert.equal(t1.ringSlot, null);
    const t2 = json(run('trace', `${src}:${sport + 300}`, VIP, '--cid', '44e2000000000000', '--json'), 'trace id 5000');
    assert.deepEqual([t2.action, t2.confirmedByKernel, t2.quic.serverId, t2.quic.routed], ['TX', true, 5000, false]);
    assert.match(t2.quic.why, /beyond server_id_map's 4096 entries/);
    assert.equal(t2.real, json(run('trace', `${src}:${sport + 300}`, VIP, '--json'), 'trace no id').real, 'fell back to the ring');
    const t3 = json(run('trace', `${src}:${sport + 300}`, VIP, '--quic-header', 'initial', '--cid', '4100000000000000', '--json'), 'trace initial');
    assert.deepEqual([t3.confirmedByKernel, t3.quic.routed, t3.quic.why], [true, false, 'initial']);
    const t4 = run('trace', `${src}:${sport + 300}`, VIP, '--cid', 'zz');
    assert.equal(t4.code, 2, 'bad input: exit 2');
    assert.match(t4.err, /^katran-tui: bad connection id "zz": expected 1 to 20 bytes in hex/);

    // Bad input: one line, exit 1 or 2, nothing changed
    const snap = () => ok(run('config', 'export', '--json'), 'export').out + ok(run('quic', 'map', 'list', '--json'), 'list').out;
    const before = snap();
    for (const a of [
      ['quic', 'map', 'add', '0', REALS[0]], ['quic', 'map', 'add', '4096', REALS[0]], ['quic', 'map', 'add', 'x12', REALS[0]],
      ['quic', 'map', 'add', '5', '198.51.100.300'], ['quic', 'map', 'del', '77'], ['quic', 'map', 'del', '0'],
      ['real', 'down', PLAIN, REALS[0]], ['real', 'down', VIP, '198.51.100.99'],
    ]) {
      const r = run(...a);
      assert.ok(r.code === 1 || r.code === 2, `${a.join(' ')}: exit ${r.code}`);
      assert.equal(r.err.trim().split('\n').length, 1, `${a.join(' ')}: one line: ${r.err}`);
      assert.match(r.err, /^katran-tui: /);
    }
    assert.match(run('real', 'down', PLAIN, REALS[0]).err, /has no udp-flow-migration flag/);
    assert.match(run('quic', 'map', 'add', '4096', REALS[0]).err, /from 1 to 4095/);
    assert.equal(snap(), before, 'bad input changed nothing');

    // Down reals and a second mapping, then the config round trip
    const d = run('real', 'down', VIP, REALS[0]);
    ok(d, 'real down');
    assert.match(d.err, /the ring is unchanged, so the hash may pick/);
    ok(run('quic', 'map', 'add', '7', REALS[0]), 'map 7');
    const doc = json(run('config', 'export', '--json'), 'export');
    assert.deepEqual(doc.quicMappings, [{ id: 7, real: REALS[0] }, { id: 1024, real: REALS[2] }]);
    const qv = doc.vips.find((v: { vip: string }) => v.vip === VIP);
    assert.deepEqual(qv.reals.find((r: { address: string }) => r.address === REALS[0]), { address: REALS[0], weight: 1, down: true });
    assert.match(ok(cli([...on, 'config', 'apply', '-'], JSON.stringify(doc)), 'apply same').out, /no changes/, 'apply of the export: no changes');
    const edited = { ...doc, quicMappings: [{ id: 1024, real: REALS[2] }] };
    qv.reals = qv.reals.map((r: { address: string; weight: number }) => ({ address: r.address, weight: r.weight }));
    const ap = cli([...on, 'config', 'apply', '-'], JSON.stringify(edited));
    ok(ap, 'apply edited');
    assert.match(ap.out, /^- quic 7 \(198\.51\.100\.81\)$/m);
    assert.match(ap.out, /^~ real 192\.0\.2\.30:443\/udp 198\.51\.100\.81 up$/m);
    assert.deepEqual(json(run('quic', 'map', 'list', '--json'), 'list').mappings.map((m: { id: number }) => m.id), [1024]);
    // server_id_map[7] is cleared in the kernel too; [1024] holds REALS[2]'s index
    const fd = objGet(join(pinDirFor(pins, L.intf), 'server_id_map'), true);
    try {
      const v = Buffer.alloc(4);
      mapLookup(fd, u32Key(7), v, 'server_id_map');
      assert.equal(v.readUInt32LE(0), 0);
      mapLookup(fd, u32Key(1024), v, 'server_id_map');
      assert.notEqual(v.readUInt32LE(0), 0);
    } finally {
      closeFd(fd);
    }
    // stats --json carries the QUIC counters
    const st = json(cli([...on, 'stats', '--once', '--interval', '200', '--json']), 'stats');
    assert.ok(st.quic.cid_routed >= 20, JSON.stringify(st.quic));
    assert.ok(st.quic.cid_v0 === 0 && st.quic.ch_routed >= 15, JSON.stringify(st.quic));
  } finally {
    unpin();
    try {
      cli(['--pin-root', pins, '--state-dir', state, '--intf', lab?.intf ?? 'none', 'detach']);
      lab?.destroy();
    } finally {
      // detach removes the interface's pin dir, not the pin root attach made for it
      rmSync(pins, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  }
});
