/*
 * Process handles.
 *
 * Shared mode: the helper spawns (it receives the standard streams and our
 * working directory as descriptors), is the parent, reaps, records the exit
 * code in the slot and wakes the waiters; any attached process holding the
 * number can wait for it and read the code from shared memory.  A process
 * opened by pid is watched by the helper through a pidfd we send it.
 *
 * Private mode: this process spawns and is the parent.  It must reap its
 * children without stealing anyone else's: each child has a pidfd, checked
 * with waitid(P_PIDFD, WNOHANG) when an exit code is asked, and one reaper
 * thread polls them all so that a wait (which sleeps on the slot's futex)
 * is woken.  Lock order: proc_mu, then the table lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "wapi-int.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define WL_PROCS_FIRST	16	/* records of the first block */

extern char **environ;

/* An exit to record in a slot, gathered while the records are walked. */
struct wl_proc_exit {
	uint32_t number, idx;
	pid_t pid;
	int code;
	bool force;		/* code even over a terminate's */
};

static pthread_mutex_t proc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t proc_once = PTHREAD_ONCE_INIT;
static struct wcore_proc_table procs;	/* under proc_mu */
static void *procs_map;		/* the private attachment the records belong to: */
static int64_t procs_stamp;	/* its map and its client slot's attach time */
static int reaper_wake = -1;	/* eventfd: the reaper's set changed */
static bool reaper_on;

/* The attach time of our client slot: a new private attachment may get the
 * same address (and the same handle numbers) as the last one. */
static int64_t
wl_attach_stamp(void)
{
	return WCORE_CLIENTS(wl.map)[wl.slot].attached;
}

/* Do the records belong to the current attachment?  proc_mu held. */
static bool
wl_procs_current(void)
{
	return procs_map != NULL && wl.map == procs_map &&
	    __atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_PRIVATE &&
	    wl_attach_stamp() == procs_stamp;
}

/* Tell the reaper thread that its set of pidfds changed. */
static void
wl_reaper_poke(void)
{
	uint64_t one = 1;

	if (reaper_wake >= 0)
		(void)!write(reaper_wake, &one, sizeof(one));
}

/* The attachment of the records is gone: children keep only the duty to
 * be reaped, the processes opened by pid are dropped.  proc_mu held. */
static void
wl_procs_orphan(void)
{
	size_t k;

	for (k = 0; k < procs.n; k++) {
		if (procs.rec[k].child)
			procs.rec[k].number = 0;
		else
			wcore_proc_done(&procs.rec[k]);
	}
	wcore_proc_compact(&procs);
}

/* Adopt the current attachment; records of an older one keep only the
 * duty to reap.  proc_mu held. */
static void
wl_procs_adopt(void)
{
	if (wl_procs_current())
		return;
	wl_procs_orphan();
	procs_map = wl.map;
	procs_stamp = wl_attach_stamp();
}

/* Record exits in the slots that still hold their handles.  proc_mu held. */
static void
wl_exits_record(const struct wl_proc_exit *x, size_t n)
{
	size_t k;
	int64_t i;

	if (n == 0 || !wl_procs_current())
		return;
	wl_lock();
	for (k = 0; k < n; k++) {
		i = wcore_handle_slot(wl.map, x[k].number);
		if (i < 0 || (uint32_t)i != x[k].idx)
			continue;
		/* The pid too: a new attachment at the same address has the
		 * same numbers, and the stamp is a coarse clock. */
		if (wcore_proc_exited(WL_H(i), x[k].pid, x[k].code, x[k].force))
			wl_changed((uint32_t)i);
	}
	wl_unlock();
}

/* A terminate's code on a handle of our child pid (its own or one linked
 * to it), else dflt.  proc_mu held. */
static int
wl_terminate_code(pid_t pid, int dflt)
{
	struct wcore_proc_rec *r;
	size_t k;
	int64_t i;

	if (!wl_procs_current())
		return dflt;
	wl_lock();
	for (k = 0; k < procs.n; k++) {
		r = &procs.rec[k];
		if (r->done || r->pid != pid || r->number == 0 ||
		    (!r->child && r->pidfd >= 0))
			continue;
		i = wcore_handle_slot(wl.map, r->number);
		if (i < 0 || (uint32_t)i != r->idx)
			continue;
		if (wcore_proc_terminating(WL_H(i), pid)) {
			dflt = WL_H(i)->u.proc.status;
			break;
		}
	}
	wl_unlock();
	return dflt;
}

