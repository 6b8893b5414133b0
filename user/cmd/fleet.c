// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule fleet serve` (the fleet API on HTTP) and `joule fleet query` (one answer on stdout), both over Prometheus. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "joule/cli.h"
#include "joule/config.h"
#include "joule/daemon.h"
#include "joule/fleet.h"
#include "joule/fleet_api.h"
#include "joule/http_auth.h"
#include "joule/http_query.h"
#include "joule/log.h"
#include "joule/netcurl.h"
#include "joule/netaddr.h"
#include "joule/promclient.h"
#include "joule/util.h"

/* Each request waits on Prometheus: a thread each, and few of them, so a 2-core host does not notice. */
#define FLEET_MAX_CONNECTIONS 64
#define FLEET_MAX_STREAMS 8
#define FLEET_CONN_TIMEOUT_S 30

struct fleet {
	struct promclient prom;
	struct http_auth *auth;	/* --web-config-file: TLS and basic auth of the listener (NULL: plain, anyone) */
	const char *job;
	atomic_int streams;
	volatile sig_atomic_t stopping;
};

struct one_query {
	const struct fleet *f;
	const struct fleet_query *q;
	struct prom_answer *a;
};

static void *run_one(void *arg)
{
	struct one_query *o = arg;

	if (o->q->range)
		promclient_query_range(&o->f->prom, o->q->expr, o->q->start_ms, o->q->end_ms, o->q->step_s, o->a);
	else
		promclient_query(&o->f->prom, o->q->expr, o->q->time_ms, o->a);
	log_debug("promql %s: HTTP %ld %s", o->q->expr, o->a->http_status, o->a->message);
	return NULL;
}

/*
 * Run a plan's queries at once, a thread each (at most FLEET_MAX_QUERIES):
 * an answer takes as long as the slowest query, not their sum. Each answer
 * is Prometheus' own; nothing is summed here.
 */
static void run_plan(const struct fleet *f, const struct fleet_plan *pl, struct prom_answer *pa,
		     struct fleet_answer *fa)
{
	struct one_query o[FLEET_MAX_QUERIES];
	pthread_t t[FLEET_MAX_QUERIES];
	bool started[FLEET_MAX_QUERIES] = { false };

	for (size_t i = 0; i < pl->n; i++) {
		o[i] = (struct one_query){ .f = f, .q = &pl->q[i], .a = &pa[i] };
		started[i] = pthread_create(&t[i], NULL, run_one, &o[i]) == 0;
		if (!started[i])
			run_one(&o[i]); /* no thread to spare: ask in this one */
	}
	for (size_t i = 0; i < pl->n; i++) {
		if (started[i])
			pthread_join(t[i], NULL);
		fa[i] = (struct fleet_answer){ .http_status = pa[i].http_status, .err = pa[i].err,
					       .message = pa[i].message, .body = pa[i].body, .len = pa[i].len };
	}
}

/* A routed, checked request to its reply (status, body or error message). */
static unsigned answer(const struct fleet *f, struct fleet_req *r, struct fleet_reply *out)
{
	struct fleet_plan *pl = calloc(1, sizeof(*pl));
	struct prom_answer pa[FLEET_MAX_QUERIES] = { 0 };
	struct fleet_answer fa[FLEET_MAX_QUERIES] = { 0 };
	unsigned st;

	memset(out, 0, sizeof(*out));
	if (!pl) {
		snprintf(out->err, sizeof(out->err), "out of memory");
		return out->status = 500;
	}
	st = fleet_plan(r, f->job, pl, out->err, sizeof(out->err));
	if (st) {
		free(pl);
		return out->status = st;
	}
	run_plan(f, pl, pa, fa);
	st = fleet_build(r, pl, fa, out);
	for (size_t i = 0; i < pl->n; i++)
		prom_answer_free(&pa[i]);
	free(pl);
	return st;
}

/* ---- serve */

