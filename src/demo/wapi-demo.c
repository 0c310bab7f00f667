/*
 * wapi-demo: separate programs sharing handles by name and by number.
 *
 * The coordinator creates a named semaphore of work items, a named "done"
 * event, a named ledger mutex, an unnamed counter semaphore, a pipe, and a
 * process (sh, started through the helper).  It starts three consumers (new
 * programs, exec'd) and passes them *numbers* on the command line: the
 * counter to all of them, the pipe's write end to consumer 1, the process
 * to consumer 3.  A consumer uses a number as it is, with no
 * wapi_handle_ref(): its first use takes the consumer's own reference.
 * Consumer 1 writes a line into the pipe, which the coordinator reads;
 * consumer 3 waits for the process and reads its exit code.  The
 * coordinator produces items, and kills consumer 2 with SIGKILL while it
 * owns the ledger mutex: another consumer then acquires the mutex as
 * abandoned and carries on.  Finally a detached holder keeps a few objects
 * alive for a while, the pipe and the process among them, so that
 * `wapictl status` and `wapictl handles` have something to show.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wapi.h"

#define ITEMS		30
#define CONSUMERS	3
#define HOLD_SECONDS	30
#define WAIT_MS		10000	/* bound of every wait that should be quick */

extern char **environ;

static void
check(int r, const char *what)
{
	if (r != 0)
		errx(1, "%s: %s", what, wapi_strerror(r));
}

