// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Workload identity: cgroup path → unit/container/pod/job names from the runtimes' own state, cached per cgroup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "joule/identity.h"
#include "joule/log.h"
#include "joule/procinfo.h"
#include "joule/util.h"

/* Set-associative and bounded: the worst case is a re-resolution, never growth. Four ways, because with one
 * two cgroups that share a slot (likely with a few dozen containers in 1024 slots) evict each other at every
 * tick: each lookup then re-reads the runtime's state and says its "labelled by what is known" again. */
#define CACHE_WAYS 4
#define CACHE_SETS 256
#define CACHE_SLOTS (CACHE_WAYS * CACHE_SETS)
/* An entry that lacked a name is looked up again after this long (state can appear after the process). */
#define RETRY_NS (30 * NSEC_PER_SEC)
/* Docker's config.v2.json is a few kB; containers.json holds every container of the host. */
#define MAX_CONFIG_BYTES (4u << 20)
#define MAX_STORAGE_BYTES (64u << 20)

struct cache_ent {
	bool used, complete, logged;
	uint64_t hash, resolved_ns;
	char path[512];
	struct proc_labels l; /* uid and comm group not cached: they are per process */
};

struct identity {
	struct identity_opts o;
	pthread_mutex_t lock;
	struct cache_ent *slot;
};

static const char *or_default(const char *v, const char *def)
{
	return v && v[0] ? v : def;
}

int identity_open(struct identity **out, const struct identity_opts *o)
{
	struct identity *id = calloc(1, sizeof(*id));

	if (!id)
		return -ENOMEM;
	id->slot = calloc(CACHE_SLOTS, sizeof(*id->slot));
	if (!id->slot) {
		free(id);
		return -ENOMEM;
	}
	if (o)
		id->o = *o;
	id->o.proc_root = or_default(id->o.proc_root, "/proc");
	id->o.docker_root = or_default(id->o.docker_root, "/var/lib/docker");
	id->o.storage_root = or_default(id->o.storage_root, "/var/lib/containers/storage");
	id->o.pod_logs_root = or_default(id->o.pod_logs_root, "/var/log/pods");
	id->o.container_logs_root = or_default(id->o.container_logs_root, "/var/log/containers");
	pthread_mutex_init(&id->lock, NULL);
	*out = id;
	return 0;
}

void identity_close(struct identity *id)
{
	if (!id)
		return;
	pthread_mutex_destroy(&id->lock);
	free(id->slot);
	free(id);
}

/* ---------- pure parsers ---------- */

/*
 * Names that reach labels, logs and PromQL are held to what the runtimes
 * themselves allow (Docker/Podman [a-zA-Z0-9][a-zA-Z0-9_.-]*, Kubernetes DNS
 * names): anything else is a hostile or corrupt state file, not a name.
 */
static bool name_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n >= max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool set_name(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (!name_ok(s, n, dstlen))
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* CRI-O (and dockershim) name containers "k8s_<container>_<pod>_<namespace>_<uid>_<attempt>". */
static void parse_k8s_name(const char *name, struct proc_labels *l)
{
	const char *f[6];
	size_t fl[6];
	const char *p = name + 4;
	int n = 0;

	if (strncmp(name, "k8s_", 4))
		return;
	while (n < 6) {
		const char *u = strchr(p, '_');

		f[n] = p;
		fl[n] = u ? (size_t)(u - p) : strlen(p);
		n++;
		if (!u)
			break;
		p = u + 1;
	}
	if (n < 4)
		return;
	set_name(l->container_name, sizeof(l->container_name), f[0], fl[0]);
	if (!l->pod[0])
		set_name(l->pod, sizeof(l->pod), f[1], fl[1]);
	if (!l->k8s_namespace[0])
		set_name(l->k8s_namespace, sizeof(l->k8s_namespace), f[2], fl[2]);
}

int identity_parse_docker_config(const char *json, size_t len, struct proc_labels *l)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *labels;
	const char *name, *v;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	name = json_str(root, "Name");
	if (name && name[0] == '/')
		name++; /* Docker keeps the name as "/name" */
	if (name && !strncmp(name, "k8s_", 4))
		parse_k8s_name(name, l);
	else if (name)
		set_name(l->container_name, sizeof(l->container_name), name, strlen(name));
	/* dockershim puts the Kubernetes identity in labels too */
	labels = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "Config"), "Labels");
	if (cJSON_IsObject(labels)) {
		v = json_str(labels, "io.kubernetes.pod.namespace");
		if (v)
			set_name(l->k8s_namespace, sizeof(l->k8s_namespace), v, strlen(v));
		v = json_str(labels, "io.kubernetes.pod.name");
		if (v)
			set_name(l->pod, sizeof(l->pod), v, strlen(v));
		v = json_str(labels, "io.kubernetes.container.name");
		if (v)
			set_name(l->container_name, sizeof(l->container_name), v, strlen(v));
	}
	cJSON_Delete(root);
	return 0;
}

