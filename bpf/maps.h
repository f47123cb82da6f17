/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every map of Katran's default-build ABI, with its exact name, type, key / value size and
 * max_entries (katran-abi.md "Maps of the default build"), plus katran-tui's kt_vip_flags marker.
 */
#ifndef KT_MAPS_H
#define KT_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "constants.h"
#include "structs.h"

/* {addr, port, proto} -> {flags, vip_num} */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct vip_definition);
	__type(value, struct vip_meta);
	__uint(max_entries, MAX_VIPS);
} vip_map SEC(".maps");

/* real index -> address (index 0 is never used: a ring slot of 0 means "empty") */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct real_definition);
	__uint(max_entries, MAX_REALS);
} reals SEC(".maps");

/* vip_num * RING_SIZE + pos -> real index */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, CH_RINGS_SIZE);
} ch_rings SEC(".maps");

/* per VIP at vip_num, globals at MAX_VIPS + offset (constants.h) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, STATS_MAP_SIZE);
} stats SEC(".maps");

/* real index -> v1 packets, v2 bytes */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_stats);
	__uint(max_entries, MAX_REALS);
} reals_stats SEC(".maps");

/*
 * The inner-map template of lru_mapping: an LRU_HASH flow_key -> real_pos_lru of
 * DEFAULT_LRU_SIZE entries, map flags 0. Userspace normally replaces it before load with
 * bpf_map__set_inner_map_fd and then stores one LRU of that shape per forwarding CPU.
 */
struct lru_inner {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(key_size, sizeof(struct flow_key));
	__uint(value_size, sizeof(struct real_pos_lru));
	__uint(max_entries, DEFAULT_LRU_SIZE);
};

/* cpu -> that CPU's LRU (a lookup from userspace returns the inner map's id) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__type(key, __u32);
	__uint(max_entries, MAX_SUPPORTED_CPUS);
	__array(values, struct lru_inner);
} lru_mapping SEC(".maps");

/* the LRU of CPUs without one of their own in lru_mapping */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct flow_key);
	__type(value, struct real_pos_lru);
	__uint(max_entries, DEFAULT_LRU_SIZE);
} fallback_cache SEC(".maps");

/* [CTL_MAC_POS] = default gateway MAC */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct ctl_value);
	__uint(max_entries, CTL_MAP_SIZE);
} ctl_array SEC(".maps");

/* real index -> CH-routed packets of the VIP traced in vip_miss_stats[0] */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, MAX_REALS);
} lru_miss_stats SEC(".maps");

/* [0] = the VIP whose LRU misses lru_miss_stats traces */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct vip_definition);
	__uint(max_entries, 1);
} vip_miss_stats SEC(".maps");

/*
 * katran-tui's marker: max_entries IS the mask of VIP flags this object implements (139 =
 * NO_SPORT | NO_LRU | DPORT_HASH | HASH_SRC_DST_PORT). Nothing is stored in it and the datapath
 * never touches it: userspace reads the mask with bpf_map__max_entries straight from the object
 * (or from map info of a running one). Upstream objects have no such map, which tells the control
 * plane to assume Katran's default-build flags.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, KT_IMPLEMENTED_VIP_FLAGS);
} kt_vip_flags SEC(".maps");

#endif
