// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule daemon`: one poll loop over the sampler's timerfd and a signalfd feeding store, ledger and HTTP; sd_notify by hand. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sodium.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/config.h"
#include "joule/daemon.h"
#include "joule/http.h"
#include "joule/http_auth.h"
#include "joule/identity.h"
#include "joule/ledger.h"
#include "joule/ledger_chain.h"
#include "joule/log.h"
#include "joule/metrics.h"
#include "joule/pipeline.h"
#include "joule/procinfo.h"
#include "joule/span.h"
#include "joule/spans_http.h"
#include "joule/store.h"
#include "joule/util.h"

#define DEFAULT_LISTEN "127.0.0.1:9940"
#define DEFAULT_GROUP "joule"
#define TOKEN_MAX 256

struct daemon {
	int argc;
	char **argv;
	struct joule_config cfg;
	struct pipeline p;
	struct store *store;
	struct ledger *led;
	struct http_server *http;
	struct http_state st;
	struct span_table *spans;	/* energy spans opened over the Unix socket */
	/* health figures copied after each tick, read by /metrics on HTTP threads */
	pthread_mutex_t self_lock;
	struct sampler_stats sstats;
	struct ledger_stats lstats;
	bool have_stats;
	struct identity *ident;
	struct host_identity host;
	uint64_t lost_seen, lost_base, lost_since_ns;	/* ledger records lost: the last minute's, for /readyz */
};

static void set_log_level(int verbose)
{
	log_level = verbose >= 2 ? LOG_LVL_DEBUG : verbose == 1 ? LOG_LVL_INFO : LOG_LVL_WARN;
}

static int daemon_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	*(bool *)ctx = true; /* --check, the only own option */
	return 0;
}

/* The config file named by --config, then the flags over it (the shared parser). CLI_CONTINUE, 0 or EXIT_USAGE. */
static int load_config(struct joule_config *c, int argc, char **argv)
{
	bool check = false;
	int idx = 1, rc;

	config_init(c);
	rc = cli_parse(&cmd_daemon_def, argc, argv, c, daemon_opt, &check, &idx);
	if (rc != CLI_CONTINUE)
		return rc;
	if (idx < argc) {
		fprintf(stderr, "joule: daemon takes no argument '%s' (see joule daemon --help)\n", argv[idx]);
		return EXIT_USAGE;
	}
	/* checked here, before any BPF work, rather than when the server starts */
	if (c->listen && !c->listen[0] && c->socket_path && !c->socket_path[0]) {
		fprintf(stderr, "joule: nothing to serve on: --listen and --socket are both empty\n");
		return EXIT_USAGE;
	}
	if (check) {
		printf("configuration ok%s%s\n", c->config_file ? ": " : "", c->config_file ? c->config_file : "");
		return 0;
	}
	return CLI_CONTINUE;
}

/* ---- sd_notify: one datagram per state change (the protocol of sd_notify(3), no libsystemd) */

static void notify(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	if (!e || (e[0] != '/' && e[0] != '@'))
		return;
	n = strlen(e);
	if (n >= sizeof(a.sun_path))
		return;
	memcpy(a.sun_path, e, n);
	/* '@' names an abstract socket: the address starts with a NUL and is not terminated */
	if (e[0] == '@')
		a.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&a,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_debug("sd_notify to %s failed: %s", e, strerror(errno));
	close(fd);
}

/* Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; 0 when no watchdog is asked for. */
static uint64_t watchdog_period_ns(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	uint64_t v, p;

	if (!us || parse_u64(us, &v) || !v)
		return 0;
	if (pid && (parse_u64(pid, &p) || p != (uint64_t)getpid()))
		return 0;
	return v * 1000 / 2;
}

/* ---- ready file: written whole or not at all (tmp + rename), never through a planted link */

