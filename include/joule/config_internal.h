/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the config files share and nothing else includes: the key table's entry and the value setters it points at. */
#ifndef JOULE_CONFIG_INTERNAL_H
#define JOULE_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "joule/config.h"

struct config_key;

/*
 * A setter (config_value.c): parse and check one value, store it at k->off.
 * 0, -ENOMEM, or -EINVAL with "invalid value 'V' for KEY: why (accepted: ...)" in err.
 * v is NULL only for a boolean/counting key given as a bare flag.
 */
typedef int config_setter_fn(struct joule_config *c, const struct config_key *k, const char *v, char *err,
			     size_t errlen);

struct config_key {
	const char *name;
	bool takes_value;
	config_setter_fn *set;
	const char *accepted; /* named in error messages */
	size_t off;	      /* offset of the field in struct joule_config */
	/* documentation and scope (designated initializers, after the five above) */
	const char *metavar, *help, *unit, *dflt;
	unsigned scope;	/* CONFIG_* bits: the subcommands that take it as a flag */
	char short_opt;
	bool repeatable;
};

/* The setters, one per kind of value. */
config_setter_fn cfg_set_string, cfg_set_string_or_empty, cfg_set_positive_double, cfg_set_pue,
	cfg_set_embodied, cfg_set_share, cfg_set_lifetime, cfg_set_duration, cfg_set_interval, cfg_set_u32,
	cfg_set_max_tasks, cfg_set_source, cfg_set_model_curve, cfg_set_idle, cfg_set_uncertainty,
	cfg_set_ledger_sync, cfg_set_bytes, cfg_set_bool, cfg_set_verbose, cfg_set_listen, cfg_set_socket_mode,
	cfg_set_filter, cfg_set_gpu;

#endif /* JOULE_CONFIG_INTERNAL_H */
