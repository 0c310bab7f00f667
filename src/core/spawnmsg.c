/*
 * The SPAWN request (packed by libwapi, unpacked by wapi-helper) and the
 * vfork-style clone + exec both of them run.  The child reports a failure to start
 * through a close-on-exec pipe, so the caller gets the errno itself (a
 * missing program is ENOENT, never an exit code of 127), and does only
 * async-signal-safe things between fork and exec: the caller may be a
 * threaded program.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "spawnmsg.h"

#define SPAWN_DEFAULT_PATH	"/bin:/usr/bin"	/* execvp's, without PATH */

static int spawn_count(const char *const *v, uint32_t *n, size_t *bytes);
static int spawn_umask(uint32_t *out);

/* umask(2) can only be read by changing it, which races with other
 * threads: /proc tells without touching it. */
static int
spawn_umask(uint32_t *out)
{
	char buf[2048], *p;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return EIO;
	buf[n] = '\0';
	if ((p = strstr(buf, "\nUmask:")) == NULL)
		return ENOENT;
	*out = (uint32_t)strtoul(p + 7, NULL, 8) & 0777;
	return 0;
}

static int
spawn_count(const char *const *v, uint32_t *n, size_t *bytes)
{
	*n = 0;
	for (; v != NULL && *v != NULL; v++) {
		if (*n == WCORE_SPAWN_MAX_ARGS)
			return E2BIG;
		*bytes += strlen(*v) + 1;
		if (*bytes > WCORE_SPAWN_MAX)
			return E2BIG;
		(*n)++;
	}
	return 0;
}

int
wcore_spawn_pack(const char *const argv[], const char *const envp[],
		 const char *cwd, uint32_t stdio_mask, uint32_t flags,
		 void **buf, size_t *len)
{
	struct wcore_spawn_hdr h = { .magic = WCORE_SPAWN_MAGIC };
	size_t bytes = sizeof(h), k;
	char *p, *q;
	int r;

	*buf = NULL;
	*len = 0;
	if (argv == NULL || argv[0] == NULL || stdio_mask > 7 ||
	    (flags & ~WCORE_SPAWN_FLAGS) != 0)
		return EINVAL;
	if ((flags & WCORE_SPAWN_UMASK) && spawn_umask(&h.umask) != 0)
		flags &= ~WCORE_SPAWN_UMASK;
	if ((r = spawn_count(argv, &h.argc, &bytes)) != 0 ||
	    (r = spawn_count(envp, &h.envc, &bytes)) != 0)
		return r;
	flags &= ~WCORE_SPAWN_CWD;
	if (cwd != NULL) {
		flags |= WCORE_SPAWN_CWD;
		bytes += strlen(cwd) + 1;
		if (bytes > WCORE_SPAWN_MAX)
			return E2BIG;
	}
	h.flags = flags;
	h.stdio_mask = stdio_mask;
	h.strbytes = (uint32_t)(bytes - sizeof(h));
	if ((p = malloc(bytes)) == NULL)
		return ENOMEM;
	memcpy(p, &h, sizeof(h));
	q = p + sizeof(h);
	for (k = 0; k < h.argc; k++)
		q = stpcpy(q, argv[k]) + 1;
	for (k = 0; k < h.envc; k++)
		q = stpcpy(q, envp[k]) + 1;
	if (cwd != NULL)
		q = stpcpy(q, cwd) + 1;
	*buf = p;
	*len = bytes;
	return 0;
}

/* Point v[0..n) at the next n strings of [*p, end); all must end there. */
static int
spawn_take(const char **p, const char *end, char **v, uint32_t n)
{
	const char *nul;
	uint32_t k;

	for (k = 0; k < n; k++) {
		if (*p >= end ||
		    (nul = memchr(*p, '\0', (size_t)(end - *p))) == NULL)
			return EPROTO;
		v[k] = (char *)*p;
		*p = nul + 1;
	}
	v[n] = NULL;
	return 0;
}

