/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps and layouts of the tc healthcheck program ("direct" style of katran-abi.md): a probe whose
 * skb->mark is a key of hc_reals_map is encapsulated toward that real and redirected out of the
 * main interface.
 */
#ifndef KT_HEALTHCHECK_H
#define KT_HEALTHCHECK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "constants.h"
#include "structs.h"

#define HC_SRC_V4_POS 0     /* hc_pckt_srcs_map[0]: outer IPv4 source */
#define HC_SRC_V6_POS 1     /* hc_pckt_srcs_map[1]: outer IPv6 source */
#define HC_SRC_MAC_POS 0    /* hc_pckt_macs[0]: outer Ethernet source */
#define HC_DST_MAC_POS 1    /* hc_pckt_macs[1]: outer Ethernet destination (the gateway) */
#define HC_MAIN_INTF_POSITION 3 /* hc_ctrl_map[3]: ifindex of the main interface */
#define HC_CTRL_MAP_SIZE 4
#define HC_STATS_SIZE 1
/* A probe whose encapsulated frame would exceed this is dropped and counted as too big. */
#define HC_MAX_PCKT_SIZE 1514

struct hc_mac {
	__u8 mac[6];
};

/* hc_stats_map[0] (per CPU) */
struct hc_stats {
	__u64 pckts_processed; /* encapsulated and redirected */
	__u64 pckts_dropped;   /* marked for a real but not sendable (config missing, adjust failed) */
	__u64 pckts_skipped;   /* unmarked or unknown mark: passed untouched */
	__u64 pckts_too_big;   /* encapsulated frame would exceed HC_MAX_PCKT_SIZE: dropped */
};

/* mark -> real (real_definition layout: address, flags F_IPV6) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct real_definition);
	__uint(max_entries, MAX_REALS);
} hc_reals_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct hc_mac);
	__uint(max_entries, 2);
} hc_pckt_macs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct real_definition);
	__uint(max_entries, 2);
} hc_pckt_srcs_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, HC_CTRL_MAP_SIZE);
} hc_ctrl_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct hc_stats);
	__uint(max_entries, HC_STATS_SIZE);
} hc_stats_map SEC(".maps");

_Static_assert(sizeof(struct hc_stats) == 32, "hc_stats is 32 bytes");
_Static_assert(sizeof(struct hc_mac) == 6, "hc_mac is 6 bytes");

#endif
