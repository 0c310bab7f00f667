/*
 * Attaching to this host's state file, and falling back to process-private
 * handles when it cannot be used.
 *
 * Order of an attach (doc/design.md, "Files and who writes them" and
 * "Liveness"):
 *   resolve the directory and host; open the directory refusing a symlink,
 *   a foreign owner or group/other write; open the state file or create it
 *   as a temporary + link(); take the init byte: exclusively when nobody
 *   else holds it (then the file is ours alone: a file left by a crash is
 *   re-initialised in place), else shared; check that the name still leads
 *   to the inode we locked (a helper may have removed it while lingering);
 *   map it; take a client slot and its byte under the table lock; connect
 *   to the helper, starting one when its byte is free (helper-client.c).
 *
 * Private mode uses the very same table code on anonymous memory laid out
 * like a state file with one client, so every call behaves the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wapi-int.h"

struct wl_state wl = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.sockmu = PTHREAD_MUTEX_INITIALIZER,
	.sleepfd = -1,
	.dirfd = -1,
	.fd = -1,
	.segfd = -1,
	.sock = -1,
};

static bool wl_atfork_done;

#define WL_INIT_WAIT_MS		5000	/* someone initialising the file */

static void wl_sleeps_close(void);

static void
wl_after_fork_child(void)
{
	wl_sync_after_fork();
	/*
	 * The child is a new process: it is not attached.  The descriptors
	 * it inherited share the parent's open file descriptions (and so the
	 * parent's locks): close ours without unlocking anything.
	 */
	if (wl.mode == WL_SHARED) {
		if (wl.sock >= 0)
			close(wl.sock);
		if (wl.fd >= 0)
			close(wl.fd);
		if (wl.segfd >= 0)
			close(wl.segfd);
		if (wl.dirfd >= 0)
			close(wl.dirfd);
	}
	if (wl.map != NULL) {
		wcore_unguard(wl.map);
		munmap(wl.map, wl.len);
	}
	wl.map = NULL;
	wl.sock = wl.fd = wl.segfd = wl.dirfd = -1;
	wl_sleeps_close();
	__atomic_store_n(&wl.mode, WL_NONE, __ATOMIC_RELEASE);
	pthread_mutex_init(&wl.mu, NULL);
	pthread_mutex_init(&wl.sockmu, NULL);
	wl_message_after_fork();
	wl_fd_reset(true);
	wl_locals_reset();
}

static void
wl_atexit(void)
{
	wapi_shutdown();
}

void
wl_lock(void)
{
	/* Robust: a dead holder is repaired inside; nothing else can fail
	 * short of a corrupted mutex, which the repair cannot mend. */
	if (wcore_table_lock(wl.map, -1, NULL) != 0)
		abort();
}

void
wl_unlock(void)
{
	wcore_table_unlock(wl.map);
}

