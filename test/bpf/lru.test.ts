// The connection table on a real loaded balancer: flows run through prog_test_run (pinned to CPU
// 0) are listed on the real the packet went to, filters and limits hold, a read in slices gives
// the same answer, purge deletes exactly the flows asked for (the next packets are hashed again),
// and read-only handles list but never purge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from '../../src/dataplane/balancer/balancer.js';
import { parseVip } from '../../src/dataplane/abi.js';
import { TestRunner, XDP_ACTION, pinToCpu } from '../../src/dataplane/kernel/libbpf.js';
import { mergeFlowLists } from '../../src/dataplane/lru/query.js';
import { ReadOnlyError, type FlowList } from '../../src/dataplane/types.js';
import { requireBpf, scratchDir } from '../helpers/env.js';
import { handleFrom, ipipOuterDst, loadTestBalancer, v4Frame } from './control-helpers.js';

const MAC = '02:00:00:00:00:aa';
const UDP = parseVip('192.0.2.10:53/udp');
const TCP = parseVip('192.0.2.11:80/tcp');
const REALS = ['198.51.100.1', '198.51.100.2', '198.51.100.3'];

function setup(name: string) {
  const lb = loadTestBalancer();
  const stateRoot = scratchDir(name);
  const dp = Balancer.open(handleFrom(lb, { intf: 'klru' }), { stateDir: stateRoot });
  dp.setDefaultMac(MAC);
  for (const v of [UDP, TCP]) {
    dp.addVip({ ...v });
    for (const r of REALS) dp.addReal(v, { address: r, weight: 1 });
  }
  const runner = new TestRunner(lb.progFd);
  /** Sends one packet per client; returns where each went. */
  const send = (vip: typeof UDP, n: number, port0 = 40000): Map<string, string> => {
    const where = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const r = runner.run(v4Frame({ src: `203.0.113.${1 + i}`, dst: vip.address, sport: port0 + i, dport: vip.port, proto: vip.proto }));
      assert.equal(r.retval, XDP_ACTION.TX);
      where.set(`203.0.113.${1 + i}:${port0 + i}`, ipipOuterDst(r.data)!);
    }
    return where;
  };
  return { lb, dp, send, close() { dp.close(); lb.close(); } };
}

test('lru list: every flow on the real its packet went to, on CPU 0, UDP with an age and TCP without', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0);
  const s = setup('lru-list');
  try {
    const udp = s.send(UDP, 20);
    const tcp = s.send(TCP, 5);
    const all = s.dp.flows({});
    assert.equal(all.matched, 25);
    assert.equal(all.truncated, false);
    for (const f of all.flows) {
      const want = f.vip === '192.0.2.10:53/udp' ? udp.get(f.client) : tcp.get(f.client);
      assert.equal(f.real, want, `${f.client} is held on the real its packet went to`);
      assert.equal(f.cpu, 0);
      if (f.vip.endsWith('/udp')) assert.ok(f.ageMs !== null && f.ageMs >= 0 && f.ageMs < 60_000, `UDP age ${f.ageMs}`);
      else assert.equal(f.ageMs, null);
    }
    // counts per real cover every flow; a filter by real lists only its flows
    assert.equal(all.perReal.reduce((a, r) => a + r.flows, 0), 25);
    const one = all.perReal[0];
    const byReal = s.dp.flows({ real: one.real });
    assert.equal(byReal.matched, one.flows);
    assert.ok(byReal.flows.every((f) => f.real === one.real));
    // by VIP, by client (address, address:port), and the limit
    assert.equal(s.dp.flows({ vip: TCP }).matched, 5);
    assert.equal(s.dp.flows({ client: '203.0.113.3' }).matched, 2);
    const c = s.dp.flows({ client: '203.0.113.3:40002' });
    assert.equal(c.matched, 2, 'the same client:port on both VIPs');
    const lim = s.dp.flows({ vip: UDP, limit: 7 });
    assert.equal(lim.flows.length, 7);
    assert.equal(lim.truncated, true);
    assert.equal(lim.matched, 20);
    // slice by slice: the same flows, with progress
    let acc: FlowList | null = null;
    let cursor = null;
    let slices = 0;
    do {
      const part = s.dp.flows({}, { cursor, slice: 4 });
      assert.ok(part.read <= 4 || part.read === 0);
      acc = mergeFlowLists(acc, part, 1000);
      cursor = part.cursor;
      slices++;
    } while (cursor && slices < 1000);
    assert.ok(slices > 3, `${slices} slices`);
    assert.equal(acc.matched, 25);
    assert.deepEqual(new Set(acc.flows.map((f) => `${f.vip} ${f.client} ${f.real}`)), new Set(all.flows.map((f) => `${f.vip} ${f.client} ${f.real}`)));
    // bad input
    assert.throws(() => s.dp.flows({ client: 'nope' }), /bad client address/);
    assert.throws(() => s.dp.flows({ limit: 0 }), /bad limit/);
  } finally {
    s.close();
    unpin();
  }
});

