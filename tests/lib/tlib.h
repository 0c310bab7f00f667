/*
 * Small harness for the library's C tests: TAP-style output, an isolated
 * state directory and host name per test program, peers that are other
 * processes (shared mode) or threads (private mode), and cleanup of the
 * helper a test started.
 */
#ifndef TLIB_H
#define TLIB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "wapi.h"

static int t_n, t_failed;
static char t_dir[256], t_host[64], t_segdir[256];

#define T_OK(cond, ...) t_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline void t_ok(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void
t_ok(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++t_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok) {
		printf(" (%s:%d)", file, line);
		t_failed++;
	}
	printf("\n");
	fflush(stdout);
}

/* Equality of ints with both values in the message on failure. */
#define T_EQ(a, b, what) do {						\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);		\
	T_OK(t_a_ == t_b_, "%s (got %lld, want %lld)", what, t_a_, t_b_); \
} while (0)

/* A message handler that keeps the library's last message and counts
 * them (wapi_set_message_handler(t_keep_message, NULL)). */
static char t_message[1024];
static int t_messages;

static inline void
t_keep_message(int level, const char *m, void *ctx)
{
	(void)level;
	(void)ctx;
	t_messages++;
	snprintf(t_message, sizeof(t_message), "%s", m);
}

/* A fresh state directory and host name for this program. */
static inline void
t_setup(const char *name)
{
	char tmpl[] = "/tmp/wapi-test-XXXXXX";

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(t_dir, sizeof(t_dir), "%s", tmpl);
	/* The segments too: a directory of ours on the memory file system
	 * (where there is none, the tables stay in the state file). */
	snprintf(t_segdir, sizeof(t_segdir), "/dev/shm/wapi-tseg-XXXXXX");
	if (mkdtemp(t_segdir) != NULL)
		setenv("WAPI_SEGMENT_DIR", t_segdir, 1);
	else
		t_segdir[0] = '\0';
	snprintf(t_host, sizeof(t_host), "%s-%d", name, (int)getpid());
	setenv("WAPI_SHARED_DIR", t_dir, 1);
	setenv("WAPI_SHARED_HOSTNAME", t_host, 1);
	if (getenv("WAPI_HELPER_LINGER") == NULL)
		setenv("WAPI_HELPER_LINGER", "1", 1);
	unsetenv("MONO_SHARED_DIR");
	unsetenv("MONO_SHARED_HOSTNAME");
	signal(SIGPIPE, SIG_IGN);
}

/* The state file path of this test. */
static inline const char *
t_state_path(void)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir, t_host, WAPI_ABI);
	return p;
}

/* Pids of running helpers for our host (their title names the host). */
static inline int
t_helpers(pid_t *out, int max)
{
	char path[300], buf[512], want[128];
	struct dirent *d;
	DIR *dp = opendir("/proc");
	int n = 0, fd;
	ssize_t len;

	/* Our host, or a scenario's host derived from it ("<host>-x"). */
	snprintf(want, sizeof(want), "wapi-helper: %s", t_host);
	if (dp == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", d->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (strncmp(buf, want, strlen(want)) == 0 &&
		    (buf[strlen(want)] == ' ' || buf[strlen(want)] == '-')) {
			/* A zombie has an empty cmdline, so this one runs. */
			if (n < max)
				out[n] = atoi(d->d_name);
			n++;
		}
	}
	closedir(dp);
	return n;
}

/* Kill our helpers and remove the directory. */
static inline void
t_cleanup(void)
{
	pid_t p[16];
	int n, i;

	n = t_helpers(p, 16);
	for (i = 0; i < n && i < 16; i++)
		kill(p[i], SIGKILL);
	if (t_dir[0] != '\0') {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", t_dir);
	}
	if (t_segdir[0] != '\0') {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_segdir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", t_segdir);
	}
}

static inline int
t_done(void)
{
	t_cleanup();
	printf("1..%d\n", t_n);
	return t_failed ? 1 : 0;
}

/* Sleep for ms milliseconds. */
static inline void
t_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Wait until cond() is true, polling, for at most ms: true if it came. */
static inline bool
t_until(bool (*cond)(void *), void *arg, long ms)
{
	long waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (cond(arg))
			return true;
		t_msleep(10);
	}
	return cond(arg);
}

/* Fork a child running fn(arg); its exit status is fn's return value.
 * The child detaches from the parent's attachment (fork does that). */
static inline pid_t
t_fork(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		int r = fn(arg);

		fflush(stdout);
		wapi_shutdown();
		_exit(r);
	}
	return pid;
}

/* Exit status of a child, -1 when it did not exit normally. */
static inline int
t_wait(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child's body (t_fork): attach; 0 when shared, else 1 with the
 * library's message, the reason, printed. */
static inline int
t_attach_shared(void *arg)
{
	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (!wapi_is_shared()) {
		printf("# %s\n", t_message);
		return 1;
	}
	return 0;
}

/* A pipe used as a one-shot signal between processes. */
struct t_gate { int fd[2]; };

static inline void
t_gate_init(struct t_gate *g)
{
	if (pipe(g->fd) != 0)
		exit(99);
}

static inline void
t_gate_open(struct t_gate *g, char c)
{
	if (write(g->fd[1], &c, 1) != 1)
		exit(99);
}

/* Blocks until a byte comes (or every writer closed): the byte or -1. */
static inline int
t_gate_pass(struct t_gate *g)
{
	char c;

	return read(g->fd[0], &c, 1) == 1 ? c : -1;
}

#endif
