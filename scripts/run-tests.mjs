#!/usr/bin/env node
// Runs every compiled test (dist/test/**/*.test.js) with node's test runner, one file at a time
// (the BPF and lab tests share the kernel), and then sweeps anything this run left behind.
// Each run gets its own id: pin roots, state dirs, namespaces and links are named after it.
import { spawnSync, execFileSync } from 'node:child_process';
import { readdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
function find(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
let files = find(join(root, 'dist', 'test')).sort();
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test (did the build run?)');
  process.exit(1);
}
const runId = process.env.KATRAN_TUI_TEST_RUN ?? `t${process.pid.toString(36)}`;
const env = { ...process.env, KATRAN_TUI_TEST_RUN: runId, IS_REACT_ACT_ENVIRONMENT: 'true' };
// CI=true means "BPF tests must not skip" (test/helpers/env.ts reads KATRAN_TUI_CI). CI itself is
// not passed on: Ink draws no frames when it is set, and the tests drive the console (and the
// tmux panes they start) as it runs on an operator's terminal.
for (const k of ['CI', 'CONTINUOUS_INTEGRATION']) {
  const v = env[k];
  if (v !== undefined && v !== '0' && v !== 'false') env.KATRAN_TUI_CI = 'true';
  delete env[k];
}
const tapFile = join(tmpdir(), `katran-tui-tests-${runId}.tap`);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`, ...files], { stdio: 'inherit', env, cwd: root });
// The closing line CI reads: counts from the TAP summary of the same run.
const tap = existsSync(tapFile) ? readFileSync(tapFile, 'utf8') : '';
rmSync(tapFile, { force: true });
const count = (k) => Number((new RegExp(`^# ${k} (\\d+)$`, 'm').exec(tap) ?? [])[1] ?? 0);
const summary = `${count('pass')} passed, ${count('fail') + count('cancelled')} failed, ${count('skipped')} skipped`;

// Safety net: the tests clean up after themselves; whatever of this run is still here is removed
// and named, so one failing test cannot leave the machine dirty and the one that leaked is findable.
const removed = [];
try {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.includes(runId));
  for (const n of ns) { execFileSync('ip', ['netns', 'del', n]); removed.push(`namespace ${n}`); }
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).split('\n').map((l) => l.split(': ')[1]?.split('@')[0]).filter((n) => n && n.includes(runId));
  for (const l of links) { try { execFileSync('ip', ['link', 'del', l]); removed.push(`link ${l}`); } catch { /* gone with its peer */ } }
} catch { /* no iproute2: nothing was created either */ }
const pins = `/sys/fs/bpf/katran-tui-test-${runId}`;
const pinned = existsSync(pins) ? readdirSync(pins) : [];
if (pinned.length > 0) removed.push(`pins ${pins}/{${pinned.sort().join(',')}}`);
rmSync(pins, { recursive: true, force: true });
// Scratch files (state dirs, logs) of this run live here by design; removed without complaint.
rmSync(`/tmp/katran-tui-test-${runId}`, { recursive: true, force: true });
if (removed.length) console.error(`run-tests: removed ${removed.length} leftover(s) of run ${runId}: ${removed.join('; ')}`);
console.log(`tests: ${summary}`);
process.exit(r.status ?? 1);
