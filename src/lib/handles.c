/*
 * The handle table as this process sees it: numbers, references, names.
 * Every change of the tables runs under the table lock; the references a process holds
 * are counted in its client block, so that the helper can drop them all
 * when the process dies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "wapi-int.h"

wapi_handle_t
wl_number(uint32_t index)
{
	return wcore_handle_number(index, WL_H(index)->generation);
}

/*
 * This process's references by slot: the number and how many.  Changed
 * under the table lock together with the client block in the file (which
 * is what the helper reads when we die); read without any lock on the hot
 * paths, where a number we do not hold simply does not match.
 */
struct wl_local {
	wapi_handle_t number;	/* 0: none */
	uint32_t refs;
};

static struct wl_local *wl_locals;
static uint32_t wl_nlocals;

int64_t
wl_slot_of(wapi_handle_t h)
{
	uint32_t i = (h & WAPI_HANDLE_INDEX_MASK) - 1;

	if (i >= __atomic_load_n(&wl_nlocals, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&wl_locals[i].number, __ATOMIC_ACQUIRE) != h)
		return -1;
	return i;
}

void
wl_locals_reset(void)
{
	__atomic_store_n(&wl_nlocals, 0, __ATOMIC_RELEASE);
	free(wl_locals);
	wl_locals = NULL;
}

/* Our references to slot index changed by delta (+1 or -1). */
static void
wl_local_count(uint32_t index, int delta)
{
	struct wl_local *l;
	uint32_t cap;

	if (wl_locals == NULL) {
		cap = ((struct wapi_header *)wl.map)->regions[WAPI_R_HANDLES].capacity;
		wl_locals = calloc(cap, sizeof(*wl_locals));
		if (wl_locals == NULL)
			abort();	/* 8 bytes a slot; nothing sane follows */
		__atomic_store_n(&wl_nlocals, cap, __ATOMIC_RELEASE);
	}
	l = &wl_locals[index];
	if (delta > 0) {
		l->refs++;
		__atomic_store_n(&l->number, wl_number(index), __ATOMIC_RELEASE);
	} else if (l->refs > 0 && --l->refs == 0)
		__atomic_store_n(&l->number, 0, __ATOMIC_RELEASE);
}

void
wl_changed(uint32_t index)
{
	wcore_handle_touch(wl.map, index);
}

static int
wl_ref_new(uint32_t index)
{
	int r = wcore_cref_add(wl.map, wl.slot, index);

	if (r == 0)
		wl_local_count(index, +1);
	return r == ENOSPC ? WAPI_EFULL : r;
}

int64_t
wl_slot_use_locked(wapi_handle_t h, int *err)
{
	int64_t i;
	int r;

	if ((i = wl_slot_of(h)) >= 0)
		return i;
	if ((i = wcore_handle_slot(wl.map, h)) < 0) {
		*err = WAPI_EBADHANDLE;
		return -1;
	}
	if ((r = wl_ref_new((uint32_t)i)) != 0) {
		*err = r;
		return -1;
	}
	return i;
}

int64_t
wl_adopt(wapi_handle_t h, int *err)
{
	int64_t i;

	wl_lock();
	i = wl_slot_use_locked(h, err);
	wl_unlock();
	return i;
}

int
wl_name_prepare(const char *name, struct wl_name *n)
{
	const struct wapi_header *h = wl.map;
	uint32_t cap, p;

	if (name == NULL)
		return WAPI_EINVAL;
	n->len = strnlen(name, WAPI_NAME_MAX + 1);
	if (n->len == 0 || n->len > WAPI_NAME_MAX)
		return WAPI_EINVAL;
	n->s = name;
	n->hash = wcore_name_hash(name, n->len);
	/*
	 * Start loading, all at once, what the lookup and the new reference
	 * read (wcore_name_find, wcore_cref_add): the preferred pair of slots
	 * and their names, our count of the preferred slot and our entry for
	 * it in the client's reference block, and the index entry for a name
	 * placed elsewhere.  The misses then overlap each other and taking
	 * the table lock, instead of following one another.
	 */
	cap = h->regions[WAPI_R_HANDLES].capacity;
	p = wcore_name_slot(n->hash, cap);
	WL_PREFETCH_W(WL_H(p));
	WL_PREFETCH_W(WL_H(p ^ 1));
	/* A name entry is 264 bytes, so one name in four of 20 bytes
	 * crosses a line: its end is loaded too (the same line for most). */
	__builtin_prefetch(&WCORE_NAMES(wl.map)[p]);
	__builtin_prefetch(&WCORE_NAMES(wl.map)[p].name[n->len]);
	__builtin_prefetch(&WCORE_NAMES(wl.map)[p ^ 1]);
	__builtin_prefetch(&WCORE_NAMES(wl.map)[p ^ 1].name[n->len]);
	if (p < __atomic_load_n(&wl_nlocals, __ATOMIC_RELAXED))
		WL_PREFETCH_W(&wl_locals[p]);
	cap = h->refs_per_client;
	WL_PREFETCH_W(&WCORE_CREFS(wl.map)[(size_t)wl.slot * cap +
	    wcore_cref_home(p + 1, cap)]);
	cap = h->regions[WAPI_R_NAMEIDX].capacity;
	if (cap != 0)
		__builtin_prefetch(&WCORE_NAMEIDX(wl.map)[
		    wcore_nameidx_home(n->hash, cap)]);
	/* The rest of the check runs while those lines load; a name it
	 * refuses has cost a few hints. */
	if (wcore_utf8_check(name, n->len) != NULL)
		return WAPI_EINVAL;
	return 0;
}

