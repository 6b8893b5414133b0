// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* RFC 8785 canonical JSON serializer over cJSON trees: pure, no I/O. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "joule/jcs.h"

/*
 * The correctly rounded decimal of v with prec+1 significant digits (and,
 * with neighbours, the ones a unit either side of it): if one reads back as
 * v, store its digits (trailing zeros dropped) and decimal exponent.
 */
static bool try_digits(double v, int prec, bool neighbours, char digits[20], int *k_out, int *n_out)
{
	char tmp[40], cand[48];
	uint64_t m = 0, lim = 1;
	int e, ndig = 0;
	const char *p;

	snprintf(tmp, sizeof(tmp), "%.*e", prec, v);
	for (p = tmp; *p && *p != 'e'; p++) {
		if (*p >= '0' && *p <= '9') {
			m = m * 10 + (uint64_t)(*p - '0');
			ndig++;
		}
	}
	e = atoi(p + 1);
	for (int i = 0; i < ndig; i++)
		lim *= 10;
	uint64_t cands[3] = { m, m - 1, m + 1 };
	for (int c = 0; c < (neighbours ? 3 : 1); c++) {
		uint64_t s = cands[c];

		if (s < lim / 10 || s >= lim)
			continue;
		snprintf(cand, sizeof(cand), "%" PRIu64 "e%d", s, e - prec);
		if (strtod(cand, NULL) != v)
			continue;
		int k = snprintf(digits, 20, "%" PRIu64, s);
		while (k > 1 && digits[k - 1] == '0')
			digits[--k] = '\0';
		*k_out = k;
		*n_out = e + 1;
		return true;
	}
	return false;
}

/*
 * Shortest decimal digits that read back as v (v > 0, finite); on return
 * v = 0.digits × 10^n. When the rounding interval is symmetric (every double
 * but exact powers of two), "some k-digit decimal reads back" is monotone in
 * k and the nearest k-digit decimal is the one to test, so a binary search
 * over k is exact. At a power of two the interval is lopsided: the shortest
 * string may not be the nearest, so every k is tried with its neighbours.
 */
static void shortest_digits(double v, char digits[20], int *k_out, int *n_out)
{
	uint64_t bits;
	int lo = 0, hi = 16;

	memcpy(&bits, &v, sizeof(bits));
	if ((bits & ((1ULL << 52) - 1)) == 0) {
		for (int prec = 0; prec <= 16; prec++)
			if (try_digits(v, prec, true, digits, k_out, n_out))
				return;
	}
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (try_digits(v, mid, false, digits, k_out, n_out))
			hi = mid;
		else
			lo = mid + 1;
	}
	/* 17 significant digits always read back as the same double. */
	try_digits(v, lo, true, digits, k_out, n_out);
}

int jcs_format_double(double v, char buf[JCS_NUMBER_MAX])
{
	char digits[20];
	char *o = buf;
	int k, n;

	if (!isfinite(v))
		return -EDOM;
	if (v == 0) { /* covers -0, which ECMAScript prints as "0" */
		strcpy(buf, "0");
		return 1;
	}
	if (v < 0) {
		*o++ = '-';
		v = -v;
	}
	/* Integers up to 2^53 are exact, and ECMAScript prints them as plain digits: skip the search. */
	if (v <= (double)JCS_MAX_SAFE_INT && v == (double)(uint64_t)v) {
		o += sprintf(o, "%" PRIu64, (uint64_t)v);
		return (int)(o - buf);
	}
	shortest_digits(v, digits, &k, &n);
	if (k <= n && n <= 21) {
		memcpy(o, digits, (size_t)k);
		o += k;
		for (int i = 0; i < n - k; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, digits, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, digits + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -n; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)k);
		o += k;
	} else {
		int e = n - 1;

		*o++ = digits[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += sprintf(o, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
	}
	*o = '\0';
	return (int)(o - buf);
}

/* Decode one UTF-8 sequence; returns its length, or 0 if it is not valid (overlong, surrogate, > U+10FFFF). */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0];
	int n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

struct u16_iter {
	const unsigned char *p;
	int pending;	/* low surrogate still to return, or -1 */
};

/* Next UTF-16 code unit of a UTF-8 string, or -1 at its end. */
static int u16_next(struct u16_iter *it)
{
	uint32_t cp;
	int n;

	if (it->pending >= 0) {
		n = it->pending;
		it->pending = -1;
		return n;
	}
	if (!*it->p)
		return -1;
	n = utf8_decode(it->p, &cp);
	if (n == 0) {
		cp = *it->p;
		n = 1;
	}
	it->p += n;
	if (cp >= 0x10000) {
		cp -= 0x10000;
		it->pending = (int)(0xDC00 | (cp & 0x3FF));
		return (int)(0xD800 | (cp >> 10));
	}
	return (int)cp;
}

int jcs_key_cmp(const char *a, const char *b)
{
	struct u16_iter ia = { (const unsigned char *)a, -1 };
	struct u16_iter ib = { (const unsigned char *)b, -1 };

	for (;;) {
		int ua = u16_next(&ia), ub = u16_next(&ib);

		if (ua != ub)
			return ua < ub ? -1 : 1;
		if (ua < 0)
			return 0;
	}
}

