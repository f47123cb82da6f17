/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QUIC connection-id routing for QUIC_VIP VIPs, v4 and v6 alike (docs/abi.md, packet path
 * step 7): the server id in the destination connection id picks the real through
 * server_id_map, and the LRU entry of the flow is reconciled with it. Its maps carry Katran's
 * names, types and sizes.
 *
 * Parsing counts from the UDP payload start to data_end (the UDP and IP length fields are not
 * read, so Ethernet padding counts). Byte 0 with the top bit set is a long header: it needs
 * >= 14 bytes; Initial (0x00) and 0-RTT (0x10) are "initial", Handshake (0x20) and Retry (0x30)
 * need a DCID length (byte 5) >= 8, the CID at byte 6. A short header needs >= 9 bytes, the CID at
 * byte 1. The QUIC version and the fixed bit are not checked.
 */
#ifndef KT_QUIC_H
#define KT_QUIC_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "constants.h"
#include "structs.h"
#include "maps.h"
#include "select.h"
#include "reasons.h"

/* server_id_map entries (keys 0..0xFFFFFD): about 128 MiB of kernel memory (values round up to 8
 * bytes). Userspace may size the map before load (bpf_map__set_max_entries): ids at or beyond
 * max_entries are invalid and fall back to hashing, as an unmapped id does. */
#define QUIC_SERVER_IDS 0xFFFFFE

#define QUIC_LONG_HEADER 0x80
#define QUIC_LONG_TYPE 0x30
#define QUIC_LONG_0RTT 0x10         /* types <= 0-RTT (Initial, 0-RTT) are "initial" */
#define QUIC_LONG_MIN_LEN 14
#define QUIC_LONG_DCID_LEN_OFF 5
#define QUIC_LONG_CID_OFF 6
#define QUIC_MIN_DCID_LEN 8
#define QUIC_SHORT_MIN_LEN 9
#define QUIC_SHORT_CID_OFF 1
#define UDP_HDR_LEN 8

/* quic_stats_map[0]: 13 u64 in Katran's order. cid_invalid_server_id_sample is each CPU's last
 * invalid id (a value, not a count); cid_v0 never moves. */
struct lb_quic_packets_stats {
	__u64 ch_routed;
	__u64 cid_initial;
	__u64 cid_invalid_server_id;
	__u64 cid_invalid_server_id_sample;
	__u64 cid_routed;
	__u64 cid_unknown_real_dropped;
	__u64 cid_v0;
	__u64 cid_v1;
	__u64 cid_v2;
	__u64 cid_v3;
	__u64 dst_match_in_lru;
	__u64 dst_mismatch_in_lru;
	__u64 dst_not_found_in_lru;
};
_Static_assert(sizeof(struct lb_quic_packets_stats) == 13 * 8, "quic_stats_map values are 13 u64");

/* server id -> real index (0: unset) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, QUIC_SERVER_IDS);
} server_id_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_quic_packets_stats);
	__uint(max_entries, 1);
} quic_stats_map SEC(".maps");

/* vip_num -> v1 initial packets, v2 LRU entries the id rewrote (dst_mismatch_in_lru) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, MAX_VIPS);
} server_id_stats SEC(".maps");

/* An ICMP error to a QUIC VIP (no QUIC parsing; it takes the LRU / ring): offset 11, v1 each, v2
 * the unreachable codes (v4: 1 host, 3 port; v6: 3 address, 4 port). */
static __always_inline void quic_count_icmp(const struct packet_description *pckt, bool is_ipv6)
{
	struct lb_stats *st = global_stats(QUIC_ICMP_STATS);
	__u8 code = pckt->icmp_code;

	if (!st)
		return;
	st->v1 += 1;
	if (is_ipv6 ? (code == 3 || code == 4) : (code == 1 || code == 3))
		st->v2 += 1;
}

#define QUIC_NO_ID 0
#define QUIC_INITIAL 1
#define QUIC_HAS_ID 2

/*
 * What the header carries: QUIC_HAS_ID with *id > 0 (and that CID version counted), QUIC_INITIAL,
 * or QUIC_NO_ID (too short, a DCID under 8 bytes, CID version 0, or an id <= 0).
 */
