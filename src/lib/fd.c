/*
 * Descriptor handles: files (with Win32 share modes), pipes and sockets.
 *
 * The process that creates one deposits a duplicate of its descriptor with
 * the helper; another process's first wapi_fd_get fetches it (SCM_RIGHTS),
 * so every process uses the same open file description (one offset, one
 * set of status flags).  Each process caches its copy by slot: later calls
 * are a table look-up without a lock or a system call.
 *
 * If the helper dies its deposits die with it.  Every process that holds a
 * copy runs a small watcher thread, started with its first copy, whose only
 * job is to notice the helper's end (its connection drops), connect to the
 * next helper (starting it if needed) and deposit its copies again; a
 * fetcher that finds no deposit waits for that, up to WL_FETCH_WAIT_MS, and
 * then reports WAPI_EGONE: no live process holds the descriptor any more.
 *
 * A helper keeps deposits at fixed descriptor numbers where it can (see
 * deposit.c) and says where in every FETCH reply.  Knowing that, a first
 * wapi_fd_get takes its copy with pidfd_getfd(2) from the helper, which
 * stays asleep: no round trip, whatever CPU either side runs on.  Only a
 * deposit the helper has marked as this very handle's is taken, and only
 * when it is the handle's file; otherwise (no pidfd_getfd, ptrace
 * refused, a new helper) it is a FETCH as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wapi-int.h"

#define WL_FETCH_WAIT_MS	3000

struct wl_fdc {
	wapi_handle_t number;	/* 0: empty */
	int fd;
};

static struct wl_fdc *fdc;
static uint32_t nfdc;
static pthread_mutex_t fdmu = PTHREAD_MUTEX_INITIALIZER;

/* The helper that said where its deposits are, and a pidfd for it.
 * Under fdmu. */
static struct {
	pid_t pid;
	uint64_t start;
	int base;		/* its deposit base; 0: unknown */
	int pidfd;		/* -1: not open (yet) */
	bool off;		/* pidfd_getfd refused here: FETCH only */
} hd = { .pidfd = -1 };

static pthread_t watcher;
static bool watcher_on;
static int watch_wake[2] = { -1, -1 };
static volatile bool watcher_stop;

static bool
fd_is_type(unsigned t)
{
	return t == WAPI_T_FILE || t == WAPI_T_PIPE || t == WAPI_T_SOCKET;
}

static void *wl_watcher_main(void *arg);

/* Keep fd as this process's copy of number; returns the copy to use (an
 * existing one wins, fd is then closed), or -ENOMEM (fd closed).  Caller
 * holds fdmu. */
static int
fdc_put(wapi_handle_t number, int fd)
{
	uint32_t i = (number & WAPI_HANDLE_INDEX_MASK) - 1;

	if (fdc == NULL) {
		nfdc = ((struct wapi_header *)wl.map)->regions[WAPI_R_HANDLES].capacity;
		fdc = calloc(nfdc, sizeof(*fdc));
		if (fdc == NULL) {
			close(fd);
			return -ENOMEM;
		}
	}
	if (i >= nfdc) {
		close(fd);
		return -ENOMEM;
	}
	if (fdc[i].number == number) {
		close(fd);
		return fdc[i].fd;
	}
	if (fdc[i].number != 0)
		close(fdc[i].fd);	/* a stale copy of a freed slot */
	fdc[i].fd = fd;
	__atomic_store_n(&fdc[i].number, number, __ATOMIC_RELEASE);
	if (wl.mode == WL_SHARED && !watcher_on) {
		if (pipe2(watch_wake, O_CLOEXEC) == 0) {
			watcher_stop = false;
			if (pthread_create(&watcher, NULL, wl_watcher_main, NULL) == 0)
				watcher_on = true;
			else {
				close(watch_wake[0]);
				close(watch_wake[1]);
				watch_wake[0] = watch_wake[1] = -1;
			}
		}
	}
	return fd;
}

static void
hd_forget(void)
{
	if (hd.pidfd >= 0)
		close(hd.pidfd);
	hd.pidfd = -1;
	hd.base = 0;
	hd.pid = 0;
	hd.start = 0;
}

/* A FETCH reply from the helper (pid, start) gave its deposit base. */
static void
hd_learn(pid_t pid, uint64_t start, int32_t base)
{
	pthread_mutex_lock(&fdmu);
	if (hd.pid != pid || hd.start != start)
		hd_forget();
	if (pid > 0 && base > 0) {
		hd.pid = pid;
		hd.start = start;
		hd.base = base;
	}
	pthread_mutex_unlock(&fdmu);
}

