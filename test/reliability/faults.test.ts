// Faults (issue 7): a damaged state file, two writers, libbpf / clang / bpffs missing, not root, an
// object the verifier rejects. Each must give a clear error that says what is wrong, change
// nothing, and lose nothing. Everything goes through the product's own paths (balancer.ts open,
// lifecycle attach, loader, the CLI, scripts/build-bpf.mjs); children simulate what cannot be done
// to the test process itself (another user, a mount namespace where libbpf.so.1 is unreadable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { StateCorruptError, StateStore } from '../../src/dataplane/control/state.js';
import { LockedError } from '../../src/dataplane/types.js';
import { BpfError, xdpQuery, ifNameToIndex } from '../../src/dataplane/kernel/libbpf.js';
import { VerifierError } from '../../src/dataplane/errors.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { requireBpffs } from '../../src/dataplane/kernel/pins.js';
import { builtObject } from '../../src/dataplane/kernel/paths.js';
import { handleFrom, loadTestBalancer } from '../bpf/control-helpers.js';
import { pinRoot, readableCheckout, requireBpf, scratchDir } from '../helpers/env.js';
import { asNobody, delVeth, kernelSnapshot, killChild, makeVeth, runChild, shortName, startChild } from './util.js';

const here = new URL('.', import.meta.url).pathname;
const repo = join(here, '..', '..', '..');
const cliBin = join(repo, 'bin', 'katran-tui');
const probe = join(here, 'child-probe.js');
const VIP = { address: '192.0.2.20', port: 80, proto: 'tcp' as const };

test('a truncated or damaged state file: a clear error, the last good copy kept, nothing changed; recovery restores it', async (t) => {
  if (!(await requireBpf(t))) return;
  const lb = loadTestBalancer(1024);
  const stateRoot = scratchDir('corrupt');
  const h = handleFrom(lb, { intf: 'kcorrupt' });
  const dir = join(stateRoot, 'kcorrupt');
  try {
    let dp = Balancer.open(h, { stateDir: stateRoot });
    dp.addVip({ ...VIP });
    dp.addReal(VIP, { address: '198.51.100.20', weight: 1 });
    dp.addReal(VIP, { address: '198.51.100.21', weight: 1 });
    dp.close();
    const file = join(dir, 'state.json');
    const prev = join(dir, 'state.json.prev');
    const good = readFileSync(file);
    const prevBytes = readFileSync(prev);
    const kernel = kernelSnapshot(h, 2);

    const damage: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['cut in half', (b) => b.subarray(0, b.length >> 1), /not valid JSON|truncated/],
      ['empty', () => Buffer.alloc(0), /empty|truncated/],
      ['one digit changed', (b) => Buffer.from(b.toString('utf8').replace('198.51.100.21', '198.51.100.29')), /checksum/],
      ['garbage bytes', (b) => Buffer.concat([b.subarray(0, 40), Buffer.from([0, 0xff, 0xfe, 0x7b]), b.subarray(44)]), /not valid JSON|damaged/],
      ['deleted while the previous copy exists', () => Buffer.from('__delete__'), /missing/],
    ];
    for (const [name, f, why] of damage) {
      const bad = f(good);
      if (bad.toString() === '__delete__') rmSync(file);
      else writeFileSync(file, bad, { mode: 0o600 });
      assert.throws(() => Balancer.open(h, { stateDir: stateRoot }), (e: unknown) => {
        assert.ok(e instanceof StateCorruptError, `${name}: ${(e as Error).name}: ${(e as Error).message}`);
        assert.match(e.message, why, `${name}: the error says what is wrong`);
        assert.match(e.message, /state\.json/, `${name}: the error names the file`);
        assert.equal(e.previous, prev, `${name}: the error points at the last good copy`);
        return true;
      });
      assert.deepEqual(readFileSync(prev), prevBytes, `${name}: the last good copy is untouched`);
      if (bad.toString() !== '__delete__') assert.deepEqual(readFileSync(file), bad, `${name}: the damaged file is left as it was`);
      assert.deepEqual(kernelSnapshot(h, 2), kernel, `${name}: the kernel is unchanged`);
      assert.equal(StateStore.lockHolder(dir), null, `${name}: the failed open released the writer lock`);
      writeFileSync(file, good, { mode: 0o600 });
    }

    // Recovery: the previous copy comes back, the damaged file is kept beside it, and the next
    // open makes the kernel equal to the recovered state.
    writeFileSync(file, good.subarray(0, 100), { mode: 0o600 });
    const store = StateStore.open(dir, { write: true });
    store.recoverFromPrevious();
    store.close();
    assert.ok(readdirSync(dir).some((n) => n.startsWith('state.json.corrupt-')), 'the damaged file is kept as state.json.corrupt-*');
    dp = Balancer.open(h, { stateDir: stateRoot });
    const v = dp.vips();
    assert.equal(v.length, 1);
    assert.deepEqual(v[0].reals.map((r) => r.address), ['198.51.100.20'], 'the recovered state is the previous good copy');
    dp.close();
    console.log(`state damage: ${damage.length} kinds each refused with StateCorruptError naming the good copy; recovered from state.json.prev`);
  } finally {
    lb.close();
  }
});

