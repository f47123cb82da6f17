// The tc healthcheck program through prog_test_run with a struct __sk_buff ctx carrying the mark:
// marked probes come out encapsulated toward their real, byte-exact, with the mark cleared and
// TC_ACT_REDIRECT; unmarked and unknown marks pass untouched. (Where the redirect really goes is
// not visible in test_run: the lab test checks that.)
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, TestRunner, mapUpdate, numPossibleCpus, mapLookup } from '../../src/dataplane/kernel/libbpf.js';
import { MAP, parseMac, realDefinition, u32Key } from '../../src/dataplane/abi.js';
import { bundledObject } from '../../src/dataplane/kernel/paths.js';
import { requireBpf } from '../helpers/env.js';
import { ETH_P, PROTO, ethernet, flowFrame, ipv4, ipv6, parseEncap } from '../helpers/packets.js';

const TC_ACT_UNSPEC = 0xffffffff; // -1 as the u32 retval
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const SKB_SIZE = 192; // sizeof(struct __sk_buff) on 6.x
const SKB_MARK = 8; // offsetof(struct __sk_buff, mark)

const SRC_MAC = '02:00:00:00:0a:01';
const GW_MAC = '02:00:00:00:0a:fe';
const HC_SRC4 = '198.51.100.250';
const HC_SRC6 = '2001:db8:1::fa';
const MAIN_IFINDEX = 42;
const REAL4 = '198.51.100.11';
const REAL6 = '2001:db8:1::11';

function skb(mark: number): Buffer {
  const b = Buffer.alloc(SKB_SIZE);
  b.writeUInt32LE(mark >>> 0, SKB_MARK);
  return b;
}

let obj: BpfObject | undefined;
let runner: TestRunner;
let fds: Record<string, number> = {};

function hcStats(): { processed: bigint; dropped: bigint; skipped: bigint; tooBig: bigint } {
  const n = numPossibleCpus();
  const buf = Buffer.alloc(32 * n);
  mapLookup(fds[MAP.hcStats], u32Key(0), buf);
  const s = { processed: 0n, dropped: 0n, skipped: 0n, tooBig: 0n };
  for (let c = 0; c < n; c++) {
    s.processed += buf.readBigUInt64LE(c * 32);
    s.dropped += buf.readBigUInt64LE(c * 32 + 8);
    s.skipped += buf.readBigUInt64LE(c * 32 + 16);
    s.tooBig += buf.readBigUInt64LE(c * 32 + 24);
  }
  return s;
}

function statDelta(b: ReturnType<typeof hcStats>, a: ReturnType<typeof hcStats>): number[] {
  return [Number(a.processed - b.processed), Number(a.dropped - b.dropped), Number(a.skipped - b.skipped), Number(a.tooBig - b.tooBig)];
}

function setCtrl(ifindex: number): void {
  const v = Buffer.alloc(4);
  v.writeUInt32LE(ifindex, 0);
  mapUpdate(fds[MAP.hcCtrl], u32Key(3), v);
}

