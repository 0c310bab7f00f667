/*
 * The state file format: the one definition of every byte of
 * <dir>/<host>.<abi>.state.  wapi-state(5) documents the same offsets; the
 * _Static_asserts at the end keep the two honest.  Nothing here is trusted
 * when read back from a file: see validate.c.
 */
#ifndef WAPI_CORE_FORMAT_H
#define WAPI_CORE_FORMAT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#define WAPI_MAGIC		"WAPISTAT"	/* 8 bytes, no NUL */
#define WAPI_FORMAT_VERSION	6u
#define WAPI_HEADER_SIZE	4096u
#define WAPI_BOM		0x01020304u

/* Lock bytes (F_OFD_SETLK offsets; advisory, they do not touch data). */
#define WAPI_LOCK_HELPER	0	/* exclusive: the live helper */
#define WAPI_LOCK_INIT		1	/* exclusive: (re)initialise; shared: attached */
#define WAPI_LOCK_CLIENT0	2048	/* + slot: exclusive, held by that client */

/* Capacities. */
#define WAPI_DEFAULT_HANDLES	65536u
#define WAPI_MAX_HANDLES_LIMIT	2097151u	/* 21 bits of index in a number */
#define WAPI_MIN_HANDLES	16u
#define WAPI_DEFAULT_CLIENTS	1024u
#define WAPI_MAX_CLIENTS	2048u		/* client bytes must fit the header */
#define WAPI_DEFAULT_SHARES	16384u
#define WAPI_DEFAULT_CLIENT_REFS 16384u		/* distinct handles per client */
/*
 * The largest tables a file may have (wcore_layout refuses more, validation
 * reports more as corrupt): a little above what the library creates, so
 * that the cost of checking a file is bounded whatever its header says.
 */
#define WAPI_MAX_NAMEIDX	(1u << 22)	/* 2 x WAPI_MAX_HANDLES_LIMIT, rounded */
#define WAPI_MAX_CLIENT_REFS	(1u << 20)	/* refs_per_client */
#define WAPI_MAX_CREFS		(1u << 24)	/* clients x refs_per_client: 128 MiB */
#define WAPI_MAX_SHARES		(1u << 16)
#define WAPI_NAME_MAX		260u		/* bytes of UTF-8, without the NUL */
#define WAPI_HOST_MAX		64u
#define WAPI_PEER_MAX		256u		/* header.peer, with the NUL */

/*
 * A handle number: low 21 bits are the slot index + 1 (so 0 is never valid),
 * the high 11 bits the low bits of the slot's generation.
 */
#define WAPI_HANDLE_INDEX_BITS	21u
#define WAPI_HANDLE_INDEX_MASK	((1u << WAPI_HANDLE_INDEX_BITS) - 1u)
#define WAPI_HANDLE_GEN_MASK	0x7ffu

enum wapi_region_id {
	WAPI_R_HANDLES = 0,	/* struct wapi_handle_entry[capacity] */
	WAPI_R_NAMEIDX,		/* struct wapi_nameidx_entry[capacity], power of 2 */
	WAPI_R_NAMES,		/* struct wapi_name_entry[handle capacity] */
	WAPI_R_CLIENTS,		/* struct wapi_client_entry[capacity] */
	WAPI_R_CREFS,		/* struct wapi_cref_entry[clients * refs_per_client] */
	WAPI_R_SHARES,		/* struct wapi_share_entry[capacity], power of 2 */
	WAPI_R_WAITS,		/* struct wapi_wait_record[clients * WAPI_WAIT_RECORDS] */
	WAPI_R_COUNT
};
#define WAPI_R_MAX 8		/* slots in the header's region table */

struct wapi_region_desc {
	uint64_t offset;	/* from the start of the file, 4 KiB aligned */
	uint64_t size;		/* capacity * entry_size, rounded up to 4 KiB */
	uint32_t capacity;
	uint32_t entry_size;
};

