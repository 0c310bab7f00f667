/*
 * Tests of src/core/validate.c: a valid, populated state file (built by
 * tfmt.h's independent writer) is corrupted to break exactly one rule at a
 * time, and the report's first problem must name the rule's region, entry
 * index and byte offset.  The checksum is recomputed after each corruption
 * (except where the checksum is the point) so that one rule breaks alone.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfmt.h"

#define HO(f)		((uint64_t)offsetof(struct wapi_header, f))
#define RO(i, f)	(HO(regions) + (uint64_t)(i) * \
	sizeof(struct wapi_region_desc) + offsetof(struct wapi_region_desc, f))
#define EO(i, f)	(P->regions[WAPI_R_HANDLES].offset + (uint64_t)(i) * 64 + \
	offsetof(struct wapi_handle_entry, f))
#define NO(i)		(P->regions[WAPI_R_NAMES].offset + (uint64_t)(i) * 264)
#define IXO(p)		(P->regions[WAPI_R_NAMEIDX].offset + (uint64_t)(p) * \
			    sizeof(struct wapi_nameidx_entry))
#define CO(c, f)	(P->regions[WAPI_R_CLIENTS].offset + (uint64_t)(c) * 64 + \
	offsetof(struct wapi_client_entry, f))
#define CRO(c, p)	(P->regions[WAPI_R_CREFS].offset + \
	((uint64_t)(c) * P->refs_per_client + (p)) * 8)
#define SO(p)		(P->regions[WAPI_R_SHARES].offset + (uint64_t)(p) * 48)
#define WO(c, k)	(P->regions[WAPI_R_WAITS].offset + \
	((uint64_t)(c) * WAPI_WAIT_RECORDS + (k)) * 64)

#define H(m)		((struct wapi_header *)(void *)(m))
#define HE(m, i)	(&WCORE_HANDLES(m)[i])

struct exp {
	enum wcore_where where;
	int64_t index;
	uint64_t off;
	bool incompatible;
	bool keep_sum;		/* do not recompute the checksum */
	size_t len;		/* validate this many bytes (0: all) */
};

static unsigned char *pristine, *work;
static size_t plen;
static const struct wapi_header *P;

/* Block slot of client c's entry for handle i. */
static uint32_t
cref_slot(unsigned char *m, uint32_t c, uint32_t i)
{
	int64_t p = tf_cref_find(m, c, i);

	if (p < 0)
		abort();
	return (uint32_t)p;
}

static uint32_t
idx_slot(unsigned char *m, uint32_t i)
{
	int64_t p = tf_nameidx_find(m, i);

	if (p < 0)
		abort();
	return (uint32_t)p;
}

/* ----------------------------------------------------- header cases */

#define CASE(n) static void n(unsigned char *m, struct exp *x)