int identity_parse_storage_containers(const char *json, size_t len, const char *cid, struct proc_labels *l)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *c;
	int err = -ENOENT;

	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	cJSON_ArrayForEach(c, root)
	{
		const char *id = json_str(c, "id");
		const cJSON *names = cJSON_GetObjectItemCaseSensitive(c, "names");
		const cJSON *first = cJSON_IsArray(names) ? cJSON_GetArrayItem(names, 0) : NULL;

		if (!id || strcmp(id, cid))
			continue;
		err = 0;
		if (cJSON_IsString(first) && first->valuestring) {
			const char *name = first->valuestring;

			if (!strncmp(name, "k8s_", 4))
				parse_k8s_name(name, l);
			else
				set_name(l->container_name, sizeof(l->container_name), name, strlen(name));
		}
		break;
	}
	cJSON_Delete(root);
	return err;
}

int identity_parse_pod_dir(const char *name, const char *uid, struct proc_labels *l)
{
	size_t n = strlen(name), ul = strlen(uid);
	const char *u1;

	/* Neither a namespace nor a pod name may hold '_': the first two '_' split it. */
	if (n < ul + 4 || strcmp(name + n - ul, uid) || name[n - ul - 1] != '_')
		return -ENOENT;
	u1 = memchr(name, '_', n - ul - 1);
	if (!u1 || u1 + 1 >= name + n - ul - 1)
		return -EINVAL;
	if (!name_ok(name, (size_t)(u1 - name), sizeof(l->k8s_namespace)) ||
	    !name_ok(u1 + 1, (size_t)(name + n - ul - 1 - (u1 + 1)), sizeof(l->pod)))
		return -EINVAL;
	set_name(l->k8s_namespace, sizeof(l->k8s_namespace), name, (size_t)(u1 - name));
	set_name(l->pod, sizeof(l->pod), u1 + 1, (size_t)(name + n - ul - 1 - (u1 + 1)));
	return 0;
}

int identity_parse_container_log(const char *name, const char *cid, struct proc_labels *l)
{
	size_t n = strlen(name), il = strlen(cid);
	const char *u1, *u2, *dash;

	/* <pod>_<namespace>_<container>-<id>.log: the kubelet's own symlink names */
	if (n < il + 10 || strcmp(name + n - 4, ".log") || strncmp(name + n - 4 - il, cid, il) ||
	    name[n - 5 - il] != '-')
		return -ENOENT;
	dash = name + n - 5 - il;
	u1 = memchr(name, '_', (size_t)(dash - name));
	u2 = u1 ? memchr(u1 + 1, '_', (size_t)(dash - u1 - 1)) : NULL;
	if (!u2 || !name_ok(u2 + 1, (size_t)(dash - u2 - 1), sizeof(l->container_name)))
		return -EINVAL;
	set_name(l->container_name, sizeof(l->container_name), u2 + 1, (size_t)(dash - u2 - 1));
	if (!l->pod[0])
		set_name(l->pod, sizeof(l->pod), name, (size_t)(u1 - name));
	if (!l->k8s_namespace[0])
		set_name(l->k8s_namespace, sizeof(l->k8s_namespace), u1 + 1, (size_t)(u2 - u1 - 1));
	return 0;
}

/* ---------- state on disk ---------- */

