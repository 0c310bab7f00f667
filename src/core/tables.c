/*
 * The tables of a mapped state file: handle slots and their free list, the
 * name index, each client's reference block.  One implementation for the
 * library (every change), the helper (a dead client's release) and the
 * repair after a lock holder died (tablelock.c).  Callers hold the table
 * lock and pass a mapping that wcore_validate or wcore_map accepted.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "core.h"
#include "hash.h"

#define HDR(map) ((struct wapi_header *)(map))

int64_t
wcore_handle_slot(const void *map, uint32_t number)
{
	const struct wapi_handle_entry *e;
	uint32_t idx = number & WAPI_HANDLE_INDEX_MASK;

	if (idx == 0 || idx > wcore_handle_end(map))
		return -1;
	idx--;
	e = &WCORE_HANDLES(map)[idx];
	if (e->type == WAPI_T_FREE || e->type >= WAPI_T_COUNT || e->refs == 0)
		return -1;
	if (((e->generation & WAPI_HANDLE_GEN_MASK) <<
	    WAPI_HANDLE_INDEX_BITS) != (number & ~WAPI_HANDLE_INDEX_MASK))
		return -1;
	return idx;
}

/* Zero a slot but for the sleepers still counted in it: they count
 * themselves out when they wake, whatever became of the slot. */
void
wcore_handle_clear(struct wapi_handle_entry *e)
{
	uint16_t w = e->waiters;
	uint32_t mw = e->mwaiters;

	memset(e, 0, sizeof(*e));
	e->waiters = w;
	e->mwaiters = mw;
}

/*
 * The free list is doubly linked (next_free, u.fl.prev_free; both index + 1)
 * so that a named object can take its preferred slot (wcore_name_slot) out
 * of the middle.  Links are bounds-checked before they are followed: a
 * link at or above handle_hwm is treated as the end of the list.
 */
static uint32_t
free_link(const struct wapi_header *h, uint32_t link)
{
	return link <= wcore_handle_end(h) ? link : 0;
}

static void
free_unlink(struct wapi_header *h, struct wapi_handle_entry *tab, uint32_t idx)
{
	uint32_t prev = free_link(h, tab[idx].u.fl.prev_free);
	uint32_t next = free_link(h, tab[idx].next_free);

	if (prev != 0)
		tab[prev - 1].next_free = next;
	else
		h->handle_free_head = next;
	if (next != 0)
		tab[next - 1].u.fl.prev_free = prev;
	else
		h->handle_free_tail = prev;
	tab[idx].next_free = 0;
	tab[idx].u.fl.prev_free = 0;
}

void
wcore_free_push(void *map, uint32_t index)
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map);
	uint32_t tail = free_link(h, h->handle_free_tail);

	tab[index].next_free = 0;
	tab[index].u.fl.prev_free = tail;
	if (tail != 0)
		tab[tail - 1].next_free = index + 1;
	else
		h->handle_free_head = index + 1;
	h->handle_free_tail = index + 1;
}

/* The free list made again from the slots: every freed slot below the
 * mark, in index order (fresh slots stay off it). */
void
wcore_free_rebuild(void *map)
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map);
	uint32_t end = wcore_handle_end(map), i;

	h->handle_free_head = h->handle_free_tail = 0;
	for (i = 0; i < end; i++)
		if (tab[i].type == WAPI_T_FREE && !wcore_handle_fresh(&tab[i]))
			wcore_free_push(map, i);
}

bool
wcore_handle_fresh(const struct wapi_handle_entry *e)
{
	static const struct wapi_handle_entry zero;

	return memcmp(e, &zero, sizeof(zero)) == 0;
}

/* On the free list: something links to it, or it is the head. */
static bool
free_listed(const struct wapi_header *h, const struct wapi_handle_entry *tab,
	    uint32_t idx)
{
	return tab[idx].u.fl.prev_free != 0 || h->handle_free_head == idx + 1;
}

/* Slot e, FREE and off the list (or just cleared), becomes a live slot. */
static void
alloc_take(struct wapi_header *h, struct wapi_handle_entry *e, unsigned type)
{
	uint32_t gen = e->generation;

	wcore_handle_clear(e);
	e->generation = gen;
	e->type = (uint8_t)type;
	e->changed = wcore_now_ns();
	h->handles_used++;
	h->handles_created++;
}

