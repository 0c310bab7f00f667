/*
 * Validation of state files.  Everything read from the file is untrusted:
 * the header is copied out once and every region offset, capacity, count
 * and index is checked before the tables are touched; table entries are
 * copied into locals before use, so a file that changes underneath (a live
 * one) can give odd findings but never a wild read.  Each problem is
 * recorded with the byte offset of the entry or field that breaks a rule.
 *
 * Cost: the handle and name tables are read only below handle_hwm, so a
 * large, little-used file validates fast; client reference blocks of free
 * clients are checked for zero a word at a time, unless the caller knows
 * them to be zero (wcore_validate_sparse: outside the extents of data of a
 * copy of a sparse file), as it may know a whole probe table to be.
 */
#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "hash.h"

#define PAGE	4096u
#define HOFF(f)	((uint64_t)offsetof(struct wapi_header, f))
#define EOFF(f)	((uint64_t)offsetof(struct wapi_handle_entry, f))
#define ROFF(i, f) (HOFF(regions) + (uint64_t)(i) * \
	sizeof(struct wapi_region_desc) + offsetof(struct wapi_region_desc, f))

/* Per-handle marks used while cross-checking tables. */
#define M_ONLIST	0x01	/* reached by the free-list walk */
#define M_INDEXED	0x02	/* a name index entry points here */
#define M_NAMEOK	0x04	/* name terminated and valid */
/* What check_handles saw of each slot (kinds[], written by it alone), so
 * that later passes which reach slots in hash order (name index, client
 * references) read one byte instead of a 64-byte entry somewhere in a
 * table of up to 128 MiB. */
#define K_LIVE		0x01	/* type neither FREE nor unknown */
#define K_FREE		0x02	/* type FREE */
#define K_NAMED		0x04	/* live, WAPI_HF_NAMED set */
#define K_FLAGSOK	0x08	/* live, no flag its type may not carry */
#define K_FRESH		0x10	/* FREE and all zero: may be off the list */

struct vstate {
	const unsigned char *base;
	size_t len;
	struct wcore_report *r;
	size_t added;
	struct wapi_header h;		/* copy of the file's header */
	uint64_t off[WAPI_R_COUNT];	/* region offsets, once checked */
	uint32_t cap[WAPI_R_COUNT];
	uint32_t hwm;
	uint8_t *marks;			/* [hwm] M_* */
	uint8_t *kinds;			/* [hwm] K_*, as check_handles saw them */
	uint32_t *nhash;		/* [hwm] name_hash as check_handles read it */
	uint32_t *refs;			/* [hwm] refs as check_handles read it */
	uint32_t live, named_live, attached;
	const struct wcore_extent *data;	/* NULL: nothing known zero */
	size_t ndata;
};

static const char *const where_names[] = {
	[WCORE_W_FILE] = "file",
	[WCORE_W_HEADER] = "header",
	[WCORE_W_HANDLES] = "handles",
	[WCORE_W_NAMEIDX] = "name-index",
	[WCORE_W_NAMES] = "names",
	[WCORE_W_CLIENTS] = "clients",
	[WCORE_W_CREFS] = "client-refs",
	[WCORE_W_SHARES] = "shares",
	[WCORE_W_FREELIST] = "free-list",
	[WCORE_W_WAITS] = "waits",
};

static const char *const region_names[WAPI_R_COUNT] = {
	"handles", "name index", "names", "clients", "client refs", "shares",
	"wait records"
};

/* Flags each live type may carry. */
static const uint8_t type_flags[WAPI_T_COUNT] = {
	[WAPI_T_EVENT] = WAPI_HF_MANUAL_RESET | WAPI_HF_NAMED,
	[WAPI_T_MUTEX] = WAPI_HF_ABANDONED | WAPI_HF_NAMED,
	[WAPI_T_SEMAPHORE] = WAPI_HF_NAMED,
	[WAPI_T_FILE] = WAPI_HF_DEPOSITED | WAPI_HF_FIXED,
	[WAPI_T_PIPE] = WAPI_HF_DEPOSITED | WAPI_HF_FIXED,
	[WAPI_T_SOCKET] = WAPI_HF_DEPOSITED | WAPI_HF_FIXED,
	[WAPI_T_PROCESS] = WAPI_HF_EXITED | WAPI_HF_DEPOSITED | WAPI_HF_FIXED,
};

static void problem(struct vstate *, enum wcore_where, int64_t, uint64_t,
    const char *, ...) __attribute__((format(printf, 5, 6)));
static bool full(const struct vstate *);
static void check_name_strings(struct vstate *);
static void check_name_index(struct vstate *);
static bool check_header(struct vstate *, uint64_t);
static void check_handles(struct vstate *);
static void check_freelist(struct vstate *);
static void check_clients(struct vstate *);
static void check_shares(struct vstate *);
static void check_waits(struct vstate *);

void
wcore_report_free(struct wcore_report *r)
{
	if (r == NULL)
		return;
	free(r->problems);
	r->problems = NULL;
	r->count = r->cap = 0;
}

const char *
wcore_where_name(enum wcore_where w)
{
	if ((unsigned)w >= sizeof(where_names) / sizeof(where_names[0]))
		return "?";
	return where_names[w];
}

void
wcore_problem_format(const struct wcore_problem *p, char *buf, size_t len)
{
	if (p->index >= 0)
		snprintf(buf, len, "%s[%lld] @%llu: %s",
		    wcore_where_name(p->where), (long long)p->index,
		    (unsigned long long)p->offset, p->what);
	else
		snprintf(buf, len, "%s @%llu: %s", wcore_where_name(p->where),
		    (unsigned long long)p->offset, p->what);
}

static bool
full(const struct vstate *v)
{
	return v->r->limit != 0 && v->r->count >= v->r->limit;
}

/* Room for one more problem, or NULL when full or out of memory. */
static struct wcore_problem *
problem_slot(struct vstate *v)
{
	struct wcore_report *r = v->r;
	struct wcore_problem *p;
	size_t ncap;

	if (full(v))
		return NULL;
	/* Counted even when it cannot be stored: a finding is never lost. */
	v->added++;
	if (r->count == r->cap) {
		ncap = r->cap == 0 ? 16 : r->cap * 2;
		p = reallocarray(r->problems, ncap, sizeof(*p));
		if (p == NULL)
			return NULL;
		r->problems = p;
		r->cap = ncap;
	}
	return &r->problems[r->count++];
}

static void
problem(struct vstate *v, enum wcore_where where, int64_t index,
    uint64_t offset, const char *fmt, ...)
{
	struct wcore_problem *p;
	va_list ap;

	if ((p = problem_slot(v)) == NULL)
		return;
	p->where = where;
	p->index = index;
	p->offset = offset;
	va_start(ap, fmt);
	vsnprintf(p->what, sizeof(p->what), fmt, ap);
	va_end(ap);
}

/*
 * calloc without its trick: a large calloc gets fresh zero pages that the
 * first read maps and the first write faults again.  The big per-slot
 * arrays are read and written at once: zero them by writing.
 */
static void *
zalloc(size_t n, size_t size)
{
	void *p;

	if ((p = reallocarray(NULL, n, size)) != NULL)
		memset(p, 0, n * size);
	return p;
}

static bool
is_pow2(uint32_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static const char *
article(const char *word)
{
	return strchr("aeiou", word[0]) != NULL ? "an" : "a";
}

/* NUL within n bytes, else -1. */
static ssize_t
cstrlen(const char *s, size_t n)
{
	const char *z = memchr(s, '\0', n);

	return z == NULL ? -1 : z - s;
}

/* ------------------------------------------------------------ the header */

/* Region checks: returns false when the region cannot be used. */
static bool
check_region(struct vstate *v, int i, uint64_t file_size)
{
	const struct wapi_region_desc *d = &v->h.regions[i];
	uint64_t want, end;
	bool ok = true;

	if (d->offset % PAGE != 0) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, offset),
		    "%s region offset %llu is not 4 KiB aligned",
		    region_names[i], (unsigned long long)d->offset);
		ok = false;
	} else if (d->offset < WAPI_HEADER_SIZE) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, offset),
		    "%s region offset %llu lies inside the header",
		    region_names[i], (unsigned long long)d->offset);
		ok = false;
	}
	if (d->entry_size != wcore_entry_sizes[i]) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, entry_size),
		    "%s entry size is %u, not %u", region_names[i],
		    d->entry_size, wcore_entry_sizes[i]);
		return false;
	}
	if (__builtin_mul_overflow((uint64_t)d->capacity, d->entry_size,
	    &want) || __builtin_add_overflow(want, PAGE - 1, &want)) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, capacity),
		    "%s capacity %u overflows", region_names[i], d->capacity);
		return false;
	}
	want &= ~(uint64_t)(PAGE - 1);
	if (d->size != want) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, size),
		    "%s region size %llu does not match %u entries (%llu)",
		    region_names[i], (unsigned long long)d->size, d->capacity,
		    (unsigned long long)want);
		return false;
	}
	if (!ok)
		return false;
	if (__builtin_add_overflow(d->offset, d->size, &end) ||
	    end > file_size) {
		problem(v, WCORE_W_HEADER, i, ROFF(i, offset),
		    "%s region [%llu, +%llu) ends past the end of the file "
		    "(%llu bytes)", region_names[i],
		    (unsigned long long)d->offset, (unsigned long long)d->size,
		    (unsigned long long)file_size);
		return false;
	}
	return true;
}