/* Fixed 4 KiB header.  Offsets are part of the format (wapi-state(5)). */
struct wapi_header {
	/* -- immutable after initialisation, covered by checksum -- */
	char     magic[8];		/*    0 */
	uint32_t version;		/*    8 */
	uint32_t header_size;		/*   12 */
	char     abi[16];		/*   16 NUL-terminated */
	uint32_t bom;			/*   32 */
	uint32_t creator_uid;		/*   36 */
	uint64_t file_size;		/*   40 */
	int64_t  created;		/*   48 seconds since the epoch */
	char     host[72];		/*   56 NUL-terminated */
	char     boot_id[40];		/*  128 NUL-terminated, 36 chars */
	uint32_t refs_per_client;	/*  168 */
	uint32_t region_count;		/*  172 == WAPI_R_COUNT */
	struct wapi_region_desc regions[WAPI_R_MAX];	/* 176 .. 368 */
	uint64_t checksum;		/*  368 FNV-1a 64 over bytes [0, 368) */
	/* -- where the tables are: immutable, covered by place_checksum -- */
	uint64_t state_id;		/*  376 random at initialisation; an
					   anchor and its segment share it */
	uint32_t placement;		/*  384 WAPI_PLACE_* */
	uint32_t place_flags;		/*  388 0 (none defined yet) */
	uint64_t place_checksum;	/*  392 FNV-1a 64 over [376, 392)
					   and peer[] */
	uint8_t  reserved0[112];	/*  400 .. 512 zero */

	/* -- mutable -- */
	int32_t  helper_pid;		/*  512 0 when none */
	uint32_t helper_flags;		/*  516 WAPI_HELPER_F_* */
	uint64_t helper_start;		/*  520 /proc/PID/stat starttime */
	int64_t  helper_heartbeat;	/*  528 seconds since the epoch */
	uint32_t init_count;		/*  536 times this file was initialised */
	uint32_t handle_hwm;		/*  540 slots [hwm, cap) never used */
	uint32_t handle_free_head;	/*  544 index + 1, 0: list empty */
	uint32_t handle_free_tail;	/*  548 index + 1 */
	uint32_t handles_used;		/*  552 */
	uint32_t names_used;		/*  556 */
	uint32_t clients_used;		/*  560 */
	uint32_t shares_used;		/*  564 */
	uint32_t lock_recoveries;	/*  568 EOWNERDEAD repairs */
	uint32_t dirty;			/*  572 1 while a change is in progress */
	uint64_t handles_created;	/*  576 */
	uint64_t clients_attached;	/*  584 */
	uint32_t wake_seq;		/*  592 futex word for wait-any sleepers */
	uint32_t reserved_m;		/*  596 */
	uint8_t  helper_token[16];	/*  600 the socket name's secret part;
					   zero when no helper listens */
	uint8_t  reserved1[408];	/*  616 .. 1024 */

	/* -- the table lock -- */
	union {
		pthread_mutex_t m;	/* PROCESS_SHARED | ROBUST */
		uint8_t pad[64];
	} table_lock;			/* 1024 */
	int32_t  lock_holder_pid;	/* 1088 written after locking */
	int32_t  lock_holder_tid;	/* 1092 */
	int64_t  lock_since;		/* 1096 ns, CLOCK_REALTIME */
	uint32_t handle_fresh_from;	/* 1104 a hint: no fresh slot below */
	uint8_t  reserved2[172];	/* 1108 .. 1280 */
	char     peer[WAPI_PEER_MAX];	/* 1280 the other file of the pair, an
					   absolute path, NUL-terminated: an
					   anchor's segment, a segment's
					   anchor; empty in a whole file */
	uint8_t  reserved3[WAPI_HEADER_SIZE - 1536];
};

#define WAPI_CHECKSUM_END	368u	/* checksum covers [0, this) */

