/*
 * Anchor and segment: the state file in the state directory names a file
 * on a memory file system that holds the tables (wapi-state(5), "Anchor
 * and segment").  Choosing the segment directory, naming, making, opening
 * and checking a segment against its anchor, removing it, and writing the
 * helper's few fields back to the anchor.  Nothing read from either file
 * is trusted: the anchor's peer path is only a name to open without
 * following links, and what is found there must prove it is the anchor's.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#define SEG_CREATE_TRIES	8	/* names taken by chance (or by someone
					   who guessed): draw another id */

static int	seg_dir_check(const char *, char *, size_t);
static int	seg_split(const char *, char *, size_t, const char **);
static int	seg_locate(const struct wapi_header *, char *, const char **,
		    char *, size_t);

uint64_t
wcore_place_checksum(const struct wapi_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t x = 0xcbf29ce484222325ull;
	size_t i;

	for (i = offsetof(struct wapi_header, state_id);
	    i < offsetof(struct wapi_header, place_checksum); i++) {
		x ^= p[i];
		x *= 0x100000001b3ull;
	}
	for (i = 0; i < sizeof(h->peer); i++) {
		x ^= (unsigned char)h->peer[i];
		x *= 0x100000001b3ull;
	}
	return x;
}

/*
 * A segment directory: a directory (not a link) of a memory file system,
 * either ours and not writable by others ($XDG_RUNTIME_DIR) or sticky
 * (/dev/shm: others cannot remove or rename our files there).  0 or an
 * errno with why.
 */
static int
seg_dir_check(const char *path, char *why, size_t whylen)
{
	struct statfs sf;
	struct stat st;

	if (path[0] != '/') {
		wcore_why(why, whylen, "%s is not an absolute path", path);
		return EINVAL;
	}
	if (lstat(path, &st) != 0) {
		wcore_why(why, whylen, "%s: %s", path, strerror(errno));
		return errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		wcore_why(why, whylen, "%s is not a directory", path);
		return ENOTDIR;
	}
	if (statfs(path, &sf) != 0) {
		wcore_why(why, whylen, "%s: %s", path, strerror(errno));
		return errno;
	}
	if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC) {
		wcore_why(why, whylen, "%s is not a memory file system (tmpfs)",
		    path);
		return EXDEV;
	}
	if (st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH)))
		return 0;
	if ((st.st_mode & S_ISVTX) && (st.st_uid == 0 ||
	    st.st_uid == geteuid()))
		return 0;
	wcore_why(why, whylen, "%s is writable by others and not sticky "
	    "(mode %04o, owner %u)", path, (unsigned)(st.st_mode & 07777),
	    (unsigned)st.st_uid);
	return EACCES;
}

int
wcore_seg_dir(char *buf, size_t len, char *why, size_t whylen)
{
	const char *v;
	char w[256];
	int e;

	v = getenv("WAPI_SEGMENT_DIR");
	if (v != NULL && v[0] != '\0') {
		if (strcmp(v, "none") == 0) {
			wcore_why(why, whylen, "WAPI_SEGMENT_DIR=none");
			return ENOENT;
		}
		if ((e = seg_dir_check(v, w, sizeof(w))) != 0) {
			wcore_why(why, whylen, "WAPI_SEGMENT_DIR: %s", w);
			return e;
		}
	} else if ((v = getenv("XDG_RUNTIME_DIR")) == NULL || v[0] == '\0' ||
	    seg_dir_check(v, w, sizeof(w)) != 0) {
		v = "/dev/shm";
		if ((e = seg_dir_check(v, w, sizeof(w))) != 0) {
			wcore_why(why, whylen, "no memory file system: %s", w);
			return e;
		}
	}
	/* A segment's path must fit the header with its name. */
	if (strlen(v) + 1 + sizeof(WCORE_SEG_PREFIX) + 10 + WAPI_HOST_MAX +
	    16 + 18 > WAPI_PEER_MAX || strlcpy(buf, v, len) >= len) {
		wcore_why(why, whylen, "the segment directory %.64s... is too "
		    "long a path", v);
		return ENAMETOOLONG;
	}
	return 0;
}

int
wcore_seg_name(char *buf, size_t len, uid_t uid, const char *host,
    const char *abi, uint64_t state_id)
{
	int n;

	n = snprintf(buf, len, WCORE_SEG_PREFIX "%u-%s.%s-%016" PRIx64,
	    (unsigned)uid, host, abi, state_id);
	return n < 0 || (size_t)n >= len ? ENAMETOOLONG : 0;
}

