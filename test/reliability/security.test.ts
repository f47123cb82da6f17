// Security (issue 7): pins, the state directory and its files are root-only after a real attach
// and real changes, whatever the umask; --readonly and observe mode cannot write, refused by the
// control plane (ReadOnlyError for every write op, nothing written to the kernel or the state
// directory) AND by the kernel (fds opened with BPF_F_RDONLY: update, delete, batch update and
// batch delete each fail with EPERM / EACCES on every map); the product opens no network listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import { observe, openPinned } from '../../src/dataplane/balancer/open.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { ControlPlane } from '../../src/dataplane/control/control.js';
import { StateStore } from '../../src/dataplane/control/state.js';
import { ReadOnlyError } from '../../src/dataplane/types.js';
import { BpfError, ERRNO, closeFd, mapDelete, mapDeleteBatch, mapUpdate, mapUpdateBatch, objGet } from '../../src/dataplane/kernel/libbpf.js';
import { MAP } from '../../src/dataplane/abi.js';
import { pinRoot, requireBpf, scratchDir } from '../helpers/env.js';
import { delVeth, dirSnapshot, kernelSnapshot, makeVeth, shortName, socketsOf, startChild, killChild } from './util.js';

const VIP = { address: '192.0.2.10', port: 80, proto: 'tcp' as const };
const VIP2 = { address: '192.0.2.11', port: 53, proto: 'udp' as const };

interface Setup {
  intf: string;
  veth: string;
  root: string;
  stateDir: string;
  h: BalancerHandle;
}

/** A veth, our balancer attached (generic mode) with its pins, and a control plane with state. */
function setUp(tag: string): Setup {
  const veth = shortName(tag);
  const intf = makeVeth(veth);
  const root = pinRoot(tag);
  const stateDir = join(scratchDir(tag), 'state');
  let h: BalancerHandle | undefined;
  try {
    h = attach({ intf, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot: root, lruSize: 1024 });
    return { intf, veth, root, stateDir, h };
  } catch (e) {
    delVeth(veth);
    throw e;
  }
}

function tearDown(s: Setup | undefined): void {
  if (!s) return;
  try { detach(s.h); } catch { /* already */ }
  delVeth(s.veth);
  rmSync(s.root, { recursive: true, force: true });
}

