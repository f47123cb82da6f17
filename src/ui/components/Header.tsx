// Two header lines: where we are (interface, mode, program, since, CPUs, MAC) and the state
// (badges first so they survive truncation, then interval, sample age, capacity).
import { Box, Text } from 'ink';
import type { BalancerInfo, RunTime, StatsSample, VlanMappingText } from '../../dataplane/types.js';
import { fmtDuration, fmtInterval, fmtMac, fmtPct } from '../format.js';
import { fallbackAlarm } from '../model/health.js';
import { vlanHeaderLine } from '../model/vlans.js';
import { useTheme } from '../theme.js';
import { headerReason } from '../model/reasons.js';

export interface HeaderProps {
  info: BalancerInfo;
  latest: StatsSample | null;
  intervalMs: number;
  paused: boolean;
  now: number;
  width: number;
  /** The VLAN mappings: a third line when there are some (headerLines says how many lines). */
  vlans?: VlanMappingText[] | null;
}

/** The header's height: two lines, three with VLAN mappings. */
export function headerLines(vlans: VlanMappingText[] | null | undefined): number {
  return vlans?.length ? 3 : 2;
}

export function badges(p: Pick<HeaderProps, 'info' | 'latest' | 'paused'>): { text: string; level: 'bad' | 'warn' | 'badge' }[] {
  const b: { text: string; level: 'bad' | 'warn' | 'badge' }[] = [];
  if (p.info.pendingChange) b.push({ text: 'CHANGE PENDING', level: 'bad' });
  const st = p.latest?.interfaceState ?? p.info.interfaceState;
  if (st?.status === 'gone') b.push({ text: 'INTERFACE GONE', level: 'bad' });
  else if (st?.status === 'replaced') b.push({ text: st.otherProgId ? 'XDP REPLACED' : 'NOT ATTACHED', level: 'bad' });
  else if (st?.status === 'renamed') b.push({ text: `RENAMED ${st.from} -> ${st.intf}`, level: 'warn' });
  if (p.latest?.underFlood) b.push({ text: 'UNDER FLOOD', level: 'bad' });
  if (fallbackAlarm(p.latest)) b.push({ text: 'FALLBACK_LRU', level: 'bad' });
  if (p.paused) b.push({ text: 'PAUSED', level: 'warn' });
  if (p.info.owner === 'observed') b.push({ text: 'OBSERVING', level: 'badge' });
  if (p.info.readOnly) b.push({ text: 'READ-ONLY', level: 'badge' });
  return b;
}

export function Header(p: HeaderProps) {
  const t = useTheme();
  const { info } = p;
  const since = info.owner === 'katran-tui' && info.attachedAt
    ? `attached ${fmtDuration(p.now - info.attachedAt)}`
    : info.loadedAt ? `loaded ${fmtDuration(p.now - info.loadedAt)}` : 'since ?';
  const age = p.latest ? fmtDuration(Math.max(0, p.now - p.latest.at)) : '-';
  const cap = info.capacity;
  const capLevel = (n: number, max: number) => (n >= max ? 'bad' : n >= max * 0.9 ? 'warn' : 'ok') as 'bad' | 'warn' | 'ok';
  // The top drop reason while DROP moves: an alarm goes first (survives truncation), a trickle last.
  const why = headerReason(p.latest);
  return (
    <Box flexDirection="column" width={p.width}>
      <Text wrap="truncate-end">
        <Text bold color={t.c('title')}>{info.intf}</Text>
        <Text> </Text>
        <Text color={t.c('accent')}>{info.mode}</Text>
        <Text> prog {info.progId} · {since} · {info.cpus} CPUs · gw {fmtMac(info.defaultMac)}</Text>
        {info.healthcheck ? <Text color={t.c('dim')}> · hc {info.healthcheck.intf}</Text> : null}
      </Text>
      <Text wrap="truncate-end">
        {badges(p).map((b) => <Text key={b.text} inverse={!t.noColor} bold color={t.c(b.level)}>[{b.text}]</Text>)}
        {badges(p).length ? ' ' : ''}
        {why?.first ? <Text bold color={t.level(why.level)}>{why.text} · </Text> : null}
        {p.latest?.runTime ? <Headroom rt={p.latest.runTime} /> : null}
        <Text>every {fmtInterval(p.intervalMs)} · sample {age} ago · </Text>
        <Text color={t.level(capLevel(cap.vips, cap.maxVips))}>VIPs {cap.vips}/{cap.maxVips}</Text>
        <Text> · </Text>
        <Text color={t.level(capLevel(cap.reals, cap.maxReals))}>reals {cap.reals}/{cap.maxReals}</Text>
        {why && !why.first ? <Text> · {why.text}</Text> : null}
      </Text>
      {p.vlans?.length ? <VlanLine {...p} vlans={p.vlans} /> : null}
    </Box>
  );
}

/** Colour band of an estimated core share: under half ok, under 80% warn, above bad. */
export function shareLevel(share: number): 'ok' | 'warn' | 'bad' {
  return share >= 0.8 ? 'bad' : share >= 0.5 ? 'warn' : 'ok';
}

/** "250ns/pkt cpu1 23%est": the program's ns per packet and the busiest CPU's estimated core share. */
function Headroom({ rt }: { rt: RunTime }) {
  const t = useTheme();
  return (
    <Text>
      <Text bold>{rt.nsPerPacket.toFixed(0)}ns/pkt</Text>
      {rt.busiest ? <Text bold color={t.level(shareLevel(rt.busiest.share))}> cpu{rt.busiest.cpu} {fmtPct(rt.busiest.share, 0)}est</Text> : null}
      <Text> · </Text>
    </Text>
  );
}

/** "VLANs 573 -> 574 gw 02:00:5e:00:05:74 · 575 gw default …": warn-coloured while VIP traffic arrives on a VLAN not parsed. */
function VlanLine(p: HeaderProps & { vlans: VlanMappingText[] }) {
  const t = useTheme();
  const text = vlanHeaderLine(p.vlans, p.info.defaultMac, p.latest?.vlans, p.width - 1);
  return <Text wrap="truncate-end" color={text.startsWith('!') ? t.c('warn') : undefined}>{text}</Text>;
}