static bool
check_capacities(struct vstate *v)
{
	const struct wapi_region_desc *g = v->h.regions;
	uint32_t handles = g[WAPI_R_HANDLES].capacity;
	uint32_t clients = g[WAPI_R_CLIENTS].capacity;
	uint32_t rpc = v->h.refs_per_client;
	size_t before = v->added;

	if (handles < WAPI_MIN_HANDLES || handles > WAPI_MAX_HANDLES_LIMIT)
		problem(v, WCORE_W_HEADER, WAPI_R_HANDLES,
		    ROFF(WAPI_R_HANDLES, capacity), "handle capacity %u is "
		    "outside [%u, %u]", handles, WAPI_MIN_HANDLES,
		    WAPI_MAX_HANDLES_LIMIT);
	if (!is_pow2(g[WAPI_R_NAMEIDX].capacity) ||
	    g[WAPI_R_NAMEIDX].capacity < handles)
		problem(v, WCORE_W_HEADER, WAPI_R_NAMEIDX,
		    ROFF(WAPI_R_NAMEIDX, capacity), "name index capacity %u is "
		    "not a power of two >= %u handles",
		    g[WAPI_R_NAMEIDX].capacity, handles);
	else if (g[WAPI_R_NAMEIDX].capacity > WAPI_MAX_NAMEIDX)
		problem(v, WCORE_W_HEADER, WAPI_R_NAMEIDX,
		    ROFF(WAPI_R_NAMEIDX, capacity), "name index capacity %u is "
		    "above the largest a file may have (%u)",
		    g[WAPI_R_NAMEIDX].capacity, WAPI_MAX_NAMEIDX);
	if (g[WAPI_R_NAMES].capacity != handles)
		problem(v, WCORE_W_HEADER, WAPI_R_NAMES,
		    ROFF(WAPI_R_NAMES, capacity), "names capacity %u is not "
		    "the handle capacity %u", g[WAPI_R_NAMES].capacity,
		    handles);
	if (clients < 1 || clients > WAPI_MAX_CLIENTS)
		problem(v, WCORE_W_HEADER, WAPI_R_CLIENTS,
		    ROFF(WAPI_R_CLIENTS, capacity), "client capacity %u is "
		    "outside [1, %u]", clients, WAPI_MAX_CLIENTS);
	if (rpc < 1 || rpc > WAPI_MAX_CLIENT_REFS)
		problem(v, WCORE_W_HEADER, -1, HOFF(refs_per_client),
		    "refs_per_client %u is outside [1, %u]", rpc,
		    WAPI_MAX_CLIENT_REFS);
	if ((uint64_t)g[WAPI_R_CREFS].capacity != (uint64_t)clients * rpc)
		problem(v, WCORE_W_HEADER, WAPI_R_CREFS,
		    ROFF(WAPI_R_CREFS, capacity), "client refs capacity %u is "
		    "not %u clients * %u refs", g[WAPI_R_CREFS].capacity,
		    clients, rpc);
	else if (g[WAPI_R_CREFS].capacity > WAPI_MAX_CREFS)
		problem(v, WCORE_W_HEADER, WAPI_R_CREFS,
		    ROFF(WAPI_R_CREFS, capacity), "client refs capacity %u is "
		    "above the largest a file may have (%u)",
		    g[WAPI_R_CREFS].capacity, WAPI_MAX_CREFS);
	if (!is_pow2(g[WAPI_R_SHARES].capacity))
		problem(v, WCORE_W_HEADER, WAPI_R_SHARES,
		    ROFF(WAPI_R_SHARES, capacity), "shares capacity %u is not "
		    "a power of two", g[WAPI_R_SHARES].capacity);
	else if (g[WAPI_R_SHARES].capacity > WAPI_MAX_SHARES)
		problem(v, WCORE_W_HEADER, WAPI_R_SHARES,
		    ROFF(WAPI_R_SHARES, capacity), "shares capacity %u is "
		    "above the largest a file may have (%u)",
		    g[WAPI_R_SHARES].capacity, WAPI_MAX_SHARES);
	if ((uint64_t)g[WAPI_R_WAITS].capacity !=
	    (uint64_t)clients * WAPI_WAIT_RECORDS)
		problem(v, WCORE_W_HEADER, WAPI_R_WAITS,
		    ROFF(WAPI_R_WAITS, capacity), "wait records capacity %u "
		    "is not %u clients * %u records", g[WAPI_R_WAITS].capacity,
		    clients, WAPI_WAIT_RECORDS);
	return v->added == before;
}

static bool
check_counters(struct vstate *v)
{
	const struct wapi_header *h = &v->h;
	uint32_t handles = h->regions[WAPI_R_HANDLES].capacity;
	uint32_t hwm = h->handle_hwm;
	size_t before = v->added;

	if (hwm > handles) {
		problem(v, WCORE_W_HEADER, -1, HOFF(handle_hwm), "handle_hwm "
		    "%u is above the handle capacity %u", hwm, handles);
		return false;
	}
	if (h->handle_free_head > hwm)
		problem(v, WCORE_W_HEADER, -1, HOFF(handle_free_head),
		    "free list head %u is above handle_hwm %u",
		    h->handle_free_head, hwm);
	if (h->handle_free_tail > hwm)
		problem(v, WCORE_W_HEADER, -1, HOFF(handle_free_tail),
		    "free list tail %u is above handle_hwm %u",
		    h->handle_free_tail, hwm);
	if ((h->handle_free_head == 0) != (h->handle_free_tail == 0))
		problem(v, WCORE_W_HEADER, -1, HOFF(handle_free_tail),
		    "free list head %u and tail %u disagree about emptiness",
		    h->handle_free_head, h->handle_free_tail);
	if (h->handles_used > hwm)
		problem(v, WCORE_W_HEADER, -1, HOFF(handles_used),
		    "handles_used %u is above handle_hwm %u", h->handles_used,
		    hwm);
	if (h->names_used > handles)
		problem(v, WCORE_W_HEADER, -1, HOFF(names_used),
		    "names_used %u is above the handle capacity %u",
		    h->names_used, handles);
	if (h->clients_used > h->regions[WAPI_R_CLIENTS].capacity)
		problem(v, WCORE_W_HEADER, -1, HOFF(clients_used),
		    "clients_used %u is above the client capacity %u",
		    h->clients_used, h->regions[WAPI_R_CLIENTS].capacity);
	if (h->shares_used > h->regions[WAPI_R_SHARES].capacity)
		problem(v, WCORE_W_HEADER, -1, HOFF(shares_used),
		    "shares_used %u is above the shares capacity %u",
		    h->shares_used, h->regions[WAPI_R_SHARES].capacity);
	return v->added == before;
}

/* The identity fields (magic, version, sizes, ABI, byte order): false when
 * they are not this build's, and nothing else of the file can be read. */
static bool
header_identity(struct vstate *v)
{
	const struct wapi_header *h = &v->h;
	const char *why;

	if (memcmp(h->magic, WAPI_MAGIC, sizeof(h->magic)) != 0) {
		problem(v, WCORE_W_HEADER, -1, HOFF(magic),
		    "bad magic: not a wapi state file");
		return false;
	}
	if (h->version != WAPI_FORMAT_VERSION) {
		v->r->incompatible = true;
		problem(v, WCORE_W_HEADER, -1, HOFF(version), "format version "
		    "%u, this build reads version %u", h->version,
		    WAPI_FORMAT_VERSION);
		return false;
	}
	if (h->header_size != WAPI_HEADER_SIZE) {
		problem(v, WCORE_W_HEADER, -1, HOFF(header_size),
		    "header size %u is not %u", h->header_size,
		    WAPI_HEADER_SIZE);
		return false;
	}
	if (cstrlen(h->abi, sizeof(h->abi)) < 0) {
		problem(v, WCORE_W_HEADER, -1, HOFF(abi),
		    "ABI tag is not NUL-terminated");
		return false;
	}
	if ((why = wcore_abi_check(h->abi)) != NULL) {
		problem(v, WCORE_W_HEADER, -1, HOFF(abi), "ABI tag \"%s\": %s",
		    h->abi, why);
		return false;
	}
	if (strcmp(h->abi, WAPI_ABI) != 0) {
		v->r->incompatible = true;
		problem(v, WCORE_W_HEADER, -1, HOFF(abi), "ABI %s, this build "
		    "is %s", h->abi, WAPI_ABI);
		return false;
	}
	if (h->bom != WAPI_BOM) {
		v->r->incompatible = true;
		problem(v, WCORE_W_HEADER, -1, HOFF(bom), "byte-order mark "
		    "0x%08x, expected 0x%08x", h->bom, WAPI_BOM);
		return false;
	}
	return true;
}

