/*
 * Process handles in the helper.  The helper is the parent of every process
 * spawned through wapi (so it alone can read their exit status), reaps them
 * through a signalfd for SIGCHLD (it has no other children: it was started
 * by a double fork), and watches the pidfds of processes opened by pid,
 * whose exit status Unix does not give to a non-parent.  When a process
 * ends it records the exit code and time in the handle slot and wakes every
 * waiter, under the table lock and only if the slot still holds that handle
 * number; a slot freed or reused meanwhile changes nothing, the process is
 * reaped all the same.
 *
 * A process opened by pid that is one of our children is "linked": its
 * exit code comes from our reap, not from its pidfd.  A helper that starts
 * after another one died adopts the processes the slots still show running
 * as opened ones (their parent is gone, so their status is lost).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "proc.h"
#include "wapi.h"

#define SPAWN_SWEEP_NS		(2 * 1000000000LL)
#define SPAWN_MAX_POLL		1024
#define SPAWN_ADOPT_SLACK_NS	(30 * 1000000000LL)	/* pid reuse guard */
#define SPAWN_RECS_FIRST	64	/* records of the first block */
#define SPAWN_POLL_SIGFD	(-1)	/* pollmap: the signalfd, no record */
#define SPAWN_AWAIT_MS		5000	/* a sitter to write its pid */

/* Our children: pidfd -1 (reaped through SIGCHLD).  Opened processes:
 * their pidfd, or -1 when linked to a child of ours. */
static struct wcore_proc_table procs;
static int sigfd = -1;
static int pollmap[SPAWN_MAX_POLL];	/* pollfd position -> record */
static struct pollfd *extra;		/* pidfds beyond the poll set */
static size_t *extramap;
static size_t nextra_cap;
static int64_t last_sweep;

static void sp_exit(uint32_t number, pid_t pid, int code, bool force);
static int sp_pidfd_checked(const struct wapi_handle_entry *e);
static int sp_sitter_open(pid_t pid);

/* The live PROCESS slot of number that client c references; lock held. */
static int64_t
sp_slot(const struct helper_conn *c, uint32_t number)
{
	int64_t i = wcore_handle_slot(helper_map, number);

	if (i < 0 || WCORE_HANDLES(helper_map)[i].type != WAPI_T_PROCESS ||
	    c->slot < 0 ||
	    wcore_cref_count(helper_map, (uint32_t)c->slot, (uint32_t)i) == 0)
		return -1;
	return i;
}

/* Record the end of process pid of handle number (if the slot still holds
 * it): code, unless a terminate asked for another (or force). */
static void
sp_exit(uint32_t number, pid_t pid, int code, bool force)
{
	int64_t i;

	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return;
	i = wcore_handle_slot(helper_map, number);
	if (i >= 0 && wcore_proc_exited(&WCORE_HANDLES(helper_map)[i], pid,
	    code, force))
		wcore_handle_touch(helper_map, (uint32_t)i);
	wcore_table_unlock(helper_map);
}

/* The code a terminate asked for on any handle of the process whose records
 * are marked (in group), or dflt. */
static int
sp_group_code(const bool *in, int dflt)
{
	struct wapi_handle_entry *e;
	size_t k;
	int64_t i;

	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return dflt;
	for (k = 0; k < procs.n; k++) {
		if (!in[k] || (i = wcore_handle_slot(helper_map,
		    procs.rec[k].number)) < 0)
			continue;
		e = &WCORE_HANDLES(helper_map)[i];
		if (wcore_proc_terminating(e, procs.rec[k].pid)) {
			dflt = e->u.proc.status;
			break;
		}
	}
	wcore_table_unlock(helper_map);
	return dflt;
}

/* Our sitter pid ended with wait status st.  One that exits 0 recorded
 * its child's end (in every slot of it): its records go.  Otherwise its
 * child, if it still was one, is ours now (we are a subreaper) and its end
 * comes with our own reap. */
