/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 802.1Q / 802.1ad on the physical port ("load balancer on a stick" with a VLAN trunk): katran-tui
 * only, absent from upstream objects (no kt_vlan_map: the feature is unavailable).
 *
 * Frames the balancer parses: one 802.1Q tag (TPID 0x8100), or two tags (outer 0x88A8 or 0x8100,
 * inner 0x8100), then IPv4 / IPv6. The ingress VLAN's entry says whether VIP traffic on it is
 * balanced, with which egress VLAN IDs (the control plane writes the ingress ones for "same VLAN
 * out") and which gateway MAC (the egress VLAN's; all zero: ctl_array[0], the untagged default).
 * A balanced frame then takes the untagged path with its IP header at 18 / 22 instead of 14, and
 * the encapsulated frame keeps the same number of tags in front of the outer IP header, each with
 * its TPID, PCP and DEI and the egress VID. Echo replies keep the received tag (they go back to the
 * asker on its own VLAN).
 *
 * Everything else passes untouched, as it did before this feature: other TPIDs, a third tag, a
 * double tag whose inner VID is 0, a frame cut inside a tag or before the inner ethertype, a VLAN
 * without an entry or not balanced (no DROP rule applies to it, no echo is answered).
 *
 * Maps (ARRAYs where the hot path looks: a 4-byte-key HASH lookup costs ~17% of an LRU hit here,
 * an ARRAY lookup is inlined by the verifier):
 *   kt_vlan_map    ARRAY[4096], index = the VID of a one-tag frame -> struct kt_vlan_value
 *                  (egress_outer 0: no entry);
 *   kt_vlan_pairs  HASH {outer, inner} of an 802.1ad pair -> struct kt_vlan_value, whose `slot`
 *                  (1 .. KT_VLAN_PAIRS_MAX - 1, given by the control plane) places its counters;
 *   kt_vlan_stats  PERCPU_ARRAY of struct kt_vlan_stats: [VID] one-tag VLANs (with an entry or
 *                  not), [KT_VLAN_PAIR_STATS + slot] pairs, [KT_VLAN_PAIR_STATS] every pair
 *                  without an entry.
 * Counters are in / balanced / passed, each v1 packets, v2 frame bytes (tags included). On a
 * balanced VLAN every frame counts in `in`, then in `balanced` (sent to a real) or `passed`
 * (XDP_PASS); the rest of `in` was dropped or answered (echo). A VLAN that is not balanced counts
 * (in and passed) only frames whose destination is a VIP ({dst, dport, proto} or {dst, 0, proto},
 * TCP / UDP): "VIP traffic arrives on a VLAN the balancer does not parse".
 * An ARRAY value is copied in place by an update: a frame racing a change of kt_vlan_map may see
 * half of the new value (one frame; the control plane writes a whole entry at once).
 */
#ifndef KT_VLAN_H
#define KT_VLAN_H

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
#include "maps.h"
#include "reasons.h"

#define KT_VLAN_IDS 4096           /* kt_vlan_map entries: every 12-bit VID */
#define KT_VLAN_PAIRS_MAX 256      /* kt_vlan_pairs entries, and pair counter slots (0: no entry) */
#define KT_VLAN_PAIR_STATS KT_VLAN_IDS
#define KT_VLAN_STATS_SIZE (KT_VLAN_IDS + KT_VLAN_PAIRS_MAX)
#define KT_VLAN_F_BALANCE (1U << 0)
#define VLAN_HLEN 4
#define VLAN_VID_MASK 0x0FFF
#define VLAN_PCP_DEI_MASK 0xF000

/* 4 bytes: kt_vlan_pairs key, VIDs in host order. */
struct kt_vlan_key {
	__u16 outer;
	__u16 inner;
};

/* 16 bytes. */
struct kt_vlan_value {
	__u16 flags;              /* KT_VLAN_F_BALANCE */
	__u16 slot;               /* pairs: counter slot (kt_vlan_stats[KT_VLAN_PAIR_STATS + slot]) */
	__u16 egress_outer;       /* egress VIDs, host order (one tag: inner 0); outer 0: no entry */
	__u16 egress_inner;
	struct ctl_value mac;     /* the egress VLAN's gateway MAC; all zero: ctl_array[0] */
};

/* 48 bytes per CPU. */
struct kt_vlan_stats {
	struct lb_stats in;
	struct lb_stats balanced;
	struct lb_stats passed;
};

_Static_assert(sizeof(struct kt_vlan_key) == 4, "kt_vlan_key is 4 bytes");
_Static_assert(sizeof(struct kt_vlan_value) == 16, "kt_vlan_value is 16 bytes");
_Static_assert(sizeof(struct kt_vlan_stats) == 48, "kt_vlan_stats is 48 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct kt_vlan_value);
	__uint(max_entries, KT_VLAN_IDS);
} kt_vlan_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct kt_vlan_key);
	__type(value, struct kt_vlan_value);
	__uint(max_entries, KT_VLAN_PAIRS_MAX);
} kt_vlan_pairs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct kt_vlan_stats);
	__uint(max_entries, KT_VLAN_STATS_SIZE);
} kt_vlan_stats SEC(".maps");

