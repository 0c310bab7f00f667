/*
 * wapi-tuse: uses handle numbers that another process made, as they are:
 * never wapi_handle_ref, so the first use of each number adopts it.
 *
 *   wapi-tuse [offset=N] KIND=NUMBER...
 *
 *   event=N    a signalled event: waited on (bounded)
 *   mutex=N    a free mutex: waited on (bounded), then released
 *   sem=N      a semaphore: released by 1
 *   file=N     a file: read from the shared offset to its end, which must
 *              be tuse_content (offset=N: the offset it must find there)
 *   pipe=N     a pipe's write end: one byte 'p' written
 *   socket=N   a connected socket: one byte 's' written
 *   process=N  a process that exited with code 7
 *
 * Then wapi_handle_info of each number, and two closes: the first drops the
 * reference the use took, the second finds none (WAPI_EBADHANDLE).  One
 * line per number, "KIND ok" or "KIND FAIL why"; exit 0 when every number
 * passed, 1 when one failed, 2 on a bad command line.
 *
 * Built with TUSE_NO_MAIN it has no main: t-adopt calls tuse_run in a child
 * it forked, the same uses without an exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wapi.h"

#define TUSE_WAIT_MS	5000
#define TUSE_PROCESS_CODE 7

extern const char tuse_content[];
int tuse_run(int argc, char *const argv[], const char *prefix);

const char tuse_content[] = "a number just works: adopted by its first use\n";

struct tuse {
	long offset;		/* the file offset expected, -1: any */
	char why[512];
};

static int
fail_err(struct tuse *t, const char *call, int err)
{
	snprintf(t->why, sizeof(t->why), "%s [%s]", wapi_strerror(err), call);
	return -1;
}

static int
fail_msg(struct tuse *t, const char *msg)
{
	snprintf(t->why, sizeof(t->why), "%s", msg);
	return -1;
}

/* A wait that must acquire: anything else is a failure with its reason. */
static int
must_acquire(struct tuse *t, wapi_handle_t h)
{
	int r = wapi_wait(h, TUSE_WAIT_MS);

	if (r == WAPI_WAIT_OBJECT_0)
		return 0;
	if (r == WAPI_WAIT_FAILED)
		return fail_err(t, "wapi_wait", wapi_last_error());
	snprintf(t->why, sizeof(t->why), "wapi_wait returned %#x, not "
	    "WAPI_WAIT_OBJECT_0", (unsigned)r);
	return -1;
}

static int
use_event(struct tuse *t, wapi_handle_t h)
{
	return must_acquire(t, h);
}

static int
use_mutex(struct tuse *t, wapi_handle_t h)
{
	int r;

	if (must_acquire(t, h) != 0)
		return -1;
	if ((r = wapi_mutex_release(h)) != 0)
		return fail_err(t, "wapi_mutex_release", r);
	return 0;
}

static int
use_sem(struct tuse *t, wapi_handle_t h)
{
	int32_t prev = -1;
	int r;

	if ((r = wapi_semaphore_release(h, 1, &prev)) != 0)
		return fail_err(t, "wapi_semaphore_release", r);
	return prev >= 0 ? 0 : fail_msg(t, "no previous count");
}

