// The dataplane's typed errors (src/dataplane/errors.ts): distinct names, plain-data fields, the
// operation and object they carry, and the places that throw them (a missing interface, a map
// full in the kernel, a closed map, a read-only map, a foreign pin root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as errors from '../../src/dataplane/errors.js';
import {
  BpfError, BpffsMissingError, ClosedError, DATAPLANE_ERROR_CLASSES, DataplaneError, ERRNO, InputError, InterfaceMissingError,
  LockedError, MapFullError, NotExistError, ReadOnlyError, VerifierError,
} from '../../src/dataplane/errors.js';
import { InputError as AbiInputError } from '../../src/dataplane/abi.js';
import { LockedError as TypesLockedError, ReadOnlyError as TypesReadOnlyError } from '../../src/dataplane/types.js';
import { BPF_MAP_TYPE, closeFd, linkBasics, mapCreate, mapUpdate, objGet } from '../../src/dataplane/kernel/libbpf.js';
import { BpfMap } from '../../src/dataplane/kernel/maps.js';
import { requireBpffs } from '../../src/dataplane/kernel/pins.js';
import { requireBpf, scratchDir } from '../helpers/env.js';

test('every error class has its own name, is exported, and is listed for rebuilding by name', () => {
  const exported: unknown[] = Object.values(errors).filter((v) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof Error);
  assert.deepEqual(new Set<unknown>(DATAPLANE_ERROR_CLASSES), new Set(exported), 'DATAPLANE_ERROR_CLASSES lists every exported class');
  const names = DATAPLANE_ERROR_CLASSES.map((C) => C.name);
  assert.equal(new Set(names).size, names.length, `distinct class names: ${names.join(', ')}`);
  for (const C of DATAPLANE_ERROR_CLASSES) assert.ok(C.prototype instanceof DataplaneError || C === DataplaneError, `${C.name} is a DataplaneError`);
});

test('the old import paths give the same classes (other modules keep compiling)', () => {
  assert.equal(AbiInputError, InputError);
  assert.equal(TypesReadOnlyError, ReadOnlyError);
  assert.equal(TypesLockedError, LockedError);
});

test('errors carry op and object as plain data, and their name survives a structured clone', () => {
  const samples: errors.DataplaneError[] = [
    new MapFullError('add VIP', '192.0.2.1:80/tcp', 'map full (512)', { maxEntries: 512, message: 'add VIP: map full (512)' }),
    new VerifierError('load', '/x.o', ERRNO.EACCES, 'R1 invalid mem access'),
    new LockedError(4242, '/var/lib/katran-tui'),
    new InterfaceMissingError('attach to', 'interface ktnone0'),
    InputError.at('configure', 'LRU size', 'LRU size 0 must be a whole number'),
  ];
  for (const e of samples) {
    assert.ok(e.op.length > 0, `${e.name}: op`);
    assert.ok(e.object.length > 0, `${e.name}: object`);
    for (const [k, v] of Object.entries(e)) {
      assert.ok(['string', 'number', 'boolean', 'undefined'].includes(typeof v), `${e.name}.${k} is plain data (${typeof v})`);
    }
  }
  assert.equal(samples[0].message, 'add VIP: map full (512)');
  assert.equal((samples[0] as MapFullError).maxEntries, 512);
  const v = samples[1] as VerifierError;
  assert.ok(v instanceof BpfError);
  assert.equal(v.code, 'EACCES');
  assert.equal(v.log, 'R1 invalid mem access');
  assert.match(v.message, /^load \/x\.o: the kernel's verifier rejected the program \(EACCES\); verifier log follows$/);
  assert.equal(samples[2].message, 'state directory /var/lib/katran-tui is locked by pid 4242');
  assert.equal(samples[3].message, 'attach to interface ktnone0: interface does not exist');
  assert.equal(samples[4].message, 'configure LRU size: LRU size 0 must be a whole number');
});

test('kernel calls throw typed errors: missing interface, map full, key absent, closed and read-only maps, not bpffs', async (t) => {
  if (!(await requireBpf(t))) return;
  const name = 'ktnosuchif9';
  assert.throws(() => linkBasics(name), (e: unknown) => e instanceof InterfaceMissingError && e.object === `interface ${name}` && e.errno === ERRNO.ENODEV);
  assert.throws(() => linkBasics('x'.repeat(16)), (e: unknown) => e instanceof InputError && /at most 15 characters/.test(e.message));

  const fd = mapCreate(BPF_MAP_TYPE.HASH, 'kt_err_full', 4, 4, 1);
  try {
    mapUpdate(fd, Buffer.from([1, 0, 0, 0]), Buffer.alloc(4), 0, 'map kt_err_full');
    assert.throws(() => mapUpdate(fd, Buffer.from([2, 0, 0, 0]), Buffer.alloc(4), 0, 'map kt_err_full'), (e: unknown) => {
      assert.ok(e instanceof MapFullError, `${(e as Error).name}: ${(e as Error).message}`);
      assert.equal(e.op, 'update');
      assert.equal(e.object, 'map kt_err_full');
      assert.ok(e.errno === ERRNO.E2BIG || e.errno === ERRNO.ENOSPC);
      return true;
    });
    const m = BpfMap.fromFd('kt_err_full', fd, { readOnly: true, ownsFd: false });
    assert.throws(() => m.update(Buffer.from([3, 0, 0, 0]), Buffer.alloc(4)), (e: unknown) => e instanceof ReadOnlyError && e.op === 'update' && e.object === 'map kt_err_full');
  } finally {
    closeFd(fd);
  }
  const w = BpfMap.fromFd('kt_err_w', mapCreate(BPF_MAP_TYPE.HASH, 'kt_err_w', 4, 4, 1));
  w.update(Buffer.from([1, 0, 0, 0]), Buffer.alloc(4));
  assert.throws(() => w.update(Buffer.from([2, 0, 0, 0]), Buffer.alloc(4)), (e: unknown) => e instanceof MapFullError && e.maxEntries === 1 && e.message === 'update map kt_err_w: map full (1)');
  w.close();
  assert.throws(() => w.update(Buffer.from([1, 0, 0, 0]), Buffer.alloc(4)), (e: unknown) => e instanceof ClosedError && e.object === 'map kt_err_w');

  assert.throws(() => objGet('/sys/fs/bpf/katran-tui-test-no-such-pin'), (e: unknown) => e instanceof NotExistError && e.code === 'ENOENT' && e.op === 'open pinned');
  const notBpf = scratchDir('errors-nobpffs');
  assert.throws(() => requireBpffs(notBpf), (e: unknown) => e instanceof BpffsMissingError && e.object === notBpf);
});
