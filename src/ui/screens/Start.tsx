// The start screen: open the pinned balancer (or pick one), open / attach --intf, or pick an
// interface and attach through the attach form.
import { Box, Text } from 'ink';
import { useKeyHold, useKeys } from '../keys.js';
import { useEffect, useState } from 'react';
import type { AsyncDataplane, AsyncHost } from '../../dataplane/async.js';
import type { BalancerSummary, InterfaceInfo } from '../../dataplane/types.js';
import { Footer } from '../components/Footer.js';
import { LockedError } from '../../dataplane/types.js';
import { describeError } from '../errors.js';
import { Form } from '../forms/Form.js';
import { attachForm } from '../forms/specs.js';
import { cell, fmtMac } from '../format.js';
import { moveSelection } from '../model/table.js';
import { useTheme } from '../theme.js';

export interface StartProps {
  host: AsyncHost;
  intf?: string;
  readOnly?: boolean;
  width: number;
  height: number;
  onOpen(dp: AsyncDataplane): void;
  onQuit(): void;
}

type View =
  | { kind: 'loading' }
  | { kind: 'balancers' }
  | { kind: 'interfaces' }
  | { kind: 'attach'; ifc: InterfaceInfo };

export function xdpText(i: InterfaceInfo): string {
  if (!i.xdp) return '-';
  const who = i.xdp.ours ? 'katran-tui' : i.xdp.katranAbi ? 'Katran' : 'other';
  return `${i.xdp.progId} ${i.xdp.mode} ${who} (${i.xdp.name})`;
}