/* Our child of record k ended with code (wait status decoded): it and the
 * handles opened on it go, all with the code a terminate asked for on any
 * of them, their exits added to x (NULL: out of memory, not recorded). */
static void
wl_child_ended(size_t k, int code, struct wl_proc_exit *x, size_t *n)
{
	struct wcore_proc_rec *r;
	pid_t pid = procs.rec[k].pid;
	size_t j;

	code = wl_terminate_code(pid, code);
	for (j = 0; j < procs.n; j++) {
		r = &procs.rec[j];
		if (r->done || r->pid != pid || (j != k && r->pidfd >= 0))
			continue;
		if (x != NULL && r->number != 0)
			x[(*n)++] = (struct wl_proc_exit){ r->number, r->idx,
			    pid, code, true };
		wcore_proc_done(r);
	}
}

/* Reap what ended, without blocking, and record it.  proc_mu held.  True
 * when records went. */
static bool
wl_reap_locked(void)
{
	struct wl_proc_exit *x = NULL;
	struct wcore_proc_rec *r;
	struct pollfd pf;
	siginfo_t si;
	size_t k, before, n = 0;
	int code;

	if (procs.n == 0)
		return false;
	x = calloc(procs.n, sizeof(*x));
	for (k = 0; k < procs.n; k++) {
		r = &procs.rec[k];
		if (r->done || r->pidfd < 0)
			continue;
		if (r->child) {
			memset(&si, 0, sizeof(si));
			if (waitid((idtype_t)P_PIDFD, (id_t)r->pidfd, &si,
			    WEXITED | WNOHANG) == 0) {
				if (si.si_pid == 0)
					continue;	/* running */
				code = si.si_code == CLD_EXITED ? si.si_status :
				    WAPI_EXIT_SIGNAL_BASE + si.si_status;
			} else if (errno == ECHILD)
				code = WAPI_EXIT_UNKNOWN;	/* reaped by someone else */
			else
				continue;
			wl_child_ended(k, code, x, &n);
		} else {
			pf.fd = r->pidfd;
			pf.events = POLLIN;
			pf.revents = 0;
			if (poll(&pf, 1, 0) <= 0)
				continue;
			if (x != NULL && r->number != 0)
				x[n++] = (struct wl_proc_exit){ r->number, r->idx,
				    r->pid, WAPI_EXIT_UNKNOWN, false };
			wcore_proc_done(r);
		}
	}
	before = procs.n;
	wcore_proc_compact(&procs);
	wl_exits_record(x, n);
	free(x);
	return procs.n != before;
}

static void
wl_reap(void)
{
	bool gone;

	pthread_mutex_lock(&proc_mu);
	gone = wl_reap_locked();
	pthread_mutex_unlock(&proc_mu);
	if (gone)
		wl_reaper_poke();	/* the reaper's set changed */
}

static void *
wl_reaper_main(void *arg)
{
	struct pollfd *pf = NULL, *np;
	size_t cap = 0, n, k;
	uint64_t v;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&proc_mu);
		if (cap < procs.n + 1) {
			np = reallocarray(pf, procs.n + 16, sizeof(*pf));
			if (np != NULL) {
				pf = np;
				cap = procs.n + 16;
			}
		}
		n = 0;
		if (pf != NULL) {
			pf[n].fd = reaper_wake;
			pf[n++].events = POLLIN;
			for (k = 0; k < procs.n && n < cap; k++)
				if (!procs.rec[k].done && procs.rec[k].pidfd >= 0) {
					pf[n].fd = procs.rec[k].pidfd;
					pf[n++].events = POLLIN;
				}
		}
		pthread_mutex_unlock(&proc_mu);
		if (pf == NULL) {
			usleep(10000);
			continue;
		}
		for (k = 0; k < n; k++)
			pf[k].revents = 0;
		if (poll(pf, n, -1) < 0)
			continue;
		if (pf[0].revents & POLLIN)
			(void)!read(reaper_wake, &v, sizeof(v));
		for (k = 1; k < n && pf[k].revents == 0; k++)
			;
		if (k == n)
			continue;	/* only the set changed */
		pthread_mutex_lock(&proc_mu);
		wl_reap_locked();
		pthread_mutex_unlock(&proc_mu);
	}
	return NULL;
}

static void
wl_proc_fork_prepare(void)
{
	pthread_mutex_lock(&proc_mu);
}

static void
wl_proc_fork_parent(void)
{
	pthread_mutex_unlock(&proc_mu);
}

