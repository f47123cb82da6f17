// The console's forms: what each asks and which dataplane call it makes.
import { DEFAULT_HASH, DEFAULT_WEIGHT, HASH_KINDS, PROTOS, formatMac, formatVlan, parseHash, parseMac, parsePort, parseProto, parseVlanAttach, parseVlanMapping, parseWeight, XDP_MODE_REQUESTS } from '../../dataplane/abi.js';
import { parseRealAddress, parseVipAddress, parseVipFlagList } from '../../dataplane/rules.js';
import type { AsyncDataplane as Dataplane, AsyncHost as Host } from '../../dataplane/async.js';
import type { AttachRequest, BalancerInfo, InterfaceInfo, InterfaceState, RealState, VipState, VlanMappingText, XdpModeRequest } from '../../dataplane/types.js';
import { fmtMac, fmtPps } from '../format.js';
import type { FormSpec } from './Form.js';
import { splitList, vFlags, vMac, vOneOf, vOptionalMac, vPort, vRealAddress, vVipAddress, vVlanEgress, vVlanList, vVlanMacList, vNewVlanMapping, vWeight } from './validate.js';
import { vlanGateway, vlanPath } from '../model/vlans.js';

export function addVipForm(dp: Dataplane, info: BalancerInfo): FormSpec {
  return {
    title: 'Add VIP',
    fields: [
      { name: 'address', label: 'address', hint: 'e.g. 192.0.2.1 or 2001:db8::1', validate: vVipAddress },
      { name: 'port', label: 'port', hint: '0 matches every port', validate: vPort },
      { name: 'proto', label: 'protocol', kind: 'choice', choices: [...PROTOS] },
      { name: 'flags', label: 'flags', hint: `optional: ${info.vipFlagsSupported.join(',')}`, validate: vFlags(info.vipFlagsSupported) },
      { name: 'hash', label: 'hash', kind: 'choice', choices: [...HASH_KINDS], initial: DEFAULT_HASH },
    ],
    build(v) {
      const spec = {
        address: parseVipAddress(v.address), port: parsePort(v.port, 'VIP port'), proto: parseProto(v.proto),
        flags: parseVipFlagList(v.flags ?? '', info.vipFlagsSupported), hash: parseHash(v.hash),
      };
      return { label: 'add VIP', run: (o) => dp.addVip(spec, o) };
    },
  };
}

export function deleteVipForm(dp: Dataplane, vip: VipState): FormSpec {
  return {
    title: `Delete VIP ${vip.id}`,
    note: `${vip.reals.length} real(s), flags ${vip.flags.join(',') || 'none'}`,
    fields: [],
    build: () => ({ label: `delete VIP ${vip.id}`, run: (o) => dp.removeVip(vip.key, o) }),
  };
}

export function addRealForm(dp: Dataplane, vip: VipState): FormSpec {
  return {
    title: `Add real to ${vip.id}`,
    fields: [
      { name: 'address', label: 'address', hint: 'e.g. 198.51.100.1', validate: vRealAddress(vip.key) },
      { name: 'weight', label: 'weight', initial: String(DEFAULT_WEIGHT), validate: vWeight },
    ],
    build(v) {
      const real = { address: parseRealAddress(v.address).address, weight: parseWeight(v.weight) };
      return { label: `add real ${real.address}`, run: (o) => dp.addReal(vip.key, real, o) };
    },
  };
}

export function weightForm(dp: Dataplane, vip: VipState, real: RealState): FormSpec {
  return {
    title: `Weight of ${real.address} on ${vip.id}`,
    note: `now ${real.weight}; 0 drains the real (no new flows)`,
    fields: [{ name: 'weight', label: 'weight', initial: String(real.weight), validate: vWeight }],
    build(v) {
      const w = parseWeight(v.weight);
      return { label: `set weight of ${real.address}`, run: (o) => dp.setRealWeight(vip.key, real.address, w, o) };
    },
  };
}

export function drainForm(dp: Dataplane, vip: VipState, real: RealState, load?: RealLoad): FormSpec {
  const note = loadNote(real, load);
  return {
    title: `Drain ${real.address} on ${vip.id}`,
    note: note ? `${note}; weight ${real.weight} -> 0: new flows go elsewhere, held ones stay until they end` : `weight ${real.weight} -> 0: new flows go elsewhere`,
    fields: [],
    build: () => ({ label: `drain ${real.address}`, run: (o) => dp.setRealWeight(vip.key, real.address, 0, o) }),
  };
}