int
wcore_spawn_unpack(const void *buf, size_t len, struct wcore_spawn_req *out)
{
	struct wcore_spawn_hdr h;
	const char *p, *end;
	char *cwdv[2];
	int r;

	memset(out, 0, sizeof(*out));
	if (buf == NULL || len < sizeof(h) || len > WCORE_SPAWN_MAX)
		return EPROTO;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != WCORE_SPAWN_MAGIC || h.strbytes != len - sizeof(h) ||
	    h.argc == 0 || h.argc > WCORE_SPAWN_MAX_ARGS ||
	    h.envc > WCORE_SPAWN_MAX_ARGS || h.stdio_mask > 7 ||
	    (h.flags & ~WCORE_SPAWN_FLAGS) != 0 || h.umask > 0777 ||
	    h.reserved != 0)
		return EPROTO;
	/* Every string takes at least one byte: no huge arrays for nothing. */
	if ((uint64_t)h.argc + h.envc + ((h.flags & WCORE_SPAWN_CWD) ? 1 : 0) >
	    h.strbytes)
		return EPROTO;
	out->argv = calloc((size_t)h.argc + 1, sizeof(char *));
	out->envp = calloc((size_t)h.envc + 1, sizeof(char *));
	if (out->argv == NULL || out->envp == NULL) {
		wcore_spawn_req_free(out);
		return ENOMEM;
	}
	p = (const char *)buf + sizeof(h);
	end = (const char *)buf + len;
	if ((r = spawn_take(&p, end, out->argv, h.argc)) != 0 ||
	    (r = spawn_take(&p, end, out->envp, h.envc)) != 0)
		goto bad;
	if (h.flags & WCORE_SPAWN_CWD) {
		if ((r = spawn_take(&p, end, cwdv, 1)) != 0)
			goto bad;
		out->cwd = cwdv[0];
	}
	if (p != end) {
		r = EPROTO;	/* bytes nobody accounted for */
		goto bad;
	}
	out->flags = h.flags;
	out->stdio_mask = h.stdio_mask;
	out->umask = h.umask;
	return 0;
bad:
	wcore_spawn_req_free(out);
	return r;
}

void
wcore_spawn_req_free(struct wcore_spawn_req *r)
{
	free(r->argv);
	free(r->envp);
	memset(r, 0, sizeof(*r));
}

int
wcore_spawn_nfds(const struct wcore_spawn_req *r)
{
	return __builtin_popcount(r->stdio_mask & 7) +
	    ((r->flags & WCORE_SPAWN_CWDFD) ? 1 : 0);
}

int
wcore_spawn_code(int status, int signal_base)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return signal_base + WTERMSIG(status);
	return signal_base;	/* not reached for a reaped process */
}

int64_t
wcore_proc_start_ns(pid_t pid)
{
	struct timespec rt, bt;
	uint64_t ticks;
	long hz = sysconf(_SC_CLK_TCK);

	if (wcore_proc_start(pid, &ticks) != 0 || hz <= 0 ||
	    clock_gettime(CLOCK_REALTIME, &rt) != 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &bt) != 0)
		return -1;
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL +
	    (rt.tv_nsec - bt.tv_nsec) +
	    (int64_t)(ticks / (uint64_t)hz) * 1000000000LL +
	    (int64_t)(ticks % (uint64_t)hz) * (1000000000LL / hz);
}

/* ----------------------------------------------------------- vfork + exec */

/* The soft limit on open files that children get (wcore_spawn_nofile). */
static struct rlimit spawn_nofile;
static bool spawn_nofile_set;

void
wcore_spawn_nofile(const struct rlimit *rl)
{
	spawn_nofile = *rl;
	spawn_nofile_set = true;
}

struct spawn_plan {
	char **cand;		/* paths to try, NULL-terminated */
	char **env;		/* the child's environment */
	char **shargv;		/* "/bin/sh", <script>, argv[1..]: ENOEXEC */
	char handle_var[64];
};

