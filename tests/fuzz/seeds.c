/*
 * The seed corpus, made in memory.  State files come from the core's own
 * writer (wcore_layout + wcore_init_map) with the smallest capacities, so a
 * whole file is 32-64 KiB (tests/mkstate keeps the default 1,024 clients x
 * 16,384 references: 128 MiB), populated by the independent builder of
 * tests/core/tfmt.h like `mkstate -p`; one of them is also made the two
 * files of a pair, a segment and its 4 KiB anchor.  Names cover every kind that
 * wcore_name_parse knows, segment names and the UTF-8 corner cases;
 * requests and messages
 * come from the core's own packer.  Mono V12 data files are written here
 * byte by byte at the offsets of Mono's struct _WapiHandleShared, for
 * both record sizes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/tfmt.h"
#include "spawnmsg.h"
#include "fuzz.h"

#define SEED_PID 4242

/* A zeroed, initialised image for the given capacities (free with free). */
static void *
seed_image(uint32_t handles, uint32_t clients, uint32_t rpc, uint32_t shares,
    size_t *len)
{
	struct wcore_layout l;
	void *map;

	if (wcore_layout(handles, clients, rpc, shares, &l) != 0)
		return NULL;
	if ((map = calloc(1, (size_t)l.file_size)) == NULL)
		return NULL;
	if (wcore_init_map(map, &l, "seed-host") != 0) {
		free(map);
		return NULL;
	}
	*len = (size_t)l.file_size;
	return map;
}

/* The two files of a seed pair: made for seed-host, state id SEED_ID. */
#define SEED_ID		0x0123456789abcdefull
#define SEED_ANCHOR	"/home/seed/.wapi/seed-host." WAPI_ABI ".state"
#define SEED_SEGMENT	"/dev/shm/wapi-1000-seed-host." WAPI_ABI \
			"-0123456789abcdef"

/* Make the image at map the anchor or the segment of a pair, naming peer. */
static void
seed_place(void *map, uint32_t placement, const char *peer)
{
	struct wapi_header *h = map;

	h->state_id = SEED_ID;
	h->placement = placement;
	memset(h->peer, 0, sizeof(h->peer));
	strlcpy(h->peer, peer, sizeof(h->peer));
	h->place_checksum = wcore_place_checksum(h);
}

static int
seed_states(fuzz_seed_fn *fn, void *ctx)
{
	char name[32];
	void *m;
	size_t len;
	uint32_t i, c;
	int n = 0;

	/* 1. fresh, nothing in it */
	if ((m = seed_image(16, 2, 16, 16, &len)) == NULL)
		return -1;
	fn("state", "fresh", m, len, ctx), n++;
	/* 2. the header alone, and one byte short of a header */
	fn("state", "header-only", m, WAPI_HEADER_SIZE, ctx), n++;
	fn("state", "header-short", m, WAPI_HEADER_SIZE - 1, ctx), n++;
	free(m);

	/* 3. populated like mkstate -p: every type, owned mutex, two clients,
	 * free list, a share entry */
	if ((m = seed_image(16, 2, 16, 16, &len)) == NULL)
		return -1;
	tf_populate(m, SEED_PID);
	fn("state", "populated", m, len, ctx), n++;
	/* 4. the same one byte short: the size disagrees with the header */
	fn("state", "populated-short", m, len - 1, ctx), n++;
	free(m);

	/* 5. a full handle table, all named, one client holding them */
	if ((m = seed_image(16, 1, 32, 4, &len)) == NULL)
		return -1;
	c = tf_attach(m, SEED_PID);
	for (i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), i % 2 ? "n\xc3\xa9-%u" : "n-%u", i);
		tf_event(m, name, i % 3 == 0, i % 2 == 0);
		tf_ref(m, c, i, 1 + i % 3);
	}
	fn("state", "full-named", m, len, ctx), n++;
	free(m);

	/* 6. a half-done change: a slot allocated, not yet referenced, a
	 * name inserted in the index only (what repair undoes) */
	if ((m = seed_image(32, 4, 8, 4, &len)) == NULL)
		return -1;
	tf_populate(m, SEED_PID);
	i = tf_alloc(m, WAPI_T_MUTEX);
	TF_HDR(m)->dirty = 1;
	tf_nameidx_put(m, wcore_name_hash("half", 4), i + 1);
	fn("state", "half-done", m, len, ctx), n++;
	free(m);

	/* 7. nobody attached, objects left over (an orphan's tables) */
	if ((m = seed_image(16, 2, 16, 16, &len)) == NULL)
		return -1;
	tf_sem(m, "left-over", 1, 3);
	tf_mutex(m, NULL, 0, 0, 0);
	WCORE_HANDLES(m)[0].refs = 2;
	WCORE_HANDLES(m)[1].refs = 1;
	fn("state", "orphan-tables", m, len, ctx), n++;
	free(m);

	/* 8. a pair (wapi-state(5), "Anchor and segment"): the populated
	 * tables as a segment naming its anchor, and the anchor alone, its
	 * 4 KiB header naming the segment */
	if ((m = seed_image(16, 2, 16, 16, &len)) == NULL)
		return -1;
	tf_populate(m, SEED_PID);
	seed_place(m, WAPI_PLACE_SEGMENT, SEED_ANCHOR);
	fn("state", "segment", m, len, ctx), n++;
	seed_place(m, WAPI_PLACE_ANCHOR, SEED_SEGMENT);
	fn("state", "anchor", m, WAPI_HEADER_SIZE, ctx), n++;
	/* ... and an anchor of the wrong size */
	fn("state", "anchor-long", m, 2 * WAPI_HEADER_SIZE, ctx), n++;
	free(m);
	return n;
}

