// The terminal's size, following resizes (explicit sizes win: tests and the bench pass them).
import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

export function useTerminalSize(width?: number, height?: number): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const get = () => ({ columns: width ?? (stdout.columns || 80), rows: height ?? (stdout.rows || 24) });
  const [size, setSize] = useState(get);
  useEffect(() => {
    setSize(get());
    const on = () => setSize(get());
    stdout.on('resize', on);
    return () => { stdout.off('resize', on); };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stdout, width, height]);
  return size;
}