/*
 * header.placement: where the tables of a state are (wapi-state(5),
 * "Anchor and segment").  A whole file holds its tables after the header.
 * An anchor is the header alone (WAPI_HEADER_SIZE bytes, in the state
 * directory): its checksummed part is a copy of its segment's, and peer
 * names the segment, a file on a memory file system that holds the header
 * the clients use and the tables; the segment's peer names the anchor back.
 */
#define WAPI_PLACE_FILE		0u
#define WAPI_PLACE_ANCHOR	1u
#define WAPI_PLACE_SEGMENT	2u
#define WAPI_HELPER_F_STOP	0x1u	/* helper_flags: wapictl stop asked it to leave */
#define WAPI_HELPER_TOKEN_LEN	16u	/* bytes of helper_token (getrandom) */

enum wapi_type {
	WAPI_T_FREE = 0,
	WAPI_T_EVENT,
	WAPI_T_MUTEX,
	WAPI_T_SEMAPHORE,
	WAPI_T_FILE,
	WAPI_T_PIPE,
	WAPI_T_SOCKET,
	WAPI_T_PROCESS,
	WAPI_T_COUNT
};

/* wapi_handle_entry.flags */
#define WAPI_HF_MANUAL_RESET	0x01u	/* event */
#define WAPI_HF_NAMED		0x02u	/* names region slot is in use */
#define WAPI_HF_ABANDONED	0x04u	/* mutex: next acquirer gets ABANDONED */
#define WAPI_HF_EXITED		0x08u	/* process: exit status recorded */
#define WAPI_HF_DEPOSITED	0x10u	/* descriptor held by the helper */
#define WAPI_HF_FIXED		0x20u	/* ... at the helper's fixed number
					   for the slot (wapi-helper(8)) */

struct wapi_handle_entry {			/* 64 bytes */
	uint32_t futex;		/*  0 bumped when a process exits, a slot is
				   freed, a mutex abandoned: process waits
				   sleep on it, other waits on u's first word */
	uint8_t  type;		/*  4 enum wapi_type */
	uint8_t  flags;		/*  5 WAPI_HF_* */
	uint16_t waiters;	/*  6 sleepers (all kinds of wait); kept across
				   free and reuse: a sleeper counts itself out */
	uint32_t generation;	/*  8 bumped when the slot is freed */
	uint32_t refs;		/* 12 references from all clients */
	union {			/* 16: a FREE slot is never NAMED */
		uint32_t next_free;	/* FREE: next on the free list
					   (index + 1, 0 at the tail) */
		uint32_t name_hash;	/* NAMED: the name's hash */
	};
	uint32_t mwaiters;	/* 20 sleepers of multi-object waits */
	int64_t  changed;	/* 24 ns, CLOCK_REALTIME: created, freed,
				   abandoned (not every set/release) */
	union {			/* 32 .. 64 */
		struct {
			uint32_t signalled;
			uint32_t pulse_seq;	/* bumped by each pulse */
			uint32_t pulse_tokens;	/* auto reset: waiters a pulse may still release */
		} event;
		struct {
			/* One 64-bit word changed with compare-and-swap:
			 * the owner's thread id and the recursion count
			 * (both 0 when free). */
			union {
				uint64_t lockword;
				struct {
					int32_t  owner_tid;
					uint32_t recursion;
				};
			};
			int32_t  owner_pid;	/* written by the owner after */
			uint32_t owner_client;	/* client slot + 1 */
			uint64_t owner_start;
			int64_t  owned_since;	/* 56 ns, CLOCK_REALTIME_COARSE:
						   when the owner took it */
		} mutex;
		struct {
			/* One 64-bit word changed with compare-and-swap:
			 * the count and the maximum, whose sign bit is
			 * WAPI_SEM_WAITERS (read the maximum through
			 * wapi_sem_max). */
			union {
				uint64_t semword;
				struct {
					int32_t count;
					int32_t max;
				};
			};
		} sem;
		struct {
			int32_t  pid;
			int32_t  status;	/* exit code, WAPI_STILL_ACTIVE, ... */
			int64_t  start;		/* ns */
			int64_t  exit;		/* ns */
			uint32_t pflags;
			int32_t  sitter;	/* the helper's process that
						   starts and reaps a spawned
						   one: its claim on a spawn,
						   0 none (wapi-helper(8)) */
		} proc;
		struct {
			int32_t  creator_pid;
			uint32_t creator_client;	/* slot + 1 */
			uint64_t dev;
			uint64_t ino;
			uint8_t  access;	/* WAPI_ACCESS_* */
			uint8_t  share;		/* WAPI_SHARE_* */
			uint8_t  kind;		/* WAPI_FDK_* */
		} fd;
		struct {
			uint32_t spare[7];
			uint32_t prev_free;	/* 60 FREE: previous on the free
						   list (index + 1, 0 at the
						   head): a named object takes
						   its preferred slot out of the
						   middle of the list */
		} fl;
		uint8_t raw[32];
	} u;
};