/*
 * The lowest fresh slot below handle_hwm (passed over by named objects'
 * placement), or UINT32_MAX.  handle_fresh_from only moves up, but for the
 * repair: slots below it are used or freed (a slot never becomes fresh
 * again), and placement makes fresh slots only above the old mark, so the
 * search costs each slot one look over the life of the file.
 */
static uint32_t
fresh_take(struct wapi_header *h, const struct wapi_handle_entry *tab)
{
	uint32_t i = h->handle_fresh_from, end = wcore_handle_end(h);

	if (i > end)
		i = end;
	for (; i < end; i++)
		if (tab[i].type == WAPI_T_FREE && wcore_handle_fresh(&tab[i]) &&
		    !free_listed(h, tab, i)) {
			h->handle_fresh_from = i + 1;
			return i;
		}
	h->handle_fresh_from = h->handle_hwm;
	return UINT32_MAX;
}

/*
 * An unnamed object: the head of the free list (FIFO: a freed number comes
 * back as late as possible), else the lowest fresh slot, else the slot at
 * the mark.  Low numbers first keep the table dense, and keep descriptor
 * slots within the helper's fixed descriptor numbers (wapi-helper(8)).
 */
int
wcore_handle_alloc(void *map, unsigned type, uint32_t *index)
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map), *e;
	uint32_t idx;

	if (free_link(h, h->handle_free_head) != 0) {
		idx = h->handle_free_head - 1;
		e = &tab[idx];
		/* A listed slot that is not free: the list loops back into
		 * slots it gave out (a damaged file).  Never hand one slot
		 * out twice: the caller rebuilds the list. */
		if (e->type != WAPI_T_FREE)
			return EUCLEAN;
		free_unlink(h, tab, idx);
	} else if ((idx = fresh_take(h, tab)) != UINT32_MAX ||
	    h->handle_hwm < h->regions[WAPI_R_HANDLES].capacity) {
		if (idx == UINT32_MAX)
			idx = h->handle_hwm++;
		e = &tab[idx];
		/* Slots above the high-water mark are never trusted: clear. */
		memset(e, 0, sizeof(*e));
		memset(&WCORE_NAMES(map)[idx], 0, sizeof(struct wapi_name_entry));
	} else
		return ENOSPC;
	alloc_take(h, e, type);
	*index = idx;
	return 0;
}

int
wcore_handle_alloc_named(void *map, unsigned type, uint32_t hash,
			 uint32_t *index)
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map);
	uint32_t cap = h->regions[WAPI_R_HANDLES].capacity;
	uint32_t p = wcore_name_slot(hash, cap), want, k;

	for (k = 0; k < 2; k++) {
		want = p ^ k;
		if (want >= cap)
			continue;
		if (want >= h->handle_hwm) {
			/* Above the mark: clear it and raise the mark over
			 * it; the slots passed over stay fresh (they are
			 * zero: nothing writes above the mark). */
			memset(&tab[want], 0, sizeof(tab[want]));
			h->handle_hwm = want + 1;
		} else if (tab[want].type != WAPI_T_FREE)
			continue;
		else if (free_listed(h, tab, want))
			free_unlink(h, tab, want);
		else if (!wcore_handle_fresh(&tab[want]))
			continue;	/* neither: validate's to report */
		memset(&WCORE_NAMES(map)[want], 0,
		    sizeof(struct wapi_name_entry));
		alloc_take(h, &tab[want], type);
		*index = want;
		return 0;
	}
	return wcore_handle_alloc(map, type, index);
}

void
wcore_handle_free(void *map, uint32_t index)
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map), *e = &tab[index];
	uint32_t gen, fut;

	if (e->flags & WAPI_HF_NAMED)
		wcore_name_remove(map, index);
	if (e->type == WAPI_T_FILE && (e->u.fd.kind & WAPI_FDK_SHARES))
		wcore_share_release(map, e->u.fd.dev, e->u.fd.ino,
		    e->u.fd.access, e->u.fd.share);
	gen = e->generation + 1;
	fut = e->futex + 1;
	wcore_handle_clear(e);
	e->generation = gen;
	/* Keep the futex word moving so a late sleeper sees a change. */
	__atomic_store_n(&e->futex, fut, __ATOMIC_RELEASE);
	e->changed = wcore_now_ns();
	wcore_free_push(map, index);
	if (h->handles_used > 0)
		h->handles_used--;
}

