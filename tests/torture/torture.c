/*
 * Crash torture (issue 8).  N client processes do random operations on
 * shared objects -- create/open/close by name and by number, events,
 * semaphore and mutex waits (single, any, all), descriptor fetches, process
 * spawns, and the table lock taken directly through the core -- while the
 * driver SIGKILLs them at random moments (and on purpose while they hold
 * the table lock or the mutex), kills the helper during spawns and
 * descriptor transfers, and kills `wapictl lock` while clients wait.
 *
 * Every PHASE_KILLS kills the driver pauses the clients (a client that does
 * not finish its operation within WATCHDOG_MS is a deadlock) and checks:
 * the file validates (core and `wapictl validate`), no dead client's slot
 * or reference remains, the semaphore count lies within what the ledger
 * allows, and the abandoned acquisitions of the mutex match the kills of
 * its owners.
 *
 * The ledger lives in shared memory and is written before ("pending") and
 * after ("done") each operation, so a kill between the two leaves a known
 * ambiguity: the checks accept [certain, certain + ambiguous].
 *
 * The driver never attaches: it reads the state file through the core.  A
 * "keeper" client that is never killed holds the ledgered objects and the
 * descriptor handles for the whole run (so a fetch of them must never fail
 * with WAPI_EGONE) and answers the driver's phase-end requests.
 *
 * Every spawned command appends a line to a file of its own: at the end a
 * file with two lines is a command run twice.  Duplicate runs and lost
 * exits (a wait that missed the end, a wrong code) must both be 0, helper
 * kills during spawns included.
 *
 * Environment: TORTURE_KILLS (default 100), TORTURE_CLIENTS (6),
 * TORTURE_SEED, WAPICTL (the wapictl to run; parts that need it are skipped
 * without it), TORTURE_STRICT (known bugs are failures, not counted and
 * tolerated), TORTURE_TIMING (dead clients must also be released within
 * 1 s: a timing check, for a quiet machine, never set by `make check`).
 */
#include <inttypes.h>
#include <poll.h>
#include <sys/prctl.h>

#include "tlib.h"

#define NCLI_MAX	16
#define BOARD		64
#define NLOCAL		48
#define SEM_INITIAL	4
#define SEM_MAX		64
#define PHASE_KILLS	25
#define WATCHDOG_MS	20000
#define RELEASE_MS	10000	/* a dead client's slot must go by then */
#define PENDING_MAX	64

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v)	__atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

enum cstate { CS_IDLE = 0, CS_TLOCK, CS_SPAWN, CS_FETCH, CS_MUTEX };
static const char *const cstate_name[] = { "idle", "table-lock", "spawn",
    "fetch", "mutex" };
enum { MX_FREE = 0, MX_WANT, MX_HELD, MX_GIVING };

/* One client index: the ledger survives its restarts. */
struct cslot {
	int32_t pid;
	uint32_t state;		/* enum cstate */
	uint32_t ack;		/* last phase finished */
	uint32_t mx;		/* MX_*: this life and the mutex "tt.M" */
	uint32_t sem_pend_acq;	/* an acquire of "tt.S" in flight */
	uint32_t sem_pend_rel;
	uint64_t sem_acq, sem_rel;	/* done */
	uint64_t abandoned;		/* WAPI_WAIT_ABANDONED seen on tt.M */
	uint64_t ops, spawns, fetches, tlocks, tolerated;
	uint64_t spawn_seq;	/* this index's spawns, for their tokens */
	uint64_t lost_exits;	/* a wait that missed the end, a wrong code */
	uint64_t spawn_gone;	/* WAPI_EGONE: helpers died, may have run */
	uint32_t fails;
	uint32_t hk_attach;	/* helper kills when this life attached */
	char msg[256];		/* the first failure */
	char last[256];		/* the latest one */
};

struct shm {
	uint32_t phase, pause, quit;
	uint32_t helper_kills;	/* bumped before each helper kill and
				   after its death: odd while it dies */
	uint32_t ready;
	uint32_t hello_resets;	/* known bug hits, tolerated unless strict */
	uint32_t egone_known;	/* see keeper_fetch_failed */
	uint64_t last_hk_ns;	/* monotonic time of the last helper death */
	wapi_handle_t hM, hS, hE, hA, hF, hPR, hPW;
	uint64_t board[BOARD];	/* type << 32 | number, published handles */
	uint32_t kcmd, kdone;
	int32_t k_count;
	uint32_t k_fails;
	uint64_t k_abandoned, k_rel;
	char k_msg[256];
	char datafile[300];
	char rundir[300];	/* one file per spawn, a line per run */
	struct cslot c[NCLI_MAX];
};

static struct shm *S;
static bool strict, timing;

/* ------------------------------------------------------------ random */

static uint64_t rng_state;

static void
rnd_seed(uint64_t s)
{
	rng_state = s ? s : 0x9e3779b97f4a7c15ULL;
}

static uint32_t
rnd(uint32_t n)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return n == 0 ? 0 : (uint32_t)((x >> 11) % n);
}

/* ------------------------------------------------------------ client */

static struct cslot *C;
static wapi_handle_t hM, hS, hE, hA;
static int sem_held;
static void *tmap;
static size_t tlen;

struct lh { wapi_handle_t h; int type; };
static struct lh L[NLOCAL];
static int nL;

static void cfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
cfail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(C->last, sizeof(C->last), fmt, ap);
	va_end(ap);
	if (ADD(&C->fails, 1) == 1)
		memcpy(C->msg, C->last, sizeof(C->msg));
}

static char last_msg[512];