static void
say(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(const char *who, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("[%-11s pid %5d] %s\n", who, (int)getpid(), line);
	fflush(stdout);
}

/* Consumer 1: a line into the pipe, through the write end's number. */
static void
pipe_write(const char *who, int id, wapi_handle_t wr)
{
	char line[64];
	int fd, n;

	check(wapi_fd_get(wr, &fd), "the pipe's write end");
	n = snprintf(line, sizeof(line), "hello from consumer %d, pid %d\n",
	    id, (int)getpid());
	if (write(fd, line, (size_t)n) != n)
		err(1, "write to the pipe");
	say(who, "wrote a line into pipe handle %u (write end, fd %d here)",
	    wr, fd);
}

/* Consumer 3: wait for the process by its number, read its exit code. */
static void
process_wait(const char *who, wapi_handle_t proc)
{
	struct wapi_handle_info info;
	int code, r;

	r = wapi_wait(proc, WAIT_MS);
	if (r == WAPI_WAIT_TIMEOUT)
		errx(1, "process handle %u: still running after %d s", proc,
		    WAIT_MS / 1000);
	if (r != WAPI_WAIT_OBJECT_0)
		errx(1, "wait for process handle %u: %s", proc,
		    wapi_strerror(wapi_last_error()));
	check(wapi_process_exit_code(proc, &code), "exit code");
	check(wapi_handle_info(proc, &info), "process handle");
	say(who, "process handle %u (pid %d) exited with code %d", proc,
	    (int)info.pid, code);
}

/* A consumer: takes items until "done", logging each under the ledger. */
static int
consumer(int id, wapi_handle_t counted, int crash, wapi_handle_t pipe_wr,
	 wapi_handle_t proc)
{
	wapi_handle_t items, done, ledger, holding, hs[2];
	char who[16];
	int r, n = 0;

	snprintf(who, sizeof(who), "consumer %d", id);
	check(wapi_semaphore_open("demo.items", &items), "open demo.items");
	check(wapi_event_open("demo.done", &done), "open demo.done");
	check(wapi_mutex_open("demo.ledger", &ledger), "open demo.ledger");
	check(wapi_event_open("demo.holding", &holding), "open demo.holding");
	/* The numbers are used as they came: the first use adopts each. */
	say(who, "opened demo.items, demo.done, demo.ledger by name; "
	    "uses counter %u by number, as it came", counted);
	if (pipe_wr != 0)
		pipe_write(who, id, pipe_wr);
	if (proc != 0)
		process_wait(who, proc);
	hs[0] = items;
	hs[1] = done;
	for (;;) {
		r = wapi_wait_multiple(hs, 2, 0, WAPI_INFINITE);
		if (r == WAPI_WAIT_OBJECT_0 + 1)
			break;
		if (r != WAPI_WAIT_OBJECT_0)
			errx(1, "wait: %s", wapi_strerror(wapi_last_error()));
		r = wapi_wait(ledger, WAPI_INFINITE);
		if (r == WAPI_WAIT_ABANDONED_0)
			say(who, "got demo.ledger ABANDONED by a dead consumer: "
			    "recovering it");
		else if (r != WAPI_WAIT_OBJECT_0)
			errx(1, "ledger: %s", wapi_strerror(wapi_last_error()));
		n++;
		if (crash) {
			say(who, "holds demo.ledger and will be killed now");
			wapi_event_set(holding);
			for (;;)
				pause();
		}
		check(wapi_semaphore_release(counted, 1, NULL), "count");
		check(wapi_mutex_release(ledger), "release demo.ledger");
		usleep(20000);
	}
	say(who, "done: handled %d item%s", n, n == 1 ? "" : "s");
	wapi_shutdown();
	return 0;
}

/* A consumer, given numbers on its command line (0: none). */
static pid_t
start(const char *self, const char *role, int id, wapi_handle_t counted,
      int crash, wapi_handle_t pipe_wr, wapi_handle_t proc)
{
	char a1[16], a2[16], a3[4], a4[16], a5[16];
	char *argv[] = { (char *)self, (char *)role, a1, a2, a3, a4, a5, NULL };
	pid_t pid;
	int r;

	snprintf(a1, sizeof(a1), "%d", id);
	snprintf(a2, sizeof(a2), "%u", counted);
	snprintf(a3, sizeof(a3), "%d", crash);
	snprintf(a4, sizeof(a4), "%u", pipe_wr);
	snprintf(a5, sizeof(a5), "%u", proc);
	r = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (r != 0)
		errc(1, r, "spawn %s", self);
	return pid;
}

/* The coordinator: one line from the pipe's read end, waiting at most
 * WAIT_MS.  0 when a whole line came. */
static int
pipe_read_line(wapi_handle_t rd, char *line, size_t size)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	int fd;

	check(wapi_fd_get(rd, &fd), "the pipe's read end");
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < size - 1) {
		pfd.revents = 0;
		n = poll(&pfd, 1, WAIT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		n = read(fd, line + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (line[got - 1] == '\n') {
			line[got - 1] = '\0';
			return 0;
		}
	}
	line[got] = '\0';
	return -1;
}

/*
 * Keep a few objects alive after the demo, detached from the terminal:
 * objects of its own, and the numbers in keep[] (the pipe's ends and the
 * process), which it adopts by using them.  It sets the event "ready" (by
 * number too) once it holds them all.
 */
static void
holder(const wapi_handle_t *keep, size_t nkeep, wapi_handle_t ready)
{
	struct wapi_handle_info info;
	wapi_handle_t h;
	pid_t pid = fork();
	size_t i;
	int nul;

	if (pid != 0) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return;
	}
	setsid();
	if (fork() != 0)
		_exit(0);
	nul = open("/dev/null", O_RDWR);
	dup2(nul, 0);
	dup2(nul, 1);
	dup2(nul, 2);
	wapi_shutdown();	/* a new client of its own */
	wapi_event_create("demo.keep.event", 1, 1, &h);
	wapi_mutex_create("demo.keep.mutex", 1, &h);
	wapi_semaphore_create("demo.keep.semaphore", 3, 10, &h);
	wapi_event_create(NULL, 0, 0, &h);
	for (i = 0; i < nkeep; i++)
		if (wapi_handle_info(keep[i], &info) != 0)
			_exit(1);
	if (wapi_event_set(ready) == 0)
		wapi_handle_close(ready);
	sleep(HOLD_SECONDS);
	wapi_shutdown();
	_exit(0);
}

#define DEMO_USAGE "usage: wapi-demo"

/*
 * The demo takes no arguments of its own: -h and --help print what it does
 * (exit 0), anything else is an error (exit 2).  The consumers it starts
 * get the internal form "consumer N COUNTER CRASH PIPE PROCESS".
 */
static void
demo_args(int argc, char *argv[])
{
	if (argc == 7 && strcmp(argv[1], "consumer") == 0)
		return;
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		printf("%s\n"
		    "A coordinator and three consumer programs share handles by "
		    "name and by\nnumber; then a holder keeps a few objects for "
		    "%d seconds, for wapictl status.\n", DEMO_USAGE,
		    HOLD_SECONDS);
		exit(0);
	}
	if (argc > 1)
		errx(2, "%s: %s\n%s (wapi-demo --help)", argv[1],
		    argv[1][0] == '-' ? "unknown option" : "no arguments taken",
		    DEMO_USAGE);
}

