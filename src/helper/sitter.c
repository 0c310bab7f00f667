/*
 * The sitter of a spawned process (wapi-helper(8); doc/design.md,
 * "Processes").  For each SPAWN the helper forks a sitter, which starts
 * the command, is its parent, and records its end in the handle's slot
 * itself, under the table lock, waking the waiters.  A child's status goes
 * only to its parent, and the children of a dead helper are reparented out
 * of reach of the next one: with the helper as their parent, a helper
 * killed while they ran lost their exits.  The sitter outlives the helper.
 *
 * Its claim on the spawn is its pid in the slot (u.proc.sitter), written
 * by the helper before the go byte; the child's pid follows as soon as it
 * runs, written by the sitter.  A helper that gets the same SPAWN again
 * (its client resent it after the last helper died) finds the claim and
 * answers with that pid instead of running the command a second time.
 *
 * The sitter keeps no descriptor of the helper's: the helper's lock bytes
 * (open file description locks), its listening socket and its clients'
 * connections must end with the helper, not with the last sitter.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "proc.h"
#include "wapi.h"

#define SITTER_MATCH_NS	(2 * 1000000000LL)	/* an opened slot's start */

/* Close every descriptor but the n of keep (any order, -1 ignored). */
static void
sit_close_others(const int *keep, int n)
{
	int lo = 0, next, i;

	for (;;) {
		next = -1;
		for (i = 0; i < n; i++)
			if (keep[i] >= lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			break;
		if (next > lo)
			close_range((unsigned)lo, (unsigned)next - 1, 0);
		lo = next + 1;
	}
	close_range((unsigned)lo, ~0u, 0);
}

/*
 * Our own mapping of the state file, through a new open file description:
 * a mapping holds on to the file description it was made from, and the
 * helper's carries its lock bytes (doc/design.md, "Liveness"), which must
 * go with the helper, not with us.  0, or errno.
 */
static int
sit_remap(void)
{
	struct stat st;
	char path[64];
	void *p;
	int fd, e;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", helper_mapfd());
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		return e;
	}
	p = mmap(NULL, helper_maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	e = errno;
	close(fd);
	if (p == MAP_FAILED)
		return e;
	wcore_seg_advise(p, helper_maplen);
	wcore_unguard(helper_map);
	munmap(helper_map, helper_maplen);
	helper_map = p;
	(void)wcore_guard(helper_map);
	return 0;
}

/* Does slot e (lock held) show handle number, still claimed by us? */
static bool
sit_mine(uint32_t number, uint32_t idx)
{
	return wcore_handle_slot(helper_map, number) == (int64_t)idx &&
	    WCORE_HANDLES(helper_map)[idx].u.proc.sitter == getpid();
}

/* The child runs (pid): into the slot, unless the handle went. */
static void
sit_record_pid(const struct sitter_job *j, pid_t pid)
{
	struct wapi_handle_entry *e;

	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return;
	if (sit_mine(j->number, j->idx)) {
		e = &WCORE_HANDLES(helper_map)[j->idx];
		e->u.proc.pid = pid;
		e->u.proc.start = wcore_now_ns();
		wcore_handle_touch(helper_map, j->idx);
	}
	wcore_table_unlock(helper_map);
}

/* It did not start: the slot is fresh again (nothing ran, so a resent
 * request may try again and gets the same error). */
static void
sit_unclaim(const struct sitter_job *j)
{
	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return;
	if (sit_mine(j->number, j->idx) &&
	    WCORE_HANDLES(helper_map)[j->idx].u.proc.pid == 0)
		WCORE_HANDLES(helper_map)[j->idx].u.proc.sitter = 0;
	wcore_table_unlock(helper_map);
}

/* Is slot e a handle of our child pid (started at start ns, by the
 * process's clock) that still waits for its end?  Our own slot, or one
 * opened by pid on it (the pid cannot be another's: it is unreaped). */
static bool
sit_holds(const struct wapi_handle_entry *e, const struct sitter_job *j,
	  uint32_t i, pid_t pid, int64_t start)
{
	if (e->type != WAPI_T_PROCESS || e->refs == 0 ||
	    (e->flags & WAPI_HF_EXITED) || e->u.proc.pid != pid)
		return false;
	if (i == j->idx)
		return e->u.proc.sitter == getpid();
	return (e->u.proc.pflags & WCORE_PF_OPENED) && (start < 0 ||
	    e->u.proc.start == 0 || (e->u.proc.start > start - SITTER_MATCH_NS &&
	    e->u.proc.start < start + SITTER_MATCH_NS));
}

/* The end of our child pid with code: every handle of it gets the same
 * code, a terminate's (asked on any of them) before the real one.  False
 * when the table lock could not be had. */
static bool
sit_record_exit(const struct sitter_job *j, pid_t pid, int64_t start,
		int code)
{
	struct wapi_header *h = helper_map;
	struct wapi_handle_entry *e;
	uint32_t i, end;

	if (wcore_table_lock(helper_map, -1, NULL) != 0)
		return false;
	end = h->handle_hwm < h->regions[WAPI_R_HANDLES].capacity ?
	    h->handle_hwm : h->regions[WAPI_R_HANDLES].capacity;
	for (i = 0; i < end; i++) {
		e = &WCORE_HANDLES(helper_map)[i];
		if (sit_holds(e, j, i, pid, start) &&
		    wcore_proc_terminating(e, pid)) {
			code = e->u.proc.status;
			break;
		}
	}
	for (i = 0; i < end; i++) {
		e = &WCORE_HANDLES(helper_map)[i];
		if (sit_holds(e, j, i, pid, start) &&
		    wcore_proc_exited(e, pid, code, true))
			wcore_handle_touch(helper_map, i);
	}
	wcore_table_unlock(helper_map);
	return true;
}

/* Tell the helper (if it still listens): the child's pid and a pidfd of
 * it, or the errno of the start. */
static void
sit_report(int sock, pid_t pid, int pidfd, int err)
{
	struct wcore_msg m = { .type = WCORE_MSG_OK, .value = pid,
	    .error = err };

	wcore_msg_send(sock, &m, NULL, pidfd);
}

/* Wait for the end of child pid without reaping it, so that its pid stays
 * its own while the slots are matched: its exit code. */
static int
sit_wait(pid_t pid)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
			break;
		if (errno != EINTR)
			return WAPI_EXIT_UNKNOWN;
	}
	return si.si_code == CLD_EXITED ? si.si_status :
	    WAPI_EXIT_SIGNAL_BASE + si.si_status;
}

