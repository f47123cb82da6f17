// VIP detail: the pps history chart (blessed-contrib, off-screen) and the reals with weight, ring
// share, pps and bps. A real's pps / bps are its totals over every VIP that uses it (the kernel
// counts per real, not per VIP and real), and the header says so. Keys here: j/k select a real, a add, w weight, n drain, x remove,
// u down / up (udp-flow-migration VIPs), Esc back. DOWN marks and "N server ids" (QUIC mappings naming the real) are on the rows.
// counts per real, not per VIP and real), and the header says so. FLOWS: the VIP's flows held in the
// LRU on each real, with the change since the read before (a drain shows it falling). Keys here: j/k
// select a real, a add, w weight, n drain, x remove, f the VIP's flows, F the real's, Esc back.
import { Box, Text } from 'ink';
import { useKeys } from '../keys.js';
import { useEffect, useMemo, useState } from 'react';
import type { QuicMapping, RealState, StatsSample, VipState } from '../../dataplane/types.js';
import { destroyChart, renderLineChart } from '../chart.js';
import { cell, fmtBps, fmtPct, fmtPps } from '../format.js';
import { countWithTrend } from './Flows.js';
import type { History } from '../model/history.js';
import { scrollTop } from '../model/table.js';
import { useTheme } from '../theme.js';

export type RealAction = 'add' | 'weight' | 'drain' | 'remove' | 'down' | 'flows';

export interface VipDetailProps {
  vip: VipState | undefined;
  vipId: string;
  sample: StatsSample | null;
  history: History;
  width: number;
  height: number;
  active: boolean;
  /** The selected real (by address), kept by the caller across forms. */
  selected: string | null;
  onSelect(address: string | null): void;
  onBack(): void;
  onAction(action: RealAction, real: RealState | null): void;
  /** QUIC server-id mappings (global); those naming this VIP's reals are listed. */
  mappings?: QuicMapping[];
  /** The VIP's flows held in the LRU per real (null: not read yet), and the read before. */
  flows?: Map<string, number> | null;
  flowsBefore?: Map<string, number> | null;
}