describe('healthcheck_encap (tc, direct style)', () => {
  after(() => {
    runner?.close();
    obj?.close();
  });

  async function setup(t: Parameters<typeof requireBpf>[0]): Promise<boolean> {
    if (!(await requireBpf(t))) return false;
    if (obj) return true;
    obj = BpfObject.open(bundledObject('healthcheck'));
    obj.load();
    fds = Object.fromEntries(obj.maps().filter((m) => !m.name.startsWith('.')).map((m) => [m.name, m.fd]));
    runner = new TestRunner(obj.program('healthcheck_encap')!.fd, 2048, 'healthcheck_encap');
    const mac = (m: string) => Buffer.from(parseMac(m));
    mapUpdate(fds[MAP.hcMacs], u32Key(0), mac(SRC_MAC));
    mapUpdate(fds[MAP.hcMacs], u32Key(1), mac(GW_MAC));
    mapUpdate(fds[MAP.hcSrcs], u32Key(0), realDefinition.encode({ address: HC_SRC4 }));
    mapUpdate(fds[MAP.hcSrcs], u32Key(1), realDefinition.encode({ address: HC_SRC6 }));
    const k = Buffer.alloc(4);
    k.writeUInt32LE(0x1001, 0);
    mapUpdate(fds[MAP.hcReals], k, realDefinition.encode({ address: REAL4 }));
    k.writeUInt32LE(0x1002, 0);
    mapUpdate(fds[MAP.hcReals], k, realDefinition.encode({ address: REAL6 }));
    return true;
  }

  const probe4 = flowFrame({ src: '192.0.2.10', dst: '192.0.2.10', sport: 33000, dport: 80, proto: 'tcp', flags: 'S', tos: 0x20, ethDst: '02:00:00:00:00:33', ethSrc: '02:00:00:00:00:44' });
  const probe6 = flowFrame({ src: '2001:db8::10', dst: '2001:db8::10', sport: 33000, dport: 443, proto: 'tcp', flags: 'S', tos: 0x48 });

  it('without the main ifindex a marked probe is dropped and counted', async (t) => {
    if (!(await setup(t))) return;
    setCtrl(0);
    const b = hcStats();
    const r = runner.run(probe4, 1, skb(0x1001));
    assert.equal(r.retval, TC_ACT_SHOT);
    assert.deepEqual(statDelta(b, hcStats()), [0, 1, 0, 0]);
    setCtrl(MAIN_IFINDEX);
  });

  it('a probe marked for an IPv4 real: IPIP byte-exact, mark cleared, redirected', async (t) => {
    if (!(await setup(t))) return;
    setCtrl(MAIN_IFINDEX);
    const b = hcStats();
    const r = runner.run(probe4, 1, skb(0x1001));
    assert.equal(r.retval, TC_ACT_REDIRECT);
    const want = ethernet({ dst: GW_MAC, src: SRC_MAC, type: ETH_P.ipv4 },
      ipv4({ src: HC_SRC4, dst: REAL4, proto: PROTO.ipip, tos: 0x20, ttl: 64, id: 0 }, probe4.subarray(14)));
    assert.equal(r.data.toString('hex'), want.toString('hex'));
    const p = parseEncap(r.data);
    assert.ok(p.outer.family === 4 && p.outer.ip.checksumOk);
    assert.equal(r.ctx!.readUInt32LE(SKB_MARK), 0, 'mark cleared');
    assert.deepEqual(statDelta(b, hcStats()), [1, 0, 0, 0]);
  });

  it('a probe marked for an IPv6 real: IP6IP6 byte-exact; an IPv4 probe to it: IPv4-in-IPv6', async (t) => {
    if (!(await setup(t))) return;
    setCtrl(MAIN_IFINDEX);
    let r = runner.run(probe6, 1, skb(0x1002));
    assert.equal(r.retval, TC_ACT_REDIRECT);
    let want = ethernet({ dst: GW_MAC, src: SRC_MAC, type: ETH_P.ipv6 },
      ipv6({ src: HC_SRC6, dst: REAL6, next: PROTO.ipv6, tclass: 0x48, hopLimit: 64 }, probe6.subarray(14)));
    assert.equal(r.data.toString('hex'), want.toString('hex'));
    assert.equal(r.ctx!.readUInt32LE(SKB_MARK), 0);

    r = runner.run(probe4, 1, skb(0x1002));
    assert.equal(r.retval, TC_ACT_REDIRECT);
    want = ethernet({ dst: GW_MAC, src: SRC_MAC, type: ETH_P.ipv6 },
      ipv6({ src: HC_SRC6, dst: REAL6, next: PROTO.ipip, tclass: 0x20, hopLimit: 64 }, probe4.subarray(14)));
    assert.equal(r.data.toString('hex'), want.toString('hex'));
  });

  it('unmarked packets and unknown marks pass untouched', async (t) => {
    if (!(await setup(t))) return;
    setCtrl(MAIN_IFINDEX);
    for (const mark of [0, 0x9999, 0x1003]) {
      const b = hcStats();
      const r = runner.run(probe4, 1, skb(mark));
      assert.equal(r.retval, TC_ACT_UNSPEC, `mark ${mark}`);
      assert.ok(r.data.equals(probe4), `mark ${mark}: bytes untouched`);
      assert.equal(r.ctx!.readUInt32LE(SKB_MARK), mark, `mark ${mark} kept`);
      assert.deepEqual(statDelta(b, hcStats()), [0, 0, 1, 0]);
    }
  });

  it('a probe too big to encapsulate within 1514 bytes is dropped and counted', async (t) => {
    if (!(await setup(t))) return;
    setCtrl(MAIN_IFINDEX);
    const big = flowFrame({ src: '192.0.2.10', dst: '192.0.2.10', sport: 1, dport: 80, proto: 'udp', payloadLen: 1514 - 42 - 10 });
    const b = hcStats();
    assert.equal(runner.run(big, 1, skb(0x1001)).retval, TC_ACT_SHOT);
    assert.deepEqual(statDelta(b, hcStats()), [0, 0, 0, 1]);
    const fits = flowFrame({ src: '192.0.2.10', dst: '192.0.2.10', sport: 1, dport: 80, proto: 'udp', payloadLen: 1514 - 42 - 20 });
    assert.equal(runner.run(fits, 1, skb(0x1001)).retval, TC_ACT_REDIRECT);
  });
});
