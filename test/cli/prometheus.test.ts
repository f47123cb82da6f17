// stats --prometheus: the text exposition format, parsed back with a strict parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/program.js';
import { prometheus } from '../../src/cli/format.js';
import { attachedBox, FakeDp, fakeDeps } from './fake-host.js';

export interface PromSample { name: string; labels: Record<string, string>; value: number }

/** A strict parser of the text format 0.0.4: HELP/TYPE before samples, one TYPE per family, valid names and labels. */
export function parseExposition(text: string): { types: Map<string, string>; samples: PromSample[] } {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: PromSample[] = [];
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        assert.ok(!types.has(m[2]), `one TYPE for ${m[2]}`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]), line);
        types.set(m[2], m[3]);
      } else helps.add(m[2]);
      continue;
    }
    assert.ok(!line.startsWith('#'), `comment: ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;
      let pos = 0;
      while (pos < m[2].length) {
        re.lastIndex = pos;
        const l = re.exec(m[2]);
        assert.ok(l, `labels: ${m[2]}`);
        labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    assert.ok(types.has(m[1]), `TYPE before ${m[1]}`);
    assert.ok(helps.has(m[1]), `HELP for ${m[1]}`);
    const v = Number(m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : m[3]);
    assert.ok(!Number.isNaN(v) || m[3] === 'NaN', line);
    const id = `${m[1]}${JSON.stringify(labels)}`;
    assert.ok(!seen.has(id), `duplicate series ${id}`);
    seen.add(id);
    samples.push({ name: m[1], labels, value: v });
  }
  return { types, samples };
}

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
