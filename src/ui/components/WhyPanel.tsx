// The why panel (w): every drop and pass reason with rate and total, the moving ones on top with
// their advice line (a moving drop in red), for tagged frames passed the VLANs not parsed; the
// quiet ones dimmed, the zeros folded into one line when the panel runs out of lines.
import { Box, Text } from 'ink';
import type { StatsSample } from '../../dataplane/types.js';
import { cell, fmtCount, fmtPps } from '../format.js';
import { reasonRows, unparsedVlans, vlanAdvice, type ReasonRow } from '../model/reasons.js';
import { useTheme } from '../theme.js';

const LABEL_W = 29;
/** Columns before the inline advice of a quiet row: "  DROP label rate total  ". */
const ADVICE_AT = 2 + 4 + 1 + LABEL_W + 1 + 9 + 1 + 9 + 2;

type Line =
  | { kind: 'row'; row: ReasonRow; advice: boolean }
  | { kind: 'advice'; row: ReasonRow; text: string }
  | { kind: 'fold'; rows: ReasonRow[] };

/** Lays the rows into `height` lines: a moving row takes 2 (+ its VLANs), the others 1, the rest folds. */
export function layout(rows: ReasonRow[], vlanLines: string[], height: number): Line[] {
  const out: Line[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const left = height - out.length - (i < rows.length - 1 ? 1 : 0); // keep a line to fold the rest into
    if (left < 1 || (!r.moving && r.packets === 0 && rows.length - i > height - out.length)) {
      out.push({ kind: 'fold', rows: rows.slice(i) });
      return out;
    }
    const extra = r.moving ? [r.advice, ...(r.reason === 'vlan_unparsed' ? vlanLines : [])] : [];
    out.push({ kind: 'row', row: r, advice: !r.moving });
    for (const text of extra.slice(0, left - 1)) out.push({ kind: 'advice', row: r, text });
  }
  return out;
}

export function WhyPanel({ sample, height, width }: { sample: StatsSample | null; height: number; width: number }) {
  const t = useTheme();
  const head = `  ${cell('WHY', 4)} ${cell('reason', LABEL_W)} ${cell('RATE/s', 9, 'right')} ${cell('TOTAL', 9, 'right')}  what to check`;
  let body: React.ReactNode;
  if (!sample) body = <Text color={t.c('dim')}>  waiting for the first sample…</Text>;
  else if (!sample.reasons) body = <Text color={t.c('warn')} wrap="truncate-end">  reasons: not available for this program (it has no kt_reasons map: upstream Katran?); DROP and PASS are totals only</Text>;
  else {
    const vlans = unparsedVlans(sample).map(vlanAdvice);
    body = layout(reasonRows(sample.reasons), vlans, height).map((l, i) => {
      if (l.kind === 'fold') {
        const zero = l.rows.every((r) => r.packets === 0);
        return <Text key="fold" color={t.c('dim')} wrap="truncate-end">{`  … ${l.rows.length} more${zero ? ' at 0' : ''}: ${l.rows.map((r) => r.reason).join(' ')}`}</Text>;
      }
      if (l.kind === 'advice') return <Text key={`${l.row.reason}-${i}`} color={t.c('dim')} wrap="truncate-end">{`         ${l.text}`}</Text>;
      const r = l.row;
      const red = r.moving && r.kind === 'drop';
      const line = `  ${cell(r.kind.toUpperCase(), 4)} ${cell(r.label, LABEL_W)} ${cell(fmtPps(r.pps), 9, 'right')} ${cell(fmtCount(r.packets), 9, 'right')}`;
      return (
        <Text key={r.reason} wrap="truncate-end" bold={r.moving} color={red ? t.c('bad') : r.moving ? undefined : t.c('dim')}>
          {line}{l.advice && width > ADVICE_AT + 10 ? `  ${r.advice}` : ''}
        </Text>
      );
    });
  }
  return (
    <Box flexDirection="column" width={width} height={height + 1}>
      <Text bold color={t.c('title')} wrap="truncate-end">{head}</Text>
      {body}
    </Box>
  );
}
