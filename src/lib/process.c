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
 * is woken.  Lock order: pmu, then the table lock.
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

#include "spawnmsg.h"
#include "wapi-int.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct wl_prec {
	pid_t pid;
	int pidfd;		/* -1: linked to our child of the same pid */
	uint32_t number;	/* 0: its handle is gone, just reap */
	uint32_t idx;
	bool child;
	bool done;
};

struct wl_pexit {
	uint32_t number, idx;
	pid_t pid;
	int code;
	bool force;		/* code even over a terminate's */
};

static pthread_mutex_t pmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ponce = PTHREAD_ONCE_INIT;
static struct wl_prec *precs;
static size_t nprecs, capprecs;
static void *pmap;		/* the private attachment the records belong to: */
static int64_t pstamp;		/* its map and its client slot's attach time */
static int pwake = -1;		/* eventfd: the reaper's set changed */
static bool preaper_on;

/* The attach time of our client slot: a new private attachment may get the
 * same address (and the same handle numbers) as the last one. */
static int64_t
wl_pstamp_now(void)
{
	return WCORE_CLIENTS(wl.map)[wl.slot].attached;
}

/* Do the records belong to the current attachment?  pmu held. */
static bool
wl_pcurrent(void)
{
	return pmap != NULL && wl.map == pmap &&
	    __atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_PRIVATE &&
	    wl_pstamp_now() == pstamp;
}

static void
wl_pwake(void)
{
	uint64_t one = 1;

	if (pwake >= 0)
		(void)!write(pwake, &one, sizeof(one));
}

static int
wl_preserve(void)
{
	struct wl_prec *n;
	size_t cap;

	if (nprecs < capprecs)
		return 0;
	cap = capprecs == 0 ? 16 : capprecs * 2;
	if ((n = reallocarray(precs, cap, sizeof(*n))) == NULL)
		return ENOMEM;
	precs = n;
	capprecs = cap;
	return 0;
}

static void
wl_pdrop(struct wl_prec *r)
{
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->pidfd = -1;
	r->done = true;
}

static void
wl_pcompact(void)
{
	size_t k = 0, j;

	for (j = 0; j < nprecs; j++)
		if (!precs[j].done)
			precs[k++] = precs[j];
	nprecs = k;
}

/* Adopt the current attachment; records of an older one keep only the
 * duty to reap.  pmu held. */
static void
wl_padopt(void)
{
	size_t k;

	if (wl_pcurrent())
		return;
	for (k = 0; k < nprecs; k++) {
		if (precs[k].child)
			precs[k].number = 0;
		else
			wl_pdrop(&precs[k]);
	}
	wl_pcompact();
	pmap = wl.map;
	pstamp = wl_pstamp_now();
}

/* Record exits in the slots that still hold their handles.  pmu held. */
static void
wl_papply(const struct wl_pexit *x, size_t n)
{
	struct wapi_handle_entry *e;
	size_t k;
	int64_t i;

	if (n == 0 || !wl_pcurrent())
		return;
	wl_lock();
	for (k = 0; k < n; k++) {
		i = wcore_handle_slot(wl.map, x[k].number);
		if (i < 0 || (uint32_t)i != x[k].idx)
			continue;
		e = WL_H(i);
		/* The pid too: a new attachment at the same address has the
		 * same numbers, and the stamp is a coarse clock. */
		if (e->type != WAPI_T_PROCESS || (e->flags & WAPI_HF_EXITED) ||
		    e->u.proc.pid != x[k].pid)
			continue;
		if (x[k].force || !(e->u.proc.pflags & WCORE_PF_TERMINATE))
			e->u.proc.status = x[k].code;
		e->u.proc.exit = wcore_now_ns();
		e->flags |= WAPI_HF_EXITED;
		wl_changed((uint32_t)i);
	}
	wl_unlock();
}

/* A terminate's code on a handle of our child pid (its own or one linked
 * to it), else dflt.  pmu held. */
static int
wl_pgroup_code(pid_t pid, int dflt)
{
	struct wapi_handle_entry *e;
	size_t k;
	int64_t i;

	if (!wl_pcurrent())
		return dflt;
	wl_lock();
	for (k = 0; k < nprecs; k++) {
		if (precs[k].done || precs[k].pid != pid || precs[k].number == 0 ||
		    (!precs[k].child && precs[k].pidfd >= 0))
			continue;
		i = wcore_handle_slot(wl.map, precs[k].number);
		if (i < 0 || (uint32_t)i != precs[k].idx)
			continue;
		e = WL_H(i);
		if (e->type == WAPI_T_PROCESS && e->u.proc.pid == pid &&
		    (e->u.proc.pflags & WCORE_PF_TERMINATE) &&
		    !(e->flags & WAPI_HF_EXITED)) {
			dflt = e->u.proc.status;
			break;
		}
	}
	wl_unlock();
	return dflt;
}

/* Reap what ended, without blocking, and record it.  pmu held.  True
 * when records went. */
