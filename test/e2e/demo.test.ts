// `katran-tui demo --duration 10` end to end without a terminal: it starts, traffic is counted per
// real by the lab's sink, and the teardown leaves nothing: no namespace, no links, no pins, no state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupLab, labNames } from '../../src/lab/lab.js';
import { DEMO_VIPS, demoPaths } from '../../src/lab/demo.js';
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
