// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The wrap-safe arithmetic under every source: exact unit conversion, 64-bit accumulation, host totals. */
#include <string.h>
#include "joule/energy.h"

uint64_t energy_unit_to_uj(struct energy_unit u, uint64_t ticks)
{
	unsigned __int128 v;

	if (!u.den)
		return 0;
	v = (unsigned __int128)ticks * u.num / u.den;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

uint64_t energy_uj_to_ticks(struct energy_unit u, uint64_t uj)
{
	unsigned __int128 v;

	if (!u.num)
		return UINT64_MAX;
	v = ((unsigned __int128)uj * u.den + u.num - 1) / u.num;
	return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

void energy_acc_init(struct energy_acc *a, uint64_t range)
{
	memset(a, 0, sizeof(*a));
	a->range = range;
}

enum energy_acc_event energy_acc_step(struct energy_acc *a, uint64_t raw, uint64_t max_delta)
{
	uint64_t delta;
	bool wrapped;

	if (a->range && raw >= a->range)
		return ENERGY_ACC_INVALID;
	if (!a->primed) {
		a->prev = raw;
		a->primed = true;
		return ENERGY_ACC_FIRST;
	}
	wrapped = raw < a->prev;
	/* (raw - prev) mod range; with range 0 (2^64) unsigned arithmetic does it. */
	delta = raw - a->prev;
	if (wrapped && a->range)
		delta = a->range - a->prev + raw;
	if (max_delta && delta > max_delta) {
		/* Not energy that could have been used: a reset, a glitch or a torn read. */
		a->rejected++;
		a->prev = raw;
		return ENERGY_ACC_REJECTED;
	}
	a->prev = raw;
	a->total += delta;
	if (wrapped) {
		a->wraps++;
		return ENERGY_ACC_WRAP;
	}
	return ENERGY_ACC_OK;
}

uint64_t energy_cpu_uj(const struct energy_reading *r, int pkg)
{
	if (pkg < 0 || pkg >= r->npkg || pkg >= ENERGY_MAX_PKG)
		return 0;
	if (r->domains & (1u << ENERGY_PACKAGE))
		return r->uj[pkg][ENERGY_PACKAGE];
	if (r->domains & (1u << ENERGY_PSYS))
		return r->uj[pkg][ENERGY_PSYS];
	return 0;
}

uint64_t energy_mem_uj(const struct energy_reading *r, int pkg)
{
	if (pkg < 0 || pkg >= r->npkg || pkg >= ENERGY_MAX_PKG)
		return 0;
	return r->domains & (1u << ENERGY_DRAM) ? r->uj[pkg][ENERGY_DRAM] : 0;
}

uint64_t energy_host_uj(const struct energy_reading *r)
{
	uint64_t uj = 0;

	for (int p = 0; p < r->npkg && p < ENERGY_MAX_PKG; p++)
		uj += energy_cpu_uj(r, p) + energy_mem_uj(r, p);
	return uj;
}
