// The first real kernel test: load a compiled object through our libbpf binding and run a crafted
// frame through its XDP program with prog_test_run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, TestRunner, XDP_ACTION } from '../../src/dataplane/kernel/libbpf.js';
import { builtObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';

test('floor program swaps MACs and returns XDP_TX through prog_test_run', async (t) => {
  if (!(await requireBpf(t))) return;
  const obj = BpfObject.open(builtObject('bench/floor.bpf.c'));
  try {
    obj.load();
    const prog = obj.program('xdp_floor');
    assert.ok(prog, 'program xdp_floor is in the object');
    const runner = new TestRunner(prog.fd);
    const dst = Buffer.from('020000000001', 'hex');
    const src = Buffer.from('020000000002', 'hex');
    const payload = Buffer.from('4500001c0000000040110000cb007101c0000201', 'hex');
    const frame = Buffer.concat([dst, src, Buffer.from('0800', 'hex'), payload]);
    const r = runner.run(frame);
    assert.equal(r.retval, XDP_ACTION.TX);
    assert.deepEqual(r.data.subarray(0, 6), src);
    assert.deepEqual(r.data.subarray(6, 12), dst);
    assert.deepEqual(r.data.subarray(12), frame.subarray(12));
    // The bare 14-byte Ethernet header is the shortest frame XDP test_run accepts; MACs still swap.
    const runt = runner.run(frame.subarray(0, 14));
    assert.equal(runt.retval, XDP_ACTION.TX);
    assert.deepEqual(runt.data.subarray(0, 6), src);
    runner.close();
  } finally {
    obj.close();
  }
});