/*
 * A wait-all freezes the state word of each object it looks at (event
 * signalled, semaphore count, mutex recursion) by setting this bit while it
 * holds the table lock; lock-free operations that see it wait for the table
 * lock and try again.  Never set outside the table lock; repair clears it.
 */
#define WAPI_SYNC_FROZEN	0x80000000u

/*
 * A thread may sleep waiting for this mutex: set in u.mutex.owner_tid (bit
 * 30, never part of a thread id, which Linux keeps below 2^22) by a waiter
 * before it sleeps on that word, cleared when the mutex is freed.  The
 * thread that frees a mutex with the bit set wakes one sleeper; one that
 * frees it without the bit makes no system call, whatever sleeps elsewhere.
 */
#define WAPI_MUTEX_WAITERS	0x40000000u

/*
 * The same for a semaphore: a waiter sets this bit of u.sem.max (the
 * maximum is at least 1 and never changes, so its sign bit is free) while
 * the count is 0, and sleeps on u.sem.max (with the bit: a release clears
 * it, so a sleep that comes too late fails; multi-object waiters sleep on
 * the count).  The release that raises the
 * count clears the bit and, if it was set, wakes as many as it released;
 * a woken waiter takes with the bit set, and wakes one more when it
 * leaves a count behind.
 */
#define WAPI_SEM_WAITERS	0x80000000u

/* The maximum of semaphore e, without the waiters bit. */
static inline int32_t
wapi_sem_max(const struct wapi_handle_entry *e)
{
	return (int32_t)((uint32_t)e->u.sem.max & ~WAPI_SEM_WAITERS);
}

/* The owner thread of mutex e, without the waiters bit (0: free). */
static inline int32_t
wapi_mutex_owner_tid(const struct wapi_handle_entry *e)
{
	return e->u.mutex.owner_tid & (int32_t)~WAPI_MUTEX_WAITERS;
}

/* Whether a wait on e would succeed now: an event set, a mutex free, a
 * semaphore above 0, a process that exited.  Other types never are. */
static inline bool
wapi_handle_signalled(const struct wapi_handle_entry *e)
{
	switch (e->type) {
	case WAPI_T_EVENT:
		return e->u.event.signalled != 0;
	case WAPI_T_MUTEX:
		return e->u.mutex.owner_pid == 0;
	case WAPI_T_SEMAPHORE:
		return e->u.sem.count > 0;
	case WAPI_T_PROCESS:
		return (e->flags & WAPI_HF_EXITED) != 0;
	default:
		return false;
	}
}

/*
 * wapi_handle_entry.u.fd.access and .share hold the bits of wapi_file_open's
 * access and share arguments as they are; bit WAPI_FD_BIT_* of an open is
 * counted in wapi_share_entry.access[] and .denied[] at that index.
 */
#define WAPI_FD_BIT_READ	0
#define WAPI_FD_BIT_WRITE	1
#define WAPI_FD_BIT_DELETE	2
#define WAPI_FD_BITS		3

