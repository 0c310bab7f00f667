/*
 * The table lock: a PROCESS_SHARED | ROBUST mutex in the header.  When its
 * holder dies the kernel hands the next locker EOWNERDEAD; that locker
 * repairs what a half-done change may have left before it marks the mutex
 * consistent, so a kill -9 in the middle of a change costs nothing.
 *
 * What a change can leave half done, and how repair undoes it:
 *  - a slot allocated but not yet referenced (refs 0): freed;
 *  - a reference counted in a client block but not in the handle, or the
 *    reverse: handle refs are recounted from the attached clients' blocks
 *    (the blocks are the truth: they are what a dead client's release uses;
 *    the repair only reads them, so a repairer killed midway loses nothing);
 *  - a half-inserted or half-removed name: the name index is rebuilt from
 *    the NAMED handles;
 *  - a free list cut in the middle: rebuilt from the FREE slots;
 *  - counters: recounted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "hash.h"

static __thread pid_t wcore_tid_cache __attribute__((tls_model("initial-exec")));

static pid_t wcore_pid_cache;

static void
wcore_tid_forget(void)
{
	wcore_tid_cache = 0;
	wcore_pid_cache = 0;
}

__attribute__((constructor)) static void
wcore_tid_setup(void)
{
	pthread_atfork(NULL, NULL, wcore_tid_forget);
}

pid_t
wcore_gettid(void)
{
	if (wcore_tid_cache == 0)
		wcore_tid_cache = gettid();
	return wcore_tid_cache;
}

pid_t
wcore_getpid(void)
{
	if (wcore_pid_cache == 0)
		wcore_pid_cache = getpid();
	return wcore_pid_cache;
}

/*
 * The immutable part of the header (the region table and what the checksum
 * covers) of the mappings this process relies on, as they were when it
 * validated them: every pointer into the tables is computed from that
 * part, so a writer that changes it in a live file (a bug, a stray write)
 * would send this process outside its mapping.  wcore_header_check puts
 * the copy back; the table lock does so on every acquisition, the helper
 * also before each round of its loop.  A few mappings at most: the
 * library's and the helper's.
 */
#define GUARDS	4

static struct {
	const void *map;	/* NULL: unused; GUARD_TAKING: being filled */
	unsigned char head[WAPI_CHECKSUM_END + sizeof(uint64_t)];
} guards[GUARDS];
static uint32_t header_restores;

#define GUARD_TAKING	((const void *)1)

/* Lock-free, so that a forked child may unguard whatever its parent's
 * other threads were doing at the fork. */
