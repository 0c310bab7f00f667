/*
 * Stress of libwapi's semaphores and mutexes: NPROC processes x NTHR threads
 * on one named semaphore (maximum SEM_MAX) and one named mutex, taken one
 * after the other or both at once by a wait-all, with the invariants
 * checked in a page shared by everyone:
 *   - the mutex guards a counter (read, yield, write): at the end it equals
 *     the acquisitions, and no two holders are ever inside at once;
 *   - the semaphore never has more than SEM_MAX holders, and no count is
 *     lost or gained.
 * First two processes play ping-pong with two events, then three rounds:
 * calm (waits without a timeout: a lost wakeup hangs it, which a deadline
 * reports); with participants killed (SIGKILL) while frozen at a
 * known point, where every count is exact; with participants killed at any
 * moment (inside the library too), where what a victim was doing is known
 * to within the call it was in.  After each kill every live participant is
 * frozen at a known point and the objects are audited: the semaphore's
 * count plus the live holders plus what the dead took must be SEM_MAX
 * (a dead holder keeps its count, as in Win32: the test gives it back),
 * and the mutex must be owned by its live holder or be free (abandoned when
 * the victim held it).  A restarted process takes the victim's place.
 *
 *   t-sync-stress [-s SEED]
 *
 * TS_VERBOSE=1 in the environment prints the time each kill took.
 */
#include <limits.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "tsync.h"

#define NPROC		4
#define NTHR		4
#define SEM_MAX		3
#define WAIT_MS		20	/* workers' waits: a freeze needs them back */
#define ROUND_MS	30000	/* a round still running after this hung */
#define PINGPONG	20000	/* round trips */

enum { ST_NONE = 0, ST_TAKING, ST_HELD, ST_RELEASING };

struct tstate {
	int sem, mtx;			/* ST_* */
	int tid;
};

struct pstate {
	int pid;
	int ready;			/* its threads are running */
	int freeze;			/* asked to stop at the next checkpoint */
	int frozen;			/* threads stopped */
	int exited;			/* threads finished */
	struct tstate t[NTHR];
};

struct shared {
	char sem_name[64], mtx_name[64];
	uint32_t wait_ms;		/* workers' wait timeout */
	int total, tickets;
	long counter;			/* guarded by the mutex */
	int mtx_acq, abandoned_seen;
	uint64_t inside;		/* pid << 32 | tid of the holder */
	int mx_violations, sem_inside, sem_inside_max, sem_violations;
	int errors, last_bad, last_err;
	int killed[64], nkilled;
	struct pstate p[NPROC];
};

static struct shared *S;
static unsigned long long seed;

static unsigned
rnd(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed % n);
}

static bool
was_killed(int pid)
{
	int k, n = ts_load(&S->nkilled);

	for (k = 0; k < n; k++)
		if (ts_load(&S->killed[k]) == pid)
			return true;
	return false;
}

static void
bad(int what, int err)
{
	ts_inc(&S->errors);
	S->last_bad = what;
	S->last_err = err;
}

/* A point where the test may freeze (and kill) this thread: what it
 * holds is exactly what its tstate says. */
static void
checkpoint(struct pstate *ps)
{
	if (!ts_load(&ps->freeze))
		return;
	ts_inc(&ps->frozen);
	while (ts_load(&ps->freeze))
		t_msleep(1);
	__atomic_sub_fetch(&ps->frozen, 1, __ATOMIC_ACQ_REL);
}

struct worker { struct pstate *ps; struct tstate *ts; wapi_handle_t sem, mtx; };

