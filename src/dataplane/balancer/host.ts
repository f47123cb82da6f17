// types.ts Host over libbpf, the one facade of the lifecycle verbs: listing (list.ts,
// kernel/interfaces.ts), attaching (attach.ts) and opening (open.ts) balancers; what one balancer
// does is the Balancer (balancer.ts) it hands out. The CLI and the console get one of these from
// createHost({pinRoot, stateDir}).
//
// open(intf): a balancer katran-tui pinned for intf is reopened from its pins (no reload; writable
// unless readOnly, taking the state directory's writer lock); any other Katran-ABI program on intf
// is observed read-only. attach(): the lifecycle's attach, then the control plane on top; when the
// state directory already holds a desired state for that interface (an earlier attach), its VIPs
// are re-applied to the fresh maps and the result says so. The requested MAC always wins.
import { formatMac, parseMac, type VlanMappingText } from '../abi.js';
import { checkVlanMappings } from '../rules.js';
import { basename } from 'node:path';
import { Balancer, balancerStateDir } from './balancer.js';
import { pendingChangeOf, StateStore } from '../control/state.js';
import type { FaultHook } from '../control/reconciler.js';
import { vlanSummary, vlanWarnings } from '../control/planner.js';
import type { BalancerHandle } from '../kernel/handle.js';
import { listInterfaces } from '../kernel/interfaces.js';
import { attach, checkAttach } from './attach.js';
import { detach } from './detach.js';
import { listBalancers } from './list.js';
import { openOrObserve, openPinned } from './open.js';
import { realLinkProbe } from '../kernel/link-probe.js';
import { vlanOffloadWarnings } from '../vlan-checks.js';
import type { AttachRequest, BalancerSummary, ChangeOptions, ChangeResult, Dataplane, Host, InterfaceInfo, LinkProbe } from '../types.js';

export interface HostOptions {
  pinRoot: string;
  stateDir: string;
  /** Fault injection points of every balancer it opens (tests: kill -9 of a CLI writer mid-change). */
  faults?: FaultHook;
  /** Interfaces as attach's VLAN offload check reads them (default: the real ones). */
  linkProbe?: LinkProbe;
}

export class LibbpfHost implements Host {
  constructor(readonly o: HostOptions) {}

  interfaces(): InterfaceInfo[] {
    return listInterfaces({ pinRoot: this.o.pinRoot });
  }

  /** Every balancer; ours with the change a killed writer left pending in its state directory (read only, no lock). */
  balancers(): BalancerSummary[] {
    return listBalancers({ pinRoot: this.o.pinRoot }).map((b) => {
      if (b.owner !== 'katran-tui' || !b.pinDir) return b;
      try {
        const p = StateStore.open(balancerStateDir(this.o.stateDir, basename(b.pinDir)), { write: false }).pendingIntent();
        return { ...b, pendingChange: p ? pendingChangeOf(p) : null };
      } catch {
        return b; // unreadable: the open says why
      }
    });
  }

  private wrap(handle: BalancerHandle): Balancer {
    try {
      return Balancer.open(handle, { stateDir: this.o.stateDir, faults: this.o.faults });
    } catch (e) {
      handle.close();
      throw e;
    }
  }

  /** With VLANs: the offload settings that will hide their tags from XDP (doctor says the same). */
  private offloadWarnings(intf: string, vlans: readonly VlanMappingText[]): string[] {
    return vlanOffloadWarnings(this.o.linkProbe ?? realLinkProbe, intf, vlans);
  }

  open(intf: string, o: { readOnly?: boolean; detached?: boolean } = {}): Dataplane {
    return this.wrap(openOrObserve(intf, { pinRoot: this.o.pinRoot, ...o }));
  }

  attach(req: AttachRequest, o: ChangeOptions = {}): { dataplane: Dataplane | null; result: ChangeResult } {
    // VLAN rules first: a refusal leaves nothing attached.
    const vlans = req.vlans?.length || req.vlanMacs?.length ? checkVlanMappings(req.vlans ?? [], formatMac(parseMac(req.defaultMac)), req.vlanMacs ?? []) : [];
    const mode = req.mode ?? 'auto';
    const summary = [`load ${req.balancerProg ?? 'the bundled balancer'} and attach it to ${req.intf} (XDP ${mode}), default MAC ${req.defaultMac}, pins under ${this.o.pinRoot}/${req.intf}`];
    if (req.hcIntf || req.healthcheckerProg) summary.push(`attach the healthcheck program ${req.healthcheckerProg ?? '(bundled)'} at ${req.hcIntf ?? req.intf} egress`);
    if (o.dryRun) {
      summary.push(...vlanSummary([], vlans));
      const warnings = [...checkAttach({ ...req, pinRoot: this.o.pinRoot }), ...vlanWarnings([], vlans), ...this.offloadWarnings(req.intf, req.vlans ?? [])];
      return { dataplane: null, result: { applied: false, summary, warnings } };
    }
    const h = attach({ ...req, pinRoot: this.o.pinRoot });
    const warnings = [...h.warnings];
    summary[0] = `attached program ${h.progId} (${h.progName}, tag ${h.progTag}) to ${h.intf} in ${h.mode} mode, default MAC ${req.defaultMac}, pinned under ${h.pinDir}`;
    let dp: Balancer;
    try {
      dp = this.wrap(h);
    } catch (e) {
      // The control plane could not open (e.g. another writer holds the lock): leave nothing half-done.
      try {
        detach(openPinned(req.intf, { pinRoot: this.o.pinRoot }));
      } catch { /* already gone */ }
      throw e;
    }
    if (dp.recovered) warnings.push(`desired state in ${this.o.stateDir}/${req.intf}: ${dp.recovered}`);
    if (dp.getDefaultMac() !== formatMac(parseMac(req.defaultMac))) {
      const r = dp.setDefaultMac(req.defaultMac);
      warnings.push(...r.warnings);
    }
    if (req.vlans?.length || dp.vlans()?.length) {
      try {
        const r = dp.setVlans(req.vlans ?? [], req.vlanMacs ?? []);
        summary.push(...r.summary);
        warnings.push(...r.warnings);
      } catch (e) {
        // An object without the VLAN maps: nothing stays attached.
        dp.close();
        try { detach(openPinned(req.intf, { pinRoot: this.o.pinRoot })); } catch { /* already gone */ }
        throw e;
      }
    }
    warnings.push(...this.offloadWarnings(h.intf, dp.vlans() ?? []));
    const vips = dp.vips().length;
    if (vips) warnings.push(`${vips} VIP(s) of the earlier desired state re-applied to the new program`);
    return { dataplane: dp, result: { applied: true, summary, warnings } };
  }
}

export function createHost(o: HostOptions): Host {
  return new LibbpfHost(o);
}
