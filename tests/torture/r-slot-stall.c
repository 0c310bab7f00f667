/*
 * Regression test for a bug the torture and the clean race found (fixed
 * in the helper since): when a client died without a goodbye and a new
 * client took its slot (the lowest free client byte) before the helper had
 * handled the dead client's connection drop, helper_client_gone() waited
 * up to 2 s for a client byte that the new client now held, and the
 * single-threaded helper answered nobody meanwhile.
 *
 * The helper is stopped while the first client dies and the second one
 * attaches, so the order of events is fixed; the 2 s were the helper's own
 * wait, not machine noise (the helper answers in milliseconds).
 */
#include "tlib.h"

static int
holder(void *arg)
{
	struct t_gate *g = arg;
	wapi_handle_t ev;

	wapi_init(0);
	t_gate_open(&g[0], wapi_is_shared() &&
	    wapi_event_create(NULL, 1, 0, &ev) == 0 ? 'S' : 'P');
	t_gate_pass(&g[1]);
	return 0;
}

static int
late_client(void *arg)
{
	int64_t t0 = wcore_now_mono_ns(), ms;

	(void)arg;
	wapi_init(0);
	ms = (wcore_now_mono_ns() - t0) / 1000000;
	printf("# the second client attached in %lld ms\n", (long long)ms);
	fflush(stdout);
	return wapi_is_shared() && ms < 1500 ? 0 : 1;
}

int
main(void)
{
	struct t_gate keep[2], dies[2];
	struct wapi_header h;
	pid_t k, a, b, helper;
	int fd;

	t_setup("slot-stall");
	t_gate_init(&keep[0]);
	t_gate_init(&keep[1]);
	t_gate_init(&dies[0]);
	t_gate_init(&dies[1]);
	k = t_fork(holder, keep);
	T_EQ(t_gate_pass(&keep[0]), 'S', "a client keeps the file");
	a = t_fork(holder, dies);
	T_EQ(t_gate_pass(&dies[0]), 'S', "a second client attaches");
	fd = open(t_state_path(), O_RDONLY | O_CLOEXEC);
	helper = fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) ?
	    h.helper_pid : 0;
	T_OK(helper > 0, "the helper is pid %d", (int)helper);
	kill(helper, SIGSTOP);
	kill(a, SIGKILL);	/* no goodbye: its slot byte comes free */
	t_wait(a);
	b = t_fork(late_client, NULL);
	t_msleep(300);		/* b took a's slot and sent HELLO */
	kill(helper, SIGCONT);
	T_EQ(t_wait(b), 0, "a client that reuses a dead client's slot is "
	    "answered at once, not after the helper's 2 s wait for the byte");
	t_gate_open(&keep[1], 'x');
	t_wait(k);
	if (fd >= 0)
		close(fd);
	return t_done();
}
