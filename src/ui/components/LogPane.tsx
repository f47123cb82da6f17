// The log pane: errors, libbpf messages and the change log, newest last.
import { Box, Text } from 'ink';
import { fmtClock } from '../format.js';
import type { LogEntry } from '../hooks/useBalancer.js';
import { useTheme } from '../theme.js';

export function LogPane({ log, height, width }: { log: LogEntry[]; height: number; width: number }) {
  const t = useTheme();
  const shown = log.slice(-height);
  return (
    <Box flexDirection="column" width={width} height={height}>
      {shown.map((e, i) => (
        <Text key={`${e.at}-${i}`} wrap="truncate-end" color={e.level === 'error' ? t.c('bad') : e.level === 'warn' ? t.c('warn') : undefined}>
          <Text color={t.c('dim')}>{fmtClock(e.at)} </Text>
          {e.level === 'error' ? 'ERROR ' : e.level === 'warn' ? 'WARN ' : ''}{e.text}
        </Text>
      ))}
    </Box>
  );
}
