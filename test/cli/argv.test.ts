// Katran gflags spellings -> our options, before commander.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeArgv } from '../../src/cli/argv.js';
import { UsageError } from '../../src/cli/errors.js';

test('a pasted katran_server_grpc command line becomes our long options', () => {
  const { argv, notes } = normalizeArgv(['attach', '-intf=eno2.573', '-default_mac', '58:e4:34:56:46:e0', '-balancer_prog', './balancer.bpf.o',
    '-healthchecker_prog', './x.o', '-hc_intf', 'X', '-lru_size', '1000', '-forwarding_cores', '0,1']);
  assert.deepEqual(argv, ['attach', '--intf=eno2.573', '--default-mac', '58:e4:34:56:46:e0', '--balancer-prog', './balancer.bpf.o',
    '--healthchecker-prog', './x.o', '--hc-intf', 'X', '--lru-size', '1000', '--forwarding-cores', '0,1']);
  assert.deepEqual(notes, []);
});

test('double-dash names with underscores and = values are normalised; values and positionals are not', () => {
  assert.deepEqual(normalizeArgv(['--default_mac=aa:bb', 'vip', 'add', '192.0.2.1:80/tcp', '--flags', 'no_sport']).argv,
    ['--default-mac=aa:bb', 'vip', 'add', '192.0.2.1:80/tcp', '--flags', 'no_sport']);
  assert.deepEqual(normalizeArgv(['-h']).argv, ['-h']);
  assert.deepEqual(normalizeArgv(['-V']).argv, ['-V']);
  assert.deepEqual(normalizeArgv(['-unknown_thing']).argv, ['-unknown_thing']);
  assert.deepEqual(normalizeArgv(['--', '-intf=x']).argv, ['--', '-intf=x']);
  assert.deepEqual(normalizeArgv(['-json']).argv, ['--json']);
});

test('Katran flags katran-tui has no use for are dropped with a note, with their values', () => {
  const { argv, notes } = normalizeArgv(['-server', '0.0.0.0:50051', '-ipip_intf=ipip0', '-nohc_forwarding', '-intf', 'eth1', '-priority', '2307', '-logtostderr']);
  assert.deepEqual(argv, ['--intf', 'eth1']);
  assert.equal(notes.length, 5);
  assert.match(notes[0], /ignoring Katran flag -server 0\.0\.0\.0:50051: katran-tui opens no network listener/);
});

test('Katran shared mode (-map_path) is refused; an empty -map_path is the standalone default', () => {
  assert.throws(() => normalizeArgv(['-map_path', '/sys/fs/bpf/jmp']), (e) => e instanceof UsageError && /shared mode/.test(e.message));
  assert.deepEqual(normalizeArgv(['-map_path=', '-intf=x']).argv, ['--intf=x']);
});
