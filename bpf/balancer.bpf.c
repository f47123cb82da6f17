// SPDX-License-Identifier: GPL-2.0
/*
 * katran-tui's XDP L4 load balancer: Katran's map ABI (docs/abi.md), written from the ABI's
 * facts. The packet path reads top to bottom in
 * process_frame(); each step's details live in one header: parse.h, icmp.h, quic.h (connection-id
 * routing), select.h (LRU + down reals + ring), encap.h, with eth.h (MAC moves) and csum.h
 * (checksums) below them; maps.h and constants.h hold the ABI itself (quic.h and down_reals.h
 * hold their own maps).
 *
 * Counters: every frame counts XDP_TOTAL once and exactly one of XDP_TX / XDP_DROP / XDP_PASS
 * (v1 packets, v2 the received frame's bytes), so TOTAL = TX + DROP + PASS always; every DROP and
 * PASS also counts exactly one reason in kt_reasons (reasons.h: the step functions return
 * KT_DROP(reason) / KT_PASS(reason)).
 *
 * katran-tui's one intended difference from upstream: while ctl_array[0] (the default gateway
 * MAC) is all zero, a VIP packet that found its real is dropped instead of being sent to
 * 00:00:00:00:00:00, and counted at stats[MAX_VIPS + ZERO_MAC_DROP_CNTR] (offset 22). It is checked
 * where upstream reads the MAC: after real selection (LRU, LRU_MISS, CH counters and the LRU write
 * behave as upstream's), before the per-VIP and per-real counters, which count only forwarded
 * packets.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "constants.h"
#include "structs.h"
#include "maps.h"
#include "parse.h"
#include "icmp.h"
#include "select.h"
#include "quic.h"
#include "encap.h"
#include "vlan.h"
#include "reasons.h"

static __always_inline void count(__u32 key, __u64 bytes)
{
	struct lb_stats *st = bpf_map_lookup_elem(&stats, &key);

	if (st) {
		st->v1 += 1;
		st->v2 += bytes;
	}
}

/*
 * Steps 3-9 for a frame whose IP header passed the DROP rules and is no echo request: the flow
 * (from the IP header, or for an ICMP error from the embedded one), the VIP, the real, the
 * encapsulation. Its flow state starts here, so an echo reply never builds it. The IP header is
 * at l3_off; vp is NULL for an untagged frame (l3_off = ETH_HLEN: every VLAN step folds away).
 */
