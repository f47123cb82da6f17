// What may be asked of the connection table (filters, limits) and how slices of an answer add up:
// one rule for the CLI, the console and the fake (no kernel here).
import { InputError, parseEndpoint, parseIp, type VipKey } from '../abi.js';
import { parseRealAddress } from '../rules.js';
import type { FlowList, FlowQuery } from '../types.js';

/** `lru list`'s default number of flows printed. */
export const DEFAULT_FLOW_LIMIT = 1000;
/** The most flows one answer carries (the per-real counts cover every match). */
export const MAX_FLOW_LIMIT = 1_000_000;
/** Entries one slice reads (the console asks slice after slice, showing progress). */
export const FLOW_SLICE = 65_536;

/** Validated filters: what `lru list` / `lru purge` and the console may ask. */
export interface FlowFilter {
  vip?: VipKey;
  real?: string;
  client?: { address: string; port?: number };
  limit: number;
}

export function checkFlowQuery(q: FlowQuery): FlowFilter {
  const f: FlowFilter = { limit: DEFAULT_FLOW_LIMIT };
  if (q.vip) f.vip = { address: parseIp(q.vip.address, 'VIP address').text, port: q.vip.port, proto: q.vip.proto };
  if (q.real !== undefined) f.real = parseRealAddress(q.real).address;
  if (q.client !== undefined) f.client = parseClient(q.client);
  if (q.limit !== undefined) {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_FLOW_LIMIT) throw new InputError(`bad limit "${q.limit}": expected a number of flows from 1 to ${MAX_FLOW_LIMIT}`);
    f.limit = q.limit;
  }
  return f;
}

/** A client filter: ADDR or ADDR:PORT ([v6]:port). */
export function parseClient(text: string): { address: string; port?: number } {
  const s = String(text).trim();
  if (/^\[.*\]:\d+$/.test(s) || /^[^:]+:\d+$/.test(s)) return parseEndpoint(s, 'client');
  return { address: parseIp(s, 'client address').text };
}

/** Adds slice `b` to the flows read so far (`a`), keeping the limit. */
export function mergeFlowLists(a: FlowList | null, b: FlowList, limit = DEFAULT_FLOW_LIMIT): FlowList {
  if (!a) return b;
  const flows = [...a.flows, ...b.flows].slice(0, limit);
  const per = new Map(a.perReal.map((x) => [x.real, x.flows]));
  for (const x of b.perReal) per.set(x.real, (per.get(x.real) ?? 0) + x.flows);
  const matched = a.matched + b.matched;
  return {
    intf: b.intf, flows, truncated: matched > flows.length, matched,
    perReal: [...per].map(([real, flows]) => ({ real, flows })).sort((x, y) => y.flows - x.flows || (x.real < y.real ? -1 : 1)),
    read: a.read + b.read, capacity: b.capacity, cursor: b.cursor,
  };
}