static void
quiet_messages(int level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/* Did a helper kill happen since hk0 (or was one under way: the count is
 * odd from the kill until the helper is reaped)?  Then some failures are
 * excused. */
static bool
helper_killed_since(uint32_t hk0)
{
	return (hk0 & 1) != 0 || LOAD(&S->helper_kills) != hk0;
}

static void
local_drop(int i)
{
	uint64_t v;
	int r, k;

	/* Unpublish first, so nobody is told about a number we free. */
	for (k = 0; k < BOARD; k++) {
		v = LOAD(&S->board[k]);
		if (v != 0 && (uint32_t)v == L[i].h)
			__atomic_compare_exchange_n(&S->board[k], &v, 0, false,
			    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	if ((r = wapi_handle_close(L[i].h)) != 0)
		cfail("close %#x (type %d): %s", L[i].h, L[i].type,
		    wapi_strerror(r));
	L[i] = L[--nL];
}

static void
local_keep(wapi_handle_t h, int type)
{
	if (nL == NLOCAL)
		local_drop((int)rnd(NLOCAL));
	L[nL].h = h;
	L[nL].type = type;
	nL++;
}

/* A handle we hold must stay what it was. */
static void
check_info(wapi_handle_t h, int type, const char *name, const char *what)
{
	struct wapi_handle_info info;
	int r;

	if ((r = wapi_handle_info(h, &info)) != 0) {
		cfail("%s: info on held handle %#x: %s", what, h,
		    wapi_strerror(r));
		return;
	}
	if (info.type != type)
		cfail("%s: handle %#x has type %d, want %d", what, h,
		    info.type, type);
	if (name != NULL && strcmp(info.name, name) != 0)
		cfail("%s: handle %#x named '%s', want '%s'", what, h,
		    info.name, name);
}

static void
op_named(void)
{
	static const char tc[] = "ems";
	char name[64], other[64];
	int t = (int)rnd(3), k = (int)rnd(8), r, type;
	wapi_handle_t h = 0;

	snprintf(name, sizeof(name), "tt.n.%c.%d", tc[t], k);
	snprintf(other, sizeof(other), "tt.n.%c.%d", tc[(t + 1) % 3], k);
	type = t == 0 ? WAPI_TYPE_EVENT : t == 1 ? WAPI_TYPE_MUTEX :
	    WAPI_TYPE_SEMAPHORE;
	switch (rnd(3)) {
	case 0:
		r = t == 0 ? wapi_event_create(name, (int)rnd(2), 0, &h) :
		    t == 1 ? wapi_mutex_create(name, 0, &h) :
		    wapi_semaphore_create(name, 0, 10, &h);
		if (r != 0) {
			cfail("create %s: %s", name, wapi_strerror(r));
			return;
		}
		break;
	case 1:
		r = t == 0 ? wapi_event_open(name, &h) :
		    t == 1 ? wapi_mutex_open(name, &h) :
		    wapi_semaphore_open(name, &h);
		if (r == WAPI_ENOTFOUND)
			return;
		if (r != 0) {
			cfail("open %s: %s", name, wapi_strerror(r));
			return;
		}
		break;
	default:
		/* A name held by another type: ETYPE (or gone). */
		r = t == 0 ? wapi_event_open(other, &h) :
		    t == 1 ? wapi_mutex_open(other, &h) :
		    wapi_semaphore_open(other, &h);
		if (r == 0) {
			cfail("open %s as the wrong type succeeded", other);
			wapi_handle_close(h);
		} else if (r != WAPI_ETYPE && r != WAPI_ENOTFOUND)
			cfail("open %s as the wrong type: %s", other,
			    wapi_strerror(r));
		return;
	}
	check_info(h, type, name, "named");
	local_keep(h, type);
}

static bool
is_fd_type(int type)
{
	return type == WAPI_TYPE_FILE || type == WAPI_TYPE_PIPE ||
	    type == WAPI_TYPE_SOCKET;
}

static void
op_board(void)
{
	uint64_t v;
	wapi_handle_t h = 0, w = 0;
	uint32_t hk0 = LOAD(&S->helper_kills);
	int r, type, fd;

	if (rnd(2) == 0) {
		/* Publish a new unnamed object. */
		switch (rnd(3)) {
		case 0:
			r = wapi_event_create(NULL, 1, (int)rnd(2), &h);
			type = WAPI_TYPE_EVENT;
			break;
		case 1:
			r = wapi_semaphore_create(NULL, 1, 5, &h);
			type = WAPI_TYPE_SEMAPHORE;
			break;
		default:
			r = wapi_pipe_create(&h, &w);
			type = WAPI_TYPE_PIPE;
			break;
		}
		if (r != 0) {
			if (!helper_killed_since(hk0))
				cfail("unnamed create (type %d): %s", type,
				    wapi_strerror(r));
			return;
		}
		local_keep(h, type);
		if (w != 0)
			local_keep(w, type);
		STORE(&S->board[rnd(BOARD)], (uint64_t)type << 32 | h);
		return;
	}
	/* Adopt a number someone published. */
	v = LOAD(&S->board[rnd(BOARD)]);
	if (v == 0)
		return;
	h = (uint32_t)v;
	type = (int)(v >> 32);
	r = wapi_handle_ref(h);
	if (r == WAPI_EBADHANDLE)
		return;		/* its creator closed it or died */
	if (r != 0) {
		cfail("ref %#x: %s", h, wapi_strerror(r));
		return;
	}
	check_info(h, type, NULL, "adopted");
	local_keep(h, type);
	if (is_fd_type(type)) {
		STORE(&C->state, CS_FETCH);
		r = wapi_fd_get(h, &fd);
		STORE(&C->state, CS_IDLE);
		ADD(&C->fetches, 1);
		/* EGONE is fine: its holders may all be dead. */
		if (r != 0 && r != WAPI_EGONE) {
			if (helper_killed_since(hk0))
				ADD(&C->tolerated, 1);
			else
				cfail("fd_get adopted %#x: %s", h,
				    wapi_strerror(r));
		}
	}
}

static void
op_event(void)
{
	wapi_handle_t h = rnd(2) ? hE : hA;
	int r = 0, w;

	switch (rnd(5)) {
	case 0:
		r = wapi_event_set(h);
		break;
	case 1:
		r = wapi_event_reset(h);
		break;
	case 2:
		r = wapi_event_pulse(h);
		break;
	default:
		w = wapi_wait(h, rnd(6));
		if (w != WAPI_WAIT_OBJECT_0 && w != WAPI_WAIT_TIMEOUT)
			cfail("wait on event: %d (%s)", w,
			    wapi_strerror(wapi_last_error()));
		return;
	}
	if (r != 0)
		cfail("event op: %s", wapi_strerror(r));
}

static void
mutex_release_ledgered(void)
{
	int r;

	STORE(&C->mx, MX_GIVING);
	r = wapi_mutex_release(hM);
	if (r != 0)
		cfail("release tt.M: %s", wapi_strerror(r));
	STORE(&C->mx, MX_FREE);
}

/* We own tt.M: hold it a moment (a kill here abandons it), release. */
static void
mutex_held(void)
{
	struct wapi_handle_info info;
	int r;

	STORE(&C->mx, MX_HELD);
	STORE(&C->state, CS_MUTEX);
	if (wapi_handle_info(hM, &info) == 0 && info.owner_pid != getpid())
		cfail("tt.M acquired but its owner is pid %d",
		    (int)info.owner_pid);
	if (rnd(4) == 0) {
		/* Recursion: a second acquire and release by the owner. */
		r = wapi_wait(hM, 0);
		if (r != WAPI_WAIT_OBJECT_0)
			cfail("recursive acquire of tt.M: %d", r);
		else if ((r = wapi_mutex_release(hM)) != 0)
			cfail("recursive release of tt.M: %s",
			    wapi_strerror(r));
	}
	if (rnd(2))
		t_msleep(rnd(3));
	STORE(&C->state, CS_IDLE);
	mutex_release_ledgered();
}

static void
op_mutex(void)
{
	int r;

	if (rnd(8) == 0) {
		r = wapi_mutex_release(hM);
		if (r != WAPI_ENOT_OWNER)
			cfail("release of tt.M by a non-owner: %s",
			    r == 0 ? "succeeded" : wapi_strerror(r));
		return;
	}
	STORE(&C->mx, MX_WANT);
	r = wapi_wait(hM, rnd(20));
	if (r == WAPI_WAIT_ABANDONED_0)
		ADD(&C->abandoned, 1);
	if (r == WAPI_WAIT_OBJECT_0 || r == WAPI_WAIT_ABANDONED_0)
		mutex_held();
	else {
		if (r != WAPI_WAIT_TIMEOUT)
			cfail("wait on tt.M: %d (%s)", r,
			    wapi_strerror(wapi_last_error()));
		STORE(&C->mx, MX_FREE);
	}
}

static void
sem_release_ledgered(int n)
{
	int32_t prev;
	int r;

	STORE(&C->sem_pend_rel, (uint32_t)n);
	r = wapi_semaphore_release(hS, n, &prev);
	if (r == 0) {
		ADD(&C->sem_rel, (uint64_t)n);
		sem_held -= n;
	} else
		cfail("release %d of tt.S: %s", n, wapi_strerror(r));
	STORE(&C->sem_pend_rel, 0);
}

static void
op_sem(void)
{
	int r;

	if (sem_held < 2 && (sem_held == 0 || rnd(2))) {
		STORE(&C->sem_pend_acq, 1);
		r = wapi_wait(hS, rnd(10));
		if (r == WAPI_WAIT_OBJECT_0) {
			ADD(&C->sem_acq, 1);
			sem_held++;
		} else if (r != WAPI_WAIT_TIMEOUT)
			cfail("wait on tt.S: %d (%s)", r,
			    wapi_strerror(wapi_last_error()));
		STORE(&C->sem_pend_acq, 0);
	} else if (sem_held > 0)
		sem_release_ledgered(1);
}

static void
op_multi(void)
{
	wapi_handle_t hs[3];
	int r;

	if (sem_held >= 2)
		sem_release_ledgered(1);
	STORE(&C->sem_pend_acq, 1);
	STORE(&C->mx, MX_WANT);
	if (rnd(2)) {
		/* Any of event, semaphore, mutex: the lowest ready wins. */
		hs[0] = hE;
		hs[1] = hS;
		hs[2] = hM;
		r = wapi_wait_multiple(hs, 3, 0, rnd(10));
		if (r == WAPI_WAIT_OBJECT_0 + 1) {
			ADD(&C->sem_acq, 1);
			sem_held++;
		}
		STORE(&C->sem_pend_acq, 0);
		if (r == WAPI_WAIT_ABANDONED_0 + 2)
			ADD(&C->abandoned, 1);
		if (r == WAPI_WAIT_OBJECT_0 + 2 || r == WAPI_WAIT_ABANDONED_0 + 2) {
			mutex_held();
			return;
		}
		STORE(&C->mx, MX_FREE);
		if (r != WAPI_WAIT_OBJECT_0 && r != WAPI_WAIT_OBJECT_0 + 1 &&
		    r != WAPI_WAIT_TIMEOUT)
			cfail("wait any {E,S,M}: %d (%s)", r,
			    wapi_strerror(wapi_last_error()));
		return;
	}
	/* All of semaphore and mutex: both or neither. */
	hs[0] = hS;
	hs[1] = hM;
	r = wapi_wait_multiple(hs, 2, 1, rnd(10));
	if (r == WAPI_WAIT_OBJECT_0 || r == WAPI_WAIT_ABANDONED_0 + 1) {
		ADD(&C->sem_acq, 1);
		sem_held++;
		STORE(&C->sem_pend_acq, 0);
		if (r == WAPI_WAIT_ABANDONED_0 + 1)
			ADD(&C->abandoned, 1);
		mutex_held();
		return;
	}
	STORE(&C->sem_pend_acq, 0);
	STORE(&C->mx, MX_FREE);
	if (r != WAPI_WAIT_TIMEOUT)
		cfail("wait all {S,M}: %d (%s)", r,
		    wapi_strerror(wapi_last_error()));
}

/*
 * A fetch of a descriptor the keeper holds failed.  Other errors than
 * EGONE are excused by a helper kill during the fetch.  EGONE means no
 * re-deposit came within the library's wait (3 s); seen only shortly after
 * helper kills, while the helper stalled (the bug of r-slot-stall.c) or the
 * keeper's watcher backed off after refused HELLOs (r-hello-reset.c):
 * counted as known unless TORTURE_STRICT, and failed when no helper was
 * killed in the last 10 s.
 */
static void
keeper_fetch_failed(const char *what, int r, uint32_t hk0)
{
	int64_t ago = (wcore_now_mono_ns() - (int64_t)LOAD(&S->last_hk_ns)) /
	    1000000;

	if (r != WAPI_EGONE && helper_killed_since(hk0))
		ADD(&C->tolerated, 1);
	else if (r == WAPI_EGONE && !strict && LOAD(&S->last_hk_ns) != 0 &&
	    ago < 10000)
		ADD(&S->egone_known, 1);
	else
		cfail("fd_get keeper %s: %s (the keeper holds it; last helper "
		    "kill %lld ms ago)", what, wapi_strerror(r), (long long)ago);
}

/* The keeper's file and pipe: it holds them, so fetches must work. */
static void
op_fetch(void)
{
	uint32_t hk0 = LOAD(&S->helper_kills);
	wapi_handle_t f = S->hF, pr = S->hPR, pw = S->hPW;
	int fd, fr, fw, r;
	struct pollfd p;
	char c = 'x';

	if ((r = wapi_handle_ref(f)) != 0) {
		cfail("ref keeper file %#x: %s", f, wapi_strerror(r));
		return;
	}
	STORE(&C->state, CS_FETCH);
	r = wapi_fd_get(f, &fd);
	STORE(&C->state, CS_IDLE);
	ADD(&C->fetches, 1);
	if (r == 0) {
		if (pwrite(fd, &c, 1, rnd(4096)) != 1)
			cfail("pwrite to the keeper's file: %s", strerror(errno));
	} else
		keeper_fetch_failed("file", r, hk0);
	if ((r = wapi_handle_close(f)) != 0)
		cfail("close keeper file: %s", wapi_strerror(r));

	if (wapi_handle_ref(pr) != 0 || wapi_handle_ref(pw) != 0) {
		cfail("ref keeper pipe");
		return;
	}
	STORE(&C->state, CS_FETCH);
	r = wapi_fd_get(pw, &fw);
	if (r == 0)
		r = wapi_fd_get(pr, &fr);
	STORE(&C->state, CS_IDLE);
	if (r == 0) {
		if (write(fw, &c, 1) != 1)
			cfail("write to the keeper's pipe: %s", strerror(errno));
		p.fd = fr;
		p.events = POLLIN;
		if (poll(&p, 1, 0) == 1 && read(fr, &c, 1) != 1)
			cfail("read from the keeper's pipe: %s", strerror(errno));
	} else
		keeper_fetch_failed("pipe", r, hk0);
	wapi_handle_close(pr);
	wapi_handle_close(pw);
}

static void
op_file(void)
{
	wapi_handle_t h;
	int r, fd;
	char c = 'y';

	if (rnd(3) == 0) {
		/* The keeper has it open for read and write: sharing none
		 * must be refused. */
		r = wapi_file_open(S->datafile, O_RDWR, 0, WAPI_ACCESS_READ,
		    0, &h);
		if (r == 0) {
			cfail("share-none open of a file open elsewhere succeeded");
			wapi_handle_close(h);
		} else if (r != WAPI_ESHARING_VIOLATION)
			cfail("share-none open: %s", wapi_strerror(r));
		return;
	}
	r = wapi_file_open(S->datafile, O_RDWR, 0, WAPI_ACCESS_READ |
	    WAPI_ACCESS_WRITE, WAPI_SHARE_READ | WAPI_SHARE_WRITE, &h);
	if (r != 0) {
		cfail("file open: %s", wapi_strerror(r));
		return;
	}
	if ((r = wapi_fd_get(h, &fd)) != 0)
		cfail("fd_get of our own file: %s", wapi_strerror(r));
	else if (pwrite(fd, &c, 1, rnd(4096)) != 1)
		cfail("pwrite: %s", strerror(errno));
	local_keep(h, WAPI_TYPE_FILE);
}

static void
op_pipe(void)
{
	wapi_handle_t r_, w_;
	int r, fr, fw;
	char out = (char)('a' + rnd(26)), in = 0;

	if ((r = wapi_pipe_create(&r_, &w_)) != 0) {
		cfail("pipe create: %s", wapi_strerror(r));
		return;
	}
	if ((r = wapi_fd_get(r_, &fr)) != 0 || (r = wapi_fd_get(w_, &fw)) != 0)
		cfail("fd_get own pipe: %s", wapi_strerror(r));
	else if (write(fw, &out, 1) != 1 || read(fr, &in, 1) != 1 || in != out)
		cfail("own pipe lost a byte");
	wapi_handle_close(r_);
	wapi_handle_close(w_);
}

/*
 * Spawn a command that appends a line to a file of its own (its token:
 * client index and spawn number) and exits with a known code.  A file
 * with two lines is a command run twice (counted by count_runs at the
 * end); a wait that does not see the end, or a wrong code, is a lost
 * exit.  A helper killed during the spawn must change neither.
 */
static void
op_spawn(void)
{
	uint32_t hk0 = LOAD(&S->helper_kills);
	const char *sv[] = { "sh", "-c", NULL, NULL };
	char cmd[600];
	wapi_handle_t ph;
	pid_t pid;
	int n = (int)rnd(100), r, w, code;
	uint64_t seq = ADD(&C->spawn_seq, 1);

	if (rnd(3) == 0)
		n = 0;
	snprintf(cmd, sizeof(cmd), "echo $$ >>'%s/%d.%" PRIu64 "'; exit %d",
	    S->rundir, (int)(C - S->c), seq, n);
	sv[2] = cmd;
	STORE(&C->state, CS_SPAWN);
	r = wapi_process_spawn(sv, NULL, NULL, NULL, &ph, &pid);
	STORE(&C->state, CS_IDLE);
	ADD(&C->spawns, 1);
	if (r == WAPI_EGONE && helper_killed_since(hk0)) {
		/* The helpers died so that nobody could tell whether it
		 * ran: said (WAPI_EGONE), never run twice. */
		ADD(&C->spawn_gone, 1);
		return;
	}
	if (r != 0) {
		cfail("spawn: %s", wapi_strerror(r));
		return;
	}
	/* A bound only so that a lost exit is counted, not hung on. */
	w = wapi_wait(ph, 60000);
	if (w != WAPI_WAIT_OBJECT_0) {
		ADD(&C->lost_exits, 1);
		cfail("spawned pid %d: wait gave %d (%s)", (int)pid, w,
		    wapi_strerror(wapi_last_error()));
	} else if ((r = wapi_process_exit_code(ph, &code)) != 0)
		cfail("exit code of pid %d: %s", (int)pid, wapi_strerror(r));
	else if (code != n) {
		ADD(&C->lost_exits, 1);
		cfail("spawned 'exit %d' (pid %d) reported %d", n, (int)pid,
		    code);
	}
	wapi_handle_close(ph);
}

/* Take the table lock directly through the core, as a buggy or crashing
 * client could, and sit in it: the driver kills some of us here. */
static void
op_tlock(void)
{
	char why[256];
	const char *path;
	int fd, r;

	if (tmap == NULL) {
		path = wapi_state_path();
		if (path == NULL || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
			cfail("open state file: %s", strerror(errno));
			return;
		}
		r = wcore_map(fd, true, &tmap, &tlen, why, sizeof(why));
		close(fd);
		if (r != 0) {
			tmap = NULL;
			cfail("map state file: %s", why);
			return;
		}
	}
	if ((r = wcore_table_lock(tmap, -1, NULL)) != 0) {
		cfail("table lock: %s", strerror(r));
		return;
	}
	STORE(&C->state, CS_TLOCK);
	ADD(&C->tlocks, 1);
	t_msleep(1 + rnd(8));
	STORE(&C->state, CS_IDLE);
	wcore_table_unlock(tmap);
}

static void
op_audit(void)
{
	int i;

	for (i = 0; i < nL; i++)
		check_info(L[i].h, L[i].type, NULL, "audit");
	check_info(hM, WAPI_TYPE_MUTEX, "tt.M", "audit");
	check_info(hS, WAPI_TYPE_SEMAPHORE, "tt.S", "audit");
	if (nL > 0 && rnd(2))
		local_drop((int)rnd((uint32_t)nL));
}

static void
client_op(void)
{
	uint32_t r = rnd(100);

	if (r < 12)
		op_named();
	else if (r < 22)
		op_board();
	else if (r < 34)
		op_event();
	else if (r < 46)
		op_sem();
	else if (r < 60)
		op_mutex();
	else if (r < 70)
		op_multi();
	else if (r < 77)
		op_fetch();
	else if (r < 80)
		op_file();
	else if (r < 83)
		op_pipe();
	else if (r < 87)
		op_spawn();
	else if (r < 92)
		op_tlock();
	else
		op_audit();
	ADD(&C->ops, 1);
}

static int
client_main(int idx)
{
	uint32_t hk0;
	int r, tries;

	C = &S->c[idx];
	rnd_seed((uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)wcore_now_ns());
	wapi_set_message_handler(quiet_messages, NULL);
	for (tries = 0;; tries++) {
		hk0 = LOAD(&S->helper_kills);
		last_msg[0] = '\0';
		wapi_init(0);
		if (wapi_is_shared())
			break;
		/*
		 * Known bug (see r-hello-reset.c): a helper killed before it
		 * answered our HELLO sends the library to private mode
		 * instead of starting the next helper.  Counted, and retried,
		 * unless TORTURE_STRICT is set.
		 */
		if (!strict && tries < 5 && helper_killed_since(hk0) &&
		    strstr(last_msg, "the helper refused us") != NULL) {
			ADD(&S->hello_resets, 1);
			wapi_shutdown();
			continue;
		}
		cfail("client %d did not attach shared (helper kills %u -> %u): %s",
		    idx, hk0, LOAD(&S->helper_kills), last_msg);
		return 1;
	}
	STORE(&C->hk_attach, hk0);
	/* Half by name, half by number. */
	if (idx % 2 == 0) {
		r = wapi_mutex_open("tt.M", &hM);
		if (r == 0)
			r = wapi_semaphore_open("tt.S", &hS);
		if (r == 0)
			r = wapi_event_open("tt.E", &hE);
		if (r == 0)
			r = wapi_event_open("tt.A", &hA);
	} else {
		hM = S->hM;
		hS = S->hS;
		hE = S->hE;
		hA = S->hA;
		r = wapi_handle_ref(hM);
		if (r == 0)
			r = wapi_handle_ref(hS);
		if (r == 0)
			r = wapi_handle_ref(hE);
		if (r == 0)
			r = wapi_handle_ref(hA);
		if (r == 0)
			check_info(hM, WAPI_TYPE_MUTEX, "tt.M", "adopt tt.M");
	}
	if (r != 0) {
		cfail("client %d: the keeper's objects: %s", idx,
		    wapi_strerror(r));
		return 1;
	}
	for (;;) {
		if (LOAD(&S->pause)) {
			while (sem_held > 0)
				sem_release_ledgered(sem_held);
			STORE(&C->ack, LOAD(&S->phase));
			while (LOAD(&S->pause) && !LOAD(&S->quit))
				t_msleep(2);
		}
		if (LOAD(&S->quit))
			break;
		client_op();
	}
	wapi_shutdown();
	return 0;
}

/* ------------------------------------------------------------ keeper */

static void
kfail(const char *msg)
{
	if (ADD(&S->k_fails, 1) == 1)
		snprintf(S->k_msg, sizeof(S->k_msg), "%s", msg);
}

static void
keeper_check(void)
{
	struct wapi_handle_info info;
	char msg[256];
	int r;

	r = wapi_wait(S->hM, 0);
	if (r == WAPI_WAIT_ABANDONED_0)
		ADD(&S->k_abandoned, 1);
	if (r == WAPI_WAIT_OBJECT_0 || r == WAPI_WAIT_ABANDONED_0) {
		if (wapi_mutex_release(S->hM) != 0)
			kfail("keeper: cannot release tt.M");
	} else {
		if (wapi_handle_info(S->hM, &info) == 0)
			snprintf(msg, sizeof(msg), "keeper: tt.M still owned by "
			    "pid %d at the pause (wait gave %d)",
			    (int)info.owner_pid, r);
		else
			snprintf(msg, sizeof(msg), "keeper: tt.M: wait %d", r);
		kfail(msg);
	}
	if (wapi_handle_info(S->hS, &info) != 0) {
		kfail("keeper: info on tt.S failed");
		return;
	}
	S->k_count = info.count;
	/* Top the semaphore up again: units held by the dead are lost. */
	if (info.count < SEM_INITIAL) {
		r = wapi_semaphore_release(S->hS, SEM_INITIAL - info.count, NULL);
		if (r == 0)
			ADD(&S->k_rel, (uint64_t)(SEM_INITIAL - info.count));
		else
			kfail("keeper: cannot top up tt.S");
	}
}

static int
keeper_main(void)
{
	int fd, r;

	wapi_set_message_handler(quiet_messages, NULL);
	if (wapi_init(0) != 0 || !wapi_is_shared())
		return 1;
	r = wapi_mutex_create("tt.M", 0, &S->hM);
	if (r == 0)
		r = wapi_semaphore_create("tt.S", SEM_INITIAL, SEM_MAX, &S->hS);
	if (r == 0)
		r = wapi_event_create("tt.E", 1, 0, &S->hE);
	if (r == 0)
		r = wapi_event_create("tt.A", 0, 0, &S->hA);
	if (r == 0)
		r = wapi_file_open(S->datafile, O_RDWR | O_CREAT, 0600,
		    WAPI_ACCESS_READ | WAPI_ACCESS_WRITE,
		    WAPI_SHARE_READ | WAPI_SHARE_WRITE, &S->hF);
	if (r == 0)
		r = wapi_pipe_create(&S->hPR, &S->hPW);
	/* We hold a copy of each: fetches of them must always work. */
	if (r == 0)
		r = wapi_fd_get(S->hF, &fd);
	if (r == 0)
		r = wapi_fd_get(S->hPR, &fd);
	if (r == 0)
		r = wapi_fd_get(S->hPW, &fd);
	if (r != 0) {
		fprintf(stderr, "keeper: %s\n", wapi_strerror(r));
		return 1;
	}
	STORE(&S->ready, 1);
	while (!LOAD(&S->quit)) {
		if (LOAD(&S->kcmd) != LOAD(&S->kdone)) {
			keeper_check();
			STORE(&S->kdone, LOAD(&S->kcmd));
		}
		t_msleep(3);
	}
	wapi_shutdown();
	return 0;
}

/* ------------------------------------------------------------ driver */

static int nclients = 6;
static void *dmap;
static size_t dlen;
static const char *wapictl;

struct pend { uint32_t slot; pid_t pid; int64_t t; bool stale; };
static struct pend pending[PENDING_MAX];
static int npending;

static struct {
	unsigned kills, client_kills, tlock_target, tlock_holder, mutex_target,
	    helper_kills, helper_kills_busy, helper_kills_spawn, helper_missing,
	    lock_kills,
	    lock_held_kills, lock_recovered;
	unsigned helper_deaths;
	unsigned phases, validate_ok, validate_core_ok, restarts, crashes;
	uint64_t mx_certain, mx_amb, amb_acq, amb_rel;
	unsigned released, release_over_1s, release_stale_over_1s;
	int64_t release_max_ns, release_stale_max_ns;
	uint64_t fails_seen;
} st;

static pid_t keeper_pid;

/* Helpers seen in the header, and whether we killed them: one that ends
 * otherwise while clients are attached crashed or left them. */
#define NHELPERS 4096
static struct { pid_t pid; bool killed; } helpers[NHELPERS];
static int nhelpers;

static int
helper_index(pid_t pid, bool add)
{
	int i;

	for (i = nhelpers; i-- > 0;)
		if (helpers[i].pid == pid)
			return i;
	if (!add || nhelpers == NHELPERS)
		return -1;
	helpers[nhelpers].pid = pid;
	helpers[nhelpers].killed = false;
	return nhelpers++;
}

static struct wapi_header *
hdr(void)
{
	return dmap;
}

static pid_t
fork_client(int idx)
{
	pid_t pid;
	int nul;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		if ((nul = open("/dev/null", O_RDWR)) >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			close(nul);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(idx < 0 ? keeper_main() : client_main(idx));
	}
	if (idx >= 0) {
		STORE(&S->c[idx].pid, pid);
		/* Until it attaches and says better. */
		STORE(&S->c[idx].hk_attach, LOAD(&S->helper_kills));
		/* A restarted client has done this phase's part already. */
		STORE(&S->c[idx].ack, LOAD(&S->phase) - 1);
	}
	return pid;
}

/* Reap what the subreaper inherited (helpers, their children); a client
 * that ended on its own crashed. */
static void
reap(void)
{
	siginfo_t si;
	char path[64], comm[32] = "";
	pid_t p;
	int status, i, fd;
	ssize_t n;

	for (;;) {
		/* Peek first: a zombie still tells its name. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == 0)
			break;
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)si.si_pid);
		comm[0] = '\0';
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			n = read(fd, comm, sizeof(comm) - 1);
			comm[n > 0 ? n : 0] = '\0';
			close(fd);
		}
		if ((p = waitpid(si.si_pid, &status, WNOHANG)) <= 0)
			break;
		for (i = 0; i < nclients; i++)
			if (S->c[i].pid == p)
				break;
		if (i < nclients) {
			st.crashes++;
			T_OK(0, "client %d (pid %d) ended by itself (status %#x): %s",
			    i, (int)p, status, S->c[i].msg);
			S->c[i].mx = MX_FREE;
			S->c[i].sem_pend_acq = S->c[i].sem_pend_rel = 0;
			fork_client(i);
		} else if (p == keeper_pid) {
			T_OK(0, "the keeper ended (status %#x): %s", status,
			    S->k_msg);
			exit(t_done());
		} else if (strncmp(comm, "wapi-helper", 11) == 0 &&
		    ((i = helper_index(p, false)) < 0 || !helpers[i].killed) &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0 && i < 0)) {
			/* Not killed by us, and not a helper that lost the
			 * start race (exit 0 before it was ever recorded). */
			st.helper_deaths++;
			printf("# helper pid %d ended without being killed (%s "
			    "%d)%s\n", (int)p, WIFSIGNALED(status) ? "signal" :
			    "exit status", WIFSIGNALED(status) ?
			    WTERMSIG(status) : WEXITSTATUS(status), i < 0 ?
			    ", before it recorded itself" : "");
		}
	}
}

static int64_t
slot_of_pid(pid_t pid)
{
	struct wapi_client_entry *cl = WCORE_CLIENTS(dmap);
	uint32_t i, cap = hdr()->regions[WAPI_R_CLIENTS].capacity;

	for (i = 0; i < cap && i < 256; i++)
		if (LOAD(&cl[i].state) == WAPI_CS_ATTACHED && LOAD(&cl[i].pid) == pid)
			return i;
	return -1;
}

static void
poll_pending(void)
{
	struct wapi_client_entry *cl = WCORE_CLIENTS(dmap);
	int64_t now = wcore_now_mono_ns(), d;
	int i;

	for (i = 0; i < npending;) {
		struct pend *p = &pending[i];

		if (LOAD(&cl[p->slot].state) == WAPI_CS_ATTACHED &&
		    LOAD(&cl[p->slot].pid) == p->pid) {
			i++;
			continue;
		}
		d = now - p->t;
		if (p->stale) {
			/* Its helper connection died with a killed helper. */
			if (d > st.release_stale_max_ns)
				st.release_stale_max_ns = d;
			if (d > 1000000000LL)
				st.release_stale_over_1s++;
		} else {
			if (d > st.release_max_ns)
				st.release_max_ns = d;
			if (d > 1000000000LL)
				st.release_over_1s++;
		}
		st.released++;
		pending[i] = pending[--npending];
	}
}

static void
kill_client(int i)
{
	struct cslot *c = &S->c[i];
	pid_t pid = c->pid;
	int64_t slot = slot_of_pid(pid);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	st.kills++;
	st.client_kills++;
	if (LOAD(&hdr()->lock_holder_pid) == pid)
		st.tlock_holder++;
	if (slot >= 0 && npending < PENDING_MAX) {
		pending[npending].slot = (uint32_t)slot;
		pending[npending].pid = pid;
		pending[npending].t = wcore_now_mono_ns();
		pending[npending].stale = c->hk_attach != LOAD(&S->helper_kills);
		npending++;
	}
	/* The ledger of a dead client: certain and ambiguous parts. */
	if (c->mx == MX_HELD)
		st.mx_certain++;
	else if (c->mx == MX_WANT || c->mx == MX_GIVING)
		st.mx_amb++;
	st.amb_acq += c->sem_pend_acq;
	st.amb_rel += c->sem_pend_rel;
	c->mx = MX_FREE;
	c->sem_pend_acq = c->sem_pend_rel = 0;
	c->state = CS_IDLE;
	fork_client(i);
	st.restarts++;
}

/* A client whose state satisfies want, waiting up to ms; -1 if none. */
static int
find_client(bool (*want)(const struct cslot *), long ms)
{
	long waited;
	int i, k;

	for (waited = 0; waited <= ms; waited++) {
		k = (int)rnd((uint32_t)nclients);
		for (i = 0; i < nclients; i++) {
			const struct cslot *c = &S->c[(k + i) % nclients];

			if (want(c))
				return (k + i) % nclients;
		}
		t_msleep(1);
	}
	return -1;
}

static bool
in_tlock(const struct cslot *c)
{
	return LOAD(&c->state) == CS_TLOCK;
}

static bool
holds_mutex(const struct cslot *c)
{
	return LOAD(&c->mx) == MX_HELD;
}

static bool
talks_to_helper(const struct cslot *c)
{
	uint32_t s = LOAD(&c->state);

	return s == CS_SPAWN || s == CS_FETCH;
}

static bool
spawning(const struct cslot *c)
{
	return LOAD(&c->state) == CS_SPAWN;
}

/* Commands run more than once: the spawn files with more than one line
 * (each run of a command appends one).  -1 when the directory cannot be
 * read. */
static long
count_duplicates(uint64_t *files)
{
	char path[700], buf[512];
	struct dirent *d;
	DIR *dp = opendir(S->rundir);
	long dups = 0, lines;
	ssize_t n, k;
	int fd;

	*files = 0;
	if (dp == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", S->rundir, d->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		lines = 0;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (k = 0; k < n; k++)
				lines += buf[k] == '\n';
		close(fd);
		(*files)++;
		if (lines > 1) {
			printf("# spawn %s ran %ld times\n", d->d_name, lines);
			dups += lines - 1;
		}
	}
	closedir(dp);
	return dups;
}

/* The end: commands run twice and exits lost must be none.  Returns the
 * duplicate runs; *lost, *gone (WAPI_EGONE spawns), *files (commands). */
static long
spawn_verdict(uint64_t *lost, uint64_t *gone, uint64_t *files)
{
	long dups, waited;
	int i;

	/* Our descendants (commands of killed clients, sitters of killed
	 * helpers) end soon: reap them before counting runs. */
	for (waited = 0; waited < 10000 && waitpid(-1, NULL, WNOHANG) >= 0;
	    waited++)
		t_msleep(1);
	dups = count_duplicates(files);
	*lost = *gone = 0;
	for (i = 0; i < nclients; i++) {
		*lost += S->c[i].lost_exits;
		*gone += S->c[i].spawn_gone;
	}
	T_EQ(dups, 0, "no spawned command ran twice");
	T_EQ(*lost, 0, "no spawn's exit was lost or wrong");
	return dups;
}

static bool
is_helper(pid_t pid)
{
	char path[64], buf[256], want[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	snprintf(want, sizeof(want), "wapi-helper: %s ", t_host);
	return strncmp(buf, want, strlen(want)) == 0;
}

static void
kill_helper(void)
{
	pid_t pid;
	/* Spawns first: a helper killed during one must neither run its
	 * command twice nor lose its exit. */
	bool in_spawn = find_client(spawning, 300) >= 0;
	bool during = in_spawn || find_client(talks_to_helper, 0) >= 0;
	int k;

	pid = LOAD(&hdr()->helper_pid);
	if (pid <= 0 || !is_helper(pid)) {
		st.helper_missing++;
		return;
	}
	ADD(&S->helper_kills, 1);
	if ((k = helper_index(pid, true)) >= 0)
		helpers[k].killed = true;
	kill(pid, SIGKILL);
	/* Our child (we are the subreaper): reap it, so that "dead" means
	 * gone, listening socket included. */
	if (waitpid(pid, NULL, 0) != pid)
		for (k = 0; k < 5000 && kill(pid, 0) == 0; k++)
			t_msleep(1);
	STORE(&S->last_hk_ns, (uint64_t)wcore_now_mono_ns());
	ADD(&S->helper_kills, 1);
	st.kills++;
	st.helper_kills++;
	st.helper_kills_busy += during;
	st.helper_kills_spawn += in_spawn;
}

/* `wapictl lock -- sleep 5`, killed (with its sleep) while clients wait. */
static void
kill_wapictl_lock(void)
{
	pid_t pid;
	int nul;
	long waited;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		setpgid(0, 0);
		if ((nul = open("/dev/null", O_RDWR)) >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execl(wapictl, "wapictl", "lock", "--", "sleep", "5",
		    (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	for (waited = 0; waited < 10000; waited++) {
		if (LOAD(&hdr()->lock_holder_pid) == pid)
			break;
		t_msleep(1);
	}
	if (waited == 10000)
		T_OK(0, "wapictl lock (pid %d) did not get the table lock "
		    "within 10 s (holder %d)", (int)pid,
		    (int)hdr()->lock_holder_pid);
	else {
		t_msleep(10 + rnd(150));	/* clients pile up behind it */
		st.lock_held_kills++;
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	st.kills++;
	st.lock_kills++;
}

static void
one_kill(void)
{
	uint32_t r = rnd(100);
	int i;

	if (r < 12 && (i = find_client(in_tlock, 300)) >= 0) {
		st.tlock_target++;
		kill_client(i);
	} else if (r >= 12 && r < 24 && (i = find_client(holds_mutex, 300)) >= 0) {
		st.mutex_target++;
		kill_client(i);
	} else if (r >= 24 && r < 32)
		kill_helper();
	else if (r >= 32 && r < 37 && wapictl != NULL)
		kill_wapictl_lock();
	else
		kill_client((int)rnd((uint32_t)nclients));
}

static bool
all_acked(uint32_t phase, int *stuck)
{
	int i;

	for (i = 0; i < nclients; i++)
		if (LOAD(&S->c[i].ack) != phase) {
			*stuck = i;
			return false;
		}
	return true;
}

/* Core checks under the table lock: validation, and every attached slot
 * belongs to a live client, every free slot holds no reference. */
static void
check_tables(unsigned phase)
{
	struct wcore_report rep = { .limit = 20 };
	struct wapi_client_entry *cl = WCORE_CLIENTS(dmap);
	struct wapi_cref_entry *cr = WCORE_CREFS(dmap);
	uint32_t rpc = hdr()->refs_per_client, i, k, attached = 0, bad = 0;
	uint32_t stray = 0, used;
	char line[300];
	int r, j;
	bool live;

	r = wcore_table_lock(dmap, 10000, NULL);
	if (r != 0) {
		T_OK(0, "phase %u: table lock for the check: %s (holder %d)",
		    phase, strerror(r), (int)hdr()->lock_holder_pid);
		return;
	}
	wcore_validate(dmap, dlen, &rep);
	for (i = 0; i < 256 && i < hdr()->regions[WAPI_R_CLIENTS].capacity; i++) {
		if (cl[i].state == WAPI_CS_ATTACHED) {
			attached++;
			live = cl[i].pid == keeper_pid;
			for (j = 0; j < nclients; j++)
				if (cl[i].pid == S->c[j].pid)
					live = true;
			if (!live) {
				bad++;
				printf("# phase %u: slot %u attached to dead pid %d\n",
				    phase, i, (int)cl[i].pid);
			}
			continue;
		}
		for (k = 0; k < rpc; k++)
			if (cr[(size_t)i * rpc + k].handle != 0)
				stray++;
	}
	used = hdr()->clients_used;
	wcore_table_unlock(dmap);
	for (size_t p = 0; p < rep.count; p++) {
		wcore_problem_format(&rep.problems[p], line, sizeof(line));
		printf("# phase %u: %s\n", phase, line);
	}
	if (rep.count == 0)
		st.validate_core_ok++;
	T_OK(rep.count == 0, "phase %u: wcore_validate under the table lock: "
	    "%zu problems", phase, rep.count);
	wcore_report_free(&rep);
	T_OK(bad == 0 && stray == 0 && attached == (uint32_t)nclients + 1 &&
	    used == attached, "phase %u: clients: %u attached (want %d), "
	    "clients_used %u, %u of dead pids, %u stray references in free "
	    "slots", phase, attached, nclients + 1, used, bad, stray);
}

static void
check_wapictl(unsigned phase)
{
	char cmd[1200], out[300], line[512];
	FILE *f;
	int r;

	if (wapictl == NULL)
		return;
	snprintf(out, sizeof(out), "%s/validate.out", t_dir);
	snprintf(cmd, sizeof(cmd), "'%s' validate >'%s' 2>&1", wapictl, out);
	r = system(cmd);
	if (r == 0)
		st.validate_ok++;
	else if ((f = fopen(out, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			printf("# %s", line);
		fclose(f);
	}
	T_OK(r == 0, "phase %u: wapictl validate finds the file clean "
	    "(status %d)", phase, WIFEXITED(r) ? WEXITSTATUS(r) : -1);
}

static void
check_ledger(unsigned phase, uint64_t k_rel_before)
{
	uint64_t acq = 0, rel = k_rel_before, ab = S->k_abandoned;
	int64_t lo, hi;
	int i;

	for (i = 0; i < nclients; i++) {
		acq += S->c[i].sem_acq;
		rel += S->c[i].sem_rel;
		ab += S->c[i].abandoned;
	}
	lo = SEM_INITIAL - (int64_t)(acq + st.amb_acq) + (int64_t)rel;
	hi = SEM_INITIAL - (int64_t)acq + (int64_t)(rel + st.amb_rel);
	T_OK(S->k_count >= lo && S->k_count <= hi, "phase %u: tt.S count %d "
	    "within the ledger's [%" PRId64 ", %" PRId64 "] (%" PRIu64
	    " acquired, %" PRIu64 " released)", phase, S->k_count, lo, hi,
	    acq, rel);
	T_OK(ab >= st.mx_certain && ab <= st.mx_certain + st.mx_amb,
	    "phase %u: %" PRIu64 " abandoned acquisitions of tt.M for %" PRIu64
	    " kills of its owner (+ %" PRIu64 " kills while acquiring or "
	    "releasing)", phase, ab, st.mx_certain, st.mx_amb);
}

static void
check_failures(unsigned phase)
{
	uint64_t total = S->k_fails;
	int i;

	for (i = 0; i < nclients; i++)
		total += S->c[i].fails;
	if (total != st.fails_seen) {
		for (i = 0; i < nclients; i++)
			if (S->c[i].fails != 0)
				printf("# client %d: %u failures, first: %s; "
				    "latest: %s\n", i, S->c[i].fails,
				    S->c[i].msg, S->c[i].last);
		if (S->k_fails)
			printf("# keeper: %s\n", S->k_msg);
	}
	T_OK(total == st.fails_seen, "phase %u: no client saw a broken "
	    "invariant (%" PRIu64 " new failures)", phase,
	    total - st.fails_seen);
	st.fails_seen = total;
}

static void
stop_everything(void)
{
	int i;

	STORE(&S->quit, 1);
	for (i = 0; i < nclients; i++)
		kill(S->c[i].pid, SIGKILL);
	kill(keeper_pid, SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Where each thread of a stuck process waits: its wait channel and its
 * system call with the arguments (/proc/PID/task/TID/syscall), for the
 * log of a deadlock. */
static void
where_stuck(pid_t pid)
{
	char path[384], wchan[64], sys[256];
	struct dirent *d;
	DIR *dp;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((dp = opendir(path)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		wchan[0] = sys[0] = '\0';
		snprintf(path, sizeof(path), "/proc/%d/task/%s/wchan",
		    (int)pid, d->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(wchan, sizeof(wchan), f) == NULL)
				wchan[0] = '\0';
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall",
		    (int)pid, d->d_name);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(sys, sizeof(sys), f) == NULL)
				sys[0] = '\0';
			sys[strcspn(sys, "\n")] = '\0';
			fclose(f);
		}
		printf("# stuck pid %d thread %s: wchan %s, syscall %s\n",
		    (int)pid, d->d_name, wchan, sys);
	}
	closedir(dp);
}

/* Pause, wait for everyone, check.  false: a deadlock (stop the run). */
static bool
phase_end(void)
{
	unsigned phase = LOAD(&S->phase);
	uint64_t k_rel;
	long waited;
	int stuck = -1;

	STORE(&S->pause, 1);
	for (waited = 0; waited < WATCHDOG_MS; waited += 5) {
		reap();
		poll_pending();
		if (all_acked(phase, &stuck))
			break;
		t_msleep(5);
	}
	if (waited >= WATCHDOG_MS) {
		where_stuck(S->c[stuck].pid);
		T_OK(0, "phase %u: client %d (pid %d) did not finish within "
		    "%d s: deadlock in state %s (table lock holder pid %d)",
		    phase, stuck, (int)S->c[stuck].pid, WATCHDOG_MS / 1000,
		    cstate_name[S->c[stuck].state], (int)hdr()->lock_holder_pid);
		return false;
	}
	T_OK(1, "phase %u: every client finished its operation", phase);
	for (waited = 0; npending > 0 && waited < RELEASE_MS; waited += 2) {
		t_msleep(2);
		poll_pending();
	}
	T_OK(npending == 0, "phase %u: every killed client's slot was "
	    "released (%d left after %d s)", phase, npending, RELEASE_MS / 1000);
	npending = 0;
	/* Timing is asserted only on request: a loaded machine exceeds it,
	 * and so does a client left unconnected by a helper kill (released
	 * by the new helper's sweep). */
	if (timing)
		T_OK(st.release_over_1s + st.release_stale_over_1s == 0,
		    "phase %u: every dead client was released within 1 s "
		    "(so far %u over, max %" PRId64 " ms)", phase,
		    st.release_over_1s + st.release_stale_over_1s,
		    (st.release_max_ns > st.release_stale_max_ns ?
		    st.release_max_ns : st.release_stale_max_ns) / 1000000);
	k_rel = S->k_rel;
	ADD(&S->kcmd, 1);
	for (waited = 0; waited < WATCHDOG_MS; waited += 2) {
		if (LOAD(&S->kdone) == LOAD(&S->kcmd))
			break;
		t_msleep(2);
	}
	if (waited >= WATCHDOG_MS) {
		T_OK(0, "phase %u: the keeper did not answer: deadlock", phase);
		return false;
	}
	{
		char path[64];
		struct dirent *d;
		DIR *dp;
		int n = 0;

		/* Descriptors the helper holds: a leak shows as growth. */
		snprintf(path, sizeof(path), "/proc/%d/fd",
		    (int)hdr()->helper_pid);
		if ((dp = opendir(path)) != NULL) {
			while ((d = readdir(dp)) != NULL)
				n += d->d_name[0] != '.';
			closedir(dp);
			printf("# phase %u: helper pid %d holds %d descriptors\n",
			    phase, (int)hdr()->helper_pid, n);
		}
	}
	check_tables(phase);
	check_wapictl(phase);
	check_ledger(phase, k_rel);
	check_failures(phase);
	st.phases++;
	STORE(&S->phase, phase + 1);
	STORE(&S->pause, 0);
	return true;
}

/* t_wait with the watchdog: a process that does not end is killed. */
static int
wait_bounded(pid_t pid)
{
	int status, waited;

	for (waited = 0; waited < WATCHDOG_MS; waited += 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		t_msleep(5);
	}
	printf("# pid %d did not end within %d s: killed\n", (int)pid,
	    WATCHDOG_MS / 1000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -2;
}

static bool
file_gone(void *arg)
{
	(void)arg;
	return access(t_state_path(), F_OK) != 0;
}

int
main(void)
{
	const char *v;
	unsigned kills = 100, seed;
	char why[256];
	int fd, i;
	long waited;
	bool ok = true;
	int64_t t0 = wcore_now_mono_ns();

	t_setup("torture");
	if ((v = getenv("TORTURE_KILLS")) != NULL)
		kills = (unsigned)strtoul(v, NULL, 10);
	if ((v = getenv("TORTURE_CLIENTS")) != NULL)
		nclients = (int)strtol(v, NULL, 10);
	if (nclients < 2 || nclients > NCLI_MAX)
		nclients = 6;
	seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	if ((v = getenv("TORTURE_SEED")) != NULL)
		seed = (unsigned)strtoul(v, NULL, 10);
	rnd_seed(seed);
	strict = (v = getenv("TORTURE_STRICT")) != NULL && *v != '\0' &&
	    strcmp(v, "0") != 0;
	timing = (v = getenv("TORTURE_TIMING")) != NULL && *v != '\0' &&
	    strcmp(v, "0") != 0;
	wapictl = getenv("WAPICTL");
	if (wapictl != NULL && access(wapictl, X_OK) != 0)
		wapictl = NULL;
	printf("# torture: %u kills, %d clients, seed %u, state %s%s\n", kills,
	    nclients, seed, t_state_path(), wapictl ? "" :
	    " (no WAPICTL: wapictl checks skipped)");
	/* Helpers and the processes of killed helpers become our children. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED)
		return 99;
	snprintf(S->datafile, sizeof(S->datafile), "%s/data", t_dir);
	snprintf(S->rundir, sizeof(S->rundir), "%s/runs", t_dir);
	if (mkdir(S->rundir, 0700) != 0)
		return 99;
	S->phase = 1;
	keeper_pid = fork_client(-1);
	for (waited = 0; waited < 10000 && !LOAD(&S->ready); waited++)
		t_msleep(1);
	T_OK(LOAD(&S->ready), "the keeper attached and made the objects");
	if (!LOAD(&S->ready)) {
		stop_everything();
		return t_done();
	}
	fd = open(t_state_path(), O_RDWR | O_CLOEXEC);
	if (fd < 0 || wcore_map(fd, true, &dmap, &dlen, why, sizeof(why)) != 0) {
		T_OK(0, "map the state file: %s", fd < 0 ? strerror(errno) : why);
		stop_everything();
		return t_done();
	}
	close(fd);
	for (i = 0; i < nclients; i++)
		fork_client(i);

	while (ok && st.kills < kills) {
		unsigned target = st.kills + PHASE_KILLS;

		if (target > kills)
			target = kills;
		while (st.kills < target) {
			if (LOAD(&hdr()->helper_pid) > 0)
				helper_index(LOAD(&hdr()->helper_pid), true);
			reap();
			poll_pending();
			t_msleep(2 + rnd(30));
			one_kill();
		}
		ok = phase_end();
	}
	st.lock_recovered = hdr()->lock_recoveries;
	/* Each death seen holding the table lock costs its next locker one
	 * EOWNERDEAD repair; deaths not seen (before the holder was written)
	 * may add more. */
	T_OK(st.lock_recovered >= st.tlock_holder + st.lock_held_kills,
	    "table lock recoveries %u >= %u deaths of its holders (%u clients, "
	    "%u wapictl lock)", st.lock_recovered, st.tlock_holder +
	    st.lock_held_kills, st.tlock_holder, st.lock_held_kills);

	/* The end: everyone leaves cleanly, then the file goes. */
	if (ok) {
		STORE(&S->quit, 1);
		STORE(&S->pause, 0);
		for (i = 0; i < nclients; i++)
			T_EQ(wait_bounded(S->c[i].pid), 0, "a client leaves cleanly");
		T_EQ(wait_bounded(keeper_pid), 0, "the keeper leaves cleanly");
		munmap(dmap, dlen);
		T_OK(t_until(file_gone, NULL, 15000), "after the last client, "
		    "the helper removes the state file");
	} else
		stop_everything();

	{
		uint64_t ab = S->k_abandoned, ops = 0, sp = 0, fe = 0, tl = 0,
		    tol = 0, lost, gone, files;
		long dups = spawn_verdict(&lost, &gone, &files);

		for (i = 0; i < nclients; i++) {
			ab += S->c[i].abandoned;
			ops += S->c[i].ops;
			sp += S->c[i].spawns;
			fe += S->c[i].fetches;
			tl += S->c[i].tlocks;
			tol += S->c[i].tolerated;
		}
		printf("# summary: kills survived %u (clients %u [in table lock "
		    "%u targeted, %u seen holding it; mutex owners %u targeted], "
		    "helpers %u [%u during a spawn or fetch, %u during a spawn], "
		    "wapictl lock %u); "
		    "phases %u; validate clean "
		    "%u/%u (core %u/%u); abandoned acquisitions %" PRIu64
		    " for %" PRIu64 " owner kills (+%" PRIu64 " ambiguous); "
		    "table lock recoveries %u; dead slots released %u (max %"
		    PRId64 " ms, %u over 1 s; of clients attached before a "
		    "helper kill: max %" PRId64 " ms, %u over 1 s); ops %" PRIu64
		    ", spawns %" PRIu64 " (duplicate runs %ld, lost exits %"
		    PRIu64 ", refused (WAPI_EGONE) after a helper kill %" PRIu64
		    ", command files %" PRIu64 ")"
		    ", fetches %" PRIu64 ", table lock holds %" PRIu64
		    ", tolerated after helper kills %" PRIu64
		    "; restarts %u, crashes %u, helper deaths not ours %u; "
		    "keeper fetches EGONE after a helper kill (known) %u; "
		    "attaches sent private by a helper kill (known bug) %u; "
		    "%.1f s\n",
		    st.kills, st.client_kills, st.tlock_target, st.tlock_holder,
		    st.mutex_target, st.helper_kills, st.helper_kills_busy,
		    st.helper_kills_spawn,
		    st.lock_kills, st.phases,
		    st.validate_ok, wapictl ? st.phases : 0, st.validate_core_ok,
		    st.phases, ab, st.mx_certain, st.mx_amb, st.lock_recovered,
		    st.released, st.release_max_ns / 1000000, st.release_over_1s,
		    st.release_stale_max_ns / 1000000, st.release_stale_over_1s,
		    ops, sp, dups, lost, gone, files, fe, tl, tol, st.restarts,
		    st.crashes, st.helper_deaths,
		    S->egone_known,
		    S->hello_resets,
		    (double)(wcore_now_mono_ns() - t0) / 1e9);
	}
	return t_done();
}
