/*
 * The state directory: where it is, which host we are, opening it the way
 * wineserver opens its own (refusing links, foreign owners and group/other
 * write), listing our files in it and opening one of them safely.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

static const char *dir_env(const char *);
static void	dir_printable(char *, size_t, const char *);
static void	dir_shorten(char *, size_t, const char *);
static const char *dir_type_name(mode_t);
static int	dir_check_stat(const struct stat *, const char *, char *,
		    size_t);
static int	dir_state_check(const struct stat *, uid_t, const char *,
		    char *, size_t);
static int	dir_cmp(const void *, const void *);

void
wcore_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* An empty variable counts as unset (doc/design.md,
 * "Files and who writes them"). */
static const char *
dir_env(const char *name)
{
	const char *v;

	v = getenv(name);
	return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Copy an untrusted string for a message: '?' for anything not printable. */
static void
dir_printable(char *buf, size_t len, const char *s)
{
	size_t i;

	for (i = 0; i + 1 < len && s[i] != '\0'; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (len > 0)
		buf[i] = '\0';
	if (s[i] != '\0' && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

int
wcore_dir_path(char *buf, size_t len, char *why, size_t whylen)
{
	static const char *const vars[] = {
		"WAPI_SHARED_DIR", "MONO_SHARED_DIR", "HOME"
	};
	const char *base = NULL;
	size_t i, blen;
	int n;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]) && base == NULL; i++)
		base = dir_env(vars[i]);
	if (base == NULL) {
		wcore_why(why, whylen, "none of WAPI_SHARED_DIR, MONO_SHARED_DIR "
		    "and HOME is set; set one of them");
		wcore_why(buf, len, "$HOME/.wapi");
		return ENOENT;
	}
	/* "/x/" and "/x" name the same place; keep "/" itself. */
	blen = strlen(base);
	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	if (blen == 1 && base[0] == '/')
		blen = 0;
	if (blen > INT32_MAX)
		blen = INT32_MAX;
	n = snprintf(buf, len, "%.*s/.wapi", (int)blen, base);
	if (n < 0 || (size_t)n >= len) {
		wcore_why(why, whylen, "%s is too long (%zu bytes; with \"/.wapi\" "
		    "and a file name it must fit in %zu): the name is too long; "
		    "set %s to a shorter directory", vars[i - 1], strlen(base),
		    len - 1, vars[i - 1]);
		dir_shorten(buf, len, base);
		return ENAMETOOLONG;
	}
	return 0;
}

/* A directory name too long to use, for a message: its first and last
 * characters around "...", printable, then "/.wapi". */
static void
dir_shorten(char *buf, size_t len, const char *base)
{
	char head[41], tail[41];
	size_t n = strlen(base);

	dir_printable(head, sizeof(head), base);
	dir_printable(tail, sizeof(tail), base + (n > 40 ? n - 40 : 0));
	if (n > 40)
		head[36] = '\0';	/* dir_printable's own "..." is cut off */
	wcore_why(buf, len, "%s...%s/.wapi", head, tail);
}

int
wcore_host_name(char *buf, size_t len, char *why, size_t whylen)
{
	char host[WAPI_HOST_MAX + 2], shown[72];
	const char *v, *from, *bad;
	int e;

	if ((v = dir_env("WAPI_SHARED_HOSTNAME")) != NULL)
		from = "WAPI_SHARED_HOSTNAME";
	else if ((v = dir_env("MONO_SHARED_HOSTNAME")) != NULL)
		from = "MONO_SHARED_HOSTNAME";
	else {
		from = "the system host name";
		memset(host, 0, sizeof(host));
		if (gethostname(host, sizeof(host) - 1) != 0) {
			e = errno;
			wcore_why(why, whylen, "gethostname: %s", strerror(e));
			return e;
		}
		v = host;
	}
	if ((bad = wcore_host_check(v)) != NULL) {
		dir_printable(shown, sizeof(shown), v);
		wcore_why(why, whylen, "%s \"%s\" %s (allowed: 1-64 characters "
		    "of A-Z a-z 0-9 . _ -, not starting with '.')", from, shown,
		    bad);
		return EINVAL;
	}
	if (strlen(v) >= len) {
		wcore_why(why, whylen, "host name buffer too small");
		return ENAMETOOLONG;
	}
	memcpy(buf, v, strlen(v) + 1);
	return 0;
}

/* The checks shared by the lstat before opening and the fstat after: 0 or
 * the errno to refuse the directory with, why filled. */
static int
dir_check_stat(const struct stat *st, const char *path, char *why,
    size_t whylen)
{
	if (S_ISLNK(st->st_mode)) {
		wcore_why(why, whylen, "%s is a symbolic link", path);
		return ELOOP;
	}
	if (!S_ISDIR(st->st_mode)) {
		wcore_why(why, whylen, "%s is not a directory", path);
		return ENOTDIR;
	}
	if (st->st_uid != geteuid()) {
		wcore_why(why, whylen, "%s is owned by uid %u, not %u", path,
		    (unsigned)st->st_uid, (unsigned)geteuid());
		return EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		wcore_why(why, whylen, "%s is writable by group or others "
		    "(mode %04o)", path, (unsigned)(st->st_mode & 07777));
		return EACCES;
	}
	return 0;
}

int
wcore_dir_open(const char *path, bool create, char *why, size_t whylen)
{
	struct stat before, after;
	char trimmed[PATH_MAX];
	size_t len;
	int fd, e;

	/* "link/" would make lstat and O_NOFOLLOW follow the link. */
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/') {
		while (len > 1 && path[len - 1] == '/')
			len--;
		if (len >= sizeof(trimmed)) {
			wcore_why(why, whylen, "%s: path too long", path);
			return -ENAMETOOLONG;
		}
		memcpy(trimmed, path, len);
		trimmed[len] = '\0';
		path = trimmed;
	}
	if (lstat(path, &before) != 0) {
		e = errno;
		if (e != ENOENT || !create) {
			wcore_why(why, whylen, "%s: %s", path,
			    e == ENOENT ? "does not exist" : strerror(e));
			return -e;
		}
		/* Only the last component: a missing parent is the user's. */
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			e = errno;
			wcore_why(why, whylen, "cannot create %s: %s", path,
			    strerror(e));
			return -e;
		}
		if (lstat(path, &before) != 0) {
			e = errno;
			wcore_why(why, whylen, "%s: %s", path, strerror(e));
			return -e;
		}
	}
	if ((e = dir_check_stat(&before, path, why, whylen)) != 0)
		return -e;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP || e == ENOTDIR)
			wcore_why(why, whylen, "%s was replaced while being "
			    "opened", path);
		else
			wcore_why(why, whylen, "cannot open %s: %s", path,
			    strerror(e));
		return -e;
	}
	/* What we opened is what we checked: nobody swapped it in between. */
	if (fstat(fd, &after) != 0) {
		e = errno;
		close(fd);
		wcore_why(why, whylen, "%s: fstat: %s", path, strerror(e));
		return -e;
	}
	if (after.st_dev != before.st_dev || after.st_ino != before.st_ino) {
		close(fd);
		wcore_why(why, whylen, "%s was replaced while being opened",
		    path);
		return -EAGAIN;
	}
	if ((e = dir_check_stat(&after, path, why, whylen)) != 0) {
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * What the scan keeps of an entry until the callbacks: its lstat fields and
 * the offset of its name in one pool.  A struct wcore_dirent is ~740 bytes
 * (the parsed name holds four fixed buffers); 10,000 of them cost 7 MiB,
 * these cost 56 bytes each plus the name.  The parsed name is rebuilt for
 * each callback, which costs less than copying it.
 */
struct dir_ent {
	const char *name;	/* into the pool, once the pool stops moving */
	size_t off;		/* of the name in the pool */
	struct wcore_fileinfo info;
};

static int
dir_cmp(const void *a, const void *b)
{
	const struct dir_ent *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* What a scan collected: the entries, and one pool for their names. */
struct dir_list {
	struct dir_ent *ents;
	size_t n, cap;
	char *pool;
	size_t used, pcap;
};

/* Keep entry name (one of ours) with its lstat fields: 0 or ENOMEM. */
static int
dir_keep(struct dir_list *l, const char *name, const struct stat *st)
{
	struct dir_ent *tmp;
	char *ptmp;
	size_t len;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		tmp = reallocarray(l->ents, l->cap, sizeof(*l->ents));
		if (tmp == NULL)
			return ENOMEM;
		l->ents = tmp;
	}
	/* The parse accepted it: shorter than 256 bytes. */
	len = strlen(name) + 1;
	if (l->pcap - l->used < len) {
		/* Names are < 256 bytes: one doubling always fits. */
		if ((ptmp = realloc(l->pool, l->pcap ? l->pcap * 2 : 4096)) ==
		    NULL)
			return ENOMEM;
		l->pool = ptmp;
		l->pcap = l->pcap ? l->pcap * 2 : 4096;
	}
	memcpy(l->pool + l->used, name, len);
	l->ents[l->n].off = l->used;
	l->used += len;
	l->ents[l->n].info = (struct wcore_fileinfo){ st->st_mode, st->st_uid,
	    st->st_nlink, st->st_dev, st->st_ino, st->st_size,
	    (int64_t)st->st_mtime };
	l->n++;
	return 0;
}

/* Read dirfd (from the top, through a descriptor of its own) and keep
 * every entry whose name is one of ours: 0 or an errno. */
static int
dir_collect(int dirfd, struct dir_list *l)
{
	struct wcore_name parsed;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, e = 0;

	if ((fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return errno;
	if ((d = fdopendir(fd)) == NULL) {
		e = errno;
		close(fd);
		return e;
	}
	/* The dup shares the caller's offset: start from the top. */
	rewinddir(d);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			e = errno;
			break;
		}
		wcore_name_parse(de->d_name, &parsed);
		if (parsed.kind == WCORE_NAME_OTHER)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;	/* removed meanwhile */
			e = errno;
			break;
		}
		if ((e = dir_keep(l, de->d_name, &st)) != 0)
			break;
	}
	closedir(d);
	return e;
}

