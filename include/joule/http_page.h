/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The live page's files (web/, uPlot, the shared palette), embedded at build time and served read-only. */
#ifndef JOULE_HTTP_PAGE_H
#define JOULE_HTTP_PAGE_H

#include <stddef.h>

/* No inline script or style anywhere, so the page needs nothing looser than 'self'. */
#define HTTP_PAGE_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:"

struct http_page_file {
	const char *path;		/* "/", "/app.js", "/vendor/uplot/uPlot.min.css", ... */
	const char *content_type;
	const unsigned char *body;
	size_t len;
};

/* The file served at path (the query string already cut), or NULL. */
const struct http_page_file *http_page_find(const char *path);

#endif /* JOULE_HTTP_PAGE_H */