test('two writers: the second gets "locked by pid N" naming the first; after kill -9 of the first the lock is taken over', async (t) => {
  if (!(await requireBpf(t))) return;
  const veth = shortName('kw');
  const intf = makeVeth(veth);
  const root = pinRoot('kw');
  const stateRoot = scratchDir('kw');
  const script = join(here, 'child-product.js');
  let child: Awaited<ReturnType<typeof startChild>> | undefined;
  try {
    child = await startChild(process.execPath, [script, intf, root, stateRoot, '30', 'attach'], /ready \d+/, { timeoutMs: 20_000 });
    const pid = child.child.pid!;
    const h = openPinned(intf, { pinRoot: root });
    try {
      assert.throws(() => Balancer.open(h, { stateDir: stateRoot }), (e: unknown) => {
        assert.ok(e instanceof LockedError, `${(e as Error).name}: ${(e as Error).message}`);
        assert.equal(e.pid, pid);
        assert.match(e.message, new RegExp(`locked by pid ${pid}\\b`));
        return true;
      });
      // The CLI says the same in one line.
      const cli = await runChild(process.execPath, [cliBin, 'vip', 'add', '192.0.2.21:80/tcp', '--intf', intf, '--pin-root', root, '--state-dir', stateRoot], { timeoutMs: 20_000 });
      assert.equal(cli.code, 1, `CLI exit code; stderr: ${cli.stderr}`);
      assert.match(cli.stderr, new RegExp(`locked by pid ${pid}`));
      await killChild(child.child, 'SIGKILL');
      child = undefined;
      const dp = Balancer.open(h, { stateDir: stateRoot });
      dp.addVip({ ...VIP });
      assert.equal(dp.vips().length, 1, 'the new writer works after the stale lock of a dead process');
      dp.close();
    } finally {
      h.close();
    }
  } finally {
    if (child) await killChild(child.child);
    try { detach(openPinned(intf, { pinRoot: root })); } catch { /* gone */ }
    delVeth(veth);
    rmSync(root, { recursive: true, force: true });
  }
});

test('libbpf.so.1 unreadable (private mount namespace): LibbpfMissingError with the fix, and doctor says so', async (t) => {
  if (!(await requireBpf(t))) return;
  const lib = realpathSync('/usr/lib/x86_64-linux-gnu/libbpf.so.1');
  // Bind /dev/null over the library inside a private mount namespace: dlopen then fails the way it
  // does on a box without libbpf; the rest of the machine never sees the mount.
  const hide = ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind /dev/null "$0" && exec "$@"', lib];
  const r = await runChild('unshare', [...hide, process.execPath, probe, 'libbpf'], { timeoutMs: 20_000 });
  if (/unshare failed|Operation not permitted/.test(r.stderr)) {
    t.skip(`cannot create a mount namespace here: ${r.stderr.trim()}`);
    return;
  }
  assert.equal(r.code, 1, `probe exit code; stdout ${r.stdout} stderr ${r.stderr}`);
  const e = JSON.parse(r.stdout.trim()) as { name: string; message: string };
  assert.equal(e.name, 'LibbpfMissingError');
  assert.match(e.message, /libbpf\.so\.1 is not installed.*libbpf >= 1\.1.*apt-get install libbpf1/);
  const d = await runChild('unshare', [...hide, process.execPath, cliBin, 'doctor', '--pin-root', '/sys/fs/bpf/katran-tui-test-none'], { timeoutMs: 20_000 });
  assert.match(d.stdout + d.stderr, /libbpf\s+FAIL\s+libbpf\.so\.1 is not installed/, `doctor output: ${d.stdout}${d.stderr}`);
  console.log(`libbpf hidden: "${e.message}"`);
});

test('clang missing: the BPF build says which tool is missing and how to get it', async () => {
  const r = await runChild(process.execPath, [join(repo, 'scripts', 'build-bpf.mjs')], { env: { ...process.env, CLANG: '/nonexistent/clang' }, timeoutMs: 20_000 });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/clang not found: install clang and llvm/);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
});

test('bpffs missing under the pin root: a clear error from the check, from attach (nothing attached), and from doctor', async (t) => {
  if (!(await requireBpf(t))) return;
  const notBpf = scratchDir('nobpffs');
  assert.throws(() => requireBpffs(join(notBpf, 'pins')), /is not on bpffs: mount it \(mount -t bpf bpf \/sys\/fs\/bpf\)/);
  const veth = shortName('kb');
  const intf = makeVeth(veth);
  try {
    assert.throws(() => attach({ intf, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot: join(notBpf, 'pins'), lruSize: 64 }), /not on bpffs/);
    const q = xdpQuery(ifNameToIndex(intf));
    assert.equal(q.progId || q.skbProgId || q.drvProgId, 0, 'nothing was attached');
    const d = await runChild(process.execPath, [cliBin, 'doctor', '--pin-root', join(notBpf, 'pins')], { timeoutMs: 20_000 });
    assert.match(d.stdout, /bpffs\s+FAIL\s+no bpffs holds the pin root/);
    assert.match(d.stdout, /mount -t bpf bpf \/sys\/fs\/bpf/);
  } finally {
    delVeth(veth);
  }
});