static void
spawn_plan_free(struct spawn_plan *pl)
{
	char **c;

	if (pl->cand != NULL)
		for (c = pl->cand; *c != NULL; c++)
			free(*c);
	free(pl->cand);
	free(pl->env);
	free(pl->shargv);
}

static const char *
spawn_getenv(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* Everything that needs memory, done before vfork. */
static int
spawn_plan(struct spawn_plan *pl, char *const argv[], char *const envp[],
	   uint32_t handle)
{
	const char *file = argv[0], *path, *s, *colon;
	size_t n = 0, argc = 0, k, dlen, flen = strlen(file);
	char **env;

	memset(pl, 0, sizeof(*pl));
	if (*file == '\0')
		return ENOENT;
	while (argv[argc] != NULL)
		argc++;
	while (envp != NULL && envp[n] != NULL)
		n++;
	/* The environment, with our variable replaced. */
	if ((pl->env = env = calloc(n + 2, sizeof(char *))) == NULL)
		return ENOMEM;
	for (k = 0; envp != NULL && envp[k] != NULL; k++)
		if (handle == 0 || strncmp(envp[k], WCORE_PROCESS_HANDLE_ENV "=",
		    sizeof(WCORE_PROCESS_HANDLE_ENV)) != 0)
			*env++ = envp[k];
	if (handle != 0) {
		snprintf(pl->handle_var, sizeof(pl->handle_var), "%s=%u",
		    WCORE_PROCESS_HANDLE_ENV, (unsigned)handle);
		*env++ = pl->handle_var;
	}
	*env = NULL;
	if ((pl->shargv = calloc(argc + 2, sizeof(char *))) == NULL)
		return ENOMEM;
	pl->shargv[0] = (char *)"/bin/sh";
	for (k = 1; k < argc; k++)
		pl->shargv[k + 1] = argv[k];
	/* The candidates, in execvp's order. */
	if (strchr(file, '/') != NULL) {
		if ((pl->cand = calloc(2, sizeof(char *))) == NULL ||
		    (pl->cand[0] = strdup(file)) == NULL)
			return ENOMEM;
		return 0;
	}
	if ((path = spawn_getenv(envp, "PATH")) == NULL)
		path = SPAWN_DEFAULT_PATH;
	for (n = 1, s = path; *s != '\0'; s++)
		n += *s == ':';
	if ((pl->cand = calloc(n + 1, sizeof(char *))) == NULL)
		return ENOMEM;
	for (k = 0, s = path;; s = colon + 1) {
		colon = strchrnul(s, ':');
		dlen = (size_t)(colon - s);
		/* An empty element is the current directory, as in execvp. */
		if (dlen + 1 + flen < PATH_MAX) {
			if (asprintf(&pl->cand[k], "%.*s%s%s", (int)dlen, s,
			    dlen > 0 ? "/" : "", file) < 0) {
				pl->cand[k] = NULL;
				return ENOMEM;
			}
			k++;
		}
		if (*colon == '\0')
			break;
	}
	if (k == 0)
		return ENAMETOOLONG;
	return 0;
}

static void __attribute__((noreturn))
spawn_fail(int errfd, int e)
{
	ssize_t n;

	do
		n = write(errfd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Close every descriptor from lo up, but keep. */
static void
spawn_close_from(int lo, int keep)
{
	int i;

	if (keep >= lo) {
		if (keep > lo && close_range((unsigned)lo, (unsigned)keep - 1, 0) != 0)
			for (i = lo; i < keep; i++)
				close(i);
		lo = keep + 1;
	}
	if (close_range((unsigned)lo, ~0u, 0) != 0)
		for (i = lo; i < 65536; i++)
			close(i);
}

/* In the child: every signal back to its default disposition. */
static void
spawn_child_signals(void)
{
	struct sigaction sa;
	unsigned long ksa[8];
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++) {
		if (i == SIGKILL || i == SIGSTOP || sigaction(i, &sa, NULL) == 0)
			continue;
		/* glibc refuses its own signals (32, 33), yet they may come
		 * ignored through exec: all-zero is SIG_DFL in any layout. */
		memset(ksa, 0, sizeof(ksa));
		syscall(SYS_rt_sigaction, i, ksa, NULL, (size_t)(_NSIG / 8));
	}
}

/* In the child: stdio[0..2] (a descriptor, /dev/null or inherited) as its
 * descriptors 0..2, or a report of the failure on errfd. */
static void
spawn_child_stdio(const int stdio[3], int errfd)
{
	int tmp[3], i, fd;

	/* Copies above 2 first, so that no dup2 overwrites a source. */
	for (i = 0; i < 3; i++) {
		tmp[i] = -1;
		if (stdio[i] == WCORE_SPAWN_INHERIT)
			continue;
		if (stdio[i] >= 0)
			fd = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
		else if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 &&
		    fd < 3) {
			int low = fd;

			fd = fcntl(low, F_DUPFD_CLOEXEC, 3);
			close(low);
		}
		if (fd < 0)
			spawn_fail(errfd, errno);
		tmp[i] = fd;
	}
	for (i = 0; i < 3; i++)
		if (tmp[i] >= 0 && dup2(tmp[i], i) < 0)
			spawn_fail(errfd, errno);
}

/* In the child: exec the plan's candidates in execvp's order, reporting
 * the error execvp would have returned when none runs. */
static void __attribute__((noreturn))
spawn_child_exec(struct spawn_plan *pl, char *const argv[], int errfd)
{
	int e, seen_eacces = 0, last = ENOENT;
	char **c;

	for (c = pl->cand; *c != NULL; c++) {
		execve(*c, argv, pl->env);
		e = errno;
		switch (e) {
		case EACCES:
			seen_eacces = 1;
			break;
		case ENOENT:
		case ENOTDIR:
		case ESTALE:
		case ENODEV:
		case ETIMEDOUT:
			last = e;
			break;
		case ENOEXEC:
			/* A script without #!: execvp runs it with sh. */
			pl->shargv[1] = *c;
			execve(pl->shargv[0], pl->shargv, pl->env);
			spawn_fail(errfd, e);
		default:
			spawn_fail(errfd, e);
		}
	}
	spawn_fail(errfd, seen_eacces ? EACCES : last);
}

/* The child, between vfork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
spawn_child(struct spawn_plan *pl, char *const argv[], const char *cwd,
	    int dirfd, int cmask, const int stdio[3], int errfd)
{
	sigset_t none;
	int fd;

	spawn_child_signals();
	/* The error pipe out of the way of 0..2 (the caller may lack one). */
	if ((fd = fcntl(errfd, F_DUPFD_CLOEXEC, 3)) < 0)
		_exit(127);
	errfd = fd;
	if (dirfd >= 0 && fchdir(dirfd) != 0)
		spawn_fail(errfd, errno);
	if (cwd != NULL && chdir(cwd) != 0)
		spawn_fail(errfd, errno);
	if (cmask >= 0)
		umask((mode_t)cmask & 0777);
	spawn_child_stdio(stdio, errfd);
	spawn_close_from(3, errfd);
	/* The caller's own limit, not one it raised for itself. */
	if (spawn_nofile_set && setrlimit(RLIMIT_NOFILE, &spawn_nofile) != 0)
		spawn_fail(errfd, errno);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	spawn_child_exec(pl, argv, errfd);
}