/** Marks a real of a udp-flow-migration VIP down (its LRU hits are re-hashed) or back up. */
export function downForm(dp: Dataplane, vip: VipState, real: RealState): FormSpec {
  const down = !real.down;
  return {
    title: `Mark ${real.address} ${down ? 'down' : 'up'} on ${vip.id}`,
    note: down ? 'its LRU hits are re-hashed; the ring is unchanged, so the hash may pick it again (drain it too to keep new flows away)' : 'its LRU hits stay on it again',
    fields: [],
    build: () => ({ label: `mark ${real.address} ${down ? 'down' : 'up'}`, run: (o) => dp.setRealDown(vip.key, real.address, down, o) }),
  };
}

/** What a real still carries, for the y/N of a drain or a removal: flows held in the LRU and pps now. */
export interface RealLoad { flows: number | null; pps: number | null }

export function loadNote(real: RealState, l: RealLoad | undefined): string | undefined {
  if (!l || (l.flows === null && l.pps === null)) return undefined;
  const parts = [l.flows !== null ? `${l.flows} flow(s) held in the LRU` : null, l.pps !== null ? `${fmtPps(l.pps)} pps now` : null].filter(Boolean);
  return `${real.address}: ${parts.join(', ')}`;
}

export function removeRealForm(dp: Dataplane, vip: VipState, real: RealState, load?: RealLoad): FormSpec {
  const note = loadNote(real, load);
  return {
    title: `Remove real ${real.address} from ${vip.id}`,
    ...(note ? { note: `${note}: held flows keep going to it until they age out (purge them from the LRU view: F, then d)` } : {}),
    fields: [],
    build: () => ({ label: `remove real ${real.address}`, run: (o) => dp.removeReal(vip.key, real.address, o) }),
  };
}

export function macForm(dp: Dataplane, info: BalancerInfo): FormSpec {
  return {
    title: 'Default gateway MAC',
    note: `now ${fmtMac(info.defaultMac)}: every encapsulated packet goes to this MAC`,
    fields: [{ name: 'mac', label: 'MAC', initial: info.defaultMac ?? '', hint: 'e.g. 58:e4:34:56:46:e0', validate: vMac }],
    build(v) {
      const mac = v.mac.trim();
      return { label: 'set default MAC', run: (o) => dp.setDefaultMac(mac, o) };
    },
  };
}

export function detachForm(dp: Dataplane, info: BalancerInfo): FormSpec {
  return {
    title: `Detach the balancer from ${info.intf}`,
    note: 'Traffic to every VIP stops being balanced. Type the interface name to go on.',
    fields: [{ name: 'intf', label: 'interface', validate: (v) => (v.trim() === info.intf ? null : `type ${info.intf} to confirm`) }],
    build: () => ({ label: 'detach', run: (o) => dp.detach(o) }),
  };
}

/** Re-attach the pinned program after the interface came back: shows the dry run, then y/N. */
export function reattachForm(dp: Dataplane, st: InterfaceState): FormSpec {
  return {
    title: `Re-attach the balancer to ${st.intf}`,
    note: st.message,
    fields: [],
    build: () => ({ label: `re-attach to ${st.intf}`, run: (o) => dp.reattach(o) }),
  };
}

/** The attach form; `got` receives the dataplane when the attach is applied. */
export function attachForm(host: Host, ifc: InterfaceInfo, all: InterfaceInfo[], got: (dp: Dataplane) => void): FormSpec {
  const names = all.map((i) => i.name);
  const foreign = ifc.xdp && !ifc.xdp.ours ? ifc.xdp : null;
  return {
    title: `Attach the balancer to ${ifc.name}`,
    note: ifc.defaultRoute ? `WARNING: ${ifc.name} carries the default route; attaching here can cut this box off` : `${ifc.name} ${ifc.up ? 'up' : 'DOWN'} mtu ${ifc.mtu}${ifc.xdp ? `, has XDP prog ${ifc.xdp.progId} (${ifc.xdp.name})${foreign ? ', not ours: replace=yes' : ''}` : ''}`,
    fields: [
      { name: 'mac', label: 'default MAC', hint: 'the next hop towards the reals, e.g. 58:e4:34:56:46:e0', validate: vMac },
      { name: 'mode', label: 'XDP mode', kind: 'choice', choices: [...XDP_MODE_REQUESTS] },
      { name: 'hc', label: 'healthcheck intf', hint: 'optional', validate: vOneOf(names, 'interface', true) },
      // Only where another (non-Katran) XDP program is attached: replacing it is a deliberate choice.
      ...(foreign ? [{ name: 'force', label: `replace prog ${foreign.progId}`, kind: 'choice' as const, choices: ['no', 'yes'] }] : []),
      // The CLI's --vlan / --vlan-mac, several separated by spaces: syntax here, the rules at the dry run.
      { name: 'vlans', label: 'VLANs', hint: 'optional: 573 573:574 100.573:100.574 (IN[:OUT])', validate: vVlanList },
      { name: 'vlanMacs', label: 'VLAN MACs', hint: 'optional: 574=58:e4:34:56:46:e0 (egress VLAN=gateway)', validate: vVlanMacList },
    ],
    build(v) {
      const req: AttachRequest = {
        intf: ifc.name, defaultMac: v.mac.trim(), mode: v.mode as XdpModeRequest, hcIntf: v.hc.trim() || undefined, ...(v.force === 'yes' ? { force: true } : {}),
        ...parseVlanAttach(splitList(v.vlans ?? ''), splitList(v.vlanMacs ?? '')),
      };
      return {
        label: `attach to ${ifc.name}`,
        run: async (o) => {
          const r = await host.attach(req, o);
          if (r.dataplane) got(r.dataplane);
          return r.result;
        },
      };
    },
  };
}