test('lru purge: dry run counts, --real deletes only that real\'s flows, the VIP\'s purge empties it and the next packets are hashed again', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0);
  const s = setup('lru-purge');
  try {
    s.send(UDP, 30);
    s.send(TCP, 4);
    const before = s.dp.flows({ vip: UDP });
    const victim = before.perReal[0];
    const dry = s.dp.purgeFlows({ vip: UDP, real: victim.real }, { dryRun: true });
    assert.equal(dry.applied, false);
    assert.equal(dry.flows, victim.flows);
    assert.equal(s.dp.flows({ vip: UDP }).matched, 30, 'a dry run deletes nothing');
    const one = s.dp.purgeFlows({ vip: UDP, real: victim.real });
    assert.equal(one.flows, victim.flows);
    assert.match(one.summary[0], /hashed again/);
    assert.equal(s.dp.flows({ vip: UDP, real: victim.real }).matched, 0);
    assert.equal(s.dp.flows({ vip: UDP }).matched, 30 - victim.flows);
    const all = s.dp.purgeFlows({ vip: UDP });
    assert.equal(all.flows, 30 - victim.flows);
    assert.equal(s.dp.flows({ vip: UDP }).matched, 0);
    assert.equal(s.dp.flows({ vip: TCP }).matched, 4, 'other VIPs keep their flows');
    assert.ok(s.dp.changeLog().some((e) => e.op === 'lru-purge'));
    // the next packets miss the LRU (hashed again by the ring) and are held again
    const miss0 = s.dp.sample().global.lru.v2;
    s.send(UDP, 30);
    assert.equal(s.dp.sample().global.lru.v2 - miss0, 30);
    assert.equal(s.dp.flows({ vip: UDP }).matched, 30);
  } finally {
    s.close();
    unpin();
  }
});

test('lru on a read-only handle: list works, purge is refused and deletes nothing', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0);
  const s = setup('lru-ro');
  try {
    s.send(UDP, 6);
    const ro = Balancer.open(handleFrom(s.lb, { intf: 'klru', readOnly: true, readOnlyReason: 'observing' }), {});
    try {
      assert.equal(ro.flows({}).matched, 6);
      assert.throws(() => ro.purgeFlows({ vip: UDP }), (e: unknown) => e instanceof ReadOnlyError);
      assert.equal(ro.purgeFlows({ vip: UDP }, { dryRun: true }).flows, 6);
      assert.equal(s.dp.flows({}).matched, 6);
    } finally {
      ro.close();
    }
  } finally {
    s.close();
    unpin();
  }
});

test('drain numbers: a weight change or removal names the flows held on reals that lose ring slots; removing a real that holds flows warns', async (t) => {
  if (!(await requireBpf(t))) return;
  const unpin = pinToCpu(0);
  const s = setup('lru-drain');
  try {
    s.send(UDP, 40);
    const per = new Map(s.dp.flows({ vip: UDP }).perReal.map((r) => [r.real, r.flows]));
    const victim = REALS.find((r) => (per.get(r) ?? 0) > 0)!;
    const n = per.get(victim)!;
    const drain = s.dp.setRealWeight(UDP, victim, 0, { dryRun: true });
    assert.ok(drain.summary.includes(`192.0.2.10:53/udp: ${n} flow(s) held in the LRU are on reals that lose ring slots (${victim} ${n})`), drain.summary.join('\n'));
    // a weight increase: the others lose slots, and their flows are counted
    const up = s.dp.setRealWeight(UDP, victim, 5, { dryRun: true });
    const others = 40 - n;
    assert.ok(up.summary.some((l) => l.startsWith(`192.0.2.10:53/udp: ${others} flow(s) held in the LRU are on reals that lose ring slots`)), up.summary.join('\n'));
    const del = s.dp.removeReal(UDP, victim);
    assert.equal(del.applied, true);
    assert.ok(del.warnings.some((w) => w.startsWith(`${victim} still holds ${n} flow(s) of 192.0.2.10:53/udp in the LRU`)), del.warnings.join('\n'));
    // the TCP VIP (no flows) changes with "0 held"
    const tcp = s.dp.setRealWeight(TCP, REALS[0], 0, { dryRun: true });
    assert.ok(tcp.summary.includes('192.0.2.11:80/tcp: 0 flow(s) held in the LRU are on reals that lose ring slots'), tcp.summary.join('\n'));
    // config apply says the same, through the same policy
    const cfg = s.dp.applyConfig({ vips: [{ key: UDP, reals: REALS.filter((r) => r !== victim).map((address) => ({ address, weight: 1 })).slice(0, 1) }, { key: TCP, reals: REALS.map((address) => ({ address, weight: 1 })) }] }, { dryRun: true });
    assert.ok(cfg.summary.some((l) => /^192\.0\.2\.10:53\/udp: \d+ flow\(s\) held in the LRU are on reals that lose ring slots/.test(l)), cfg.summary.join('\n'));
  } finally {
    s.close();
    unpin();
  }
});