CASE(c_magic) { m[3] ^= 0x20; x->where = WCORE_W_HEADER; x->off = 0; }
CASE(c_version)
{
	H(m)->version = WAPI_FORMAT_VERSION + 1;
	x->off = 8;
	x->incompatible = true;
}
CASE(c_header_size) { H(m)->header_size = 8192; x->off = 12; }
CASE(c_abi_unterminated) { memset(H(m)->abi, 'a', 16); x->off = 16; }
CASE(c_abi_unknown) { strcpy(H(m)->abi, "vax"); x->off = 16; }
CASE(c_abi_other)
{
	strcpy(H(m)->abi, strcmp(WAPI_ABI, "i386") ? "i386" : "x86_64");
	x->off = 16;
	x->incompatible = true;
}
CASE(c_bom) { H(m)->bom = 0x04030201; x->off = 32; x->incompatible = true; }
CASE(c_host_unterminated) { memset(H(m)->host, 'h', 72); x->off = 56; }
CASE(c_host_invalid) { strcpy(H(m)->host, "bad/host"); x->off = 56; }
CASE(c_host_empty) { H(m)->host[0] = '\0'; x->off = 56; }
CASE(c_boot_unterminated) { memset(H(m)->boot_id, '7', 40); x->off = 128; }
CASE(c_boot_short) { H(m)->boot_id[20] = '\0'; x->off = 128; }
CASE(c_file_size) { H(m)->file_size += 4096; x->where = WCORE_W_FILE; x->off = 40; }
CASE(c_one_byte_short) { x->len = plen - 1; x->where = WCORE_W_FILE; x->off = 40; }
CASE(c_region_count) { H(m)->region_count = WAPI_R_COUNT + 1; x->off = 172; }
CASE(c_off_unaligned)
{
	H(m)->regions[WAPI_R_NAMES].offset += 8;
	x->index = WAPI_R_NAMES;
	x->off = RO(WAPI_R_NAMES, offset);
}
CASE(c_off_in_header)
{
	H(m)->regions[WAPI_R_CLIENTS].offset = 0;
	x->index = WAPI_R_CLIENTS;
	x->off = RO(WAPI_R_CLIENTS, offset);
}
CASE(c_entry_size)
{
	H(m)->regions[WAPI_R_HANDLES].entry_size = 32;
	x->index = WAPI_R_HANDLES;
	x->off = RO(WAPI_R_HANDLES, entry_size);
}
CASE(c_size)
{
	H(m)->regions[WAPI_R_CLIENTS].size += 4096;
	x->index = WAPI_R_CLIENTS;
	x->off = RO(WAPI_R_CLIENTS, size);
}
CASE(c_cap_max)
{
	/* The size no longer matches: never multiplied into a pointer. */
	H(m)->regions[WAPI_R_HANDLES].capacity = UINT32_MAX;
	x->index = WAPI_R_HANDLES;
	x->off = RO(WAPI_R_HANDLES, size);
}
CASE(c_cap_max_sized)
{
	H(m)->regions[WAPI_R_HANDLES].capacity = UINT32_MAX;
	H(m)->regions[WAPI_R_HANDLES].size = ((uint64_t)UINT32_MAX * 64 +
	    4095) & ~4095ull;
	x->index = WAPI_R_HANDLES;
	x->off = RO(WAPI_R_HANDLES, offset);
}
CASE(c_crefs_max_sized)
{
	H(m)->regions[WAPI_R_CREFS].capacity = UINT32_MAX;
	H(m)->regions[WAPI_R_CREFS].size = ((uint64_t)UINT32_MAX * 8 +
	    4095) & ~4095ull;
	x->index = WAPI_R_CREFS;
	x->off = RO(WAPI_R_CREFS, offset);
}
CASE(c_past_end)
{
	H(m)->regions[WAPI_R_SHARES].offset = P->file_size;
	x->index = WAPI_R_SHARES;
	x->off = RO(WAPI_R_SHARES, offset);
}
CASE(c_past_end_wrap)
{
	/* offset + size wraps around 2^64. */
	H(m)->regions[WAPI_R_SHARES].offset = UINT64_MAX & ~4095ull;
	x->index = WAPI_R_SHARES;
	x->off = RO(WAPI_R_SHARES, offset);
}
CASE(c_overlap)
{
	H(m)->regions[WAPI_R_NAMES].offset =
	    P->regions[WAPI_R_NAMEIDX].offset;
	x->index = WAPI_R_NAMES;
	x->off = RO(WAPI_R_NAMES, offset);
}
CASE(c_overlap_swap)
{
	/* Two regions of equal size trade places with a third's. */
	H(m)->regions[WAPI_R_SHARES].offset =
	    P->regions[WAPI_R_CLIENTS].offset;
	x->index = WAPI_R_SHARES;
	x->off = RO(WAPI_R_SHARES, offset);
}
CASE(c_handles_few)
{
	H(m)->regions[WAPI_R_HANDLES].capacity = 8;	/* same size */
	x->index = WAPI_R_HANDLES;
	x->off = RO(WAPI_R_HANDLES, capacity);
}
CASE(c_nameidx_pow2)
{
	H(m)->regions[WAPI_R_NAMEIDX].capacity = 100;	/* same size */
	x->index = WAPI_R_NAMEIDX;
	x->off = RO(WAPI_R_NAMEIDX, capacity);
}
CASE(c_names_cap)
{
	H(m)->regions[WAPI_R_NAMES].capacity = 63;	/* same size */
	x->index = WAPI_R_NAMES;
	x->off = RO(WAPI_R_NAMES, capacity);
}
CASE(c_clients_zero)
{
	H(m)->regions[WAPI_R_CLIENTS].capacity = 0;
	H(m)->regions[WAPI_R_CLIENTS].size = 0;
	/* A zero-sized region overlaps nothing; its capacity is wrong. */
	x->index = WAPI_R_CLIENTS;
	x->off = RO(WAPI_R_CLIENTS, capacity);
}
CASE(c_rpc_zero) { H(m)->refs_per_client = 0; x->off = 168; }
CASE(c_rpc_max) { H(m)->refs_per_client = UINT32_MAX; x->off = 168; }
CASE(c_crefs_cap)
{
	H(m)->regions[WAPI_R_CLIENTS].capacity = 3;	/* same size */
	x->index = WAPI_R_CREFS;
	x->off = RO(WAPI_R_CREFS, capacity);
}
CASE(c_shares_pow2)
{
	H(m)->regions[WAPI_R_SHARES].capacity = 15;	/* same size */
	x->index = WAPI_R_SHARES;
	x->off = RO(WAPI_R_SHARES, capacity);
}
CASE(c_checksum) { H(m)->checksum ^= 1; x->off = 368; x->keep_sum = true; }
CASE(c_immutable_no_sum)
{
	H(m)->created++;
	x->off = 368;
	x->keep_sum = true;
}
CASE(c_hwm) { H(m)->handle_hwm = 65; x->off = HO(handle_hwm); }
CASE(c_free_head) { H(m)->handle_free_head = TF_S_HWM + 1; x->off = HO(handle_free_head); }
CASE(c_free_tail) { H(m)->handle_free_tail = TF_S_HWM + 1; x->off = HO(handle_free_tail); }
CASE(c_free_headless) { H(m)->handle_free_head = 0; x->off = HO(handle_free_tail); }
CASE(c_handles_used_big) { H(m)->handles_used = TF_S_HWM + 1; x->off = HO(handles_used); }
CASE(c_names_used_big) { H(m)->names_used = 65; x->off = HO(names_used); }
CASE(c_clients_used_big) { H(m)->clients_used = 5; x->off = HO(clients_used); }
CASE(c_shares_used_big) { H(m)->shares_used = 17; x->off = HO(shares_used); }

/* ------------------------------------------------------ handle cases */

