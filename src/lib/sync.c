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
 * Wait-all takes the objects one by one and puts back what it took when one
 * is gone, under the table lock so that two wait-alls never undo each other
 * forever.  A pulse releases only the waiters present: each waiter keeps the
 * event's pulse_seq from the start of its wait; one that finds it moved
 * counts the event as signalled once (auto reset: while pulse_tokens lasts).
 */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wapi-int.h"

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
	uint32_t pulse_seq;	/* events: pulse generation at the start */
	int taken;		/* wait-all: 0, 1 taken, 2 taken abandoned */
	uint64_t prev_word;	/* wait-all: a mutex's word before we took it */
};

enum { TAKE_NO = 0, TAKE_OK, TAKE_ABANDONED };

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

/* Remember that this thread owns mutexes: its exit abandons them. */
static void
wl_note_owner(void)
{
	pthread_once(&wl_owner_once, wl_owner_key_init);
	if (pthread_getspecific(wl_owner_key) == NULL)
		pthread_setspecific(wl_owner_key, (void *)1);
}

static uint64_t
mutex_word(int32_t tid, uint32_t recursion)
{
	struct wapi_handle_entry e;

	e.u.mutex.owner_tid = tid;
	e.u.mutex.recursion = recursion;
	return e.u.mutex.lockword;
}

static int32_t
word_tid(uint64_t w)
{
	struct wapi_handle_entry e;

	e.u.mutex.lockword = w;
	return e.u.mutex.owner_tid;
}

static uint32_t
word_recursion(uint64_t w)
{
	struct wapi_handle_entry e;

	e.u.mutex.lockword = w;
	return e.u.mutex.recursion;
}

/* After a change to slot e that may release n waiters (INT32_MAX: all). */
static void
wl_wake(struct wapi_handle_entry *e, int n)
{
	wcore_handle_changed(e);
	if (__atomic_load_n(&e->waiters, __ATOMIC_SEQ_CST) == 0)
		return;
	if (LOAD(&e->mwaiters) != 0)
		n = INT32_MAX;
	wcore_futex_wake(&e->futex, n);
}

void
wl_sync_thread_exit(void)
{
	struct wapi_header *h;
	struct wapi_handle_entry *e;
	pid_t tid = wcore_gettid();
	uint32_t i;

	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_NONE)
		return;
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

static bool
wl_pulsed(const struct wapi_handle_entry *e, const struct wl_waiter *w)
{
	if (w == NULL || LOAD(&e->u.event.pulse_seq) == w->pulse_seq)
		return false;
	return (e->flags & WAPI_HF_MANUAL_RESET) ||
	    LOAD(&e->u.event.pulse_tokens) > 0;
}

/* Could the caller take e now?  (For wait-all's look before it takes.) */
static bool
wl_ready(const struct wapi_handle_entry *e, const struct wl_waiter *w)
{
	uint64_t mw;

	switch (e->type) {
	case WAPI_T_EVENT:
		return LOAD(&e->u.event.signalled) != 0 || wl_pulsed(e, w);
	case WAPI_T_MUTEX:
		mw = LOAD(&e->u.mutex.lockword);
		return mw == 0 || (word_tid(mw) == wcore_gettid() &&
		    e->u.mutex.owner_pid == wl.pid);
	case WAPI_T_SEMAPHORE:
		return LOAD(&e->u.sem.count) > 0;
	case WAPI_T_PROCESS:
		return (LOAD(&e->flags) & WAPI_HF_EXITED) != 0;
	default:
		return false;
	}
}

static int
wl_take_mutex(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	pid_t tid = wcore_gettid();
	uint64_t cur = LOAD(&e->u.mutex.lockword);

	if (w != NULL)
		w->prev_word = cur;
	if (cur != 0) {
		if (word_tid(cur) != tid || e->u.mutex.owner_pid != wl.pid ||
		    word_recursion(cur) == UINT32_MAX)
			return TAKE_NO;
		/* Only the owner thread changes an owned word. */
		STORE(&e->u.mutex.lockword, mutex_word(tid,
		    word_recursion(cur) + 1));
		return TAKE_OK;
	}
	if (!CAS(&e->u.mutex.lockword, &cur, mutex_word(tid, 1)))
		return TAKE_NO;
	e->u.mutex.owner_pid = wl.pid;
	e->u.mutex.owner_client = wl.slot + 1;
	e->u.mutex.owner_start = wl.start;
	wl_note_owner();
	if (__atomic_fetch_and(&e->flags, (uint8_t)~WAPI_HF_ABANDONED,
	    __ATOMIC_SEQ_CST) & WAPI_HF_ABANDONED)
		return TAKE_ABANDONED;
	return TAKE_OK;
}

