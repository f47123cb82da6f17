// The dashboard: header, XDP actions, globals, a main panel (VIPs / per-CPU / healthcheck / log),
// the log pane and the footer; VIP detail, forms and the help overlay open over the main area.
import { Box, Text } from 'ink';
import { useKeys } from '../keys.js';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { AsyncDataplane } from '../../dataplane/async.js';
import type { ChangeResult, HealthcheckState, InterfaceState, QuicMapping } from '../../dataplane/types.js';
import { Actions } from '../components/Actions.js';
import { Footer } from '../components/Footer.js';
import { Globals } from '../components/Globals.js';
import { HealthPanel } from '../components/HealthPanel.js';
import { Header, headerLines } from '../components/Header.js';
import { Help } from '../components/Help.js';
import { LogPane } from '../components/LogPane.js';
import { PerCpu } from '../components/PerCpu.js';
import { VipTable } from '../components/VipTable.js';
import { WhyPanel } from '../components/WhyPanel.js';
import { VlanPanel } from '../components/VlanPanel.js';
import { useVlanPanel } from '../hooks/useVlans.js';
import { describeError } from '../errors.js';
import { Form, type FormSpec } from '../forms/Form.js';
import { addRealForm, addVipForm, deleteVipForm, detachForm, downForm, drainForm, macForm, purgeForm, reattachForm, removeRealForm, weightForm, type RealLoad } from '../forms/specs.js';
import { useFlows } from '../hooks/useFlows.js';
import { Flows } from './Flows.js';
import { useBalancer } from '../hooks/useBalancer.js';
import { useStats } from '../hooks/useStats.js';
import type { Op } from '../hooks/useBalancer.js';
import { buildRows, filterRows, indexOfId, moveSelection, scrollTop, sortRows, SORT_KEYS, type SortKey } from '../model/table.js';
import { useTheme } from '../theme.js';
import { VipDetail, type RealAction } from './VipDetail.js';

export interface DashboardProps {
  dp: AsyncDataplane;
  width: number;
  height: number;
  intervalMs?: number;
  now: () => number;
  onQuit(): void;
  /** The balancer was detached through the form. */
  onDetached(): void;
}

type Mode =
  | { kind: 'main' }
  | { kind: 'filter' }
  | { kind: 'detail'; id: string }
  | { kind: 'flows'; id: string; real: string | null }
  | { kind: 'form'; spec: FormSpec; back: 'main' | 'detail' | 'flows'; detach?: boolean };

type Panel = 'vips' | 'cpus' | 'hc' | 'log' | 'why' | 'vlans';

const MAIN_KEYS = '? help  w why  / filter  s/r sort  p pause  +/- interval  Enter detail  a add  d del  m MAC  c cpu  h hc  l log  V vlans  t run-time  q quit';
const VLAN_KEYS = 'Esc/V back  j/k VLAN  a add  e/Enter change  d delete  p pause  ? help  q quit';
const DETAIL_KEYS = 'Esc back  j/k real  a add real  w weight  n drain  u down/up  x remove  f/F flows (VIP/real)  p pause  ? help  q quit';
const FLOWS_KEYS = 'Esc back  j/k scroll  d purge these flows  r read again  p pause  ? help  q quit';