export function Start(p: StartProps) {
  const t = useTheme();
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [bals, setBals] = useState<BalancerSummary[]>([]);
  const [ifs, setIfs] = useState<InterfaceInfo[]>([]);
  const [sel, setSel] = useState<string | null>(null);
  const [error, setError] = useState<{ text: string; lockedIntf?: string } | null>(null);
  // Opening reads the pins and the state file on the dataplane's thread: keys wait for the dashboard.
  const [opening, setOpening] = useState<string | null>(null);
  useKeyHold(opening !== null);

  const tryOpen = (intf: string, readOnly = !!p.readOnly) => {
    setOpening(intf);
    p.host.open(intf, { readOnly }).then(
      (dp) => { setOpening(null); p.onOpen(dp); },
      (e: Error) => {
        setOpening(null);
        setError({ text: `open ${intf}: ${describeError(e)}`, lockedIntf: e instanceof LockedError ? intf : undefined });
      },
    );
  };

  useEffect(() => {
    void Promise.all([p.host.balancers(), p.host.interfaces()]).then(
      ([b, i]) => found(b, i),
      (e: Error) => { setError({ text: describeError(e) }); found([], []); },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const found = (b: BalancerSummary[], i: InterfaceInfo[]) => {
    setBals(b); setIfs(i);
    if (p.intf) {
      if (b.some((x) => x.intf === p.intf)) { setView({ kind: 'balancers' }); setSel(p.intf); tryOpen(p.intf); return; }
      const ifc = i.find((x) => x.name === p.intf);
      if (!ifc) { setError({ text: `no interface ${p.intf} on this box` }); setView({ kind: 'interfaces' }); return; }
      setSel(ifc.name);
      if (p.readOnly) { setError({ text: `no balancer on ${p.intf}; attaching is refused: read-only (--readonly)` }); setView({ kind: 'interfaces' }); return; }
      setView({ kind: 'attach', ifc });
      return;
    }
    if (b.length === 1) { setView({ kind: 'balancers' }); setSel(b[0].intf); tryOpen(b[0].intf); return; }
    if (b.length > 1) { setView({ kind: 'balancers' }); setSel(b[0].intf); return; }
    setView({ kind: 'interfaces' });
    setSel(i[0]?.name ?? null);
  };

  const list: { id: string }[] = view.kind === 'balancers' ? bals.map((x) => ({ id: x.intf })) : ifs.map((x) => ({ id: x.name }));
  useKeys((input, key) => {
    if (key.ctrl) return;
    if (input === 'q') { p.onQuit(); return; }
    if (input === 'j' || key.downArrow) setSel((s) => moveSelection(list, s, 1));
    else if (input === 'k' || key.upArrow) setSel((s) => moveSelection(list, s, -1));
    else if (input === 'g') setSel((s) => moveSelection(list, s, 'top'));
    else if (input === 'G') setSel((s) => moveSelection(list, s, 'bottom'));
    else if (input === 'i') { setView({ kind: 'interfaces' }); setSel(ifs[0]?.name ?? null); setError(null); }
    else if (input === 'b' && bals.length) { setView({ kind: 'balancers' }); setSel(bals[0].intf); setError(null); }
    else if (input === 'r' && error?.lockedIntf) { const x = error.lockedIntf; setError(null); tryOpen(x, true); }
    else if (key.return && sel) {
      setError(null);
      if (view.kind === 'balancers') { tryOpen(sel); return; }
      const ifc = ifs.find((x) => x.name === sel);
      if (!ifc) return;
      if (bals.some((x) => x.intf === ifc.name) || ifc.xdp?.katranAbi) { tryOpen(ifc.name); return; }
      if (p.readOnly) { setError({ text: `attach to ${ifc.name}: refused, read-only (--readonly)` }); return; }
      setView({ kind: 'attach', ifc });
    }
  }, { isActive: (view.kind === 'balancers' || view.kind === 'interfaces') && opening === null });

  const h = Math.max(10, p.height - 1);
  if (view.kind === 'attach') {
    return (
      <Box flexDirection="column" width={p.width} height={h}>
        <Text bold color={t.c('title')}>katran-tui · attach</Text>
        <Form spec={attachForm(p.host, view.ifc, ifs, (dp) => p.onOpen(dp))} width={Math.min(p.width, 100)}
          onDone={() => { /* onOpen already switched to the dashboard */ }}
          onCancel={(why) => { setView({ kind: 'interfaces' }); if (why === 'no') setError({ text: `attach to ${view.ifc.name}: cancelled, nothing was written` }); }} />
      </Box>
    );
  }
  const nameW = 16;
  return (
    <Box flexDirection="column" width={p.width} height={h}>
      <Text bold color={t.c('title')}>katran-tui · {view.kind === 'balancers' ? 'balancers on this box' : 'interfaces'}</Text>
      {view.kind === 'balancers' ? (
        <>
          <Text bold wrap="truncate-end">{`  ${cell('INTERFACE', nameW)} ${cell('PROG', 6)} ${cell('MODE', 8)} ${cell('OWNER', 11)} PIN`}</Text>
          {bals.map((b) => (
            <Text key={b.intf} wrap="truncate-end" inverse={b.intf === sel && !t.noColor}>
              {`${b.intf === sel ? '>' : ' '} ${cell(b.intf, nameW)} ${cell(String(b.progId), 6)} ${cell(b.mode, 8)} ${cell(b.owner, 11)} ${b.pinDir ?? '-'}${b.differsFromBundled ? ' (upgrade available)' : ''}`}
            </Text>
          ))}
        </>
      ) : (
        <>
          <Text bold wrap="truncate-end">{`  ${cell('NAME', 15)} ${cell('STATE', 5)} ${cell('MAC', 17)} ${cell('MTU', 5)} XDP PROG`}</Text>
          {ifs.map((i) => (
            <Text key={i.name} wrap="truncate-end" inverse={i.name === sel && !t.noColor}>
              {`${i.name === sel ? '>' : ' '} ${cell(i.name, 15)} ${cell(i.up ? 'up' : 'DOWN', 5)} ${cell(fmtMac(i.mac), 17)} ${cell(String(i.mtu), 5)} ${xdpText(i)}`}
              {i.defaultRoute ? <Text color={t.c('bad')}> ! default route</Text> : null}
            </Text>
          ))}
          {ifs.find((i) => i.name === sel)?.defaultRoute ? <Text color={t.c('bad')} wrap="wrap">  {sel} carries the default route: attaching a balancer there can cut this box off.</Text> : null}
        </>
      )}
      {view.kind === 'loading' ? <Text color={t.c('dim')}>looking for balancers…</Text> : null}
      {opening ? <Text color={t.c('dim')}>opening the balancer on {opening}…</Text> : null}
      {error ? <Text color={t.c('bad')} wrap="wrap">{error.text}{error.lockedIntf ? ' — r: open read-only' : ''}</Text> : null}
      <Box flexGrow={1} />
      <Footer width={p.width} keys={view.kind === 'balancers' ? 'Enter open  j/k move  i interfaces  q quit' : `Enter open/attach  j/k move${bals.length ? '  b balancers' : ''}  q quit`} />
    </Box>
  );
}
