/*
 * Fuzz entry point for state file images: everything the core does with
 * bytes it did not write.  The image is copied into a buffer of exactly
 * its length (under ASan the allocator's redzone starts at the last byte;
 * in a plain build a PROT_NONE page follows the last page), so a read past
 * the length the core was given is a crash, not a quiet success.
 *
 * Steps, each on the bytes as given and again with a true checksum (a
 * mutated byte of the immutable part would otherwise stop every input at
 * the checksum, and the region checks behind it would go unfuzzed):
 *   wcore_check_header on the header alone and on the whole image;
 *   wcore_validate with and without a problem limit;
 *   wcore_verdict and wcore_map through a memfd (the pread paths);
 *   when the header is sound: wcore_repair on a private copy, twice (the
 *   second pass must find nothing left to fix);
 *   when the file validates clean: name lookups, handle numbers, and the
 *   release of every attached client, after which it must still validate.
 *
 * Both files of a pair (wapi-state(5), "Anchor and segment") go through
 * the same parser: every input is also read as an anchor (its first 4 KiB,
 * placement ANCHOR, a file of exactly the header's size: the header is
 * checked, no table is walked, and the peer it names goes through the
 * core's segment opening in wcore_verdict and wcore_map), and a sound one
 * as a whole file and as a segment, whose findings must be the same.
 */
#include <sys/mman.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "fuzz finding: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

struct fuzz_buf
fuzz_buf_new(const void *data, size_t len, bool at_guard)
{
	struct fuzz_buf b = { NULL, NULL, 0 };
#ifdef FUZZ_ASAN
	(void)at_guard;
	if (posix_memalign(&b.base, 64, len ? len : 1) != 0)
		fuzz_fail("out of memory (%zu bytes)", len);
	b.p = b.base;
#else
	long pg = sysconf(_SC_PAGESIZE);
	size_t body = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;

	b.maplen = body + (size_t)pg;
	b.base = mmap(NULL, b.maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b.base == MAP_FAILED)
		fuzz_fail("mmap %zu bytes: %s", b.maplen, strerror(errno));
	if (mprotect((unsigned char *)b.base + body, (size_t)pg,
	    PROT_NONE) != 0)
		fuzz_fail("mprotect: %s", strerror(errno));
	b.p = (unsigned char *)b.base + (at_guard ? body - len : 0);
#endif
	if (len > 0)
		memcpy(b.p, data, len);
	return b;
}

void
fuzz_buf_free(struct fuzz_buf *b)
{
#ifdef FUZZ_ASAN
	free(b->base);
#else
	munmap(b->base, b->maplen);
#endif
	b->base = b->p = NULL;
}

/* What every report must satisfy, whatever the input. */
static void
report_check(struct wcore_report *r, size_t added, const char *step)
{
	char line[400];
	size_t i;

	if (r->count > added)
		fuzz_fail("%s: %zu problems stored but %zu reported", step,
		    r->count, added);
	if (r->limit != 0 && r->count > r->limit)
		fuzz_fail("%s: %zu problems stored past the limit %zu", step,
		    r->count, r->limit);
	for (i = 0; i < r->count; i++) {
		if ((unsigned)r->problems[i].where > WCORE_W_WAITS)
			fuzz_fail("%s: problem %zu has where %d", step, i,
			    (int)r->problems[i].where);
		if (memchr(r->problems[i].what, '\0',
		    sizeof(r->problems[i].what)) == NULL)
			fuzz_fail("%s: problem %zu is not terminated", step, i);
		wcore_problem_format(&r->problems[i], line, sizeof(line));
		if (strcmp(wcore_where_name(r->problems[i].where), "?") == 0)
			fuzz_fail("%s: problem %zu has no region name", step, i);
	}
	wcore_report_free(r);
}

static size_t
run_check_header(const void *p, size_t len, uint64_t size, size_t limit)
{
	struct wcore_report r;
	size_t n;

	memset(&r, 0, sizeof(r));
	r.limit = limit;
	n = wcore_check_header(p, len, size, &r);
	report_check(&r, n, "wcore_check_header");
	return n;
}

static size_t
run_validate(const void *p, size_t len, size_t limit)
{
	struct wcore_report r;
	size_t n;

	memset(&r, 0, sizeof(r));
	r.limit = limit;
	n = wcore_validate(p, len, &r);
	report_check(&r, n, "wcore_validate");
	return n;
}

/* The descriptor paths: wcore_verdict (pread) and wcore_map (pread, mmap,
 * check again).  One memfd for the whole run. */