/* Per-frame state of a balanced tagged frame (never in a map). */
struct vlan_path {
	__u32 len;                     /* tag bytes: 4 or 8; the IP header is at ETH_HLEN + len */
	__u32 tags[2];                 /* egress tags as stored: TPID, then TCI with the egress VID */
	const struct ctl_value *mac;   /* the egress VLAN's gateway, or NULL: ctl_array[0] */
	struct kt_vlan_stats *st;      /* this VLAN's counters */
};

/* A tag as stored (TPID and TCI, read as one word) with its VID replaced, PCP and DEI kept. */
static __always_inline __u32 vlan_retag(__u32 tag, __u16 vid)
{
	__u16 tci = bpf_ntohs((__be16)(tag >> 16));

	return (tag & 0xFFFF) | ((__u32)bpf_htons((tci & VLAN_PCP_DEI_MASK) | (vid & VLAN_VID_MASK)) << 16);
}

static __always_inline __u16 vlan_vid(__u32 tag)
{
	return bpf_ntohs((__be16)(tag >> 16)) & VLAN_VID_MASK;
}

/*
 * The tags of a frame whose first ethertype is 0x8100 or 0x88A8: the VLAN key, the tags as stored
 * (tags[0] outer, tags[1] inner), their length and whether IPv6 follows. Anything this feature
 * does not parse (see above): XDP_PASS.
 */
static __always_inline int parse_vlan(void *data, void *data_end, struct kt_vlan_key *key, __u32 *tags, __u32 *len,
				      bool *is_ipv6)
{
	void *tag = data + 2 * ETH_ALEN;
	__be16 proto;

	if (tag + VLAN_HLEN + sizeof(__be16) > data_end)   /* the tag and the ethertype after it */
		return KT_PASS(KT_PASS_VLAN_UNPARSED);
	tags[0] = *(__u32 *)tag;
	tags[1] = 0;
	proto = *(__be16 *)(tag + VLAN_HLEN);
	key->outer = vlan_vid(tags[0]);
	key->inner = 0;
	*len = VLAN_HLEN;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		if (tag + 2 * VLAN_HLEN + sizeof(__be16) > data_end)
			return KT_PASS(KT_PASS_VLAN_UNPARSED);
		tags[1] = *(__u32 *)(tag + VLAN_HLEN);
		key->inner = vlan_vid(tags[1]);
		if (key->inner == 0)
			return KT_PASS(KT_PASS_VLAN_UNPARSED);
		*len = 2 * VLAN_HLEN;
		proto = *(__be16 *)(tag + 2 * VLAN_HLEN);
	} else if ((__u16)tags[0] != bpf_htons(ETH_P_8021Q)) {
		return KT_PASS(KT_PASS_VLAN_UNPARSED); /* 0x88A8 alone is not a tag this feature parses */
	}
	if (proto == bpf_htons(ETH_P_IP))
		*is_ipv6 = false;
	else if (proto == bpf_htons(ETH_P_IPV6))
		*is_ipv6 = true;
	else
		return KT_PASS(KT_PASS_NOT_IP);  /* ARP and the like on a trunk: not a VLAN problem */
	return FURTHER_PROCESSING;
}

