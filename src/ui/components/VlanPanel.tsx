// The VLAN panel (key V): each mapping (in -> out, gateway MAC) with its per-VLAN rates from the
// sample (in / balanced / passed pps, kt_vlan_stats), then the VLANs the balancer does not parse
// whose VIP traffic it counted, marked: the operator adds them (a) or fixes the switch.
import { Box, Text } from 'ink';
import { cell, fmtPps } from '../format.js';
import type { VlanPanelState } from '../hooks/useVlans.js';
import { VLANS_UNAVAILABLE, vlanGateway } from '../model/vlans.js';
import { useTheme } from '../theme.js';

export interface VlanPanelProps {
  state: VlanPanelState;
  defaultMac: string | null;
  /** Why changes are refused (read-only, observing), or null. */
  refusal: string | null;
  height: number;
  width: number;
}

const rate = (pps: number | null): string => (pps === null ? '-' : fmtPps(pps));

export function VlanPanel({ state, defaultMac, refusal, height, width }: VlanPanelProps) {
  const t = useTheme();
  const box = (children: React.ReactNode) => <Box flexDirection="column" width={width} height={height + 1}>{children}</Box>;
  if (state.list === null) return box(<Text color={t.c('warn')} wrap="wrap">  {VLANS_UNAVAILABLE}</Text>);
  if (state.list === undefined) return box(<Text color={t.c(state.error ? 'bad' : 'dim')} wrap="wrap">  {state.error ?? 'reading the VLAN mappings…'}</Text>);
  const notes: { text: string; level: 'dim' | 'warn' | 'bad' }[] = [];
  if (state.error) notes.push({ text: state.error, level: 'bad' });
  if (refusal) notes.push({ text: `${refusal}: VLAN changes are refused here`, level: 'dim' });
  if (!state.rows.length) notes.push({ text: 'no VLAN mappings: tagged frames pass to the host unbalanced (a adds one)', level: 'dim' });
  const room = Math.max(0, height - notes.length);
  // Many VLANs: a window that keeps the selection in sight, "… N more" under it.
  const fit = state.rows.length <= room ? room : Math.max(1, room - 1);
  const sel = Math.max(0, state.rows.findIndex((r) => r.id === state.selected?.id));
  const from = sel >= fit ? sel - fit + 1 : 0;
  const shown = state.rows.slice(from, from + fit);
  return box(
    <>
      <Text bold color={t.c('title')} wrap="truncate-end">
        {`  ${cell('VLAN', 9)} ${cell('OUT', 9)} ${cell('GATEWAY MAC', 26)} ${cell('IN/s', 8, 'right')} ${cell('BALANCED/s', 10, 'right')} ${cell('PASSED/s', 8, 'right')}`}
      </Text>
      {shown.map((r) => {
        const sel = state.selected?.id === r.id;
        const m = r.mapping;
        return (
          <Text key={r.id} wrap="truncate-end" inverse={sel && !t.noColor}>
            {`${sel ? '>' : ' '} ${cell(r.vlan ?? 'other 802.1ad', 9)} ${cell(m ? m.egress : '-', 9)} ${cell(m ? vlanGateway(m, defaultMac) : '-', 26)} `}
            {`${cell(rate(r.inPps), 8, 'right')} ${cell(rate(r.balancedPps), 10, 'right')} `}
            <Text color={r.unparsed ? t.c('warn') : undefined}>{cell(rate(r.passedPps), 8, 'right')}</Text>
            {r.unparsed ? <Text bold color={t.c('warn')}> ! not parsed: a adds it</Text> : null}
          </Text>
        );
      })}
      {state.rows.length > shown.length ? <Text color={t.c('dim')}>  … {state.rows.length - shown.length} more (j/k)</Text> : null}
      {notes.map((n) => <Text key={n.text} color={t.c(n.level)} wrap="truncate-end">  {n.text}</Text>)}
    </>,
  );
}
