/*
 * Semantic tests of libwapi's synchronisation objects (libwapi(3)):
 * events, mutexes, semaphores, names and waits, each rule on its own and,
 * where the rule is about sharing, across processes.
 *
 *   t-sync [-p] [TEST...]
 *
 * A peer is a forked child in shared mode (a fresh client: it adopts the
 * numbers it is given with wapi_handle_ref, or opens by name) and a thread
 * in private mode (-p, or WAPI_DISABLE_SHM set), where the very same tests
 * run inside one process (t-sync-private is this program built to run as
 * with -p).  A test knows that a peer sleeps in a wait by
 * the waiter count of the handle's slot, never by how long it waited.
 */
#include <limits.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "tsync.h"

/* One peer's wait(s): the handles, then the results. */
struct job {
	wapi_handle_t h[WAPI_MAXIMUM_WAIT_OBJECTS];
	int n;				/* handles */
	int all;
	uint32_t timeout;
	int waits;			/* successive waits (0 means 1) */
	int ret[4], err[4];
	int done;			/* results written so far */
	int adopted;			/* references taken */
	int linger;			/* when set: stay until go is set */
	int go;
	pid_t pid, tid;			/* who the peer is */
};

/* Everything the test shares with its peers. */
struct shm {
	struct job job[8];
	int flag[8];			/* steps of a test's protocol */
	int val[8];			/* values a peer reports */
	wapi_handle_t h[8];		/* numbers handed to peers */
	char name[300];
};

static struct shm *S;
static int messages;			/* lines the library gave the handler */
static char last_message[512];

static void
reset_shm(void)
{
	memset(S, 0, sizeof(*S));
}

static void
count_message(int level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	messages++;
	snprintf(last_message, sizeof(last_message), "%s", msg);
}

static pid_t
tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* The peer adopts the numbers of job j (ref), as a fresh client must. */
static int
adopt(struct job *j)
{
	int k, i;

	for (k = 0; k < j->n; k++) {
		for (i = 0; i < k; i++)
			if (j->h[i] == j->h[k])
				break;
		if (i < k)
			continue;
		if (wapi_handle_ref(j->h[k]) != 0)
			return 10 + k;
	}
	j->adopted = 1;
	return 0;
}

static void
unadopt(struct job *j)
{
	int k, i;

	for (k = 0; k < j->n; k++) {
		for (i = 0; i < k; i++)
			if (j->h[i] == j->h[k])
				break;
		if (i == k)
			wapi_handle_close(j->h[k]);
	}
}

/* Peer: adopt, wait job->waits times, report each result.  Mutexes it
 * acquired are abandoned when it ends (process or thread exit). */
static int
p_wait(void *arg)
{
	struct job *j = arg;
	int r, k, waits = j->waits ? j->waits : 1;

	j->pid = getpid();
	j->tid = tid();
	if ((r = adopt(j)) != 0)
		return r;
	for (k = 0; k < waits; k++) {
		r = j->n == 1 ? wapi_wait(j->h[0], j->timeout) :
		    wapi_wait_multiple(j->h, (size_t)j->n, j->all, j->timeout);
		j->ret[k] = r;
		j->err[k] = r == WAPI_WAIT_FAILED ? wapi_last_error() : 0;
		ts_inc(&j->done);
	}
	if (j->linger && !ts_await(&j->go, 1))
		return 9;
	unadopt(j);
	return 0;
}

static void
job1(struct job *j, wapi_handle_t h, uint32_t timeout)
{
	memset(j, 0, sizeof(*j));
	j->h[0] = h;
	j->n = 1;
	j->timeout = timeout;
}

static int
done_total(int n)
{
	int k, t = 0;

	for (k = 0; k < n; k++)
		t += ts_load(&S->job[k].done);
	return t;
}

struct total_cond { int n, want; };

static bool
done_total_cond(void *a)
{
	struct total_cond *c = a;

	return done_total(c->n) >= c->want;
}

/* Wait until the first n jobs reported want results in all. */
static bool
await_done(int n, int want)
{
	struct total_cond c = { n, want };

	return t_until(done_total_cond, &c, TS_LONG);
}

static int
count_ret(int n, int want)
{
	int k, i, c = 0;

	for (k = 0; k < n; k++)
		for (i = 0; i < ts_load(&S->job[k].done); i++)
			c += S->job[k].ret[i] == want;
	return c;
}

/* Jobs 0..n-1 waited on e (job 2 on [d, e], a multi-object sleep). */
static void
jobs_on_event(int n, wapi_handle_t e, wapi_handle_t d)
{
	int k;

	for (k = 0; k < n; k++) {
		job1(&S->job[k], e, TS_LONG);
		if (k == 2) {
			S->job[k].h[0] = d;
			S->job[k].h[1] = e;
			S->job[k].n = 2;
		}
	}
}

/* How many of jobs 0..n-1 got their event (index 1 for the 2-wait). */
static int
count_got_event(int n)
{
	int k, c = 0;

	for (k = 0; k < n; k++)
		c += ts_load(&S->job[k].done) > 0 &&
		    S->job[k].ret[0] == WAPI_WAIT_OBJECT_0 + (S->job[k].n - 1);
	return c;
}

static int
sem_count(wapi_handle_t h)
{
	struct wapi_handle_info in;

	if (wapi_handle_info(h, &in) != 0)
		return -1;
	return in.count;
}

static int
signalled(wapi_handle_t h)
{
	struct wapi_handle_info in;

	if (wapi_handle_info(h, &in) != 0)
		return -1;
	return in.signalled;
}

/* ================================================================ events */

static void
t_event_manual_set_releases_all(void)
{
	struct ts_peer p[3];
	wapi_handle_t e, d;
	int k;

	reset_shm();
	T_EQ(wapi_event_create(NULL, 1, 0, &e), 0, "manual event created");
	T_EQ(wapi_event_create(NULL, 1, 0, &d), 0, "another event, never set");
	jobs_on_event(3, e, d);
	for (k = 0; k < 3; k++)
		ts_peer_start(&p[k], p_wait, &S->job[k]);
	T_OK(ts_sleepers(e, 3), "3 peers sleep on the manual event");
	T_EQ(done_total(3), 0, "no waiter released before the set");
	T_EQ(wapi_event_set(e), 0, "set");
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(count_got_event(3), 3,
	    "manual set: all 3 waiting peers released");
	T_EQ(signalled(e), 1, "manual event stays signalled");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_OBJECT_0, "and a later wait passes");
	wapi_handle_close(e);
	wapi_handle_close(d);
}

static void
t_event_auto_set_releases_one(void)
{
	struct ts_peer p[3];
	wapi_handle_t e, d;
	int k;

	reset_shm();
	T_EQ(wapi_event_create(NULL, 0, 0, &e), 0, "auto event created");
	T_EQ(wapi_event_create(NULL, 1, 0, &d), 0, "another event, never set");
	jobs_on_event(3, e, d);
	for (k = 0; k < 3; k++)
		ts_peer_start(&p[k], p_wait, &S->job[k]);
	T_OK(ts_sleepers(e, 3), "3 peers sleep on the auto event");
	for (k = 1; k <= 3; k++) {
		T_EQ(wapi_event_set(e), 0, "set");
		T_OK(await_done(3, k), "a waiter was released by set %d", k);
		/* The others go back to sleep; none can pass any more. */
		T_OK(ts_sleepers_exactly(e, 3 - k), "%d still sleep", 3 - k);
		T_EQ(done_total(3), k, "auto set: exactly one waiter per set");
		T_EQ(signalled(e), 0, "the released waiter reset the event");
	}
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(count_got_event(3), 3, "each waiter got OBJECT_0 once");
	/* Set with nobody waiting: stays signalled for exactly one wait. */
	T_EQ(wapi_event_set(e), 0, "set with nobody waiting");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_OBJECT_0, "first wait passes");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "second wait times out");
	wapi_handle_close(e);
	wapi_handle_close(d);
}

static int
p_reset(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t e = s->h[0];

	if (wapi_handle_ref(e) != 0)
		return 1;
	s->val[0] = wapi_event_reset(e);
	s->val[1] = wapi_wait(e, 0);
	ts_store(&s->flag[0], 1);
	if (!ts_await(&s->flag[1], 1))	/* the parent set it again */
		return 2;
	s->val[2] = wapi_wait(e, 0);
	wapi_handle_close(e);
	return 0;
}

static void
t_event_reset(void)
{
	struct ts_peer p;
	wapi_handle_t e;

	reset_shm();
	T_EQ(wapi_event_create(NULL, 1, 1, &e), 0, "manual event, initially set");
	T_EQ(wapi_event_reset(e), 0, "reset");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "reset event: wait times out");
	T_EQ(wapi_event_reset(e), 0, "reset of a reset event is fine");
	T_EQ(wapi_event_set(e), 0, "set");
	S->h[0] = e;
	ts_peer_start(&p, p_reset, S);
	T_OK(ts_await(&S->flag[0], 1), "peer reset the event");
	T_EQ(S->val[0], 0, "peer's reset returned 0");
	T_EQ(S->val[1], WAPI_WAIT_TIMEOUT, "peer sees it reset");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "a reset by a peer is seen here");
	T_EQ(wapi_event_set(e), 0, "set again");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->val[2], WAPI_WAIT_OBJECT_0, "peer sees the set");
	/* Reset of an auto event, too. */
	wapi_handle_close(e);
	T_EQ(wapi_event_create(NULL, 0, 1, &e), 0, "auto event, initially set");
	T_EQ(wapi_event_reset(e), 0, "reset");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "reset auto event: wait times out");
	wapi_handle_close(e);
}

static void
t_event_pulse_manual(void)
{
	struct ts_peer p[3];
	wapi_handle_t e, d;
	int k;

	reset_shm();
	T_EQ(wapi_event_create(NULL, 1, 0, &e), 0, "manual event created");
	T_EQ(wapi_event_create(NULL, 1, 0, &d), 0, "another event, never set");
	jobs_on_event(3, e, d);
	for (k = 0; k < 3; k++)
		ts_peer_start(&p[k], p_wait, &S->job[k]);
	T_OK(ts_sleepers(e, 3), "3 peers sleep on the manual event");
	T_EQ(wapi_event_pulse(e), 0, "pulse");
	T_EQ(signalled(e), 0, "pulse leaves the event reset");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "a wait after the pulse times out");
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(count_got_event(3), 3,
	    "manual pulse: the 3 waiters present are released");
	T_EQ(signalled(e), 0, "still reset afterwards");
	wapi_handle_close(e);
	wapi_handle_close(d);
}