/* A runtime's state file: regular, not a symlink, bounded. Returns a malloc'd buffer or NULL with *err. */
static char *read_state(const char *path, size_t max, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		*err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		*err = -ENOMEM;
		close(fd);
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* Why a lookup found no name: said once per cgroup, since the cache remembers the attempt. */
struct why {
	char msg[1400];
};

static void why_set(struct why *w, const char *what, const char *path, int err)
{
	if (!w->msg[0])
		snprintf(w->msg, sizeof(w->msg), "%s %s: %s", what, path, strerror(-err));
}

static bool from_docker(const struct identity *id, struct proc_labels *l, struct why *w)
{
	char path[1024], *text;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "%s/containers/%s/config.v2.json", id->o.docker_root, l->container);
	text = read_state(path, MAX_CONFIG_BYTES, &len, &err);
	if (!text) {
		why_set(w, "cannot read", path, err);
		return false;
	}
	err = identity_parse_docker_config(text, len, l);
	free(text);
	if (err)
		why_set(w, "not a Docker container config (truncated or corrupt):", path, err);
	return !err && l->container_name[0];
}

static bool from_storage(const struct identity *id, struct proc_labels *l, struct why *w)
{
	char path[1024], *text;
	size_t len;
	int err;

	snprintf(path, sizeof(path), "%s/overlay-containers/containers.json", id->o.storage_root);
	text = read_state(path, MAX_STORAGE_BYTES, &len, &err);
	if (!text) {
		why_set(w, "cannot read", path, err);
		return false;
	}
	err = identity_parse_storage_containers(text, len, l->container, l);
	free(text);
	if (err == -EINVAL)
		why_set(w, "not a containers/storage list (truncated or corrupt):", path, err);
	else if (err)
		why_set(w, "no entry for the container in", path, err);
	return !err && l->container_name[0];
}

/* Calls fn for each entry name of dir until it returns 0; returns 0 when one did, else the error. */
static int scan_dir(const char *dir, int (*fn)(const char *name, const char *key, struct proc_labels *l),
		    const char *key, struct proc_labels *l)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int err = -ENOENT;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		err = fn(e->d_name, key, l);
		if (err != -ENOENT)
			break;
	}
	closedir(d);
	return err;
}

static bool from_pod_logs(const struct identity *id, struct proc_labels *l, struct why *w)
{
	int err = scan_dir(id->o.pod_logs_root, identity_parse_pod_dir, l->pod_uid, l);

	if (err)
		why_set(w, "no pod directory for the pod uid under", id->o.pod_logs_root, err);
	return !err;
}

static bool from_container_logs(const struct identity *id, struct proc_labels *l, struct why *w)
{
	int err = scan_dir(id->o.container_logs_root, identity_parse_container_log, l->container, l);

	if (err)
		why_set(w, "no kubelet log link for the container under", id->o.container_logs_root, err);
	return !err;
}

/* Names for the ids a cgroup path carries; true when every id found its name. */
static bool resolve(const struct identity *id, struct proc_labels *l, struct why *w)
{
	bool ok = true;

	if (l->container[0]) {
		const char *rt = l->runtime;
		bool named = false;

		if (!rt[0] || !strcmp(rt, "docker"))
			named = from_docker(id, l, w);
		if (!named && (!rt[0] || !strcmp(rt, "podman") || !strcmp(rt, "crio")))
			named = from_storage(id, l, w);
		/* containerd keeps its state in a bolt database: the kubelet's log links name its containers */
		if (!named && (l->pod_uid[0] || !strcmp(rt, "containerd")))
			named = from_container_logs(id, l, w);
		ok = named;
	}
	if (l->pod_uid[0] && !(l->pod[0] && l->k8s_namespace[0]))
		ok = from_pod_logs(id, l, w) && ok;
	return ok;
}

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	/* FNV's low bits, which pick the set, are weak for paths that differ only in a few hex digits: mix them
	 * (splitmix64's finaliser) so a host's container ids spread over the sets. */
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* cg's entry in its set if it has one, else the way to fill: an unused one, or the one resolved longest ago.
 * Called with the lock held. */
static struct cache_ent *cache_way(struct identity *id, uint64_t h, const char *cg)
{
	struct cache_ent *set = &id->slot[(h % CACHE_SETS) * CACHE_WAYS], *victim = set;

	for (int w = 0; w < CACHE_WAYS; w++) {
		struct cache_ent *e = &set[w];

		if (e->used && e->hash == h && !strcmp(e->path, cg))
			return e;
		if (victim->used && (!e->used || e->resolved_ns < victim->resolved_ns))
			victim = e;
	}
	return victim;
}

