// XDP action counters: rate and total of TOTAL / TX / PASS / DROP, coloured by threshold.
import { Text } from 'ink';
import type { PairStat, StatsSample } from '../../dataplane/types.js';
import { fmtCount, fmtPps } from '../format.js';
import { dropLevel, passLevel, type Level } from '../model/health.js';
import { useTheme } from '../theme.js';

export function Actions({ sample, prevDropRate }: { sample: StatsSample | null; prevDropRate?: number }) {
  const t = useTheme();
  const item = (name: string, p: PairStat | undefined, level: Level) => (
    <Text key={name}>
      <Text color={t.c('label')}>{name} </Text>
      <Text bold color={t.level(level)}>{p ? fmtPps(p.r1) : '-'}/s</Text>
      <Text color={t.c('dim')}> ({p ? fmtCount(p.v1) : '-'})  </Text>
    </Text>
  );
  const g = sample?.global;
  return (
    <Text wrap="truncate-end">
      <Text bold>XDP </Text>
      {item('TOTAL', g?.xdpTotal, 'ok')}
      {item('TX', g?.xdpTx, 'ok')}
      {item('PASS', g?.xdpPass, passLevel(sample))}
      {item('DROP', g?.xdpDrop, dropLevel(sample, prevDropRate))}
      {sample?.resets.length ? <Text color={t.c('warn')}>reset: {sample.resets.join(',')}</Text> : null}
    </Text>
  );
}
