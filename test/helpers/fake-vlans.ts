// The VLAN mappings of a fake dataplane, changed through the real planner (every policy and
// wording is the product's): the fakes hold only the list and the default MAC.
import type { VlanMappingText } from '../../src/dataplane/abi.js';
import { emptyState, type DesiredState } from '../../src/dataplane/control/desired.js';
import {
  planAddVlan, planRemoveVlan, planSetVlanMac, planSetVlans, type Limits, type Plan,
} from '../../src/dataplane/control/planner.js';

export class FakeVlans {
  rows: VlanMappingText[] = [];
  /** False: an object without the VLAN maps (upstream Katran). */
  constructor(public available = true) {}

  private state(mac: string | null): DesiredState {
    return { ...emptyState('fake', 'native'), mac, vlans: this.rows.map((v) => ({ ...v })) };
  }

  private limits(): Limits {
    return { maxVips: 512, maxReals: 4096, vipFlagsSupported: 0, vlans: this.available, maxServerIds: 0 };
  }

  list(): VlanMappingText[] | null {
    return this.available ? this.rows.map((v) => ({ ...v })) : null;
  }

  /** Plans one change on the fake's state; `adopt` unless a dry run. */
  private run(p: Plan, dry: boolean): { applied: boolean; summary: string[]; warnings: string[] } {
    if (!dry && p.changes) this.rows = p.next.vlans ?? [];
    return { applied: !dry, summary: p.summary, warnings: p.warnings };
  }

  add(mac: string | null, mapping: string, vmac: string | null | undefined, dry: boolean, replace = false) {
    return this.run(planAddVlan(this.state(mac), this.limits(), mapping, vmac, replace), dry);
  }
  remove(mac: string | null, vlan: string, dry: boolean) {
    return this.run(planRemoveVlan(this.state(mac), this.limits(), vlan), dry);
  }
  setMac(mac: string | null, egress: string, vmac: string | null, dry: boolean) {
    return this.run(planSetVlanMac(this.state(mac), this.limits(), egress, vmac), dry);
  }
  setAll(mac: string | null, rows: VlanMappingText[], stray: string[], dry: boolean) {
    return this.run(planSetVlans(this.state(mac), this.limits(), rows, stray), dry);
  }
}
