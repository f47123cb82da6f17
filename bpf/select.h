/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Real selection (katran-abi.md packet path step 7): the per-CPU LRU (lru_mapping[cpu], else
 * fallback_cache), the down-reals check of UDP_FLOW_MIGRATION VIPs, then consistent hashing into
 * the VIP's Maglev ring, then the LRU write.
 */
#ifndef KT_SELECT_H
#define KT_SELECT_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "constants.h"
#include "structs.h"
#include "maps.h"
#include "jhash.h"
#include "down_reals.h"

static __always_inline struct lb_stats *global_stats(__u32 offset)
{
	__u32 key = MAX_VIPS + offset;

	return bpf_map_lookup_elem(&stats, &key);
}

/* This CPU's LRU, or NULL when it has none: then fallback_cache, counted in FALLBACK_LRU. */
static __always_inline void *cpu_lru(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *lru = bpf_map_lookup_elem(&lru_mapping, &cpu);

	if (!lru) {
		struct lb_stats *st = global_stats(FALLBACK_LRU_CNTR);

		if (st)
			st->v1 += 1;
	}
	return lru;
}

/*
 * The LRU read and write, with one call site per map (this CPU's LRU or fallback_cache): a call
 * site that can see two different maps makes the verifier keep the generic helper, an indirect
 * call through the map's ops (a retpoline on this kernel), instead of inlining the lookup and
 * calling the update directly.
 */
/* Subprograms of their own: clang would otherwise sink the two lookup (or update) calls of
 * lru_get() / lru_put() into one call site (it did, once quic.h added a second lru_get()); the
 * fallback path is rare, the extra call costs nothing that matters. */
static __noinline struct real_pos_lru *fallback_get(const struct flow_key *flow)
{
	return bpf_map_lookup_elem(&fallback_cache, flow);
}

static __always_inline struct real_pos_lru *lru_get(void *lru, const struct flow_key *flow)
{
	if (lru)
		return bpf_map_lookup_elem(lru, flow);
	return fallback_get(flow);
}

static __noinline void fallback_put(const struct flow_key *flow, const struct real_pos_lru *entry)
{
	bpf_map_update_elem(&fallback_cache, flow, entry, BPF_ANY);
}

static __always_inline void lru_put(void *lru, const struct flow_key *flow, const struct real_pos_lru *entry)
{
	if (lru)
		bpf_map_update_elem(lru, flow, entry, BPF_ANY);
	else
		fallback_put(flow, entry);
}

/* LRU hit: the real, with pckt->real_index set. UDP entries older than 30 s are misses. */
static __always_inline struct real_definition *lru_lookup(void *lru, struct packet_description *pckt)
{
	struct real_pos_lru *hit = lru_get(lru, &pckt->flow);
	__u32 pos;

	if (!hit)
		return NULL;
	if (pckt->flow.proto == IPPROTO_UDP) {
		__u64 now = bpf_ktime_get_ns();

		if (now - hit->atime > LRU_UDP_TIMEOUT)
			return NULL;
		hit->atime = now;
	}
	pos = hit->pos;
	pckt->real_index = pos;
	return bpf_map_lookup_elem(&reals, &pos);
}

/*
 * NEW_CONN_RATE: v1 new flows of this CPU in the current one-second window, v2 the window's
 * start. True when this CPU is over MAX_CONN_RATE (the LRU write is then skipped).
 */
static __always_inline bool over_conn_rate(__u64 *now)
{
	struct lb_stats *rate = global_stats(NEW_CONN_RATE_CNTR);

	*now = bpf_ktime_get_ns();
	if (!rate)
		return true;
	if (*now - rate->v2 > ONE_SEC) {
		rate->v1 = 1;
		rate->v2 = *now;
		return false;
	}
	rate->v1 += 1;
	return rate->v1 > MAX_CONN_RATE;
}

/*
 * Katran's flow hash. DPORT_HASH first rewrites the flow itself (sport = dport, src = 0): the
 * rewritten flow is also the key of the LRU write, and its zero source the outer source's address
 * (ring_select() puts the client's port back; docs/abi.md, packet path).
 */
static __always_inline __u32 flow_hash(struct packet_description *pckt, const struct vip_meta *vip_info, bool is_ipv6)
{
	if (vip_info->flags & F_HASH_DPORT_ONLY) {
		pckt->flow.port16[0] = pckt->flow.port16[1];
		pckt->flow.srcv6[0] = 0;
		pckt->flow.srcv6[1] = 0;
		pckt->flow.srcv6[2] = 0;
		pckt->flow.srcv6[3] = 0;
	}
	if (is_ipv6)
		return jhash_2words(jhash_16(pckt->flow.srcv6, MAX_VIPS), pckt->flow.ports, CH_RINGS_SIZE);
	return jhash_2words(pckt->flow.src, pckt->flow.ports, CH_RINGS_SIZE);
}

/*
 * hash % RING_SIZE without a division (a 64-bit DIV costs tens of cycles on x86): RING_SIZE is
 * 2^16 + 1, so 2^16 == -1 (mod RING_SIZE) and hi * 2^16 + lo == lo - hi, which lies in
 * (-RING_SIZE, RING_SIZE).
 */
_Static_assert(RING_SIZE == (1 << 16) + 1, "ring_pos() relies on RING_SIZE == 2^16 + 1");
static __always_inline __u32 ring_pos(__u32 hash)
{
	__s32 pos = (__s32)(hash & 0xffff) - (__s32)(hash >> 16);

	return pos < 0 ? pos + RING_SIZE : pos;
}

