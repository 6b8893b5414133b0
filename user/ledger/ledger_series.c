// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A ledger's rotated series in chain order, from a directory or from a glob's lexical order. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "joule/ledger_series.h"

#define ACTIVE_INDEX LONG_MAX	/* FILE itself comes after every FILE.N */

struct seg_name {
	char *path;
	size_t base_len;	/* bytes of the base name (FILE) within the file name */
	const char *name;	/* the file name within path */
	long index;
};

/* FILE.N or FILE.N.gz: base length and N; false for anything else. */
static bool parse_rotated(const char *name, size_t *base_len, long *index)
{
	size_t len = strlen(name), end = len;
	size_t i;

	if (len > 3 && strcmp(name + len - 3, ".gz") == 0)
		end = len - 3;
	i = end;
	while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
		i--;
	if (i == end || i < 2 || name[i - 1] != '.' || end - i > 9)
		return false;
	*base_len = i - 1;
	*index = strtol(name + i, NULL, 10);
	return true;
}

static bool not_a_segment(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '.' || strstr(name, ".broken-") ||
	       (len > 4 && (strcmp(name + len - 4, ".tmp") == 0 || strcmp(name + len - 4, ".pub") == 0)) ||
	       (len > 5 && strcmp(name + len - 5, ".lock") == 0);
}

static int by_index(const void *a, const void *b)
{
	const struct seg_name *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static void fill_name(struct seg_name *s)
{
	const char *slash = strrchr(s->path, '/');

	s->name = slash ? slash + 1 : s->path;
	if (!parse_rotated(s->name, &s->base_len, &s->index)) {
		s->base_len = strlen(s->name);
		s->index = ACTIVE_INDEX;
	}
}

/* Same directory part and same base name. */
static bool same_ledger(const struct seg_name *a, const struct seg_name *b)
{
	return a->name - a->path == b->name - b->path && strncmp(a->path, b->path, (size_t)(a->name - a->path)) == 0 &&
	       a->base_len == b->base_len && strncmp(a->name, b->name, a->base_len) == 0;
}

static int push(struct seg_name **v, int *n, int *cap, char *path)
{
	if (!path)
		return -ENOMEM;
	if (*n == *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		struct seg_name *nv = realloc(*v, (size_t)ncap * sizeof(**v));

		if (!nv) {
			free(path);
			return -ENOMEM;
		}
		*v = nv;
		*cap = ncap;
	}
	(*v)[*n].path = path;
	fill_name(&(*v)[*n]);
	(*n)++;
	return 0;
}

static int expand_dir(const char *dir, struct seg_name **v, int *n, int *cap, char *why, size_t whylen)
{
	int first = *n, err = 0, kept;
	bool rotated = false;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		err = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-err));
		return err;
	}
	while (!err && (de = readdir(d))) {
		char *p;
		struct stat st;

		if (not_a_segment(de->d_name))
			continue;
		if (asprintf(&p, "%s/%s", dir, de->d_name) < 0)
			return closedir(d), -ENOMEM;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		err = push(v, n, cap, p);
	}
	closedir(d);
	if (err)
		return err;
	/* Keep the files of the ledger that has rotated segments; one lone file is that ledger too. */
	kept = *n - first;
	for (int i = first; i < *n; i++) {
		if ((*v)[i].index == ACTIVE_INDEX)
			continue;
		for (int j = first; j < *n; j++) {
			if ((*v)[j].index != ACTIVE_INDEX && !same_ledger(&(*v)[i], &(*v)[j])) {
				snprintf(why, whylen, "%s holds segments of more than one ledger (%.*s and %.*s): name the files",
					 dir, (int)(*v)[i].base_len, (*v)[i].name, (int)(*v)[j].base_len, (*v)[j].name);
				err = -EINVAL;
				break;
			}
		}
		if (err)
			break;
		rotated = true;
		{
			struct seg_name keep = (*v)[i];

			kept = 0;
			for (int j = first; j < *n; j++) {
				if (same_ledger(&keep, &(*v)[j]))
					(*v)[first + kept++] = (*v)[j];
				else
					free((*v)[j].path);
			}
		}
		*n = first + kept;
		break;
	}
	if (!err && !rotated && kept != 1) {
		snprintf(why, whylen, kept == 0 ? "%s holds no ledger segment" :
			 "%s holds several files and no rotated segments: name the ledger file", dir);
		err = -EINVAL;
	}
	if (err) {
		for (int j = first; j < *n; j++)
			free((*v)[j].path);
		*n = first;
		return err;
	}
	*n = first + kept;
	qsort(*v + first, (size_t)kept, sizeof(**v), by_index);
	return 0;
}

int ledger_series_expand(char *const *args, int n, char ***out, int *nout, char *why, size_t whylen)
{
	struct seg_name *v = NULL;
	int cnt = 0, cap = 0, err = 0;
	bool one_ledger = true;

	*out = NULL;
	*nout = 0;
	snprintf(why, whylen, "%s", "");
	for (int i = 0; i < n && !err; i++) {
		struct stat st;

		if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode) && n == 1)
			err = expand_dir(args[i], &v, &cnt, &cap, why, whylen);
		else
			err = push(&v, &cnt, &cap, strdup(args[i]));
	}
	if (!err && n > 1) {
		for (int i = 1; i < cnt; i++)
			one_ledger = one_ledger && same_ledger(&v[0], &v[i]);
		if (one_ledger)
			qsort(v, (size_t)cnt, sizeof(*v), by_index);
	}
	if (!err) {
		*out = calloc((size_t)cnt + 1, sizeof(char *));
		if (!*out)
			err = -ENOMEM;
	}
	for (int i = 0; i < cnt; i++) {
		if (err)
			free(v[i].path);
		else
			(*out)[i] = v[i].path;
	}
	free(v);
	if (err == -ENOMEM)
		snprintf(why, whylen, "%s", strerror(ENOMEM));
	if (!err)
		*nout = cnt;
	return err;
}

void ledger_series_free(char **paths, int n)
{
	for (int i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
}
