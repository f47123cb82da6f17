// A form: fields validated as you type, then a dry run that shows what will change, then y/N.
// Nothing is written before `y`. The dry run is a round trip to the dataplane's thread: keys typed
// meanwhile wait (in order) for its answer, so Enter y in one burst confirms what Enter showed.
// After `y` either the caller takes the change (onConfirm: it applies it while the console goes
// on) or the form applies it, showing "applying…", and keeps a failure's error.
import { Box, Text } from 'ink';
import { useKeyHold, useKeys } from '../keys.js';
import { useEffect, useMemo, useState } from 'react';
import type { ChangeResult } from '../../dataplane/types.js';
import { fmtPct } from '../format.js';
import { runOp, type Op, type Outcome } from '../hooks/useBalancer.js';
import { useTheme } from '../theme.js';
import type { Validator } from './validate.js';

export interface Field {
  name: string;
  label: string;
  /** text: typed; choice: ←/→ or space cycles. */
  kind?: 'text' | 'choice';
  choices?: string[];
  initial?: string;
  hint?: string;
  validate?: Validator;
}

export interface FormSpec {
  title: string;
  fields: Field[];
  /** Builds the change from the values (may throw an InputError). */
  build(values: Record<string, string>): Op;
  /** Shown under the title (context: the VIP, the real). */
  note?: string;
}

export interface FormProps {
  spec: FormSpec;
  width: number;
  /** After y: the caller applies the change (and reports it); the form is done. */
  onConfirm?: (op: Op) => void;
  /** Without onConfirm: runs the change for real in the form (the caller logs and refreshes); defaults to running the op. */
  apply?: (op: Op) => Promise<Outcome>;
  onDone(result: ChangeResult): void;
  onCancel(reason: 'esc' | 'no'): void;
}

type Phase = { kind: 'edit' } | { kind: 'checking' } | { kind: 'confirm'; op: Op; result: ChangeResult } | { kind: 'applying'; label: string };

