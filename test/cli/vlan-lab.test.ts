// End to end through the real `node bin/katran-tui`: attach --vlan 573:574 --vlan-mac 574=GW on the
// lab's interface (native mode), tagged UDP and TCP SYN from the client namespace (the lab's
// switch pushes VLAN 573, tx VLAN offload off) reach each real through VLAN 574 with its gateway
// MAC at the sink; vlan list --json; vlan add / mac / del on the running balancer; a refusal
// changes nothing in the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { Lab } from '../../src/lab/lab.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { cli, ok } from '../helpers/bin.js';
import { labId, newLab, requireLab, settle } from '../e2e/fixture.js';

const GW_574 = '02:00:5e:00:05:74';

test('attach --vlan 573:574 --vlan-mac 574=GW through the CLI: tagged UDP and TCP SYN reach each real via VLAN 574\'s gateway', { timeout: 240_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const pins = pinRoot('vlancli');
  const state = scratchDir('vlancli-state');
  let lab: Lab | null = null;
  let attached = false;
  try {
    lab = newLab(labId('w'), { vlan: true, clients: 4 });
    const L = lab;
    const sw = L.vlan!;
    const on = ['--pin-root', pins, '--state-dir', state, '--intf', L.intf];
    const run = (...a: string[]) => cli([...on, ...a]);
    const att = ok(run('attach', '--default-mac', L.defaultMac, '--xdp-mode', 'native', '--vlan', '573:574', '--vlan-mac', `574=${GW_574}`, '--json'), 'attach');
    attached = true;
    assert.equal(JSON.parse(att.out.trim()).applied, true);
    ok(run('vip', 'add', '192.0.2.41:53/udp'), 'vip add udp');
    ok(run('vip', 'add', '192.0.2.42:80/tcp'), 'vip add tcp');
    const reals = ['198.51.100.41', '198.51.100.42'];
    for (const r of reals) { ok(run('real', 'add', '192.0.2.41:53/udp', r), 'real add'); ok(run('real', 'add', '192.0.2.42:80/tcp', r), 'real add'); }

    const list = JSON.parse(ok(run('vlan', 'list', '--json'), 'vlan list').out);
    assert.deepEqual(list.vlans, [{ ingress: '573', egress: '574', mac: GW_574, gateway: GW_574 }]);

    sw.setGatewayMac({ outer: 574, inner: 0 }, GW_574);
    sw.setClientVlan({ vid: 573, pcp: 0 });
    const c4 = L.clientsV4;
    const r = await L.traffic({ ratePps: 400, durationMs: 20_000, flows: [
      ...c4.map((src, i) => ({ proto: 'udp' as const, src, sport: 41000 + i, dst: '192.0.2.41', dport: 53, count: 5 })),
      ...c4.map((src) => ({ proto: 'tcp-syn' as const, src, dst: '192.0.2.42', dport: 80, count: 3 })),
    ] });
    assert.deepEqual(r.errors, []);
    await settle();
    const sent = r.flows.reduce((s, f) => s + f.packets, 0);
    assert.equal(sent, 4 * 5 + 4 * 3);
    const on574 = sw.counts().filter((c) => c.vlan.outer === 574 && c.vlan.inner === 0);
    assert.equal(on574.reduce((s, c) => s + c.packets, 0), sent, 'every packet came back tagged 574');
    for (const real of reals) assert.ok((on574.find((c) => c.real === real)?.packets ?? 0) > 0, `${real} got traffic through VLAN 574`);
    assert.deepEqual(sw.counts().filter((c) => c.wrongMac > 0), [], 'every frame went to VLAN 574\'s gateway MAC');

    // Changes on the running balancer, each a transaction; a refusal leaves the kernel as it was.
    ok(run('vlan', 'add', '575'), 'vlan add 575');
    const bad = run('vlan', 'add', '575:576');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /VLAN 575 is already an ingress VLAN/);
    assert.equal(bad.err.trim().split('\n').length, 1);
    const out = run('vlan', 'add', '4095');
    assert.equal(out.code, 2);
    assert.match(out.err, /VLAN IDs are 1\.\.4094/);
    ok(run('vlan', 'mac', '574', '02:00:5e:00:05:75'), 'vlan mac');
    ok(run('vlan', 'del', '575'), 'vlan del');
    const after = JSON.parse(ok(run('vlan', 'list', '--json'), 'vlan list').out);
    assert.deepEqual(after.vlans, [{ ingress: '573', egress: '574', mac: '02:00:5e:00:05:75', gateway: '02:00:5e:00:05:75' }]);
    // The config carries them.
    const cfg = JSON.parse(ok(run('config', 'export', '--json'), 'config export').out);
    assert.deepEqual(cfg.vlans, [{ ingress: '573', egress: '574', mac: '02:00:5e:00:05:75' }]);
  } finally {
    if (attached) cli(['--pin-root', pins, '--state-dir', state, '--intf', lab!.intf, 'detach']);
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
