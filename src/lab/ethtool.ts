// An interface's driver statistics (what `ethtool -S` prints) through the SIOCETHTOOL ioctl, in
// the calling process's network namespace. The lab reads veth's per-queue XDP counters with it:
// rx_queue_0_xdp_packets (frames its XDP program saw), _xdp_tx / _xdp_tx_errors (XDP_TX sent /
// failed), _drops, and tx_queue_0_xdp_xmit / _xdp_xmit_errors (frames this device put into its
// peer's ring / lost because the ring was full or the peer had no XDP: the kernel keeps those on
// the peer's receive queue, ethtool shows them here).
import { BpfError, ERRNO, ETHTOOL, NativeBuffer } from '../dataplane/kernel/libbpf.js';
import { interfaceIoctl } from './libc.js';

const { SIOCETHTOOL, GSTRINGS: ETHTOOL_GSTRINGS, GSTATS: ETHTOOL_GSTATS, GSSET_INFO: ETHTOOL_GSSET_INFO, SS_STATS: ETH_SS_STATS,
  GSTRING_LEN: ETH_GSTRING_LEN, GGRO: ETHTOOL_GGRO, SGRO: ETHTOOL_SGRO } = ETHTOOL;

/** One SIOCETHTOOL call: `ifr` names the interface, `cmd` is the ethtool command block. */
function ethtool(ifname: string, ifr: Buffer, cmd: NativeBuffer, what: string): void {
  ifr.writeBigUInt64LE(cmd.ptr, 16);
  const e = interfaceIoctl(SIOCETHTOOL, ifr);
  if (e) throw new BpfError(`ethtool: ${what} of`, `interface ${ifname}`, e);
}

/** Reads every statistic of `ifname`; throws BpfError (ENODEV: no such interface here). */
export function ethtoolStats(ifname: string): Record<string, number> {
  if (Buffer.byteLength(ifname) > 15) throw new BpfError('read statistics of', `interface ${ifname}`, ERRNO.EINVAL, 'interface names have at most 15 characters');
  const ifr = Buffer.alloc(40);
  ifr.write(ifname, 0, 'utf8');
  let cmd: NativeBuffer | undefined;
  const call = (b: NativeBuffer, what: string): void => ethtool(ifname, ifr, b, what);
  try {
    cmd = new NativeBuffer(16 + 4);
    cmd.view.setUint32(0, ETHTOOL_GSSET_INFO, true);
    cmd.view.setBigUint64(8, 1n << BigInt(ETH_SS_STATS), true);
    call(cmd, 'statistics count');
    const n = cmd.view.getBigUint64(8, true) ? cmd.view.getUint32(16, true) : 0;
    cmd.free();
    if (n === 0 || n > 4096) return {};
    cmd = new NativeBuffer(12 + n * ETH_GSTRING_LEN);
    cmd.view.setUint32(0, ETHTOOL_GSTRINGS, true);
    cmd.view.setUint32(4, ETH_SS_STATS, true);
    cmd.view.setUint32(8, n, true);
    call(cmd, 'statistics names');
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      const raw = Buffer.from(cmd.bytes.subarray(12 + i * ETH_GSTRING_LEN, 12 + (i + 1) * ETH_GSTRING_LEN));
      names.push(raw.toString('utf8').replace(/\0.*$/s, ''));
    }
    cmd.free();
    cmd = new NativeBuffer(8 + n * 8);
    cmd.view.setUint32(0, ETHTOOL_GSTATS, true);
    cmd.view.setUint32(4, n, true);
    call(cmd, 'statistics');
    const out: Record<string, number> = {};
    const got = Math.min(n, cmd.view.getUint32(4, true));
    for (let i = 0; i < got; i++) out[names[i]] = Number(cmd.view.getBigUint64(8 + i * 8, true));
    return out;
  } finally {
    cmd?.free();
  }
}

/** The XDP counters of veth's queue 0 (0 when the driver does not have one). */
export function vethXdp(stats: Record<string, number>): { rxXdp: number; rxDrops: number; xdpDrops: number; xdpTx: number; xdpTxErr: number; xmit: number; xmitErr: number; xdpRedirect: number } {
  const g = (k: string): number => stats[k] ?? 0;
  return {
    rxXdp: g('rx_queue_0_xdp_packets'),
    rxDrops: g('rx_queue_0_drops'),
    xdpDrops: g('rx_queue_0_xdp_drops'),
    xdpTx: g('rx_queue_0_xdp_tx'), // made it into the peer's ring
    xdpTxErr: g('rx_queue_0_xdp_tx_errors'), // did not (ring full, or the peer has no XDP)
    xdpRedirect: g('rx_queue_0_xdp_redirect'),
    xmit: g('tx_queue_0_xdp_xmit'),
    xmitErr: g('tx_queue_0_xdp_xmit_errors'),
  };
}


/**
 * Turns GRO on or off (ETHTOOL_SGRO). On a veth GRO also turns its NAPI on without a native XDP
 * program: frames its peer sends with XDP (the generator's live frames) are then received, as
 * skbs, instead of dropped uncounted. A generic-mode balancer on the lab's veth needs it.
 */
export function setGro(ifname: string, on: boolean): void {
  const ifr = Buffer.alloc(40);
  ifr.write(ifname, 0, 'utf8');
  const v = new NativeBuffer(8);
  try {
    v.view.setUint32(0, ETHTOOL_GGRO, true);
    ethtool(ifname, ifr, v, 'GRO');
    if ((v.view.getUint32(4, true) !== 0) === on) return;
    v.view.setUint32(0, ETHTOOL_SGRO, true);
    v.view.setUint32(4, on ? 1 : 0, true);
    ethtool(ifname, ifr, v, `GRO (turning it ${on ? 'on' : 'off'})`);
  } finally {
    v.free();
  }
}

/** after - before, per counter of vethXdp(). */
export function vethXdpDelta(before: Record<string, number>, after: Record<string, number>): ReturnType<typeof vethXdp> {
  const a = vethXdp(after);
  const b = vethXdp(before);
  for (const k of Object.keys(a) as (keyof typeof a)[]) a[k] -= b[k];
  return a;
}
