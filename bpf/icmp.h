/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP in the balancer (katran-abi.md packet path step 4):
 *   - echo request (v4 type 8, v6 type 128) to any address: answered in place (MACs and IPs
 *     swapped, TTL / hop limit 64, checksums fixed), XDP_TX;
 *   - v4 destination unreachable, v6 destination unreachable / packet too big: the embedded IP
 *     header (v4: ihl must be 5) gives the flow, addresses swapped; its L4 header is parsed by
 *     parse_l4() with ports swapped, so the error goes to the real of the original flow;
 *   - other ICMP: PASS. A cut ICMP header or embedded IP header: DROP.
 * Echo is answered by answer_echo4/6() before the flow is parsed, so the error handlers
 * handle_icmp4/6() never see an echo request. Both return FURTHER_PROCESSING (the handlers with
 * *l4 pointing at the embedded L4 header) or an action.
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
 * Echo replies are answered from answer_echo4/6(), called by process_frame() right after the IP
 * header's DROP rules and before any flow state is built; handle_icmp4/6() then only see other
 * ICMP. Both checksums come from values in registers (a 16-bit load over bytes just written
 * stalls store forwarding):
 *   - the ICMP checksum is updated for the type byte alone (RFC 1624 eq. 3; the code byte is the
 *     same on both sides of the replaced word, so it cancels out), as upstream does: a request
 *     with a bad ICMP checksum keeps it bad;
 *   - the IPv4 header checksum is computed over the whole new header, as upstream does, so a
 *     request with a bad header checksum still gets a correct reply. Swapping the addresses leaves
 *     the sum alone, and the TTL / protocol word of the reply is a constant (protocol is ICMP).
 */
static __always_inline int answer_echo4(void *data, void *data_end, __u32 l3_off)
{
	struct ethhdr *eth = data;
	struct iphdr *iph = data + l3_off;
	struct icmp4_hdr *icmp = data + l3_off + IPV4_HDR_LEN;
	__u32 *w = (__u32 *)iph;     /* w[0]: version/ihl, tos, tot_len; w[1]: id, frag_off */
	__u64 addrs;                 /* saddr and daddr, adjacent in the header */

	if (iph->protocol != IPPROTO_ICMP)
		return FURTHER_PROCESSING;
	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
	if (icmp->type != ICMP_ECHO)
		return FURTHER_PROCESSING;
	addrs = *(__u64 *)&iph->saddr;
	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = csum_replace16(icmp->checksum, bpf_htons(ICMP_ECHO << 8), bpf_htons(ICMP_ECHOREPLY << 8));
	swap_macs(eth);
	iph->check = csum_finish((__u64)w[0] + w[1] + bpf_htons((DEFAULT_TTL << 8) | IPPROTO_ICMP) +
				 (__u32)addrs + (addrs >> 32));
	iph->ttl = DEFAULT_TTL;
	*(__u64 *)&iph->saddr = (addrs >> 32) | (addrs << 32);
	return XDP_TX;
}

static __always_inline int handle_icmp4(void *data, void *data_end, __u32 l3_off, struct packet_description *pckt, void **l4)
{
	struct icmp4_hdr *icmp = data + l3_off + IPV4_HDR_LEN;
	struct iphdr *inner;

	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
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

/* Swapping the addresses leaves the pseudo-header sum alone: only the type byte changes. */
static __always_inline int answer_echo6(void *data, void *data_end, __u32 l3_off)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6h = data + l3_off;
	struct icmp6_hdr *icmp = data + l3_off + IPV6_HDR_LEN;
	__u64 *a = (__u64 *)&ip6h->saddr; /* a[0..1] saddr, a[2..3] daddr */
	__u64 s0, s1;

	if (ip6h->nexthdr != IPPROTO_ICMPV6)
		return FURTHER_PROCESSING;
	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
	if (icmp->icmp6_type != ICMPV6_ECHO_REQUEST_T)
		return FURTHER_PROCESSING;
	icmp->icmp6_type = ICMPV6_ECHO_REPLY_T;
	icmp->icmp6_cksum = csum_replace16(icmp->icmp6_cksum, bpf_htons(ICMPV6_ECHO_REQUEST_T << 8),
					   bpf_htons(ICMPV6_ECHO_REPLY_T << 8));
	swap_macs(eth);
	s0 = a[0];
	s1 = a[1];
	a[0] = a[2];
	a[1] = a[3];
	a[2] = s0;
	a[3] = s1;
	ip6h->hop_limit = DEFAULT_TTL;
	return XDP_TX;
}

static __always_inline int handle_icmp6(void *data, void *data_end, __u32 l3_off, struct packet_description *pckt, void **l4)
{
	struct icmp6_hdr *icmp = data + l3_off + IPV6_HDR_LEN;
	struct ipv6hdr *inner;

	if ((void *)(icmp + 1) > data_end)
		return XDP_DROP;
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