export function purgeForm(dp: Dataplane, vip: VipState, real: string | null): FormSpec {
  const what = `${vip.id}${real ? ` on ${real}` : ''}`;
  return {
    title: `Purge the LRU flows of ${what}`,
    note: 'their next packets are hashed again (by the ring as it is now)',
    fields: [],
    build: () => ({ label: `purge flows of ${what}`, run: (o) => dp.purgeFlows({ vip: vip.key, ...(real ? { real } : {}) }, o) }),
  };
}

/** `vlan add IN[:OUT] [--mac MAC]` as a form; `ingress` (an unparsed VLAN the panel saw) fills IN. */
export function addVlanForm(dp: Dataplane, ingress?: string, existing: readonly VlanMappingText[] = []): FormSpec {
  return {
    title: 'Add a VLAN mapping',
    note: 'balance VIP traffic tagged IN, send it back tagged OUT (default IN) to OUT\'s gateway MAC (default: its MAC, else the default MAC)',
    fields: [
      { name: 'mapping', label: 'IN[:OUT]', initial: ingress, hint: 'e.g. 573, 573:574, 100.573:100.574', validate: vNewVlanMapping(existing) },
      { name: 'mac', label: 'gateway MAC', hint: 'optional: the egress VLAN\'s gateway, e.g. 58:e4:34:56:46:e0', validate: vOptionalMac },
    ],
    build(v) {
      const m = parseVlanMapping(v.mapping);
      const text = `${formatVlan(m.ingress)}:${formatVlan(m.egress)}`;
      const mac = v.mac.trim() ? formatMac(parseMac(v.mac)) : undefined;
      return { label: `add VLAN ${text}`, run: (o) => dp.addVlan(text, mac, o) };
    },
  };
}

/** `vlan add IN:OUT --replace [--mac MAC]`: a mapping's egress VLAN and that VLAN's gateway MAC. */
export function changeVlanForm(dp: Dataplane, m: VlanMappingText, defaultMac: string | null): FormSpec {
  return {
    title: `Change VLAN ${m.ingress}`,
    note: `now ${vlanPath(m)} via ${vlanGateway(m, defaultMac)}; the MAC is egress VLAN OUT's, for every mapping that leaves on it`,
    fields: [
      { name: 'egress', label: 'OUT', initial: m.egress, validate: vVlanEgress(m.ingress) },
      { name: 'mac', label: 'gateway MAC', initial: m.mac ?? '', hint: 'optional: empty keeps OUT\'s MAC (else the default MAC)', validate: vOptionalMac },
    ],
    build(v) {
      const p = parseVlanMapping(`${m.ingress}:${v.egress.trim()}`);
      const text = `${m.ingress}:${formatVlan(p.egress)}`;
      const mac = v.mac.trim() ? formatMac(parseMac(v.mac)) : undefined;
      return { label: `change VLAN ${m.ingress}`, run: (o) => dp.addVlan(text, mac, { ...o, replace: true }) };
    },
  };
}

export function deleteVlanForm(dp: Dataplane, m: VlanMappingText, defaultMac: string | null): FormSpec {
  return {
    title: `Delete VLAN ${m.ingress}`,
    note: `${vlanPath(m)} via ${vlanGateway(m, defaultMac)}: VIP traffic tagged ${m.ingress} then passes to the host unbalanced`,
    fields: [],
    build: () => ({ label: `delete VLAN ${m.ingress}`, run: (o) => dp.removeVlan(m.ingress, o) }),
  };
}
