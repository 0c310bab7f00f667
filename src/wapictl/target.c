/*
 * What a command looks at: the state directory (-d, or the core's rule),
 * the host (-H, -A, or this host) and the files of that host in it, listed
 * through the core's directory scan (which never follows a link).  Also the
 * small words shared by the commands: durations and helper liveness.
 * Errors follow the convention of wapictl.h: a descriptor, 0 or -errno,
 * said on standard error unless a `why' buffer takes the reason back.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ctype.h>
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
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
static int	target_list_add(struct target_list *, const char *,
		    const struct wcore_fileinfo *, bool);
static int	target_seg_cmp(const void *, const void *, void *);
static int	target_other_collect(struct wapictl *, struct target_list *);
static int	target_seg_anchor(const struct wapi_header *, dev_t, ino_t,
		    char *, size_t);

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
	ctl->seg_dirfd = -1;
	/* Where segments are: none is no error (the tables are then in the
	 * state files), only said where it matters. */
	if (wcore_seg_dir(ctl->seg_dir, sizeof(ctl->seg_dir), ctl->seg_why,
	    sizeof(ctl->seg_why)) != 0)
		ctl->seg_dir[0] = '\0';
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
 * missing_ok and it is the default one: a directory named with -d must
 * be there.  Anything else that stops us is -errno, said with the core's
 * reason and the next step.
 */
int
target_dir_open(struct wapictl *ctl, bool missing_ok)
{
	char why[512], shown[PATH_MAX];
	int fd;

	if (ctl->dirfd >= 0)
		return 0;
	fd = wcore_dir_open(ctl->dir, false, why, sizeof(why));
	if (fd == -ENOENT && missing_ok && ctl->dir_arg == NULL) {
		ctl->dir_missing = true;
		return 0;
	}
	if (fd < 0) {
		target_shown(ctl->dir, shown, sizeof(shown));
		if (fd == -ENOENT && ctl->dir_arg != NULL)
			warnx("%s: no such directory (given with -d); check "
			    "the name, or leave -d out for the default",
			    shown);
		else if (fd == -ENOENT)
			warnx("%s: no such directory; no wapi process has run "
			    "here (or use -d)", shown);
		else if (ctl->dir_arg != NULL)
			warnx("cannot use the directory given with -d: %s; fix "
			    "its owner and mode (0700) or name another", why);
		else
			warnx("cannot use the state directory: %s; fix its "
			    "owner and mode (0700) or use -d", why);
		return fd;
	}
	ctl->dirfd = fd;
	return 0;
}

/*
 * Whether a name wapi does not make (the core's parse calls it other) is
 * that of a state file, or of a creation temporary, of an ABI this build
 * does not know: "<host>.<abi>.state" or ".<host>.<abi>.state.XXXXXX",
 * with a valid host name and an ABI of letters, digits, '_' and '-'.
 * host and abi get its parts.
 */
bool
target_other_name(const char *name, char *host, size_t hostlen, char *abi,
    size_t abilen)
{
	const char *s = name, *end, *dot, *p;
	size_t hlen, alen;

	if (*s == '.') {
		s++;
		if ((end = strstr(s, ".state.")) == NULL || end[7] == '\0')
			return false;
		for (p = end + 7; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p))
				return false;
	} else {
		hlen = strlen(s);
		if (hlen <= 6 || strcmp(s + hlen - 6, ".state") != 0)
			return false;
		end = s + hlen - 6;
	}
	if ((dot = memrchr(s, '.', (size_t)(end - s))) == NULL)
		return false;
	hlen = (size_t)(dot - s);
	alen = (size_t)(end - dot - 1);
	if (hlen == 0 || hlen >= hostlen || alen == 0 || alen >= abilen)
		return false;
	for (p = dot + 1; p < end; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memcpy(abi, dot + 1, alen);
	abi[alen] = '\0';
	return wcore_host_check(host) == NULL;
}

