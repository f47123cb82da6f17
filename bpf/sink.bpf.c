// SPDX-License-Identifier: GPL-2.0
/*
 * The lab's backend sink: XDP on the peer veth of the balancer's interface (GUIDE.md: XDP_TX on a
 * veth is dropped unless the peer has an XDP program). It stands in for every real:
 *   - an IPIP / IPv6-in-IPv4 / IP6IP6 / IPv4-in-IPv6 frame counts in sink_counts under its outer
 *     destination (the real), and in sink_flows under (outer destination, inner flow), so a test
 *     can tell which real each flow went to; then XDP_DROP (nowhere to go: no real answers);
 *   - everything else counts in sink_other[0] and is passed (XDP_PASS) to the namespace's stack.
 *
 * sink_counts: HASH, key struct sink_key (20 bytes: addr[16] with IPv4 in the first 4 bytes,
 *   family 4 or 6 at byte 16, pad 3), value struct sink_count (24 bytes: u64 packets, u64 bytes
 *   (whole frame), u64 wrong_mac = frames whose Ethernet destination was not sink_cfg[0].mac,
 *   counted only when that MAC is set).
 * sink_flows: HASH, key struct sink_flow_key (60 bytes: sink_key + the inner flow_key of Katran's
 *   layout, ports 0 for non-TCP/UDP inner packets), value struct sink_count.
 * sink_other: ARRAY[1] of struct sink_count: frames that were not encapsulated.
 * sink_cfg: ARRAY[1] of struct sink_cfg: the gateway MAC the balancer should be sending to, and
 *   no_flows = 1 to skip sink_flows (at Mpps of new flows a full hash map's failed insert per
 *   packet would make the sink, not the balancer, the limit).
 *
 * VLANs (the lab's switch, the trunk side; see vlan_tagger.bpf.c for the client side): an
 * encapsulated frame behind one 802.1Q tag or an 802.1ad pair (outer 0x88A8 / 0x8100, inner
 * 0x8100) counts as above, and also in sink_vlan_counts under (its VLAN, the real); its Ethernet
 * destination is checked against that VLAN's gateway in sink_vlan_cfg (else sink_cfg[0]).
 * sink_vlan_counts: HASH, key struct sink_vlan_key (24 bytes: u16 outer VID, u16 inner VID (0:
 *   one tag), sink_key), value struct sink_count.
 * sink_vlan_cfg: HASH {u16 outer, u16 inner} -> struct sink_cfg: the gateway MAC of that VLAN.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "structs.h"

#define SINK_MAX_REALS 4096
#define SINK_MAX_FLOWS 65536

struct sink_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

struct sink_flow_key {
	struct sink_key real;
	struct flow_key inner;
};

struct sink_count {
	__u64 packets;
	__u64 bytes;
	__u64 wrong_mac;
};

struct sink_cfg {
	__u8 mac[6];
	__u8 no_flows;
	__u8 pad;
};

struct sink_vlan {
	__u16 outer;
	__u16 inner;
};

struct sink_vlan_key {
	struct sink_vlan vlan;
	struct sink_key real;
};

_Static_assert(sizeof(struct sink_vlan_key) == 24, "sink_vlan_key is 24 bytes");

_Static_assert(sizeof(struct sink_key) == 20, "sink_key is 20 bytes");
_Static_assert(sizeof(struct sink_flow_key) == 60, "sink_flow_key is 60 bytes");
_Static_assert(sizeof(struct sink_count) == 24, "sink_count is 24 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sink_key);
	__type(value, struct sink_count);
	__uint(max_entries, SINK_MAX_REALS);
} sink_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sink_flow_key);
	__type(value, struct sink_count);
	__uint(max_entries, SINK_MAX_FLOWS);
} sink_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sink_count);
	__uint(max_entries, 1);
} sink_other SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sink_cfg);
	__uint(max_entries, 1);
} sink_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sink_vlan_key);
	__type(value, struct sink_count);
	__uint(max_entries, SINK_MAX_REALS);
} sink_vlan_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sink_vlan);
	__type(value, struct sink_cfg);
	__uint(max_entries, 4096);
} sink_vlan_cfg SEC(".maps");

static __always_inline void add(struct sink_count *c, __u64 bytes, bool wrong_mac)
{
	__sync_fetch_and_add(&c->packets, 1);
	__sync_fetch_and_add(&c->bytes, bytes);
	if (wrong_mac)
		__sync_fetch_and_add(&c->wrong_mac, 1);
}

static __always_inline void count_in(void *map, const void *key, __u64 bytes, bool wrong_mac)
{
	struct sink_count *c = bpf_map_lookup_elem(map, key);

	if (!c) {
		struct sink_count zero = {};

		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(map, key);
		if (!c)
			return;
	}
	add(c, bytes, wrong_mac);
}

/* The inner packet's flow (addresses, ports, proto) at `inner`, an IPv4 or IPv6 header. */
static __always_inline void inner_flow(void *inner, void *data_end, bool v6, struct flow_key *f)
{
	void *l4;

	if (v6) {
		struct ipv6hdr *ip6h = inner;

		if ((void *)(ip6h + 1) > data_end)
			return;
		__builtin_memcpy(f->srcv6, &ip6h->saddr, 16);
		__builtin_memcpy(f->dstv6, &ip6h->daddr, 16);
		f->proto = ip6h->nexthdr;
		l4 = ip6h + 1;
	} else {
		struct iphdr *iph = inner;

		if ((void *)(iph + 1) > data_end)
			return;
		f->src = iph->saddr;
		f->dst = iph->daddr;
		f->proto = iph->protocol;
		if (iph->ihl != 5)
			return;
		l4 = iph + 1;
	}
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > data_end)
			return;
		f->port16[0] = ports[0];
		f->port16[1] = ports[1];
	}
}

