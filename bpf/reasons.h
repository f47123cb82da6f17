/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Why a frame was dropped or passed (katran-tui only: upstream objects have no kt_reasons, and
 * userspace treats the map as optional). Every XDP_DROP and every XDP_PASS the balancer returns
 * carries exactly one reason, so the drop reasons sum to XDP_DROP and the pass reasons to XDP_PASS
 * (packets and frame bytes).
 *
 * The reason travels in the verdict the step functions already return: KT_DROP(r) / KT_PASS(r)
 * put the kt_reasons index above the action's byte, so every `ret >= 0` check keeps working and
 * balancer_ingress() alone counts it (on the DROP and PASS branches; XDP_TX carries no reason and
 * the forwarding path pays nothing). Code that compares a verdict with an action masks it first
 * (kt_action()).
 *
 * kt_reasons: PERCPU_ARRAY, value {u64 packets, u64 frame bytes} (struct lb_stats), drop reasons at
 * [0, KT_PASS_BASE), pass reasons at [KT_PASS_BASE, KT_REASONS_SIZE). The names and their order are
 * src/dataplane/abi.ts DROP_REASONS / PASS_REASONS (index = place in the list, pass reasons from
 * KT_PASS_BASE; REASONS in abi.ts): keep the two in step.
 */
#ifndef KT_REASONS_H
#define KT_REASONS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "structs.h"

/* Drop reasons: kt_reasons[r]. */
#define KT_DROP_SHORT_FRAME 0        /* shorter than an Ethernet header */
#define KT_DROP_IPV4_OPTIONS 1       /* ihl != 5 (an ICMP error's embedded header too) */
#define KT_DROP_IPV4_FRAGMENT 2
#define KT_DROP_IPV6_FRAGMENT 3
#define KT_DROP_IP_HEADER_CUT 4      /* IP header (or an ICMP error's embedded one) cut short */
#define KT_DROP_L4_HEADER_CUT 5      /* TCP / UDP / ICMP header (or an embedded TCP / UDP one) cut short */
#define KT_DROP_TOO_BIG 6            /* VIP frame over MAX_PCKT_SIZE (without its VLAN tags) */
#define KT_DROP_SLOT_EMPTY 7         /* the VIP's ring slot is 0 (or outside ch_rings) */
#define KT_DROP_REAL_MISSING 8       /* the ring or a QUIC id names a real index not in reals */
#define KT_DROP_ZERO_MAC 9           /* gateway MAC all zero (or ctl_array unreadable) */
#define KT_DROP_ENCAP_FAILED 10      /* bpf_xdp_adjust_head refused the room */
#define KT_DROP_QUIC_UNKNOWN_REAL 11 /* server_id_map names a real index >= MAX_REALS */
#define KT_DROP_INTERNAL 12          /* a lookup that cannot fail did (quic_stats_map): a bug */

/* Pass reasons: kt_reasons[KT_PASS_BASE + r]. */
#define KT_PASS_BASE 32
#define KT_PASS_NOT_IP (KT_PASS_BASE + 0)        /* ethertype (after the tags) neither IPv4 nor IPv6 */
#define KT_PASS_VLAN_UNPARSED (KT_PASS_BASE + 1) /* tagged frame of a VLAN not balanced, or tags not parsed */
#define KT_PASS_NOT_TCP_UDP (KT_PASS_BASE + 2)   /* IP protocol not TCP / UDP / ICMP */
#define KT_PASS_ICMP_OTHER (KT_PASS_BASE + 3)    /* ICMP neither echo request nor an error about a VIP flow */
#define KT_PASS_NO_VIP (KT_PASS_BASE + 4)        /* TCP / UDP to no VIP */

#define KT_REASONS_SIZE 64

#define KT_REASON_SHIFT 8
#define KT_DROP(r) (XDP_DROP | ((r) << KT_REASON_SHIFT))
#define KT_PASS(r) (XDP_PASS | ((r) << KT_REASON_SHIFT))

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, KT_REASONS_SIZE);
} kt_reasons SEC(".maps");

/* The XDP action of a verdict (KT_DROP / KT_PASS carry a reason above it). */
static __always_inline int kt_action(int verdict)
{
	return verdict & 0xff;
}

/* Counts the reason a DROP / PASS verdict carries. */
static __always_inline void kt_count_reason(int verdict, __u64 frame_len)
{
	__u32 key = (__u32)verdict >> KT_REASON_SHIFT;
	struct lb_stats *st = bpf_map_lookup_elem(&kt_reasons, &key);

	if (st) {
		st->v1 += 1;
		st->v2 += frame_len;
	}
}

#endif
