/*
 * wapi.h -- Win32-style handles shared between the processes of one user on
 * one host.
 *
 * A handle is a small number naming an event, mutex, semaphore, file, pipe,
 * socket or process.  Any process of the same user on the same host that is
 * attached to the same state file (~/.wapi/<host>.<abi>.state) can use the
 * number as it is: the first call of a process that uses a number takes
 * that process's own reference to the object (it adopts the number), which
 * it drops with wapi_handle_close() or by exiting.
 *
 * Return values: every int function returns 0 on success or a positive error
 * number: an errno value for a system failure, or one of the WAPI_E* values
 * below (all >= 1000).  wapi_strerror() explains any of them.  The waits
 * return a wait result instead (WAPI_WAIT_*).  wapi_last_error() holds the
 * last error of the calling thread, and WAPI_EALREADY_EXISTS after a create
 * call that opened an existing object.
 *
 * "Errors:" under each call lists what it returns, with two shorthands:
 *   handle: a call that takes a handle h fails with WAPI_EBADHANDLE when no
 *     live object has the number, WAPI_ETYPE when the object is of another
 *     type than the call needs, and WAPI_EFULL when the first use of the
 *     number in this process (which takes this process's reference to it)
 *     finds the process's reference block full.
 *   helper: in shared mode, a call that asks the helper fails with ETIMEDOUT
 *     when it did not answer within WAPI_HELPER_TIMEOUT_MS, with EPIPE or
 *     ECONNRESET when it cannot be reached (ETIMEDOUT too when another
 *     process holds its socket's name), EPERM when it refused the process,
 *     and EPROTO for a reply that makes no sense.
 *
 * The library never writes to stdout or stderr except through the message
 * handler (wapi_set_message_handler); the default handler writes one line to
 * stderr.  See libwapi(3) for the full description.
 */
#ifndef WAPI_H
#define WAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t wapi_handle_t;		/* 0 is never a valid handle */

#define WAPI_INFINITE		UINT32_MAX	/* timeout: wait forever */

/* Errors of the handle model (errno values are below 1000). */
#define WAPI_EINVAL		1000	/* invalid parameter */
#define WAPI_EBADHANDLE		1001	/* no live object has this number */
#define WAPI_ETYPE		1002	/* wrong object type / name held by another type */
#define WAPI_ENOTFOUND		1003	/* no object of that name */
#define WAPI_EALREADY_EXISTS	1004	/* create opened an existing object */
#define WAPI_ENOT_OWNER		1005	/* mutex released by a thread that does not own it */
#define WAPI_ETOO_MANY_POSTS	1006	/* semaphore released past its maximum */
#define WAPI_ESHARING_VIOLATION	1007	/* file share modes forbid this open */
#define WAPI_EFULL		1008	/* a table of the state file is full */
#define WAPI_EGONE		1009	/* descriptor no longer held by any process;
					   a spawn lost with its helper */

/* Wait results. */
#define WAPI_WAIT_OBJECT_0	0		/* + index of the signalled object */
#define WAPI_WAIT_ABANDONED_0	0x80		/* + index of an abandoned mutex */
#define WAPI_WAIT_TIMEOUT	0x102
#define WAPI_WAIT_FAILED	(-1)		/* see wapi_last_error() */
#define WAPI_MAXIMUM_WAIT_OBJECTS 64

/* Process exit codes. */
#define WAPI_STILL_ACTIVE	259		/* the process is running */
#define WAPI_EXIT_UNKNOWN	(-1)		/* exited; Unix does not tell us how */
#define WAPI_EXIT_SIGNAL_BASE	0x10000		/* killed by signal N: BASE + N */

/* wapi_file_open access and share flags. */
#define WAPI_ACCESS_READ	0x1u
#define WAPI_ACCESS_WRITE	0x2u
#define WAPI_ACCESS_DELETE	0x4u
#define WAPI_SHARE_READ		0x1u
#define WAPI_SHARE_WRITE	0x2u
#define WAPI_SHARE_DELETE	0x4u

