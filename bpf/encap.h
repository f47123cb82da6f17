/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encapsulation toward the chosen real (katran-abi.md packet path step 9), in place with
 * bpf_xdp_adjust_head:
 *   - IPv4 real: IPIP (protocol 4 even for an IPv6 packet), 20 more bytes. TOS / traffic class
 *     copied, tot_len = the inner length field + 20 (for IPv6 its payload_len: 40 short, as
 *     upstream), id 0, no DF, TTL 64, src = 172.16.(c ^ (sport & 0xff)).(d ^ (sport >> 8)) (c.d:
 *     the client's last two octets; for an IPv6 client its address bytes 2-3);
 *   - IPv6 real: IP6IP6 (next header 41) or IPv4-in-IPv6 (4), 40 more bytes. Traffic class copied,
 *     flow label 0, hop limit 64, src = 100:: + the client's last 32 bits, the first two of those
 *     bytes XORed with the source port (network order);
 *   - Ethernet: dst = ctl_array[0] MAC (or the egress VLAN's gateway), src = the received frame's
 *     dst MAC, then the egress VLAN tags of a tagged frame (vlan.h), then the outer ethertype.
 * The inner packet is not touched. pkt_bytes (the inner IP header's length field) gives the
 * outer length, as upstream does.
 */
#ifndef KT_ENCAP_H
#define KT_ENCAP_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "constants.h"
#include "structs.h"
#include "csum.h"
#include "eth.h"

/* 172.16.x.y as a network-order u32 read little-endian. */
static __always_inline __be32 ipip_v4_src(const struct packet_description *pckt)
{
	__u32 suffix = ((__u32)bpf_ntohs(pckt->flow.port16[0])) << 16;

	return ((suffix ^ pckt->flow.src) & 0xFFFF0000) | (IPIP_V4_PREFIX_HI << 8) | IPIP_V4_PREFIX_LO;
}

/* New Ethernet header at data, old one at data + grow. Copies the old dst MAC before the caller
 * overwrites it with the outer IP header. tag_len bytes of VLAN tags (0, 4 or 8: the egress tags
 * as stored, from vlan.h) go between the MACs and the ethertype; they come from registers, not
 * from the old frame, which the outer IP header overwrites. */
static __always_inline void encap_eth(void *data, __u32 grow, const struct ctl_value *cval, __be16 proto,
				      __u32 tag_len, const __u32 *tags)
{
	mac_copy(data + ETH_ALEN, data + grow);
	mac_copy(data, cval->mac);
	if (tag_len) {
		*(__u32 *)(data + 2 * ETH_ALEN) = tags[0];
		if (tag_len > sizeof(__u32))
			*(__u32 *)(data + 2 * ETH_ALEN + sizeof(__u32)) = tags[1];
	}
	*(__be16 *)(data + 2 * ETH_ALEN + tag_len) = proto;
}

static __always_inline bool encap_v4(struct xdp_md *ctx, const struct ctl_value *cval, const struct packet_description *pckt,
				     const struct real_definition *dst, __u32 tag_len, const __u32 *tags)
{
	void *data, *data_end;
	struct iphdr *iph;
	__be32 saddr = ipip_v4_src(pckt);
	__be32 daddr = dst->dst;
	__be16 tot_len = bpf_htons(pckt->pkt_bytes + sizeof(struct iphdr));
	/* The outer header's 16-bit words as stored (id and frag_off are 0), summed in registers. */
	__u16 check = csum_finish((__u64)bpf_htons(0x4500 | pckt->tos) + tot_len +
				  bpf_htons((DEFAULT_TTL << 8) | IPPROTO_IPIP) + saddr + daddr);

	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return false;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	iph = data + sizeof(struct ethhdr) + tag_len;
	/* iph + 1 == data + 34 (+ tags) also covers the old Ethernet header at data + 20 .. 34 (+ tags) */
	if ((void *)(iph + 1) > data_end)
		return false;
	encap_eth(data, sizeof(struct iphdr), cval, bpf_htons(ETH_P_IP), tag_len, tags);
	iph->version = 4;
	iph->ihl = 5;
	iph->tos = pckt->tos;
	iph->tot_len = tot_len;
	iph->id = 0;
	iph->frag_off = 0;
	iph->ttl = DEFAULT_TTL;
	iph->protocol = IPPROTO_IPIP;
	iph->check = check;
	iph->saddr = saddr;
	iph->daddr = daddr;
	return true;
}

static __always_inline bool encap_v6(struct xdp_md *ctx, const struct ctl_value *cval, const struct packet_description *pckt,
				     const struct real_definition *dst, bool is_ipv6, __u32 tag_len, const __u32 *tags)
{
	void *data, *data_end;
	struct ipv6hdr *ip6h;
	__be32 suffix;
	__u16 payload_len;
	__u8 nexthdr;

	if (is_ipv6) {
		nexthdr = IPPROTO_IPV6;
		payload_len = pckt->pkt_bytes + sizeof(struct ipv6hdr);
		suffix = pckt->flow.srcv6[3] ^ pckt->flow.port16[0];
	} else {
		nexthdr = IPPROTO_IPIP;
		payload_len = pckt->pkt_bytes;
		suffix = pckt->flow.src ^ pckt->flow.port16[0];
	}
	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct ipv6hdr)))
		return false;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	ip6h = data + sizeof(struct ethhdr) + tag_len;
	/* ip6h + 1 == data + 54 (+ tags) also covers the old Ethernet header at data + 40 .. 54 (+ tags) */
	if ((void *)(ip6h + 1) > data_end)
		return false;
	encap_eth(data, sizeof(struct ipv6hdr), cval, bpf_htons(ETH_P_IPV6), tag_len, tags);
	/* version 6, traffic class, flow label 0: one word instead of three bitfield writes */
	*(__be32 *)ip6h = bpf_htonl(0x60000000 | ((__u32)pckt->tos << 20));
	ip6h->payload_len = bpf_htons(payload_len);
	ip6h->nexthdr = nexthdr;
	ip6h->hop_limit = DEFAULT_TTL;
	ip6h->saddr.in6_u.u6_addr32[0] = bpf_htonl(0x01000000); /* 100:: */
	ip6h->saddr.in6_u.u6_addr32[1] = 0;
	ip6h->saddr.in6_u.u6_addr32[2] = 0;
	ip6h->saddr.in6_u.u6_addr32[3] = suffix;
	__builtin_memcpy(&ip6h->daddr, dst->dstv6, 16);
	return true;
}

#endif