static void
t_event_pulse_auto(void)
{
	struct ts_peer p[3];
	wapi_handle_t e, d;
	int k;

	reset_shm();
	T_EQ(wapi_event_create(NULL, 0, 0, &e), 0, "auto event created");
	T_EQ(wapi_event_create(NULL, 1, 0, &d), 0, "another event, never set");
	jobs_on_event(3, e, d);
	for (k = 0; k < 3; k++)
		ts_peer_start(&p[k], p_wait, &S->job[k]);
	T_OK(ts_sleepers(e, 3), "3 peers sleep on the auto event");
	for (k = 1; k <= 3; k++) {
		T_EQ(wapi_event_pulse(e), 0, "pulse");
		T_OK(await_done(3, k), "pulse %d released a waiter", k);
		T_OK(ts_sleepers_exactly(e, 3 - k), "%d still sleep", 3 - k);
		T_EQ(done_total(3), k, "auto pulse: exactly one waiter per pulse");
		T_EQ(signalled(e), 0, "pulse leaves the event reset");
	}
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(count_got_event(3), 3, "each waiter got OBJECT_0 once");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "nothing left signalled");
	wapi_handle_close(e);
	wapi_handle_close(d);
}

static int
p_poll_once(void *arg)
{
	struct job *j = arg;

	j->timeout = 0;
	return p_wait(j);
}

static void
t_event_pulse_nobody(void)
{
	struct ts_peer p;
	wapi_handle_t e;
	int manual;

	for (manual = 0; manual <= 1; manual++) {
		reset_shm();
		TS_EQ(wapi_event_create(NULL, manual, 0, &e), 0, "%s event",
		    manual ? "manual" : "auto");
		T_EQ(wapi_event_pulse(e), 0, "pulse with nobody waiting");
		T_EQ(signalled(e), 0, "event still reset");
		T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT,
		    "a wait after the pulse is not released");
		job1(&S->job[0], e, 0);
		ts_peer_start(&p, p_poll_once, &S->job[0]);
		T_EQ(ts_peer_join(&p), 0, "peer ran");
		T_EQ(S->job[0].ret[0], WAPI_WAIT_TIMEOUT,
		    "nor is a peer's later wait");
		/* A pulse of a set event leaves it reset (Win32 PulseEvent). */
		T_EQ(wapi_event_set(e), 0, "set");
		T_EQ(wapi_event_pulse(e), 0, "pulse of a set event");
		T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "it is reset afterwards");
		wapi_handle_close(e);
	}
}

/*
 * A pulse releases only a waiter that it can release at that moment: a
 * wait-all on [event, mutex held elsewhere] is not satisfied by a pulse
 * (NtPulseEvent, ntsync), and must not be satisfied later by that stale
 * pulse once the mutex comes free.
 */
static void
t_event_pulse_wait_all(void)
{
	struct ts_peer p;
	struct wapi_handle_info in;
	wapi_handle_t e, m;
	int manual;

	for (manual = 1; manual >= 0; manual--) {
		reset_shm();
		TS_EQ(wapi_event_create(NULL, manual, 0, &e), 0, "%s event",
		    manual ? "manual" : "auto");
		T_EQ(wapi_mutex_create(NULL, 1, &m), 0, "mutex owned here");
		S->job[0].h[0] = e;
		S->job[0].h[1] = m;
		S->job[0].n = 2;
		S->job[0].all = 1;
		S->job[0].timeout = TS_LONG;
		S->job[0].linger = 1;
		ts_peer_start(&p, p_wait, &S->job[0]);
		T_OK(ts_sleepers(e, 1) && ts_sleepers(m, 1),
		    "peer sleeps in wait-all [event, mutex]");
		T_EQ(wapi_event_pulse(e), 0, "pulse while the mutex is held");
		T_EQ(wapi_mutex_release(m), 0, "then release the mutex");
		/* Give a wrongly released waiter time to show; a correct
		 * library keeps it asleep, so this never fails spuriously. */
		t_msleep(300);
		TS_EQ(ts_load(&S->job[0].done), 0, "%s pulse, then mutex "
		    "released: the wait-all waiter was not released by the "
		    "stale pulse (returned %d)", manual ? "manual" : "auto",
		    S->job[0].ret[0]);
		T_EQ(wapi_handle_info(m, &in), 0, "mutex info");
		T_OK(in.owner_pid == 0 || in.owner_pid != S->job[0].pid ||
		    in.owner_tid != S->job[0].tid, "the waiter does not own it");
		T_EQ(wapi_event_set(e), 0, "now set the event");
		T_OK(await_done(1, 1), "the waiter returned");
		ts_store(&S->job[0].go, 1);
		T_EQ(ts_peer_join(&p), 0, "peer ran");
		T_EQ(S->job[0].ret[0], WAPI_WAIT_OBJECT_0, "the set releases it");
		wapi_handle_close(e);
		wapi_handle_close(m);
	}
}

/* =============================================================== mutexes */

static int
p_mutex_probe(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t m = s->h[0];
	int step;

	if (wapi_handle_ref(m) != 0)
		return 1;
	/* For each step the parent opens, poll the mutex once (releasing it
	 * at once when taken), or try to release it when val[7] says so. */
	for (step = 1; step <= 4; step++) {
		if (!ts_await(&s->flag[0], step))
			return 2;
		if (s->val[7] == step) {
			s->val[step] = wapi_mutex_release(m);
		} else {
			s->val[step] = wapi_wait(m, 0);
			if (s->val[step] == WAPI_WAIT_OBJECT_0 ||
			    s->val[step] == WAPI_WAIT_ABANDONED_0)
				wapi_mutex_release(m);
		}
		ts_store(&s->flag[1], step);
	}
	wapi_handle_close(m);
	return 0;
}

/* Ask the probe peer for step n; returns what it saw. */
static int
probe(int n)
{
	ts_store(&S->flag[0], n);
	if (!ts_await(&S->flag[1], n))
		return -2;
	return S->val[n];
}

static void
t_mutex_recursion(void)
{
	struct wapi_handle_info in;
	struct ts_peer p;
	wapi_handle_t m;
	int k;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex created unowned");
	for (k = 0; k < 3; k++)
		T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "acquire");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.recursion, 3, "recursion 3");
	T_EQ(in.owner_pid, getpid(), "owned by this process");
	T_EQ(in.owner_tid, tid(), "and this thread");
	S->h[0] = m;
	ts_peer_start(&p, p_mutex_probe, S);
	T_EQ(probe(1), WAPI_WAIT_TIMEOUT, "peer cannot take it (held 3 times)");
	T_EQ(wapi_mutex_release(m), 0, "release 1");
	T_EQ(wapi_mutex_release(m), 0, "release 2");
	T_EQ(probe(2), WAPI_WAIT_TIMEOUT, "peer cannot take it (held once)");
	T_EQ(wapi_mutex_release(m), 0, "release 3");
	T_EQ(wapi_mutex_release(m), WAPI_ENOT_OWNER, "4th release: WAPI_ENOT_OWNER");
	T_EQ(wapi_last_error(), WAPI_ENOT_OWNER, "last error says so");
	T_EQ(probe(3), WAPI_WAIT_OBJECT_0, "peer takes it once it is free");
	T_EQ(probe(4), WAPI_WAIT_OBJECT_0, "and again (it released it)");
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(m);
}

static void *
th_release(void *arg)
{
	wapi_handle_t *m = arg;

	return (void *)(intptr_t)wapi_mutex_release(*m);
}

static void
t_mutex_not_owner(void)
{
	struct wapi_handle_info in;
	struct ts_peer p;
	pthread_t th;
	wapi_handle_t m;
	void *rv;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex created");
	T_EQ(wapi_mutex_release(m), WAPI_ENOT_OWNER, "release of a free mutex");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "acquire");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "acquire again");
	pthread_create(&th, NULL, th_release, &m);
	pthread_join(th, &rv);
	T_EQ((intptr_t)rv, WAPI_ENOT_OWNER,
	    "release by another thread: WAPI_ENOT_OWNER");
	S->h[0] = m;
	S->val[7] = 1;			/* the peer releases at step 1 */
	ts_peer_start(&p, p_mutex_probe, S);
	T_EQ(probe(1), WAPI_ENOT_OWNER, "release by a peer: WAPI_ENOT_OWNER");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.owner_tid, tid(), "still owned here");
	T_EQ(in.recursion, 2, "recursion unchanged");
	T_EQ(probe(2), WAPI_WAIT_TIMEOUT, "peer still cannot take it");
	T_EQ(wapi_mutex_release(m), 0, "owner releases");
	T_EQ(wapi_mutex_release(m), 0, "owner releases again");
	T_EQ(probe(3), WAPI_WAIT_OBJECT_0, "now the peer takes it");
	probe(4);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(m);
}

/* Peer: take mutex h[0], say so, hold it until flag[1], release. */
static int
p_hold_mutex(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t m = s->h[0];

	if (wapi_handle_ref(m) != 0)
		return 1;
	s->val[0] = wapi_wait(m, TS_LONG);
	s->val[4] = getpid();
	s->val[5] = tid();
	ts_store(&s->flag[0], 1);
	if (!ts_await(&s->flag[1], 1))
		return 2;
	if (s->flag[2] == 0)			/* else: die holding it */
		s->val[1] = wapi_mutex_release(m);
	ts_store(&s->flag[3], 1);
	if (s->flag[2] == 2)			/* stay (killed by the test) */
		for (;;)
			pause();
	if (s->flag[2] == 0)
		wapi_handle_close(m);
	return 0;
}

