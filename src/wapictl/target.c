/*
 * What a command looks at: the state directory (-d, or the core's rule),
 * the host (-H, -A, or this host) and the files of that host in it, listed
 * through the core's directory scan (which never follows a link).  Also the
 * small words shared by the commands: durations and helper liveness.
 * Errors follow the convention of wapictl.h: a descriptor, 0 or -errno,
 * said on standard error unless a `why' buffer takes the reason back.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"

struct target_scan {
	struct wapictl		*ctl;
	unsigned		 kinds;
	bool			 shm;	/* scanning shm_dir */
	struct target_list	*list;
};

static int	target_scan_one(const struct wcore_dirent *, void *);

/*
 * The directory, this host and the host looked at, from the options and
 * the environment.  0; -EINVAL when a setting is wrong (the host name,
 * WAPICTL_MONO_SHM_DIR: wapictl's usage), another -errno when the
 * directory cannot be found (no HOME, too long a name); said.
 */
int
target_init(struct wapictl *ctl)
{
	char why[512];
	int e;

	ctl->euid = geteuid();
	if (ctl->dir_arg != NULL)	/* its length checked with the options */
		strlcpy(ctl->dir, ctl->dir_arg, sizeof(ctl->dir));
	else if ((e = wcore_dir_path(ctl->dir, sizeof(ctl->dir), why,
	    sizeof(why))) != 0) {
		warnx("cannot find the state directory: %s", why);
		return e == EINVAL ? -ENOENT : -e;	/* EINVAL is usage's */
	}
	if (wcore_host_name(ctl->host, sizeof(ctl->host), why,
	    sizeof(why)) != 0) {
		/* Only matters when we need this host: -H or -A do not. */
		if (ctl->host_arg == NULL && !ctl->all_hosts) {
			warnx("%s; set WAPI_SHARED_HOSTNAME or use -H", why);
			return -EINVAL;
		}
		ctl->host[0] = '\0';
	}
	ctl->want_host = ctl->host_arg != NULL ? ctl->host_arg : ctl->host;
	/* Mono's shared-memory files (2009 on): local to this host. */
	if (strlcpy(ctl->shm_dir, getenv("WAPICTL_MONO_SHM_DIR") != NULL &&
	    *getenv("WAPICTL_MONO_SHM_DIR") != '\0' ?
	    getenv("WAPICTL_MONO_SHM_DIR") : "/dev/shm", sizeof(ctl->shm_dir)) >=
	    sizeof(ctl->shm_dir)) {
		warnx("WAPICTL_MONO_SHM_DIR: directory name too long");
		return -EINVAL;
	}
	return 0;
}

bool
target_host_is_this(const struct wapictl *ctl)
{
	return !ctl->all_hosts && ctl->host[0] != '\0' &&
	    strcmp(ctl->want_host, ctl->host) == 0;
}

/*
 * Open the directory.  A missing directory is "nothing there" when
 * missing_ok: 0.  Anything else that stops us is -errno, said with the
 * core's reason.
 */
int
target_dir_open(struct wapictl *ctl, bool missing_ok)
{
	char why[512], shown[PATH_MAX];
	int fd;

	if (ctl->dirfd >= 0)
		return 0;
	fd = wcore_dir_open(ctl->dir, false, why, sizeof(why));
	if (fd == -ENOENT && missing_ok) {
		ctl->dir_missing = true;
		return 0;
	}
	if (fd < 0) {
		target_shown(ctl->dir, shown, sizeof(shown));
		if (fd == -ENOENT)
			warnx("%s: no such directory; no wapi process has run "
			    "here (or use -d)", shown);
		else
			warnx("cannot use the state directory: %s; fix its "
			    "owner and mode (0700) or use -d", why);
		return fd;
	}
	ctl->dirfd = fd;
	return 0;
}

