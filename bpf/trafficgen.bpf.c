// SPDX-License-Identifier: GPL-2.0
/*
 * The lab's kernel-speed traffic generator (src/lab/generator.ts). Run with
 * bpf_prog_test_run_opts in BPF_F_TEST_XDP_LIVE_FRAMES mode, ctx ingress_ifindex = the client-side
 * veth: every frame it returns XDP_TX for leaves that veth towards the balancer.
 *
 * Live frames come from a page pool whose pages are recycled: a page comes back as the receiver
 * left it (the balancer's encapsulation writes the outer header over our Ethernet and IP headers).
 * So every run rewrites the whole frame from the template in gen_cfg, then stamps the flow: the
 * low 16 bits of the client address and the source port, with both checksums updated
 * incrementally (the template carries the checksums of flow 0).
 *
 * gen_cfg:   ARRAY[1] of struct gen_cfg (the template and where its flow fields are).
 * gen_state: PERCPU_ARRAY[1] of struct gen_state (the flow sequence and the frames sent).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define GEN_MAX_FRAME 128
#define GEN_WORDS (GEN_MAX_FRAME / 8)

struct gen_cfg {
	__u64 frame[GEN_WORDS];	/* the template, flow 0 */
	__u32 len;		/* frame length, a multiple of 8, <= GEN_MAX_FRAME */
	__u32 flows;		/* flows cycled over (>= 1): clients x ports */
	__u32 ports;		/* source ports per client (>= 1) */
	__u16 addr_off;		/* offset of the client address's low 16 bits */
	__u16 sport_off;	/* offset of the source port */
	__u16 ip_csum_off;	/* offset of the IPv4 header checksum, 0 for IPv6 */
	__u16 l4_csum_off;	/* offset of the TCP / UDP checksum */
	__u8 udp;		/* a UDP checksum that comes out 0 is sent as 0xffff */
	__u8 pad[7];
};

struct gen_state {
	__u64 seq;
	__u64 sent;
};

_Static_assert(sizeof(struct gen_cfg) == GEN_MAX_FRAME + 32, "gen_cfg layout (src/lab/generator.ts)");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct gen_cfg);
	__uint(max_entries, 1);
} gen_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct gen_state);
	__uint(max_entries, 1);
} gen_state SEC(".maps");

/* Adds `delta` to the ones'-complement sum behind checksum field `p` (RFC 1624). */
static __always_inline void csum_add(__be16 *p, __u32 delta, int udp)
{
	__u32 s = (__u16)~bpf_ntohs(*p) + delta;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = ~s & 0xffff;
	if (udp && s == 0)
		s = 0xffff;
	*p = bpf_htons(s);
}

/* The 16-bit big-endian field at `off` (< GEN_MAX_FRAME), or NULL when it lies past the frame. */
static __always_inline __be16 *field(void *data, void *data_end, __u32 off)
{
	__be16 *p;

	off &= GEN_MAX_FRAME - 1;
	p = data + off;
	if ((void *)(p + 1) > data_end)
		return NULL;
	return p;
}

SEC("xdp")
int trafficgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct gen_state *st;
	struct gen_cfg *cfg;
	__be16 *addr, *sport, *csum;
	__u32 zero = 0, flow, client, port;

	cfg = bpf_map_lookup_elem(&gen_cfg, &zero);
	st = bpf_map_lookup_elem(&gen_state, &zero);
	if (!cfg || !st || cfg->flows == 0 || cfg->ports == 0)
		return XDP_DROP;

#pragma unroll
	for (int i = 0; i < GEN_WORDS; i++) {
		__u64 *w = data + i * 8;

		if (i * 8 >= cfg->len || (void *)(w + 1) > data_end)
			break;
		*w = cfg->frame[i];
	}

	flow = st->seq++ % cfg->flows;
	client = flow / cfg->ports;
	port = flow % cfg->ports;
	addr = field(data, data_end, cfg->addr_off);
	sport = field(data, data_end, cfg->sport_off);
	if (!addr || !sport)
		return XDP_DROP;
	*addr = bpf_htons(bpf_ntohs(*addr) + client);
	*sport = bpf_htons(bpf_ntohs(*sport) + port);
	if (cfg->ip_csum_off) {
		csum = field(data, data_end, cfg->ip_csum_off);
		if (!csum)
			return XDP_DROP;
		csum_add(csum, client, 0);
	}
	csum = field(data, data_end, cfg->l4_csum_off);
	if (!csum)
		return XDP_DROP;
	csum_add(csum, client + port, cfg->udp);
	st->sent++;
	return XDP_TX;
}

char _license[] SEC("license") = "GPL";