/* Slot s holds the live object named name (len bytes, hash). */
static bool
name_at(const void *map, uint32_t s, const char *name, size_t len,
	uint32_t hash)
{
	const struct wapi_handle_entry *e = &WCORE_HANDLES(map)[s];
	const char *n = WCORE_NAMES(map)[s].name;

	return s < wcore_handle_end(map) && (e->flags & WAPI_HF_NAMED) &&
	    e->type != WAPI_T_FREE && e->type < WAPI_T_COUNT &&
	    e->name_hash == hash && memcmp(n, name, len) == 0 &&
	    n[len] == '\0';
}

int64_t
wcore_name_find(const void *map, const char *name, size_t len, uint32_t hash)
{
	const struct wapi_header *h = map;
	const struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	uint32_t cap = h->regions[WAPI_R_NAMEIDX].capacity;
	uint32_t i, n, slot, p;

	if (len > WAPI_NAME_MAX)
		return -1;
	/* Most named objects sit in their preferred pair: no index walk.  A
	 * live NAMED slot's name is unique (the index guarantees it), so a
	 * match there is the answer the index would give. */
	p = wcore_name_slot(hash, h->regions[WAPI_R_HANDLES].capacity);
	if (name_at(map, p, name, len, hash))
		return p;
	if (name_at(map, p ^ 1, name, len, hash))
		return p ^ 1;
	i = wcore_nameidx_home(hash, cap);
	for (n = 0; n < cap && ix[i].handle != 0; n++) {
		slot = ix[i].handle - 1;
		if (ix[i].hash == hash && name_at(map, slot, name, len, hash))
			return slot;
		i = wcore_probe_next(i, cap);
	}
	return -1;
}

int
wcore_name_insert(void *map, uint32_t index, const char *name, size_t len,
		  uint32_t hash)
{
	struct wapi_header *h = HDR(map);
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];
	uint32_t cap = h->regions[WAPI_R_NAMEIDX].capacity;
	uint32_t i, n;

	if (len > WAPI_NAME_MAX)
		return EINVAL;
	i = wcore_nameidx_home(hash, cap);
	for (n = 0; n < cap && ix[i].handle != 0; n++)
		i = wcore_probe_next(i, cap);
	if (n == cap)
		return ENOSPC;
	memcpy(WCORE_NAMES(map)[index].name, name, len);
	WCORE_NAMES(map)[index].name[len] = '\0';
	e->name_hash = hash;
	e->flags |= WAPI_HF_NAMED;
	ix[i].hash = hash;
	ix[i].handle = index + 1;
	h->names_used++;
	return 0;
}

/*
 * Backward-shift deletion (see hash.h), one routine for the three tables:
 * empty slot i, then pull back every later entry of the run whose home
 * allows it, so that no tombstone is ever left to validate.
 */
static uint32_t
nameidx_home(const void *e, uint32_t cap)
{
	return wcore_nameidx_home(((const struct wapi_nameidx_entry *)e)->hash, cap);
}

static uint32_t
cref_home(const void *e, uint32_t cap)
{
	return wcore_cref_home(((const struct wapi_cref_entry *)e)->handle, cap);
}

static uint32_t
share_home(const void *e, uint32_t cap)
{
	const struct wapi_share_entry *s = e;

	return wcore_share_home(s->dev, s->ino, cap);
}

/* A slot is empty when its 32-bit key field at keyoff is 0. */
static bool
slot_empty(const unsigned char *e, size_t keyoff)
{
	uint32_t key;

	memcpy(&key, e + keyoff, sizeof(key));
	return key == 0;
}

static void
probe_delete(void *table, size_t size, size_t keyoff, uint32_t cap,
	     uint32_t i, uint32_t (*home)(const void *, uint32_t))
{
	unsigned char *t = table;
	uint32_t j, h;

	memset(t + (size_t)i * size, 0, size);
	for (j = wcore_probe_next(i, cap);
	    !slot_empty(t + (size_t)j * size, keyoff);
	    j = wcore_probe_next(j, cap)) {
		h = home(t + (size_t)j * size, cap);
		if (wcore_probe_dist(h, i, cap) < wcore_probe_dist(h, j, cap)) {
			memcpy(t + (size_t)i * size, t + (size_t)j * size, size);
			memset(t + (size_t)j * size, 0, size);
			i = j;
		}
	}
}