test('not root: one clear sentence and exit 1 from the CLI; the library says root is needed, never "verifier"', async (t) => {
  if (!(await requireBpf(t))) return;
  const nobody = asNobody();
  if (!nobody) {
    t.skip('neither setpriv nor runuser is available to drop to user nobody');
    return;
  }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', LANG: 'C' };
  const [cmd, ...pre] = nobody;
  // nobody may not be able to read this checkout (a clone under /root): run a readable copy.
  const copy = readableCheckout();
  const cliBin = join(copy, 'bin', 'katran-tui');
  const probe = join(copy, 'dist', 'test', 'reliability', 'child-probe.js');
  const cli = await runChild(cmd, [...pre, process.execPath, cliBin, 'attach', '--intf', 'lo', '--default-mac', '02:00:00:00:00:01', '--pin-root', '/sys/fs/bpf/katran-tui-test-none', '--state-dir', '/tmp/katran-tui-test-none'], { env, timeoutMs: 20_000 });
  assert.equal(cli.code, 1, `exit code; stderr ${cli.stderr}`);
  const lines = cli.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${cli.stderr}`);
  assert.match(lines[0], /needs root/);
  const vipAdd = await runChild(cmd, [...pre, process.execPath, cliBin, 'vip', 'add', '192.0.2.1:80/tcp', '--intf', 'lo', '--pin-root', '/sys/fs/bpf/katran-tui-test-none', '--state-dir', '/tmp/katran-tui-test-none'], { env, timeoutMs: 20_000 });
  assert.equal(vipAdd.code, 1, `vip add exit code; stderr ${vipAdd.stderr}`);
  assert.equal(vipAdd.stderr.trim().split('\n').length, 1, `one line: ${vipAdd.stderr}`);
  assert.match(vipAdd.stderr, /root/);
  for (const probeArgs of [['load'], ['attach', 'lo', '/sys/fs/bpf/katran-tui-test-none']]) {
    const r = await runChild(cmd, [...pre, process.execPath, probe, ...probeArgs], { env, timeoutMs: 20_000 });
    assert.equal(r.code, 1, `${probeArgs[0]}: ${r.stdout} ${r.stderr}`);
    const e = JSON.parse(r.stdout.trim()) as { name: string; message: string };
    assert.equal(e.name, 'NotRootError', `${probeArgs[0]} as nobody: ${e.name}: ${e.message}`);
    assert.match(e.message, /root/, `${probeArgs[0]} as nobody: ${e.message}`);
    assert.doesNotMatch(e.message, /verifier/, `${probeArgs[0]} as nobody: ${e.message}`);
  }
  console.log(`not root: "${lines[0]}"`);
});

test('an object the verifier rejects: BpfError saying so with the verifier log, never "not root"; attach leaves nothing behind', async (t) => {
  if (!(await requireBpf(t))) return;
  const bad = builtObject('test/reliability/bad-verifier.bpf.c');
  assert.ok(existsSync(bad), `${bad} is built by scripts/build-bpf.mjs`);
  const check = (e: unknown): true => {
    assert.ok(e instanceof VerifierError, `${(e as Error).name}: ${(e as Error).message}`);
    assert.ok(e instanceof BpfError, 'a VerifierError is a kernel error (errno, code)');
    assert.equal(e.op, 'load');
    assert.equal(e.object, bad);
    assert.match(e.message, /verifier rejected/);
    assert.doesNotMatch(e.message, /not root|needs root|not permitted/); // not /root/: the checkout may live under /root
    assert.ok(e.log && e.log.length > 20, 'the verifier log is attached');
    assert.match(e.log!, /invalid access to packet|R\d+ /, 'the log shows the refused access');
    return true;
  };
  assert.throws(() => loadBalancer(bad, { lruSize: 64 }), check);
  const veth = shortName('kv');
  const intf = makeVeth(veth);
  const root = pinRoot('kv');
  try {
    assert.throws(() => attach({ intf, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot: root, lruSize: 64, balancerProg: bad }), check);
    const q = xdpQuery(ifNameToIndex(intf));
    assert.equal(q.progId || q.skbProgId || q.drvProgId, 0, 'nothing was attached');
    const left = existsSync(join(root, intf)) ? readdirSync(join(root, intf)) : [];
    assert.deepEqual(left, [], 'no pins left behind');
  } finally {
    delVeth(veth);
    rmSync(root, { recursive: true, force: true });
  }
});
