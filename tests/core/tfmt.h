/*
 * A test-only builder of state files: fills handle, name, name-index,
 * client, reference and share entries by hand (with src/core/hash.h), so
 * that the validator is checked against an independent writer rather than
 * against the library's own table code.  Also TAP helpers for the format
 * tests.  Used by tests/core/t-format*.c, t-validate*.c and tests/mkstate.c.
 */
#ifndef WAPI_TFMT_H
#define WAPI_TFMT_H

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "hash.h"

#define TF_HDR(map)	((struct wapi_header *)(void *)(map))

/* ---------------------------------------------------------------- TAP */

static int tf_count, tf_failed;

static void __attribute__((format(printf, 2, 3), unused))
tf_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tf_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tf_failed++;
}

static int __attribute__((unused))
tf_done(void)
{
	printf("1..%d\n", tf_count);
	if (tf_failed)
		printf("# %d of %d failed\n", tf_failed, tf_count);
	return tf_failed ? 1 : 0;
}

/* Print a report's problems as TAP comments. */
static void __attribute__((unused))
tf_dump(const struct wcore_report *r, size_t max)
{
	char buf[320];
	size_t i;

	for (i = 0; i < r->count && i < max; i++) {
		wcore_problem_format(&r->problems[i], buf, sizeof(buf));
		printf("#   %s\n", buf);
	}
}

/* ------------------------------------------------------------ builder */

static uint32_t __attribute__((unused))
tf_alloc(void *map, unsigned type)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_handle_entry *e;
	uint32_t i;

	if (h->handle_free_head != 0) {
		i = h->handle_free_head - 1;
		e = &WCORE_HANDLES(map)[i];
		h->handle_free_head = e->next_free;
		if (h->handle_free_head == 0)
			h->handle_free_tail = 0;
		else
			WCORE_HANDLES(map)[h->handle_free_head - 1]
			    .u.fl.prev_free = 0;
	} else {
		if (h->handle_hwm >= h->regions[WAPI_R_HANDLES].capacity)
			abort();
		i = h->handle_hwm++;
		e = &WCORE_HANDLES(map)[i];
	}
	e->next_free = 0;
	e->type = (uint8_t)type;
	e->flags = 0;
	e->refs = 0;
	memset(&e->u, 0, sizeof(e->u));
	h->handles_used++;
	h->handles_created++;
	return i;
}

static uint32_t __attribute__((unused))
tf_nameidx_put(void *map, uint32_t hash, uint32_t handle_plus1)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	uint32_t cap = h->regions[WAPI_R_NAMEIDX].capacity;
	uint32_t p = wcore_nameidx_home(hash, cap);

	while (ix[p].handle != 0)
		p = wcore_probe_next(p, cap);
	ix[p].hash = hash;
	ix[p].handle = handle_plus1;
	return p;
}

/* Give slot i a name: names region, name_hash, NAMED, index entry. */
static void __attribute__((unused))
tf_name(void *map, uint32_t i, const char *name)
{
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];
	size_t n = strlen(name);

	memset(&WCORE_NAMES(map)[i], 0, sizeof(struct wapi_name_entry));
	memcpy(WCORE_NAMES(map)[i].name, name, n);
	e->name_hash = wcore_name_hash(name, n);
	e->flags |= WAPI_HF_NAMED;
	tf_nameidx_put(map, e->name_hash, i + 1);
	TF_HDR(map)->names_used++;
}

/* Rebuild the whole name index from the handle table. */
static void __attribute__((unused))
tf_nameidx_rebuild(void *map)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_handle_entry *e;
	uint32_t i;

	memset(WCORE_NAMEIDX(map), 0, (size_t)h->regions[WAPI_R_NAMEIDX].capacity *
	    sizeof(struct wapi_nameidx_entry));
	h->names_used = 0;
	for (i = 0; i < h->handle_hwm; i++) {
		e = &WCORE_HANDLES(map)[i];
		if (e->type != WAPI_T_FREE && (e->flags & WAPI_HF_NAMED)) {
			tf_nameidx_put(map, e->name_hash, i + 1);
			h->names_used++;
		}
	}
}

/* Slot of the name index entry for handle slot i, or -1. */
static int64_t __attribute__((unused))
tf_nameidx_find(void *map, uint32_t i)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(map);
	uint32_t p;

	for (p = 0; p < h->regions[WAPI_R_NAMEIDX].capacity; p++)
		if (ix[p].handle == i + 1)
			return p;
	return -1;
}

