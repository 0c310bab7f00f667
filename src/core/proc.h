/*
 * The processes a table watches, defined once for the two places that
 * reap or watch the processes of PROCESS handles: the helper (every
 * process spawned in shared mode, and those opened by pid) and a library
 * in private mode (its own children, and those it opened by pid).  Each
 * keeps its own table and takes its own locks; the inlines below are the
 * moves both make, on the table and on the handle's slot (those on a slot
 * want the table lock held).
 */
#ifndef WAPI_CORE_PROC_H
#define WAPI_CORE_PROC_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "core.h"
#include "spawnmsg.h"
#include "wapi.h"		/* WAPI_STILL_ACTIVE */

/*
 * One handle of one process.  A child (spawned by the table's owner) is
 * reaped by that owner: the helper through SIGCHLD (pidfd -1), a private
 * library through waitid on its pidfd.  A process opened by pid is watched
 * through its pidfd, unless it is a child of the owner ("linked", pidfd
 * -1): its exit code then comes from the child's reap.
 */
struct wcore_proc_rec {
	pid_t pid;
	int pidfd;		/* see above; -1: none */
	uint32_t number;	/* the handle; 0: it is gone, only reap */
	uint32_t idx;		/* its slot */
	pid_t sitter;		/* helper: the sitter that reaps pid and
				   records its end (0: none; see spawn.c) */
	bool child;		/* spawned by the table's owner */
	bool done;		/* to drop at the next compaction */
};

struct wcore_proc_table {
	struct wcore_proc_rec *rec;	/* rec[0 .. n), room for cap */
	size_t n, cap;
};

/* Room for one more record, the first time for first of them: 0, ENOMEM.
 * Reserved before a process is started, since one that could not be
 * recorded would never be reaped. */
static inline int
wcore_proc_reserve(struct wcore_proc_table *t, size_t first)
{
	struct wcore_proc_rec *v;
	size_t cap;

	if (t->n < t->cap)
		return 0;
	cap = t->cap == 0 ? first : t->cap * 2;
	if ((v = reallocarray(t->rec, cap, sizeof(*v))) == NULL)
		return ENOMEM;
	t->rec = v;
	t->cap = cap;
	return 0;
}

/* Stop watching r: close its pidfd, drop it at the next compaction. */
static inline void
wcore_proc_done(struct wcore_proc_rec *r)
{
	if (r->pidfd >= 0)
		close(r->pidfd);
	r->pidfd = -1;
	r->done = true;
}

/* Drop the records that are done, keeping the others in order. */
static inline void
wcore_proc_compact(struct wcore_proc_table *t)
{
	size_t k = 0, j;

	for (j = 0; j < t->n; j++)
		if (!t->rec[j].done)
			t->rec[k++] = t->rec[j];
	t->n = k;
}

/* Forget every record (the processes run on) and free the table. */
static inline void
wcore_proc_free(struct wcore_proc_table *t)
{
	size_t k;

	for (k = 0; k < t->n; k++)
		if (t->rec[k].pidfd >= 0)
			close(t->rec[k].pidfd);
	free(t->rec);
	t->rec = NULL;
	t->n = t->cap = 0;
}

/* The record of our unreaped child pid, or NULL. */
static inline struct wcore_proc_rec *
wcore_proc_child(struct wcore_proc_table *t, pid_t pid)
{
	size_t k;

	for (k = 0; k < t->n; k++)
		if (t->rec[k].child && !t->rec[k].done && t->rec[k].pid == pid)
			return &t->rec[k];
	return NULL;
}

/* The live record of handle number on process pid, or NULL. */
static inline struct wcore_proc_rec *
wcore_proc_find(struct wcore_proc_table *t, uint32_t number, pid_t pid)
{
	size_t k;

	for (k = 0; k < t->n; k++)
		if (t->rec[k].number == number && !t->rec[k].done &&
		    t->rec[k].pid == pid)
			return &t->rec[k];
	return NULL;
}

/* Record handle number (slot idx) of process pid, in the room reserved. */
static inline void
wcore_proc_add(struct wcore_proc_table *t, pid_t pid, int pidfd,
	       uint32_t number, uint32_t idx, bool child)
{
	t->rec[t->n++] = (struct wcore_proc_rec){ .pid = pid, .pidfd = pidfd,
	    .number = number, .idx = idx, .child = child };
}

/* Record handle number (slot idx) of process pid, opened by pid with
 * pidfd, in the room reserved.  On a child of ours it is linked: its code
 * comes with the child's reap, and pidfd is closed. */
static inline void
wcore_proc_add_opened(struct wcore_proc_table *t, pid_t pid, int pidfd,
		      uint32_t number, uint32_t idx)
{
	if (wcore_proc_child(t, pid) != NULL) {
		close(pidfd);
		pidfd = -1;
	}
	wcore_proc_add(t, pid, pidfd, number, idx, false);
}

/*
 * Record in slot e that process pid ended with code, unless a terminate
 * asked for another code first (force: code all the same, the real status
 * of a reaped child).  False, and nothing changed, when e no longer holds
 * that running process.  The caller holds the table lock and, when true,
 * wakes the waiters.
 */
static inline bool
wcore_proc_exited(struct wapi_handle_entry *e, pid_t pid, int code, bool force)
{
	if (e->type != WAPI_T_PROCESS || (e->flags & WAPI_HF_EXITED) ||
	    e->u.proc.pid != pid)
		return false;
	if (force || !(e->u.proc.pflags & WCORE_PF_TERMINATE))
		e->u.proc.status = code;
	e->u.proc.exit = wcore_now_ns();
	e->flags |= WAPI_HF_EXITED;
	return true;
}

/* Has the process of slot e ended, or is a terminate ending it?  A
 * terminate then changes nothing: the first code stays. */
static inline bool
wcore_proc_ending(const struct wapi_handle_entry *e)
{
	return (e->flags & WAPI_HF_EXITED) ||
	    (e->u.proc.pflags & WCORE_PF_TERMINATE);
}

/* Is a terminate of process pid pending in slot e, its code in status? */
static inline bool
wcore_proc_terminating(const struct wapi_handle_entry *e, pid_t pid)
{
	return e->type == WAPI_T_PROCESS && e->u.proc.pid == pid &&
	    (e->u.proc.pflags & WCORE_PF_TERMINATE) &&
	    !(e->flags & WAPI_HF_EXITED);
}

/* A terminate of slot e (not ending) with code, before its signal: the
 * code goes in first, so that the reap records it.  Returns the flags to
 * restore with wcore_proc_terminate_undo should the signal fail. */
static inline uint32_t
wcore_proc_terminate_mark(struct wapi_handle_entry *e, int code)
{
	uint32_t old = e->u.proc.pflags;

	e->u.proc.pflags |= WCORE_PF_TERMINATE;
	e->u.proc.status = code;
	return old;
}

/* The signal of a terminate failed: slot idx of map, if it still holds
 * handle number and a running process, is as it was before the mark. */
static inline void
wcore_proc_terminate_undo(void *map, uint32_t number, uint32_t idx,
			  uint32_t oldflags)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[idx];

	if (wcore_handle_slot(map, number) == (int64_t)idx &&
	    !(e->flags & WAPI_HF_EXITED)) {
		e->u.proc.pflags = oldflags;
		e->u.proc.status = WAPI_STILL_ACTIVE;
	}
}

#endif