/* The host name and boot id: recorded, but no reason to stop. */
static void
header_strings(struct vstate *v)
{
	const struct wapi_header *h = &v->h;
	const char *why;
	ssize_t n;

	if (cstrlen(h->host, sizeof(h->host)) < 0)
		problem(v, WCORE_W_HEADER, -1, HOFF(host),
		    "host name is not NUL-terminated");
	else if ((why = wcore_host_check(h->host)) != NULL)
		problem(v, WCORE_W_HEADER, -1, HOFF(host),
		    "host name \"%s\": %s", h->host, why);
	if ((n = cstrlen(h->boot_id, sizeof(h->boot_id))) < 0)
		problem(v, WCORE_W_HEADER, -1, HOFF(boot_id),
		    "boot id is not NUL-terminated");
	else if (n != 36)
		problem(v, WCORE_W_HEADER, -1, HOFF(boot_id),
		    "boot id is %zd characters, not 36", n);
}

/*
 * Where the tables are (header.placement): a whole file and a segment hold
 * them; an anchor is the header alone, exactly WAPI_HEADER_SIZE bytes, whose
 * regions describe its segment (*file_size becomes the segment's size for
 * the region checks).  An anchor and a segment name their peer by an
 * absolute path; a whole file names none.  false: the tables are not in
 * this file (an anchor), or the placement is unknown.
 */
static bool
header_place(struct vstate *v, uint64_t *file_size)
{
	const struct wapi_header *h = &v->h;
	ssize_t n;

	if (wcore_place_checksum(h) != h->place_checksum)
		problem(v, WCORE_W_HEADER, -1, HOFF(place_checksum),
		    "placement checksum 0x%016llx does not match (0x%016llx)",
		    (unsigned long long)h->place_checksum,
		    (unsigned long long)wcore_place_checksum(h));
	n = cstrlen(h->peer, sizeof(h->peer));
	switch (h->placement) {
	case WAPI_PLACE_FILE:
		if (n != 0)
			problem(v, WCORE_W_HEADER, -1, HOFF(peer),
			    "a whole file names a peer");
		return true;
	case WAPI_PLACE_ANCHOR:
	case WAPI_PLACE_SEGMENT:
		if (n <= 0 || h->peer[0] != '/')
			problem(v, WCORE_W_HEADER, -1, HOFF(peer),
			    "the %s's peer is not an absolute path",
			    h->placement == WAPI_PLACE_ANCHOR ? "anchor" :
			    "segment");
		if (h->placement == WAPI_PLACE_SEGMENT)
			return true;
		if (*file_size != WAPI_HEADER_SIZE)
			problem(v, WCORE_W_FILE, -1, *file_size, "an anchor is "
			    "%llu bytes, not %u", (unsigned long long)*file_size,
			    WAPI_HEADER_SIZE);
		*file_size = h->file_size;
		return false;
	default:
		problem(v, WCORE_W_HEADER, -1, HOFF(placement),
		    "placement %u is unknown", h->placement);
		return false;
	}
}

/* The region table against a file of file_size bytes: each region sound,
 * no two overlapping, the capacities agreeing.  false: not walkable. */
static bool
header_regions(struct vstate *v, uint64_t file_size)
{
	const struct wapi_header *h = &v->h;
	bool regions_ok = true, ok[WAPI_R_MAX];
	uint64_t ai, aj, bi, bj;
	int i, j;

	if (h->region_count != WAPI_R_COUNT) {
		problem(v, WCORE_W_HEADER, -1, HOFF(region_count),
		    "region count %u is not %u", h->region_count, WAPI_R_COUNT);
		return false;
	}
	for (i = 0; i < WAPI_R_COUNT; i++)
		if (!(ok[i] = check_region(v, i, file_size)))
			regions_ok = false;
	for (i = 0; i < WAPI_R_COUNT; i++) {
		for (j = i + 1; j < WAPI_R_COUNT; j++) {
			if (!ok[i] || !ok[j])
				continue;
			ai = h->regions[i].offset;
			bi = ai + h->regions[i].size;
			aj = h->regions[j].offset;
			bj = aj + h->regions[j].size;
			if (ai < bj && aj < bi) {
				problem(v, WCORE_W_HEADER, j, ROFF(j, offset),
				    "%s region overlaps the %s region",
				    region_names[j], region_names[i]);
				regions_ok = false;
			}
		}
	}
	if (!check_capacities(v))
		regions_ok = false;
	return regions_ok;
}

/*
 * The table lock's bytes, where this C library's layout of a mutex is known
 * (glibc's struct __pthread_mutex_s on x86_64 and aarch64).  A damaged lock
 * makes pthread_mutex_lock fail for good (EINVAL, ENOTRECOVERABLE), which
 * no locker can repair: the file must be refused before anyone relies on
 * it.  Checked: the kind is the one wcore_init_map gives (process-shared,
 * robust, normal), the owner a thread id, none, or the state a dead owner
 * left; the futex word a thread id with only the kernel's two flag bits;
 * the count at most 1 (a normal robust mutex sets it to 1, never counts
 * higher).  Not checked: __nusers (a holder killed between taking the word
 * and counting itself leaves it off by one for good) and the robust list
 * pointers (addresses in the holder's process).
 */
#if defined(__GLIBC__) && defined(__linux__) && \
    ((defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__))
#define LOCK_TID_MAX		0x400000	/* PID_MAX_LIMIT on 64-bit */
#define LOCK_FUTEX_FLAGS	0xc0000000u	/* FUTEX_WAITERS | _OWNER_DIED */
#define LOCK_INCONSISTENT	0x7fffffff	/* glibc: owner died, not repaired */
#define LOCK_NOTRECOVERABLE	0x7ffffffe	/* glibc: unlocked unrepaired */

/* The kind word of a mutex made as wcore_init_map makes the table lock. */
static int
lock_kind_wanted(void)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t m;
	int kind = -1;

	if (pthread_mutexattr_init(&attr) != 0)
		return -1;
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
	    pthread_mutex_init(&m, &attr) == 0) {
		kind = m.__data.__kind;
		pthread_mutex_destroy(&m);
	}
	pthread_mutexattr_destroy(&attr);
	return kind;
}

static void
header_lock(struct vstate *v)
{
	const pthread_mutex_t *m = &v->h.table_lock.m;
	uint64_t off = HOFF(table_lock);
	uint32_t word = (uint32_t)m->__data.__lock;
	int kind = lock_kind_wanted(), owner = m->__data.__owner;

	if (kind != -1 && m->__data.__kind != kind)
		problem(v, WCORE_W_HEADER, -1, off + offsetof(pthread_mutex_t,
		    __data.__kind), "table lock kind %d is not a robust "
		    "process-shared mutex's (%d): the lock is damaged",
		    m->__data.__kind, kind);
	else if (owner == LOCK_NOTRECOVERABLE)
		problem(v, WCORE_W_HEADER, -1, off + offsetof(pthread_mutex_t,
		    __data.__owner), "table lock is not recoverable (released "
		    "unrepaired after its holder died)");
	else if (owner != LOCK_INCONSISTENT &&
	    (owner < 0 || owner > LOCK_TID_MAX))
		problem(v, WCORE_W_HEADER, -1, off + offsetof(pthread_mutex_t,
		    __data.__owner), "table lock owner %d is not a thread id",
		    owner);
	else if ((word & ~LOCK_FUTEX_FLAGS) > LOCK_TID_MAX)
		problem(v, WCORE_W_HEADER, -1, off, "table lock word 0x%08x "
		    "holds no thread id", word);
	else if (m->__data.__count > 1)
		problem(v, WCORE_W_HEADER, -1, off + offsetof(pthread_mutex_t,
		    __data.__count), "table lock count %u is above 1 for a "
		    "normal mutex", m->__data.__count);
}
#else
/* Another C library: its mutex's bytes are not known here. */
static void
header_lock(struct vstate *v)
{
	(void)v;
}
#endif

