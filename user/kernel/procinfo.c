// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process facts from /proc, and a pure parser turning a cgroup path into a unit/container/pod/comm label. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "joule/procinfo.h"
#include "joule/util.h"

static void copy_span(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (dstlen == 0)
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool has_prefix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && memcmp(s, p, pl) == 0;
}

static bool has_suffix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && memcmp(s + n - pl, p, pl) == 0;
}

/* Container runtimes name the scope "<runtime>-<64 hex>.scope" under systemd, or use a bare id segment. */
static bool container_id(const char *seg, size_t n, const char **id, const char **runtime)
{
	static const struct {
		const char *prefix, *runtime;
	} prefixes[] = {
		{ "docker-", "docker" }, { "cri-containerd-", "containerd" }, { "crio-", "crio" },
		{ "libpod-", "podman" }, { "containerd-", "containerd" },
	};

	if (has_suffix(seg, n, ".scope"))
		n -= strlen(".scope");
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t pl = strlen(prefixes[i].prefix);

		if (has_prefix(seg, n, prefixes[i].prefix) && n - pl == 64 && all_hex(seg + pl, 64)) {
			*id = seg + pl;
			*runtime = prefixes[i].runtime;
			return true;
		}
	}
	if (n == 64 && all_hex(seg, 64)) {
		*id = seg;
		*runtime = NULL; /* the parent segment may say (cgroupfs: /docker/<id>) */
		return true;
	}
	return false;
}

/* Slurm's "job_<id>" (and "uid_<u>" on cgroup v1): digits only, as slurmd writes them. */
static bool digits_after(const char *seg, size_t n, const char *prefix, const char **v, size_t *vlen)
{
	size_t pl = strlen(prefix);

	if (!has_prefix(seg, n, prefix) || n == pl || n - pl > 20)
		return false;
	for (size_t i = pl; i < n; i++)
		if (seg[i] < '0' || seg[i] > '9')
			return false;
	*v = seg + pl;
	*vlen = n - pl;
	return true;
}

/*
 * Pod uid from "pod<uid>" (cgroupfs driver) or "kubepods-<qos>-pod<uid_>.slice"
 * (systemd driver, where '-' in the uid became '_'). Uids are 36-char UUIDs;
 * static pods use a 32-char hash.
 */
static bool pod_uid(const char *seg, size_t n, char *out, size_t outlen)
{
	const char *p = NULL;
	size_t len;

	if (has_suffix(seg, n, ".slice")) {
		n -= strlen(".slice");
		for (size_t i = n; i >= 3; i--) {
			if (memcmp(seg + i - 3, "pod", 3) == 0 && (i == 3 || seg[i - 4] == '-')) {
				p = seg + i;
				break;
			}
		}
	} else if (has_prefix(seg, n, "pod")) {
		p = seg + 3;
	}
	if (!p)
		return false;
	len = (size_t)(seg + n - p);
	if (len != 32 && len != 36)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)p[i]) && p[i] != '-' && p[i] != '_')
			return false;
	if (outlen <= len)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = p[i] == '_' ? '-' : p[i];
	out[len] = '\0';
	return true;
}

/*
 * Pick the cgroup v2 line ("0::/path"), else the name=systemd line, else the
 * first line's path. A root path ("/") says nothing: on a hybrid host a v1
 * runtime (runc on cgroupfs) leaves the unified line at "/" while the v1
 * lines name the container, so any other path wins over it.
 */