static void
sit_signals(void)
{
	sigset_t none;

	/* Only the helper is asked to stop; ending us only loses an exit.
	 * (The child gets default dispositions: wcore_spawn_start.) */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void
sitter_main(const struct sitter_job *j)
{
	int keep[5] = { j->sock, j->dirfd, j->stdio[0], j->stdio[1],
	    j->stdio[2] }, pidfd = -1, r, code;
	int64_t start;
	pid_t pid = 0;
	char go;

	prctl(PR_SET_NAME, "wapi-sitter");
	setproctitle("-wapi-sitter %#x", j->number);
	r = sit_remap();
	sit_close_others(keep, 5);
	sit_signals();
	/* Nothing runs before the helper has written our claim. */
	if (read(j->sock, &go, 1) != 1)
		_exit(0);
	if (r != 0) {
		sit_unclaim(j);		/* through the helper's mapping */
		sit_report(j->sock, 0, -1, r);
		_exit(0);
	}
	r = wcore_spawn_start(j->req->argv, j->req->envp, j->req->cwd,
	    j->dirfd, (j->req->flags & WCORE_SPAWN_UMASK) ?
	    (int)j->req->umask : -1, j->stdio, j->number, &pid, &pidfd);
	if (r != 0) {
		sit_unclaim(j);
		sit_report(j->sock, 0, -1, r);
		_exit(0);
	}
	for (r = 0; r < 5; r++)
		if (keep[r] >= 0 && keep[r] != j->sock)
			close(keep[r]);
	start = wcore_proc_start_ns(pid);
	sit_record_pid(j, pid);
	sit_report(j->sock, pid, pidfd, 0);
	close(j->sock);
	close(pidfd);
	code = sit_wait(pid);
	/* Unrecorded, the child stays unreaped: reparented to the helper
	 * (a subreaper), it is reaped and recorded there. */
	if (!sit_record_exit(j, pid, start, code))
		_exit(1);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	_exit(0);
}
