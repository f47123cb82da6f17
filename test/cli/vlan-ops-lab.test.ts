// VLAN operations end to end in the lab, through the real `node bin/katran-tui` (and the console's
// worker threads): attach --vlan 573 (native), tagged UDP on VLAN 573 and VIP traffic tagged 575
// (not configured). Per-VLAN counters appear and move in `stats --json` / `--prometheus` and in a
// read-only worker host's samples; doctor names VLAN 575 with the fix and, since the lab's peer is in
// another namespace, what to check on it (attach warns the same). A veth pair of the test's own in
// the root namespace (nothing attached, no addresses, no traffic) shows doctor and attach --dry-run
// reading the peer's real tx VLAN offload through the ioctl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cleanupLab } from '../../src/lab/lab.js';
import { setLinkFeatures } from '../../src/dataplane/kernel/libbpf.js';
import type { Lab } from '../../src/lab/lab.js';
import type { StatsSample, VlanStat } from '../../src/dataplane/types.js';
import { startWorkerHost } from '../../src/dataplane/worker/client.js';
import { pinRoot, requireBpf, scratchDir } from '../helpers/env.js';
import { cli, ok } from '../helpers/bin.js';
import { labId, newLab, requireLab, settle } from '../e2e/fixture.js';
import { parseExposition } from './prom-parse.js';

const vlanOf = (vlans: VlanStat[] | null | undefined, id: string) => vlans?.find((v) => v.vlan === id);

