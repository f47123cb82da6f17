// The `?` overlay: every key, grouped.
import { Box, Text } from 'ink';
import { useTheme } from '../theme.js';

export const HELP: [string, string][] = [
  ['j/k ↑/↓', 'move'], ['PgUp/PgDn g/G', 'page, top, bottom'], ['Enter', 'VIP detail'], ['Esc', 'back / clear filter'],
  ['/', 'filter VIPs'], ['s / r', 'next sort column / reverse'], ['1-5', 'sort by vip pps bps share reals'],
  ['p', 'pause view (sampling continues)'], ['+ / -', 'longer / shorter interval'],
  ['v c h l', 'VIPs, per-CPU, healthcheck, log'], ['V', 'VLANs: a add, e/Enter change, d delete'],
  ['a', 'add VIP (detail: add real)'], ['d', 'delete VIP'], ['m', 'default gateway MAC'], ['D', 'detach the balancer'],
  ['R', 're-attach after the interface came back'],
  ['w / n / x', 'detail: weight, drain, remove real'], ['u', 'detail: real down / up (udp-flow-migration)'], ['?', 'this help'], ['q Ctrl-C', 'quit (never detaches)'],
  ['a', 'add VIP (detail: add real)'], ['d', 'delete VIP'], ['m', 'default gateway MAC'], ['D', 'detach the balancer'], ['t', 'run-time stats on/off (cost!)'],
  ['R', 're-attach after the interface came back'], ['w n x f F', 'detail: weight drain remove, LRU flows'], ['?', 'this help'], ['q Ctrl-C', 'quit (never detaches)'],
];

export function Help({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  // Two columns when one does not fit (80x24 leaves 18 lines).
  const perCol = Math.max(1, height - 1);
  const cols = HELP.length > perCol && width >= 70 ? 2 : 1;
  const n = Math.ceil(HELP.length / cols);
  const colW = Math.floor(width / cols);
  const lines = Array.from({ length: Math.min(n, perCol) }, (_, i) => Array.from({ length: cols }, (_, c) => HELP[c * n + i]).filter(Boolean));
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Text bold inverse={!t.noColor} color={t.c('title')}>{' keys (Esc or ? closes)'.padEnd(width - 1)}</Text>
      {lines.map((row) => (
        <Text key={row[0][0]} wrap="truncate-end">
          {row.map(([k, d]) => <Text key={k}> <Text bold>{k.padEnd(15)}</Text>{d.padEnd(colW - 17)}</Text>)}
        </Text>
      ))}
    </Box>
  );
}
