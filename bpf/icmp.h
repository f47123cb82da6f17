/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP in the balancer (docs/abi.md packet path step 4):
 *   - echo request (v4 type 8, v6 type 128) to any address: answered in place (MACs and IPs
 *     swapped, TTL / hop limit 64, checksums fixed), XDP_TX;
 *   - v4 destination unreachable, v6 destination unreachable / packet too big: the embedded IP
 *     header (v4: ihl must be 5) gives the flow, addresses swapped; its L4 header is parsed by
 *     parse_l4() with ports swapped, so the error goes to the real of the original flow;
 *   - v4 frag needed (3/4) and v6 packet too big (2) count at offsets 13 / 12 first, whatever
 *     their destination and whether or not the embedded header is there;
 *   - other ICMP: PASS. A cut ICMP header or embedded IP header: DROP (reasons: l4_header_cut,
 *     and for the embedded header the outer header's, ip_header_cut / ipv4_options).
 * Echo is answered by answer_echo4/6() before the flow is parsed, so the error handlers
 * handle_icmp4/6() never see an echo request. Both return FURTHER_PROCESSING (the handlers with
 * *l4 pointing at the embedded L4 header) or an action.
 */
#ifndef KT_ICMP_H
#define KT_ICMP_H

#include <bpf/bpf_helpers.h>
#include "parse.h"
#include "csum.h"
#include "eth.h"
#include "maps.h"
#include "reasons.h"

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
#define ICMP_FRAG_NEEDED 4
#define ICMP_ECHO 8
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_ECHO_REQUEST_T 128
#define ICMPV6_ECHO_REPLY_T 129

/* Katran's echo checksum rule is a little-endian u16 operation: this object is for LE targets. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the echo checksum rule (little-endian u16 + 8 / - 1) assumes a little-endian target"
#endif
#define ECHO4_CSUM_STEP 8
#define ECHO6_CSUM_STEP 1

/*
 * Offsets 12 / 13 (docs/abi.md): v1 every v6 packet too big / v4 frag needed, v2 those
 * announcing an MTU < 1280. The MTU: v4 bytes 6-7 of the ICMP header, v6 bytes 4-7.
 */
static __always_inline void count_too_big(__u32 offset, __u32 mtu)
{
	__u32 key = MAX_VIPS + offset;
	struct lb_stats *st = bpf_map_lookup_elem(&stats, &key);

	if (st) {
		st->v1 += 1;
		if (mtu < ICMP_PTB_SMALL_MTU)
			st->v2 += 1;
	}
}

/*
 * Echo replies are answered from answer_echo4/6(), called by process_frame() right after the IP
 * header's DROP rules and before any flow state is built; handle_icmp4/6() then only see other
 * ICMP. Both checksums come from values in registers (a 16-bit load over bytes just written
 * stalls store forwarding):
 *   - the ICMP checksum gets Katran's byte rule, not an RFC 1624 update, so that the reply is
 *     byte for byte upstream's: the field read as a little-endian u16, plus 8 (v4) or minus 1
 *     (v6), mod 2^16. It differs from RFC 1624 eq. 3 on 9 v4 inputs and 1 v6 input (FF FF, and a
 *     lost carry out of the second byte); a request with a bad ICMP checksum keeps it bad;
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
		return KT_DROP(KT_DROP_L4_HEADER_CUT);
	if (icmp->type != ICMP_ECHO)
		return FURTHER_PROCESSING;
	addrs = *(__u64 *)&iph->saddr;
	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum += ECHO4_CSUM_STEP;
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
		return KT_DROP(KT_DROP_L4_HEADER_CUT);
	if (icmp->type != ICMP_DEST_UNREACH)
		return KT_PASS(KT_PASS_ICMP_OTHER);
	if (icmp->code == ICMP_FRAG_NEEDED)
		count_too_big(ICMP_PTB_V4_STATS, bpf_ntohl(icmp->rest) & 0xffff);
	pckt->icmp_code = icmp->code;
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return KT_DROP(KT_DROP_IP_HEADER_CUT);
	if (inner->ihl != 5)
		return KT_DROP(KT_DROP_IPV4_OPTIONS);
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
		return KT_DROP(KT_DROP_L4_HEADER_CUT);
	if (icmp->icmp6_type != ICMPV6_ECHO_REQUEST_T)
		return FURTHER_PROCESSING;
	icmp->icmp6_type = ICMPV6_ECHO_REPLY_T;
	icmp->icmp6_cksum -= ECHO6_CSUM_STEP;
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
		return KT_DROP(KT_DROP_L4_HEADER_CUT);
	if (icmp->icmp6_type != ICMPV6_PKT_TOOBIG && icmp->icmp6_type != ICMPV6_DEST_UNREACH)
		return KT_PASS(KT_PASS_ICMP_OTHER);
	if (icmp->icmp6_type == ICMPV6_PKT_TOOBIG)
		count_too_big(ICMP_PTB_V6_STATS, bpf_ntohl(icmp->rest));
	pckt->icmp_code = icmp->icmp6_code;
	inner = (void *)(icmp + 1);
	if ((void *)(inner + 1) > data_end)
		return KT_DROP(KT_DROP_IP_HEADER_CUT);
	pckt->flags |= F_ICMP;
	pckt->flow.proto = inner->nexthdr;
	__builtin_memcpy(pckt->flow.srcv6, &inner->daddr, 16);
	__builtin_memcpy(pckt->flow.dstv6, &inner->saddr, 16);
	*l4 = (void *)(inner + 1);
	return FURTHER_PROCESSING;
}

#endif