static void
run_fd(const unsigned char *p, size_t len)
{
	static int fd = -1;
	struct wcore_status st;
	char why[256];
	size_t mlen, off;
	ssize_t w;
	void *map;

	if (fd < 0 && (fd = memfd_create("fuzz-state", MFD_CLOEXEC)) < 0)
		fuzz_fail("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)len) != 0)
		fuzz_fail("ftruncate: %s", strerror(errno));
	for (off = 0; off < len; off += (size_t)w)
		if ((w = pwrite(fd, p + off, len - off, (off_t)off)) <= 0)
			fuzz_fail("pwrite: %s", strerror(errno));
	if (wcore_verdict(fd, "fuzz-host", &st) == 0) {
		if ((unsigned)st.verdict >= WCORE_VERDICT_COUNT)
			fuzz_fail("verdict %d out of range", (int)st.verdict);
		if (memchr(st.reason, '\0', sizeof(st.reason)) == NULL)
			fuzz_fail("verdict reason not terminated");
		if (st.header_ok && (st.verdict == WCORE_CORRUPT ||
		    st.verdict == WCORE_INCOMPATIBLE))
			fuzz_fail("verdict %s with a sound header",
			    wcore_verdict_name(st.verdict));
		if (!st.header_ok && st.verdict != WCORE_CORRUPT &&
		    st.verdict != WCORE_INCOMPATIBLE)
			fuzz_fail("verdict %s without a sound header",
			    wcore_verdict_name(st.verdict));
	}
	why[0] = '\0';
	if (wcore_map(fd, false, &map, &mlen, why, sizeof(why)) == 0) {
		/* An anchor maps its segment (should one of its name be
		 * there): another file, of another size. */
		if (mlen != len && (len < WAPI_HEADER_SIZE ||
		    ((const struct wapi_header *)(const void *)p)->placement !=
		    WAPI_PLACE_ANCHOR))
			fuzz_fail("wcore_map mapped %zu of %zu bytes", mlen, len);
		run_validate(map, mlen, 0);
		munmap(map, mlen);
	} else if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL)
		fuzz_fail("wcore_map failed without a reason");
}

static void
nowake(void *map, uint32_t index)
{
	(void)map;
	(void)index;
}

/* On a file that validates clean: the table operations the library and
 * the helper run on such a file must keep it clean. */
static void
run_tables(unsigned char *map, size_t len, const uint8_t *data, size_t dlen)
{
	struct wapi_header *h = (struct wapi_header *)(void *)map;
	struct wapi_handle_entry *e;
	const char *name;
	uint32_t i, number, ncl;
	size_t n;
	int64_t s;

	for (i = 0; i < h->handle_hwm; i++) {
		e = &WCORE_HANDLES(map)[i];
		if (e->type == WAPI_T_FREE)
			continue;
		number = wcore_handle_number(i, e->generation);
		if (e->refs != 0 && wcore_handle_slot(map, number) != i)
			fuzz_fail("live slot %u: number 0x%08x not found", i,
			    number);
		if (wcore_handle_slot(map, number ^ (1u << 21)) >= 0)
			fuzz_fail("slot %u: a stale number is accepted", i);
		if (!(e->flags & WAPI_HF_NAMED))
			continue;
		name = WCORE_NAMES(map)[i].name;
		n = strnlen(name, WAPI_NAME_MAX + 1);
		s = wcore_name_find(map, name, n, wcore_name_hash(name, n));
		if (s < 0)
			fuzz_fail("named slot %u (\"%.40s\") not found by name",
			    i, name);
	}
	/* Arbitrary numbers from the input: an answer or -1, never a fault. */
	for (n = 0; n + 4 <= dlen && n < 64; n += 4) {
		memcpy(&number, data + n, 4);
		s = wcore_handle_slot(map, number);
		if (s >= 0 && (uint64_t)s >= h->handle_hwm)
			fuzz_fail("wcore_handle_slot(0x%08x) = %lld, above hwm",
			    number, (long long)s);
	}
	/* Every client dies: what the helper does for each. */
	ncl = h->regions[WAPI_R_CLIENTS].capacity;
	for (i = 0; i < ncl; i++)
		if (WCORE_CLIENTS(map)[i].state == WAPI_CS_ATTACHED)
			wcore_client_release(map, i, nowake);
	if (run_validate(map, len, 0) != 0) {
		struct wcore_report r;
		char line[400];

		memset(&r, 0, sizeof(r));
		r.limit = 1;
		wcore_validate(map, len, &r);
		wcore_problem_format(&r.problems[0], line, sizeof(line));
		fuzz_fail("a clean file is no longer clean after every client "
		    "was released: %s", line);
	}
}

/*
 * The first 4 KiB of the input as an anchor's header: on the bytes as
 * given (but the placement) and with true checksums, the header check of
 * a 4 KiB file, which validation must equal (an anchor holds no tables to
 * walk), a size other than 4 KiB refused, and the descriptor paths.
 */
