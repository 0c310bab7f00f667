/*
 * Helpers shared by the sync object tests (t-sync.c, t-sync-stress.c), on
 * top of tlib.h: a peer that is another process in shared mode and another
 * thread in private mode, a page shared with peers, a watchdog, and a look
 * at the waiter count of a handle slot, so that a test knows a peer sleeps
 * in a wait without guessing from time.
 */
#ifndef TSYNC_H
#define TSYNC_H

#include <sys/prctl.h>

#include "tlib.h"

/* T_EQ with a printf-style message. */
#define TS_EQ(a, b, ...) do {						\
	long long ts_a_ = (long long)(a), ts_b_ = (long long)(b);	\
	char ts_m_[256];						\
	snprintf(ts_m_, sizeof(ts_m_), __VA_ARGS__);			\
	T_OK(ts_a_ == ts_b_, "%s (got %lld, want %lld)", ts_m_, ts_a_, ts_b_); \
} while (0)

/* True when peers are threads (WAPI_DISABLE_SHM set). */
static bool ts_private;

/* Bound on any wait a peer makes where success is expected: a broken
 * library fails the test after this long instead of hanging it. */
#define TS_LONG		20000u

struct ts_peer {
	pid_t pid;			/* shared mode: the child */
	pthread_t th;			/* private mode */
	int (*fn)(void *);
	void *arg;
	int rc;
};

static void *
ts_peer_thread(void *p)
{
	struct ts_peer *pe = p;

	pe->rc = pe->fn(pe->arg);
	return NULL;
}

/* Fork a child (a fresh client) that runs fn(arg) and exits with what it
 * returns; it dies with its parent. */
static inline pid_t
ts_fork(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(98);
		alarm(0);
		r = fn(arg);
		fflush(stdout);
		wapi_shutdown();
		_exit(r);
	}
	return pid;
}

/* Start fn(arg) as a peer: a forked child (ts_fork) in shared mode, a
 * thread in private mode. */
static inline void
ts_peer_start(struct ts_peer *p, int (*fn)(void *), void *arg)
{
	p->fn = fn;
	p->arg = arg;
	p->rc = -1;
	if (ts_private) {
		p->pid = getpid();
		if (pthread_create(&p->th, NULL, ts_peer_thread, p) != 0) {
			perror("pthread_create");
			exit(99);
		}
		return;
	}
	p->pid = ts_fork(fn, arg);
}

/* The -s SEED option of a randomised test program (prog names it in
 * messages): *seed keeps its value without one; never 0. */
static inline void
ts_seed_opts(int argc, char *argv[], const char *prog,
	     unsigned long long *seed)
{
	const char *errstr;
	int c;

	while ((c = getopt(argc, argv, "s:")) != -1) {
		switch (c) {
		case 's':
			*seed = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: -s %s: %s\n", prog,
				    optarg, errstr);
				exit(2);
			}
			break;
		default:
			fprintf(stderr, "usage: %s [-s SEED]\n", prog);
			exit(2);
		}
	}
	if (*seed == 0)
		*seed = 1;
}

/* The peer's return value (-1 when a child did not exit normally). */
static inline int
ts_peer_join(struct ts_peer *p)
{
	if (ts_private) {
		pthread_join(p->th, NULL);
		return p->rc;
	}
	return t_wait(p->pid);
}

/* SIGKILL a peer process and reap it (shared mode only). */
static inline void
ts_peer_kill(struct ts_peer *p)
{
	kill(p->pid, SIGKILL);
	t_wait(p->pid);
}

/* A page shared by the test and every peer, made before any fork. */
static inline void *
ts_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(99);
	}
	return p;
}

static inline int
ts_load(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void
ts_store(int *p, int v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline int
ts_inc(int *p)
{
	return __atomic_add_fetch(p, 1, __ATOMIC_ACQ_REL);
}

struct ts_cmp { const int *p; int v; };

static bool
ts_at_least_cond(void *a)
{
	struct ts_cmp *c = a;

	return ts_load(c->p) >= c->v;
}

/* Wait (polling, bounded by TS_LONG) until *p >= v. */
static inline bool
ts_await(const int *p, int v)
{
	struct ts_cmp c = { p, v };

	return t_until(ts_at_least_cond, &c, TS_LONG);
}

/*
 * The mapping of the handle table this process uses: the state file in
 * shared mode, the library's anonymous pages in private mode.  Found in
 * /proc/self/maps as a shared writable mapping that starts with the magic
 * and has the size its header gives; NULL when there is none.
 */
static inline const struct wapi_header *
ts_table(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	const struct wapi_header *found = NULL, *h;
	unsigned long lo, hi;
	char line[512], perms[8];

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (strcmp(perms, "rw-s") != 0 || hi - lo < WAPI_HEADER_SIZE)
			continue;
		h = (const struct wapi_header *)lo;
		if (memcmp(h->magic, WAPI_MAGIC, 8) == 0 &&
		    h->file_size == hi - lo) {
			found = h;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The slot of handle number h in the state table, or NULL. */
static inline const struct wapi_handle_entry *
ts_slot(wapi_handle_t h)
{
	const struct wapi_header *m = ts_table();
	uint32_t idx = h & WAPI_HANDLE_INDEX_MASK;

	if (m == NULL || idx == 0 || idx > m->handle_hwm)
		return NULL;
	return &((const struct wapi_handle_entry *)((const char *)m +
	    m->regions[WAPI_R_HANDLES].offset))[idx - 1];
}

/* Sleepers counted on the slot of handle number h (any kind of wait). */
static inline int
ts_waiters(wapi_handle_t h)
{
	const struct wapi_handle_entry *e = ts_slot(h);

	return e == NULL ? -1 : __atomic_load_n(&e->waiters, __ATOMIC_ACQUIRE);
}

struct ts_wcmp { wapi_handle_t h; int n; bool exact; };

static bool
ts_waiters_cond(void *a)
{
	struct ts_wcmp *c = a;
	int w = ts_waiters(c->h);

	return c->exact ? w == c->n : w >= c->n;
}

/* Wait until at least n waits sleep on h: true when they came. */
static inline bool
ts_sleepers(wapi_handle_t h, int n)
{
	struct ts_wcmp c = { h, n, false };

	return t_until(ts_waiters_cond, &c, TS_LONG);
}

/* Wait until exactly n waits sleep on h. */
static inline bool
ts_sleepers_exactly(wapi_handle_t h, int n)
{
	struct ts_wcmp c = { h, n, true };

	return t_until(ts_waiters_cond, &c, TS_LONG);
}

/* A watchdog: a deadlock fails the program (helpers killed, state
 * removed) instead of hanging the test run.  Peer children die with us. */
static void
ts_watchdog_fire(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test hung\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	t_cleanup();
	_exit(1);
}

static inline void
ts_watchdog(unsigned seconds)
{
	signal(SIGALRM, ts_watchdog_fire);
	alarm(seconds);
}

#endif
