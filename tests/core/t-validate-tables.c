/*
 * Cross-check: what the core's table code (src/core/tables.c) writes must
 * validate clean.  A long random sequence of creates, opens by name,
 * closes, client attaches and releases runs on a small file (so that the
 * hash tables collide and wrap and backward-shift deletion is exercised,
 * and named objects compete for their preferred slots, which are taken
 * out of the middle of the free list), and wcore_validate runs after every
 * step.  The first step that leaves a problem fails the test and is
 * printed.  Then the placement of named objects, step by step.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfmt.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const unsigned types[] = { WAPI_T_EVENT, WAPI_T_MUTEX,
    WAPI_T_SEMAPHORE, WAPI_T_PROCESS };

/* A small state file (64 handles, 4 clients of 16 references), so that
 * the hash tables collide and wrap; unlinked at once. */
static int
small_file(const char *what, void **map, size_t *len)
{
	struct wcore_layout l;
	const char *tmp = getenv("TMPDIR");
	char path[512];
	int r;

	snprintf(path, sizeof(path), "%s/%s.%ld.state",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", what, (long)getpid());
	r = wcore_layout(64, 4, 16, 16, &l) != 0 ||
	    tf_create(path, &l, "t-validate.host", map, len) != 0;
	unlink(path);
	return r ? -1 : 0;
}

/* A name (prefix-N) whose preferred slot in a table of cap slots is want;
 * its hash in *hash. */
static void
name_for_slot(const char *prefix, uint32_t want, uint32_t cap, char *name,
	      size_t size, uint32_t *hash)
{
	uint32_t k;

	for (k = 0;; k++) {
		snprintf(name, size, "%s-%u", prefix, k);
		*hash = wcore_name_hash(name, strlen(name));
		if (wcore_name_slot(*hash, cap) == want)
			return;
	}
}

/* Create a named event whose name prefers slot want; its slot in *idx. */
static bool
create_at(void *map, const char *prefix, uint32_t want, uint32_t *idx)
{
	uint32_t cap = ((struct wapi_header *)map)->regions[WAPI_R_HANDLES]
	    .capacity, hash;
	char name[32];

	name_for_slot(prefix, want, cap, name, sizeof(name), &hash);
	return wcore_handle_alloc_named(map, WAPI_T_EVENT, hash, idx) == 0 &&
	    wcore_name_insert(map, *idx, name, strlen(name), hash) == 0 &&
	    wcore_cref_add(map, 0, *idx) == 0 &&
	    wcore_name_find(map, name, strlen(name), hash) == *idx;
}

static int
placement(void)
{
	struct wcore_report r;
	struct wapi_header *h;
	struct wapi_handle_entry *tab;
	struct wapi_client_entry *cl;
	uint32_t a, b, c, d, e, i, n;
	void *map;
	size_t len;
	bool freed;
	int ok = 1;

	if (small_file("t-placement", &map, &len) != 0) {
		printf("not ok 2 - create the file\n");
		return 0;
	}
	h = map;
	tab = WCORE_HANDLES(map);
	cl = WCORE_CLIENTS(map);
	for (i = 0; i < 4; i++) {
		cl[i].state = WAPI_CS_ATTACHED;
		cl[i].pid = 1000 + (int32_t)i;
		h->clients_used++;
	}
	memset(&r, 0, sizeof(r));
	r.limit = 5;
#define PCHECK(cond, ...) do {						\
	if (!(cond) || wcore_validate(map, len, &r) != 0) {		\
		printf("# placement: " __VA_ARGS__);			\
		printf("\n");						\
		tf_dump(&r, 5);						\
		ok = 0;							\
	}								\
	wcore_report_free(&r);						\
} while (0)
	/* Preferred slot 40 of a fresh table: the mark goes over 0-39,
	 * which stay fresh, off the free list. */
	PCHECK(create_at(map, "a", 40, &a) && a == 40 &&
	    h->handle_hwm == 41 && h->handle_free_head == 0 &&
	    wcore_handle_fresh(&tab[39]), "first named object in slot %u, "
	    "hwm %u, list head %u", a, h->handle_hwm, h->handle_free_head);
	/* Another one preferring slot 40 takes the other of the pair. */
	PCHECK(create_at(map, "b", 40, &b) && b == 41 &&
	    h->handle_hwm == 42, "second in slot %u, hwm %u", b,
	    h->handle_hwm);
	/* A third one for the same pair: the lowest fresh slot, as an
	 * unnamed object would get, found through the name index. */
	PCHECK(create_at(map, "c", 40, &c) && c == 0 &&
	    h->handle_hwm == 42, "third in slot %u, hwm %u", c,
	    h->handle_hwm);
	/* Preferred slot 20, fresh below the mark: taken in place. */
	PCHECK(create_at(map, "d", 20, &d) && d == 20 &&
	    h->handle_hwm == 42 && h->handle_free_head == 0,
	    "fresh: slot %u", d);
	/* Freed, 40, 41 and 0 form the list; a name preferring 41 takes it
	 * out of the middle, one preferring 0 off the tail, one preferring
	 * 40 off the head. */
	wcore_cref_sub(map, 0, a, &freed);
	wcore_cref_sub(map, 0, b, &freed);
	wcore_cref_sub(map, 0, c, &freed);
	PCHECK(h->handle_free_head == 41 && h->handle_free_tail == 1 &&
	    tab[41].u.fl.prev_free == 41 && tab[0].u.fl.prev_free == 42,
	    "three freed: list %u..%u", h->handle_free_head,
	    h->handle_free_tail);
	PCHECK(create_at(map, "e", 41, &e) && e == 41 &&
	    tab[40].next_free == 1 && tab[0].u.fl.prev_free == 41,
	    "middle: slot %u", e);
	PCHECK(create_at(map, "f", 0, &e) && e == 0 &&
	    h->handle_free_tail == 41 && tab[40].next_free == 0,
	    "tail: slot %u", e);
	PCHECK(create_at(map, "g", 40, &e) && e == 40 &&
	    h->handle_free_head == 0 && h->handle_free_tail == 0,
	    "head: slot %u", e);
	/* Preferred slot 63, the last: the mark reaches the capacity. */
	PCHECK(create_at(map, "h", 63, &e) && e == 63 &&
	    h->handle_hwm == 64, "top: slot %u, hwm %u", e, h->handle_hwm);
	/* The table is not full: unnamed objects get the fresh slots left
	 * below the mark, lowest first, until every slot is live. */
	n = 0;
	while (wcore_handle_alloc(map, WAPI_T_EVENT, &e) == 0) {
		for (i = 0; i < 4 && cl[i].refs_used >= 16; i++)
			;
		if (i == 4 || wcore_cref_add(map, i, e) != 0)
			break;
		n++;
	}
	PCHECK(h->handles_used == 64 && n == 64 - 5, "filled: %u more, %u "
	    "live", n, h->handles_used);
#undef PCHECK
	munmap(map, len);
	printf("%s 2 - named objects take their preferred slot or its pair's "
	    "other: fresh above or below the high-water mark, or out of the "
	    "free list's head, middle or tail; unnamed ones the lowest fresh "
	    "slot\n", ok ? "ok" : "not ok");
	return ok;
}

