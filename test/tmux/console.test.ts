// The console end to end (issue 5, Tests): the real bin/katran-tui in a detached tmux session
// (80x24, its own tmux server socket) on a real balancer attached to a lab interface through the
// real Host, with its own pin root and state directory, traffic flowing from the lab namespace.
// Every key is sent only after capture-pane shows what it needs (no fixed sleeps as sync); every
// change made through a form is checked in the kernel's maps (vip_map, ctl_array) through the
// dataplane, not on the screen. `q` ends the console; the balancer stays attached (same program)
// and keeps forwarding. tmux server, lab, pins and state go in finally, also on failure.
// KATRAN_TUI_TMUX_DEBUG=1 prints every pane the test waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { CTL_MAC_INDEX, ctlMac, formatMac, formatVip, u32Key, vipDefinition } from '../../src/dataplane/abi.js';
import type { BalancerHandle } from '../../src/dataplane/kernel/handle.js';
import { createHost } from '../../src/dataplane/balancer/host.js';
import type { Lab, RunningTraffic } from '../../src/lab/lab.js';
import { xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import { openPinned } from '../../src/dataplane/balancer/open.js';
import { hasTmux, procState, Tmux } from '../helpers/tmux.js';
import { labId, newLab, requireLab, settle, sinkOf } from '../e2e/fixture.js';
import { pinRoot, scratchDir } from '../helpers/env.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The VIPs in the kernel's vip_map, read through a read-only handle on the pinned maps. */
function kernelVips(h: BalancerHandle): string[] {
  return h.maps.vips.keys().map((k) => formatVip(vipDefinition.decode(k)));
}

function kernelMac(h: BalancerHandle): string {
  const v = Buffer.alloc(h.maps.ctl.valueBufferSize);
  assert.ok(h.maps.ctl.lookup(u32Key(CTL_MAC_INDEX), v), 'ctl_array has the MAC slot');
  return formatMac(ctlMac.decode(v));
}

/** The XDP TOTAL rate shown on the actions line, in pps ("1.23k/s" -> 1230), or null. */
export function shownTotalPps(pane: string): number | null {
  const m = /XDP TOTAL ([\d.]+)([kMG]?)\/s/.exec(pane);
  if (!m) return null;
  return Number(m[1]) * ({ '': 1, k: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]];
}

test('console in tmux on a lab balancer: rates move, add VIP and MAC through forms land in the kernel, q leaves it attached and forwarding', { timeout: 180_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  if (!hasTmux()) {
    t.skip('tmux is not installed (bash scripts/setup.sh installs it)');
    return;
  }
  const id = labId('u');
  const pins = pinRoot('tmux-console');
  const stateDir = scratchDir('tmux-console-state');
  const tmuxDir = scratchDir('tmux-console-tmux');
  const conf = join(tmuxDir, 'tmux.conf');
  const tmux = new Tmux(join(tmuxDir, 'sock'), 'console', root);
  let lab: Lab | undefined;
  let traffic: RunningTraffic | undefined;
  let ro: BalancerHandle | undefined;
  try {
    lab = newLab(id);
    const host = createHost({ pinRoot: pins, stateDir });
    const vip = { address: '192.0.2.40', port: 53, proto: 'udp' as const };
    const real = '198.51.100.40';
    {
      const { dataplane } = host.attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
      const dp = dataplane!;
      try {
        dp.addVip(vip);
        dp.addReal(vip, { address: real, weight: 1 });
      } finally {
        dp.close(); // releases the writer lock for the console; the program stays attached
      }
    }
    const progId = xdpQuery(lab.ifindex).progId;
    assert.ok(progId > 0, 'attached');

    // Bounded traffic, swinging in rate (wave) so the shown pps moves between samples.
    traffic = lab.startTraffic({
      flows: [{ proto: 'udp', src: lab.clientsV4[0], dst: vip.address, dport: vip.port, count: 60_000, ports: 8 }],
      ratePps: 800, profile: 'wave', periodMs: 3000, durationMs: 90_000,
    });

    const cmd = `${process.execPath} bin/katran-tui --intf ${lab.intf} --pin-root ${pins} --state-dir ${stateDir} --interval 500; echo CONSOLE-EXIT=$?`;
    tmux.start(cmd, { width: 80, height: 24, conf, env: { TERM: 'xterm-256color' } });
    if (process.env.KATRAN_TUI_TMUX_DEBUG) tmux.run(['pipe-pane', '-t', tmux.session, `cat > /tmp/kt-tmux-pty-${id}.log`]);

    // 1. It starts: the header names our interface, mode and program.
    await tmux.waitFor(new RegExp(`${lab.intf} native prog ${progId}`), 15_000, 'the dashboard header');
    await tmux.waitFor(/192\.0\.2\.40:53\/udp/, 5_000, 'the VIP row');
    const consolePid = tmux.consolePid();
    assert.ok(consolePid > 0 && existsSync(`/proc/${consolePid}`), 'the console process runs in the pane');

    // 2. Rates move: a TOTAL pps > 0 that differs between captures.
    const seen: number[] = [];
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const pps = shownTotalPps(tmux.capture());
      if (pps !== null && pps > 0 && (seen.length === 0 || pps !== seen[seen.length - 1])) seen.push(pps);
      if (seen.length >= 2) break;
      await delay(200);
    }
    assert.ok(seen.length >= 2, `the XDP TOTAL rate moved while traffic flowed (seen: ${seen.join(', ') || 'nothing > 0'})\n${tmux.capture()}`);

    ro = openPinned(lab.intf, { pinRoot: pins, readOnly: true });

    // 3. Add a VIP through the form: a, address, Tab, port, Tab, protocol u(dp), Enter, y.
    const newVip = '192.0.2.77:8080/udp';
    assert.ok(!kernelVips(ro).includes(newVip));
    tmux.keys('a');
    await tmux.waitFor(/Add VIP/, 5_000);
    tmux.type('192.0.2.77');
    await tmux.waitFor(/192\.0\.2\.77_/, 5_000, 'the typed address');
    tmux.keys('Tab');
    await tmux.waitFor(/› port/, 5_000, 'focus on port');
    tmux.type('8080');
    await tmux.waitFor(/8080_/, 5_000, 'the typed port');
    tmux.keys('Tab');
    await tmux.waitFor(/› protocol/, 5_000, 'focus on protocol');
    tmux.type('u');
    await tmux.waitFor(/\[udp\]/, 5_000, 'udp chosen');
    tmux.keys('Enter');
    await tmux.waitFor(/Apply\? \[y\/N\]/, 5_000, 'the confirmation');
    assert.ok(!kernelVips(ro).includes(newVip), 'nothing is written before y');
    tmux.keys('y');
    await tmux.waitFor(/done: /, 5_000, 'the change applied');
    assert.ok(kernelVips(ro).includes(newVip), `vip_map holds ${newVip} (kernel: ${kernelVips(ro).join(', ')})`);

    // 4. Change the default MAC through the form (Ctrl-U clears the field), then back to the lab's.
    const setMac = async (mac: string) => {
      tmux.keys('m');
      await tmux.waitFor(/Default gateway MAC/, 5_000);
      tmux.keys('C-u');
      await tmux.waitFor(/› MAC\s+_/, 5_000, 'the MAC field cleared');
      tmux.type(mac);
      await tmux.waitFor(new RegExp(`${mac}_`), 5_000, 'the typed MAC');
      tmux.keys('Enter');
      await tmux.waitFor(/Apply\? \[y\/N\]/, 5_000, 'the confirmation');
      tmux.keys('y');
      await tmux.waitFor(new RegExp(`gw ${mac}`), 5_000, 'the header with the new MAC');
      assert.equal(kernelMac(ro!), mac, 'ctl_array holds the MAC set through the form');
    };
    const otherMac = '02:00:5e:10:00:77';
    assert.notEqual(kernelMac(ro), otherMac);
    await setMac(otherMac);
    await setMac(lab.defaultMac);

    // 5. q quits: the console process exits 0 (its shell reaps it and prints the status; tmux's
    // "Pane is dead" line scrolls the first line into the history, so look there too); the program
    // is still attached and forwarding.
    tmux.keys('q');
    const after = await tmux.waitFor(/CONSOLE-EXIT=\d+/, 10_000, 'the console\'s exit', true).catch((e: Error) => { throw new Error(`${e.message}\nconsole process ${procState(consolePid)}`); });
    assert.match(after, /CONSOLE-EXIT=0/, `exit status 0\n${after}`);
    assert.equal(procState(consolePid), 'gone', 'the console process is gone');
    assert.equal(xdpQuery(lab.ifindex).progId, progId, 'the same program is still attached');

    await traffic.stop();
    traffic = undefined;
    await settle();
    const before = sinkOf(lab, real);
    const r = await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[1], dst: vip.address, dport: vip.port, count: 200, ports: 4 }], ratePps: 2000, durationMs: 10_000 });
    assert.equal(r.flows[0].packets, 200);
    await settle();
    assert.equal(sinkOf(lab, real) - before, 200, 'every packet sent after the console quit reached the real');

    // 6. SIGTERM: the console (and its dataplane threads) end at once (no hang), the terminal is
    // restored (the shell prints after the alternate screen), the writer lock is released, the
    // balancer stays attached.
    tmux.kill();
    tmux.start(cmd, { width: 80, height: 24, conf, env: { TERM: 'xterm-256color' } });
    await tmux.waitFor(/192\.0\.2\.40:53\/udp\s+\d/, 15_000, 'the dashboard again');
    const pid2 = tmux.consolePid();
    process.kill(pid2, 'SIGTERM');
    await tmux.waitFor(/CONSOLE-EXIT=\d+/, 10_000, 'the exit after SIGTERM', true).catch((e: Error) => { throw new Error(`${e.message}\nconsole process ${procState(pid2)}`); });
    assert.doesNotMatch(tmux.capture(), /VIP\s+PPS/, 'the alternate screen was left: the dashboard is gone from the pane');
    assert.equal(procState(pid2), 'gone');
    createHost({ pinRoot: pins, stateDir }).open(lab.intf).close(); // writable: the lock is free
    assert.equal(xdpQuery(lab.ifindex).progId, progId, 'still attached after SIGTERM');
  } finally {
    tmux.kill();
    try { await traffic?.stop(); } catch { /* already ended */ }
    try { ro?.close(); } catch { /* closed */ }
    try {
      if (lab) {
        const h = openPinned(lab.intf, { pinRoot: pins });
        const { detach } = await import('../../src/dataplane/balancer/detach.js');
        detach(h);
      }
    } catch { /* not attached */ }
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(tmuxDir, { recursive: true, force: true });
  }
});