static uint32_t __attribute__((unused))
tf_event(void *map, const char *name, bool manual, bool signalled)
{
	uint32_t i = tf_alloc(map, WAPI_T_EVENT);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];

	if (manual)
		e->flags |= WAPI_HF_MANUAL_RESET;
	e->u.event.signalled = signalled;
	if (name != NULL)
		tf_name(map, i, name);
	return i;
}

static uint32_t __attribute__((unused))
tf_mutex(void *map, const char *name, pid_t owner, uint32_t recursion,
    uint32_t owner_client)
{
	uint32_t i = tf_alloc(map, WAPI_T_MUTEX);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];

	e->u.mutex.owner_pid = owner;
	e->u.mutex.owner_tid = owner;
	e->u.mutex.recursion = recursion;
	e->u.mutex.owner_client = owner_client;
	if (name != NULL)
		tf_name(map, i, name);
	return i;
}

static uint32_t __attribute__((unused))
tf_sem(void *map, const char *name, int32_t count, int32_t max)
{
	uint32_t i = tf_alloc(map, WAPI_T_SEMAPHORE);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];

	e->u.sem.count = count;
	e->u.sem.max = max;
	if (name != NULL)
		tf_name(map, i, name);
	return i;
}

/* Free slot i (unnamed, unreferenced): type FREE, onto the list's tail. */
static void __attribute__((unused))
tf_free(void *map, uint32_t i)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_handle_entry *e = &WCORE_HANDLES(map)[i];
	uint32_t gen = e->generation + 1;

	memset(e, 0, sizeof(*e));
	e->generation = gen;
	e->u.fl.prev_free = h->handle_free_tail;
	if (h->handle_free_tail != 0)
		WCORE_HANDLES(map)[h->handle_free_tail - 1].next_free = i + 1;
	else
		h->handle_free_head = i + 1;
	h->handle_free_tail = i + 1;
	h->handles_used--;
}

static uint32_t __attribute__((unused))
tf_attach(void *map, pid_t pid)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_client_entry *c = WCORE_CLIENTS(map);
	uint32_t s;

	for (s = 0; s < h->regions[WAPI_R_CLIENTS].capacity; s++)
		if (c[s].state == WAPI_CS_FREE)
			break;
	if (s == h->regions[WAPI_R_CLIENTS].capacity)
		abort();
	c[s].state = WAPI_CS_ATTACHED;
	c[s].pid = pid;
	c[s].attached = (int64_t)time(NULL) * 1000000000LL;
	h->clients_used++;
	h->clients_attached++;
	return s;
}

/* Put a raw entry into client s's block at the first empty slot of its
 * probe sequence, touching no counters; returns its slot in the block. */
static uint32_t __attribute__((unused))
tf_cref_put(void *map, uint32_t s, uint32_t handle_plus1, uint32_t count)
{
	uint32_t rpc = TF_HDR(map)->refs_per_client;
	struct wapi_cref_entry *b = WCORE_CREFS(map) + (size_t)s * rpc;
	uint32_t p = wcore_cref_home(handle_plus1, rpc);

	while (b[p].handle != 0)
		p = wcore_probe_next(p, rpc);
	b[p].handle = handle_plus1;
	b[p].count = count;
	return p;
}

/* Client s takes count references to slot i, counters kept in step. */
static void __attribute__((unused))
tf_ref(void *map, uint32_t s, uint32_t i, uint32_t count)
{
	uint32_t rpc = TF_HDR(map)->refs_per_client;
	struct wapi_cref_entry *b = WCORE_CREFS(map) + (size_t)s * rpc;
	struct wapi_client_entry *c = &WCORE_CLIENTS(map)[s];
	uint32_t p = wcore_cref_home(i + 1, rpc);

	while (b[p].handle != 0 && b[p].handle != i + 1)
		p = wcore_probe_next(p, rpc);
	if (b[p].handle == 0) {
		b[p].handle = i + 1;
		c->refs_used++;
	}
	b[p].count += count;
	c->refs_total += count;
	WCORE_HANDLES(map)[i].refs += count;
}

