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
