// Field validators for the forms. Every rule is the dataplane's (abi.ts parses addresses, ports,
// MACs and weights; rules.ts says which address may be a VIP or a real, which real may serve a VIP
// and which flags the balancer implements): a validator only turns its InputError into the text
// shown under the field, or null.
import { InputError, formatVlan, parseMac, parsePort, parseVlanMapping, parseVlanOptions, parseWeight, type VipKey } from '../../dataplane/abi.js';
import { checkRealForVip, parseRealAddress, parseVipAddress, parseVipFlagList } from '../../dataplane/rules.js';
import type { VipFlagName } from '../../dataplane/types.js';

export type Validator = (v: string) => string | null;

function wrap(fn: (v: string) => unknown): Validator {
  return (v) => {
    try { fn(v); return null; } catch (e) { return e instanceof InputError ? e.message : (e as Error).message; }
  };
}

export const vVipAddress: Validator = wrap(parseVipAddress);
/** A real's address, and (for an IPv6 VIP) an IPv6 one. */
export const vRealAddress = (vip: VipKey): Validator => wrap((v) => checkRealForVip(parseRealAddress(v).address, vip));
export const vPort: Validator = wrap((v) => parsePort(v, 'port'));
export const vMac: Validator = wrap((v) => parseMac(v));
export const vWeight: Validator = wrap(parseWeight);

/** Comma-separated VIP flags, checked against what the loaded balancer implements. */
export const vFlags = (supported: readonly VipFlagName[]): Validator => wrap((v) => parseVipFlagList(v, supported));

export const vOneOf = (names: readonly string[], what: string, optional = false): Validator => (v) => {
  const s = v.trim();
  if (optional && s === '') return null;
  return names.includes(s) ? null : `no ${what} "${s}": choose one of ${names.join(', ')}`;
};

/** A list field (VLAN mappings, VLAN MACs): items separated by spaces or commas, each in the CLI's syntax. */
export function splitList(v: string): string[] {
  return v.split(/[\s,]+/).filter(Boolean);
}

/** `--vlan` items (573, 573:574, 100.573:100.574), optional. */
export const vVlanList: Validator = wrap((v) => parseVlanOptions(splitList(v), []));
/** `--vlan-mac` items (574=58:e4:34:56:46:e0), optional. */
export const vVlanMacList: Validator = wrap((v) => parseVlanOptions([], splitList(v)));
/** One mapping IN[:OUT]. */
export const vVlanMapping: Validator = wrap(parseVlanMapping);
/** A new mapping IN[:OUT]: also refuses an IN that already has one (`e` changes it), as `vlan add` does. */
export const vNewVlanMapping = (existing: readonly { ingress: string; egress: string }[]): Validator => (v) => {
  const bad = vVlanMapping(v);
  if (bad) return bad;
  const ingress = formatVlan(parseVlanMapping(v).ingress);
  const had = existing.find((m) => m.ingress === ingress);
  return had ? `VLAN ${ingress} is already an ingress VLAN (-> ${had.egress}): e changes it, d deletes it` : null;
};
/** The egress VLAN of ingress VLAN `ingress` (the same shape: one tag or an 802.1ad pair). */
export const vVlanEgress = (ingress: string): Validator => wrap((v) => parseVlanMapping(`${ingress}:${v.trim()}`));
/** A MAC, or nothing (the field is optional). */
export const vOptionalMac: Validator = (v) => (v.trim() === '' ? null : vMac(v));
