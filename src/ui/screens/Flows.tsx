// The LRU view: the flows of a VIP (of one real) held in the per-CPU LRUs and the fallback LRU,
// read slice by slice off this thread (progress shown), with a count per real and how it moved
// since the read before. Keys: j/k scroll, d purge these flows (asks y/N with the count), r read
// again, Esc back.
import { Box, Text } from 'ink';
import { useMemo, useState } from 'react';
import type { AsyncDataplane } from '../../dataplane/async.js';
import type { FlowQuery, VipState } from '../../dataplane/types.js';
import { cell, fmtCount } from '../format.js';
import { useFlows } from '../hooks/useFlows.js';
import { useKeys } from '../keys.js';
import { useTheme } from '../theme.js';

export interface FlowsProps {
  dp: AsyncDataplane;
  vip: VipState;
  /** Only this real's flows; null: every real of the VIP. */
  real: string | null;
  /** Moves with every sample: the view reads again when its last read is done. */
  tick: number;
  width: number;
  height: number;
  active: boolean;
  onBack(): void;
  onPurge(): void;
}

/** "12 (-3)": a count and its change since the read before. */
export function countWithTrend(now: number, before: number | undefined): string {
  if (before === undefined || before === now) return fmtCount(now);
  return `${fmtCount(now)} (${now < before ? '↓' : '↑'}${fmtCount(Math.abs(now - before))})`;
}

export function Flows(p: FlowsProps) {
  const t = useTheme();
  const q = useMemo<FlowQuery>(() => ({ vip: p.vip.key, ...(p.real ? { real: p.real } : {}) }), [p.vip.id, p.real]); // eslint-disable-line react-hooks/exhaustive-deps
  const f = useFlows(p.dp, q, p.tick);
  const [top, setTop] = useState(0);
  const rows = f.list?.flows ?? [];
  const listH = Math.max(1, p.height - 5);
  useKeys((input, key) => {
    if (key.escape) { p.onBack(); return; }
    if (input === 'j' || key.downArrow) setTop((x) => Math.min(Math.max(0, rows.length - listH), x + 1));
    else if (input === 'k' || key.upArrow) setTop((x) => Math.max(0, x - 1));
    else if (key.pageDown) setTop((x) => Math.min(Math.max(0, rows.length - listH), x + listH));
    else if (key.pageUp) setTop((x) => Math.max(0, x - listH));
    else if (input === 'r') f.reload();
    else if (input === 'd') p.onPurge();
  }, { isActive: p.active });

  const what = `${p.vip.id}${p.real ? ` on ${p.real}` : ''}`;
  const per = f.list?.perReal ?? [];
  const addrW = Math.max(16, Math.min(40, Math.floor((p.width - 24) / 2)));
  return (
    <Box flexDirection="column" width={p.width} height={p.height}>
      <Text wrap="truncate-end">
        <Text bold color={t.c('title')}>LRU flows of {what}</Text>
        <Text> · {f.list ? `${fmtCount(f.list.matched)} held` : 'reading…'}{f.list?.truncated ? ` (first ${fmtCount(rows.length)} listed)` : ''}</Text>
      </Text>
      <Text wrap="truncate-end" color={t.c('dim')}>
        {per.length ? `per real: ${per.map((r) => `${r.real} ${countWithTrend(r.flows, f.before?.get(r.real) ?? (f.before ? 0 : undefined))}`).join('  ')}` : f.list ? `no flows held${p.real ? ` on ${p.real}` : ''} for this VIP` : ' '}
      </Text>
      <Text wrap="truncate-end" color={f.error ? t.c('bad') : t.c('dim')}>
        {f.error ? `read failed: ${f.error}` : f.progress ? `reading the LRUs… ${fmtCount(f.progress.read)} of at most ${fmtCount(f.progress.capacity)} entries` : ' '}
      </Text>
      <Text bold color={t.c('title')} wrap="truncate-end">{`  ${cell('CLIENT', addrW)} ${cell('REAL', addrW)} ${cell('CPU', 8, 'right')} ${cell('AGE', 8, 'right')}`}</Text>
      {rows.slice(top, top + listH).map((e, i) => (
        <Text key={top + i} wrap="truncate-end">
          {`  ${cell(e.client, addrW)} ${cell(e.real ?? `(index ${e.realIndex})`, addrW)} ${cell(e.cpu === null ? 'fallback' : String(e.cpu), 8, 'right')} ${cell(e.ageMs === null ? '-' : `${(e.ageMs / 1000).toFixed(1)}s`, 8, 'right')}`}
        </Text>
      ))}
    </Box>
  );
}
