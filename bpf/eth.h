/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MAC moves on the Ethernet header. struct ethhdr is packed, so memcpy on its fields compiles to
 * six single-byte moves per MAC; these move a MAC as one 4-byte and one 2-byte word (packet
 * access may be unaligned on the targets this builds for, x86-64 and arm64).
 */
#ifndef KT_ETH_H
#define KT_ETH_H

#include <linux/types.h>
#include <linux/if_ether.h>

static __always_inline void mac_copy(void *dst, const void *src)
{
	*(__u32 *)dst = *(const __u32 *)src;
	*(__u16 *)(dst + 4) = *(const __u16 *)(src + 4);
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	void *p = eth;
	__u32 dst_hi = *(__u32 *)p;
	__u16 dst_lo = *(__u16 *)(p + 4);

	mac_copy(p, p + ETH_ALEN);
	*(__u32 *)(p + ETH_ALEN) = dst_hi;
	*(__u16 *)(p + ETH_ALEN + 4) = dst_lo;
}

#endif