bool
wcore_seg_name_parse(const char *name, uid_t *uid, char *host, char *abi,
    uint64_t *state_id)
{
	const char *p, *dash, *dot, *e;
	unsigned long long u;
	char *end;
	size_t hl, al;

	if (strncmp(name, WCORE_SEG_PREFIX, sizeof(WCORE_SEG_PREFIX) - 1) != 0)
		return false;
	p = name + sizeof(WCORE_SEG_PREFIX) - 1;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	u = strtoull(p, &end, 10);
	if (errno != 0 || *end != '-' || u > UINT32_MAX)
		return false;
	p = end + 1;
	/* The id is the last 16 characters after the last '-'. */
	dash = strrchr(p, '-');
	if (dash == NULL || strlen(dash + 1) != 16)
		return false;
	for (e = dash + 1; *e != '\0'; e++)
		if (!((*e >= '0' && *e <= '9') || (*e >= 'a' && *e <= 'f')))
			return false;
	/* The ABI is after the last '.' before it (host names may hold dots). */
	for (dot = dash; dot > p && *dot != '.'; dot--)
		;
	if (dot == p)
		return false;
	hl = (size_t)(dot - p);
	al = (size_t)(dash - dot - 1);
	if (hl == 0 || hl > WAPI_HOST_MAX || al == 0 || al >= 16)
		return false;
	memcpy(host, p, hl);
	host[hl] = '\0';
	memcpy(abi, dot + 1, al);
	abi[al] = '\0';
	if (wcore_host_check(host) != NULL || wcore_abi_check(abi) != NULL)
		return false;
	*uid = (uid_t)u;
	*state_id = strtoull(dash + 1, NULL, 16);
	return true;
}

/* Split an absolute path into its directory (in dir) and its last name. */
static int
seg_split(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash;

	slash = strrchr(path, '/');
	if (path[0] != '/' || slash == NULL || slash[1] == '\0' ||
	    (size_t)(slash - path) + 1 > dirlen)
		return EINVAL;
	if (slash == path)
		strlcpy(dir, "/", dirlen);
	else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	*name = slash + 1;
	return 0;
}

int
wcore_header_read(int fd, struct wapi_header *h, uint64_t *size, char *why,
    size_t whylen)
{
	struct wcore_report rep = { .limit = 1 };
	struct stat st;
	ssize_t n;
	int e = 0;

	if (fstat(fd, &st) != 0)
		return errno;
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	n = pread(fd, h, sizeof(*h), 0);
	if (n < 0)
		return errno;
	if (wcore_check_header(h, (size_t)n, (uint64_t)st.st_size, &rep) != 0 ||
	    rep.incompatible) {
		if (rep.count > 0)
			wcore_problem_format(&rep.problems[0], why, whylen);
		else
			wcore_why(why, whylen, "another format version or ABI");
		e = EINVAL;
	}
	wcore_report_free(&rep);
	return e;
}

/*
 * The directory (opened, in dfd's return) and the name of anchor a's
 * segment, when its peer is a name of the form made for this very anchor
 * (our uid, its host, ABI and state id): nothing else is ever opened or
 * removed.  dir must have WAPI_PEER_MAX bytes.  The directory's descriptor
 * or -errno with why (-ENOENT: no such directory).
 */
static int
seg_locate(const struct wapi_header *a, char *dir, const char **name,
    char *why, size_t whylen)
{
	char host[WAPI_HOST_MAX + 1], abi[16];
	uint64_t id;
	uid_t uid;
	int dfd, e;

	if (a->placement != WAPI_PLACE_ANCHOR || memchr(a->peer, '\0',
	    sizeof(a->peer)) == NULL || seg_split(a->peer, dir, WAPI_PEER_MAX,
	    name) != 0) {
		wcore_why(why, whylen, "the header names no segment");
		return -EINVAL;
	}
	if (!wcore_seg_name_parse(*name, &uid, host, abi, &id) ||
	    uid != geteuid() || id != a->state_id ||
	    strcmp(host, a->host) != 0 || strcmp(abi, a->abi) != 0) {
		wcore_why(why, whylen, "its segment %s is not named for it",
		    a->peer);
		return -EINVAL;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		e = errno;
		wcore_why(why, whylen, "its segment's directory %s: %s", dir,
		    strerror(e));
		return -e;
	}
	return dfd;
}