int
main(int argc, char *argv[])
{
	static const char *const sh[] = { "sh", "-c", "sleep 0.3; exit 3",
	    NULL };
	wapi_handle_t items, done, ledger, holding, counted, rd, wr, proc, ready;
	wapi_handle_t keep[3];
	struct wapi_handle_info info;
	pid_t pids[CONSUMERS], ppid;
	char line[128];
	int i, status, r;

	demo_args(argc, argv);
	if (argc == 7 && strcmp(argv[1], "consumer") == 0)
		return consumer(atoi(argv[2]),
		    (wapi_handle_t)strtoul(argv[3], NULL, 10), atoi(argv[4]),
		    (wapi_handle_t)strtoul(argv[5], NULL, 10),
		    (wapi_handle_t)strtoul(argv[6], NULL, 10));

	wapi_init(0);
	if (!wapi_is_shared())
		say("coordinator", "note: process-private mode, the consumers "
		    "will not see our objects");
	else
		say("coordinator", "state file %s", wapi_state_path());
	check(wapi_semaphore_create("demo.items", 0, 1000, &items), "demo.items");
	check(wapi_event_create("demo.done", 1, 0, &done), "demo.done");
	check(wapi_mutex_create("demo.ledger", 0, &ledger), "demo.ledger");
	check(wapi_event_create("demo.holding", 0, 0, &holding), "demo.holding");
	check(wapi_semaphore_create(NULL, 0, 1000, &counted), "counter");
	say("coordinator", "created demo.items, demo.done, demo.ledger and "
	    "an unnamed counter, number %u", counted);
	check(wapi_pipe_create(&rd, &wr), "pipe");
	say("coordinator", "created a pipe: read end %u, write end %u", rd, wr);
	check(wapi_process_spawn(sh, NULL, NULL, NULL, &proc, &ppid),
	    "spawn sh");
	say("coordinator", "spawned `sh -c '%s'` (pid %d): process handle %u",
	    sh[2], (int)ppid, proc);

	for (i = 0; i < CONSUMERS; i++)
		pids[i] = start("/proc/self/exe", "consumer", i + 1, counted,
		    i == 1, i == 0 ? wr : 0, i == 2 ? proc : 0);
	/* Items trickle in; consumer 2 will crash holding the ledger. */
	for (i = 0; i < ITEMS; i++) {
		check(wapi_semaphore_release(items, 1, NULL), "produce");
		if (i == 5) {
			r = wapi_wait(holding, WAIT_MS);
			kill(pids[1], SIGKILL);
			waitpid(pids[1], &status, 0);
			say("coordinator", "killed consumer 2 (pid %d) with SIGKILL%s",
			    (int)pids[1], r == WAPI_WAIT_OBJECT_0 ?
			    " while it owned demo.ledger" : "");
			pids[1] = 0;
		}
		usleep(10000);
	}
	/* Consumer 1 wrote its line at its start: it is in the pipe. */
	if (pipe_read_line(rd, line, sizeof(line)) == 0)
		say("coordinator", "read from pipe handle %u: \"%s\"", rd, line);
	else
		say("coordinator", "no line from consumer 1 in pipe handle %u "
		    "within %d s", rd, WAIT_MS / 1000);
	/* Wait until every item is taken, then say done. */
	for (;;) {
		check(wapi_handle_info(items, &info), "demo.items");
		if (info.count == 0)
			break;
		usleep(20000);
	}
	check(wapi_event_set(done), "set demo.done");
	for (i = 0; i < CONSUMERS; i++)
		if (pids[i] > 0)
			waitpid(pids[i], &status, 0);
	/* The counter holds one count per item logged under the ledger. */
	check(wapi_handle_info(counted, &info), "read counter");
	say("coordinator", "%d of %d items were logged under demo.ledger "
	    "(the one in the killed consumer's hands died with it)",
	    (int)info.count, ITEMS);
	check(wapi_event_create(NULL, 1, 0, &ready), "ready event");
	keep[0] = rd;
	keep[1] = wr;
	keep[2] = proc;
	holder(keep, 3, ready);
	if (wapi_wait(ready, WAIT_MS) == WAPI_WAIT_OBJECT_0)
		say("coordinator", "a holder process keeps demo.keep.*, the "
		    "pipe (%u, %u) and process %u alive for %d s: try "
		    "`wapictl status -v` and `wapictl handles`", rd, wr, proc,
		    HOLD_SECONDS);
	else
		say("coordinator", "the holder process did not start within "
		    "%d s: nothing is kept", WAIT_MS / 1000);
	wapi_shutdown();
	return 0;
}
