// The VIP detail's history chart: blessed-contrib's line chart drawn OFF-SCREEN (a blessed screen
// on a dummy output stream), read back with screen.screenshot() and shown in an Ink <Text>.
// blessed and blessed-contrib are loaded on first use, so they cost nothing until a chart is drawn.
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import type { Widgets } from 'blessed';
import type { LineWidget } from 'blessed-contrib';
import { human } from './format.js';

const require = createRequire(import.meta.url);

interface Canvas { screen: Widgets.Screen; line: LineWidget; width: number; height: number }
let canvas: Canvas | null = null;

function dummyStream(width: number, height: number): PassThrough {
  const s = new PassThrough() as PassThrough & { columns: number; rows: number; isTTY: boolean; setRawMode?: () => void };
  s.columns = width; s.rows = height; s.isTTY = true; s.setRawMode = () => {};
  s.resume(); // discard what blessed writes
  return s;
}

function getCanvas(width: number, height: number): Canvas {
  if (canvas && canvas.width === width && canvas.height === height) return canvas;
  destroyChart();
  const blessed = require('blessed') as typeof import('blessed');
  const contrib = (require('blessed-contrib') as { line: (o: object) => LineWidget });
  const screen = blessed.screen({
    output: dummyStream(width, height), input: dummyStream(width, height), terminal: 'xterm', warnings: false,
    smartCSR: false, fullUnicode: false, autoPadding: false, dump: false, resizeTimeout: 0, forceUnicode: true,
  } as Widgets.IScreenOptions);
  const line = contrib.line({
    top: 0, left: 0, width, height, showLegend: false, wholeNumbersOnly: false, xLabelPadding: 2, xPadding: 3,
    style: { line: 'yellow', text: 'green', baseline: 'white' },
  });
  screen.append(line); // append before setData (GUIDE.md)
  canvas = { screen, line, width, height };
  return canvas;
}

/** Frees the off-screen blessed screen (and blessed's process listeners with it). */
export function destroyChart(): void {
  if (!canvas) return;
  try { canvas.screen.destroy(); } catch { /* already gone */ }
  canvas = null;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/**
 * Draws `values` (pps, oldest first) sampled at `times` (ms since the epoch) as a line chart of
 * `width` x `height` cells (a title line, then the chart). Returns the lines (coloured unless noColor).
 */
export function renderLineChart(values: readonly number[], times: readonly number[], o: { width: number; height: number; noColor?: boolean; title?: string }): string {
  const width = Math.max(20, Math.floor(o.width));
  const height = Math.max(5, Math.floor(o.height));
  const v = values.length >= 2 ? values : values.length === 1 ? [values[0], values[0]] : [0, 0];
  const max = Math.max(...v);
  // Scale to a unit so the y labels stay short: "12.3" k pps rather than "12345".
  const [div, unit] = max >= 1e9 ? [1e9, 'G'] : max >= 1e6 ? [1e6, 'M'] : max >= 1e4 ? [1e3, 'k'] : [1, ''];
  const last = times.length ? times[times.length - 1] : 0;
  const ts = times.slice(-v.length);
  const x = v.map((_, i) => {
    const t = ts[i - (v.length - ts.length)];
    return t === undefined ? '' : `-${Math.round((last - t) / 1000)}s`;
  });
  // blessed-contrib leaves ~3 blank rows under the x labels: draw taller and crop them.
  const c = getCanvas(width, height + 2);
  c.line.setData([{ title: o.title ?? 'pps', x, y: v.map((n) => n / div) }]);
  c.screen.render();
  const shot = (c.screen as unknown as { screenshot(): string }).screenshot();
  const lines = String(shot).split('\n').map((l: string) => l.replace(/\s+$/, ''));
  while (lines.length && stripAnsi(lines[lines.length - 1]).trim() === '') lines.pop();
  const out = [`${o.title ?? 'pps'}${unit ? ` (${unit}pps)` : ''} · max ${human(max)}`, ...lines.slice(-(height - 1))].join('\n');
  return o.noColor ? stripAnsi(out) : out;
}