static void
sp_sitter_ended(pid_t pid, int st)
{
	struct wcore_proc_rec *r;
	size_t k, j;

	for (k = 0; k < procs.n; k++) {
		r = &procs.rec[k];
		if (r->done || r->sitter != pid || !r->child)
			continue;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (r->pidfd >= 0)
				close(r->pidfd);
			r->pidfd = -1;
			r->sitter = 0;
			continue;
		}
		for (j = 0; j < procs.n; j++)
			if (j != k && !procs.rec[j].done &&
			    procs.rec[j].pid == r->pid &&
			    !procs.rec[j].child && procs.rec[j].pidfd < 0)
				wcore_proc_done(&procs.rec[j]);	/* linked */
		wcore_proc_done(r);
	}
}

/* Reap every child that ended; no zombie stays.  All the handles of one
 * child (its own and those opened on it) get the same code. */
static void
sp_reap(void)
{
	struct signalfd_siginfo si;
	pid_t pid;
	size_t k;
	bool *in;
	int st, code;

	while (read(sigfd, &si, sizeof(si)) > 0)
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		sp_sitter_ended(pid, st);
		code = wcore_spawn_code(st, WAPI_EXIT_SIGNAL_BASE);
		if ((in = calloc(procs.n + 1, sizeof(*in))) == NULL)
			continue;	/* reaped all the same */
		/* A process of ours, reaped by us: its sitter died before
		 * it could (or it had none). */
		for (k = 0; k < procs.n; k++)
			in[k] = procs.rec[k].pid == pid && !procs.rec[k].done &&
			    (procs.rec[k].child || procs.rec[k].pidfd < 0);
		code = sp_group_code(in, code);
		for (k = 0; k < procs.n; k++)
			if (in[k]) {
				sp_exit(procs.rec[k].number, pid, code, true);
				wcore_proc_done(&procs.rec[k]);
			}
		free(in);
	}
}

/* Forget opened processes whose handle is gone: nobody waits for them. */
static void
sp_sweep(void)
{
	size_t k;
	int64_t i;

	if (wcore_table_lock(helper_map, 1000, NULL) != 0)
		return;
	for (k = 0; k < procs.n; k++) {
		if (procs.rec[k].child || procs.rec[k].done)
			continue;
		i = wcore_handle_slot(helper_map, procs.rec[k].number);
		if (i < 0 || (uint32_t)i != procs.rec[k].idx)
			wcore_proc_done(&procs.rec[k]);
	}
	wcore_table_unlock(helper_map);
}

/* Adopt the process of slot i that a dead helper left (lock held).  A
 * sitter still running records its end itself: we watch the sitter, in
 * case it dies first.  Else the process is watched as an opened one
 * (its status went with its parent); one gone, or a claim whose sitter
 * died before a pid came, ends now with WAPI_EXIT_UNKNOWN. */
static void
sp_adopt(uint32_t i)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(helper_map)[i];
	pid_t sitter = e->u.proc.sitter;
	int fd = -1;

	if (e->type != WAPI_T_PROCESS || e->refs == 0 ||
	    (e->flags & WAPI_HF_EXITED) || (e->u.proc.pid <= 0 && sitter == 0))
		return;
	if (wcore_proc_reserve(&procs, SPAWN_RECS_FIRST) == 0) {
		fd = sitter != 0 ? sp_sitter_open(sitter) : -1;
		if (fd < 0)
			sitter = 0;
		if (fd < 0)
			fd = sp_pidfd_checked(e);
	}
	if (fd < 0) {
		wcore_proc_exited(e, e->u.proc.pid, WAPI_EXIT_UNKNOWN, false);
		wcore_handle_touch(helper_map, i);
		return;
	}
	wcore_proc_add(&procs, e->u.proc.pid, fd,
	    wcore_handle_number(i, e->generation), i, false);
	procs.rec[procs.n - 1].sitter = sitter;
}

