// SPDX-License-Identifier: GPL-2.0
/*
 * An object the kernel's verifier must reject, for the fault tests: it has the maps of a
 * Katran-ABI balancer (so the loader gets as far as the load) and an XDP program that reads a
 * packet byte without checking it against data_end.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct vip_definition { __u32 addr[4]; __u16 port; __u8 proto; __u8 pad; };
struct vip_meta { __u32 flags; __u32 vip_num; };
struct real_definition { __u32 dst[4]; __u8 flags; __u8 pad[3]; };
struct lb_stats { __u64 v1; __u64 v2; };
struct ctl_value { __u64 value; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, struct vip_definition); __type(value, struct vip_meta); __uint(max_entries, 8); } vip_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct real_definition); __uint(max_entries, 8); } reals SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 8 * 13); } ch_rings SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, struct lb_stats); __uint(max_entries, 16); } stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, struct lb_stats); __uint(max_entries, 8); } reals_stats SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct ctl_value); __uint(max_entries, 16); } ctl_array SEC(".maps");

SEC("xdp")
int balancer_ingress(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	__u32 key = 0;
	struct ctl_value *c = bpf_map_lookup_elem(&ctl_array, &key);

	/* No bounds check against data_end: the verifier must refuse this read. */
	if (c && data[20] == 0x45)
		return XDP_DROP;
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
