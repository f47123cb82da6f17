// kill -9 inside a large ring change, then every read command as an operator runs it (the real
// CLI over the real kernel): each says a change is pending (stderr line, pendingChange in the JSON,
// katran_pending_change 1, status CHANGE PENDING, a doctor FAIL with the fix) and shows what the
// kernel holds (ring slots counted from the kernel's ring, adding up to the whole ring; a real only
// the ring knows marked kernelOnly); recover --dry-run describes it and changes nothing; the next
// writer (recover, or any change) finishes it and says so; then nothing is reported any more.
// Killed: a CLI writer (cli-writer-child.ts: main() with the fault hook) and a library child
// (test/reliability/child-change.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseVip } from '../../src/dataplane/abi.js';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { detach } from '../../src/dataplane/balancer/detach.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { ringCounts } from '../../src/dataplane/control/maglev.js';
import { requireBpf, pinRoot, scratchDir } from '../helpers/env.js';
import { delVeth, makeVeth, runChild, shortName } from '../reliability/util.js';

const here = new URL('.', import.meta.url).pathname;
const repo = join(here, '..', '..', '..');
const cliBin = join(repo, 'bin', 'katran-tui');
const VIP_TEXT = '192.0.2.60:80/tcp';
const VIP = parseVip(VIP_TEXT);
const MAC = '02:00:00:00:00:61';
const REALS = Array.from({ length: 60 }, (_, i) => ({ address: `198.51.100.${i + 1}`, weight: 1 }));

interface Kernel { counts: Map<number, number>; addressAt: Map<number, string>; ringSize: number }

