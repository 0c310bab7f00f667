/*
 * A hunt for lost wakeups in the handoff of mutexes and semaphores (the
 * waiters bit of sync.c: a sleeper marks the object, a release wakes only
 * when it finds the mark, a woken taker marks again and passes a baton).
 * A lost wakeup leaves a thread asleep while the object is free, so every
 * wait here that must succeed waits without a timeout, and every scenario
 * has a deadline after which it reports "hung" with the objects' state
 * and fails.  Shared mode: NPROC processes x NTHR threads.
 *   1. a mutex as a lock (mutual exclusion, a counter kept without atomics);
 *   2. a semaphore of maximum 1 as a lock, and one of maximum 3 (at most 3
 *      inside);
 *   3. producers releasing 1..3 at a time, consumers taking one each;
 *   4. a mix: wait-any with an auto-reset event, wait-all with a second
 *      semaphore, single waits and short timed waits retried;
 *   5. and 6. a woken waiter killed: W1 then W2 asleep on a held mutex (a
 *      semaphore at 0), one release, W1 SIGKILLed at once: W2 must get it
 *      (or, for the semaphore, W1 took it before dying: then a second
 *      release must reach W2);
 *   7. and 8. the same while a new process attaches the moment W1 is
 *      dead, so that it may take over W1's client slot before the helper
 *      has counted W1 out of its sleep records (and woken the others).
 *
 *   t-sync-handoff [-s SEED]
 *
 * HO_DEADLINE=seconds in the environment changes the deadline (60).
 */
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "tsync.h"

#define NPROC		8
#define NTHR		2
#define NT		(NPROC * NTHR)
#define LOCK_ITERS	15000	/* per thread, scenarios 1 and 2 */
#define PC_TOTAL	200000	/* units, scenario 3 */
#define MIX_TOTAL	100000	/* units of each semaphore, scenario 4 */
#define KILL_REPS	20	/* scenarios 5 and 6 */
#define BIG_MAX		(1 << 24)

enum { K_LOCK_MUTEX = 1, K_LOCK_SEM, K_PC, K_MIX };
enum { PH_START = 0, PH_WAIT, PH_IN, PH_REL, PH_OUT, PH_DONE };
static const char *phase_name[] = { "start", "WAIT", "in", "rel", "out",
    "done" };

struct tprog {
	int phase, iter, tid, last;	/* last: what it waited for last */
};

struct shared {
	char name[3][64];
	int kind, maxin, iters;
	int inside, inside_max, violations;
	long counter;			/* lock of maximum 1: not atomic */
	int acq, slept;			/* slept: waits that gave up the CPU */
	int ready, go;			/* the start line */
	int errors, last_r, last_err;
	int c1_left, c2_left;		/* consumers' tickets */
	int p1_left, p2_left;		/* producers' units */
	int taken1, taken2, e_taken, e_sets, timeouts, any_waits, all_waits;
	struct tprog t[NT];
	/* scenarios 5 and 6 */
	int kready[2], kdone[2], kres[2];
	int sq_w1, sq_exit, sq_slot;	/* the squatter (see squat_main) */
};

static struct shared *S;
static unsigned long long seed;
static long deadline_s = 60;