int
wcore_guard(const void *map)
{
	const void *none;
	int i;

	for (i = 0; i < GUARDS; i++) {
		none = NULL;
		if (!__atomic_compare_exchange_n(&guards[i].map, &none,
		    GUARD_TAKING, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		memcpy(guards[i].head, map, sizeof(guards[i].head));
		__atomic_store_n(&guards[i].map, map, __ATOMIC_RELEASE);
		return 0;
	}
	return ENOSPC;
}

void
wcore_unguard(const void *map)
{
	const void *m;
	int i;

	for (i = 0; i < GUARDS; i++) {
		m = map;
		__atomic_compare_exchange_n(&guards[i].map, &m, NULL, false,
		    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
}

bool
wcore_header_check(void *map)
{
	int i;

	for (i = 0; i < GUARDS; i++) {
		if (__atomic_load_n(&guards[i].map, __ATOMIC_ACQUIRE) != map)
			continue;
		if (memcmp(map, guards[i].head, sizeof(guards[i].head)) == 0)
			return false;
		memcpy(map, guards[i].head, sizeof(guards[i].head));
		__atomic_add_fetch(&header_restores, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

uint32_t
wcore_header_restores(void)
{
	return __atomic_load_n(&header_restores, __ATOMIC_RELAXED);
}

int
wcore_table_lock(void *map, int wait_ms, bool *recovered)
{
	struct wapi_header *h = map;
	struct timespec ts;
	int r;

	if (recovered != NULL)
		*recovered = false;
	if (wait_ms == 0)
		r = pthread_mutex_trylock(&h->table_lock.m);
	else if (wait_ms < 0)
		r = pthread_mutex_lock(&h->table_lock.m);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		r = pthread_mutex_timedlock(&h->table_lock.m, &ts);
	}
	if (r == 0 || r == EOWNERDEAD)
		wcore_header_check(map);
	if (r == EOWNERDEAD) {
		wcore_repair(map);
		h->lock_recoveries++;
		pthread_mutex_consistent(&h->table_lock.m);
		if (recovered != NULL)
			*recovered = true;
		r = 0;
	}
	if (r != 0)
		return r;
	h->lock_holder_tid = wcore_gettid();
	h->lock_holder_pid = wcore_getpid();
	h->lock_since = wcore_now_ns();
	return 0;
}

void
wcore_table_unlock(void *map)
{
	struct wapi_header *h = map;

	h->lock_holder_pid = 0;
	h->lock_holder_tid = 0;
	h->lock_since = 0;
	pthread_mutex_unlock(&h->table_lock.m);
}

/* a + b, at most UINT32_MAX: a reference count that would wrap keeps the
 * handle alive rather than free it under someone who holds it. */
static uint32_t
add_clamped(uint64_t a, uint64_t b)
{
	return a + b > UINT32_MAX ? UINT32_MAX : (uint32_t)(a + b);
}

/*
 * One client's block counted into counts[]: never rewritten, only entries
 * that name no live slot cleared, so that a repairer killed at any moment
 * (the next locker repairs again) loses no reference of a live client.
 * Only the holder of the table lock changes a block, a client its own or a
 * dead client's while releasing it, so a block the dead holder left with a
 * broken probe chain or a duplicate belongs to a dead process: its release
 * walks every entry and subtracts what was counted here.
 */
static size_t
repair_crefs(void *map, uint32_t slot, uint32_t *counts)
{
	struct wapi_header *h = map;
	struct wapi_client_entry *c = &WCORE_CLIENTS(map)[slot];
	struct wapi_handle_entry *tab = WCORE_HANDLES(map);
	uint32_t cap = h->refs_per_client, i, n = 0, idx, total = 0;
	uint32_t end = wcore_handle_end(map);
	struct wapi_cref_entry *b = WCORE_CREFS(map) + (size_t)slot * cap;
	size_t fixes = 0;

	for (i = 0; i < cap; i++) {
		if (b[i].handle == 0) {
			if (b[i].count != 0) {
				b[i].count = 0;
				fixes++;
			}
			continue;
		}
		idx = b[i].handle - 1;
		if (idx >= end || tab[idx].type == WAPI_T_FREE ||
		    tab[idx].type >= WAPI_T_COUNT || b[i].count == 0) {
			/* Uncounted, so it must go: the slot may be reused,
			 * and this client's release would then take a
			 * reference of the new object's holders. */
			b[i].handle = 0;
			b[i].count = 0;
			fixes++;
			continue;
		}
		counts[idx] = add_clamped(counts[idx], b[i].count);
		total = add_clamped(total, b[i].count);
		n++;
	}
	if (c->refs_used != n || c->refs_total != total) {
		c->refs_used = n;
		c->refs_total = total;
		fixes++;
	}
	return fixes;
}

/* The wait records of free client slot i: none may be left (1: some were). */
static size_t
repair_waits(void *map, uint32_t i)
{
	const struct wapi_wait_record *b = WCORE_WAIT_BLOCK(map, i);
	uint32_t k;

	for (k = 0; k < WAPI_WAIT_RECORDS; k++)
		if (!wcore_wait_zero(&b[k])) {
			wcore_waits_clear(map, i);
			return 1;
		}
	return 0;
}

/* The client slots: each attached client's block rebuilt (its counts
 * summed into counts[]), any slot in an unknown state freed. */
static size_t
repair_clients(void *map, uint32_t *counts, uint32_t *nclients)
{
	const struct wapi_header *h = map;
	struct wapi_client_entry *cl = WCORE_CLIENTS(map);
	uint32_t ncl = h->regions[WAPI_R_CLIENTS].capacity, i;
	size_t fixes = 0;

	*nclients = 0;
	for (i = 0; i < ncl; i++) {
		if (cl[i].state == WAPI_CS_ATTACHED) {
			(*nclients)++;
			fixes += repair_crefs(map, i, counts);
			continue;
		}
		if (cl[i].state != WAPI_CS_FREE) {
			memset(&cl[i], 0, sizeof(cl[i]));
			fixes++;
		}
		fixes += repair_waits(map, i);
	}
	return fixes;
}

/* Slot i's name into the (emptied) name index, or its NAMED flag dropped
 * when the name is not one; *named tells which. */
static size_t
repair_name(void *map, uint32_t i, bool *named)
{
	const struct wapi_header *h = map;
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	const char *name = WCORE_NAMES(map)[i].name;
	uint32_t ixcap = h->regions[WAPI_R_NAMEIDX].capacity, k;
	size_t len = strnlen(name, WAPI_NAME_MAX + 1);

	*named = false;
	if (len == 0 || len > WAPI_NAME_MAX ||
	    wcore_object_name_check(name, WAPI_NAME_MAX) != NULL) {
		e->flags &= ~WAPI_HF_NAMED;
		return 1;
	}
	e->name_hash = wcore_name_hash(name, len);
	k = wcore_nameidx_home(e->name_hash, ixcap);
	while (ix[k].handle != 0)
		k = wcore_probe_next(k, ixcap);
	ix[k].hash = e->name_hash;
	ix[k].handle = i + 1;
	*named = true;
	return 0;
}

/* Live slot i, held count times: its refs set, a wait-all's freeze taken
 * off, its file share counted again, its name indexed again. */
static size_t
repair_live(void *map, uint32_t i, uint32_t count, bool *named)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];
	size_t fixes = 0;

	if (e->refs != count)
		fixes++;
	e->refs = count;
	/* A wait-all that died with objects frozen. */
	wcore_thaw(e);
	if (e->type == WAPI_T_FILE && (e->u.fd.kind & WAPI_FDK_SHARES) &&
	    wcore_share_account(map, e->u.fd.dev, e->u.fd.ino,
	    e->u.fd.access, e->u.fd.share) != 0) {
		e->u.fd.kind &= ~WAPI_FDK_SHARES;
		fixes++;
	}
	*named = false;
	if (e->flags & WAPI_HF_NAMED)
		fixes += repair_name(map, i, named);
	return fixes;
}

/* Slot i, which nobody holds: onto the free list, its generation moving
 * on (a fresh slot stays as it is, off the list). */
static size_t
repair_free(void *map, uint32_t i)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];
	uint32_t gen, fut;
	size_t fixes = 0;

	if (e->type != WAPI_T_FREE)
		fixes++;
	else if (wcore_handle_fresh(e))
		return 0;	/* never used: stays off the list */
	gen = e->generation + (e->type != WAPI_T_FREE);
	fut = e->futex + 1;
	wcore_handle_clear(e);
	memset(&WCORE_NAMES(map)[i], 0, sizeof(struct wapi_name_entry));
	e->generation = gen;
	e->futex = fut;
	wcore_free_push(map, i);
	return fixes;
}

size_t
wcore_repair(void *map)
{
	struct wapi_header *h = map;
	struct wapi_handle_entry *tab = WCORE_HANDLES(map), *e;
	uint32_t hwm = wcore_handle_end(map), i, used = 0, nnames = 0;
	uint32_t nclients, *counts;
	size_t fixes;
	bool named;

	counts = calloc(hwm ? hwm : 1, sizeof(*counts));
	if (counts == NULL)
		return 0;
	fixes = repair_clients(map, counts, &nclients);
	/* What is rebuilt from the handles starts empty. */
	memset(WCORE_NAMEIDX(map), 0,
	    (size_t)h->regions[WAPI_R_NAMEIDX].capacity *
	    sizeof(struct wapi_nameidx_entry));
	memset(WCORE_SHARES(map), 0, (size_t)h->regions[WAPI_R_SHARES].capacity *
	    sizeof(struct wapi_share_entry));
	h->shares_used = 0;
	h->handle_free_head = h->handle_free_tail = 0;
	h->handle_fresh_from = 0;
	for (i = 0; i < hwm; i++) {
		e = &tab[i];
		if (e->type != WAPI_T_FREE && e->type < WAPI_T_COUNT &&
		    counts[i] != 0) {
			fixes += repair_live(map, i, counts[i], &named);
			used++;
			nnames += named;
		} else
			fixes += repair_free(map, i);
	}
	if (h->handles_used != used || h->names_used != nnames ||
	    h->clients_used != nclients)
		fixes++;
	h->handles_used = used;
	h->names_used = nnames;
	h->clients_used = nclients;
	h->dirty = 0;
	free(counts);
	return fixes;
}
