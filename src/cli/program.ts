// The commander wiring: options, subcommands, help, and main() that turns every outcome into an
// exit code (0 ok, 1 failed, 2 bad usage) and every error into one stderr line. Kept thin: each
// command group lives in its own module and gets a Ctx with an injected Host.
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_PIN_ROOT, DEFAULT_STATE_DIR } from '../dataplane/kernel/paths.js';
import { normalizeArgv } from './argv.js';
import { DEFAULT_FLOW_LIMIT } from '../dataplane/lru/query.js';
import { attach, attachRequest, detach, reattach, status, type AttachFlags } from './balancer.js';
import { configApply, configExport } from './config.js';
import { Ctx, DEMO_RATE, type CliDeps, type CommonOptions } from './context.js';
import { doctor } from './doctor.js';
import { EXIT, errorLine, exitCodeFor, UsageError } from './errors.js';
import { BpfError } from '../dataplane/errors.js';
import { macGet, macSet } from './mac.js';
import { lruList, lruPurge } from './lru.js';
import { recover } from './recover.js';
import { stats } from './stats.js';
import { trace } from './trace.js';
import { parseIntervalMs, parsePath } from './validate.js';
import { parseIntfName } from '../dataplane/rules.js';
import { addVlanCommands, vlanAttachOptions } from './vlan.js';
import { realAdd, realDel, realWeight, vipAdd, vipDel, vipList } from './vips.js';
import { quicMapAdd, quicMapDel, quicMapList, realDown } from './quic.js';

export const DEFAULT_INTERVAL_MS = 1000;

function addAttachOptions(cmd: Command, hidden: boolean): Command {
  const opts = [
    new Option('--default-mac <mac>', 'MAC of the next hop every encapsulated packet is sent to (Katran -default_mac)'),
    new Option('--xdp-mode <mode>', 'auto (native, else generic), native or generic').default(undefined),
    new Option('--balancer-prog <file>', 'balancer object to load (default: the bundled one; an upstream Katran balancer.bpf.o works)'),
    new Option('--healthchecker-prog <file>', 'healthcheck object for tc egress (bundled, or upstream healthchecking_ipip.o)'),
    new Option('--hc-intf <if>', 'interface the healthcheck program is attached to (default: --intf)'),
    new Option('--lru-size <n>', 'total LRU entries, split across the forwarding cores'),
    new Option('--forwarding-cores <csv>', 'CPUs that forward, e.g. 0,1,2-5 (default: every CPU)'),
    new Option('--quic-server-ids <n>', 'server_id_map entries (default Katran\'s 16777214, ~128 MiB of kernel memory; ids beyond fall back to hashing)'),
    new Option('--force', 'replace an XDP program that is not katran-tui\'s'),
    ...vlanAttachOptions(),
  ];
  for (const o of opts) cmd.addOption(hidden ? o.hideHelp() : o);
  return cmd;
}

