/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Test fixtures for cmocka: a private temporary directory and child processes that are cleaned up even when an assertion fails. */
#ifndef JOULE_TESTLIB_H
#define JOULE_TESTLIB_H

/*
 * cmocka leaves a test function by longjmp when an assertion fails, so
 * cleanup written at the end of a test never runs. Everything a test must
 * undo is registered here instead and undone by the teardown, which cmocka
 * runs whether the test passed or failed:
 *
 *	cmocka_unit_test_setup_teardown(test_x, tl_setup, tl_teardown)
 *
 * and inside the test tl_dir() / tl_path("f") / tl_track_child(pid).
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define TL_MAX_CHILDREN 64

/*
 * A test file's main(): run the listed tests (cmocka_unit_test(f),
 * TL_TEST(f), ...) and exit with the number that failed.
 */
#define TL_MAIN(...)                                                     \
	int main(void)                                                   \
	{                                                                \
		const struct CMUnitTest tests[] = { __VA_ARGS__ };       \
		return cmocka_run_group_tests(tests, NULL, NULL);        \
	}

/* A test run with this fixture, for a file's table of tests. */
#define TL_TEST(f) cmocka_unit_test_setup_teardown(f, tl_setup, tl_teardown)

struct tl_state {
	char dir[PATH_MAX];	/* private, under $TMPDIR (or /tmp); removed by the teardown */
	char path[PATH_MAX];	/* tl_path()'s buffer */
	pid_t children[TL_MAX_CHILDREN];
	int nchildren;
};

static struct tl_state tl_cur;

static inline int tl_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	memset(&tl_cur, 0, sizeof(tl_cur));
	snprintf(tl_cur.dir, sizeof(tl_cur.dir), "%s/joule-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tl_cur.dir)) {
		fprintf(stderr, "testlib: failed to create a temporary directory under %s: %s\n",
			tmp && *tmp ? tmp : "/tmp", strerror(errno));
		return -1;
	}
	if (state)
		*state = &tl_cur;
	return 0;
}

/* tl_setup, the directory's name then copied into dir (a fixture's own buffer of len bytes); -1 when it does not fit. */
static inline int tl_setup_into(char *dir, size_t len)
{
	if (tl_setup(NULL))
		return -1;
	if ((size_t)snprintf(dir, len, "%s", tl_cur.dir) >= len) {
		fprintf(stderr, "testlib: $TMPDIR too long for the fixture: %s\n", tl_cur.dir);
		return -1;
	}
	return 0;
}

static inline int tl_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p) ? -1 : 0;
}

/* Kill (SIGKILL) and reap every tracked child, then remove the directory. */
static inline int tl_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < tl_cur.nchildren; i++) {
		if (tl_cur.children[i] > 0) {
			kill(tl_cur.children[i], SIGKILL);
			while (waitpid(tl_cur.children[i], NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	tl_cur.nchildren = 0;
	if (tl_cur.dir[0] && nftw(tl_cur.dir, tl_rm_one, 16, FTW_DEPTH | FTW_PHYS)) {
		fprintf(stderr, "testlib: failed to remove %s: %s\n", tl_cur.dir, strerror(errno));
		return -1;
	}
	tl_cur.dir[0] = '\0';
	return 0;
}

static inline const char *tl_dir(void)
{
	return tl_cur.dir;
}

/* DIR/rel in a buffer that the next call overwrites. */
static inline const char *tl_path(const char *rel)
{
	int n = snprintf(tl_cur.path, sizeof(tl_cur.path), "%s/%s", tl_cur.dir, rel);

	if (n < 0 || (size_t)n >= sizeof(tl_cur.path)) {
		fprintf(stderr, "testlib: path too long: %s/%s\n", tl_cur.dir, rel);
		abort();
	}
	return tl_cur.path;
}

/* The teardown kills and reaps pid unless the test reaped it first (tl_untrack_child). */
static inline void tl_track_child(pid_t pid)
{
	if (tl_cur.nchildren < TL_MAX_CHILDREN)
		tl_cur.children[tl_cur.nchildren++] = pid;
}

static inline void tl_untrack_child(pid_t pid)
{
	for (int i = 0; i < tl_cur.nchildren; i++) {
		if (tl_cur.children[i] == pid)
			tl_cur.children[i] = 0;
	}
}

/* The first max bytes of a file in a malloc'd buffer, their count in *len; NULL when it cannot be read. */
static inline void *tl_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	void *buf;

	if (!f)
		return NULL;
	buf = malloc(max);
	if (buf)
		*len = fread(buf, 1, max, f);
	fclose(f);
	return buf;
}

#ifdef cmocka_unit_test
/*
 * fork() a child that reports to the test through a pipe: in the child *fd
 * is the write end, in the parent the read end (the other end closed in each).
 */
static inline pid_t tl_fork_reporting(int *fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	close(p[pid == 0 ? 0 : 1]);
	*fd = p[pid == 0 ? 1 : 0];
	return pid;
}

/* Each of an enum's n values has a name that parses back to it: parse(name(v), &out) == 0 and out == v. */
#define tl_assert_names_round_trip(type, n, name, parse)                                                  \
	do {                                                                                              \
		for (int v_ = 0; v_ < (int)(n); v_++) {                                                   \
			type out_;                                                                        \
			if (parse(name((type)v_), &out_) != 0 || (int)out_ != v_)                         \
				fail_msg("%s(%s(%d)) does not give %d back", #parse, #name, v_, v_);        \
		}                                                                                         \
	} while (0)
#endif /* cmocka_unit_test */

#endif /* JOULE_TESTLIB_H */