/* Take e if it can be taken now: TAKE_NO, TAKE_OK or TAKE_ABANDONED. */
static int
wl_take(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	uint32_t one, tok;
	int32_t c;

	switch (e->type) {
	case WAPI_T_EVENT:
		if (e->flags & WAPI_HF_MANUAL_RESET)
			return LOAD(&e->u.event.signalled) != 0 ||
			    wl_pulsed(e, w) ? TAKE_OK : TAKE_NO;
		one = 1;
		if (CAS(&e->u.event.signalled, &one, 0))
			return TAKE_OK;
		if (w == NULL || LOAD(&e->u.event.pulse_seq) == w->pulse_seq)
			return TAKE_NO;
		/* Released by a pulse that came while we waited. */
		tok = LOAD(&e->u.event.pulse_tokens);
		while (tok > 0)
			if (CAS(&e->u.event.pulse_tokens, &tok, tok - 1))
				return TAKE_OK;
		return TAKE_NO;
	case WAPI_T_SEMAPHORE:
		c = LOAD(&e->u.sem.count);
		while (c > 0)
			if (CAS(&e->u.sem.count, &c, c - 1))
				return TAKE_OK;
		return TAKE_NO;
	case WAPI_T_MUTEX:
		return wl_take_mutex(e, w);
	case WAPI_T_PROCESS:
		return (LOAD(&e->flags) & WAPI_HF_EXITED) ? TAKE_OK : TAKE_NO;
	default:
		return TAKE_NO;
	}
}

/* Put back what a wait-all took when it could not take everything. */
static void
wl_untake(struct wapi_handle_entry *e, struct wl_waiter *w)
{
	switch (e->type) {
	case WAPI_T_EVENT:
		if (!(e->flags & WAPI_HF_MANUAL_RESET)) {
			STORE(&e->u.event.signalled, 1);
			wl_wake(e, 1);
		}
		break;
	case WAPI_T_SEMAPHORE:
		__atomic_add_fetch(&e->u.sem.count, 1, __ATOMIC_SEQ_CST);
		wl_wake(e, 1);
		break;
	case WAPI_T_MUTEX:
		if (w->prev_word != 0) {
			STORE(&e->u.mutex.lockword, w->prev_word);
			break;
		}
		e->u.mutex.owner_pid = 0;
		e->u.mutex.owner_client = 0;
		e->u.mutex.owner_start = 0;
		if (w->taken == TAKE_ABANDONED)
			__atomic_fetch_or(&e->flags, WAPI_HF_ABANDONED,
			    __ATOMIC_SEQ_CST);
		STORE(&e->u.mutex.lockword, 0);
		wl_wake(e, 1);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ creation */

static int
wl_create(unsigned type, const char *name, wapi_handle_t *out,
	  void (*init)(struct wapi_handle_entry *, const void *), const void *arg)
{
	uint32_t idx;
	bool existed;
	int r;

	if (out == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	wl_lock();
	r = wl_handle_new(type, name, &idx, &existed);
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
	uint32_t idx;
	int r;

	if (out == NULL || name == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	wl_lock();
	r = wl_handle_open(type, name, &idx);
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
	if ((i = wl_slot_of(h)) < 0) {
		*err = WAPI_EBADHANDLE;
		return NULL;
	}
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

int
wapi_event_set(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_EVENT, &r)) == NULL)
		return wl_ret(r);
	if (__atomic_exchange_n(&e->u.event.signalled, 1, __ATOMIC_SEQ_CST) == 0)
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
	STORE(&e->u.event.signalled, 0);
	return wl_ret(0);
}

int
wapi_event_pulse(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_EVENT, &r)) == NULL)
		return wl_ret(r);
	STORE(&e->u.event.signalled, 0);
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
		wl_take_mutex(e, NULL);
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
	pid_t tid;
	int r = 0;

	if ((e = wl_obj(h, WAPI_T_MUTEX, &r)) == NULL)
		return wl_ret(r);
	tid = wcore_gettid();
	cur = LOAD(&e->u.mutex.lockword);
	if (cur == 0 || word_tid(cur) != tid || e->u.mutex.owner_pid != wl.pid)
		return wl_ret(WAPI_ENOT_OWNER);
	if (word_recursion(cur) > 1) {
		STORE(&e->u.mutex.lockword, mutex_word(tid,
		    word_recursion(cur) - 1));
		return wl_ret(0);
	}
	e->u.mutex.owner_pid = 0;
	e->u.mutex.owner_client = 0;
	e->u.mutex.owner_start = 0;
	__atomic_store_n(&e->u.mutex.lockword, 0, __ATOMIC_SEQ_CST);
	wl_wake(e, 1);
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
	int32_t c, max;
	int r = 0;

	if (count < 1)
		return wl_ret(WAPI_EINVAL);
	if ((e = wl_obj(h, WAPI_T_SEMAPHORE, &r)) == NULL)
		return wl_ret(r);
	max = e->u.sem.max;
	c = LOAD(&e->u.sem.count);
	do {
		if (count > max - c)
			return wl_ret(WAPI_ETOO_MANY_POSTS);
	} while (!CAS(&e->u.sem.count, &c, c + count));
	if (previous != NULL)
		*previous = c;
	wl_wake(e, count);
	return wl_ret(0);
}

