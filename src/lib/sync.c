/*
 * Events, mutexes, semaphores and the waits on them (Win32 semantics).
 *
 * Fast paths are lock-free: each object's state is one word in its slot
 * changed with atomics (an event's signalled flag, a semaphore's count, a
 * mutex's lock word = owner thread + recursion), so set, release, an
 * uncontended acquire and a signalled wait are a few atomic instructions in
 * shared memory, with no lock and no system call.
 *
 * Sleeping: a waiter counts itself in the slot's waiters (and mwaiters for
 * a multi-object wait), reads the slot's futex word, tries once more and
 * sleeps on the word(s) (futex_waitv for several).  Every change that can
 * release a waiter bumps the word and, when someone waits, wakes: as many
 * as the change can satisfy when only single-object waiters watch, all of
 * them when a multi-object waiter does.  Waiter: waiters++, read word, look;
 * changer: change, word++, read waiters — sequentially consistent, so one of
 * the two always sees the other and no wake is lost.
 *
 * Wait-all holds the table lock and freezes the state word of each object
 * (WAPI_SYNC_FROZEN): lock-free operations that meet a frozen word wait for
 * the table lock and try again, so the wait-all looks at every object and
 * takes them all, or leaves them all unchanged, as one step.
 *
 * A pulse releases only the waiters present: each waiter keeps the event's
 * pulse_seq from its last look; one that finds it moved counts the event
 * as signalled once (auto reset: while pulse_tokens lasts).  A wait-all is
 * never released by a pulse: it cannot know that its other objects were
 * all free at that instant, and a stale pulse must not release it later.
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wapi-int.h"

#ifndef WL_SPIN
#define WL_SPIN 40	/* pause rounds before a single wait sleeps: about
			   1 us here; a longer spin outlasts a wake-up and
			   makes a ping-pong pay both */
#endif

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define CAS(p, o, n)	__atomic_compare_exchange_n((p), (o), (n), false, \
			    __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE)

struct wl_waiter {
	uint32_t idx;
	uint32_t futex;		/* value seen before sleeping */
	bool marked;		/* a mutex: we set WAPI_MUTEX_WAITERS once, so
				   take it with the bit (others may sleep) */
	uint32_t pulse_seq;	/* events: pulse generation at the start */
	uint32_t word;		/* wait-all: the frozen state word (32-bit) */
	uint64_t mword;		/* wait-all: a mutex's frozen lock word */
};

enum { TAKE_NO = 0, TAKE_OK, TAKE_ABANDONED };

/* wl_try: no object could be taken (not a wait result: those are >= 0). */
#define WL_NOTHING_TAKEN	(-1)

static pthread_key_t wl_owner_key;
static pthread_once_t wl_owner_once = PTHREAD_ONCE_INIT;

static void
wl_owner_thread_exit(void *arg)
{
	(void)arg;
	wl_sync_thread_exit();
}

static void
wl_owner_key_init(void)
{
	pthread_key_create(&wl_owner_key, wl_owner_thread_exit);
}

/*
 * How many mutexes this thread owns (first acquisitions less last
 * releases).  Its exit looks through every slot for mutexes to abandon
 * only when this is not 0.  Never too low: a count is added when the
 * thread takes a free mutex and taken off only when it frees one; one
 * whose slot went away under it keeps the count up (a scan for nothing).
 */
static __thread uint32_t wl_owned __attribute__((tls_model("initial-exec")));

void
wl_sync_after_fork(void)
{
	wl_owned = 0;	/* the child's thread owns none of the parent's */
}

/* This thread took a free mutex: count it, and have its exit abandon what
 * it still owns then. */
static void
wl_note_owner(void)
{
	static __thread bool noted __attribute__((tls_model("initial-exec")));

	wl_owned++;
	if (noted)
		return;
	pthread_once(&wl_owner_once, wl_owner_key_init);
	if (pthread_getspecific(wl_owner_key) == NULL)
		pthread_setspecific(wl_owner_key, (void *)1);
	noted = true;
}

/*
 * This thread's row in the process's sleep records (core.h): claimed at
 * its first sleep, given back when it exits.  -1: no row free (the sleep
 * goes unrecorded: a kill then leaves the count too high, never too low).
 */
static __thread int wl_row = -1;
static __thread uint32_t wl_row_gen;
static pthread_key_t wl_row_key;
static pthread_once_t wl_row_once = PTHREAD_ONCE_INIT;

static void
wl_row_exit(void *arg)
{
	(void)arg;
	if (wl_row >= 0 && wl_row_gen == wl.sleeps_gen && wl.sleeps != NULL)
		__atomic_fetch_and(&wl.sleeps->used, ~(1ull << wl_row),
		    __ATOMIC_SEQ_CST);
	wl_row = -1;
}

static void
wl_row_key_init(void)
{
	pthread_key_create(&wl_row_key, wl_row_exit);
}

static int
wl_sleep_row(void)
{
	struct wcore_sleeps *sl = wl.sleeps;
	uint64_t used;
	int b;

	if (sl == NULL)
		return -1;
	if (wl_row >= 0 && wl_row_gen == wl.sleeps_gen)
		return wl_row;
	used = __atomic_load_n(&sl->used, __ATOMIC_ACQUIRE);
	while (used != UINT64_MAX) {
		b = __builtin_ctzll(~used);
		if (__atomic_compare_exchange_n(&sl->used, &used,
		    used | (1ull << b), false, __ATOMIC_SEQ_CST,
		    __ATOMIC_ACQUIRE)) {
			wl_row = b;
			wl_row_gen = wl.sleeps_gen;
			pthread_once(&wl_row_once, wl_row_key_init);
			pthread_setspecific(wl_row_key, (void *)1);
			return b;
		}
	}
	return -1;
}