static __always_inline int forward_flow(struct xdp_md *ctx, void *data, void *data_end, __u64 frame_len,
					bool is_ipv6, __u32 l3_off, struct vlan_path *vp)
{
	struct packet_description pckt = {};
	struct vip_definition vip = {};
	struct vip_meta *vip_info;
	struct lb_stats *lru_stats;
	struct real_definition *real;
	const struct ctl_value *cval;
	__u32 key;
	void *l4, *lru;
	int ret;

	/* 3-4. The flow; ICMP errors are routed like their embedded flow. */
	if (is_ipv6) {
		parse_ipv6(data, l3_off, &pckt);
		l4 = data + l3_off + IPV6_HDR_LEN;
		if (pckt.flow.proto == IPPROTO_ICMPV6) {
			ret = handle_icmp6(data, data_end, l3_off, &pckt, &l4);
			if (ret >= 0)
				return ret;
		}
	} else {
		parse_ipv4(data, l3_off, &pckt);
		l4 = data + l3_off + IPV4_HDR_LEN;
		if (pckt.flow.proto == IPPROTO_ICMP) {
			ret = handle_icmp4(data, data_end, l3_off, &pckt, &l4);
			if (ret >= 0)
				return ret;
		}
	}

	/* 5. TCP / UDP only; then the VIP: {dst, dport, proto}, else {dst, 0, proto}, else PASS. */
	ret = parse_l4(l4, data_end, &pckt);
	if (ret >= 0)
		return ret;
	if (is_ipv6)
		__builtin_memcpy(vip.vipv6, pckt.flow.dstv6, 16);
	else
		vip.vip = pckt.flow.dst;
	vip.port = pckt.flow.port16[1];
	vip.proto = pckt.flow.proto;
	vip_info = bpf_map_lookup_elem(&vip_map, &vip);
	if (!vip_info) {
		vip.port = 0;
		vip_info = bpf_map_lookup_elem(&vip_map, &vip);
		if (!vip_info)
			return (pckt.flags & F_ICMP) ? KT_PASS(KT_PASS_ICMP_OTHER) : KT_PASS(KT_PASS_NO_VIP);
		/* A port-0 VIP takes every port: the flow forgets its dport unless the hash wants it. */
		if (!(vip_info->flags & (F_HASH_DPORT_ONLY | F_HASH_SRC_DST_PORT)))
			pckt.flow.port16[1] = 0;
	}

	/* 6. Size limit (of the frame without its VLAN tags), then the VIP packet counts in LRU.v1. */
	if (frame_len - (l3_off - sizeof(struct ethhdr)) > MAX_PCKT_SIZE)
		return KT_DROP(KT_DROP_TOO_BIG);
	/* One lookup of the LRU counter for v1 here and v2 (CH-routed) in select_real(). */
	lru_stats = global_stats(LRU_CNTRS);
	if (lru_stats)
		lru_stats->v1 += 1;
	if (vip_info->flags & F_HASH_NO_SRC_PORT)
		pckt.flow.port16[0] = 0;
	lru = cpu_lru();

	/* 7. The real: a QUIC connection id, else the LRU, else the ring (and the LRU write). */
	real = NULL;
	if (vip_info->flags & F_QUIC_VIP) {
		if (pckt.flags & F_ICMP) {
			quic_count_icmp(&pckt, is_ipv6);
		} else {
			ret = quic_route(l4, data_end, &pckt, vip_info, lru, &real);
			if (ret >= 0)
				return ret;
		}
	}
	if (!real)
		real = select_real(lru, &pckt, &vip, vip_info, lru_stats, is_ipv6);
	if (!real)   /* ring_select() left real_index 0 for an empty slot */
		return pckt.real_index ? KT_DROP(KT_DROP_REAL_MISSING) : KT_DROP(KT_DROP_SLOT_EMPTY);

	/* 8. The gateway MAC: the egress VLAN's, else ctl_array[0] (all zero: katran-tui drops and
	 * counts); per-VIP and per-real counters. */
	cval = vp ? vp->mac : NULL;
	if (!cval) {
		key = CTL_MAC_POS;
		cval = bpf_map_lookup_elem(&ctl_array, &key);
		if (!cval)
			return KT_DROP(KT_DROP_ZERO_MAC);
	}
	if ((cval->value & 0xFFFFFFFFFFFFULL) == 0) {
		count(MAX_VIPS + ZERO_MAC_DROP_CNTR, frame_len);
		return KT_DROP(KT_DROP_ZERO_MAC);
	}
	count(vip_info->vip_num, pckt.pkt_bytes);
	{
		struct lb_stats *rs = bpf_map_lookup_elem(&reals_stats, &pckt.real_index);

		if (rs) {
			rs->v1 += 1;
			rs->v2 += pckt.pkt_bytes;
		}
	}

	/* 9. Encapsulate by the real's family, whatever the packet's (docs/abi.md
	 * "Encapsulation across families": an IPv6 packet to an IPv4 real goes in IPIP). */
	if (real->flags & F_IPV6) {
		if (!encap_v6(ctx, cval, &pckt, real, is_ipv6, vp ? vp->len : 0, vp ? vp->tags : NULL)) {
			struct lb_stats *st = global_stats(ENCAP_FAIL_CNTR);

			if (st)
				st->v2 += 1;
			return KT_DROP(KT_DROP_ENCAP_FAILED);
		}
	} else {
		if (!encap_v4(ctx, cval, &pckt, real, vp ? vp->len : 0, vp ? vp->tags : NULL)) {
			struct lb_stats *st = global_stats(ENCAP_FAIL_CNTR);

			if (st)
				st->v1 += 1;
			return KT_DROP(KT_DROP_ENCAP_FAILED);
		}
	}
	if (vp && vp->st)
		vlan_add(&vp->st->balanced, frame_len);
	return XDP_TX;
}

