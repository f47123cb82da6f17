// Every command against the fake Host: exit codes, output, JSON shapes, what reaches the dataplane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { attachedBox, FakeBox, fakeDeps } from './fake-host.js';

async function run(box: FakeBox, argv: string[], o: Parameters<typeof fakeDeps>[1] = {}) {
  const f = fakeDeps(box, o);
  const code = await main(argv, f.deps);
  return { code, out: f.stdout.text, err: f.stderr.text, console: f.consoleCalls };
}

test('--help and --version exit 0; --version names the package and the bundled object', async () => {
  const box = new FakeBox();
  const h = await run(box, ['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /Commands:/);
  const v = await run(box, ['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^katran-tui 9\.9\.9 \(bundled balancer\.bpf\.o sha256:(ab){32}\)\n$/);
  assert.equal((await run(box, ['vip', '--help'])).code, 0);
});

test('bad usage exits 2 with one line on stderr', async () => {
  const box = attachedBox();
  for (const argv of [['nosuch'], ['--nosuch'], ['vip', 'add'], ['real', 'weight', '192.0.2.1:80/tcp', '198.51.100.1'], ['vip'], ['stats', '--json', '--prometheus'], ['stats', '--once', '--count', '2']]) {
    const r = await run(box, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.equal(r.out, argv[0] === 'vip' && argv.length === 1 ? r.out : '');
    assert.ok(r.err.trim().split('\n').length >= 1);
    if (argv[0] !== 'vip' || argv.length > 1) assert.equal(r.err.trim().split('\n').length, 1, `one line for ${argv.join(' ')}: ${r.err}`);
  }
  assert.deepEqual(box.writes, []);
});

test('commander\'s usage errors point at the help of the subcommand they came from, at every depth', async () => {
  const box = attachedBox();
  const cases: [string[], RegExp][] = [
    [['vlan', 'mac', '574'], /^katran-tui: missing required argument 'mac' \(katran-tui vlan mac --help\)$/],
    [['vip', 'add'], /^katran-tui: missing required argument .* \(katran-tui vip add --help\)$/],
    [['vlan', 'add', '573', '--nosuch'], /^katran-tui: unknown option '--nosuch'.* \(katran-tui vlan add --help\)$/],
    [['stats', '--count'], /^katran-tui: option '--count <n>' argument missing \(katran-tui stats --help\)$/],
    [['stats', '--interval'], /^katran-tui: option '--interval <ms>' argument missing \(katran-tui --help\)$/], // a global option: the top-level help lists it
    [['nosuch'], /^katran-tui: too many arguments.* \(katran-tui --help\)$/],
    [['vlan', 'nosuch'], /^katran-tui: .* \(katran-tui vlan( list)? --help\)$/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(box, argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err.trim(), re, argv.join(' '));
  }
  // Every command: a missing argument names that command's own help.
  const { buildProgram } = await import('../../src/cli/program.js');
  const every = (c: import('commander').Command): import('commander').Command[] => [c, ...c.commands.flatMap(every)];
  const f = fakeDeps(box);
  const program = buildProgram(f.deps, {});
  let checked = 0;
  for (const c of every(program)) {
    const required = c.registeredArguments.filter((a) => a.required);
    if (!required.length) continue;
    const path: string[] = [];
    for (let x: import('commander').Command | null = c; x && x.parent; x = x.parent) path.unshift(x.name());
    const r = await run(box, path);
    assert.equal(r.code, 2, `${path.join(' ')}: ${r.err}`);
    assert.match(r.err.trim(), new RegExp(`missing required argument .*\\(katran-tui ${path.join(' ')} --help\\)$`), path.join(' '));
    checked++;
  }
  assert.ok(checked >= 10, `commands with required arguments checked: ${checked}`);
});

test('no subcommand without a terminal: one sentence telling to use a subcommand, exit 2', async () => {
  const r = await run(attachedBox(), []);
  assert.equal(r.code, 2);
  assert.match(r.err, /^katran-tui: the console needs a terminal: use a subcommand instead.*\n$/);
  assert.equal(r.console.length, 0);
});

test('no subcommand on a terminal opens the console with the common options', async () => {
  const r = await run(attachedBox(), ['--intf', 'veth-lb', '--readonly', '--interval', '500', '--no-color'], { tty: true });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.console, [{ intf: 'veth-lb', readOnly: true, intervalMs: 500, noColor: true, pinRoot: '/sys/fs/bpf/katran-tui', stateDir: '/var/lib/katran-tui' }]);
  const n = await run(attachedBox(), [], { tty: true, env: { NO_COLOR: '1' } });
  assert.deepEqual(n.console, [{ intf: undefined, readOnly: false, intervalMs: 1000, noColor: true, pinRoot: '/sys/fs/bpf/katran-tui', stateDir: '/var/lib/katran-tui' }]);
});

test('a pasted Katran command line without a subcommand attaches, then opens the console', async () => {
  const box = new FakeBox();
  const r = await run(box, ['-intf=veth-lb', '-default_mac', '58:e4:34:56:46:e0', '-lru_size', '1000', '-forwarding_cores', '0,1', '-server', '0.0.0.0:50051'], { tty: true });
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(box.attached.get('veth-lb'), { intf: 'veth-lb', defaultMac: '58:e4:34:56:46:e0', lruSize: 1000, forwardingCores: [0, 1] });
  assert.match(r.err, /ignoring Katran flag -server/);
  assert.equal(r.console.length, 1);
});

test('not root: one clear sentence, exit 1, nothing opened', async () => {
  const box = attachedBox();
  for (const argv of [['status'], ['vip', 'list'], ['vip', 'add', '192.0.2.1:80/tcp'], ['stats', '--once'], ['attach', '--intf', 'x', '--default-mac', '02:00:00:00:00:09']]) {
    const r = await run(box, argv, { root: false });
    assert.equal(r.code, 1, argv.join(' '));
    assert.match(r.err, /^katran-tui: [a-z ]+ needs root \(.*\): run it as root, e.g\. sudo katran-tui .*\n$/);
  }
  assert.deepEqual(box.opened, []);
  assert.deepEqual(box.writes, []);
});

test('attach: gflags spellings, validation, JSON result', async () => {
  const box = new FakeBox();
  const r = await run(box, ['attach', '-intf=veth-lb', '-default_mac', '58:E4:34:56:46:E0', '--xdp-mode', 'native', '-lru_size', '2000', '-forwarding_cores', '0-2', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { applied: true, summary: ['attach to veth-lb (native)'], warnings: [], pendingChange: null });
  assert.deepEqual(box.attached.get('veth-lb'), { intf: 'veth-lb', defaultMac: '58:e4:34:56:46:e0', mode: 'native', lruSize: 2000, forwardingCores: [0, 1, 2] });
  const missing = await run(new FakeBox(), ['attach', '--intf', 'veth-lb']);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--default-mac/);
  const prog = await run(new FakeBox(), ['attach', '--intf', 'veth-lb', '--default-mac', '02:00:00:00:00:01', '--balancer-prog', '/nonexistent/x.o']);
  assert.equal(prog.code, 2);
  assert.match(prog.err, /balancer program \/nonexistent\/x\.o does not exist/);
});

test('subcommands act on the only balancer, or ask for --intf', async () => {
  const none = await run(new FakeBox(), ['vip', 'list']);
  assert.equal(none.code, 1);
  assert.match(none.err, /no balancer on this box: attach one/);
  const two = attachedBox('a0');
  two.attached.set('b0', { intf: 'b0', defaultMac: '02:00:00:00:00:01' });
  const several = await run(two, ['vip', 'list']);
  assert.equal(several.code, 2);
  assert.match(several.err, /2 balancers on this box \(a0, b0\): pick one with --intf/);
  const picked = await run(two, ['vip', 'list', '--intf', 'b0', '--json']);
  assert.equal(picked.code, 0, picked.err);
  assert.equal(JSON.parse(picked.out).intf, 'b0');
});

test('vip add / list / del and real add / weight / del, with JSON shapes', async () => {
  const box = attachedBox();
  assert.equal((await run(box, ['vip', 'add', '192.0.2.1:80/tcp', '--flags', 'no_sport,NO_LRU', '--hash', 'maglev'])).code, 0);
  assert.equal((await run(box, ['vip', 'add', '[2001:db8::1]:443/tcp'])).code, 0);
  assert.equal((await run(box, ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.1', '--weight', '3'])).code, 0);
  assert.equal((await run(box, ['real', 'add', '[2001:db8::1]:443/tcp', '2001:db8:1::1'])).code, 0);
  const w = await run(box, ['real', 'weight', '192.0.2.1:80/tcp', '198.51.100.1', '5', '--json']);
  assert.equal(w.code, 0, w.err);
  assert.deepEqual(JSON.parse(w.out), { applied: true, summary: ['weight 198.51.100.1 -> 5'], warnings: [], movedShare: 0.25, pendingChange: null });
  const list = await run(box, ['vip', 'list', '--json']);
  assert.equal(list.code, 0);
  const doc = JSON.parse(list.out);
  assert.deepEqual(doc, {
    intf: 'veth-lb',
    vips: [
      { vip: '192.0.2.1:80/tcp', address: '192.0.2.1', port: 80, proto: 'tcp', flags: ['no-sport', 'no-lru'], hash: 'maglev', vipNum: 0,
        reals: [{ address: '198.51.100.1', weight: 5, index: 1, ringSlots: 100, ringShare: 1 }] },
      { vip: '[2001:db8::1]:443/tcp', address: '2001:db8::1', port: 443, proto: 'tcp', flags: [], hash: 'maglev-v2', vipNum: 1,
        reals: [{ address: '2001:db8:1::1', weight: 1, index: 1, ringSlots: 100, ringShare: 1 }] },
    ],
    pendingChange: null,
  });
  const text = await run(box, ['vip', 'list']);
  assert.match(text.out, /^VIP\s+FLAGS\s+HASH\s+REAL\s+WEIGHT\s+SLOTS\s+SHARE\n192\.0\.2\.1:80\/tcp\s+no-sport,no-lru\s+maglev\s+198\.51\.100\.1\s+5/);
  assert.equal((await run(box, ['real', 'del', '192.0.2.1:80/tcp', '198.51.100.1'])).code, 0);
  assert.equal((await run(box, ['vip', 'del', '192.0.2.1:80/tcp'])).code, 0);
  assert.deepEqual([...box.vips.keys()], ['[2001:db8::1]:443/tcp']);
  const gone = await run(box, ['vip', 'del', '192.0.2.1:80/tcp']);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /^katran-tui: VIP 192\.0\.2\.1:80\/tcp does not exist\n$/);
});

test('--dry-run writes nothing; --readonly refuses writes before opening', async () => {
  const box = attachedBox();
  const d = await run(box, ['vip', 'add', '192.0.2.1:80/tcp', '--dry-run']);
  assert.equal(d.code, 0);
  assert.match(d.out, /^would: add VIP 192\.0\.2\.1:80\/tcp/);
  assert.deepEqual(box.writes, []);
  box.opened = [];
  const ro = await run(box, ['--readonly', 'vip', 'add', '192.0.2.1:80/tcp']);
  assert.equal(ro.code, 1);
  assert.match(ro.err, /^katran-tui: refused: --readonly was given\n$/);
  const ro2 = await run(box, ['mac', 'set', '02:00:00:00:00:07', '--readonly']);
  assert.equal(ro2.code, 1);
  assert.deepEqual(box.writes, []);
  assert.deepEqual(box.opened, [], 'nothing opened under --readonly');
});

test('read commands open read-only', async () => {
  const box = attachedBox();
  await run(box, ['vip', 'list']);
  await run(box, ['mac']);
  await run(box, ['stats', '--once']);
  await run(box, ['config', 'export']);
  assert.ok(box.opened.length === 4 && box.opened.every((o) => o.readOnly), JSON.stringify(box.opened));
});

test('mac get (the default) and mac set', async () => {
  const box = attachedBox();
  const g = await run(box, ['mac']);
  assert.equal(g.out, '02:00:00:00:00:01\n');
  assert.deepEqual(JSON.parse((await run(box, ['mac', 'get', '--json'])).out), { intf: 'veth-lb', defaultMac: '02:00:00:00:00:01', pendingChange: null });
  assert.equal((await run(box, ['mac', 'set', '58-E4-34-56-46-E0'])).code, 0);
  assert.equal(box.mac, '58:e4:34:56:46:e0');
});

test('status lists balancers; JSON shape', async () => {
  const r = await run(attachedBox(), ['status', '--json']);
  assert.equal(r.code, 0);
  assert.deepEqual(JSON.parse(r.out), {
    version: '9.9.9', bundled: { object: '/x/dist/bpf/balancer.bpf.o', sha256: 'ab'.repeat(32) },
    balancers: [{ intf: 'veth-lb', ifindex: 7, progId: 42, mode: 'native', owner: 'katran-tui', tag: 'abcdef0123456789', pinDir: '/sys/fs/bpf/katran-tui/veth-lb', differsFromBundled: false,
      interfaceState: { status: 'ok', intf: 'veth-lb', ifindex: 7, canReattach: false, message: 'attached to veth-lb (ifindex 7)' }, pendingChange: null }],
    pendingChange: null,
  });
  const t = await run(attachedBox(), ['status']);
  assert.match(t.out, /^INTF\s+IFINDEX\s+MODE\s+PROG ID\s+TAG\s+OWNER\s+PINS\s+STATE\nveth-lb\s+7\s+native\s+42.*\s+ok\n/);
});

test('interface deleted, back, renamed: status and doctor say so; reattach brings it back (dry run writes nothing)', async () => {
  const box = attachedBox();
  box.gone.add('veth-lb');
  const s = await run(box, ['status']);
  assert.equal(s.code, 0);
  assert.match(s.out, /veth-lb\s+7\s+unknown.*\sGONE\n/);
  assert.match(s.err, /veth-lb: interface veth-lb \(ifindex 7\) is gone: its XDP attachment went with it/);
  const d = await run(box, ['doctor', '--json']);
  const gone = JSON.parse(d.out).checks.find((c: { check: string }) => c.check === 'veth-lb interface');
  assert.equal(gone.verdict, 'fail');
  assert.match(gone.fix, /recreate veth-lb, then katran-tui reattach --intf veth-lb/);
  const early = await run(box, ['reattach', '--intf', 'veth-lb']);
  assert.equal(early.code, 1);
  assert.match(early.err, /no interface veth-lb exists: create it first/);
  // The interface is back under the same name, at another ifindex.
  box.back.add('veth-lb');
  const back = await run(box, ['status', '--json']);
  assert.deepEqual(JSON.parse(back.out).balancers[0].interfaceState.reappeared, { ifindex: 9 });
  assert.match((await run(box, ['status'])).err, /exists again as ifindex 9.*\(katran-tui reattach --intf veth-lb\)/);
  const before = box.writes.length;
  const dry = await run(box, ['reattach', '--intf', 'veth-lb', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.err);
  assert.equal(JSON.parse(dry.out).applied, false);
  assert.equal(box.writes.length, before);
  assert.equal((await run(box, ['reattach', '--intf', 'veth-lb', '--readonly'])).code, 1);
  const r = await run(box, ['reattach', '--intf', 'veth-lb']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(box.writes.slice(before), ['reattach']);
  assert.match((await run(box, ['status'])).out, /\sok\n/);
  assert.match((await run(box, ['reattach', '--intf', 'veth-lb'])).err, /nothing to re-attach/);
  // Renamed: listed under the new name, doctor warns and says nothing needs doing.
  box.renamed.set('veth-lb', 'lb-new');
  const rs = await run(box, ['status']);
  assert.match(rs.out, /lb-new\s+7\s+native.*renamed from veth-lb\n/);
  const rd = JSON.parse((await run(box, ['doctor', '--json'])).out).checks.find((c: { check: string }) => c.check === 'lb-new interface');
  assert.equal(rd.verdict, 'warn');
  assert.match(rd.detail, /renamed veth-lb -> lb-new/);
});

test('stats --once / --count N --json: one document per line, rates from the second read', async () => {
  const box = attachedBox();
  await run(box, ['vip', 'add', '192.0.2.1:80/tcp']);
  const r = await run(box, ['stats', '--count', '3', '--json']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 3);
  for (const l of lines) {
    const d = JSON.parse(l);
    assert.equal(d.intf, 'veth-lb');
    assert.equal(d.elapsedMs, 1000);
    assert.deepEqual(Object.keys(d.xdp), ['total', 'tx', 'drop', 'pass']);
    assert.deepEqual(Object.keys(d.xdp.total), ['packets', 'bytes', 'pps', 'bps']);
    assert.equal(d.xdp.total.bps, 80000);
    assert.deepEqual(d.vips[0], { vip: '192.0.2.1:80/tcp', packets: d.vips[0].packets, bytes: d.vips[0].bytes, pps: 10, bps: 4800 });
    assert.ok('lru' in d.global && 'chDrop' in d.global);
  }
  const once = await run(box, ['stats', '--once']);
  assert.match(once.out, /XDP\s+PPS\s+BPS\s+PACKETS\s+BYTES/);
  assert.match(once.out, /192\.0\.2\.1:80\/tcp/);
});

test('trace: text and JSON', async () => {
  const box = attachedBox();
  await run(box, ['vip', 'add', '192.0.2.1:80/tcp']);
  await run(box, ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.1']);
  const t = await run(box, ['trace', '203.0.113.5:40000', '192.0.2.1:80/tcp', '--syn', '--json']);
  assert.equal(t.code, 0, t.err);
  assert.deepEqual(JSON.parse(t.out), { src: '203.0.113.5:40000', vip: '192.0.2.1:80/tcp', real: '198.51.100.1', action: 'TX', ringSlot: 40000, confirmedByKernel: true, steps: ['VIP match', 'ring slot 40000'], pendingChange: null });
  const x = await run(box, ['trace', '[2001:db8::5]:1', '192.0.2.1:80/tcp']);
  assert.equal(x.code, 2);
  assert.match(x.err, /different IP families/);
});

test('doctor: verdicts, fixes, JSON; exit 1 when a check fails', async () => {
  const box = attachedBox();
  const probe = {
    readFile: (p: string) => ({
      '/proc/mounts': 'bpf /sys/fs/bpf bpf rw 0 0\n',
      '/proc/sys/net/ipv4/conf/all/rp_filter': '1\n',
      '/sys/class/net/veth-lb/uevent': 'INTERFACE=veth-lb\n',
      '/proc/net/arp': 'IP address HW type Flags HW address Mask Device\n192.0.2.254 0x1 0x2 02:00:00:00:00:01 * veth-lb\n',
    } as Record<string, string>)[p] ?? null,
    readlink: (p: string) => (p === '/sys/class/net/veth-lb/device/driver' ? '../../bus/virtio/drivers/virtio_net' : null),
    readdir: (p: string) => (p === '/sys/fs/bpf/katran-tui' ? ['veth-lb', 'gone0'] : null),
  };
  const r = await run(box, ['doctor', '--json'], { probe });
  const d = JSON.parse(r.out);
  assert.equal(r.code, 0, r.out);
  const by = (c: string) => d.checks.find((x: { check: string }) => x.check === c);
  assert.equal(by('bpffs').verdict, 'ok');
  assert.equal(by('veth-lb XDP mode').verdict, 'ok');
  assert.equal(by('veth-lb MTU').verdict, 'warn');
  assert.equal(by('veth-lb rp_filter').verdict, 'warn');
  assert.equal(by('veth-lb default MAC').verdict, 'ok');
  assert.equal(by('pins').verdict, 'warn');
  assert.match(by('pins').detail, /gone0/);
  assert.match(by('pins').fix, /doctor --clean/);
  const removed: string[] = [];
  const c = await run(box, ['doctor', '--clean'], { probe: { ...probe, removeDir: (p: string) => void removed.push(p) } });
  assert.deepEqual(removed, ['/sys/fs/bpf/katran-tui/gone0']);
  assert.match(c.out, /removed 1 stale pin dir/);
  // a balancer whose interface vanished is not stale: its pins hold the VIPs and the LRU, reattach
  // brings it back, and --clean leaves it alone
  const goneBox = attachedBox();
  goneBox.attached.set('a0', { intf: 'a0', defaultMac: '02:00:00:00:00:01' });
  goneBox.gone.add('a0');
  const goneProbe = { ...probe, readdir: (p: string) => (p === '/sys/fs/bpf/katran-tui' ? ['veth-lb', 'a0'] : null) };
  const g = await run(goneBox, ['doctor', '--intf', 'veth-lb', '--json'], { probe: goneProbe });
  const checks = JSON.parse(g.out).checks as { check: string; verdict: string; detail: string; fix?: string }[];
  const det = checks.find((x) => x.check === 'detached balancers')!;
  assert.equal(det.verdict, 'warn');
  assert.match(det.detail, /\/sys\/fs\/bpf\/katran-tui\/a0 \(interface a0 is gone\)/);
  assert.match(det.fix ?? '', /katran-tui reattach --intf a0/);
  assert.equal(checks.find((x) => x.check === 'pins')!.verdict, 'ok');
  const keep: string[] = [];
  await run(goneBox, ['doctor', '--intf', 'veth-lb', '--clean'], { probe: { ...goneProbe, removeDir: (p: string) => void keep.push(p) } });
  assert.deepEqual(keep, [], '--clean never removes a detached balancer');
  const bad = await run(box, ['doctor'], { probe: { ...probe, readFile: () => null } });
  assert.equal(bad.code, 1);
  assert.match(bad.out, /bpffs\s+FAIL/);
  const vlan = await run(box, ['doctor', '--intf', 'eno2.573', '--json'], { probe: { ...probe, readFile: (p: string) => (p.endsWith('eno2.573/uevent') ? 'DEVTYPE=vlan\n' : probe.readFile(p)) } });
  assert.match(vlan.out, /no interface eno2\.573/);
});

test('errors never print a stack trace unless KATRAN_TUI_DEBUG is set', async () => {
  const box = attachedBox();
  box.failOn = 'addVip';
  const r = await run(box, ['vip', 'add', '192.0.2.1:80/tcp']);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'katran-tui: addVip 192.0.2.1:80/tcp: injected failure\n');
  const d = await run(box, ['vip', 'add', '192.0.2.1:80/tcp'], { env: { KATRAN_TUI_DEBUG: '1' } });
  assert.match(d.err, /\n\s+at /);
});

test('an IPv4 real behind an IPv6 VIP: real add says what the dataplane says, exit 2, nothing written', async () => {
  const box = attachedBox();
  await run(box, ['vip', 'add', '[2001:db8::1]:80/tcp']);
  const writes = box.writes.length;
  const r = await run(box, ['real', 'add', '[2001:db8::1]:80/tcp', '198.51.100.1']);
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err, "katran-tui: real 198.51.100.1 is IPv4 but VIP [2001:db8::1]:80/tcp is IPv6: Katran's IPIP header for an IPv6 packet is 40 bytes short in total length, so the real would drop it\n");
  assert.equal(box.writes.length, writes);
});
