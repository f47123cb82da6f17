// An opened balancer: what lifecycle.ts hands to the control plane and the sampler, whichever way
// the balancer was reached (attached now, reopened from pins, or observed read-only).
import type { BalancerMaps, BalancerSizes } from './loader.js';
import type { BpfMap } from './maps.js';
import type { XdpMode } from '../types.js';

export interface HealthcheckHandle {
  intf: string;
  ifindex: number;
  progId: number;
  /** hc_reals_map, hc_pckt_macs, hc_pckt_srcs_map, hc_ctrl_map, hc_stats_map by name. */
  maps: Map<string, BpfMap>;
}

export interface BalancerHandle {
  intf: string;
  ifindex: number;
  mode: XdpMode | 'unknown';
  progFd: number;
  progId: number;
  progTag: string;
  progName: string;
  maps: BalancerMaps;
  sizes: BalancerSizes;
  /** Mask of VIP flags the program implements. */
  vipFlagsSupported: number;
  owner: 'katran-tui' | 'observed';
  readOnly: boolean;
  readOnlyReason?: string;
  pinDir?: string;
  /**
   * The name the pins and the desired state are keyed by (<pinRoot>/<pinName>, <stateDir>/<pinName>):
   * the interface's name at attach time. It stays when the interface is renamed (intf follows).
   */
  pinName?: string;
  objectPath?: string;
  /** ms since the epoch */
  attachedAt?: number;
  /** ms since the epoch */
  loadedAt?: number;
  forwardingCpus: number[];
  healthcheck: HealthcheckHandle | null;
  /** Closes fds; never detaches. */
  close(): void;
}