/* Message levels passed to the message handler. */
#define WAPI_MSG_WARNING	1
#define WAPI_MSG_INFO		2

/* Object types, as reported by wapi_handle_info(). */
enum wapi_object_type {
	WAPI_TYPE_EVENT = 1,
	WAPI_TYPE_MUTEX,
	WAPI_TYPE_SEMAPHORE,
	WAPI_TYPE_FILE,
	WAPI_TYPE_PIPE,
	WAPI_TYPE_SOCKET,
	WAPI_TYPE_PROCESS,
};

struct wapi_handle_info {
	int type;			/* enum wapi_object_type */
	uint32_t refs;			/* references held by all processes */
	int signalled;			/* 1 when a wait would succeed now */
	char name[261];			/* "" when unnamed */
	int32_t count, maximum;		/* semaphore */
	pid_t owner_pid;		/* mutex owner, 0 when not owned */
	pid_t owner_tid;
	uint32_t recursion;		/* mutex */
	pid_t pid;			/* process */
	int exit_code;			/* process: WAPI_STILL_ACTIVE while running */
};

/*
 * wapi_init: attach to this host's state file now (otherwise the first call
 * that needs it attaches).  flags: 0.  Returns 0 also when the library fell
 * back to process-private handles (see wapi_is_shared).
 * Errors: WAPI_EINVAL (flags), ENOMEM (not even private handles).
 */
int wapi_init(unsigned flags);

/* wapi_shutdown: close every handle of this process, release the client
 * slot and the connection to the helper.  The next call attaches again. */
void wapi_shutdown(void);

/* wapi_is_shared: 1 when attached to shared state, 0 with private handles. */
int wapi_is_shared(void);

/* wapi_state_path: the state file in use, NULL in private mode. */
const char *wapi_state_path(void);

/* wapi_set_message_handler: fn receives every message the library has for a
 * person (one line, no newline); NULL restores the default (stderr). */
void wapi_set_message_handler(void (*fn)(int level, const char *msg, void *ctx),
			      void *ctx);

/* wapi_strerror: a description of err (an errno or WAPI_E* value). */
const char *wapi_strerror(int err);

/* wapi_last_error: the last error of the calling thread (0 after success,
 * WAPI_EALREADY_EXISTS after a create that opened an existing object). */
int wapi_last_error(void);

/*
 * Events.  name may be NULL (unnamed).  A name is UTF-8, 1..260 bytes.
 * wapi_event_create: a new event, or opens the existing event of that name
 * (returns 0, wapi_last_error() == WAPI_EALREADY_EXISTS).
 *   Errors: WAPI_EINVAL (bad name, NULL out), WAPI_ETYPE (the name belongs
 *   to another type), WAPI_EFULL (handle table, name index or this
 *   process's reference block full).
 * wapi_event_open: the existing event of that name.
 *   Errors: WAPI_EINVAL (bad or NULL name, NULL out), WAPI_ENOTFOUND (no
 *   object has that name), WAPI_ETYPE, WAPI_EFULL (reference block full).
 * wapi_event_set: signal; an auto-reset event releases exactly one waiter.
 * wapi_event_reset: unsignal.
 * wapi_event_pulse: release the current waiters (all for manual reset, one
 * for auto reset) and leave the event reset.
 *   Errors (set, reset, pulse): handle.
 */
int wapi_event_create(const char *name, int manual_reset, int initial_state,
		      wapi_handle_t *out);
int wapi_event_open(const char *name, wapi_handle_t *out);
int wapi_event_set(wapi_handle_t h);
int wapi_event_reset(wapi_handle_t h);
int wapi_event_pulse(wapi_handle_t h);

