// Globals: LRU hit ratio, misses, fallback LRU, CH drops, encap failures, healthcheck counters.
import { Text } from 'ink';
import type { StatsSample } from '../../dataplane/types.js';
import { fmtPct, fmtPps } from '../format.js';
import { lruHitRatio } from '../model/health.js';
import { useTheme } from '../theme.js';

/** `quic`: a QUIC VIP exists, so quic_stats_map's counters are shown as rates. */
export function Globals({ sample, quic = false }: { sample: StatsSample | null; quic?: boolean }) {
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
      {quic && sample.quic ? <QuicRates q={sample.quic} /> : null}
    </Text>
  );
}

/** QUIC routing outcomes per second (quic_stats_map); the invalid-id sample is a last value, shown as is. */
function QuicRates({ q }: { q: NonNullable<StatsSample['quic']> }) {
  const t = useTheme();
  const r = q.rates;
  const last = q.invalidIdSamples.length ? q.invalidIdSamples[q.invalidIdSamples.length - 1].id : null;
  return (
    <>
      <Text color={t.c('label')}>  QUIC by id </Text><Text>{fmtPps(r.cidRouted)}/s</Text>
      <Text color={t.c('label')}> by hash </Text><Text>{fmtPps(r.chRouted)}/s</Text>
      <Text color={t.c('label')}> initial </Text><Text>{fmtPps(r.cidInitial)}/s</Text>
      <Text color={t.c('label')}> invalid id </Text><Text color={r.cidInvalidServerId > 0 ? t.c('warn') : undefined}>{fmtPps(r.cidInvalidServerId)}/s{last !== null ? ` (last ${last})` : ''}</Text>
      <Text color={t.c('label')}> unknown real </Text><Text color={r.cidUnknownRealDropped > 0 ? t.c('bad') : undefined}>{fmtPps(r.cidUnknownRealDropped)}/s</Text>
      <Text color={t.c('label')}> LRU match/mismatch/new </Text><Text>{fmtPps(r.dstMatchInLru)}/{fmtPps(r.dstMismatchInLru)}/{fmtPps(r.dstNotFoundInLru)}</Text>
    </>
  );
}
