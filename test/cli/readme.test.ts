// README.md, --help and the code must agree: every command the README shows exists, every command
// --help lists is documented, options used in README examples exist, and the console keys table
// covers the console's own key list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/program.js';
import { normalizeArgv } from '../../src/cli/argv.js';
import { FakeBox, fakeDeps } from './fake-host.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

async function help(argv: string[]): Promise<string> {
  const f = fakeDeps(new FakeBox());
  assert.equal(await main([...argv, '--help'], f.deps), 0);
  return f.stdout.text;
}

function commandsOf(helpText: string): string[] {
  const section = helpText.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
}

function optionsOf(helpText: string): string[] {
  return [...helpText.matchAll(/(?:^|[ ,])(--[a-z][a-z-]*)/gm)].map((m) => m[1]);
}

/** Lines of ```sh blocks that run katran-tui, continuation lines joined. */
function readmeInvocations(): string[][] {
  const out: string[][] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = block[1].replace(/\\\n\s*/g, ' ');
    for (const line of text.split('\n')) {
      for (const part of line.split(/&&|\|/)) {
        const m = /^\s*(?:sudo\s+)?katran-tui\b(.*)$/.exec(part.replace(/#.*$/, ''));
        if (m) out.push(m[1].trim().split(/\s+/).filter(Boolean).filter((w) => !w.startsWith('>')));
      }
    }
  }
  return out;
}

test('the README keeps the two set-up lines CI and the first-time user rely on', () => {
  const lines = readme.split('\n');
  assert.ok(lines.some((l) => l.startsWith('bash scripts/setup.sh && npm run demo')));
  assert.ok(lines.some((l) => l.startsWith('bash scripts/setup.sh && npm test')));
  assert.ok(lines.findIndex((l) => l.startsWith('bash scripts/setup.sh && npm run demo')) < 6, 'the first command block');
});

test('every command in --help has a README section and every README section is a command', async () => {
  const top = commandsOf(await help([]));
  assert.ok(top.length >= 11, top.join(' '));
  const sections = [...readme.matchAll(/^### katran-tui ([a-z-]+)$/gm)].map((m) => m[1]);
  assert.deepEqual([...sections].sort(), [...top].sort());
  for (const c of top) {
    for (const sub of commandsOf(await help([c]))) {
      assert.match(readme, new RegExp(`katran-tui ${c} ${sub}\\b`), `README shows katran-tui ${c} ${sub}`);
    }
  }
});

test('every katran-tui invocation in the README parses: known command, subcommand and options', async () => {
  const top = commandsOf(await help([]));
  const globalOpts = optionsOf(await help([]));
  const inv = readmeInvocations();
  assert.ok(inv.length > 20, `${inv.length} invocations`);
  for (const words of inv) {
    const argv = normalizeArgv(words.map((w) => w.replace(/^'(.*)'$/, '$1'))).argv;
    const cmd = argv.find((w) => !w.startsWith('-') && top.includes(w));
    let opts = [...globalOpts];
    if (cmd) {
      const h = await help([cmd]);
      opts = opts.concat(optionsOf(h));
      const subs = commandsOf(h);
      const i = argv.indexOf(cmd);
      if (subs.length && argv[i + 1] && !argv[i + 1].startsWith('-')) {
        assert.ok(subs.includes(argv[i + 1]), `README: katran-tui ${words.join(' ')}: ${argv[i + 1]} is not a subcommand of ${cmd}`);
        opts = opts.concat(optionsOf(await help([cmd, argv[i + 1]])));
      }
    } else {
      const first = argv.find((w) => !w.startsWith('-'));
      const prev = first ? argv[argv.indexOf(first) - 1] : undefined;
      assert.ok(!first || (prev && prev.startsWith('--') && !prev.includes('=')), `README: katran-tui ${words.join(' ')}: unknown command ${first}`);
    }
    for (const w of argv) {
      if (!w.startsWith('--') || w === '--') continue;
      const name = w.split('=')[0];
      assert.ok(opts.includes(name) || name === '--version' || name === '--help', `README: katran-tui ${words.join(' ')}: ${name} is not an option here`);
    }
  }
});

test('the console keys table covers every key of the console help overlay', async () => {
  const { HELP } = await import('../../src/ui/components/Help.js');
  const section = readme.split('## The console')[1].split('\n## ')[0];
  for (const [keys] of HELP as [string, string][]) {
    for (const k of keys.split(/[\s/]+/).filter(Boolean)) {
      assert.ok(section.includes(`\`${k}\``) || section.includes(`${k}\``) || section.includes(`\`${k}`), `README console keys: ${k} (from "${keys}")`);
    }
  }
});
