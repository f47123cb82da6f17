// Command line entry point: bin/katran-tui imports this. The program lives in src/cli/: commander
// wiring in program.ts, one module per command group, the real outside world in real-deps.ts.
import { main } from './cli/program.js';
import { realDeps } from './cli/real-deps.js';

const code = await main(process.argv.slice(2), await realDeps());
process.exitCode = code;