static bool
wl_pcheck_locked(void)
{
	struct wl_pexit *x = NULL;
	struct pollfd pf;
	siginfo_t si;
	size_t k, j, n = 0;
	int code;

	if (nprecs == 0)
		return false;
	x = calloc(nprecs, sizeof(*x));
	for (k = 0; k < nprecs; k++) {
		struct wl_prec *r = &precs[k];

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
			/* The child and the handles opened on it, all with
			 * the code a terminate asked for on any of them. */
			code = wl_pgroup_code(r->pid, code);
			for (j = 0; j < nprecs; j++) {
				if (precs[j].done || precs[j].pid != r->pid ||
				    (j != k && precs[j].pidfd >= 0))
					continue;
				if (x != NULL && precs[j].number != 0)
					x[n++] = (struct wl_pexit){ precs[j].number,
					    precs[j].idx, r->pid, code, true };
				wl_pdrop(&precs[j]);
			}
		} else {
			pf.fd = r->pidfd;
			pf.events = POLLIN;
			pf.revents = 0;
			if (poll(&pf, 1, 0) <= 0)
				continue;
			if (x != NULL && r->number != 0)
				x[n++] = (struct wl_pexit){ r->number, r->idx,
				    r->pid, WAPI_EXIT_UNKNOWN, false };
			wl_pdrop(r);
		}
	}
	j = nprecs;
	wl_pcompact();
	wl_papply(x, n);
	free(x);
	return nprecs != j;
}

static void
wl_pcheck(void)
{
	bool gone;

	pthread_mutex_lock(&pmu);
	gone = wl_pcheck_locked();
	pthread_mutex_unlock(&pmu);
	if (gone)
		wl_pwake();	/* the reaper's set changed */
}

static void *
wl_preaper(void *arg)
{
	struct pollfd *pf = NULL, *np;
	size_t cap = 0, n, k;
	uint64_t v;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pmu);
		if (cap < nprecs + 1) {
			np = reallocarray(pf, nprecs + 16, sizeof(*pf));
			if (np != NULL) {
				pf = np;
				cap = nprecs + 16;
			}
		}
		n = 0;
		if (pf != NULL) {
			pf[n].fd = pwake;
			pf[n++].events = POLLIN;
			for (k = 0; k < nprecs && n < cap; k++)
				if (!precs[k].done && precs[k].pidfd >= 0) {
					pf[n].fd = precs[k].pidfd;
					pf[n++].events = POLLIN;
				}
		}
		pthread_mutex_unlock(&pmu);
		if (pf == NULL) {
			usleep(10000);
			continue;
		}
		for (k = 0; k < n; k++)
			pf[k].revents = 0;
		if (poll(pf, n, -1) < 0)
			continue;
		if (pf[0].revents & POLLIN)
			(void)!read(pwake, &v, sizeof(v));
		for (k = 1; k < n && pf[k].revents == 0; k++)
			;
		if (k == n)
			continue;	/* only the set changed */
		pthread_mutex_lock(&pmu);
		wl_pcheck_locked();
		pthread_mutex_unlock(&pmu);
	}
	return NULL;
}

static void
wl_pfork_prepare(void)
{
	pthread_mutex_lock(&pmu);
}

static void
wl_pfork_parent(void)
{
	pthread_mutex_unlock(&pmu);
}

static void
wl_pfork_child(void)
{
	wl_proc_reset(true);
}

static void
wl_ponce(void)
{
	pthread_atfork(wl_pfork_prepare, wl_pfork_parent, wl_pfork_child);
}

