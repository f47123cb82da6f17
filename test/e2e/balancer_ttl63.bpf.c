// SPDX-License-Identifier: GPL-2.0
// A variant of the bundled balancer for the upgrade / status tests: the very same maps (so an
// in-place upgrade can reuse them) but another program (outer TTL 63), hence another tag.
#include "constants.h"
#undef DEFAULT_TTL
#define DEFAULT_TTL 63
#include "../../bpf/balancer.bpf.c"