/* Bookkeeping once the semaphore is ours. */
static void
sem_held(struct tstate *ts)
{
	int n, m;

	ts_store(&ts->sem, ST_HELD);
	n = ts_inc(&S->sem_inside);
	if (n > SEM_MAX)
		ts_inc(&S->sem_violations);
	while ((m = ts_load(&S->sem_inside_max)) < n &&
	    !__atomic_compare_exchange_n(&S->sem_inside_max, &m, n, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* Bookkeeping once the mutex is ours (abandoned: it came abandoned). */
static void
mtx_held(struct tstate *ts, uint64_t me, bool abandoned)
{
	uint64_t prev = 0;

	/* Counted while still "taking": a kill before the store below is
	 * one the audit treats as maybe holding. */
	if (abandoned)
		ts_inc(&S->abandoned_seen);
	ts_inc(&S->mtx_acq);
	ts_store(&ts->mtx, ST_HELD);
	if (!__atomic_compare_exchange_n(&S->inside, &prev, me, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		/* Someone is inside: only a dead one, and only when the
		 * mutex came abandoned. */
		if (!abandoned || !was_killed((int)(prev >> 32)))
			ts_inc(&S->mx_violations);
		__atomic_store_n(&S->inside, me, __ATOMIC_RELEASE);
	}
}

/*
 * One worker thread: for each ticket take the semaphore, then the mutex
 * (or, every other ticket, both at once with a wait-all), bump the
 * counter inside, and give both back.
 */
static void *
worker_thread(void *arg)
{
	struct worker *w = arg;
	struct pstate *ps = w->ps;
	struct tstate *ts = w->ts;
	wapi_handle_t both[2] = { w->sem, w->mtx };
	uint64_t me, prev;
	long v;
	int r, ticket;

	ts->tid = (int)syscall(SYS_gettid);
	me = (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)ts->tid;
	while ((ticket = __atomic_fetch_add(&S->tickets, 1, __ATOMIC_ACQ_REL)) <
	    S->total) {
		checkpoint(ps);
		if (ticket % 2) {
			for (;;) {
				ts_store(&ts->sem, ST_TAKING);
				ts_store(&ts->mtx, ST_TAKING);
				r = wapi_wait_multiple(both, 2, 1, S->wait_ms);
				if (r == WAPI_WAIT_OBJECT_0 ||
				    r == WAPI_WAIT_ABANDONED_0 + 1)
					break;
				ts_store(&ts->sem, ST_NONE);
				ts_store(&ts->mtx, ST_NONE);
				if (r != WAPI_WAIT_TIMEOUT)
					bad(r, wapi_last_error());
				checkpoint(ps);
			}
			sem_held(ts);
			mtx_held(ts, me, r == WAPI_WAIT_ABANDONED_0 + 1);
		} else {
			for (;;) {
				ts_store(&ts->sem, ST_TAKING);
				r = wapi_wait(w->sem, S->wait_ms);
				if (r == WAPI_WAIT_OBJECT_0)
					break;
				ts_store(&ts->sem, ST_NONE);
				if (r != WAPI_WAIT_TIMEOUT)
					bad(r, wapi_last_error());
				checkpoint(ps);
			}
			sem_held(ts);
			checkpoint(ps);
			for (;;) {
				ts_store(&ts->mtx, ST_TAKING);
				r = wapi_wait(w->mtx, S->wait_ms);
				if (r == WAPI_WAIT_OBJECT_0 ||
				    r == WAPI_WAIT_ABANDONED_0)
					break;
				ts_store(&ts->mtx, ST_NONE);
				if (r != WAPI_WAIT_TIMEOUT)
					bad(r, wapi_last_error());
				checkpoint(ps);
			}
			mtx_held(ts, me, r == WAPI_WAIT_ABANDONED_0);
		}
		v = S->counter;
		sched_yield();
		S->counter = v + 1;
		checkpoint(ps);
		prev = me;
		if (!__atomic_compare_exchange_n(&S->inside, &prev, 0, false,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			ts_inc(&S->mx_violations);
		ts_store(&ts->mtx, ST_RELEASING);
		if ((r = wapi_mutex_release(w->mtx)) != 0)
			bad(-2, r);
		ts_store(&ts->mtx, ST_NONE);
		checkpoint(ps);
		__atomic_sub_fetch(&S->sem_inside, 1, __ATOMIC_ACQ_REL);
		ts_store(&ts->sem, ST_RELEASING);
		if ((r = wapi_semaphore_release(w->sem, 1, NULL)) != 0)
			bad(-3, r);
		ts_store(&ts->sem, ST_NONE);
	}
	ts_inc(&ps->exited);
	return NULL;
}

/* A participant process: NTHR threads on the objects opened by name. */
static int
worker_main(int slot)
{
	struct pstate *ps = &S->p[slot];
	struct worker w[NTHR];
	pthread_t th[NTHR];
	wapi_handle_t sem, mtx;
	int k;

	if (wapi_semaphore_open(S->sem_name, &sem) != 0 ||
	    wapi_mutex_open(S->mtx_name, &mtx) != 0) {
		bad(-4, wapi_last_error());
		return 3;
	}
	for (k = 0; k < NTHR; k++) {
		w[k].ps = ps;
		w[k].ts = &ps->t[k];
		w[k].sem = sem;
		w[k].mtx = mtx;
		pthread_create(&th[k], NULL, worker_thread, &w[k]);
	}
	ts_store(&ps->ready, 1);
	for (k = 0; k < NTHR; k++)
		pthread_join(th[k], NULL);
	wapi_handle_close(sem);
	wapi_handle_close(mtx);
	wapi_shutdown();
	return 0;
}

static pid_t
start_worker(int slot)
{
	pid_t parent = getpid(), pid;

	memset(&S->p[slot], 0, sizeof(S->p[slot]));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(98);
		_exit(worker_main(slot));
	}
	S->p[slot].pid = pid;
	return pid;
}

struct round {
	int kills, kills_holding, kills_maybe_holding, kills_maybe_taking;
	int sem_lost, sem_maybe, sem_deficit, gave_back;
	int audit_failures, survivors_failed, not_finished, hung;
	char why[200];
};

struct frozen_cond { struct pstate *ps; };

static bool
frozen_cond(void *a)
{
	struct pstate *ps = ((struct frozen_cond *)a)->ps;

	/* Still attaching: it holds nothing, and its threads stop at their
	 * first checkpoint, before they touch the objects. */
	if (!ts_load(&ps->ready))
		return true;
	return ts_load(&ps->frozen) + ts_load(&ps->exited) == NTHR;
}

/* Stop every live participant at a checkpoint. */
static bool
freeze_all(const pid_t *pids)
{
	struct frozen_cond c;
	bool ok = true;
	int k;

	for (k = 0; k < NPROC; k++)
		if (pids[k] > 0)
			ts_store(&S->p[k].freeze, 1);
	for (k = 0; k < NPROC; k++) {
		if (pids[k] <= 0)
			continue;
		c.ps = &S->p[k];
		if (getenv("TS_VERBOSE") && !t_until(frozen_cond, &c, 500))
			printf("# slow freeze: pid %d ready %d frozen %d exited %d\n",
			    pids[k], S->p[k].ready, S->p[k].frozen, S->p[k].exited);
		ok &= t_until(frozen_cond, &c, TS_LONG);
	}
	return ok;
}

static void
thaw_all(void)
{
	int k;

	for (k = 0; k < NPROC; k++)
		ts_store(&S->p[k].freeze, 0);
}

/* Whether the client table still has pid attached (the helper has not yet
 * released the slot of a dead client). */
static bool
client_gone_cond(void *a)
{
	const struct wapi_header *m = ts_table();
	const struct wapi_client_entry *cl;
	int pid = *(int *)a;
	uint32_t i;

	if (m == NULL)
		return false;
	cl = (const struct wapi_client_entry *)((const char *)m +
	    m->regions[WAPI_R_CLIENTS].offset);
	for (i = 0; i < m->regions[WAPI_R_CLIENTS].capacity; i++)
		if (__atomic_load_n(&cl[i].state, __ATOMIC_ACQUIRE) ==
		    WAPI_CS_ATTACHED && cl[i].pid == pid)
			return false;
	return true;
}

struct owner_cond { wapi_handle_t m; int pid; };

static bool
owner_gone_cond(void *a)
{
	struct owner_cond *c = a;
	struct wapi_handle_info in;

	return wapi_handle_info(c->m, &in) == 0 && in.owner_pid != c->pid;
}

/* Whether the mutex's slot is marked abandoned (for the next acquirer). */
static int
abandoned_flag(wapi_handle_t h)
{
	const struct wapi_handle_entry *e = ts_slot(h);

	if (e == NULL)
		return -1;
	return (__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
	    WAPI_HF_ABANDONED) != 0;
}

/*
 * After victim slot v (pid vpid) was killed and reaped, with every other
 * participant frozen: check the semaphore and the mutex against what the
 * victim and the live ones hold, and give back the counts the dead took.
 */
static void
audit(struct round *rd, const pid_t *pids, int v, int vpid, wapi_handle_t sem,
      wapi_handle_t mtx, bool exact)
{
	struct wapi_handle_info in;
	struct owner_cond oc = { mtx, vpid };
	struct pstate *vp = &S->p[v];
	int k, t, live_sem = 0, held = 0, maybe = 0, deficit, live_owner = 0;
	int live_owner_tid = 0, vheld = 0, vmaybe = 0, ab;

	for (t = 0; t < NTHR; t++) {
		held += vp->t[t].sem == ST_HELD;
		maybe += vp->t[t].sem == ST_TAKING || vp->t[t].sem == ST_RELEASING;
		vheld += vp->t[t].mtx == ST_HELD;
		vmaybe += vp->t[t].mtx == ST_TAKING || vp->t[t].mtx == ST_RELEASING;
		rd->kills_maybe_taking += vp->t[t].mtx == ST_TAKING;
	}
	rd->kills_holding += vheld > 0;
	rd->kills_maybe_holding += vmaybe > 0;
	for (k = 0; k < NPROC; k++) {
		if (k == v || pids[k] <= 0)
			continue;
		for (t = 0; t < NTHR; t++) {
			live_sem += S->p[k].t[t].sem == ST_HELD;
			if (S->p[k].t[t].mtx == ST_HELD) {
				live_owner = pids[k];
				live_owner_tid = S->p[k].t[t].tid;
			}
		}
	}
	/* The semaphore: count + live holders + lost == SEM_MAX. */
	if (wapi_handle_info(sem, &in) != 0) {
		rd->audit_failures++;
		snprintf(rd->why, sizeof(rd->why), "semaphore info failed");
		return;
	}
	deficit = SEM_MAX - live_sem - in.count;
	rd->sem_lost += held;
	rd->sem_maybe += maybe;
	rd->sem_deficit += deficit;
	if (deficit < held || deficit > held + maybe || (exact && maybe != 0)) {
		rd->audit_failures++;
		snprintf(rd->why, sizeof(rd->why), "semaphore: count %d, %d live "
		    "holders, the victim held %d (+%d maybe): %s", in.count,
		    live_sem, held, maybe, deficit < held ? "a count was gained" :
		    "a count was lost");
	}
	/* The dead keep their counts (Win32); give them back.  Every live
	 * holder is frozen: the count of holders is theirs. */
	ts_store(&S->sem_inside, live_sem);
	if (deficit > 0) {
		if (wapi_semaphore_release(sem, deficit, NULL) != 0) {
			rd->audit_failures++;
			snprintf(rd->why, sizeof(rd->why), "giving back %d: %s",
			    deficit, wapi_strerror(wapi_last_error()));
		} else
			rd->gave_back += deficit;
	}
	/* The mutex: once the helper saw the death, owned by its live
	 * holder, or free (and abandoned if the victim held it). */
	if (!t_until(owner_gone_cond, &oc, TS_LONG)) {
		rd->audit_failures++;
		snprintf(rd->why, sizeof(rd->why), "the dead pid %d still owns "
		    "the mutex", vpid);
		return;
	}
	if (wapi_handle_info(mtx, &in) != 0) {
		rd->audit_failures++;
		return;
	}
	if (in.owner_pid != live_owner ||
	    (live_owner != 0 && in.owner_tid != live_owner_tid)) {
		rd->audit_failures++;
		snprintf(rd->why, sizeof(rd->why), "mutex owned by %d/%d, the "
		    "live holder is %d/%d", in.owner_pid, in.owner_tid,
		    live_owner, live_owner_tid);
	}
	/* Exact only when the others were frozen before the kill: else one
	 * of them may already have taken the abandoned mutex. */
	ab = abandoned_flag(mtx);
	if (exact && vheld && ab != 1) {
		rd->audit_failures++;
		snprintf(rd->why, sizeof(rd->why), "the victim held the mutex: "
		    "not marked abandoned (%d)", ab);
	}
}

/*
 * One round: total acquisitions over NPROC x NTHR threads; kills: 0, or
 * kills with mode 1 (victim frozen at a checkpoint) or 2 (at any moment).
 */
static void
run_round(const char *title, int total, int mode, int kills)
{
	struct round rd;
	pid_t pids[NPROC], pid, vpid;
	int64_t deadline, t0, tk[4];
	wapi_handle_t sem, mtx;
	int k, st, live, v, r, expect;
	static int round_no;

	memset(&rd, 0, sizeof(rd));
	memset(S, 0, sizeof(*S));
	round_no++;
	snprintf(S->sem_name, sizeof(S->sem_name), "t-sync-stress sem %d", round_no);
	snprintf(S->mtx_name, sizeof(S->mtx_name), "t-sync-stress mutex %d", round_no);
	/* With kills, the work goes on until the kills are made.  The calm
	 * round waits without a timeout: a lost wakeup hangs it. */
	S->total = mode == 0 ? total : INT32_MAX / 2;
	S->wait_ms = mode == 0 ? WAPI_INFINITE : WAIT_MS;
	t0 = wcore_now_mono_ns();
	deadline = t0 + ROUND_MS * 1000000LL;
	printf("# round %d: %s, %d x %d threads, %d acquisitions\n", round_no,
	    title, NPROC, NTHR, total);
	T_EQ(wapi_semaphore_create(S->sem_name, SEM_MAX, SEM_MAX, &sem), 0,
	    "named semaphore");
	T_EQ(wapi_mutex_create(S->mtx_name, 0, &mtx), 0, "named mutex");
	for (k = 0; k < NPROC; k++)
		pids[k] = start_worker(k);
	live = NPROC;
	while (live > 0) {
		if (mode != 0 && rd.kills == kills &&
		    S->total == INT32_MAX / 2)
			S->total = ts_load(&S->tickets) + total / 2;
		if (mode != 0 && rd.kills < kills) {
			t_msleep(5 + rnd(40));
			v = (int)rnd(NPROC);
			if (pids[v] <= 0)
				continue;
			vpid = pids[v];
			/* Frozen victims only: one still attaching is not
			 * at a checkpoint. */
			if (mode == 1 && !ts_load(&S->p[v].ready))
				continue;
			tk[0] = wcore_now_mono_ns();
			if (mode == 1 && !freeze_all(pids)) {
				rd.audit_failures++;
				snprintf(rd.why, sizeof(rd.why), "a participant "
				    "did not reach a checkpoint");
				break;
			}
			if (S->nkilled < (int)(sizeof(S->killed) /
			    sizeof(S->killed[0]))) {
				S->killed[S->nkilled] = vpid;
				ts_inc(&S->nkilled);
			}
			kill(vpid, SIGKILL);
			if (waitpid(vpid, &st, 0) != vpid)
				st = 0;
			pids[v] = 0;
			if (!WIFSIGNALED(st)) {
				/* It had finished on its own. */
				if (WEXITSTATUS(st) != 0)
					rd.survivors_failed++;
				live--;
				thaw_all();
				continue;
			}
			rd.kills++;
			tk[1] = wcore_now_mono_ns();
			if (mode == 2 && !freeze_all(pids)) {
				rd.audit_failures++;
				snprintf(rd.why, sizeof(rd.why), "a participant "
				    "did not reach a checkpoint");
				break;
			}
			tk[2] = wcore_now_mono_ns();
			audit(&rd, pids, v, vpid, sem, mtx, mode == 1);
			tk[3] = wcore_now_mono_ns();
			if (getenv("TS_VERBOSE"))
				printf("# kill %d: freeze+kill %.3f freeze %.3f "
				    "audit %.3f\n", rd.kills,
				    (tk[1] - tk[0]) / 1e9, (tk[2] - tk[1]) / 1e9,
				    (tk[3] - tk[2]) / 1e9);
			thaw_all();
			/*
			 * The first victim's place is taken at once, so that
			 * the newcomer may find the dead client's slot before
			 * the helper did; later ones wait for the helper.
			 */
			if (rd.kills > 1 && !t_until(client_gone_cond, &vpid,
			    TS_LONG)) {
				rd.audit_failures++;
				snprintf(rd.why, sizeof(rd.why), "the helper "
				    "never released the slot of dead pid %d", vpid);
			}
			pids[v] = start_worker(v);
			continue;
		}
		pid = waitpid(-1, &st, WNOHANG);
		if (pid == 0) {
			if (wcore_now_mono_ns() > deadline) {
				rd.hung = 1;
				break;
			}
			t_msleep(2);
			continue;
		}
		if (pid < 0)
			break;
		for (k = 0; k < NPROC; k++)
			if (pids[k] == pid) {
				pids[k] = 0;
				live--;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					rd.survivors_failed++;
			}
	}
	for (k = 0; k < NPROC; k++)
		if (pids[k] > 0) {
			rd.not_finished++;
			kill(pids[k], SIGKILL);
			waitpid(pids[k], &st, 0);
		}

	if (rd.hung) {
		struct wapi_handle_info a, b;

		wapi_handle_info(sem, &a);
		wapi_handle_info(mtx, &b);
		printf("# hung: %d tickets taken; semaphore count %d, %d "
		    "sleepers; mutex owner %d/%d, %d sleepers\n",
		    ts_load(&S->tickets), a.count, ts_waiters(sem), b.owner_pid,
		    b.owner_tid, ts_waiters(mtx));
	}
	T_EQ(rd.hung, 0, "the round ended (no lost wakeup, no deadlock)");
	T_EQ(rd.not_finished, 0, "every participant finished");
	T_EQ(rd.survivors_failed, 0, "the survivors all exited 0");
	T_EQ(S->errors, 0, "no unexpected result from the library");
	if (S->errors)
		printf("# last unexpected: %d (%s)\n", S->last_bad,
		    wapi_strerror(S->last_err));
	T_EQ(S->mx_violations, 0, "mutual exclusion never broken");
	T_EQ(S->sem_violations, 0, "never more than SEM_MAX semaphore holders");
	T_OK(S->sem_inside_max >= 1 && S->sem_inside_max <= SEM_MAX,
	    "semaphore holders at once: at most %d (saw %d)", SEM_MAX,
	    S->sem_inside_max);
	T_EQ(ts_load(&S->sem_inside), 0, "no semaphore holder left");
	T_OK(rd.audit_failures == 0, "audits after kills: %.150s",
	    rd.audit_failures ? rd.why : "all fine");
	if (rd.audit_failures)
		printf("# audit: %s\n", rd.why);
	/* The final state of the objects. */
	T_EQ(wapi_handle_info(sem, &(struct wapi_handle_info){ 0 }), 0, "sem info");
	{
		struct wapi_handle_info in;

		wapi_handle_info(sem, &in);
		T_EQ(in.count, SEM_MAX, "semaphore back to its initial count "
		    "(after giving back what the dead took)");
	}
	r = wapi_wait(mtx, 0);
	T_OK(r == WAPI_WAIT_OBJECT_0 || r == WAPI_WAIT_ABANDONED_0,
	    "the mutex is free at the end (%d)", r);
	if (r == WAPI_WAIT_ABANDONED_0)
		S->abandoned_seen++;
	if (r == WAPI_WAIT_OBJECT_0 || r == WAPI_WAIT_ABANDONED_0)
		wapi_mutex_release(mtx);
	if (mode == 2) {
		/* A victim inside its wait may have taken (and died with) the
		 * mutex, or taken an abandoned one without recording it. */
		T_OK(S->counter <= S->mtx_acq && S->mtx_acq - S->counter <=
		    rd.kills_holding + rd.kills_maybe_taking,
		    "counter %ld vs %d acquisitions (%d kills while holding, "
		    "%d maybe)", S->counter, S->mtx_acq, rd.kills_holding,
		    rd.kills_maybe_taking);
		T_OK(S->abandoned_seen >= rd.kills_holding - rd.kills_maybe_taking &&
		    S->abandoned_seen <= rd.kills_holding + rd.kills_maybe_holding,
		    "abandoned acquisitions %d vs kills holding %d (+%d maybe)",
		    S->abandoned_seen, rd.kills_holding, rd.kills_maybe_holding);
	} else {
		T_EQ(S->counter, S->mtx_acq, "counter == acquisitions");
		expect = rd.kills_holding;
		T_EQ(S->abandoned_seen, expect,
		    "abandoned acquisitions == kills made while holding the mutex");
	}
	T_OK(S->mtx_acq >= S->total - rd.kills * NTHR,
	    "acquisitions made: %d of %d", S->mtx_acq, S->total);
	if (mode != 0) {
		T_EQ(rd.kills, kills, "kills made");
		T_EQ(rd.gave_back, rd.sem_deficit, "counts given back");
		printf("# %d kills, %d holding the mutex (%d maybe), semaphore "
		    "counts lost with the dead: %d (+%d maybe, %d were)\n",
		    rd.kills, rd.kills_holding, rd.kills_maybe_holding,
		    rd.sem_lost, rd.sem_maybe, rd.sem_deficit);
	}
	printf("# round %d took %.2f s\n", round_no,
	    (double)(wcore_now_mono_ns() - t0) / 1e9);
	T_EQ(wapi_handle_close(sem), 0, "close the semaphore");
	T_EQ(wapi_handle_close(mtx), 0, "close the mutex");
}

struct pingpong { int done_a, done_b, bad; };

/* One side of the ping-pong: ping sets "a" and waits "b"; the other
 * waits on [never, a] (a multi-object sleep) and sets "b". */
static int
pingpong_side(int ping, struct pingpong *pp)
{
	wapi_handle_t a, b, never, hs[2];
	int k, r;

	if (wapi_event_open("t-sync-stress ping", &a) != 0 ||
	    wapi_event_open("t-sync-stress pong", &b) != 0 ||
	    wapi_event_open("t-sync-stress never", &never) != 0)
		return 3;
	hs[0] = never;
	hs[1] = a;
	for (k = 0; k < PINGPONG; k++) {
		if (ping) {
			wapi_event_set(a);
			r = wapi_wait(b, WAPI_INFINITE);
			if (r != WAPI_WAIT_OBJECT_0)
				ts_inc(&pp->bad);
			ts_inc(&pp->done_a);
		} else {
			r = wapi_wait_multiple(hs, 2, 0, WAPI_INFINITE);
			if (r != WAPI_WAIT_OBJECT_0 + 1)
				ts_inc(&pp->bad);
			ts_inc(&pp->done_b);
			wapi_event_set(b);
		}
	}
	wapi_shutdown();
	return 0;
}

/* Two processes hand two auto-reset events back and forth with no
 * timeout: a lost wakeup stops them, which the deadline reports. */
static void
run_pingpong(void)
{
	struct pingpong *pp = (struct pingpong *)S;
	wapi_handle_t a, b, never;
	pid_t pid[2], parent = getpid();
	int64_t deadline;
	int k, st, left = 2, failed = 0;

	memset(S, 0, sizeof(*S));
	printf("# ping-pong: %d round trips between 2 processes\n", PINGPONG);
	T_EQ(wapi_event_create("t-sync-stress ping", 0, 0, &a), 0, "ping event");
	T_EQ(wapi_event_create("t-sync-stress pong", 0, 0, &b), 0, "pong event");
	T_EQ(wapi_event_create("t-sync-stress never", 1, 0, &never), 0,
	    "an event never set");
	fflush(stdout);
	for (k = 0; k < 2; k++) {
		pid[k] = fork();
		if (pid[k] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(98);
			_exit(pingpong_side(k == 0, pp));
		}
	}
	deadline = wcore_now_mono_ns() + ROUND_MS * 1000000LL;
	while (left > 0 && wcore_now_mono_ns() < deadline) {
		for (k = 0; k < 2; k++) {
			if (pid[k] <= 0 || waitpid(pid[k], &st, WNOHANG) != pid[k])
				continue;
			failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
			pid[k] = 0;
			left--;
		}
		t_msleep(2);
	}
	for (k = 0; k < 2; k++)
		if (pid[k] > 0) {
			kill(pid[k], SIGKILL);
			waitpid(pid[k], &st, 0);
		}
	printf("# ping-pong took %.2f s\n", (double)(wcore_now_mono_ns() -
	    deadline + ROUND_MS * 1000000LL) / 1e9);
	TS_EQ(left, 0, "ping-pong ended (stuck at %d / %d round trips?)",
	    ts_load(&pp->done_a), ts_load(&pp->done_b));
	T_EQ(failed, 0, "both sides exited 0");
	T_EQ(ts_load(&pp->done_a), PINGPONG, "all round trips made");
	T_EQ(ts_load(&pp->bad), 0, "every wait returned the expected object");
	wapi_handle_close(a);
	wapi_handle_close(b);
	wapi_handle_close(never);
}

int
main(int argc, char *argv[])
{
	seed = (unsigned long long)time(NULL) ^ (unsigned long long)getpid() << 20;
	ts_seed_opts(argc, argv, "t-sync-stress", &seed);
	t_setup("t-sync-stress");
	ts_watchdog(150);
	S = ts_shared(sizeof(*S));
	printf("# seed %llu (t-sync-stress -s %llu repeats the choices)\n",
	    seed, seed);
	if (!wapi_is_shared()) {
		printf("Bail out! not attached to shared state\n");
		t_cleanup();
		return 1;
	}
	run_pingpong();
	run_round("calm, waits without timeout", 20000, 0, 0);
	run_round("kills of frozen participants", 4000, 1, 10);
	run_round("kills at any moment", 4000, 2, 20);
	wapi_shutdown();
	return t_done();
}
