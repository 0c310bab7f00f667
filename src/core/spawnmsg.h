/*
 * Process handles: the SPAWN request's payload (the one definition, used by
 * libwapi to pack it and by wapi-helper to unpack it), the process flags
 * kept in a PROCESS slot, and the vfork + exec that both the helper and a
 * private-mode library run, so that a spawn behaves the same in either.
 *
 * Payload of a WCORE_MSG_SPAWN message (native byte order, one host):
 *
 *	struct wcore_spawn_hdr
 *	argc NUL-terminated strings		argv
 *	envc NUL-terminated strings		envp
 *	one NUL-terminated string		cwd, when WCORE_SPAWN_CWD
 *
 * The descriptors that come with the message (SCM_RIGHTS), in this order:
 * one for each bit set in stdio_mask (bit i: descriptor i of the child),
 * then the caller's working directory when WCORE_SPAWN_CWDFD (an O_PATH
 * directory; a relative cwd is resolved against it).
 */
#ifndef WAPI_CORE_SPAWNMSG_H
#define WAPI_CORE_SPAWNMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WCORE_SPAWN_MAGIC	0x57535031u	/* "WSP1" */
/* Whole payload, header included: under the helper's 256 KiB receive
 * buffer and under what a unix socket takes in one message by default
 * (net.core.wmem_default, 208 KiB), so that no request is refused there. */
#define WCORE_SPAWN_MAX		(200u * 1024u)
#define WCORE_SPAWN_MAX_ARGS	65536u	/* argc and envc, each */

/* wcore_spawn_hdr.flags */
#define WCORE_SPAWN_CWD		0x1u	/* a cwd string follows envp */
#define WCORE_SPAWN_CWDFD	0x2u	/* a directory descriptor comes last */
#define WCORE_SPAWN_UMASK	0x4u	/* umask holds the caller's umask */
#define WCORE_SPAWN_FLAGS	0x7u

struct wcore_spawn_hdr {
	uint32_t magic;
	uint32_t flags;
	uint32_t stdio_mask;	/* bits 0..2 */
	uint32_t argc;		/* >= 1 */
	uint32_t envc;
	uint32_t strbytes;	/* bytes of strings after this header */
	uint32_t umask;		/* 0..0777, when WCORE_SPAWN_UMASK */
	uint32_t reserved;	/* 0 */
};

/* An unpacked request.  The arrays are malloc'd and NULL-terminated; the
 * strings point into the payload, which must outlive the request. */
struct wcore_spawn_req {
	uint32_t flags;
	uint32_t stdio_mask;
	uint32_t umask;
	char **argv;
	char **envp;
	const char *cwd;	/* NULL when none */
};

/* Pack argv (argv[0] required), envp (NULL: none), cwd (NULL: none) into a
 * malloc'd payload; with WCORE_SPAWN_UMASK in flags, the caller's umask
 * (from /proc/self/status; the flag is dropped when it cannot be read).
 * EINVAL, E2BIG (over WCORE_SPAWN_MAX or too many strings), ENOMEM. */
int wcore_spawn_pack(const char *const argv[], const char *const envp[],
		     const char *cwd, uint32_t stdio_mask, uint32_t flags,
		     void **buf, size_t *len);
/* Unpack a received payload, trusting nothing: sizes, counts, termination
 * of every string, unknown flags.  EPROTO when malformed, ENOMEM. */
int wcore_spawn_unpack(const void *buf, size_t len, struct wcore_spawn_req *out);
void wcore_spawn_req_free(struct wcore_spawn_req *r);
/* How many descriptors must come with a request. */
int wcore_spawn_nfds(const struct wcore_spawn_req *r);

/* wapi_handle_entry.u.proc.pflags */
#define WCORE_PF_CHILD		0x1u	/* spawned through wapi: exit status known */
#define WCORE_PF_OPENED		0x2u	/* opened by pid: exit status unknown */
#define WCORE_PF_TERMINATE	0x4u	/* terminate asked: status holds the code to record */

/* The variable naming the child's own handle (decimal handle number). */
#define WCORE_PROCESS_HANDLE_ENV "WAPI_PROCESS_HANDLE"

/* wcore_spawn_start stdio[i] values besides a descriptor. */
#define WCORE_SPAWN_NULL	(-1)	/* /dev/null */
#define WCORE_SPAWN_INHERIT	(-2)	/* keep the caller's descriptor i */

/*
 * Fork and exec argv with envp (plus WAPI_PROCESS_HANDLE=handle when
 * handle != 0), in cwd (relative to dirfd when dirfd >= 0, else to the
 * current directory; NULL: dirfd or unchanged), with umask cmask (-1:
 * unchanged), argv[0] looked up in envp's PATH as execvp(3) does.  The child gets stdio[0..2] as its
 * descriptors 0..2, default signal dispositions, an empty signal mask, no
 * other descriptor, and the soft limit on open files of wcore_spawn_nofile
 * when that was called.  Returns 0 with *pid (and *pidfd when pidfd != NULL, a
 * CLOEXEC pidfd), or the precise errno of the failure to start (ENOENT,
 * EACCES, ENOTDIR, ...), the child already reaped.
 */
int wcore_spawn_start(char *const argv[], char *const envp[], const char *cwd,
		      int dirfd, int cmask, const int stdio[3], uint32_t handle,
		      pid_t *pid, int *pidfd);

/* Give the children of later wcore_spawn_start calls this limit on open
 * files (a caller that raised its own for itself). */
struct rlimit;
void wcore_spawn_nofile(const struct rlimit *rl);

/* When pid started, in ns since the epoch (CLOCK_REALTIME, to the clock
 * tick), from /proc/PID/stat and the boot time; -1 when it cannot tell. */
int64_t wcore_proc_start_ns(pid_t pid);

/* Exit code for a wait status: the exit status, or signal_base + N. */
int wcore_spawn_code(int status, int signal_base);

#endif