struct conn_req {
	struct fleet_req r;
	unsigned status;
	char err[512];
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct conn_req *c = cls;

	(void)kind;
	if (c->status)
		return MHD_NO;
	if (value && http_has_nul_escape(value)) {
		snprintf(c->err, sizeof(c->err), "invalid parameter %.64s: holds %%00", key);
		c->status = 400;
		return MHD_NO;
	}
	c->status = (unsigned)fleet_param(&c->r, key, value, c->err, sizeof(c->err));
	return c->status ? MHD_NO : MHD_YES;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype, char *body,
				 size_t len, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!body)
		return MHD_NO; /* out of memory: drop the connection rather than answer half */
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == 401) /* the only 401 is the basic auth challenge */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"joule fleet\"");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg, const char *allow)
{
	char buf[1024];

	http_error_json((int)status, msg, buf, sizeof(buf));
	return send_text(c, status, "application/json", strdup(buf), strlen(buf), allow);
}

/* The live per-node CSV: a header, then each step's rows as Prometheus has them, until the client goes. */
struct stream {
	struct fleet *f;
	struct fleet_req r;
	char *buf;
	size_t len, off;
	bool started;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *s = cls;
	struct fleet_reply rep;

	(void)pos;
	while (s->off == s->len) {
		free(s->buf);
		s->buf = NULL;
		s->len = s->off = 0;
		if (s->f->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!s->started) {
			s->started = true;
			s->buf = strdup(fleet_nodes_csv_header);
			s->len = s->buf ? strlen(s->buf) : 0;
			if (!s->buf)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			break;
		}
		/* one step between sets; sleep in short naps so a stop is not held up */
		for (uint64_t ms = 0; ms < s->r.p.step_ns / 1000000 && !s->f->stopping; ms += 100)
			usleep(100000);
		s->r.now_ms = now_real_ns() / 1000000;
		if (answer(s->f, &s->r, &rep) != 200) {
			log_info("fleet stream ends: %s", rep.err);
			free(rep.body);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->buf = rep.body;
		s->len = rep.len;
	}
	if (max > s->len - s->off)
		max = s->len - s->off;
	memcpy(out, s->buf + s->off, max);
	s->off += max;
	return (ssize_t)max;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	atomic_fetch_sub(&s->f->streams, 1);
	free(s->buf);
	free(s);
}

static enum MHD_Result start_stream(struct fleet *f, struct MHD_Connection *c, const struct fleet_req *r)
{
	struct MHD_Response *resp;
	struct stream *s;
	enum MHD_Result ret;

	if (atomic_fetch_add(&f->streams, 1) >= FLEET_MAX_STREAMS) {
		atomic_fetch_sub(&f->streams, 1);
		return send_error(c, 503, "too many streams", NULL);
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		atomic_fetch_sub(&f->streams, 1);
		return send_error(c, 500, "out of memory", NULL);
	}
	s->f = f;
	s->r = *r;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
	if (!resp) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/csv; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char index_text[] =
	"joule fleet: the daemon's API over every host Prometheus scrapes\n"
	"/api/v1/apps?window=&limit=&breakdown=\n/api/v1/energy?group=&window=&step=&breakdown=\n/api/v1/hosts\n"
	"/api/apps  /api/apps/run-engine?sampling=&app=&emission_breakdown=\n"
	"/nodes.csv?limit=&step=  /pods.csv?limit=&step=  /stream.csv?step=\n/api/v1/openapi.json\n";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct fleet *f = cls;
	struct conn_req cr = { 0 };
	struct fleet_reply rep;
	const char *allow;
	int rc;

