// Katran's gflags spellings -> our long options, before commander sees argv, so that a
// katran_server_grpc command line can be pasted:
//   -intf=eno2.573 -default_mac 58:e4:34:56:46:e0 -balancer_prog ./balancer.bpf.o
//   -healthchecker_prog ./healthchecking_ipip.o -hc_intf eth1 -lru_size 1000000 -forwarding_cores 0,1
// Single-dash long names become double-dash, underscores in option names become dashes, `=` is kept
// (commander understands --name=value). Katran flags that katran-tui has no use for are dropped with
// a note; flags for modes katran-tui does not have are refused.
import { UsageError, sanitize } from './errors.js';

/** Every long option katran-tui defines (without the dashes). */
export const LONG_OPTIONS = new Set([
  'intf', 'readonly', 'interval', 'state-dir', 'pin-root', 'version', 'help', 'no-color', 'color',
  'default-mac', 'xdp-mode', 'balancer-prog', 'healthchecker-prog', 'hc-intf', 'lru-size', 'forwarding-cores', 'quic-server-ids', 'force',
  'json', 'prometheus', 'once', 'count', 'flags', 'hash', 'weight', 'syn', 'quic-header', 'cid', 'dry-run', 'duration', 'clean', 'yes',
]);

/** katran_server_grpc flags with no meaning here: dropped, with the reason. Value-taking unless noted. */
const IGNORED: Record<string, { why: string; bool?: boolean }> = {
  server: { why: 'katran-tui opens no network listener' },
  'ipip-intf': { why: 'the balancer encapsulates in XDP; the tunnel device is only needed by healthchecking_ipip.o, which finds ipip0' },
  'ipip6-intf': { why: 'the balancer encapsulates in XDP; the tunnel device is only needed by healthchecking_ipip.o, which finds ipip60' },
  priority: { why: 'the healthcheck program uses its own tc priority' },
  'shutdown-delay': { why: 'katran-tui never detaches on exit' },
  'numa-nodes': { why: 'per-CPU LRUs are created on the forwarding cores without NUMA placement' },
  'src-v4': { why: 'direct healthchecking sources are not supported' },
  'src-v6': { why: 'direct healthchecking sources are not supported' },
  'local-mac': { why: 'direct healthchecking is not supported' },
  'prog-pos': { why: 'katran-tui attaches standalone (no root XDP program array)' },
  'hc-forwarding': { why: 'healthcheck forwarding follows --healthchecker-prog', bool: true },
  logtostderr: { why: 'katran-tui always logs to stderr', bool: true },
  alsologtostderr: { why: 'katran-tui always logs to stderr', bool: true },
};

export interface NormalizedArgv {
  argv: string[];
  /** One line each, for stderr: Katran flags that were dropped and why. */
  notes: string[];
}

export function normalizeArgv(input: readonly string[]): NormalizedArgv {
  const out: string[] = [];
  const notes: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const tok = input[i];
    if (tok === '--') {
      out.push(...input.slice(i));
      break;
    }
    const m = /^(--?)([A-Za-z][A-Za-z0-9_-]+)(=.*)?$/s.exec(tok);
    if (!m) {
      out.push(tok);
      continue;
    }
    const [, dashes, rawName, eqValue] = m;
    const name = rawName.replace(/_/g, '-').toLowerCase();
    if (dashes === '-' && name.length < 2) {
      out.push(tok);
      continue;
    }
    // gflags boolean negation: -nohc_forwarding
    const negated = name.startsWith('no') ? name.slice(2).replace(/^-/, '') : '';
    if (name === 'map-path') {
      const value = eqValue !== undefined ? eqValue.slice(1) : input[i + 1];
      if (eqValue === undefined) i++;
      if (value !== undefined && value !== '') {
        throw new UsageError(`-map_path ${sanitize(value, 60)}: Katran's shared mode (a root XDP program array) is not supported; katran-tui attaches standalone`);
      }
      continue;
    }
    const ign = IGNORED[name] ?? (negated && IGNORED[negated]?.bool ? IGNORED[negated] : undefined);
    if (ign) {
      let value = '';
      if (eqValue !== undefined) value = `=${eqValue.slice(1)}`;
      else if (!ign.bool && i + 1 < input.length) value = ` ${input[++i]}`;
      notes.push(`katran-tui: note: ignoring Katran flag ${sanitize(`${dashes}${rawName}${value}`, 80)}: ${ign.why}`);
      continue;
    }
    if (LONG_OPTIONS.has(name)) {
      out.push(`--${name}${eqValue ?? ''}`);
      continue;
    }
    out.push(tok);
  }
  return { argv: out, notes };
}
