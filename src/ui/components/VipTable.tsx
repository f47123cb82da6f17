// The VIP table: one line per VIP in a window that follows the selection.
import { Box, Text } from 'ink';
import { cell, fmtBps, fmtPct, fmtPps, sparkline } from '../format.js';
import type { History } from '../model/history.js';
import type { SortKey, VipRow } from '../model/table.js';
import { useTheme } from '../theme.js';

export interface VipTableProps {
  rows: VipRow[];
  selectedId: string | null;
  top: number;
  height: number;
  width: number;
  sortKey: SortKey;
  desc: boolean;
  history: History;
  filter: string;
  /** Neither the first sample nor the VIP list is in yet: "no VIPs" would not be true. */
  loading?: boolean;
}

export function columns(width: number) {
  const fixed = 2 + 8 + 11 + 7 + 6 + 5; // marker, pps, bps, share, reals, gaps
  const vip = Math.max(20, Math.min(46, Math.floor((width - fixed) * 0.65)));
  const spark = Math.max(4, Math.min(40, width - fixed - vip));
  return { vip, spark };
}

export function VipTable(p: VipTableProps) {
  const t = useTheme();
  const { vip: vw, spark } = columns(p.width);
  const arrow = (k: SortKey) => (p.sortKey === k ? (p.desc ? '▼' : '▲') : '');
  const head = `  ${cell(`VIP${arrow('vip')}`, vw)} ${cell(`PPS${arrow('pps')}`, 8, 'right')} ${cell(`BPS${arrow('bps')}`, 11, 'right')} ${cell(`SHARE${arrow('share')}`, 7, 'right')} ${cell(`REALS${arrow('reals')}`, 6, 'right')} ${cell('HISTORY', spark)}`;
  const shown = p.rows.slice(p.top, p.top + p.height);
  return (
    <Box flexDirection="column" width={p.width} height={p.height + 1}>
      <Text bold color={t.c('title')} wrap="truncate-end">{head}</Text>
      {shown.map((r) => {
        const sel = r.id === p.selectedId;
        const realsText = r.pending ? '…' : r.liveReals === r.reals ? String(r.reals) : `${r.liveReals}/${r.reals}`;
        const line = `${sel ? '>' : ' '} ${cell(r.id, vw)} ${cell(fmtPps(r.pps), 8, 'right')} ${cell(fmtBps(r.bps), 11, 'right')} ${cell(fmtPct(r.share), 7, 'right')} ${cell(realsText, 6, 'right')} `;
        return (
          <Text key={r.id} wrap="truncate-end" inverse={sel && !t.noColor} bold={sel}>
            {line}
            <Text color={r.liveReals === 0 && !r.pending ? t.c('bad') : t.c('ok')}>{sparkline(p.history.get(r.id), spark)}</Text>
          </Text>
        );
      })}
      {p.rows.length === 0 ? (
        <Text color={t.c('dim')}>{p.loading ? '  loading: reading the VIPs from the balancer…' : p.filter ? `  no VIP matches "${p.filter}" (Esc clears the filter)` : '  no VIPs yet: press a to add one'}</Text>
      ) : null}
    </Box>
  );
}