/*
 * Mutexes, owned by a thread, recursive.  When the owning thread or process
 * ends, the mutex is abandoned: the next wait that acquires it returns
 * WAPI_WAIT_ABANDONED_0 + index.
 * wapi_mutex_create, wapi_mutex_open: as wapi_event_create and
 * wapi_event_open, with the same errors.
 * wapi_mutex_release: one level of ownership.
 *   Errors: handle; WAPI_ENOT_OWNER (the calling thread does not own it).
 */
int wapi_mutex_create(const char *name, int initially_owned, wapi_handle_t *out);
int wapi_mutex_open(const char *name, wapi_handle_t *out);
int wapi_mutex_release(wapi_handle_t h);

/*
 * Semaphores.  0 <= initial <= maximum, maximum >= 1, else WAPI_EINVAL.
 * wapi_semaphore_create, wapi_semaphore_open: as wapi_event_create and
 * wapi_event_open, with the same errors.
 * wapi_semaphore_release: count >= 1; *previous (may be NULL) receives the
 * count before the release.
 *   Errors: WAPI_EINVAL (count < 1); handle; WAPI_ETOO_MANY_POSTS (past
 *   the maximum: the count is unchanged).
 */
int wapi_semaphore_create(const char *name, int32_t initial, int32_t maximum,
			  wapi_handle_t *out);
int wapi_semaphore_open(const char *name, wapi_handle_t *out);
int wapi_semaphore_release(wapi_handle_t h, int32_t count, int32_t *previous);

/*
 * Waits.  timeout_ms: 0 polls, WAPI_INFINITE waits forever.
 * wapi_wait_multiple: 1..64 handles; wait_all acquires every object at once
 * or none (duplicates are WAPI_EINVAL); otherwise the lowest signalled index
 * wins.  Returns WAPI_WAIT_OBJECT_0 + i, WAPI_WAIT_ABANDONED_0 + i,
 * WAPI_WAIT_TIMEOUT or WAPI_WAIT_FAILED (wapi_last_error() tells why).
 *   Errors (wapi_last_error after WAPI_WAIT_FAILED): handle (a file, pipe
 *   or socket is WAPI_ETYPE; WAPI_EBADHANDLE also when another thread
 *   closed a handle during the wait); wapi_wait_multiple: WAPI_EINVAL (NULL
 *   hs, n out of range, a duplicate with wait_all).
 */
int wapi_wait(wapi_handle_t h, uint32_t timeout_ms);
int wapi_wait_multiple(const wapi_handle_t *hs, size_t n, int wait_all,
		       uint32_t timeout_ms);

/*
 * wapi_handle_close: drop one reference of this process (one a create, an
 * open, a wapi_handle_ref or a first use took); the object (and its name)
 * goes away with the last reference of all processes.
 *   Errors: WAPI_EBADHANDLE (this process holds no reference to the
 *   number: a close never adopts).
 * wapi_handle_ref: add a reference of this process to a live number (one it
 * must close): to keep an object alive before using it, or beyond a close.
 *   Errors: WAPI_EBADHANDLE (not a live handle: its object is gone, and the
 *   generation in the number never matches a reused slot), WAPI_EFULL
 *   (reference block full).
 * wapi_handle_info: describe the object.
 *   Errors: WAPI_EINVAL (NULL out); WAPI_EBADHANDLE, WAPI_EFULL as for
 *   handle (any type will do).
 */
int wapi_handle_close(wapi_handle_t h);
int wapi_handle_ref(wapi_handle_t h);
int wapi_handle_info(wapi_handle_t h, struct wapi_handle_info *out);