void
wcore_name_remove(void *map, uint32_t index)
{
	struct wapi_header *h = HDR(map);
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];
	uint32_t cap = h->regions[WAPI_R_NAMEIDX].capacity;
	uint32_t i, n;

	i = wcore_nameidx_home(e->name_hash, cap);
	for (n = 0; n < cap && ix[i].handle != 0; n++) {
		if (ix[i].handle == index + 1) {
			probe_delete(ix, sizeof(*ix),
			    offsetof(struct wapi_nameidx_entry, handle), cap, i,
			    nameidx_home);
			if (h->names_used > 0)
				h->names_used--;
			break;
		}
		i = wcore_probe_next(i, cap);
	}
	e->flags &= ~WAPI_HF_NAMED;
	e->name_hash = 0;
	memset(WCORE_NAMES(map)[index].name, 0, WAPI_NAME_MAX + 1);
}

static struct wapi_cref_entry *
cref_block(void *map, uint32_t slot, uint32_t *cap)
{
	const struct wapi_header *h = map;

	*cap = h->refs_per_client;
	return WCORE_CREFS(map) + (size_t)slot * h->refs_per_client;
}

/* Position of index's entry in the block, or of the empty slot ending its
 * probe sequence (*found false), or cap when the block is full. */
static uint32_t
cref_probe(const struct wapi_cref_entry *b, uint32_t cap, uint32_t index,
	   bool *found)
{
	uint32_t i, n;

	*found = false;
	i = wcore_cref_home(index + 1, cap);
	for (n = 0; n < cap; n++) {
		if (b[i].handle == 0)
			return i;
		if (b[i].handle == index + 1) {
			*found = true;
			return i;
		}
		i = wcore_probe_next(i, cap);
	}
	return cap;
}

uint32_t
wcore_cref_count(const void *map, uint32_t slot, uint32_t index)
{
	uint32_t cap, i;
	bool found;
	const struct wapi_cref_entry *b = cref_block((void *)map, slot, &cap);

	i = cref_probe(b, cap, index, &found);
	return found ? b[i].count : 0;
}

int
wcore_cref_add(void *map, uint32_t slot, uint32_t index)
{
	struct wapi_client_entry *c = &WCORE_CLIENTS(map)[slot];
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];
	uint32_t cap, i;
	bool found;
	struct wapi_cref_entry *b = cref_block(map, slot, &cap);

	if (e->refs == UINT32_MAX)
		return ENOSPC;
	i = cref_probe(b, cap, index, &found);
	if (i == cap)
		return ENOSPC;
	if (!found) {
		b[i].handle = index + 1;
		b[i].count = 0;
		c->refs_used++;
	}
	b[i].count++;
	c->refs_total++;
	e->refs++;
	return 0;
}

int
wcore_cref_sub(void *map, uint32_t slot, uint32_t index, bool *freed)
{
	struct wapi_client_entry *c = &WCORE_CLIENTS(map)[slot];
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];
	uint32_t cap, i;
	bool found;
	struct wapi_cref_entry *b = cref_block(map, slot, &cap);

	*freed = false;
	i = cref_probe(b, cap, index, &found);
	if (!found)
		return ENOENT;
	if (--b[i].count == 0) {
		probe_delete(b, sizeof(*b),
		    offsetof(struct wapi_cref_entry, handle), cap, i, cref_home);
		if (c->refs_used > 0)
			c->refs_used--;
	}
	if (c->refs_total > 0)
		c->refs_total--;
	if (e->refs > 0)
		e->refs--;
	if (e->refs == 0) {
		wcore_handle_free(map, index);
		*freed = true;
	}
	return 0;
}

/*
 * Whether client slot owns mutex e.  The owner takes the lock word first
 * and writes owner_client right after; a client killed in between left a
 * lock word naming a thread that no longer exists: that counts as its.
 */
