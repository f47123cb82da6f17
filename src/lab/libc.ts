// The lab's own binding to the C library: an AF_PACKET socket that sends the lab's crafted
// Ethernet frames, setns for set-up inside a lab namespace, interface ioctls (SIOCETHTOOL: veth
// statistics, GRO) and thread affinity (NAPI threads). Kept out of the product's binding
// (src/dataplane/kernel/libbpf.ts): the balancer never sends packets, changes namespace nor tunes
// interfaces.
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { BpfError } from '../dataplane/kernel/libbpf.js';
import { ClosedError, InputError, InterfaceMissingError } from '../dataplane/errors.js';

interface Libc {
  close(fd: number): number;
  if_nametoindex(name: string): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, val: Uint8Array, len: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrlen: number): number | bigint;
  ioctl(fd: number, request: number, arg: Uint8Array): number;
  sched_setaffinity(pid: number, size: number, mask: Uint8Array): number;
  setns(fd: number, nstype: number): number;
}

let cache: Libc | undefined;
function libc(): Libc {
  if (cache) return cache;
  const lib = koffi.load('libc.so.6');
  cache = {
    close: lib.func('int close(int fd)'),
    if_nametoindex: lib.func('unsigned int if_nametoindex(const char *name)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const uint8_t *val, uint32_t len)'),
    sendto: lib.func('intptr_t sendto(int fd, const uint8_t *buf, size_t len, int flags, const uint8_t *addr, uint32_t addrlen)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
    sched_setaffinity: lib.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)'),
    setns: lib.func('int setns(int fd, int nstype)'),
  };
  return cache;
}

/** <linux/socket.h>, <linux/if_ether.h>: the numbers of an AF_PACKET raw socket with SO_MARK. */
const C = { AF_INET: 2, AF_PACKET: 17, SOCK_DGRAM: 2, SOCK_RAW: 3, SOCK_CLOEXEC: 0o2000000, SOL_SOCKET: 1, SO_MARK: 36, ETH_P_ALL: 0x0003, CLONE_NEWNET: 0x40000000 } as const;

/**
 * An interface ioctl (`ifr`: a struct ifreq, 40 bytes, the name first) on a throwaway socket, in
 * this process's network namespace. Returns 0, or the errno.
 */
export function interfaceIoctl(request: number, ifr: Uint8Array): number {
  const c = libc();
  const fd = c.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_CLOEXEC, 0);
  if (fd < 0) return koffi.errno();
  try {
    return c.ioctl(fd, request, ifr) < 0 ? koffi.errno() : 0;
  } finally {
    c.close(fd);
  }
}

/** Pins a thread (any pid, e.g. a kernel NAPI thread) to one CPU. */
export function pinThread(pid: number, cpu: number): void {
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] |= 1 << (cpu & 7);
  if (libc().sched_setaffinity(pid, mask.length, mask) < 0) throw new BpfError('pin to', `cpu ${cpu}`, koffi.errno(), `thread ${pid}`);
}

/** An AF_PACKET socket that sends whole Ethernet frames out of one interface (send only). */
export class PacketSender {
  private fd: number;
  /** struct sockaddr_ll: family, protocol, ifindex, hatype, pkttype, halen, addr[8]. */
  private readonly addr = Buffer.alloc(20);
  /** `mark`: SO_MARK for every frame sent (skb->mark, as a healthcheck probe carries). */
  constructor(readonly ifname: string, mark?: number) {
    const c = libc();
    const ifindex = c.if_nametoindex(ifname);
    if (ifindex === 0) throw new InterfaceMissingError('open packet socket on', `interface ${ifname}`);
    const fd = c.socket(C.AF_PACKET, C.SOCK_RAW | C.SOCK_CLOEXEC, 0);
    if (fd < 0) throw new BpfError('open packet socket on', `interface ${ifname}`, koffi.errno());
    this.fd = fd;
    if (mark !== undefined) {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(mark >>> 0, 0);
      if (c.setsockopt(fd, C.SOL_SOCKET, C.SO_MARK, v, 4) < 0) {
        const e = koffi.errno();
        c.close(fd);
        throw new BpfError('set SO_MARK on', `packet socket of ${ifname}`, e);
      }
    }
    this.addr.writeUInt16LE(C.AF_PACKET, 0);
    this.addr.writeUInt16BE(C.ETH_P_ALL, 2);
    this.addr.writeInt32LE(ifindex, 4);
    this.addr[11] = 6;
  }

  send(frame: Uint8Array): void {
    if (this.fd < 0) throw new ClosedError('send on', `interface ${this.ifname}`, 'socket closed');
    if (frame.length >= 6) this.addr.set(frame.subarray(0, 6), 12);
    const n = Number(libc().sendto(this.fd, frame, frame.length, 0, this.addr, this.addr.length));
    if (n < 0) throw new BpfError('send on', `interface ${this.ifname}`, koffi.errno());
  }

  close(): void {
    if (this.fd >= 0) {
      libc().close(this.fd);
      this.fd = -1;
    }
  }
}

/**
 * Runs fn (synchronous) with this thread in the named network namespace (/run/netns/NAME, as
 * `ip netns add` makes it), then returns the thread to its own. For lab set-up only: netlink and
 * ioctl sockets that fn opens (libbpf's tc calls, if_nametoindex) are the namespace's.
 */
export function inNetns<T>(ns: string, fn: () => T): T {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(ns)) throw InputError.at('enter', `network namespace ${ns}`, 'bad namespace name');
  const own = openSync('/proc/thread-self/ns/net', 'r');
  let target: number | undefined;
  try {
    target = openSync(`/run/netns/${ns}`, 'r');
    if (libc().setns(target, C.CLONE_NEWNET) < 0) throw new BpfError('enter', `network namespace ${ns}`, koffi.errno());
    try {
      return fn();
    } finally {
      if (libc().setns(own, C.CLONE_NEWNET) < 0) {
        // Staying in the lab namespace would send every later socket there: stop instead.
        throw new BpfError('return from', `network namespace ${ns}`, koffi.errno(), 'cannot return to the original namespace');
      }
    }
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(own);
  }
}