/*
 * This process's copy of the deposit of slot i, taken from the helper
 * (pid, start) without a message, or -errno when it cannot be had that
 * way: -ENOENT when that helper's fixed deposits are not known (or not
 * to be taken here), -ESRCH when the helper is another process now,
 * -ESTALE when the copy is not the handle's file.  The caller saw the
 * helper mark the slot FIXED while it held a reference.
 */
static int
hd_take(pid_t pid, uint64_t start, uint32_t i, uint64_t dev, uint64_t ino)
{
	struct stat st;
	uint64_t s;
	int fd = -ENOENT;

	pthread_mutex_lock(&fdmu);
	if (hd.off || hd.base <= 0 || hd.pid != pid || hd.start != start ||
	    i >= (uint32_t)(INT_MAX - hd.base))
		goto out;
	if (hd.pidfd < 0) {
		hd.pidfd = pidfd_open(pid, 0);
		if (hd.pidfd < 0) {
			fd = -errno;
			if (errno == ENOSYS || errno == EPERM)
				hd.off = true;
			goto out;
		}
		/* The pid may have been reused since the header named it. */
		if (wcore_proc_start(pid, &s) != 0 || s != start) {
			hd_forget();
			fd = -ESRCH;
			goto out;
		}
	}
	fd = pidfd_getfd(hd.pidfd, hd.base + (int)i, 0);
	if (fd < 0) {
		fd = -errno;
		if (errno == ENOSYS || errno == EPERM)
			hd.off = true;	/* seccomp, Yama: ask the helper instead */
	}
out:
	pthread_mutex_unlock(&fdmu);
	/* Not where the helper keeps it (an ordinary descriptor has the
	 * number): not ours. */
	if (fd >= 0 && (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != dev ||
	    (uint64_t)st.st_ino != ino)) {
		close(fd);
		fd = -ESTALE;
	}
	return fd;
}

/* Deposit one copy over socket s (a reply follows). */
static int
wl_deposit_on(int s, wapi_handle_t number, int fd)
{
	struct wcore_msg m = { .type = WCORE_MSG_DEPOSIT, .handle = number,
	    .slot = wl.slot, .pid = wl.pid };
	int r;

	r = wcore_msg_send(s, &m, NULL, fd);
	if (r == 0)
		r = wcore_msg_recv(s, &m, NULL, 0, NULL);
	return r != 0 ? r : m.error;
}

static void
wl_redeposit_all(int s)
{
	wapi_handle_t *nums;
	int *fds;
	uint32_t i, n = 0;

	pthread_mutex_lock(&fdmu);
	nums = calloc(nfdc ? nfdc : 1, sizeof(*nums));
	fds = calloc(nfdc ? nfdc : 1, sizeof(*fds));
	for (i = 0; nums != NULL && fds != NULL && i < nfdc; i++) {
		if (fdc[i].number == 0)
			continue;
		nums[n] = fdc[i].number;
		/* A duplicate: the cache may close its copy meanwhile. */
		fds[n] = fcntl(fdc[i].fd, F_DUPFD_CLOEXEC, 0);
		if (fds[n] >= 0)
			n++;
	}
	pthread_mutex_unlock(&fdmu);
	for (i = 0; i < n; i++) {
		wl_deposit_on(s, nums[i], fds[i]);
		close(fds[i]);
	}
	free(nums);
	free(fds);
}

static void *
wl_watcher_main(void *arg)
{
	struct pollfd p[2];
	char why[256];
	int s = -1, backoff = 10;

	(void)arg;
	while (!watcher_stop) {
		if (s < 0) {
			s = wl_helper_dial(1, why, sizeof(why));
			if (s < 0) {
				/* No helper could be reached: try later. */
				p[0].fd = watch_wake[0];
				p[0].events = POLLIN;
				poll(p, 1, backoff);
				if (backoff < 1000)
					backoff *= 2;
				continue;
			}
			backoff = 10;
			wl_redeposit_all(s);
		}
		p[0].fd = s;
		p[0].events = POLLIN;
		p[1].fd = watch_wake[0];
		p[1].events = POLLIN;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents != 0)
			break;
		if (p[0].revents != 0) {
			/* The helper never speaks first: this is its end. */
			close(s);
			s = -1;
		}
	}
	if (s >= 0)
		close(s);
	return NULL;
}