static void
t_mutex_excludes_peer(void)
{
	struct ts_peer p, q;
	wapi_handle_t m;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex created");
	S->h[0] = m;
	ts_peer_start(&p, p_hold_mutex, S);
	T_OK(ts_await(&S->flag[0], 1), "peer took the mutex");
	T_EQ(S->val[0], WAPI_WAIT_OBJECT_0, "peer's wait: OBJECT_0");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_TIMEOUT, "owned by a peer: poll times out");
	T_EQ(wapi_wait(m, 50), WAPI_WAIT_TIMEOUT,
	    "owned by a peer: a finite wait times out");
	/* A third party waits until the owner releases. */
	job1(&S->job[0], m, TS_LONG);
	ts_peer_start(&q, p_wait, &S->job[0]);
	T_OK(ts_sleepers(m, 1), "another peer sleeps on the mutex");
	T_EQ(ts_load(&S->job[0].done), 0, "and is not let in");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "owner released and left");
	T_EQ(S->val[1], 0, "owner's release returned 0");
	T_EQ(ts_peer_join(&q), 0, "waiter ran");
	T_EQ(S->job[0].ret[0], WAPI_WAIT_OBJECT_0,
	    "the waiter gets the mutex on release (not abandoned)");
	wapi_handle_close(m);
}

struct th_take { wapi_handle_t m; int r, times; };

static void *
th_take_and_exit(void *arg)
{
	struct th_take *t = arg;
	int k;

	t->r = wapi_wait(t->m, TS_LONG);
	for (k = 1; k < t->times; k++)
		wapi_wait(t->m, 0);
	return NULL;			/* exits still owning it */
}

/* Peer: a thread of the peer takes h[0] and exits; the peer lives on
 * until flag[1]. */
static int
p_thread_abandons(void *arg)
{
	struct shm *s = arg;
	struct th_take t = { s->h[0], -1, 1 };
	pthread_t th;

	if (wapi_handle_ref(t.m) != 0)
		return 1;
	pthread_create(&th, NULL, th_take_and_exit, &t);
	pthread_join(th, NULL);
	s->val[0] = t.r;
	ts_store(&s->flag[0], 1);
	if (!ts_await(&s->flag[1], 1))
		return 2;
	wapi_handle_close(t.m);
	return 0;
}

static void
t_mutex_abandoned_thread(void)
{
	struct wapi_handle_info in;
	struct th_take t;
	struct ts_peer p;
	pthread_t th;
	wapi_handle_t m;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex created");
	t.m = m;
	t.times = 3;
	pthread_create(&th, NULL, th_take_and_exit, &t);
	pthread_join(th, NULL);
	T_EQ(t.r, WAPI_WAIT_OBJECT_0, "a thread took it (3 times) and exited");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_ABANDONED_0,
	    "next wait: WAPI_WAIT_ABANDONED_0");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.recursion, 1, "the new owner holds it once (not 4 times)");
	T_EQ(in.owner_tid, tid(), "and owns it");
	T_EQ(wapi_mutex_release(m), 0, "the new owner releases");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "the wait after is normal");
	T_EQ(wapi_mutex_release(m), 0, "release");

	/* A thread of another process (its process lives on). */
	S->h[0] = m;
	ts_peer_start(&p, p_thread_abandons, S);
	T_OK(ts_await(&S->flag[0], 1), "a peer's thread took it and exited");
	T_EQ(S->val[0], WAPI_WAIT_OBJECT_0, "it had taken it");
	T_EQ(wapi_wait(m, TS_LONG), WAPI_WAIT_ABANDONED_0,
	    "here: WAPI_WAIT_ABANDONED_0 while the peer process still runs");
	T_EQ(wapi_mutex_release(m), 0, "release");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "then normal");
	T_EQ(wapi_mutex_release(m), 0, "release");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");

	/* A waiter already asleep is woken by the owner thread's exit. */
	reset_shm();
	S->h[0] = m;
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "main thread takes it");
	job1(&S->job[0], m, TS_LONG);
	ts_peer_start(&p, p_wait, &S->job[0]);
	T_OK(ts_sleepers(m, 1), "a peer sleeps on it");
	T_EQ(wapi_mutex_release(m), 0, "main releases");
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->job[0].ret[0], WAPI_WAIT_OBJECT_0, "peer got it normally");
	T_EQ(wapi_wait(m, TS_LONG), WAPI_WAIT_ABANDONED_0,
	    "the peer ended owning it: abandoned to us");
	T_EQ(wapi_mutex_release(m), 0, "release");
	wapi_handle_close(m);
}

static void
t_mutex_abandoned_kill(void)
{
	struct ts_peer p, q;
	wapi_handle_t m, e1, e2;
	int r;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex created");
	T_EQ(wapi_event_create(NULL, 1, 0, &e1), 0, "event");
	T_EQ(wapi_event_create(NULL, 0, 0, &e2), 0, "event");
	S->h[0] = m;
	S->flag[2] = ts_private ? 1 : 2;	/* die / stay to be killed */
	ts_peer_start(&p, p_hold_mutex, S);
	T_OK(ts_await(&S->flag[0], 1), "owner peer took the mutex");
	/* Another peer waits on [event, event, mutex]. */
	S->job[0].h[0] = e1;
	S->job[0].h[1] = e2;
	S->job[0].h[2] = m;
	S->job[0].n = 3;
	S->job[0].timeout = TS_LONG;
	S->job[0].waits = 2;
	ts_peer_start(&q, p_wait, &S->job[0]);
	T_OK(ts_sleepers(m, 1), "waiter peer sleeps on [e1, e2, mutex]");
	ts_store(&S->flag[1], 1);
	if (ts_private) {
		/* No process to kill: the owner thread ends owning it. */
		T_EQ(ts_peer_join(&p), 0, "owner thread exited owning it");
	} else {
		T_OK(ts_await(&S->flag[3], 1), "owner ready to be killed");
		ts_peer_kill(&p);
		T_OK(1, "owner peer killed with SIGKILL");
	}
	T_OK(await_done(1, 1), "the waiter was woken");
	T_EQ(S->job[0].ret[0], WAPI_WAIT_ABANDONED_0 + 2,
	    "wait-any: WAPI_WAIT_ABANDONED_0 + 2 (index of the mutex)");
	T_OK(await_done(1, 2), "the waiter waited again");
	T_EQ(S->job[0].ret[1], WAPI_WAIT_OBJECT_0 + 2,
	    "its next wait is normal (it owns the mutex, recursively)");
	T_EQ(ts_peer_join(&q), 0, "waiter ran");
	/* The waiter ended owning it: the same by wait-all from here. */
	memset(&S->job[1], 0, sizeof(S->job[1]));
	S->job[1].h[0] = m;
	S->job[1].h[1] = e1;
	S->job[1].n = 2;
	S->job[1].all = 1;
	S->job[1].timeout = 0;
	T_EQ(wapi_event_set(e1), 0, "set e1");
	r = wapi_wait_multiple(S->job[1].h, 2, 1, 0);
	if (r == WAPI_WAIT_ABANDONED_0 || r == WAPI_WAIT_OBJECT_0)
		wapi_mutex_release(m);
	T_EQ(r, WAPI_WAIT_ABANDONED_0, "wait-all [mutex, event]: ABANDONED_0 + 0");
	wapi_handle_close(m);
	wapi_handle_close(e1);
	wapi_handle_close(e2);
}

static void
t_mutex_initially_owned(void)
{
	struct wapi_handle_info in;
	struct ts_peer p;
	wapi_handle_t m, m2;

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 1, &m), 0, "mutex created owned");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.owner_pid, getpid(), "owner pid");
	T_EQ(in.owner_tid, tid(), "owner tid");
	T_EQ(in.recursion, 1, "recursion 1");
	T_EQ(in.signalled, 0, "not signalled");
	S->h[0] = m;
	ts_peer_start(&p, p_mutex_probe, S);
	T_EQ(probe(1), WAPI_WAIT_TIMEOUT, "peer cannot take it");
	T_EQ(wapi_mutex_release(m), 0, "release");
	T_EQ(wapi_mutex_release(m), WAPI_ENOT_OWNER, "second release: not owner");
	T_EQ(probe(2), WAPI_WAIT_OBJECT_0, "peer takes it");
	probe(3);
	probe(4);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(m);

	/* initially_owned on an existing name opens without taking it. */
	reset_shm();
	T_EQ(wapi_mutex_create("t-sync owned mutex", 0, &m), 0, "named mutex");
	S->h[0] = m;
	ts_peer_start(&p, p_hold_mutex, S);
	T_OK(ts_await(&S->flag[0], 1), "peer owns it");
	T_EQ(wapi_mutex_create("t-sync owned mutex", 1, &m2), 0,
	    "create(owned) of the existing name");
	T_EQ(wapi_last_error(), WAPI_EALREADY_EXISTS, "opened: EALREADY_EXISTS");
	T_EQ(m2, m, "same number");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_OK(in.owner_pid == S->val[4] && in.owner_tid == S->val[5],
	    "the peer still owns it (initially_owned ignored)");
	wapi_handle_close(m2);
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(m);
}

/* ============================================================ semaphores */

static void
t_sem_create_invalid(void)
{
	wapi_handle_t s = 0;

	T_EQ(wapi_semaphore_create(NULL, 2, 1, &s), WAPI_EINVAL,
	    "initial > maximum: WAPI_EINVAL");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "last error");
	T_EQ(wapi_semaphore_create(NULL, 0, 0, &s), WAPI_EINVAL,
	    "maximum 0: WAPI_EINVAL");
	T_EQ(wapi_semaphore_create(NULL, 0, -1, &s), WAPI_EINVAL,
	    "maximum -1: WAPI_EINVAL");
	T_EQ(wapi_semaphore_create(NULL, -1, 5, &s), WAPI_EINVAL,
	    "negative initial: WAPI_EINVAL");
	T_EQ(wapi_semaphore_create(NULL, INT32_MIN, 5, &s), WAPI_EINVAL,
	    "INT32_MIN initial: WAPI_EINVAL");
	T_EQ(wapi_semaphore_create("t-sync bad sem", 3, 2, &s), WAPI_EINVAL,
	    "named, initial > maximum: WAPI_EINVAL");
	T_EQ(wapi_semaphore_open("t-sync bad sem", &s), WAPI_ENOTFOUND,
	    "and nothing was created");
	T_EQ(wapi_semaphore_create(NULL, 0, 1, NULL), WAPI_EINVAL,
	    "NULL out: WAPI_EINVAL");
	T_EQ(wapi_semaphore_create(NULL, 0, 1, &s), 0, "0 of 1 is fine");
	wapi_handle_close(s);
	T_EQ(wapi_semaphore_create(NULL, INT32_MAX, INT32_MAX, &s), 0,
	    "INT32_MAX of INT32_MAX is fine");
	T_EQ(sem_count(s), INT32_MAX, "count INT32_MAX");
	wapi_handle_close(s);
}

