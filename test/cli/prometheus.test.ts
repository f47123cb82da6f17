// stats --prometheus: the text exposition format, parsed back with a strict parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { prometheus } from '../../src/cli/format.js';
import { attachedBox, FakeDp, fakeDeps } from './fake-host.js';
import { parseExposition } from './prom-parse.js';

test('stats --prometheus is valid exposition text with vip labels', async () => {
  const box = attachedBox();
  box.vips.set('192.0.2.1:80/tcp', { key: { address: '192.0.2.1', port: 80, proto: 'tcp' }, flags: [], hash: 'maglev-v2', reals: new Map() });
  box.vips.set('[2001:db8::1]:443/tcp', { key: { address: '2001:db8::1', port: 443, proto: 'tcp' }, flags: [], hash: 'maglev-v2', reals: new Map() });
  const f = fakeDeps(box);
  assert.equal(await main(['stats', '--prometheus'], f.deps), 0, f.stderr.text);
  const { types, samples } = parseExposition(f.stdout.text);
  assert.equal(types.get('katran_xdp_packets_total'), 'counter');
  const vip = samples.filter((s) => s.name === 'katran_vip_packets_total');
  assert.deepEqual(vip.map((s) => s.labels.vip).sort(), ['192.0.2.1:80/tcp', '[2001:db8::1]:443/tcp']);
  assert.ok(vip.every((s) => s.labels.intf === 'veth-lb'));
  const total = samples.find((s) => s.name === 'katran_xdp_packets_total' && s.labels.action === 'total');
  assert.equal(total?.value, 200);
  assert.ok(samples.every((s) => !s.name.endsWith('_total') || types.get(s.name) === 'counter'));
});

test('label values are escaped', () => {
  const dp = new FakeDp(attachedBox(), 'veth-lb', true);
  const s = dp.sample();
  s.vips = [{ id: 'a"b\\c\nd', key: { address: '192.0.2.1', port: 1, proto: 'tcp' }, packets: 1, bytes: 1, pps: 0, bps: 0 }];
  const { samples } = parseExposition(prometheus('veth-lb', s));
  assert.equal(samples.find((x) => x.name === 'katran_vip_packets_total')?.labels.vip, 'a"b\\c\nd');
});

test('--prometheus refuses --count > 1 (one exposition per file)', async () => {
  const f = fakeDeps(attachedBox());
  assert.equal(await main(['stats', '--prometheus', '--count', '3'], f.deps), 2);
});
