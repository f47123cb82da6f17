// Field validators for the forms. Every rule is the dataplane's (abi.ts parses addresses, ports,
// MACs and weights; rules.ts says which address may be a VIP or a real, which real may serve a VIP
// and which flags the balancer implements): a validator only turns its InputError into the text
// shown under the field, or null.
import { InputError, parseMac, parsePort, parseWeight, type VipKey } from '../../dataplane/abi.js';
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