static void
t_sem_release_invalid(void)
{
	wapi_handle_t s;
	int32_t prev = 77;

	T_EQ(wapi_semaphore_create(NULL, 1, 5, &s), 0, "semaphore 1 of 5");
	T_EQ(wapi_semaphore_release(s, 0, &prev), WAPI_EINVAL,
	    "release of 0: WAPI_EINVAL");
	T_EQ(wapi_semaphore_release(s, -1, &prev), WAPI_EINVAL,
	    "release of -1: WAPI_EINVAL");
	T_EQ(wapi_semaphore_release(s, INT32_MIN, NULL), WAPI_EINVAL,
	    "release of INT32_MIN: WAPI_EINVAL");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "last error");
	T_EQ(sem_count(s), 1, "count unchanged");
	T_EQ(prev, 77, "previous untouched on failure");
	wapi_handle_close(s);
}

static void
t_sem_too_many_posts(void)
{
	wapi_handle_t s;
	int32_t prev = -5;

	T_EQ(wapi_semaphore_create(NULL, 2, 3, &s), 0, "semaphore 2 of 3");
	T_EQ(wapi_semaphore_release(s, 2, &prev), WAPI_ETOO_MANY_POSTS,
	    "2 + 2 > 3: WAPI_ETOO_MANY_POSTS");
	T_EQ(wapi_last_error(), WAPI_ETOO_MANY_POSTS, "last error");
	T_EQ(sem_count(s), 2, "count unchanged (info)");
	T_EQ(wapi_semaphore_release(s, INT32_MAX, NULL), WAPI_ETOO_MANY_POSTS,
	    "INT32_MAX: WAPI_ETOO_MANY_POSTS (no overflow)");
	T_EQ(sem_count(s), 2, "count unchanged");
	T_EQ(wapi_semaphore_release(s, 1, &prev), 0, "release 1 reaches 3");
	T_EQ(prev, 2, "previous was 2 (the failures changed nothing)");
	T_EQ(wapi_semaphore_release(s, 1, &prev), WAPI_ETOO_MANY_POSTS,
	    "at the maximum: WAPI_ETOO_MANY_POSTS");
	T_EQ(sem_count(s), 3, "count stays 3");
	T_EQ(wapi_wait(s, 0), WAPI_WAIT_OBJECT_0, "take one");
	T_EQ(wapi_semaphore_release(s, 1, &prev), 0, "release 1");
	T_EQ(prev, 2, "previous 2");
	wapi_handle_close(s);
}

static void
t_sem_previous(void)
{
	wapi_handle_t s;
	int32_t prev = -1;

	T_EQ(wapi_semaphore_create(NULL, 0, 10, &s), 0, "semaphore 0 of 10");
	T_EQ(wapi_semaphore_release(s, 3, &prev), 0, "release 3");
	T_EQ(prev, 0, "previous 0");
	T_EQ(wapi_semaphore_release(s, 1, NULL), 0, "release 1, previous NULL");
	T_EQ(wapi_semaphore_release(s, 6, &prev), 0, "release 6");
	T_EQ(prev, 4, "previous 4");
	T_EQ(sem_count(s), 10, "count 10");
	wapi_handle_close(s);
}

/* Peer: release h[0] by val[0] and take it val[1] times (polling). */
static int
p_sem_work(void *arg)
{
	struct job *j = arg;
	int k, taken = 0;
	int32_t prev;

	if (wapi_handle_ref(j->h[0]) != 0)
		return 1;
	if (j->ret[0] > 0 && wapi_semaphore_release(j->h[0], j->ret[0], &prev) != 0)
		return 2;
	for (k = 0; k < j->ret[1]; k++)
		if (wapi_wait(j->h[0], 0) == WAPI_WAIT_OBJECT_0)
			taken++;
	j->ret[2] = taken;
	wapi_handle_close(j->h[0]);
	return 0;
}