static int
use_file(struct tuse *t, wapi_handle_t h)
{
	size_t len = strlen(tuse_content), got = 0;
	char buf[sizeof(tuse_content)];
	off_t off;
	ssize_t n;
	int fd, r;

	if ((r = wapi_fd_get(h, &fd)) != 0)
		return fail_err(t, "wapi_fd_get", r);
	if ((off = lseek(fd, 0, SEEK_CUR)) < 0)
		return fail_err(t, "lseek", errno);
	if (t->offset >= 0 && off != t->offset) {
		snprintf(t->why, sizeof(t->why), "the shared offset is %lld, "
		    "want %ld", (long long)off, t->offset);
		return -1;
	}
	if ((size_t)off >= len) {
		snprintf(t->why, sizeof(t->why), "offset %lld: nothing to read",
		    (long long)off);
		return -1;
	}
	while (got < len - (size_t)off) {
		n = read(fd, buf + got, len - (size_t)off - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail_err(t, "read", errno);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != len - (size_t)off || memcmp(buf, tuse_content + off, got) != 0) {
		buf[got] = '\0';
		snprintf(t->why, sizeof(t->why), "read '%.*s' at offset %lld, "
		    "not the known content", (int)got, buf, (long long)off);
		return -1;
	}
	return 0;
}

static int
use_pipe(struct tuse *t, wapi_handle_t h)
{
	int fd, fl, r;

	if ((r = wapi_fd_get(h, &fd)) != 0)
		return fail_err(t, "wapi_fd_get", r);
	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return fail_err(t, "fcntl", errno);
	if ((fl & O_ACCMODE) != O_WRONLY)
		return fail_msg(t, "not the pipe's write end");
	if (write(fd, "p", 1) != 1)
		return fail_err(t, "write", errno);
	return 0;
}

static int
use_socket(struct tuse *t, wapi_handle_t h)
{
	int fd, r;

	if ((r = wapi_fd_get(h, &fd)) != 0)
		return fail_err(t, "wapi_fd_get", r);
	if (send(fd, "s", 1, MSG_NOSIGNAL) != 1)
		return fail_err(t, "send", errno);
	return 0;
}

static int
use_process(struct tuse *t, wapi_handle_t h)
{
	int code = -12345, r;

	if ((r = wapi_process_exit_code(h, &code)) != 0)
		return fail_err(t, "wapi_process_exit_code", r);
	if (code != TUSE_PROCESS_CODE) {
		snprintf(t->why, sizeof(t->why), "exit code %d, want %d", code,
		    TUSE_PROCESS_CODE);
		return -1;
	}
	return 0;
}

static const struct kind {
	const char *name;
	int type;
	int (*use)(struct tuse *, wapi_handle_t);
} kinds[] = {
	{ "event", WAPI_TYPE_EVENT, use_event },
	{ "mutex", WAPI_TYPE_MUTEX, use_mutex },
	{ "sem", WAPI_TYPE_SEMAPHORE, use_sem },
	{ "file", WAPI_TYPE_FILE, use_file },
	{ "pipe", WAPI_TYPE_PIPE, use_pipe },
	{ "socket", WAPI_TYPE_SOCKET, use_socket },
	{ "process", WAPI_TYPE_PROCESS, use_process },
};
#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

/* What wapi_handle_info must say of a number of this kind once used. */
static int
check_info(struct tuse *t, const struct kind *k, wapi_handle_t h)
{
	struct wapi_handle_info info;
	int r;

	if ((r = wapi_handle_info(h, &info)) != 0)
		return fail_err(t, "wapi_handle_info", r);
	if (info.type != k->type) {
		snprintf(t->why, sizeof(t->why), "wapi_handle_info: type %d, "
		    "want %d", info.type, k->type);
		return -1;
	}
	/* Ours (the adopted one) and at least the creator's. */
	if (info.refs < 2) {
		snprintf(t->why, sizeof(t->why), "wapi_handle_info: %u "
		    "references, want at least 2", info.refs);
		return -1;
	}
	if (k->type == WAPI_TYPE_EVENT && !info.signalled)
		return fail_msg(t, "wapi_handle_info: the event is not signalled");
	if (k->type == WAPI_TYPE_MUTEX && info.owner_pid == getpid())
		return fail_msg(t, "wapi_handle_info: still the mutex's owner");
	if (k->type == WAPI_TYPE_SEMAPHORE && info.count < 1)
		return fail_msg(t, "wapi_handle_info: semaphore count 0");
	if (k->type == WAPI_TYPE_PROCESS &&
	    (info.exit_code != TUSE_PROCESS_CODE || !info.signalled))
		return fail_msg(t, "wapi_handle_info: not an exited process "
		    "with code 7");
	return 0;
}

/* Both closes: the adopted reference, then none left. */
static int
check_closes(struct tuse *t, wapi_handle_t h)
{
	int r;

	if ((r = wapi_handle_close(h)) != 0)
		return fail_err(t, "first wapi_handle_close", r);
	r = wapi_handle_close(h);
	if (r != WAPI_EBADHANDLE) {
		snprintf(t->why, sizeof(t->why), "second wapi_handle_close: %s, "
		    "want WAPI_EBADHANDLE", r == 0 ? "success" : wapi_strerror(r));
		return -1;
	}
	return 0;
}

static int
parse_number(const char *s, wapi_handle_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > UINT32_MAX)
		return -1;
	*out = (wapi_handle_t)v;
	return 0;
}

/* The uses of argv[1..]; each line starts with prefix.  0: all passed. */
int
tuse_run(int argc, char *const argv[], const char *prefix)
{
	struct tuse t = { .offset = -1 };
	const struct kind *k;
	wapi_handle_t h;
	const char *eq;
	size_t j, klen;
	int i, failed = 0, used = 0;
	char *end;

	for (i = 1; i < argc; i++)
		if (strncmp(argv[i], "offset=", 7) == 0) {
			t.offset = strtol(argv[i] + 7, &end, 10);
			if (*end != '\0' || t.offset < 0) {
				fprintf(stderr, "wapi-tuse: bad %s\n", argv[i]);
				return 2;
			}
		}
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "offset=", 7) == 0)
			continue;
		k = NULL;
		if ((eq = strchr(argv[i], '=')) != NULL) {
			klen = (size_t)(eq - argv[i]);
			for (j = 0; j < NKINDS; j++)
				if (strlen(kinds[j].name) == klen &&
				    strncmp(kinds[j].name, argv[i], klen) == 0)
					k = &kinds[j];
		}
		if (k == NULL || parse_number(eq + 1, &h) != 0) {
			fprintf(stderr, "wapi-tuse: not KIND=NUMBER: %s\n",
			    argv[i]);
			return 2;
		}
		t.why[0] = '\0';
		if (k->use(&t, h) != 0 || check_info(&t, k, h) != 0 ||
		    check_closes(&t, h) != 0) {
			printf("%s%s FAIL %s\n", prefix, k->name, t.why);
			failed++;
		} else
			printf("%s%s ok\n", prefix, k->name);
		fflush(stdout);
		used++;
	}
	if (used == 0) {
		fprintf(stderr, "usage: wapi-tuse [offset=N] KIND=NUMBER...\n");
		return 2;
	}
	return failed ? 1 : 0;
}

#ifndef TUSE_NO_MAIN
int
main(int argc, char *argv[])
{
	return tuse_run(argc, argv, "");
}
#endif