/*
 * The release of a client slot looks for mutexes to abandon only when the
 * client said it takes mutexes (WAPI_CF_MUTEXES): a mutex that client 1
 * owns stays owned through a release without the flag, and is abandoned
 * by one with it.
 */
static int
release_scan(void)
{
	struct wapi_handle_entry *e;
	struct wapi_client_entry *cl;
	uint32_t idx;
	void *map;
	size_t len;
	bool kept, abandoned;

	if (small_file("t-release-scan", &map, &len) != 0) {
		printf("not ok 3 - create the file\n");
		return 0;
	}
	cl = WCORE_CLIENTS(map);
	cl[0].state = cl[1].state = WAPI_CS_ATTACHED;
	cl[0].pid = 1000;
	cl[1].pid = 1001;
	if (wcore_handle_alloc(map, WAPI_T_MUTEX, &idx) != 0 ||
	    wcore_cref_add(map, 0, idx) != 0) {
		printf("not ok 3 - a mutex\n");
		return 0;
	}
	e = &WCORE_HANDLES(map)[idx];
	e->u.mutex.owner_tid = 4242;
	e->u.mutex.recursion = 1;
	e->u.mutex.owner_pid = 1001;
	e->u.mutex.owner_client = 2;
	wcore_client_release(map, 1, NULL);
	kept = e->u.mutex.lockword != 0 && !(e->flags & WAPI_HF_ABANDONED);
	cl[1].state = WAPI_CS_ATTACHED;
	cl[1].cflags = WAPI_CF_MUTEXES;
	wcore_client_release(map, 1, NULL);
	abandoned = e->u.mutex.lockword == 0 &&
	    (e->flags & WAPI_HF_ABANDONED) && e->u.mutex.owner_client == 0;
	munmap(map, len);
	printf("%s 3 - a client's release abandons its mutexes when it said it "
	    "takes mutexes (kept without: %d, abandoned with: %d)\n",
	    kept && abandoned ? "ok" : "not ok", kept, abandoned);
	return kept && abandoned;
}