CASE(c_type)
{
	HE(m, TF_S_SEM)->type = 42;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_SEM;
	x->off = EO(TF_S_SEM, type);
}
CASE(c_free_refs)
{
	HE(m, TF_S_FREE1)->refs = 1;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_FREE1;
	x->off = EO(TF_S_FREE1, refs);
}
CASE(c_free_named)
{
	HE(m, TF_S_FREE2)->flags = WAPI_HF_NAMED;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_FREE2;
	x->off = EO(TF_S_FREE2, flags);
}
CASE(c_live_refs0)
{
	HE(m, TF_S_PROC)->refs = 0;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_PROC;
	x->off = EO(TF_S_PROC, refs);
}
CASE(c_flags)
{
	HE(m, TF_S_EVENT)->flags |= WAPI_HF_EXITED;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_EVENT;
	x->off = EO(TF_S_EVENT, flags);
}
CASE(c_flags_named_file)
{
	HE(m, TF_S_FILE)->flags |= WAPI_HF_NAMED;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_FILE;
	x->off = EO(TF_S_FILE, flags);
}
CASE(c_event_signalled)
{
	HE(m, TF_S_EVENT)->u.event.signalled = 2;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_EVENT;
	x->off = EO(TF_S_EVENT, u.event.signalled);
}
CASE(c_sem_over)
{
	HE(m, TF_S_SEM)->u.sem.count = 6;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_SEM;
	x->off = EO(TF_S_SEM, u.sem.count);
}
CASE(c_sem_negative)
{
	HE(m, TF_S_SEMNAME)->u.sem.count = -1;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_SEMNAME;
	x->off = EO(TF_S_SEMNAME, u.sem.count);
}
CASE(c_sem_max0)
{
	HE(m, TF_S_SEM)->u.sem.max = 0;
	HE(m, TF_S_SEM)->u.sem.count = 0;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_SEM;
	x->off = EO(TF_S_SEM, u.sem.max);
}
CASE(c_mutex_recursion)
{
	HE(m, TF_S_MUTEX)->u.mutex.recursion = 0;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_MUTEX;
	x->off = EO(TF_S_MUTEX, u.mutex.recursion);
}
CASE(c_mutex_unowned_recursion)
{
	HE(m, TF_S_MUTEX)->u.mutex.owner_tid = 0;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_MUTEX;
	x->off = EO(TF_S_MUTEX, u.mutex.recursion);
}
CASE(c_mutex_pid_negative)
{
	HE(m, TF_S_MUTEX)->u.mutex.owner_pid = -5;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_MUTEX;
	x->off = EO(TF_S_MUTEX, u.mutex.owner_pid);
}
CASE(c_mutex_client)
{
	HE(m, TF_S_MUTEX)->u.mutex.owner_client = 5;
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_MUTEX;
	x->off = EO(TF_S_MUTEX, u.mutex.owner_client);
}
CASE(c_handles_used)
{
	H(m)->handles_used--;
	x->off = HO(handles_used);
}

/* --------------------------------------------------- free list cases */

CASE(c_fl_cycle)
{
	/* FREE2 (the tail) links back to FREE1 (the head). */
	HE(m, TF_S_FREE2)->next_free = TF_S_FREE1 + 1;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE2;
	x->off = EO(TF_S_FREE2, next_free);
}
CASE(c_fl_self)
{
	HE(m, TF_S_FREE1)->next_free = TF_S_FREE1 + 1;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE1;
	x->off = EO(TF_S_FREE1, next_free);
}
CASE(c_fl_above_hwm)
{
	HE(m, TF_S_FREE1)->next_free = TF_S_HWM + 1;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE1;
	x->off = EO(TF_S_FREE1, next_free);
}
CASE(c_fl_live)
{
	HE(m, TF_S_FREE1)->next_free = TF_S_EVENT + 1;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE1;
	x->off = EO(TF_S_FREE1, next_free);
}
CASE(c_fl_backlink)
{
	/* FREE2 follows FREE1 but says it heads the list. */
	HE(m, TF_S_FREE2)->u.fl.prev_free = 0;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE2;
	x->off = EO(TF_S_FREE2, u.fl.prev_free);
}
CASE(c_fl_head_live)
{
	H(m)->handle_free_head = TF_S_SEM + 1;
	x->where = WCORE_W_FREELIST;
	x->index = -1;
	x->off = HO(handle_free_head);
}
CASE(c_fl_tail)
{
	H(m)->handle_free_tail = TF_S_FREE1 + 1;
	x->where = WCORE_W_FREELIST;
	x->off = HO(handle_free_tail);
}
CASE(c_fl_incomplete)
{
	/* FREE2 drops off the list but stays free. */
	HE(m, TF_S_FREE1)->next_free = 0;
	H(m)->handle_free_tail = TF_S_FREE1 + 1;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE2;
	x->off = EO(TF_S_FREE2, futex);
}
CASE(c_fl_empty_but_free)
{
	H(m)->handle_free_head = H(m)->handle_free_tail = 0;
	x->where = WCORE_W_FREELIST;
	x->index = TF_S_FREE1;
	x->off = EO(TF_S_FREE1, futex);
}

/* ------------------------------------------------------- name cases */

