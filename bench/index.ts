// `npm run bench`: prints figures and ratios for every speed target of the issues. Benchmarks are
// not tests: nothing here fails on a slow machine; the figures are for people to read.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const parts: [file: string, fn: string, title: string][] = [
  ['bpf.js', 'benchBpf', 'XDP program: ns per packet (prog_test_run, repeat=1)'],
  ['e2e.js', 'benchE2e', 'End to end in the lab: the generator flat out, forwarded packets per second at the sink'],
  ['maglev.js', 'benchMaglev', 'Maglev ring'],
  ['dataplane.js', 'benchDataplane', 'Control plane and sampler'],
  ['ui.js', 'benchUi', 'Console'],
  ['console.js', 'benchConsole', 'Console on the real balancer in tmux (CPU, RSS, first frame)'],
];
const only = process.argv.slice(2);
let ran = 0;
for (const [file, fn, title] of parts) {
  if (only.length && !only.some((o) => file.startsWith(o))) continue;
  const path = join(here, file);
  if (!existsSync(path)) {
    console.log(`\n== ${title}: not built (${file} missing)`);
    continue;
  }
  console.log(`\n== ${title}`);
  const mod = (await import(pathToFileURL(path).href)) as Record<string, () => Promise<void>>;
  await mod[fn]();
  ran++;
}
console.log(`\nbench: ${ran} part(s) ran`);