test('kill -9 mid ring change (a CLI writer, a library child): every reader reports it, recover / the next writer finishes it and says so', async (t) => {
  if (!(await requireBpf(t))) return;
  const veth = shortName('kp');
  const intf = makeVeth(veth);
  const root = pinRoot('pending');
  const stateRoot = scratchDir('pending');
  const stateDir = join(stateRoot, intf);
  const cli = (...args: string[]) => runChild(process.execPath, [cliBin, ...args, '--intf', intf, '--pin-root', root, '--state-dir', stateRoot], { timeoutMs: 30_000 });
  /** The VIP's ring as the kernel holds it (a read-only open: no lock, nothing repaired). */
  const kernel = (): Kernel => {
    const dp = Balancer.open(openPinned(intf, { pinRoot: root, readOnly: true }), { stateDir: stateRoot });
    try {
      const vipNum = dp.control.state().vips[0].vipNum;
      return {
        counts: ringCounts(dp.control.readRing(vipNum)),
        addressAt: new Map(dp.control.kernelLists().reals.map((r) => [r.index, r.address])),
        ringSize: dp.info().capacity.ringSize,
      };
    } finally {
      dp.close();
    }
  };
  /** Every read command reports the pending `op`; the list is the kernel's. Returns vip list's doc. */
  const assertReported = async (op: string, what: string) => {
    const k = kernel();
    const list = await cli('vip', 'list', '--json');
    assert.equal(list.code, 0, `${what}: ${list.stderr}`);
    assert.match(list.stderr, new RegExp(`^katran-tui: warning: an interrupted change is pending: ${op} .*, started \\S+ by pid \\d+, which died before finishing it .*run \`katran-tui recover\` or any change to finish it\\n$`), what);
    const doc = JSON.parse(list.stdout);
    assert.equal(doc.pendingChange?.op, op, `${what}: vip list --json carries pendingChange`);
    const reals = doc.vips[0].reals as { address: string; index: number; ringSlots: number; kernelOnly?: boolean }[];
    for (const r of reals) {
      assert.equal(r.ringSlots, k.counts.get(r.index) ?? 0, `${what}: slots of ${r.address} as the kernel's ring has them`);
      assert.equal(r.address, k.addressAt.get(r.index) ?? r.address);
    }
    const listed = reals.reduce((a, r) => a + r.ringSlots, 0);
    assert.equal(listed, k.ringSize, `${what}: the listed reals account for every slot of the kernel's ring`);
    const stats = await cli('stats', '--once', '--json', '--interval', '100');
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).pendingChange?.op, op, `${what}: stats --json`);
    assert.match(stats.stderr, /an interrupted change is pending/);
    const prom = await cli('stats', '--prometheus', '--interval', '100');
    assert.match(prom.stdout, new RegExp(`^katran_pending_change\\{intf="${intf}"\\} 1$`, 'm'), `${what}: prometheus`);
    const status = await cli('status');
    assert.match(status.stdout, new RegExp(`^${intf}\\s.*CHANGE PENDING$`, 'm'), `${what}: status`);
    assert.match(status.stderr, new RegExp(`${intf}: an interrupted change is pending: ${op}`));
    const doctor = await cli('doctor', '--json');
    assert.equal(doctor.code, 1, `${what}: doctor fails`);
    const check = JSON.parse(doctor.stdout).checks.find((c: { check: string }) => c.check === `${intf} pending change`);
    assert.equal(check?.verdict, 'fail', doctor.stdout);
    assert.match(check.fix, new RegExp(`katran-tui recover --intf ${intf}`));
    const before = kernel();
    const dry = await cli('recover', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^would: finish the interrupted change ${op} \\S+ .*\\(started \\S+ by pid \\d+\\)`), `${what}: recover --dry-run describes it`);
    assert.deepEqual(kernel().counts, before.counts, `${what}: recover --dry-run changed no ring slot`);
    assert.ok(existsSync(join(stateDir, 'intent.json')), `${what}: the intent is still pending after --dry-run`);
    return doc;
  };
  /** Nothing pending: no stderr line, pendingChange null, the gauge 0, no doctor check, no kernel-only real. */
  const assertClean = async (what: string) => {
    const list = await cli('vip', 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stderr, '', `${what}: nothing said`);
    const doc = JSON.parse(list.stdout);
    assert.equal(doc.pendingChange, null);
    const reals = doc.vips[0].reals as { ringSlots: number; kernelOnly?: boolean }[];
    assert.ok(reals.every((r) => !r.kernelOnly));
    assert.equal(reals.reduce((a, r) => a + r.ringSlots, 0), kernel().ringSize);
    const prom = await cli('stats', '--prometheus', '--interval', '100');
    assert.match(prom.stdout, new RegExp(`^katran_pending_change\\{intf="${intf}"\\} 0$`, 'm'));
    const doctor = await cli('doctor', '--json');
    assert.equal(JSON.parse(doctor.stdout).checks.find((c: { check: string }) => c.check === `${intf} pending change`), undefined);
    assert.doesNotMatch((await cli('status')).stdout, /CHANGE PENDING/);
    assert.equal(existsSync(join(stateDir, 'intent.json')), false);
    return doc;
  };
  try {
    {
      const dp = Balancer.open(attach({ intf, defaultMac: MAC, mode: 'generic', pinRoot: root, lruSize: 1024 }), { stateDir: stateRoot });
      dp.applyConfig({ mac: MAC, vips: [{ key: VIP, reals: REALS }] });
      dp.close();
    }
    await assertClean('after the set-up');

    // 1. a CLI writer: a weight change that rewrites ~26000 slots, killed after its second batch
    const w = await runChild(process.execPath, [join(here, 'cli-writer-child.js'), 'ring-batch', '2', 'real', 'weight', VIP_TEXT, '198.51.100.7', '40',
      '--intf', intf, '--pin-root', root, '--state-dir', stateRoot], { timeoutMs: 30_000 });
    assert.equal(w.signal, 'SIGKILL', `${w.stdout} ${w.stderr}`);
    assert.match(w.stdout, /killing at ring-batch #2/);
    const half = kernel().counts.get(7) ?? 0;
    assert.ok(half > 1200 && half < 26000, `the kernel holds the weight change half-applied (${half} slots)`);
    const wdoc = await assertReported('set-weight', 'CLI writer killed');
    assert.equal(wdoc.vips[0].reals.find((r: { address: string }) => r.address === '198.51.100.7').pendingWeight, 40);
    const rec = await cli('recover');
    assert.equal(rec.code, 0, rec.stderr);
    assert.match(rec.stdout, /^took over the writer lock of pid \d+, which is dead\n/);
    assert.match(rec.stdout, /an interrupted change set-weight 192\.0\.2\.60:80\/tcp 198\.51\.100\.7 \(started \S+ by pid \d+\) was finished: the kernel and the state file now hold it\n$/);
    const after1 = await assertClean('after recover');
    assert.equal(after1.vips[0].reals.find((r: { address: string }) => r.address === '198.51.100.7').weight, 40);
    assert.equal((await cli('recover')).stdout, `nothing pending on ${intf}: no interrupted change to finish\n`);

    // 2. a library child: a 61st real, killed once its ring slots are in the kernel (state.json not yet)
    const op = JSON.stringify({ op: 'addReal', vip: VIP, address: '198.51.100.61', weight: 1 });
    const c = await runChild(process.execPath, [join(here, '..', 'reliability', 'child-change.js'), intf, root, stateRoot, op, 'ring-batch', '1'], { timeoutMs: 30_000 });
    assert.equal(c.signal, 'SIGKILL', `${c.stdout} ${c.stderr}`);
    const doc = await assertReported('add-real', 'library child killed');
    const extra = doc.vips[0].reals.find((r: { address: string }) => r.address === '198.51.100.61');
    assert.ok(extra?.kernelOnly && extra.ringSlots > 0, `the 61st real the kernel's ring points at is listed, marked: ${JSON.stringify(extra)}`);
    assert.equal(doc.vips[0].reals.length, 61);
    const text = await cli('vip', 'list');
    assert.match(text.stdout, /198\.51\.100\.61 \(in kernel ring only\)/);
    // the next writer, whatever it changes (here: the MAC it already has), finishes it and says so
    const m = await cli('mac', 'set', MAC);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stderr, /^katran-tui: recovered: took over the writer lock of pid \d+, which is dead\n/m);
    assert.match(m.stderr, /^katran-tui: recovered: an interrupted change add-real 192\.0\.2\.60:80\/tcp 198\.51\.100\.61 \(started \S+ by pid \d+\) was finished/m);
    const after2 = await assertClean('after the next writer');
    assert.equal(after2.vips[0].reals.length, 61);
  } finally {
    try { detach(openPinned(intf, { pinRoot: root })); } catch { /* gone */ }
    delVeth(veth);
    rmSync(root, { recursive: true, force: true });
  }
});