int
wcore_seg_open(const struct wapi_header *a, bool writable,
    struct wapi_header *seg, char *why, size_t whylen)
{
	char dir[WAPI_PEER_MAX], w[256];
	struct wapi_header h;
	const char *name;
	uint64_t size = 0;
	int dfd, fd, e;

	if ((dfd = seg_locate(a, dir, &name, why, whylen)) < 0)
		return dfd;
	fd = wcore_state_open(dfd, name, writable, w, sizeof(w));
	close(dfd);
	if (fd < 0) {
		if (fd == -ENOENT)
			wcore_why(why, whylen, "its segment %s is gone", a->peer);
		else
			wcore_why(why, whylen, "its segment %s: %s", a->peer, w);
		return fd;
	}
	if ((e = wcore_header_read(fd, &h, &size, w, sizeof(w))) != 0) {
		close(fd);
		wcore_why(why, whylen, "its segment %s: %s", a->peer,
		    e == EINVAL ? w : strerror(e));
		return -EINVAL;
	}
	/* The same state: every checksummed byte and the id; a segment. */
	if (h.placement != WAPI_PLACE_SEGMENT || h.state_id != a->state_id ||
	    memcmp(&h, a, WAPI_CHECKSUM_END + sizeof(h.checksum)) != 0 ||
	    h.file_size != size) {
		close(fd);
		wcore_why(why, whylen, "its segment %s belongs to another state "
		    "(made by another initialisation)", a->peer);
		return -EINVAL;
	}
	if (seg != NULL)
		memcpy(seg, &h, sizeof(h));
	return fd;
}

/* The absolute path of name in the directory dirfd, in buf. */
static int
seg_anchor_path(int dirfd, const char *name, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	if ((n = readlink(link, buf, len - 1)) < 0)
		return errno;
	buf[n] = '\0';
	if (buf[0] != '/')
		return EINVAL;
	if (strlcat(buf, "/", len) >= len || strlcat(buf, name, len) >= len)
		return ENAMETOOLONG;
	return 0;
}

int
wcore_init_pair(int fd, int dirfd, const char *name,
    const struct wcore_layout *l, const char *host, char *placed,
    size_t placedlen, char *why, size_t whylen)
{
	char dir[WAPI_PEER_MAX], sname[WAPI_PEER_MAX], w[256];
	struct wcore_layout sl = *l;
	struct wapi_header *h;
	void *map;
	int sfd = -1, e, tries;

	w[0] = '\0';
	arc4random_buf(&sl.state_id, sizeof(sl.state_id));
	sl.placement = WAPI_PLACE_FILE;
	memset(sl.peer, 0, sizeof(sl.peer));
	if (placed != NULL && placedlen > 0)
		placed[0] = '\0';
	if (wcore_seg_dir(dir, sizeof(dir), w, sizeof(w)) != 0 ||
	    seg_anchor_path(dirfd, name, sl.peer, sizeof(sl.peer)) != 0) {
		if (placed != NULL && placedlen > 0 && w[0] != '\0')
			wcore_why(placed, placedlen, "%s", w);
		else
			wcore_why(placed, placedlen, "the state file's path is "
			    "too long for a segment to name it");
		memset(sl.peer, 0, sizeof(sl.peer));
		if ((e = wcore_init(fd, &sl, host)) != 0)
			wcore_why(why, whylen, "cannot initialise it: %s",
			    strerror(e));
		return e;
	}
	for (tries = 0; tries < SEG_CREATE_TRIES; tries++) {
		if (tries > 0)
			arc4random_buf(&sl.state_id, sizeof(sl.state_id));
		if (wcore_seg_name(w, sizeof(w), geteuid(), host, WAPI_ABI,
		    sl.state_id) != 0 || (size_t)snprintf(sname, sizeof(sname),
		    "%s/%s", dir, w) >= sizeof(sname)) {
			wcore_why(why, whylen, "the segment's name is too long");
			return ENAMETOOLONG;
		}
		sfd = open(sname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (sfd >= 0 || errno != EEXIST)
			break;
	}
	if (sfd < 0) {
		e = errno;
		wcore_why(why, whylen, "cannot create its segment %s: %s", sname,
		    strerror(e));
		return e;
	}
	sl.placement = WAPI_PLACE_SEGMENT;
	if ((e = wcore_init(sfd, &sl, host)) != 0) {
		wcore_why(why, whylen, "cannot initialise its segment %s: %s",
		    sname, strerror(e));
		goto fail;
	}
	map = mmap(NULL, WAPI_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    sfd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		wcore_why(why, whylen, "cannot map its segment: %s", strerror(e));
		goto fail;
	}
	/* The anchor: the segment's header, naming the segment. */
	if ((h = malloc(sizeof(*h))) == NULL) {
		munmap(map, WAPI_HEADER_SIZE);
		e = ENOMEM;
		goto fail;
	}
	memcpy(h, map, sizeof(*h));
	munmap(map, WAPI_HEADER_SIZE);
	h->placement = WAPI_PLACE_ANCHOR;
	memset(h->peer, 0, sizeof(h->peer));
	strlcpy(h->peer, sname, sizeof(h->peer));
	h->place_checksum = wcore_place_checksum(h);
	e = 0;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, h, sizeof(*h), 0) !=
	    (ssize_t)sizeof(*h))
		e = errno != 0 ? errno : EIO;
	free(h);
	if (e != 0) {
		wcore_why(why, whylen, "cannot write it: %s", strerror(e));
		goto fail;
	}
	close(sfd);
	return 0;
