// Per-CPU XDP rates: RSS imbalance shows up here.
import { Box, Text } from 'ink';
import type { StatsSample } from '../../dataplane/types.js';
import { cell, fmtPct, fmtPps } from '../format.js';
import { cpuImbalance } from '../model/health.js';
import { useTheme } from '../theme.js';

export function PerCpu({ sample, height, width }: { sample: StatsSample | null; height: number; width: number }) {
  const t = useTheme();
  const cpus = sample?.perCpu ?? [];
  const total = cpus.reduce((s, c) => s + c.total.r1, 0);
  const imb = cpuImbalance(sample);
  const barW = Math.max(4, width - 52);
  return (
    <Box flexDirection="column" width={width} height={height + 1}>
      <Text bold color={t.c('title')} wrap="truncate-end">
        {`  ${cell('CPU', 5)} ${cell('TOTAL/s', 9, 'right')} ${cell('TX/s', 9, 'right')} ${cell('DROP/s', 8, 'right')} ${cell('PASS/s', 8, 'right')} ${cell('SHARE', 6, 'right')} `}
        {imb === null ? '' : `imbalance ${imb.toFixed(2)}x`}
      </Text>
      {cpus.slice(0, height).map((c) => {
        const share = total > 0 ? c.total.r1 / total : 0;
        return (
          <Text key={c.cpu} wrap="truncate-end">
            {`  ${cell(String(c.cpu), 5)} ${cell(fmtPps(c.total.r1), 9, 'right')} ${cell(fmtPps(c.tx.r1), 9, 'right')} `}
            <Text color={c.drop.r1 > 0 ? t.c('warn') : undefined}>{cell(fmtPps(c.drop.r1), 8, 'right')}</Text>
            {` ${cell(fmtPps(c.pass.r1), 8, 'right')} ${cell(fmtPct(share, 0), 6, 'right')} `}
            <Text color={t.c('accent')}>{'█'.repeat(Math.round(share * barW))}</Text>
          </Text>
        );
      })}
      {cpus.length > height ? <Text color={t.c('dim')}>  … {cpus.length - height} more CPUs</Text> : null}
    </Box>
  );
}
