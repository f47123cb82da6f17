// `katran-tui demo` on a terminal (tmux): the console opens on the lab with traffic moving, and `q`
// tears everything down (namespace, links, pins, state), exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupLab, labNames } from '../../src/lab/lab.js';
import { demoPaths } from '../../src/lab/demo.js';
import { labId, requireLab } from './fixture.js';
import { scratchDir } from '../helpers/env.js';
import { Tmux, hasTmux } from '../helpers/tmux.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('demo in a terminal: the console on the lab, q tears it down', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  assert.ok(hasTmux(), 'tmux is installed (bash scripts/setup.sh installs it)');
  const id = labId('m');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  const scratch = scratchDir(`demo-console-${id}`);
  const tmux = new Tmux(join(scratch, 'tmux.sock'), 'main', root);
  try {
    tmux.start(`${process.execPath} bin/katran-tui demo --id ${id}; echo DEMO-EXIT=$?`, { width: 100, height: 30, conf: join(scratch, 'tmux.conf') });
    const pane = await tmux.waitFor(/192\.0\.2\.20:53\/udp/, 30_000);
    assert.match(pane, new RegExp(`${names.b} native`));
    // traffic moves: a non-zero XDP rate within a few samples
    await tmux.waitFor(/XDP TOTAL [1-9][\d.]*k?\/s/, 10_000);
    tmux.keys('q');
    const after = await tmux.waitFor(/DEMO-EXIT=\d+/, 30_000);
    assert.match(after, /DEMO-EXIT=0/);
    assert.match(after.replace(/\n/g, ''), /torn down: balancer on/);
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'namespace removed');
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    assert.ok(!links.includes(`${names.b}:`) && !links.includes(`${names.b}@`), 'balancer link removed');
    assert.ok(!existsSync(pinRoot) && !existsSync(stateDir), 'pins and state removed');
  } finally {
    tmux.kill();
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('demo --vlans in a terminal: the header\'s VLAN line, the V panel\'s per-VLAN rates from the kernel with VLAN 575 marked, and adding 575 from the panel balances it', { timeout: 150_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  assert.ok(hasTmux(), 'tmux is installed (bash scripts/setup.sh installs it)');
  const id = labId('n');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  const scratch = scratchDir(`demo-console-${id}`);
  const tmux = new Tmux(join(scratch, 'tmux.sock'), 'main', root);
  try {
    tmux.start(`${process.execPath} bin/katran-tui demo --vlans --rate 20000 --id ${id}; echo DEMO-EXIT=$?`, { width: 130, height: 32, conf: join(scratch, 'tmux.conf') });
    await tmux.waitFor(/^VLANs 573 -> 574 gw 02:00:5e:00:05:74/m, 30_000);
    tmux.keys('V');
    // kt_vlan_stats through the sampler: VLAN 573 balanced, VLAN 575 passed and marked
    await tmux.waitFor(/573\s+574\s+02:00:5e:00:05:74\s+\S+\s+[1-9][\d.]*k?\s+0\s*$/m, 15_000, 'VLAN 573 balanced, nothing passed');
    await tmux.waitFor(/575\s+-\s+-\s+[1-9][\d.]*k?\s+0\s+[1-9][\d.]*k? ! not parsed: a adds it/, 15_000, 'VLAN 575 marked');
    await tmux.waitFor(/^! VIP traffic on unparsed VLAN 575 · VLANs/m, 5_000);
    tmux.keys('j', 'Enter'); // the 575 row: the add form with IN = 575
    await tmux.waitFor(/IN\[:OUT\]\s+575/, 5_000);
    tmux.keys('Enter');
    await tmux.waitFor(/add VLAN 575 -> 575 \(gateway the default MAC\)/, 10_000);
    tmux.keys('y');
    await tmux.waitFor(/done: add VLAN 575 -> 575/, 10_000);
    await tmux.waitFor(/575\s+575\s+default \S+\s+\S+\s+[1-9][\d.]*k?\s+0\s*$/m, 15_000, 'VLAN 575 now balanced');
    assert.match(execFileSync(process.execPath, [join(root, 'bin', 'katran-tui'), '--pin-root', pinRoot, '--state-dir', stateDir, '--intf', names.b, 'vlan', 'list', '--json'], { encoding: 'utf8' }), /"ingress":"575"/);
    tmux.keys('q');
    const after = await tmux.waitFor(/DEMO-EXIT=\d+/, 30_000);
    assert.match(after, /DEMO-EXIT=0/);
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'namespace removed');
    assert.ok(!existsSync(pinRoot) && !existsSync(stateDir), 'pins and state removed');
  } finally {
    tmux.kill();
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
