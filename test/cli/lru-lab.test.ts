// The connection table end to end: `node bin/katran-tui lru ...` against the real balancer on a
// lab interface. UDP flows sent from the client namespace fill the LRU; `lru list` shows each on the
// real the sink saw it arrive at; purge of a VIP empties its entries (the next packets are hashed
// again, the LRU misses say so); `real del` of a real that holds flows warns with the count on
// stderr and proceeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../src/lab/lab.js';
import { pinRoot, scratchDir } from '../helpers/env.js';
import { labId, newLab, requireLab, settle } from '../e2e/fixture.js';

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'katran-tui');

function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, KATRAN_TUI_DEBUG: '' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('lru list / purge and a warned real del on a lab balancer', { timeout: 180_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  const pins = pinRoot('lru');
  const state = scratchDir('lru-state');
  let lab: Lab | null = null;
  try {
    lab = newLab(labId('u'), { clients: 4 });
    const L = lab;
    const on = ['--pin-root', pins, '--state-dir', state, '--intf', L.intf];
    const run = (...a: string[]) => {
      const r = cli([...on, ...a]);
      assert.equal(r.code, 0, `${a.join(' ')}: exit ${r.code}: ${r.err}`);
      return r;
    };
    assert.equal(cli(['--pin-root', pins, '--state-dir', state, 'attach', '--intf', L.intf, '--default-mac', L.defaultMac]).code, 0);
    const VIP = '192.0.2.2:53/udp';
    run('vip', 'add', VIP);
    for (const r of ['198.51.100.3', '198.51.100.4', '198.51.100.5']) run('real', 'add', VIP, r);
    const flows = L.clientsV4.map((src, i) => ({ proto: 'udp' as const, src, sport: 41000 + i * 10, ports: 4, dst: '192.0.2.2', dport: 53, count: 8 }));
    await L.traffic({ flows });
    await settle();

    const listed = JSON.parse(run('lru', 'list', '--vip', VIP, '--json').out);
    assert.equal(listed.intf, L.intf);
    // One entry per flow per CPU that saw it (the LRUs are per CPU): 16 flows, at least 16 entries.
    const distinct = (l: { flows: { client: string }[] }) => new Set(l.flows.map((f) => f.client)).size;
    assert.equal(distinct(listed), 16, JSON.stringify(listed));
    assert.ok(listed.matched >= 16);
    assert.equal(listed.truncated, false);
    const seen = L.sinkFlows();
    for (const f of listed.flows) {
      const [src, sport] = f.client.split(':');
      const at = seen.filter((s) => s.src === src && s.sport === Number(sport) && s.dst === '192.0.2.2');
      assert.deepEqual(at.map((s) => s.real), [f.real], `${f.client}: held on the real the sink saw`);
      assert.ok(typeof f.cpu === 'number' && f.ageMs !== null && f.ageMs >= 0, JSON.stringify(f));
    }
    assert.equal(listed.perReal.reduce((a: number, r: { flows: number }) => a + r.flows, 0), listed.matched);
    const text = run('lru', 'list', '--vip', VIP).out;
    assert.match(text, /^VIP\s+CLIENT\s+REAL\s+CPU\s+AGE/m);
    assert.match(text, /^REAL\s+FLOWS/m);

    // real del of a real that holds flows: a warning with the count on stderr, and done
    const victim = listed.perReal[0] as { real: string; flows: number };
    const del = run('real', 'del', VIP, victim.real);
    assert.match(del.err, new RegExp(`warning: ${victim.real.replace(/\./g, '\\.')} still holds ${victim.flows} flow\\(s\\) of 192\\.0\\.2\\.2:53/udp in the LRU`));
    assert.match(del.out, /flow\(s\) held in the LRU are on reals that lose ring slots/);

    // purge: a dry run counts, the purge empties the VIP's entries; the next packets miss the LRU
    const held = JSON.parse(run('lru', 'list', '--vip', VIP, '--json').out).matched;
    assert.ok(held >= 16);
    assert.deepEqual(JSON.parse(run('lru', 'purge', '--vip', VIP, '--dry-run', '--json').out).flows, held);
    assert.equal(JSON.parse(run('lru', 'list', '--vip', VIP, '--json').out).matched, held, 'a dry run deletes nothing');
    assert.equal(JSON.parse(run('lru', 'purge', '--vip', VIP, '--json').out).flows, held);
    assert.equal(JSON.parse(run('lru', 'list', '--vip', VIP, '--json').out).matched, 0);
    const miss0 = JSON.parse(run('stats', '--once', '--json', '--interval', '100').out).global.lru.v2;
    await L.traffic({ flows });
    await settle();
    const again = JSON.parse(run('lru', 'list', '--vip', VIP, '--json').out);
    assert.equal(distinct(again), 16, 'hashed again and held again');
    assert.ok(again.flows.every((f: { real: string }) => f.real !== victim.real), 'none on the removed real');
    const miss1 = JSON.parse(run('stats', '--once', '--json', '--interval', '100').out).global.lru.v2;
    assert.ok(miss1 - miss0 >= 16, `LRU misses ${miss0} -> ${miss1}`);
  } finally {
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(state, { recursive: true, force: true });
  }
});
