// Console figures with the in-memory fake (`npm run bench` prints them; not a timed test):
// time to the first frame, and the cost of one refresh (sample + React + Ink output) with
// 512 VIPs and 4096 reals in the dashboard and in the VIP detail (with its chart).
// The real-balancer CPU / RSS measure in tmux is separate.
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';

function ttyStreams(columns: number, rows: number) {
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true, isRaw: false,
    setRawMode(this: { isRaw: boolean }, v: boolean) { this.isRaw = v; return this; },
    ref() { return this; }, unref() { return this; },
  });
  let bytes = 0;
  let text = '';
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns, rows });
  stdout.on('data', (d: Buffer) => { bytes += d.length; if (text.length < 1e6) text += d.toString(); });
  return { stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream, raw: stdin, bytes: () => bytes, text: () => text, reset: () => { text = ''; } };
}

const tick = () => new Promise((r) => setImmediate(r));
const ms = (x: number) => `${x.toFixed(2)} ms`;

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `median ${ms(p(0.5))}, p95 ${ms(p(0.95))}, max ${ms(s[s.length - 1])}`;
}

export async function benchUi(): Promise<void> {
  // React's development build is several times slower and larger; the product runs production.
  process.env.NODE_ENV ??= 'production';
  const { createElement } = await import('react');
  console.log(`ui: console with the in-memory fake (not the real balancer), NODE_ENV=${process.env.NODE_ENV}`);

  // 1. First frame: module load + start screen + open + first sample drawn, through runConsole.
  {
    const t0 = performance.now();
    const { runConsole } = await import('../src/ui/run.js');
    const { demoFake } = await import('../test/helpers/fake-dataplane.js');
    const tLoad = performance.now() - t0;
    const { host } = demoFake();
    const io = ttyStreams(80, 24);
    const t1 = performance.now();
    const { inProcessHost } = await import('../src/dataplane/worker/in-process.js');
    const run = runConsole(inProcessHost(host), { stdin: io.stdin, stdout: io.stdout, noColor: true });
    while (!io.text().includes('192.0.2.10:80/tcp')) {
      await tick();
      if (performance.now() - t1 > 10_000) throw new Error('no first frame in 10 s');
    }
    const tFirst = performance.now() - t1;
    io.raw.write('q');
    await run;
    console.log(`ui: first frame ${ms(tLoad + tFirst)} (module load ${ms(tLoad)}, start -> dashboard drawn ${ms(tFirst)}); budget 1000 ms`);
  }

  // 2. Per refresh with 512 VIPs x 8 reals = 4096 reals, 120 x 40 terminal.
  {
    const { render } = await import('ink');
    const { App } = await import('../src/ui/App.js');
    const { FakeDataplane, FakeHost } = await import('../test/helpers/fake-dataplane.js');
    const dp = new FakeDataplane({ maxVips: 512, maxReals: 4096 }).seedMany(512, 8);
    const host = new FakeHost({ balancers: [dp] });
    let fire: (() => void) | null = null;
    const scheduler = { every(_ms: number, fn: () => void) { fire = fn; return () => { fire = null; }; } };
    const io = ttyStreams(120, 40);
    const rssBefore = process.memoryUsage().rss;
    const { inProcessHost } = await import('../src/dataplane/worker/in-process.js');
    const app = render(createElement(App, { host: inProcessHost(host, { scheduler }), noColor: true, now: () => dp.clock }), { stdin: io.stdin, stdout: io.stdout, debug: true, exitOnCtrlC: false, patchConsole: false });
    await tick();
    const sampleTimes: number[] = [];
    const frameTimes: number[] = [];
    const N = 60;
    for (let i = 0; i < N; i++) {
      const a = performance.now();
      dp.sample();
      sampleTimes.push(performance.now() - a);
      const b = performance.now();
      (fire as (() => void) | null)?.();
      await tick();
      frameTimes.push(performance.now() - b);
    }
    console.log(`ui: dashboard refresh, 512 VIPs / 4096 reals, 120x40: ${stats(frameTimes)} (fake sample() alone: ${stats(sampleTimes)})`);

    io.raw.write('\r'); // VIP detail of the selected VIP: chart + 8 reals
    await tick();
    const detailTimes: number[] = [];
    for (let i = 0; i < 30; i++) {
      const b = performance.now();
      (fire as (() => void) | null)?.();
      await tick();
      detailTimes.push(performance.now() - b);
    }
    const drew = /[⡀-⣿]/.test(io.text());
    console.log(`ui: VIP detail refresh with the blessed-contrib chart: ${stats(detailTimes)}${drew ? '' : ' (chart NOT seen in output)'}`);
    const bytesPerFrame = io.bytes() / (N + 31);
    console.log(`ui: output ${(bytesPerFrame / 1024).toFixed(1)} KiB per frame; RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (+${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(0)} MiB for 512 VIPs)`);
    app.unmount();
    const { destroyChart } = await import('../src/ui/chart.js');
    destroyChart();
  }
}

// `node dist/bench/ui.js` runs it alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchUi().catch((e) => { console.error(e); process.exit(1); });
}