void
spawn_init(void)
{
	struct wapi_header *h = helper_map;
	sigset_t set;
	uint32_t i;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	/* The children of a sitter that dies become ours, so that their
	 * status is still read (and orphans of spawned commands reaped). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	last_sweep = wcore_now_mono_ns();
	if (wcore_table_lock(helper_map, 5000, NULL) != 0)
		return;
	for (i = 0; i < h->handle_hwm && i < h->regions[WAPI_R_HANDLES].capacity;
	    i++)
		sp_adopt(i);
	wcore_table_unlock(helper_map);
}

/* Is the pidfd of r watched?  Not the one a sitter's child record keeps
 * for a terminate: the sitter reaps that process and records its end. */
static bool
sp_polled(const struct wcore_proc_rec *r)
{
	return !r->done && r->pidfd >= 0 && !r->child;
}

/* A pidfd of the process of slot e (lock held) when it is still the one
 * the slot recorded (started near u.proc.start), else -1. */
static int
sp_pidfd_checked(const struct wapi_handle_entry *e)
{
	int64_t started;
	int fd;

	if (e->u.proc.pid <= 0 || (fd = pidfd_open(e->u.proc.pid, 0)) < 0)
		return -1;
	started = wcore_proc_start_ns(e->u.proc.pid);
	if (e->u.proc.start != 0 && (started < 0 ||
	    started > e->u.proc.start + SPAWN_ADOPT_SLACK_NS ||
	    started < e->u.proc.start - SPAWN_ADOPT_SLACK_NS)) {
		close(fd);	/* that pid is another process now */
		return -1;
	}
	return fd;
}

/* The sitter a dead helper left, watched through record r, ended.  Having
 * recorded the end, it changed nothing more; else its child is watched as
 * an opened process (its status is lost with the sitter), or, gone too or
 * never started, ends with WAPI_EXIT_UNKNOWN. */
static void
sp_sitter_lost(struct wcore_proc_rec *r)
{
	struct wapi_handle_entry *e;
	int64_t i;
	int fd;

	close(r->pidfd);
	r->pidfd = -1;
	r->sitter = 0;
	if (wcore_table_lock(helper_map, -1, NULL) != 0) {
		wcore_proc_done(r);
		return;
	}
	i = wcore_handle_slot(helper_map, r->number);
	e = i >= 0 ? &WCORE_HANDLES(helper_map)[i] : NULL;
	if (e == NULL || (e->flags & WAPI_HF_EXITED))
		wcore_proc_done(r);
	else if ((fd = sp_pidfd_checked(e)) >= 0) {
		r->pid = e->u.proc.pid;
		r->pidfd = fd;
	} else {
		if (wcore_proc_exited(e, e->u.proc.pid, WAPI_EXIT_UNKNOWN,
		    false))
			wcore_handle_touch(helper_map, (uint32_t)i);
		wcore_proc_done(r);
	}
	wcore_table_unlock(helper_map);
}

/* The pidfd of record r is readable: its process (or sitter) ended. */
static void
sp_fired(struct wcore_proc_rec *r)
{
	if (r->sitter != 0) {
		sp_sitter_lost(r);
		return;
	}
	sp_exit(r->number, r->pid, WAPI_EXIT_UNKNOWN, false);
	wcore_proc_done(r);
}

/* Check the pidfds that did not fit in the poll set, without waiting. */
static void
sp_check_extra(size_t from)
{
	struct pollfd *np;
	size_t *nm, n = 0, k, cap;

	for (k = from; k < procs.n; k++)
		if (sp_polled(&procs.rec[k]))
			n++;
	if (n == 0)
		return;
	if (n > nextra_cap) {
		cap = n * 2;
		if ((np = reallocarray(extra, cap, sizeof(*np))) == NULL)
			return;
		extra = np;
		if ((nm = reallocarray(extramap, cap, sizeof(*nm))) == NULL)
			return;
		extramap = nm;
		nextra_cap = cap;
	}
	for (n = 0, k = from; k < procs.n; k++)
		if (sp_polled(&procs.rec[k])) {
			extra[n].fd = procs.rec[k].pidfd;
			extra[n].events = POLLIN;
			extra[n].revents = 0;
			extramap[n++] = k;
		}
	if (poll(extra, n, 0) <= 0)
		return;
	for (k = 0; k < n; k++)
		if (extra[k].revents != 0)
			sp_fired(&procs.rec[extramap[k]]);
}

int
spawn_pollfds(struct pollfd *p, int max)
{
	int64_t now = wcore_now_mono_ns();
	size_t k;
	int n = 0;

	if (now - last_sweep >= SPAWN_SWEEP_NS) {
		last_sweep = now;
		sp_sweep();
	}
	wcore_proc_compact(&procs);
	if (max > SPAWN_MAX_POLL)
		max = SPAWN_MAX_POLL;
	if (sigfd >= 0 && n < max) {
		p[n].fd = sigfd;
		p[n].events = POLLIN;
		p[n].revents = 0;
		pollmap[n++] = SPAWN_POLL_SIGFD;
	}
	for (k = 0; k < procs.n; k++) {
		if (!sp_polled(&procs.rec[k]))
			continue;
		if (n == max) {
			sp_check_extra(k);
			break;
		}
		p[n].fd = procs.rec[k].pidfd;
		p[n].events = POLLIN;
		p[n].revents = 0;
		pollmap[n++] = (int)k;
	}
	return n;
}

void
spawn_ready(const struct pollfd *p, int n)
{
	struct wcore_proc_rec *r;
	int i;

	for (i = 0; i < n && i < SPAWN_MAX_POLL; i++) {
		if (p[i].revents == 0)
			continue;
		if (pollmap[i] == SPAWN_POLL_SIGFD) {
			if (p[i].fd == sigfd)
				sp_reap();
			continue;
		}
		if ((size_t)pollmap[i] >= procs.n)
			continue;
		r = &procs.rec[pollmap[i]];
		if (r->done || r->pidfd != p[i].fd)
			continue;
		sp_fired(r);
	}
}

void
spawn_fini(void)
{
	/* Children keep running (the process of a handle outlives us). */
	wcore_proc_free(&procs);
	free(extra);
	free(extramap);
	extra = NULL;
	extramap = NULL;
	nextra_cap = 0;
	if (sigfd >= 0)
		close(sigfd);
	sigfd = -1;
}

/* What a SPAWN for a slot finds there (table lock held). */
enum sp_claim { SP_FRESH, SP_STARTED, SP_PENDING, SP_LOST, SP_BAD };

/* The state of the spawn of handle number for client c: SP_FRESH (nobody
 * claimed it), SP_STARTED (a sitter runs it: *pid, its process), SP_PENDING
 * (claimed by sitter *sitter, no pid yet), SP_LOST (claimed, but the
 * process that claimed it died before a pid came), SP_BAD. */
static enum sp_claim
sp_claim_state(const struct helper_conn *c, uint32_t number, int64_t *idx,
	       pid_t *pid, pid_t *sitter)
{
	struct wapi_handle_entry *e;

	if ((*idx = sp_slot(c, number)) < 0)
		return SP_BAD;
	e = &WCORE_HANDLES(helper_map)[*idx];
	*pid = e->u.proc.pid;
	*sitter = e->u.proc.sitter;
	if (!(e->u.proc.pflags & WCORE_PF_CHILD))
		return SP_BAD;
	if (*sitter == 0)
		return *pid == 0 && !(e->flags & WAPI_HF_EXITED) ? SP_FRESH :
		    SP_BAD;
	if (*pid > 0)
		return SP_STARTED;
	return (e->flags & WAPI_HF_EXITED) ? SP_LOST : SP_PENDING;
}

/* A pidfd of sitter pid, if that pid is indeed a sitter; else -1. */
static int
sp_sitter_open(pid_t pid)
{
	char path[64], comm[32];
	ssize_t n;
	int fd, cf;

	if (pid <= 0 || (fd = pidfd_open(pid, 0)) < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = -1;
	if ((cf = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(cf, comm, sizeof(comm) - 1);
		close(cf);
	}
	if (n <= 0 || strncmp(comm, "wapi-sitter\n", (size_t)n) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A SPAWN of a handle a sitter claimed (the client resent its request: a
 * helper died during it): the pid once the sitter wrote it, or WAPI_EGONE
 * when the sitter ended without (the command may have run).  Waits at most
 * SPAWN_AWAIT_MS: a sitter writes its pid as soon as the exec is done. */
static int
sp_await(const struct helper_conn *c, uint32_t number, pid_t *pid)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	enum sp_claim st;
	int64_t idx;
	pid_t sitter;
	int waited;

	for (waited = 0; waited <= SPAWN_AWAIT_MS; waited += 2) {
		if (wcore_table_lock(helper_map, -1, NULL) != 0)
			break;
		st = sp_claim_state(c, number, &idx, pid, &sitter);
		wcore_table_unlock(helper_map);
		if (st != SP_PENDING)
			break;
		if (p.fd < 0 && (p.fd = sp_sitter_open(sitter)) < 0) {
			st = SP_LOST;
			break;
		}
		if (poll(&p, 1, 2) > 0) {
			/* It ended: one last look. */
			if (wcore_table_lock(helper_map, -1, NULL) == 0) {
				st = sp_claim_state(c, number, &idx, pid,
				    &sitter);
				wcore_table_unlock(helper_map);
			}
			if (st == SP_PENDING)
				st = SP_LOST;
			break;
		}
	}
	if (p.fd >= 0)
		close(p.fd);
	if (waited > SPAWN_AWAIT_MS || st == SP_PENDING || st == SP_LOST)
		return WAPI_EGONE;
	return st == SP_STARTED ? 0 : WAPI_EBADHANDLE;
}

/* Write sitter's claim on the slot idx of handle number, if it is still
 * fresh (its client may have closed it meanwhile). */
static int
sp_claim(const struct helper_conn *c, uint32_t number, pid_t sitter)
{
	int64_t idx;
	pid_t pid, old;
	int r;

	if ((r = wcore_table_lock(helper_map, -1, NULL)) != 0)
		return r;
	if (sp_claim_state(c, number, &idx, &pid, &old) == SP_FRESH)
		WCORE_HANDLES(helper_map)[idx].u.proc.sitter = sitter;
	else
		r = WAPI_EBADHANDLE;
	wcore_table_unlock(helper_map);
	return r;
}

/* Fork the sitter of job j (j->sock set here): its pid, or -errno; *sock
 * is our end. */
static pid_t
sp_sitter_fork(struct sitter_job *j, int *sock)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	j->sock = sv[1];
	if ((pid = fork()) == 0) {
		close(sv[0]);
		sitter_main(j);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -errno;
	}
	*sock = sv[0];
	return pid;
}

/* Start the spawn of a fresh handle through a sitter: 0 with *pid, or the
 * error to reply.  Our record of it: the child's pid, a pidfd of it (for
 * a terminate: the sitter reaps it, not we), and the sitter's pid. */
static int
sp_run(const struct helper_conn *c, const struct wcore_msg *m,
       struct sitter_job *j, pid_t *pid)
{
	struct wcore_msg rep;
	pid_t sitter;
	int sock = -1, pidfd = -1, r;

	/* Room for the record first: a process we could not track would
	 * never be reaped. */
	if ((r = wcore_proc_reserve(&procs, SPAWN_RECS_FIRST)) != 0)
		return r;
	if ((sitter = sp_sitter_fork(j, &sock)) < 0)
		return -sitter;
	if ((r = sp_claim(c, m->handle, sitter)) != 0) {
		close(sock);	/* it leaves at once, having run nothing */
		return r;
	}
	r = write(sock, "g", 1) == 1 ? wcore_msg_recv(sock, &rep, NULL, 0,
	    &pidfd) : errno;
	close(sock);
	if (r == 0 && rep.error != 0)
		return rep.error;
	if (r == 0 && rep.value > 0)
		*pid = rep.value;
	else if (pidfd >= 0) {
		close(pidfd);
		pidfd = -1;
	}
	/* It died after the go: its pid may be in the slot all the same
	 * (then the child is ours now, as our grandchild: we are a
	 * subreaper). */
	if ((r != 0 || rep.value <= 0) && (r = sp_await(c, m->handle, pid)) != 0)
		return r;
	wcore_proc_add(&procs, *pid, pidfd, m->handle, j->idx, true);
	procs.rec[procs.n - 1].sitter = sitter;
	return 0;
}

static void
sp_spawn(struct helper_conn *c, const struct wcore_msg *m, const void *payload,
	 size_t len, int *fds, int nfds)
{
	struct wcore_spawn_req req;
	struct sitter_job j = { .req = &req, .dirfd = -1, .number = m->handle };
	enum sp_claim st = SP_BAD;
	int k = 0, i, r;
	int64_t idx = -1;
	pid_t pid = 0, sitter;

	if ((r = wcore_spawn_unpack(payload, len, &req)) != 0) {
		helper_reply(c->fd, r, 0, NULL, 0);
		return;
	}
	if (nfds != wcore_spawn_nfds(&req)) {
		r = EPROTO;
		goto out;
	}
	if ((r = wcore_table_lock(helper_map, -1, NULL)) != 0)
		goto out;
	st = sp_claim_state(c, m->handle, &idx, &pid, &sitter);
	wcore_table_unlock(helper_map);
	if (st == SP_BAD)
		r = WAPI_EBADHANDLE;
	else if (st != SP_FRESH)	/* asked again: never run it twice */
		r = sp_await(c, m->handle, &pid);
	if (st != SP_FRESH)
		goto out;
	j.idx = (uint32_t)idx;
	for (i = 0; i < 3; i++)
		j.stdio[i] = (req.stdio_mask & (1u << i)) ? fds[k++] :
		    WCORE_SPAWN_NULL;
	if (req.flags & WCORE_SPAWN_CWDFD)
		j.dirfd = fds[k++];
	r = sp_run(c, m, &j, &pid);
out:
	wcore_spawn_req_free(&req);
	while (nfds > 0)
		close(fds[--nfds]);
	helper_reply(c->fd, r, r == 0 ? pid : 0, NULL, 0);
}

/* The pid a pidfd refers to (its fdinfo), 0 when it ended; -EBADF when
 * fd is not a pidfd, -errno when its fdinfo cannot be read. */
static pid_t
sp_pidfd_pid(int fd)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	long v;
	int f, e;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(f, buf, sizeof(buf) - 1);
	e = errno;
	close(f);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	if (n == 0 || (p = strstr(buf, "\nPid:\t")) == NULL)
		return -EBADF;
	v = strtol(p + 6, NULL, 10);
	return v > 0 ? (pid_t)v : 0;
}

/* The slot of handle number for a PROC_OPEN of process pid (0: ended) by
 * client c: 0 with *idx and the slot's *slot_pid, WAPI_EBADHANDLE when it
 * is not a running opened process that c references, EPROTO when the
 * descriptor that came is another process's, or the table lock's errno. */
static int
sp_opened_slot(const struct helper_conn *c, uint32_t number, pid_t pid,
	       int64_t *idx, pid_t *slot_pid)
{
	struct wapi_handle_entry *e;
	int r;

	if ((r = wcore_table_lock(helper_map, -1, NULL)) != 0)
		return r;
	*idx = sp_slot(c, number);
	if (*idx < 0)
		r = WAPI_EBADHANDLE;
	else {
		e = &WCORE_HANDLES(helper_map)[*idx];
		*slot_pid = e->u.proc.pid;
		if ((e->flags & WAPI_HF_EXITED) || *slot_pid <= 0 ||
		    !(e->u.proc.pflags & WCORE_PF_OPENED))
			r = WAPI_EBADHANDLE;
		else if (pid != 0 && *slot_pid != pid)
			r = EPROTO;
	}
	wcore_table_unlock(helper_map);
	return r;
}

static void
sp_open(struct helper_conn *c, const struct wcore_msg *m, int *fds, int nfds)
{
	pid_t pid = -1, slot_pid = 0;
	int64_t idx = -1;
	int r = 0;

	if (nfds != 1 || (pid = sp_pidfd_pid(fds[0])) < 0) {
		r = EPROTO;
		goto out;
	}
	if ((r = wcore_proc_reserve(&procs, SPAWN_RECS_FIRST)) != 0 ||
	    (r = sp_opened_slot(c, m->handle, pid, &idx, &slot_pid)) != 0)
		goto out;
	if (pid == 0) {			/* ended already */
		sp_exit(m->handle, slot_pid, WAPI_EXIT_UNKNOWN, false);
		goto out;
	}
	/* Our own child: its real exit code will come from the reap. */
	wcore_proc_add_opened(&procs, pid, fds[0], m->handle, (uint32_t)idx);
	nfds = 0;
out:
	while (nfds > 0)
		close(fds[--nfds]);
	helper_reply(c->fd, r, 0, NULL, 0);
}

/* Mark a terminate of handle number by client c with code, under the
 * table lock: 0 with *rec to signal, *idx and *oldflags; 0 with *rec NULL
 * when the process ended or is ending (the first code stays); else the
 * error to reply. */
static int
sp_terminate_mark(const struct helper_conn *c, uint32_t number, int code,
		  struct wcore_proc_rec **rec, int64_t *idx, uint32_t *oldflags)
{
	struct wapi_handle_entry *e;
	int r = 0;

	*rec = NULL;
	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return EIO;
	*idx = sp_slot(c, number);
	if (*idx < 0) {
		wcore_table_unlock(helper_map);
		return WAPI_EBADHANDLE;
	}
	e = &WCORE_HANDLES(helper_map)[*idx];
	*rec = wcore_proc_find(&procs, number, e->u.proc.pid);
	if (wcore_proc_ending(e))
		*rec = NULL;
	else if (*rec == NULL)
		r = ESRCH;	/* not ours to watch (a spawn not yet recorded) */
	else
		*oldflags = wcore_proc_terminate_mark(e, code);
	wcore_table_unlock(helper_map);
	return r;
}

/* SIGKILL to the process of record r (handle number, slot idx): 0 or
 * errno. */
static int
sp_signal(const struct wcore_proc_rec *r, uint32_t number, uint32_t idx)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(helper_map)[idx];
	bool same;
	int fd, err;

	/* An unreaped child of ours (or linked to one) has its own pid; our
	 * sitters' children and opened processes have a pidfd. */
	if (r->sitter == 0 || r->child)
		return (r->pidfd < 0 ? kill(r->pid, SIGKILL) :
		    pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0)) == 0 ? 0 :
		    errno;
	/* A dead helper's sitter's child: its sitter marks the slot exited
	 * before it reaps it, so a pidfd taken while the slot is unmarked
	 * is that process's. */
	if ((fd = pidfd_open(r->pid, 0)) < 0)
		return errno;
	if (wcore_table_lock(helper_map, -1, NULL) != 0) {
		close(fd);
		return EIO;
	}
	same = wcore_handle_slot(helper_map, number) == (int64_t)idx &&
	    !(e->flags & WAPI_HF_EXITED) && e->u.proc.pid == r->pid;
	wcore_table_unlock(helper_map);
	err = !same ? ESRCH : pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0 ?
	    0 : errno;
	close(fd);
	return err;
}