static uint64_t
rnd_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static unsigned
rnd(uint64_t *s, unsigned n)
{
	return (unsigned)(rnd_next(s) % n);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
bad(int r, int err)
{
	ts_inc(&S->errors);
	ts_store(&S->last_r, r);
	ts_store(&S->last_err, err);
}

/* This thread's voluntary context switches: a wait that adds one slept
 * (or yielded), so the slow path ran. */
static long
switches(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return 0;
	return ru.ru_nvcsw;
}

/* wapi_wait counting the waits that slept. */
static int
wait1(wapi_handle_t h, uint32_t ms)
{
	long before = switches();
	int r = wapi_wait(h, ms);

	if (switches() != before)
		ts_inc(&S->slept);
	return r;
}

static inline void
pause_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* A tiny random stretch of time: mostly a few pauses, sometimes a yield,
 * sometimes a sleep of 1-50 us (so that the others sleep too). */
static void
jitter(uint64_t *s, unsigned pauses)
{
	unsigned r = rnd(s, 64), k;
	struct timespec ts = { 0, 0 };

	if (r < 3) {
		sched_yield();
	} else if (r < 5) {
		ts.tv_nsec = 1000 * (1 + rnd(s, 50));
		nanosleep(&ts, NULL);
	} else {
		for (k = rnd(s, pauses + 1); k > 0; k--)
			pause_cpu();
	}
}

/* A producer's pace: slower than its consumers, so that they sleep. */
static void
jitter_slow(uint64_t *s)
{
	struct timespec ts = { 0, 0 };

	switch (rnd(s, 8)) {
	case 0:
	case 1:
		ts.tv_nsec = 1000 * (1 + rnd(s, 50));
		nanosleep(&ts, NULL);
		break;
	case 2:
		sched_yield();
		break;
	default:
		jitter(s, 200);
	}
}

/* Take one of *left if any is left. */
static bool
ticket(int *left)
{
	int v = ts_load(left);

	while (v > 0)
		if (__atomic_compare_exchange_n(left, &v, v - 1, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* Take up to want of *left: how many were taken. */
static int
tickets(int *left, int want)
{
	int v = ts_load(left), n;

	while (v > 0) {
		n = v < want ? v : want;
		if (__atomic_compare_exchange_n(left, &v, v - n, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return n;
	}
	return 0;
}

/* ------------------------------------------------------------ workers */

struct worker {
	int id;				/* proc * NTHR + thread */
	wapi_handle_t h[3];
	uint64_t rng;
};

static void
enter(void)
{
	int n = ts_inc(&S->inside), m;

	if (n > S->maxin)
		ts_inc(&S->violations);
	while ((m = ts_load(&S->inside_max)) < n &&
	    !__atomic_compare_exchange_n(&S->inside_max, &m, n, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* Scenarios 1 and 2: wait, a tiny critical section, release. */
static void
lock_thread(struct worker *w)
{
	struct tprog *p = &S->t[w->id];
	long v;
	int i, r;

	for (i = 0; i < S->iters; i++) {
		ts_store(&p->phase, PH_WAIT);
		r = wait1(w->h[0], WAPI_INFINITE);
		if (r != WAPI_WAIT_OBJECT_0) {
			bad(r, wapi_last_error());
			break;
		}
		ts_store(&p->phase, PH_IN);
		enter();
		if (S->maxin == 1) {
			/* A read, a pause, a write: two inside lose one. */
			v = __atomic_load_n(&S->counter, __ATOMIC_RELAXED);
			jitter(&w->rng, 64);
			__atomic_store_n(&S->counter, v + 1, __ATOMIC_RELAXED);
		} else
			jitter(&w->rng, 64);
		ts_inc(&S->acq);
		__atomic_sub_fetch(&S->inside, 1, __ATOMIC_ACQ_REL);
		ts_store(&p->phase, PH_REL);
		r = S->kind == K_LOCK_MUTEX ? wapi_mutex_release(w->h[0]) :
		    wapi_semaphore_release(w->h[0], 1, NULL);
		if (r != 0) {
			bad(-100, r);
			break;
		}
		ts_store(&p->phase, PH_OUT);
		ts_store(&p->iter, i + 1);
		jitter(&w->rng, 32);
	}
}

/* Scenario 3: producers release exactly PC_TOTAL in all, 1..3 at a time;
 * consumers take one per ticket, without a timeout. */
static void
pc_thread(struct worker *w)
{
	struct tprog *p = &S->t[w->id];
	int n, r;

	if (w->id % 5 == 0) {
		while ((n = tickets(&S->p1_left, 1 + (int)rnd(&w->rng, 3))) > 0) {
			ts_store(&p->phase, PH_REL);
			if ((r = wapi_semaphore_release(w->h[0], n, NULL)) != 0)
				bad(-101, r);
			ts_store(&p->phase, PH_OUT);
			__atomic_add_fetch(&p->iter, n, __ATOMIC_ACQ_REL);
			jitter_slow(&w->rng);
		}
		return;
	}
	while (ticket(&S->c1_left)) {
		ts_store(&p->phase, PH_WAIT);
		r = wait1(w->h[0], WAPI_INFINITE);
		if (r != WAPI_WAIT_OBJECT_0) {
			bad(r, wapi_last_error());
			break;
		}
		ts_inc(&S->taken1);
		ts_store(&p->phase, PH_OUT);
		ts_inc(&p->iter);
		jitter(&w->rng, 32);
	}
}

/* One unit of semaphore which (0: h[0], 1: h[2]) with a single wait,
 * INFINITE or (timed) short timeouts retried. */
static bool
mix_single(struct worker *w, int which, bool timed)
{
	wapi_handle_t h = w->h[which ? 2 : 0];
	int r;

	for (;;) {
		r = wait1(h, timed ? 1 + rnd(&w->rng, 5) : WAPI_INFINITE);
		if (r == WAPI_WAIT_OBJECT_0)
			break;
		if (r != WAPI_WAIT_TIMEOUT || !timed) {
			bad(r, wapi_last_error());
			return false;
		}
		ts_inc(&S->timeouts);
	}
	ts_inc(which ? &S->taken2 : &S->taken1);
	return true;
}

/*
 * Scenario 4.  h[0], h[2]: semaphores A and B, h[1]: an auto-reset event
 * E.  Producers release exactly MIX_TOTAL of each (1..3 at a time) and
 * set E now and then.  A consumer holds a ticket for each unit it will
 * take, so that the last ones are sure to be served: one of A (a single
 * wait, a timed wait, or a wait-any on A and E, where E only means "wait
 * again"), one of B, or one of each (a wait-all on A and B).
 */
static void
mix_thread(struct worker *w)
{
	struct tprog *p = &S->t[w->id];
	wapi_handle_t ae[2] = { w->h[0], w->h[1] }, ab[2] = { w->h[0], w->h[2] };
	int n, m, r, how;
	bool a, b;

	if (w->id % 4 == 0) {
		for (;;) {
			ts_store(&p->phase, PH_REL);
			n = tickets(&S->p1_left, 1 + (int)rnd(&w->rng, 3));
			if (n > 0 &&
			    (r = wapi_semaphore_release(w->h[0], n, NULL)) != 0)
				bad(-102, r);
			if (rnd(&w->rng, 4) == 0) {
				if ((r = wapi_event_set(w->h[1])) != 0)
					bad(-103, r);
				ts_inc(&S->e_sets);
			}
			ts_store(&p->phase, PH_OUT);
			jitter_slow(&w->rng);
			ts_store(&p->phase, PH_REL);
			m = tickets(&S->p2_left, 1 + (int)rnd(&w->rng, 3));
			if (m > 0 &&
			    (r = wapi_semaphore_release(w->h[2], m, NULL)) != 0)
				bad(-104, r);
			ts_store(&p->phase, PH_OUT);
			if (n == 0 && m == 0)
				break;
			__atomic_add_fetch(&p->iter, n + m, __ATOMIC_ACQ_REL);
			jitter_slow(&w->rng);
		}
		return;
	}
	for (;;) {
		how = (int)rnd(&w->rng, 6);
		a = false;
		b = false;
		if (how == 5 || how == 4) {
			/* B wanted (4) or both (5): fall back to what is left */
			if (how == 5 && (a = ticket(&S->c1_left)))
				b = ticket(&S->c2_left);
			else
				b = ticket(&S->c2_left);
			if (!a && !b)
				a = ticket(&S->c1_left);
		} else if (!(a = ticket(&S->c1_left)))
			b = ticket(&S->c2_left);
		if (!a && !b)
			break;
		ts_store(&p->last, a && b ? 5 : how);
		ts_store(&p->phase, PH_WAIT);
		if (a && b) {
			r = wapi_wait_multiple(ab, 2, 1, WAPI_INFINITE);
			ts_inc(&S->all_waits);
			if (r != WAPI_WAIT_OBJECT_0) {
				bad(r, wapi_last_error());
				break;
			}
			ts_inc(&S->taken1);
			ts_inc(&S->taken2);
		} else if (a && how == 3) {
			for (;;) {
				r = wapi_wait_multiple(ae, 2, 0, WAPI_INFINITE);
				ts_inc(&S->any_waits);
				if (r == WAPI_WAIT_OBJECT_0)
					break;
				if (r != WAPI_WAIT_OBJECT_0 + 1) {
					bad(r, wapi_last_error());
					goto out;
				}
				ts_inc(&S->e_taken);
			}
			ts_inc(&S->taken1);
		} else if (!mix_single(w, b, rnd(&w->rng, 2) == 0))
			break;
		ts_store(&p->phase, PH_OUT);
		ts_inc(&p->iter);
		jitter(&w->rng, 32);
	}
out:
	;
}

static void *
worker_thread(void *arg)
{
	struct worker *w = arg;

	ts_store(&S->t[w->id].tid, (int)syscall(SYS_gettid));
	/* All at once: a process that started first must not be done
	 * before the last one forks. */
	ts_inc(&S->ready);
	while (!ts_load(&S->go))
		t_msleep(1);
	switch (S->kind) {
	case K_LOCK_MUTEX:
	case K_LOCK_SEM:
		lock_thread(w);
		break;
	case K_PC:
		pc_thread(w);
		break;
	case K_MIX:
		mix_thread(w);
		break;
	}
	ts_store(&S->t[w->id].phase, PH_DONE);
	return NULL;
}

static int
open_obj(int k, wapi_handle_t *h)
{
	switch (S->kind) {
	case K_LOCK_MUTEX:
		return wapi_mutex_open(S->name[k], h);
	case K_MIX:
		if (k == 1)
			return wapi_event_open(S->name[k], h);
		/* FALLTHROUGH */
	default:
		return wapi_semaphore_open(S->name[k], h);
	}
}

/* A participant process: NTHR threads. */
static int
proc_main(int proc)
{
	struct worker w[NTHR];
	pthread_t th[NTHR];
	wapi_handle_t h[3] = { 0, 0, 0 };
	int k, nobj = S->kind == K_MIX ? 3 : 1;

	for (k = 0; k < nobj; k++)
		if (open_obj(k, &h[k]) != 0) {
			bad(-200 - k, wapi_last_error());
			return 3;
		}
	for (k = 0; k < NTHR; k++) {
		w[k].id = proc * NTHR + k;
		memcpy(w[k].h, h, sizeof(h));
		w[k].rng = seed ^ ((uint64_t)(w[k].id + 1) * 0x9e3779b97f4a7c15ull);
		if (w[k].rng == 0)
			w[k].rng = 1;
		if (pthread_create(&th[k], NULL, worker_thread, &w[k]) != 0) {
			bad(-300, errno);
			return 3;
		}
	}
	for (k = 0; k < NTHR; k++)
		pthread_join(th[k], NULL);
	for (k = 0; k < nobj; k++)
		wapi_handle_close(h[k]);
	return 0;
}

/* fn(arg) in a forked child (ts_fork), for the int-argument scenarios. */
static int (*child_fn)(int);
static int child_arg;

static int
child_run(void *unused)
{
	(void)unused;
	return child_fn(child_arg);
}

static pid_t
start_child(int (*fn)(int), int arg)
{
	child_fn = fn;
	child_arg = arg;
	return ts_fork(child_run, NULL);
}

/* --------------------------------------------------------- reporting */

static char
proc_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *q;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
	    (int)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return '-';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '-';
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')' */
	if ((q = strrchr(buf, ')')) == NULL || q[1] == '\0' || q[2] == '\0')
		return '?';
	return q[2];
}

/* The object's state as the library reports it, and its raw slot. */
static void
print_obj(const char *what, wapi_handle_t h)
{
	struct wapi_handle_info in;
	const struct wapi_handle_entry *e = ts_slot(h);

	memset(&in, 0, sizeof(in));
	if (wapi_handle_info(h, &in) != 0) {
		printf("#   %s: info failed (%d)\n", what, wapi_last_error());
		return;
	}
	printf("#   %s: type %d signalled %d count %d max %d owner %d/%d "
	    "recursion %u", what, in.type, in.signalled, (int)in.count,
	    (int)in.maximum, (int)in.owner_pid, (int)in.owner_tid,
	    in.recursion);
	if (e != NULL)
		printf(" | slot waiters %u mwaiters %u word0 %#x word1 %#x "
		    "flags %#x", (unsigned)__atomic_load_n(&e->waiters,
		    __ATOMIC_ACQUIRE), __atomic_load_n(&e->mwaiters,
		    __ATOMIC_ACQUIRE), (unsigned)__atomic_load_n((const uint32_t *)
		    &e->u.raw[0], __ATOMIC_ACQUIRE), (unsigned)__atomic_load_n(
		    (const uint32_t *)&e->u.raw[4], __ATOMIC_ACQUIRE),
		    (unsigned)e->flags);
	printf("\n");
}

/* ------------------------------------------------------------ hunts */

/* Run NPROC participants on the objects named in S; false when they did
 * not all finish by the deadline (then they are killed). */
static bool
run_procs(const char *what, wapi_handle_t *h, int nobj)
{
	pid_t pid[NPROC];
	int rc[NPROC], st, k, left = NPROC;
	int64_t t0 = now_ms(), end = t0 + deadline_s * 1000;
	bool hung = false;

	for (k = 0; k < NPROC; k++) {
		rc[k] = -2;
		pid[k] = start_child(proc_main, k);
	}
	while (left > 0) {
		if (ts_load(&S->ready) == NT || left < NPROC)
			ts_store(&S->go, 1);
		for (k = 0; k < NPROC; k++)
			if (rc[k] == -2 && waitpid(pid[k], &st, WNOHANG) == pid[k]) {
				rc[k] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
				left--;
			}
		if (left == 0)
			break;
		if (now_ms() > end) {
			hung = true;
			break;
		}
		t_msleep(5);
	}
	if (hung) {
		printf("# %s: hung after %ld s; state:\n", what, deadline_s);
		for (k = 0; k < nobj; k++)
			print_obj(S->name[k], h[k]);
		printf("#   inside %d, acquisitions %d, taken %d/%d, left "
		    "c %d/%d p %d/%d\n", S->inside, S->acq, S->taken1,
		    S->taken2, S->c1_left, S->c2_left, S->p1_left, S->p2_left);
		for (k = 0; k < NT; k++)
			if (S->t[k].phase != PH_DONE)
				printf("#   thread %d (pid %d tid %d, %c): %s, "
				    "%d done, last %d\n", k, (int)pid[k / NTHR],
				    S->t[k].tid, proc_state(pid[k / NTHR],
				    S->t[k].tid), phase_name[S->t[k].phase],
				    S->t[k].iter, S->t[k].last);
		for (k = 0; k < NPROC; k++)
			if (rc[k] == -2) {
				kill(pid[k], SIGKILL);
				waitpid(pid[k], NULL, 0);
			}
	}
	T_OK(!hung, "%s: every participant finished", what);
	if (!hung)
		printf("# %s: %lld ms, %d single waits slept\n", what,
		    (long long)(now_ms() - t0), S->slept);
	for (k = 0; k < NPROC && !hung; k++)
		if (rc[k] != 0)
			break;
	if (!hung)
		T_OK(k == NPROC, "%s: participants exited 0 (proc %d: %d)",
		    what, k, k < NPROC ? rc[k] : 0);
	TS_EQ(S->errors, 0, "%s: no failed call (last %d, error %d)", what,
	    S->last_r, S->last_err);
	return !hung;
}

static void
reset_shared(int kind, const char *tag)
{
	int k;

	memset(S, 0, sizeof(*S));
	S->kind = kind;
	for (k = 0; k < 3; k++)
		snprintf(S->name[k], sizeof(S->name[k]), "ho-%s-%d-%d", tag, k,
		    (int)getpid());
}

static void
hunt_lock(int kind, int maxin)
{
	char what[64];
	wapi_handle_t h;
	int r;

	reset_shared(kind, kind == K_LOCK_MUTEX ? "mtx" : "sem");
	S->maxin = maxin;
	S->iters = LOCK_ITERS;
	if (kind == K_LOCK_MUTEX) {
		snprintf(what, sizeof(what), "mutex lock");
		r = wapi_mutex_create(S->name[0], 0, &h);
	} else {
		snprintf(what, sizeof(what), "semaphore max %d", maxin);
		r = wapi_semaphore_create(S->name[0], maxin, maxin, &h);
	}
	T_EQ(r, 0, "create the object");
	if (r != 0)
		return;
	if (run_procs(what, &h, 1)) {
		TS_EQ(S->acq, NT * LOCK_ITERS, "%s: acquisitions", what);
		if (maxin == 1)
			TS_EQ(S->counter, NT * LOCK_ITERS,
			    "%s: counter kept without atomics", what);
		TS_EQ(S->violations, 0, "%s: never more than %d inside "
		    "(at most %d seen)", what, maxin, S->inside_max);
		if (kind == K_LOCK_SEM) {
			struct wapi_handle_info in;

			wapi_handle_info(h, &in);
			TS_EQ(in.count, maxin, "%s: count back to the maximum",
			    what);
		} else {
			struct wapi_handle_info in;

			wapi_handle_info(h, &in);
			TS_EQ(in.owner_pid, 0, "%s: free at the end", what);
		}
		printf("# %s: %d acquisitions, at most %d inside\n", what,
		    S->acq, S->inside_max);
	}
	wapi_handle_close(h);
}

static void
hunt_pc(void)
{
	const char *what = "producers/consumers";
	struct wapi_handle_info in;
	wapi_handle_t h;
	int r;

	reset_shared(K_PC, "pc");
	S->c1_left = S->p1_left = PC_TOTAL;
	r = wapi_semaphore_create(S->name[0], 0, BIG_MAX, &h);
	T_EQ(r, 0, "create the semaphore");
	if (r != 0)
		return;
	if (run_procs(what, &h, 1)) {
		TS_EQ(S->taken1, PC_TOTAL, "%s: taken == released", what);
		wapi_handle_info(h, &in);
		TS_EQ(in.count, 0, "%s: count 0 at the end", what);
	}
	wapi_handle_close(h);
}

static void
hunt_mix(void)
{
	const char *what = "mix of waits";
	struct wapi_handle_info in;
	wapi_handle_t h[3];
	int r, k;

	reset_shared(K_MIX, "mix");
	S->c1_left = S->p1_left = MIX_TOTAL;
	S->c2_left = S->p2_left = MIX_TOTAL;
	r = wapi_semaphore_create(S->name[0], 0, BIG_MAX, &h[0]);
	if (r == 0)
		r = wapi_event_create(S->name[1], 0, 0, &h[1]);
	if (r == 0)
		r = wapi_semaphore_create(S->name[2], 0, BIG_MAX, &h[2]);
	T_EQ(r, 0, "create the objects");
	if (r != 0)
		return;
	if (run_procs(what, h, 3)) {
		TS_EQ(S->taken1, MIX_TOTAL, "%s: A taken == released", what);
		TS_EQ(S->taken2, MIX_TOTAL, "%s: B taken == released", what);
		wapi_handle_info(h[0], &in);
		TS_EQ(in.count, 0, "%s: A's count 0 at the end", what);
		wapi_handle_info(h[2], &in);
		TS_EQ(in.count, 0, "%s: B's count 0 at the end", what);
		printf("# %s: %d wait-all, %d wait-any (%d by the event of "
		    "%d sets), %d timeouts\n", what, S->all_waits,
		    S->any_waits, S->e_taken, S->e_sets, S->timeouts);
	}
	for (k = 0; k < 3; k++)
		wapi_handle_close(h[k]);
}

/* ------------------------------------------------- killed woken waiter */

/* W1 (0) or W2 (1): wait for the object without a timeout.  W1 then keeps
 * what it took until it is killed; W2 gives a mutex back. */
static int
kw_main(int i)
{
	wapi_handle_t h;
	int r;

	if ((S->kind == K_LOCK_MUTEX ? wapi_mutex_open(S->name[0], &h) :
	    wapi_semaphore_open(S->name[0], &h)) != 0)
		return 3;
	ts_store(&S->kready[i], 1);
	r = wapi_wait(h, WAPI_INFINITE);
	ts_store(&S->kres[i], r);
	ts_store(&S->kdone[i], 1);
	if (i == 0)
		for (;;)
			pause();
	if (S->kind == K_LOCK_MUTEX && (r == WAPI_WAIT_OBJECT_0 ||
	    r == WAPI_WAIT_ABANDONED_0) && wapi_mutex_release(h) != 0)
		return 4;
	wapi_handle_close(h);
	return 0;
}

/* The client slot of process pid in the state table, or -1. */
static int
client_slot(pid_t pid)
{
	const struct wapi_header *m = ts_table();
	const struct wapi_client_entry *c;
	uint32_t i;

	if (m == NULL)
		return -1;
	c = (const struct wapi_client_entry *)((const char *)m +
	    m->regions[WAPI_R_CLIENTS].offset);
	for (i = 0; i < m->regions[WAPI_R_CLIENTS].capacity; i++)
		if (c[i].state != WAPI_CS_FREE && c[i].pid == pid)
			return (int)i;
	return -1;
}

/*
 * A process that attaches the moment W1 is dead, so that it likely takes
 * W1's client slot (the lowest free one) before the helper has dealt with
 * W1's death: then the helper leaves the slot to it, and W1's sleep
 * records with it.  It stays attached until the round ends.
 */
static int
squat_main(int unused)
{
	pid_t w1 = ts_load(&S->sq_w1);
	char st;

	(void)unused;
	while (!ts_load(&S->sq_exit)) {
		st = proc_state(w1, w1);
		if (st == 'Z' || st == 'X' || st == '-')
			break;
		pause_cpu();
	}
	wapi_init(0);
	ts_store(&S->sq_slot, client_slot(getpid()));
	while (!ts_load(&S->sq_exit))
		t_msleep(1);
	return 0;
}

static void
spin_us(int us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		pause_cpu();
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000000 +
	    (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

struct asleep { wapi_handle_t h; int n; pid_t pid; };

/* n sleepers counted on h, and pid's main thread asleep (twice, apart:
 * not just passing through a sleep on the way). */
static bool
asleep_cond(void *arg)
{
	struct asleep *a = arg;

	if (ts_waiters(a->h) != a->n || proc_state(a->pid, a->pid) != 'S')
		return false;
	t_msleep(2);
	return ts_waiters(a->h) == a->n && proc_state(a->pid, a->pid) == 'S';
}

static bool
wait_asleep(wapi_handle_t h, int n, pid_t pid)
{
	struct asleep a = { h, n, pid };

	return t_until(asleep_cond, &a, deadline_s * 1000);
}

static void
kill_report(const char *what, int rep, const char *why, wapi_handle_t h,
    pid_t w2)
{
	printf("# %s, round %d: %s; state:\n", what, rep, why);
	print_obj(S->name[0], h);
	printf("#   W1 done %d (result %#x), W2 done %d (result %#x), W2 %c\n",
	    S->kdone[0], S->kres[0], S->kdone[1], S->kres[1],
	    w2 > 0 ? proc_state(w2, w2) : '-');
}

static bool
reaped(pid_t pid, bool *done)
{
	if (!*done && waitpid(pid, NULL, WNOHANG) == pid)
		*done = true;
	return *done;
}

/*
 * Scenarios 5 (mutex) and 6 (semaphore of maximum 1 at 0): W1 then W2
 * asleep, one release, W1 killed at once.  The wake (FIFO) usually goes
 * to W1, which dies before or after it takes: if before, the helper must
 * pass the wake on (it counts W1 out of its sleep records); if after, a
 * mutex comes abandoned to W2, and a semaphore's unit is gone with W1, so
 * a second release must reach W2.
 */
static void
hunt_kill(int kind, bool squat)
{
	char what[80];
	struct wapi_handle_info in;
	wapi_handle_t h;
	pid_t w1, w2, sq;
	int rep, r, base, w1_first = 0, abandoned = 0, topped = 0, tops = 0;
	int w1_slot, squatted = 0;
	uint64_t rng = seed | 1;
	int64_t end;
	bool ok = true, d1, d2;

	snprintf(what, sizeof(what), "killed woken waiter, %s%s",
	    kind == K_LOCK_MUTEX ? "mutex" : "semaphore",
	    squat ? ", its slot taken over" : "");
	reset_shared(kind, kind == K_LOCK_MUTEX ? "kmtx" : "ksem");
	r = kind == K_LOCK_MUTEX ? wapi_mutex_create(S->name[0], 0, &h) :
	    wapi_semaphore_create(S->name[0], 0, 1, &h);
	T_EQ(r, 0, "create the object");
	if (r != 0)
		return;
	/* A slot reused after a hang may keep a count of sleepers that
	 * were killed: start from what it has. */
	if ((base = ts_waiters(h)) != 0)
		printf("# %s: the new slot counts %d sleepers already\n",
		    what, base);
	for (rep = 0; rep < KILL_REPS && ok; rep++) {
		memset(S->kready, 0, sizeof(S->kready));
		memset(S->kdone, 0, sizeof(S->kdone));
		S->kres[0] = S->kres[1] = -2;
		w1 = w2 = sq = -1;
		d1 = d2 = false;
		ts_store(&S->sq_exit, 0);
		ts_store(&S->sq_slot, -2);
		/* W1 of the last round counted out (by the helper). */
		if (!ts_sleepers_exactly(h, base)) {
			kill_report(what, rep, "sleepers left from the last "
			    "round", h, -1);
			ok = false;
			break;
		}
		if (kind == K_LOCK_MUTEX &&
		    (r = wapi_wait(h, (uint32_t)deadline_s * 1000)) !=
		    WAPI_WAIT_OBJECT_0) {
			kill_report(what, rep, "the test could not take the "
			    "mutex", h, -1);
			ok = false;
			break;
		}
		w1 = start_child(kw_main, 0);
		if (!wait_asleep(h, base + 1, w1)) {
			kill_report(what, rep, "W1 never slept", h, -1);
			ok = false;
			goto cleanup;
		}
		w2 = start_child(kw_main, 1);
		if (!wait_asleep(h, base + 2, w2)) {
			kill_report(what, rep, "W2 never slept", h, w2);
			ok = false;
			goto cleanup;
		}
		w1_slot = client_slot(w1);
		if (squat) {
			ts_store(&S->sq_w1, w1);
			sq = start_child(squat_main, 0);
		}
		r = kind == K_LOCK_MUTEX ? wapi_mutex_release(h) :
		    wapi_semaphore_release(h, 1, NULL);
		/* Every other round up to 300 us later: W1 more often
		 * dies after it took the object. */
		if (rep % 2)
			spin_us((int)rnd(&rng, 300));
		kill(w1, SIGKILL);
		if (r != 0) {
			kill_report(what, rep, "release failed", h, w2);
			ok = false;
			goto cleanup;
		}
		end = now_ms() + deadline_s * 1000;
		while (!ts_load(&S->kdone[1])) {
			if (now_ms() > end) {
				kill_report(what, rep, "hung: W2 still "
				    "waits", h, w2);
				ok = false;
				goto cleanup;
			}
			/* W1 took the unit before it died: W2 sleeps
			 * rightly; another unit must reach it. */
			if (kind != K_LOCK_MUTEX && !topped &&
			    reaped(w1, &d1) && wapi_handle_info(h, &in) == 0 &&
			    in.count == 0 && !ts_load(&S->kdone[1])) {
				topped = 1;
				tops++;
				if (wapi_semaphore_release(h, 1, NULL) != 0) {
					kill_report(what, rep, "second "
					    "release failed", h, w2);
					ok = false;
					goto cleanup;
				}
			}
			t_msleep(1);
		}
		if (kind == K_LOCK_MUTEX) {
			if (S->kres[1] == WAPI_WAIT_ABANDONED_0)
				abandoned++;
			ok = S->kres[1] == WAPI_WAIT_OBJECT_0 ||
			    S->kres[1] == WAPI_WAIT_ABANDONED_0;
		} else {
			ok = S->kres[1] == WAPI_WAIT_OBJECT_0;
		}
		if (S->kdone[0])
			w1_first++;
		if (!ok)
			kill_report(what, rep, "W2's wait failed", h, w2);
cleanup:
		if (sq > 0) {
			ts_store(&S->sq_exit, 1);
			waitpid(sq, NULL, 0);
			if (S->sq_slot >= 0 && S->sq_slot == w1_slot)
				squatted++;
		}
		if (w1 > 0 && !d1) {
			kill(w1, SIGKILL);
			waitpid(w1, NULL, 0);
		}
		if (w2 > 0 && !reaped(w2, &d2)) {
			if (!ok)
				kill(w2, SIGKILL);
			waitpid(w2, NULL, 0);
		}
		if (kind != K_LOCK_MUTEX && ok) {
			/* Whatever W1 did, the count comes back to 0 (the
			 * second unit, if W2 did not need it, is ours). */
			if (topped)
				wapi_wait(h, 0);
			if (wapi_handle_info(h, &in) != 0 || in.count != 0) {
				kill_report(what, rep, "count not 0 after "
				    "the round", h, -1);
				ok = false;
			}
		}
		topped = 0;
	}
	T_OK(ok, "%s: W2 always got it (%d rounds; W1 seen taking in %d, "
	    "abandoned to W2 in %d, second release in %d)", what, rep,
	    w1_first, abandoned, tops);
	if (squat)
		printf("# %s: W1's slot taken over in %d rounds\n", what,
		    squatted);
	wapi_handle_close(h);
}

int
main(int argc, char *argv[])
{
	const char *errstr, *env;
	int64_t t0;

	seed = (unsigned long long)time(NULL) ^ (unsigned long long)getpid() << 20;
	ts_seed_opts(argc, argv, "t-sync-handoff", &seed);
	if ((env = getenv("HO_DEADLINE")) != NULL) {
		deadline_s = strtonum(env, 1, 3600, &errstr);
		if (errstr != NULL)
			deadline_s = 60;
	}
	t_setup("t-sync-handoff");
	/* A backstop only: each scenario has its own deadline. */
	ts_watchdog((unsigned)(deadline_s * 9 + 60));
	S = ts_shared(sizeof(*S));
	printf("# seed %llu (t-sync-handoff -s %llu repeats the choices)\n",
	    seed, seed);
	if (!wapi_is_shared()) {
		printf("Bail out! not attached to shared state\n");
		t_cleanup();
		return 1;
	}
	t0 = now_ms();
	hunt_lock(K_LOCK_MUTEX, 1);
	hunt_lock(K_LOCK_SEM, 1);
	hunt_lock(K_LOCK_SEM, 3);
	hunt_pc();
	hunt_mix();
	hunt_kill(K_LOCK_MUTEX, false);
	hunt_kill(K_LOCK_SEM, false);
	hunt_kill(K_LOCK_MUTEX, true);
	hunt_kill(K_LOCK_SEM, true);
	printf("# %lld ms in all\n", (long long)(now_ms() - t0));
	wapi_shutdown();
	return t_done();
}
