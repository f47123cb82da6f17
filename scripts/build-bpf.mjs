#!/usr/bin/env node
// Compiles every *.bpf.c under bpf/, bench/ and test/ into dist/<same dir>/<name>.bpf.o with
// clang -O2 -g -target bpf. Rebuilds only what is older than its sources (any .h beside it).
// The multiarch include dir is passed explicitly: <linux/bpf.h> needs <asm/types.h>, which lives
// there on Debian/Ubuntu (GUIDE.md); a box that happens to have /usr/include/asm would hide that.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = ['bpf', 'bench', 'test'];

function multiarch() {
  for (const [cmd, args] of [['dpkg-architecture', ['-qDEB_HOST_MULTIARCH']], ['gcc', ['-print-multiarch']], ['clang', ['-print-multiarch']]]) {
    try {
      const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (out) return out;
    } catch { /* try the next one */ }
  }
  return `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
}

function findSources(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) findSources(p, out);
    else if (e.name.endsWith('.bpf.c')) out.push(p);
  }
  return out;
}

function newestHeader(dir) {
  let t = 0;
  for (const d of [dir, join(root, 'bpf')].filter((x) => existsSync(x))) {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isFile() && e.name.endsWith('.h')) t = Math.max(t, statSync(join(d, e.name)).mtimeMs);
      if (e.isDirectory() && d === join(root, 'bpf')) {
        for (const f of readdirSync(join(d, e.name))) if (f.endsWith('.h')) t = Math.max(t, statSync(join(d, e.name, f)).mtimeMs);
      }
    }
  }
  return t;
}

const clang = process.env.CLANG ?? 'clang';
try {
  execFileSync(clang, ['--version'], { stdio: 'ignore' });
} catch {
  console.error(`build-bpf: ${clang} not found: install clang and llvm (bash scripts/setup.sh does it)`);
  process.exit(1);
}
const arch = multiarch();
const incArch = `/usr/include/${arch}`;
if (!existsSync(join(incArch, 'asm', 'types.h'))) {
  console.error(`build-bpf: ${incArch}/asm/types.h is missing: install linux-libc-dev (bash scripts/setup.sh does it)`);
  process.exit(1);
}
if (!existsSync('/usr/include/bpf/bpf_helpers.h')) {
  console.error('build-bpf: /usr/include/bpf/bpf_helpers.h is missing: install libbpf-dev (bash scripts/setup.sh does it)');
  process.exit(1);
}
const targetArch = process.arch === 'arm64' ? 'arm64' : 'x86';
let built = 0;
for (const d of dirs) {
  for (const src of findSources(join(root, d))) {
    const rel = relative(root, src);
    const out = join(root, 'dist', rel.replace(/\.c$/, '.o'));
    const srcTime = Math.max(statSync(src).mtimeMs, newestHeader(dirname(src)));
    if (existsSync(out) && statSync(out).mtimeMs >= srcTime) continue;
    mkdirSync(dirname(out), { recursive: true });
    const args = ['-O2', '-g', '-target', 'bpf', `-D__TARGET_ARCH_${targetArch}`, '-Wall', '-Werror',
      '-Wno-unused-function', '-I', join(root, 'bpf'), '-I', incArch, '-c', src, '-o', out];
    try {
      execFileSync(clang, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      console.error(`build-bpf: clang failed on ${rel}`);
      process.exit(1);
    }
    built++;
  }
}
console.log(`build-bpf: ${built} object(s) rebuilt (include dir ${incArch})`);
