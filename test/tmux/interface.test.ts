// The real console in tmux (80x24) on a lab balancer whose interface is deleted under it and then
// recreated (issue 7): INTERFACE GONE shows, the console keeps running, R and y re-attach the pinned
// program to the new ifindex, and traffic reaches the real again. Only the lab's own link is
// deleted and recreated; tmux server, lab, pins and state go in finally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHost } from '../../src/dataplane/balancer/host.js';
import type { Lab } from '../../src/lab/lab.js';
import { xdpQuery } from '../../src/dataplane/kernel/libbpf.js';
import { detachPinned } from '../../src/dataplane/balancer/detach.js';
import { hasTmux, procState, Tmux } from '../helpers/tmux.js';
import { labId, newLab, requireLab, settle, sinkOf } from '../e2e/fixture.js';
import { pinRoot, scratchDir } from '../helpers/env.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('console in tmux: the interface deleted shows INTERFACE GONE; recreated, R + y re-attach and traffic flows again', { timeout: 120_000 }, async (t) => {
  if (!(await requireLab(t))) return;
  if (!hasTmux()) {
    t.skip('tmux is not installed (bash scripts/setup.sh installs it)');
    return;
  }
  const id = labId('i');
  const pins = pinRoot('tmux-ifgone');
  const stateDir = scratchDir('tmux-ifgone-state');
  const tmuxDir = scratchDir('tmux-ifgone-tmux');
  const tmux = new Tmux(join(tmuxDir, 'sock'), 'ifgone', root);
  let lab: Lab | undefined;
  try {
    lab = newLab(id);
    const vip = { address: '192.0.2.41', port: 53, proto: 'udp' as const };
    const real = '198.51.100.41';
    const { dataplane } = createHost({ pinRoot: pins, stateDir }).attach({ intf: lab.intf, defaultMac: lab.defaultMac, mode: 'native' });
    try {
      dataplane!.addVip(vip);
      dataplane!.addReal(vip, { address: real });
    } finally {
      dataplane!.close(); // the console takes the writer lock
    }
    const progId = xdpQuery(lab.ifindex).progId;
    const oldIndex = lab.ifindex;
    const cmd = `${process.execPath} bin/katran-tui --intf ${lab.intf} --pin-root ${pins} --state-dir ${stateDir} --interval 250; echo CONSOLE-EXIT=$?`;
    tmux.start(cmd, { width: 80, height: 24, conf: join(tmuxDir, 'tmux.conf'), env: { TERM: 'xterm-256color' } });
    await tmux.waitFor(new RegExp(`${lab.intf} native prog ${progId}`), 15_000, 'the dashboard header');
    const consolePid = tmux.consolePid();

    lab.deleteLink();
    await tmux.waitFor(/\[INTERFACE GONE\]/, 10_000, 'the badge');
    await tmux.waitFor(new RegExp(`INTERFACE GONE: ${lab.intf} \\(ifindex ${oldIndex}\\) was deleted`), 5_000, 'the banner');
    tmux.keys('R');
    await tmux.waitFor(/re-attach: nothing to do/, 5_000, 'R before the interface is back');

    const newIndex = lab.recreateLink();
    await tmux.waitFor(new RegExp(`is back as ifindex ${newIndex} \\(was ${oldIndex}\\): press R`), 10_000, 'the offer');
    assert.equal(xdpQuery(newIndex).progId, 0, 'nothing attached before R');
    tmux.keys('R');
    await tmux.waitFor(/Apply\? \[y\/N\]/, 5_000, 'the confirmation');
    assert.equal(xdpQuery(newIndex).progId, 0, 'nothing attached before y');
    tmux.keys('y');
    await tmux.waitFor(/done: re-attached program/, 5_000, 'the re-attach');
    assert.equal(xdpQuery(newIndex).progId, progId, 'the same program on the new ifindex');
    await tmux.waitFor(new RegExp(`^(?![\\s\\S]*INTERFACE GONE)[\\s\\S]*${lab.intf} native prog ${progId}`), 5_000, 'the badge gone');

    const r = await lab.traffic({ flows: [{ proto: 'udp', src: lab.clientsV4[0], dst: vip.address, dport: vip.port, count: 100, ports: 4 }], ratePps: 2000, durationMs: 10_000 });
    assert.equal(r.flows[0].packets, 100);
    await settle();
    assert.equal(sinkOf(lab, real), 100, 'forwarding again with the same VIP');

    tmux.keys('q');
    const after = await tmux.waitFor(/CONSOLE-EXIT=\d+/, 10_000, 'the console\'s exit', true).catch((e: Error) => { throw new Error(`${e.message}\nconsole process ${procState(consolePid)}`); });
    assert.match(after, /CONSOLE-EXIT=0/);
    assert.equal(xdpQuery(newIndex).progId, progId, 'still attached after q');
  } finally {
    tmux.kill();
    try { if (lab) detachPinned(lab.intf, { pinRoot: pins }); } catch { /* nothing pinned */ }
    lab?.destroy();
    rmSync(pins, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(tmuxDir, { recursive: true, force: true });
  }
});
