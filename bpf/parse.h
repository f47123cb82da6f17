/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing with katran-abi.md's DROP / PASS rules (packet path steps 2, 3 and 5):
 *   - IPv4 with options (ihl != 5), IPv4 fragments, IPv6 fragment header, a cut IP header: DROP;
 *   - other IPv6 extension headers are not parsed (the next-header is then neither TCP, UDP nor
 *     ICMPv6: PASS);
 *   - TCP / UDP header cut short: DROP, before the VIP lookup (non-VIP traffic too).
 * Every function returns FURTHER_PROCESSING or the XDP action to take. l3_off is where the IP
 * header starts: ETH_HLEN, or after the VLAN tags (vlan.h).
 */
#ifndef KT_PARSE_H
#define KT_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "constants.h"
#include "structs.h"
#include "reasons.h"

#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
/* MF flag and fragment offset; DF alone is not a fragment. */
#define IPV4_FRAG_MASK 0x3FFF
#define NEXTHDR_FRAGMENT 44

/* IPv6 traffic class: 4 bits in `priority`, 4 in the top of flow_lbl[0]. */
static __always_inline __u8 ipv6_tclass(const struct ipv6hdr *ip6h)
{
	return (ip6h->priority << 4) | (ip6h->flow_lbl[0] >> 4);
}

/*
 * The DROP rules of the IP headers (step 3), kept apart from filling the flow so that an echo
 * request is answered before any flow state is built (see process_frame()).
 */
static __always_inline int check_ipv4(void *data, void *data_end, __u32 l3_off)
{
	struct iphdr *iph = data + l3_off;

	if ((void *)(iph + 1) > data_end)
		return KT_DROP(KT_DROP_IP_HEADER_CUT);
	if (iph->ihl != 5)
		return KT_DROP(KT_DROP_IPV4_OPTIONS);
	if (iph->frag_off & bpf_htons(IPV4_FRAG_MASK))
		return KT_DROP(KT_DROP_IPV4_FRAGMENT);
	return FURTHER_PROCESSING;
}

static __always_inline int check_ipv6(void *data, void *data_end, __u32 l3_off)
{
	struct ipv6hdr *ip6h = data + l3_off;

	if ((void *)(ip6h + 1) > data_end)
		return KT_DROP(KT_DROP_IP_HEADER_CUT);
	if (ip6h->nexthdr == NEXTHDR_FRAGMENT)
		return KT_DROP(KT_DROP_IPV6_FRAGMENT);
	return FURTHER_PROCESSING;
}

/* IPv4 header (passed check_ipv4()): addresses, proto, TOS and tot_len into pckt. */
static __always_inline void parse_ipv4(void *data, __u32 l3_off, struct packet_description *pckt)
{
	struct iphdr *iph = data + l3_off;

	pckt->tos = iph->tos;
	pckt->pkt_bytes = bpf_ntohs(iph->tot_len);
	pckt->flow.proto = iph->protocol;
	pckt->flow.src = iph->saddr;
	pckt->flow.dst = iph->daddr;
}

/* IPv6 header (passed check_ipv6()): addresses, next header, traffic class and payload_len. */
static __always_inline void parse_ipv6(void *data, __u32 l3_off, struct packet_description *pckt)
{
	struct ipv6hdr *ip6h = data + l3_off;

	pckt->tos = ipv6_tclass(ip6h);
	pckt->pkt_bytes = bpf_ntohs(ip6h->payload_len);
	pckt->flow.proto = ip6h->nexthdr;
	__builtin_memcpy(pckt->flow.srcv6, &ip6h->saddr, 16);
	__builtin_memcpy(pckt->flow.dstv6, &ip6h->daddr, 16);
}

/*
 * TCP / UDP at l4 (for an ICMP error: the embedded header, whose ports are swapped so that the
 * flow is the original one). Anything else: PASS. A header cut short: DROP. Verdicts carry their
 * reason (reasons.h).
 */
static __always_inline int parse_l4(void *l4, void *data_end, struct packet_description *pckt)
{
	__be16 sport, dport;

	if (pckt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return KT_DROP(KT_DROP_L4_HEADER_CUT);
		if (tcp->syn)
			pckt->flags |= F_SYN_SET;
		if (tcp->rst)
			pckt->flags |= F_TCP_RST;
		sport = tcp->source;
		dport = tcp->dest;
	} else if (pckt->flow.proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return KT_DROP(KT_DROP_L4_HEADER_CUT);
		sport = udp->source;
		dport = udp->dest;
	} else {
		/* an ICMP error about something that is no TCP / UDP flow is "other ICMP" */
		return (pckt->flags & F_ICMP) ? KT_PASS(KT_PASS_ICMP_OTHER) : KT_PASS(KT_PASS_NOT_TCP_UDP);
	}
	if (pckt->flags & F_ICMP) {
		pckt->flow.port16[0] = dport;
		pckt->flow.port16[1] = sport;
	} else {
		pckt->flow.port16[0] = sport;
		pckt->flow.port16[1] = dport;
	}
	return FURTHER_PROCESSING;
}

#endif
