// A lab's id and the names made from it (namespace, links): one rule for the lab, the demo's --id
// and the tests that run their own labs next to the operator's demo.
import { InputError } from '../dataplane/errors.js';

/** Lowercase letters and digits, 1-10: interface names kt<id>b etc. stay within 15 characters. */
export function parseLabId(text: string, what = 'lab id'): string {
  if (!/^[a-z0-9]{1,10}$/.test(text)) throw new InputError(`bad ${what} ${JSON.stringify(text).slice(0, 40)}: use 1-10 lowercase letters or digits`);
  return text;
}

export interface LabNames { ns: string; b: string; p: string; h: string; g: string }

/** The lab's namespace (clients), balancer link, peer link, healthcheck link and its peer. */
export function labNames(id: string): LabNames {
  parseLabId(id);
  return { ns: `kt-${id}-cl`, b: `kt${id}b`, p: `kt${id}p`, h: `kt${id}h`, g: `kt${id}g` };
}
