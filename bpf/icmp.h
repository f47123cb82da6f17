/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP in the balancer (katran-abi.md packet path step 4):
 *   - echo request (v4 type 8, v6 type 128) to any address: answered in place (MACs and IPs
 *     swapped, TTL / hop limit 64, checksums fixed), XDP_TX;
 *   - v4 destination unreachable, v6 destination unreachable / packet too big: the embedded IP
 *     header (v4: ihl must be 5) gives the flow, addresses swapped; its L4 header is parsed by
 *     parse_l4() with ports swapped, so the error goes to the real of the original flow;
 *   - other ICMP: PASS. A cut ICMP header or embedded IP header: DROP.
 * The handlers return FURTHER_PROCESSING (with *l4 pointing at the embedded L4 header) or an action.
 */
#ifndef KT_ICMP_H
#define KT_ICMP_H

#include "parse.h"
#include "csum.h"

/* <linux/icmp.h> drags in glibc's socket headers; the 8-byte ICMP headers are all we need. */
struct icmp4_hdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u32 rest;
};

struct icmp6_hdr {
	__u8 icmp6_type;
	__u8 icmp6_code;
	__u16 icmp6_cksum;
	__u32 rest;
};

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_ECHO_REQUEST_T 128
#define ICMPV6_ECHO_REPLY_T 129

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

static __always_inline int icmp4_echo_reply(struct ethhdr *eth, struct iphdr *iph, struct icmp4_hdr *icmp)
{
	__u16 old = *(__u16 *)icmp;
	__be32 tmp;

	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = csum_replace16(icmp->checksum, old, *(__u16 *)icmp);
	swap_macs(eth);
	tmp = iph->saddr;
	iph->saddr = iph->daddr;
	iph->daddr = tmp;
	iph->ttl = DEFAULT_TTL;
	iph->check = 0;
	iph->check = ipv4_hdr_csum(iph);
	return XDP_TX;
}

static __always_inline int handle_icmp4(void *data, void *data_end, struct packet_description *pckt, void **l4)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	struct icmp4_hdr *icmp = data + sizeof(struct ethhdr) + IPV4_HDR_LEN;
	struct iphdr *inner;

	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
	if (icmp->type == ICMP_ECHO)
		return icmp4_echo_reply(eth, iph, icmp);
	if (icmp->type != ICMP_DEST_UNREACH)
		return XDP_PASS;
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return XDP_DROP;
	if (inner->ihl != 5)
		return XDP_DROP;
	pckt->flags |= F_ICMP;
	pckt->flow.proto = inner->protocol;
	pckt->flow.src = inner->daddr;
	pckt->flow.dst = inner->saddr;
	*l4 = (void *)(inner + 1);
	return FURTHER_PROCESSING;
}

static __always_inline int icmp6_echo_reply(struct ethhdr *eth, struct ipv6hdr *ip6h, struct icmp6_hdr *icmp)
{
	__u16 old = *(__u16 *)icmp;
	struct in6_addr tmp;

	/* Swapping the addresses leaves the pseudo-header sum alone: only the type word changes. */
	icmp->icmp6_type = ICMPV6_ECHO_REPLY_T;
	icmp->icmp6_cksum = csum_replace16(icmp->icmp6_cksum, old, *(__u16 *)icmp);
	swap_macs(eth);
	tmp = ip6h->saddr;
	ip6h->saddr = ip6h->daddr;
	ip6h->daddr = tmp;
	ip6h->hop_limit = DEFAULT_TTL;
	return XDP_TX;
}

static __always_inline int handle_icmp6(void *data, void *data_end, struct packet_description *pckt, void **l4)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = data + sizeof(struct ethhdr);
	struct icmp6_hdr *icmp = data + sizeof(struct ethhdr) + IPV6_HDR_LEN;
	struct ipv6hdr *inner;

	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
	if (icmp->icmp6_type == ICMPV6_ECHO_REQUEST_T)
		return icmp6_echo_reply(eth, ip6h, icmp);
	if (icmp->icmp6_type != ICMPV6_PKT_TOOBIG && icmp->icmp6_type != ICMPV6_DEST_UNREACH)
		return XDP_PASS;
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return XDP_DROP;
	pckt->flags |= F_ICMP;
	pckt->flow.proto = inner->nexthdr;
	__builtin_memcpy(pckt->flow.srcv6, &inner->daddr, 16);
	__builtin_memcpy(pckt->flow.dstv6, &inner->saddr, 16);
	*l4 = (void *)(inner + 1);
	return FURTHER_PROCESSING;
}

#endif
