/*
 * The core's worker threads: a job is a function run on a thread of its
 * own, or in place when no thread can be had, so that a caller gets the
 * same result either way and never has to handle the failure.  The thread
 * starts with every signal blocked: signals stay the caller's business, on
 * the caller's thread.  validate.c runs its big passes this way.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "core.h"

void
wcore_job_start(struct wcore_job *j, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	j->threaded = pthread_create(&j->th, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!j->threaded)
		(void)fn(arg);
}

void
wcore_job_wait(struct wcore_job *j)
{
	if (j->threaded)
		pthread_join(j->th, NULL);
	j->threaded = false;
}
