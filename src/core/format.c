/*
 * Creating and mapping state files: the layout of the regions, the header
 * written at initialisation, and the one place that maps a file (after its
 * header has been checked with pread, so a hostile file is never mapped
 * blind).  The checks themselves live in validate.c.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "wapi.h"	/* only for the asserts below: the public values */

#define PAGE	4096u

/*
 * What wapi.h promises callers is what the format stores: the library
 * reports a slot's type as it is (wapi_handle_info) and stores
 * wapi_file_open's access and share bits as they are (u.fd.access,
 * u.fd.share), so the two sets of values must never drift apart.  The
 * public names exist for callers; the core keeps its own (format.h), and
 * this is the one file of the core that sees both.
 */
#define FORMAT_SAME_TYPE(t) \
	_Static_assert((int)WAPI_TYPE_##t == (int)WAPI_T_##t, #t " type")
FORMAT_SAME_TYPE(EVENT);
FORMAT_SAME_TYPE(MUTEX);
FORMAT_SAME_TYPE(SEMAPHORE);
FORMAT_SAME_TYPE(FILE);
FORMAT_SAME_TYPE(PIPE);
FORMAT_SAME_TYPE(SOCKET);
FORMAT_SAME_TYPE(PROCESS);
_Static_assert((int)WAPI_TYPE_PROCESS + 1 == WAPI_T_COUNT, "every type");
#define FORMAT_SAME_FD_BIT(b) \
	_Static_assert(WAPI_ACCESS_##b == 1u << WAPI_FD_BIT_##b && \
	    WAPI_SHARE_##b == 1u << WAPI_FD_BIT_##b, #b " access and share")
FORMAT_SAME_FD_BIT(READ);
FORMAT_SAME_FD_BIT(WRITE);
FORMAT_SAME_FD_BIT(DELETE);
_Static_assert((WAPI_ACCESS_READ | WAPI_ACCESS_WRITE | WAPI_ACCESS_DELETE) ==
    (1u << WAPI_FD_BITS) - 1, "every access bit");
_Static_assert((WAPI_SHARE_READ | WAPI_SHARE_WRITE | WAPI_SHARE_DELETE) ==
    (1u << WAPI_FD_BITS) - 1, "every share bit");
_Static_assert((1u << WAPI_FD_BITS) - 1 <= UINT8_MAX,
    "the bits fit u.fd.access and u.fd.share");
/* wapi_handle_info's name is a whole name slot's string, NUL included. */
_Static_assert(sizeof(((struct wapi_handle_info *)0)->name) ==
    WAPI_NAME_MAX + 1, "a name fits wapi_handle_info");
/* A sleeper records every object of its wait in one row of its records;
 * the shared wait records cover the first rows and say how many objects. */
_Static_assert(WAPI_WAIT_RECORDS <= WCORE_SLEEP_ROWS, "a record per row");
_Static_assert(WAPI_MAXIMUM_WAIT_OBJECTS <= UINT16_MAX, "count fits");
_Static_assert(WAPI_INFINITE == WAPI_WAIT_FOREVER, "no timeout");
_Static_assert(WAPI_MAXIMUM_WAIT_OBJECTS <= WCORE_SLEEP_COLS,
    "a wait fits a sleep record");

static const char *const type_names[WAPI_T_COUNT] = {
	[WAPI_T_FREE] = "free",
	[WAPI_T_EVENT] = "event",
	[WAPI_T_MUTEX] = "mutex",
	[WAPI_T_SEMAPHORE] = "semaphore",
	[WAPI_T_FILE] = "file",
	[WAPI_T_PIPE] = "pipe",
	[WAPI_T_SOCKET] = "socket",
	[WAPI_T_PROCESS] = "process",
};

const uint32_t wcore_entry_sizes[WAPI_R_COUNT] = {
	[WAPI_R_HANDLES] = sizeof(struct wapi_handle_entry),
	[WAPI_R_NAMEIDX] = sizeof(struct wapi_nameidx_entry),
	[WAPI_R_NAMES] = sizeof(struct wapi_name_entry),
	[WAPI_R_CLIENTS] = sizeof(struct wapi_client_entry),
	[WAPI_R_CREFS] = sizeof(struct wapi_cref_entry),
	[WAPI_R_SHARES] = sizeof(struct wapi_share_entry),
	[WAPI_R_WAITS] = sizeof(struct wapi_wait_record),
};

/* Smallest power of two >= x, or 0 when it does not fit 32 bits. */
static uint32_t
pow2_ceil(uint64_t x)
{
	uint64_t p = 1;

	while (p < x)
		p <<= 1;
	return p > UINT32_MAX ? 0 : (uint32_t)p;
}

int
wcore_layout(uint32_t handles, uint32_t clients, uint32_t refs_per_client,
    uint32_t shares, struct wcore_layout *out)
{
	uint32_t caps[WAPI_R_COUNT], crefs;
	uint64_t off, bytes;
	int i;

	if (handles < WAPI_MIN_HANDLES || handles > WAPI_MAX_HANDLES_LIMIT)
		return EINVAL;
	if (clients < 1 || clients > WAPI_MAX_CLIENTS)
		return EINVAL;
	if (refs_per_client == 0 || refs_per_client > WAPI_MAX_CLIENT_REFS)
		return EINVAL;
	if (shares == 0 || shares > WAPI_MAX_SHARES)
		return EINVAL;
	if (__builtin_mul_overflow(clients, refs_per_client, &crefs) ||
	    crefs > WAPI_MAX_CREFS)
		return EINVAL;

	memset(out, 0, sizeof(*out));
	out->handles = handles;
	out->nameidx = pow2_ceil(2 * (uint64_t)handles);
	out->clients = clients;
	out->refs_per_client = refs_per_client;
	out->shares = pow2_ceil(shares);
	if (out->nameidx == 0 || out->shares == 0)
		return EINVAL;

	caps[WAPI_R_HANDLES] = handles;
	caps[WAPI_R_NAMEIDX] = out->nameidx;
	caps[WAPI_R_NAMES] = handles;
	caps[WAPI_R_CLIENTS] = clients;
	caps[WAPI_R_CREFS] = crefs;
	caps[WAPI_R_SHARES] = out->shares;
	caps[WAPI_R_WAITS] = clients * WAPI_WAIT_RECORDS;

	off = WAPI_HEADER_SIZE;
	for (i = 0; i < WAPI_R_COUNT; i++) {
		if (__builtin_mul_overflow((uint64_t)caps[i],
		    wcore_entry_sizes[i], &bytes) ||
		    __builtin_add_overflow(bytes, PAGE - 1, &bytes))
			return EINVAL;
		bytes &= ~(uint64_t)(PAGE - 1);
		out->regions[i].offset = off;
		out->regions[i].size = bytes;
		out->regions[i].capacity = caps[i];
		out->regions[i].entry_size = wcore_entry_sizes[i];
		if (__builtin_add_overflow(off, bytes, &off))
			return EINVAL;
	}
	/* ftruncate takes an off_t. */
	if (off > (uint64_t)INT64_MAX)
		return EINVAL;
	out->file_size = off;
	return 0;
}

int
wcore_layout_default(struct wcore_layout *out, char *why, size_t whylen)
{
	const char *s, *errstr;
	long long n = WAPI_DEFAULT_HANDLES;
	int error;

	s = getenv("WAPI_MAX_HANDLES");
	if (s != NULL && *s != '\0') {
		n = strtonum(s, WAPI_MIN_HANDLES, WAPI_MAX_HANDLES_LIMIT,
		    &errstr);
		if (errstr != NULL) {
			snprintf(why, whylen, "WAPI_MAX_HANDLES=%s is %s "
			    "(allowed: %u to %u)", s, errstr, WAPI_MIN_HANDLES,
			    WAPI_MAX_HANDLES_LIMIT);
			return EINVAL;
		}
	}
	error = wcore_layout((uint32_t)n, WAPI_DEFAULT_CLIENTS,
	    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, out);
	if (error != 0)
		snprintf(why, whylen, "cannot lay out a state file for %lld "
		    "handles", n);
	return error;
}

uint64_t
wcore_checksum(const struct wapi_header *h)
{
	const unsigned char *p = (const unsigned char *)h;
	uint64_t x = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < WAPI_CHECKSUM_END; i++) {
		x ^= p[i];
		x *= 0x100000001b3ull;
	}
	return x;
}

/*
 * Write a fresh header into map, which must hold l->file_size bytes of a
 * file whose regions read as zero.  Regions are not written: a freshly
 * ftruncate'd file is sparse and zero.  To RE-initialise a file in place the
 * caller (holding the init byte exclusively, so nobody else maps it) first
 * truncates it to 0 and then back to l->file_size, then maps and calls this:
 * that is what wcore_init() does.  Handing in a map with stale regions makes
 * a file that wcore_validate() rejects.
 */
int
wcore_init_map(void *map, const struct wcore_layout *l, const char *host)
{
	struct wapi_header *h = map;
	pthread_mutexattr_t attr;
	char boot[40];
	uint32_t count = 0;
	int error, i;

	if (map == NULL || l == NULL || host == NULL ||
	    l->file_size < WAPI_HEADER_SIZE)
		return EINVAL;
	if (wcore_host_check(host) != NULL)
		return EINVAL;
	memset(boot, 0, sizeof(boot));
	if ((error = wcore_boot_id(boot)) != 0)
		return error;

	if (memcmp(h->magic, WAPI_MAGIC, sizeof(h->magic)) == 0)
		count = h->init_count;
	memset(h, 0, sizeof(*h));

	memcpy(h->magic, WAPI_MAGIC, sizeof(h->magic));
	h->version = WAPI_FORMAT_VERSION;
	h->header_size = WAPI_HEADER_SIZE;
	strlcpy(h->abi, WAPI_ABI, sizeof(h->abi));
	h->bom = WAPI_BOM;
	h->creator_uid = (uint32_t)geteuid();
	h->file_size = l->file_size;
	h->created = wcore_now_s();
	strlcpy(h->host, host, sizeof(h->host));
	memcpy(h->boot_id, boot, sizeof(h->boot_id) - 1);
	h->refs_per_client = l->refs_per_client;
	h->region_count = WAPI_R_COUNT;
	for (i = 0; i < WAPI_R_COUNT; i++)
		h->regions[i] = l->regions[i];
	h->checksum = wcore_checksum(h);
	h->state_id = l->state_id;
	h->placement = l->placement;
	memcpy(h->peer, l->peer, sizeof(h->peer));
	h->peer[sizeof(h->peer) - 1] = '\0';
	h->place_checksum = wcore_place_checksum(h);

	h->init_count = l->init_count != 0 ? l->init_count : count + 1;
	h->handle_hwm = 0;
	h->handle_free_head = h->handle_free_tail = 0;

	if ((error = pthread_mutexattr_init(&attr)) != 0)
		return error;
	if ((error = pthread_mutexattr_setpshared(&attr,
	    PTHREAD_PROCESS_SHARED)) == 0 &&
	    (error = pthread_mutexattr_setrobust(&attr,
	    PTHREAD_MUTEX_ROBUST)) == 0)
		error = pthread_mutex_init(&h->table_lock.m, &attr);
	pthread_mutexattr_destroy(&attr);
	return error;
}

int
wcore_init(int fd, const struct wcore_layout *l, const char *host)
{
	struct stat st;
	void *map;
	int error;

	if (l == NULL || l->file_size < WAPI_HEADER_SIZE ||
	    l->file_size > (uint64_t)INT64_MAX || l->file_size > SIZE_MAX)
		return EINVAL;
	if (fstat(fd, &st) == -1)
		return errno;
	/* Old contents would survive in the regions: start from nothing. */
	if (st.st_size != 0 && ftruncate(fd, 0) == -1)
		return errno;
	if (ftruncate(fd, (off_t)l->file_size) == -1)
		return errno;
	map = mmap(NULL, (size_t)l->file_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return errno;
	error = wcore_init_map(map, l, host);
	if (munmap(map, (size_t)l->file_size) == -1 && error == 0)
		error = errno;
	return error;
}

/* Check the header in a buffer; on a problem fill why and return EINVAL. */
static int
map_check(const void *buf, size_t len, uint64_t size, char *why,
    size_t whylen)
{
	struct wcore_report r;
	int error = 0;

	memset(&r, 0, sizeof(r));
	r.limit = 1;
	if (wcore_check_header(buf, len, size, &r) != 0) {
		if (r.count > 0)
			wcore_problem_format(&r.problems[0], why, whylen);
		else
			snprintf(why, whylen, "header is not valid");
		error = EINVAL;
	}
	wcore_report_free(&r);
	return error;
}

int
wcore_map(int fd, bool writable, void **map, size_t *len, char *why,
    size_t whylen)
{
	int segfd, e;

	e = wcore_map_state(fd, writable, map, len, &segfd, why, whylen);
	if (e == 0 && segfd >= 0)
		close(segfd);
	return e;
}

/*
 * An anchor's header is sound: map its segment instead, and check the
 * mapping against the anchor (a new initialisation between the open and
 * the mmap would make another segment, never change this one's identity;
 * the check is for a file swapped in by hand).
 */
static int
map_segment(const struct wapi_header *a, bool writable, void **map,
    size_t *len, int *segfd, char *why, size_t whylen)
{
	struct wapi_header *s;
	int fd, error;

	fd = wcore_seg_open(a, writable, NULL, why, whylen);
	if (fd < 0)
		return -fd;
	error = wcore_map_state(fd, writable, map, len, NULL, why, whylen);
	if (error != 0) {
		close(fd);
		return error;
	}
	s = *map;
	if (s->placement != WAPI_PLACE_SEGMENT || s->state_id != a->state_id ||
	    memcmp(s, a, WAPI_CHECKSUM_END + sizeof(s->checksum)) != 0) {
		snprintf(why, whylen, "its segment %s changed while being "
		    "mapped", a->peer);
		munmap(*map, *len);
		*map = NULL;
		*len = 0;
		close(fd);
		return EINVAL;
	}
	wcore_seg_advise(*map, *len);
	*segfd = fd;
	return 0;
}

int
wcore_map_state(int fd, bool writable, void **map, size_t *len, int *segfd,
    char *why, size_t whylen)
{
	struct wapi_header *h;
	struct stat st;
	size_t n, got;
	ssize_t rv;
	void *p;
	int error;

	*map = NULL;
	*len = 0;
	if (segfd != NULL)
		*segfd = -1;
	if (fstat(fd, &st) == -1) {
		error = errno;
		snprintf(why, whylen, "fstat: %s", strerror(error));
		return error;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > SIZE_MAX) {
		snprintf(why, whylen, "file size %jd does not fit in memory",
		    (intmax_t)st.st_size);
		return EFBIG;
	}
	if ((h = malloc(sizeof(*h))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return ENOMEM;
	}
	n = (uint64_t)st.st_size < sizeof(*h) ? (size_t)st.st_size : sizeof(*h);
	for (got = 0; got < n; got += (size_t)rv) {
		rv = pread(fd, (char *)h + got, n - got, (off_t)got);
		if (rv == -1 && errno == EINTR) {
			rv = 0;
			continue;
		}
		if (rv <= 0) {
			error = rv == 0 ? EIO : errno;
			snprintf(why, whylen, "reading the header: %s",
			    rv == 0 ? "file shrank while reading" :
			    strerror(error));
			free(h);
			return error;
		}
	}
	error = map_check(h, n, (uint64_t)st.st_size, why, whylen);
	if (error == 0 && h->placement == WAPI_PLACE_ANCHOR) {
		/* A segment is never an anchor itself: segfd is NULL there. */
		if (segfd == NULL) {
			snprintf(why, whylen, "a segment that names another "
			    "segment");
			error = EINVAL;
		} else
			error = map_segment(h, writable, map, len, segfd, why,
			    whylen);
		free(h);
		return error;
	}
	free(h);
	if (error != 0)
		return error;

	p = mmap(NULL, (size_t)st.st_size,
	    PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		error = errno;
		snprintf(why, whylen, "mmap: %s", strerror(error));
		return error;
	}
	/* The file may have been re-initialised between pread and mmap. */
	if ((error = map_check(p, (size_t)st.st_size, (uint64_t)st.st_size,
	    why, whylen)) != 0) {
		munmap(p, (size_t)st.st_size);
		return error;
	}
	*map = p;
	*len = (size_t)st.st_size;
	return 0;
}

const char *
wcore_type_name(unsigned type)
{
	if (type >= WAPI_T_COUNT)
		return "?";
	return type_names[type];
}

int
wcore_type_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < WAPI_T_COUNT; i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}