static void
wl_proc_fork_child(void)
{
	wl_proc_reset(true);
}

static void
wl_proc_atfork(void)
{
	pthread_atfork(wl_proc_fork_prepare, wl_proc_fork_parent,
	    wl_proc_fork_child);
}

/* The reaper thread, started with the first private process.  proc_mu
 * held. */
static int
wl_reaper_start(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int r;

	if (reaper_on)
		return 0;
	if (reaper_wake < 0 &&
	    (reaper_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return errno;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* No signal of the program's is delivered to our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&t, &a, wl_reaper_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (r == 0)
		reaper_on = true;
	return r;
}

/* Before a private process is recorded: proc_mu taken, the records made
 * the current attachment's, room for one more and the reaper running.
 * 0 with proc_mu held, or an errno with it released. */
static int
wl_procs_enter(void)
{
	int r;

	pthread_once(&proc_once, wl_proc_atfork);
	pthread_mutex_lock(&proc_mu);
	wl_procs_adopt();
	if ((r = wcore_proc_reserve(&procs, WL_PROCS_FIRST)) != 0 ||
	    (r = wl_reaper_start()) != 0)
		pthread_mutex_unlock(&proc_mu);
	return r;
}

/* A process was recorded: release proc_mu and tell the reaper. */
static void
wl_procs_leave(void)
{
	pthread_mutex_unlock(&proc_mu);
	wl_reaper_poke();
}

void
wl_proc_reset(bool in_child)
{
	if (in_child) {
		/* The reaper is not in this process; those are not our
		 * children. */
		pthread_mutex_init(&proc_mu, NULL);
		wcore_proc_free(&procs);
		if (reaper_wake >= 0)
			close(reaper_wake);
		reaper_wake = -1;
		reaper_on = false;
		procs_map = NULL;
		return;
	}
	/* Detach: the children are still ours to reap. */
	pthread_mutex_lock(&proc_mu);
	wl_procs_orphan();
	procs_map = NULL;
	pthread_mutex_unlock(&proc_mu);
	wl_reaper_poke();
}

/* ------------------------------------------------------------- handles */

/* A new PROCESS handle (one reference of ours). */
static int
wl_proc_new(pid_t pid, uint32_t pflags, int64_t start, uint32_t *idx,
	    wapi_handle_t *number)
{
	struct wapi_handle_entry *e;
	bool existed;
	int r;

	wl_lock();
	r = wl_handle_new(WAPI_T_PROCESS, NULL, idx, &existed);
	if (r == 0) {
		e = WL_H(*idx);
		e->u.proc.pid = pid;
		e->u.proc.status = WAPI_STILL_ACTIVE;
		e->u.proc.start = start;
		e->u.proc.pflags = pflags;
		e->changed = wcore_now_ns();
		*number = wl_number(*idx);
	}
	wl_unlock();
	return r;
}

/* Drop the reference wl_proc_new took, after a failure. */
static void
wl_proc_undo(wapi_handle_t number)
{
	bool freed;
	int64_t i;

	wl_lock();
	i = wl_slot_of(number);
	if (i >= 0) {
		wcore_cref_sub(wl.map, wl.slot, (uint32_t)i, &freed);
		if (freed)
			wcore_wake_handle(wl.map, (uint32_t)i);
	}
	wl_unlock();
}

/* Take the table lock and find the slot of process handle h (adopting it
 * on first use): 0 with the lock held, or an error with it released. */
static int
wl_proc_lock(wapi_handle_t h, uint32_t *idx)
{
	int64_t i;
	int r;

	wl_lock();
	i = wl_slot_use_locked(h, &r);
	if (i < 0) {
		wl_unlock();
		return r;
	}
	if (WL_H(i)->type != WAPI_T_PROCESS) {
		wl_unlock();
		return WAPI_ETYPE;
	}
	*idx = (uint32_t)i;
	return 0;
}

/* Descriptor i for the child: the handle's, or our own standard one. */
static int
wl_stdio_fd(const wapi_handle_t stdio[3], int i, int *fd)
{
	if (stdio != NULL && stdio[i] != 0)
		return wapi_fd_get(stdio[i], fd);
	*fd = fcntl(i, F_GETFD) >= 0 ? i : -1;
	return 0;
}

static int
wl_spawn_shared(const char *const argv[], const char *const envp[],
		const char *cwd, const wapi_handle_t stdio[3],
		wapi_handle_t *out, pid_t *pidp)
{
	struct wcore_msg m;
	wapi_handle_t number;
	uint32_t idx, mask = 0, flags = WCORE_SPAWN_UMASK;
	int fds[4], nfds = 0, dirfd, fd, i, r;
	int32_t pid = 0;
	size_t len;
	void *buf;

	for (i = 0; i < 3; i++) {
		if ((r = wl_stdio_fd(stdio, i, &fd)) != 0)
			return r;
		if (fd >= 0) {
			mask |= 1u << i;
			fds[nfds++] = fd;
		}
	}
	/* Our directory, so that the helper's child starts where we are
	 * and a relative cwd means what the caller meant. */
	dirfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0) {
		flags |= WCORE_SPAWN_CWDFD;
		fds[nfds++] = dirfd;
	}
	r = wcore_spawn_pack(argv, envp != NULL ? envp :
	    (const char *const *)environ, cwd, mask, flags, &buf, &len);
	if (r != 0)
		goto out;
	if ((r = wl_proc_new(0, WCORE_PF_CHILD, 0, &idx, &number)) != 0) {
		free(buf);
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_SPAWN;
	m.handle = number;
	m.len = (uint32_t)len;
	r = wl_request(&m, buf, fds, nfds, &pid, NULL, NULL, 0);
	free(buf);
	if (r == EMSGSIZE)
		r = E2BIG;	/* more than the socket takes in one message */
	/* A helper that dies during a spawn is asked again (wl_request),
	 * and the next one answers from the slot, never running it twice;
	 * when that one died too, the command may have run all the same. */
	if (r == EPIPE || r == ECONNRESET || r == ENOTCONN)
		r = WAPI_EGONE;
	if (r == 0 && pid <= 0)
		r = EPROTO;
	if (r != 0) {
		wl_proc_undo(number);
		goto out;
	}
	*out = number;
	if (pidp != NULL)
		*pidp = pid;
out:
	if (dirfd >= 0)
		close(dirfd);
	return r;
}

static int
wl_spawn_private(const char *const argv[], const char *const envp[],
		 const char *cwd, const wapi_handle_t stdio[3],
		 wapi_handle_t *out, pid_t *pidp)
{
	wapi_handle_t number;
	uint32_t idx;
	int fds[3], i, r, pidfd;
	pid_t pid;
	int64_t slot;

	for (i = 0; i < 3; i++) {
		fds[i] = WCORE_SPAWN_INHERIT;
		if (stdio != NULL && stdio[i] != 0 &&
		    (r = wapi_fd_get(stdio[i], &fds[i])) != 0)
			return r;
	}
	pthread_once(&proc_once, wl_proc_atfork);
	if ((r = wl_proc_new(0, WCORE_PF_CHILD, 0, &idx, &number)) != 0)
		return r;
	r = wcore_spawn_start((char *const *)argv, envp != NULL ?
	    (char *const *)envp : environ, cwd, -1, -1, fds, number, &pid, &pidfd);
	if (r != 0) {
		wl_proc_undo(number);
		return r;
	}
	if ((r = wl_procs_enter()) != 0) {
		/* Untracked it would stay a zombie: end it now. */
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(pidfd);
		wl_proc_undo(number);
		return r;
	}
	wcore_proc_add(&procs, pid, pidfd, number, idx, true);
	wl_lock();
	slot = wcore_handle_slot(wl.map, number);
	if (slot >= 0 && (uint32_t)slot == idx) {
		WL_H(idx)->u.proc.pid = pid;
		WL_H(idx)->u.proc.start = wcore_now_ns();
		wl_changed(idx);
	}
	wl_unlock();
	wl_procs_leave();
	*out = number;
	if (pidp != NULL)
		*pidp = pid;
	return 0;
}

int
wapi_process_spawn(const char *const argv[], const char *const envp[],
		   const char *cwd, const wapi_handle_t stdio[3],
		   wapi_handle_t *out, pid_t *pid)
{
	if (argv == NULL || argv[0] == NULL || out == NULL)
		return wl_ret(WAPI_EINVAL);
	if (wl_ensure() != 0 || wl.mode == WL_NONE)
		return wl_ret(ENOMEM);
	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_SHARED)
		return wl_ret(wl_spawn_shared(argv, envp, cwd, stdio, out, pid));
	return wl_ret(wl_spawn_private(argv, envp, cwd, stdio, out, pid));
}

/* Shared mode: the helper watches process pid of handle number through
 * pidfd (ours stays ours to close). */
static int
wl_open_shared(pid_t pid, int pidfd, wapi_handle_t number)
{
	struct wcore_msg m;

	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_PROC_OPEN;
	m.handle = number;
	m.value = pid;
	return wl_request(&m, NULL, &pidfd, 1, NULL, NULL, NULL, 0);
}

/* Private mode: the reaper watches process pid of handle number (slot
 * idx) through pidfd, which it takes over; on failure pidfd is closed. */
static int
wl_open_private(pid_t pid, int pidfd, wapi_handle_t number, uint32_t idx)
{
	int r;

	if ((r = wl_procs_enter()) != 0) {
		close(pidfd);
		return r;
	}
	/* One of our own children: its exit code comes with its reap. */
	wcore_proc_add_opened(&procs, pid, pidfd, number, idx);
	wl_procs_leave();
	return 0;
}

int
wapi_process_open(pid_t pid, wapi_handle_t *out)
{
	wapi_handle_t number;
	uint32_t idx;
	int64_t start;
	int pidfd, r;

	if (pid <= 0 || out == NULL)
		return wl_ret(WAPI_EINVAL);
	if (wl_ensure() != 0 || wl.mode == WL_NONE)
		return wl_ret(ENOMEM);
	if ((pidfd = pidfd_open(pid, 0)) < 0)
		return wl_ret(errno);
	start = wcore_proc_start_ns(pid);
	r = wl_proc_new(pid, WCORE_PF_OPENED, start < 0 ? 0 : start, &idx,
	    &number);
	if (r != 0) {
		close(pidfd);
		return wl_ret(r);
	}
	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_SHARED) {
		r = wl_open_shared(pid, pidfd, number);
		close(pidfd);
	} else
		r = wl_open_private(pid, pidfd, number, idx);
	if (r != 0) {
		wl_proc_undo(number);
		return wl_ret(r);
	}
	*out = number;
	return wl_ret(0);
}