function modes(dir: string): { path: string; mode: number; dir: boolean }[] {
  const out: { path: string; mode: number; dir: boolean }[] = [];
  const walk = (p: string): void => {
    const st = lstatSync(p);
    out.push({ path: p, mode: st.mode & 0o7777, dir: st.isDirectory() });
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

test('pins and the state directory are root-only (0700 / 0600) after a real attach and changes, even with umask 000', async (t) => {
  if (!(await requireBpf(t))) return;
  const old = process.umask(0);
  let s: Setup | undefined;
  let store: StateStore | undefined;
  try {
    s = setUp('kp');
    store = StateStore.open(s.stateDir, { write: true });
    const cp = ControlPlane.open(s.h, store);
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.10', weight: 1 });
    cp.addReal(VIP, { address: '198.51.100.11', weight: 2 });
    cp.setDefaultMac('02:00:00:00:00:02');
    const pins = modes(s.root);
    const stateFiles = modes(s.stateDir);
    assert.ok(pins.length > 5, `pins under ${s.h.pinDir}: ${pins.map((p) => p.path).join(', ')}`);
    assert.ok(stateFiles.some((f) => f.path.endsWith('state.json')) && stateFiles.some((f) => f.path.endsWith('changes.jsonl')), 'state.json and changes.jsonl were written');
    const bad = [...pins, ...stateFiles].filter((f) => f.mode !== (f.dir ? 0o700 : 0o600));
    assert.deepEqual(bad.map((f) => `${f.path} ${f.mode.toString(8)}`), [], 'every pin / state dir is 0700 and every file 0600');
    console.log(`root-only: ${pins.length} pin entries and ${stateFiles.length} state entries checked (umask 000)`);
  } finally {
    process.umask(old);
    store?.close();
    tearDown(s);
  }
});

/** Every write op of the control plane, each with a valid request (so only read-only can refuse it). */
function writeOps(cp: ControlPlane): [string, () => unknown][] {
  return [
    ['addVip', () => cp.addVip({ ...VIP2 })],
    ['removeVip', () => cp.removeVip(VIP)],
    ['setVipFlags', () => cp.setVipFlags(VIP, ['no-sport'])],
    ['addReal', () => cp.addReal(VIP, { address: '198.51.100.12', weight: 1 })],
    ['removeReal', () => cp.removeReal(VIP, '198.51.100.10')],
    ['setRealWeight', () => cp.setRealWeight(VIP, '198.51.100.10', 5)],
    ['setDefaultMac', () => cp.setDefaultMac('02:00:00:00:00:03')],
    ['apply', () => cp.apply({ mac: '02:00:00:00:00:04', vips: [{ key: VIP2, reals: [{ address: '198.51.100.13', weight: 1 }] }] })],
    ['repair', () => cp.repair()],
  ];
}

test('--readonly and observe mode: every control-plane write op is refused with ReadOnlyError, nothing changes', async (t) => {
  if (!(await requireBpf(t))) return;
  let s: Setup | undefined;
  let store: StateStore | undefined;
  const handles: BalancerHandle[] = [];
  try {
    s = setUp('kr');
    store = StateStore.open(s.stateDir, { write: true });
    const cp = ControlPlane.open(s.h, store);
    cp.addVip({ ...VIP });
    cp.addReal(VIP, { address: '198.51.100.10', weight: 1 });
    cp.setDefaultMac('02:00:00:00:00:02');
    store.close();
    store = undefined;

    const kBefore = kernelSnapshot(s.h, 4);
    const fBefore = dirSnapshot(s.stateDir);
    const cases: [string, () => { h: BalancerHandle; st: StateStore }][] = [
      ['--readonly (pinned, read-only fds, read-only state)', () => ({ h: openPinned(s!.intf, { pinRoot: s!.root, readOnly: true }), st: StateStore.open(s!.stateDir, { write: false }) })],
      ['--readonly with the writer lock held', () => ({ h: openPinned(s!.intf, { pinRoot: s!.root, readOnly: true }), st: StateStore.open(s!.stateDir, { write: true }) })],
      ['observe mode', () => ({ h: observe(s!.intf), st: StateStore.open(s!.stateDir, { write: false }) })],
    ];
    let refused = 0;
    for (const [name, make] of cases) {
      const { h, st } = make();
      handles.push(h);
      try {
        assert.equal(h.readOnly, true, `${name}: the handle says read-only`);
        const ro = ControlPlane.open(h, st);
        for (const [op, fn] of writeOps(ro)) {
          assert.throws(fn, (e: unknown) => {
            assert.ok(e instanceof ReadOnlyError, `${name}: ${op} threw ${(e as Error)?.name}: ${(e as Error)?.message}, not ReadOnlyError`);
            return true;
          }, `${name}: ${op} must be refused`);
          refused++;
        }
      } finally {
        st.close();
      }
      assert.deepEqual(kernelSnapshot(s.h, 4), kBefore, `${name}: the kernel maps are unchanged`);
      const fNow = dirSnapshot(s.stateDir);
      delete fNow.lock;
      const fWas = { ...fBefore };
      delete fWas.lock;
      assert.deepEqual(fNow, fWas, `${name}: the state directory is unchanged (no intent left behind)`);
    }
    console.log(`read-only: ${refused} write ops refused across ${cases.length} modes; kernel and state unchanged`);
  } finally {
    for (const h of handles) { try { h.close(); } catch { /* closed */ } }
    store?.close();
    tearDown(s);
  }
});

function expectKernelRefusal(what: string, op: string, fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BpfError, `${what}: ${op} threw ${(e as Error).name}: ${(e as Error).message}`);
    assert.ok(e.errno === ERRNO.EPERM || e.errno === ERRNO.EACCES, `${what}: ${op} failed with ${e.code} (${e.message}), expected EPERM or EACCES from the kernel`);
    return;
  }
  assert.fail(`${what}: ${op} through a BPF_F_RDONLY fd succeeded: the kernel did not refuse it`);
}

/** update, delete, batch update and batch delete straight through libbpf on one fd: each must fail. */
function assertFdReadOnly(what: string, fd: number, keySize: number, valueBytes: number): number {
  const key = Buffer.alloc(keySize);
  const value = Buffer.alloc(valueBytes);
  expectKernelRefusal(what, 'bpf_map_update_elem', () => mapUpdate(fd, key, value));
  expectKernelRefusal(what, 'bpf_map_delete_elem', () => {
    if (!mapDelete(fd, key)) throw new BpfError('delete from', what, ERRNO.ENOENT, 'ENOENT: the kernel looked the key up instead of refusing');
  });
  expectKernelRefusal(what, 'bpf_map_update_batch', () => mapUpdateBatch(fd, key, value, 1));
  expectKernelRefusal(what, 'bpf_map_delete_batch', () => {
    mapDeleteBatch(fd, key, 1);
    throw new BpfError('batch delete', what, ERRNO.ENOENT, 'returned without EPERM');
  });
  return 4;
}