CASE(c_name_unterminated)
{
	memset(WCORE_NAMES(m)[TF_S_EVENT].name, 'A', 264);
	x->where = WCORE_W_NAMES;
	x->index = TF_S_EVENT;
	x->off = NO(TF_S_EVENT);
}
CASE(c_name_utf8)
{
	strcpy(WCORE_NAMES(m)[TF_S_MUTEX].name, "bad\xff\xfe");
	x->where = WCORE_W_NAMES;
	x->index = TF_S_MUTEX;
	x->off = NO(TF_S_MUTEX);
}
CASE(c_name_overlong)
{
	/* An overlong encoding of '/' (C0 AF). */
	strcpy(WCORE_NAMES(m)[TF_S_MUTEX].name, "a\xc0\xaf");
	x->where = WCORE_W_NAMES;
	x->index = TF_S_MUTEX;
	x->off = NO(TF_S_MUTEX);
}
CASE(c_name_truncated_utf8)
{
	/* "sémaphore-€" cut inside the euro sign. */
	WCORE_NAMES(m)[TF_S_SEMNAME].name[13] = '\0';
	x->where = WCORE_W_NAMES;
	x->index = TF_S_SEMNAME;
	x->off = NO(TF_S_SEMNAME);
}
CASE(c_name_empty)
{
	WCORE_NAMES(m)[TF_S_EVENT].name[0] = '\0';
	x->where = WCORE_W_NAMES;
	x->index = TF_S_EVENT;
	x->off = NO(TF_S_EVENT);
}
CASE(c_name_hash)
{
	WCORE_NAMES(m)[TF_S_EVENT].name[5] = 'f';	/* "ev-onf" */
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_EVENT;
	x->off = EO(TF_S_EVENT, name_hash);
}
CASE(c_idx_free_slot)
{
	uint32_t p = tf_nameidx_put(m, 0x12345678, TF_S_FREE1 + 1);

	H(m)->names_used++;
	x->where = WCORE_W_NAMEIDX;
	x->index = p;
	x->off = IXO(p);
}
CASE(c_idx_unnamed_slot)
{
	uint32_t p = tf_nameidx_put(m, 0x12345678, TF_S_SEM + 1);

	H(m)->names_used++;
	x->where = WCORE_W_NAMEIDX;
	x->index = p;
	x->off = IXO(p);
}
CASE(c_idx_above_hwm)
{
	uint32_t p = tf_nameidx_put(m, 0x12345678, TF_S_HWM + 5);

	H(m)->names_used++;
	x->where = WCORE_W_NAMEIDX;
	x->index = p;
	x->off = IXO(p);
}
CASE(c_idx_hash)
{
	/* Same home slot, different hash. */
	uint32_t p = idx_slot(m, TF_S_MUTEX);

	WCORE_NAMEIDX(m)[p].hash += P->regions[WAPI_R_NAMEIDX].capacity;
	x->where = WCORE_W_NAMEIDX;
	x->index = p;
	x->off = IXO(p);
}
CASE(c_idx_twice)
{
	uint32_t p = tf_nameidx_put(m, HE(m, TF_S_EVENT)->name_hash,
	    TF_S_EVENT + 1);

	H(m)->names_used++;
	x->where = WCORE_W_NAMEIDX;
	x->index = p;
	x->off = IXO(p);
}
CASE(c_idx_missing)
{
	HE(m, TF_S_SEMNAME)->flags &= ~WAPI_HF_NAMED;
	tf_nameidx_rebuild(m);
	HE(m, TF_S_SEMNAME)->flags |= WAPI_HF_NAMED;
	x->where = WCORE_W_NAMES;
	x->index = TF_S_SEMNAME;
	x->off = NO(TF_S_SEMNAME);
}
CASE(c_idx_probe)
{
	struct wapi_nameidx_entry *ix = WCORE_NAMEIDX(m), e;
	uint32_t cap = P->regions[WAPI_R_NAMEIDX].capacity, p, q;

	p = idx_slot(m, TF_S_EVENT);
	e = ix[p];
	memset(&ix[p], 0, sizeof(ix[p]));
	/* The first empty slot from home, then the next empty one. */
	for (q = wcore_nameidx_home(e.hash, cap); ix[q].handle != 0;
	    q = wcore_probe_next(q, cap))
		;
	q = wcore_probe_next(q, cap);
	while (ix[q].handle != 0)
		q = wcore_probe_next(q, cap);
	ix[q] = e;
	x->where = WCORE_W_NAMEIDX;
	x->index = q;
	x->off = IXO(q);
}
CASE(c_dup_name)
{
	strcpy(WCORE_NAMES(m)[TF_S_SEMNAME].name, "ev-one");
	HE(m, TF_S_SEMNAME)->name_hash = HE(m, TF_S_EVENT)->name_hash;
	tf_nameidx_rebuild(m);
	x->where = WCORE_W_NAMES;
	x->index = TF_S_SEMNAME;
	x->off = NO(TF_S_SEMNAME);
}
CASE(c_names_used)
{
	H(m)->names_used = 2;
	x->off = HO(names_used);
}

/* ----------------------------------------------------- wait records */

/* A sound record of attached client 1: thread 4242 waits for the
 * semaphore. */
static struct wapi_wait_record *
wait_rec(unsigned char *m, uint32_t c, uint32_t k)
{
	struct wapi_wait_record *r = &WCORE_WAIT_BLOCK(m, c)[k];

	r->tid = 4242;
	r->count = 1;
	r->timeout_ms = WAPI_WAIT_FOREVER;
	r->since = 1;
	r->handles[0] = TF_S_SEM + 1;
	return r;
}
CASE(c_wait_free_client)
{
	/* A record in free client 3's block. */
	wait_rec(m, 3, 5);
	x->where = WCORE_W_WAITS;
	x->index = 3 * WAPI_WAIT_RECORDS + 5;
	x->off = WO(3, 5);
}
CASE(c_wait_above_hwm)
{
	wait_rec(m, 1, 2)->handles[0] = TF_S_HWM + 3;
	x->where = WCORE_W_WAITS;
	x->index = WAPI_WAIT_RECORDS + 2;
	x->off = WO(1, 2) + offsetof(struct wapi_wait_record, handles);
}
CASE(c_wait_count0)
{
	wait_rec(m, 1, 0)->count = 0;
	x->where = WCORE_W_WAITS;
	x->index = WAPI_WAIT_RECORDS;
	x->off = WO(1, 0) + 4;
}
CASE(c_wait_past_count)
{
	/* One object, a second listed. */
	wait_rec(m, 0, 15)->handles[1] = TF_S_SEM + 1;
	x->where = WCORE_W_WAITS;
	x->index = 15;
	x->off = WO(0, 15) + offsetof(struct wapi_wait_record, handles) + 4;
}
CASE(c_wait_empty_not_zero)
{
	/* No thread, yet a count. */
	WCORE_WAIT_BLOCK(m, 0)[1].count = 2;
	x->where = WCORE_W_WAITS;
	x->index = 1;
	x->off = WO(0, 1) + 8;
}

