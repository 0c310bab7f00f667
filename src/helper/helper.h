/*
 * wapi-helper internals shared by its files: the main loop (helper.c),
 * descriptor deposits (deposit.c) and processes (spawn.c).
 *
 * Errors, by what a function returns:
 *   - a status: 0, or a positive error, an errno value (below 1000) or a
 *     WAPI_E* value (1000 and up); the replies to clients carry the same
 *     (helper_reply), which their calls return as they are;
 *   - a descriptor (or a process id): it, or -errno;
 *   - a slot index: it, or -1 when there is none.
 * A failure to start (helper.c) ends the helper with err(3) instead.
 */
#ifndef WAPI_HELPER_H
#define WAPI_HELPER_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"

struct helper_conn {
	int fd;
	pid_t pid;		/* from SO_PEERCRED */
	int64_t slot;		/* client slot, -1 until HELLO */
	int role;		/* HELLO value: 0 main, 1 deposit watcher */
	const struct wcore_sleeps *sleeps;	/* the client's, or NULL */
};

extern void *helper_map;	/* the tables, mapped read/write */
extern size_t helper_maplen;
extern int helper_statefd;	/* the state file: its lock bytes */
extern int helper_segfd;	/* its segment, -1 for a whole file */

/* The descriptor the tables are mapped from: the segment's or the file's. */
static inline int
helper_mapfd(void)
{
	return helper_segfd >= 0 ? helper_segfd : helper_statefd;
}

/* One reply: WCORE_MSG_OK with error and value, and descriptors. */
void helper_reply(int fd, int error, int32_t value, const int *fds, int nfds);

/* deposit.c: descriptors of file, pipe and socket handles. */
void deposit_message(struct helper_conn *c, const struct wcore_msg *m,
		     int *fds, int nfds);
/* Close the deposits whose handle is gone (freed or reused). */
void deposit_sweep(void);
void deposit_init(void);
void deposit_fini(void);

/* spawn.c: process handles.  spawn_pollfds fills up to max pollfds the
 * main loop must watch (returns how many); spawn_ready gets them back with
 * revents.  spawn_message handles WCORE_MSG_SPAWN, _TERMINATE, _PROC_OPEN
 * (fds: what came with the message; spawn_message owns and closes them). */
void spawn_init(void);
int spawn_pollfds(struct pollfd *p, int max);
void spawn_ready(const struct pollfd *p, int n);
void spawn_message(struct helper_conn *c, const struct wcore_msg *m,
		   const void *payload, size_t len, int *fds, int nfds);
void spawn_fini(void);

/* sitter.c: the process that starts one spawned command, is its parent
 * and records its end (the helper forks it; it never returns). */
struct wcore_spawn_req;
struct sitter_job {
	const struct wcore_spawn_req *req;
	int stdio[3];		/* descriptors or WCORE_SPAWN_NULL */
	int dirfd;		/* the client's directory, or -1 */
	uint32_t number, idx;	/* the handle and its slot */
	int sock;		/* to the helper: go byte in, report out */
};
void sitter_main(const struct sitter_job *j) __attribute__((noreturn));

#endif
