// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Configuration files: the daemon's INI format (a [joule] section or none) read through config_set. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <ini.h>
#include "joule/config.h"

/* A config file is a few kB; a megabyte is room for comments, not a reason to read /dev/zero. */
#define CONFIG_MAX_BYTES (1024 * 1024)

struct ini_ctx {
	struct joule_config *c;
	char err[256];
	int rc;
	bool failed;
};

static int on_ini_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;
	int rc;

	/* Only the first error is reported: its line number is what ini_parse returns. */
	if (section[0] && strcmp(section, "joule") != 0) {
		if (!x->failed)
			snprintf(x->err, sizeof(x->err), "unknown section [%s] (accepted: [joule] or none)", section);
		x->failed = true;
		x->rc = -EINVAL;
		return 0;
	}
	if (strcmp(name, "config") == 0) {
		if (!x->failed)
			snprintf(x->err, sizeof(x->err), "'config' cannot be set inside a config file");
		x->failed = true;
		x->rc = -EINVAL;
		return 0;
	}
	if (!value)
		value = "";
	rc = config_set(x->c, name, value, x->failed ? NULL : x->err, sizeof(x->err));
	if (rc) {
		x->failed = true;
		if (!x->rc)
			x->rc = rc == -ENOENT ? -EINVAL : rc;
		return 0;
	}
	return 1;
}

/* The first error of a parse, as "NAME:LINE: problem". */
static int ini_result(const struct ini_ctx *x, int line, const char *name, char *err, size_t errlen)
{
	if (line == 0 && !x->failed)
		return 0;
	if (err && errlen) {
		if (x->failed)
			snprintf(err, errlen, "%s:%d: %s", name, line, x->err);
		else if (line < 0)
			snprintf(err, errlen, "%s: out of memory", name);
		else
			snprintf(err, errlen, "%s:%d: syntax error (expected key = value or [section])", name, line);
	}
	if (x->rc)
		return x->rc;
	return line < 0 ? -ENOMEM : -EINVAL;
}

int config_load_file(struct joule_config *c, const char *path, char *err, size_t errlen)
{
	struct ini_ctx x = { .c = c };
	FILE *f;
	struct stat st;
	int line;

	f = fopen(path, "re");
	if (!f) {
		int e = -errno;

		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(-e));
		return e;
	}
	/* /dev/zero or a FIFO would be read forever: a config file is a regular file of sane size */
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		if (err && errlen)
			snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path, CONFIG_MAX_BYTES);
		fclose(f);
		return -EINVAL;
	}
	line = ini_parse_file(f, on_ini_key, &x);
	fclose(f);
	return ini_result(&x, line, path, err, errlen);
}

int config_load_string(struct joule_config *c, const char *text, const char *name, char *err, size_t errlen)
{
	struct ini_ctx x = { .c = c };

	return ini_result(&x, ini_parse_string(text, on_ini_key, &x), name, err, errlen);
}