static int
wl_env_set(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Process-private handles: the same layout on anonymous memory. */
static int
wl_attach_private(void)
{
	struct wcore_layout l;
	void *map;

	if (wcore_layout(4096, 1, 4096, 64, &l) != 0)
		return ENOMEM;
	map = mmap(NULL, (size_t)l.file_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return ENOMEM;
	if (wcore_init_map(map, &l, wl.host[0] ? wl.host : "private") != 0) {
		munmap(map, (size_t)l.file_size);
		return ENOMEM;
	}
	wl.map = map;
	wl.len = (size_t)l.file_size;
	wl.slot = 0;
	wl.cf_mutexes = false;
	WCORE_CLIENTS(map)[0].state = WAPI_CS_ATTACHED;
	WCORE_CLIENTS(map)[0].pid = getpid();
	WCORE_CLIENTS(map)[0].attached = wcore_now_ns();
	((struct wapi_header *)map)->clients_used = 1;
	wl.path[0] = '\0';
	return 0;
}

/*
 * Does segment header seg name the state file fd back?  A copy of an anchor
 * (cp of the state file elsewhere) names the same segment as the original:
 * it must not share, nor remove, the original's tables.
 */
static bool
wl_segment_names(int fd, const struct wapi_header *seg)
{
	struct stat a, p;

	return seg->placement != WAPI_PLACE_SEGMENT ||
	    (fstat(fd, &a) == 0 && memchr(seg->peer, '\0',
	    sizeof(seg->peer)) != NULL && lstat(seg->peer, &p) == 0 &&
	    a.st_dev == p.st_dev && a.st_ino == p.st_ino);
}

/* The header of the state file fd when it is a sound anchor: true with a
 * copy in *h. */
static bool
wl_read_anchor(int fd, struct wapi_header *h)
{
	char why[8];

	return wcore_header_read(fd, h, NULL, why, sizeof(why)) == 0 &&
	    h->placement == WAPI_PLACE_ANCHOR;
}

/* Remove the segment of the state file fd (held exclusively, or never
 * published: made_here), if it is an anchor whose segment is its own: one
 * that names another anchor (fd is a copy) stays, one too damaged to tell
 * goes. */
static void
wl_drop_segment(int fd, bool made_here)
{
	struct wapi_header h, seg;
	char why[8];
	int sfd;

	if (!wl_read_anchor(fd, &h))
		return;
	sfd = made_here ? -1 : wcore_seg_open(&h, false, &seg, why,
	    sizeof(why));
	if (sfd >= 0) {
		close(sfd);
		if (!wl_segment_names(fd, &seg))
			return;
	}
	(void)wcore_seg_remove(&h, -1);
}

/* Create the state file as a temporary and link it into place.  Returns
 * the descriptor of the new file, -EEXIST when another process won the
 * race (use theirs), or -errno. */
static int
wl_create(const char *name, char *why, size_t whylen)
{
	char tmp[PATH_MAX];
	struct wcore_layout l;
	static const char set[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n;
	int fd = -1, r, tries;

	why[0] = '\0';
	r = wcore_layout_default(&l, why, whylen);
	if (r != 0)
		return -r;
	if (wcore_temp_template(tmp, sizeof(tmp), wl.host, WAPI_ABI) != 0) {
		snprintf(why, whylen, "host name too long for a file name");
		return -ENAMETOOLONG;
	}
	n = strlen(tmp);
	for (tries = 0; tries < 100; tries++) {
		for (size_t i = n - 6; i < n; i++)
			tmp[i] = set[arc4random_uniform(sizeof(set) - 1)];
		fd = openat(wl.dirfd, tmp, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = errno;
		snprintf(why, whylen, "cannot create a temporary: %s", strerror(r));
		return -r;
	}
	/* Held from before the first byte is written until we attach, so
	 * that nobody (wapictl clean) ever sees the new file unheld. */
	r = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0);
	if (r == 0)
		r = wcore_init_pair(fd, wl.dirfd, name, &l, wl.host, NULL, 0,
		    why, whylen);
	/* Into place atomically, never over another creator's file; a file
	 * system without RENAME_NOREPLACE (NFS) gets link + unlink, whose
	 * moment of two links openers wait out (EMLINK). */
	if (r == 0 && renameat2(wl.dirfd, tmp, wl.dirfd, name,
	    RENAME_NOREPLACE) != 0) {
		r = errno;
		if (r == EINVAL || r == ENOSYS) {
			r = linkat(wl.dirfd, tmp, wl.dirfd, name, 0) != 0 ?
			    errno : 0;
			unlinkat(wl.dirfd, tmp, 0);
		} else
			unlinkat(wl.dirfd, tmp, 0);
	}
	if (r != 0) {
		wl_drop_segment(fd, true);
		close(fd);
		if (r == EEXIST)
			;
		else if (why[0] == '\0')
			snprintf(why, whylen, "cannot create it: %s", strerror(r));
		return -r;
	}
	return fd;
}

/* Does the name in the directory still lead to the inode fd has open? */
static bool
wl_same_file(int fd, const char *name)
{
	struct stat a, b;

	if (fstat(fd, &a) != 0 || fstatat(wl.dirfd, name, &b,
	    AT_SYMLINK_NOFOLLOW) != 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Re-initialise in place a file nobody holds (we hold the init byte
 * exclusively): truncating to 0 first makes every region read as zero. */
static int
wl_reinit(int fd, const char *name, char *why, size_t whylen)
{
	struct wcore_layout l;
	int r;

	uint32_t count = 0;

	why[0] = '\0';
	r = wcore_layout_default(&l, why, whylen);
	if (r != 0)
		return r;
	/* Carry the count of initialisations over, for people and wapictl. */
	if (pread(fd, &count, sizeof(count), offsetof(struct wapi_header,
	    init_count)) != (ssize_t)sizeof(count) || count >= UINT32_MAX - 1)
		count = 0;
	l.init_count = count + 1;
	/* The old segment goes with the old state: nobody holds either. */
	wl_drop_segment(fd, false);
	if (ftruncate(fd, 0) != 0)
		return errno;
	r = wcore_init_pair(fd, wl.dirfd, name, &l, wl.host, NULL, 0, why,
	    whylen);
	if (r != 0 && why[0] == '\0')
		snprintf(why, whylen, "cannot re-initialise it: %s", strerror(r));
	return r;
}

#define WL_UNSOUND_TRIES 50	/* x 20 ms: a held file that is not sound */

/* Is the header of the file sound (whatever the locks say)? */
static bool
wl_header_sound(int fd)
{
	struct wapi_header h;
	char why[8];
	bool ok;

	ok = wcore_header_read(fd, &h, NULL, why, sizeof(why)) == 0;
	if (ok && h.placement == WAPI_PLACE_ANCHOR) {
		struct wapi_header seg;
		int sfd = wcore_seg_open(&h, false, &seg, why, sizeof(why));

		ok = sfd >= 0 && wl_segment_names(fd, &seg);
		if (sfd >= 0)
			close(sfd);
	}
	return ok;
}

/*
 * Take the init byte of the state file fd (fresh: we just created it)
 * shared.  When nobody holds it the file is ours alone: unless a helper is
 * just starting, whatever it holds is left over and re-initialised first.
 * 0, or errno with why; *moved when the name no longer leads to fd, which
 * a helper removed while lingering (look again).  fd stays open.
 */
static int
wl_hold_init(int fd, const char *name, bool fresh, bool *moved, char *why,
	     size_t whylen)
{
	int r;

	*moved = false;
	r = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0);
	if (r == 0) {
		if (!wl_same_file(fd, name)) {
			*moved = true;
			return 0;
		}
		if (!fresh && (wcore_byte_held(fd, WAPI_LOCK_HELPER,
		    F_WRLCK) == 0 || !wl_header_sound(fd))) {
			r = wl_reinit(fd, name, why, whylen);
			if (r != 0)
				return r;
		}
		r = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_RDLCK, 0);
	} else if (r == EAGAIN)
		r = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_RDLCK,
		    WL_INIT_WAIT_MS);
	if (r != 0) {
		snprintf(why, whylen, "cannot lock it: %s",
		    r == ETIMEDOUT ? "another process is initialising it" :
		    strerror(r));
		return r;
	}
	*moved = !wl_same_file(fd, name);
	return 0;
}

/*
 * Map the tables of the state file fd (init byte held shared): the file,
 * or its segment, whose init byte we then hold shared as well so that a
 * segment in use is known as such even without its anchor.  0 or an errno
 * (ENOENT: the anchor's segment is gone), why filled.
 */
static int
wl_map(int fd, char *why, size_t whylen)
{
	int r, segfd;

	r = wcore_map_state(fd, true, &wl.map, &wl.len, &segfd, why, whylen);
	if (r != 0)
		return r;
	if (!wl_segment_names(fd, wl.map)) {
		snprintf(why, whylen, "its segment %s names another state file "
		    "(this one is a copy?)", ((struct wapi_header *)wl.map)->peer);
		munmap(wl.map, wl.len);
		wl.map = NULL;
		close(segfd);
		return EINVAL;
	}
	if (segfd >= 0 && (r = wcore_lock_byte(segfd, WAPI_LOCK_INIT,
	    F_RDLCK, WL_INIT_WAIT_MS)) != 0) {
		/* Only wapictl clean takes it exclusively, for a segment
		 * no anchor names or one whose anchor it removes (under
		 * that anchor's init byte): a moment, then it is gone. */
		snprintf(why, whylen, "cannot lock its segment: %s",
		    strerror(r));
		munmap(wl.map, wl.len);
		wl.map = NULL;
		close(segfd);
		return r == ETIMEDOUT ? EAGAIN : r;
	}
	wl.segfd = segfd;
	return 0;
}

/*
 * The segment of the anchor fd is gone while the state is in use: join the
 * live tables through the descriptor its helper holds.  The descriptor is
 * checked like an opened segment (ours, 0600, a sound segment of this very
 * anchor).  0, or ENOENT when no helper gives one.
 */
static int
wl_rejoin(int fd)
{
	struct wcore_msg m = { .type = WCORE_MSG_SEGMENT };
	struct wapi_header a, *s;
	struct stat st;
	char why[256];
	int sock, segfd = -1, r;

	if (!wl_read_anchor(fd, &a))
		return ENOENT;
	m.pid = wl.pid;
	if ((sock = wcore_helper_socket(fd, wl.helper_ms, NULL)) < 0)
		return ENOENT;
	r = wcore_msg_send(sock, &m, NULL, -1);
	if (r == 0)
		r = wcore_msg_recv(sock, &m, NULL, 0, &segfd);
	close(sock);
	if (r != 0 || m.type != WCORE_MSG_OK || m.error != 0 || segfd < 0 ||
	    fstat(segfd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0 ||
	    wcore_map_state(segfd, true, &wl.map, &wl.len, NULL, why,
	    sizeof(why)) != 0)
		goto fail;
	s = wl.map;
	if (s->placement != WAPI_PLACE_SEGMENT || s->state_id != a.state_id ||
	    memcmp(s, &a, WAPI_CHECKSUM_END + sizeof(s->checksum)) != 0 ||
	    wcore_lock_byte(segfd, WAPI_LOCK_INIT, F_RDLCK,
	    WL_INIT_WAIT_MS) != 0) {
		munmap(wl.map, wl.len);
		wl.map = NULL;
		goto fail;
	}
	wcore_seg_advise(wl.map, wl.len);
	wl.segfd = segfd;
	return 0;
fail:
	if (segfd >= 0)
		close(segfd);
	return ENOENT;
}

/* Open, create or recover the file; on success wl.fd holds the init byte
 * shared and wl.map maps it. */
static int
wl_open_state(const char *name, char *why, size_t whylen)
{
	struct wcore_status st;
	int fd, r, tries, links = 0, unsound = 0;
	bool fresh, moved;

	for (tries = 0; tries < 20; tries++) {
		fresh = false;
		fd = wcore_state_open(wl.dirfd, name, true, why, whylen);
		if (fd == -EMLINK && links++ < 50) {
			/* Two links for a moment while a creator removes its
			 * temporary: look again shortly. */
			usleep(1000);
			tries--;
			continue;
		}
		if (fd == -ENOENT) {
			fd = wl_create(name, why, whylen);
			if (fd == -EEXIST)
				continue;
			fresh = fd >= 0;
		}
		if (fd < 0)
			return -fd;
		if ((r = wl_hold_init(fd, name, fresh, &moved, why,
		    whylen)) != 0) {
			close(fd);
			return r;
		}
		if (moved) {
			close(fd);
			continue;
		}
		r = wl_map(fd, why, whylen);
		if (r == ENOENT && wl_rejoin(fd) == 0) {
			wl.fd = fd;
			(void)wcore_guard(wl.map);
			return 0;
		}
		if (r == ENOENT) {
			/* Its segment is gone while others hold the file
			 * (never while a re-initialisation runs: we hold the
			 * init byte): a second set of tables would split
			 * the state in two. */
			close(fd);
			snprintf(why + strlen(why), whylen - strlen(why),
			    " while processes use it (removed by hand, or "
			    "at logout?) and no helper gives it to us; they "
			    "go on with it, and it is made anew once all "
			    "have left");
			return ENOENT;
		}
		if (r != 0 && unsound++ < WL_UNSOUND_TRIES) {
			/*
			 * Held, yet not sound: most often a helper that
			 * opened the file while an initialiser was killed
			 * half-way; it fails to map it and leaves.  Look
			 * again for a while before giving up.
			 */
			close(fd);
			usleep(20000);
			tries--;
			continue;
		}
		if (r != 0) {
			/* Held by someone else: never touch it. */
			if (wcore_verdict(fd, wl.host, &st) == 0 &&
			    st.reason[0] != '\0')
				snprintf(why, whylen, "%s: %s; it is in use by "
				    "another process", wcore_verdict_name(st.verdict),
				    st.reason);
			close(fd);
			return r;
		}
		wl.fd = fd;
		(void)wcore_guard(wl.map);	/* a few per process: room */
		return 0;
	}
	snprintf(why, whylen, "the file keeps changing under us");
	return EAGAIN;
}

static int
wl_take_slot(char *why, size_t whylen)
{
	struct wapi_header *h = wl.map;
	struct wapi_client_entry *cl = WCORE_CLIENTS(wl.map), *c;
	uint32_t cap = h->regions[WAPI_R_CLIENTS].capacity, i;

	wl_lock();
	for (i = 0; i < cap; i++) {
		c = &cl[i];
		if (wcore_lock_byte(wl.fd, WAPI_LOCK_CLIENT0 + i, F_WRLCK, 0) != 0)
			continue;
		/* The byte was free: a slot still marked attached belongs to
		 * a client that died while no helper noticed. */
		if (c->state != WAPI_CS_FREE)
			wcore_client_release(wl.map, i, wcore_wake_handle);
		memset(c, 0, sizeof(*c));
		c->state = WAPI_CS_ATTACHED;
		c->pid = wl.pid;
		c->start = wl.start;
		c->attached = wcore_now_ns();
		h->clients_used++;
		h->clients_attached++;
		wl.slot = i;
		wl.cf_mutexes = false;
		wl_unlock();
		return 0;
	}
	wl_unlock();
	snprintf(why, whylen, "all %u client slots are in use", cap);
	return WAPI_EFULL;
}

static void
wl_release_slot(void)
{
	if (wl.map == NULL)
		return;
	wl_lock();
	wcore_client_release(wl.map, wl.slot, wcore_wake_handle);
	wl_unlock();
}

static void
wl_close_shared(void)
{
	if (wl.map != NULL) {
		wcore_unguard(wl.map);
		munmap(wl.map, wl.len);
	}
	if (wl.fd >= 0)
		close(wl.fd);		/* drops the init and client bytes */
	if (wl.segfd >= 0)
		close(wl.segfd);
	if (wl.dirfd >= 0)
		close(wl.dirfd);
	if (wl.sock >= 0)
		close(wl.sock);
	wl.map = NULL;
	wl.fd = wl.segfd = wl.dirfd = wl.sock = -1;
	wl_sleeps_close();
}

/* Sleep records the helper reads when we die (see core.h). */
static int
wl_sleeps_open(void)
{
	void *p;
	int fd;

	fd = memfd_create("wapi-sleeps", MFD_CLOEXEC);
	if (fd < 0)
		return errno;
	if (ftruncate(fd, sizeof(struct wcore_sleeps)) != 0 ||
	    (p = mmap(NULL, sizeof(struct wcore_sleeps), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED) {
		int e = errno;

		close(fd);
		return e;
	}
	wl.sleeps = p;
	wl.sleepfd = fd;
	wl.sleeps_gen++;
	return 0;
}

static void
wl_sleeps_close(void)
{
	if (wl.sleeps != NULL)
		munmap(wl.sleeps, sizeof(struct wcore_sleeps));
	if (wl.sleepfd >= 0)
		close(wl.sleepfd);
	wl.sleeps = NULL;
	wl.sleepfd = -1;
}

/* Attach this host's state file: 0 or errno / WAPI_EFULL, why saying
 * what failed. */
static int
wl_attach_shared(char *why, size_t whylen)
{
	char dir[PATH_MAX], name[PATH_MAX], hostwhy[256];
	int r;

	if (wcore_host_name(wl.host, sizeof(wl.host), hostwhy,
	    sizeof(hostwhy)) != 0) {
		wl.host[0] = '\0';
		if (wcore_dir_path(wl.path, sizeof(wl.path), why, whylen) != 0)
			snprintf(wl.path, sizeof(wl.path), "~/.wapi");
		snprintf(why, whylen, "%s", hostwhy);
		return EINVAL;
	}
	if ((r = wcore_dir_path(dir, sizeof(dir), why, whylen)) != 0) {
		/* dir names it for the message: shortened, or $HOME/.wapi. */
		snprintf(wl.path, sizeof(wl.path), "%s", dir);
		return r;
	}
	/* The file name is known before the directory is checked, so that a
	 * refusal names the file. */
	if (wcore_state_name(name, sizeof(name), wl.host, WAPI_ABI) != 0 ||
	    (size_t)snprintf(wl.path, sizeof(wl.path), "%s/%s", dir, name) >=
	    sizeof(wl.path)) {
		snprintf(wl.path, sizeof(wl.path), "%s", dir);
		snprintf(why, whylen, "path too long");
		return ENAMETOOLONG;
	}
	wl.dirfd = wcore_dir_open(dir, true, why, whylen);
	if (wl.dirfd < 0) {
		r = -wl.dirfd;
		wl.dirfd = -1;
		return r;
	}
	if ((r = wl_open_state(name, why, whylen)) != 0)
		goto fail;
	if ((r = wl_take_slot(why, whylen)) != 0)
		goto fail;
	if ((r = wl_sleeps_open()) != 0) {
		snprintf(why, whylen, "cannot make its sleep records: %s",
		    strerror(r));
		wl_release_slot();
		goto fail;
	}
	if ((r = wl_helper_attach(why, whylen)) != 0) {
		wl_release_slot();
		goto fail;
	}
	return 0;
fail:
	wl_close_shared();
	return r;
}

int
wl_ensure(void)
{
	char why[8192];
	int r = 0;

	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) != WL_NONE)
		return 0;
	pthread_mutex_lock(&wl.mu);
	if (wl.mode != WL_NONE)
		goto out;
	if (!wl_atfork_done) {
		pthread_atfork(NULL, NULL, wl_after_fork_child);
		atexit(wl_atexit);
		wl_atfork_done = true;
	}
	wl.pid = getpid();
	wcore_proc_start(wl.pid, &wl.start);
	wl_helper_prepare();
	why[0] = '\0';
	/* Disabled: private handles, without a word. */
	if (!wl_env_set("WAPI_DISABLE_SHM") && !wl_env_set("MONO_DISABLE_SHM")) {
		r = wl_attach_shared(why, sizeof(why));
		if (r == 0) {
			__atomic_store_n(&wl.mode, WL_SHARED, __ATOMIC_RELEASE);
			goto out;
		}
		wl_message(WAPI_MSG_WARNING, "cannot attach %s: %s; using "
		    "process-private handles (see wapictl(1))", wl.path, why);
	}
	r = wl_attach_private();
	if (r == 0)
		__atomic_store_n(&wl.mode, WL_PRIVATE, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&wl.mu);
	return r;
}

int
wapi_init(unsigned flags)
{
	if (flags != 0)
		return wl_ret(WAPI_EINVAL);
	return wl_ret(wl_ensure());
}

void
wapi_shutdown(void)
{
	pthread_mutex_lock(&wl.mu);
	if (wl.mode != WL_NONE)
		wl_fd_reset(false);
	if (wl.mode == WL_SHARED) {
		wl_release_slot();
		/* A clean goodbye: the helper has nothing to undo. */
		wl_helper_bye();
		wl_close_shared();
	} else if (wl.mode == WL_PRIVATE) {
		wl_proc_reset(false);
		munmap(wl.map, wl.len);
		wl.map = NULL;
	}
	wl_locals_reset();
	__atomic_store_n(&wl.mode, WL_NONE, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&wl.mu);
}

int
wapi_is_shared(void)
{
	wl_ensure();
	return __atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_SHARED;
}

const char *
wapi_state_path(void)
{
	wl_ensure();
	return wl.mode == WL_SHARED ? wl.path : NULL;
}
