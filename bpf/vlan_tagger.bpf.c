// SPDX-License-Identifier: GPL-2.0
/*
 * The lab's VLAN "switch", client side: a tc egress program on the client namespace's veth that
 * tags every IPv4 / IPv6 frame on its way to the balancer, the way a trunk port would (this
 * kernel has no 802.1Q devices and no VLAN-filtering bridge). bpf_skb_vlan_push: one 802.1Q tag,
 * or an 802.1ad pair (inner 0x8100 pushed first, then the outer with its TPID).
 *
 * What XDP on the balancer's side sees (measured on this kernel, veth, native XDP; test/e2e/vlan):
 *   - tx VLAN offload on (veth's default: tx-vlan-hw-insert / tx-vlan-stag-hw-insert): the pushed
 *     tag stays in skb metadata (skb->vlan_tci) across the veth; the receiving XDP program gets the
 *     frame WITHOUT the tag (readable only by bpf_xdp_metadata_rx_vlan_tag from a device-bound
 *     program) and balances it as untagged traffic;
 *   - offload off on this veth (the lab turns both off): the kernel writes the tag into the frame
 *     before it leaves (validate_xmit_vlan), and XDP sees it at byte 12.
 *
 * vlan_tagger_cfg: ARRAY[1] of struct tagger_cfg; outer_tci 0: no tag (frames pass untouched).
 * vlan_tagger_count: ARRAY[1]: v1 frames tagged, v2 pushes that failed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "structs.h"

struct tagger_cfg {
	__u16 outer_tpid;   /* 0x8100 or 0x88a8 (host order); one tag: 0x8100 */
	__u16 outer_tci;    /* PCP, DEI, VID; 0: do not tag */
	__u16 inner_tci;    /* 0: one tag */
	__u16 pad;
};

_Static_assert(sizeof(struct tagger_cfg) == 8, "tagger_cfg is 8 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct tagger_cfg);
	__uint(max_entries, 1);
} vlan_tagger_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, 1);
} vlan_tagger_count SEC(".maps");

SEC("tc")
int vlan_tagger(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct tagger_cfg *cfg = bpf_map_lookup_elem(&vlan_tagger_cfg, &zero);
	struct lb_stats *cnt = bpf_map_lookup_elem(&vlan_tagger_count, &zero);
	long err = 0;

	if (!cfg || !cnt || cfg->outer_tci == 0)
		return TC_ACT_OK;
	if (skb->protocol != bpf_htons(ETH_P_IP) && skb->protocol != bpf_htons(ETH_P_IPV6))
		return TC_ACT_OK;
	if (cfg->inner_tci)
		err = bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), cfg->inner_tci);
	if (!err)
		err = bpf_skb_vlan_push(skb, bpf_htons(cfg->outer_tpid), cfg->outer_tci);
	if (err)
		__sync_fetch_and_add(&cnt->v2, 1);
	else
		__sync_fetch_and_add(&cnt->v1, 1);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
