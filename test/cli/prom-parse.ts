// A strict parser of the Prometheus text exposition format, for the CLI's unit and e2e tests.
import assert from 'node:assert/strict';

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