static void pick_path(const char *text, size_t len, const char **path, size_t *plen)
{
	const char *end = text + len, *line = text;
	int best = -1;

	*path = NULL;
	*plen = 0;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(line, ':', (size_t)(le - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;

		if (c2) {
			bool v2 = c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
			bool sd = (size_t)(c2 - c1 - 1) == strlen("name=systemd") &&
				  memcmp(c1 + 1, "name=systemd", strlen("name=systemd")) == 0;
			size_t n = (size_t)(le - c2 - 1);
			bool root = n == 1 && c2[1] == '/';
			int score = (root ? 0 : 4) + (v2 ? 2 : sd ? 1 : 0);

			if (score > best) {
				*path = c2 + 1;
				*plen = n;
				best = score;
			}
		}
		line = le + 1;
	}
}

int procinfo_parse_cgroup(const char *text, size_t len, const char *comm, struct proc_labels *out,
			  char *pathbuf, size_t pathlen)
{
	const char *path, *seg, *end, *cid = NULL, *runtime = NULL, *prev = NULL, *v;
	size_t plen, prevlen = 0, vlen;
	bool kube = false, slurm = false;

	labels_from_comm(comm, out);
	if (pathbuf && pathlen)
		pathbuf[0] = '\0';
	if (!text)
		return 0;
	len = strnlen(text, len); /* /proc text has no NUL: anything after one is not a path */
	pick_path(text, len, &path, &plen);
	if (!path)
		return 0;
	if (pathbuf)
		copy_span(pathbuf, pathlen, path, plen);

	end = path + plen;
	for (seg = path; seg < end;) {
		const char *slash = memchr(seg, '/', (size_t)(end - seg));
		const char *se = slash ? slash : end;
		size_t n = (size_t)(se - seg);
		const char *id, *rt;

		if (has_prefix(seg, n, "kubepods"))
			kube = true;
		if (kube && !out->pod_uid[0])
			pod_uid(seg, n, out->pod_uid, sizeof(out->pod_uid));
		if (container_id(seg, n, &id, &rt)) {
			cid = id;
			runtime = rt;
			if (!rt && prev && prevlen == 6 && !memcmp(prev, "docker", 6))
				runtime = "docker";
		}
		/* cgroup v1 "/slurm/uid_U/job_J/step_S"; v2 "/system.slice/slurmstepd.scope/job_J/step_S/..." */
		if ((n == 5 && !memcmp(seg, "slurm", 5)) || has_prefix(seg, n, "slurmstepd.scope"))
			slurm = true;
		if (slurm && !out->job_id[0] && digits_after(seg, n, "job_", &v, &vlen))
			copy_span(out->job_id, sizeof(out->job_id), v, vlen);
		if (slurm && !out->job_user[0] && digits_after(seg, n, "uid_", &v, &vlen))
			copy_span(out->job_user, sizeof(out->job_user), v, vlen);
		if (has_suffix(seg, n, ".service") && n > strlen(".service"))
			copy_span(out->unit, sizeof(out->unit), seg, n);
		if (has_suffix(seg, n, ".slice") && n > strlen(".slice"))
			copy_span(out->slice, sizeof(out->slice), seg, n);
		prev = seg;
		prevlen = n;
		seg = se + 1;
	}
	if (cid)
		copy_span(out->container, sizeof(out->container), cid, 64);
	if (runtime)
		copy_span(out->runtime, sizeof(out->runtime), runtime, strlen(runtime));
	labels_choose_group(out, comm);
	return 0;
}

int procinfo_read(const char *proc_root, uint32_t pid, struct procinfo *out)
{
	char path[256], buf[4096];
	const char *root = proc_root ? proc_root : "/proc";
	ssize_t n;
	int r;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(path, sizeof(path), "%s/%u/comm", root, pid);
	r = read_text_file(path, out->comm, sizeof(out->comm));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%u/exe", root, pid);
	n = readlink(path, out->exe, sizeof(out->exe) - 1);
	out->exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "%s/%u/cmdline", root, pid);
	r = read_file(path, out->cmdline, sizeof(out->cmdline));
	for (int i = 0; i < r - 1; i++)
		if (out->cmdline[i] == '\0')
			out->cmdline[i] = ' ';
	snprintf(path, sizeof(path), "%s/%u/cgroup", root, pid);
	r = read_file(path, buf, sizeof(buf));
	procinfo_parse_cgroup(buf, r > 0 ? (size_t)r : 0, out->comm, &out->labels, out->cgroup,
			      sizeof(out->cgroup));
	procinfo_read_uid(root, pid, &out->labels.uid);
	return 0;
}

int procinfo_read_uid(const char *proc_root, uint32_t pid, uint32_t *uid)
{
	char path[256], buf[4096];
	const char *u;
	unsigned v;
	int r;

	snprintf(path, sizeof(path), "%s/%u/status", proc_root ? proc_root : "/proc", pid);
	r = read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	u = strstr(buf, "\nUid:");
	if (!u || sscanf(u + 5, "%u", &v) != 1)
		return -EINVAL;
	*uid = v;
	return 0;
}

int procinfo_label(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out)
{
	struct procinfo pi;
	int r = procinfo_read(ctx, pid, &pi);

	if (r < 0) {
		/* Already gone: label by comm, the one fact the sample carries. */
		procinfo_parse_cgroup(NULL, 0, comm, out, NULL, 0);
		return r;
	}
	*out = pi.labels;
	/* The sample's comm is the kernel's at that tick; prefer it for comm groups. */
	if (out->kind == GROUP_COMM && comm && comm[0])
		snprintf(out->group, sizeof(out->group), "%.15s", comm);
	return 0;
}