int
main(void)
{
	struct wcore_report r;
	struct wapi_header *h;
	struct wapi_client_entry *c;
	char name[32], what[128];
	uint32_t idx, s, cap, step, steps = 20000, ncl;
	int64_t found;
	size_t len, n;
	void *map;
	bool freed, bad = false;
	unsigned t;
	int e;

	if (small_file("t-validate-tables", &map, &len) != 0) {
		printf("not ok 1 - create the file\n1..1\n");
		return 1;
	}
	h = map;
	c = WCORE_CLIENTS(map);
	ncl = h->regions[WAPI_R_CLIENTS].capacity;
	memset(&r, 0, sizeof(r));
	r.limit = 5;

	for (step = 0; step < steps && !bad; step++) {
		s = rnd(ncl);
		what[0] = '\0';
		if (c[s].state != WAPI_CS_ATTACHED) {
			c[s].state = WAPI_CS_ATTACHED;
			c[s].pid = 1000 + (int32_t)s;
			h->clients_used++;
			snprintf(what, sizeof(what), "attach client %u", s);
		} else switch (rnd(10)) {
		case 0:
		case 1:
		case 2:	/* create (or open) a named object */
			snprintf(name, sizeof(name), "obj-%u", rnd(40));
			found = wcore_name_find(map, name, strlen(name),
			    wcore_name_hash(name, strlen(name)));
			if (found >= 0) {
				e = wcore_cref_add(map, s, (uint32_t)found);
				snprintf(what, sizeof(what), "client %u opens "
				    "%s (slot %lld): %d", s, name,
				    (long long)found, e);
				break;
			}
			t = types[rnd(3)];
			if (wcore_handle_alloc_named(map, t,
			    wcore_name_hash(name, strlen(name)), &idx) != 0) {
				snprintf(what, sizeof(what), "table full");
				break;
			}
			if (t == WAPI_T_SEMAPHORE)
				WCORE_HANDLES(map)[idx].u.sem.max = 3;
			e = wcore_name_insert(map, idx, name, strlen(name),
			    wcore_name_hash(name, strlen(name)));
			if (e == 0)
				e = wcore_cref_add(map, s, idx);
			/* A full block is the caller's to undo. */
			if (e != 0)
				wcore_handle_free(map, idx);
			snprintf(what, sizeof(what), "client %u creates %s "
			    "in slot %u: %d", s, name, idx, e);
			break;
		case 3:
		case 4:	/* an unnamed object */
			t = types[rnd(4)];
			if (wcore_handle_alloc(map, t, &idx) != 0) {
				snprintf(what, sizeof(what), "table full");
				break;
			}
			if (t == WAPI_T_SEMAPHORE)
				WCORE_HANDLES(map)[idx].u.sem.max = 1;
			if ((e = wcore_cref_add(map, s, idx)) != 0)
				wcore_handle_free(map, idx);
			snprintf(what, sizeof(what), "client %u creates "
			    "unnamed slot %u: %d", s, idx, e);
			break;
		case 5:	/* adopt some live handle */
			if (h->handle_hwm == 0)
				break;
			idx = rnd(h->handle_hwm);
			if (WCORE_HANDLES(map)[idx].type == WAPI_T_FREE)
				break;
			e = wcore_cref_add(map, s, idx);
			snprintf(what, sizeof(what), "client %u refs slot %u: "
			    "%d", s, idx, e);
			break;
		case 6:
		case 7:
		case 8:	/* close something the client holds */
			cap = h->refs_per_client;
			idx = rnd(cap);
			{
				struct wapi_cref_entry *b = WCORE_CREFS(map) +
				    (size_t)s * cap;
				uint32_t k;

				for (k = 0; k < cap; k++) {
					if (b[(idx + k) % cap].handle != 0)
						break;
				}
				if (k == cap)
					break;
				idx = b[(idx + k) % cap].handle - 1;
			}
			e = wcore_cref_sub(map, s, idx, &freed);
			snprintf(what, sizeof(what), "client %u closes slot %u: "
			    "%d%s", s, idx, e, freed ? " (freed)" : "");
			break;
		case 9:	/* the client dies */
			n = wcore_client_release(map, s, NULL);
			snprintf(what, sizeof(what), "client %u released (%zu "
			    "refs)", s, n);
			break;
		}
		if (wcore_validate(map, len, &r) != 0) {
			printf("not ok 1 - step %u: %s\n", step, what);
			tf_dump(&r, 5);
			bad = true;
		}
		wcore_report_free(&r);
	}
	if (!bad)
		printf("ok 1 - %u steps of the table code validate clean "
		    "(hwm %u, %u live, %u named)\n", steps, h->handle_hwm,
		    h->handles_used, h->names_used);
	munmap(map, len);
	if (!placement())
		bad = true;
	if (!release_scan())
		bad = true;
	printf("1..3\n");
	return bad ? 1 : 0;
}
