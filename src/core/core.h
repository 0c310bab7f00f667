/*
 * The core: everything that knows the state file format, file names,
 * directories and liveness.  Compiled once (libwapicore.la) and linked into
 * libwapi, wapi-helper and wapictl.  Symbols are prefixed wcore_ so that the
 * library's version script (which exports wapi_*) never exports them.
 *
 * Errors, one convention for the whole core (doc/design.md, "Errors"):
 *  - a function that returns a descriptor or an index returns it (>= 0), or
 *    -errno on failure; a lookup whose only failure is "there is none"
 *    returns -1, and its comment says so;
 *  - every other int function returns 0 or a positive errno value;
 *  - a function that returns an answer (a bool, a count, a size, a name, a
 *    time) is not reporting an error: its comment says what each value
 *    means, as for the few that are tri-state (1, 0, or "cannot tell").
 * "why" buffers receive one human sentence without a newline.
 */
#ifndef WAPI_CORE_H
#define WAPI_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "format.h"

/* ---------------------------------------------------------------- names.c */

/* NULL when host is an acceptable host name, else the reason (the rules:
 * doc/design.md, "Files and who writes them"). */
const char *wcore_host_check(const char *host);
/* NULL when abi is a known ABI tag, else the reason. */
const char *wcore_abi_check(const char *abi);
/* The known ABI tags, NULL-terminated. */
extern const char *const wcore_abi_tags[];

enum wcore_name_kind {
	WCORE_NAME_OTHER = 0,		/* not ours */
	WCORE_NAME_STATE,		/* <host>.<abi>.state */
	WCORE_NAME_TEMP,		/* .<host>.<abi>.state.XXXXXX */
	WCORE_NAME_LEGACY_DATA,		/* shared_data-... (Mono) */
	WCORE_NAME_LEGACY_SHARE,	/* shared_fileshare-... (Mono) */
	WCORE_NAME_LEGACY_SCRATCH,	/* shared_scratch-... (Mono 2003-2005) */
};

/* The eras of Mono's file names (mono.c has the whole table). */
enum wcore_mono_era {
	WCORE_MONO_NONE = 0,
	WCORE_MONO_2002,	/* shared_data-<V>: the helper daemon */
	WCORE_MONO_2003,	/* shared_{data,scratch}-<V>-<seg> */
	WCORE_MONO_2004,	/* shared_{data,scratch}-<host>-<V>-<seg> */
	WCORE_MONO_2005,	/* shared_{data,fileshare}-<host>-<V>-0 (V4-V7) */
	WCORE_MONO_2005_10,	/* ...-<host>-<sysname>-<machine>-<S>-<V>-0 */
	WCORE_MONO_2009_SHM,	/* the same as mono-shared-<uid>-... in /dev/shm */
	WCORE_MONO_ERA_COUNT
};

struct wcore_name {
	enum wcore_name_kind kind;
	enum wcore_mono_era era;	/* legacy names only */
	bool shm;		/* legacy: the mono-shared-<uid>- form */
	uid_t shm_uid;
	char host[256];		/* STATE/TEMP: validated host; legacy: as found */
	char abi[16];		/* STATE/TEMP */
	/* legacy shared_data-<host>-<sysname>-<machine>-<S>-<V>-<seg> */
	char sysname[64];
	char machine[64];
	unsigned long recsize;	/* 0 when the name has none */
	unsigned long version;
	unsigned long segment;
};

/* ----------------------------------------------------------------- mono.c */

struct wcore_mono_era_info {
	const char *id;		/* short word for output: "2005-10" */
	const char *what;	/* a few words */
	enum wcore_name_kind companion;	/* the other file of a state */
	bool has_host;		/* the name carries a host */
};
extern const struct wcore_mono_era_info wcore_mono_eras[WCORE_MONO_ERA_COUNT];
#define WCORE_MONO_SEM_COUNT	8	/* semaphores in Mono's set */
#define WCORE_MONO_SEM_ATTACH	7	/* V10+: attached processes */
/* Recognise a Mono name (any era, both places); false when not one. */
bool wcore_mono_name_parse(const char *fname, struct wcore_name *out);
/* Offset of the set's key_t in a data file of that name, -1: no key. */
int wcore_mono_key_offset(const struct wcore_name *n);
/* Whether semaphore 7 of its set counts attached processes (V10+). */
bool wcore_mono_attach_count(const struct wcore_name *n);
/* The value semaphore 7 has with nobody attached (1 in V10, else 0). */
int wcore_mono_attach_base(const struct wcore_name *n);
/* The Mono release(s) of a format version, in words. */
const char *wcore_mono_release(unsigned long version);
/* Whether two Mono names are files of one state (data and companion). */
bool wcore_mono_same_state(const struct wcore_name *a,
			   const struct wcore_name *b);
/* A hash equal for the files of one state. */
uint32_t wcore_mono_state_hash(const struct wcore_name *n);