static __always_inline void vlan_add(struct lb_stats *c, __u64 bytes)
{
	c->v1 += 1;
	c->v2 += bytes;
}

/*
 * Whether a frame of a VLAN that is not balanced goes to a VIP: a TCP / UDP header right after
 * an IPv4 header (any valid length, first fragment) or an IPv6 header, its {dst, dport, proto}
 * or {dst, 0, proto} in vip_map. Reads only; a frame cut short is no VIP frame.
 */
static __always_inline bool vlan_to_vip(void *data, void *data_end, __u32 l3_off, bool is_ipv6)
{
	struct vip_definition vip = {};
	__be16 *ports;

	if (is_ipv6) {
		struct ipv6hdr *ip6h = data + l3_off;

		if ((void *)(ip6h + 1) > data_end)
			return false;
		__builtin_memcpy(vip.vipv6, &ip6h->daddr, 16);
		vip.proto = ip6h->nexthdr;
		ports = (void *)(ip6h + 1);
	} else {
		struct iphdr *iph = data + l3_off;

		if ((void *)(iph + 1) > data_end)
			return false;
		if (iph->ihl < 5 || (iph->frag_off & bpf_htons(0x1FFF)))
			return false;           /* no L4 header where the ports would be */
		vip.vip = iph->daddr;
		vip.proto = iph->protocol;
		ports = (void *)iph + (iph->ihl & 0xF) * 4;
	}
	if (vip.proto != IPPROTO_TCP && vip.proto != IPPROTO_UDP)
		return false;
	if ((void *)(ports + 2) > data_end)
		return false;
	vip.port = ports[1];
	if (bpf_map_lookup_elem(&vip_map, &vip))
		return true;
	vip.port = 0;
	return bpf_map_lookup_elem(&vip_map, &vip) != NULL;
}

/*
 * A tagged frame: its VLAN's entry, else XDP_PASS (counted when it goes to a VIP). For a balanced
 * VLAN, fills vp (egress tags, MAC, counters, `in` counted) and returns FURTHER_PROCESSING with
 * the IP header at ETH_HLEN + vp->len.
 */
static __always_inline int vlan_ingress(void *data, void *data_end, __u64 frame_len, struct vlan_path *vp, bool *is_ipv6)
{
	struct kt_vlan_value *cfg;
	struct kt_vlan_key key;
	__u32 idx;
	int ret;

	ret = parse_vlan(data, data_end, &key, vp->tags, &vp->len, is_ipv6);
	if (ret >= 0)
		return ret;
	if (key.inner == 0) {
		idx = key.outer;
		cfg = bpf_map_lookup_elem(&kt_vlan_map, &idx);
	} else {
		cfg = bpf_map_lookup_elem(&kt_vlan_pairs, &key);
		idx = KT_VLAN_PAIR_STATS + (cfg ? cfg->slot : 0);
	}
	if (!cfg || !(cfg->flags & KT_VLAN_F_BALANCE)) {
		if (vlan_to_vip(data, data_end, ETH_HLEN + vp->len, *is_ipv6)) {
			struct kt_vlan_stats *st = bpf_map_lookup_elem(&kt_vlan_stats, &idx);

			if (st) {
				vlan_add(&st->in, frame_len);
				vlan_add(&st->passed, frame_len);
			}
		}
		return KT_PASS(KT_PASS_VLAN_UNPARSED);
	}
	vp->tags[0] = vlan_retag(vp->tags[0], cfg->egress_outer);
	vp->tags[1] = vlan_retag(vp->tags[1], cfg->egress_inner);
	vp->mac = (cfg->mac.value & 0xFFFFFFFFFFFFULL) ? &cfg->mac : NULL;
	vp->st = bpf_map_lookup_elem(&kt_vlan_stats, &idx);
	if (vp->st)
		vlan_add(&vp->st->in, frame_len);
	return FURTHER_PROCESSING;
}

/* The verdict of a balanced VLAN's frame, for its counters (`balanced` counts in forward_flow()). */
static __always_inline void vlan_count_passed(const struct vlan_path *vp, int verdict, __u64 frame_len)
{
	if (kt_action(verdict) == XDP_PASS && vp->st)
		vlan_add(&vp->st->passed, frame_len);
}

#endif
