// The SSH session of an operator drops: the terminal hangs up under a running demo. The demo must
// still tear its lab down (namespace, links, pins, state) and end without Node's abort on the
// dead tty, instead of leaving the box dirty until the next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupLab, labNames } from '../../src/lab/lab.js';
import { demoPaths } from '../../src/lab/demo.js';
import { labId, requireLab } from './fixture.js';
import { scratchDir } from '../helpers/env.js';
import { Tmux, hasTmux } from '../helpers/tmux.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a hung-up terminal under the demo: the lab is torn down and the process ends cleanly', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  assert.ok(hasTmux(), 'tmux is installed (bash scripts/setup.sh installs it)');
  const id = labId('h');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  const scratch = scratchDir(`hangup-${id}`);
  const log = join(scratch, 'demo.err');
  const pane = new Tmux(join(scratch, 'tmux.sock'), 'main', root);
  try {
    pane.start(`exec ${process.execPath} bin/katran-tui demo --id ${id} 2>${log}`, { width: 100, height: 30, conf: join(scratch, 'tmux.conf') });
    await pane.waitFor(/XDP TOTAL [1-9][\d.]*k?\/s/, 40_000);
    assert.ok(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'the demo built its lab');
    const pid = pane.pane().pid;
    assert.ok(pid > 0 && alive(pid), 'the demo runs as the pane process');
    pane.kill();
    for (let i = 0; i < 100 && alive(pid); i++) await delay(200);
    assert.ok(!alive(pid), 'the demo process ended after the hangup');
    const err = readFileSync(log, 'utf8');
    assert.match(err, /torn down: balancer on/);
    assert.doesNotMatch(err, /Assertion failed|Unhandled 'error' event|console crashed/);
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'namespace removed');
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    assert.ok(!links.includes(`${names.b}:`) && !links.includes(`${names.b}@`), 'balancer link removed');
    assert.ok(!existsSync(pinRoot) && !existsSync(stateDir), 'pins and state removed');
  } finally {
    pane.kill();
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
