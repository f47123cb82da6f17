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
#include "eth.h"

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

/*
 * Echo reply in place. Both checksums are derived from values in registers (the new words are
 * known), never read back from bytes just written. The IPv4 header checksum is computed over the
 * whole header as before, so a request with a bad header checksum still gets a correct one; the
 * ICMP checksum is updated for the type word (RFC 1624), as upstream does.
 */
static __always_inline int icmp4_echo_reply(struct ethhdr *eth, struct iphdr *iph, struct icmp4_hdr *icmp)
{
	__u16 from = *(__u16 *)icmp; /* type and code */
	__u16 to = bpf_htons((ICMP_ECHOREPLY << 8) | icmp->code);
	__u32 *w = (__u32 *)iph;     /* w[0]: version/ihl, tos, tot_len; w[1]: id, frag_off */
	__be32 saddr = iph->saddr;
	__be32 daddr = iph->daddr;

	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = csum_replace16(icmp->checksum, from, to);
	swap_macs(eth);
	iph->check = csum_finish((__u64)w[0] + w[1] + bpf_htons((DEFAULT_TTL << 8) | iph->protocol) + saddr + daddr);
	iph->ttl = DEFAULT_TTL;
	iph->saddr = daddr;
	iph->daddr = saddr;
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
	__u16 from = *(__u16 *)icmp; /* type and code */
	__u16 to = bpf_htons((ICMPV6_ECHO_REPLY_T << 8) | icmp->icmp6_code);
	struct in6_addr tmp;

	/* Swapping the addresses leaves the pseudo-header sum alone: only the type word changes. */
	icmp->icmp6_type = ICMPV6_ECHO_REPLY_T;
	icmp->icmp6_cksum = csum_replace16(icmp->icmp6_cksum, from, to);
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