/*
 * Mono V12's shared handle records (what `mono --wapi=hps` printed), read
 * from a copy of a data file: the int32 collection count and key_t, then
 * records of the size the name carries (328 bytes LP64, 312 ILP32), in
 * this machine's byte order.  Nothing in the bytes is trusted.
 */
enum wcore_mono_htype {		/* Mono's WapiHandleType */
	WCORE_MONO_H_UNUSED = 0, WCORE_MONO_H_FILE, WCORE_MONO_H_CONSOLE,
	WCORE_MONO_H_THREAD, WCORE_MONO_H_SEM, WCORE_MONO_H_MUTEX,
	WCORE_MONO_H_EVENT, WCORE_MONO_H_SOCKET, WCORE_MONO_H_FIND,
	WCORE_MONO_H_PROCESS, WCORE_MONO_H_PIPE, WCORE_MONO_H_NAMEDMUTEX,
	WCORE_MONO_H_NAMEDSEM, WCORE_MONO_H_NAMEDEVENT, WCORE_MONO_H_COUNT
};
#define WCORE_MONO_NAME_MAX	260	/* MAX_PATH: the name's bytes */
#define WCORE_MONO_PROC_NAME	256	/* _POSIX_PATH_MAX */
#define WCORE_MONO_V12_MAX	4096	/* records of early V12 (later 256) */
struct wcore_mono_handle {
	uint32_t type;		/* may be >= WCORE_MONO_H_COUNT: unknown */
	uint32_t timestamp;	/* time(NULL) of its last refresh */
	uint32_t refs;
	bool signalled;
	char name[WCORE_MONO_NAME_MAX + 1];	/* named types; NUL-ended */
	int32_t pid;		/* mutex owner, or the process */
	uint64_t tid;		/* mutex owner thread (pthread_t) */
	uint32_t count;		/* mutex recursion, semaphore value, event
				 * set count, process exit status */
	int32_t max;		/* semaphore maximum */
	bool manual;		/* event */
	char proc_name[WCORE_MONO_PROC_NAME + 1];	/* process */
};
/* Record size of the V12 layout a name says, 0 when not decoded here. */
size_t wcore_mono_v12_recsize(const struct wcore_name *n);
/* How many whole records a copy of len bytes holds (at most _V12_MAX). */
size_t wcore_mono_v12_count(size_t len, size_t recsize);
/* Record i of buf[0, len); false when it lies outside. */
bool wcore_mono_v12_record(const void *buf, size_t len, size_t recsize,
			   size_t i, struct wcore_mono_handle *out);
/* Mono's word for a type, as --wapi=hps printed it ("N.Mutex"). */
const char *wcore_mono_type_name(uint32_t type);
/* The type of ours a Mono type is (WAPI_T_*), WAPI_T_FREE when none. */
unsigned wcore_mono_type_wapi(uint32_t type);

/* Classify a directory entry name.  Never fails: unknown is NAME_OTHER. */
void wcore_name_parse(const char *fname, struct wcore_name *out);
/* "<host>.<abi>.state" into buf; ENAMETOOLONG or EINVAL (bad host/abi). */
int wcore_state_name(char *buf, size_t len, const char *host, const char *abi);
/* ".<host>.<abi>.state.XXXXXX" template for mkostemp. */
int wcore_temp_template(char *buf, size_t len, const char *host, const char *abi);

/* UTF-8 validation of an object name: NULL if fine, else the reason. */
const char *wcore_object_name_check(const char *name, size_t maxlen);
/* The UTF-8 part of that check, on the len bytes of a name whose length is
 * already known to be within bounds. */
const char *wcore_utf8_check(const char *name, size_t len);
/* Hash of an object name (never 0). */
uint32_t wcore_name_hash(const char *name, size_t len);

/* ------------------------------------------------------------------ dir.c */