export function VipDetail(p: VipDetailProps) {
  const t = useTheme();
  const [top, setTop] = useState(0);
  const reals = p.vip?.reals ?? [];
  const found = reals.findIndex((r) => r.address === p.selected);
  const sel = found >= 0 ? found : 0;
  const setSel = (f: (i: number) => number) => { const r = reals[Math.max(0, Math.min(reals.length - 1, f(sel)))]; p.onSelect(r?.address ?? null); };
  const chartH = Math.max(7, Math.min(12, Math.floor((p.height - 3) / 2)));
  const listH = Math.max(1, p.height - chartH - 3);
  const idx = Math.min(sel, Math.max(0, reals.length - 1));

  useEffect(() => () => destroyChart(), []);
  useKeys((input, key) => {
    if (key.escape) { p.onBack(); return; }
    if (input === 'j' || key.downArrow) setSel((i) => Math.min(reals.length - 1, i + 1));
    else if (input === 'k' || key.upArrow) setSel((i) => Math.max(0, i - 1));
    else if (input === 'g') setSel(() => 0);
    else if (input === 'G') setSel(() => reals.length - 1);
    else if (key.pageDown) setSel((i) => Math.min(reals.length - 1, i + listH));
    else if (key.pageUp) setSel((i) => Math.max(0, i - listH));
    else if (input === 'a') p.onAction('add', null);
    else if (input === 'f') p.onAction('flows', null);
    else if (input === 'F') { const r = reals[idx]; if (r) p.onAction('flows', r); }
    else if (input === 'w' || input === 'n' || input === 'x' || input === 'u') {
      const r = reals[idx];
      if (r) p.onAction(input === 'w' ? 'weight' : input === 'n' ? 'drain' : input === 'u' ? 'down' : 'remove', r);
    }
  }, { isActive: p.active });

  const series = p.history.get(p.vipId);
  const times = p.history.at();
  const chart = useMemo(
    () => renderLineChart(series, times, { width: p.width, height: chartH, noColor: t.noColor, title: `${p.vipId} pps` }),
    // the history arrays are mutated in place; the sample time says when they changed
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [p.sample?.at, series.length, p.width, chartH, t.noColor, p.vipId],
  );
  const stats = new Map(p.sample?.reals.map((r) => [r.address, r]) ?? []);
  const vstat = p.sample?.vips.find((v) => v.id === p.vipId);
  const start = scrollTop(idx, listH, top, reals.length);
  if (start !== top) setTop(start);

  if (!p.vip) {
    return <Box height={p.height}><Text color={t.c('warn')}>VIP {p.vipId} is gone (removed?). Esc goes back.</Text></Box>;
  }
  const mine = new Set(reals.map((r) => r.address));
  const mapped = (p.mappings ?? []).filter((m) => mine.has(m.real));
  const addrW = Math.max(16, Math.min(40, p.width - 70)); // the header line ends in " (all VIPs)"
  return (
    <Box flexDirection="column" width={p.width} height={p.height}>
      <Text wrap="truncate-end">
        <Text bold color={t.c('title')}>{p.vip.id}</Text>
        <Text> {fmtPps(vstat?.pps ?? 0)} pps {fmtBps(vstat?.bps ?? 0)} · flags {p.vip.flags.join(',') || 'none'} · {p.vip.hash} · vip_num {p.vip.vipNum} · {reals.length} reals</Text>
      </Text>
      <Box height={chartH}><Text>{chart}</Text></Box>
      {series.length < 2 ? <Text color={t.c('dim')}>collecting history… ({series.length} point{series.length === 1 ? '' : 's'})</Text> : <Text> </Text>}
      <Text bold color={t.c('title')} wrap="truncate-end">{`  ${cell('REAL', addrW)} ${cell('WEIGHT', 7, 'right')} ${cell('RING', 7, 'right')} ${cell('FLOWS', 10, 'right')} ${cell('PPS', 8, 'right')} ${cell('BPS', 11, 'right')} (all VIPs)`}</Text>
      {reals.slice(start, start + listH).map((r, i) => {
        const s = stats.get(r.address);
        const selected = start + i === idx;
        return (
          <Text key={r.address} wrap="truncate-end" inverse={selected && !t.noColor} bold={selected} color={r.weight === 0 ? t.c('warn') : undefined}>
            {`${selected ? '>' : ' '} ${cell(r.address, addrW)} ${cell(r.weight === 0 ? '0 drain' : String(r.weight), 7, 'right')} ${cell(fmtPct(r.ringShare), 7, 'right')} ${cell(p.flows ? countWithTrend(p.flows.get(r.address) ?? 0, p.flowsBefore ? p.flowsBefore.get(r.address) ?? 0 : undefined) : '…', 10, 'right')} ${cell(fmtPps(s?.pps ?? 0), 8, 'right')} ${cell(fmtBps(s?.bps ?? 0), 11, 'right')}`}
            {r.down ? <Text color={t.c('bad')} bold> DOWN</Text> : null}
            {r.serverIds ? <Text color={t.c('label')}>{` ${r.serverIds} server id${r.serverIds === 1 ? '' : 's'}`}</Text> : null}
          </Text>
        );
      })}
      {reals.length === 0 ? <Text color={t.c('warn')}>  no reals: traffic to this VIP is dropped. a adds one.</Text> : null}
      {mapped.length ? (
        <Text wrap="truncate-end" color={t.c('dim')}>{`  QUIC server ids: ${mapped.slice(0, 12).map((m) => `${m.id}→${m.real}`).join('  ')}${mapped.length > 12 ? `  … (${mapped.length})` : ''}`}</Text>
      ) : null}
    </Box>
  );
}