int
wl_handle_open_name(unsigned type, const struct wl_name *n, uint32_t *index)
{
	int64_t i;
	int r;

	i = wcore_name_find(wl.map, n->s, n->len, n->hash);
	if (i < 0)
		return WAPI_ENOTFOUND;
	if (WL_H(i)->type != type)
		return WAPI_ETYPE;
	if ((r = wl_ref_new((uint32_t)i)) != 0)
		return r;
	*index = (uint32_t)i;
	return 0;
}

/* A slot for a new object.  A free list found looping into live slots is
 * made again from the slots (said once per process), and the allocation
 * tried again: one slot is never given to two objects. */
static int
wl_alloc(unsigned type, const struct wl_name *n, uint32_t *idx)
{
	static bool told;
	int r, tries;

	for (tries = 0;; tries++) {
		r = n != NULL ? wcore_handle_alloc_named(wl.map, type, n->hash,
		    idx) : wcore_handle_alloc(wl.map, type, idx);
		if (r != EUCLEAN || tries > 0)
			return r;
		wcore_free_rebuild(wl.map);
		if (!told) {
			told = true;
			wl_message(WAPI_MSG_WARNING, "%s: the free list of the "
			    "handle table loops into slots in use (a damaged "
			    "file); rebuilt from the slots. 'wapictl validate' "
			    "checks the rest", wl.path);
		}
	}
}

int
wl_handle_new(unsigned type, const struct wl_name *n, uint32_t *index,
	      bool *existed)
{
	uint32_t idx;
	int r;

	*existed = false;
	if (n != NULL) {
		r = wl_handle_open_name(type, n, index);
		if (r == 0) {
			*existed = true;
			return 0;
		}
		if (r != WAPI_ENOTFOUND)
			return r;
	}
	if (wl_alloc(type, n, &idx) != 0)
		return WAPI_EFULL;
	if (n != NULL &&
	    wcore_name_insert(wl.map, idx, n->s, n->len, n->hash) != 0) {
		wcore_handle_free(wl.map, idx);
		return WAPI_EFULL;
	}
	if ((r = wl_ref_new(idx)) != 0) {
		wcore_handle_free(wl.map, idx);
		return r;
	}
	*index = idx;
	return 0;
}

int
wapi_handle_close(wapi_handle_t h)
{
	bool freed, last;
	unsigned type;
	int64_t i;

	wl_ensure();
	wl_lock();
	i = wl_slot_of(h);
	if (i < 0) {
		wl_unlock();
		return wl_ret(WAPI_EBADHANDLE);
	}
	type = WL_H(i)->type;
	wl_local_count((uint32_t)i, -1);
	wcore_cref_sub(wl.map, wl.slot, (uint32_t)i, &freed);
	if (freed)
		wcore_wake_handle(wl.map, (uint32_t)i);
	last = freed || wcore_cref_count(wl.map, wl.slot, (uint32_t)i) == 0;
	wl_unlock();
	if (last && (type == WAPI_T_FILE || type == WAPI_T_PIPE ||
	    type == WAPI_T_SOCKET))
		wl_fd_forget((uint32_t)i, freed);
	return wl_ret(0);
}

int
wapi_handle_ref(wapi_handle_t h)
{
	int64_t i;
	int r;

	wl_ensure();
	wl_lock();
	i = wcore_handle_slot(wl.map, h);
	r = i < 0 ? WAPI_EBADHANDLE : wl_ref_new((uint32_t)i);
	wl_unlock();
	return wl_ret(r);
}

int
wapi_handle_info(wapi_handle_t h, struct wapi_handle_info *out)
{
	struct wapi_handle_entry *e;
	int64_t i;
	int r;

	if (out == NULL)
		return wl_ret(WAPI_EINVAL);
	wl_ensure();
	wl_lock();
	i = wl_slot_use_locked(h, &r);
	if (i < 0) {
		wl_unlock();
		return wl_ret(r);
	}
	e = WL_H(i);
	memset(out, 0, sizeof(*out));
	out->type = e->type;
	out->refs = e->refs;
	if (e->flags & WAPI_HF_NAMED)
		memcpy(out->name, WCORE_NAMES(wl.map)[i].name, sizeof(out->name));
	out->signalled = wapi_handle_signalled(e);
	switch (e->type) {
	case WAPI_T_MUTEX:
		out->owner_pid = e->u.mutex.owner_pid;
		out->owner_tid = wapi_mutex_owner_tid(e);
		out->recursion = e->u.mutex.recursion;
		break;
	case WAPI_T_SEMAPHORE:
		out->count = e->u.sem.count;
		out->maximum = wapi_sem_max(e);
		break;
	case WAPI_T_PROCESS:
		out->pid = e->u.proc.pid;
		/* During a terminate the slot already holds the code asked
		 * for: the process is still active until it is reaped. */
		out->exit_code = (e->flags & WAPI_HF_EXITED) ?
		    e->u.proc.status : WAPI_STILL_ACTIVE;
		break;
	default:
		break;
	}
	wl_unlock();
	return wl_ret(0);
}