static int
target_scan_one(const struct wcore_dirent *de, void *arg)
{
	struct target_scan *s = arg;
	struct target_list *l = s->list;
	unsigned want;

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
	/* target_get() builds "dir/name" into a PATH_MAX buffer. */
	if (strlen(s->shm ? s->ctl->shm_dir : s->ctl->dir) + 1 +
	    strlen(de->name) + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	return target_list_add(l, de->name, &de->info, s->shm);
}

/* Append a name and its lstat fields to a list: 0 or -ENOMEM. */
static int
target_list_add(struct target_list *l, const char *name,
    const struct wcore_fileinfo *info, bool shm)
{
	struct target_ent *te, *nv;
	size_t len, ncap;
	char *nn;

	len = strlen(name) + 1;
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
	memcpy(l->names + l->nlen, name, len);
	te = &l->v[l->n++];
	te->name = l->nlen;
	l->nlen += len;
	te->info = *info;
	te->shm = shm;
	return 0;
}

/* What the listing keeps of a directory entry's lstat. */
static struct wcore_fileinfo
target_info(const struct stat *st)
{
	return (struct wcore_fileinfo){ st->st_mode, st->st_uid,
	    st->st_nlink, st->st_dev, st->st_ino, st->st_size,
	    (int64_t)st->st_mtime };
}

/*
 * A stream of our own over the directory dirfd, read from the top (dirfd
 * itself stays open and unmoved), or NULL with *err the errno.
 */
static DIR *
target_opendir(int dirfd, int *err)
{
	DIR *d;
	int fd;

	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
		*err = errno;
		return NULL;
	}
	if ((d = fdopendir(fd)) == NULL) {
		*err = errno;
		close(fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

/*
 * The names of the directory that wapi does not make (the core's scan
 * leaves them out), for TARGET_OTHER: listed so that they are seen, and
 * never removed.  One of another ABI's state file goes with its host's
 * files, any other with this host's.  Links are not followed.  0, or
 * -errno (not said).
 */
static int
target_other_collect(struct wapictl *ctl, struct target_list *list)
{
	char host[WAPI_HOST_MAX + 1], abi[sizeof(((struct wcore_name *)0)->abi)];
	struct wcore_fileinfo info;
	struct wcore_name parsed;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int e = 0;

	if ((d = target_opendir(ctl->dirfd, &e)) == NULL)
		return -e;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			e = errno;
			break;
		}
		wcore_name_parse(de->d_name, &parsed);
		if (parsed.kind != WCORE_NAME_OTHER ||
		    strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (target_other_name(de->d_name, host, sizeof(host), abi,
		    sizeof(abi))) {
			if (!ctl->all_hosts && strcmp(host, ctl->want_host) != 0)
				continue;
		} else if (!ctl->all_hosts && !target_host_is_this(ctl))
			continue;
		if (strlen(ctl->dir) + 1 + strlen(de->d_name) + 1 > PATH_MAX)
			continue;	/* cannot be named: not shown */
		if (fstatat(ctl->dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			e = errno;
			break;
		}
		info = target_info(&st);
		if ((e = -target_list_add(list, de->d_name, &info, false)) != 0)
			break;
	}
	closedir(d);
	return -e;
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
	if (!ctl->dir_missing && (kinds & TARGET_OTHER)) {
		if ((e = target_other_collect(ctl, list)) != 0) {
			target_shown(ctl->dir, shown, sizeof(shown));
			warnx("%s: cannot list: %s", shown, strerror(-e));
			target_free(list);
			return e;
		}
		if (list->n > 1)
			qsort_r(list->v, list->n, sizeof(*list->v),
			    target_seg_cmp, list->names);
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
	if (de->parsed.kind == WCORE_NAME_OTHER &&
	    !target_other_name(de->name, de->parsed.host,
	    sizeof(de->parsed.host), de->parsed.abi, sizeof(de->parsed.abi)))
		de->parsed.host[0] = de->parsed.abi[0] = '\0';
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
 * Open tf and judge it for a listing of its tables (handles, waits): the
 * descriptor, or -1 with *rc the exit status, having said why on stderr
 * ("...; NOT_LISTED"), or 0 for a file removed since the listing.
 */
int
target_open_tables(const struct wapictl *ctl, const struct target_file *tf,
    bool *writable, struct wcore_status *st, const char *not_listed, int *rc)
{
	char why[512];
	int fd, e;

	fd = target_open_state(ctl->dirfd, tf->de.name, writable, why,
	    sizeof(why));
	*rc = 0;
	if (fd == -ENOENT)
		return -1;	/* removed since the listing */
	if (fd < 0) {
		warnx("%s: cannot read: %s", tf->shown, why);
		*rc = WAPICTL_EXIT_ACCESS;
		return -1;
	}
	if ((e = wcore_verdict(fd, ctl->host, st)) != 0) {
		warnx("%s: cannot read: %s", tf->shown, strerror(e));
		*rc = WAPICTL_EXIT_ACCESS;
	} else if (st->verdict == WCORE_CORRUPT ||
	    st->verdict == WCORE_INCOMPATIBLE || !st->header_ok) {
		warnx("%s: %s (%s); %s%s", tf->shown,
		    wcore_verdict_name(st->verdict), st->reason, not_listed,
		    st->verdict == WCORE_CORRUPT ?
		    "; run 'wapictl validate' for details" : "");
		*rc = WAPICTL_EXIT_FINDINGS;
	} else
		return fd;
	close(fd);
	return -1;
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

/* ------------------------------------------------------------ segments */

/*
 * Segments are files of the segment directory (wcore_seg_dir, read once
 * in target_init) whose names are segment names (wcore_seg_name_parse).
 * The directory is shared (/dev/shm is sticky and everybody's): names are
 * only names, every file is opened without following a link and checked
 * as ours (wcore_state_open), and nothing read from one is trusted.
 */

#define TARGET_ANCHOR_CLAIMS	0	/* the anchor names this segment */
#define TARGET_ANCHOR_GONE	1	/* there is no file there */
#define TARGET_ANCHOR_OTHER	2	/* the file there is not its anchor */
#define TARGET_ANCHOR_UNKNOWN	3	/* cannot be told (why says) */

/* A reason into buf, cut at len on purpose: it is for display. */
void
target_say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static int
target_seg_cmp(const void *a, const void *b, void *names)
{
	const struct target_ent *x = a, *y = b;

	return strcmp((const char *)names + x->name,
	    (const char *)names + y->name);
}

/*
 * The segments of the segment directory, sorted by name: for this host
 * our own (our uid in the name, owned by us), with -A every host's and
 * every user's.  Nothing when there is no segment directory or when the
 * host looked at is another one (-H): the directory is this host's.  0,
 * or -errno (said).
 */
int
target_seg_collect(struct wapictl *ctl, struct target_list *list)
{
	char host[WAPI_HOST_MAX + 1], abi[16], shown[PATH_MAX];
	struct wcore_fileinfo info;
	struct dirent *de;
	struct stat st;
	uint64_t id;
	uid_t uid;
	DIR *d;
	int fd, e = 0;

	memset(list, 0, sizeof(*list));
	if (ctl->seg_dir[0] == '\0' ||
	    !(ctl->all_hosts || target_host_is_this(ctl)))
		return 0;
	target_shown(ctl->seg_dir, shown, sizeof(shown));
	if (ctl->seg_dirfd < 0) {
		fd = open(ctl->seg_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			return 0;	/* removed since target_init */
		if (fd < 0) {
			e = errno;
			warnx("%s: cannot open the segment directory: %s",
			    shown, strerror(e));
			return -e;
		}
		ctl->seg_dirfd = fd;
	}
	/* Our own descriptor to read it with, from the top. */
	if ((d = target_opendir(ctl->seg_dirfd, &e)) == NULL) {
		warnx("%s: cannot list: %s", shown, strerror(e));
		return -e;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			e = errno;
			break;
		}
		if (!wcore_seg_name_parse(de->d_name, &uid, host, abi, &id))
			continue;
		if (!ctl->all_hosts && strcmp(host, ctl->want_host) != 0)
			continue;
		if (fstatat(ctl->seg_dirfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			e = errno;
			break;
		}
		if (!ctl->all_hosts && (uid != ctl->euid ||
		    st.st_uid != ctl->euid))
			continue;
		if (strlen(ctl->seg_dir) + 1 + strlen(de->d_name) + 1 >
		    PATH_MAX)
			continue;	/* wcore_seg_dir keeps it short */
		info = target_info(&st);
		if ((e = -target_list_add(list, de->d_name, &info, false)) != 0)
			break;
	}
	closedir(d);
	if (e != 0) {
		warnx("%s: cannot list: %s", shown, strerror(e));
		target_free(list);
		return -e;
	}
	if (list->n > 1)
		qsort_r(list->v, list->n, sizeof(*list->v), target_seg_cmp,
		    list->names);
	return 0;
}

/* Segment i of a list in full: its name's parts, its paths. */
void
target_seg_get(const struct wapictl *ctl, const struct target_list *list,
    size_t i, struct target_seg *sg)
{
	const struct target_ent *te = &list->v[i];
	struct target_file *tf = &sg->tf;

	memset(sg, 0, sizeof(*sg));
	strlcpy(sg->name, list->names + te->name, sizeof(sg->name));
	/* The scan parsed it. */
	(void)wcore_seg_name_parse(sg->name, &sg->uid, sg->host, sg->abi,
	    &sg->state_id);
	sg->info = te->info;
	sg->ours = sg->uid == ctl->euid && sg->info.uid == ctl->euid;
	strlcpy(tf->de.name, sg->name, sizeof(tf->de.name));
	tf->de.parsed.kind = WCORE_NAME_OTHER;
	tf->de.info = te->info;
	tf->dirfd = ctl->seg_dirfd;
	if (snprintf(tf->path, sizeof(tf->path), "%s/%s", ctl->seg_dir,
	    sg->name) >= (int)sizeof(tf->path))
		tf->path[0] = '\0';
	target_shown(tf->path, tf->shown, sizeof(tf->shown));
}

/*
 * How many open file descriptions hold an OFD lock on byte of the file
 * (dev, ino), from /proc/locks (a waiter is not a holder); -1 when it
 * cannot be read.  A forked child shares its parent's: it counts once.
 */
int
target_lock_holders(dev_t dev, ino_t ino, off_t byte)
{
	unsigned maj, min;
	unsigned long long i;
	long long start, end;
	char line[256], last[32], *p, *q;
	FILE *f;
	int n = 0;

	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "->") != NULL ||
		    (p = strstr(line, "OFDLCK")) == NULL)
			continue;
		if (sscanf(p, "OFDLCK %*s %*s %*d %x:%x:%llu %lld %31s", &maj,
		    &min, &i, &start, last) != 5)
			continue;
		if (maj != major(dev) || min != minor(dev) ||
		    i != (unsigned long long)ino || start > (long long)byte)
			continue;
		if (strcmp(last, "EOF") != 0) {
			errno = 0;
			end = strtoll(last, &q, 10);
			if (errno != 0 || *q != '\0' || end < (long long)byte)
				continue;
		}
		n++;
	}
	fclose(f);
	return n;
}

/*
 * Whether the anchor that the checked segment header h names (its peer)
 * names the segment (dev, ino) back: TARGET_ANCHOR_*, why in words (the
 * anchor's path as ~/...).  The anchor is opened as a state file
 * (wcore_state_open through its directory: no link followed, ours,
 * private, one link) and its header read with pread and checked.
 */
static int
target_seg_anchor(const struct wapi_header *h, dev_t dev, ino_t ino,
    char *why, size_t whylen)
{
	union {
		struct wapi_header h;
		unsigned char b[WAPI_HEADER_SIZE];
	} a;
	struct wcore_report rep = { .limit = 1 };
	char dir[WAPI_PEER_MAX], shown[PATH_MAX], w[512], ew[1024];
	const char *slash;
	struct stat st;
	ssize_t n;
	int dfd, fd, r;

	target_shown(h->peer, shown, sizeof(shown));
	slash = strrchr(h->peer, '/');
	if (h->peer[0] != '/' || slash == NULL || slash[1] == '\0') {
		target_say(why, whylen, "it names no anchor");
		return TARGET_ANCHOR_OTHER;
	}
	if (slash == h->peer)
		strlcpy(dir, "/", sizeof(dir));
	else {
		memcpy(dir, h->peer, (size_t)(slash - h->peer));
		dir[slash - h->peer] = '\0';
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = errno;
		if (r == ENOENT || r == ENOTDIR) {
			target_say(why, whylen, "its anchor %s is gone", shown);
			return TARGET_ANCHOR_GONE;
		}
		target_say(why, whylen, "its anchor %s cannot be looked at: %s",
		    shown, strerror(r));
		return TARGET_ANCHOR_UNKNOWN;
	}
	fd = wcore_state_open(dfd, slash + 1, false, w, sizeof(w));
	close(dfd);
	if (fd == -ENOENT) {
		target_say(why, whylen, "its anchor %s is gone", shown);
		return TARGET_ANCHOR_GONE;
	}
	if (fd < 0) {
		out_escape(w, ew, sizeof(ew));
		target_say(why, whylen, "its anchor %s cannot be looked at: %s",
		    shown, ew);
		return TARGET_ANCHOR_UNKNOWN;
	}
	memset(&a, 0, sizeof(a));
	if (fstat(fd, &st) != 0 || (n = pread(fd, a.b, sizeof(a.b), 0)) < 0) {
		r = errno;
		close(fd);
		target_say(why, whylen, "its anchor %s cannot be read: %s",
		    shown, strerror(r));
		return TARGET_ANCHOR_UNKNOWN;
	}
	close(fd);
	r = TARGET_ANCHOR_OTHER;
	if (wcore_check_header(a.b, (size_t)n, (uint64_t)st.st_size,
	    &rep) > 0 || rep.incompatible)
		target_say(why, whylen, "its anchor %s belongs to another segment "
		    "(its header is %s)", shown, rep.incompatible ?
		    "of another format version or ABI" : "damaged");
	else if (a.h.placement != WAPI_PLACE_ANCHOR)
		target_say(why, whylen, "its anchor %s belongs to another segment "
		    "(it holds its tables itself)", shown);
	else if (a.h.state_id != h->state_id)
		target_say(why, whylen, "its anchor %s belongs to another segment",
		    shown);
	else if (lstat(a.h.peer, &st) != 0 || st.st_dev != dev ||
	    st.st_ino != ino)
		target_say(why, whylen, "its anchor %s belongs to another segment "
		    "(it names another file)", shown);
	else
		r = TARGET_ANCHOR_CLAIMS;
	wcore_report_free(&rep);
	return r;
}

/*
 * Judge a segment that no listed anchor names, through fd (opened with
 * wcore_state_open; our own locks on it are invisible to the queries).
 * First rule that applies: a header that fails its check is corrupt (or
 * incompatible), also when held (the reason then says so); a header that
 * is not the one its name says is corrupt; an anchor that names it back
 * makes it claimed (the anchor's, not shown); held: live; an anchor that
 * cannot be looked at: unreadable; else orphaned, its anchor gone or
 * another segment's.  0, or -errno when fstat fails (verdict unreadable).
 */
int
target_seg_judge(const struct target_seg *sg, int fd,
    struct target_seg_status *out)
{
	union {
		struct wapi_header h;
		unsigned char b[WAPI_HEADER_SIZE];
	} buf;
	struct wcore_report rep = { .limit = 1 };
	char held[64], problem[256], anchor[PATH_MAX + 128];
	struct stat st;
	int64_t age;
	ssize_t n;
	int e, k;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) != 0) {
		e = errno;
		out->verdict = WCORE_UNREADABLE;
		target_say(out->reason, sizeof(out->reason), "fstat: %s",
		    strerror(e));
		return -e;
	}
	out->size = st.st_size;
	out->resident = (int64_t)st.st_blocks * 512;
	out->mtime = (int64_t)st.st_mtime;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	age = wcore_age_s(wcore_now_s(), out->mtime);
	out->young = age >= -WCORE_FUTURE_SLACK_S && age < WCORE_SEG_GRACE_S;
	/* Cannot tell: as if held. */
	out->held = wcore_byte_held(fd, WAPI_LOCK_INIT, F_WRLCK) != 0;
	held[0] = '\0';
	if (out->held) {
		k = target_lock_holders(st.st_dev, st.st_ino, WAPI_LOCK_INIT);
		if (k > 0)
			target_say(held, sizeof(held), "held by %d process%s", k,
			    k == 1 ? "" : "es");
		else
			target_say(held, sizeof(held), "held by a process");
	}

	memset(&buf, 0, sizeof(buf));
	problem[0] = '\0';
	n = pread(fd, buf.b, sizeof(buf.b), 0);
	if (n < 0) {
		e = errno;
		out->verdict = WCORE_UNREADABLE;
		target_say(out->reason, sizeof(out->reason), "cannot read its "
		    "header: %s", strerror(e));
		return 0;
	}
	if (n < (ssize_t)WAPI_HEADER_SIZE)
		target_say(problem, sizeof(problem), "the file is %zd bytes, "
		    "shorter than its %u-byte header", n, WAPI_HEADER_SIZE);
	else if (wcore_check_header(buf.b, (size_t)n, (uint64_t)st.st_size,
	    &rep) > 0 && rep.count > 0)
		wcore_problem_format(&rep.problems[0], problem,
		    sizeof(problem));
	else if (rep.incompatible)
		target_say(problem, sizeof(problem), "another format version or "
		    "ABI");
	else if (buf.h.placement != WAPI_PLACE_SEGMENT)
		target_say(problem, sizeof(problem), "named as a segment, but "
		    "its header is not a segment's");
	else if (buf.h.creator_uid != (uint32_t)sg->uid ||
	    buf.h.state_id != sg->state_id ||
	    strncmp(buf.h.host, sg->host, sizeof(buf.h.host)) != 0 ||
	    strncmp(buf.h.abi, sg->abi, sizeof(buf.h.abi)) != 0)
		target_say(problem, sizeof(problem), "its header is not that of "
		    "the segment its name says (user, host, ABI or state id "
		    "differ)");
	if (problem[0] != '\0') {
		out->verdict = rep.incompatible ? WCORE_INCOMPATIBLE :
		    WCORE_CORRUPT;
		wcore_report_free(&rep);
		if (out->held)
			target_say(out->reason, sizeof(out->reason), "%s; but %s: "
			    "in use, do not remove", problem, held);
		else
			target_say(out->reason, sizeof(out->reason), "%s", problem);
		return 0;
	}
	wcore_report_free(&rep);
	out->header_ok = true;
	memcpy(&out->hdr, &buf.h, sizeof(out->hdr));

	switch (target_seg_anchor(&out->hdr, st.st_dev, st.st_ino, anchor,
	    sizeof(anchor))) {
	case TARGET_ANCHOR_CLAIMS:
		out->claimed = true;
		out->verdict = out->held ? WCORE_LIVE : WCORE_ORPHANED;
		target_say(out->reason, sizeof(out->reason), "its anchor names it");
		return 0;
	case TARGET_ANCHOR_UNKNOWN:
		out->verdict = out->held ? WCORE_LIVE : WCORE_UNREADABLE;
		break;
	default:
		out->verdict = out->held ? WCORE_LIVE : WCORE_ORPHANED;
		break;
	}
	if (out->held)
		target_say(out->reason, sizeof(out->reason), "%s, but no anchor "
		    "names it: %s", held, anchor);
	else if (out->verdict == WCORE_ORPHANED && out->young) {
		/* A client killed between making a segment and putting its
		 * anchor in place leaves one, and so does one at work: like
		 * a creation temporary, it is not an orphan yet. */
		out->verdict = WCORE_TEMPORARY;
		target_say(out->reason, sizeof(out->reason), "no process holds "
		    "it; %s; made less than %d s ago: may be one being made",
		    anchor, WCORE_SEG_GRACE_S);
	} else if (out->verdict == WCORE_ORPHANED)
		target_say(out->reason, sizeof(out->reason), "no process holds "
		    "it; %s", anchor);
	else
		target_say(out->reason, sizeof(out->reason), "%s; kept", anchor);
	return 0;
}

/* Record the segment that a listed state file names, if any. */
void
target_claim_add(struct target_claims *c, const struct wcore_status *st)
{
	struct target_claim *nv;
	char *p;

	if (!st->header_ok || st->seg == WCORE_SEG_FILE ||
	    st->seg_path[0] == '\0')
		return;
	if (c->n == c->cap) {
		nv = reallocarray(c->v, c->cap ? c->cap * 2 : 16, sizeof(*nv));
		if (nv == NULL)
			return;	/* then the segment is judged on its own */
		c->v = nv;
		c->cap = c->cap ? c->cap * 2 : 16;
	}
	if ((p = strdup(st->seg_path)) == NULL)
		return;
	c->v[c->n].state_id = st->hdr.state_id;
	c->v[c->n].peer = p;
	c->n++;
}

/* Whether a listed state file names this segment (by its path, or by a
 * path that leads to the same file). */
bool
target_claimed(const struct target_claims *c, const struct target_seg *sg)
{
	struct stat st;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (c->v[i].state_id != sg->state_id)
			continue;
		if (strcmp(c->v[i].peer, sg->tf.path) == 0)
			return true;
		if (lstat(c->v[i].peer, &st) == 0 &&
		    st.st_dev == sg->info.dev && st.st_ino == sg->info.ino)
			return true;
	}
	return false;
}

void
target_claims_free(struct target_claims *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].peer);
	free(c->v);
	memset(c, 0, sizeof(*c));
}