/* --------------------------------------------------- client cases */

CASE(c_client_state)
{
	WCORE_CLIENTS(m)[2].state = 7;
	x->where = WCORE_W_CLIENTS;
	x->index = 2;
	x->off = CO(2, state);
}
CASE(c_clients_used)
{
	H(m)->clients_used = 1;
	x->off = HO(clients_used);
}
CASE(c_free_client_refs)
{
	/* A reference in free client 3's block (its last entry). */
	WCORE_CREFS(m)[3 * P->refs_per_client + 15].handle = TF_S_SEM + 1;
	WCORE_CREFS(m)[3 * P->refs_per_client + 15].count = 1;
	x->where = WCORE_W_CREFS;
	x->index = 3 * P->refs_per_client + 15;
	x->off = CRO(3, 15);
}
CASE(c_free_client_count_only)
{
	WCORE_CREFS(m)[2 * P->refs_per_client + 4].count = 1;
	x->where = WCORE_W_CREFS;
	x->index = 2 * P->refs_per_client + 4;
	x->off = CRO(2, 4);
}
CASE(c_cref_above_hwm)
{
	uint32_t p = tf_cref_put(m, 1, TF_S_HWM + 3, 1);

	x->where = WCORE_W_CREFS;
	x->index = P->refs_per_client + p;
	x->off = CRO(1, p);
}
CASE(c_cref_free_slot)
{
	uint32_t p = tf_cref_put(m, 0, TF_S_FREE2 + 1, 1);

	x->where = WCORE_W_CREFS;
	x->index = p;
	x->off = CRO(0, p);
}
CASE(c_cref_count0)
{
	uint32_t p = cref_slot(m, 1, TF_S_FILE);

	WCORE_CREFS(m)[P->refs_per_client + p].count = 0;
	x->where = WCORE_W_CREFS;
	x->index = P->refs_per_client + p;
	x->off = CRO(1, p);
}
CASE(c_cref_twice)
{
	uint32_t p = tf_cref_put(m, 0, TF_S_EVENT + 1, 1);

	x->where = WCORE_W_CREFS;
	x->index = p;
	x->off = CRO(0, p);
}
CASE(c_cref_probe)
{
	uint32_t rpc = P->refs_per_client, p, q;
	struct wapi_cref_entry *b = WCORE_CREFS(m), e;

	p = cref_slot(m, 0, TF_S_PROC);
	e = b[p];
	b[p].handle = b[p].count = 0;
	for (q = wcore_cref_home(e.handle, rpc); b[q].handle != 0;
	    q = wcore_probe_next(q, rpc))
		;
	q = wcore_probe_next(q, rpc);
	while (b[q].handle != 0)
		q = wcore_probe_next(q, rpc);
	b[q] = e;
	x->where = WCORE_W_CREFS;
	x->index = q;
	x->off = CRO(0, q);
}
CASE(c_refs_used)
{
	WCORE_CLIENTS(m)[1].refs_used++;
	x->where = WCORE_W_CLIENTS;
	x->index = 1;
	x->off = CO(1, refs_used);
}
CASE(c_refs_total)
{
	WCORE_CLIENTS(m)[0].refs_total--;
	x->where = WCORE_W_CLIENTS;
	x->index = 0;
	x->off = CO(0, refs_total);
}
CASE(c_refs_sum)
{
	HE(m, TF_S_SEM)->refs = 3;	/* clients hold 1 + 1 */
	x->where = WCORE_W_HANDLES;
	x->index = TF_S_SEM;
	x->off = EO(TF_S_SEM, refs);
}

/* ---------------------------------------------------- share cases */

static uint32_t
share_slot(unsigned char *m)
{
	uint32_t p;

	for (p = 0; p < P->regions[WAPI_R_SHARES].capacity; p++)
		if (WCORE_SHARES(m)[p].opens != 0)
			return p;
	abort();
}

CASE(c_share_access)
{
	uint32_t p = share_slot(m);

	WCORE_SHARES(m)[p].access[1] = 2;
	x->where = WCORE_W_SHARES;
	x->index = p;
	x->off = SO(p) + offsetof(struct wapi_share_entry, access) + 4;
}
CASE(c_share_denied)
{
	uint32_t p = share_slot(m);

	WCORE_SHARES(m)[p].denied[2] = 9;
	x->where = WCORE_W_SHARES;
	x->index = p;
	x->off = SO(p) + offsetof(struct wapi_share_entry, denied) + 8;
}
CASE(c_share_probe)
{
	uint32_t cap = P->regions[WAPI_R_SHARES].capacity, p, q;
	struct wapi_share_entry *t = WCORE_SHARES(m), e;

	p = share_slot(m);
	e = t[p];
	memset(&t[p], 0, sizeof(t[p]));
	q = wcore_probe_next(wcore_probe_next(p, cap), cap);
	t[q] = e;
	x->where = WCORE_W_SHARES;
	x->index = q;
	x->off = SO(q);
}
CASE(c_shares_used)
{
	H(m)->shares_used = 0;
	x->off = HO(shares_used);
}