/*
 * A 64-bit word of two 32-bit fields: lo at the lower address (owner_tid,
 * count), hi after it (recursion, max).  Built with shifts, not through a
 * union in memory: two 32-bit stores read back as one 64-bit load cannot
 * be forwarded and stall the hot paths for a dozen cycles.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PAIR(lo, hi)	((uint64_t)(uint32_t)(hi) << 32 | (uint32_t)(lo))
#define PAIR_LO(w)	((uint32_t)(w))
#define PAIR_HI(w)	((uint32_t)((w) >> 32))
#else
#define PAIR(lo, hi)	((uint64_t)(uint32_t)(lo) << 32 | (uint32_t)(hi))
#define PAIR_LO(w)	((uint32_t)((w) >> 32))
#define PAIR_HI(w)	((uint32_t)(w))
#endif
_Static_assert(offsetof(struct wapi_handle_entry, u.mutex.recursion) ==
    offsetof(struct wapi_handle_entry, u.mutex.owner_tid) + 4 &&
    offsetof(struct wapi_handle_entry, u.sem.max) ==
    offsetof(struct wapi_handle_entry, u.sem.count) + 4, "word halves");

static inline uint64_t
mutex_word(int32_t tid, uint32_t recursion)
{
	return PAIR(tid, recursion);
}

/* The owner half as stored: thread id | WAPI_MUTEX_WAITERS. */
static inline int32_t
word_owner(uint64_t w)
{
	return (int32_t)PAIR_LO(w);
}

static inline int32_t
word_tid(uint64_t w)
{
	return word_owner(w) & (int32_t)~WAPI_MUTEX_WAITERS;
}

static inline uint32_t
word_recursion(uint64_t w)
{
	return PAIR_HI(w);
}

#define FROZEN		WAPI_SYNC_FROZEN
#define MFROZEN		mutex_word(0, FROZEN)
#define MWAITERS	((int32_t)WAPI_MUTEX_WAITERS)


/* A semaphore's 64-bit word from its count and maximum half. */
static inline uint64_t
sem_pack(uint32_t count, uint32_t maxhalf)
{
	return PAIR(count, maxhalf);
}

static inline uint32_t
sem_count(uint64_t w)
{
	return PAIR_LO(w);
}

static inline uint32_t
sem_maxhalf(uint64_t w)
{
	return PAIR_HI(w);
}

#define SWAITERS	WAPI_SEM_WAITERS

static uint32_t *
sem_word(struct wapi_handle_entry *e)
{
	/* The count is never negative: its sign bit is the frozen bit. */
	return (uint32_t *)&e->u.sem.count;
}

/* The word a waiter for e sleeps on: the object's own state word, which
 * changes only when the object does (for a mutex, the owner half of its
 * lock word), or the slot's futex word for a process. */
static uint32_t *
state_word(struct wapi_handle_entry *e)
{
	switch (e->type) {
	case WAPI_T_EVENT:
		return &e->u.event.signalled;
	case WAPI_T_SEMAPHORE:
		return sem_word(e);
	case WAPI_T_MUTEX:
		return (uint32_t *)&e->u.mutex.owner_tid;
	default:
		return &e->futex;
	}
}

/* The word a single-object waiter sleeps on: the state word, except for
 * a semaphore, whose single waiters sleep on the maximum half, where the
 * waiters bit is (see wl_mark). */
static uint32_t *
single_word(struct wapi_handle_entry *e)
{
	if (e->type == WAPI_T_SEMAPHORE)
		return (uint32_t *)&e->u.sem.max;
	return state_word(e);
}

/* After a change to slot e that may release n waiters (INT32_MAX: all).
 * The change itself was a sequentially consistent write of the state
 * word, so either a waiter sees it or we see the waiter. */
static void
wl_wake(struct wapi_handle_entry *e, int n)
{
	if (__atomic_load_n(&e->waiters, __ATOMIC_SEQ_CST) == 0)
		return;
	if (LOAD(&e->mwaiters) != 0)
		n = INT32_MAX;
	wcore_futex_wake(state_word(e), n);
}

/*
 * A wait-all has e frozen: wait for it (it holds the table lock) and let
 * the caller look again.  A freeze still there once we hold the lock has
 * no wait-all behind it (one always thaws before it unlocks, and the
 * repair thaws for one that died): a stray bit written into the file,
 * taken off here so that no operation spins on it.
 */