/*
 * Consistent hashing: ring slot -> real index -> real. Slot 0 (empty): CH_DROP.v2; index with no
 * real: CH_DROP.v1; both NULL (DROP), pckt->real_index saying which. Then the LRU write unless NO_LRU, a TCP RST or over rate.
 */
static __always_inline struct real_definition *ring_select(void *lru, struct packet_description *pckt,
							   const struct vip_meta *vip_info, bool is_ipv6)
{
	struct real_definition *real;
	struct lb_stats *drops;
	bool flood;
	__u64 now;
	__u32 key, *slot;
	__be16 sport = pckt->flow.port16[0];

	/*
	 * The ring position before the clock: the hash is a long ALU chain that overlaps the loads
	 * still in flight, whereas bpf_ktime_get_ns() (a fenced rdtsc) first waits for everything
	 * issued before it. over_conn_rate() still runs for every CH-routed packet, drops included.
	 */
	key = RING_SIZE * vip_info->vip_num + ring_pos(flow_hash(pckt, vip_info, is_ipv6));
	flood = over_conn_rate(&now);
	slot = bpf_map_lookup_elem(&ch_rings, &key);
	/* real_index tells the caller's DROP reason: 0 an empty slot (or none), else a missing real. */
	if (!slot) {
		pckt->real_index = 0;
		return NULL;
	}
	key = *slot;
	pckt->real_index = key;
	if (key == 0) {
		drops = global_stats(CH_DROP_STATS);
		if (drops)
			drops->v2 += 1;
		return NULL;
	}
	real = bpf_map_lookup_elem(&reals, &key);
	if (!real) {
		drops = global_stats(CH_DROP_STATS);
		if (drops)
			drops->v1 += 1;
		return NULL;
	}
	if (!(vip_info->flags & F_LRU_BYPASS) && !(pckt->flags & F_TCP_RST) && !flood) {
		struct real_pos_lru entry = {
			.pos = key,
			.atime = pckt->flow.proto == IPPROTO_UDP ? now : 0,
		};

		lru_put(lru, &pckt->flow, &entry);
	}
	/* DPORT_HASH: the outer source takes the client's port again (its address stays zero). */
	pckt->flow.port16[0] = sport;
	return real;
}

/* lru_miss_stats[real] += 1 when the matched VIP is the one traced in vip_miss_stats[0]. */
static __always_inline void trace_lru_miss(const struct vip_definition *vip, const struct packet_description *pckt, bool is_ipv6)
{
	__u32 zero = 0;
	struct vip_definition *traced = bpf_map_lookup_elem(&vip_miss_stats, &zero);
	__u32 *count;
	bool match;

	if (!traced || traced->port != vip->port || traced->proto != vip->proto)
		return;
	if (is_ipv6)
		match = traced->vipv6[0] == vip->vipv6[0] && traced->vipv6[1] == vip->vipv6[1] &&
			traced->vipv6[2] == vip->vipv6[2] && traced->vipv6[3] == vip->vipv6[3];
	else
		match = traced->vip == vip->vip;
	if (!match)
		return;
	count = bpf_map_lookup_elem(&lru_miss_stats, &pckt->real_index);
	if (count)
		*count += 1;
}

/*
 * UDP_FLOW_MIGRATION: the LRU hit's real index (0 without a hit) listed as down for the VIP drops
 * the hit (offset 15), so the ring decides again. Every UDP packet of such a VIP ticks the
 * new-connection rate, and over MAX_CONN_RATE the check is skipped (docs/abi.md).
 */
static __always_inline bool flow_migrates(const struct packet_description *pckt, const struct vip_definition *vip)
{
	struct lb_stats *st;
	__u64 now;

	if (over_conn_rate(&now) || !real_is_down(vip, pckt->real_index))
		return false;
	st = global_stats(UDP_FLOW_MIGRATION_STATS);
	if (st)
		st->v1 += 1;
	return true;
}

/*
 * The whole of step 7 for a packet no QUIC connection id routed; lru is cpu_lru()'s. Returns the
 * real (pckt->real_index set) or NULL for DROP. Counts LRU_MISS (TCP only), LRU.v2 (CH-routed;
 * lru_stats is the caller's stats[MAX_VIPS + LRU_CNTRS]) and the lru_miss_stats trace.
 */
static __always_inline struct real_definition *select_real(void *lru, struct packet_description *pckt,
							   const struct vip_definition *vip, const struct vip_meta *vip_info,
							   struct lb_stats *lru_stats, bool is_ipv6)
{
	struct real_definition *real = NULL;
	struct lb_stats *st;

	if (!(pckt->flags & F_SYN_SET) && !(vip_info->flags & F_LRU_BYPASS))
		real = lru_lookup(lru, pckt);
	if ((vip_info->flags & F_UDP_FLOW_MIGRATION) && pckt->flow.proto == IPPROTO_UDP && flow_migrates(pckt, vip))
		real = NULL;
	if (real)
		return real;
	if (pckt->flow.proto == IPPROTO_TCP) {
		st = global_stats(LRU_MISS_CNTR);
		if (st) {
			if (pckt->flags & F_SYN_SET)
				st->v1 += 1;
			else
				st->v2 += 1;
		}
	}
	real = ring_select(lru, pckt, vip_info, is_ipv6);
	if (!real)
		return NULL;
	if (lru_stats)
		lru_stats->v2 += 1;
	trace_lru_miss(vip, pckt, is_ipv6);
	return real;
}

#endif