SEC("xdp")
int sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	struct sink_flow_key fk = {};
	struct sink_cfg *cfg;
	bool wrong_mac = false;
	__u32 zero = 0;
	void *inner = NULL;
	bool inner_v6 = false;
	struct sink_vlan_key vk = {};
	bool tagged = false;
	void *l3 = eth + 1;
	__be16 proto;

	if ((void *)(eth + 1) > data_end)
		goto other;
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		__be16 *tag = l3;   /* tag[0] TCI, tag[1] the next ethertype */

		if ((void *)(tag + 2) > data_end)
			goto other;
		vk.vlan.outer = bpf_ntohs(tag[0]) & 0x0FFF;
		proto = tag[1];
		l3 = tag + 2;
		if (proto == bpf_htons(ETH_P_8021Q)) {
			tag = l3;
			if ((void *)(tag + 2) > data_end)
				goto other;
			vk.vlan.inner = bpf_ntohs(tag[0]) & 0x0FFF;
			proto = tag[1];
			l3 = tag + 2;
		}
		tagged = true;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = l3;

		if ((void *)(iph + 1) > data_end)
			goto other;
		if (iph->protocol != IPPROTO_IPIP && iph->protocol != IPPROTO_IPV6)
			goto other;
		fk.real.family = 4;
		__builtin_memcpy(fk.real.addr, &iph->daddr, 4);
		inner = (void *)iph + iph->ihl * 4;
		inner_v6 = iph->protocol == IPPROTO_IPV6;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = l3;

		if ((void *)(ip6h + 1) > data_end)
			goto other;
		if (ip6h->nexthdr != IPPROTO_IPIP && ip6h->nexthdr != IPPROTO_IPV6)
			goto other;
		fk.real.family = 6;
		__builtin_memcpy(fk.real.addr, &ip6h->daddr, 16);
		inner = ip6h + 1;
		inner_v6 = ip6h->nexthdr == IPPROTO_IPV6;
	} else {
		goto other;
	}

	cfg = tagged ? bpf_map_lookup_elem(&sink_vlan_cfg, &vk.vlan) : NULL;
	if (!cfg)
		cfg = bpf_map_lookup_elem(&sink_cfg, &zero);
	if (cfg) {
		__u8 any = 0, diff = 0;

#pragma unroll
		for (int i = 0; i < ETH_ALEN; i++) {
			any |= cfg->mac[i];
			diff |= cfg->mac[i] ^ eth->h_dest[i];
		}
		wrong_mac = any && diff;
	}
	count_in(&sink_counts, &fk.real, bytes, wrong_mac);
	if (tagged) {
		vk.real = fk.real;
		count_in(&sink_vlan_counts, &vk, bytes, wrong_mac);
	}
	if (!cfg || !cfg->no_flows) {
		inner_flow(inner, data_end, inner_v6, &fk.inner);
		count_in(&sink_flows, &fk, bytes, wrong_mac);
	}
	return XDP_DROP;

other:
	{
		struct sink_count *c = bpf_map_lookup_elem(&sink_other, &zero);

		if (c)
			add(c, bytes, false);
	}
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
