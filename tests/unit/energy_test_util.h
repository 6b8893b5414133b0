/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Test helpers for the energy tests: temporary trees of sysfs-like files, and the reader tests' fixture. */
#ifndef ENERGY_TEST_UTIL_H
#define ENERGY_TEST_UTIL_H

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "joule/energy.h"
#include "joule/topo.h"
#include "unit/testlib.h"

static inline void t_mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

static inline void t_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void t_write(const char *path, const char *fmt, ...)
{
	char dir[4096], *slash;
	va_list ap;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		t_mkdirs(dir);
	}
	f = fopen(path, "w");
	if (!f)
		abort();
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* t_write of the plain text into dir/rel. */
static inline void t_write_at(const char *dir, const char *rel, const char *text)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	t_write(p, "%s", text);
}

static inline void t_rmrf(const char *path)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", path);
}

/* A sysfs CPU tree: cpu c in package pkg_of[c]. */
static inline void t_topo_tree(const char *root, int ncpu, const int *pkg_of)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/possible", root);
	t_write(p, "0-%d\n", ncpu - 1);
	snprintf(p, sizeof(p), "%s/online", root);
	t_write(p, "0-%d\n", ncpu - 1);
	for (int c = 0; c < ncpu; c++) {
		snprintf(p, sizeof(p), "%s/cpu%d/topology/physical_package_id", root, c);
		t_write(p, "%d\n", pkg_of[c]);
	}
}

#ifdef cmocka_unit_test
/*
 * A reader test's world, built fresh for each test (cmocka setup/teardown):
 * two packages with physical ids 0 and 3 (dense 0 and 1), CPUs 0-1 and 2-3,
 * under a private temporary directory that teardown removes even when an
 * assertion fails; it closes the reader's source then too.
 */
struct tree {
	char dir[256];
	struct topo topo;
	struct energy_source *src; /* reader_open's, closed by the teardown */
};

/* A test run in a fresh reader world, for a file's table of tests. */
#define TREE_TEST(f) cmocka_unit_test_setup_teardown(f, tree_setup, tree_teardown)

static inline int tree_setup(void **state)
{
	static const int pkg_of[] = { 0, 0, 3, 3 };
	struct tree *t = calloc(1, sizeof(*t));
	char p[512];

	if (!t || tl_setup_into(t->dir, sizeof(t->dir)))
		return -1;
	snprintf(p, sizeof(p), "%s/cpu", t->dir);
	t_topo_tree(p, 4, pkg_of);
	if (topo_load(&t->topo, p))
		return -1;
	*state = t;
	return 0;
}

static inline int tree_teardown(void **state)
{
	struct tree *t = *state;

	if (t->src)
		energy_close(t->src);
	topo_free(&t->topo);
	free(t);
	return tl_teardown(NULL);
}

/* One reader under test: its options, with the source's root at <tree>/<sub>; its source and last reading. */
struct reader {
	struct tree *t;
	struct energy_opts o;
	struct energy_source *s;  /* reader_open's */
	struct energy_reading r;  /* reader_read's */
	struct energy_stats st;   /* the source's stats after that reading */
	char root[512];
	char cpuinfo[600];
	char why[256];
};

static inline void reader_init(struct reader *r, void **state, enum energy_kind kind, const char *sub)
{
	memset(r, 0, sizeof(*r));
	r->t = *state;
	r->o.kind = kind;
	r->o.topo = &r->t->topo;
	snprintf(r->root, sizeof(r->root), "%s/%s", r->t->dir, sub);
	if (kind == ENERGY_SRC_POWERCAP)
		r->o.powercap_root = r->root;
	else if (kind == ENERGY_SRC_MSR)
		r->o.msr_root = r->root;
}

/* The reader's source opened into r->s (the tree's teardown closes it): the open must succeed (its why on failure). */
static inline void reader_open(struct reader *r)
{
	int rc = energy_open(&r->s, &r->o, r->why, sizeof(r->why));

	if (rc != 0)
		fail_msg("energy_open of %s: %d (%s)", r->root, rc, r->why);
	r->t->src = r->s;
}

/* One reading of the source into r->r, which must succeed, and the source's stats after it into r->st. */
static inline void reader_read(struct reader *r)
{
	int rc = energy_read(r->s, NULL, &r->r);

	if (rc != 0)
		fail_msg("energy_read of %s: %d", r->root, rc);
	energy_get_stats(r->s, &r->st);
}

/* The result of an open that must fail, its reason in r->why; a source that opened is closed again. */
static inline int reader_open_err(struct reader *r)
{
	struct energy_source *s = NULL;
	int rc = energy_open(&s, &r->o, r->why, sizeof(r->why));

	if (rc == 0)
		energy_close(s);
	return rc;
}

/* The CPU the reader sees: /proc/cpuinfo text written beside its root. */
static inline void reader_cpuinfo(struct reader *r, const char *text)
{
	snprintf(r->cpuinfo, sizeof(r->cpuinfo), "%s.cpuinfo", r->root);
	t_write(r->cpuinfo, "%s", text);
	r->o.cpuinfo_path = r->cpuinfo;
}

/* A powercap zone directory as the kernel shows it. */
static inline void zone(const char *root, const char *rel, const char *name, uint64_t max, uint64_t val)
{
	char p[1024];

	snprintf(p, sizeof(p), "%s/%s/name", root, rel);
	t_write(p, "%s\n", name);
	snprintf(p, sizeof(p), "%s/%s/max_energy_range_uj", root, rel);
	t_write(p, "%" PRIu64 "\n", max);
	snprintf(p, sizeof(p), "%s/%s/energy_uj", root, rel);
	t_write(p, "%" PRIu64 "\n", val);
}

static inline void set_uj(const char *root, const char *rel, uint64_t val)
{
	char p[1024], v[32];
	int fd, n;

	/* in place, as the kernel's file behaves: the reader keeps its fd */
	snprintf(p, sizeof(p), "%s/%s/energy_uj", root, rel);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	n = snprintf(v, sizeof(v), "%" PRIu64 "\n", val);
	assert_int_equal(pwrite(fd, v, (size_t)n, 0), n);
	assert_int_equal(ftruncate(fd, n), 0);
	close(fd);
}

/* One 8-byte register of a fake /dev/cpu/N/msr file, at its offset. */
static inline void put_msr(const char *path, uint64_t reg, uint64_t val)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &val, 8, (off_t)reg), 8);
	close(fd);
}
#endif /* cmocka_unit_test */

#endif