static void
run_anchor(const uint8_t *data, size_t len)
{
	union {
		struct wapi_header h;
		unsigned char b[WAPI_HEADER_SIZE];
	} img;
	struct fuzz_buf b;
	size_t nh, nv;
	int pass;

	memset(&img, 0, sizeof(img));
	memcpy(img.b, data, len < sizeof(img.b) ? len : sizeof(img.b));
	img.h.placement = WAPI_PLACE_ANCHOR;
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			img.h.checksum = wcore_checksum(&img.h);
			img.h.place_checksum = wcore_place_checksum(&img.h);
		}
		b = fuzz_buf_new(img.b, sizeof(img.b), true);
		nh = run_check_header(b.p, WAPI_HEADER_SIZE, WAPI_HEADER_SIZE,
		    0);
		nv = run_validate(b.p, WAPI_HEADER_SIZE, 0);
		if (nh != nv)
			fuzz_fail("an anchor: %zu problems in its header, %zu "
			    "in its validation (it has no tables to walk)", nh,
			    nv);
		if (nh == 0 && run_check_header(b.p, WAPI_HEADER_SIZE,
		    2 * WAPI_HEADER_SIZE, 0) == 0)
			fuzz_fail("an anchor of %u bytes passes the header "
			    "check", 2 * WAPI_HEADER_SIZE);
		fuzz_buf_free(&b);
		run_fd(img.b, sizeof(img.b));
	}
}

/*
 * A sound image as a whole file (no peer) and as a segment (naming an
 * anchor), both with true checksums: the placement changes where the
 * tables are, never what is found in them.
 */
static void
run_placed(const uint8_t *data, size_t len)
{
	struct wapi_header *h;
	struct fuzz_buf b;
	size_t nf, ns;

	b = fuzz_buf_new(data, len, false);
	h = (struct wapi_header *)(void *)b.p;
	h->checksum = wcore_checksum(h);
	h->placement = WAPI_PLACE_FILE;
	memset(h->peer, 0, sizeof(h->peer));
	h->place_checksum = wcore_place_checksum(h);
	nf = run_validate(b.p, len, 0);
	h->placement = WAPI_PLACE_SEGMENT;
	strlcpy(h->peer, "/home/fuzz/.wapi/fuzz-host.x86_64.state",
	    sizeof(h->peer));
	h->place_checksum = wcore_place_checksum(h);
	ns = run_validate(b.p, len, 0);
	if (nf != ns)
		fuzz_fail("%zu problems as a whole file, %zu as a segment", nf,
		    ns);
	run_check_header(b.p, len, len, 0);
	fuzz_buf_free(&b);
}

/* The image with a true checksum, and what a sound header allows. */
static void
run_sound(const uint8_t *data, size_t len)
{
	struct wapi_header *h;
	struct fuzz_buf b;
	size_t fixes;

	b = fuzz_buf_new(data, len, false);
	h = (struct wapi_header *)(void *)b.p;
	h->checksum = wcore_checksum(h);
	run_check_header(b.p, WAPI_HEADER_SIZE, len, 0);
	run_validate(b.p, len, 0);
	run_validate(b.p, len, 3);
	/* A sound anchor validates clean without holding any table: there
	 * is nothing here for the table operations or the repair (the core
	 * runs them only on what wcore_map mapped: a segment for it). */
	if (run_check_header(b.p, len, len, 0) != 0 ||
	    h->placement == WAPI_PLACE_ANCHOR) {
		fuzz_buf_free(&b);
		return;
	}
	if (run_validate(b.p, len, 0) == 0) {
		struct fuzz_buf c = fuzz_buf_new(b.p, len, false);

		run_tables(c.p, len, data + WAPI_HEADER_SIZE,
		    len - WAPI_HEADER_SIZE);
		fuzz_buf_free(&c);
	}
	/* Repair must cope with anything behind a sound header. */
	wcore_repair(b.p);
	run_validate(b.p, len, 0);
	if ((fixes = wcore_repair(b.p)) != 0) {
		fuzz_fail("wcore_repair is not idempotent: the second pass "
		    "made %zu fixes", fixes);
	}
	fuzz_buf_free(&b);
}

void
fuzz_state_one(const uint8_t *data, size_t len)
{
	struct fuzz_buf a;

	a = fuzz_buf_new(data, len, false);
	run_check_header(a.p, len < WAPI_HEADER_SIZE ? len : WAPI_HEADER_SIZE,
	    len, 0);
	run_check_header(a.p, len, len, 1);
	run_validate(a.p, len, 0);
	fuzz_buf_free(&a);
	run_fd(data, len);
	run_anchor(data, len);
	if (len >= WAPI_HEADER_SIZE &&
	    memcmp(data, WAPI_MAGIC, sizeof(((struct wapi_header *)0)->magic))
	    == 0) {
		run_sound(data, len);
		run_placed(data, len);
	}
}