struct vcase {
	const char *name;
	void (*fn)(unsigned char *, struct exp *);
};

#define C(n, d) { d, n }
static const struct vcase cases[] = {
	C(c_magic, "bad magic"),
	C(c_version, "other format version is incompatible"),
	C(c_header_size, "header size"),
	C(c_abi_unterminated, "ABI tag not terminated"),
	C(c_abi_unknown, "unknown ABI tag"),
	C(c_abi_other, "other ABI is incompatible"),
	C(c_bom, "other byte order is incompatible"),
	C(c_host_unterminated, "host not terminated"),
	C(c_host_invalid, "host name invalid"),
	C(c_host_empty, "host name empty"),
	C(c_boot_unterminated, "boot id not terminated"),
	C(c_boot_short, "boot id not 36 characters"),
	C(c_file_size, "file_size field differs from the file"),
	C(c_one_byte_short, "file one byte short"),
	C(c_region_count, "region count"),
	C(c_off_unaligned, "region offset not 4 KiB aligned"),
	C(c_off_in_header, "region offset inside the header"),
	C(c_entry_size, "entry size"),
	C(c_size, "region size does not match capacity"),
	C(c_cap_max, "handle capacity 2^32-1"),
	C(c_cap_max_sized, "handle capacity 2^32-1 with matching size"),
	C(c_crefs_max_sized, "client refs capacity 2^32-1 with matching size"),
	C(c_past_end, "region offset past the end"),
	C(c_past_end_wrap, "region offset + size wraps"),
	C(c_overlap, "overlapping regions"),
	C(c_overlap_swap, "region placed on another"),
	C(c_handles_few, "handle capacity below the minimum"),
	C(c_nameidx_pow2, "name index capacity not a power of two"),
	C(c_names_cap, "names capacity differs from handles"),
	C(c_clients_zero, "client capacity 0"),
	C(c_rpc_zero, "refs_per_client 0"),
	C(c_rpc_max, "refs_per_client 2^32-1"),
	C(c_crefs_cap, "client refs capacity != clients * refs_per_client"),
	C(c_shares_pow2, "shares capacity not a power of two"),
	C(c_checksum, "checksum"),
	C(c_immutable_no_sum, "immutable field changed without checksum"),
	C(c_hwm, "handle_hwm above capacity"),
	C(c_free_head, "free head above hwm"),
	C(c_free_tail, "free tail above hwm"),
	C(c_free_headless, "free tail without head"),
	C(c_handles_used_big, "handles_used above hwm"),
	C(c_names_used_big, "names_used above capacity"),
	C(c_clients_used_big, "clients_used above capacity"),
	C(c_shares_used_big, "shares_used above capacity"),
	C(c_type, "unknown handle type"),
	C(c_free_refs, "free slot with refs"),
	C(c_free_named, "free slot marked named"),
	C(c_live_refs0, "live slot with refs 0"),
	C(c_flags, "flags not valid for the type"),
	C(c_flags_named_file, "a file cannot be named"),
	C(c_event_signalled, "event signalled 2"),
	C(c_sem_over, "semaphore count above max"),
	C(c_sem_negative, "semaphore count negative"),
	C(c_sem_max0, "semaphore max 0"),
	C(c_mutex_recursion, "owned mutex with recursion 0"),
	C(c_mutex_unowned_recursion, "unowned mutex with recursion"),
	C(c_mutex_pid_negative, "mutex owner pid negative"),
	C(c_mutex_client, "mutex owner client beyond capacity"),
	C(c_handles_used, "handles_used differs from live count"),
	C(c_fl_cycle, "cyclic free list"),
	C(c_fl_self, "free list node links to itself"),
	C(c_fl_above_hwm, "free list link above hwm"),
	C(c_fl_live, "free list reaches a live slot"),
	C(c_fl_backlink, "free list back link is wrong"),
	C(c_fl_head_live, "free list head is a live slot"),
	C(c_fl_tail, "free list tail is not the last node"),
	C(c_fl_incomplete, "free slot missing from the free list"),
	C(c_fl_empty_but_free, "empty free list with free slots"),
	C(c_name_unterminated, "unterminated name"),
	C(c_name_utf8, "invalid UTF-8 name"),
	C(c_name_overlong, "overlong UTF-8 name"),
	C(c_name_truncated_utf8, "name cut inside a UTF-8 sequence"),
	C(c_name_empty, "empty name"),
	C(c_name_hash, "name hash does not match the name"),
	C(c_idx_free_slot, "name index points at a free slot"),
	C(c_idx_unnamed_slot, "name index points at an unnamed slot"),
	C(c_idx_above_hwm, "name index points above hwm"),
	C(c_idx_hash, "name index hash differs from the slot's"),
	C(c_idx_twice, "two name index entries for one slot"),
	C(c_idx_missing, "named slot missing from the name index"),
	C(c_idx_probe, "name index entry outside its probe sequence"),
	C(c_dup_name, "two slots with the same name"),
	C(c_names_used, "names_used differs from the index"),
	C(c_client_state, "unknown client state"),
	C(c_clients_used, "clients_used differs from attached count"),
	C(c_free_client_refs, "free client holds a reference"),
	C(c_free_client_count_only, "free client block not zero"),
	C(c_cref_above_hwm, "reference to a slot above hwm"),
	C(c_cref_free_slot, "reference to a free slot"),
	C(c_cref_count0, "reference with count 0"),
	C(c_wait_free_client, "free client has a wait record"),
	C(c_wait_above_hwm, "wait record names a slot above hwm"),
	C(c_wait_count0, "wait record of a thread with no object"),
	C(c_wait_past_count, "wait record lists more objects than its count"),
	C(c_wait_empty_not_zero, "empty wait record not zero"),
	C(c_cref_twice, "client holds a slot twice"),
	C(c_cref_probe, "reference outside its probe sequence"),
	C(c_refs_used, "client refs_used differs from its block"),
	C(c_refs_total, "client refs_total differs from its counts"),
	C(c_refs_sum, "handle refs differ from the clients' counts"),
	C(c_share_access, "share access count above opens"),
	C(c_share_denied, "share denied count above opens"),
	C(c_share_probe, "share entry outside its probe sequence"),
	C(c_shares_used, "shares_used differs from the table"),
};