static void
wl_thaw_wait(struct wapi_handle_entry *e)
{
	bool stray;

	wl_lock();
	stray = wcore_thaw(e);
	if (stray) {
		e->changed = wcore_now_ns();
		wcore_handle_changed(e);
	}
	wl_unlock();
	if (stray) {
		wl_wake(e, INT32_MAX);
		wl_message(WAPI_MSG_WARNING, "%s: a stray freeze on the state "
		    "of %s %s (no wait-all held it) was taken off", wl.path,
		    e->type == WAPI_T_EVENT ? "an" : "a",
		    wcore_type_name(e->type));
	}
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

#if WL_SPIN > 0
/* Read-only: does e look free now?  (Spinning reads, never writes, so
 * that spinners do not bounce the cache line the owner writes.) */
static bool
wl_looks_free(struct wapi_handle_entry *e)
{
	uint32_t v = LOAD(state_word(e));

	switch (e->type) {
	case WAPI_T_EVENT:
	case WAPI_T_SEMAPHORE:
		return v != 0 && !(v & FROZEN);
	case WAPI_T_MUTEX:
		return v == 0;
	default:
		return (LOAD(&e->flags) & WAPI_HF_EXITED) != 0;
	}
}
#endif


void
wl_sync_thread_exit(void)
{
	struct wapi_header *h;
	struct wapi_handle_entry *e;
	pid_t tid = wcore_gettid();
	uint32_t i;

	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_NONE ||
	    wl_owned == 0)
		return;
	wl_owned = 0;
	wl_lock();
	h = wl.map;
	for (i = 0; i < h->handle_hwm; i++) {
		e = WL_H(i);
		if (e->type != WAPI_T_MUTEX || e->u.mutex.owner_pid != wl.pid ||
		    word_tid(LOAD(&e->u.mutex.lockword)) != tid)
			continue;
		wcore_mutex_abandon(e);
		wl_wake(e, INT32_MAX);
	}
	wl_unlock();
}

/*
 * Before this client first takes a mutex, it says so in its client entry:
 * the release of its slot (at detach, or by the helper after its death)
 * then looks for mutexes to abandon, which means reading every slot; a
 * client that never took one is released without that scan.  Set before
 * the first ownership, so that a death in between errs on the safe side.
 */
static void
wl_note_mutexes(void)
{
	if (__atomic_load_n(&wl.cf_mutexes, __ATOMIC_RELAXED))
		return;
	__atomic_fetch_or(&WCORE_CLIENTS(wl.map)[wl.slot].cflags,
	    WAPI_CF_MUTEXES, __ATOMIC_SEQ_CST);
	__atomic_store_n(&wl.cf_mutexes, true, __ATOMIC_RELAXED);
}

/* Take mutex e if free or ours; marked: with WAPI_MUTEX_WAITERS set, as a
 * waiter that has slept must (others may still sleep behind it). */
static int
wl_take_mutex(struct wapi_handle_entry *e, bool marked)
{
	pid_t tid = wcore_gettid();
	uint64_t cur;

	wl_note_mutexes();

	for (;;) {
		cur = LOAD(&e->u.mutex.lockword);
		if (cur & MFROZEN) {
			wl_thaw_wait(e);
			continue;
		}
		if (cur != 0) {
			if (word_tid(cur) != tid || e->u.mutex.owner_pid != wl.pid ||
			    word_recursion(cur) + 1 >= FROZEN)
				return TAKE_NO;
			if (CAS(&e->u.mutex.lockword, &cur, mutex_word(
			    word_owner(cur), word_recursion(cur) + 1)))
				return TAKE_OK;
			continue;
		}
		if (CAS(&e->u.mutex.lockword, &cur, mutex_word(marked ?
		    tid | MWAITERS : tid, 1)))
			break;
	}
	e->u.mutex.owner_pid = wl.pid;
	e->u.mutex.owner_client = wl.slot + 1;
	e->u.mutex.owner_start = wl.start;
	e->u.mutex.owned_since = wcore_now_ns();	/* coarse: cheap */
	wl_note_owner();
	if ((LOAD(&e->flags) & WAPI_HF_ABANDONED) &&
	    (__atomic_fetch_and(&e->flags, (uint8_t)~WAPI_HF_ABANDONED,
	    __ATOMIC_SEQ_CST) & WAPI_HF_ABANDONED))
		return TAKE_ABANDONED;
	return TAKE_OK;
}

/* Take one of semaphore e's count; marked as in wl_take_mutex.  A marked
 * taker that leaves a count behind wakes one more sleeper: the release
 * that woke us cleared the waiters bit, and may have raised the count for
 * others who still sleep. */
static int
wl_take_sem(struct wapi_handle_entry *e, bool marked)
{
	uint64_t cur;
	uint32_t c, hi;

	for (;;) {
		cur = LOAD(&e->u.sem.semword);
		c = sem_count(cur);
		if (c & FROZEN) {
			wl_thaw_wait(e);
			continue;
		}
		if (c == 0)
			return TAKE_NO;
		hi = sem_maxhalf(cur) | (marked ? SWAITERS : 0);
		if (CAS(&e->u.sem.semword, &cur, sem_pack(c - 1, hi)))
			break;
	}
	if (marked && c > 1)
		wcore_futex_wake(single_word(e), 1);
	return TAKE_OK;
}

/* An auto-reset event released by a pulse: take one of its tokens. */
static int
wl_take_pulse(struct wapi_handle_entry *e, const struct wl_waiter *w)
{
	uint32_t tok;

	if (w == NULL || LOAD(&e->u.event.pulse_seq) == w->pulse_seq)
		return TAKE_NO;
	if (e->flags & WAPI_HF_MANUAL_RESET)
		return TAKE_OK;
	tok = LOAD(&e->u.event.pulse_tokens);
	while (tok > 0)
		if (CAS(&e->u.event.pulse_tokens, &tok, tok - 1))
			return TAKE_OK;
	return TAKE_NO;
}

