// kill -9 in the middle of a change: a child process opens the balancer from pins, starts a large
// change (a new VIP with 100 reals, and an existing VIP's reals replaced: whole rings rewritten in
// batches) and is SIGKILLed at a given point (before the first kernel write, between ring batches,
// after the kernel is done but before the state file, after the state file). The next open finds
// the pending intent, finishes the change and says so; afterwards the kernel maps and the state
// file hold the change completely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlPlane } from '../../src/dataplane/control/control.js';
import { type DesiredConfig, type DesiredState } from '../../src/dataplane/control/desired.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { objPin } from '../../src/dataplane/kernel/libbpf.js';
import { parseVip, vipDefinition, vipMeta } from '../../src/dataplane/abi.js';
import { requireBpf, pinRoot, scratchDir } from '../helpers/env.js';
import { loadTestBalancer } from './control-helpers.js';
import { CRASH_MAPS, handleFromPins } from './crash-child.js';

const here = dirname(fileURLToPath(import.meta.url));
const A = parseVip('192.0.2.50:80/tcp');
const B = parseVip('192.0.2.51:80/tcp');

const before: DesiredConfig = {
  mac: '02:00:00:00:00:dd',
  vips: [{ key: A, reals: Array.from({ length: 10 }, (_, i) => ({ address: `198.51.100.${i + 1}`, weight: 1 })) }],
};
const after: DesiredConfig = {
  mac: '02:00:00:00:00:ee',
  vips: [
    { key: A, reals: Array.from({ length: 20 }, (_, i) => ({ address: `198.51.100.${i + 101}`, weight: 1 + (i % 3) })) },
    { key: B, hash: 'maglev', reals: Array.from({ length: 100 }, (_, i) => ({ address: `198.51.100.${(i % 100) + 1}`, weight: 1 })) },
  ],
};

/** The kernel holds `s` completely: vip_map, and each VIP's ring equal to the ring its reals make. */
function assertKernelHolds(cp: ControlPlane, s: DesiredState, what: string): void {
  const h = cp.handle;
  assert.equal(h.maps.vips.keys().length, s.vips.length, `${what}: vip_map size`);
  for (const v of s.vips) {
    const meta = Buffer.alloc(8);
    assert.ok(h.maps.vips.lookup(vipDefinition.encode(v.key), meta), `${what}: ${v.key.address} in vip_map`);
    assert.equal(vipMeta.decode(meta).vipNum, v.vipNum);
    assert.deepEqual(cp.readRing(v.vipNum), cp.desiredRing(v, s), `${what}: ring of ${v.key.address}`);
  }
  assert.equal(cp.getDefaultMac(), s.mac);
}

const POINTS: [step: string, nth: number][] = [
  ['real', 5], // some new reals entries written (first: later rounds find the indexes already filled)
  ['intent', 1], // intent on disk, no kernel write yet
  ['ring-batch', 3], // in the middle of a ring rewrite
  ['ring-batch', 9], // in the middle of the second VIP's ring
  ['vip-add', 1], // B in vip_map, A's update not yet / MAC not yet
  ['applied', 1], // kernel done, state file not yet written
  ['state', 1], // state file written, intent not cleared
];

test('kill -9 at any point of a large change: the next open finishes it, kernel and state consistent', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer();
  const pins = pinRoot('crash');
  mkdirSync(pins, { recursive: true });
  try {
    for (const name of CRASH_MAPS) objPin(lb.maps.all.get(name)!.fd, join(pins, name));
    const cfgPath = join(scratchDir('crash-cfg'), 'after.json');
    writeFileSync(cfgPath, JSON.stringify(after));
    for (const [step, nth] of POINTS) {
      const stateDir = scratchDir(`crash-${step}-${nth}`);
      // Start from `before`, committed by this process.
      {
        const store = StateStore.open(stateDir, { write: true });
        const handle = handleFromPins(pins);
        const cp = ControlPlane.open(handle, store);
        cp.apply(before);
        cp.apply(before); // idempotent
        store.close();
        handle.close();
      }
      const oldState = readFileSync(join(stateDir, 'state.json'), 'utf8');
      const r = spawnSync(process.execPath, [join(here, 'crash-child.js'), pins, stateDir, step, String(nth), cfgPath], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.signal, 'SIGKILL', `child killed at ${step} #${nth}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`killing at ${step} #${nth}`));

      // A reader first (no lock, repairs nothing): it reports the pending change and lists what the
      // kernel holds: every VIP in vip_map, every filled slot of each ring.
      {
        const ro = StateStore.open(stateDir, { write: false });
        const rh = handleFromPins(pins);
        try {
          const rcp = ControlPlane.open(rh, ro);
          const p = rcp.pendingChange();
          assert.equal(p?.op, 'apply-config', `a reader after a kill at ${step} #${nth} reports the pending change`);
          assert.match(p!.message, /run `katran-tui recover` or any change to finish it/);
          const listed = rcp.vips();
          const inKernel = rcp.kernelLists().vips;
          for (const k of inKernel) {
            const v = listed.find((x) => x.vipNum === k.vipNum);
            assert.ok(v, `${step} #${nth}: vip_num ${k.vipNum} in vip_map is listed`);
            const filled = rcp.readRing(k.vipNum).reduce((a, x) => a + (x ? 1 : 0), 0);
            assert.equal(v.reals.reduce((a, r) => a + r.ringSlots, 0), filled, `${step} #${nth}: every filled slot of ${v.id}'s ring is listed`);
          }
        } finally {
          rh.close();
        }
      }
      const store = StateStore.open(stateDir, { write: true }); // the dead child's lock is taken over
      assert.ok(store.pendingIntent(), 'the intent was left pending');
      if (step !== 'state') assert.equal(readFileSync(join(stateDir, 'state.json'), 'utf8'), oldState, 'state file still the old one');
      const handle = handleFromPins(pins);
      const cp = ControlPlane.open(handle, store);
      try {
        assert.match(cp.recovered ?? '', /an interrupted change apply-config .* was finished: the kernel and the state file now hold it/);
        assert.match(cp.recoveredLines[0], /^took over the writer lock of pid \d+, which is dead$/, 'the dead child\'s lock taken over, said');
        assert.equal(cp.pendingChange(), null);
        assert.equal(store.pendingIntent(), null);
        const s = cp.state();
        assert.deepEqual(s, store.read<DesiredState>());
        assert.equal(s.vips.length, 2);
        assert.equal(s.mac, '02:00:00:00:00:ee');
        assertKernelHolds(cp, s, `after a kill at ${step} #${nth}`);
        assert.deepEqual(store.changeLog().slice(-1).map((e) => [e.op, e.new]), [['recover apply-config', 'finished']]);
        // Back to `before` for the next round (also shows the balancer takes changes again)
        cp.apply(before);
        assertKernelHolds(cp, cp.state(), 'back to before');
      } finally {
        store.close();
        handle.close();
      }
    }
  } finally {
    rmSync(pins, { recursive: true, force: true });
    lb.close();
  }
});