/* wapi_handle_entry.u.fd.kind */
#define WAPI_FDK_SHARES		0x01u	/* counted in the file-share table */

struct wapi_nameidx_entry {		/* 8 bytes; linear probing */
	uint32_t hash;
	uint32_t handle;		/* slot index + 1, 0: empty */
};

struct wapi_name_entry {		/* 264 bytes, one per handle slot */
	char name[WAPI_NAME_MAX + 1];	/* NUL-terminated UTF-8 */
	uint8_t pad[264 - WAPI_NAME_MAX - 1];
};

#define WAPI_CS_FREE	 0u
#define WAPI_CS_ATTACHED 1u

struct wapi_client_entry {		/* 64 bytes */
	uint32_t state;		/*  0 WAPI_CS_* */
	int32_t  pid;		/*  4 */
	uint64_t start;		/*  8 /proc/PID/stat starttime */
	int64_t  attached;	/* 16 ns, CLOCK_REALTIME */
	uint32_t refs_used;	/* 24 distinct handles in its cref block */
	uint32_t refs_total;	/* 28 sum of counts */
	uint32_t cflags;	/* 32 WAPI_CF_* */
	uint32_t waits_unrecorded; /* 36 its threads asleep without a wait
				   record (all WAPI_WAIT_RECORDS in use) */
	uint8_t  reserved[24];	/* 40 */
};

/* wapi_client_entry.cflags */
#define WAPI_CF_MUTEXES	0x1u	/* set before the client first takes a
				   mutex: only then can its release find
				   mutexes to abandon (a scan of every slot) */

struct wapi_cref_entry {		/* 8 bytes; linear probing per client */
	uint32_t handle;	/* slot index + 1, 0: empty */
	uint32_t count;
};

struct wapi_share_entry {		/* 48 bytes; home slot: wcore_share_home() (hash.h) */
	uint64_t dev;
	uint64_t ino;
	uint32_t opens;		/* 0: empty */
	uint32_t access[WAPI_FD_BITS];	/* [i]: opens with access bit i */
	uint32_t denied[WAPI_FD_BITS];	/* [i]: opens not sharing bit i */
	uint32_t reserved;
};

/*
 * Wait records (region WAPI_R_WAITS): WAPI_WAIT_RECORDS per client slot,
 * the block of slot s at index s * WAPI_WAIT_RECORDS.  A thread that is
 * about to sleep in a wait writes the record of its sleep row (the row it
 * holds in the client's sleep records, core.h) when that row is below
 * WAPI_WAIT_RECORDS, and clears it when the sleep is over; a sleep without
 * a record counts in its client's waits_unrecorded.  Written without the
 * table lock, by the sleeping thread alone: seq is odd while it writes, a
 * reader copies the record and keeps the copy only if seq was even and
 * unchanged around it.  The release of a client slot (detach, death)
 * zeroes its block.
 */
#define WAPI_WAIT_RECORDS	16u	/* records per client slot */
#define WAPI_WAIT_HANDLES	8u	/* handles a record lists */
#define WAPI_WF_ALL		0x1u	/* wait-all (else any of them) */
#define WAPI_WAIT_FOREVER	0xffffffffu	/* timeout_ms of no timeout */

struct wapi_wait_record {		/* 64 bytes */
	uint32_t seq;		/*  0 odd while being written */
	int32_t  tid;		/*  4 the sleeping thread; 0: no wait */
	uint16_t wflags;	/*  8 WAPI_WF_* */
	uint16_t count;		/* 10 handles of the wait, 1 to 64 */
	uint32_t timeout_ms;	/* 12 as asked, WAPI_WAIT_FOREVER */
	int64_t  since;		/* 16 ns, CLOCK_REALTIME: the sleep began */
	uint32_t handles[WAPI_WAIT_HANDLES]; /* 24 slot index + 1 of the
				   first min(count, 8) objects, then 0 */
	uint8_t  reserved[8];	/* 56 */
};