/* Take e if it can be taken now: TAKE_NO, TAKE_OK or TAKE_ABANDONED. */
static int
wl_take(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	uint32_t v;

	switch (e->type) {
	case WAPI_T_EVENT:
		for (;;) {
			v = LOAD(&e->u.event.signalled);
			if (v & FROZEN) {
				wl_thaw_wait(e);
				continue;
			}
			if (v == 0)
				return wl_take_pulse(e, w);
			if ((e->flags & WAPI_HF_MANUAL_RESET) ||
			    CAS(&e->u.event.signalled, &v, 0))
				return TAKE_OK;
		}
	case WAPI_T_SEMAPHORE:
		return wl_take_sem(e, w != NULL && w->marked);
	case WAPI_T_MUTEX:
		return wl_take_mutex(e, w != NULL && w->marked);
	case WAPI_T_PROCESS:
		return (LOAD(&e->flags) & WAPI_HF_EXITED) ? TAKE_OK : TAKE_NO;
	default:
		return TAKE_NO;
	}
}

/* Wait-all, under the table lock: freeze e's state word and say whether
 * the caller could take it. */
static bool
wl_freeze(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	uint64_t m;

	switch (e->type) {
	case WAPI_T_EVENT:
		/* Pulses do not count here: whether the other objects were
		 * all free at the instant of a pulse is not known once we
		 * run, and a stale pulse must not release us later. */
		w->word = __atomic_fetch_or(&e->u.event.signalled, FROZEN,
		    __ATOMIC_SEQ_CST);
		return w->word != 0;
	case WAPI_T_SEMAPHORE:
		w->word = __atomic_fetch_or(sem_word(e), FROZEN, __ATOMIC_SEQ_CST);
		return w->word > 0;
	case WAPI_T_MUTEX:
		wl_note_mutexes();
		m = __atomic_fetch_or(&e->u.mutex.lockword, MFROZEN,
		    __ATOMIC_SEQ_CST);
		w->mword = m;
		return m == 0 || (word_tid(m) == wcore_gettid() &&
		    e->u.mutex.owner_pid == wl.pid &&
		    word_recursion(m) + 1 < FROZEN);
	case WAPI_T_PROCESS:
		return (LOAD(&e->flags) & WAPI_HF_EXITED) != 0;
	default:
		return false;
	}
}

/* Unfreeze e, taking it (take) or leaving it as it was.  Returns
 * TAKE_ABANDONED for an abandoned mutex it took. */
static int
wl_thaw(struct wapi_handle_entry *e, struct wl_waiter *w, bool take)
{
	int r = TAKE_OK;

	switch (e->type) {
	case WAPI_T_EVENT:
		STORE(&e->u.event.signalled, take && w->word != 0 &&
		    !(e->flags & WAPI_HF_MANUAL_RESET) ? 0 : w->word);
		break;
	case WAPI_T_SEMAPHORE:
		STORE(sem_word(e), take ? w->word - 1 : w->word);
		break;
	case WAPI_T_MUTEX:
		if (!take) {
			STORE(&e->u.mutex.lockword, w->mword);
			break;
		}
		if (w->mword != 0) {
			/* Ours already: keep a sleeper's waiters bit. */
			STORE(&e->u.mutex.lockword, mutex_word(
			    word_owner(w->mword), word_recursion(w->mword) + 1));
			break;
		}
		e->u.mutex.owner_pid = wl.pid;
		e->u.mutex.owner_client = wl.slot + 1;
		e->u.mutex.owner_start = wl.start;
		e->u.mutex.owned_since = wcore_now_ns();	/* coarse: cheap */
		wl_note_owner();
		if (__atomic_fetch_and(&e->flags, (uint8_t)~WAPI_HF_ABANDONED,
		    __ATOMIC_SEQ_CST) & WAPI_HF_ABANDONED)
			r = TAKE_ABANDONED;
		STORE(&e->u.mutex.lockword, mutex_word(wcore_gettid(), 1));
		break;
	default:
		break;
	}
	return r;
}

/* ------------------------------------------------------------ creation */