int
wcore_dir_scan(int dirfd, int (*fn)(const struct wcore_dirent *, void *),
    void *ctx)
{
	struct dir_list l;
	struct wcore_dirent out;
	size_t i;
	int e;

	memset(&l, 0, sizeof(l));
	e = dir_collect(dirfd, &l);
	for (i = 0; e == 0 && i < l.n; i++)
		l.ents[i].name = l.pool + l.ents[i].off;
	if (e == 0 && l.n > 1)
		qsort(l.ents, l.n, sizeof(*l.ents), dir_cmp);
	for (i = 0; e == 0 && i < l.n; i++) {
		memset(&out, 0, sizeof(out));
		strlcpy(out.name, l.ents[i].name, sizeof(out.name));
		wcore_name_parse(out.name, &out.parsed);
		out.info = l.ents[i].info;
		e = fn(&out, ctx);
	}
	free(l.ents);
	free(l.pool);
	return e;
}

static const char *
dir_type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISLNK(m))
		return "a symbolic link";
	return "not a regular file";
}

/* What a state file must be (the lstat before opening, the fstat after):
 * 0 or the errno to refuse it with, why filled. */
static int
dir_state_check(const struct stat *st, uid_t euid, const char *name,
    char *why, size_t whylen)
{
	if (S_ISLNK(st->st_mode)) {
		wcore_why(why, whylen, "%s is a symbolic link", name);
		return ELOOP;
	}
	if (!S_ISREG(st->st_mode)) {
		wcore_why(why, whylen, "%s is not a regular file (%s)", name,
		    dir_type_name(st->st_mode));
		return EINVAL;
	}
	if (st->st_uid != euid) {
		wcore_why(why, whylen, "%s is owned by uid %u, not %u", name,
		    (unsigned)st->st_uid, (unsigned)euid);
		return EPERM;
	}
	if (st->st_mode & 077) {
		wcore_why(why, whylen, "%s is accessible by group or others "
		    "(mode %04o)", name, (unsigned)(st->st_mode & 07777));
		return EACCES;
	}
	if (st->st_nlink == 0) {
		wcore_why(why, whylen, "%s was removed while being opened", name);
		return ENOENT;
	}
	if (st->st_nlink != 1) {
		wcore_why(why, whylen, "%s has %ju links (a hard link elsewhere "
		    "could alias it)", name, (uintmax_t)st->st_nlink);
		return EMLINK;
	}
	return 0;
}