static int
target_scan_one(const struct wcore_dirent *de, void *arg)
{
	struct target_scan *s = arg;
	struct target_list *l = s->list;
	struct target_ent *te, *nv;
	size_t len, ncap;
	unsigned want;
	char *nn;

	switch (de->parsed.kind) {
	case WCORE_NAME_STATE:
		want = TARGET_STATE;
		break;
	case WCORE_NAME_TEMP:
		want = TARGET_TEMP;
		break;
	case WCORE_NAME_LEGACY_DATA:
	case WCORE_NAME_LEGACY_SHARE:
	case WCORE_NAME_LEGACY_SCRATCH:
		want = TARGET_LEGACY;
		/* The /dev/shm form only there, and only the user's own. */
		if (de->parsed.shm != s->shm || (s->shm &&
		    (de->parsed.shm_uid != s->ctl->euid ||
		    de->info.uid != s->ctl->euid)))
			return 0;
		break;
	default:
		return 0;
	}
	if (s->shm && want != TARGET_LEGACY)
		return 0;
	if ((s->kinds & want) == 0)
		return 0;
	if (want == TARGET_STATE && (s->kinds & TARGET_THIS_ABI) &&
	    strcmp(de->parsed.abi, WAPI_ABI) != 0)
		return 0;
	/* A Mono name without a host (2002-2003) is taken as this host's;
	 * so are the shared-memory files, which only this host can see. */
	if (!s->ctl->all_hosts && !s->shm && !(want == TARGET_LEGACY &&
	    !wcore_mono_eras[de->parsed.era].has_host &&
	    target_host_is_this(s->ctl)) &&
	    strcmp(de->parsed.host, s->ctl->want_host) != 0)
		return 0;
	len = strlen(de->name) + 1;
	/* target_get() builds "dir/name" into a PATH_MAX buffer. */
	if (strlen(s->shm ? s->ctl->shm_dir : s->ctl->dir) + 1 + len >
	    PATH_MAX)
		return -ENAMETOOLONG;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		nv = reallocarray(l->v, l->cap, sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		l->v = nv;
	}
	if (l->ncap - l->nlen < len) {
		ncap = l->ncap ? l->ncap * 2 : 4096;
		while (ncap - l->nlen < len)
			ncap *= 2;
		if ((nn = realloc(l->names, ncap)) == NULL)
			return -ENOMEM;
		l->names = nn;
		l->ncap = ncap;
	}
	memcpy(l->names + l->nlen, de->name, len);
	te = &l->v[l->n++];
	te->name = l->nlen;
	l->nlen += len;
	te->info = de->info;
	te->shm = s->shm;
	return 0;
}

/*
 * The files of the wanted host(s) of the given kinds, sorted by name.
 * 0, or -errno (said).  The scan's failures are positive errno values and
 * target_scan_one's negative ones, as wcore_dir_scan asks.
 */