static int
wl_create(unsigned type, const char *name, wapi_handle_t *out,
	  void (*init)(struct wapi_handle_entry *, const void *), const void *arg)
{
	struct wl_name n;
	uint32_t idx;
	bool existed;
	int r;

	if (out == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	if (name != NULL && wl_name_prepare(name, &n) != 0)
		return wl_ret(WAPI_EINVAL);
	wl_lock();
	r = wl_handle_new(type, name != NULL ? &n : NULL, &idx, &existed);
	if (r == 0 && !existed)
		init(WL_H(idx), arg);
	if (r == 0)
		*out = wl_number(idx);
	wl_unlock();
	if (r == 0 && existed)
		return wl_last_error = WAPI_EALREADY_EXISTS, 0;
	return wl_ret(r);
}

static int
wl_open(unsigned type, const char *name, wapi_handle_t *out)
{
	struct wl_name n;
	uint32_t idx;
	int r;

	if (out == NULL || name == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	if (wl_name_prepare(name, &n) != 0)
		return wl_ret(WAPI_EINVAL);
	wl_lock();
	r = wl_handle_open_name(type, &n, &idx);
	if (r == 0)
		*out = wl_number(idx);
	wl_unlock();
	return wl_ret(r);
}

/* The slot of a handle of ours of the given type, without a lock. */
static struct wapi_handle_entry *
wl_obj(wapi_handle_t h, unsigned type, int *err)
{
	struct wapi_handle_entry *e;
	int64_t i;

	wl_ensure();
	if ((i = wl_slot_use(h, err)) < 0)
		return NULL;
	e = WL_H(i);
	if (e->type != type) {
		*err = WAPI_ETYPE;
		return NULL;
	}
	return e;
}

struct wl_event_arg { int manual, initial; };

static void
wl_event_init(struct wapi_handle_entry *e, const void *p)
{
	const struct wl_event_arg *a = p;

	if (a->manual)
		e->flags |= WAPI_HF_MANUAL_RESET;
	e->u.event.signalled = a->initial != 0;
}

int
wapi_event_create(const char *name, int manual_reset, int initial_state,
		  wapi_handle_t *out)
{
	struct wl_event_arg a = { manual_reset, initial_state };

	return wl_create(WAPI_T_EVENT, name, out, wl_event_init, &a);
}

int
wapi_event_open(const char *name, wapi_handle_t *out)
{
	return wl_open(WAPI_T_EVENT, name, out);
}

/* Change an event's signalled word to v, respecting a wait-all's freeze;
 * returns the old value. */
static uint32_t
wl_event_store(struct wapi_handle_entry *e, uint32_t v)
{
	uint32_t cur = LOAD(&e->u.event.signalled);

	for (;;) {
		if (cur & FROZEN) {
			wl_thaw_wait(e);
			cur = LOAD(&e->u.event.signalled);
			continue;
		}
		if (cur == v || CAS(&e->u.event.signalled, &cur, v))
			return cur;
	}
}

int
wapi_event_set(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_EVENT, &r)) == NULL)
		return wl_ret(r);
	if (wl_event_store(e, 1) == 0)
		wl_wake(e, (e->flags & WAPI_HF_MANUAL_RESET) ? INT32_MAX : 1);
	return wl_ret(0);
}

int
wapi_event_reset(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_EVENT, &r)) == NULL)
		return wl_ret(r);
	wl_event_store(e, 0);
	return wl_ret(0);
}

int
wapi_event_pulse(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_EVENT, &r)) == NULL)
		return wl_ret(r);
	wl_event_store(e, 0);
	if (__atomic_load_n(&e->waiters, __ATOMIC_SEQ_CST) != 0) {
		STORE(&e->u.event.pulse_tokens, 1);
		__atomic_add_fetch(&e->u.event.pulse_seq, 1, __ATOMIC_SEQ_CST);
		wl_wake(e, (e->flags & WAPI_HF_MANUAL_RESET) ? INT32_MAX : 1);
	}
	return wl_ret(0);
}

struct wl_mutex_arg { int owned; };

static void
wl_mutex_init(struct wapi_handle_entry *e, const void *p)
{
	const struct wl_mutex_arg *a = p;

	if (a->owned)
		wl_take_mutex(e, false);
}

int
wapi_mutex_create(const char *name, int initially_owned, wapi_handle_t *out)
{
	struct wl_mutex_arg a = { initially_owned };

	return wl_create(WAPI_T_MUTEX, name, out, wl_mutex_init, &a);
}

int
wapi_mutex_open(const char *name, wapi_handle_t *out)
{
	return wl_open(WAPI_T_MUTEX, name, out);
}

int
wapi_mutex_release(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	uint64_t cur;
	uint32_t client;
	uint64_t start;
	int64_t since;
	pid_t tid;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_MUTEX, &r)) == NULL)
		return wl_ret(r);
	tid = wcore_gettid();
	for (;;) {
		cur = LOAD(&e->u.mutex.lockword);
		if (cur & MFROZEN) {
			wl_thaw_wait(e);
			continue;
		}
		if (cur == 0 || word_tid(cur) != tid ||
		    e->u.mutex.owner_pid != wl.pid)
			return wl_ret(WAPI_ENOT_OWNER);
		if (word_recursion(cur) > 1) {
			if (CAS(&e->u.mutex.lockword, &cur, mutex_word(
			    word_owner(cur), word_recursion(cur) - 1)))
				return wl_ret(0);
			continue;
		}
		/* The owner fields go before the word frees the mutex, and
		 * come back if a wait-all froze it meanwhile. */
		client = e->u.mutex.owner_client;
		start = e->u.mutex.owner_start;
		since = e->u.mutex.owned_since;
		e->u.mutex.owner_pid = 0;
		e->u.mutex.owner_client = 0;
		e->u.mutex.owner_start = 0;
		e->u.mutex.owned_since = 0;
		if (CAS(&e->u.mutex.lockword, &cur, 0)) {
			if (wl_owned > 0)
				wl_owned--;
			break;
		}
		e->u.mutex.owner_pid = wl.pid;
		e->u.mutex.owner_client = client;
		e->u.mutex.owner_start = start;
		e->u.mutex.owned_since = since;
	}
	/* Single waiters marked the word before sleeping; multi-object
	 * waiters count themselves in mwaiters (see wl_mark). */
	if (__atomic_load_n(&e->mwaiters, __ATOMIC_SEQ_CST) != 0)
		wcore_futex_wake(state_word(e), INT32_MAX);
	else if (word_owner(cur) & MWAITERS)
		wcore_futex_wake(state_word(e), 1);
	return wl_ret(0);
}

struct wl_sem_arg { int32_t initial, max; };

