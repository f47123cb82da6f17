// Keys, one at a time. Ink hands a handler whole chunks ("192.0.2.98\t81" from a paste or a laggy
// SSH link arrives as ONE input, its Tab lost among the text) and calls every handler for each
// escape-separated piece in one go, so a second key reads the state captured at the last render,
// not the state the first key left. Here every chunk is split into single keys, queued, and one
// key is handed to the active handlers per commit: each key acts on what the previous one left,
// in every screen and form. A screen waiting for an answer it needs for the next key (a form's dry
// run) holds the queue; the keys typed meanwhile are handled, in order, once the answer is in.
import { useInput, type Key } from 'ink';
import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

export type KeyHandler = (input: string, key: Key) => void;

interface Registration { handler: KeyHandler; active: boolean }

class KeyQueue {
  readonly regs: Registration[] = [];
  readonly keys: [string, Key][] = [];
  holds = 0;
  kick: () => void = () => { /* set by the provider */ };
}

const KeysContext = createContext<KeyQueue | null>(null);

const NO_KEY: Key = {
  upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false,
  return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false,
  super: false, hyper: false, capsLock: false, numLock: false,
};

/** One key of a plain (escape-free) chunk, as Ink would have reported it typed alone. */
function keyOf(ch: string): [string, Key] {
  if (ch === '\r' || ch === '\n') return ['', { ...NO_KEY, return: true }];
  if (ch === '\t') return ['', { ...NO_KEY, tab: true }];
  if (ch === '\x7f' || ch === '\b') return ['', { ...NO_KEY, backspace: true }];
  const c = ch.codePointAt(0) ?? 0;
  if (c >= 1 && c <= 26) return [String.fromCharCode(c + 96), { ...NO_KEY, ctrl: true }];
  return [ch, { ...NO_KEY, shift: /^[A-Z]$/.test(ch) }];
}

/** Ink's input split into single keys: escape sequences come alone already; text is split by code point. */
export function splitKeys(input: string, key: Key): [string, Key][] {
  const chars = [...input];
  if (chars.length <= 1 || key.escape || key.meta || key.ctrl) return [[input, key]];
  return chars.map(keyOf);
}

/** Wraps the console: every useKeys below it gets one key per commit. */
export function KeysProvider({ children }: { children: ReactNode }) {
  const q = useRef(new KeyQueue()).current;
  const [, setTurn] = useState(0);
  q.kick = () => setTurn((n) => n + 1);
  useInput((input, key) => {
    q.keys.push(...splitKeys(input, key));
    q.kick();
  });
  useEffect(() => {
    if (q.holds > 0 || q.keys.length === 0) return;
    const [input, key] = q.keys.shift()!;
    for (const r of [...q.regs]) if (r.active) r.handler(input, key);
    if (q.keys.length) q.kick(); // the next key after this one's commit
  });
  return <KeysContext.Provider value={q}>{children}</KeysContext.Provider>;
}

/** useInput, one key at a time (see above). */
export function useKeys(handler: KeyHandler, o: { isActive?: boolean } = {}): void {
  const q = useContext(KeysContext);
  if (!q) throw new Error('useKeys: no KeysProvider above this component');
  const reg = useRef<Registration>({ handler, active: o.isActive !== false });
  useLayoutEffect(() => {
    reg.current.handler = handler;
    reg.current.active = o.isActive !== false;
  });
  useLayoutEffect(() => {
    const r = reg.current;
    q.regs.push(r);
    return () => { const i = q.regs.indexOf(r); if (i >= 0) q.regs.splice(i, 1); };
  }, [q]);
}

/** While `on`, keys wait in the queue (in order) instead of reaching a screen that is not ready. */
export function useKeyHold(on: boolean): void {
  const q = useContext(KeysContext);
  useLayoutEffect(() => {
    if (!q || !on) return undefined;
    q.holds++;
    return () => { q.holds--; q.kick(); };
  }, [q, on]);
}
