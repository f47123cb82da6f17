// Colours, switched off as a whole by NO_COLOR / --no-color. Components ask `useTheme()` for a
// colour by role; with colours off every role is undefined (Ink then prints plain text).
import { createContext, useContext } from 'react';
import type { Level } from './model/health.js';

export type Role = 'title' | 'label' | 'dim' | 'ok' | 'warn' | 'bad' | 'accent' | 'badge' | 'select';

const COLORS: Record<Role, string> = {
  title: 'cyan', label: 'gray', dim: 'gray', ok: 'green', warn: 'yellow', bad: 'red', accent: 'cyan', badge: 'magenta', select: 'blue',
};

export interface Theme {
  noColor: boolean;
  c(role: Role): string | undefined;
  level(l: Level): string | undefined;
}

export function makeTheme(noColor: boolean): Theme {
  return {
    noColor,
    c: (role) => (noColor ? undefined : COLORS[role]),
    level: (l) => (noColor ? undefined : l === 'bad' ? COLORS.bad : l === 'warn' ? COLORS.warn : l === 'ok' ? COLORS.ok : COLORS.dim),
  };
}

/** NO_COLOR (any non-empty value, https://no-color.org) or an explicit flag. */
export function colorsOff(flag?: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return flag === true || (env.NO_COLOR !== undefined && env.NO_COLOR !== '');
}

export const ThemeContext = createContext<Theme>(makeTheme(false));
export const useTheme = (): Theme => useContext(ThemeContext);
