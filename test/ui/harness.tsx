// Shared by the console tests: act()-wrapped key presses, a manual scheduler that samples on
// demand, and a mount helper that renders the App against the fake at 80x24.
import './env.js';
import { act, type ReactElement } from 'react';
import { render } from 'ink-testing-library';
import { App, type AppProps } from '../../src/ui/App.js';
import type { Scheduler } from '../../src/dataplane/async.js';
import { inProcessHost } from '../../src/dataplane/worker/in-process.js';
import type { ServeOptions } from '../../src/dataplane/worker/server.js';
import { demoFake, type FakeDataplane, type FakeHost } from '../helpers/fake-dataplane.js';


export const KEY = {
  enter: '\r', esc: '\x1b', up: '\x1b[A', down: '\x1b[B', right: '\x1b[C', left: '\x1b[D',
  pgUp: '\x1b[5~', pgDown: '\x1b[6~', backspace: '\x7f', tab: '\t', ctrlC: '\x03',
};

export class ManualScheduler implements Scheduler {
  readonly timers = new Map<number, { ms: number; fn: () => void }>();
  private next = 1;
  every(ms: number, fn: () => void): () => void {
    const id = this.next++;
    this.timers.set(id, { ms, fn });
    return () => { this.timers.delete(id); };
  }
  get intervals(): number[] { return [...this.timers.values()].map((t) => t.ms); }
  /** Fires every registered timer n times, inside act(). */
  async tick(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) await act(async () => { for (const t of [...this.timers.values()]) t.fn(); });
  }
}

export type Rendered = ReturnType<typeof render>;

export async function mount(el: ReactElement): Promise<Rendered> {
  let r!: Rendered;
  await act(async () => { r = render(el); });
  await act(async () => { await new Promise((res) => setTimeout(res, 5)); });
  // Unmounting updates the React root too: inside act(), or React warns.
  const unmount = r.unmount.bind(r);
  r.unmount = () => { act(() => { unmount(); }); };
  return r;
}

export async function press(r: Rendered, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    await act(async () => { r.stdin.write(k); });
    // a lone Esc is only delivered once Ink knows no sequence follows (a tick later)
    if (k === KEY.esc) await act(async () => { await new Promise((res) => setTimeout(res, 20)); });
  }
}

/** Keys that arrive together (a paste, a laggy SSH link): ONE write to stdin. */
export async function burst(r: Rendered, ...keys: string[]): Promise<void> {
  await press(r, keys.join(''));
}

/** Types text one character at a time (as a person would). */
export async function type(r: Rendered, text: string): Promise<void> {
  for (const ch of text) await press(r, ch);
}

/** The last frame as text (styles stripped). */
export function frame(r: Rendered): string {
  return stripAnsi(r.lastFrame() ?? '');
}

/** The last frame with its escapes (colour assertions). */
export function rawFrame(r: Rendered): string {
  return r.lastFrame() ?? '';
}

export interface Setup {
  host: FakeHost;
  dp: FakeDataplane;
  sched: ManualScheduler;
  r: Rendered;
  quits: number[];
}

/**
 * The App on the demo fake, already opened, 80x24, no colour, with `ticks` samples taken. The fake
 * is reached as the console reaches the real dataplane: through the async client (in-process).
 */
export async function setup(o: { ticks?: number; props?: Partial<AppProps>; fake?: ReturnType<typeof demoFake>; serve?: ServeOptions } = {}): Promise<Setup> {
  const { host, dp } = o.fake ?? demoFake();
  const sched = new ManualScheduler();
  const quits: number[] = [];
  const r = await mount(
    <App host={inProcessHost(host, { scheduler: sched, ...o.serve })} width={80} height={24} noColor now={() => dp.clock} onQuit={() => quits.push(1)} {...o.props} />,
  );
  await sched.tick(o.ticks ?? 3);
  return { host, dp, sched, r, quits };
}

// eslint-disable-next-line no-control-regex
export function stripAnsi(s: string): string { return s.replace(/\x1b\[[0-9;]*m/g, ''); }

/** Every line of the frame fits the width, and the frame fits the height. */
export function fits(f: string, width: number, height: number): { ok: boolean; why: string } {
  const lines = stripAnsi(f).split('\n');
  const wide = lines.find((l) => [...l].length > width);
  if (wide) return { ok: false, why: `line wider than ${width}: ${JSON.stringify(wide)} (${[...wide].length})` };
  if (lines.length > height) return { ok: false, why: `${lines.length} lines > ${height}` };
  return { ok: true, why: '' };
}