static void
t_sem_cross_process(void)
{
	struct ts_peer p[3];
	wapi_handle_t s;
	int k, n;

	reset_shm();
	T_EQ(wapi_semaphore_create(NULL, 0, 10, &s), 0, "semaphore 0 of 10");
	for (k = 0; k < 3; k++) {
		S->job[k].h[0] = s;
		S->job[k].ret[0] = 2;		/* each releases 2 */
		ts_peer_start(&p[k], p_sem_work, &S->job[k]);
	}
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer released 2");
	T_EQ(sem_count(s), 6, "count 6 after 3 peers released 2 each");
	for (n = 0; wapi_wait(s, 0) == WAPI_WAIT_OBJECT_0 && n < 20; n++)
		;
	T_EQ(n, 6, "exactly 6 acquisitions here, then a timeout");
	T_EQ(wapi_semaphore_release(s, 5, NULL), 0, "release 5 here");
	for (k = 0; k < 2; k++) {
		memset(&S->job[k], 0, sizeof(S->job[k]));
		S->job[k].h[0] = s;
		S->job[k].ret[1] = 2;		/* each takes 2 */
		ts_peer_start(&p[k], p_sem_work, &S->job[k]);
	}
	for (k = 0; k < 2; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(S->job[0].ret[2] + S->job[1].ret[2], 4, "peers took 4");
	T_EQ(sem_count(s), 1, "1 left");

	/* A release of 2 wakes exactly 2 of 3 sleepers. */
	T_EQ(wapi_wait(s, 0), WAPI_WAIT_OBJECT_0, "take the last one");
	reset_shm();
	for (k = 0; k < 3; k++) {
		job1(&S->job[k], s, TS_LONG);
		ts_peer_start(&p[k], p_wait, &S->job[k]);
	}
	T_OK(ts_sleepers(s, 3), "3 peers sleep on the semaphore");
	T_EQ(wapi_semaphore_release(s, 2, NULL), 0, "release 2");
	T_OK(await_done(3, 2), "2 released");
	T_OK(ts_sleepers_exactly(s, 1), "1 still sleeps");
	T_EQ(done_total(3), 2, "exactly 2 released");
	T_EQ(sem_count(s), 0, "count 0");
	T_EQ(wapi_semaphore_release(s, 1, NULL), 0, "release 1");
	for (k = 0; k < 3; k++)
		T_EQ(ts_peer_join(&p[k]), 0, "peer ran");
	T_EQ(count_ret(3, WAPI_WAIT_OBJECT_0), 3, "all 3 got OBJECT_0");
	T_EQ(sem_count(s), 0, "count 0");
	wapi_handle_close(s);
}

/* ================================================================= names */

/* Peer: create name (type val[0]) and report; set / release it. */
static int
p_create_named(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t h = 0;
	int r = -1;

	switch (s->val[0]) {
	case 1:
		r = wapi_event_create(s->name, 1, 0, &h);
		break;
	case 2:
		r = wapi_mutex_create(s->name, 0, &h);
		break;
	case 3:
		r = wapi_semaphore_create(s->name, 0, 9, &h);
		break;
	}
	s->val[1] = r;
	s->val[2] = wapi_last_error();
	s->h[1] = h;
	if (r != 0)
		return 0;
	switch (s->val[0]) {
	case 1:
		s->val[3] = wapi_event_set(h);
		break;
	case 2:
		s->val[3] = wapi_wait(h, 0);
		break;
	case 3:
		s->val[3] = wapi_semaphore_release(h, 2, NULL);
		break;
	}
	ts_store(&s->flag[0], 1);
	if (!ts_await(&s->flag[1], 1))
		return 2;
	if (s->val[0] == 2)
		wapi_mutex_release(h);
	wapi_handle_close(h);
	return 0;
}

static void
t_name_create_existing(void)
{
	struct wapi_handle_info in;
	struct ts_peer p;
	wapi_handle_t h;

	/* Event. */
	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync existing event");
	T_EQ(wapi_event_create(S->name, 1, 0, &h), 0, "named event created");
	T_EQ(wapi_last_error(), 0, "last error 0 for a new object");
	S->val[0] = 1;
	ts_peer_start(&p, p_create_named, S);
	T_OK(ts_await(&S->flag[0], 1), "peer created the same name");
	T_EQ(S->val[1], 0, "peer's create returned 0");
	T_EQ(S->val[2], WAPI_EALREADY_EXISTS, "peer's last error: EALREADY_EXISTS");
	T_EQ(S->h[1], h, "the same number");
	T_EQ(S->val[3], 0, "peer set it");
	T_EQ(wapi_wait(h, 0), WAPI_WAIT_OBJECT_0, "the peer's set is seen here");
	T_EQ(wapi_event_create(S->name, 0, 0, &h), 0, "create again here");
	T_EQ(wapi_last_error(), WAPI_EALREADY_EXISTS, "EALREADY_EXISTS");
	T_EQ(wapi_handle_info(h, &in), 0, "info");
	T_EQ(in.refs, 3, "3 references (2 here, 1 in the peer)");
	T_EQ(in.signalled, 1, "manual reset kept (not reset by create(auto))");
	wapi_handle_close(h);
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(wapi_handle_info(h, &in), 0, "info");
	T_EQ(in.refs, 1, "1 reference left");
	wapi_handle_close(h);

	/* Mutex. */
	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync existing mutex");
	T_EQ(wapi_mutex_create(S->name, 0, &h), 0, "named mutex created");
	S->val[0] = 2;
	ts_peer_start(&p, p_create_named, S);
	T_OK(ts_await(&S->flag[0], 1), "peer created the same name");
	T_EQ(S->val[1], 0, "peer's create returned 0");
	T_EQ(S->val[2], WAPI_EALREADY_EXISTS, "peer's last error: EALREADY_EXISTS");
	T_EQ(S->h[1], h, "the same number");
	T_EQ(S->val[3], WAPI_WAIT_OBJECT_0, "peer took it");
	T_EQ(wapi_wait(h, 0), WAPI_WAIT_TIMEOUT, "so it is held here too");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(wapi_wait(h, 0), WAPI_WAIT_OBJECT_0, "released by the peer");
	wapi_mutex_release(h);
	wapi_handle_close(h);

	/* Semaphore: the existing counts win. */
	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync existing semaphore");
	T_EQ(wapi_semaphore_create(S->name, 1, 4, &h), 0, "named semaphore 1 of 4");
	S->val[0] = 3;
	ts_peer_start(&p, p_create_named, S);
	T_OK(ts_await(&S->flag[0], 1), "peer created the same name (0 of 9)");
	T_EQ(S->val[1], 0, "peer's create returned 0");
	T_EQ(S->val[2], WAPI_EALREADY_EXISTS, "peer's last error: EALREADY_EXISTS");
	T_EQ(S->h[1], h, "the same number");
	T_EQ(S->val[3], 0, "peer released 2");
	T_EQ(wapi_handle_info(h, &in), 0, "info");
	T_EQ(in.count, 3, "count 3: the peer's release is seen here");
	T_EQ(in.maximum, 4, "maximum still 4");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(h);
}

static void
t_name_type_clash(void)
{
	struct ts_peer p;
	wapi_handle_t h = 0, x = 0;

	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync clash");
	S->val[0] = 1;			/* the peer creates an event */
	ts_peer_start(&p, p_create_named, S);
	T_OK(ts_await(&S->flag[0], 1), "peer created an event");
	T_EQ(wapi_event_open(S->name, &h), 0, "open it here");
	T_EQ(wapi_mutex_create(S->name, 0, &x), WAPI_ETYPE,
	    "mutex_create of an event's name: WAPI_ETYPE");
	T_EQ(wapi_last_error(), WAPI_ETYPE, "last error");
	T_EQ(wapi_semaphore_create(S->name, 0, 1, &x), WAPI_ETYPE,
	    "semaphore_create: WAPI_ETYPE");
	T_EQ(wapi_mutex_open(S->name, &x), WAPI_ETYPE, "mutex_open: WAPI_ETYPE");
	T_EQ(wapi_semaphore_open(S->name, &x), WAPI_ETYPE,
	    "semaphore_open: WAPI_ETYPE");
	T_EQ(wapi_mutex_release(h), WAPI_ETYPE, "mutex_release of an event: ETYPE");
	T_EQ(wapi_semaphore_release(h, 1, NULL), WAPI_ETYPE,
	    "semaphore_release of an event: ETYPE");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(h);

	T_EQ(wapi_semaphore_create("t-sync clash 2", 0, 1, &h), 0, "semaphore");
	T_EQ(wapi_event_create("t-sync clash 2", 0, 0, &x), WAPI_ETYPE,
	    "event_create of a semaphore's name: WAPI_ETYPE");
	T_EQ(wapi_event_set(h), WAPI_ETYPE, "event_set of a semaphore: ETYPE");
	wapi_handle_close(h);
}

static void
t_name_open_missing(void)
{
	wapi_handle_t h = 0;

	T_EQ(wapi_event_open("t-sync no such name", &h), WAPI_ENOTFOUND,
	    "event_open of a missing name: WAPI_ENOTFOUND");
	T_EQ(wapi_last_error(), WAPI_ENOTFOUND, "last error");
	T_EQ(wapi_mutex_open("t-sync no such name", &h), WAPI_ENOTFOUND,
	    "mutex_open: WAPI_ENOTFOUND");
	T_EQ(wapi_semaphore_open("t-sync no such name", &h), WAPI_ENOTFOUND,
	    "semaphore_open: WAPI_ENOTFOUND");
	T_EQ(wapi_event_open(NULL, &h), WAPI_EINVAL, "open(NULL): WAPI_EINVAL");
	T_EQ(wapi_event_open("x", NULL), WAPI_EINVAL, "open(out NULL): WAPI_EINVAL");
}

static void
t_name_validation(void)
{
	static const char *const bad[] = {
		"", "\xff", "a\x80z", "\xc0\x80", "\xc3", "\xe2\x82",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf0\x80\x80\x80", "\xf8\x88\x80\x80\x80",
	};
	struct wapi_handle_info in;
	char name[400];
	wapi_handle_t h;
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		TS_EQ(wapi_event_create(bad[k], 0, 0, &h), WAPI_EINVAL,
		    "bad name %zu: create WAPI_EINVAL", k);
		TS_EQ(wapi_mutex_open(bad[k], &h), WAPI_EINVAL,
		    "bad name %zu: open WAPI_EINVAL", k);
	}
	memset(name, 'n', 261);
	name[261] = '\0';
	T_EQ(wapi_semaphore_create(name, 0, 1, &h), WAPI_EINVAL,
	    "261-byte name: WAPI_EINVAL");
	T_EQ(wapi_semaphore_open(name, &h), WAPI_EINVAL,
	    "261-byte name: open WAPI_EINVAL");
	name[260] = '\0';
	T_EQ(wapi_semaphore_create(name, 0, 1, &h), 0, "260-byte name is fine");
	T_EQ(wapi_handle_info(h, &in), 0, "info");
	T_EQ(strcmp(in.name, name), 0, "info gives the 260-byte name back");
	T_EQ(wapi_semaphore_open(name, &h), 0, "and it opens");
	wapi_handle_close(h);
	wapi_handle_close(h);
	/* 130 two-byte characters are 260 bytes; 131 are too many. */
	for (k = 0; k < 131; k++)
		memcpy(name + 2 * k, "\xc3\xa9", 2);
	name[262] = '\0';
	T_EQ(wapi_event_create(name, 0, 0, &h), WAPI_EINVAL,
	    "131 x U+00E9 (262 bytes): WAPI_EINVAL");
	name[260] = '\0';
	T_EQ(wapi_event_create(name, 0, 0, &h), 0, "130 x U+00E9 (260 bytes) is fine");
	wapi_handle_close(h);
	T_EQ(wapi_event_create("\xe2\x82\xac \xf0\x9f\x94\x92 \xed\x9f\xbf", 1, 0, &h),
	    0, "4-byte and 3-byte characters are fine");
	wapi_handle_close(h);
}

/* Peer: open name by name, hold until flag[1], close when flag[2] == 0. */
static int
p_open_hold(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t h;

	s->val[1] = wapi_event_open(s->name, &h);
	ts_store(&s->flag[0], 1);
	if (s->val[1] != 0)
		return 1;
	if (!ts_await(&s->flag[1], 1))
		return 2;
	if (s->flag[2] == 0) {
		s->val[2] = wapi_handle_close(h);
		s->val[3] = wapi_event_open(s->name, &h);
		ts_store(&s->flag[3], 1);
		return 0;
	}
	ts_store(&s->flag[3], 1);
	for (;;)
		pause();
}

struct gone_arg { const char *name; };

static bool
name_gone(void *a)
{
	struct gone_arg *g = a;
	wapi_handle_t h;
	int r = wapi_event_open(g->name, &h);

	if (r == 0)
		wapi_handle_close(h);
	return r == WAPI_ENOTFOUND;
}

static void
t_name_last_close(void)
{
	struct ts_peer p;
	struct gone_arg g;
	wapi_handle_t h, h2;

	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync last close");
	T_EQ(wapi_event_create(S->name, 1, 0, &h), 0, "named event");
	ts_peer_start(&p, p_open_hold, S);
	T_OK(ts_await(&S->flag[0], 1), "peer opened it by name");
	T_EQ(S->val[1], 0, "peer's open returned 0");
	T_EQ(wapi_handle_close(h), 0, "close here");
	T_EQ(wapi_event_open(S->name, &h2), 0,
	    "the name lives while the peer holds it");
	T_EQ(wapi_handle_close(h2), 0, "close that too");
	ts_store(&S->flag[1], 1);
	T_EQ(ts_peer_join(&p), 0, "peer closed its reference");
	T_EQ(S->val[2], 0, "peer's close returned 0");
	T_EQ(S->val[3], WAPI_ENOTFOUND, "peer: the name is gone after the last close");
	T_EQ(wapi_event_open(S->name, &h2), WAPI_ENOTFOUND, "gone here too");
	T_EQ(wapi_event_set(h), WAPI_EBADHANDLE, "the closed number is dead");
	T_EQ(wapi_event_create(S->name, 0, 0, &h2), 0, "the name can be reused");
	T_EQ(wapi_last_error(), 0, "as a new object");
	wapi_handle_close(h2);

	if (ts_private)
		return;
	/* The last holder dies without closing: its references go too. */
	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync last holder killed");
	S->flag[2] = 1;
	T_EQ(wapi_event_create(S->name, 1, 0, &h), 0, "named event");
	ts_peer_start(&p, p_open_hold, S);
	T_OK(ts_await(&S->flag[0], 1), "peer opened it");
	T_EQ(wapi_handle_close(h), 0, "close here: the peer holds the last ref");
	ts_store(&S->flag[1], 1);
	T_OK(ts_await(&S->flag[3], 1), "peer ready");
	ts_peer_kill(&p);
	g.name = S->name;
	T_OK(t_until(name_gone, &g, TS_LONG),
	    "the name goes when its last holder is killed");
}

/* Peer: use h[0] (a semaphore) by number after ref, and by name. */
static int
p_by_number(void *arg)
{
	struct shm *s = arg;
	wapi_handle_t h = s->h[0], byname;

	s->val[0] = wapi_semaphore_release(h, 1, NULL);	/* adopts it */
	s->val[1] = wapi_handle_ref(h);
	s->val[2] = wapi_semaphore_release(h, 1, NULL);
	s->val[3] = wapi_semaphore_open(s->name, &byname);
	s->val[4] = byname == h;
	s->val[5] = wapi_semaphore_release(byname, 1, NULL);
	s->val[6] = wapi_handle_ref(0x7ffffu);
	wapi_handle_close(byname);
	wapi_handle_close(h);
	if (!ts_private) {
		/* Another process: the reference its first use took. */
		wapi_handle_close(h);
		s->val[7] = wapi_handle_close(h);
	}
	return 0;
}