#if defined(__SANITIZE_ADDRESS__)
#define SPAWN_PLAIN_VFORK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPAWN_PLAIN_VFORK 1
#endif
#endif

#ifndef SPAWN_PLAIN_VFORK
struct spawn_args {
	struct spawn_plan *pl;
	char *const *argv;
	const char *cwd;
	const int *stdio;
	int dirfd, cmask, errfd;
};

/*
 * The child starts on our descriptor table (CLONE_FILES) and takes a copy
 * of only the numbers it needs before it changes anything: a helper keeps
 * descriptors at high fixed numbers, and copying its whole table (and
 * freeing the copy at exec) would cost more than the rest of the spawn.
 */
static int
spawn_clone_child(void *arg)
{
	const struct spawn_args *a = arg;
	int lo = a->errfd, i;

	if (a->dirfd > lo)
		lo = a->dirfd;
	for (i = 0; i < 3; i++)
		if (a->stdio[i] > lo)
			lo = a->stdio[i];
	if (close_range((unsigned)lo + 1, ~0u, CLOSE_RANGE_UNSHARE) != 0 &&
	    unshare(CLONE_FILES) != 0)
		spawn_fail(a->errfd, errno);
	spawn_child(a->pl, a->argv, a->cwd, a->dirfd, a->cmask, a->stdio,
	    a->errfd);
}
#endif