static void
wl_sem_init(struct wapi_handle_entry *e, const void *p)
{
	const struct wl_sem_arg *a = p;

	e->u.sem.count = a->initial;
	e->u.sem.max = a->max;
}

int
wapi_semaphore_create(const char *name, int32_t initial, int32_t maximum,
		      wapi_handle_t *out)
{
	struct wl_sem_arg a = { initial, maximum };

	if (maximum < 1 || initial < 0 || initial > maximum)
		return wl_ret(WAPI_EINVAL);
	return wl_create(WAPI_T_SEMAPHORE, name, out, wl_sem_init, &a);
}

int
wapi_semaphore_open(const char *name, wapi_handle_t *out)
{
	return wl_open(WAPI_T_SEMAPHORE, name, out);
}

int
wapi_semaphore_release(wapi_handle_t h, int32_t count, int32_t *previous)
{
	struct wapi_handle_entry *e;
	uint64_t cur;
	uint32_t c, hi;
	int r = 0;

	if (count < 1)
		return wl_ret(WAPI_EINVAL);
	if ((e = wl_obj(h, WAPI_T_SEMAPHORE, &r)) == NULL)
		return wl_ret(r);
	cur = LOAD(&e->u.sem.semword);
	for (;;) {
		c = sem_count(cur);
		hi = sem_maxhalf(cur);
		if (c & FROZEN) {
			wl_thaw_wait(e);
			cur = LOAD(&e->u.sem.semword);
			continue;
		}
		if ((int64_t)count > (int64_t)(hi & ~SWAITERS) - c)
			return wl_ret(WAPI_ETOO_MANY_POSTS);
		if (CAS(&e->u.sem.semword, &cur, sem_pack(c + (uint32_t)count,
		    hi & ~SWAITERS)))
			break;
	}
	if (previous != NULL)
		*previous = (int32_t)c;
	/* As for a mutex: single waiters set the bit (and sleep on the
	 * maximum half), multi-object waiters count themselves in mwaiters
	 * (and sleep on the count). */
	if (hi & SWAITERS)
		wcore_futex_wake(single_word(e), count);
	if (__atomic_load_n(&e->mwaiters, __ATOMIC_SEQ_CST) != 0)
		wcore_futex_wake(sem_word(e), INT32_MAX);
	return wl_ret(0);
}

/* ---------------------------------------------------------------- waits */

/*
 * A single waiter for a held mutex, or for a semaphore whose count is 0,
 * sets the object's waiters bit (WAPI_MUTEX_WAITERS in the owner half,
 * WAPI_SEM_WAITERS in the maximum half) before it sleeps on the state word:
 * the release that frees the object sees the bit, clears it and wakes, and
 * a woken waiter takes the object with the bit set again (w->marked),
 * since others may still sleep.  A release that finds no bit makes no
 * system call, so a running thread that takes and releases again and
 * again does not pay a wake each time for sleepers already woken.  (The
 * counter in e->waiters stays, for the helper's records and for
 * abandonment, which wakes everyone.)  Returns false when the object is
 * free or frozen: look again, never sleep then, nobody would wake us.
 */
static bool
wl_mark(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	uint64_t cur;

	if (e->type == WAPI_T_SEMAPHORE) {
		cur = __atomic_load_n(&e->u.sem.semword, __ATOMIC_SEQ_CST);
		for (;;) {
			if (sem_count(cur) != 0)
				return false;
			if ((sem_maxhalf(cur) & SWAITERS) || CAS(
			    &e->u.sem.semword, &cur, sem_pack(0,
			    sem_maxhalf(cur) | SWAITERS)))
				break;
		}
		/* Not the count: it may go up and back to 0 before we
		 * sleep, but a release clears the bit. */
		w->futex = sem_maxhalf(cur) | SWAITERS;
	} else {
		cur = __atomic_load_n(&e->u.mutex.lockword, __ATOMIC_SEQ_CST);
		for (;;) {
			if (cur == 0 || (cur & MFROZEN))
				return false;
			if ((word_owner(cur) & MWAITERS) || CAS(
			    &e->u.mutex.lockword, &cur, mutex_word(
			    word_owner(cur) | MWAITERS, word_recursion(cur))))
				break;
		}
		w->futex = (uint32_t)(word_owner(cur) | MWAITERS);
	}
	w->marked = true;
	return true;
}

static int
wl_sleep(struct wl_waiter *w, size_t n, int64_t deadline)
{
	struct futex_waitv fw[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct timespec ts;
	size_t k;
	long r;

	if (n == 1)
		return wcore_futex_wait(single_word(WL_H(w[0].idx)), w[0].futex,
		    deadline);
	memset(fw, 0, sizeof(fw));
	for (k = 0; k < n; k++) {
		fw[k].uaddr = (uintptr_t)state_word(WL_H(w[k].idx));
		fw[k].val = w[k].futex;
		fw[k].flags = FUTEX_32;	/* not private: other processes */
	}
	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000LL;
		ts.tv_nsec = deadline % 1000000000LL;
	}
	r = syscall(SYS_futex_waitv, fw, (unsigned)n, 0,
	    deadline >= 0 ? &ts : NULL, CLOCK_MONOTONIC);
	if (r >= 0)
		return 0;
	if (errno == ENOSYS) {
		/* Before Linux 5.16: sleep on the first object and look at
		 * the others at least every millisecond. */
		int64_t soon = wcore_now_mono_ns() + 1000000;

		if (deadline >= 0 && deadline < soon)
			soon = deadline;
		r = wcore_futex_wait(state_word(WL_H(w[0].idx)), w[0].futex,
		    soon);
		return r == ETIMEDOUT && (deadline < 0 || soon < deadline) ?
		    0 : (int)r;
	}
	return errno;
}