/*
 * Returns whether the regions can be walked: the identity fields match
 * this build, every region lies inside the file, they are disjoint, their
 * capacities agree and the counters are in range.  Cosmetic problems (host,
 * boot id, checksum) are recorded but do not stop the region checks.
 */
static bool
check_header(struct vstate *v, uint64_t file_size)
{
	struct wapi_header *h = &v->h;
	bool regions_ok, here;
	int i;

	if (file_size < WAPI_HEADER_SIZE) {
		problem(v, WCORE_W_FILE, -1, file_size, "file is %llu bytes, "
		    "shorter than the %u-byte header",
		    (unsigned long long)file_size, WAPI_HEADER_SIZE);
		return false;
	}
	if (v->len < WAPI_HEADER_SIZE) {
		problem(v, WCORE_W_FILE, -1, v->len, "only %zu bytes of the "
		    "header could be read", v->len);
		return false;
	}
	memcpy(h, v->base, sizeof(*h));
	if (!header_identity(v))
		return false;
	header_strings(v);
	here = header_place(v, &file_size);
	if (h->file_size != file_size) {
		problem(v, WCORE_W_FILE, -1, HOFF(file_size), "file is %llu "
		    "bytes but its header says %llu",
		    (unsigned long long)file_size,
		    (unsigned long long)h->file_size);
		/* Regions are checked against the smaller of the two. */
		if (h->file_size < file_size)
			file_size = h->file_size;
	}
	regions_ok = header_regions(v, file_size);
	header_lock(v);
	if (wcore_checksum(h) != h->checksum)
		problem(v, WCORE_W_HEADER, -1, HOFF(checksum), "checksum "
		    "0x%016llx does not match the header (0x%016llx)",
		    (unsigned long long)h->checksum,
		    (unsigned long long)wcore_checksum(h));
	if (regions_ok && !check_counters(v))
		regions_ok = false;
	if (!here)
		return false;	/* nothing of the tables to walk here */
	if (regions_ok) {
		for (i = 0; i < WAPI_R_COUNT; i++) {
			v->off[i] = h->regions[i].offset;
			v->cap[i] = h->regions[i].capacity;
		}
		v->hwm = h->handle_hwm;
	}
	return regions_ok;
}

size_t
wcore_check_header(const void *buf, size_t len, uint64_t file_size,
    struct wcore_report *r)
{
	struct vstate v;

	memset(&v, 0, sizeof(v));
	v.base = buf;
	v.len = len;
	v.r = r;
	check_header(&v, file_size);
	return v.added;
}

/* ------------------------------------------------------------ the tables */

static uint64_t
handle_off(const struct vstate *v, uint32_t i)
{
	return v->off[WAPI_R_HANDLES] +
	    (uint64_t)i * sizeof(struct wapi_handle_entry);
}

static void
get_handle(const struct vstate *v, uint32_t i, struct wapi_handle_entry *e)
{
	memcpy(e, v->base + handle_off(v, i), sizeof(*e));
}

static bool
handle_live(const struct wapi_handle_entry *e)
{
	return e->type != WAPI_T_FREE && e->type < WAPI_T_COUNT;
}

/* The state words of live slot i (a copy in e): an event's signalled
 * state, a semaphore's count and maximum, a mutex's owner. */
static void
check_handle_state(struct vstate *v, uint32_t i,
    const struct wapi_handle_entry *e)
{
	uint64_t off = handle_off(v, i);
	uint32_t clients = v->cap[WAPI_R_CLIENTS];

	switch (e->type) {
	case WAPI_T_EVENT:
		if (e->u.event.signalled > 1)
			problem(v, WCORE_W_HANDLES, i,
			    off + EOFF(u.event.signalled),
			    "event signalled state is %u, not 0 or 1",
			    e->u.event.signalled);
		break;
	case WAPI_T_SEMAPHORE:
		if (wapi_sem_max(e) < 1)
			problem(v, WCORE_W_HANDLES, i, off + EOFF(u.sem.max),
			    "semaphore maximum is %d", wapi_sem_max(e));
		else if (e->u.sem.count < 0 || e->u.sem.count > wapi_sem_max(e))
			problem(v, WCORE_W_HANDLES, i, off + EOFF(u.sem.count),
			    "semaphore count %d is outside [0, %d]",
			    e->u.sem.count, wapi_sem_max(e));
		break;
	case WAPI_T_MUTEX:
		if (e->u.mutex.owner_pid < 0)
			problem(v, WCORE_W_HANDLES, i,
			    off + EOFF(u.mutex.owner_pid),
			    "mutex owner pid %d is negative",
			    e->u.mutex.owner_pid);
		else if ((wapi_mutex_owner_tid(e) == 0) !=
		    (e->u.mutex.recursion == 0))
			problem(v, WCORE_W_HANDLES, i,
			    off + EOFF(u.mutex.recursion),
			    "mutex recursion %u with owner thread %d",
			    e->u.mutex.recursion, e->u.mutex.owner_tid);
		else if (e->u.mutex.owner_client > clients)
			problem(v, WCORE_W_HANDLES, i,
			    off + EOFF(u.mutex.owner_client),
			    "mutex owner client %u is above the client "
			    "capacity %u", e->u.mutex.owner_client, clients);
		break;
	}
}

static void
check_handles(struct vstate *v)
{
	struct wapi_handle_entry e;
	const char *tn;
	uint64_t off;
	uint32_t i;

	for (i = 0; i < v->hwm && !full(v); i++) {
		get_handle(v, i, &e);
		off = handle_off(v, i);
		v->nhash[i] = e.name_hash;
		v->refs[i] = e.refs;
		if (e.type == WAPI_T_FREE)
			v->kinds[i] = K_FREE |
			    (wcore_handle_fresh(&e) ? K_FRESH : 0);
		else if (handle_live(&e))
			v->kinds[i] = K_LIVE |
			    ((e.flags & WAPI_HF_NAMED) ? K_NAMED : 0) |
			    (!(e.flags & ~type_flags[e.type]) ? K_FLAGSOK : 0);
		if (e.type >= WAPI_T_COUNT) {
			problem(v, WCORE_W_HANDLES, i, off + EOFF(type),
			    "type %u is unknown", e.type);
			continue;
		}
		if (e.type == WAPI_T_FREE) {
			if (e.refs != 0)
				problem(v, WCORE_W_HANDLES, i, off + EOFF(refs),
				    "refs is %u for a free slot", e.refs);
			if (e.flags & WAPI_HF_NAMED)
				problem(v, WCORE_W_HANDLES, i,
				    off + EOFF(flags), "free slot is marked "
				    "named");
			continue;
		}
		v->live++;
		tn = wcore_type_name(e.type);
		if (e.refs == 0)
			problem(v, WCORE_W_HANDLES, i, off + EOFF(refs),
			    "refs is 0 for a live %s", tn);
		if (e.flags & ~type_flags[e.type])
			problem(v, WCORE_W_HANDLES, i, off + EOFF(flags),
			    "flags 0x%02x are not valid for %s %s", e.flags,
			    article(tn), tn);
		else if (e.flags & WAPI_HF_NAMED)
			v->named_live++;
		check_handle_state(v, i, &e);
	}
	if (!full(v) && v->live != v->h.handles_used)
		problem(v, WCORE_W_HEADER, -1, HOFF(handles_used),
		    "handles_used is %u but %u slots are live",
		    v->h.handles_used, v->live);
}

/*
 * The free list runs from handle_free_head through next_free (index + 1)
 * to handle_free_tail, whose next_free is 0; each slot's prev_free names
 * the one before it (0 for the head).  It must hold every FREE slot below
 * handle_hwm exactly once, but for fresh ones (all zero: never used,
 * passed over when a named object raised the mark to its preferred slot).
 */