bool
wcore_mutex_owned_by(const struct wapi_handle_entry *e, uint32_t slot)
{
	uint64_t w = __atomic_load_n(&e->u.mutex.lockword, __ATOMIC_ACQUIRE);
	char path[64];
	int32_t tid;

	if (w == 0)
		return false;
	if (e->u.mutex.owner_client != 0)
		return e->u.mutex.owner_client == slot + 1;
	memcpy(&tid, &w, sizeof(tid));	/* the owner_tid half */
	tid &= (int32_t)~WAPI_MUTEX_WAITERS;
	snprintf(path, sizeof(path), "/proc/%d", (int)tid);
	return tid > 0 && access(path, F_OK) != 0;
}

void
wcore_mutex_abandon(struct wapi_handle_entry *e)
{
	e->u.mutex.owner_pid = 0;
	e->u.mutex.owner_client = 0;
	e->u.mutex.owner_start = 0;
	e->u.mutex.owned_since = 0;
	__atomic_fetch_or(&e->flags, WAPI_HF_ABANDONED, __ATOMIC_SEQ_CST);
	__atomic_store_n(&e->u.mutex.lockword, 0, __ATOMIC_RELEASE);
	e->changed = wcore_now_ns();
	wcore_handle_changed(e);
}

bool
wcore_thaw(struct wapi_handle_entry *e)
{
	uint32_t *w;

	switch (e->type) {
	case WAPI_T_EVENT:
		w = &e->u.event.signalled;
		break;
	case WAPI_T_SEMAPHORE:
		w = (uint32_t *)&e->u.sem.count;
		break;
	case WAPI_T_MUTEX:
		w = &e->u.mutex.recursion;
		break;
	default:
		return false;
	}
	return (__atomic_fetch_and(w, ~WAPI_SYNC_FROZEN, __ATOMIC_SEQ_CST) &
	    WAPI_SYNC_FROZEN) != 0;
}

size_t
wcore_client_release(void *map, uint32_t slot,
		     void (*wake)(void *map, uint32_t index))
{
	struct wapi_header *h = HDR(map);
	struct wapi_handle_entry *tab = WCORE_HANDLES(map), *e;
	struct wapi_client_entry *c = &WCORE_CLIENTS(map)[slot];
	uint32_t cap, i, idx, cnt, end;
	struct wapi_cref_entry *b = cref_block(map, slot, &cap);
	size_t dropped = 0;

	/* Mutexes first: a waiter must see them abandoned, not freed.  Only
	 * a client that ever took one can own one (WAPI_CF_MUTEXES). */
	end = wcore_handle_end(map);
	for (i = 0; (c->cflags & WAPI_CF_MUTEXES) && i < end; i++) {
		e = &tab[i];
		if (e->type != WAPI_T_MUTEX || !wcore_mutex_owned_by(e, slot))
			continue;
		wcore_mutex_abandon(e);
		if (wake != NULL)
			wake(map, i);
	}
	if (c->refs_used != 0 || c->refs_total != 0 || c->state != WAPI_CS_FREE) {
		for (i = 0; i < cap; i++) {
			if (b[i].handle == 0) {
				/* Leave nothing behind, not even a stray count. */
				if (b[i].count != 0)
					b[i].count = 0;
				continue;
			}
			idx = b[i].handle - 1;
			cnt = b[i].count;
			b[i].handle = 0;
			b[i].count = 0;
			dropped += cnt;
			if (idx >= end)
				continue;
			e = &tab[idx];
			if (e->type == WAPI_T_FREE)
				continue;
			e->refs = e->refs > cnt ? e->refs - cnt : 0;
			if (e->refs == 0) {
				wcore_handle_free(map, idx);
				if (wake != NULL)
					wake(map, idx);
			}
		}
	}
	if (c->state != WAPI_CS_FREE && h->clients_used > 0)
		h->clients_used--;
	wcore_waits_clear(map, slot);
	memset(c, 0, sizeof(*c));
	return dropped;
}

void
wcore_waits_clear(void *map, uint32_t slot)
{
	struct wapi_wait_record *b = WCORE_WAIT_BLOCK(map, slot);
	uint32_t k;

	/* Its threads are gone or sleep no more: no writer to race.  A
	 * record already zero is not written (its page may not exist). */
	for (k = 0; k < WAPI_WAIT_RECORDS; k++)
		if (!wcore_wait_zero(&b[k]))
			memset(&b[k], 0, sizeof(b[k]));
}

