/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Down reals of UDP_FLOW_MIGRATION VIPs (docs/abi.md): vip_to_down_reals_map
 * names, per VIP (port as matched, 0 for a port-0 VIP), the real indexes that are down. An LRU hit
 * on one of them is dropped and the packet re-hashed (select_real() in select.h); the ring itself
 * is not changed, so the hash may pick the same real again. Userspace creates a VIP's inner map on
 * first use; the kernel keeps 15 characters of the outer map's name (vip_to_down_rea).
 */
#ifndef KT_DOWN_REALS_H
#define KT_DOWN_REALS_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "constants.h"
#include "structs.h"

/* The inner-map template: real index -> u8 (ignored), one entry per possible real. */
struct down_reals_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, MAX_REALS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, struct vip_definition);
	__uint(max_entries, MAX_VIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__array(values, struct down_reals_inner);
} vip_to_down_reals_map SEC(".maps");

/* Whether real_index is listed as down for this VIP. */
static __always_inline bool real_is_down(const struct vip_definition *vip, __u32 real_index)
{
	void *down = bpf_map_lookup_elem(&vip_to_down_reals_map, vip);

	return down && bpf_map_lookup_elem(down, &real_index);
}

#endif
