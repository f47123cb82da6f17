// The console's root: theme, size, Ctrl-C, and the switch between the start screen and the
// dashboard. Quitting never detaches: it closes the dataplane handle (fds, lock) and exits. Keys go
// through KeysProvider (one at a time, see keys.tsx); Ctrl-C is read directly, never queued.
import { useApp, useInput } from 'ink';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AsyncDataplane, AsyncHost } from '../dataplane/async.js';
import { useTerminalSize } from './hooks/useTerminalSize.js';
import { Dashboard } from './screens/Dashboard.js';
import { Start } from './screens/Start.js';
import { KeysProvider } from './keys.js';
import { makeTheme, ThemeContext } from './theme.js';

export interface AppProps {
  /** The dataplane's thread (worker/client.ts), or an in-process one over a fake (tests). */
  host: AsyncHost;
  intf?: string;
  readOnly?: boolean;
  intervalMs?: number;
  noColor?: boolean;
  /** Skip the start screen with an already opened dataplane. */
  dataplane?: AsyncDataplane;
  /** Fixed size (tests, bench); otherwise the terminal's, following resizes. */
  width?: number;
  height?: number;
  now?: () => number;
  onQuit?: () => void;
  /** The dataplane in use (null when none), so the caller can close it on a crash. */
  onDataplane?: (dp: AsyncDataplane | null) => void;
}

export function App(p: AppProps) {
  const { exit } = useApp();
  const size = useTerminalSize(p.width, p.height);
  const theme = useMemo(() => makeTheme(!!p.noColor), [p.noColor]);
  const [dp, setDp] = useState<AsyncDataplane | null>(p.dataplane ?? null);
  const now = p.now ?? Date.now;

  useEffect(() => { p.onDataplane?.(dp); /* eslint-disable-next-line react-hooks/exhaustive-deps */ }, [dp]);

  const quit = useCallback(() => {
    p.onQuit?.();
    exit();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [exit]);

  useInput((input, key) => { if (key.ctrl && input === 'c') quit(); });

  const detached = useCallback(() => {
    dp?.close().catch(() => { /* closing is best effort */ });
    setDp(null);
  }, [dp]);

  return (
    <ThemeContext.Provider value={theme}>
      <KeysProvider>
        {dp
          ? <Dashboard dp={dp} width={size.columns} height={size.rows} intervalMs={p.intervalMs} now={now} onQuit={quit} onDetached={detached} />
          : <Start host={p.host} intf={p.intf} readOnly={p.readOnly} width={size.columns} height={size.rows} onOpen={setDp} onQuit={quit} />}
      </KeysProvider>
    </ThemeContext.Provider>
  );
}
