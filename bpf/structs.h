/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Map keys and values of Katran's ABI (little-endian host; addresses and ports in network order;
 * padding zero), plus the balancer's per-packet scratch state. Sizes are asserted below: they are
 * the ABI, a change here breaks every control plane.
 */
#ifndef KT_STRUCTS_H
#define KT_STRUCTS_H

#include <linux/types.h>

/* 40 bytes: src @0, dst @16, ports @32 = [be16 sport, be16 dport], proto @36, pad 3. */
struct flow_key {
	union {
		__be32 src;
		__be32 srcv6[4];
	};
	union {
		__be32 dst;
		__be32 dstv6[4];
	};
	union {
		__u32 ports;
		__be16 port16[2];
	};
	__u8 proto;
	__u8 pad[3];
};

/* 20 bytes: addr @0, port be16 @16, proto @18, pad 1. */
struct vip_definition {
	union {
		__be32 vip;
		__be32 vipv6[4];
	};
	__be16 port;
	__u8 proto;
	__u8 pad;
};

/* 8 bytes */
struct vip_meta {
	__u32 flags;
	__u32 vip_num;
};

/* 16 bytes: atime is ktime ns of the last use (UDP only, 0 for TCP). */
struct real_pos_lru {
	__u32 pos;
	__u32 pad;
	__u64 atime;
};

/* 20 bytes: dst @0, flags @16 (F_IPV6), pad 3. */
struct real_definition {
	union {
		__be32 dst;
		__be32 dstv6[4];
	};
	__u8 flags;
	__u8 pad[3];
};

/* 8 bytes: ctl_array values. */
struct ctl_value {
	union {
		__u64 value;
		__u32 ifindex;
		__u8 mac[6];
	};
};

/* 16 bytes: every counter of stats / reals_stats. */
struct lb_stats {
	__u64 v1;
	__u64 v2;
};

/* Per-packet scratch state of the balancer (never in a map). */
struct packet_description {
	struct flow_key flow;   /* the LRU key and the hash input */
	__u32 real_index;
	__u32 pkt_bytes;        /* IPv4 tot_len / IPv6 payload_len of the received packet */
	__u8 flags;             /* F_SYN_SET, F_ICMP, F_TCP_RST */
	__u8 tos;               /* TOS / traffic class, copied to the outer header */
	__u8 icmp_code;         /* the code of an ICMP error (F_ICMP), for the QUIC ICMP counter */
};

_Static_assert(sizeof(struct flow_key) == 40, "flow_key is 40 bytes");
_Static_assert(sizeof(struct vip_definition) == 20, "vip_definition is 20 bytes");
_Static_assert(sizeof(struct vip_meta) == 8, "vip_meta is 8 bytes");
_Static_assert(sizeof(struct real_pos_lru) == 16, "real_pos_lru is 16 bytes");
_Static_assert(sizeof(struct real_definition) == 20, "real_definition is 20 bytes");
_Static_assert(sizeof(struct ctl_value) == 8, "ctl_value is 8 bytes");
_Static_assert(sizeof(struct lb_stats) == 16, "lb_stats is 16 bytes");

#endif