export function Dashboard(p: DashboardProps) {
  const t = useTheme();
  const stats = useStats(p.dp, { intervalMs: p.intervalMs });
  const bal = useBalancer(p.dp, p.now);
  const [mode, setMode] = useState<Mode>({ kind: 'main' });
  const [panel, setPanel] = useState<Panel>('vips');
  const [help, setHelp] = useState(false);
  const [filter, setFilter] = useState('');
  const [sortKey, setSortKey] = useState<SortKey>('pps');
  const [desc, setDesc] = useState(true);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [top, setTop] = useState(0);
  const [message, setMessage] = useState<{ text: string; level: 'info' | 'error' } | null>(null);
  const [runTimeOn, setRunTimeOn] = useState(false);

  useEffect(() => {
    if (stats.error) bal.addLog('error', `sample: ${describeError(stats.error)}`);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stats.error]);
  // Our forms refresh at once; other writers' changes show up here: info (capacity, MAC) with every
  // sample, the VIP list (which reads every ring) only when the sample shows a change.
  useEffect(() => {
    if (stats.paused || stats.samples < 2) return;
    bal.refreshIfChanged(stats.latest);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [stats.samples]);

  // The interface under the balancer: deleted, renamed, our program replaced. Each change of state
  // is logged once; the banner and the header badge show the current one.
  const ifState: InterfaceState | undefined = stats.latest?.interfaceState ?? bal.info.interfaceState;
  const ifKey = ifState ? `${ifState.status} ${ifState.intf} ${ifState.ifindex} ${ifState.reappeared?.ifindex ?? ''} ${ifState.otherProgId ?? ''}` : '';
  const lastIfKey = useRef<string | null>(null);
  useEffect(() => {
    if (!ifState) return;
    const prev = lastIfKey.current;
    lastIfKey.current = ifKey;
    if (prev === null && ifState.status === 'ok') return;
    if (prev === ifKey) return;
    bal.addLog(ifState.status === 'ok' ? 'info' : ifState.status === 'renamed' ? 'warn' : 'error', logText(ifState));
    if (ifState.status !== 'gone') bal.refreshInfo(); // the name follows a rename
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ifKey]);
  const banner = ifState && ifState.status !== 'ok' ? ifState : null;
  // A change a killed process left unfinished (a reader sees it; a writer finished it at open).
  const pending = bal.info.pendingChange;
  const pendingKey = pending ? `${pending.op} ${pending.target} ${pending.at}` : '';
  const lastPending = useRef<string | null>(null);
  useEffect(() => {
    const prev = lastPending.current;
    lastPending.current = pendingKey;
    if (prev === null) for (const r of bal.info.recovered) bal.addLog('warn', `recovered at open: ${r}`);
    if (prev === pendingKey) return;
    if (pending) bal.addLog('error', pending.message);
    else if (prev) bal.addLog('info', `no longer pending (another process finished or undid it): ${prev}`);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pendingKey]);
  const line = banner ? { text: bannerText(banner), level: banner.status === 'renamed' ? 'warn' as const : 'bad' as const }
    : pending ? { text: `CHANGE PENDING: ${pending.message}`, level: 'bad' as const }
      : bal.info.recovered.length ? { text: `RECOVERED AT OPEN: ${bal.info.recovered.join('; ')}`, level: 'warn' as const } : null;

  // The healthcheck panel's marks: read while the panel is shown, with each sample.
  const [hc, setHc] = useState<HealthcheckState | null>(null);
  useEffect(() => {
    if (panel !== 'hc') return;
    p.dp.healthcheck().then(setHc, () => setHc(null));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [panel, stats.samples]);

  const rows = useMemo(() => sortRows(filterRows(buildRows(bal.vipsLoaded ? bal.vips : null, stats.sample), filter), sortKey, desc), [bal.vips, bal.vipsLoaded, stats.sample, filter, sortKey, desc]);
  const selIndex = indexOfId(rows, selectedId);
  const selected = selIndex >= 0 ? rows[selIndex] : null;

  // The VLAN panel (V): its mappings also size the header.
  const vlan = useVlanPanel(p.dp, { reread: bal.vips, sample: stats.sample, defaultMac: bal.info.defaultMac }, (what, spec) => openForm(what, spec, 'main'), (text, level) => setMessage({ text, level }));
  // Layout: header 2 (3 with VLANs), actions 1, globals 1, panel (1 heading + n rows), log 3, footer 1.
  const frameH = Math.max(12, p.height - 1);
  const logH = frameH >= 20 ? 3 : 1;
  const bodyH = frameH - headerLines(vlan.list) - (line ? 1 : 0) - 1 - 1 - logH - 1; // includes the panel heading
  const tableH = bodyH - 1;
  const tableTop = scrollTop(selIndex, tableH, top, rows.length);
  if (tableTop !== top) setTop(tableTop);

  const refuse = (what: string): boolean => {
    if (bal.applying) { setMessage({ text: `${what}: wait, ${bal.applying} is still being applied`, level: 'info' }); return true; }
    if (!bal.refusal) return false;
    const text = `${what}: refused, ${bal.refusal}`;
    setMessage({ text, level: 'error' });
    bal.addLog('warn', text);
    return true;
  };
  const openForm = (what: string, spec: FormSpec, back: 'main' | 'detail' | 'flows', detach = false) => {
    if (refuse(what)) return;
    setMessage(null);
    setMode({ kind: 'form', spec, back, detach });
  };
  // y on a form: the change is applied while the dashboard goes on (the footer says "applying…").
  const applyInBackground = (m: Extract<Mode, { kind: 'form' }>, op: Op) => {
    setMessage(null);
    setMode(backTo(m));
    void bal.apply(op).then((r) => setMessage(r.ok ? { text: `done: ${r.result.summary[0] ?? 'applied'}`, level: 'info' } : { text: `error: ${r.message}`, level: 'error' }));
  };
  const formDone = (m: Extract<Mode, { kind: 'form' }>, r: ChangeResult) => {
    setMessage({ text: `done: ${r.summary[0] ?? 'applied'}`, level: 'info' });
    if (m.detach) { p.onDetached(); return; }
    setMode(backTo(m));
  };
  const [detailId, setDetailId] = useState<string | null>(null);
  const [realSel, setRealSel] = useState<string | null>(null);
  const [flowsReal, setFlowsReal] = useState<string | null>(null);
  const backTo = (m: Extract<Mode, { kind: 'form' }>): Mode => (m.back === 'flows' && detailId ? { kind: 'flows', id: detailId, real: flowsReal }
    : m.back !== 'main' && detailId ? { kind: 'detail', id: detailId } : { kind: 'main' });
  // The VIP detail's FLOWS column: the VIP's flows per real, read again with the samples.
  const detailVip = mode.kind === 'detail' || (mode.kind === 'form' && mode.back === 'detail') ? bal.vips.find((v) => v.id === detailId) : undefined;
  const detailQuery = useMemo(() => (detailVip ? { vip: detailVip.key, limit: 1 } : null), [detailVip?.id]); // eslint-disable-line react-hooks/exhaustive-deps
  const detailFlows = useFlows(p.dp, detailQuery, stats.samples);
  const flowsOf = useMemo(() => (detailFlows.list ? new Map(detailFlows.list.perReal.map((r) => [r.real, r.flows])) : null), [detailFlows.list]);
  const loadOf = (address: string): RealLoad => ({ flows: flowsOf ? flowsOf.get(address) ?? 0 : null, pps: stats.sample?.reals.find((r) => r.address === address)?.pps ?? null });

  // QUIC mappings for the detail: from the desired state (cheap); an observed Katran's would need a
  // scan of server_id_map (seconds) at every VIP refresh: `quic map list` shows those.
  const [mappings, setMappings] = useState<QuicMapping[]>([]);
  useEffect(() => {
    if (!detailId || bal.info.owner !== 'katran-tui') { setMappings([]); return undefined; }
    let live = true;
    p.dp.quicMappings().then((m) => { if (live) setMappings(m); }, () => { if (live) setMappings([]); });
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [detailId, bal.vips]);
  const onRealAction = (a: RealAction, real: Parameters<VipDetailProps['onAction']>[1]) => {
    const vip = bal.vips.find((v) => v.id === detailId);
    if (!vip) return;
    if (a === 'add') openForm('add real', addRealForm(p.dp, vip), 'detail');
    else if (real && a === 'weight') openForm('change weight', weightForm(p.dp, vip, real), 'detail');
    else if (real && a === 'drain') openForm('drain', drainForm(p.dp, vip, real, loadOf(real.address)), 'detail');
    else if (real && a === 'remove') openForm('remove real', removeRealForm(p.dp, vip, real, loadOf(real.address)), 'detail');
    else if (real && a === 'down') {
      if (!vip.flags.includes('udp-flow-migration')) setMessage({ text: `mark real down: ${vip.id} has no udp-flow-migration flag (the kernel consults down reals only for such VIPs)`, level: 'error' });
      else openForm(real.down ? 'mark real up' : 'mark real down', downForm(p.dp, vip, real), 'detail');
    }
    else if (a === 'flows') { setFlowsReal(real?.address ?? null); setMode({ kind: 'flows', id: vip.id, real: real?.address ?? null }); }
  };

  useKeys((input, key) => {
    if (key.ctrl) return;
    if (help) { if (key.escape || input === '?' || input === 'q') setHelp(false); return; }
    // keys common to the dashboard and the detail
    if (input === 'q') { p.onQuit(); return; }
    if (input === '?') { setHelp(true); return; }
    if (input === 'p') { stats.togglePause(); setMessage(null); return; }
    if (input === '+') { stats.slower(); return; }
    if (input === '-') { stats.faster(); return; }
    if (mode.kind === 'detail' || mode.kind === 'flows') return; // the detail and the LRU view handle the rest
    setMessage(null);
    const page = Math.max(1, tableH);
    const move = (m: Parameters<typeof moveSelection>[2]) => setSelectedId(moveSelection(rows, selected?.id ?? null, m));
    if (panel === 'vlans' && (key.escape || input === 'V')) { setPanel('vips'); return; }
    if (panel === 'vlans' && vlan.onKey(input, key)) return;
    if (key.escape) { if (filter) setFilter(''); return; }
    if (input === 'j' || key.downArrow) move(1);
    else if (input === 'k' || key.upArrow) move(-1);
    else if (key.pageDown) move(page);
    else if (key.pageUp) move(-page);
    else if (input === 'g' || key.home) move('top');
    else if (input === 'G' || key.end) move('bottom');
    else if (input === '/') setMode({ kind: 'filter' });
    else if (input === 's') { const k = SORT_KEYS[(SORT_KEYS.indexOf(sortKey) + 1) % SORT_KEYS.length]; setSortKey(k); setDesc(k !== 'vip'); }
    else if (input === 'r') setDesc((d) => !d);
    else if (/^[1-5]$/.test(input)) { const k = SORT_KEYS[Number(input) - 1]; if (k === sortKey) setDesc((d) => !d); else { setSortKey(k); setDesc(k !== 'vip'); } }
    else if (input === 'v') setPanel('vips');
    else if (input === 'c') setPanel((x) => (x === 'cpus' ? 'vips' : 'cpus'));
    else if (input === 'h') setPanel((x) => (x === 'hc' ? 'vips' : 'hc'));
    else if (input === 'l') setPanel((x) => (x === 'log' ? 'vips' : 'log'));
    else if (input === 'w') setPanel((x) => (x === 'why' ? 'vips' : 'why'));
    else if (input === 'V') setPanel('vlans');
    else if ((key.return || input === 'd' || key.delete) && selected?.pending) setMessage({ text: 'the VIP list is still being read: try again in a moment', level: 'info' });
    else if (key.return && selected) { setDetailId(selected.id); setRealSel(null); setMode({ kind: 'detail', id: selected.id }); }
    else if (input === 'a') openForm('add VIP', addVipForm(p.dp, bal.info), 'main');
    else if ((input === 'd' || key.delete) && selected) openForm('delete VIP', deleteVipForm(p.dp, selected.vip), 'main');
    else if (input === 'd') setMessage({ text: 'delete VIP: no VIP selected', level: 'error' });
    else if (input === 'm') openForm('default MAC', macForm(p.dp, bal.info), 'main');
    else if (input === 't') {
      const want = !runTimeOn;
      p.dp.runTimeStats(want).then((r) => {
        setRunTimeOn(r.on);
        const text = r.on
          ? `run-time statistics ON: they cost about ${r.costNs} ns per packet for every BPF program on the box; t turns them off (so does quitting)`
          : 'run-time statistics off';
        setMessage({ text, level: 'info' });
        bal.addLog(r.on ? 'warn' : 'info', text);
      }, (e: Error) => setMessage({ text: `run-time statistics: ${describeError(e)}`, level: 'error' }));
    }
    else if (input === 'D') openForm('detach', detachForm(p.dp, bal.info), 'main', true);
    else if (input === 'R') {
      if (ifState?.canReattach) openForm('re-attach', reattachForm(p.dp, ifState), 'main');
      else setMessage({ text: `re-attach: nothing to do: ${ifState?.message ?? 'the interface was not checked yet'}`, level: 'info' });
    }
  }, { isActive: mode.kind === 'main' || mode.kind === 'detail' || mode.kind === 'flows' });

  // The filter prompt: typing filters live; Enter keeps it, Esc clears it.
  useKeys((input, key) => {
    if (key.escape) { setFilter(''); setMode({ kind: 'main' }); return; }
    if (key.return) { setMode({ kind: 'main' }); return; }
    if (key.backspace || key.delete) { setFilter((f) => f.slice(0, -1)); return; }
    if (key.ctrl || key.meta) return;
    // eslint-disable-next-line no-control-regex
    const text = input.replace(/[\x00-\x1f\x7f]/g, '');
    if (text) setFilter((f) => f + text);
  }, { isActive: mode.kind === 'filter' });

  let body: React.ReactNode;
  if (help) body = <Help width={p.width} height={bodyH + logH} />;
  else if (mode.kind === 'form') {
    const m = mode;
    body = (
      <Box height={bodyH + logH} flexDirection="column">
        <Form spec={m.spec} width={Math.min(p.width, 100)} apply={bal.apply}
          onConfirm={m.detach ? undefined : (op) => applyInBackground(m, op)}
          onDone={(r) => formDone(m, r)}
          onCancel={(why) => { if (why === 'no') { setMessage({ text: 'cancelled: nothing was written', level: 'info' }); bal.addLog('info', `${m.spec.title}: cancelled, nothing written`); } setMode(backTo(m)); }} />
      </Box>
    );
  } else if (mode.kind === 'detail') {
    body = (
      <VipDetail vip={bal.vips.find((v) => v.id === mode.id)} vipId={mode.id} sample={stats.sample} history={stats.history}
        width={p.width} height={bodyH + logH - 1} active={!help} selected={realSel} onSelect={setRealSel}
        onBack={() => { setSelectedId(mode.id); setMode({ kind: 'main' }); }} onAction={onRealAction} mappings={mappings} flows={flowsOf} flowsBefore={detailFlows.before} />
    );
  } else if (mode.kind === 'flows') {
    const vip = bal.vips.find((v) => v.id === mode.id);
    body = vip ? (
      <Flows dp={p.dp} vip={vip} real={mode.real} tick={stats.samples} width={p.width} height={bodyH + logH - 1} active={!help}
        onBack={() => setMode({ kind: 'detail', id: mode.id })} onPurge={() => openForm('purge flows', purgeForm(p.dp, vip, mode.real), 'flows')} />
    ) : <Text color={t.c('warn')}>VIP {mode.id} is gone (removed?). Esc goes back.</Text>;
  } else if (panel === 'cpus') body = <PerCpu sample={stats.sample} height={tableH} width={p.width} />;
  else if (panel === 'why') body = <WhyPanel sample={stats.sample} height={tableH} width={p.width} />;
  else if (panel === 'vlans') body = <VlanPanel state={vlan} defaultMac={bal.info.defaultMac} refusal={bal.refusal} height={tableH} width={p.width} />;
  else if (panel === 'hc') body = <HealthPanel hc={hc} sample={stats.sample} height={tableH} width={p.width} />;
  else if (panel === 'log') body = <Box flexDirection="column" height={bodyH}><Text bold color={t.c('title')}>  log</Text><LogPane log={bal.log} height={tableH} width={p.width} /></Box>;
  else body = <VipTable loading={!bal.vipsLoaded && stats.loading} rows={rows} selectedId={selected?.id ?? null} top={tableTop} height={tableH} width={p.width} sortKey={sortKey} desc={desc} history={stats.history} filter={filter} />;

  const showLog = !help && mode.kind !== 'form';
  const footerKeys = mode.kind === 'filter' ? `filter: ${filter}_   (Enter keeps, Esc clears)` : mode.kind === 'detail' ? DETAIL_KEYS : mode.kind === 'flows' ? FLOWS_KEYS : panel === 'vlans' && mode.kind === 'main' ? VLAN_KEYS : filter ? `filter "${filter}" (${rows.length}/${bal.vipsLoaded ? bal.vips.length : stats.sample?.vips.length ?? 0})  ${MAIN_KEYS}` : MAIN_KEYS;
  return (
    <Box flexDirection="column" width={p.width} height={frameH}>
      <Header info={bal.info} latest={stats.latest} intervalMs={stats.intervalMs} paused={stats.paused} now={p.now()} width={p.width} vlans={vlan.list} />
      {line ? <Text wrap="truncate-end" bold color={t.c(line.level)}>{line.text}</Text> : null}
      <Actions sample={stats.sample} prevDropRate={stats.prevDropRate} />
      <Globals sample={stats.sample} quic={bal.vips.some((v) => v.flags.includes('quic'))} />
      {body}
      {showLog ? <LogPane log={bal.log} height={mode.kind === 'detail' || mode.kind === 'flows' ? 1 : logH} width={p.width} /> : null}
      <Footer keys={footerKeys} message={mode.kind === 'filter' ? null : message ?? (bal.applying ? { text: `applying ${bal.applying}…`, level: 'info' } : null)} width={p.width} />
    </Box>
  );
}

type VipDetailProps = import('./VipDetail.js').VipDetailProps;

/** A log line per change of the interface's state: the gist first (the log pane truncates). */
export function logText(st: InterfaceState): string {
  switch (st.status) {
    case 'gone':
      return st.reappeared
        ? `${st.intf} is back as ifindex ${st.reappeared.ifindex} (was ${st.ifindex}): R re-attaches the pinned program`
        : `interface ${st.intf} (ifindex ${st.ifindex}) deleted: XDP attachment gone, program and maps kept`;
    case 'replaced':
      return st.otherProgId ? `program ${st.otherProgId} replaced ours on ${st.intf} (ifindex ${st.ifindex})` : `our program is no longer attached to ${st.intf} (ifindex ${st.ifindex}): R re-attaches`;
    case 'renamed':
      return `interface renamed ${st.from} -> ${st.intf} (ifindex ${st.ifindex}): still attached`;
    default:
      return `${st.intf} (ifindex ${st.ifindex}): balancer attached`;
  }
}

/** The one line under the header while the interface is not as the balancer left it (the key first: it survives truncation). */
export function bannerText(st: InterfaceState): string {
  switch (st.status) {
    case 'gone':
      return st.reappeared
        ? `INTERFACE GONE: ${st.intf} is back as ifindex ${st.reappeared.ifindex} (was ${st.ifindex}): press R to re-attach the pinned program (same maps, VIPs kept)`
        : `INTERFACE GONE: ${st.intf} (ifindex ${st.ifindex}) was deleted, nothing is balanced; program and maps stay pinned until ${st.intf} is back`;
    case 'replaced':
      return st.otherProgId
        ? `XDP REPLACED: program ${st.otherProgId} replaced ours on ${st.intf} (ifindex ${st.ifindex}): katran-tui's maps are not in use`
        : `NOT ATTACHED: our program is no longer on ${st.intf} (ifindex ${st.ifindex}): press R to re-attach it (same maps)`;
    case 'renamed':
      return `renamed ${st.from} -> ${st.intf} (ifindex ${st.ifindex}): still attached and forwarding`;
    default:
      return st.message;
  }
}
