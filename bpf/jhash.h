/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Linux kernel's jhash (Bob Jenkins' lookup3, include/linux/jhash.h) as the balancer uses it:
 * jhash over the 16 bytes of an IPv6 source and jhash_2words. Words are the packet's network-order
 * bytes read as little-endian u32 (what __get_unaligned_cpu32 gives on this host).
 * src/dataplane/flowhash.ts is the TypeScript port, tested against the same vectors.
 */
#ifndef KT_JHASH_H
#define KT_JHASH_H

#include <linux/types.h>

#define JHASH_INITVAL 0xdeadbeef

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

#define __jhash_mix(a, b, c)                                                                       \
	{                                                                                              \
		a -= c; a ^= rol32(c, 4);  c += b;                                                         \
		b -= a; b ^= rol32(a, 6);  a += c;                                                         \
		c -= b; c ^= rol32(b, 8);  b += a;                                                         \
		a -= c; a ^= rol32(c, 16); c += b;                                                         \
		b -= a; b ^= rol32(a, 19); a += c;                                                         \
		c -= b; c ^= rol32(b, 4);  b += a;                                                         \
	}

#define __jhash_final(a, b, c)                                                                     \
	{                                                                                              \
		c ^= b; c -= rol32(b, 14);                                                                 \
		a ^= c; a -= rol32(c, 11);                                                                 \
		b ^= a; b -= rol32(a, 25);                                                                 \
		c ^= b; c -= rol32(b, 16);                                                                 \
		a ^= c; a -= rol32(c, 4);                                                                  \
		b ^= a; b -= rol32(a, 14);                                                                 \
		c ^= b; c -= rol32(b, 24);                                                                 \
	}

/*
 * jhash(key, 16, initval) with the length fixed at 16: one mixing round over words 0..2, then
 * word 3 (the "case 4" tail: k[12..15] little-endian is exactly word 3) and the final mix.
 */
static __always_inline __u32 jhash_16(const __u32 w[4], __u32 initval)
{
	__u32 a, b, c;

	a = b = c = JHASH_INITVAL + 16 + initval;
	a += w[0];
	b += w[1];
	c += w[2];
	__jhash_mix(a, b, c);
	a += w[3];
	__jhash_final(a, b, c);
	return c;
}

static __always_inline __u32 __jhash_nwords(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	a += initval;
	b += initval;
	c += initval;
	__jhash_final(a, b, c);
	return c;
}

static __always_inline __u32 jhash_2words(__u32 a, __u32 b, __u32 initval)
{
	return __jhash_nwords(a, b, 0, initval + JHASH_INITVAL + (2 << 2));
}

#endif