test('lab: per-VLAN counters appear and move in stats --json / --prometheus and across the worker boundary (read-only)', { timeout: 240_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const pins = pinRoot('vlanops');
  const state = scratchDir('vlanops-state');
  let lab: Lab | null = null;
  let attached = false;
  try {
    lab = newLab(labId('s'), { vlan: true, clients: 2 });
    const L = lab;
    const sw = L.vlan!;
    const run = (...a: string[]) => cli(['--pin-root', pins, '--state-dir', state, '--intf', L.intf, ...a]);
    const att = ok(run('attach', '--default-mac', L.defaultMac, '--xdp-mode', 'native', '--vlan', '573', '--json'), 'attach');
    attached = true;
    // The lab's peer is in the lab namespace: attach cannot read its tx VLAN offload and says what to check.
    const peerLine = new RegExp(`^${L.intf} is a veth whose peer \\(ifindex \\d+\\) is in another network namespace: its sender's tx-vlan-offload decides, so there run ethtool -K PEER txvlan off`);
    assert.ok(JSON.parse(att.out).warnings.some((w: string) => peerLine.test(w)), `attach result warns: ${att.out}`);
    assert.match(att.err, /katran-tui: .*is a veth whose peer \(ifindex \d+\) is in another network namespace/);
    ok(run('vip', 'add', '192.0.2.51:53/udp'), 'vip add');
    ok(run('real', 'add', '192.0.2.51:53/udp', '198.51.100.51'), 'real add');
    sw.setGatewayMac({ outer: 573, inner: 0 }, L.defaultMac);

    const send = async (vid: number, count: number) => {
      sw.setClientVlan({ vid });
      const r = await L.traffic({ ratePps: 400, durationMs: 20_000, flows: L.clientsV4.map((src, i) => ({ proto: 'udp' as const, src, sport: 42000 + i, dst: '192.0.2.51', dport: 53, count })) });
      assert.deepEqual(r.errors, []);
      await settle();
      return r.flows.reduce((s, f) => s + f.packets, 0);
    };
    const sent573 = await send(573, 5);
    const sent575 = await send(575, 3);

    const doc = JSON.parse(ok(run('stats', '--once', '--json', '--interval', '200'), 'stats --json').out);
    const v573 = vlanOf(doc.vlans, '573')!;
    assert.ok(v573, `VLAN 573 in stats --json: ${JSON.stringify(doc.vlans)}`);
    assert.equal(v573.configured, true);
    assert.equal(v573.balanced.packets, sent573, 'every tagged VIP packet on 573 balanced');
    assert.ok(v573.in.packets >= sent573);
    const v575 = vlanOf(doc.vlans, '575')!;
    assert.ok(v575, 'VIP traffic on VLAN 575 is listed');
    assert.equal(v575.configured, false);
    assert.equal(v575.in.packets, sent575);
    assert.equal(v575.passed.packets, sent575);
    assert.equal(v575.balanced.packets, 0);

    const prom = parseExposition(ok(run('stats', '--prometheus', '--interval', '200'), 'stats --prometheus').out);
    const pk = (vlan: string, what: string) => prom.samples.find((s) => s.name === 'katran_vlan_packets_total' && s.labels.vlan === vlan && s.labels.what === what)?.value;
    assert.equal(pk('573', 'balanced'), sent573);
    assert.equal(pk('575', 'passed'), sent575);

    // doctor names the unparsed VLAN with the fix, and what to check on the peer (tags were seen: info).
    const checks = (): { check: string; verdict: string; detail: string; fix: string | null }[] => JSON.parse(ok(run('doctor', '--json'), 'doctor').out).checks;
    const d = checks();
    const c575 = d.find((c) => c.check === `${L.intf} VLAN 575`);
    assert.equal(c575?.verdict, 'warn', JSON.stringify(d));
    assert.match(c575!.detail, new RegExp(`^VIP traffic arrives on VLAN 575, which the balancer does not parse: add --vlan 575 \\(${sent575} packets so far`));
    assert.match(c575!.fix ?? '', /^katran-tui vlan add 575 /);
    const off = d.find((c) => c.check === `${L.intf} VLAN offload`)!;
    assert.equal(off.verdict, 'info');
    assert.match(off.detail, new RegExp(`^${L.intf}: rx-vlan-offload (on|off), tx-vlan-offload (on|off), .*its peer \\(ifindex \\d+, another network namespace\\): not readable from here: .*tagged VIP traffic was balanced, so tags do reach XDP`));
    assert.equal(d.find((c) => c.check === `${L.intf} VLAN 573 gateway`)?.verdict, 'info', 'no VLAN 573 interface to check the gateway against');

    // The console's way: worker threads, a read-only open; the counters move between two samples.
    const host = startWorkerHost({ pinRoot: pins, stateDir: state });
    try {
      const dp = await host.open(L.intf, { readOnly: true });
      const a = await dp.sample();
      assert.equal(vlanOf(a.vlans, '573')?.balanced.packets, sent573, 'the sample crossed the worker boundary with its vlans');
      const more = await send(573, 2);
      const b = await dp.sample();
      const m = vlanOf(b.vlans, '573')!;
      assert.equal(m.balanced.packets, sent573 + more, 'the counters moved');
      assert.ok(m.balanced.pps > 0, 'with a rate');
      // Pushed samples come from the second (sampling) thread.
      const pushed = await new Promise<StatsSample>((resolve, reject) => {
        let w: { stop(): void } | null = null;
        const timer = setTimeout(() => { w?.stop(); reject(new Error('no pushed sample')); }, 10_000);
        w = dp.watch(100, {
          sample: (s) => { if (s.vlans?.length) { clearTimeout(timer); w?.stop(); resolve(s); } },
          error: (e) => { clearTimeout(timer); w?.stop(); reject(e); },
        });
      });
      assert.equal(vlanOf(pushed.vlans, '573')?.balanced.packets, sent573 + more, 'pushed samples carry the vlans too');
      await dp.close();
    } finally {
      await host.close();
    }
    ok(run('vlan', 'add', '575'), 'vlan add 575');
    assert.equal(checks().some((c) => c.check === `${L.intf} VLAN 575`), false, 'VLAN 575 configured: no longer reported');
  } finally {
    if (attached) cli(['--pin-root', pins, '--state-dir', state, '--intf', lab!.intf, 'detach']);
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});

test('a veth pair of this test in the root namespace: doctor and attach --dry-run --vlan read the PEER\'s tx-vlan-offload (on: warn with ethtool -K PEER txvlan off; off: fine)', { timeout: 60_000 }, async (t) => {
  if (!(await requireBpf(t))) return;
  const id = labId('t');
  const a = `kt${id}b`;
  const b = `kt${id}p`;
  const pins = pinRoot('vlanoff');
  const state = scratchDir('vlanoff-state');
  try {
    execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b], { stdio: 'pipe', timeout: 10_000 });
    const run = (...x: string[]) => cli(['--pin-root', pins, '--state-dir', state, '--intf', a, ...x]);
    setLinkFeatures(b, { 'tx-vlan-hw-insert': true });
    const c = (JSON.parse(ok(run('doctor', '--json'), 'doctor').out).checks as { check: string; verdict: string; detail: string; fix: string | null }[])
      .find((x) => x.check === `${a} VLAN offload`)!;
    assert.equal(c.verdict, 'info', 'no VLANs configured here');
    assert.match(c.detail, new RegExp(`its peer ${b}: rx-vlan-offload (on|off), tx-vlan-offload on`));
    assert.match(c.fix ?? '', new RegExp(`${a}'s peer ${b} sends with tx-vlan-offload on, which hides the VLAN tags from XDP on ${a}: ethtool -K ${b} txvlan off`));
    const dry = run('attach', '--default-mac', '02:00:5e:00:00:01', '--vlan', '573', '--dry-run', '--json');
    ok(dry, 'attach --dry-run');
    assert.equal(JSON.parse(dry.out).applied, false);
    assert.ok(JSON.parse(dry.out).warnings.some((w: string) => w.startsWith(`${a}'s peer ${b} sends with tx-vlan-offload on`)), dry.out);
    assert.match(dry.err, new RegExp(`ethtool -K ${b} txvlan off`));

    setLinkFeatures(b, { 'tx-vlan-hw-insert': false });
    const after = run('attach', '--default-mac', '02:00:5e:00:00:01', '--vlan', '573', '--dry-run', '--json');
    assert.equal(JSON.parse(ok(after, 'attach --dry-run').out).warnings.some((w: string) => /VLAN tags/.test(w)), false, after.out);
    // A rewrite: the dry run warns about the trunk as the attach itself does.
    const trunk = /needs the switch port to trunk both VLANs/;
    assert.equal(JSON.parse(after.out).warnings.some((w: string) => trunk.test(w)), false, after.out);
    const rewrite = run('attach', '--default-mac', '02:00:5e:00:00:01', '--vlan', '573:574', '--dry-run', '--json');
    assert.ok(JSON.parse(ok(rewrite, 'attach --dry-run --vlan 573:574').out).warnings.some((w: string) => trunk.test(w)), rewrite.out);
    const c2 = (JSON.parse(ok(run('doctor', '--json'), 'doctor').out).checks as { check: string; detail: string }[]).find((x) => x.check === `${a} VLAN offload`)!;
    assert.match(c2.detail, /tx-vlan-offload off.*the peer sends the tags in the frame/);
  } finally {
    cleanupLab(id);
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