/* The cgroup labels of pid (the identity part; uid and comm are the caller's). */
static int lookup(struct identity *id, uint32_t pid, const char *comm, struct proc_labels *out)
{
	char path[256], buf[4096], cg[512];
	struct cache_ent *e;
	uint64_t h, now;
	int r;

	snprintf(path, sizeof(path), "%s/%u/cgroup", id->o.proc_root, pid);
	r = read_file(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	procinfo_parse_cgroup(buf, (size_t)r, comm, out, cg, sizeof(cg));
	/* Units, slices and jobs: the path says it all, nothing on disk to look up. */
	if (!out->container[0] && !out->pod_uid[0])
		return 0;
	h = hash_path(cg);
	now = now_mono_ns();
	pthread_mutex_lock(&id->lock);
	e = cache_way(id, h, cg);
	if (e->used && e->hash == h && !strcmp(e->path, cg) && (e->complete || now - e->resolved_ns < RETRY_NS)) {
		uint32_t uid = out->uid;

		*out = e->l;
		out->uid = uid;
		pthread_mutex_unlock(&id->lock);
		labels_choose_group(out, comm);
		return 0;
	}
	pthread_mutex_unlock(&id->lock);

	/* Resolve outside the lock: it reads files, and a slow disk must not stall other lookups. */
	{
		struct why w = { "" };
		bool complete = resolve(id, out, &w), logged;

		labels_choose_group(out, comm);
		pthread_mutex_lock(&id->lock);
		e = cache_way(id, h, cg); /* again: another lookup may have filled the way while the lock was free */
		logged = e->used && e->hash == h && !strcmp(e->path, cg) && e->logged;
		if (!complete && !logged)
			log_warn("identity: %s labelled by what is known (%s %s): %s", cg, group_kind_name(out->kind),
				 out->group, w.msg);
		e->used = true;
		e->complete = complete;
		e->logged = logged || !complete;
		e->hash = h;
		e->resolved_ns = now;
		snprintf(e->path, sizeof(e->path), "%s", cg);
		e->l = *out;
		pthread_mutex_unlock(&id->lock);
	}
	return 0;
}

/* A Slurm job's user by name, as sacct shows it; the uid in digits when the name is unknown. */
static void job_user(struct proc_labels *l)
{
	char buf[1024];
	struct passwd pw, *res = NULL;
	unsigned long uid;
	char *end;

	if (!l->job_id[0])
		return;
	if (l->job_user[0]) {
		uid = strtoul(l->job_user, &end, 10);
		if (*end)
			return;
	} else if (l->uid != UINT32_MAX) {
		uid = l->uid;
	} else {
		return;
	}
	if (!getpwuid_r((uid_t)uid, &pw, buf, sizeof(buf), &res) && res && name_ok(pw.pw_name, strlen(pw.pw_name),
										       sizeof(l->job_user)))
		snprintf(l->job_user, sizeof(l->job_user), "%s", pw.pw_name);
	else
		snprintf(l->job_user, sizeof(l->job_user), "%lu", uid);
}

int identity_label(void *ctx, uint32_t pid, const char *comm, struct proc_labels *out)
{
	struct identity *id = ctx;
	int r = lookup(id, pid, comm, out);

	/* Gone already: labelled by comm, the one fact the sample carries. */
	if (r < 0) {
		labels_from_comm(comm, out);
		return r;
	}
	/* Only the cgroup and the uid: a first sight costs two reads of /proc, not five. */
	if (procinfo_read_uid(id->o.proc_root, pid, &out->uid) < 0)
		out->uid = UINT32_MAX;
	job_user(out);
	return 0;
}

int identity_refresh(void *ctx, uint32_t pid, const char *comm, struct proc_labels *l)
{
	struct identity *id = ctx;
	struct proc_labels now;

	if (lookup(id, pid, comm, &now) < 0)
		return 0;
	if (!labels_moved(l, &now))
		return 0;
	now.uid = l->uid;
	job_user(&now);
	log_debug("identity: pid %u moved from %s %s to %s %s", pid, group_kind_name(l->kind), l->group,
		  group_kind_name(now.kind), now.group);
	*l = now;
	return 1;
}

void identity_host_read(struct host_identity *out)
{
	memset(out, 0, sizeof(*out));
	if (gethostname(out->hostname, sizeof(out->hostname) - 1))
		out->hostname[0] = '\0';
	if (read_text_file("/etc/machine-id", out->machine_id, sizeof(out->machine_id)) < 0)
		out->machine_id[0] = '\0';
	if (read_text_file("/proc/sys/kernel/random/boot_id", out->boot_id, sizeof(out->boot_id)) < 0)
		out->boot_id[0] = '\0';
}