static const char *const seed_names[] = {
	"build7.example.org.x86_64.state",
	"h.aarch64.state",
	".build7.example.org.x86_64.state.Ab3xYz",
	"shared_data-build7-Linux-x86_64-328-12-0",
	"shared_fileshare-build7-Linux-x86_64-24-12-0",
	"shared_scratch-build7-1-0",
	"shared_data-5",
	"shared_data-my-host-name-Linux-i686-328-12-3",
	"x86_64",
	"s\xc3\xa9maphore-\xe2\x82\xac",
	"\xf0\x9f\x98\x80 emoji",
	"\xed\xa0\x80 surrogate",
	"\xc0\xaf overlong",
	"\xf4\x90\x80\x80 above",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"..",
	"a/b.x86_64.state",
	".hidden.x86_64.state",
	"wapi-1000-build7.example.org.x86_64-0123456789abcdef",
	"wapi-0-h.aarch64-ffffffffffffffff",
	NULL
};

/* SPAWN payloads packed by the core, and messages as they go on the wire. */
static int
seed_proto(fuzz_seed_fn *fn, void *ctx)
{
	static const char *const argv1[] = { "sh", "-c", "echo hi", NULL };
	static const char *const env1[] = { "PATH=/bin", "A=\xc3\xa9", NULL };
	static const char *const argv2[] = { "true", NULL };
	struct wcore_msg m;
	unsigned char buf[sizeof(m) + 16];
	void *p;
	size_t len;
	int n = 0;

	if (wcore_spawn_pack(argv1, env1, "/tmp", 7, WCORE_SPAWN_CWDFD, &p,
	    &len) != 0)
		return -1;
	fn("proto", "spawn-full", p, len, ctx), n++;
	free(p);
	if (wcore_spawn_pack(argv2, NULL, NULL, 0, 0, &p, &len) != 0)
		return -1;
	fn("proto", "spawn-min", p, len, ctx), n++;
	free(p);

	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_HELLO;
	m.slot = 3;
	m.pid = SEED_PID;
	fn("proto", "msg-hello", &m, sizeof(m), ctx), n++;
	m.type = WCORE_MSG_FETCH;
	m.len = 16;
	m.handle = 0x00200001;
	memcpy(buf, &m, sizeof(m));
	memset(buf + sizeof(m), 0xab, 16);
	fn("proto", "msg-payload", buf, sizeof(buf), ctx), n++;
	return n;
}

/* Mono V12: the data file's head, then records (offsets in entry-mono.c). */
#define MS_HEAD		8
#define MS_LP64		328
#define MS_ILP32	312
#define MS_RECORDS	6

static void
ms_u32(unsigned char *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, sizeof(v));
}

static void
ms_head(unsigned char *r, uint32_t type, uint32_t stamp, uint32_t refs,
    uint32_t signalled)
{
	ms_u32(r, 0, type);
	ms_u32(r, 4, stamp);
	ms_u32(r, 8, refs);
	ms_u32(r, 12, signalled);
}