static void
t_name_by_name_and_number(void)
{
	struct ts_peer p;
	wapi_handle_t s;

	reset_shm();
	snprintf(S->name, sizeof(S->name), "t-sync by name and number");
	T_EQ(wapi_semaphore_create(S->name, 0, 10, &s), 0, "named semaphore");
	S->h[0] = s;
	ts_peer_start(&p, p_by_number, S);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->val[0], 0, ts_private ?
	    "a thread uses the process's references" :
	    "a number used in another process is adopted on its first use");
	T_EQ(S->val[1], 0, "wapi_handle_ref");
	T_EQ(S->val[2], 0, "release by number after ref");
	T_EQ(S->val[3], 0, "open by name");
	T_EQ(S->val[4], 1, "the name gives the same number");
	T_EQ(S->val[5], 0, "release through the name's handle");
	T_EQ(S->val[6], WAPI_EBADHANDLE, "ref of a never-used number: EBADHANDLE");
	T_EQ(sem_count(s), 3, "the peer's releases are seen here");
	if (!ts_private)
		T_EQ(S->val[7], WAPI_EBADHANDLE,
		    "adopted, referenced, opened: three closes drop them all");
	wapi_handle_close(s);
}

/* Peer: ref each of h[0..2] and report. */
static int
p_ref(void *arg)
{
	struct shm *s = arg;
	int k;

	for (k = 0; k < 3; k++) {
		s->val[k] = wapi_handle_ref(s->h[k]);
		if (s->val[k] == 0)
			wapi_handle_close(s->h[k]);
	}
	return 0;
}

static void
t_name_generation(void)
{
	struct ts_peer p;
	wapi_handle_t h1, h2 = 0, keep;

	reset_shm();
	T_EQ(wapi_event_create("t-generation", 1, 0, &h1), 0, "event h1");
	T_EQ(wapi_event_create(NULL, 1, 0, &keep), 0, "another one, kept");
	T_EQ(wapi_handle_close(h1), 0, "close h1");
	T_EQ(wapi_event_set(h1), WAPI_EBADHANDLE, "closed number: WAPI_EBADHANDLE");
	T_EQ(wapi_handle_close(h1), WAPI_EBADHANDLE, "second close: EBADHANDLE");
	T_EQ(wapi_wait(h1, 0), WAPI_WAIT_FAILED, "wait on it: WAIT_FAILED");
	T_EQ(wapi_last_error(), WAPI_EBADHANDLE, "with WAPI_EBADHANDLE");
	/* The same name prefers the same slot, which is free again. */
	T_EQ(wapi_event_create("t-generation", 1, 0, &h2), 0, "same name again");
	T_EQ(h2 & WAPI_HANDLE_INDEX_MASK, h1 & WAPI_HANDLE_INDEX_MASK,
	    "h1's slot was reused");
	T_OK(h2 != h1, "with another number (generation)");
	T_EQ(wapi_event_set(h1), WAPI_EBADHANDLE, "old number still EBADHANDLE");
	T_EQ(wapi_handle_info(h1, &(struct wapi_handle_info){ 0 }),
	    WAPI_EBADHANDLE, "info of the old number: EBADHANDLE");
	T_EQ(wapi_event_set(h2), 0, "the new number works");
	S->h[0] = h1;
	S->h[1] = h2;
	S->h[2] = keep;
	ts_peer_start(&p, p_ref, S);
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->val[0], WAPI_EBADHANDLE, "another process: ref(old) EBADHANDLE");
	T_EQ(S->val[1], 0, "ref(new) works");
	T_EQ(S->val[2], 0, "ref(kept) works");
	wapi_handle_close(h2);
	wapi_handle_close(keep);
}

/* ================================================================= waits */

static void
t_wait_any_lowest(void)
{
	struct ts_peer p;
	wapi_handle_t e[4], d[3];
	int k;

	reset_shm();
	for (k = 0; k < 4; k++)
		T_EQ(wapi_event_create(NULL, k == 3, 0, &e[k]), 0, "event");
	T_EQ(wapi_event_set(e[3]), 0, "set e3 (manual)");
	T_EQ(wapi_event_set(e[1]), 0, "set e1 (auto)");
	T_EQ(wapi_event_set(e[2]), 0, "set e2 (auto)");
	T_EQ(wapi_wait_multiple(e, 4, 0, 0), WAPI_WAIT_OBJECT_0 + 1,
	    "wait-any: the lowest signalled index (1)");
	T_EQ(signalled(e[1]), 0, "only e1 was consumed");
	T_EQ(signalled(e[2]), 1, "e2 still set");
	T_EQ(wapi_wait_multiple(e, 4, 0, 0), WAPI_WAIT_OBJECT_0 + 2, "then 2");
	T_EQ(wapi_wait_multiple(e, 4, 0, 0), WAPI_WAIT_OBJECT_0 + 3, "then 3");
	T_EQ(wapi_wait_multiple(e, 4, 0, 0), WAPI_WAIT_OBJECT_0 + 3,
	    "3 again (manual)");
	T_EQ(wapi_event_reset(e[3]), 0, "reset e3");
	/* From another process: a sleeper released by sets there. */
	S->job[0].n = 4;
	memcpy(S->job[0].h, e, sizeof(e));
	S->job[0].timeout = TS_LONG;
	ts_peer_start(&p, p_wait, &S->job[0]);
	T_OK(ts_sleepers(e[0], 1) && ts_sleepers(e[3], 1),
	    "a peer sleeps in wait-any on 4 events");
	T_EQ(wapi_event_set(e[2]), 0, "set e2");
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->job[0].ret[0], WAPI_WAIT_OBJECT_0 + 2, "peer's wait-any: 2");
	/* Duplicates are fine in a wait-any. */
	d[0] = e[0];
	d[1] = e[1];
	d[2] = e[0];
	T_EQ(wapi_event_set(e[0]), 0, "set e0");
	T_EQ(wapi_wait_multiple(d, 3, 0, 0), WAPI_WAIT_OBJECT_0,
	    "wait-any with a duplicate: index 0");
	for (k = 0; k < 4; k++)
		wapi_handle_close(e[k]);
}

static void
t_wait_all_atomic(void)
{
	struct wapi_handle_info in;
	struct ts_peer owner, w;
	wapi_handle_t m, s, hs[2];

	reset_shm();
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex");
	T_EQ(wapi_semaphore_create(NULL, 1, 1, &s), 0, "semaphore 1 of 1");
	hs[0] = m;
	hs[1] = s;
	S->h[0] = m;
	ts_peer_start(&owner, p_hold_mutex, S);
	T_OK(ts_await(&S->flag[0], 1), "a peer holds the mutex");
	T_EQ(wapi_wait_multiple(hs, 2, 1, 0), WAPI_WAIT_TIMEOUT,
	    "wait-all poll here: timeout");
	T_EQ(sem_count(s), 1, "and the semaphore was not consumed");
	S->job[0].h[0] = m;
	S->job[0].h[1] = s;
	S->job[0].n = 2;
	S->job[0].all = 1;
	S->job[0].timeout = TS_LONG;
	S->job[0].linger = 1;
	ts_peer_start(&w, p_wait, &S->job[0]);
	T_OK(ts_sleepers(m, 1) && ts_sleepers(s, 1),
	    "another peer sleeps in wait-all [mutex, semaphore]");
	T_EQ(sem_count(s), 1, "the blocked wait-all leaves the count at 1");
	/* The semaphore stays usable by others meanwhile. */
	T_EQ(wapi_wait(s, 0), WAPI_WAIT_OBJECT_0, "take the semaphore here");
	T_EQ(wapi_semaphore_release(s, 1, NULL), 0, "and give it back");
	T_EQ(sem_count(s), 1, "count still 1");
	T_EQ(ts_load(&S->job[0].done), 0, "the wait-all still waits");
	ts_store(&S->flag[1], 1);		/* owner releases and leaves */
	T_EQ(ts_peer_join(&owner), 0, "owner released the mutex");
	T_OK(await_done(1, 1), "the wait-all returned");
	T_EQ(S->job[0].ret[0], WAPI_WAIT_OBJECT_0, "wait-all: OBJECT_0");
	T_EQ(sem_count(s), 0, "it took the semaphore");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_OK(in.owner_pid == S->job[0].pid && in.owner_tid == S->job[0].tid,
	    "and owns the mutex");
	ts_store(&S->job[0].go, 1);
	T_EQ(ts_peer_join(&w), 0, "waiter ran");
	T_EQ(wapi_wait(m, TS_LONG), WAPI_WAIT_ABANDONED_0,
	    "(it ended owning it: abandoned)");
	T_EQ(wapi_mutex_release(m), 0, "release");
	wapi_handle_close(m);
	wapi_handle_close(s);
}

/* Peer: release semaphore h[0] (role 0) or take and give back h[1]
 * (role 1) until flag[0]; counts its successes in val[role]. */
static int
p_sem_churn(void *arg)
{
	struct job *j = arg;
	struct shm *s = S;
	int n = 0;

	if (adopt(j) != 0)
		return 1;
	ts_store(&s->flag[1 + j->all], 1);
	while (!ts_load(&s->flag[0])) {
		if (j->all == 0)
			n += wapi_semaphore_release(j->h[0], 1, NULL) == 0;
		else if (wapi_wait(j->h[1], 0) == WAPI_WAIT_OBJECT_0)
			n += wapi_semaphore_release(j->h[1], 1, NULL) == 0;
	}
	j->ret[0] = n;
	unadopt(j);
	return 0;
}

#define UNTAKE_FILL 16

/*
 * Wait-all takes all or nothing, atomically also for everyone else: a
 * wait-all on [S (1 of 1), F..., T] that finds T gone after it looked must
 * not make S visible as taken, nor let a release that meets a full S pass.
 * Peers: one releases S without end (it must fail, ETOO_MANY_POSTS,
 * except while the wait-all really holds S), one takes and gives back T.
 * The fillers F (plenty of counts) keep the wait-all busy between S and
 * T.  A count above the maximum proves a non-atomic take-and-undo.
 */