/* Wait-all: take every object or none, as one step (see the top). */
static int
wl_take_all(struct wl_waiter *w, size_t n)
{
	size_t k;
	bool all = true;
	int first_ab = -1;

	wl_lock();
	for (k = 0; k < n; k++)
		if (!wl_freeze(WL_H(w[k].idx), &w[k]))
			all = false;
	for (k = 0; k < n; k++)
		if (wl_thaw(WL_H(w[k].idx), &w[k], all) == TAKE_ABANDONED &&
		    first_ab < 0)
			first_ab = (int)k;
	wl_unlock();
	if (!all)
		return WL_NOTHING_TAKEN;
	return first_ab >= 0 ? WAPI_WAIT_ABANDONED_0 + first_ab :
	    WAPI_WAIT_OBJECT_0;
}

static int
wl_try(struct wl_waiter *w, size_t n, int wait_all)
{
	size_t k;
	int t;

	if (wait_all)
		return wl_take_all(w, n);
	for (k = 0; k < n; k++) {
		t = wl_take(WL_H(w[k].idx), &w[k]);
		if (t != TAKE_NO)
			return (t == TAKE_ABANDONED ? WAPI_WAIT_ABANDONED_0 :
			    WAPI_WAIT_OBJECT_0) + (int)k;
	}
	return WL_NOTHING_TAKEN;
}

/* The waiters for handles hs[0..n): their slots (adopting numbers on
 * first use) and the pulses seen so far.  0, or WAPI_EBADHANDLE,
 * WAPI_EFULL, WAPI_ETYPE (not waitable), WAPI_EINVAL (a duplicate in a
 * wait-all). */
static int
wl_waiters_init(const wapi_handle_t *hs, size_t n, int wait_all,
		struct wl_waiter *w)
{
	struct wapi_handle_entry *e;
	int64_t slot;
	size_t k, j;
	int err;

	for (k = 0; k < n; k++) {
		slot = wl_slot_use(hs[k], &err);
		if (slot < 0)
			return err;
		w[k].idx = (uint32_t)slot;
		w[k].marked = false;
		e = WL_H(slot);
		if (e->type != WAPI_T_EVENT && e->type != WAPI_T_MUTEX &&
		    e->type != WAPI_T_SEMAPHORE && e->type != WAPI_T_PROCESS)
			return WAPI_ETYPE;
		w[k].pulse_seq = LOAD(&e->u.event.pulse_seq);
		if (wait_all)
			for (j = 0; j < k; j++)
				if (w[j].idx == w[k].idx)
					return WAPI_EINVAL;
	}
	return 0;
}

/*
 * The sleeping part of a wait, up to deadline (-1: none); marks: a single
 * mutex or semaphore, whose waiter sets its waiters bit (wl_mark).  The
 * wait result, or WL_NOTHING_TAKEN at the deadline or, with *closed, when
 * another thread closed one of the handles meanwhile.
 */
