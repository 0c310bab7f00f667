/*
 * wapi-demo: separate programs sharing handles by name and by number.
 *
 * The coordinator creates a named semaphore of work items, a named "done"
 * event, a named ledger mutex and an unnamed counter semaphore whose
 * *number* it passes on the command line.  It starts three consumers (new
 * programs, exec'd), produces items, and kills one consumer with SIGKILL
 * while that consumer owns the ledger mutex: another consumer then acquires
 * the mutex as abandoned and carries on.  Finally a detached holder keeps a
 * few objects alive for a while so that `wapictl status` and `wapictl
 * handles` have something to show.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
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

/* A consumer: takes items until "done", logging each under the ledger. */
static int
consumer(int id, wapi_handle_t counted, int crash)
{
	wapi_handle_t items, done, ledger, holding, hs[2];
	char who[16];
	int r, n = 0;

	snprintf(who, sizeof(who), "consumer %d", id);
	check(wapi_semaphore_open("demo.items", &items), "open demo.items");
	check(wapi_event_open("demo.done", &done), "open demo.done");
	check(wapi_mutex_open("demo.ledger", &ledger), "open demo.ledger");
	check(wapi_event_open("demo.holding", &holding), "open demo.holding");
	/* The counter came by number: adopt it. */
	check(wapi_handle_ref(counted), "adopt the counter");
	say(who, "opened demo.items, demo.done, demo.ledger by name; "
	    "counter by number %#x", counted);
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

static pid_t
start(const char *self, const char *role, int id, wapi_handle_t counted,
      int crash)
{
	char a1[16], a2[32], a3[4];
	char *argv[] = { (char *)self, (char *)role, a1, a2, a3, NULL };
	pid_t pid;
	int r;

	snprintf(a1, sizeof(a1), "%d", id);
	snprintf(a2, sizeof(a2), "%u", counted);
	snprintf(a3, sizeof(a3), "%d", crash);
	r = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	if (r != 0)
		errc(1, r, "spawn %s", self);
	return pid;
}

/* Keep a few objects alive after the demo, detached from the terminal. */
static void
holder(void)
{
	wapi_handle_t h;
	pid_t pid = fork();
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
	sleep(HOLD_SECONDS);
	wapi_shutdown();
	_exit(0);
}

int
main(int argc, char *argv[])
{
	wapi_handle_t items, done, ledger, holding, counted;
	struct wapi_handle_info info;
	pid_t pids[CONSUMERS];
	int i, status, r;

	if (argc == 5 && strcmp(argv[1], "consumer") == 0)
		return consumer(atoi(argv[2]), (wapi_handle_t)strtoul(argv[3],
		    NULL, 10), atoi(argv[4]));

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
	    "an unnamed counter, number %#x", counted);

	for (i = 0; i < CONSUMERS; i++)
		pids[i] = start("/proc/self/exe", "consumer", i + 1, counted,
		    i == 1);
	/* Items trickle in; consumer 2 will crash holding the ledger. */
	for (i = 0; i < ITEMS; i++) {
		check(wapi_semaphore_release(items, 1, NULL), "produce");
		if (i == 5) {
			r = wapi_wait(holding, 10000);
			kill(pids[1], SIGKILL);
			waitpid(pids[1], &status, 0);
			say("coordinator", "killed consumer 2 (pid %d) with SIGKILL%s",
			    (int)pids[1], r == WAPI_WAIT_OBJECT_0 ?
			    " while it owned demo.ledger" : "");
			pids[1] = 0;
		}
		usleep(10000);
	}
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
	holder();
	say("coordinator", "a holder process keeps demo.keep.* alive for %d s: "
	    "try `wapictl status -v` and `wapictl handles`", HOLD_SECONDS);
	wapi_shutdown();
	return 0;
}