static void
t_wait_all_untake(void)
{
	struct wapi_handle_info in;
	struct ts_peer rel, tog;
	wapi_handle_t s, t, hs[UNTAKE_FILL + 2];
	int64_t end;
	int k, got = 0, tries = 0, over = 0, high = 0, r;

	reset_shm();
	T_EQ(wapi_semaphore_create(NULL, 1, 1, &s), 0, "semaphore S 1 of 1");
	T_EQ(wapi_semaphore_create(NULL, 1, 1, &t), 0, "semaphore T 1 of 1");
	hs[0] = s;
	for (k = 1; k <= UNTAKE_FILL; k++)
		wapi_semaphore_create(NULL, 1000, 1000, &hs[k]);
	hs[UNTAKE_FILL + 1] = t;
	for (k = 0; k < 2; k++) {
		S->job[k].h[0] = s;
		S->job[k].h[1] = t;
		S->job[k].n = 2;
		S->job[k].all = k;	/* the role */
	}
	ts_peer_start(&rel, p_sem_churn, &S->job[0]);
	ts_peer_start(&tog, p_sem_churn, &S->job[1]);
	T_OK(ts_await(&S->flag[1], 1) && ts_await(&S->flag[2], 1),
	    "a peer releases S, another churns T");
	/* Bounded in time and in tries: a correct library never fails it,
	 * a non-atomic one shows within a second, most times at once. */
	end = wcore_now_mono_ns() + 2000000000LL;
	while (over == 0 && tries < 3000000 && wcore_now_mono_ns() < end) {
		tries++;
		r = wapi_wait_multiple(hs, UNTAKE_FILL + 2, 1, 0);
		if (r != WAPI_WAIT_OBJECT_0) {
			/* Nobody holds S now but the releaser's pass. */
			if (wapi_handle_info(s, &in) == 0 && in.count > 1) {
				over++;
				high = in.count;
			}
			continue;
		}
		got++;
		for (k = 1; k <= UNTAKE_FILL; k++)
			wapi_semaphore_release(hs[k], 1, NULL);
		wapi_semaphore_release(t, 1, NULL);
		wapi_semaphore_release(s, 1, NULL);	/* may meet a full S */
	}
	ts_store(&S->flag[0], 1);
	T_EQ(ts_peer_join(&rel), 0, "releaser ran");
	T_EQ(ts_peer_join(&tog), 0, "churner ran");
	printf("# %d wait-all polls, %d took all; peer releases that passed: "
	    "%d\n", tries, got, S->job[0].ret[0]);
	TS_EQ(over, 0, "S (maximum 1) never above its maximum (count %d seen)",
	    high);
	for (k = 1; k <= UNTAKE_FILL; k++) {
		if (sem_count(hs[k]) != 1000)
			break;
		wapi_handle_close(hs[k]);
	}
	T_EQ(k, UNTAKE_FILL + 1, "fillers all back to 1000");
	wapi_handle_close(s);
	wapi_handle_close(t);
}

/* Wait-all with a mutex the caller owns, and what a failed wait-all
 * leaves: an auto-reset event and a semaphore untouched. */
static void
t_wait_all_own_and_untouched(void)
{
	struct wapi_handle_info in;
	wapi_handle_t m, e, s, hs[3];

	T_EQ(wapi_mutex_create(NULL, 1, &m), 0, "mutex owned here");
	T_EQ(wapi_event_create(NULL, 0, 1, &e), 0, "auto event, set");
	T_EQ(wapi_semaphore_create(NULL, 0, 2, &s), 0, "semaphore 0 of 2");
	hs[0] = m;
	hs[1] = e;
	hs[2] = s;
	T_EQ(wapi_wait_multiple(hs, 3, 1, 0), WAPI_WAIT_TIMEOUT,
	    "wait-all [own mutex, set event, empty semaphore]: timeout");
	T_EQ(signalled(e), 1, "the auto event was not consumed");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.recursion, 1, "the mutex recursion unchanged");
	T_EQ(wapi_wait_multiple(hs, 3, 1, 20), WAPI_WAIT_TIMEOUT,
	    "and with a finite timeout");
	T_EQ(signalled(e), 1, "still not consumed");
	T_EQ(wapi_semaphore_release(s, 1, NULL), 0, "release the semaphore");
	T_EQ(wapi_wait_multiple(hs, 3, 1, 0), WAPI_WAIT_OBJECT_0,
	    "now the wait-all takes all three");
	T_EQ(signalled(e), 0, "the auto event was consumed");
	T_EQ(sem_count(s), 0, "the semaphore count taken");
	T_EQ(wapi_handle_info(m, &in), 0, "info");
	T_EQ(in.recursion, 2, "the owned mutex taken again (recursion 2)");
	T_EQ(wapi_mutex_release(m), 0, "release");
	T_EQ(wapi_mutex_release(m), 0, "release");
	T_EQ(wapi_mutex_release(m), WAPI_ENOT_OWNER, "then it is free");
	wapi_handle_close(m);
	wapi_handle_close(e);
	wapi_handle_close(s);
}

static void
t_wait_all_duplicates(void)
{
	wapi_handle_t e, f, hs[3];

	T_EQ(wapi_event_create(NULL, 1, 1, &e), 0, "event");
	T_EQ(wapi_event_create(NULL, 1, 1, &f), 0, "event");
	hs[0] = e;
	hs[1] = f;
	hs[2] = e;
	T_EQ(wapi_wait_multiple(hs, 3, 1, 0), WAPI_WAIT_FAILED,
	    "wait-all with a duplicate: WAIT_FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "with WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(hs, 3, 1, TS_LONG), WAPI_WAIT_FAILED,
	    "also with a timeout (fails at once)");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "with WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(hs, 2, 1, 0), WAPI_WAIT_OBJECT_0,
	    "without the duplicate: OBJECT_0");
	wapi_handle_close(e);
	wapi_handle_close(f);
}

static void
t_wait_counts(void)
{
	wapi_handle_t hs[65];
	int k, ok = 1;

	for (k = 0; k < 65; k++)
		ok &= wapi_event_create(NULL, 1, 0, &hs[k]) == 0;
	T_OK(ok, "65 events");
	T_EQ(wapi_wait_multiple(hs, 0, 0, 0), WAPI_WAIT_FAILED, "0 handles: FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(hs, 0, 1, 0), WAPI_WAIT_FAILED,
	    "0 handles, wait-all: FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(hs, 65, 0, 0), WAPI_WAIT_FAILED,
	    "65 handles: FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(hs, 65, 1, 0), WAPI_WAIT_FAILED,
	    "65 handles, wait-all: FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "WAPI_EINVAL");
	T_EQ(wapi_wait_multiple(NULL, 1, 0, 0), WAPI_WAIT_FAILED, "NULL: FAILED");
	T_EQ(wapi_last_error(), WAPI_EINVAL, "WAPI_EINVAL");
	T_EQ(wapi_event_set(hs[63]), 0, "set the 64th");
	T_EQ(wapi_wait_multiple(hs, 64, 0, 0), WAPI_WAIT_OBJECT_0 + 63,
	    "64 handles, wait-any: index 63");
	T_EQ(wapi_wait_multiple(hs, 64, 1, 0), WAPI_WAIT_TIMEOUT,
	    "64 handles, wait-all: not all set");
	for (k = 0; k < 64; k++)
		wapi_event_set(hs[k]);
	T_EQ(wapi_wait_multiple(hs, 64, 1, 0), WAPI_WAIT_OBJECT_0,
	    "64 handles, wait-all: all set");
	for (k = 0; k < 65; k++)
		wapi_handle_close(hs[k]);
}

static void
t_wait_poll_and_timeout(void)
{
	wapi_handle_t e, m, s, hs[3];

	T_EQ(wapi_event_create(NULL, 0, 0, &e), 0, "event");
	T_EQ(wapi_semaphore_create(NULL, 0, 1, &s), 0, "semaphore 0 of 1");
	T_EQ(wapi_mutex_create(NULL, 0, &m), 0, "mutex");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_TIMEOUT, "poll of a reset event: TIMEOUT");
	T_EQ(wapi_last_error(), 0, "a timeout is not an error");
	T_EQ(wapi_wait(s, 0), WAPI_WAIT_TIMEOUT, "poll of an empty semaphore");
	T_EQ(wapi_event_set(e), 0, "set");
	T_EQ(wapi_wait(e, 0), WAPI_WAIT_OBJECT_0, "poll of a set event: OBJECT_0");
	T_EQ(wapi_wait(e, 30), WAPI_WAIT_TIMEOUT, "finite timeout: TIMEOUT");
	T_EQ(wapi_wait(s, 1), WAPI_WAIT_TIMEOUT, "1 ms: TIMEOUT");
	hs[0] = e;
	hs[1] = s;
	hs[2] = m;
	T_EQ(wapi_wait_multiple(hs, 2, 0, 30), WAPI_WAIT_TIMEOUT,
	    "wait-any, finite timeout: TIMEOUT");
	T_EQ(wapi_wait_multiple(hs, 3, 1, 30), WAPI_WAIT_TIMEOUT,
	    "wait-all, finite timeout: TIMEOUT");
	T_EQ(wapi_wait(m, 0), WAPI_WAIT_OBJECT_0, "the wait-all left the mutex free");
	wapi_mutex_release(m);
	T_EQ(wapi_wait_multiple(hs, 3, 0, 0), WAPI_WAIT_OBJECT_0 + 2,
	    "wait-any poll: the free mutex (index 2)");
	wapi_mutex_release(m);
	wapi_handle_close(e);
	wapi_handle_close(s);
	wapi_handle_close(m);
}

/* Peer: wait until the parent sleeps on h[0], then set it. */
static int
p_set_when_asleep(void *arg)
{
	struct shm *s = arg;

	if (wapi_handle_ref(s->h[0]) != 0)
		return 1;
	if (!ts_sleepers(s->h[0], 1))
		return 2;
	s->val[0] = wapi_event_set(s->h[0]);
	wapi_handle_close(s->h[0]);
	return 0;
}

static void
t_wait_infinite(void)
{
	struct ts_peer p;
	wapi_handle_t e, hs[2];

	reset_shm();
	T_EQ(wapi_event_create(NULL, 0, 0, &e), 0, "auto event");
	S->h[0] = e;
	ts_peer_start(&p, p_set_when_asleep, S);
	T_EQ(wapi_wait(e, WAPI_INFINITE), WAPI_WAIT_OBJECT_0,
	    "WAPI_INFINITE: woken by a peer's set");
	T_EQ(ts_peer_join(&p), 0, "peer set it while we slept");
	T_EQ(S->val[0], 0, "peer's set returned 0");
	T_EQ(wapi_event_create(NULL, 0, 0, &hs[0]), 0, "another event");
	hs[1] = e;
	ts_peer_start(&p, p_set_when_asleep, S);
	T_EQ(wapi_wait_multiple(hs, 2, 0, WAPI_INFINITE), WAPI_WAIT_OBJECT_0 + 1,
	    "wait-any WAPI_INFINITE: woken by a peer's set");
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	wapi_handle_close(hs[0]);
	wapi_handle_close(e);
}

