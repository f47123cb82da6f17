// Child process of pending.test.ts (not a test itself): the command line (program.ts's main over
// the real libbpf Host) running one command, SIGKILLed at a named point of its transaction
// (reconciler.ts's fault hook): a kill -9 of a CLI writer in the middle of a change.
//
//   node cli-writer-child.js <step> <nth> <katran-tui arguments...>
import { setTimeout as delay } from 'node:timers/promises';
import type { CliDeps } from '../../src/cli/context.js';
import { main } from '../../src/cli/program.js';
import { LibbpfHost } from '../../src/dataplane/balancer/host.js';

const [step, nthText, ...argv] = process.argv.slice(2);
const nth = Number(nthText);
let seen = 0;
const deps: CliDeps = {
  stdout: process.stdout,
  stderr: process.stderr,
  stdinIsTTY: false,
  env: process.env,
  isRoot: () => true,
  createHost: (o) => new LibbpfHost({
    ...o,
    faults: (s) => {
      if (s === step && ++seen === nth) {
        process.stdout.write(`killing at ${s} #${nth}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
    },
  }),
  readInput: async () => '',
  sleep: async (ms) => { await delay(ms); },
  onInterrupt: () => () => {},
  identity: () => ({ version: '0.0.0', object: '', sha256: null }),
};
process.exitCode = await main(argv, deps);
