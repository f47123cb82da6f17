// One library call in a child process whose environment the fault tests control (not root, libbpf
// hidden): prints {"ok":true} or the error as one JSON line {"name","message","code","errno","log"}.
// Usage: node child-probe.js libbpf | load [object] | attach <intf> <pinRoot>
import { libbpf } from '../../src/dataplane/kernel/libbpf.js';
import { loadBalancer } from '../../src/dataplane/kernel/loader.js';
import { attach } from '../../src/dataplane/balancer/attach.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';

const [what, a, b] = process.argv.slice(2);
try {
  if (what === 'libbpf') libbpf();
  else if (what === 'load') loadBalancer(a || bundledObject('balancer'), { lruSize: 64 }).close();
  else if (what === 'attach') attach({ intf: a, defaultMac: '02:00:00:00:00:01', mode: 'generic', pinRoot: b, lruSize: 64 }).close();
  else throw new Error(`unknown probe ${what}`);
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (e) {
  const x = e as Error & { code?: string; errno?: number; log?: string };
  process.stdout.write(`${JSON.stringify({ name: x.name, message: x.message, code: x.code, errno: x.errno, log: x.log ? x.log.slice(0, 2000) : undefined })}\n`);
  process.exitCode = 1;
}
