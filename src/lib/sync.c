/*
 * Events, mutexes, semaphores and the waits on them (Win32 semantics).
 *
 * Object state lives in the handle slot and changes only under the table
 * lock, which makes a wait on several objects (any or all) atomic without a
 * second lock.  A waiter that must sleep records the slot's futex word,
 * counts itself in the slot's waiters (and mwaiters for a multi-object
 * wait), drops the lock and sleeps on the word(s); every change bumps the
 * word and wakes: one sleeper when a single waiter can take what was
 * released and no multi-object waiter watches the slot, else all of them.
 * A woken waiter re-checks under the lock, so a wake is never lost: either
 * it takes the object or someone else already did.
 *
 * A pulse releases only the waiters present at the time: each sleeper
 * remembers the event's pulse_seq; one that finds it moved counts the event
 * as signalled once (auto reset: while pulse_tokens lasts).
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

struct wl_waiter {
	uint32_t idx;
	uint32_t futex;		/* value seen before sleeping */
	uint32_t pulse_seq;	/* events: pulse generation seen */
};

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

void
wl_sync_thread_exit(void)
{
	struct wapi_header *h;
	struct wapi_handle_entry *e;
	pid_t pid = wl.pid, tid = wcore_gettid();
	uint32_t i;

	if (__atomic_load_n(&wl.mode, __ATOMIC_ACQUIRE) == WL_NONE)
		return;
	wl_lock();
	h = wl.map;
	for (i = 0; i < h->handle_hwm; i++) {
		e = WL_H(i);
		if (e->type != WAPI_T_MUTEX || e->u.mutex.owner_pid != pid ||
		    e->u.mutex.owner_tid != tid)
			continue;
		memset(&e->u.mutex, 0, sizeof(e->u.mutex));
		e->flags |= WAPI_HF_ABANDONED;
		wl_changed(i);
	}
	wl_unlock();
}

/* Wake after a change to slot i; n: how many a single waiter's success
 * can use (INT32_MAX: everyone must look). */
static void
wl_wake(uint32_t i, int n)
{
	struct wapi_handle_entry *e = WL_H(i);

	e->changed = wcore_now_ns();
	wcore_handle_changed(e);
	if (__atomic_load_n(&e->waiters, __ATOMIC_RELAXED) == 0)
		return;
	if (e->mwaiters != 0)
		n = INT32_MAX;
	wcore_futex_wake(&e->futex, n);
}

static bool
wl_pulsed(const struct wapi_handle_entry *e, const struct wl_waiter *w)
{
	if (w == NULL || e->u.event.pulse_seq == w->pulse_seq)
		return false;
	return (e->flags & WAPI_HF_MANUAL_RESET) || e->u.event.pulse_tokens > 0;
}

/* Could the caller take slot e now (without taking it)? */
static bool
wl_ready(const struct wapi_handle_entry *e, const struct wl_waiter *w)
{
	switch (e->type) {
	case WAPI_T_EVENT:
		return e->u.event.signalled != 0 || wl_pulsed(e, w);
	case WAPI_T_MUTEX:
		return e->u.mutex.owner_pid == 0 ||
		    (e->u.mutex.owner_pid == wl.pid &&
		    e->u.mutex.owner_tid == wcore_gettid() &&
		    e->u.mutex.recursion < UINT32_MAX);
	case WAPI_T_SEMAPHORE:
		return e->u.sem.count > 0;
	case WAPI_T_PROCESS:
		return (e->flags & WAPI_HF_EXITED) != 0;
	default:
		return false;
	}
}

