// The lab's traffic generator, a child process run in the client namespace
// (`ip netns exec <ns> node traffic.js <spec json>`): real UDP datagrams and real TCP SYNs
// (connect() abandoned after 200 ms, before the kernel's first SYN retransmit at 1 s, so one
// connect is one SYN), and crafted frames sent by AF_PACKET. Bounded in count, rate and time.
// Prints one JSON report on stdout when done (or on SIGTERM).
import dgram from 'node:dgram';
import net from 'node:net';


/**
 * The per-flow rate of a 'wave' generator at `elapsedMs`: between 10% and 100% of `share`. Every
 * flow of one generator swings in phase: phases spread over the flows would cancel out in the
 * VIP's total, and the operator would see a flat rate.
 */
export function waveRate(share: number, elapsedMs: number, periodMs: number): number {
  return share * (0.55 + 0.45 * Math.sin((2 * Math.PI * elapsedMs) / periodMs));
}

export interface TrafficFlow {
  proto: 'udp' | 'tcp-syn';
  src: string;
  /** 0 / absent: an ephemeral port (reported back). UDP: one socket per flow, so one port. */
  sport?: number;
  dst: string;
  dport: number;
  /** Packets (UDP datagrams or SYNs) to send. */
  count: number;
  /** UDP payload bytes (default 64). */
  size?: number;
  /**
   * UDP: source ports (sockets) the flow's datagrams rotate over (default 1, at most 256): that
   * many distinct 5-tuples from one client. With `sport`, the ports are sport .. sport+ports-1.
   */
  ports?: number;
}

export interface TrafficSpec {
  flows?: TrafficFlow[];
  /** Total packets per second over all flows (default 1000, at most 20000). */
  ratePps?: number;
  /** 'wave': each flow's rate swings between 10% and 100% of its share, phases spread across flows. */
  profile?: 'steady' | 'wave';
  periodMs?: number;
  /** Hard stop (default 30 s, at most 1 h). */
  durationMs?: number;
  /** Crafted frames sent as they are out of `ifname` (AF_PACKET), `repeat` times each. */
  frames?: { ifname: string; hex: string[]; repeat?: number; mark?: number };
}

export interface TrafficReport {
  flows: { proto: string; src: string; sports: number[]; dst: string; dport: number; packets: number }[];
  frames: number;
  elapsedMs: number;
  errors: string[];
}

export const LIMITS = { maxRatePps: 20000, maxDurationMs: 3_600_000, maxCount: 10_000_000, maxFrames: 100_000 } as const;

async function run(spec: TrafficSpec): Promise<TrafficReport> {
  const t0 = Date.now();
  const errors: string[] = [];
  const flows = spec.flows ?? [];
  const report: TrafficReport = {
    flows: flows.map((f) => ({ proto: f.proto, src: f.src, sports: [], dst: f.dst, dport: f.dport, packets: 0 })),
    frames: 0, elapsedMs: 0, errors,
  };
  const duration = Math.min(spec.durationMs ?? 30_000, LIMITS.maxDurationMs);
  const rate = Math.min(Math.max(1, spec.ratePps ?? 1000), LIMITS.maxRatePps);
  let stopping = false;
  process.on('SIGTERM', () => { stopping = true; });
  process.on('SIGINT', () => { stopping = true; });

  if (spec.frames) {
    const { PacketSender } = await import('./libc.js');
    const s = new PacketSender(spec.frames.ifname, spec.frames.mark);
    try {
      const frames = spec.frames.hex.slice(0, LIMITS.maxFrames).map((h) => Buffer.from(h, 'hex'));
      const repeat = Math.min(spec.frames.repeat ?? 1, LIMITS.maxFrames);
      for (let r = 0; r < repeat && !stopping; r++) {
        for (const f of frames) {
          s.send(f);
          report.frames++;
        }
      }
    } catch (e) {
      errors.push((e as Error).message);
    } finally {
      s.close();
    }
  }

  const udp = new Map<number, dgram.Socket[]>();
  const pendingTcp = new Set<net.Socket>();
  try {
    for (let i = 0; i < flows.length; i++) {
      const f = flows[i];
      if (f.proto === 'udp') {
        const socks: dgram.Socket[] = [];
        udp.set(i, socks);
        const n = Math.min(Math.max(1, Math.floor(f.ports ?? 1)), 256);
        for (let k = 0; k < n; k++) {
          const sock = dgram.createSocket(net.isIPv6(f.src) ? 'udp6' : 'udp4');
          sock.on('error', (e) => errors.push(`udp ${f.src}: ${e.message}`));
          socks.push(sock);
          await new Promise<void>((res, rej) => {
            sock.once('error', rej);
            sock.bind({ address: f.src, port: f.sport ? f.sport + k : 0, exclusive: true }, () => { sock.off('error', rej); res(); });
          });
          report.flows[i].sports.push(sock.address().port);
        }
      }
    }
    const left = flows.map((f) => Math.min(Math.max(0, Math.floor(f.count)), LIMITS.maxCount));
    const credit = flows.map(() => 0);
    const share = flows.length ? rate / flows.length : 0;
    const period = spec.periodMs ?? 20_000;
    let last = Date.now();
    const tick = 10;
    for (let guard = 0; guard < duration / tick + 10 && !stopping; guard++) {
      const now = Date.now();
      if (now - t0 >= duration || left.every((n) => n === 0)) break;
      const dt = (now - last) / 1000;
      last = now;
      for (let i = 0; i < flows.length; i++) {
        if (left[i] === 0) continue;
        const f = flows[i];
        let r = share;
        if (spec.profile === 'wave') r = waveRate(share, now - t0, period);
        credit[i] = Math.min(credit[i] + r * dt, Math.max(1, r * 0.2));
        // the first packet goes at once
        if (report.flows[i].packets === 0 && credit[i] < 1) credit[i] = 1;
        while (credit[i] >= 1 && left[i] > 0) {
          credit[i] -= 1;
          left[i]--;
          report.flows[i].packets++;
          if (f.proto === 'udp') {
            const socks = udp.get(i)!;
            socks[report.flows[i].packets % socks.length].send(Buffer.alloc(f.size ?? 64, 0x6b), f.dport, f.dst);
          } else {
            const s = net.connect({ host: f.dst, port: f.dport, localAddress: f.src, localPort: f.sport || undefined });
            pendingTcp.add(s);
            s.on('error', () => { /* never answered: expected */ });
            s.once('connect', () => errors.push(`tcp ${f.dst}:${f.dport} answered: the lab has no reals`));
            const rec = report.flows[i];
            setTimeout(() => {
              if (s.localPort && !rec.sports.includes(s.localPort)) rec.sports.push(s.localPort);
              s.destroy();
              pendingTcp.delete(s);
            }, 200);
          }
        }
      }
      await new Promise((r) => setTimeout(r, tick));
    }
    // let the last TCP attempts be recorded and abandoned
    await new Promise((r) => setTimeout(r, pendingTcp.size ? 250 : 20));
  } catch (e) {
    errors.push((e as Error).message);
  } finally {
    for (const s of pendingTcp) s.destroy();
    for (const socks of udp.values()) for (const s of socks) s.close();
  }
  report.elapsedMs = Date.now() - t0;
  return report;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as TrafficSpec;
  run(spec).then((r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  }, (e) => {
    process.stdout.write(`${JSON.stringify({ flows: [], frames: 0, elapsedMs: 0, errors: [String(e?.message ?? e)] })}\n`);
    process.exit(1);
  });
}
