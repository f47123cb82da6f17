// VLAN operations end to end in the lab, through the real `node bin/katran-tui` (and the console's
// worker threads): attach --vlan 573 (native), tagged UDP on VLAN 573 and VIP traffic tagged 575
// (not configured). Per-VLAN counters appear and move in `stats --json` / `--prometheus` and in a
// read-only worker host's samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { Lab } from '../../src/lab/lab.js';
import type { VlanStat } from '../../src/dataplane/types.js';
import { startWorkerHost } from '../../src/dataplane/worker/client.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
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
    ok(run('attach', '--default-mac', L.defaultMac, '--xdp-mode', 'native', '--vlan', '573', '--json'), 'attach');
    attached = true;
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
      await dp.close();
    } finally {
      await host.close();
    }
  } finally {
    if (attached) cli(['--pin-root', pins, '--state-dir', state, '--intf', lab!.intf, 'detach']);
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
