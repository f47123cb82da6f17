// Healthcheck: the tc program, its counters, and marks -> reals.
import { Box, Text } from 'ink';
import type { HealthcheckState, StatsSample } from '../../dataplane/types.js';
import { cell } from '../format.js';
import { useTheme } from '../theme.js';

export function HealthPanel({ hc, sample, height, width }: { hc: HealthcheckState | null; sample: StatsSample | null; height: number; width: number }) {
  const t = useTheme();
  if (!hc) return <Box height={height + 1}><Text color={t.c('dim')}>  no healthchecker attached (attach with a healthcheck interface to get one)</Text></Box>;
  const c = sample?.healthcheck;
  return (
    <Box flexDirection="column" width={width} height={height + 1}>
      <Text bold color={t.c('title')} wrap="truncate-end">
        {`  healthcheck on ${hc.intf} prog ${hc.progId}: processed ${c?.processed ?? '-'} dropped ${c?.dropped ?? '-'} skipped ${c?.skipped ?? '-'} too-big ${c?.tooBig ?? '-'}`}
      </Text>
      <Text color={t.c('label')}>{`  ${cell('MARK', 10)} REAL`}</Text>
      {hc.marks.slice(0, height - 1).map((m) => <Text key={m.mark} wrap="truncate-end">{`  ${cell(String(m.mark), 10)} ${m.real}`}</Text>)}
      {hc.marks.length === 0 ? <Text color={t.c('dim')}>  no marks configured</Text> : null}
      {hc.marks.length > height - 1 ? <Text color={t.c('dim')}>  … {hc.marks.length - height + 1} more</Text> : null}
    </Box>
  );
}