static int
wl_sleep_wait(const wapi_handle_t *hs, struct wl_waiter *w, size_t n,
	      int wait_all, int64_t deadline, bool marks, bool *closed)
{
	uint32_t seq[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct wapi_handle_entry *e;
	size_t k;
	int got, row;
	bool timed_out = false, sleep;

	/*
	 * Counted in (and recorded for the helper) for the whole sleeping
	 * part, so that a thread killed anywhere in it, even just woken,
	 * is counted out and its objects' sleepers woken by the helper (a
	 * wake it took must not be lost with it).
	 */
	row = wl_sleep_row();
	for (k = 0; k < n; k++) {
		e = WL_H(w[k].idx);
		__atomic_add_fetch(&e->waiters, 1, __ATOMIC_SEQ_CST);
		if (n > 1)
			__atomic_add_fetch(&e->mwaiters, 1, __ATOMIC_SEQ_CST);
		/* Recorded after counting, so a kill leaves at most a
		 * count too high for the helper to leave alone. */
		if (row >= 0)
			STORE(&wl.sleeps->rows[row][k], (w[k].idx + 1) |
			    (n > 1 ? WCORE_SLEEP_MULTI : 0));
	}
	for (;;) {
		sleep = true;
		for (k = 0; k < n; k++) {
			e = WL_H(w[k].idx);
			if (marks)
				sleep = wl_mark(e, &w[k]);
			else
				w[k].futex = __atomic_load_n(state_word(e),
				    __ATOMIC_SEQ_CST);
		}
		/* A pulse that could not release us now is gone for us. */
		for (k = 0; k < n; k++)
			seq[k] = LOAD(&WL_H(w[k].idx)->u.event.pulse_seq);
		got = wl_try(w, n, wait_all);
		if (got != WL_NOTHING_TAKEN || timed_out)
			break;
		for (k = 0; k < n; k++)
			w[k].pulse_seq = seq[k];
		if (sleep ? wl_sleep(w, n, deadline) == ETIMEDOUT :
		    deadline >= 0 && wcore_now_mono_ns() >= deadline)
			timed_out = true;	/* one last look, then give up */
		/* The objects may have been closed by another thread. */
		for (k = 0; k < n && !*closed; k++)
			*closed = wl_slot_of(hs[k]) != (int64_t)w[k].idx;
		if (*closed) {
			/* We may have taken a wake meant for the next
			 * sleeper: pass it on. */
			if (n == 1)
				wcore_futex_wake(single_word(WL_H(w[0].idx)),
				    1);
			break;
		}
	}
	for (k = 0; k < n; k++) {
		e = WL_H(w[k].idx);
		if (row >= 0)
			__atomic_store_n(&wl.sleeps->rows[row][k], 0,
			    __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&e->waiters, 1, __ATOMIC_SEQ_CST);
		if (n > 1)
			__atomic_sub_fetch(&e->mwaiters, 1, __ATOMIC_SEQ_CST);
	}
	return got;
}

/*
 * This thread's wait record (format.h), written just before its first
 * sleep of a wait: only a wait that sleeps pays for it.  NULL when there
 * is none to write: private mode (no sleep records, nobody to read them),
 * or no record for our sleep row, which then counts in the client's
 * waits_unrecorded (*unrecorded set) until wl_record_end.
 */
static struct wapi_wait_record *
wl_record_begin(const struct wl_waiter *w, size_t n, int wait_all,
		uint32_t timeout_ms, bool *unrecorded)
{
	struct wapi_wait_record *r;
	uint32_t idx[WAPI_WAIT_HANDLES], k;
	int row;

	*unrecorded = false;
	if (wl.sleeps == NULL)
		return NULL;
	row = wl_sleep_row();
	if (row < 0 || (unsigned)row >= WAPI_WAIT_RECORDS) {
		__atomic_add_fetch(&WCORE_CLIENTS(wl.map)[wl.slot].
		    waits_unrecorded, 1, __ATOMIC_SEQ_CST);
		*unrecorded = true;
		return NULL;
	}
	r = &WCORE_WAIT_BLOCK(wl.map, wl.slot)[row];
	for (k = 0; k < WAPI_WAIT_HANDLES && k < n; k++)
		idx[k] = w[k].idx;
	wcore_wait_begin(r, wcore_gettid(), wait_all != 0, (uint32_t)n,
	    timeout_ms, idx);
	return r;
}

/* The sleeping is over: the record empty again (or the count down). */
static void
wl_record_end(struct wapi_wait_record *r, bool unrecorded)
{
	if (unrecorded)
		__atomic_sub_fetch(&WCORE_CLIENTS(wl.map)[wl.slot].
		    waits_unrecorded, 1, __ATOMIC_SEQ_CST);
	if (r != NULL)
		wcore_wait_end(r);
}

static int
wl_wait(const wapi_handle_t *hs, size_t n, int wait_all, uint32_t timeout_ms)
{
	struct wl_waiter w[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct wapi_handle_entry *e;
	struct wapi_wait_record *rec;
	int64_t deadline = -1;
	int got, err;
	bool closed = false, marks, unrec;
#if WL_SPIN > 0
	size_t k;
#endif

	if (hs == NULL || n == 0 || n > WAPI_MAXIMUM_WAIT_OBJECTS) {
		wl_last_error = WAPI_EINVAL;
		return WAPI_WAIT_FAILED;
	}
	wl_ensure();
	if ((err = wl_waiters_init(hs, n, wait_all, w)) != 0) {
		wl_last_error = err;
		return WAPI_WAIT_FAILED;
	}
	if ((got = wl_try(w, n, wait_all)) != WL_NOTHING_TAKEN)
		goto done;
	if (timeout_ms == 0)
		goto timeout;
	if (timeout_ms != WAPI_INFINITE)
		deadline = wcore_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	e = WL_H(w[0].idx);
	marks = n == 1 && (e->type == WAPI_T_MUTEX ||
	    e->type == WAPI_T_SEMAPHORE);
#if WL_SPIN > 0
	if (marks) {
		/* A lock's owner may be about to let go: a short read-only
		 * spin costs less than a sleep and a wake.  (An event or a
		 * process changes when other work is done: spinning there
		 * only delays the sleep.) */
		for (k = 0; k < WL_SPIN; k++) {
			cpu_relax();
			if (wl_looks_free(e) &&
			    (got = wl_try(w, 1, 0)) != WL_NOTHING_TAKEN)
				goto done;
		}
	}
#endif
	rec = wl_record_begin(w, n, wait_all, timeout_ms, &unrec);
	got = wl_sleep_wait(hs, w, n, wait_all, deadline, marks, &closed);
	wl_record_end(rec, unrec);
	if (closed) {
		wl_last_error = WAPI_EBADHANDLE;
		return WAPI_WAIT_FAILED;
	}
	if (got == WL_NOTHING_TAKEN)
		goto timeout;
done:
	wl_last_error = 0;
	return got;
timeout:
	wl_last_error = 0;
	return WAPI_WAIT_TIMEOUT;
}

int
wapi_wait(wapi_handle_t h, uint32_t timeout_ms)
{
	return wl_wait(&h, 1, 0, timeout_ms);
}

int
wapi_wait_multiple(const wapi_handle_t *hs, size_t n, int wait_all,
		   uint32_t timeout_ms)
{
	return wl_wait(hs, n, wait_all, timeout_ms);
}
