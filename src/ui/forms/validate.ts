// Field validators for the forms. Addresses, ports, MACs, VIPs and flags are parsed by abi.ts (one
// rule in one place); a validator returns the error text or null.
import { InputError, parseIp, parseMac, parsePort, parseVipFlags, parseWeight } from '../../dataplane/abi.js';
import type { VipFlagName } from '../../dataplane/types.js';

export type Validator = (v: string) => string | null;

function wrap(fn: (v: string) => unknown): Validator {
  return (v) => {
    try { fn(v); return null; } catch (e) { return e instanceof InputError ? e.message : (e as Error).message; }
  };
}

export const vAddress = (what: string): Validator => wrap((v) => parseIp(v, what));
export const vPort: Validator = wrap((v) => parsePort(v, 'port'));
export const vMac: Validator = wrap((v) => parseMac(v));

/** A weight: a whole number 0..4294967295 (0 drains the real). */
export const vWeight: Validator = wrap(parseWeight);

/** Comma-separated VIP flags, checked against what the loaded balancer implements. */
export function parseFlagList(v: string, supported: readonly VipFlagName[]): VipFlagName[] {
  const parts = v.split(',').map((s) => s.trim()).filter(Boolean);
  parseVipFlags(parts); // unknown names -> InputError with the allowed list
  const names = parts.map((p) => p.toLowerCase().replace(/_/g, '-') as VipFlagName);
  const bad = names.filter((n) => !supported.includes(n));
  if (bad.length) throw new InputError(`flag ${bad.join(', ')} is not implemented by this balancer (supported: ${supported.join(', ')})`);
  return [...new Set(names)];
}
export const vFlags = (supported: readonly VipFlagName[]): Validator => wrap((v) => parseFlagList(v, supported));

export const vOneOf = (names: readonly string[], what: string, optional = false): Validator => (v) => {
  const s = v.trim();
  if (optional && s === '') return null;
  return names.includes(s) ? null : `no ${what} "${s}": choose one of ${names.join(', ')}`;
};