static __always_inline int quic_parse(const __u8 *p, void *data_end, __u32 *id, struct lb_quic_packets_stats *qs)
{
	const __u8 *cid;

	if (p[0] & QUIC_LONG_HEADER) {
		if ((void *)(p + QUIC_LONG_MIN_LEN) > data_end)
			return QUIC_NO_ID;
		if ((p[0] & QUIC_LONG_TYPE) <= QUIC_LONG_0RTT)
			return QUIC_INITIAL;
		if (p[QUIC_LONG_DCID_LEN_OFF] < QUIC_MIN_DCID_LEN)
			return QUIC_NO_ID;
		cid = p + QUIC_LONG_CID_OFF;
	} else {
		if ((void *)(p + QUIC_SHORT_MIN_LEN) > data_end)
			return QUIC_NO_ID;
		cid = p + QUIC_SHORT_CID_OFF;
	}
	switch (cid[0] >> 6) {
	case 1:
		*id = ((__u32)(cid[0] & 0x3F) << 10) | ((__u32)cid[1] << 2) | (cid[2] >> 6);
		if (*id == 0)
			return QUIC_NO_ID;
		qs->cid_v1 += 1;
		return QUIC_HAS_ID;
	case 2:
		*id = ((__u32)cid[1] << 16) | ((__u32)cid[2] << 8) | cid[3];
		if (*id == 0)
			return QUIC_NO_ID;
		qs->cid_v2 += 1;
		return QUIC_HAS_ID;
	case 3:
		/* signed: ids with the top bit set are <= 0, "no id" */
		*id = ((__u32)cid[1] << 24) | ((__u32)cid[2] << 16) | ((__u32)cid[3] << 8) | cid[4];
		if ((__s32)*id <= 0)
			return QUIC_NO_ID;
		qs->cid_v3 += 1;
		return QUIC_HAS_ID;
	default:
		return QUIC_NO_ID;
	}
}

/*
 * The id's real in the LRU this packet uses, under its flow key (NO_SPORT applied; NO_LRU
 * ignored): the same real, nothing changes; another real, the entry's pos is overwritten (atime
 * kept); none, {real, atime 0} is written unless this CPU is over MAX_CONN_RATE (which ticks).
 */
static __always_inline void quic_reconcile_lru(void *lru, const struct packet_description *pckt, __u32 real_index,
					       __u32 vip_num, struct lb_quic_packets_stats *qs)
{
	struct real_pos_lru *entry = lru_get(lru, &pckt->flow);
	struct lb_stats *sid;
	__u64 now;

	if (!entry) {
		qs->dst_not_found_in_lru += 1;
		if (!over_conn_rate(&now)) {
			struct real_pos_lru fresh = { .pos = real_index };

			lru_put(lru, &pckt->flow, &fresh);
		}
		return;
	}
	if (entry->pos == real_index) {
		qs->dst_match_in_lru += 1;
		return;
	}
	entry->pos = real_index;
	qs->dst_mismatch_in_lru += 1;
	sid = bpf_map_lookup_elem(&server_id_stats, &vip_num);
	if (sid)
		sid->v2 += 1;
}

/*
 * A QUIC VIP packet that is no ICMP error (l4: its transport header, the QUIC header 8 bytes
 * later). FURTHER_PROCESSING with *real set (pckt->real_index too) when the id routed it, or
 * with *real NULL to fall back to the LRU and the ring; XDP_DROP for an id mapped to a real index
 * >= MAX_REALS.
 */
static __always_inline int quic_route(void *l4, void *data_end, struct packet_description *pckt,
				      const struct vip_meta *vip_info, void *lru, struct real_definition **real)
{
	const __u8 *p = l4 + UDP_HDR_LEN;
	struct lb_quic_packets_stats *qs;
	struct lb_stats *sid;
	__u32 zero = 0, id = 0, *mapped, real_index;
	int kind = QUIC_NO_ID;

	*real = NULL;
	qs = bpf_map_lookup_elem(&quic_stats_map, &zero);
	if (!qs)
		return KT_DROP(KT_DROP_INTERNAL);
	if ((void *)(p + 1) <= data_end)
		kind = quic_parse(p, data_end, &id, qs);
	if (kind == QUIC_INITIAL) {
		qs->cid_initial += 1;
		sid = bpf_map_lookup_elem(&server_id_stats, &vip_info->vip_num);
		if (sid)
			sid->v1 += 1;
		return FURTHER_PROCESSING;
	}
	if (kind == QUIC_NO_ID) {
		qs->ch_routed += 1;
		return FURTHER_PROCESSING;
	}
	mapped = bpf_map_lookup_elem(&server_id_map, &id);
	if (!mapped || *mapped == 0) {
		qs->cid_invalid_server_id += 1;
		qs->cid_invalid_server_id_sample = id;
		qs->ch_routed += 1;
		return FURTHER_PROCESSING;
	}
	real_index = *mapped;
	if (real_index >= MAX_REALS) {
		qs->cid_unknown_real_dropped += 1;
		return KT_DROP(KT_DROP_QUIC_UNKNOWN_REAL);
	}
	quic_reconcile_lru(lru, pckt, real_index, vip_info->vip_num, qs);
	*real = bpf_map_lookup_elem(&reals, &real_index);
	if (!*real)
		return KT_DROP(KT_DROP_REAL_MISSING);
	pckt->real_index = real_index;
	qs->cid_routed += 1;
	return FURTHER_PROCESSING;
}

#endif