struct zero_cond { wapi_handle_t h; };

static bool
waiters_zero(void *a)
{
	return ts_waiters(((struct zero_cond *)a)->h) == 0;
}

/*
 * A sleeper killed in its wait is a sleeper no more: once the helper has
 * seen it die, the slots it slept on count no waiter, or every later set
 * or release of them would make a futex system call (and, for a
 * multi-object sleeper, wake everyone) for a process that is gone.
 */
static void
t_wait_killed_sleeper(void)
{
	struct zero_cond z0, z1;
	struct ts_peer p, q;
	wapi_handle_t e[2];

	if (ts_private)
		return;
	reset_shm();
	T_EQ(wapi_event_create(NULL, 0, 0, &e[0]), 0, "event");
	T_EQ(wapi_event_create(NULL, 0, 0, &e[1]), 0, "event");
	job1(&S->job[0], e[0], WAPI_INFINITE);
	S->job[1].h[0] = e[0];
	S->job[1].h[1] = e[1];
	S->job[1].n = 2;
	S->job[1].timeout = WAPI_INFINITE;
	ts_peer_start(&p, p_wait, &S->job[0]);
	ts_peer_start(&q, p_wait, &S->job[1]);
	T_OK(ts_sleepers(e[0], 2) && ts_sleepers(e[1], 1),
	    "two peers sleep: on e0, and on [e0, e1]");
	ts_peer_kill(&p);
	ts_peer_kill(&q);
	z0.h = e[0];
	z1.h = e[1];
	T_OK(t_until(waiters_zero, &z0, 5000) && t_until(waiters_zero, &z1, 5000),
	    "killed sleepers are no longer counted (e0: %d, e1: %d waiters)",
	    ts_waiters(e[0]), ts_waiters(e[1]));
	/* Whatever the count, the objects still work. */
	job1(&S->job[2], e[0], TS_LONG);
	ts_peer_start(&p, p_wait, &S->job[2]);
	T_OK(ts_await(&S->job[2].adopted, 1), "a new peer waits");
	T_EQ(wapi_event_set(e[0]), 0, "set");
	T_EQ(ts_peer_join(&p), 0, "peer ran");
	T_EQ(S->job[2].ret[0], WAPI_WAIT_OBJECT_0, "the new waiter got it");
	wapi_handle_close(e[0]);
	wapi_handle_close(e[1]);
}

static void
t_wait_bad_handles(void)
{
	wapi_handle_t e, hs[2];

	T_EQ(wapi_wait(0, 0), WAPI_WAIT_FAILED, "wait on 0: FAILED");
	T_EQ(wapi_last_error(), WAPI_EBADHANDLE, "WAPI_EBADHANDLE");
	T_EQ(wapi_wait(0x12345u, 0), WAPI_WAIT_FAILED, "wait on garbage: FAILED");
	T_EQ(wapi_last_error(), WAPI_EBADHANDLE, "WAPI_EBADHANDLE");
	T_EQ(wapi_event_create(NULL, 1, 1, &e), 0, "event");
	hs[0] = e;
	hs[1] = 0x12345u;
	T_EQ(wapi_wait_multiple(hs, 2, 0, 0), WAPI_WAIT_FAILED,
	    "wait-any with a bad handle: FAILED, even though e is set");
	T_EQ(wapi_last_error(), WAPI_EBADHANDLE, "WAPI_EBADHANDLE");
	T_EQ(wapi_event_set(0), WAPI_EBADHANDLE, "set(0): EBADHANDLE");
	T_EQ(wapi_handle_close(0), WAPI_EBADHANDLE, "close(0): EBADHANDLE");
	T_EQ(wapi_handle_ref(0), WAPI_EBADHANDLE, "ref(0): EBADHANDLE");
	wapi_handle_close(e);
}

/* ================================================================== mode */

/* Child: in private mode with the default handler, stderr to a file. */
static int
p_private_child(void *arg)
{
	const char *path = arg;
	wapi_handle_t h;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		return 1;
	close(fd);
	wapi_set_message_handler(NULL, NULL);	/* the default: stderr */
	if (wapi_is_shared() != 0)
		return 2;
	if (wapi_event_open("t-sync parent's name", &h) != WAPI_ENOTFOUND)
		return 3;		/* private handles are not shared */
	if (wapi_event_create("t-sync parent's name", 0, 0, &h) != 0)
		return 4;
	return 0;
}

static void
t_mode(void)
{
	char path[300];
	struct stat st;
	wapi_handle_t h;
	pid_t pid;

	if (!ts_private) {
		T_EQ(wapi_is_shared(), 1, "shared mode: wapi_is_shared() == 1");
		T_OK(wapi_state_path() != NULL &&
		    strcmp(wapi_state_path(), t_state_path()) == 0,
		    "wapi_state_path() is the test's state file");
		T_EQ(messages, 0, "no message from the library");
		return;
	}
	T_EQ(wapi_is_shared(), 0, "private mode: wapi_is_shared() == 0");
	T_OK(wapi_state_path() == NULL, "wapi_state_path() == NULL");
	T_OK(messages == 0, "no message from the library (%.200s)",
	    messages ? last_message : "none");
	T_OK(stat(t_state_path(), &st) != 0, "no state file was made");
	/* A child with the default handler writes nothing to stderr, and
	 * does not see our names. */
	T_EQ(wapi_event_create("t-sync parent's name", 0, 0, &h), 0, "named event");
	snprintf(path, sizeof(path), "%s/stderr", t_dir);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(p_private_child(path));
	T_EQ(t_wait(pid), 0, "private child: not shared, does not see our name");
	T_OK(stat(path, &st) == 0 && st.st_size == 0,
	    "private mode printed nothing on stderr");
	wapi_handle_close(h);
}

/* ================================================================= main */

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "event-manual-set", t_event_manual_set_releases_all },
	{ "event-auto-set", t_event_auto_set_releases_one },
	{ "event-reset", t_event_reset },
	{ "event-pulse-manual", t_event_pulse_manual },
	{ "event-pulse-auto", t_event_pulse_auto },
	{ "event-pulse-nobody", t_event_pulse_nobody },
	{ "event-pulse-wait-all", t_event_pulse_wait_all },
	{ "mutex-recursion", t_mutex_recursion },
	{ "mutex-not-owner", t_mutex_not_owner },
	{ "mutex-excludes", t_mutex_excludes_peer },
	{ "mutex-abandoned-thread", t_mutex_abandoned_thread },
	{ "mutex-abandoned-kill", t_mutex_abandoned_kill },
	{ "mutex-initially-owned", t_mutex_initially_owned },
	{ "sem-create-invalid", t_sem_create_invalid },
	{ "sem-release-invalid", t_sem_release_invalid },
	{ "sem-too-many-posts", t_sem_too_many_posts },
	{ "sem-previous", t_sem_previous },
	{ "sem-cross-process", t_sem_cross_process },
	{ "name-create-existing", t_name_create_existing },
	{ "name-type-clash", t_name_type_clash },
	{ "name-open-missing", t_name_open_missing },
	{ "name-validation", t_name_validation },
	{ "name-last-close", t_name_last_close },
	{ "name-by-name-and-number", t_name_by_name_and_number },
	{ "name-generation", t_name_generation },
	{ "wait-any-lowest", t_wait_any_lowest },
	{ "wait-all-atomic", t_wait_all_atomic },
	{ "wait-all-untake", t_wait_all_untake },
	{ "wait-all-own-untouched", t_wait_all_own_and_untouched },
	{ "wait-all-duplicates", t_wait_all_duplicates },
	{ "wait-counts", t_wait_counts },
	{ "wait-poll-timeout", t_wait_poll_and_timeout },
	{ "wait-infinite", t_wait_infinite },
	{ "wait-bad-handles", t_wait_bad_handles },
	{ "wait-killed-sleeper", t_wait_killed_sleeper },
	{ "mode", t_mode },
};

int
main(int argc, char *argv[])
{
	size_t k;
	int i, c, ran;

	while ((c = getopt(argc, argv, "p")) != -1) {
		switch (c) {
		case 'p':
			setenv("WAPI_DISABLE_SHM", "1", 1);
			break;
		default:
			fprintf(stderr, "usage: t-sync [-p] [test...]\n");
			return 2;
		}
	}
#ifdef TSYNC_PRIVATE
	/* t-sync-private: the same tests, in private mode. */
	setenv("WAPI_DISABLE_SHM", "1", 1);
#endif
	t_setup(getenv("WAPI_DISABLE_SHM") ? "t-sync-p" : "t-sync");
	ts_private = getenv("WAPI_DISABLE_SHM") != NULL &&
	    *getenv("WAPI_DISABLE_SHM") != '\0' &&
	    strcmp(getenv("WAPI_DISABLE_SHM"), "0") != 0;
	ts_watchdog(240);
	S = ts_shared(sizeof(*S));
	/* Before the first call: any message the library has is counted. */
	wapi_set_message_handler(count_message, NULL);
	if (!ts_private && !wapi_is_shared()) {
		/* Every sharing test would wait for peers it cannot see. */
		printf("Bail out! not attached: %s\n", last_message);
		t_cleanup();
		return 1;
	}
	printf("# %s mode\n", ts_private ? "private (peers are threads)" :
	    "shared (peers are processes)");
	for (k = 0; k < sizeof(tests) / sizeof(tests[0]); k++) {
		ran = optind >= argc;
		for (i = optind; i < argc; i++)
			ran |= strcmp(argv[i], tests[k].name) == 0;
		if (!ran)
			continue;
		printf("# %s\n", tests[k].name);
		tests[k].fn();
	}
	T_EQ(messages, 0, "the library gave no message");
	wapi_shutdown();
	return t_done();
}
