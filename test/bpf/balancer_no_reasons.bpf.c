// SPDX-License-Identifier: GPL-2.0
// The bundled balancer without a map called kt_reasons, as an upstream Katran object is: the
// sampler and `stats` must say "reasons: not available" (null) instead of guessing. The map is
// only renamed, so the program is the same one.
#define kt_reasons kt_no_reasons
#include "../../bpf/balancer.bpf.c"
