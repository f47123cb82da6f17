// Globals: LRU hit ratio, misses, fallback LRU, CH drops, encap failures, healthcheck counters.
import { Text } from 'ink';
import type { StatsSample } from '../../dataplane/types.js';
import { fmtPct, fmtPps } from '../format.js';
import { lruHitRatio } from '../model/health.js';
import { useTheme } from '../theme.js';

export function Globals({ sample }: { sample: StatsSample | null }) {
  const t = useTheme();
  if (!sample) return <Text color={t.c('dim')}>waiting for the first sample…</Text>;
  const g = sample.global;
  const hit = lruHitRatio(g.lru);
  const ch = g.chDrop.r1 + g.chDrop.r2;
  const encap = g.encapFail.r1 + g.encapFail.r2;
  const hc = sample.healthcheck;
  return (
    <Text wrap="truncate-end">
      <Text color={t.c('label')}>LRU hit </Text><Text>{hit === null ? '-' : fmtPct(hit)}</Text>
      <Text color={t.c('label')}>  miss </Text><Text>{fmtPps(g.lru.r2)}/s</Text>
      <Text color={t.c('label')}>  fallback </Text><Text color={g.fallbackLru.r1 > 0 ? t.c('bad') : undefined}>{fmtPps(g.fallbackLru.r1)}/s</Text>
      <Text color={t.c('label')}>  CH drop </Text><Text color={ch > 0 ? t.c('bad') : undefined}>{fmtPps(ch)}/s</Text>
      <Text color={t.c('label')}>  encap fail </Text><Text color={encap > 0 ? t.c('bad') : undefined}>{fmtPps(encap)}/s</Text>
      {hc ? <><Text color={t.c('label')}>  HC </Text><Text>{hc.processed}/{hc.dropped}</Text></> : null}
    </Text>
  );
}
