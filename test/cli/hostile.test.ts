// Issue 7 "Bad input": random and hostile strings into every CLI argument. Each gives a clear
// one-line error, exit 1 or 2, no crash, and nothing changes in the (fake) dataplane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, fakeDeps } from './fake-host.js';

const HOSTILE = [
  'eth0;rm -rf /', '$(reboot)', '`reboot`', '| cat /etc/shadow', '&& halt', '../../etc/passwd', '/dev/zero', '',
  ' ', '\u0000', 'a\u0000b', '\n', 'x\r\ny', '\u001b[2J\u001b[31mred', '-1', '--', '-', '%s%s%n', '${IFS}', "'; DROP TABLE vips; --",
  'A'.repeat(5000), '１９２．０．２．１', '192.0.2.1:80/tcp\nvip del', '999.999.999.999:80/tcp', '192.0.2.1:99999/tcp', '[::1:80/tcp',
  '192.0.2.1:80/sctp', '[2001:db8::1%eth0]:80/tcp', 'ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '0x10', '1e3', '4294967296', 'NaN', 'Infinity',
  '-0', '+5', '0,1,99999', 'no-sport,$(reboot)', 'maglev;ls', '..', '.', 'eth0 eth1', 'veth-lb\u0000', 'ü', '🙂',
];

// Each template has one hole (@) where the hostile string goes; the rest is valid.
const TEMPLATES: string[][] = [
  ['--intf', '@', 'vip', 'list'],
  ['--interval', '@', 'stats', '--once'],
  ['--state-dir', '@', 'vip', 'add', '192.0.2.1:80/tcp'],
  ['--pin-root', '@', 'vip', 'add', '192.0.2.1:80/tcp'],
  ['vip', 'add', '@'],
  ['vip', 'add', '192.0.2.1:80/tcp', '--flags', '@'],
  ['vip', 'add', '192.0.2.1:80/tcp', '--hash', '@'],
  ['vip', 'del', '@'],
  ['real', 'add', '@', '198.51.100.1'],
  ['real', 'add', '192.0.2.1:80/tcp', '@'],
  ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.9', '--weight', '@'],
  ['real', 'del', '192.0.2.1:80/tcp', '@'],
  ['real', 'weight', '192.0.2.1:80/tcp', '198.51.100.1', '@'],
  ['real', 'weight', '192.0.2.1:80/tcp', '@', '2'],
  ['mac', 'set', '@'],
  ['stats', '--count', '@'],
  ['trace', '@', '192.0.2.1:80/tcp'],
  ['trace', '203.0.113.5:40000', '@'],
  ['config', 'apply', '@'],
  ['demo', '--duration', '@'],
  ['doctor', '--intf', '@'],
  ['attach', '--intf', '@', '--default-mac', '02:00:00:00:00:09'],
  ['attach', '--intf', 'veth-new', '--default-mac', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--xdp-mode', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--balancer-prog', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--healthchecker-prog', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--hc-intf', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--lru-size', '@'],
  ['attach', '--intf', 'veth-new', '--default-mac', '02:00:00:00:00:09', '--forwarding-cores', '@'],
  ['attach', '-intf=@', '-default_mac', '02:00:00:00:00:09'],
  ['detach', '--intf', '@'],
];

/** Values that are valid for that hole (so success is expected, not an error). */
function legitimately(tpl: string[], s: string): boolean {
  const hole = tpl.indexOf('@');
  const prev = tpl[hole - 1];
  if (prev === '--state-dir' || prev === '--pin-root') return !s.includes('\u0000') && s !== '' && s.length <= 4096 && s !== '--' && s !== '-';
  if (prev === '--weight' || (tpl[1] === 'weight' && hole === 4)) return /^\d+$/.test(s) && Number(s) <= 1_000_000;
  // Katran's gflags defaults are empty strings: an empty value means "not given" for these
  if (['--hc-intf', '--lru-size', '--forwarding-cores'].includes(prev) && s === '') return true;
  if (prev === '--interval') return false;
  if (prev === '--count') return false;
  if (prev === '--duration') return false;
  return false;
}

test('hostile strings into every argument: clear error, exit 1 or 2, nothing changed', async () => {
  let cases = 0;
  for (const tpl of TEMPLATES) {
    for (const h of HOSTILE) {
      const argv = tpl.map((a) => (a === '@' ? h : a.replace('@', h)));
      const box = attachedBox();
      box.vips.set('192.0.2.1:80/tcp', { key: { address: '192.0.2.1', port: 80, proto: 'tcp' }, flags: [], hash: 'maglev-v2', reals: new Map([['198.51.100.1', 1]]) });
      const before = box.snapshot();
      const f = fakeDeps(box);
      const code = await main(argv, f.deps);
      cases++;
      const what = JSON.stringify(argv);
      if (legitimately(tpl, h)) continue;
      assert.ok(code === 1 || code === 2, `${what}: exit ${code}, out ${f.stdout.text} err ${f.stderr.text}`);
      const lines = f.stderr.text.split('\n').filter((l) => l !== '' && !l.includes('note: ignoring Katran flag'));
      assert.equal(lines.length, 1, `${what}: one stderr line, got ${JSON.stringify(f.stderr.text)}`);
      assert.match(lines[0], /^katran-tui: /, what);
      assert.ok(!/\u001b|\u0000|\r/.test(f.stderr.text), `${what}: control characters echoed`);
      assert.ok(lines[0].length < 1200, `${what}: error line too long`);
      assert.ok(!/\n\s+at /.test(f.stderr.text), `${what}: stack trace`);
      assert.equal(box.snapshot(), before, `${what}: the dataplane changed`);
      assert.deepEqual(box.writes, [], `${what}: wrote ${box.writes}`);
    }
  }
  assert.ok(cases > 1000, `ran ${cases} cases`);
});

test('random argument vectors never crash main()', async () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const words = ['vip', 'add', 'del', 'list', 'real', 'weight', 'mac', 'set', 'get', 'stats', '--json', '--once', '--count', 'trace', 'config',
    'apply', 'export', 'doctor', '--intf', '-intf', '--readonly', '192.0.2.1:80/tcp', '198.51.100.1', '02:00:00:00:00:09', ...HOSTILE];
  for (let i = 0; i < 400; i++) {
    const argv = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => words[Math.floor(rnd() * words.length)]);
    const box = attachedBox();
    const f = fakeDeps(box);
    const code = await main(argv, f.deps);
    assert.ok([0, 1, 2].includes(code), JSON.stringify(argv));
    assert.ok(!/\n\s+at /.test(f.stderr.text), `${JSON.stringify(argv)}: stack trace`);
  }
});
