// Per-CPU XDP rates: RSS imbalance shows up here.
import { Box, Text } from 'ink';
import type { StatsSample } from '../../dataplane/types.js';
import { cell, fmtPct, fmtPps } from '../format.js';
import { cpuImbalance } from '../model/health.js';
import { useTheme } from '../theme.js';
import { shareLevel } from './Header.js';

export function PerCpu({ sample, height, width }: { sample: StatsSample | null; height: number; width: number }) {
  const t = useTheme();
  const cpus = sample?.perCpu ?? [];
  const total = cpus.reduce((s, c) => s + c.total.r1, 0);
  const imb = cpuImbalance(sample);
  // While run-time statistics are on: each CPU's estimated core share (its pps × the average ns per packet).
  const core = sample?.runTime ? new Map(sample.runTime.perCpuShare.map((c) => [c.cpu, c.share])) : null;
  const barW = Math.max(4, width - 52 - (core ? 7 : 0));
  return (
    <Box flexDirection="column" width={width} height={height + 1}>
      <Text bold color={t.c('title')} wrap="truncate-end">
        {`  ${cell('CPU', 5)} ${cell('TOTAL/s', 9, 'right')} ${cell('TX/s', 9, 'right')} ${cell('DROP/s', 8, 'right')} ${cell('PASS/s', 8, 'right')} ${cell('SHARE', 6, 'right')} `}
        {sample?.runTime ? `${cell('CORE~', 6, 'right')} ` : ''}{imb === null ? '' : `imbalance ${imb.toFixed(2)}x`}
      </Text>
      {cpus.slice(0, height).map((c) => {
        const share = total > 0 ? c.total.r1 / total : 0;
        return (
          <Text key={c.cpu} wrap="truncate-end">
            {`  ${cell(String(c.cpu), 5)} ${cell(fmtPps(c.total.r1), 9, 'right')} ${cell(fmtPps(c.tx.r1), 9, 'right')} `}
            <Text color={c.drop.r1 > 0 ? t.c('warn') : undefined}>{cell(fmtPps(c.drop.r1), 8, 'right')}</Text>
            {` ${cell(fmtPps(c.pass.r1), 8, 'right')} ${cell(fmtPct(share, 0), 6, 'right')} `}
            {core ? <Text color={t.level(shareLevel(core.get(c.cpu) ?? 0))}>{`${cell(fmtPct(core.get(c.cpu) ?? 0, 0), 6, 'right')} `}</Text> : null}
            <Text color={t.c('accent')}>{'█'.repeat(Math.round(share * barW))}</Text>
          </Text>
        );
      })}
      {core ? <Text color={t.c('dim')} wrap="truncate-end">  CORE~: estimated share of a core (pps × {sample!.runTime!.nsPerPacket.toFixed(0)} ns/packet; the kernel gives no per-CPU split)</Text> : null}
      {cpus.length > height ? <Text color={t.c('dim')}>  … {cpus.length - height} more CPUs</Text> : null}
    </Box>
  );
}
