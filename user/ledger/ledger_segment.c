// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger segment files: create the active one, retire it as FILE.N[.gz], and recover it (torn tail, verify, resume) at open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "joule/ledger_segment.h"
#include "joule/ledger_verify.h"
#include "joule/log.h"
#include "joule/util.h"

int ledger_fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return err;
}

const char *ledger_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int ledger_segment_create(struct ledger_segment *s, bool quiet)
{
	int err;

	s->fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	if (s->fd < 0) {
		err = -errno;
		/* Retried before every write while it fails: say it once, the writer tells the rest. */
		if (!quiet)
			log_err("failed to create ledger %s: %s", s->path, strerror(-err));
		return err;
	}
	/* The new name must survive a crash too, not just the bytes. */
	err = ledger_fsync_dir_of(s->path);
	if (err)
		log_warn("ledger: fsync of the directory of %s failed: %s", s->path, strerror(-err));
	return 0;
}

/* Highest N among path.N and path.N.gz, so rotated names never collide. */
int ledger_segment_max_index(const char *path)
{
	char *copy = strdup(path);
	const char *base = ledger_base_name(path);
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;
	int max = 0;

	if (!copy)
		return 0;
	d = opendir(dirname(copy));
	while (d && (de = readdir(d))) {
		char *end;
		long n;

		if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] != '.')
			continue;
		n = strtol(de->d_name + blen + 1, &end, 10);
		if (end != de->d_name + blen + 1 && (!*end || strcmp(end, ".gz") == 0) && n > max &&
		    n < INT_MAX)
			max = (int)n;
	}
	if (d)
		closedir(d);
	free(copy);
	return max;
}

