// The one-line footer: a message (refusal, result) when there is one, else the keys.
import { Text } from 'ink';
import { cell } from '../format.js';
import { useTheme } from '../theme.js';

export function Footer({ keys, message, width }: { keys: string; message?: { text: string; level: 'info' | 'error' } | null; width: number }) {
  const t = useTheme();
  if (message) return <Text wrap="truncate-end" bold color={message.level === 'error' ? t.c('bad') : t.c('ok')}>{cell(message.text, width - 1)}</Text>;
  return <Text wrap="truncate-end" inverse={!t.noColor}>{cell(keys, width - 1)}</Text>;
}