int
wapi_process_exit_code(wapi_handle_t h, int *code)
{
	struct wapi_handle_entry *e;
	uint32_t idx;
	int r;

	if (code == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_PRIVATE)
		wl_reap();
	if ((r = wl_proc_lock(h, &idx)) != 0)
		return wl_ret(r);
	e = WL_H(idx);
	*code = (e->flags & WAPI_HF_EXITED) ? e->u.proc.status :
	    WAPI_STILL_ACTIVE;
	wl_unlock();
	return wl_ret(0);
}

static int
wl_terminate_private(wapi_handle_t h, int exit_code)
{
	struct wapi_handle_entry *e;
	struct wcore_proc_rec *rec, *child;
	uint32_t idx, oldflags;
	int fd = -1, r;

	pthread_mutex_lock(&proc_mu);
	if ((r = wl_proc_lock(h, &idx)) != 0) {
		pthread_mutex_unlock(&proc_mu);
		return r;
	}
	e = WL_H(idx);
	if (wcore_proc_ending(e)) {
		wl_unlock();	/* ended, or ending: the first code stays */
		pthread_mutex_unlock(&proc_mu);
		return 0;
	}
	rec = wcore_proc_find(&procs, h, e->u.proc.pid);
	/* A handle linked to our child signals through the child's pidfd. */
	if (rec != NULL && rec->pidfd < 0 &&
	    (child = wcore_proc_child(&procs, rec->pid)) != NULL)
		fd = child->pidfd;
	if (rec != NULL && rec->pidfd >= 0)
		fd = rec->pidfd;
	if (fd < 0) {
		wl_unlock();
		pthread_mutex_unlock(&proc_mu);
		return ESRCH;
	}
	oldflags = wcore_proc_terminate_mark(e, exit_code);
	wl_unlock();
	r = pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0 || errno == ESRCH ?
	    0 : errno;
	if (r != 0) {
		wl_lock();
		wcore_proc_terminate_undo(wl.map, h, idx, oldflags);
		wl_unlock();
	}
	pthread_mutex_unlock(&proc_mu);
	return r;
}

int
wapi_process_terminate(wapi_handle_t h, int exit_code)
{
	struct wcore_msg m;
	uint32_t idx;
	int r;

	wl_ensure();
	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) != WL_SHARED)
		return wl_ret(wl_terminate_private(h, exit_code));
	if ((r = wl_proc_lock(h, &idx)) != 0)
		return wl_ret(r);
	wl_unlock();
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_TERMINATE;
	m.handle = h;
	m.value = exit_code;
	return wl_ret(wl_request(&m, NULL, NULL, 0, NULL, NULL, NULL, 0));
}