static void
check_freelist(struct vstate *v)
{
	struct wapi_handle_entry e;
	uint64_t linkoff = HOFF(handle_free_head);
	int64_t from = -1;
	uint32_t cur = v->h.handle_free_head, last = 0, i;

	while (cur != 0) {
		if (cur > v->hwm) {
			problem(v, WCORE_W_FREELIST, from, linkoff, "free list "
			    "link %u (slot %u) is at or above handle_hwm %u",
			    cur, cur - 1, v->hwm);
			return;
		}
		i = cur - 1;
		if (v->marks[i] & M_ONLIST) {
			problem(v, WCORE_W_FREELIST, from, linkoff,
			    "free list cycles back to slot %u", i);
			return;
		}
		get_handle(v, i, &e);
		if (e.type >= WAPI_T_COUNT) {
			problem(v, WCORE_W_FREELIST, from, linkoff, "free list "
			    "reaches slot %u, of unknown type %u", i, e.type);
			return;
		}
		if (e.type != WAPI_T_FREE) {
			problem(v, WCORE_W_FREELIST, from, linkoff, "free list "
			    "reaches slot %u, which holds %s %s", i,
			    article(wcore_type_name(e.type)),
			    wcore_type_name(e.type));
			return;
		}
		if (e.u.fl.prev_free != last) {
			problem(v, WCORE_W_FREELIST, i, handle_off(v, i) +
			    EOFF(u.fl.prev_free), "free list back link of "
			    "slot %u is %u, not %u", i, e.u.fl.prev_free,
			    last);
			return;
		}
		v->marks[i] |= M_ONLIST;
		last = cur;
		from = i;
		linkoff = handle_off(v, i) + EOFF(next_free);
		cur = e.next_free;
	}
	if (v->h.handle_free_tail != last) {
		problem(v, WCORE_W_FREELIST, -1, HOFF(handle_free_tail),
		    "free list tail is %u but the list ends at %u",
		    v->h.handle_free_tail, last);
		return;
	}
	for (i = 0; i < v->hwm && !full(v); i++) {
		if (!(v->kinds[i] & K_FREE) || (v->kinds[i] & K_FRESH))
			continue;
		if (!(v->marks[i] & M_ONLIST))
			problem(v, WCORE_W_FREELIST, i, handle_off(v, i),
			    "slot %u is free but not on the free list", i);
	}
}

/*
 * Whether the n bytes at off are known to be zero: the caller said which
 * extents may hold data (wcore_validate_sparse), and none of them meets
 * [off, off + n).
 */