/*
 * The daemon runs as root and the ready file's directory may not be its
 * own: the tmp file is created with O_EXCL|O_NOFOLLOW relative to the
 * directory opened once, and rename() replaces a link at the final name
 * instead of following it. A directory others may write without the
 * sticky bit is refused: there anyone could swap the file after the check.
 */
int daemon_write_ready_file(const char *path, const char *text)
{
	char dir[4096], tmp[4096];
	const char *base = strrchr(path, '/');
	struct stat st;
	size_t n = strlen(text);
	int dfd, fd = -1, err = 0;

	if (base)
		snprintf(dir, sizeof(dir), "%.*s", base == path ? 1 : (int)(base - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	base = base ? base + 1 : path;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = -errno;
		log_err("failed to open %s: %s", dir, strerror(-err));
		return err;
	}
	if (fstat(dfd, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		log_err("refusing to write the ready file in %s: writable by others and not sticky", dir);
		close(dfd);
		return -EPERM;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", base, (int)getpid());
	for (int tries = 0; fd < 0 && tries < 2; tries++) {
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		/* something already has our name (a crash's leftover, or a planted link): remove the entry, never follow it */
		if (fd < 0 && errno == EEXIST && tries == 0)
			unlinkat(dfd, tmp, 0);
	}
	if (fd < 0) {
		err = -errno;
		log_err("failed to create %s/%s: %s", dir, tmp, strerror(-err));
		close(dfd);
		return err;
	}
	if (write(fd, text, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, base))
		err = -errno;
	if (err) {
		unlinkat(dfd, tmp, 0);
		log_err("failed to write %s: %s", path, strerror(-err));
	}
	close(dfd);
	return err;
}

static int read_token(const char *path, char *buf, size_t len)
{
	struct stat stt;
	int n = read_text_file(path, buf, len);

	if (n < 0) {
		log_err("failed to read API token file %s: %s", path, strerror(-n));
		return n;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' || buf[n - 1] == '\n'))
		buf[--n] = '\0';
	if (n == 0 || (size_t)n >= len - 1) {
		log_err("API token file %s: expected one token of 1-%zu bytes", path, len - 2);
		return -EINVAL;
	}
	if (stat(path, &stt) == 0 && (stt.st_mode & 0004))
		log_warn("API token file %s is world-readable", path);
	return 0;
}

/* The daemon's own CPU, memory and descriptors, for the standard process_* metrics. */
static void read_process(struct metrics_process *p, uint64_t start_real_ns)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long vsize_pages = 0, rss_pages = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	DIR *dir;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_ns = ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * NSEC_PER_SEC +
			    ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000;
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &vsize_pages, &rss_pages) == 2) {
			p->vsize_bytes = vsize_pages * (uint64_t)page;
			p->rss_bytes = rss_pages * (uint64_t)page;
		}
		fclose(f);
	}
	dir = opendir("/proc/self/fd");
	if (dir) {
		struct dirent *e;

		while ((e = readdir(dir)))
			if (e->d_name[0] != '.')
				p->open_fds++;
		p->open_fds--; /* the directory's own descriptor */
		closedir(dir);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		p->max_fds = rl.rlim_cur;
	p->start_real_ns = start_real_ns;
}

static void fill_self(void *ctx, void *out)
{
	struct daemon *d = ctx;
	struct metrics_self *m = out;

	m->have_process = true;
	read_process(&m->process, d->st.start_real_ns);

	m->host = &d->host;
	if (d->spans) {
		m->have_spans = true;
		span_get_metrics(d->spans, &m->spans);
	}
	pthread_mutex_lock(&d->self_lock);
	if (d->have_stats) {
		m->have_sampler = true;
		m->sampler = d->sstats;
	}
	if (d->led) {
		m->have_ledger = true;
		m->ledger_bytes = d->lstats.bytes;
		m->ledger_syncs = d->lstats.syncs;
		m->ledger_queue = d->lstats.queue_depth;
		m->ledger_records_lost = d->lstats.records_lost;
	}
	pthread_mutex_unlock(&d->self_lock);
}

/* Records the ledger lost in the last minute, for /readyz (its gap record tells the rest later). */
static void ledger_loss_watch(struct daemon *d)
{
	uint64_t lost = ledger_records_lost(d->led), now = now_mono_ns();

	if (lost != d->lost_seen) {
		if (!d->lost_since_ns)
			d->lost_base = d->lost_seen;
		d->lost_seen = lost;
		d->lost_since_ns = now;
	} else if (d->lost_since_ns && now - d->lost_since_ns > 60 * NSEC_PER_SEC) {
		d->lost_since_ns = 0;
	}
	d->st.ledger_lost_recent = d->lost_since_ns ? lost - d->lost_base : 0;
}

/* SIGHUP: reread what can change live; totals stay since the store and the ledger stay open. */
static void reload(struct daemon *d)
{
	struct joule_config n;

	if (load_config(&n, d->argc, d->argv) != CLI_CONTINUE) {
		log_err("reload: keeping the running configuration");
		config_free(&n);
		return;
	}
	set_log_level(n.verbose);
	if (n.intensity > 0 && n.intensity != d->cfg.intensity) {
		/* a pushed value outranks the zone table and a file, from now on */
		carbon_push(d->p.carbon, n.intensity, now_real_ns());
		log_info("reload: intensity %.3f g/kWh", n.intensity);
		d->cfg.intensity = n.intensity;
	}
	if ((n.zone || d->cfg.zone) && (!n.zone || !d->cfg.zone || strcmp(n.zone, d->cfg.zone)))
		log_warn("reload: a new zone or intensity file takes effect at restart");
	if (store_set_filters(d->store, n.filters, n.nfilters))
		log_err("reload: failed to set filters");
	d->cfg.verbose = n.verbose;
	log_info("configuration reloaded (%zu filters)", n.nfilters);
	config_free(&n);
}

/* A closed span as a `span` record of the ledger. */
static void record_span(void *ctx, const struct span *sp)
{
	struct daemon *d = ctx;
	cJSON *o;

	if (!d->led)
		return;
	o = spans_http_json(sp, d->p.carbon);
	if (!o || !cJSON_AddStringToObject(o, "kind", "span")) {
		cJSON_Delete(o);
		log_warn("ledger: out of memory for span %llu", (unsigned long long)sp->id);
		return;
	}
	/* the span's own times, not the moment it was recorded */
	cJSON_DeleteItemFromObjectCaseSensitive(o, "start");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "end");
	ledger_json_add_ns(o, "ts_start", sp->open_real_ns);
	ledger_json_add_ns(o, "ts_end", sp->close_real_ns);
	if (ledger_append_record(d->led, o))
		log_warn("ledger: failed to queue span %llu", (unsigned long long)sp->id);
}