/* ---------------------------------------------------------------- waits */

static int
wl_sleep(struct wl_waiter *w, size_t n, int64_t deadline)
{
	struct futex_waitv fw[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct timespec ts;
	size_t k;
	long r;

	if (n == 1)
		return wcore_futex_wait(&WL_H(w[0].idx)->futex, w[0].futex,
		    deadline);
	memset(fw, 0, sizeof(fw));
	for (k = 0; k < n; k++) {
		fw[k].uaddr = (uintptr_t)&WL_H(w[k].idx)->futex;
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
		r = wcore_futex_wait(&WL_H(w[0].idx)->futex, w[0].futex, soon);
		return r == ETIMEDOUT && (deadline < 0 || soon < deadline) ?
		    0 : (int)r;
	}
	return errno;
}

/* Wait-all: take every object or none (under the table lock, so that two
 * wait-alls do not undo each other's attempts forever). */
static int
wl_take_all(struct wl_waiter *w, size_t n)
{
	size_t k, j;
	int first_ab = -1;

	for (k = 0; k < n; k++)
		if (!wl_ready(WL_H(w[k].idx), &w[k]))
			return -1;
	wl_lock();
	for (k = 0; k < n; k++) {
		w[k].taken = wl_take(WL_H(w[k].idx), &w[k]);
		if (w[k].taken == TAKE_NO)
			break;
		if (w[k].taken == TAKE_ABANDONED && first_ab < 0)
			first_ab = (int)k;
	}
	if (k < n) {
		for (j = k; j-- > 0;)
			wl_untake(WL_H(w[j].idx), &w[j]);
		wl_unlock();
		return -1;
	}
	wl_unlock();
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
	return -1;
}

static int
wl_wait(const wapi_handle_t *hs, size_t n, int wait_all, uint32_t timeout_ms)
{
	struct wl_waiter w[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct wapi_handle_entry *e;
	int64_t deadline = -1, slot;
	size_t k, j;
	int r, got;
	bool timed_out = false;

	if (hs == NULL || n == 0 || n > WAPI_MAXIMUM_WAIT_OBJECTS) {
		wl_last_error = WAPI_EINVAL;
		return WAPI_WAIT_FAILED;
	}
	wl_ensure();
	for (k = 0; k < n; k++) {
		slot = wl_slot_of(hs[k]);
		if (slot < 0) {
			wl_last_error = WAPI_EBADHANDLE;
			return WAPI_WAIT_FAILED;
		}
		w[k].idx = (uint32_t)slot;
		e = WL_H(slot);
		if (e->type != WAPI_T_EVENT && e->type != WAPI_T_MUTEX &&
		    e->type != WAPI_T_SEMAPHORE && e->type != WAPI_T_PROCESS) {
			wl_last_error = WAPI_ETYPE;
			return WAPI_WAIT_FAILED;
		}
		w[k].pulse_seq = LOAD(&e->u.event.pulse_seq);
		if (wait_all)
			for (j = 0; j < k; j++)
				if (w[j].idx == w[k].idx) {
					wl_last_error = WAPI_EINVAL;
					return WAPI_WAIT_FAILED;
				}
	}
	if ((got = wl_try(w, n, wait_all)) >= 0)
		goto done;
	if (timeout_ms == 0)
		goto timeout;
	if (timeout_ms != WAPI_INFINITE)
		deadline = wcore_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		for (k = 0; k < n; k++) {
			e = WL_H(w[k].idx);
			__atomic_add_fetch(&e->waiters, 1, __ATOMIC_SEQ_CST);
			if (n > 1)
				__atomic_add_fetch(&e->mwaiters, 1, __ATOMIC_SEQ_CST);
			w[k].futex = __atomic_load_n(&e->futex, __ATOMIC_SEQ_CST);
		}
		got = wl_try(w, n, wait_all);
		r = got >= 0 || timed_out ? 0 : wl_sleep(w, n, deadline);
		for (k = 0; k < n; k++) {
			e = WL_H(w[k].idx);
			__atomic_sub_fetch(&e->waiters, 1, __ATOMIC_SEQ_CST);
			if (n > 1)
				__atomic_sub_fetch(&e->mwaiters, 1, __ATOMIC_SEQ_CST);
		}
		if (got >= 0)
			goto done;
		if (timed_out)
			goto timeout;
		if (r == ETIMEDOUT)
			timed_out = true;	/* one last look, then give up */
		/* The objects may have been closed by another thread. */
		for (k = 0; k < n; k++)
			if (wl_slot_of(hs[k]) != (int64_t)w[k].idx) {
				wl_last_error = WAPI_EBADHANDLE;
				return WAPI_WAIT_FAILED;
			}
	}
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
