/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A ledger's rotated series in chain order: FILE.1[.gz], FILE.2[.gz], ..., FILE, from a directory or a glob. */
#ifndef JOULE_LEDGER_SERIES_H
#define JOULE_LEDGER_SERIES_H

#include <stddef.h>

/*
 * verify's arguments as the files of one series, oldest first. A directory
 * stands for the segments of the one ledger in it (FILE.N and FILE.N.gz by
 * N, then FILE; broken-*, .tmp, .lock and .pub files are not segments).
 * Arguments that are all segments of one ledger (what a shell glob gives,
 * in its lexical order: FILE.10 before FILE.2) are put in chain order;
 * any other list is kept as given. *out is malloc'ed (ledger_series_free).
 * 0, or -errno with why set (a directory with no ledger, or with several).
 */
int ledger_series_expand(char *const *args, int n, char ***out, int *nout, char *why, size_t whylen);

void ledger_series_free(char **paths, int n);

#endif /* JOULE_LEDGER_SERIES_H */