static bool
known_zero(const struct vstate *v, uint64_t off, uint64_t n)
{
	size_t lo = 0, hi = v->ndata, mid;

	if (v->data == NULL)
		return false;
	/* The first extent that ends after off. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->data[mid].off + v->data[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == v->ndata || v->data[lo].off >= off + n;
}

/* Of the n bytes at off, how many may hold data (n when nothing is known). */
static uint64_t
data_bytes(const struct vstate *v, uint64_t off, uint64_t n)
{
	uint64_t sum = 0, a, b;
	size_t i;

	if (v->data == NULL)
		return n;
	for (i = 0; i < v->ndata; i++) {
		a = v->data[i].off > off ? v->data[i].off : off;
		b = v->data[i].off + v->data[i].len;
		if (b > off + n)
			b = off + n;
		if (b > a)
			sum += b - a;
	}
	return sum;
}

/* Copy n bytes at off of the map to dst, zeros when they are known to be:
 * an untouched page of a copy is not faulted in for nothing. */
static void
read_entry(const struct vstate *v, uint64_t off, void *dst, size_t n)
{
	if (known_zero(v, off, n))
		memset(dst, 0, n);
	else
		memcpy(dst, v->base + off, n);
}

/*
 * Probe-sequence rule for a linear-probing table of cap entries at file
 * offset off: every entry lies at most as far from its home slot as the
 * start of its run of occupied slots.  visit() sees each occupied entry
 * (a copy) in slot order.
 */
struct ptable {
	enum wcore_where where;
	uint64_t off;
	int64_t index0;		/* report index of slot 0 */
	uint32_t cap;
	size_t esz;
	bool (*empty)(const void *);
	uint32_t (*home)(const void *, uint32_t);
	void (*visit)(struct vstate *, struct ptable *, uint32_t,
	    const void *);
	/* Optional: told of the entry PROBE_AHEAD slots on (in the map, not
	 * copied: only a prefetch hint may come of it), so that what visit()
	 * will look up there is in the cache by then. */
	void (*ahead)(const struct vstate *, const struct ptable *,
	    const unsigned char *);
	void *ctx;
	uint32_t used;
	uint32_t run;		/* for visit(): start of the entry's run */
	uint32_t strays;	/* entries not reachable from their home */
};
#define PROBE_AHEAD	8

/*
 * Inlined into each caller, where the callbacks and the entry size are
 * constants once read into locals before the first call: direct, inlined
 * calls instead of three indirect ones per slot of a 2-million-slot index.
 */
static inline __attribute__((always_inline)) void
probe_check(struct vstate *v, struct ptable *t)
{
	bool (*const empty)(const void *) = t->empty;
	uint32_t (*const home)(const void *, uint32_t) = t->home;
	void (*const visit)(struct vstate *, struct ptable *, uint32_t,
	    const void *) = t->visit;
	void (*const ahead)(const struct vstate *, const struct ptable *,
	    const unsigned char *) = t->ahead;
	const size_t esz = t->esz;
	const unsigned char *base = v->base + t->off;
	const uint32_t cap = t->cap;
	unsigned char ent[64];
	uint32_t p, run, h;
	bool any_empty = false;

	if (cap == 0 || esz > sizeof(ent))
		return;
	/* A table known to be all zero, where a zero entry is empty: no
	 * entry, nothing to visit, what the loops below would find. */
	memset(ent, 0, sizeof(ent));
	if (empty(ent) && known_zero(v, t->off, (uint64_t)cap * esz))
		return;
	/* The run containing slot 0 may start before the end. */
	run = 0;
	for (p = cap; p-- > 0;) {
		memcpy(ent, base + (uint64_t)p * esz, esz);
		if (empty(ent)) {
			run = wcore_probe_next(p, cap);
			any_empty = true;
			break;
		}
	}
	for (p = 0; p < cap && !full(v); p++) {
		if (ahead != NULL && cap - p > PROBE_AHEAD)
			ahead(v, t, base + (uint64_t)(p + PROBE_AHEAD) * esz);
		memcpy(ent, base + (uint64_t)p * esz, esz);
		if (empty(ent)) {
			run = wcore_probe_next(p, cap);
			continue;
		}
		t->used++;
		h = home(ent, cap);
		if (any_empty && wcore_probe_dist(h, p, cap) >
		    wcore_probe_dist(run, p, cap)) {
			t->strays++;
			problem(v, t->where, t->index0 + p,
			    t->off + (uint64_t)p * esz, "entry is not "
			    "reachable from its home slot %u (empty slot "
			    "between)", h);
		}
		t->run = run;
		if (visit != NULL)
			visit(v, t, p, ent);
	}
}

static bool
nameidx_empty(const void *p)
{
	return ((const struct wapi_nameidx_entry *)p)->handle == 0;
}

static uint32_t
nameidx_home(const void *p, uint32_t cap)
{
	return wcore_nameidx_home(((const struct wapi_nameidx_entry *)p)->hash,
	    cap);
}

/* (hash, slot index) of every name index entry, for the duplicate check,
 * and the start of the index run (cluster) it sits in. */
struct hslot {
	uint32_t hash, slot, run;
};

static int
hslot_cmp(const void *a, const void *b)
{
	const struct hslot *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

struct nctx {
	struct hslot *hs;
	size_t n, cap;
};

static void
nameidx_visit(struct vstate *v, struct ptable *t, uint32_t p, const void *ep)
{
	const struct wapi_nameidx_entry *x = ep;
	struct nctx *c = t->ctx;
	uint64_t off = t->off + (uint64_t)p * sizeof(*x);
	uint32_t i;
	uint8_t m, k;

	if (x->handle > v->hwm) {
		problem(v, WCORE_W_NAMEIDX, p, off, "entry points at slot %u, "
		    "at or above handle_hwm %u", x->handle - 1, v->hwm);
		return;
	}
	i = x->handle - 1;
	k = v->kinds[i];
	if (!(k & K_LIVE) || !(k & K_NAMED)) {
		problem(v, WCORE_W_NAMEIDX, p, off, "entry points at slot %u, "
		    "which is %s", i, (k & K_FREE) ? "free" :
		    !(k & K_LIVE) ? "corrupt" : "not named");
		return;
	}
	m = v->marks[i];
	if (v->nhash[i] != x->hash) {
		problem(v, WCORE_W_NAMEIDX, p, off, "entry hash 0x%08x differs "
		    "from slot %u's name hash 0x%08x", x->hash, i, v->nhash[i]);
		return;
	}
	if (m & M_INDEXED) {
		problem(v, WCORE_W_NAMEIDX, p, off, "second entry for slot %u",
		    i);
		return;
	}
	v->marks[i] |= M_INDEXED;
	/* cap: the file may change under a live validation. */
	if (c->n < c->cap && (m & M_NAMEOK)) {
		c->hs[c->n].hash = x->hash;
		c->hs[c->n].slot = i;
		c->hs[c->n].run = t->run;
		c->n++;
	}
}

/* Prefetch what nameidx_visit will read of the slot an entry names. */
static void
nameidx_ahead(const struct vstate *v, const struct ptable *t,
    const unsigned char *ep)
{
	uint32_t hd;

	memcpy(&hd, ep + offsetof(struct wapi_nameidx_entry, handle),
	    sizeof(hd));
	if (hd - 1 < v->hwm) {
		__builtin_prefetch(&v->kinds[hd - 1]);
		__builtin_prefetch(&v->marks[hd - 1]);
		__builtin_prefetch(&v->nhash[hd - 1]);
	}
}

static const char *
name_at(const struct vstate *v, uint32_t i)
{
	return (const char *)v->base + v->off[WAPI_R_NAMES] +
	    (uint64_t)i * sizeof(struct wapi_name_entry);
}

/*
 * Whether two of hs[0..n) (one index cluster) have equal hashes and equal
 * names, each compared with the lowest slot of its hash as the report
 * below does.  Sorts hs in place: the order does not matter to the report,
 * which sorts all entries again.
 */
static bool
names_dup_in(const struct vstate *v, struct hslot *hs, size_t n)
{
	struct hslot x;
	size_t a, b, k;

	if (n < 2)
		return false;
	if (n == 2 && hs[0].hash != hs[1].hash)
		return false;
	if (n <= 16) {
		for (a = 1; a < n; a++) {
			x = hs[a];
			for (k = a; k > 0 && hslot_cmp(&hs[k - 1], &x) > 0; k--)
				hs[k] = hs[k - 1];
			hs[k] = x;
		}
	} else
		qsort(hs, n, sizeof(*hs), hslot_cmp);
	for (a = 0; a < n; a = b)
		for (b = a + 1; b < n && hs[b].hash == hs[a].hash; b++)
			if (strncmp(name_at(v, hs[a].slot),
			    name_at(v, hs[b].slot), WAPI_NAME_MAX + 1) == 0)
				return true;
	return false;
}

/*
 * Whether the name index may hold two entries of one name.  Equal names
 * have equal hashes, so equal homes, and an entry reachable from its home
 * sits in the cluster (run of occupied slots) of that home: looking inside
 * each cluster is enough unless some entry strays, and clusters are short
 * where a full sort of a million entries is not.  The entries of one
 * cluster are adjacent in hs, but for the cluster through slot 0, whose
 * start lies near the end of the index: it is at both ends.
 */
static bool
names_dup_possible(const struct vstate *v, struct hslot *hs, size_t n,
    uint32_t strays)
{
	struct hslot *wrap;
	size_t a, b, first, last;
	bool dup;

	if (strays > 0)
		return true;
	if (n < 2)
		return false;
	for (first = 1; first < n && hs[first].run == hs[0].run; first++)
		;
	last = n;
	if (first < n && hs[n - 1].run == hs[0].run)
		for (last = n - 1; hs[last - 1].run == hs[0].run; last--)
			;
	for (a = first; a < last; a = b) {
		for (b = a + 1; b < last && hs[b].run == hs[a].run; b++)
			;
		if (names_dup_in(v, hs + a, b - a))
			return true;
	}
	if (last == n)
		return names_dup_in(v, hs, first);
	if ((wrap = reallocarray(NULL, first + (n - last), sizeof(*wrap))) ==
	    NULL)
		return true;	/* the full sort decides */
	memcpy(wrap, hs, first * sizeof(*wrap));
	memcpy(wrap + first, hs + last, (n - last) * sizeof(*wrap));
	dup = names_dup_in(v, wrap, first + (n - last));
	free(wrap);
	return dup;
}

/* The names of the live named slots in [from, to): terminated, not empty,
 * UTF-8, hashing to the slot's name_hash.  Marks them M_NAMEOK. */
static void
names_range(struct vstate *v, uint32_t from, uint32_t to)
{
	char name[WAPI_NAME_MAX + 1];
	const char *why, *src, *z;
	uint64_t noff;
	size_t n;
	uint32_t i;
	const uint8_t want = K_LIVE | K_NAMED | K_FLAGSOK;

	for (i = from; i < to && !full(v); i++) {
		if ((v->kinds[i] & want) != want)
			continue;
		noff = v->off[WAPI_R_NAMES] +
		    (uint64_t)i * sizeof(struct wapi_name_entry);
		/* Only the name's bytes are copied, not the 261 of its slot. */
		src = name_at(v, i);
		if ((z = memchr(src, '\0', sizeof(name))) == NULL) {
			problem(v, WCORE_W_NAMES, i, noff,
			    "name is not NUL-terminated");
			continue;
		}
		n = (size_t)(z - src);
		memcpy(name, src, n);
		name[n] = '\0';
		if (n == 0) {
			problem(v, WCORE_W_NAMES, i, noff, "name is empty");
			continue;
		}
		if ((why = wcore_object_name_check(name, WAPI_NAME_MAX))
		    != NULL) {
			problem(v, WCORE_W_NAMES, i, noff, "name: %s", why);
			continue;
		}
		if (wcore_name_hash(name, n) != v->nhash[i]) {
			problem(v, WCORE_W_HANDLES, i,
			    handle_off(v, i) + EOFF(name_hash), "name hash "
			    "0x%08x is not the hash of its name (0x%08x)",
			    v->nhash[i], wcore_name_hash(name, n));
			continue;
		}
		v->marks[i] |= M_NAMEOK;
	}
}

/*
 * Work done apart, as a job on a second thread (pool.c): on a big file,
 * the upper half of the names, then the clients while the name index is
 * checked.  They read the map and kinds[], write only what is theirs
 * (marks of their own slots, a copy of the state), and report apart: on a
 * copy of v whose findings go to a report of its own with the same limit.
 * part_merge() appends them to v's as if the work had been done then, in
 * order: a pass that runs later in the single-pass order but earlier in
 * time gives the same report, and so does a job that got no thread and
 * ran in place.
 */
struct part {
	struct vstate w;
	struct wcore_report r;
	uint32_t from, to;	/* names_worker: the slots */
	struct wcore_job job;
};

static struct part *
part_new(const struct vstate *v)
{
	struct part *pt;

	if ((pt = malloc(sizeof(*pt))) == NULL)
		return NULL;
	pt->w = *v;
	memset(&pt->r, 0, sizeof(pt->r));
	pt->r.limit = v->r->limit;
	pt->w.r = &pt->r;
	pt->w.added = 0;
	return pt;
}

/* Wait for the part, then take over its findings, as far as v has room. */
static void
part_merge(struct vstate *v, struct part *pt)
{
	struct wcore_problem *p;
	size_t k;

	wcore_job_wait(&pt->job);
	for (k = 0; k < pt->r.count; k++)
		if ((p = problem_slot(v)) != NULL)
			*p = pt->r.problems[k];
	/* Those it counted but could not store (out of memory). */
	for (k = pt->r.count; k < pt->w.added && !full(v); k++)
		v->added++;
	wcore_report_free(&pt->r);
	free(pt);
}

static void *
names_worker(void *arg)
{
	struct part *pt = arg;

	names_range(&pt->w, pt->from, pt->to);
	return NULL;
}

/*
 * The names are the longest pass over a big file: a 264-byte slot per
 * handle to bring in, then UTF-8 and hash work per name.  From
 * NAMES_SPLIT_MIN slots on, a part takes the upper half.  Each half writes
 * the marks of its own slots only.
 */
#define NAMES_SPLIT_MIN	65536u

static void
check_name_strings(struct vstate *v)
{
	struct part *pt;

	if (v->hwm < NAMES_SPLIT_MIN || (pt = part_new(v)) == NULL) {
		names_range(v, 0, v->hwm);
		return;
	}
	pt->from = v->hwm / 2;
	pt->to = v->hwm;
	wcore_job_start(&pt->job, names_worker, pt);
	names_range(v, 0, pt->from);
	part_merge(v, pt);
}

/* The name index both ways, and duplicate names (after the strings). */
static void
check_name_index(struct vstate *v)
{
	struct ptable t;
	struct nctx c;
	size_t k, a, b;
	uint32_t i;
	const uint8_t want = K_LIVE | K_NAMED | K_FLAGSOK;

	memset(&c, 0, sizeof(c));
	if (v->named_live > 0 &&
	    (c.hs = reallocarray(NULL, v->named_live, sizeof(*c.hs))) ==
	    NULL) {
		problem(v, WCORE_W_FILE, -1, 0, "out of memory checking names");
		return;
	}
	c.cap = c.hs != NULL ? v->named_live : 0;
	memset(&t, 0, sizeof(t));
	t.where = WCORE_W_NAMEIDX;
	t.off = v->off[WAPI_R_NAMEIDX];
	t.cap = v->cap[WAPI_R_NAMEIDX];
	t.esz = sizeof(struct wapi_nameidx_entry);
	t.empty = nameidx_empty;
	t.home = nameidx_home;
	t.visit = nameidx_visit;
	t.ahead = nameidx_ahead;
	t.ctx = &c;
	probe_check(v, &t);

	/*
	 * Duplicates have equal hashes: sort and compare within runs.  The
	 * sort of every entry runs only when a cluster shows a duplicate (or
	 * an entry strays), and then reports exactly as it always did.
	 */
	if (!full(v) && names_dup_possible(v, c.hs, c.n, t.strays)) {
		if (c.n > 1)
			qsort(c.hs, c.n, sizeof(*c.hs), hslot_cmp);
		for (a = 0; a < c.n && !full(v); a = b) {
			for (b = a + 1; b < c.n && c.hs[b].hash == c.hs[a].hash;
			    b++)
				;
			for (k = a + 1; k < b && k - a < 64; k++)
				/* Bounded: the map may change under a live
				 * file. */
				if (strncmp(name_at(v, c.hs[a].slot),
				    name_at(v, c.hs[k].slot),
				    WAPI_NAME_MAX + 1) == 0)
					problem(v, WCORE_W_NAMES, c.hs[k].slot,
					    v->off[WAPI_R_NAMES] + (uint64_t)
					    c.hs[k].slot * sizeof(struct
					    wapi_name_entry), "name is also "
					    "held by slot %u", c.hs[a].slot);
		}
	}
	free(c.hs);

	for (i = 0; i < v->hwm && !full(v); i++)
		if ((v->kinds[i] & want) == want &&
		    !(v->marks[i] & M_INDEXED))
			problem(v, WCORE_W_NAMES, i, v->off[WAPI_R_NAMES] +
			    (uint64_t)i * sizeof(struct wapi_name_entry),
			    "named slot %u is missing from the name index", i);
	if (!full(v) && t.used != v->h.names_used)
		problem(v, WCORE_W_HEADER, -1, HOFF(names_used), "names_used "
		    "is %u but the name index holds %u entries",
		    v->h.names_used, t.used);
}

static bool
cref_empty(const void *p)
{
	return ((const struct wapi_cref_entry *)p)->handle == 0;
}

static uint32_t
cref_home(const void *p, uint32_t cap)
{
	return wcore_cref_home(((const struct wapi_cref_entry *)p)->handle,
	    cap);
}

/* Per handle slot, over all clients: one cache line per random visit. */
struct cacc {
	uint64_t sum;		/* counts over all clients */
	uint32_t last;		/* client + 1 that last named it */
};

struct cctx {
	struct cacc *acc;	/* [hwm] */
	uint32_t client;
	uint64_t total;
};

static void
cref_visit(struct vstate *v, struct ptable *t, uint32_t p, const void *ep)
{
	const struct wapi_cref_entry *x = ep;
	struct cctx *c = t->ctx;
	uint64_t off = t->off + (uint64_t)p * sizeof(*x);
	uint32_t i;
	uint8_t k;

	c->total += x->count;
	if (x->handle > v->hwm) {
		problem(v, WCORE_W_CREFS, t->index0 + p, off,
		    "client %u refers to slot %u, at or above handle_hwm %u",
		    c->client, x->handle - 1, v->hwm);
		return;
	}
	i = x->handle - 1;
	k = v->kinds[i];
	if (!(k & K_LIVE)) {
		problem(v, WCORE_W_CREFS, t->index0 + p, off,
		    "client %u refers to slot %u, which is %s", c->client, i,
		    (k & K_FREE) ? "free" : "corrupt");
		return;
	}
	if (x->count == 0) {
		problem(v, WCORE_W_CREFS, t->index0 + p, off, "client %u holds "
		    "slot %u with a count of 0", c->client, i);
		return;
	}
	if (c->acc[i].last == c->client + 1) {
		problem(v, WCORE_W_CREFS, t->index0 + p, off, "client %u "
		    "holds slot %u twice", c->client, i);
		return;
	}
	c->acc[i].last = c->client + 1;
	c->acc[i].sum += x->count;
}

/* Prefetch what cref_visit will read and write of the slot an entry names. */
static void
cref_ahead(const struct vstate *v, const struct ptable *t,
    const unsigned char *ep)
{
	const struct cctx *c = t->ctx;
	uint32_t hd;

	memcpy(&hd, ep + offsetof(struct wapi_cref_entry, handle), sizeof(hd));
	if (hd - 1 < v->hwm) {
		__builtin_prefetch(&v->kinds[hd - 1]);
		__builtin_prefetch(&c->acc[hd - 1], 1);
	}
}

/* Index of the first non-zero 8-byte word in [p, p+n), or n/8 if none. */
static size_t
first_nonzero(const unsigned char *p, size_t n)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	size_t i, k, nw = n / 8;
	uint64_t acc;

	/* A page at a time, without a branch per word. */
	for (i = 0; i < nw; i += 512) {
		acc = 0;
		for (k = i; k < nw && k < i + 512; k++)
			acc |= w[k];
		if (acc != 0)
			for (k = i; k < nw; k++)
				if (w[k] != 0)
					return k;
	}
	return nw;
}

/* The client slots' states, and clients_used against the attached ones. */
static void
clients_count(struct vstate *v)
{
	struct wapi_client_entry ce;
	uint32_t ccap = v->cap[WAPI_R_CLIENTS], i;
	uint64_t coff;

	for (i = 0; i < ccap && !full(v); i++) {
		coff = v->off[WAPI_R_CLIENTS] + (uint64_t)i * sizeof(ce);
		read_entry(v, coff, &ce, sizeof(ce));
		if (ce.state == WAPI_CS_ATTACHED)
			v->attached++;
		else if (ce.state != WAPI_CS_FREE)
			problem(v, WCORE_W_CLIENTS, i, coff, "client state %u "
			    "is unknown", ce.state);
	}
	if (!full(v) && v->attached != v->h.clients_used)
		problem(v, WCORE_W_HEADER, -1, HOFF(clients_used),
		    "clients_used is %u but %u clients are attached",
		    v->h.clients_used, v->attached);
}

/* Client i's reference block: all zero for a free client, else a sound
 * probe table agreeing with the slot's counters (sums into c->acc). */
static void
client_block(struct vstate *v, uint32_t i, struct cctx *c)
{
	struct wapi_client_entry ce;
	struct ptable t;
	uint32_t rpc = v->h.refs_per_client;
	uint64_t coff, boff;
	size_t k, blen = (size_t)rpc * sizeof(struct wapi_cref_entry);

	coff = v->off[WAPI_R_CLIENTS] + (uint64_t)i * sizeof(ce);
	read_entry(v, coff, &ce, sizeof(ce));
	boff = v->off[WAPI_R_CREFS] + (uint64_t)i * blen;
	if (ce.state != WAPI_CS_ATTACHED) {
		k = known_zero(v, boff, blen) ? blen / 8 :
		    first_nonzero(v->base + boff, blen);
		if (k < blen / 8)
			problem(v, WCORE_W_CREFS, (int64_t)i * rpc + (int64_t)k,
			    boff + k * 8, "free client %u has references", i);
		return;
	}
	memset(&t, 0, sizeof(t));
	t.where = WCORE_W_CREFS;
	t.off = boff;
	t.index0 = (int64_t)i * rpc;
	t.cap = rpc;
	t.esz = sizeof(struct wapi_cref_entry);
	t.empty = cref_empty;
	t.home = cref_home;
	t.visit = cref_visit;
	t.ahead = cref_ahead;
	t.ctx = c;
	c->client = i;
	c->total = 0;
	probe_check(v, &t);
	if (full(v))
		return;
	if (t.used != ce.refs_used)
		problem(v, WCORE_W_CLIENTS, i, coff +
		    offsetof(struct wapi_client_entry, refs_used),
		    "refs_used is %u but the block holds %u entries",
		    ce.refs_used, t.used);
	else if (c->total != ce.refs_total)
		problem(v, WCORE_W_CLIENTS, i, coff +
		    offsetof(struct wapi_client_entry, refs_total),
		    "refs_total is %u but the counts add up to %llu",
		    ce.refs_total, (unsigned long long)c->total);
}

static void
check_clients(struct vstate *v)
{
	struct cctx c;
	uint32_t i;

	clients_count(v);
	memset(&c, 0, sizeof(c));
	if (v->attached > 0 && v->hwm > 0 &&
	    (c.acc = zalloc(v->hwm, sizeof(*c.acc))) == NULL) {
		problem(v, WCORE_W_FILE, -1, 0,
		    "out of memory checking client references");
		return;
	}
	for (i = 0; i < v->cap[WAPI_R_CLIENTS] && !full(v); i++)
		client_block(v, i, &c);
	/* With nobody attached the counts are stale until a recovery. */
	if (c.acc != NULL) {
		for (i = 0; i < v->hwm && !full(v); i++) {
			if ((v->kinds[i] & K_LIVE) && v->refs[i] != c.acc[i].sum)
				problem(v, WCORE_W_HANDLES, i,
				    handle_off(v, i) + EOFF(refs), "refs is %u "
				    "but clients hold %llu", v->refs[i],
				    (unsigned long long)c.acc[i].sum);
		}
	}
	free(c.acc);
}

static void *
clients_worker(void *arg)
{
	struct part *pt = arg;

	check_clients(&pt->w);
	return NULL;
}

static bool
share_empty(const void *p)
{
	return ((const struct wapi_share_entry *)p)->opens == 0;
}

static uint32_t
share_home(const void *p, uint32_t cap)
{
	const struct wapi_share_entry *s = p;

	return wcore_share_home(s->dev, s->ino, cap);
}

static void
share_visit(struct vstate *v, struct ptable *t, uint32_t p, const void *ep)
{
	static const char *const what[WAPI_FD_BITS] = {
		[WAPI_FD_BIT_READ] = "read",
		[WAPI_FD_BIT_WRITE] = "write",
		[WAPI_FD_BIT_DELETE] = "delete",
	};
	const struct wapi_share_entry *s = ep;
	uint64_t off = t->off + (uint64_t)p * sizeof(*s);
	int k;

	for (k = 0; k < WAPI_FD_BITS; k++) {
		if (s->access[k] > s->opens) {
			problem(v, WCORE_W_SHARES, p, off +
			    offsetof(struct wapi_share_entry, access) + 4 * k,
			    "%u opens but %u with %s access", s->opens,
			    s->access[k], what[k]);
			return;
		}
		if (s->denied[k] > s->opens) {
			problem(v, WCORE_W_SHARES, p, off +
			    offsetof(struct wapi_share_entry, denied) + 4 * k,
			    "%u opens but %u not sharing %s", s->opens,
			    s->denied[k], what[k]);
			return;
		}
	}
}

static void
check_shares(struct vstate *v)
{
	struct ptable t;

	memset(&t, 0, sizeof(t));
	t.where = WCORE_W_SHARES;
	t.off = v->off[WAPI_R_SHARES];
	t.cap = v->cap[WAPI_R_SHARES];
	t.esz = sizeof(struct wapi_share_entry);
	t.empty = share_empty;
	t.home = share_home;
	t.visit = share_visit;
	probe_check(v, &t);
	if (!full(v) && t.used != v->h.shares_used)
		problem(v, WCORE_W_HEADER, -1, HOFF(shares_used), "shares_used "
		    "is %u but the table holds %u entries", v->h.shares_used,
		    t.used);
}

/*
 * Wait record w (a copy whose seq was even and unchanged around the copy)
 * of an attached client: a wait names its thread, known flags, 1 to 64
 * objects, the first min(count, 8) of them slots in use so far, the rest 0;
 * an empty record is all zero but its seq.
 */
static void
wait_record(struct vstate *v, uint64_t idx, const struct wapi_wait_record *w)
{
	uint64_t off = v->off[WAPI_R_WAITS] + idx * sizeof(*w);
	uint32_t k, n;

	if (w->tid == 0) {
		if (first_nonzero((const unsigned char *)w + 8,
		    sizeof(*w) - 8) < (sizeof(*w) - 8) / 8)
			problem(v, WCORE_W_WAITS, (int64_t)idx, off + 8,
			    "a record without a thread holds a wait");
		return;
	}
	if (w->tid < 0 || (w->wflags & ~WAPI_WF_ALL) != 0 || w->count == 0 ||
	    w->count > WCORE_SLEEP_COLS) {
		problem(v, WCORE_W_WAITS, (int64_t)idx, off + 4, "record of "
		    "thread %d: flags %#x, %u objects (1 to %u allowed)",
		    (int)w->tid, (unsigned)w->wflags, (unsigned)w->count,
		    WCORE_SLEEP_COLS);
		return;
	}
	n = w->count < WAPI_WAIT_HANDLES ? w->count : WAPI_WAIT_HANDLES;
	for (k = 0; k < WAPI_WAIT_HANDLES; k++) {
		if (k < n ? w->handles[k] != 0 && w->handles[k] <= v->hwm :
		    w->handles[k] == 0)
			continue;
		problem(v, WCORE_W_WAITS, (int64_t)idx, off +
		    offsetof(struct wapi_wait_record, handles) + 4 * k,
		    "record of thread %d: object %u is slot %u of %u used",
		    (int)w->tid, k + 1, w->handles[k], v->hwm);
		return;
	}
}

/* The wait records: all zero in a free client slot; in an attached one,
 * each record that is not being written is sound (wait_record). */
static void
check_waits(struct vstate *v)
{
	struct wapi_client_entry ce;
	struct wapi_wait_record w;
	const unsigned char *b;
	uint32_t i, k;
	uint64_t idx;
	size_t blen = WAPI_WAIT_RECORDS * sizeof(w), z;

	for (i = 0; i < v->cap[WAPI_R_CLIENTS] && !full(v); i++) {
		memcpy(&ce, v->base + v->off[WAPI_R_CLIENTS] +
		    (uint64_t)i * sizeof(ce), sizeof(ce));
		idx = (uint64_t)i * WAPI_WAIT_RECORDS;
		b = v->base + v->off[WAPI_R_WAITS] + idx * sizeof(w);
		if (ce.state != WAPI_CS_ATTACHED) {
			z = first_nonzero(b, blen);
			if (z < blen / 8)
				problem(v, WCORE_W_WAITS, (int64_t)(idx +
				    z * 8 / sizeof(w)), v->off[WAPI_R_WAITS] +
				    idx * sizeof(w) + z * 8, "free client %u "
				    "has a wait record", i);
			continue;
		}
		for (k = 0; k < WAPI_WAIT_RECORDS && !full(v); k++)
			if (wcore_wait_snapshot((const void *)(b +
			    k * sizeof(w)), &w) >= 0)
				wait_record(v, idx + k, &w);
	}
}

#define CLIENTS_APART_MIN	(8u << 20)	/* bytes of reference blocks */

size_t
wcore_validate(const void *map, size_t len, struct wcore_report *r)
{
	return wcore_validate_sparse(map, len, NULL, 0, r);
}

size_t
wcore_validate_sparse(const void *map, size_t len,
    const struct wcore_extent *data, size_t ndata, struct wcore_report *r)
{
	struct vstate v;
	struct part *pt;

	memset(&v, 0, sizeof(v));
	v.base = map;
	v.len = len;
	v.r = r;
	v.data = data;
	v.ndata = ndata;
	if (len < WAPI_HEADER_SIZE) {
		problem(&v, WCORE_W_FILE, -1, len, "mapping is %zu bytes, "
		    "shorter than the %u-byte header", len, WAPI_HEADER_SIZE);
		return v.added;
	}
	/* The mapping is the file: its length is the size to check. */
	if (!check_header(&v, len) || full(&v))
		return v.added;
	if (v.h.file_size > len)
		return v.added;
	if (v.hwm > 0 && ((v.marks = zalloc(v.hwm, 1)) == NULL ||
	    (v.kinds = zalloc(v.hwm, 1)) == NULL ||
	    (v.nhash = zalloc(v.hwm, sizeof(*v.nhash))) == NULL ||
	    (v.refs = zalloc(v.hwm, sizeof(*v.refs))) == NULL)) {
		free(v.marks);
		free(v.kinds);
		free(v.nhash);
		problem(&v, WCORE_W_FILE, -1, 0, "out of memory validating");
		return v.added;
	}
	check_handles(&v);
	if (!full(&v))
		check_freelist(&v);
	if (!full(&v))
		check_name_strings(&v);
	/*
	 * The clients depend on nothing the name index check writes: on a
	 * file whose reference blocks are big (128 MiB by default, read in
	 * full unless known to be zero) they are checked meanwhile,
	 * reporting after it.
	 */
	pt = NULL;
	if (!full(&v) && data_bytes(&v, v.off[WAPI_R_CREFS],
	    (uint64_t)v.cap[WAPI_R_CREFS] * sizeof(struct wapi_cref_entry)) >=
	    CLIENTS_APART_MIN && (pt = part_new(&v)) != NULL)
		wcore_job_start(&pt->job, clients_worker, pt);
	if (!full(&v))
		check_name_index(&v);
	if (pt != NULL)
		part_merge(&v, pt);
	else if (!full(&v))
		check_clients(&v);
	if (!full(&v))
		check_shares(&v);
	if (!full(&v))
		check_waits(&v);
	free(v.marks);
	free(v.kinds);
	free(v.nhash);
	free(v.refs);
	return v.added;
}
