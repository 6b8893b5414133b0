/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Logging: one level for the process, checked before any formatting. */
#ifndef JOULE_LOG_H
#define JOULE_LOG_H

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2, LOG_LVL_DEBUG = 3 };

extern enum log_level log_level;

void log_write(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_write(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  do { if (log_level >= LOG_LVL_WARN) log_write(LOG_LVL_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_level >= LOG_LVL_INFO) log_write(LOG_LVL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_LVL_DEBUG) log_write(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

/* Route libbpf's own messages through log_write; shown only at debug level (-v). */
void log_setup_libbpf(void);

#endif /* JOULE_LOG_H */
