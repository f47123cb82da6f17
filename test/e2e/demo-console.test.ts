// `katran-tui demo` on a terminal (tmux): the console opens on the lab with traffic moving, and `q`
// tears everything down (namespace, links, pins, state), exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { cleanupLab, labNames } from '../../src/dataplane/lab.js';
import { demoPaths } from '../../src/demo.js';
import { labId, requireLab } from './fixture.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function tmux(args: string[]): string {
  return execFileSync('tmux', args, { encoding: 'utf8', timeout: 10_000 });
}

async function waitFor(session: string, re: RegExp, ms: number): Promise<string> {
  let pane = '';
  for (let i = 0; i < ms / 250; i++) {
    pane = tmux(['capture-pane', '-p', '-t', session]);
    if (re.test(pane)) return pane;
    await delay(250);
  }
  throw new Error(`timed out waiting for ${re} in:\n${pane}`);
}

test('demo in a terminal: the console on the lab, q tears it down', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  try {
    execFileSync('tmux', ['-V']);
  } catch {
    t.skip('tmux is not installed (bash scripts/setup.sh installs it)');
    return;
  }
  const id = labId('m');
  const names = labNames(id);
  const { pinRoot, stateDir } = demoPaths(id);
  const session = `kt-${id}`;
  try {
    tmux(['new-session', '-d', '-s', session, '-x', '100', '-y', '30', '-e', `KATRAN_TUI_DEMO_ID=${id}`, '-c', root,
      `${process.execPath} bin/katran-tui demo; echo DEMO-EXIT=$?; sleep 60`]);
    const pane = await waitFor(session, /192\.0\.2\.20:53\/udp/, 30_000);
    assert.match(pane, new RegExp(`${names.b} native`));
    // traffic moves: a non-zero XDP rate within a few samples
    await waitFor(session, /XDP TOTAL [1-9][\d.]*k?\/s/, 10_000);
    tmux(['send-keys', '-t', session, 'q']);
    const after = await waitFor(session, /DEMO-EXIT=\d+/, 30_000);
    assert.match(after, /DEMO-EXIT=0/);
    assert.match(after.replace(/\n/g, ''), /torn down: balancer on/);
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(names.ns), 'namespace removed');
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    assert.ok(!links.includes(`${names.b}:`) && !links.includes(`${names.b}@`), 'balancer link removed');
    assert.ok(!existsSync(pinRoot) && !existsSync(stateDir), 'pins and state removed');
  } finally {
    try { tmux(['kill-session', '-t', session]); } catch { /* gone */ }
    cleanupLab(id);
    rmSync(pinRoot, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  }
});