	(void)version;
	(void)upload;
	if (!*con_cls) {
		*con_cls = f; /* headers seen; answer on the next call (no body is accepted) */
		return MHD_YES;
	}
	if (f->auth) {
		enum http_auth_result a = http_auth_check(f->auth, c);

		if (a == HTTP_AUTH_NEED_PASSWORD)
			return send_error(c, 401, "a user and password of the web config are required", NULL);
		if (a == HTTP_AUTH_BAD_CERT)
			return send_error(c, 403, "a client certificate signed by the configured CA is required", NULL);
	}
	if (*upload_size) {
		*upload_size = 0;
		return send_error(c, 413, "no request body is accepted", NULL);
	}
	if (http_has_nul_escape(url))
		return send_error(c, 400, "the path holds %00", NULL);
	rc = fleet_route(method, url, &cr.r, &allow);
	if (rc == 404)
		return send_error(c, 404, "no such endpoint (see /)", NULL);
	if (rc == 405)
		return send_error(c, 405, "method not allowed", allow);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, &cr);
	if (!cr.status)
		cr.status = (unsigned)fleet_check(&cr.r, cr.err, sizeof(cr.err));
	if (cr.status)
		return send_error(c, cr.status, cr.err, NULL);
	if (cr.r.route == FLEET_ROOT)
		return send_text(c, 200, "text/plain; charset=utf-8", strdup(index_text), strlen(index_text), NULL);
	if (cr.r.route == FLEET_HEALTHZ)
		return send_text(c, 200, "application/json", strdup("{\"status\":\"ok\"}"), 15, NULL);
	if (cr.r.route == FLEET_OPENAPI) {
		size_t n;
		const char *doc = fleet_openapi(&n);
		char *copy = malloc(n);

		if (copy)
			memcpy(copy, doc, n);
		return send_text(c, 200, "application/json", copy, n, NULL);
	}
	if (cr.r.route == FLEET_STREAM_CSV)
		return start_stream(f, c, &cr.r);
	cr.r.now_ms = now_real_ns() / 1000000;
	if (answer(f, &cr.r, &rep) != 200) {
		log_debug("%s %s: %u %s", method, url, rep.status, rep.err);
		return send_error(c, rep.status, rep.err, NULL);
	}
	return send_text(c, 200, rep.content_type, rep.body, rep.len, NULL);
}

