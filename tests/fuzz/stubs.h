/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Weak stand-ins so fuzz targets link every user/ object before the
 * energy, attribution and carbon modules are merged; the real (strong)
 * definitions win as soon as those objects exist. Not used by the fuzzed code.
 */
#ifndef JOULE_FUZZ_STUBS_H
#define JOULE_FUZZ_STUBS_H
#include <errno.h>
#include "joule/attrib.h"
#include "joule/carbon.h"
#include "joule/energy.h"

__attribute__((weak)) int energy_kind_parse(const char *name, enum energy_kind *out) { return -EINVAL; }
__attribute__((weak)) int idle_policy_parse(const char *s, enum idle_policy *out) { return -EINVAL; }
__attribute__((weak)) int carbon_method_parse(const char *s, enum carbon_method *out) { return -EINVAL; }
__attribute__((weak)) const char *energy_kind_name(enum energy_kind k) { return "?"; }
__attribute__((weak)) const char *energy_domain_name(enum energy_domain d) { return "?"; }
#endif