/* The reaper thread, started with the first private process.  pmu held. */
static int
wl_preaper_start(void)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int r;

	if (preaper_on)
		return 0;
	if (pwake < 0 && (pwake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return errno;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* No signal of the program's is delivered to our thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&t, &a, wl_preaper, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (r == 0)
		preaper_on = true;
	return r;
}

void
wl_proc_reset(bool in_child)
{
	size_t k;

	if (in_child) {
		/* The reaper is not in this process; those are not our
		 * children. */
		pthread_mutex_init(&pmu, NULL);
		for (k = 0; k < nprecs; k++)
			if (precs[k].pidfd >= 0)
				close(precs[k].pidfd);
		free(precs);
		precs = NULL;
		nprecs = capprecs = 0;
		if (pwake >= 0)
			close(pwake);
		pwake = -1;
		preaper_on = false;
		pmap = NULL;
		return;
	}
	/* Detach: the children are still ours to reap. */
	pthread_mutex_lock(&pmu);
	for (k = 0; k < nprecs; k++) {
		if (precs[k].child)
			precs[k].number = 0;
		else
			wl_pdrop(&precs[k]);
	}
	wl_pcompact();
	pmap = NULL;
	pthread_mutex_unlock(&pmu);
	wl_pwake();
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

/* The slot of process handle h; lock held on success only. */
static int
wl_proc_begin(wapi_handle_t h, uint32_t *idx)
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
	pthread_once(&ponce, wl_ponce);
	if ((r = wl_proc_new(0, WCORE_PF_CHILD, 0, &idx, &number)) != 0)
		return r;
	r = wcore_spawn_start((char *const *)argv, envp != NULL ?
	    (char *const *)envp : environ, cwd, -1, -1, fds, number, &pid, &pidfd);
	if (r != 0) {
		wl_proc_undo(number);
		return r;
	}
	pthread_mutex_lock(&pmu);
	wl_padopt();
	if ((r = wl_preserve()) != 0 || (r = wl_preaper_start()) != 0) {
		pthread_mutex_unlock(&pmu);
		/* Untracked it would stay a zombie: end it now. */
		pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(pidfd);
		wl_proc_undo(number);
		return r;
	}
	precs[nprecs++] = (struct wl_prec){ .pid = pid, .pidfd = pidfd,
	    .number = number, .idx = idx, .child = true };
	wl_lock();
	slot = wcore_handle_slot(wl.map, number);
	if (slot >= 0 && (uint32_t)slot == idx) {
		WL_H(idx)->u.proc.pid = pid;
		WL_H(idx)->u.proc.start = wcore_now_ns();
		wl_changed(idx);
	}
	wl_unlock();
	pthread_mutex_unlock(&pmu);
	wl_pwake();
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

int
wapi_process_open(pid_t pid, wapi_handle_t *out)
{
	struct wcore_msg m;
	wapi_handle_t number;
	uint32_t idx;
	size_t k;
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
		memset(&m, 0, sizeof(m));
		m.type = WCORE_MSG_PROC_OPEN;
		m.handle = number;
		m.value = pid;
		r = wl_request(&m, NULL, &pidfd, 1, NULL, NULL, NULL, 0);
		close(pidfd);
		if (r != 0) {
			wl_proc_undo(number);
			return wl_ret(r);
		}
		*out = number;
		return wl_ret(0);
	}
	pthread_once(&ponce, wl_ponce);
	pthread_mutex_lock(&pmu);
	wl_padopt();
	if ((r = wl_preserve()) != 0 || (r = wl_preaper_start()) != 0) {
		pthread_mutex_unlock(&pmu);
		close(pidfd);
		wl_proc_undo(number);
		return wl_ret(r);
	}
	precs[nprecs] = (struct wl_prec){ .pid = pid, .pidfd = pidfd,
	    .number = number, .idx = idx };
	/* One of our own children: its exit code comes with its reap. */
	for (k = 0; k < nprecs; k++)
		if (precs[k].child && !precs[k].done && precs[k].pid == pid) {
			close(pidfd);
			precs[nprecs].pidfd = -1;
			break;
		}
	nprecs++;
	pthread_mutex_unlock(&pmu);
	wl_pwake();
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
		wl_pcheck();
	if ((r = wl_proc_begin(h, &idx)) != 0)
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
	struct wl_prec *rec = NULL;
	uint32_t idx, oldflags;
	int fd = -1, r;
	size_t k;

	pthread_mutex_lock(&pmu);
	if ((r = wl_proc_begin(h, &idx)) != 0) {
		pthread_mutex_unlock(&pmu);
		return r;
	}
	e = WL_H(idx);
	if ((e->flags & WAPI_HF_EXITED) ||
	    (e->u.proc.pflags & WCORE_PF_TERMINATE)) {
		wl_unlock();	/* ended, or ending: the first code stays */
		pthread_mutex_unlock(&pmu);
		return 0;
	}
	for (k = 0; k < nprecs; k++)
		if (!precs[k].done && precs[k].number == h &&
		    precs[k].pid == e->u.proc.pid)
			rec = &precs[k];
	/* A handle linked to our child signals through the child's pidfd. */
	for (k = 0; rec != NULL && rec->pidfd < 0 && k < nprecs; k++)
		if (precs[k].child && !precs[k].done && precs[k].pid == rec->pid)
			fd = precs[k].pidfd;
	if (rec != NULL && rec->pidfd >= 0)
		fd = rec->pidfd;
	if (fd < 0) {
		wl_unlock();
		pthread_mutex_unlock(&pmu);
		return ESRCH;
	}
	oldflags = e->u.proc.pflags;
	e->u.proc.pflags |= WCORE_PF_TERMINATE;
	e->u.proc.status = exit_code;
	wl_unlock();
	r = pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0 || errno == ESRCH ?
	    0 : errno;
	if (r != 0) {
		wl_lock();
		if (wcore_handle_slot(wl.map, h) == (int64_t)idx &&
		    !(e->flags & WAPI_HF_EXITED)) {
			e->u.proc.pflags = oldflags;
			e->u.proc.status = WAPI_STILL_ACTIVE;
		}
		wl_unlock();
	}
	pthread_mutex_unlock(&pmu);
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
	if ((r = wl_proc_begin(h, &idx)) != 0)
		return wl_ret(r);
	wl_unlock();
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_TERMINATE;
	m.handle = h;
	m.value = exit_code;
	return wl_ret(wl_request(&m, NULL, NULL, 0, NULL, NULL, NULL, 0));
}