bool
wcore_wait_zero(const struct wapi_wait_record *r)
{
	const uint64_t *w = (const uint64_t *)(const void *)r;
	uint64_t acc = 0;
	size_t k;

	for (k = 0; k < sizeof(*r) / 8; k++)
		acc |= w[k];
	return acc == 0;
}

void
wcore_wait_begin(struct wapi_wait_record *r, int32_t tid, bool all,
		 uint32_t count, uint32_t timeout_ms, const uint32_t *idx)
{
	uint32_t seq, k;

	seq = __atomic_load_n(&r->seq, __ATOMIC_RELAXED) | 1;
	__atomic_store_n(&r->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	r->tid = tid;
	r->wflags = all ? WAPI_WF_ALL : 0;
	r->count = (uint16_t)count;
	r->timeout_ms = timeout_ms;
	r->since = wcore_now_ns();
	for (k = 0; k < WAPI_WAIT_HANDLES; k++)
		r->handles[k] = k < count ? idx[k] + 1 : 0;
	__atomic_store_n(&r->seq, seq + 1, __ATOMIC_RELEASE);
}

void
wcore_wait_end(struct wapi_wait_record *r)
{
	uint32_t seq;

	seq = __atomic_load_n(&r->seq, __ATOMIC_RELAXED) + 1;
	__atomic_store_n(&r->seq, seq, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memset((char *)r + sizeof(r->seq), 0, sizeof(*r) - sizeof(r->seq));
	__atomic_store_n(&r->seq, seq + 1, __ATOMIC_RELEASE);
}

int
wcore_wait_snapshot(const struct wapi_wait_record *r,
		    struct wapi_wait_record *out)
{
	uint32_t s1, s2;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(out, (const void *)r, sizeof(*out));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&r->seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return out->tid != 0;
	}
	return -1;
}

/* deadline_ns: CLOCK_MONOTONIC, -1 forever.  0, ETIMEDOUT, EAGAIN (the
 * word changed), EINTR. */
int
wcore_futex_wait(uint32_t *word, uint32_t expected, int64_t deadline_ns)
{
	struct timespec ts;
	long r;

	if (deadline_ns >= 0) {
		ts.tv_sec = deadline_ns / 1000000000LL;
		ts.tv_nsec = deadline_ns % 1000000000LL;
	}
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
	r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected,
	    deadline_ns >= 0 ? &ts : NULL, NULL, FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	return errno;
}

void
wcore_futex_wake(uint32_t *word, int n)
{
	syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
}

/* Wake every sleeper of e, whichever of its words it sleeps on: the futex
 * word (processes), the object's state word, the first of u (events,
 * semaphores, mutexes), or a semaphore's maximum half (its single
 * waiters, WAPI_SEM_WAITERS). */
static void
wake_all_words(struct wapi_handle_entry *e)
{
	wcore_futex_wake(&e->futex, INT32_MAX);
	wcore_futex_wake(&e->u.event.signalled, INT32_MAX);
	if (e->type == WAPI_T_SEMAPHORE)
		wcore_futex_wake((uint32_t *)&e->u.sem.max, INT32_MAX);
}

void
wcore_wake_handle(void *map, uint32_t index)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];

	if (__atomic_load_n(&e->waiters, __ATOMIC_SEQ_CST) != 0)
		wake_all_words(e);
}

void
wcore_handle_touch(void *map, uint32_t index)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[index];

	e->changed = wcore_now_ns();
	wcore_handle_changed(e);
	wcore_wake_handle(map, index);
}

int64_t
wcore_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Position of (dev, ino) in the share table, or of the empty slot ending
 * its probe sequence (*found false); cap when the table is full. */
static uint32_t
share_probe(const struct wapi_share_entry *t, uint32_t cap, uint64_t dev,
	    uint64_t ino, bool *found)
{
	uint32_t i = wcore_share_home(dev, ino, cap), n;

	*found = false;
	for (n = 0; n < cap; n++) {
		if (t[i].opens == 0)
			return i;
		if (t[i].dev == dev && t[i].ino == ino) {
			*found = true;
			return i;
		}
		i = wcore_probe_next(i, cap);
	}
	return cap;
}