int
target_collect(struct wapictl *ctl, unsigned kinds, struct target_list *list)
{
	struct target_scan s;
	char shown[PATH_MAX];
	int e;

	memset(list, 0, sizeof(*list));
	s.ctl = ctl;
	s.kinds = kinds;
	s.list = list;
	s.shm = false;
	if (!ctl->dir_missing &&
	    (e = wcore_dir_scan(ctl->dirfd, target_scan_one, &s)) != 0) {
		target_shown(ctl->dir, shown, sizeof(shown));
		warnx("%s: cannot list: %s", shown, strerror(abs(e)));
		target_free(list);
		return -abs(e);
	}
	/* Mono's /dev/shm files, part of this host's state.  A world-writable
	 * sticky directory: each file is checked as ours when it is opened. */
	if ((kinds & TARGET_LEGACY) && (ctl->all_hosts ||
	    target_host_is_this(ctl))) {
		if (ctl->shm_dirfd < 0)
			ctl->shm_dirfd = open(ctl->shm_dir, O_RDONLY |
			    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		s.shm = true;
		if (ctl->shm_dirfd >= 0 && (e = wcore_dir_scan(ctl->shm_dirfd,
		    target_scan_one, &s)) != 0) {
			warnx("%s: cannot list: %s", ctl->shm_dir,
			    strerror(abs(e)));
			target_free(list);
			return -abs(e);
		}
	}
	return 0;
}

/* File i of the list in full: its entry as the scan gave it, its paths. */
void
target_get(const struct wapictl *ctl, const struct target_list *list,
    size_t i, struct target_file *tf)
{
	const struct target_ent *te = &list->v[i];
	struct wcore_dirent *de = &tf->de;

	memset(de, 0, sizeof(*de));
	strlcpy(de->name, list->names + te->name, sizeof(de->name));
	wcore_name_parse(de->name, &de->parsed);
	de->info = te->info;
	tf->dirfd = te->shm ? ctl->shm_dirfd : ctl->dirfd;
	/* Fits: target_scan_one() checked the length. */
	if (snprintf(tf->path, sizeof(tf->path), "%s/%s", te->shm ?
	    ctl->shm_dir : ctl->dir, de->name) >= (int)sizeof(tf->path))
		tf->path[0] = '\0';
	target_shown(tf->path, tf->shown, sizeof(tf->shown));
}

void
target_free(struct target_list *list)
{
	free(list->v);
	free(list->names);
	memset(list, 0, sizeof(*list));
}

/*
 * Open a listed state file read-only, for a look (status).  The scan's
 * lstat stands for wcore_state_open's check before opening, so a plainly
 * good file costs an openat and an fstat: what was opened must be what was
 * listed (same device and inode) and pass the core's checks again (regular,
 * ours, private, one link).  Anything else, every refusal included, goes to
 * wcore_state_open, which decides and says why.  The descriptor keeps
 * O_NONBLOCK (the guard against a FIFO swapped in), which a regular file
 * ignores: for pread, lock queries and mmap, not for handing on.  The
 * descriptor, or -errno with the reason in why (the caller says it).
 */
int
target_open_listed(const struct wapictl *ctl, const struct target_file *tf,
    char *why, size_t whylen)
{
	const struct wcore_dirent *de = &tf->de;
	struct stat sb;
	int fd;

	if (S_ISREG(de->info.mode) && de->info.uid == ctl->euid &&
	    (de->info.mode & 077) == 0 && de->info.nlink == 1) {
		fd = openat(ctl->dirfd, de->name, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd >= 0) {
			if (fstat(fd, &sb) == 0 && sb.st_dev == de->info.dev &&
			    sb.st_ino == de->info.ino && S_ISREG(sb.st_mode) &&
			    sb.st_uid == ctl->euid &&
			    (sb.st_mode & 077) == 0 && sb.st_nlink == 1)
				return fd;
			close(fd);
		}
	}
	return wcore_state_open(ctl->dirfd, de->name, false, why, whylen);
}

/*
 * $HOME/x shown as ~/x in messages, as the user thinks of it, escaped
 * (out_escape): a file name may hold an escape sequence or a newline.
 */
void
target_shown(const char *path, char *buf, size_t len)
{
	const char *home = getenv("HOME");
	char tmp[PATH_MAX + 2];
	size_t n;

	if (home != NULL && (n = strlen(home)) > 1 && strncmp(path, home, n) == 0 &&
	    path[n] == '/')
		snprintf(tmp, sizeof(tmp), "~%s", path + n);
	else
		strlcpy(tmp, path, sizeof(tmp));
	out_escape(tmp, buf, len);
}

/*
 * Open a state file writable when *writable and we may write it, else
 * read-only; *writable says which.  The descriptor, or -errno with the
 * reason in why (the caller says it).
 */
int
target_open_state(int dirfd, const char *name, bool *writable, char *why,
    size_t whylen)
{
	int fd = -EACCES;

	if (*writable)
		fd = wcore_state_open(dirfd, name, true, why, whylen);
	if (fd == -EACCES || fd == -EROFS) {
		*writable = false;
		fd = wcore_state_open(dirfd, name, false, why, whylen);
	}
	return fd;
}

/*
 * Open a FILE named on the command line through its directory, with the
 * core's checks (no link, ours, private, one link), as target_open_state
 * does.  The descriptor, or -errno with the reason in why.
 */
int
target_open_path(const char *path, bool *writable, char *why, size_t whylen)
{
	char tmp[PATH_MAX], tmp2[PATH_MAX];
	const char *base, *dir;
	int fd, dfd;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp) ||
	    strlcpy(tmp2, path, sizeof(tmp2)) >= sizeof(tmp2)) {
		snprintf(why, whylen, "name too long");
		return -ENAMETOOLONG;
	}
	base = basename(tmp);
	dir = dirname(tmp2);
	if (strlen(base) > NAME_MAX) {
		snprintf(why, whylen, "name too long");
		return -ENAMETOOLONG;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fd = -errno;
		snprintf(why, whylen, "%s: %s", dir, strerror(-fd));
		return fd;
	}
	fd = target_open_state(dfd, base, writable, why, whylen);
	close(dfd);
	return fd;
}

