// The `?` overlay: every key, grouped.
import { Box, Text } from 'ink';
import { useTheme } from '../theme.js';

export const HELP: [string, string][] = [
  ['j/k ↑/↓', 'move'], ['PgUp/PgDn g/G', 'page, top, bottom'], ['Enter', 'VIP detail'], ['Esc', 'back / clear filter'],
  ['/', 'filter VIPs'], ['s / r', 'next sort column / reverse'], ['1-5', 'sort by vip pps bps share reals'],
  ['p', 'pause view (sampling continues)'], ['+ / -', 'longer / shorter interval'],
  ['v c h l', 'VIPs, per-CPU, healthcheck, log'],
  ['a', 'add VIP (detail: add real)'], ['d', 'delete VIP'], ['m', 'default gateway MAC'], ['D', 'detach the balancer'],
  ['w / n / x', 'detail: weight, drain, remove real'], ['?', 'this help'], ['q Ctrl-C', 'quit (never detaches)'],
];

export function Help({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const rows = HELP.slice(0, Math.max(1, height - 2));
  return (
    <Box flexDirection="column" width={width} height={height} borderStyle="round" borderColor={t.c('accent')}>
      <Text bold color={t.c('title')}> keys (Esc or ? closes)</Text>
      {rows.map(([k, d]) => <Text key={k} wrap="truncate-end"> <Text bold>{k.padEnd(15)}</Text>{d}</Text>)}
    </Box>
  );
}