/*
 * A ledger record's workload labels: the store's for this process, which
 * on_sample fed this tick first, so a move shows in both from the same tick.
 * Called from ledger_feed_sample, under the read lock on_sample holds for
 * the whole tick (one lock a tick, not one a process).
 */
static int ledger_labels(void *ctx, const struct sample_task *t, struct proc_labels *out)
{
	const struct store_proc *p = store_proc_at(ctx, t->pid, t->start_ns);

	if (!p)
		return -ENOENT;
	*out = p->labels;
	return 0;
}

static void on_sample(struct daemon *d, const struct sample *s)
{
	int err = store_add_sample(d->store, s);

	if (err)
		log_warn("store: %s (sample %llu)", strerror(-err), (unsigned long long)s->seq);
	if (d->led) {
		store_rdlock(d->store);
		ledger_feed_sample(d->led, s);
		store_unlock(d->store);
	}
	/* after the sample, so a span that exited in it is recorded after its process's last tick */
	spans_http_tick(d->spans, s);
	span_drain(d->spans, record_span, d);
	pthread_mutex_lock(&d->self_lock);
	sampler_get_stats(d->p.sampler, &d->sstats);
	if (d->led)
		ledger_get_stats(d->led, &d->lstats);
	d->have_stats = true;
	pthread_mutex_unlock(&d->self_lock);
	http_notify_sample(d->http);
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon d = { .argc = argc, .argv = argv };
	struct http_cfg hc = { 0 };
	struct store_cfg sc = { 0 };
	struct http_auth *auth = NULL;	/* the web config, loaded before anything else is opened */
	char token[TOKEN_MAX + 2], bound[128];
	const char *ready_file;
	uint64_t wd_ns, wd_next = 0;
	sigset_t mask;
	bool stop = false, have_p = false;
	const char *socket_path;
	int sfd = -1, lock_fd = -1, rc, err;

	rc = load_config(&d.cfg, argc, argv);
	if (rc != CLI_CONTINUE) {
		config_free(&d.cfg);
		return rc;
	}
	pthread_mutex_init(&d.self_lock, NULL);
	set_log_level(d.cfg.verbose);

	/* Block before any thread exists (BPF, ledger, HTTP) so these arrive only on the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("failed to create signalfd: %s", strerror(errno));
		config_free(&d.cfg);
		return 1;
	}

	rc = 1;
	if (d.cfg.api_token_file && read_token(d.cfg.api_token_file, token, sizeof(token)))
		goto out;
	/* before anything else opens shared state: a second daemon on this socket stops here */
	socket_path = d.cfg.socket_path ? d.cfg.socket_path : DAEMON_DEFAULT_SOCKET;
	if (socket_path[0]) {
		lock_fd = http_socket_lock(socket_path);
		if (lock_fd < 0)
			goto out;
	}
	/* A bad web config (or a certificate or key it names that cannot be read) is refused now, before the
	 * BPF load and the energy sources, which take seconds on a busy machine; http_start takes it over. */
	if (d.cfg.web_config_file && d.cfg.web_config_file[0] && http_auth_new(&auth, d.cfg.web_config_file))
		goto out;
	err = pipeline_open(&d.p, &d.cfg);
	if (err) {
		rc = err;
		goto out;
	}
	have_p = true;
	sc.top_n = d.cfg.top_n;
	sc.grace_ns = d.cfg.grace_ns;
	sc.group_idle_ns = d.cfg.group_idle_ns;
	{
		struct identity_opts io = {
			.docker_root = d.cfg.docker_root, .storage_root = d.cfg.storage_root,
			.pod_logs_root = d.cfg.pod_logs_root, .container_logs_root = d.cfg.container_logs_root,
		};

		err = identity_open(&d.ident, &io);
		if (err) {
			log_err("failed to create the identity cache: %s", strerror(-err));
			goto out;
		}
	}
	identity_host_read(&d.host);
	/* In a pod gethostname() is the pod's name: the DaemonSet passes the node's. */
	if (d.cfg.hostname && d.cfg.hostname[0])
		snprintf(d.host.hostname, sizeof(d.host.hostname), "%s", d.cfg.hostname);
	sc.labeler = identity_label;
	sc.labeler_ctx = d.ident;
	sc.relabel = identity_refresh;
	err = store_open(&d.store, &sc);
	if (!err && d.cfg.nfilters)
		err = store_set_filters(d.store, d.cfg.filters, d.cfg.nfilters);
	if (err) {
		log_err("failed to create the store: %s", strerror(-err));
		goto out;
	}
	if (d.cfg.ledger) {
		struct ledger_opts lo;

		config_ledger_opts(&d.cfg, &lo);
		lo.labeler = ledger_labels;
		lo.labeler_ctx = d.store;
		/* ledger_open logs why it failed (e.g. another daemon holds the ledger): not again here. */
		err = ledger_open(&d.led, &lo);
		if (err)
			goto out;
	}

	err = span_table_new(&d.spans);
	if (err) {
		log_err("failed to create the span table: %s", strerror(-err));
		goto out;
	}
	d.st.store = d.store;
	d.st.carbon = d.p.carbon;
	d.st.spans = d.spans;
	d.st.start_real_ns = now_real_ns();
	d.st.fill_self = fill_self;
	d.st.fill_ctx = &d;
	hc.listen = d.cfg.listen ? d.cfg.listen : DEFAULT_LISTEN;
	hc.socket_path = socket_path;	/* the one the lock above was taken for */
	hc.socket_group = d.cfg.socket_group ? d.cfg.socket_group : DEFAULT_GROUP;
	hc.socket_mode = d.cfg.socket_mode;
	hc.api_token = d.cfg.api_token_file ? token : NULL;
	hc.version = JOULE_VERSION;
	hc.max_connections = d.cfg.http_max_connections;
	hc.web_config_file = d.cfg.web_config_file;
	hc.auth = auth;
	auth = NULL;	/* http_start's now, whatever it returns */
	err = http_start(&d.http, &hc, &d.st, bound, sizeof(bound));
	/* the server keeps its own copy */
	sodium_memzero(token, sizeof(token));
	if (err)
		goto out;
	if (!bound[0])
		snprintf(bound, sizeof(bound), "unix:%s", hc.socket_path);
	log_info("serving on %s%s%s", bound, hc.socket_path[0] && hc.listen[0] ? " and unix:" : "",
		 hc.socket_path[0] && hc.listen[0] ? hc.socket_path : "");
	ready_file = d.cfg.ready_file;
	if (ready_file && daemon_write_ready_file(ready_file, bound))
		goto out;

	wd_ns = watchdog_period_ns();
	if (wd_ns)
		wd_next = now_mono_ns() + wd_ns;
	while (!stop) {
		struct pollfd fds[2] = { { sampler_fd(d.p.sampler), POLLIN, 0 }, { sfd, POLLIN, 0 } };
		int timeout = -1;
		const struct sample *s;

		if (wd_ns) {
			uint64_t now = now_mono_ns();

			timeout = wd_next > now ? (int)((wd_next - now) / NSEC_PER_MSEC) + 1 : 0;
		}
		if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
			log_err("poll failed: %s", strerror(errno));
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					notify("RELOADING=1");
					reload(&d);
					notify("READY=1");
				} else {
					stop = true;
				}
			}
		}
		if (!stop && (fds[0].revents & POLLIN)) {
			int terr = sampler_tick(d.p.sampler, &s);

			if (terr) {
				log_err("sample failed: %s", strerror(-terr));
				continue;
			}
			on_sample(&d, s);
			ledger_loss_watch(&d);
			if (!d.st.ready) {
				d.st.ready = 1;
				notify("READY=1\nSTATUS=sampling and serving");
			}
		}
		if (wd_ns && now_mono_ns() >= wd_next) {
			notify("WATCHDOG=1");
			wd_next = now_mono_ns() + wd_ns;
		}
	}
	notify("STOPPING=1");
	rc = 0;
out:
	/* HTTP first (no reader left), the spans still open (recorded as stopped), then the ledger's last
	 * records and fdatasync, then BPF */
	http_stop(d.http);
	http_auth_free(auth);	/* a failure before http_start took it over */
	if (d.spans) {
		spans_http_stop(d.spans);
		span_drain(d.spans, record_span, &d);
		span_table_free(d.spans);
		d.spans = NULL;
	}
	if (d.led && ledger_close(d.led)) {
		log_err("failed to flush the ledger %s", d.cfg.ledger);
		rc = 1;
	}
	if (rc == 0 && d.cfg.ready_file)
		unlink(d.cfg.ready_file);
	store_close(d.store);
	identity_close(d.ident);
	if (have_p)
		pipeline_close(&d.p);
	if (sfd >= 0)
		close(sfd);
	/* last: the socket is gone (http_stop) before a successor may take the lock */
	if (lock_fd >= 0)
		close(lock_fd);
	pthread_mutex_destroy(&d.self_lock);
	config_free(&d.cfg);
	return rc;
}
