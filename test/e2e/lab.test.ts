// The lab itself: what it builds, bounded traffic, and a crashed lab's leftovers removed by the
// next createLab with the same id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cleanupLab, type Lab } from '../../src/lab/lab.js';
import { ifNameToIndex, linkBasics, xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import { defaultRouteInterfaces } from '../../src/dataplane/kernel/interfaces.js';
import { interfaceWarnings } from '../../src/dataplane/balancer/checks.js';
import { labId, newLab, requireLab, sinkObject } from './fixture.js';

const netns = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);

test('lab: veth with MTU >= 1540, sink on the peer, clients and routes in the namespace, bounded traffic', async (t) => {
  if (!(await requireLab(t))) return;
  let lab: Lab | undefined;
  try {
    lab = newLab(labId('l'), { clients: 2 });
    assert.ok(linkBasics(lab.intf).mtu >= 1540);
    assert.equal(ifNameToIndex(lab.peer), 0, 'the peer is not in the root namespace');
    assert.equal(xdpQuery(lab.ifindex).progId, 0, 'nothing attached to the balancer side yet');
    const peer = JSON.parse(execFileSync('ip', ['-n', lab.ns, '-j', '-d', 'link', 'show', 'dev', lab.peer], { encoding: 'utf8' }))[0];
    assert.equal(peer.xdp?.prog?.id ?? peer.xdp?.attached?.[0]?.prog?.id, lab.sinkProgId, 'the sink is attached to the peer');
    assert.ok(peer.mtu >= 1540);
    assert.equal(peer.address, lab.defaultMac);
    assert.deepEqual(lab.clientsV4, ['203.0.113.1', '203.0.113.2']);
    const routes = execFileSync('ip', ['-n', lab.ns, 'route', 'get', '192.0.2.77'], { encoding: 'utf8' });
    assert.match(routes, /via 203\.0\.113\.254/);
    const neigh = execFileSync('ip', ['-n', lab.ns, 'neigh', 'show', '203.0.113.254'], { encoding: 'utf8' });
    assert.match(neigh, new RegExp(`lladdr ${lab.intfMac}.*PERMANENT`));
    assert.equal(defaultRouteInterfaces().has(lab.intf), false);
    assert.deepEqual(interfaceWarnings(lab.intf), []);
    // The box's own default-route interface earns the warning (read-only: nothing is attached there).
    for (const d of defaultRouteInterfaces()) assert.ok(interfaceWarnings(d).some((w) => /carries the default route/.test(w)), d);

    // Without a balancer the datagrams arrive at the balancer side and nothing is encapsulated.
    const r = await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[0], dst: '192.0.2.1', dport: 9, count: 5 }] });
    assert.equal(r.flows[0].packets, 5);
    assert.deepEqual(lab.sinkCounts(), []);
    // One flow spread over several source ports (distinct 5-tuples).
    const spread = await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[0], sport: 44000, ports: 8, dst: '192.0.2.1', dport: 9, count: 16 }] });
    assert.deepEqual(spread.flows[0].sports, [44000, 44001, 44002, 44003, 44004, 44005, 44006, 44007]);
    assert.equal(spread.flows[0].packets, 16);
    // Bounded in time: a huge count stops at durationMs; stop() ends a run early.
    const t0 = Date.now();
    const long = await lab.traffic({ ratePps: 100, durationMs: 600, flows: [{ proto: 'udp', src: lab.clientsV4[1], dst: '192.0.2.1', dport: 9, count: 10_000_000 }] });
    assert.ok(Date.now() - t0 < 5000);
    assert.ok(long.flows[0].packets > 10 && long.flows[0].packets < 200, `${long.flows[0].packets} packets in 0.6 s at 100 pps`);
    const run = lab.startTraffic({ ratePps: 100, durationMs: 60_000, flows: [{ proto: 'udp', src: lab.clientsV4[1], dst: '192.0.2.1', dport: 9, count: 10_000_000 }] });
    await new Promise((res) => setTimeout(res, 700));
    const stopped = await run.stop();
    assert.ok(stopped.flows[0].packets > 0 && stopped.flows[0].packets < 500);
  } finally {
    lab?.destroy();
  }
  assert.equal(netns().includes(lab!.ns), false);
  assert.equal(ifNameToIndex(lab!.intf), 0);
});

test('lab: a crashed lab (kill -9) is cleaned by the next createLab with the same id', async (t) => {
  if (!(await requireLab(t))) return;
  const id = labId('k');
  const labJs = new URL('../../src/lab/lab.js', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `const m = await import(${JSON.stringify(labJs)}); m.createLab({ id: ${JSON.stringify(id)}, sinkObject: ${JSON.stringify(sinkObject() ?? null)} ?? undefined }); console.log('up'); setTimeout(() => {}, 60000);`],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  let lab: Lab | undefined;
  try {
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d) => { if (String(d).includes('up')) res(); });
      child.on('close', (c) => rej(new Error(`lab child exited ${c}`)));
    });
    child.kill('SIGKILL');
    await new Promise((res) => child.once('close', res));
    assert.ok(netns().includes(`kt-${id}-cl`), 'the crashed lab left its namespace');
    assert.ok(ifNameToIndex(`kt${id}b`) > 0, 'and its link');
    lab = newLab(id);
    assert.equal(lab.ns, `kt-${id}-cl`);
  } finally {
    child.kill('SIGKILL');
    lab?.destroy();
    cleanupLab(id);
  }
  assert.equal(netns().includes(`kt-${id}-cl`), false);
  assert.equal(ifNameToIndex(`kt${id}b`), 0);
});
