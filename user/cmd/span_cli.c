// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `joule span -- CMD`: an energy span of the daemon around a command's process tree, for shell scripts; no root, no BPF of its own. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>
#include "joule/cli.h"
#include "joule/commands.h"
#include "joule/daemon.h"
#include "joule/log.h"
#include "joule/span.h"

/* A span's answer is well under 1 KiB; a larger one is not the daemon. */
#define REPLY_MAX 16384

struct span_args {
	const char *name, *socket, *output;
	bool json;
};

static int span_opt(void *ctx, const struct cli_opt *o, const char *val)
{
	struct span_args *a = ctx;
	char err[128];

	if (!strcmp(o->name, "name")) {
		if (span_name_check(val, err, sizeof(err))) {
			fprintf(stderr, "joule: --name: %s\n", err);
			return -EINVAL;
		}
		a->name = val;
	} else if (!strcmp(o->name, "socket")) {
		a->socket = val;
	} else if (!strcmp(o->name, "output")) {
		a->output = val;
	} else {
		a->json = true;
	}
	return 0;
}

/* One request on a fresh connection (Connection: close); the status, and the JSON body in *doc. 0 or -errno (printed). */
static int call(const char *sock, const char *method, const char *path, const char *body, int *status, cJSON **doc)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char *buf = malloc(REPLY_MAX + 1), req[512];
	size_t got = 0;
	ssize_t n;
	int fd, err = 0, len;
	const char *p;

	*doc = NULL;
	if (!buf)
		return -ENOMEM;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		err = -errno;
		if (err == -EACCES)
			fprintf(stderr, "joule: permission denied on %s: add this user to the socket's group (usually "
					"joule)\n", sock);
		else
			fprintf(stderr, "joule: failed to connect to %s: %s (is joule daemon running?)\n", sock,
				strerror(-err));
		goto out;
	}
	len = snprintf(req, sizeof(req),
		       "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
		       "Content-Length: %zu\r\n\r\n%s",
		       method, path, body ? strlen(body) : 0, body ? body : "");
	if (len < 0 || (size_t)len >= sizeof(req) || write(fd, req, (size_t)len) != len) {
		err = -EIO;
		fprintf(stderr, "joule: failed to send the request to %s\n", sock);
		goto out;
	}
	while (got < REPLY_MAX && (n = read(fd, buf + got, REPLY_MAX - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	p = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1 || !p) {
		err = -EPROTO;
		fprintf(stderr, "joule: %s did not answer HTTP\n", sock);
		goto out;
	}
	*doc = cJSON_Parse(p + 4);
	if (!*doc) {
		err = -EPROTO;
		fprintf(stderr, "joule: %s answered %d without JSON\n", sock, *status);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

static const char *error_message(const cJSON *doc)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "error"), "message");

	return cJSON_IsString(m) ? m->valuestring : "no message";
}

static double num(const cJSON *doc, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_summary(FILE *f, const cJSON *doc)
{
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(doc, "carbon_ci_ug");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(doc, "name");

	fprintf(f, "\n span '%s' (process tree):\n", cJSON_IsString(name) ? name->valuestring : "?");
	fprintf(f, "   %12.3f s   wall\n", num(doc, "wall_ns") / 1e9);
	fprintf(f, "   %12.3f s   CPU\n", num(doc, "cpu_ns") / 1e9);
	fprintf(f, "   %12.3f J   energy (%.3f J CPU, %.3f J memory)\n", num(doc, "energy_uj") / 1e6,
		num(doc, "cpu_energy_uj") / 1e6, num(doc, "memory_energy_uj") / 1e6);
	fprintf(f, "   %12.6f g   CO2e", num(doc, "carbon_ug") / 1e6);
	if (cJSON_GetArraySize(ci) == 2)
		fprintf(f, " (95 %%: %.6f-%.6f g)", cJSON_GetArrayItem(ci, 0)->valuedouble / 1e6,
			cJSON_GetArrayItem(ci, 1)->valuedouble / 1e6);
	fprintf(f, "\n   %12.2f %%   of the host's energy\n", num(doc, "host_share") * 100);
}

static int child_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;
}

