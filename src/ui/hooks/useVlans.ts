// The VLAN panel's state: the mappings (Dataplane.vlans(), read at start and again whenever the VIP
// list is read again: after our own changes and when a sample shows someone else's), the rows
// joined with the sample's per-VLAN counters, the selection, and the panel's keys, which open the
// add / change / delete forms (Dashboard's openForm: refusals, y/N and the log are its).
import type { Key } from 'ink';
import { useEffect, useMemo, useState } from 'react';
import type { AsyncDataplane } from '../../dataplane/async.js';
import type { StatsSample, VlanMappingText } from '../../dataplane/types.js';
import { describeError } from '../errors.js';
import type { FormSpec } from '../forms/Form.js';
import { addVlanForm, changeVlanForm, deleteVlanForm } from '../forms/specs.js';
import { indexOfId, moveSelection } from '../model/table.js';
import { VLANS_UNAVAILABLE, vlanRows, type VlanRow } from '../model/vlans.js';

export interface VlanPanelState {
  /** undefined: not read yet; null: the program has no VLAN maps. */
  list: VlanMappingText[] | null | undefined;
  error: string | null;
  rows: VlanRow[];
  selected: VlanRow | null;
  /** A key while the panel is shown: true when the panel took it. */
  onKey(input: string, key: Key): boolean;
}

export function useVlanPanel(
  dp: AsyncDataplane, o: { reread: unknown; sample: StatsSample | null; defaultMac: string | null },
  open: (what: string, spec: FormSpec) => void, say: (text: string, level: 'info' | 'error') => void,
): VlanPanelState {
  const [list, setList] = useState<VlanMappingText[] | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [sel, setSel] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    dp.vlans().then((v) => { if (live) { setList(v); setError(null); } }, (e: Error) => { if (live) setError(`VLANs: ${describeError(e)}`); });
    return () => { live = false; };
  }, [dp, o.reread]);
  const rows = useMemo(() => (list ? vlanRows(list, o.sample?.vlans) : []), [list, o.sample]);
  const at = indexOfId(rows, sel);
  const selected = at >= 0 ? rows[at] : rows[0] ?? null;

  const onKey = (input: string, key: Key): boolean => {
    const move = (m: Parameters<typeof moveSelection>[2]) => setSel(moveSelection(rows, selected?.id ?? null, m));
    if (input === 'j' || key.downArrow) { move(1); return true; }
    if (input === 'k' || key.upArrow) { move(-1); return true; }
    if (input === 'g' || key.home) { move('top'); return true; }
    if (input === 'G' || key.end) { move('bottom'); return true; }
    const change = input === 'a' || input === 'e' || input === 'd' || key.return || key.delete;
    if (!change) return false;
    if (list === undefined) { say('VLANs: the VLAN list is still being read: try again in a moment', 'info'); return true; }
    if (list === null) { say(VLANS_UNAVAILABLE, 'error'); return true; }
    const m = selected?.mapping ?? null;
    if (input === 'a') open('add VLAN', addVlanForm(dp, selected && !m && selected.vlan ? selected.vlan : undefined, list));
    else if (input === 'd' || key.delete) {
      if (m) open('delete VLAN', deleteVlanForm(dp, m, o.defaultMac));
      else say('delete VLAN: no VLAN mapping selected', 'error');
    } else if (m) open('change VLAN', changeVlanForm(dp, m, o.defaultMac));
    else if (selected?.vlan) open('add VLAN', addVlanForm(dp, selected.vlan, list)); // an unparsed VLAN: add it
    else say('change VLAN: no VLAN mapping selected (a adds one)', 'error');
    return true;
  };
  return { list, error, rows, selected, onKey };
}
