// The libbpf binding is typed (src/dataplane/kernel/libbpf.ts): the checks here are made by the
// compiler. Each @ts-expect-error must meet a type error; if the binding lost its signatures (an
// any-typed table), `npm run build` would fail with "Unused '@ts-expect-error' directive".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libbpf } from '../../src/dataplane/kernel/libbpf.js';

function misuses(): void {
  const l = libbpf();
  // @ts-expect-error: a typo in a function name
  l.bpf_map_lookup_elemm(3, Buffer.alloc(4), Buffer.alloc(4));
  // @ts-expect-error: the key is a buffer, not a number
  l.bpf_map_lookup_elem(3, 1, Buffer.alloc(4));
  // @ts-expect-error: a missing argument
  l.bpf_xdp_attach(1, 3, 0);
  // @ts-expect-error: an int API returns a number, not a pointer
  const p: bigint | null = l.bpf_map_update_elem(3, Buffer.alloc(4), Buffer.alloc(4), 0);
  void p;
}

test('the libbpf binding has a signature per function (checked at build time)', () => {
  assert.equal(typeof misuses, 'function'); // never called: it would pass garbage to the kernel
});
