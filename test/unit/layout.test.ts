// Every struct offset libbpf.ts hard-codes, checked against the installed libbpf headers by
// compiling a small C program (clang is a build dependency anyway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAYOUT } from '../../src/dataplane/kernel/libbpf.js';
import { scratchDir } from '../helpers/env.js';

const source = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'unit', 'layout.c');

test('libbpf struct layouts match the installed headers', () => {
  const dir = scratchDir('layout');
  const exe = join(dir, 'layout');
  const arch = execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  execFileSync('clang', ['-I', `/usr/include/${arch}`, source, '-o', exe]);
  const lines = execFileSync(exe, { encoding: 'utf8' }).trim().split('\n');
  let checked = 0;
  for (const line of lines) {
    const [struct, field, value] = line.split(' ');
    const layout = (LAYOUT as Record<string, Record<string, number>>)[struct];
    assert.ok(layout, `LAYOUT has ${struct}`);
    assert.equal(layout[field], Number(value), `${struct}.${field}`);
    checked++;
  }
  assert.ok(checked >= 50, `checked ${checked} fields`);
});