struct jbuf {
	char *p;
	size_t len, cap;
};

static int jb_put(struct jbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int jb_string(struct jbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int err = jb_put(b, "\"", 1);

	while (!err && *s) {
		const unsigned char *run = s;
		uint32_t cp;

		/* Copy the longest stretch that needs no escape in one go. */
		while (*s >= 0x20 && *s != '"' && *s != '\\') {
			int n = utf8_decode(s, &cp);

			if (n == 0)
				return -EILSEQ;
			s += n;
		}
		if (s > run)
			err = jb_put(b, (const char *)run, (size_t)(s - run));
		if (err || !*s)
			break;
		switch (*s) {
		case '"': err = jb_put(b, "\\\"", 2); break;
		case '\\': err = jb_put(b, "\\\\", 2); break;
		case '\b': err = jb_put(b, "\\b", 2); break;
		case '\f': err = jb_put(b, "\\f", 2); break;
		case '\n': err = jb_put(b, "\\n", 2); break;
		case '\r': err = jb_put(b, "\\r", 2); break;
		case '\t': err = jb_put(b, "\\t", 2); break;
		default: {
			char esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			err = jb_put(b, esc, 6);
		}
		}
		s++;
	}
	return err ? err : jb_put(b, "\"", 1);
}

static int cmp_members(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return jcs_key_cmp(x->string, y->string);
}

static int jb_value(struct jbuf *b, const cJSON *it, int depth);

static int jb_object(struct jbuf *b, const cJSON *obj, int depth)
{
	const cJSON *c;
	const cJSON **m;
	size_t n = 0, i;
	int err = 0;

	for (c = obj->child; c; c = c->next)
		n++;
	if (n == 0)
		return jb_put(b, "{}", 2);
	m = malloc(n * sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (i = 0, c = obj->child; c; c = c->next) {
		if (!c->string) {
			free(m);
			return -EINVAL;
		}
		m[i++] = c;
	}
	qsort(m, n, sizeof(*m), cmp_members);
	err = jb_put(b, "{", 1);
	for (i = 0; !err && i < n; i++) {
		/* Equal UTF-16 sequences mean equal names: I-JSON forbids duplicates. */
		if (i > 0 && jcs_key_cmp(m[i - 1]->string, m[i]->string) == 0) {
			err = -EEXIST;
			break;
		}
		if (i > 0)
			err = jb_put(b, ",", 1);
		if (!err)
			err = jb_string(b, m[i]->string);
		if (!err)
			err = jb_put(b, ":", 1);
		if (!err)
			err = jb_value(b, m[i], depth + 1);
	}
	free(m);
	return err ? err : jb_put(b, "}", 1);
}

static int jb_value(struct jbuf *b, const cJSON *it, int depth)
{
	char num[JCS_NUMBER_MAX];
	int n, err;

	/* cJSON's parser stops at 1000 levels; built trees get the same bound. */
	if (depth > CJSON_NESTING_LIMIT)
		return -EINVAL;
	switch (it->type & 0xFF) {
	case cJSON_NULL:
		return jb_put(b, "null", 4);
	case cJSON_True:
		return jb_put(b, "true", 4);
	case cJSON_False:
		return jb_put(b, "false", 5);
	case cJSON_Number:
		n = jcs_format_double(it->valuedouble, num);
		return n < 0 ? n : jb_put(b, num, (size_t)n);
	case cJSON_String:
		return it->valuestring ? jb_string(b, it->valuestring) : -EINVAL;
	case cJSON_Array:
		err = jb_put(b, "[", 1);
		for (const cJSON *c = it->child; !err && c; c = c->next) {
			if (c != it->child)
				err = jb_put(b, ",", 1);
			if (!err)
				err = jb_value(b, c, depth + 1);
		}
		return err ? err : jb_put(b, "]", 1);
	case cJSON_Object:
		return jb_object(b, it, depth);
	default:
		return -EINVAL;
	}
}

int jcs_serialize(const cJSON *item, char **out, size_t *outlen)
{
	struct jbuf b = { 0 };
	int err;

	*out = NULL;
	if (!item)
		return -EINVAL;
	err = jb_value(&b, item, 0);
	if (err) {
		free(b.p);
		return err;
	}
	*out = b.p;
	if (outlen)
		*outlen = b.len;
	return 0;
}

char *jcs_utf8_repair(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	struct jbuf b = { 0 };
	bool bad = false;
	uint32_t cp;

	for (const unsigned char *p = s; *p;) {
		int n = utf8_decode(p, &cp);

		if (n == 0) {
			bad = true;
			break;
		}
		p += n;
	}
	if (!bad) {
		errno = 0;
		return NULL;
	}
	while (*s) {
		int n = utf8_decode(s, &cp);

		if (n == 0 ? jb_put(&b, "\xef\xbf\xbd", 3) : jb_put(&b, (const char *)s, (size_t)n)) {
			free(b.p);
			errno = ENOMEM;
			return NULL;
		}
		s += n ? n : 1;
	}
	return b.p;
}