/* Fill a why buffer (may be NULL or of length 0: nothing is written). */
void wcore_why(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Resolve the state directory ($WAPI_SHARED_DIR/.wapi, ...; doc/design.md,
 * "Files and who writes them").  ENAMETOOLONG / ENOENT (no HOME) with why
 * filled; buf then names the directory for a message, never for use: cut
 * in the middle with "..." when too long, "$HOME/.wapi" when unset. */
int wcore_dir_path(char *buf, size_t len, char *why, size_t whylen);
/* Resolve the host name the same way and validate it (EINVAL + why). */
int wcore_host_name(char *buf, size_t len, char *why, size_t whylen);
/* Open (and with create, mkdir 0700) the state directory, refusing a symlink,
 * a foreign owner and group/other write; returns a directory descriptor
 * (O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC) or -errno with why filled. */
int wcore_dir_open(const char *path, bool create, char *why, size_t whylen);

/* What fstatat(AT_SYMLINK_NOFOLLOW) said of a directory entry. */
struct wcore_fileinfo {
	mode_t mode;
	uid_t uid;
	nlink_t nlink;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime;
};

struct wcore_dirent {
	char name[256];
	struct wcore_name parsed;
	struct wcore_fileinfo info;
};
/* Call fn for every entry of dirfd whose name is one of ours (state, temp,
 * legacy), never following links; entries sorted by name.  fn returning
 * non-zero stops the walk and that value is returned: use negative values,
 * since the scan's own failures are positive errno values. */
int wcore_dir_scan(int dirfd, int (*fn)(const struct wcore_dirent *, void *),
		   void *ctx);

/* Open a state file in dirfd for reading or writing: O_NOFOLLOW|O_CLOEXEC,
 * then fstat: must be a regular file owned by us, mode without group/other
 * bits, one link.  -errno with why filled (ELOOP, EPERM, EMLINK, ...). */
int wcore_state_open(int dirfd, const char *name, bool writable,
		     char *why, size_t whylen);

/* ----------------------------------------------------------------- live.c */

/* OFD lock bytes.  type: F_RDLCK, F_WRLCK or F_UNLCK.  wait_ms: 0 try once,
 * -1 forever, else up to that long.  0, EAGAIN (held by another), ETIMEDOUT,
 * or errno. */
int wcore_lock_byte(int fd, off_t byte, int type, int wait_ms);
/* Whether another open file description holds a lock conflicting with type
 * on byte: 1 held, 0 free, -errno (an answer that can fail: an exception to
 * the convention at the top, kept so for its callers outside the core). */
int wcore_byte_held(int fd, off_t byte, int type);

/* This boot's id (36 chars + NUL) from /proc/sys/kernel/random/boot_id. */
int wcore_boot_id(char out[40]);
/* starttime (field 22) of /proc/PID/stat; ESRCH when gone. */
int wcore_proc_start(pid_t pid, uint64_t *start);
/* 1 when pid runs with that start time, 0 when not (gone, reused or a
 * zombie), -1 when /proc cannot tell (hidepid): treat as maybe alive. */
int wcore_pid_alive(pid_t pid, uint64_t start);
/* 1 when pid (of that start time) runs and is not exiting (its files may
 * be closing: a dropped connection is not yet a death), else 0. */
int wcore_pid_running(pid_t pid, uint64_t start);

/* Wall clock helpers (coarse: jiffies resolution, cheap). */
int64_t wcore_now_ns(void);
int64_t wcore_now_s(void);
/* The age at now of stamp (both in seconds since the epoch), from a file,
 * so anything: saturated at INT64_MIN and INT64_MAX instead of
 * overflowing; negative when stamp lies in the future. */
int64_t wcore_age_s(int64_t now, int64_t stamp);
/* A stamp further in the future than this is no clock jitter: its age is
 * unknown (wapictl clean counts it as old enough). */
#define WCORE_FUTURE_SLACK_S	60

enum wcore_verdict {
	WCORE_LIVE = 0,
	WCORE_ORPHANED,
	WCORE_STALE_BOOT,
	WCORE_CORRUPT,
	WCORE_INCOMPATIBLE,
	WCORE_FOREIGN,
	WCORE_TEMPORARY,
	WCORE_LEGACY,		/* a Mono file (wapictl) */
	WCORE_UNREADABLE,	/* could not be opened or read */
	WCORE_VERDICT_COUNT
};
const char *wcore_verdict_name(enum wcore_verdict v);

enum wcore_seg_state {
	WCORE_SEG_FILE = 0,	/* a whole file: the tables are in it */
	WCORE_SEG_OK,		/* an anchor whose segment is sound */
	WCORE_SEG_GONE,		/* an anchor whose segment is missing */
	WCORE_SEG_BAD,		/* ... is not its segment (seg_why) */
	WCORE_SEG_UNSEEN,	/* another host's anchor: not looked at */
};

struct wcore_status {
	enum wcore_verdict verdict;
	char reason[256];	/* words: why this verdict */
	bool header_ok;		/* hdr below is a validated copy */
	struct wapi_header hdr;	/* copy (table_lock bytes included) */
	bool helper_byte_held;
	bool init_byte_held;
	int  helper_alive;	/* 1 alive, 0 dead (gone or reused), -1 unknown */
	uint32_t clients_live;	/* client slots whose byte is held */
	uint32_t clients_recorded;
	bool lock_held;		/* table lock holder recorded */
	int32_t lock_pid, lock_tid;
	int64_t helper_silent_s;	/* > 0: this host's helper holds its
					 * byte but its heartbeat is that old */
	off_t size;
	int64_t mtime;
	/* Where the tables are (an anchor's segment is looked at for this
	 * host only; hdr is then the segment's header, the live one). */
	enum wcore_seg_state seg;
	char seg_path[WAPI_PEER_MAX];	/* an anchor's segment */
	char seg_why[200];		/* SEG_GONE, SEG_BAD: why */
	off_t seg_size;			/* its apparent size */
	int64_t seg_resident;		/* memory it holds (allocated bytes) */
	bool seg_held;			/* its init byte is held */
};
/* The helper writes its heartbeat every WCORE_HEARTBEAT_S; one older than
 * WCORE_HEARTBEAT_STALE_S means a helper that no longer runs its loop
 * (stopped, stuck): it will not answer its clients either. */
#define WCORE_HEARTBEAT_S	2
#define WCORE_HEARTBEAT_STALE_S	(5 * WCORE_HEARTBEAT_S)
/* The verdict of an open state file (fd from wcore_state_open), for this
 * host name (a different header host is FOREIGN; NULL skips the check).
 * Reads the header with pread, never maps.  Returns 0 whenever it reached a
 * verdict, an errno (verdict UNREADABLE, reason filled) when fstat/pread
 * fail.  Locks held through fd's own open file description are invisible:
 * pass a fresh descriptor. */
int wcore_verdict(int fd, const char *this_host, struct wcore_status *out);

/* --------------------------------------------------------------- format.c */

/* The size of one entry of each region (the format's, never a file's). */
extern const uint32_t wcore_entry_sizes[WAPI_R_COUNT];

struct wcore_layout {
	uint32_t handles, nameidx, clients, refs_per_client, shares;
	struct wapi_region_desc regions[WAPI_R_COUNT];
	uint64_t file_size;
	/* Where the tables go (0: a whole file; wcore_init_pair sets them). */
	uint32_t init_count;		/* 0: the old header's count + 1 */
	uint64_t state_id;
	uint32_t placement;		/* WAPI_PLACE_* */
	char peer[WAPI_PEER_MAX];
};
/* Compute a layout; EINVAL when a capacity is out of range. */
int wcore_layout(uint32_t handles, uint32_t clients, uint32_t refs_per_client,
		 uint32_t shares, struct wcore_layout *out);
/* Capacities from the environment (WAPI_MAX_HANDLES) or the defaults. */
int wcore_layout_default(struct wcore_layout *out, char *why, size_t whylen);
/* Initialise a file (a non-empty one is truncated to 0 first, so nothing
 * old survives): ftruncate to the layout's size (sparse), write the header (checksum, robust table lock, host, boot
 * id, uid, time).  fd must be open O_RDWR. */
int wcore_init(int fd, const struct wcore_layout *l, const char *host);
/* Same on an existing mapping of a file already sized for l. */
int wcore_init_map(void *map, const struct wcore_layout *l, const char *host);
uint64_t wcore_checksum(const struct wapi_header *h);
/* Map the tables of an open state file (MAP_SHARED; read-only when
 * !writable) after checking its header: the file itself, or for an anchor
 * its segment, opened (wcore_seg_open) and checked against the anchor.
 * EINVAL with why = the first header problem, EFBIG when the size does not
 * fit size_t, ENOENT when an anchor's segment is gone.  wcore_map_state
 * hands the segment's descriptor back in *segfd (-1 for a whole file);
 * wcore_map closes it. */
int wcore_map(int fd, bool writable, void **map, size_t *len,
	      char *why, size_t whylen);
int wcore_map_state(int fd, bool writable, void **map, size_t *len,
		    int *segfd, char *why, size_t whylen);

/* -------------------------------------------------------------- segment.c */

/*
 * Anchor and segment (wapi-state(5)): the file in the state directory is a
 * 4 KiB anchor, written only when it is made, when a helper starts or
 * leaves and every WCORE_ANCHOR_BEAT_S; the header the clients use and the
 * tables are in the segment, a file on a memory file system, so that hot
 * paths never dirty a page of a disk or NFS file.
 */
#define WCORE_ANCHOR_BEAT_S	60	/* the helper's heartbeat in the anchor */
#define WCORE_SEG_PREFIX	"wapi-"
#define WCORE_SEG_GRACE_S	60	/* a segment younger than this may be
					   one whose anchor is being made */

/* Read the header of the open state file fd (pread: never maps) and check
 * it: 0 when sound, EINVAL with why when not (or another version or ABI),
 * or an errno.  size (may be NULL) gets the file's size. */
int wcore_header_read(int fd, struct wapi_header *h, uint64_t *size,
		      char *why, size_t whylen);
/* FNV-1a 64 of the placement fields and peer (header.place_checksum). */
uint64_t wcore_place_checksum(const struct wapi_header *h);
/* The directory segments are made in: WAPI_SEGMENT_DIR when set (the value
 * "none" keeps the tables in the state file), else $XDG_RUNTIME_DIR, else
 * /dev/shm; it must be a directory of a memory file system (tmpfs,
 * ramfs), owned by us and not writable by others, or sticky.  0 with the
 * path in buf, else an errno with why saying why the tables stay in the
 * state file. */
int wcore_seg_dir(char *buf, size_t len, char *why, size_t whylen);
/* The segment's file name: wapi-<uid>-<host>.<abi>-<state id, 16 hex>.
 * ENAMETOOLONG when it does not fit. */
int wcore_seg_name(char *buf, size_t len, uid_t uid, const char *host,
		   const char *abi, uint64_t state_id);
/* Parse a segment file name (wcore_seg_name's form); false when it is not
 * one.  host must have WAPI_HOST_MAX + 1 bytes, abi 16. */
bool wcore_seg_name_parse(const char *name, uid_t *uid, char *host,
			  char *abi, uint64_t *state_id);
/*
 * Open the segment of the anchor whose header (checked) is a: its peer,
 * never through a link, a regular file of ours of mode 0600 with one
 * link, whose header is sound, a segment, and the same state as the anchor
 * (identical checksummed part, same state id, peer naming an anchor).  The
 * descriptor, or -errno with why: -ENOENT when it is gone, -EINVAL when
 * the file there is not the anchor's segment.  seg (may be NULL) receives
 * a copy of its header.
 */
int wcore_seg_open(const struct wapi_header *a, bool writable,
		   struct wapi_header *seg, char *why, size_t whylen);
/*
 * Initialise the state file fd, named name in the directory dirfd (the
 * name it has or will have): its segment in wcore_seg_dir and fd as its
 * anchor, or, when no segment directory is usable, fd as a whole file
 * (wcore_init).  l's placement fields are set here.  0 or an errno, why
 * filled; placed (may be NULL) receives "" for a segment, else why the
 * tables stay in the file.
 */
int wcore_init_pair(int fd, int dirfd, const char *name,
		    const struct wcore_layout *l, const char *host,
		    char *placed, size_t placedlen, char *why, size_t whylen);
/* Remove the segment of anchor header a (checked): the file at its peer
 * path when that is a name made for this anchor (our uid, its host, ABI and
 * state id) and a regular file of ours, whatever its contents; never a
 * link, never another's file, never one whose byte 1 another process
 * holds (EBUSY).  segfd: the caller's own descriptor of it (its locks do
 * not count; the name must still lead to it, else ESTALE), or -1.  The
 * caller holds the anchor's init byte exclusively.  0, ENOENT when it was
 * gone, or an errno. */
int wcore_seg_remove(const struct wapi_header *a, int segfd);
/* Copy the helper fields (helper_pid .. helper_heartbeat, helper_token) of
 * the segment header h to the anchor fd, when fd is an anchor (a whole file
 * has them in place).  0 or an errno. */
int wcore_anchor_publish(int fd, const struct wapi_header *h);
/* Hint the kernel to back a segment mapping with huge pages
 * (MADV_HUGEPAGE) unless WAPI_HUGEPAGES=0; nothing for a whole file. */
void wcore_seg_advise(void *map, size_t len);

/* Accessors: no bounds checks; use only on a validated mapping. */
#define WCORE_REGION(map, id) \
	((void *)((char *)(map) + ((const struct wapi_header *)(map))->regions[id].offset))
#define WCORE_HANDLES(map) ((struct wapi_handle_entry *)WCORE_REGION(map, WAPI_R_HANDLES))
#define WCORE_NAMEIDX(map) ((struct wapi_nameidx_entry *)WCORE_REGION(map, WAPI_R_NAMEIDX))
#define WCORE_NAMES(map)   ((struct wapi_name_entry *)WCORE_REGION(map, WAPI_R_NAMES))
#define WCORE_CLIENTS(map) ((struct wapi_client_entry *)WCORE_REGION(map, WAPI_R_CLIENTS))
/* The end of the used part of the handle table, never past its capacity:
 * every walk and lookup of the table stops there, so that a damaged
 * handle_hwm in a live file cannot send a reader beyond the region. */
static inline uint32_t
wcore_handle_end(const void *map)
{
	const struct wapi_header *h = map;
	uint32_t hwm = __atomic_load_n(&h->handle_hwm, __ATOMIC_RELAXED);
	uint32_t cap = h->regions[WAPI_R_HANDLES].capacity;

	return hwm < cap ? hwm : cap;
}
#define WCORE_CREFS(map)   ((struct wapi_cref_entry *)WCORE_REGION(map, WAPI_R_CREFS))
#define WCORE_SHARES(map)  ((struct wapi_share_entry *)WCORE_REGION(map, WAPI_R_SHARES))
#define WCORE_WAITS(map)   ((struct wapi_wait_record *)WCORE_REGION(map, WAPI_R_WAITS))
/* The wait records of client slot s (WAPI_WAIT_RECORDS of them). */
#define WCORE_WAIT_BLOCK(map, s) (WCORE_WAITS(map) + (size_t)(s) * WAPI_WAIT_RECORDS)

const char *wcore_type_name(unsigned type);	/* "event", ..., "?" */
int wcore_type_parse(const char *s);		/* -1 when unknown */

/* ------------------------------------------------------------- validate.c */

enum wcore_where {
	WCORE_W_FILE = 0,	/* the file as a whole (size, type) */
	WCORE_W_HEADER,
	WCORE_W_HANDLES,
	WCORE_W_NAMEIDX,
	WCORE_W_NAMES,
	WCORE_W_CLIENTS,
	WCORE_W_CREFS,
	WCORE_W_SHARES,
	WCORE_W_FREELIST,
	WCORE_W_WAITS,
};
const char *wcore_where_name(enum wcore_where w);

struct wcore_problem {
	enum wcore_where where;
	int64_t index;		/* entry index, -1 for none */
	uint64_t offset;	/* byte offset in the file */
	char what[160];
};

struct wcore_report {
	struct wcore_problem *problems;	/* malloc'd; free with wcore_report_free */
	size_t count, cap;
	size_t limit;		/* stop after this many (0: no limit) */
	bool incompatible;	/* version/ABI/BOM differ: not corrupt, other */
};
void wcore_report_free(struct wcore_report *r);
/* Format problem i as "region[index] @offset: what". */
void wcore_problem_format(const struct wcore_problem *p, char *buf, size_t len);

/* Check the header of a buffer of len bytes (at least the header or what the
 * file holds) for a file of file_size bytes.  Returns the number of problems
 * added (0: header sound and regions lie inside the file, disjoint). */
size_t wcore_check_header(const void *buf, size_t len, uint64_t file_size,
			  struct wcore_report *r);
/* Full validation of a mapping of the whole file: header, then every region
 * (types, generations, reference counts vs client refs, names terminated and
 * UTF-8, name index both ways, free list acyclic and complete, semaphore
 * counts, mutex owners, client slots, shares).  Returns problems added. */
size_t wcore_validate(const void *map, size_t len, struct wcore_report *r);
/*
 * The same checks, with the same findings, on a buffer of which only the
 * extents data[0..ndata) (sorted, disjoint, in bytes from the start) may
 * hold anything but zeros: the caller made it so (a private copy of a
 * sparse file into which only the file's data was read).  A stretch
 * outside them is known to be zero without being read, so that a big,
 * little-used file costs what its data costs.  data NULL: nothing known,
 * as wcore_validate.
 */
struct wcore_extent {
	uint64_t off, len;
};
size_t wcore_validate_sparse(const void *map, size_t len,
			     const struct wcore_extent *data, size_t ndata,
			     struct wcore_report *r);

/* ----------------------------------------------------------------- pool.c */

/* A job: fn(arg) on a thread of its own, started with every signal
 * blocked, or run in place by wcore_job_start when no thread can be had
 * (the caller cannot tell the difference but in time).  wcore_job_wait
 * joins the thread; every started job must be waited for. */
struct wcore_job {
	pthread_t th;
	bool threaded;		/* th runs fn; false: it already ran */
};
void wcore_job_start(struct wcore_job *j, void *(*fn)(void *), void *arg);
void wcore_job_wait(struct wcore_job *j);

/* --------------------------------------------------------------- tables.c */

/* Operations on the tables of a validated, writable mapping.  The caller
 * holds the table lock.  Indexes are slot indexes (not handle numbers). */
static inline uint32_t
wcore_handle_number(uint32_t index, uint32_t generation)
{
	return ((generation & WAPI_HANDLE_GEN_MASK) << WAPI_HANDLE_INDEX_BITS) |
	    (index + 1);
}
/* The slot of a live handle number, or -1 (out of range, free, reused). */
int64_t wcore_handle_slot(const void *map, uint32_t number);
/* A zeroed slot of the given type with refs 0: ENOSPC when full, EUCLEAN
 * when the free list's head is a live slot (a loop: wcore_free_rebuild). */
int wcore_handle_alloc(void *map, unsigned type, uint32_t *index);
/* The same for a named object of hash: its preferred slot
 * (wcore_name_slot) or the other of that pair when either is free, else
 * any.  A preferred slot above handle_hwm raises the mark over it; the
 * slots passed over stay fresh (all zero, off the free list). */
int wcore_handle_alloc_named(void *map, unsigned type, uint32_t hash,
			     uint32_t *index);
/* Append free slot index to the free list's tail. */
void wcore_free_push(void *map, uint32_t index);
/* Make the free list again from the freed slots below handle_hwm. */
void wcore_free_rebuild(void *map);
/* A slot never used: all 64 bytes zero.  Below handle_hwm such a slot is
 * free without being on the free list (wapi-state(5)). */
bool wcore_handle_fresh(const struct wapi_handle_entry *e);
/* Zero a slot, keeping its sleeper counts (waiters, mwaiters). */
void wcore_handle_clear(struct wapi_handle_entry *e);
/* Return a slot to the free list (removes its name, bumps generation). */
void wcore_handle_free(void *map, uint32_t index);
/* Slot of the live handle named name (len bytes, hash), or -1. */
int64_t wcore_name_find(const void *map, const char *name, size_t len,
			uint32_t hash);
/* Name slot index (already allocated, not yet named): ENOSPC when the
 * index is full. */
int wcore_name_insert(void *map, uint32_t index, const char *name, size_t len,
		      uint32_t hash);
void wcore_name_remove(void *map, uint32_t index);
/* The count client slot holds on handle index (0 when none). */
uint32_t wcore_cref_count(const void *map, uint32_t slot, uint32_t index);
/* One more / one fewer reference of client slot on handle index; keeps the
 * handle's refs in step.  add: ENOSPC when the client's block is full.
 * sub: ENOENT when the client holds none; *freed set when the handle's last
 * reference went and the slot was freed. */
int wcore_cref_add(void *map, uint32_t slot, uint32_t index);
int wcore_cref_sub(void *map, uint32_t slot, uint32_t index, bool *freed);
/* Everything a (dead or detaching) client held: its references (handles
 * reaching 0 are freed), the mutexes it owned (abandoned, waiters woken
 * through wake(index)), and the slot itself.  Returns references dropped. */
size_t wcore_client_release(void *map, uint32_t slot,
			    void (*wake)(void *map, uint32_t index));
/* A consistent copy of wait record r (format.h) into *out, read without a
 * lock: 1 a wait, 0 no wait, -1 the record kept changing while read. */
int wcore_wait_snapshot(const struct wapi_wait_record *r,
			struct wapi_wait_record *out);
/* The sleeping thread's side of wait record r (format.h): its wait written
 * (tid, any or all, count objects whose slot indexes are the first
 * min(count, 8) of idx, the timeout asked, since now), then cleared.  Only
 * that thread writes r: seq odd around each change. */
void wcore_wait_begin(struct wapi_wait_record *r, int32_t tid, bool all,
		      uint32_t count, uint32_t timeout_ms, const uint32_t *idx);
void wcore_wait_end(struct wapi_wait_record *r);
/* Whether wait record r is all zero. */
bool wcore_wait_zero(const struct wapi_wait_record *r);
/* Zero the wait records of client slot s (its threads sleep no more). */
void wcore_waits_clear(void *map, uint32_t slot);
/* Win32 share modes on (dev, ino): account one more open with access and
 * share bits (1 << WAPI_FD_BIT_*: 0x1 read, 0x2 write, 0x4 delete) if it is
 * compatible with every existing open: 0, EBUSY (sharing violation) or
 * ENOSPC. */
int wcore_share_acquire(void *map, uint64_t dev, uint64_t ino,
			unsigned access, unsigned share);
void wcore_share_release(void *map, uint64_t dev, uint64_t ino,
			 unsigned access, unsigned share);
/* Count an open without the compatibility check (repair rebuilds). */
int wcore_share_account(void *map, uint64_t dev, uint64_t ino,
			unsigned access, unsigned share);
/* Mutex ownership by a client slot (see tables.c for the window between
 * taking the lock word and recording the owner), and abandonment: the
 * next acquirer gets WAPI_WAIT_ABANDONED.  The caller wakes the waiters. */
bool wcore_mutex_owned_by(const struct wapi_handle_entry *e, uint32_t slot);
void wcore_mutex_abandon(struct wapi_handle_entry *e);
/* Take a wait-all's freeze (WAPI_SYNC_FROZEN) off e's state word: true
 * when it was there.  Only for a holder of the table lock, which is when a
 * freeze is stray (its wait-all ended or died). */
bool wcore_thaw(struct wapi_handle_entry *e);
/* Bump a handle's futex word after a change (the caller wakes). */
static inline void
wcore_handle_changed(struct wapi_handle_entry *e)
{
	__atomic_add_fetch(&e->futex, 1, __ATOMIC_SEQ_CST);
}

/* Futex operations on words of the (shared) mapping: never FUTEX_PRIVATE,
 * since other processes sleep on the same word. */
int wcore_futex_wait(uint32_t *word, uint32_t expected, int64_t deadline_ns);
/* CLOCK_MONOTONIC in ns, the clock of futex deadlines. */
int64_t wcore_now_mono_ns(void);
void wcore_futex_wake(uint32_t *word, int n);
/* The futex wake callback for wcore_client_release. */
void wcore_wake_handle(void *map, uint32_t index);
/* Slot index changed (table lock held): its time stamp, its futex word,
 * and a wake of its sleepers. */
void wcore_handle_touch(void *map, uint32_t index);

/* ------------------------------------------------------------ tablelock.c */

/* Keep a copy of a validated mapping's immutable header part (ENOSPC past
 * a few mappings); wcore_header_check puts it back when a writer changed
 * it (true then; counted in wcore_header_restores).  wcore_table_lock
 * checks on every acquisition.  Unguard before unmapping. */
int wcore_guard(const void *map);
void wcore_unguard(const void *map);
bool wcore_header_check(void *map);
uint32_t wcore_header_restores(void);

/* Take the table lock of a mapped, validated state file (writable map).
 * wait_ms: 0 try, -1 forever, else bounded.  Records the holder (pid, tid,
 * time) after locking.  When the previous holder died (EOWNERDEAD) it
 * repairs what a half-done change left (wcore_repair) before marking the
 * mutex consistent; *recovered (may be NULL) tells.  Returns 0, EBUSY
 * (try), ETIMEDOUT, ENOTRECOVERABLE, or errno. */
int wcore_table_lock(void *map, int wait_ms, bool *recovered);
/* The calling thread's id, cached (no system call after the first; reset
 * in a forked child). */
pid_t wcore_gettid(void);
pid_t wcore_getpid(void);
void wcore_table_unlock(void *map);
/* Repair the regions guarded by the table lock after an owner died in the
 * middle of a change: recount, rebuild the free list and the name index
 * from the handle table, drop index entries pointing at free slots.  The
 * caller holds the lock.  Returns the number of fixes made. */
size_t wcore_repair(void *map);

/* ---------------------------------------------------------------- proto.c */

/* The helper's abstract socket name ("\0wapi-<uid>-<token in hex>") into
 * addr; returns the sockaddr length to pass to bind/connect.  The token is
 * the header's helper_token: random, chosen by each helper as it starts,
 * readable only by the file's owner, so nobody else can bind the name
 * before the helper does (doc/design.md, "Helper protocol"). */
#include <sys/socket.h>
#include <sys/un.h>
socklen_t wcore_sock_addr(struct sockaddr_un *addr, uid_t uid,
			  const uint8_t token[WAPI_HELPER_TOKEN_LEN]);

/*
 * A client's sleep records: a memfd the client hands the helper with its
 * HELLO (role 0), in which each of its sleeping threads writes the slots it
 * sleeps on.  A killed sleeper cannot count itself out of the slots'
 * waiters; the helper does it from these records once the client is dead.
 * A record is written after the waiters count went up and cleared before
 * it goes down, so the helper can only ever leave a count too high (extra
 * wake-ups), never too low (a lost one).  Untrusted by the helper.
 */
#define WCORE_SLEEP_ROWS	64	/* threads asleep at once, tracked */
#define WCORE_SLEEP_COLS	64	/* handles per wait */
#define WCORE_SLEEP_MULTI	0x80000000u	/* in a multi-object wait */
struct wcore_sleeps {
	uint64_t used;				/* claimed rows */
	uint32_t rows[WCORE_SLEEP_ROWS][WCORE_SLEEP_COLS]; /* slot + 1 | MULTI */
};
/* Count the sleepers of a dead client's records out of the slots and wake
 * the other sleepers of those slots, in case the dead one had been woken
 * (the caller holds the table lock). */
void wcore_sleeps_release(void *map, const struct wcore_sleeps *s);

enum wcore_msg_type {
	WCORE_MSG_HELLO = 1,	/* client -> helper: slot, pid */
	WCORE_MSG_BYE,		/* client -> helper: clean detach */
	WCORE_MSG_OK,		/* helper -> client: value, error */
	WCORE_MSG_STOP,		/* wapictl -> helper: leave now */
	WCORE_MSG_DEPOSIT,	/* client -> helper: + SCM_RIGHTS fd for handle */
	WCORE_MSG_FETCH,	/* client -> helper: handle; reply + SCM_RIGHTS */
	WCORE_MSG_SPAWN,	/* client -> helper: spawn request */
	WCORE_MSG_TERMINATE,	/* client -> helper: handle, code */
	WCORE_MSG_PING,
	WCORE_MSG_RELEASE,	/* client -> helper: handle freed, drop its fd (no reply) */
	WCORE_MSG_PROC_OPEN,	/* client -> helper: + pidfd of a non-child, handle */
	WCORE_MSG_SEGMENT,	/* client -> helper: reply + SCM_RIGHTS of the
				   segment, whose name is gone */
};

struct wcore_msg {
	uint32_t type;
	uint32_t len;		/* bytes of payload following this header */
	uint32_t slot;		/* client slot */
	int32_t  pid;
	uint32_t handle;
	int32_t  value;
	int32_t  error;		/* 0 or an errno / WAPI_E* value */
	uint32_t reserved;
};
/* Send/receive one message with an optional descriptor (fd < 0: none;
 * *fd = -1 on receive when none came).  Receives use MSG_CMSG_CLOEXEC and
 * close any descriptor that arrives unasked.  Payload up to plen bytes:
 * EMSGSIZE when more came, EPROTO when the length field disagrees,
 * ECONNRESET when the peer closed. */
int wcore_msg_send(int sock, const struct wcore_msg *m, const void *payload,
		   int fd);
/* The same with up to WCORE_MSG_MAX_FDS descriptors; recvv keeps at most
 * maxfds of them (in fds, count in *nfds) and closes the rest. */
#define WCORE_MSG_MAX_FDS 4
int wcore_msg_sendv(int sock, const struct wcore_msg *m, const void *payload,
		    const int *fds, int nfds);
int wcore_msg_recvv(int sock, struct wcore_msg *m, void *payload, size_t plen,
		    int *fds, int *nfds, int maxfds);
int wcore_msg_recv(int sock, struct wcore_msg *m, void *payload, size_t plen,
		   int *fd);
/* Peer credentials check: 0 when the peer is uid, EPERM otherwise. */
int wcore_peer_check(int sock, uid_t uid, pid_t *peer_pid);
/*
 * Connect to the helper of the state file fd: only while a helper holds its
 * byte and has written its token (else -ECONNREFUSED without connecting),
 * without blocking in connect (a full backlog is tried again until
 * timeout_ms, then -EAGAIN), every later send and receive bounded by
 * timeout_ms; the peer must be our uid and the helper_pid of the header
 * (else -EPERM: a stranger, or a helper that left or has not yet
 * published itself).  The socket (close-on-exec) or -errno.
 */
int wcore_helper_socket(int fd, int timeout_ms, pid_t *peer_pid);

#endif
