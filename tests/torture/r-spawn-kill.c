/*
 * Reproduction (found by the crash torture): a helper killed during a
 * spawn made the library resend SPAWN to the next helper, which ran the
 * command a second time; and a helper killed while its child ran took the
 * child's exit with it (its parent gone, the child was reparented out of
 * reach of the next helper): a wait on it never ended, or ended with
 * WAPI_EXIT_UNKNOWN once someone started a helper.
 *
 * Deterministic: spawn-reply-kill.so, preloaded into the helper, kills it
 * just before it answers the SPAWN (the command started); the second case
 * kills the helper while the command waits on a fifo we hold.  We are a
 * subreaper, so every process of the test ends as our descendant and "all
 * runs are over" is "waitpid(-1) says ECHILD".
 *
 * The preload is $top_builddir/tests/torture/.libs/spawn-reply-kill.so
 * (make check exports top_builddir).
 */
#include <sys/prctl.h>

#include "tlib.h"

static char runs[512], gate[512], mark[512];
static int gatefd = -1;

/* Lines in path: how many times a command ran. */
static int
lines_of(const char *path)
{
	char buf[256];
	ssize_t n, k;
	int fd, lines = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (k = 0; k < n; k++)
			lines += buf[k] == '\n';
	close(fd);
	return lines;
}

/* Every helper killed, every descendant over and reaped. */
static void
end_all(void)
{
	pid_t p[16];
	int n, i;

	n = t_helpers(p, 16);
	for (i = 0; i < n && i < 16; i++)
		kill(p[i], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

/* Release every command waiting on the gate: each reads one line.  (We
 * hold the fifo open for writing from the start, so that a command that
 * opens it late, a second run, is not left waiting for a writer.) */
static void
gate_open(void)
{
	char lines[16];

	memset(lines, '\n', sizeof(lines));
	(void)!write(gatefd, lines, sizeof(lines));
}

/* The preload goes to every program we start (the helper acts on it,
 * the others ignore it). */
static void
preload_set(void)
{
	const char *top = getenv("top_builddir"), *asan = getenv("ASAN_OPTIONS");
	char so[1024], opts[1024];

	snprintf(so, sizeof(so), "%s/tests/torture/.libs/spawn-reply-kill.so",
	    top != NULL ? top : ".");
	if (access(so, R_OK) != 0) {
		printf("# %s missing (run through make check)\n", so);
		exit(99);
	}
	setenv("LD_PRELOAD", so, 1);
	/* An instrumented helper would refuse a library loaded before the
	 * sanitizer's runtime. */
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0",
	    asan != NULL ? asan : "", asan != NULL && *asan != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* The helper dies after the command started, before it answered. */
static void
test_answer_lost(void)
{
	const char *argv[] = { "sh", "-c", NULL, NULL };
	char script[1200];
	wapi_handle_t h = 0;
	pid_t pid = 0;
	int r, code = 0, w = -2;

	snprintf(script, sizeof(script), "echo $$ >>'%s'; read x <'%s'; "
	    "exit 7", runs, gate);
	argv[2] = script;
	setenv("R_SPAWN_KILL_MARK", mark, 1);
	r = wapi_process_spawn(argv, NULL, NULL, NULL, &h, &pid);
	unsetenv("R_SPAWN_KILL_MARK");
	T_OK(access(mark, F_OK) == 0, "the helper was killed before it "
	    "answered the spawn");
	T_EQ(r, 0, "the spawn succeeds through the next helper");
	gate_open();
	if (r == 0) {
		w = wapi_wait(h, WAPI_INFINITE);
		wapi_process_exit_code(h, &code);
	}
	T_EQ(w, WAPI_WAIT_OBJECT_0, "the wait sees its end");
	T_EQ(code, 7, "with its exit code");
	wapi_shutdown();
	end_all();
	T_EQ(lines_of(runs), 1, "the command ran once");
}

/* The helper dies while the command runs; nobody starts another. */
static void
test_exit_kept(void)
{
	const char *argv[] = { "sh", "-c", NULL, NULL };
	char script[1200];
	wapi_handle_t h = 0;
	pid_t hp[4];
	int r, code = 0, w = -2;

	snprintf(script, sizeof(script), "read x <'%s'; exit 9", gate);
	argv[2] = script;
	wapi_init(0);
	r = wapi_process_spawn(argv, NULL, NULL, NULL, &h, NULL);
	T_EQ(r, 0, "spawn a command that waits on the gate");
	T_EQ(t_helpers(hp, 4), 1, "one helper");
	kill(hp[0], SIGKILL);
	waitpid(hp[0], NULL, 0);
	T_EQ(t_helpers(hp, 4), 0, "killed: no helper runs");
	gate_open();
	/* A bound, so that the old behaviour fails instead of hanging. */
	if (r == 0) {
		w = wapi_wait(h, 20000);
		wapi_process_exit_code(h, &code);
	}
	T_EQ(w, WAPI_WAIT_OBJECT_0, "the wait sees its end, with no helper");
	T_EQ(code, 9, "with its exit code");
	T_EQ(t_helpers(hp, 4), 0, "and none was started for it");
	wapi_shutdown();
	end_all();
}

int
main(void)
{
	t_setup("spawn-kill");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(runs, sizeof(runs), "%s/runs", t_dir);
	snprintf(gate, sizeof(gate), "%s/gate", t_dir);
	snprintf(mark, sizeof(mark), "%s/helper-killed", t_dir);
	if (mkfifo(gate, 0600) != 0 ||
	    (gatefd = open(gate, O_RDWR | O_CLOEXEC)) < 0)
		return 99;
	preload_set();
	test_answer_lost();
	test_exit_kept();
	return t_done();
}
