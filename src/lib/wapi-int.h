/*
 * libwapi internals shared by its files.  Nothing here is exported: the
 * version script (libwapi.sym) exports only wapi_*, and internal functions
 * are prefixed wl_.
 *
 * Errors, by what a function returns:
 *   - a status (public calls, and internal ones unless said otherwise):
 *     0, or a positive error: an errno value (below 1000) or a WAPI_E*
 *     value (1000 and up), never a negative number;
 *   - a descriptor (or a process id): it, or -errno;
 *   - a slot or row index: it, or -1 for none, the reason in *err where
 *     the caller needs one.
 * A public call records its status with wl_ret (wapi_last_error).
 */
#ifndef WAPI_INT_H
#define WAPI_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "wapi.h"

enum wl_mode { WL_NONE = 0, WL_SHARED, WL_PRIVATE };

struct wl_state {
	pthread_mutex_t mu;		/* attach / detach */
	int mode;			/* enum wl_mode, read atomically */
	void *map;			/* the state (file or anonymous) */
	size_t len;
	int dirfd, fd;			/* shared mode: the directory, the state
					   file (its lock bytes) */
	int segfd;			/* its segment (its init byte held
					   shared), -1 for a whole file */
	int sock;			/* connection to the helper, -1 */
	int helper_ms;			/* bound of one exchange with it */
	pthread_mutex_t sockmu;		/* one request/reply at a time */
	uint32_t slot;			/* our client slot */
	bool cf_mutexes;		/* WAPI_CF_MUTEXES set in it */
	pid_t pid;
	uint64_t start;			/* our /proc starttime */
	struct wcore_sleeps *sleeps;	/* our sleep records (shared mode) */
	int sleepfd;			/* its memfd, handed to the helper */
	uint32_t sleeps_gen;		/* bumped at each attach */
	char path[PATH_MAX];
	char host[WAPI_HOST_MAX + 1];
};

extern struct wl_state wl;
extern __thread int wl_last_error __attribute__((tls_model("initial-exec")));

/* Attach (shared, or private on failure) if not yet done.  Never fails:
 * private mode is always possible, short of memory (ENOMEM). */