_Static_assert(sizeof(struct wapi_header) == WAPI_HEADER_SIZE, "header");
_Static_assert(offsetof(struct wapi_header, checksum) == WAPI_CHECKSUM_END, "cks");
_Static_assert(offsetof(struct wapi_header, helper_pid) == 512, "mutable");
_Static_assert(offsetof(struct wapi_header, helper_token) == 600, "token");
_Static_assert(sizeof(((struct wapi_header *)0)->helper_token) ==
    WAPI_HELPER_TOKEN_LEN, "token size");
_Static_assert(offsetof(struct wapi_header, state_id) == 376, "state id");
_Static_assert(offsetof(struct wapi_header, place_checksum) == 392, "place");
_Static_assert(offsetof(struct wapi_header, peer) == 1280, "peer");
_Static_assert(offsetof(struct wapi_header, table_lock) == 1024, "lock");
_Static_assert(offsetof(struct wapi_header, lock_holder_pid) == 1088, "holder");
_Static_assert(offsetof(struct wapi_header, handle_fresh_from) == 1104, "fresh");
_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex fits");
_Static_assert(sizeof(struct wapi_handle_entry) == 64, "handle");
_Static_assert(offsetof(struct wapi_handle_entry, u.fl.prev_free) == 60, "prev_free");
_Static_assert(offsetof(struct wapi_handle_entry, u.proc.sitter) == 60, "sitter");
_Static_assert(sizeof(struct wapi_nameidx_entry) == 8, "nameidx");
_Static_assert(sizeof(struct wapi_name_entry) == 264, "name");
_Static_assert(sizeof(struct wapi_client_entry) == 64, "client");
_Static_assert(offsetof(struct wapi_client_entry, cflags) == 32, "cflags");
_Static_assert(sizeof(struct wapi_cref_entry) == 8, "cref");
_Static_assert(sizeof(struct wapi_share_entry) == 48, "share");
_Static_assert(sizeof(struct wapi_wait_record) == 64, "wait record");
_Static_assert(offsetof(struct wapi_handle_entry, u.mutex.owned_since) == 56,
    "owned_since");
_Static_assert(offsetof(struct wapi_client_entry, waits_unrecorded) == 36,
    "waits_unrecorded");
_Static_assert(WAPI_LOCK_CLIENT0 + WAPI_MAX_CLIENTS <= WAPI_HEADER_SIZE, "lock bytes");
_Static_assert(2ull * WAPI_MAX_HANDLES_LIMIT <= WAPI_MAX_NAMEIDX, "name index");
_Static_assert((unsigned long long)WAPI_DEFAULT_CLIENTS *
    WAPI_DEFAULT_CLIENT_REFS <= WAPI_MAX_CREFS, "default refs");
_Static_assert(WAPI_DEFAULT_SHARES <= WAPI_MAX_SHARES, "default shares");

/* The compile-time ABI tag of this build. */
#if defined(__x86_64__) && defined(__ILP32__)
#define WAPI_ABI "x32"
#elif defined(__x86_64__)
#define WAPI_ABI "x86_64"
#elif defined(__i386__)
#define WAPI_ABI "i386"
#elif defined(__aarch64__)
#define WAPI_ABI "aarch64"
#elif defined(__arm__)
#define WAPI_ABI "arm"
#elif defined(__riscv) && __riscv_xlen == 64
#define WAPI_ABI "riscv64"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WAPI_ABI "ppc64le"
#elif defined(__powerpc64__)
#define WAPI_ABI "ppc64"
#elif defined(__s390x__)
#define WAPI_ABI "s390x"
#elif defined(__loongarch64)
#define WAPI_ABI "loongarch64"
#elif defined(__mips__) && defined(_ABI64)
#define WAPI_ABI "mips64"
#else
#error "unknown ABI: add a tag to src/core/format.h and wapi-state(5)"
#endif

#endif
