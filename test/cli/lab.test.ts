// End to end: the real `node bin/katran-tui ...` against the real balancer on a lab interface
// (lab.ts: the balancer's veth in the root namespace, the sink on its peer in a lab namespace),
// with a pin root and state directory of this run. Each command's JSON parsed and checked; bad
// input leaves the kernel unchanged; a pasted Katran command line; config export | apply round trip;
// stats --prometheus parsed; trace agrees with where the sink sees the flow arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/lab.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { labId, newLab, requireLab } from '../e2e/fixture.js';
import { parseExposition } from './prom-parse.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'katran-tui');

interface Res { code: number; out: string; err: string }

function cli(common: string[], args: string[], input?: string): Res {
  const r = spawnSync(process.execPath, [bin, ...common, ...args], { input: input ?? '', encoding: 'utf8', timeout: 60_000, env: { ...process.env, KATRAN_TUI_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ok(r: Res, what: string): Res {
  assert.equal(r.code, 0, `${what}: exit ${r.code}: ${r.err}`);
  return r;
}

function json<T = any>(r: Res, what: string): T { // eslint-disable-line @typescript-eslint/no-explicit-any
  ok(r, what);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one JSON document on one line: ${r.out}`);
  return JSON.parse(lines[0]) as T;
}

test('the CLI end to end on a lab balancer', { timeout: 240_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('c');
  const pins = pinRoot('cli');
  const state = scratchDir('cli-state');
  let lab: Lab | null = null;
  try {
    lab = newLab(id, { clients: 4 });
    const L = lab;
    const common = ['--pin-root', pins, '--state-dir', state];
    const on = [...common, '--intf', L.intf];
    const run = (...a: string[]) => cli(on, a);

    // A pasted katran_server_grpc command line
    const cores = Array.from({ length: cpus().length }, (_, i) => i).join(',');
    const att = json(cli(common, ['attach', `-intf=${L.intf}`, '-default_mac', L.defaultMac, '-lru_size', '4000', '-forwarding_cores', cores, '-server', '0.0.0.0:50051', '--json']), 'attach');
    assert.equal(att.applied, true);
    const st = json(cli(common, ['status', '--json']), 'status');
    const mine = st.balancers.find((b: { intf: string }) => b.intf === L.intf);
    assert.ok(mine, JSON.stringify(st));
    assert.equal(mine.owner, 'katran-tui');
    assert.equal(mine.mode, 'native');
    assert.equal(mine.differsFromBundled, false);
    assert.match(st.bundled.sha256, /^[0-9a-f]{64}$/);

    // VIPs and reals (always with --intf: other runs' labs on this box are observed balancers too)
    ok(run('vip', 'add', '192.0.2.1:80/tcp'), 'vip add v4 tcp');
    ok(run('vip', 'add', '192.0.2.2:53/udp', '--flags', 'no-sport', '--hash', 'maglev'), 'vip add v4 udp');
    ok(run('vip', 'add', '[2001:db8:f::1]:443/tcp'), 'vip add v6');
    for (const [vip, real, w] of [['192.0.2.1:80/tcp', '198.51.100.1', '1'], ['192.0.2.1:80/tcp', '198.51.100.2', '3'],
      ['192.0.2.2:53/udp', '198.51.100.3', '1'], ['192.0.2.2:53/udp', '198.51.100.4', '1'], ['192.0.2.2:53/udp', '198.51.100.5', '2'],
      ['[2001:db8:f::1]:443/tcp', '2001:db8:e::1', '1'], ['[2001:db8:f::1]:443/tcp', '2001:db8:e::2', '2']]) {
      ok(run('real', 'add', vip, real, '--weight', w), `real add ${vip} ${real}`);
    }
    const w = json(run('real', 'weight', '192.0.2.1:80/tcp', '198.51.100.2', '2', '--json'), 'real weight');
    assert.equal(w.applied, true);
    assert.ok(w.movedShare > 0 && w.movedShare < 0.5, `movedShare ${w.movedShare}`);
    const list = json(run('vip', 'list', '--json'), 'vip list');
    assert.equal(list.intf, L.intf);
    assert.deepEqual(list.vips.map((v: { vip: string }) => v.vip), ['192.0.2.1:80/tcp', '192.0.2.2:53/udp', '[2001:db8:f::1]:443/tcp']);
    const udp = list.vips[1];
    assert.deepEqual(udp.flags, ['no-sport']);
    assert.equal(udp.hash, 'maglev');
    assert.deepEqual(udp.reals.map((r: { address: string; weight: number }) => [r.address, r.weight]), [['198.51.100.3', 1], ['198.51.100.4', 1], ['198.51.100.5', 2]]);
    for (const v of list.vips) {
      const share = v.reals.reduce((a: number, r: { ringShare: number }) => a + r.ringShare, 0);
      assert.ok(Math.abs(share - 1) < 1e-6, `${v.vip} ring shares sum to ${share}`);
    }
    const tcp = list.vips[0].reals;
    assert.ok(Math.abs(tcp[1].ringShare / tcp[0].ringShare - 2) < 0.05, 'maglev-v2 shares follow the weights 1:2');

    // mac
    assert.deepEqual(json(run('mac', '--json'), 'mac'), { intf: L.intf, defaultMac: L.defaultMac, pendingChange: null });
    ok(run('mac', 'set', '02:00:5e:10:00:01'), 'mac set');
    assert.equal(ok(run('mac', 'get'), 'mac get').out.trim(), '02:00:5e:10:00:01');
    ok(run('mac', 'set', L.defaultMac), 'mac set back');

    // Bad input: clear error, exit 1 or 2, nothing changed in the kernel or the state file
    const snapshot = () => ok(run('config', 'export', '--json'), 'export').out + ok(run('vip', 'list', '--json'), 'list').out;
    const before = snapshot();
    const bad: string[][] = [
      ['vip', 'add', 'eth0;rm -rf /'], ['vip', 'add', '$(reboot):80/tcp'], ['vip', 'add', '192.0.2.9:80/tcp', '--flags', 'no-sport;reboot'],
      ['vip', 'add', '192.0.2.9:99999/tcp'], ['vip', 'add', '[2001:db8::1]:80/icmp'], ['vip', 'del', '`reboot`'], ['vip', 'del', '192.0.2.77:80/tcp'],
      ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.300'], ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.9', '--weight', '-1'],
      ['real', 'add', '[2001:db8:f::1]:443/tcp', '198.51.100.9'], ['real', 'weight', '192.0.2.1:80/tcp', '198.51.100.1', '1e9'],
      ['real', 'del', '192.0.2.1:80/tcp', '198.51.100.99'], ['mac', 'set', 'ff:ff:ff:ff:ff:ff'], ['mac', 'set', '$(reboot)'],
      ['trace', '203.0.113.1:x', '192.0.2.1:80/tcp'], ['config', 'apply', '/nonexistent/$(reboot)'], ['stats', '--count', '0'],
      ['--intf', 'eth0;rm -rf /', 'vip', 'list'], ['--interval', '$(reboot)', 'stats', '--once'],
      ['attach', '--intf', L.intf, '--default-mac', L.defaultMac, '--balancer-prog', '/etc/passwd'],
      ['--readonly', 'vip', 'add', '192.0.2.9:80/tcp'], ['--readonly', 'real', 'weight', '192.0.2.1:80/tcp', '198.51.100.1', '7'],
      ['real', 'add', '192.0.2.1:80/tcp', '198.51.100.9', '--weight', '$(reboot)'],
    ];
    for (const a of bad) {
      const r = run(...a);
      assert.ok(r.code === 1 || r.code === 2, `${a.join(' ')}: exit ${r.code} ${r.out} ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, `${a.join(' ')}: one line: ${r.err}`);
      assert.match(r.err, /^katran-tui: /);
      assert.ok(!/\n\s+at /.test(r.err), 'no stack trace');
    }
    const badCfg = join(state, '..', 'bad-config.json');
    writeFileSync(badCfg, JSON.stringify({ katranTuiConfig: 1, vips: [{ vip: '192.0.2.1:80/tcp', reals: [{ address: '198.51.100.1' }] }, { vip: 'nonsense' }] }));
    assert.equal(run('config', 'apply', badCfg).code, 2);
    assert.equal(snapshot(), before, 'bad input changed nothing');

    // Traffic, stats (JSON and Prometheus) and trace vs the sink
    L.resetSinkCounts();
    const sport = 40123;
    const src = L.clientsV4[1];
    const tr = json(run('trace', `${src}:${sport}`, '192.0.2.2:53/udp', '--json'), 'trace');
    assert.equal(tr.action, 'TX');
    assert.equal(tr.confirmedByKernel, true);
    assert.ok(['198.51.100.3', '198.51.100.4', '198.51.100.5'].includes(tr.real), tr.real);
    const rep = await L.traffic({ flows: [{ proto: 'udp', src, sport, dst: '192.0.2.2', dport: 53, count: 50 }], ratePps: 500, durationMs: 10_000 });
    assert.deepEqual(rep.errors, []);
    await new Promise((r) => setTimeout(r, 200));
    const sink = L.sinkCounts();
    assert.deepEqual(sink.map((c) => [c.dst, c.packets]), [[tr.real, 50]], `trace said ${tr.real}; the sink saw ${JSON.stringify(sink)}`);
    // a trace does not move the flow or count anything: same answer after traffic (now from the LRU side too)
    assert.equal(json(run('trace', `${src}:${sport}`, '192.0.2.2:53/udp', '--json'), 'trace again').real, tr.real);

    const statsRun = cli(on, ['stats', '--count', '2', '--interval', '200', '--json']);
    ok(statsRun, 'stats --count 2');
    const docs = statsRun.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(docs.length, 2);
    const last = docs[1];
    assert.ok(last.xdp.total.packets >= 50, JSON.stringify(last.xdp));
    assert.ok(last.xdp.tx.packets >= 50);
    assert.equal(last.vips.find((v: { vip: string }) => v.vip === '192.0.2.2:53/udp').packets, 50);
    assert.equal(last.reals.find((r: { address: string }) => r.address === tr.real).packets, 50);
    assert.ok(last.elapsedMs >= 150 && last.elapsedMs < 5000, `elapsed ${last.elapsedMs}`);
    const prom = ok(run('stats', '--prometheus'), 'prometheus');
    const { samples } = parseExposition(prom.out);
    const v = samples.find((s) => s.name === 'katran_vip_packets_total' && s.labels.vip === '192.0.2.2:53/udp');
    assert.equal(v?.value, 50);
    assert.equal(samples.find((s) => s.name === 'katran_real_packets_total' && s.labels.real === tr.real)?.value, 50);
    assert.ok((samples.find((s) => s.name === 'katran_xdp_packets_total' && s.labels.action === 'tx')?.value ?? 0) >= 50);

    // Why it drops: a VIP without reals. trace names the reason, stats counts it (JSON, table, Prometheus).
    ok(run('vip', 'add', '192.0.2.9:5353/udp'), 'vip without reals');
    assert.equal(json(run('trace', `${src}:${sport}`, '192.0.2.9:5353/udp', '--json'), 'trace empty').reason, 'slot_empty');
    const before0 = json(run('stats', '--once', '--interval', '100', '--json'), 'stats before').reasons.drop.slot_empty.packets;
    const rep0 = await L.traffic({ flows: [{ proto: 'udp', src, sport, dst: '192.0.2.9', dport: 5353, count: 20 }], ratePps: 500, durationMs: 10_000 });
    assert.deepEqual(rep0.errors, []);
    await new Promise((r) => setTimeout(r, 200));
    const why = json(run('stats', '--once', '--interval', '100', '--json'), 'stats reasons');
    assert.equal(why.reasons.drop.slot_empty.packets - before0, 20, JSON.stringify(why.reasons.drop));
    const sum = (o: Record<string, { packets: number }>): number => Object.values(o).reduce((n, x) => n + x.packets, 0);
    assert.equal(sum(why.reasons.drop), why.xdp.drop.packets, 'drop reasons = XDP_DROP');
    assert.equal(sum(why.reasons.pass), why.xdp.pass.packets, 'pass reasons = XDP_PASS');
    assert.match(ok(run('stats', '--once', '--interval', '100'), 'stats table').out, /\nslot_empty\s+drop\s+.*ring slot empty/);
    const p0 = parseExposition(ok(run('stats', '--prometheus', '--interval', '100'), 'prometheus reasons').out).samples;
    assert.ok((p0.find((s) => s.name === 'katran_drop_packets_total' && s.labels.reason === 'slot_empty')?.value ?? 0) >= 20);
    ok(run('vip', 'del', '192.0.2.9:5353/udp'), 'vip del');

    // config export | apply: dry run, a change, back, and onto a freshly attached balancer
    const exported = ok(run('config', 'export'), 'export').out;
    assert.equal(ok(cli(on, ['config', 'apply', '-'], exported), 'apply same').out, 'no changes: the balancer already matches the file\n');
    const changed = JSON.parse(exported);
    changed.vips[0].reals[0].weight = 5;
    changed.vips.splice(2, 1);
    changed.vips.push({ vip: '192.0.2.3:8080/tcp', flags: [], hash: 'maglev-v2', reals: [{ address: '198.51.100.7', weight: 2 }] });
    const dry = json(cli(on, ['config', 'apply', '-', '--dry-run', '--json'], JSON.stringify(changed)), 'apply dry run');
    assert.equal(dry.applied, false);
    assert.equal(dry.changes.length, 4, dry.changes.join('\n'));
    assert.equal(snapshot(), before, 'dry run changed nothing');
    ok(cli(on, ['config', 'apply', '-'], JSON.stringify(changed)), 'apply changed');
    assert.deepEqual(JSON.parse(ok(run('config', 'export'), 'export 2').out), { ...changed, vips: [...changed.vips].sort((a, b) => (a.vip < b.vip ? -1 : 1)) });
    ok(cli(on, ['config', 'apply', '-'], exported), 'apply original');
    assert.equal(ok(run('config', 'export'), 'export 3').out, exported, 'round trip to an identical state');

    ok(run('detach'), 'detach');
    ok(cli(common, ['attach', '--intf', L.intf, '--default-mac', '02:00:5e:10:00:09']), 're-attach');
    const fresh = JSON.parse(ok(run('config', 'export'), 'export fresh').out);
    if (fresh.vips.length) ok(cli(on, ['config', 'apply', '-'], JSON.stringify({ katranTuiConfig: 1, vips: [] })), 'empty it');
    ok(cli(on, ['config', 'apply', '-'], exported), 'apply onto the fresh balancer');
    assert.equal(ok(run('config', 'export'), 'export 4').out, exported, 'the fresh balancer has the identical state');

    // detach: gone from status, pins removed
    const d = json(run('detach', '--json'), 'detach');
    assert.equal(d.applied, true);
    assert.ok(!json(cli(common, ['status', '--json']), 'status after').balancers.some((b: { intf: string }) => b.intf === L.intf));
    assert.ok(!existsSync(join(pins, L.intf, 'prog')), 'pins removed');
    const none = run('vip', 'list');
    assert.equal(none.code, 1, none.err);
    assert.equal(none.err.trim().split('\n').length, 1, none.err);
  } finally {
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
