// Command line entry point (commander). The full command set lands with the CLI issue.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version: string };

const program = new Command('katran-tui')
  .description('On-box console for an XDP layer-4 load balancer with Katran\'s map ABI')
  .version(pkg.version);
program.parse();