int ledger_gzip_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 64], buf[65536];
	int in, err = 0;
	gzFile gz;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	gz = gzopen(tmp, "wb6");
	if (!gz) {
		close(in);
		return -EIO;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned)n) != n) {
			err = -EIO;
			break;
		}
	}
	if (n < 0)
		err = -errno;
	close(in);
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fsync(fd) < 0)
			err = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (!err && rename(tmp, dst) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int ledger_segment_retire(struct ledger_segment *s, bool compress, char *name, size_t len)
{
	char seg[PATH_MAX + 32], gz[PATH_MAX + 40];
	const char *held = seg;
	int err, idx;

	if (s->next_index <= 0)
		s->next_index = ledger_segment_max_index(s->path) + 1;
	idx = s->next_index;
	snprintf(seg, sizeof(seg), "%s.%d", s->path, idx);
	if (rename(s->path, seg) < 0) {
		err = -errno;
		log_err("ledger: failed to rename %s to %s: %s", s->path, seg, strerror(-err));
		return err;
	}
	s->next_index = idx + 1;
	ledger_fsync_dir_of(s->path);
	if (compress) {
		snprintf(gz, sizeof(gz), "%s.gz", seg);
		err = ledger_gzip_file(seg, gz);
		if (err) {
			log_err("ledger: failed to compress %s: %s (kept uncompressed)", seg, strerror(-err));
		} else {
			unlink(seg);
			ledger_fsync_dir_of(s->path);
			held = gz;
		}
	}
	log_info("ledger: rotated segment to %s", held);
	snprintf(name, len, "%s", ledger_base_name(held));
	return 0;
}

/* Cut a torn last line (no newline: a crash mid-write). Returns bytes cut or -errno. */
static int64_t cut_torn_tail(int fd, const char *path)
{
	struct stat st;
	char buf[4096];
	off_t end, pos;

	if (fstat(fd, &st) < 0)
		return -errno;
	end = st.st_size;
	if (end == 0)
		return 0;
	if (pread(fd, buf, 1, end - 1) != 1)
		return -EIO;
	if (buf[0] == '\n')
		return 0;
	for (pos = end; pos > 0;) {
		off_t from = pos > (off_t)sizeof(buf) ? pos - (off_t)sizeof(buf) : 0;
		ssize_t n = pread(fd, buf, (size_t)(pos - from), from);
		char *nl;

		if (n != pos - from)
			return -EIO;
		nl = memrchr(buf, '\n', (size_t)n);
		if (nl) {
			pos = from + (nl - buf) + 1;
			break;
		}
		pos = from;
	}
	if (ftruncate(fd, pos) < 0 || fdatasync(fd) < 0)
		return -errno;
	log_warn("ledger: %s ended in a torn line (crash mid-write): cut %lld bytes, chain resumes",
		 path, (long long)(end - pos));
	return end - pos;
}

/* Continue a chain from the newest rotated segment when the active file is missing (crash mid-rotation). */
static bool adopt_previous_segment(struct ledger_segment *s, struct ledger_chain *c, struct ledger_recovery *r,
				   char *name, size_t len)
{
	int idx = ledger_segment_max_index(s->path);
	struct ledger_verifier v;
	char seg[PATH_MAX + 40];

	if (idx <= 0)
		return false;
	snprintf(seg, sizeof(seg), "%s.%d.gz", s->path, idx);
	if (access(seg, F_OK) < 0)
		snprintf(seg, sizeof(seg), "%s.%d", s->path, idx);
	ledger_verifier_init(&v);
	if (ledger_verifier_file(&v, seg)) {
		log_warn("ledger: last segment %s does not verify (%s:%" PRIu64 ": %s): new chain", seg,
			 seg, v.line, v.why);
		return false;
	}
	memcpy(c->prev_hash, v.prev_hash, sizeof(c->prev_hash));
	c->seq_next = v.next_seq;
	s->next_index = idx + 1;
	if (r) {
		r->resumed = true;
		r->last_seq = v.next_seq - 1;
		r->last_ts_end_ns = v.prev_ts_end_ns;
	}
	return snprintf(name, len, "%s", ledger_base_name(seg)) < (int)len;
}

int ledger_segment_recover(struct ledger_segment *s, struct ledger_chain *c, struct ledger_recovery *r)
{
	struct ledger_verifier v;
	struct stat st;
	int64_t cut;
	int err;

	memset(r, 0, sizeof(*r));
	/* Read-write: the torn tail is read back and cut; appends still go through O_APPEND. */
	s->fd = open(s->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (s->fd < 0 && errno == ENOENT) {
		if (!adopt_previous_segment(s, c, r, r->prev_segment, sizeof(r->prev_segment)))
			r->prev_segment[0] = '\0';
		r->action = LEDGER_RECOVER_GENESIS;
		return ledger_segment_create(s, false);
	}
	if (s->fd < 0) {
		err = -errno;
		log_err("failed to open ledger %s: %s", s->path, strerror(-err));
		return err;
	}
	cut = cut_torn_tail(s->fd, s->path);
	if (cut < 0) {
		log_err("ledger: failed to repair %s: %s", s->path, strerror((int)-cut));
		return (int)cut;
	}
	r->torn_bytes_cut = (uint64_t)cut;

	ledger_verifier_init(&v);
	err = ledger_verifier_file(&v, s->path);
	if (err && v.err == LEDGER_E_EMPTY) {
		/* Created (perhaps by a rotation), crashed before genesis reached the disk: start it now, linked. */
		if (!adopt_previous_segment(s, c, r, r->prev_segment, sizeof(r->prev_segment)))
			r->prev_segment[0] = '\0';
		r->action = LEDGER_RECOVER_GENESIS;
		return 0;
	}
	if (err) {
		/* Never append to a ledger that does not verify: set it aside, start afresh. */
		snprintf(r->broken_why, sizeof(r->broken_why), "line %" PRIu64 ": %s: %s", v.line,
			 ledger_error_name(v.err), v.why);
		snprintf(r->broken, sizeof(r->broken), "%s.broken-%" PRIu64, s->path,
			 (uint64_t)(now_real_ns() / NSEC_PER_SEC));
		close(s->fd);
		s->fd = -1;
		if (rename(s->path, r->broken) < 0) {
			err = -errno;
			log_err("ledger: %s fails verification (%s) and cannot be moved aside: %s", s->path,
				r->broken_why, strerror(-err));
			return err;
		}
		log_err("ledger: %s fails verification (%s): moved to %s, new chain started", s->path,
			r->broken_why, r->broken);
		r->started_new_chain = true;
		snprintf(r->broken, sizeof(r->broken), "%s", ledger_base_name(r->broken));
		r->action = LEDGER_RECOVER_GENESIS;
		return ledger_segment_create(s, false);
	}
	memcpy(c->prev_hash, v.prev_hash, sizeof(c->prev_hash));
	c->seq_next = v.next_seq;
	s->records = v.seg_records;
	s->start_ns = v.seg_start_ts_ns;
	s->bytes = fstat(s->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	r->resumed = true;
	r->last_seq = v.next_seq - 1;
	r->last_ts_end_ns = v.prev_ts_end_ns;
	log_info("ledger: %s verified (%" PRIu64 " records), appending from seq %" PRIu64, s->path,
		 v.records, c->seq_next);
	r->action = LEDGER_RECOVER_APPEND;
	/* A rotate record is a closed segment (crash before the rename); so is a change of key. */
	if (strcmp(v.last_kind, "rotate") == 0) {
		r->action = LEDGER_RECOVER_CLOSE;
	} else if (v.signed_chain != c->signing || (c->signing && memcmp(v.pubkey, c->key.pk, 32) != 0)) {
		/* No rotate record: it could not be signed by the old key. The new genesis still links. */
		log_info("ledger: signing key changed: %s closed, new segment", s->path);
		r->action = LEDGER_RECOVER_CLOSE;
	}
	return 0;
}

int ledger_segment_lock(const char *path, int *fd)
{
	char *lock = NULL, pid[32] = "";
	int err, n;

	*fd = -1;
	if (asprintf(&lock, "%s.lock", path) < 0)
		return -ENOMEM;
	*fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (*fd < 0) {
		err = -errno;
		log_err("failed to open the ledger lock %s: %s", lock, strerror(-err));
		free(lock);
		return err;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = (int)pread(*fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (err == -EBUSY)
			log_err("ledger %s is in use by another writer (pid %s holds %s): one joule per ledger",
				path, pid[0] ? pid : "unknown", lock);
		else
			log_err("failed to lock %s: %s", lock, strerror(-err));
		close(*fd);
		*fd = -1;
		free(lock);
		return err;
	}
	/* The holder's pid, for the message above; a stale one from a killed holder is simply overwritten. */
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(*fd, 0) < 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
		log_warn("ledger: failed to write the pid to %s: %s", lock, strerror(errno));
	free(lock);
	return 0;
}
