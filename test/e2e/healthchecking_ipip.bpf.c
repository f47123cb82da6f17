// SPDX-License-Identifier: GPL-2.0
// A stand-in for upstream Katran's healthchecking_ipip.o, for the lifecycle test: the same map
// names (hc_reals_map, hc_ctrl_map, hc_stats_map), no hc_pckt_macs (the ipip variant redirects
// through the ipip0 / ipip60 tunnel devices instead of writing Ethernet headers). It passes all.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct real_def { __u32 dst[4]; __u8 flags; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, struct real_def); __uint(max_entries, 16); } hc_reals_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u32); __uint(max_entries, 4); } hc_ctrl_map SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u64[4]); __uint(max_entries, 1); } hc_stats_map SEC(".maps");

SEC("tc")
int healthcheck_encap(struct __sk_buff *skb)
{
	__u32 mark = skb->mark;
	if (bpf_map_lookup_elem(&hc_reals_map, &mark))
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

char _license[] SEC("license") = "GPL";