test('observe mode and --readonly fds are read-only in the kernel: every write path of every map fails with EPERM', async (t) => {
  if (!(await requireBpf(t))) return;
  let s: Setup | undefined;
  const handles: BalancerHandle[] = [];
  try {
    s = setUp('kk');
    let checked = 0;
    let maps = 0;
    for (const [mode, h] of [
      ['observe', observe(s.intf)],
      ['--readonly', openPinned(s.intf, { pinRoot: s.root, readOnly: true })],
    ] as const) {
      handles.push(h);
      assert.ok(h.maps.all.size >= 8, `${mode}: maps found: ${[...h.maps.all.keys()].join(', ')}`);
      for (const [name, m] of h.maps.all) {
        assert.equal(m.readOnly, true, `${mode}: map ${name} is marked read-only`);
        checked += assertFdReadOnly(`${mode} map ${name}`, m.fd, m.shape.keySize, m.valueBufferSize);
        maps++;
      }
    }
    // The pinned map files opened with BPF_F_RDONLY (what a read-only reopen uses) refuse too.
    const pinned = readdirSync(s.h.pinDir!).filter((n) => s!.h.maps.all.has(n) || n.startsWith('hc_'));
    for (const n of pinned) {
      const fd = objGet(join(s.h.pinDir!, n), true);
      try {
        const m = s.h.maps.all.get(n)!;
        checked += assertFdReadOnly(`pin ${n} (objGet read-only)`, fd, m.shape.keySize, m.valueBufferSize);
        maps++;
      } finally {
        closeFd(fd);
      }
    }
    // Control: the same write through the writer's fd succeeds, so the refusals above are the fd's.
    const ctl = s.h.maps.ctl;
    const k = Buffer.alloc(4);
    k.writeUInt32LE(ctl.maxEntries - 1, 0);
    mapUpdate(ctl.fd, k, Buffer.alloc(ctl.valueBufferSize));
    assert.ok(pinned.includes(MAP.vips), `vip_map is pinned (${pinned.join(', ')})`);
    console.log(`kernel read-only: ${checked} write calls refused on ${maps} read-only map fds (observe, --readonly, pinned)`);
  } finally {
    for (const h of handles) { try { h.close(); } catch { /* closed */ } }
    tearDown(s);
  }
});

test('the product opens no network listener (a running katran-tui process: attach, control plane, sampler)', async (t) => {
  if (!(await requireBpf(t))) return;
  const veth = shortName('kl');
  const intf = makeVeth(veth);
  const root = pinRoot('kl');
  const stateDir = join(scratchDir('kl'), 'state');
  const script = new URL('./child-product.js', import.meta.url).pathname;
  let child: Awaited<ReturnType<typeof startChild>> | undefined;
  try {
    child = await startChild(process.execPath, [script, intf, root, stateDir, '20', 'attach'], /ready \d+/, { timeoutMs: 20_000 });
    const pid = child.child.pid!;
    await new Promise((r) => setTimeout(r, 300));
    const socks = socketsOf(pid);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    assert.deepEqual(socks.filter((x) => x.listening || x.table !== 'unix'), [], `process ${pid} owns network sockets: ${JSON.stringify(socks)}`);
    console.log(`no listener: pid ${pid} holds ${fds} fds, ${socks.length} sockets (inet or listening unix): none`);
    // The CLI too: a long-running `stats --json` process.
    const cli = new URL('../../../bin/katran-tui', import.meta.url).pathname;
    await killChild(child.child, 'SIGTERM');
    child = undefined;
    const c2 = await startChild(process.execPath, [cli, 'stats', '--json', '--intf', intf, '--pin-root', root, '--state-dir', stateDir, '--interval', '200', '--count', '50'], /\{/, { timeoutMs: 20_000 });
    try {
      const s2 = socketsOf(c2.child.pid!);
      assert.deepEqual(s2.filter((x) => x.listening || x.table !== 'unix'), [], `katran-tui stats owns network sockets: ${JSON.stringify(s2)}`);
      console.log(`no listener: katran-tui stats (pid ${c2.child.pid}) holds no inet or listening socket`);
    } finally {
      await killChild(c2.child);
    }
  } finally {
    if (child) await killChild(child.child);
    try {
      const h = openPinned(intf, { pinRoot: root });
      detach(h);
    } catch { /* not attached */ }
    delVeth(veth);
    rmSync(root, { recursive: true, force: true });
  }
});
