/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compile-time sizes, flags and stats offsets of katran-tui's balancer. They are the defaults of
 * Katran's build (see ../shared/katran-abi.md); userspace reads every size back from the loaded
 * object's maps and never hard-codes them. src/dataplane/abi.ts mirrors these facts.
 */
#ifndef KT_CONSTANTS_H
#define KT_CONSTANTS_H

/* ---- sizes ---------------------------------------------------------------------------------- */
#define MAX_VIPS 512
#define MAX_REALS 4096
#define RING_SIZE 65537 /* prime: ch_rings holds MAX_VIPS rings of RING_SIZE slots */
#define CH_RINGS_SIZE (MAX_VIPS * RING_SIZE)
#define STATS_MAP_SIZE (MAX_VIPS * 2)
#define CTL_MAP_SIZE 16
#define MAX_SUPPORTED_CPUS 128
#define DEFAULT_LRU_SIZE 1000 /* fallback_cache and the lru_mapping inner template */

#define MAX_PCKT_SIZE 1514          /* VIP frames longer than this are dropped */
#define LRU_UDP_TIMEOUT 30000000000ULL /* 30 s: older UDP LRU entries are misses */
#define ONE_SEC 1000000000ULL
#define MAX_CONN_RATE 125000        /* new flows per second per CPU before LRU writes stop */
#define DEFAULT_TTL 64              /* outer TTL / hop limit, and the ICMP echo reply's */

/* ctl_array slot holding the default gateway MAC (the only slot the datapath reads). */
#define CTL_MAC_POS 0

/* Outer source prefixes: 172.16.0.0/16 for IPIP, 100::/64 (+ 32-bit suffix) for IPv6. */
#define IPIP_V4_PREFIX_LO 172
#define IPIP_V4_PREFIX_HI 16

/* ---- VIP flags (vip_meta.flags) ---------------------------------------------------------------- */
#define F_HASH_NO_SRC_PORT (1U << 0)   /* NO_SPORT */
#define F_LRU_BYPASS (1U << 1)         /* NO_LRU */
#define F_QUIC_VIP (1U << 2)           /* QUIC_VIP: server id in the connection id (quic.h) */
#define F_HASH_DPORT_ONLY (1U << 3)    /* DPORT_HASH */
#define F_SRC_ROUTING (1U << 4)        /* not implemented here */
#define F_LOCAL_VIP (1U << 5)          /* not implemented here */
#define F_GLOBAL_LRU (1U << 6)         /* not implemented here */
#define F_HASH_SRC_DST_PORT (1U << 7)  /* HASH_SRC_DST_PORT */
#define F_UDP_STABLE_ROUTING (1U << 8) /* not implemented here */
#define F_UDP_FLOW_MIGRATION (1U << 9) /* UDP_FLOW_MIGRATION: LRU hits on down reals re-hashed (down_reals.h) */

/*
 * The VIP flags this object implements: 1 | 2 | 4 | 8 | 128 | 512 = 655. It is published as the
 * max_entries of the kt_vip_flags map (maps.h), so the control plane can read it from any object
 * with bpf_map__max_entries, before or after load, without a value to write or a map to read.
 */
#define KT_IMPLEMENTED_VIP_FLAGS (F_HASH_NO_SRC_PORT | F_LRU_BYPASS | F_QUIC_VIP | F_HASH_DPORT_ONLY | \
				  F_HASH_SRC_DST_PORT | F_UDP_FLOW_MIGRATION)

/* Real flags (real_definition.flags) */
#define F_IPV6 (1U << 0)
#define F_LOCAL_REAL (1U << 1)

/* packet_description.flags */
#define F_SYN_SET (1U << 0)
#define F_ICMP (1U << 1)
#define F_TCP_RST (1U << 2)

/* ---- stats map: per VIP at vip_num, global counters at MAX_VIPS + offset ----------------------
 * The offsets Katran's default build moves (docs/abi.md); nothing else may
 * use them. */
#define LRU_CNTRS 0           /* v1 VIP packets, v2 CH-routed (LRU misses) */
#define LRU_MISS_CNTR 1       /* v1 TCP SYN misses, v2 TCP non-SYN misses */
#define NEW_CONN_RATE_CNTR 2  /* v1 new flows in this second, v2 window start (ns) */
#define FALLBACK_LRU_CNTR 3   /* v1 packets that used fallback_cache */
#define ICMP_TOOBIG_CNTRS 4   /* never moves: this object generates no ICMP too-big */
#define ENCAP_FAIL_CNTR 7     /* v1 IPv4 real, v2 IPv6 real */
#define CH_DROP_STATS 9       /* v1 real not found, v2 ring slot empty (0) */
#define QUIC_ICMP_STATS 11    /* ICMP errors to QUIC VIPs: v1 each, v2 "unreachable" codes (quic.h) */
#define ICMP_PTB_V6_STATS 12  /* ICMPv6 packet too big: v1 each, v2 MTU < ICMP_PTB_SMALL_MTU */
#define ICMP_PTB_V4_STATS 13  /* ICMPv4 frag needed: v1 each, v2 MTU < ICMP_PTB_SMALL_MTU */
#define UDP_FLOW_MIGRATION_STATS 15 /* v1 LRU hits dropped because their real is down */
#define XDP_TOTAL_CNTR 16     /* v1 packets, v2 frame bytes (every frame, counted on entry) */
#define XDP_TX_CNTR 17        /* v1 packets, v2 frame bytes (input frame length) */
#define XDP_DROP_CNTR 18
#define XDP_PASS_CNTR 19
/*
 * katran-tui only: VIP packets dropped because ctl_array[0] (the default gateway MAC) is all
 * zero; v1 packets, v2 frame bytes. Offsets 22 and up are unused upstream (21 is named, LPM VIP,
 * but never written), so an upstream object leaves this slot at 0.
 */
#define ZERO_MAC_DROP_CNTR 22

/* The MTU below which a too-big / frag-needed message also counts in v2 (offsets 12 and 13). */
#define ICMP_PTB_SMALL_MTU 1280

/* Internal: "keep going" from a parsing step (any XDP action is >= 0). */
#define FURTHER_PROCESSING -1

#endif