static void
run_case(const struct vcase *c)
{
	struct wcore_report r;
	struct exp x;
	char buf[320];
	size_t n;
	int ok;

	memcpy(work, pristine, plen);
	memset(&x, 0, sizeof(x));
	x.where = WCORE_W_HEADER;
	x.index = -1;
	c->fn(work, &x);
	if (!x.keep_sum)
		H(work)->checksum = wcore_checksum(H(work));
	memset(&r, 0, sizeof(r));
	n = wcore_validate(work, x.len != 0 ? x.len : plen, &r);
	ok = n > 0 && r.count > 0 && r.problems[0].where == x.where &&
	    r.problems[0].index == x.index && r.problems[0].offset == x.off &&
	    r.incompatible == x.incompatible;
	if (r.count > 0)
		wcore_problem_format(&r.problems[0], buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "no problem found");
	tf_ok(ok, "%s: %s", c->name, buf);
	if (!ok) {
		printf("#   want %s[%lld] @%llu%s\n", wcore_where_name(x.where),
		    (long long)x.index, (unsigned long long)x.off,
		    x.incompatible ? " (incompatible)" : "");
		tf_dump(&r, 4);
	}
	wcore_report_free(&r);
}

static void
test_short(void)
{
	struct wcore_report r;
	size_t n;

	memset(&r, 0, sizeof(r));
	n = wcore_check_header(pristine, 0, 0, &r);
	tf_ok(n == 1 && r.problems[0].where == WCORE_W_FILE &&
	    r.problems[0].offset == 0, "truncated to 0: file problem @0");
	wcore_report_free(&r);
	n = wcore_check_header(pristine, 2048, 2048, &r);
	tf_ok(n == 1 && r.problems[0].where == WCORE_W_FILE &&
	    r.problems[0].offset == 2048, "truncated to half a header: file "
	    "problem @2048");
	wcore_report_free(&r);
	n = wcore_validate(pristine, 100, &r);
	tf_ok(n == 1 && r.problems[0].where == WCORE_W_FILE,
	    "validate of 100 bytes: file problem");
	wcore_report_free(&r);
	n = wcore_check_header(pristine, 4096, plen, &r);
	tf_ok(n == 0 && r.count == 0, "header alone (pread) of a sound file "
	    "has no problem");
	wcore_report_free(&r);
	n = wcore_check_header(pristine, 4096, plen - 1, &r);
	tf_ok(n >= 1 && r.problems[0].where == WCORE_W_FILE &&
	    r.problems[0].offset == 40, "header of a file one byte short: "
	    "file_size problem @40");
	wcore_report_free(&r);
}

static void
test_report(void)
{
	struct wcore_report r;
	char buf[320];
	size_t n;

	memcpy(work, pristine, plen);
	HE(work, TF_S_EVENT)->type = 40;
	HE(work, TF_S_SEM)->type = 41;
	HE(work, TF_S_PROC)->type = 42;
	memset(&r, 0, sizeof(r));
	n = wcore_validate(work, plen, &r);
	tf_ok(n >= 3 && r.count == n && r.problems[0].index == TF_S_EVENT &&
	    r.problems[1].index == TF_S_SEM && r.problems[2].index == TF_S_PROC,
	    "every problem is recorded, in file order (%zu)", n);
	wcore_report_free(&r);
	r.limit = 2;
	n = wcore_validate(work, plen, &r);
	tf_ok(n == 2 && r.count == 2, "limit stops after 2");
	wcore_report_free(&r);
	r.limit = 0;
	wcore_validate(work, plen, &r);
	wcore_problem_format(&r.problems[0], buf, sizeof(buf));
	tf_ok(strncmp(buf, "handles[0] @", 12) == 0 && strstr(buf,
	    ": type 40 is unknown") != NULL, "problem format: %s", buf);
	wcore_report_free(&r);
	tf_ok(r.problems == NULL && r.count == 0 && r.cap == 0,
	    "report_free resets the report");
	tf_ok(strcmp(wcore_where_name(WCORE_W_FREELIST), "free-list") == 0 &&
	    strcmp(wcore_where_name(WCORE_W_NAMEIDX), "name-index") == 0 &&
	    strcmp(wcore_where_name((enum wcore_where)99), "?") == 0,
	    "where names");
}

