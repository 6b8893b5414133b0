// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Logging to stderr with a "joule: " prefix; libbpf's messages go through it too. */
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include "joule/log.h"

enum log_level log_level = LOG_LVL_WARN;

void log_write(enum log_level lvl, const char *fmt, ...)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "debug: " };
	va_list ap;

	if (lvl > log_level)
		return;
	fprintf(stderr, "joule: %s", tag[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (log_level < LOG_LVL_DEBUG)
		return 0;
	/* libbpf puts its own "libbpf: " before every message */
	fputs("joule: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