/* Take a ready object: 0, or 1 when it was an abandoned mutex. */
static int
wl_take(uint32_t i, const struct wl_waiter *w)
{
	struct wapi_handle_entry *e = WL_H(i);
	int abandoned = 0;

	switch (e->type) {
	case WAPI_T_EVENT:
		if (e->u.event.signalled == 0) {
			/* Released by a pulse that happened while we slept. */
			if (!(e->flags & WAPI_HF_MANUAL_RESET))
				e->u.event.pulse_tokens--;
		} else if (!(e->flags & WAPI_HF_MANUAL_RESET)) {
			e->u.event.signalled = 0;
			e->changed = wcore_now_ns();
		}
		break;
	case WAPI_T_MUTEX:
		if (e->u.mutex.owner_pid != 0) {
			e->u.mutex.recursion++;
			break;
		}
		e->u.mutex.owner_pid = wl.pid;
		e->u.mutex.owner_tid = wcore_gettid();
		e->u.mutex.owner_start = wl.start;
		e->u.mutex.owner_client = wl.slot + 1;
		e->u.mutex.recursion = 1;
		if (e->flags & WAPI_HF_ABANDONED) {
			e->flags &= ~WAPI_HF_ABANDONED;
			abandoned = 1;
		}
		wl_note_owner();
		e->changed = wcore_now_ns();
		break;
	case WAPI_T_SEMAPHORE:
		e->u.sem.count--;
		e->changed = wcore_now_ns();
		break;
	default:
		break;
	}
	(void)w;
	return abandoned;
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

/* Resolve h to a slot of type (any type when type is 0); lock held on
 * success only. */
static int
wl_begin(wapi_handle_t h, unsigned type, uint32_t *idx)
{
	int64_t i;

	wl_ensure();
	wl_lock();
	i = wl_slot_of(h);
	if (i < 0) {
		wl_unlock();
		return WAPI_EBADHANDLE;
	}
	if (type != 0 && WL_H(i)->type != type) {
		wl_unlock();
		return WAPI_ETYPE;
	}
	*idx = (uint32_t)i;
	return 0;
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
	uint32_t i;
	int r;

	if ((r = wl_begin(h, WAPI_T_EVENT, &i)) != 0)
		return wl_ret(r);
	e = WL_H(i);
	if (e->u.event.signalled == 0) {
		e->u.event.signalled = 1;
		wl_wake(i, (e->flags & WAPI_HF_MANUAL_RESET) ? INT32_MAX : 1);
	}
	wl_unlock();
	return wl_ret(0);
}

int
wapi_event_reset(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	uint32_t i;
	int r;

	if ((r = wl_begin(h, WAPI_T_EVENT, &i)) != 0)
		return wl_ret(r);
	e = WL_H(i);
	if (e->u.event.signalled != 0) {
		e->u.event.signalled = 0;
		e->changed = wcore_now_ns();
		wcore_handle_changed(e);
	}
	wl_unlock();
	return wl_ret(0);
}

int
wapi_event_pulse(wapi_handle_t h)
{
	struct wapi_handle_entry *e;
	uint32_t i;
	int r;

	if ((r = wl_begin(h, WAPI_T_EVENT, &i)) != 0)
		return wl_ret(r);
	e = WL_H(i);
	e->u.event.signalled = 0;
	if (e->waiters != 0) {
		e->u.event.pulse_seq++;
		e->u.event.pulse_tokens = 1;
		wl_wake(i, (e->flags & WAPI_HF_MANUAL_RESET) ? INT32_MAX : 1);
	}
	wl_unlock();
	return wl_ret(0);
}

struct wl_mutex_arg { int owned; };

static void
wl_mutex_init(struct wapi_handle_entry *e, const void *p)
{
	const struct wl_mutex_arg *a = p;

	if (a->owned) {
		e->u.mutex.owner_pid = wl.pid;
		e->u.mutex.owner_tid = wcore_gettid();
		e->u.mutex.owner_start = wl.start;
		e->u.mutex.owner_client = wl.slot + 1;
		e->u.mutex.recursion = 1;
		wl_note_owner();
	}
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
	uint32_t i;
	int r;

	if ((r = wl_begin(h, WAPI_T_MUTEX, &i)) != 0)
		return wl_ret(r);
	e = WL_H(i);
	if (e->u.mutex.owner_pid != wl.pid ||
	    e->u.mutex.owner_tid != wcore_gettid() || e->u.mutex.recursion == 0)
		r = WAPI_ENOT_OWNER;
	else if (--e->u.mutex.recursion == 0) {
		memset(&e->u.mutex, 0, sizeof(e->u.mutex));
		wl_wake(i, 1);
	}
	wl_unlock();
	return wl_ret(r);
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
	uint32_t i;
	int r;

	if (count < 1)
		return wl_ret(WAPI_EINVAL);
	if ((r = wl_begin(h, WAPI_T_SEMAPHORE, &i)) != 0)
		return wl_ret(r);
	e = WL_H(i);
	if (count > e->u.sem.max - e->u.sem.count)
		r = WAPI_ETOO_MANY_POSTS;
	else {
		if (previous != NULL)
			*previous = e->u.sem.count;
		e->u.sem.count += count;
		wl_wake(i, count);
	}
	wl_unlock();
	return wl_ret(r);
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
		/* Before Linux 5.16: watch the first object, re-check
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

static int
wl_wait(const wapi_handle_t *hs, size_t n, int wait_all, uint32_t timeout_ms)
{
	struct wl_waiter w[WAPI_MAXIMUM_WAIT_OBJECTS];
	struct wapi_handle_entry *e;
	int64_t deadline = -1, slot;
	size_t k, j;
	int r, ab, first_ab;
	bool all_ready, timed_out = false;

	if (hs == NULL || n == 0 || n > WAPI_MAXIMUM_WAIT_OBJECTS) {
		wl_last_error = WAPI_EINVAL;
		return WAPI_WAIT_FAILED;
	}
	if (timeout_ms != WAPI_INFINITE && timeout_ms != 0)
		deadline = wcore_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	wl_ensure();
	wl_lock();
	for (k = 0; k < n; k++) {
		slot = wl_slot_of(hs[k]);
		if (slot < 0) {
			r = WAPI_EBADHANDLE;
			goto fail;
		}
		w[k].idx = (uint32_t)slot;
		e = WL_H(slot);
		if (e->type != WAPI_T_EVENT && e->type != WAPI_T_MUTEX &&
		    e->type != WAPI_T_SEMAPHORE && e->type != WAPI_T_PROCESS) {
			r = WAPI_ETYPE;
			goto fail;
		}
		w[k].pulse_seq = e->u.event.pulse_seq;
		if (wait_all)
			for (j = 0; j < k; j++)
				if (w[j].idx == w[k].idx) {
					r = WAPI_EINVAL;
					goto fail;
				}
	}
	for (;;) {
		if (wait_all) {
			all_ready = true;
			for (k = 0; k < n && all_ready; k++)
				all_ready = wl_ready(WL_H(w[k].idx), &w[k]);
			if (all_ready) {
				first_ab = -1;
				for (k = 0; k < n; k++)
					if (wl_take(w[k].idx, &w[k]) && first_ab < 0)
						first_ab = (int)k;
				wl_unlock();
				wl_last_error = 0;
				return first_ab >= 0 ?
				    WAPI_WAIT_ABANDONED_0 + first_ab :
				    WAPI_WAIT_OBJECT_0;
			}
		} else {
			for (k = 0; k < n; k++) {
				if (!wl_ready(WL_H(w[k].idx), &w[k]))
					continue;
				ab = wl_take(w[k].idx, &w[k]);
				wl_unlock();
				wl_last_error = 0;
				return (ab ? WAPI_WAIT_ABANDONED_0 :
				    WAPI_WAIT_OBJECT_0) + (int)k;
			}
		}
		if (timeout_ms == 0 || timed_out) {
			wl_unlock();
			wl_last_error = 0;
			return WAPI_WAIT_TIMEOUT;
		}
		for (k = 0; k < n; k++) {
			e = WL_H(w[k].idx);
			w[k].futex = __atomic_load_n(&e->futex, __ATOMIC_ACQUIRE);
			__atomic_add_fetch(&e->waiters, 1, __ATOMIC_RELAXED);
			if (n > 1)
				e->mwaiters++;
		}
		wl_unlock();
		r = wl_sleep(w, n, deadline);
		wl_lock();
		for (k = 0; k < n; k++) {
			e = WL_H(w[k].idx);
			__atomic_sub_fetch(&e->waiters, 1, __ATOMIC_RELAXED);
			if (n > 1 && e->mwaiters > 0)
				e->mwaiters--;
		}
		if (r == ETIMEDOUT)
			timed_out = true;	/* one last look, then give up */
		/* The objects may have been closed by another thread. */
		for (k = 0; k < n; k++)
			if (WL_H(w[k].idx)->type == WAPI_T_FREE) {
				r = WAPI_EBADHANDLE;
				goto fail;
			}
	}
fail:
	wl_unlock();
	wl_last_error = r;
	return WAPI_WAIT_FAILED;
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