int wl_ensure(void);
/* One line to the message handler (error.c). */
void wl_message(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* In a forked child: the handler's lock is free (no other thread here). */
void wl_message_after_fork(void);

/* The table lock around a change (robust; repairs after a dead holder). */
void wl_lock(void);
void wl_unlock(void);

/* Record err as the thread's last error and return it. */
static inline int
wl_ret(int err)
{
	wl_last_error = err;
	return err;
}

/* Slot of live handle h that this process references, or -1 (EBADHANDLE).
 * Needs no lock: it reads this process's own reference table. */
int64_t wl_slot_of(wapi_handle_t h);
/*
 * Slot of live handle h for a call that uses it.  A number this process
 * does not reference yet is adopted: the process takes its reference, as
 * if it had called wapi_handle_ref (one table-lock round, on first use
 * only).  -1 with *err WAPI_EBADHANDLE when h names no live object (its
 * generation no longer matches: closed by its last holder, slot reused),
 * or WAPI_EFULL when our reference block is full.  _locked: the caller
 * holds the table lock.
 */
int64_t wl_adopt(wapi_handle_t h, int *err);
int64_t wl_slot_use_locked(wapi_handle_t h, int *err);
static inline int64_t
wl_slot_use(wapi_handle_t h, int *err)
{
	int64_t i = wl_slot_of(h);

	return i >= 0 ? i : wl_adopt(h, err);
}
/* Forget this process's reference table (detach, fork). */
void wl_locals_reset(void);

/* A name checked and hashed before the lock is taken. */
struct wl_name {
	const char *s;
	size_t len;
	uint32_t hash;
};
/* Check and hash name into *n, and start loading what a lookup of it
 * reads (no lock needed: hints only); WAPI_EINVAL for a bad name. */
int wl_name_prepare(const char *name, struct wl_name *n);
/* Open the existing object of type named n with one reference of ours:
 * WAPI_ENOTFOUND, WAPI_ETYPE.  Caller holds the lock. */
int wl_handle_open_name(unsigned type, const struct wl_name *n,
			uint32_t *index);
/* Create a handle of type, named n (prepared) or unnamed (NULL), with one
 * reference of ours.  On an existing name of the same type: references it
 * and sets *existed.  Caller holds the lock; returns 0 or a WAPI_E* /
 * errno. */
int wl_handle_new(unsigned type, const struct wl_name *n, uint32_t *index,
		  bool *existed);
/* The handle number of slot index. */
wapi_handle_t wl_number(uint32_t index);

/* Wake the sleepers of a slot whose state changed (bumps its futex word). */
void wl_changed(uint32_t index);

/* ------------------------------------------------ helper-client.c */

/* Before each attach: wl.helper_ms from WAPI_HELPER_TIMEOUT_MS, and a
 * silence of the new helper is worth a message again. */
void wl_helper_prepare(void);
/*
 * Dial the helper: connect (starting it when its byte is free) and say
 * HELLO for our slot; role 0: the main connection, 1: the deposit
 * watcher.  Every send and receive on the socket is bounded by
 * wl.helper_ms.  Returns the new socket, or -errno with why: -ETIMEDOUT
 * (why naming the helper pid) when the helper does not answer or start, or
 * when another process still holds its socket's name after 3 s, the
 * helper's refusal, or the errno of starting it.
 */
int wl_helper_dial(int role, char *why, size_t whylen);
/* Dial the main connection and keep it in wl.sock: 0, or the errno of
 * wl_helper_dial (positive) with why. */
int wl_helper_attach(char *why, size_t whylen);
/*
 * One request to the helper and its reply (WCORE_MSG_OK: returns its
 * error field, *value its value; up to maxfds descriptors into fds, *nfds
 * how many).  A connection that broke (the helper died) is re-made once,
 * starting a new helper if needed, and the request sent again.  Shared mode
 * only (else EOPNOTSUPP); EPIPE-like errno when the helper cannot be
 * reached, ETIMEDOUT when it did not answer within wl.helper_ms (not sent
 * again: the request may have been done; the message handler hears of it
 * once).
 */
int wl_request(struct wcore_msg *m, const void *payload, const int *sfds,
	       int nsfds, int32_t *value, int *fds, int *nfds, int maxfds);
/* A message that has no reply (RELEASE), on the main connection when
 * there is one; never sent again. */
void wl_helper_tell(struct wcore_msg *m);
/* Say goodbye on the main connection (detach): the helper has nothing of
 * ours to undo. */
void wl_helper_bye(void);

/* Descriptor handles (fd.c): forget this process's copy of slot index
 * after its last reference here went; freed: the object is gone, tell the
 * helper to close its copy. */
void wl_fd_forget(uint32_t index, bool freed);
/* Close every cached descriptor and stop the watcher (detach, fork). */
void wl_fd_reset(bool in_child);

/* Private-mode process handles (process.c): stop the reaper thread before
 * the private map goes away (detach), or forget it (fork child). */
void wl_proc_reset(bool in_child);

/* Thread exit / process detach: abandon the mutexes this thread owns. */
void wl_sync_thread_exit(void);
/* In a forked child: its thread owns no mutex. */
void wl_sync_after_fork(void);

#define WL_H(i) (&WCORE_HANDLES(wl.map)[(i)])

/*
 * Load the cache line at p with the intent to write it.
 * __builtin_prefetch(p, 1) is a plain read prefetch unless the compiler
 * may assume PRFCHW; PREFETCHW is a no-op on x86 processors that lack it.
 */
#if defined(__x86_64__) || defined(__i386__)
#define WL_PREFETCH_W(p) __asm__ volatile("prefetchw %0" : : "m" (*(const char *)(p)))
#else
#define WL_PREFETCH_W(p) __builtin_prefetch((p), 1)
#endif

#endif