static void
test_clean_variants(void)
{
	struct wcore_report r;
	size_t n;
	int i;

	memset(&r, 0, sizeof(r));
	r.limit = 5;
	n = wcore_validate(pristine, plen, &r);
	tf_ok(n == 0, "populated file validates clean");
	tf_dump(&r, 5);
	wcore_report_free(&r);

	/* Nobody attached: counts are stale, not corrupt. */
	memcpy(work, pristine, plen);
	for (i = 0; i < 2; i++)
		WCORE_CLIENTS(work)[i].state = WAPI_CS_FREE;
	memset(WCORE_CREFS(work), 0, (size_t)2 * P->refs_per_client * 8);
	H(work)->clients_used = 0;
	n = wcore_validate(work, plen, &r);
	tf_ok(n == 0, "no client attached: handle refs are not summed");
	tf_dump(&r, 5);
	wcore_report_free(&r);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random damage anywhere: never a crash (run under ASan in CI). */
static void
test_fuzz(void)
{
	struct wcore_report r;
	size_t off, found = 0;
	int i, k, n;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < 3000; i++) {
		memcpy(work, pristine, plen);
		n = 1 + (int)(rnd() % 6);
		for (k = 0; k < n; k++) {
			/* Half the hits in the header, half in the tables. */
			off = rnd() % 2 ? rnd() % 600 : rnd() % plen;
			work[off] = (unsigned char)rnd();
		}
		if (rnd() % 2)
			H(work)->checksum = wcore_checksum(H(work));
		r.limit = rnd() % 2 ? 0 : 3;
		if (wcore_validate(work, plen, &r) > 0)
			found++;
		wcore_report_free(&r);
	}
	tf_ok(found > 1000, "3000 random corruptions validated without a "
	    "crash (%zu found corrupt)", found);
}

/* A file rewritten underneath by another process: odd findings allowed,
 * crashes not. */
static void
test_live_change(void)
{
	struct wcore_report r;
	unsigned char *shared;
	uint64_t lo = P->regions[WAPI_R_HANDLES].offset;
	pid_t pid;
	int i, st, ok = 1;

	shared = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		tf_ok(0, "mmap shared");
		return;
	}
	memcpy(shared, pristine, plen);
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		/* Never outlive the test nor hold the runner's output. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		alarm(60);
		for (;;) {
			size_t off = lo + rnd() % (plen - lo);

			shared[off] = (unsigned char)rnd();
			if (rnd() % 64 == 0)
				memcpy(shared + lo, pristine + lo, plen - lo);
		}
	}
	memset(&r, 0, sizeof(r));
	for (i = 0; i < 300 && pid > 0; i++) {
		r.limit = 10;
		wcore_validate(shared, plen, &r);
		if (r.count > 10)
			ok = 0;
		wcore_report_free(&r);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	tf_ok(pid > 0 && ok, "validating a file another process rewrites "
	    "does not crash");
	munmap(shared, plen);
}

/* tests/mkstate makes files that validate clean. */
static void
test_mkstate(void)
{
	const char *top = getenv("top_builddir");
	const char *tmp = getenv("TMPDIR");
	char prog[512], path[512], why[256];
	struct wcore_report r;
	size_t len;
	void *map;
	pid_t pid;
	int st, fd, n;

	if (top == NULL) {
		printf("ok %d # skip top_builddir not set: mkstate not run\n",
		    ++tf_count);
		return;
	}
	snprintf(prog, sizeof(prog), "%s/tests/mkstate", top);
	snprintf(path, sizeof(path), "%s/t-validate-mk.%ld.state",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid());
	pid = fork();
	if (pid == 0) {
		execl(prog, "mkstate", "-p", "-c", "100", "-H",
		    "fixture.example", path, (char *)NULL);
		_exit(127);
	}
	tf_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0, "mkstate -p -c 100 -H fixture.example");
	fd = open(path, O_RDONLY);
	unlink(path);
	if (fd < 0 || wcore_map(fd, false, &map, &len, why, sizeof(why)) != 0) {
		tf_ok(0, "map the mkstate file");
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	memset(&r, 0, sizeof(r));
	n = (int)wcore_validate(map, len, &r);
	tf_ok(n == 0 && TF_HDR(map)->handle_hwm == TF_S_HWM &&
	    TF_HDR(map)->regions[WAPI_R_HANDLES].capacity == 100 &&
	    strcmp(TF_HDR(map)->host, "fixture.example") == 0,
	    "mkstate file is populated and validates clean");
	tf_dump(&r, 5);
	wcore_report_free(&r);
	munmap(map, len);

	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(devnull, 2);
		execl(prog, "mkstate", "-c", "7", path, (char *)NULL);
		_exit(127);
	}
	tf_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 2 && access(path, F_OK) != 0,
	    "mkstate refuses a capacity below the minimum");
}

int
main(void)
{
	struct wcore_layout l;
	char path[512];
	const char *tmp = getenv("TMPDIR");
	size_t len, i;
	void *map;

	snprintf(path, sizeof(path), "%s/t-validate.%ld.state",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid());
	if (wcore_layout(64, 4, 16, 16, &l) != 0 ||
	    tf_create(path, &l, "t-validate.host", &map, &len) != 0) {
		unlink(path);
		printf("not ok 1 - create the fixture\n1..1\n");
		return 1;
	}
	unlink(path);
	tf_populate(map, getpid());
	plen = len;
	pristine = aligned_alloc(4096, plen);
	work = aligned_alloc(4096, plen);
	if (pristine == NULL || work == NULL)
		abort();
	memcpy(pristine, map, plen);
	munmap(map, len);
	P = (const struct wapi_header *)(void *)pristine;

	test_clean_variants();
	test_short();
	test_report();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_fuzz();
	test_live_change();
	test_mkstate();
	free(pristine);
	free(work);
	return tf_done();
}