/* A duration the way a person reads it: 42s, 5m3s, 2h10m, 3d4h. */
void
target_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 "h%" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
}

/*
 * DURATION: a number with s, m, h or d; a bare number is seconds.  0, or
 * -EINVAL (the caller says it).
 */
int
target_parse_duration(const char *s, int64_t *out)
{
	char num[32];
	const char *e;
	size_t n;
	int64_t mult = 1;
	long long v;

	n = strlen(s);
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		if (num[n - 1] < '0' || num[n - 1] > '9')
			return -EINVAL;
		n++;
		break;
	}
	num[n - 1] = '\0';
	v = strtonum(num, 0, INT64_MAX / 86400, &e);
	if (e != NULL)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

/*
 * The helper's liveness in words, for HELPER-ALIVE and the messages:
 * "-" (none recorded), "yes", "no" (not running), "dead(pid reused)",
 * "unknown" (another host's PID, or no valid header).  Returns 1 when the
 * recorded helper is dead, which is a finding.
 */
int
target_helper_state(const struct wcore_status *st, const char **word)
{
	uint64_t start;

	if (!st->header_ok || st->verdict == WCORE_FOREIGN) {
		*word = "unknown";
		return 0;
	}
	if (st->hdr.helper_pid <= 0) {
		*word = "-";
		return 0;
	}
	if (st->helper_alive == 1) {
		*word = st->helper_silent_s > 0 ? "not-answering" : "yes";
		return 0;
	}
	if (st->helper_alive < 0) {
		*word = "unknown";
		return 0;
	}
	if (wcore_proc_start(st->hdr.helper_pid, &start) == 0 &&
	    start != st->hdr.helper_start)
		*word = "dead(pid reused)";
	else
		*word = "no";
	return 1;
}

/*
 * Open a listed state file and read its verdict.  The descriptor; -ENOENT
 * when the file went away since the listing (not said); another -errno,
 * said.
 */
int
target_open_verdict(const struct wapictl *ctl, const struct target_file *tf,
    bool writable, struct wcore_status *st)
{
	char why[512];
	int fd, e;

	fd = wcore_state_open(ctl->dirfd, tf->de.name, writable, why,
	    sizeof(why));
	if (fd == -ENOENT)
		return fd;
	if (fd < 0) {
		warnx("%s: cannot open: %s", tf->shown, why);
		return fd;
	}
	if ((e = wcore_verdict(fd, ctl->host, st)) != 0) {
		warnx("%s: cannot read: %s", tf->shown, strerror(e));
		close(fd);
		return e == ENOENT ? -EIO : -e;	/* -ENOENT: gone, unsaid */
	}
	return fd;
}
