/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The passive-health maps (lib/health.h), apart from maps.h so that
 * health_restore.bpf.c can define them without the rest.
 */
#ifndef STEER_BPF_HEALTH_MAPS_H
#define STEER_BPF_HEALTH_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "steer_abi.h"

/*
 * struct steer_health_key -> struct steer_health: passive health per
 * backend (lib/health.h). Not per-CPU: limits and ejections are exact.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries,
	       2 * STEER_BACKENDS_PER_ROUTE * STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_health_key);
	__type(value, struct steer_health);
} steer_health_v1 SEC(".maps");

/* struct steer_health_key (backend STEER_HEALTH_VERSION) -> struct
 * steer_health_slots: a version's ejection slots (max-ejected) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_MAX_VERSIONS *STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_health_key);
	__type(value, struct steer_health_slots);
} steer_health_slots_v1 SEC(".maps");

#endif /* STEER_BPF_HEALTH_MAPS_H */
