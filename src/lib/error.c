/*
 * Errors and messages: the library never prints except through the message
 * handler, whose default writes one line to stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wapi-int.h"

__thread int wl_last_error __attribute__((tls_model("initial-exec")));

/* The message handler and its context: set, and read, together under mu,
 * so that a message never goes to one handler with another's context. */
static struct {
	pthread_mutex_t mu;
	void (*fn)(int, const char *, void *);
	void *ctx;
} wl_handler = { .mu = PTHREAD_MUTEX_INITIALIZER };

static const char *const wl_errors[] = {
	[WAPI_EINVAL - 1000] = "invalid parameter",
	[WAPI_EBADHANDLE - 1000] = "no live object has this handle number (closed by its last holder, or never made on this host)",
	[WAPI_ETYPE - 1000] = "wrong object type (or the name belongs to another type)",
	[WAPI_ENOTFOUND - 1000] = "no object of that name",
	[WAPI_EALREADY_EXISTS - 1000] = "the object already existed and was opened",
	[WAPI_ENOT_OWNER - 1000] = "the calling thread does not own the mutex",
	[WAPI_ETOO_MANY_POSTS - 1000] = "semaphore released past its maximum",
	[WAPI_ESHARING_VIOLATION - 1000] = "the file's share mode forbids this access",
	[WAPI_EFULL - 1000] = "a table of the state file is full",
	[WAPI_EGONE - 1000] = "gone: the descriptor is held by no process any more, or the helper died during a spawn that may have run",
};

const char *
wapi_strerror(int err)
{
	static __thread char buf[64];

	if (err == 0)
		return "success";
	if (err >= 1000 && err < 1000 + (int)(sizeof(wl_errors) / sizeof(wl_errors[0])) &&
	    wl_errors[err - 1000] != NULL)
		return wl_errors[err - 1000];
	if (err > 0 && err < 1000)
		return strerror(err);
	snprintf(buf, sizeof(buf), "unknown error %d", err);
	return buf;
}

int
wapi_last_error(void)
{
	return wl_last_error;
}

void
wapi_set_message_handler(void (*fn)(int, const char *, void *), void *ctx)
{
	pthread_mutex_lock(&wl_handler.mu);
	wl_handler.fn = fn;
	wl_handler.ctx = ctx;
	pthread_mutex_unlock(&wl_handler.mu);
}

void
wl_message_after_fork(void)
{
	pthread_mutex_init(&wl_handler.mu, NULL);
}

void
wl_message(int level, const char *fmt, ...)
{
	char line[16384];	/* a path may be PATH_MAX long, twice */
	void (*fn)(int, const char *, void *);
	va_list ap;
	void *ctx;
	int n;

	n = snprintf(line, sizeof(line), "wapi: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&wl_handler.mu);
	fn = wl_handler.fn;
	ctx = wl_handler.ctx;
	pthread_mutex_unlock(&wl_handler.mu);
	/* Called unlocked: the handler may set another. */
	if (fn != NULL)
		fn(level, line, ctx);
	else
		fprintf(stderr, "%s\n", line);
}