fail:
	unlink(sname);
	close(sfd);
	return e;
}

int
wcore_seg_remove(const struct wapi_header *a, int segfd)
{
	char dir[WAPI_PEER_MAX], why[8];
	struct stat st, mine;
	const char *name;
	int dfd, fd, e = 0;

	/* Named for this anchor: its contents need not be sound (a damaged
	 * segment of a state nobody holds goes with it). */
	if ((dfd = seg_locate(a, dir, &name, why, sizeof(why))) < 0)
		return -dfd;
	fd = segfd;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		e = EPERM;	/* a link, a FIFO, another's: never removed */
	else if (segfd >= 0 && (fstat(segfd, &mine) != 0 ||
	    mine.st_dev != st.st_dev || mine.st_ino != st.st_ino))
		e = ESTALE;	/* the name leads elsewhere now */
	else if (segfd < 0 && (fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK)) < 0)
		e = errno;
	/*
	 * Attached processes hold its byte 1: a segment still in use
	 * (through another anchor, a copy of this one) stays.  The query
	 * through the caller's own descriptor ignores the caller's lock.
	 */
	else if (wcore_byte_held(fd, WAPI_LOCK_INIT, F_WRLCK) != 0)
		e = EBUSY;
	else if (unlinkat(dfd, name, 0) != 0)
		e = errno;
	if (segfd < 0 && fd >= 0)
		close(fd);
	close(dfd);
	return e;
}

int
wcore_anchor_publish(int fd, const struct wapi_header *h)
{
	/* The helper's identity and heartbeat, and its socket's token:
	 * what wapictl, other hosts and clients dialling through the anchor
	 * (wcore_helper_socket) read from it. */
	static const struct {
		size_t from, to;
	} ranges[] = {
		{ offsetof(struct wapi_header, helper_pid),
		  offsetof(struct wapi_header, init_count) },
		{ offsetof(struct wapi_header, helper_token),
		  offsetof(struct wapi_header, reserved1) },
	};
	struct stat st;
	size_t i, n;

	if (h->placement != WAPI_PLACE_SEGMENT)
		return 0;
	if (fstat(fd, &st) != 0)
		return errno;
	if (st.st_size != WAPI_HEADER_SIZE)
		return EINVAL;	/* not an anchor: never write into tables */
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		n = ranges[i].to - ranges[i].from;
		if (pwrite(fd, (const char *)h + ranges[i].from, n,
		    (off_t)ranges[i].from) != (ssize_t)n)
			return errno != 0 ? errno : EIO;
	}
	return 0;
}

void
wcore_seg_advise(void *map, size_t len)
{
	const char *v = getenv("WAPI_HUGEPAGES");

	if (v != NULL && strcmp(v, "0") == 0)
		return;
	if (((const struct wapi_header *)map)->placement != WAPI_PLACE_SEGMENT)
		return;
	/* EINVAL where the kernel has no huge pages for shared memory. */
	(void)madvise(map, len, MADV_HUGEPAGE);
}
