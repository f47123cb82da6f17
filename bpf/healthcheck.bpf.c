// SPDX-License-Identifier: GPL-2.0
/*
 * katran-tui's healthcheck program, tc egress on the healthcheck interface, Katran's "direct"
 * style (katran-abi.md): a packet whose skb->mark is a key of hc_reals_map is encapsulated in
 * place toward that real (IPIP / IPv6-in-IPv4 for an IPv4 real, IP6IP6 / IPv4-in-IPv6 for an IPv6
 * real), its mark cleared, the Ethernet header rewritten from hc_pckt_macs, and redirected out of
 * the main interface (hc_ctrl_map[3]). Outer header: source from hc_pckt_srcs_map, TOS / traffic
 * class copied from the inner header, TTL / hop limit 64, IPv4 id 0 and no DF, flow label 0.
 * Unmarked packets and unknown marks pass untouched (TC_ACT_UNSPEC).
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "constants.h"
#include "structs.h"
#include "csum.h"
#include "healthcheck.h"

static __always_inline int hc_drop(struct hc_stats *st)
{
	st->pckts_dropped += 1;
	return TC_ACT_SHOT;
}

SEC("tc")
int healthcheck_encap(struct __sk_buff *skb)
{
	__u32 key = 0, mark = skb->mark;
	struct hc_stats *st = bpf_map_lookup_elem(&hc_stats_map, &key);
	struct real_definition *real, *src;
	struct hc_mac *smac, *dmac;
	__u32 *ifindex;
	void *data, *data_end;
	struct ethhdr *eth;
	__be16 inner_proto;
	__u8 tos, inner_next;
	bool v6;
	int grow;

	if (!st)
		return TC_ACT_UNSPEC;
	if (mark == 0) {
		st->pckts_skipped += 1;
		return TC_ACT_UNSPEC;
	}
	real = bpf_map_lookup_elem(&hc_reals_map, &mark);
	if (!real) {
		st->pckts_skipped += 1;
		return TC_ACT_UNSPEC;
	}
	key = HC_MAIN_INTF_POSITION;
	ifindex = bpf_map_lookup_elem(&hc_ctrl_map, &key);
	if (!ifindex || *ifindex == 0)
		return hc_drop(st);
	v6 = real->flags & F_IPV6;
	key = v6 ? HC_SRC_V6_POS : HC_SRC_V4_POS;
	src = bpf_map_lookup_elem(&hc_pckt_srcs_map, &key);
	key = HC_SRC_MAC_POS;
	smac = bpf_map_lookup_elem(&hc_pckt_macs, &key);
	key = HC_DST_MAC_POS;
	dmac = bpf_map_lookup_elem(&hc_pckt_macs, &key);
	if (!src || !smac || !dmac)
		return hc_drop(st);

	/* The inner packet: IPv4 or IPv6 behind Ethernet, its TOS / traffic class kept. */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return hc_drop(st);
	inner_proto = eth->h_proto;
	if (inner_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return hc_drop(st);
		tos = iph->tos;
		inner_next = IPPROTO_IPIP;
	} else if (inner_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return hc_drop(st);
		tos = (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
		inner_next = IPPROTO_IPV6;
	} else {
		return hc_drop(st);
	}

	grow = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	if (skb->len + grow > HC_MAX_PCKT_SIZE) {
		st->pckts_too_big += 1;
		return TC_ACT_SHOT;
	}
	if (bpf_skb_adjust_room(skb, grow, BPF_ADJ_ROOM_MAC,
				v6 ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 : BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		return hc_drop(st);

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	if (v6) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if ((void *)(ip6h + 1) > data_end)
			return hc_drop(st);
		ip6h->version = 6;
		ip6h->priority = tos >> 4;
		ip6h->flow_lbl[0] = (tos & 0x0F) << 4;
		ip6h->flow_lbl[1] = 0;
		ip6h->flow_lbl[2] = 0;
		ip6h->payload_len = bpf_htons(skb->len - sizeof(struct ethhdr) - sizeof(struct ipv6hdr));
		ip6h->nexthdr = inner_next;
		ip6h->hop_limit = DEFAULT_TTL;
		__builtin_memcpy(&ip6h->saddr, src->dstv6, 16);
		__builtin_memcpy(&ip6h->daddr, real->dstv6, 16);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
	} else {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end)
			return hc_drop(st);
		iph->version = 4;
		iph->ihl = 5;
		iph->tos = tos;
		iph->tot_len = bpf_htons(skb->len - sizeof(struct ethhdr));
		iph->id = 0;
		iph->frag_off = 0;
		iph->ttl = DEFAULT_TTL;
		iph->protocol = inner_next;
		iph->check = 0;
		iph->saddr = src->dst;
		iph->daddr = real->dst;
		iph->check = ipv4_hdr_csum(iph);
		eth->h_proto = bpf_htons(ETH_P_IP);
	}
	__builtin_memcpy(eth->h_source, smac->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, dmac->mac, ETH_ALEN);
	skb->mark = 0;
	st->pckts_processed += 1;
	return bpf_redirect(*ifindex, 0);
}

char _license[] SEC("license") = "GPL";
