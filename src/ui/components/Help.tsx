// The `?` overlay: every key, grouped.
import { Box, Text } from 'ink';
import { cell } from '../format.js';
import { useTheme } from '../theme.js';

// Two columns at 80x24: the first column's descriptions fit 31 columns, the second's 21.
export const HELP: [string, string][] = [
  ['j/k ↑/↓', 'move'], ['PgUp/PgDn g/G', 'page, top, bottom'], ['Enter', 'VIP detail'], ['Esc', 'back / clear filter'],
  ['/', 'filter VIPs'], ['s / r', 'next sort column / reverse'], ['1-5', 'sort by vip pps bps share reals'],
  ['p', 'pause view (sampling continues)'], ['+ / -', 'longer / shorter interval'],
  ['v c h l', 'VIPs, per-CPU, healthcheck, log'], ['w', 'why: drop / pass reasons'],
  ['V', 'VLANs (a add, e edit, d del)'],
  ['a', 'add VIP (detail: real)'], ['d', 'delete VIP'], ['m', 'default gateway MAC'], ['D', 'detach the balancer'],
  ['t', 'run-time stats (cost)'], ['R', 're-attach (iface back)'],
  ['w n x', 'real: weight drain rm'], ['u', 'detail: real down/up'], ['f F', 'detail: LRU flows'],
  ['?', 'this help'], ['q Ctrl-C', 'quit (never detaches)'],
];

export function Help({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  // Two columns when one does not fit (80x24 leaves 18 lines), each as wide as its keys and texts.
  const perCol = Math.max(1, height - 1);
  const cols = HELP.length > perCol && width >= 70 ? 2 : 1;
  const n = Math.ceil(HELP.length / cols);
  const columns = Array.from({ length: cols }, (_, c) => HELP.slice(c * n, (c + 1) * n));
  const keyW = columns.map((col) => Math.max(...col.map(([k]) => k.length)) + 1);
  const textW = columns.map((col, c) => (c === cols - 1 ? Math.max(4, width - 2 - columns.slice(0, c).reduce((a, _, i) => a + 2 + keyW[i] + Math.max(...columns[i].map(([, d]) => d.length)), 0) - keyW[c]) : Math.max(...col.map(([, d]) => d.length)) + 1));
  const lines = Array.from({ length: Math.min(n, perCol) }, (_, i) => columns.map((col) => col[i]));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={!t.noColor} color={t.c('title')}>{' keys (Esc or ? closes)'.padEnd(width - 1)}</Text>
      {lines.map((row) => (
        <Text key={row[0][0]} wrap="truncate-end">
          {row.map((e, c) => (e ? <Text key={e[0]}> <Text bold>{e[0].padEnd(keyW[c])}</Text>{cell(e[1], textW[c])}</Text> : null))}
        </Text>
      ))}
    </Box>
  );
}