/* One more open of (dev, ino); with check, only if it is compatible with
 * every open already counted (Win32 share modes). */
static int
share_add(void *map, uint64_t dev, uint64_t ino, unsigned access,
	  unsigned share, bool check)
{
	struct wapi_header *h = HDR(map);
	struct wapi_share_entry *t = WCORE_SHARES(map), *e;
	uint32_t cap = h->regions[WAPI_R_SHARES].capacity, i, b;
	bool found;

	i = share_probe(t, cap, dev, ino, &found);
	if (i == cap)
		return ENOSPC;
	e = &t[i];
	if (found && check)
		for (b = 0; b < WAPI_FD_BITS; b++) {
			/* Our access must be shared by every open, and every
			 * open's access must be shared by us. */
			if ((access & (1u << b)) && e->denied[b] != 0)
				return EBUSY;
			if (!(share & (1u << b)) && e->access[b] != 0)
				return EBUSY;
		}
	if (!found) {
		memset(e, 0, sizeof(*e));
		e->dev = dev;
		e->ino = ino;
		h->shares_used++;
	}
	e->opens++;
	for (b = 0; b < WAPI_FD_BITS; b++) {
		if (access & (1u << b))
			e->access[b]++;
		if (!(share & (1u << b)))
			e->denied[b]++;
	}
	return 0;
}

int
wcore_share_acquire(void *map, uint64_t dev, uint64_t ino, unsigned access,
		    unsigned share)
{
	return share_add(map, dev, ino, access, share, true);
}

int
wcore_share_account(void *map, uint64_t dev, uint64_t ino, unsigned access,
		    unsigned share)
{
	return share_add(map, dev, ino, access, share, false);
}

void
wcore_share_release(void *map, uint64_t dev, uint64_t ino, unsigned access,
		    unsigned share)
{
	struct wapi_header *h = HDR(map);
	struct wapi_share_entry *t = WCORE_SHARES(map), *e;
	uint32_t cap = h->regions[WAPI_R_SHARES].capacity, i, b;
	bool found;

	i = share_probe(t, cap, dev, ino, &found);
	if (!found)
		return;
	e = &t[i];
	for (b = 0; b < WAPI_FD_BITS; b++) {
		if ((access & (1u << b)) && e->access[b] > 0)
			e->access[b]--;
		if (!(share & (1u << b)) && e->denied[b] > 0)
			e->denied[b]--;
	}
	if (--e->opens > 0)
		return;
	if (h->shares_used > 0)
		h->shares_used--;
	probe_delete(t, sizeof(*t), offsetof(struct wapi_share_entry, opens),
	    cap, i, share_home);
}

/* Decrements that never go below zero (live sleepers count themselves
 * out at the same time). */
static void
sat_dec16(uint16_t *p)
{
	uint16_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > 0 && !__atomic_compare_exchange_n(p, &v, (uint16_t)(v - 1),
	    false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

static void
sat_dec32(uint32_t *p)
{
	uint32_t v = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > 0 && !__atomic_compare_exchange_n(p, &v, v - 1, false,
	    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

void
wcore_sleeps_release(void *map, const struct wcore_sleeps *sl)
{
	struct wapi_handle_entry *e;
	uint32_t r, k, v, idx;

	for (r = 0; r < WCORE_SLEEP_ROWS; r++)
		for (k = 0; k < WCORE_SLEEP_COLS; k++) {
			v = __atomic_load_n(&sl->rows[r][k], __ATOMIC_ACQUIRE);
			if (v == 0)
				continue;
			idx = (v & ~WCORE_SLEEP_MULTI) - 1;
			if (idx >= wcore_handle_end(map))
				continue;
			e = &WCORE_HANDLES(map)[idx];
			sat_dec16(&e->waiters);
			if (v & WCORE_SLEEP_MULTI)
				sat_dec32(&e->mwaiters);
			/* It may have died just woken, holding the wake
			 * meant for the next sleeper (a release wakes one
			 * when the waiters bit says someone sleeps): wake
			 * them all to look again. */
			wake_all_words(e);
		}
}