/* Steps 3-9 from the IP header at l3_off (see forward_flow() for l3_off and vp). */
static __always_inline int process_ip(struct xdp_md *ctx, void *data, void *data_end, __u64 frame_len, bool is_ipv6,
				      __u32 l3_off, struct vlan_path *vp)
{
	int ret;

	/* 3. The IP header's DROP rules; 4. an echo request is answered here, before any flow state. */
	if (is_ipv6) {
		ret = check_ipv6(data, data_end, l3_off);
		if (ret >= 0)
			return ret;
		ret = answer_echo6(data, data_end, l3_off);
	} else {
		ret = check_ipv4(data, data_end, l3_off);
		if (ret >= 0)
			return ret;
		ret = answer_echo4(data, data_end, l3_off);
	}
	if (ret >= 0)
		return ret;
	return forward_flow(ctx, data, data_end, frame_len, is_ipv6, l3_off, vp);
}

/*
 * A tagged frame (vlan.h): its VLAN balanced, the same steps after the tags; else PASS. Inlined:
 * as a subprogram its call cost ~5% of a tagged LRU hit (calls are dear on this kind of host:
 * every ret goes through the kernel's return thunk, SRSO "Safe RET").
 */
static __always_inline int process_tagged(struct xdp_md *ctx, __u64 frame_len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct vlan_path vp = {};
	bool is_ipv6 = false;
	int ret;

	ret = vlan_ingress(data, data_end, frame_len, &vp, &is_ipv6);
	if (ret >= 0)
		return ret;
	ret = process_ip(ctx, data, data_end, frame_len, is_ipv6, sizeof(struct ethhdr) + vp.len, &vp);
	vlan_count_passed(&vp, ret, frame_len);
	return ret;
}

/*
 * Counts a frame's verdict: XDP_TOTAL and its action (v1 packets, v2 the received frame's bytes),
 * a DROP / PASS also its reason (reasons.h); returns the action. Each path of process_frame() ends
 * in a copy of its own: with one tail shared by the untagged path and the inlined tagged one, clang
 * allocated the untagged path's registers worse (bench, same run against the subprogram build:
 * untagged rows +5-8% in two runs of three; one tail per path: within the +-3% that two identical
 * builds differ by).
 */
static __always_inline int finish(int verdict, __u64 frame_len)
{
	int action = XDP_TX;
	__u32 key = MAX_VIPS + XDP_TX_CNTR;

	count(MAX_VIPS + XDP_TOTAL_CNTR, frame_len);
	/* XDP_TX carries no reason; DROP and PASS carry exactly one (reasons.h). */
	if (verdict != XDP_TX) {
		action = kt_action(verdict);
		key = action == XDP_PASS ? MAX_VIPS + XDP_PASS_CNTR : MAX_VIPS + XDP_DROP_CNTR;
		kt_count_reason(verdict, frame_len);
	}
	count(key, frame_len);
	return action;
}

static __always_inline int process_frame(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 frame_len = data_end - data;
	struct ethhdr *eth = data;
	bool is_ipv6;

	/* 1-2. Ethernet: IPv4 and IPv6; 802.1Q / 802.1ad tags in vlan.h (unconfigured: PASS); the rest: PASS. */
	if ((void *)(eth + 1) > data_end)
		return finish(KT_DROP(KT_DROP_SHORT_FRAME), frame_len);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		is_ipv6 = false;
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		is_ipv6 = true;
	else if (eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD))
		return finish(process_tagged(ctx, frame_len), frame_len);
	else
		return finish(KT_PASS(KT_PASS_NOT_IP), frame_len);
	return finish(process_ip(ctx, data, data_end, frame_len, is_ipv6, sizeof(struct ethhdr), NULL), frame_len);
}

SEC("xdp")
int balancer_ingress(struct xdp_md *ctx)
{
	return process_frame(ctx);
}

char _license[] SEC("license") = "GPL";