/* selector byte + head + a named mutex, semaphore and event, a process,
 * an unused slot and a thread; *len is the whole seed. */
static unsigned char *
seed_mono_image(size_t recsize, size_t *len)
{
	static const char proc[] = "/usr/lib/mono/2.0/gacutil.exe";
	unsigned char *img, *r;
	bool lp64 = recsize == MS_LP64;
	uint64_t tid64 = 0x00007f3a1c2d4700ULL;
	uint32_t tid32 = 0xb7211b40u;

	*len = 1 + MS_HEAD + MS_RECORDS * recsize;
	if ((img = calloc(1, *len)) == NULL)
		return NULL;
	img[0] = lp64 ? FUZZ_MONO_LP64 : FUZZ_MONO_ILP32;
	ms_u32(img + 1, 0, 5);		/* collection_count */
	ms_u32(img + 1, 4, 0x4d0051a2);	/* sem_key */
	r = img + 1 + MS_HEAD;

	ms_head(r, 11, 1231000000, 2, 0);	/* named mutex, owned */
	memcpy(r + 16, "Global\\build-lock", 18);
	ms_u32(r, 280, SEED_PID);
	if (lp64) {
		memcpy(r + 288, &tid64, sizeof(tid64));
		ms_u32(r, 296, 3);
	} else {
		ms_u32(r, 284, tid32);
		ms_u32(r, 288, 3);
	}
	r += recsize;
	ms_head(r, 12, 1231000001, 1, 1);	/* named semaphore */
	memcpy(r + 16, "s\xc3\xa9maphore", 11);
	ms_u32(r, 280, 2);
	ms_u32(r, 284, 10);
	r += recsize;
	ms_head(r, 13, 1231000002, 3, 1);	/* named event, manual */
	memcpy(r + 16, "ev", 2);
	ms_u32(r, 280, 1);
	ms_u32(r, 284, 4);
	r += recsize;
	ms_head(r, 9, 1231000003, 1, 0);	/* process, still active */
	ms_u32(r, 16, SEED_PID + 1);
	ms_u32(r, 20, 259);
	memcpy(r + (lp64 ? 48 : 44), proc, sizeof(proc));
	r += recsize;
	/* an unused slot: all zero */
	r += recsize;
	ms_head(r, 3, 1231000004, 1, 0);	/* a thread: not decoded */
	return img;
}

static const char *const seed_mono_names[] = {
	"shared_data-build7-Linux-x86_64-328-12-0",
	"mono-shared-1000-shared_data-build7-Linux-i686-312-12-0",
	NULL
};

static int
seed_mono(fuzz_seed_fn *fn, void *ctx)
{
	unsigned char *img;
	size_t len;
	int i, n = 0;

	if ((img = seed_mono_image(MS_LP64, &len)) == NULL)
		return -1;
	fn("mono", "v12-lp64", img, len, ctx), n++;
	/* cut inside the fourth record: three decoded */
	fn("mono", "v12-lp64-truncated", img, 1 + MS_HEAD + 3 * MS_LP64 + 100,
	    ctx), n++;
	/* the same bytes read as ILP32 records */
	img[0] = FUZZ_MONO_ILP32;
	fn("mono", "v12-lp64-as-ilp32", img, len, ctx), n++;
	free(img);
	if ((img = seed_mono_image(MS_ILP32, &len)) == NULL)
		return -1;
	fn("mono", "v12-ilp32", img, len, ctx), n++;
	fn("mono", "v12-head-only", img, 1 + MS_HEAD, ctx), n++;
	free(img);
	for (i = 0; seed_mono_names[i] != NULL; i++, n++)
		fn("mono", i == 0 ? "name-data" : "name-shm", seed_mono_names[i],
		    strlen(seed_mono_names[i]), ctx);
	return n;
}

int
fuzz_seeds(fuzz_seed_fn *fn, void *ctx)
{
	char label[16];
	int n, i, k;

	if ((n = seed_states(fn, ctx)) < 0 || (k = seed_proto(fn, ctx)) < 0)
		return -1;
	n += k;
	if ((k = seed_mono(fn, ctx)) < 0)
		return -1;
	n += k;
	for (i = 0; seed_names[i] != NULL; i++, n++) {
		snprintf(label, sizeof(label), "name-%02d", i);
		fn("names", label, seed_names[i], strlen(seed_names[i]), ctx);
	}
	return n;
}
