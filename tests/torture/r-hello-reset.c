/*
 * Reproduction (found by the torture): a helper that dies after a client
 * connected to it but before it answered the client's HELLO sends that
 * client to process-private handles, although a new helper could simply
 * be started.  wl_helper_connect() (src/lib/attach.c) returns the
 * ECONNRESET of the HELLO exchange as final; wl_request() retries the same
 * situation.  Expected to fail until that is fixed (XFAIL_TESTS).
 *
 * Deterministic: the helper is stopped (SIGSTOP) so that the client's
 * connection waits in its listen backlog, then killed.
 */
#include "tlib.h"

static int
holder(void *arg)
{
	struct t_gate *g = arg;

	wapi_init(0);
	t_gate_open(&g[0], wapi_is_shared() ? 'S' : 'P');
	t_gate_pass(&g[1]);
	return 0;
}

int
main(void)
{
	struct t_gate g[2];
	struct wapi_header h;
	pid_t a, b, helper;
	int fd;

	t_setup("hello-reset");
	t_gate_init(&g[0]);
	t_gate_init(&g[1]);
	a = t_fork(holder, g);
	T_EQ(t_gate_pass(&g[0]), 'S', "a first client attaches");
	fd = open(t_state_path(), O_RDONLY | O_CLOEXEC);
	helper = fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) ?
	    h.helper_pid : 0;
	T_OK(helper > 0, "its helper is pid %d", (int)helper);
	kill(helper, SIGSTOP);
	b = t_fork(t_attach_shared, NULL);
	t_msleep(500);		/* b has connected and sent HELLO */
	kill(helper, SIGKILL);
	kill(helper, SIGCONT);
	T_EQ(t_wait(b), 0, "a client whose helper died before answering HELLO "
	    "attaches through a new helper (not private mode)");
	t_gate_open(&g[1], 'x');
	t_wait(a);
	if (fd >= 0)
		close(fd);
	return t_done();
}