export function buildProgram(deps: CliDeps, run: { ctx?: Ctx; result?: number }): Command {
  const id = deps.identity();
  const program = new Command('katran-tui')
    .description('On-box console and command line for an XDP layer-4 load balancer with Katran\'s map ABI.\nWithout a command: the console (needs a terminal).')
    .version(`katran-tui ${id.version} (bundled ${id.object.split('/').pop()} ${id.sha256 ? `sha256:${id.sha256}` : 'missing: run npm run build'})`, '-V, --version', 'print the version and the bundled object\'s sha256')
    .option('--intf <if>', 'the balancer\'s interface (default: the only balancer on the box)')
    .option('--readonly', 'refuse every write')
    .option('--interval <ms>', 'refresh / sampling interval in milliseconds', String(DEFAULT_INTERVAL_MS))
    .option('--state-dir <dir>', 'state directory', DEFAULT_STATE_DIR)
    .option('--pin-root <dir>', 'bpffs directory the balancers are pinned under', DEFAULT_PIN_ROOT)
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void deps.stdout.write(s),
      writeErr: (s) => void deps.stderr.write(s),
      outputError: (s, write) => write(`katran-tui: ${s.replace(/^error: /, '').trim().replace(/\n+/g, ' ')} (katran-tui --help)\n`),
    });
  addAttachOptions(program, true);
  program.helpCommand(false);

  const common = (cmd: Command): CommonOptions => {
    const o = cmd.optsWithGlobals() as Record<string, unknown>;
    return {
      intf: o.intf !== undefined ? parseIntfName(o.intf) : undefined,
      readonly: !!o.readonly,
      intervalMs: parseIntervalMs(o.interval),
      stateDir: parsePath(o.stateDir, 'state directory'),
      pinRoot: parsePath(o.pinRoot, 'pin root'),
      noColor: o.color === false || (deps.env.NO_COLOR !== undefined && deps.env.NO_COLOR !== ''),
    };
  };
  const ctxOf = (cmd: Command): Ctx => {
    const ctx = new Ctx(deps, common(cmd));
    run.ctx = ctx;
    return ctx;
  };
  const opts = <T>(cmd: Command) => cmd.optsWithGlobals() as T;
  const jsonOpt = (c: Command, what = 'print one JSON document (shape in README)') => c.option('--json', what);
  const dryOpt = (c: Command) => c.option('--dry-run', 'validate and show the change; write nothing');

  program.action(async (_o, cmd: Command) => {
    const ctx = ctxOf(cmd);
    const f = opts<AttachFlags>(cmd);
    const wantsAttach = f.defaultMac !== undefined;
    if (wantsAttach) attachRequest(ctx.common.intf, f); // validate a pasted Katran command line first
    if (!deps.stdout.isTTY || !deps.stdinIsTTY) {
      throw new UsageError('the console needs a terminal: use a subcommand instead, e.g. katran-tui status, katran-tui stats --once --json (katran-tui --help lists them)');
    }
    ctx.requireRoot('the console');
    if (!deps.runConsole) throw new Error('the console is not available in this build');
    const host = await ctx.host();
    if (wantsAttach && !host.balancers().some((b) => b.intf === ctx.common.intf)) await attach(ctx, f);
    await deps.runConsole({ intf: ctx.common.intf, readOnly: ctx.common.readonly, intervalMs: ctx.common.intervalMs, noColor: ctx.common.noColor, pinRoot: ctx.common.pinRoot, stateDir: ctx.common.stateDir });
  });

  const attachCmd = program.command('attach').description('load the balancer and attach it to --intf (Katran\'s gflags spellings work too)');
  addAttachOptions(attachCmd, false);
  dryOpt(jsonOpt(attachCmd, 'print the result as JSON'));
  attachCmd.action(async (_o, cmd: Command) => attach(ctxOf(cmd), opts<AttachFlags>(cmd)));

  dryOpt(jsonOpt(program.command('detach').description('detach our balancer from --intf and remove its pins (only on this explicit request)'), 'print the result as JSON'))
    .action(async (_o, cmd: Command) => detach(ctxOf(cmd), opts(cmd)));

  dryOpt(jsonOpt(program.command('reattach').description('attach our pinned program again to --intf after the interface was deleted and recreated (same maps: VIPs and LRU kept)'), 'print the result as JSON'))
    .action(async (_o, cmd: Command) => reattach(ctxOf(cmd), opts(cmd)));

  dryOpt(jsonOpt(program.command('recover').description('finish (or, when it cannot be finished, undo) a change a killed process left pending, and say what was done'), 'print the result as JSON'))
    .action(async (_o, cmd: Command) => recover(ctxOf(cmd), opts(cmd)));

  jsonOpt(program.command('status').description('every balancer on the box, ours and observed ones'))
    .action(async (_o, cmd: Command) => status(ctxOf(cmd), opts(cmd)));

  const vip = program.command('vip').description('VIPs: add, del, list');
  dryOpt(jsonOpt(vip.command('add').argument('<vip>', 'ADDR:PORT/PROTO, e.g. 192.0.2.1:80/tcp or [2001:db8::1]:443/tcp'), 'print the result as JSON'))
    .description('add a VIP')
    .option('--flags <csv>', 'VIP flags: no-sport, no-lru, dport-hash, hash-src-dst-port, ... (Katran\'s NO_SPORT spelling too)')
    .option('--hash <kind>', 'maglev or maglev-v2 (default maglev-v2, as katran_server_grpc)')
    .action(async (v: string, _o, cmd: Command) => vipAdd(ctxOf(cmd), v, opts(cmd)));
  dryOpt(jsonOpt(vip.command('del').argument('<vip>', 'ADDR:PORT/PROTO'), 'print the result as JSON')).description('delete a VIP and its ring')
    .action(async (v: string, _o, cmd: Command) => vipDel(ctxOf(cmd), v, opts(cmd)));
  jsonOpt(vip.command('list').description('VIPs with their flags, hash and reals (weight, ring slots, share)'))
    .action(async (_o, cmd: Command) => vipList(ctxOf(cmd), opts(cmd)));

  const real = program.command('real').description('reals of a VIP: add, del, weight');
  dryOpt(jsonOpt(real.command('add').argument('<vip>', 'ADDR:PORT/PROTO').argument('<real>', 'the real\'s address'), 'print the result as JSON'))
    .description('add a real to a VIP').option('--weight <n>', 'weight, 0 drains (default 1)')
    .action(async (v: string, r: string, _o, cmd: Command) => realAdd(ctxOf(cmd), v, r, opts(cmd)));
  dryOpt(jsonOpt(real.command('del').argument('<vip>', 'ADDR:PORT/PROTO').argument('<real>', 'the real\'s address'), 'print the result as JSON'))
    .description('remove a real from a VIP')
    .action(async (v: string, r: string, _o, cmd: Command) => realDel(ctxOf(cmd), v, r, opts(cmd)));
  dryOpt(jsonOpt(real.command('weight').argument('<vip>', 'ADDR:PORT/PROTO').argument('<real>', 'the real\'s address').argument('<n>', 'new weight; 0 drains'), 'print the result as JSON'))
    .description('change a real\'s weight (0 drains: flows in the LRU stay until they age out)')
    .action(async (v: string, r: string, n: string, _o, cmd: Command) => realWeight(ctxOf(cmd), v, r, n, opts(cmd)));

  addVlanCommands(program, ctxOf);
  for (const [name, down] of [['down', true], ['up', false]] as const) {
    dryOpt(jsonOpt(real.command(name).argument('<vip>', 'ADDR:PORT/PROTO (a udp-flow-migration VIP)').argument('<real>', 'the real\'s address'), 'print the result as JSON'))
      .description(down
        ? 'mark a real down (udp-flow-migration VIPs only): its LRU hits are re-hashed; the ring is unchanged, so the hash may pick it again'
        : 'clear a real\'s down mark')
      .action(async (v: string, r: string, _o, cmd: Command) => realDown(ctxOf(cmd), v, r, down, opts(cmd)));
  }

  const quic = program.command('quic').description('QUIC connection-id routing: server-id mappings (global, as in Katran)');
  const qmap = quic.command('map').description('server id -> real mappings: add, del, list');
  dryOpt(jsonOpt(qmap.command('add').argument('<id>', 'server id (1 .. the map\'s size - 1)').argument('<real>', 'the real\'s address'), 'print the result as JSON'))
    .description('route QUIC packets whose connection id names this server id to the real (Katran -quic_mapping)')
    .action(async (i: string, r: string, _o, cmd: Command) => quicMapAdd(ctxOf(cmd), i, r, opts(cmd)));
  dryOpt(jsonOpt(qmap.command('del').argument('<id>', 'server id'), 'print the result as JSON'))
    .description('remove a mapping; its server_id_map entry is cleared too (Katran -del_qm leaves it)')
    .action(async (i: string, _o, cmd: Command) => quicMapDel(ctxOf(cmd), i, opts(cmd)));
  jsonOpt(qmap.command('list').description('the mappings (from the desired state; the kernel is read only for the listed ids) (Katran -list_qm)'))
    .action(async (_o, cmd: Command) => quicMapList(ctxOf(cmd), opts(cmd)));
  const lru = program.command('lru').description('the connection table: flows held in the per-CPU LRUs and the fallback LRU');
  jsonOpt(lru.command('list').description('flows held in the LRUs (read-only), with their real, CPU and (UDP) age, and a count per real'))
    .option('--vip <vip>', 'only flows of this VIP (ADDR:PORT/PROTO)')
    .option('--real <addr>', 'only flows held on this real')
    .option('--client <addr>', 'only flows of this client (ADDR or ADDR:PORT)')
    .option('--limit <n>', `most flows listed (default ${DEFAULT_FLOW_LIMIT}; the counts per real cover every match)`)
    .action(async (_o, cmd: Command) => lruList(ctxOf(cmd), opts(cmd)));
  dryOpt(jsonOpt(lru.command('purge').description('delete the flows of a VIP (of one real) from the LRUs: their next packets are hashed again; never prompts'), 'print the result as JSON'))
    .option('--vip <vip>', 'the VIP whose flows go (required)')
    .option('--real <addr>', 'only the flows held on this real')
    .action(async (_o, cmd: Command) => lruPurge(ctxOf(cmd), opts(cmd)));

  const mac = program.command('mac').description('the default gateway MAC: get (default) or set');
  jsonOpt(mac.command('get', { isDefault: true }).description('print the default MAC'))
    .action(async (_o, cmd: Command) => macGet(ctxOf(cmd), opts(cmd)));
  dryOpt(jsonOpt(mac.command('set').argument('<mac>', 'e.g. 58:e4:34:56:46:e0').description('set the default MAC'), 'print the result as JSON'))
    .action(async (m: string, _o, cmd: Command) => macSet(ctxOf(cmd), m, opts(cmd)));

  program.command('stats').description('counters and rates (until Ctrl-C, unless --once / --count)')
    .option('--json', 'one JSON document per sample, one per line')
    .option('--prometheus', 'Prometheus text format, one sample (for node_exporter\'s textfile collector)')
    .option('--once', 'print one sample (taken one --interval after the first read) and exit')
    .option('--count <n>', 'print n samples and exit')
    .option('--run-time', 'turn the kernel\'s BPF run-time statistics on while this runs: ns per packet (costs ~72 ns per packet for every BPF program on the box)')
    .action(async (_o, cmd: Command) => stats(ctxOf(cmd), opts(cmd)));

  jsonOpt(program.command('trace').argument('<src>', 'client SRC:SPORT, e.g. 203.0.113.5:40000').argument('<vip>', 'ADDR:PORT/PROTO'))
    .description('where this flow goes, and why (on a clone: no live flow moves)')
    .option('--syn', 'trace it as a TCP SYN (a new connection: the LRU is skipped)')
    .option('--quic-header <kind>', 'QUIC VIPs: short (default), initial, 0rtt, handshake or retry')
    .option('--cid <hex>', 'QUIC VIPs: the destination connection id, e.g. 4100000000000000 (CID v1, server id 1024)')
    .action(async (s: string, v: string, _o, cmd: Command) => trace(ctxOf(cmd), s, v, opts(cmd)));

  const config = program.command('config').description('the whole desired state as one JSON file: export, apply');
  config.command('export').description('print the VIPs, reals and default MAC as a config file (pretty JSON)')
    .option('--json', 'the same document on one line')
    .action(async (_o, cmd: Command) => configExport(ctxOf(cmd), opts(cmd)));
  dryOpt(jsonOpt(config.command('apply').argument('<file>', 'config file, or - for stdin'), 'print the result as JSON'))
    .description('validate the whole file, show the diff, apply it as one transaction')
    .action(async (file: string, _o, cmd: Command) => configApply(ctxOf(cmd), parsePath(file, 'config file'), opts(cmd)));

  program.command('demo').description('a self-contained lab (namespaces, veth, traffic) with the console on it; torn down on quit')
    .option('--duration <s>', 'stop after s seconds (without a terminal: run headless and print what each real received)')
    .option('--rate <pps>', `packets per second over all VIPs, swinging, with bursts of new connections (default ${DEMO_RATE.default})`)
    .option('--id <id>', 'run a separate demo lab beside the default one: links kt<id>b / kt<id>p, namespace kt-<id>-cl, its own pins and state (1-10 lowercase letters or digits; default: demo)')
    .option('--vlans', 'one port, many VLANs, native mode: clients on VLAN 573, the reals reached through VLAN 574\'s gateway MAC, and some VIP traffic on VLAN 575, which the balancer does not parse')
    .action(async (_o, cmd: Command) => {
      const ctx = ctxOf(cmd);
      const f = opts<{ duration?: string; rate?: string; id?: string; vlans?: boolean }>(cmd);
      const { parseIntIn } = await import('./validate.js');
      const durationS = f.duration !== undefined ? parseIntIn(f.duration, '--duration', 1, 86_400, ' (seconds)') : undefined;
      const ratePps = f.rate !== undefined ? parseIntIn(f.rate, '--rate', DEMO_RATE.min, DEMO_RATE.max, ' (packets per second)') : undefined;
      const interactive = !!deps.stdout.isTTY && deps.stdinIsTTY;
      if (!interactive && durationS === undefined) {
        throw new UsageError('demo without a terminal needs --duration S (it then runs headless and prints what each real received)');
      }
      ctx.requireRoot('demo');
      if (!deps.runDemo) throw new Error('the demo is not available in this build');
      run.result = await deps.runDemo({ id: f.id, durationS, ratePps, vlans: !!f.vlans, intervalMs: ctx.common.intervalMs, noColor: ctx.common.noColor, interactive, out: deps.stdout, err: deps.stderr });
    });

  jsonOpt(program.command('doctor').description('checks of the box, each with a verdict and a fix'), 'print the checks as JSON')
    .option('--clean', 'remove stale pins (pin directories no attached balancer uses)')
    .action(async (_o, cmd: Command) => {
      const ctx = ctxOf(cmd);
      if (!deps.probe) throw new Error('doctor is not available in this build');
      const ok = await doctor(ctx, deps.probe, opts(cmd));
      run.result = ok ? EXIT.ok : EXIT.failed;
    });

  for (const c of [program, ...program.commands, ...program.commands.flatMap((c) => [...c.commands, ...c.commands.flatMap((d) => d.commands)])]) {
    c.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError(true);
  }
  return program;
}

/** Runs one command line; returns the exit code. Never throws. */
export async function main(argv: readonly string[], deps: CliDeps): Promise<number> {
  const debug = !!deps.env.KATRAN_TUI_DEBUG;
  const run: { ctx?: Ctx; result?: number } = {};
  try {
    const { argv: args, notes } = normalizeArgv(argv);
    for (const n of notes) deps.stderr.write(`${n}\n`);
    const program = buildProgram(deps, run);
    await program.parseAsync(args, { from: 'user' });
    return run.result ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.ok;
      if (e.code === 'commander.help') return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    const log = e instanceof BpfError ? e.log : undefined; // a rejected load: the verifier log
    deps.stderr.write(`${errorLine(e)}${log && !debug ? ' (KATRAN_TUI_DEBUG=1 prints the verifier log)' : ''}\n`);
    if (debug && e instanceof Error) {
      deps.stderr.write(`${e.stack ?? ''}\n`);
      if (log) deps.stderr.write(`verifier log:\n${log}\n`);
    }
    return exitCodeFor(e);
  }
}