/*
 * vfork-style: the child borrows our memory until it execs or exits (we
 * wait meanwhile), so no page table is copied, which is most of what a
 * fork of a process with a big mapping costs.  It runs on a stack of its
 * own and makes only async-signal-safe calls.  The child's pid, or -errno.
 */
#define SPAWN_STACK	(128 * 1024)

static pid_t __attribute__((noinline))
spawn_vfork(struct spawn_plan *pl, char *const argv[], const char *cwd,
	    int dirfd, int cmask, const int stdio[3], const int p[2])
{
#ifdef SPAWN_PLAIN_VFORK
	/* AddressSanitizer cannot follow a child onto a stack of our own:
	 * plain vfork there (the child copies the whole descriptor table). */
	pid_t child = vfork();

	if (child == 0)
		spawn_child(pl, argv, cwd, dirfd, cmask, stdio, p[1]);
	return child < 0 ? -errno : child;
#else
	struct spawn_args a = { pl, argv, cwd, stdio, dirfd, cmask, p[1] };
	void *stack;
	pid_t child;
	int e;

	stack = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	child = clone(spawn_clone_child, (char *)stack + SPAWN_STACK,
	    CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, &a);
	e = errno;
	munmap(stack, SPAWN_STACK);
	return child < 0 ? -e : child;
#endif
}

int
wcore_spawn_start(char *const argv[], char *const envp[], const char *cwd,
		  int dirfd, int cmask, const int stdio[3], uint32_t handle,
		  pid_t *pid, int *pidfd)
{
	struct spawn_plan pl;
	sigset_t all, old;
	pid_t child;
	ssize_t n;
	int p[2], e = 0, st, r, pfd = -1;

	if (argv == NULL || argv[0] == NULL)
		return EINVAL;
	if ((r = spawn_plan(&pl, argv, envp, handle)) != 0) {
		spawn_plan_free(&pl);
		return r;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		r = errno;
		spawn_plan_free(&pl);
		return r;
	}
	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	child = spawn_vfork(&pl, argv, cwd, dirfd, cmask, stdio, p);
	r = child < 0 ? -child : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (child > 0 && pidfd != NULL) {
		/* Before anything can reap it, so the pid is still ours. */
		if ((pfd = pidfd_open(child, 0)) < 0)	/* always CLOEXEC */
			r = errno;
	}
	if (child > 0) {
		do
			n = read(p[0], &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)sizeof(e) && e != 0 && r == 0)
			r = e;
		else if (n != 0 && r == 0)
			r = EIO;	/* a short report: cannot happen */
		if (r != 0) {
			if (n == 0)
				kill(child, SIGKILL);	/* started, but we failed */
			while (waitpid(child, &st, 0) < 0 && errno == EINTR)
				;
			if (pfd >= 0)
				close(pfd);
			pfd = -1;
		}
	}
	close(p[0]);
	spawn_plan_free(&pl);
	if (r == 0) {
		*pid = child;
		if (pidfd != NULL)
			*pidfd = pfd;
	}
	return r;
}