int
wcore_state_open(int dirfd, const char *name, bool writable, char *why,
    size_t whylen)
{
	struct stat st;
	uid_t euid;
	int fd, e;

	if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		wcore_why(why, whylen, "\"%s\" is not a file name in the state "
		    "directory", name ? name : "");
		return -EINVAL;
	}
	/* Refuse devices and FIFOs before opening them at all. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		e = errno;
		wcore_why(why, whylen, "%s: %s", name, strerror(e));
		return -e;
	}
	euid = geteuid();
	if ((e = dir_state_check(&st, euid, name, why, whylen)) != 0)
		return -e;

	/* O_NONBLOCK: if a FIFO is swapped in after the check, do not hang. */
	fd = openat(dirfd, name, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		if (e == ELOOP)
			wcore_why(why, whylen, "%s is a symbolic link", name);
		else if (e == EISDIR) {
			wcore_why(why, whylen, "%s is not a regular file "
			    "(a directory)", name);
			e = EINVAL;
		} else
			wcore_why(why, whylen, "cannot open %s: %s", name,
			    strerror(e));
		return -e;
	}
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		wcore_why(why, whylen, "%s: fstat: %s", name, strerror(e));
		return -e;
	}
	if ((e = dir_state_check(&st, euid, name, why, whylen)) != 0) {
		close(fd);
		return -e;
	}
	/* Of the flags F_SETFL changes, only O_NONBLOCK was set: no F_GETFL. */
	if (fcntl(fd, F_SETFL, 0) < 0) {
		e = errno;
		close(fd);
		wcore_why(why, whylen, "%s: fcntl: %s", name, strerror(e));
		return -e;
	}
	return fd;
}
