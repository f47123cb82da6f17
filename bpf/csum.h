/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksums (RFC 1071 / RFC 1624) on raw network-order 16-bit words. */
#ifndef KT_CSUM_H
#define KT_CSUM_H

#include <linux/types.h>

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Folds a one's complement sum of 16- and 32-bit words (host order, as they lie in memory) and
 * inverts it. A 32-bit word counts as its two 16-bit halves (2^16 == 1 mod 0xffff), so a header
 * can be summed from values already in registers instead of being read back after it is written
 * (a 16-bit load over freshly stored bytes stalls store forwarding). For any header with a nonzero
 * word the result equals ipv4_hdr_csum() bit for bit: both sums fold into 1..0xffff.
 */
static __always_inline __u16 csum_finish(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return csum_fold32((__u32)sum);
}

/* Checksum of a 20-byte IPv4 header whose check field is zero. */
static __always_inline __u16 ipv4_hdr_csum(const void *iph)
{
	const __u16 *w = iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold32(sum);
}

/* RFC 1624 eq. 3: the checksum after one 16-bit word changed from `from` to `to`. */
static __always_inline __u16 csum_replace16(__u16 check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from;
	sum += to;
	return csum_fold32(sum);
}

#endif
