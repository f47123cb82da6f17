// `katran-tui demo --duration 10` end to end without a terminal: it starts, traffic is counted per
// real by the lab's sink, and the teardown leaves nothing: no namespace, no links, no pins, no state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupLab, labNames } from '../../src/lab/lab.js';
import { DEMO_VIPS, DEMO_VLANS, demoPaths } from '../../src/lab/demo.js';
import { labId, requireLab } from './fixture.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'katran-tui');

test('demo --duration 10 runs headless, counts traffic per real, and leaves nothing behind', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('d');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  try {
    const r = spawnSync(process.execPath, [bin, 'demo', '--duration', '10', '--id', id], {
      encoding: 'utf8', timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /katran-tui demo: torn down: balancer on /);
    const rows = r.stdout.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((c) => c.length === 6);
    const reals = DEMO_VIPS.flatMap((v) => v.reals.map((x) => ({ vip: v.vip, ...x })));
    assert.equal(rows.length, reals.length, r.stdout);
    for (const x of reals) {
      const row = rows.find((c) => c[1] === x.address);
      assert.ok(row, `${x.address} in the report`);
      assert.ok(Number(row[4]) > 0, `${x.address} received ${row[4]}`);
    }
    // shares follow the weights roughly (maglev-v2; TCP SYNs come from many ports)
    for (const v of DEMO_VIPS) {
      const got = v.reals.map((x) => Number(rows.find((c) => c[1] === x.address)![4]));
      const heaviest = v.reals.reduce((a, b, i) => (b.weight > v.reals[a].weight ? i : a), 0);
      assert.equal(got.indexOf(Math.max(...got)), heaviest, `${v.vip}: the heaviest real gets the most (${got})`);
    }
    assert.match(r.stdout, /total received by the reals: \d+ packets/);
    // nothing left
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'namespace removed');
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    for (const l of [names.b, names.p]) assert.ok(!links.includes(`${l}@`) && !links.includes(`${l}:`), `link ${l} removed`);
    assert.ok(!existsSync(pinRoot), `${pinRoot} removed`);
    assert.ok(!existsSync(stateDir), `${stateDir} removed`);
  } finally {
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('demo: leftovers of a crashed demo are removed at the next start; without a terminal or --duration it says what to do', { timeout: 60_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('e');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  try {
    // a crashed demo's leftovers: its namespace and a stale state dir
    execFileSync('ip', ['netns', 'add', names.ns]);
    execFileSync('mkdir', ['-p', stateDir]);
    const r = spawnSync(process.execPath, [bin, 'demo', '--duration', '1', '--id', id], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`removed leftovers of an earlier demo: netns ${names.ns}.*${stateDir}`));
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns));
    const u = spawnSync(process.execPath, [bin, 'demo'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /^katran-tui: demo without a terminal needs --duration S/);
    // --id is the documented way to run a demo beside the operator's: checked before any lab is made
    const bad = spawnSync(process.execPath, [bin, 'demo', '--duration', '1', '--id', 'Bad-Id'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(bad.stderr, 'katran-tui: bad demo --id "Bad-Id": use 1-10 lowercase letters or digits\n');
    const help = spawnSync(process.execPath, [bin, 'demo', '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(help.stdout, /--id <id>\s+run a separate demo lab beside the default one/);
  } finally {
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('demo --vlans runs headless: the same table and total, then per-VLAN lines: every packet reached the reals on VLAN 574 to its gateway MAC; VLAN 575 passed unbalanced', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('w');
  const { pinRoot, stateDir } = demoPaths(id);
  try {
    const r = spawnSync(process.execPath, [bin, 'demo', '--vlans', '--duration', '8', '--rate', '20000', '--id', id], {
      encoding: 'utf8', timeout: 90_000, stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /VLANs on one port, native mode: clients on VLAN 573, reals through VLAN 574's gateway 02:00:5e:00:05:74/);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('total received by the reals:'));
    assert.ok(at > 0, r.stdout);
    const rows = lines.slice(1, at).map((l) => l.trim().split(/\s+/)).filter((c) => c.length === 6);
    const reals = DEMO_VIPS.flatMap((v) => v.reals);
    assert.equal(rows.length, reals.length, r.stdout);
    for (const x of reals) assert.ok(Number(rows.find((c) => c[1] === x.address)?.[4]) > 0, `${x.address} received traffic: ${r.stdout}`);
    const total = Number(/^total received by the reals: (\d+) packets$/m.exec(r.stdout)?.[1]);
    assert.ok(total > 0, r.stdout);
    // the per-VLAN lines come after the total line, which stays as it was
    const after = lines.slice(at + 1).join('\n');
    const out = new RegExp(`^VLAN ${DEMO_VLANS.reals} \\(out\\): (\\d+) packets to the reals, (\\d+) to its gateway ${DEMO_VLANS.gateway}, (\\d+) to another MAC$`, 'm').exec(after);
    assert.ok(out, r.stdout);
    assert.equal(Number(out[1]), total, 'every packet the reals received came back on VLAN 574');
    assert.equal(Number(out[2]), total, 'all of them to VLAN 574\'s gateway MAC');
    assert.equal(Number(out[3]), 0);
    assert.match(after, /^untagged frames to the reals: 0$/m);
    assert.doesNotMatch(after, /^VLAN (?!574 )\S+ \(out\)/m, 'nothing came back on another VLAN');
    // the balancer's own counters (kt_vlan_stats)
    const a = new RegExp(`^VLAN ${DEMO_VLANS.clients} \\(in -> ${DEMO_VLANS.reals}\\): in (\\d+), balanced (\\d+), passed (\\d+) packets$`, 'm').exec(after);
    assert.ok(a, r.stdout);
    assert.ok(Number(a[2]) >= total, `balanced ${a[2]} >= received ${total}`);
    assert.equal(Number(a[1]), Number(a[2]) + Number(a[3]));
    const u = new RegExp(`^VLAN ${DEMO_VLANS.unparsed} \\(not configured\\): in (\\d+), balanced (\\d+), passed (\\d+) packets: VIP traffic the balancer does not parse \\(katran-tui vlan add 575 would balance it\\)$`, 'm').exec(after);
    assert.ok(u, `${r.stdout}\n${r.stderr}`);
    assert.ok(Number(u[1]) > 0 && Number(u[1]) === Number(u[3]) && Number(u[2]) === 0, u[0]);
    assert.ok(!existsSync(pinRoot) && !existsSync(stateDir), 'torn down');
  } finally {
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