export function Form({ spec, width, apply, onConfirm, onDone, onCancel }: FormProps) {
  const t = useTheme();
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(spec.fields.map((f) => [f.name, f.initial ?? (f.kind === 'choice' ? f.choices?.[0] ?? '' : '')])));
  const [focus, setFocus] = useState(0);
  const [submitted, setSubmitted] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [phase, setPhase] = useState<Phase>(spec.fields.length === 0 ? { kind: 'checking' } : { kind: 'edit' });
  useKeyHold(phase.kind === 'checking' || phase.kind === 'applying');

  const review = (vals: Record<string, string>) => {
    setPhase({ kind: 'checking' });
    void preview(spec, vals).then((p) => { setError(p.error); setPhase(p.phase); });
  };
  // A form without fields (delete, drain...) shows its dry run at once.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => { if (spec.fields.length === 0) review({}); }, []);

  const errors = useMemo(() => Object.fromEntries(spec.fields.map((f) => [f.name, f.validate ? f.validate(values[f.name] ?? '') : null])), [spec, values]);
  const firstInvalid = spec.fields.findIndex((f) => errors[f.name]);

  const submit = () => {
    setSubmitted(true);
    if (firstInvalid >= 0) { setFocus(firstInvalid); return; }
    review(values);
  };

  useKeys((input, key) => {
    if (phase.kind === 'checking' || phase.kind === 'applying') return;
    if (phase.kind === 'confirm') {
      if (input === 'y' || input === 'Y') {
        const op = phase.op;
        if (onConfirm) { onConfirm(op); return; }
        setPhase({ kind: 'applying', label: op.label });
        void (apply ? apply(op) : runOp(op, false)).then((r) => {
          if (r.ok) { onDone(r.result); return; }
          setError(r.message); setPhase({ kind: 'edit' }); if (spec.fields.length === 0) onCancel('no');
        });
      } else if (input === 'n' || input === 'N' || key.return) {
        onCancel('no');
      } else if (key.escape) {
        if (spec.fields.length === 0) onCancel('esc');
        else setPhase({ kind: 'edit' });
      }
      return;
    }
    if (key.escape) { onCancel('esc'); return; }
    if (spec.fields.length === 0) { if (key.return) submit(); return; }
    const f = spec.fields[focus];
    if (key.return) { submit(); return; }
    if (key.tab && key.shift) { setFocus((i) => (i + spec.fields.length - 1) % spec.fields.length); return; }
    if (key.tab || key.downArrow) { setFocus((i) => (i + 1) % spec.fields.length); return; }
    if (key.upArrow) { setFocus((i) => (i + spec.fields.length - 1) % spec.fields.length); return; }
    const set = (v: string) => { setValues((vs) => ({ ...vs, [f.name]: v })); setError(null); };
    if (f.kind === 'choice') {
      const cs = f.choices ?? [];
      const i = cs.indexOf(values[f.name]);
      if (key.rightArrow || input === ' ') set(cs[(i + 1) % cs.length]);
      else if (key.leftArrow) set(cs[(i + cs.length - 1) % cs.length]);
      else if (input && cs.some((c) => c.startsWith(input))) set(cs.find((c) => c.startsWith(input)) ?? cs[0]);
      return;
    }
    if (key.backspace || key.delete) { set((values[f.name] ?? '').slice(0, -1)); return; }
    if (key.ctrl && input === 'u') { set(''); return; }
    if (key.ctrl || key.meta) return;
    // eslint-disable-next-line no-control-regex
    const text = input.replace(/[\x00-\x1f\x7f]/g, '');
    if (text) set((values[f.name] ?? '') + text);
  });

  const labelW = Math.max(...spec.fields.map((f) => f.label.length), 6) + 1;
  return (
    <Box flexDirection="column" width={width} borderStyle="round" borderColor={t.c('accent')} paddingX={1}>
      <Text bold color={t.c('title')} wrap="truncate-end">{spec.title}</Text>
      {spec.note ? <Text color={t.c('dim')} wrap="truncate-end">{spec.note}</Text> : null}
      {spec.fields.map((f, i) => {
        const v = values[f.name] ?? '';
        const err = errors[f.name];
        const showErr = err && (v !== '' || submitted);
        const focused = phase.kind === 'edit' && i === focus;
        return (
          <Box key={f.name} flexDirection="column">
            <Text wrap="truncate-end">
              <Text color={focused ? t.c('accent') : t.c('label')}>{focused ? '›' : ' '} {f.label.padEnd(labelW)}</Text>
              {f.kind === 'choice'
                ? <Text>{(f.choices ?? []).map((c) => (c === v ? `[${c}]` : ` ${c} `)).join(' ')}</Text>
                : <Text underline={focused && !t.noColor}>{v}{focused ? '_' : ''}</Text>}
              {!showErr && v === '' && f.hint ? <Text color={t.c('dim')}>  {f.hint}</Text> : null}
              {!err && v !== '' && f.kind !== 'choice' ? <Text color={t.c('ok')}> ✓</Text> : null}
            </Text>
            {showErr ? <Text color={t.c('bad')} wrap="wrap">    {err}</Text> : null}
          </Box>
        );
      })}
      {error ? <Text color={t.c('bad')} wrap="wrap">error: {error}</Text> : null}
      {phase.kind === 'checking' ? <Text color={t.c('dim')}>checking the change…</Text>
        : phase.kind === 'applying' ? <Text bold color={t.c('accent')}>applying {phase.label}…</Text>
        : phase.kind === 'confirm' ? <Confirm result={phase.result} /> : (
        <Text color={t.c('dim')} wrap="truncate-end">{spec.fields.length ? 'Enter: review the change · Tab/↑↓: field · Esc: back' : 'Esc: back'}</Text>
      )}
    </Box>
  );
}

/** Builds the change and dry-runs it: the confirmation to show, or the error for the form. */
async function preview(spec: FormSpec, vals: Record<string, string>): Promise<{ phase: Phase; error: string | null }> {
  let op: Op;
  try { op = spec.build(vals); } catch (e) { return { phase: { kind: 'edit' }, error: (e as Error).message }; }
  const r = await runOp(op, true);
  if (!r.ok) return { phase: { kind: 'edit' }, error: r.message };
  return { phase: { kind: 'confirm', op, result: r.result }, error: null };
}

function Confirm({ result }: { result: ChangeResult }) {
  const t = useTheme();
  return (
    <Box flexDirection="column">
      <Text bold>This will:</Text>
      {result.summary.map((s, i) => <Text key={`s${i}`} wrap="wrap">  • {s}</Text>)}
      {result.movedShare !== undefined ? <Text wrap="wrap">  • ring slots that move to another real: <Text bold color={result.movedShare > 0.5 ? t.c('warn') : undefined}>{fmtPct(result.movedShare)}</Text></Text> : null}
      {result.warnings.map((w, i) => <Text key={`w${i}`} color={t.c('warn')} wrap="wrap">  ! {w}</Text>)}
      <Text bold color={t.c('accent')}>Apply? [y/N]</Text>
    </Box>
  );
}