void
wl_fd_reset(bool in_child)
{
	uint32_t i;

	if (watcher_on && !in_child) {
		watcher_stop = true;
		/* The pipe cannot be full: one byte ever. */
		(void)!write(watch_wake[1], "x", 1);
		pthread_join(watcher, NULL);
	}
	if (watch_wake[0] >= 0) {
		close(watch_wake[0]);
		close(watch_wake[1]);
	}
	watch_wake[0] = watch_wake[1] = -1;
	watcher_on = false;
	if (in_child)
		pthread_mutex_init(&fdmu, NULL);
	pthread_mutex_lock(&fdmu);
	hd_forget();
	hd.off = false;
	for (i = 0; fdc != NULL && i < nfdc; i++)
		if (fdc[i].number != 0)
			close(fdc[i].fd);
	free(fdc);
	fdc = NULL;
	nfdc = 0;
	pthread_mutex_unlock(&fdmu);
}

void
wl_fd_forget(uint32_t index, bool freed)
{
	struct wcore_msg m = { .type = WCORE_MSG_RELEASE };
	wapi_handle_t number = 0;

	pthread_mutex_lock(&fdmu);
	if (fdc != NULL && index < nfdc && fdc[index].number != 0) {
		number = fdc[index].number;
		__atomic_store_n(&fdc[index].number, 0, __ATOMIC_RELEASE);
		close(fdc[index].fd);
		fdc[index].fd = -1;
	}
	pthread_mutex_unlock(&fdmu);
	if (freed && number != 0 && wl.mode == WL_SHARED) {
		/* No reply comes to a RELEASE. */
		m.handle = number;
		wl_helper_tell(&m);
	}
}

/* A new descriptor handle of type for fd (which it takes over). */
static int
wl_fd_new(unsigned type, int fd, const struct stat *st, unsigned access,
	  unsigned share, unsigned kind, wapi_handle_t *out)
{
	struct wapi_handle_entry *e;
	wapi_handle_t number;
	uint32_t idx;
	bool existed;
	int r;

	wl_ensure();
	wl_lock();
	if (kind & WAPI_FDK_SHARES) {
		r = wcore_share_acquire(wl.map, st->st_dev, st->st_ino, access,
		    share);
		if (r != 0) {
			wl_unlock();
			return r == EBUSY ? WAPI_ESHARING_VIOLATION : WAPI_EFULL;
		}
	}
	r = wl_handle_new(type, NULL, &idx, &existed);
	if (r != 0) {
		if (kind & WAPI_FDK_SHARES)
			wcore_share_release(wl.map, st->st_dev, st->st_ino,
			    access, share);
		wl_unlock();
		return r;
	}
	e = WL_H(idx);
	e->u.fd.creator_pid = wl.pid;
	e->u.fd.creator_client = wl.slot + 1;
	e->u.fd.dev = st->st_dev;
	e->u.fd.ino = st->st_ino;
	e->u.fd.access = (uint8_t)access;
	e->u.fd.share = (uint8_t)share;
	e->u.fd.kind = (uint8_t)kind;
	number = wl_number(idx);
	wl_unlock();

	pthread_mutex_lock(&fdmu);
	fd = fdc_put(number, fd);
	pthread_mutex_unlock(&fdmu);
	if (fd < 0) {
		wapi_handle_close(number);
		return -fd;
	}
	if (wl.mode == WL_SHARED) {
		struct wcore_msg m = { .type = WCORE_MSG_DEPOSIT, .handle = number };

		/* Should the helper be unreachable now, the watcher deposits
		 * the copy as soon as one runs. */
		wl_request(&m, NULL, &fd, 1, NULL, NULL, NULL, 0);
	}
	*out = number;
	return 0;
}

int
wapi_file_open(const char *path, int oflags, mode_t mode, unsigned access,
	       unsigned share, wapi_handle_t *out)
{
	struct stat st;
	int fd, r;

	if (path == NULL || out == NULL || (access & ~7u) || (share & ~7u))
		return wl_ret(WAPI_EINVAL);
	/* Truncate only once the share modes allow this open. */
	fd = open(path, (oflags & ~O_TRUNC) | O_CLOEXEC, mode);
	if (fd < 0)
		return wl_ret(errno);
	if (fstat(fd, &st) != 0) {
		r = errno;
		close(fd);
		return wl_ret(r);
	}
	r = wl_fd_new(WAPI_T_FILE, fd, &st, access, share, WAPI_FDK_SHARES, out);
	if (r != 0) {
		if (r != ENOMEM)
			close(fd);
		return wl_ret(r);
	}
	if ((oflags & O_TRUNC) && (oflags & O_ACCMODE) != O_RDONLY &&
	    S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
		r = errno;
		wapi_handle_close(*out);
		return wl_ret(r);
	}
	return wl_ret(0);
}