static void
sp_terminate(struct helper_conn *c, const struct wcore_msg *m)
{
	struct wcore_proc_rec *r;
	uint32_t oldflags;
	int64_t idx;
	int err;

	err = sp_terminate_mark(c, m->handle, m->value, &r, &idx, &oldflags);
	if (err != 0 || r == NULL) {
		helper_reply(c->fd, err, 0, NULL, 0);
		return;
	}
	err = sp_signal(r, m->handle, (uint32_t)idx);
	if (err == ESRCH)
		err = 0;	/* ended meanwhile: its pidfd will tell */
	if (err != 0 && wcore_table_lock(helper_map, -1, NULL) == 0) {
		wcore_proc_terminate_undo(helper_map, m->handle, (uint32_t)idx,
		    oldflags);
		wcore_table_unlock(helper_map);
	}
	helper_reply(c->fd, err, 0, NULL, 0);
}

void
spawn_message(struct helper_conn *c, const struct wcore_msg *m,
	      const void *payload, size_t len, int *fds, int nfds)
{
	switch (m->type) {
	case WCORE_MSG_SPAWN:
		sp_spawn(c, m, payload, len, fds, nfds);
		return;
	case WCORE_MSG_PROC_OPEN:
		sp_open(c, m, fds, nfds);
		return;
	case WCORE_MSG_TERMINATE:
		while (nfds > 0)
			close(fds[--nfds]);
		sp_terminate(c, m);
		return;
	default:
		while (nfds > 0)
			close(fds[--nfds]);
		helper_reply(c->fd, EOPNOTSUPP, 0, NULL, 0);
	}
}
