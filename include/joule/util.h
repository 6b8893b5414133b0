/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Small helpers shared by every module: strict number/duration parsing, clocks, sysfs reads. */
#ifndef JOULE_UTIL_H
#define JOULE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* Whole string must parse; 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t *out);
int parse_double(const char *s, double *out);
/* "100ms", "1.5s", "2m", "1h", "250us", "10ns"; a bare number is seconds. */
int parse_duration_ns(const char *s, uint64_t *out);

uint64_t now_mono_ns(void);	/* CLOCK_MONOTONIC: the clock of bpf_ktime_get_ns() */
uint64_t now_real_ns(void);	/* CLOCK_REALTIME, for timestamps people read */

/* Read up to len - 1 bytes of a file into buf, NUL-terminated as is. Length or -errno. */
int read_file(const char *path, char *buf, size_t len);

/*
 * Read a small text file into buf (NUL-terminated, trailing newline
 * stripped). Returns the length or -errno.
 */
int read_text_file(const char *path, char *buf, size_t len);
int read_u64_file(const char *path, uint64_t *out);

/* Format a message into buf when one is given (buf NULL or len 0: nothing): how the pure modules and the energy sources say what failed. */
void format_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Room for need elements of elem_size bytes in the malloc'd array whose
 * address is array (a T ** passed as void *), of *cap elements: doubles from
 * first_cap. 0, or -ENOMEM with the array and *cap unchanged.
 */
int array_reserve(void *array, size_t *cap, size_t need, size_t elem_size, size_t first_cap);

/*
 * A text buffer that grows as printf appends to it. Out of memory sets oom
 * and stops the appends, so a writer checks once at the end. All zeros is
 * empty; p is NUL-terminated once anything was appended.
 */
struct textbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void textbuf_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void textbuf_vprintf(struct textbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void textbuf_free(struct textbuf *b);

/* One accepted word of a closed set and what it means: tables end with { NULL }. */
struct name_value {
	const char *name;
	int value;
};

/* *out the value of name in tab: 0, or -EINVAL (*out unchanged) when name is not one of them. */
int name_value_find(const struct name_value *tab, const char *name, int *out);

/* Format ns since the epoch as RFC 3339 UTC with milliseconds. */
void format_rfc3339(uint64_t real_ns, char *buf, size_t len);

#endif /* JOULE_UTIL_H */