/*
 * Descriptor handles.  Every process gets the same open file description.
 * Besides those listed, the calls that make a handle fail with WAPI_EFULL
 * (handle table or this process's reference block full) and ENOMEM.
 * wapi_file_open: open(2) with oflags/mode, then enforce Win32 share modes
 * across processes.
 *   Errors: WAPI_EINVAL (NULL path or out, unknown access or share bits),
 *   the errno of open(2), fstat(2) or ftruncate(2) (O_TRUNC),
 *   WAPI_ESHARING_VIOLATION, WAPI_EFULL also for the file-share table.
 * wapi_pipe_create: a pipe as two handles.
 *   Errors: WAPI_EINVAL (NULL end), the errno of pipe2(2) (EMFILE, ...).
 * wapi_fd_import: a handle for a duplicate of fd (socket, pipe or file);
 * the caller keeps fd.
 *   Errors: WAPI_EINVAL (fd < 0, NULL out), the errno of fstat(2) (EBADF)
 *   or of the duplicate (EMFILE, ...).
 * wapi_fd_get: this process's descriptor for h (owned by the library: do not
 * close it); the first call in a process fetches it from the helper.
 *   Errors: WAPI_EINVAL (NULL fd); handle; WAPI_EGONE (no live process
 *   holds the descriptor any longer: none deposited it again within 3 s);
 *   helper; EAGAIN (the helper could not take the table lock); ENOMEM.
 */
int wapi_file_open(const char *path, int oflags, mode_t mode, unsigned access,
		   unsigned share, wapi_handle_t *out);
int wapi_pipe_create(wapi_handle_t *read_end, wapi_handle_t *write_end);
int wapi_fd_import(int fd, wapi_handle_t *out);
int wapi_fd_get(wapi_handle_t h, int *fd);

/*
 * Processes.  wapi_process_spawn: the helper starts argv (argv[0] looked up
 * in PATH) with envp (NULL: the caller's), in cwd (NULL: the caller's), with
 * stdio[i] as descriptor i (NULL or 0: the caller's own).  The child finds
 * its own handle number in $WAPI_PROCESS_HANDLE.  A failure to start is
 * returned as its errno (ENOENT, EACCES, ENOEXEC, EAGAIN, ...).
 *   Errors: WAPI_EINVAL (no argv[0], NULL out); those of wapi_fd_get for
 *   a stdio handle; WAPI_EFULL (handle table or reference block full);
 *   the errno of the start; E2BIG (argv and envp over 200 KiB, shared
 *   mode); WAPI_EGONE (shared mode: helpers died during the spawn and it
 *   may have run; it never runs twice); helper; ENOMEM; with private
 *   handles, EMFILE or EAGAIN when the thread that reaps cannot be
 *   started.
 * wapi_process_open: a waitable handle for a running process that is not
 * the helper's child; its exit code is WAPI_EXIT_UNKNOWN.
 *   Errors: WAPI_EINVAL (pid <= 0, NULL out); the errno of pidfd_open(2)
 *   (ESRCH: no such process, EMFILE, ...); WAPI_EFULL, helper, ENOMEM and
 *   the reaper's EMFILE or EAGAIN as for a spawn.
 * wapi_process_exit_code: WAPI_STILL_ACTIVE while it runs; the exit status,
 * or WAPI_EXIT_SIGNAL_BASE + N when killed by signal N.
 *   Errors: WAPI_EINVAL (NULL code); handle.
 * wapi_process_terminate: kill it (SIGKILL); its exit code becomes
 * exit_code.  A process that ended, or is being terminated, keeps its code
 * (returns 0).
 *   Errors: handle; ESRCH (nobody watches its process: a spawn still
 *   under way, a record lost with a helper or an attachment); the errno of
 *   the signal (EPERM); helper; EIO (the helper could not take the table
 *   lock).
 */
int wapi_process_spawn(const char *const argv[], const char *const envp[],
		       const char *cwd, const wapi_handle_t stdio[3],
		       wapi_handle_t *out, pid_t *pid);
int wapi_process_open(pid_t pid, wapi_handle_t *out);
int wapi_process_exit_code(wapi_handle_t h, int *code);
int wapi_process_terminate(wapi_handle_t h, int exit_code);

#ifdef __cplusplus
}
#endif

#endif