int cmd_span(int argc, char **argv)
{
	struct span_args a = { 0 };
	struct joule_config cfg;
	char body[256], path[64];
	const char *base;
	cJSON *doc = NULL, *idv;
	int idx = 1, rc, status = 0, wst = 0;
	uint64_t id;
	pid_t pid;
	FILE *out = stderr;

	config_init(&cfg);
	rc = cli_parse(&cmd_span_def, argc, argv, &cfg, span_opt, &a, &idx);
	config_free(&cfg);
	if (rc != CLI_CONTINUE)
		return rc;
	if (idx >= argc) {
		fprintf(stderr, "joule: span needs a command: joule span [--name N] -- CMD [ARGS...]\n");
		return EXIT_USAGE;
	}
	if (!a.socket)
		a.socket = getenv("JOULE_SOCKET") && getenv("JOULE_SOCKET")[0] ? getenv("JOULE_SOCKET") : DAEMON_DEFAULT_SOCKET;
	base = strrchr(argv[idx], '/') ? strrchr(argv[idx], '/') + 1 : argv[idx];
	if (!a.name) {
		static char nm[SPAN_NAME_MAX + 1];
		char err[128];
		size_t j = 0;

		/* the command's name, with what the charset refuses made '_' */
		for (const char *c = base; *c && j < SPAN_NAME_MAX; c++, j++)
			nm[j] = span_name_check((char[]){ *c, 0 }, err, sizeof(err)) ? '_' : *c;
		nm[j] = '\0';
		a.name = j ? nm : "span";
	}
	if (a.output) {
		out = fopen(a.output, "we");
		if (!out) {
			fprintf(stderr, "joule: failed to open %s: %s\n", a.output, strerror(errno));
			return EXIT_USAGE;
		}
	}
	/* the span is ours (this process) and its tree: the command is forked after it opens */
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"scope\":\"tree\"}", a.name);
	/* a measurement that cannot be taken is an error, not a silent zero: the command is not run without it */
	if (call(a.socket, "POST", "/api/v1/spans", body, &status, &doc)) {
		fprintf(stderr, "joule: %s not run: no span could be opened\n", argv[idx]);
		rc = 1;
		goto done;
	}
	idv = cJSON_GetObjectItemCaseSensitive(doc, "id");
	if (status != 201 || !cJSON_IsNumber(idv)) {
		fprintf(stderr, "joule: the daemon refused the span (%d): %s; %s not run\n", status, error_message(doc),
			argv[idx]);
		rc = 1;
		goto done;
	}
	id = (uint64_t)idv->valuedouble;
	cJSON_Delete(doc);
	doc = NULL;
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "joule: failed to fork: %s\n", strerror(errno));
		rc = 1;
	} else if (pid == 0) {
		execvp(argv[idx], argv + idx);
		fprintf(stderr, "joule: failed to run %s: %s\n", argv[idx], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	} else {
		/* the terminal's ^C reaches the command; we wait for it and still close the span */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
			;
		rc = child_code(wst);
	}
	snprintf(path, sizeof(path), "/api/v1/spans/%llu", (unsigned long long)id);
	if (call(a.socket, "DELETE", path, NULL, &status, &doc) || status != 200) {
		if (doc)
			fprintf(stderr, "joule: failed to close span %llu (%d): %s\n", (unsigned long long)id, status,
				error_message(doc));
		if (!rc)
			rc = 1;
		goto done;
	}
	if (a.json) {
		char *txt = cJSON_PrintUnformatted(doc);

		if (txt)
			fprintf(out, "%s\n", txt);
		free(txt);
	} else {
		print_summary(out, doc);
	}
	if (out != stderr && fclose(out)) {
		fprintf(stderr, "joule: failed to write %s: %s\n", a.output, strerror(errno));
		rc = rc ? rc : 1;
	}
	out = stderr;
done:
	cJSON_Delete(doc);
	if (out != stderr)
		fclose(out);
	return rc;
}
