/*
 * wapi-twait: a real process that holds and waits for named objects, for
 * the tests of wait records and `wapictl waits'.  Steps, in order:
 *
 *   own=NAME         create (or open) the named mutex and take it
 *   mutex=NAME       create (or open) the named mutex
 *   event=NAME       create (or open) the named auto-reset event, unset
 *   sem=NAME         create (or open) the named semaphore, count 0 of 1
 *   ready            say "ready PID" on stdout
 *   wait=N[,N...]    wait, without a timeout, for any of the named objects
 *   waitall=N[,N...] wait, without a timeout, for all of them
 *   timed=MS         the next wait times out after MS milliseconds
 *   gate=PATH        sleep until the file PATH exists
 *   pause            sleep until killed
 *
 * A wait says "wait object K", "wait abandoned K", "wait timeout" or
 * "wait failed ERROR" on stdout.  Exit 0 after the last step, 1 when a
 * step failed, 2 on a bad command line.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapi.h"

#define TWAIT_MAX	WAPI_MAXIMUM_WAIT_OBJECTS

static char *names[TWAIT_MAX];
static wapi_handle_t handles[TWAIT_MAX];
static size_t nnames;

static void
add(const char *name, wapi_handle_t h)
{
	if (nnames == TWAIT_MAX)
		errx(2, "more than %d objects", TWAIT_MAX);
	if ((names[nnames] = strdup(name)) == NULL)
		err(1, "strdup");
	handles[nnames++] = h;
}

static wapi_handle_t
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < nnames; i++)
		if (strcmp(names[i], name) == 0)
			return handles[i];
	errx(2, "%s: not created by an earlier step", name);
}

static void
do_wait(char *list, int all, uint32_t ms)
{
	wapi_handle_t hs[TWAIT_MAX];
	char *tok, *save;
	size_t n = 0;
	int r;

	for (tok = strtok_r(list, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (n == TWAIT_MAX)
			errx(2, "more than %d objects in a wait", TWAIT_MAX);
		hs[n++] = lookup(tok);
	}
	r = n == 1 ? wapi_wait(hs[0], ms) :
	    wapi_wait_multiple(hs, n, all, ms);
	if (r == WAPI_WAIT_TIMEOUT)
		printf("wait timeout\n");
	else if (r == WAPI_WAIT_FAILED)
		printf("wait failed %s\n", wapi_strerror(wapi_last_error()));
	else if (r >= WAPI_WAIT_ABANDONED_0 &&
	    r < WAPI_WAIT_ABANDONED_0 + TWAIT_MAX)
		printf("wait abandoned %d\n", r - WAPI_WAIT_ABANDONED_0);
	else
		printf("wait object %d\n", r - WAPI_WAIT_OBJECT_0);
	fflush(stdout);
}

int
main(int argc, char *argv[])
{
	wapi_handle_t h;
	uint32_t ms = WAPI_INFINITE;
	const char *errstr;
	char *arg, *v;
	int i, r;

	wapi_init(0);
	for (i = 1; i < argc; i++) {
		arg = argv[i];
		v = strchr(arg, '=');
		if (v != NULL)
			*v++ = '\0';
		r = 0;
		if (strcmp(arg, "ready") == 0) {
			printf("ready %d\n", (int)getpid());
			fflush(stdout);
		} else if (strcmp(arg, "pause") == 0) {
			for (;;)
				pause();
		} else if (v == NULL)
			errx(2, "%s: unknown step", arg);
		else if (strcmp(arg, "own") == 0 || strcmp(arg, "mutex") == 0) {
			r = wapi_mutex_create(v, 0, &h);
			if (r == 0 && strcmp(arg, "own") == 0 &&
			    wapi_wait(h, WAPI_INFINITE) != WAPI_WAIT_OBJECT_0)
				errx(1, "own=%s: not taken", v);
		} else if (strcmp(arg, "event") == 0)
			r = wapi_event_create(v, 0, 0, &h);
		else if (strcmp(arg, "sem") == 0)
			r = wapi_semaphore_create(v, 0, 1, &h);
		else if (strcmp(arg, "gate") == 0) {
			while (access(v, F_OK) != 0)
				usleep(10000);
			continue;
		} else if (strcmp(arg, "timed") == 0) {
			ms = (uint32_t)strtonum(v, 0, 86400000, &errstr);
			if (errstr != NULL)
				errx(2, "timed=%s: %s", v, errstr);
			continue;
		} else if (strcmp(arg, "wait") == 0 ||
		    strcmp(arg, "waitall") == 0) {
			do_wait(v, strcmp(arg, "waitall") == 0, ms);
			ms = WAPI_INFINITE;
			continue;
		} else
			errx(2, "%s: unknown step", arg);
		if (r != 0)
			errx(1, "%s=%s: %s", arg, v, wapi_strerror(r));
		if (v != NULL)
			add(v, h);
	}
	wapi_shutdown();
	return 0;
}