static int open_listener(const char *listen_addr, char *bound, size_t boundlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;
	char host[INET6_ADDRSTRLEN];

	if (netaddr_parse_listen(listen_addr, &ss, &len)) {
		log_err("invalid --listen '%s': expected ADDR:PORT (127.0.0.1:9941, [::1]:9941, *:9941)", listen_addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		err = -errno;
		log_err("failed to listen on %s: %s", listen_addr, strerror(-err));
		close(fd);
		return err;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(bound, boundlen, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(bound, boundlen, "%s:%u", host, ntohs(a->sin_port));
	}
	return fd;
}

static struct MHD_Daemon *start_mhd(struct fleet *f, int fd)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem opts[10] = {
		{ MHD_OPTION_LISTEN_SOCKET, fd, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, FLEET_MAX_CONNECTIONS, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, FLEET_CONN_TIMEOUT_S, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32768, NULL },
	};
	size_t n = 4;

	/* the daemon's web config (exporter-toolkit format) and its checks, for the fleet's own listener */
	if (f->auth && http_auth_tls(f->auth)) {
		flags |= MHD_USE_TLS;
		http_auth_mhd_options(f->auth, opts, &n);
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, f, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

static int serve(struct fleet *f, const char *listen_addr, const char *ready_file)
{
	struct MHD_Daemon *d;
	char bound[128];
	sigset_t set;
	int fd, sig = 0;

	/* the threads libmicrohttpd starts inherit the mask: only sigwait below sees SIGTERM/SIGINT */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = open_listener(listen_addr, bound, sizeof(bound));
	if (fd < 0)
		return 1;
	d = start_mhd(f, fd);
	if (!d) {
		log_err("failed to start the HTTP server on %s", bound);
		close(fd);
		return 1;
	}
	log_info("fleet API on %s%s over %s", f->auth && http_auth_tls(f->auth) ? "https://" : "", bound, f->prom.base);
	if (ready_file && daemon_write_ready_file(ready_file, bound)) {
		MHD_stop_daemon(d);
		close(fd);
		return 1;
	}
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
		;
	f->stopping = 1;
	MHD_stop_daemon(d);
	close(fd);
	if (ready_file)
		unlink(ready_file);
	return 0;
}

/* ---- query: "PATH?k=v&..." answered on stdout */

static int url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			unsigned v;

			if (sscanf(s + 1, "%2x", &v) != 1 || !s[1] || !s[2] || v == 0)
				return -EINVAL;
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

static int query_one(struct fleet *f, const char *target)
{
	char *copy = strdup(target), *qs, *save = NULL, err[512] = "";
	struct fleet_req r;
	struct fleet_reply rep;
	const char *allow;
	int rc;

	if (!copy)
		return 1;
	qs = strchr(copy, '?');
	if (qs)
		*qs++ = '\0';
	rc = fleet_route("GET", copy, &r, &allow);
	if (!rc && r.route == FLEET_OPENAPI) {
		size_t n;
		const char *doc = fleet_openapi(&n);

		free(copy);
		return fwrite(doc, 1, n, stdout) != n || fflush(stdout) ? 1 : 0;
	}
	if (rc || r.route == FLEET_STREAM_CSV || r.route == FLEET_ROOT || r.route == FLEET_HEALTHZ) {
		fprintf(stderr, "joule: fleet query: no endpoint '%s' (one of /api/v1/apps, /api/v1/energy, "
				"/api/v1/hosts, /api/apps, /api/apps/run-engine, /nodes.csv, /pods.csv, /api/v1/openapi.json)\n", copy);
		free(copy);
		return EXIT_USAGE;
	}
	for (char *kv = qs ? strtok_r(qs, "&", &save) : NULL; kv && !rc; kv = strtok_r(NULL, "&", &save)) {
		char *v = strchr(kv, '=');

		if (v)
			*v++ = '\0';
		if (url_decode(kv) || (v && url_decode(v))) {
			snprintf(err, sizeof(err), "bad %%-escape in '%s'", kv);
			rc = 400;
			break;
		}
		rc = fleet_param(&r, kv, v, err, sizeof(err));
	}
	if (!rc)
		rc = fleet_check(&r, err, sizeof(err));
	free(copy);
	if (rc) {
		fprintf(stderr, "joule: fleet query: %s\n", err);
		return EXIT_USAGE;
	}
	r.now_ms = now_real_ns() / 1000000;
	if (answer(f, &r, &rep) != 200) {
		fprintf(stderr, "joule: fleet query: %s (%u)\n", rep.err, rep.status);
		return rep.status < 500 ? EXIT_USAGE : 1;
	}
	fwrite(rep.body, 1, rep.len, stdout);
	if (rep.len && rep.body[rep.len - 1] != '\n')
		fputc('\n', stdout);
	free(rep.body);
	return fflush(stdout) ? 1 : 0;
}

struct fleet_args {
	const char *prom, *listen, *ready, *web_config;
	struct netcurl_auth auth;
	struct fleet *f;
	uint64_t timeout_ns;
	int verbose;
};

/* An option of fleet_cli_opts (commands.c), by its FLEET_OPT_* index. */
static int fleet_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct fleet_args *a = ctx;

	switch (o - fleet_cli_opts) {
	case FLEET_OPT_LISTEN: a->listen = val; break;
	case FLEET_OPT_READY: a->ready = val; break;
	case FLEET_OPT_WEB_CONFIG: a->web_config = val; break;
	case FLEET_OPT_PROMETHEUS: a->prom = val; break;
	case FLEET_OPT_JOB: a->f->job = val; break;
	case FLEET_OPT_CA: a->auth.ca_file = val; break;
	case FLEET_OPT_CERT: a->auth.cert_file = val; break;
	case FLEET_OPT_KEY: a->auth.key_file = val; break;
	case FLEET_OPT_BEARER: a->auth.bearer_token_file = val; break;
	case FLEET_OPT_BASIC_USER: a->auth.basic_user = val; break;
	case FLEET_OPT_BASIC_PASSWORD: a->auth.basic_password_file = val; break;
	case FLEET_OPT_VERBOSE: a->verbose++; break;
	case FLEET_OPT_TIMEOUT:
		if (parse_duration_ns(val, &a->timeout_ns) || a->timeout_ns < NSEC_PER_MSEC ||
		    a->timeout_ns > 600 * NSEC_PER_SEC) {
			fprintf(stderr, "joule: fleet: invalid --timeout '%s' (1ms to 10m, e.g. 10s)\n", val);
			return -EINVAL;
		}
		break;
	}
	return 0;
}

static void fleet_usage(FILE *f)
{
	fputs("usage: joule fleet serve --prometheus URL [OPTIONS]      (joule fleet serve --help)\n"
	      "       joule fleet query --prometheus URL [OPTIONS] PATH (joule fleet query --help)\n", f);
}

int cmd_fleet(int argc, char **argv)
{
	struct fleet f = { .job = "joule" };
	struct fleet_args a = { .listen = FLEET_DEFAULT_LISTEN, .f = &f, .timeout_ns = 10 * NSEC_PER_SEC };
	const struct cli_command *def;
	struct joule_config cfg;
	char err[512];
	int rc, idx = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fleet_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	def = !strcmp(argv[1], "serve") ? &cmd_fleet_serve_def
	      : !strcmp(argv[1], "query") ? &cmd_fleet_query_def : NULL;
	if (!def) {
		fprintf(stderr, "joule: fleet: no subcommand '%s' (serve or query)\n", argv[1]);
		return EXIT_USAGE;
	}
	config_init(&cfg);
	rc = cli_parse(def, argc - 1, argv + 1, &cfg, fleet_opt, &a, &idx);
	config_free(&cfg);
	if (rc != CLI_CONTINUE)
		return rc;
	idx++; /* back to argv's numbering: the parse ran on argv + 1 */
	/* after cli_parse, which sets the level from the config keys this command has none of */
	if (a.verbose)
		log_level = a.verbose > 1 ? LOG_LVL_DEBUG : LOG_LVL_INFO;
	if (!a.prom) {
		fprintf(stderr, "joule: %s needs --prometheus URL\n", def->name);
		return EXIT_USAGE;
	}
	if (def == &cmd_fleet_serve_def && idx < argc) {
		fprintf(stderr, "joule: fleet serve takes no operand ('%s')\n", argv[idx]);
		return EXIT_USAGE;
	}
	if (def == &cmd_fleet_query_def && idx != argc - 1) {
		fprintf(stderr, "joule: fleet query needs one PATH[?PARAMS], e.g. '/api/v1/apps?window=1h'\n");
		return EXIT_USAGE;
	}
	if (promclient_init(&f.prom, a.prom, (long)(a.timeout_ns / NSEC_PER_MSEC), err, sizeof(err))) {
		fprintf(stderr, "joule: fleet: %s\n", err);
		return EXIT_USAGE;
	}
	rc = promclient_set_auth(&f.prom, &a.auth, err, sizeof(err));
	if (rc) {
		/* a file an option names that is missing or holds no secret is the command line's fault */
		fprintf(stderr, "joule: fleet: %s\n", rc == -ENOMEM ? strerror(ENOMEM) : err);
		return rc == -ENOMEM ? 1 : EXIT_USAGE;
	}
	if (a.web_config && http_auth_new(&f.auth, a.web_config)) {
		promclient_free(&f.prom);
		return 1; /* logged, as the daemon's is */
	}
	rc = def == &cmd_fleet_serve_def ? serve(&f, a.listen, a.ready) : query_one(&f, argv[idx]);
	http_auth_free(f.auth);
	promclient_free(&f.prom);
	return rc;
}
