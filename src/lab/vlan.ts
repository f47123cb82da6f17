// The lab's VLAN "switch" (this kernel has no 802.1Q devices and no VLAN-filtering bridge), built
// from BPF like a trunk port: bpf/vlan_tagger.bpf.c on the client veth's tc egress tags client
// traffic on its way to the balancer; the sink (bpf/sink.bpf.c) on the same veth counts what comes
// back per VLAN and per real and checks each VLAN's gateway MAC. tx VLAN offload is turned off on
// the client veth (SIOCETHTOOL) so the tag is in the frame XDP sees; with it on (veth's default),
// XDP on the balancer's side gets the frame without its tag (the tag rides in skb metadata).
import { existsSync } from 'node:fs';
import { formatIp, parseMac, type VlanKey } from '../dataplane/abi.js';
import {
  BPF_PROG_TYPE, BpfObject, ifNameToIndex, mapLookup, mapNextKey, mapUpdate, setLinkFeatures, tcAttachEgress,
} from '../dataplane/kernel/libbpf.js';
import { bundledObject } from '../dataplane/kernel/paths.js';
import { inNetns } from './libc.js';
import { vlanTags, type LabVlanTag } from './frames.js';
import { InterfaceMissingError, NotABalancerError, ObjectMissingError } from '../dataplane/errors.js';

/** The tags the switch puts on client traffic (frames.ts: the generator tags its frames the same way). */
export type { LabVlanTag } from './frames.js';

export interface LabVlanCount {
  vlan: VlanKey;
  /** Outer destination: the real. */
  real: string;
  packets: number;
  bytes: number;
  /** Frames whose Ethernet destination was not this VLAN's gateway (sink_vlan_cfg, else the lab default). */
  wrongMac: number;
}

export interface LabVlanSwitch {
  /** Tags every client IPv4 / IPv6 frame from now on; null: untagged. */
  setClientVlan(tag: LabVlanTag | null): void;
  /** tx-vlan-hw-insert / tx-vlan-stag-hw-insert on the client veth (off by default here). */
  setTxVlanOffload(on: boolean): void;
  /** The gateway MAC the balancer must use on egress VLAN `vlan` (the sink checks it). */
  setGatewayMac(vlan: VlanKey, mac: string): void;
  /** What came back encapsulated behind a tag, per (VLAN, real). */
  counts(): LabVlanCount[];
  /** Frames the tagger tagged (and pushes that failed). */
  tagged(): { frames: number; failed: number };
  /** (Re)attaches the tagger to the client veth (after the lab re-creates its link). */
  attach(): void;
  close(): void;
}

const TC_HANDLE = 1;
const TC_PRIORITY = 1;

export function createVlanSwitch(o: { ns: string; peer: string; sink: BpfObject; taggerObject?: string }): LabVlanSwitch {
  const path = o.taggerObject ?? bundledObject('vlan_tagger');
  if (!existsSync(path)) throw new ObjectMissingError('open BPF object', path, `open BPF object ${path}: the lab's VLAN tagger object is missing: run npm run build`);
  const counts = o.sink.map('sink_vlan_counts');
  const macs = o.sink.map('sink_vlan_cfg');
  if (!counts || !macs) throw new NotABalancerError('open', 'the lab sink', 'this sink object counts no VLANs (sink_vlan_counts / sink_vlan_cfg)');
  const obj = BpfObject.open(path);
  try {
    obj.load();
    const prog = obj.programs().find((p) => p.type === BPF_PROG_TYPE.SCHED_CLS);
    const cfg = obj.map('vlan_tagger_cfg');
    const cnt = obj.map('vlan_tagger_count');
    if (!prog || !cfg || !cnt) throw new NotABalancerError('open', path, 'no tc program / maps in the VLAN tagger object');
    const progFd = prog.fd;
    const cfgFd = cfg.fd;
    const cntFd = cnt.fd;
    const countsFd = counts.fd;
    const macsFd = macs.fd;
    const setOffload = (on: boolean): void => inNetns(o.ns, () => setLinkFeatures(o.peer, { 'tx-vlan-hw-insert': on, 'tx-vlan-stag-hw-insert': on }));
    const sw: LabVlanSwitch = {
      setClientVlan(tag) {
        const v = Buffer.alloc(8);
        if (tag) {
          const [outer, inner] = vlanTags(tag);
          v.writeUInt16LE(outer.tpid, 0);
          v.writeUInt16LE(outer.tci, 2);
          v.writeUInt16LE(inner?.tci ?? 0, 4);
        }
        mapUpdate(cfgFd, Buffer.alloc(4), v, 0, 'map vlan_tagger_cfg');
      },
      setTxVlanOffload: setOffload,
      setGatewayMac(vlan, mac) {
        const k = Buffer.alloc(4);
        k.writeUInt16LE(vlan.outer, 0);
        k.writeUInt16LE(vlan.inner, 2);
        const v = Buffer.alloc(8);
        parseMac(mac).copy(v, 0);
        mapUpdate(macsFd, k, v, 0, 'map sink_vlan_cfg');
      },
      counts() {
        const out: LabVlanCount[] = [];
        const v = Buffer.alloc(24);
        let prev: Buffer | null = null;
        for (let i = 0; i < 65536; i++) {
          const k = Buffer.alloc(24);
          if (!mapNextKey(countsFd, prev, k, 'map sink_vlan_counts')) break;
          prev = k;
          if (!mapLookup(countsFd, k, v, 'map sink_vlan_counts')) continue;
          out.push({
            vlan: { outer: k.readUInt16LE(0), inner: k.readUInt16LE(2) },
            real: formatIp(k[4 + 16] === 6 ? k.subarray(4, 20) : k.subarray(4, 8)),
            packets: Number(v.readBigUInt64LE(0)),
            bytes: Number(v.readBigUInt64LE(8)),
            wrongMac: Number(v.readBigUInt64LE(16)),
          });
        }
        return out.sort((a, b) => a.vlan.outer - b.vlan.outer || a.vlan.inner - b.vlan.inner || a.real.localeCompare(b.real));
      },
      tagged() {
        const v = Buffer.alloc(16);
        mapLookup(cntFd, Buffer.alloc(4), v, 'map vlan_tagger_count');
        return { frames: Number(v.readBigUInt64LE(0)), failed: Number(v.readBigUInt64LE(8)) };
      },
      attach() {
        inNetns(o.ns, () => {
          const ifindex = ifNameToIndex(o.peer);
          if (!ifindex) throw new InterfaceMissingError('attach the VLAN tagger to', `interface ${o.peer}`, `not in namespace ${o.ns}`);
          setLinkFeatures(o.peer, { 'tx-vlan-hw-insert': false, 'tx-vlan-stag-hw-insert': false });
          tcAttachEgress(ifindex, progFd, TC_HANDLE, TC_PRIORITY, `interface ${o.peer}`);
        });
      },
      close() {
        obj.close();
      },
    };
    sw.attach();
    return sw;
  } catch (e) {
    obj.close();
    throw e;
  }
}