/* Block slot of client s's entry for handle slot i, or -1. */
static int64_t __attribute__((unused))
tf_cref_find(void *map, uint32_t s, uint32_t i)
{
	uint32_t rpc = TF_HDR(map)->refs_per_client, p;
	struct wapi_cref_entry *b = WCORE_CREFS(map) + (size_t)s * rpc;

	for (p = 0; p < rpc; p++)
		if (b[p].handle == i + 1)
			return p;
	return -1;
}

static uint32_t __attribute__((unused))
tf_share(void *map, uint64_t dev, uint64_t ino, uint32_t opens,
    uint32_t access, uint32_t denied)
{
	struct wapi_header *h = TF_HDR(map);
	struct wapi_share_entry *t = WCORE_SHARES(map);
	uint32_t cap = h->regions[WAPI_R_SHARES].capacity;
	uint32_t p = wcore_share_home(dev, ino, cap);
	int k;

	while (t[p].opens != 0)
		p = wcore_probe_next(p, cap);
	t[p].dev = dev;
	t[p].ino = ino;
	t[p].opens = opens;
	for (k = 0; k < 3; k++) {
		t[p].access[k] = (access >> k) & 1 ? opens : 0;
		t[p].denied[k] = (denied >> k) & 1 ? opens : 0;
	}
	h->shares_used++;
	return p;
}

/*
 * The standard populated file: named and unnamed objects of several
 * types, an owned mutex, two attached clients holding references, two
 * freed slots on the free list, a share entry.  Slot numbers are fixed
 * (see the TF_S_* names) so tests can corrupt a chosen entry.
 */
enum {
	TF_S_EVENT = 0,		/* named "ev-one", manual, signalled */
	TF_S_MUTEX,		/* named "mx", owned by client 0 */
	TF_S_SEM,		/* unnamed, 2 of 5 */
	TF_S_FREE1,		/* freed: free list head */
	TF_S_FILE,		/* unnamed file, deposited */
	TF_S_SEMNAME,		/* named (non-ASCII UTF-8) semaphore */
	TF_S_FREE2,		/* freed: free list tail */
	TF_S_PROC,		/* unnamed process */
	TF_S_HWM		/* handle_hwm */
};

static void __attribute__((unused))
tf_populate(void *map, pid_t pid)
{
	uint32_t c0, c1, i;

	c0 = tf_attach(map, pid);
	c1 = tf_attach(map, pid + 1);
	tf_event(map, "ev-one", true, true);
	tf_mutex(map, "mx", pid, 1, c0 + 1);
	tf_sem(map, NULL, 2, 5);
	tf_event(map, NULL, false, false);
	i = tf_alloc(map, WAPI_T_FILE);
	WCORE_HANDLES(map)[i].flags |= WAPI_HF_DEPOSITED;
	WCORE_HANDLES(map)[i].u.fd.dev = 0x801;
	WCORE_HANDLES(map)[i].u.fd.ino = 4242;
	tf_sem(map, "s\xc3\xa9maphore-\xe2\x82\xac", 0, 1);
	tf_event(map, NULL, false, false);
	i = tf_alloc(map, WAPI_T_PROCESS);
	WCORE_HANDLES(map)[i].u.proc.pid = pid;
	WCORE_HANDLES(map)[i].u.proc.status = 259;

	tf_ref(map, c0, TF_S_EVENT, 1);
	tf_ref(map, c0, TF_S_MUTEX, 2);
	tf_ref(map, c0, TF_S_SEM, 1);
	tf_ref(map, c1, TF_S_SEM, 1);
	tf_ref(map, c1, TF_S_FILE, 1);
	tf_ref(map, c1, TF_S_SEMNAME, 3);
	tf_ref(map, c0, TF_S_PROC, 1);
	tf_free(map, TF_S_FREE1);
	tf_free(map, TF_S_FREE2);
	tf_share(map, 0x801, 4242, 1, 1, 2);
}

/* Create path (a new file) for layout l and map it read/write. */
static int __attribute__((unused))
tf_create(const char *path, const struct wcore_layout *l, const char *host,
    void **map, size_t *len)
{
	char why[256];
	int fd, error;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return errno;
	if ((error = wcore_init(fd, l, host)) != 0) {
		fprintf(stderr, "wcore_init: %s: %s\n", path, strerror(error));
		close(fd);
		return error;
	}
	if ((error = wcore_map(fd, true, map, len, why, sizeof(why))) != 0) {
		fprintf(stderr, "wcore_map: %s: %s\n", path, why);
		close(fd);
		return error;
	}
	close(fd);
	return 0;
}

#endif