int
wapi_fd_import(int fd, wapi_handle_t *out)
{
	struct stat st;
	unsigned type;
	int dup, r;

	if (out == NULL || fd < 0)
		return wl_ret(WAPI_EINVAL);
	if (fstat(fd, &st) != 0)
		return wl_ret(errno);
	type = S_ISSOCK(st.st_mode) ? WAPI_T_SOCKET : S_ISFIFO(st.st_mode) ?
	    WAPI_T_PIPE : WAPI_T_FILE;
	if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return wl_ret(errno);
	r = wl_fd_new(type, dup, &st, 0, 0, 0, out);
	if (r != 0 && r != ENOMEM)
		close(dup);
	return wl_ret(r);
}

int
wapi_pipe_create(wapi_handle_t *read_end, wapi_handle_t *write_end)
{
	struct stat st;
	int p[2], r;

	if (read_end == NULL || write_end == NULL)
		return wl_ret(WAPI_EINVAL);
	if (pipe2(p, O_CLOEXEC) != 0)
		return wl_ret(errno);
	if (fstat(p[0], &st) != 0)
		memset(&st, 0, sizeof(st));
	r = wl_fd_new(WAPI_T_PIPE, p[0], &st, 0, 0, 0, read_end);
	if (r != 0) {
		if (r != ENOMEM)
			close(p[0]);
		close(p[1]);
		return wl_ret(r);
	}
	r = wl_fd_new(WAPI_T_PIPE, p[1], &st, 0, 0, 0, write_end);
	if (r != 0) {
		if (r != ENOMEM)
			close(p[1]);
		wapi_handle_close(*read_end);
		return wl_ret(r);
	}
	return wl_ret(0);
}

int
wapi_fd_get(wapi_handle_t h, int *out)
{
	struct wapi_header *hdr;
	struct wapi_handle_entry *e;
	struct wcore_msg m;
	struct timespec ts = { 0, 1000000 };
	uint32_t i = (h & WAPI_HANDLE_INDEX_MASK) - 1;
	uint64_t dev = 0, ino = 0, hstart = 0;
	int64_t slot, deadline;
	pid_t hpid = 0;
	bool deposited = false;
	int fd = -1, n, r;

	if (out == NULL)
		return wl_ret(WAPI_EINVAL);
	/* Fast path: this process's copy, no lock, no system call. */
	if (fdc != NULL && i < nfdc &&
	    __atomic_load_n(&fdc[i].number, __ATOMIC_ACQUIRE) == h) {
		*out = fdc[i].fd;
		return wl_ret(0);
	}
	wl_ensure();
	wl_lock();
	slot = wl_slot_use_locked(h, &r);
	r = slot < 0 ? r : !fd_is_type(WL_H(slot)->type) ? WAPI_ETYPE : 0;
	if (r == 0 && wl.mode == WL_SHARED) {
		/* What the helper holds for this handle, and which helper. */
		e = WL_H(slot);
		hdr = wl.map;
		deposited = (e->flags & WAPI_HF_FIXED) &&
		    wcore_cref_count(wl.map, wl.slot, (uint32_t)slot) > 0;
		dev = e->u.fd.dev;
		ino = e->u.fd.ino;
		hpid = hdr->helper_pid;
		hstart = hdr->helper_start;
	}
	wl_unlock();
	if (r != 0)
		return wl_ret(r);
	if (wl.mode != WL_SHARED)
		return wl_ret(WAPI_EGONE);	/* private: we made them all */
	if (deposited &&
	    (fd = hd_take(hpid, hstart, (uint32_t)slot, dev, ino)) >= 0)
		goto have;
	deadline = wcore_now_mono_ns() + WL_FETCH_WAIT_MS * 1000000LL;
	for (;;) {
		memset(&m, 0, sizeof(m));
		m.type = WCORE_MSG_FETCH;
		m.handle = h;
		r = wl_request(&m, NULL, NULL, 0, NULL, &fd, &n, 1);
		if (r == 0 && n == 1)
			break;
		if (r == 0)
			r = EPROTO;
		if (r == EBADF)
			return wl_ret(WAPI_EBADHANDLE);
		if (r != ENOENT || wcore_now_mono_ns() > deadline)
			return wl_ret(r == ENOENT ? WAPI_EGONE : r);
		/* Not deposited (a new helper): a holder's watcher will. */
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 32000000)
			ts.tv_nsec *= 2;
	}
	/* The helper that answered is the one the header names now. */
	hdr = wl.map;
	hd_learn(__atomic_load_n(&hdr->helper_pid, __ATOMIC_ACQUIRE),
	    hdr->helper_start, m.value);
have:
	pthread_mutex_lock(&fdmu);
	fd = fdc_put(h, fd);
	pthread_mutex_unlock(&fdmu);
	if (fd < 0)
		return wl_ret(-fd);
	*out = fd;
	return wl_ret(0);
}
