/*
 * Liveness: OFD lock bytes, boot id, process start times, and the verdict of
 * a state file (doc/design.md, "Liveness").  The kernel drops a dead
 * process's locks, so a held byte is the only proof of life; PIDs are only
 * reported.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static int	live_stat_fields(pid_t, char *, uint64_t *, unsigned long *);
static int	live_read_all(int, void *, size_t, off_t, size_t *);
static bool	live_range_held(int, off_t, off_t);
static uint32_t	live_count_clients(int, uint32_t);
static void	live_reason(struct wcore_status *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Reasons are cut at sizeof(reason) on purpose: they are for display. */
static void
live_reason(struct wcore_status *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

int
wcore_lock_byte(int fd, off_t byte, int type, int wait_ms)
{
	struct flock fl;
	struct timespec now, end, nap;
	long step_ms = 1;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;

	if (type == F_UNLCK || wait_ms == 0) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		return (errno == EACCES) ? EAGAIN : errno;
	}
	if (wait_ms < 0) {
		while (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
			if (errno != EINTR)
				return errno;
		return 0;
	}
	/*
	 * A bounded wait polls F_OFD_SETLK: a timer signal to break SETLKW
	 * would leak into the caller's signal handling.
	 */
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += wait_ms / 1000;
	end.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return errno;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return ETIMEDOUT;
		nap.tv_sec = 0;
		nap.tv_nsec = step_ms * 1000000L;
		nanosleep(&nap, NULL);
		if (step_ms < 50)
			step_ms *= 2;
	}
}

int
wcore_byte_held(int fd, off_t byte, int type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

int
wcore_boot_id(char out[40])
{
	char buf[64];
	ssize_t n;
	int fd, e, i;

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof(buf) - 1);
	e = errno;
	close(fd);
	if (n < 0)
		return e;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n != 36)
		return EPROTO;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (buf[i] != '-')
				return EPROTO;
		} else if (!((buf[i] >= '0' && buf[i] <= '9') ||
		    (buf[i] >= 'a' && buf[i] <= 'f')))
			return EPROTO;
	}
	memcpy(out, buf, 36);
	memset(out + 36, 0, 4);
	return 0;
}

/*
 * State (field 3), flags (field 9, when flags is not NULL) and starttime
 * (field 22) of /proc/PID/stat.  comm (field 2) may hold spaces and ')',
 * so fields are counted after the LAST ')'.
 */
static int
live_stat_fields(pid_t pid, char *state, uint64_t *start, unsigned long *flags)
{
	char path[64], buf[1024], *p, *end;
	unsigned long long v;
	size_t n;
	int fd, e, field;

	if (pid <= 0)
		return ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? ESRCH : errno;
	e = live_read_all(fd, buf, sizeof(buf) - 1, 0, &n);
	close(fd);
	if (e != 0)
		return e;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return EPROTO;
	p++;
	for (field = 3; ; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			return EPROTO;
		if (field == 3)
			*state = *p;
		if (field == 9 && flags != NULL)
			*flags = strtoul(p, NULL, 10);
		if (field == 22)
			break;
		while (*p != ' ' && *p != '\0')
			p++;
	}
	if (*p < '0' || *p > '9')
		return EPROTO;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
		return EPROTO;
	*start = v;
	return 0;
}

int
wcore_proc_start(pid_t pid, uint64_t *start)
{
	char state;

	return live_stat_fields(pid, &state, start, NULL);
}

/*
 * A zombie holds no locks and answers no socket: dead.  -1 when /proc does
 * not tell (e.g. hidepid): callers must treat that as "maybe alive".
 */
int
wcore_pid_alive(pid_t pid, uint64_t start)
{
	uint64_t s;
	char state = '?';
	int e;

	e = live_stat_fields(pid, &state, &s, NULL);
	if (e == ESRCH)
		return 0;
	if (e != 0)
		return -1;
	if (state == 'Z' || state == 'X' || state == 'x')
		return 0;
	return s == start;
}

#define LIVE_PF_EXITING	0x4	/* the kernel's task flag: in do_exit */

int
wcore_pid_running(pid_t pid, uint64_t start)
{
	unsigned long flags = LIVE_PF_EXITING;
	uint64_t s;
	char state = '?';

	if (live_stat_fields(pid, &state, &s, &flags) != 0)
		return 0;
	return state != 'Z' && state != 'X' && state != 'x' && s == start &&
	    !(flags & LIVE_PF_EXITING);
}

int64_t
wcore_now_ns(void)
{
	struct timespec ts;

	/* Coarse: these times are for people (last change, lock holder
	 * since), and the precise clock costs tens of ns on a hot path. */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
wcore_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

int64_t
wcore_age_s(int64_t now, int64_t stamp)
{
	int64_t age;

	if (!__builtin_sub_overflow(now, stamp, &age))
		return age;
	/* Only a stamp far from now overflows: its sign says which way. */
	return stamp < 0 ? INT64_MAX : INT64_MIN;
}

const char *
wcore_verdict_name(enum wcore_verdict v)
{
	static const char *const names[WCORE_VERDICT_COUNT] = {
		[WCORE_LIVE] = "live",
		[WCORE_ORPHANED] = "orphaned",
		[WCORE_STALE_BOOT] = "stale-boot",
		[WCORE_CORRUPT] = "corrupt",
		[WCORE_INCOMPATIBLE] = "incompatible",
		[WCORE_FOREIGN] = "foreign",
		[WCORE_TEMPORARY] = "temporary",
		[WCORE_LEGACY] = "legacy",
		[WCORE_UNREADABLE] = "unreadable",
	};

	if ((unsigned)v >= WCORE_VERDICT_COUNT)
		return "?";
	return names[v];
}

/* pread until len bytes or end of file; *got receives what was read. */
static int
live_read_all(int fd, void *buf, size_t len, off_t off, size_t *got)
{
	ssize_t n;
	size_t done = 0;

	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*got = done;
			return errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

/*
 * Whether another open file description may hold a lock in [start, end):
 * false only when the kernel said none; when it cannot tell, true, and the
 * callers look byte by byte as for "some".
 */
static bool
live_range_held(int fd, off_t start, off_t end)
{
	struct flock fl;

	if (end <= start)
		return false;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = end - start;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return true;
	return fl.l_type != F_UNLCK;
}

/* Client bytes held by other descriptions among the first n slots. */
static uint32_t
live_count_clients(int fd, uint32_t n)
{
	uint32_t i, held = 0;

	/* One query for the whole range first: the usual answer is "none". */
	if (!live_range_held(fd, WAPI_LOCK_CLIENT0,
	    (off_t)WAPI_LOCK_CLIENT0 + n))
		return 0;
	for (i = 0; i < n; i++)
		if (wcore_byte_held(fd, WAPI_LOCK_CLIENT0 + i, F_WRLCK) == 1)
			held++;
	return held;
}

/*
 * The verdict (doc/design.md, "Liveness").  Order of the decisions:
 *
 *  1. unreadable (fstat/pread fails);
 *  2. a header that fails wcore_check_header is CORRUPT or INCOMPATIBLE
 *     even when a process holds one of its lock bytes: the verdict says what
 *     the file is, the *_held fields and the reason say that it is in use
 *     ("..., and held by a live process: do not remove").  Nothing may
 *     remove or re-initialise such a file, and wapictl and the library must
 *     check helper_byte_held/init_byte_held/clients_live, not only the
 *     verdict.  (A LIVE verdict would hide the damage from `status`.)
 *  3. any byte held (helper, init in any mode, a client) => LIVE, also for
 *     another host's file (its lock can only be seen over NFS with a lock
 *     manager, and then it is real);
 *  4. another host => FOREIGN, with the heartbeat age;
 *  5. another boot id => STALE_BOOT;
 *  6. otherwise ORPHANED, saying what became of the recorded helper.
 *
 * Locks held through fd's own open file description are invisible to
 * F_OFD_GETLK: pass a descriptor of your own (wcore_state_open), not the one
 * you lock with.  this_host NULL skips the host comparison.
 *
 * wcore_verdict (at the end) reads the header, probes the lock bytes,
 * describes the holders and decides, a static function each.
 */

/* What one step learns for the next ones, besides what out records. */
struct verdict_facts {
	char problem[200];	/* the header's first problem, "" when sound */
	bool incompat;		/* ... and it is another version or ABI */
	bool init_excl;		/* the init byte is held exclusively */
	char held[96];		/* who holds it, in words; "" when nobody */
};

/* Read and check the header: an errno (UNREADABLE) when fstat/pread fail. */
static int
verdict_read_header(int fd, struct wcore_status *out, struct verdict_facts *f)
{
	union {
		struct wapi_header h;
		unsigned char b[WAPI_HEADER_SIZE];
	} buf;
	struct wcore_report rep;
	struct stat st;
	size_t n;
	int e;

	if (fstat(fd, &st) != 0) {
		e = errno;
		out->verdict = WCORE_UNREADABLE;
		live_reason(out, "fstat: %s", strerror(e));
		return e;
	}
	out->size = st.st_size;
	out->mtime = (int64_t)st.st_mtime;

	memset(&buf, 0, sizeof(buf));
	if ((e = live_read_all(fd, buf.b, sizeof(buf.b), 0, &n)) != 0) {
		out->verdict = WCORE_UNREADABLE;
		live_reason(out, "cannot read the header: %s", strerror(e));
		return e;
	}
	memset(&rep, 0, sizeof(rep));
	rep.limit = 4;
	if (n < WAPI_HEADER_SIZE)
		snprintf(f->problem, sizeof(f->problem), "the file is %zu "
		    "bytes, shorter than its %u-byte header", n,
		    WAPI_HEADER_SIZE);
	else if (wcore_check_header(buf.b, n, (uint64_t)st.st_size, &rep) > 0 &&
	    rep.count > 0)
		wcore_problem_format(&rep.problems[0], f->problem,
		    sizeof(f->problem));
	else if (rep.incompatible)
		snprintf(f->problem, sizeof(f->problem),
		    "another format version or ABI");
	else {
		out->header_ok = true;
		memcpy(&out->hdr, &buf.h, sizeof(out->hdr));
	}
	f->incompat = rep.incompatible;
	wcore_report_free(&rep);
	return 0;
}

/*
 * An anchor of this host: look at its segment.  The segment's header is
 * the live one (counters, the helper's heartbeat, the lock holder): it
 * replaces the anchor's copy in out->hdr.  Another host's segment is on
 * that host's memory file system: never looked for here.
 */
static void
verdict_segment(struct wcore_status *out, const char *this_host)
{
	struct wapi_header seg;
	struct stat st;
	int fd;

	if (!out->header_ok || out->hdr.placement != WAPI_PLACE_ANCHOR)
		return;
	strlcpy(out->seg_path, out->hdr.peer, sizeof(out->seg_path));
	if (this_host != NULL && strncmp(out->hdr.host, this_host,
	    sizeof(out->hdr.host)) != 0) {
		out->seg = WCORE_SEG_UNSEEN;
		return;
	}
	fd = wcore_seg_open(&out->hdr, false, &seg, out->seg_why,
	    sizeof(out->seg_why));
	if (fd < 0) {
		out->seg = fd == -ENOENT ? WCORE_SEG_GONE : WCORE_SEG_BAD;
		return;
	}
	out->seg = WCORE_SEG_OK;
	if (fstat(fd, &st) == 0) {
		out->seg_size = st.st_size;
		out->seg_resident = (int64_t)st.st_blocks * 512;
	}
	out->seg_held = wcore_byte_held(fd, WAPI_LOCK_INIT, F_WRLCK) == 1;
	close(fd);
	memcpy(&out->hdr, &seg, sizeof(out->hdr));
}

/* Which lock bytes other open file descriptions hold (never blocks). */
static void
verdict_probe_locks(int fd, struct wcore_status *out, struct verdict_facts *f)
{
	uint32_t scan;

	/*
	 * Every query is one syscall.  One query over every lock byte
	 * first: when nothing conflicts with a write lock anywhere in the
	 * range, each byte-wise query below would answer "free" too, and
	 * most files of a big directory are not live.
	 */
	scan = WAPI_MAX_CLIENTS;
	if (out->header_ok &&
	    out->hdr.regions[WAPI_R_CLIENTS].capacity < WAPI_MAX_CLIENTS)
		scan = out->hdr.regions[WAPI_R_CLIENTS].capacity;
	if (!live_range_held(fd, WAPI_LOCK_HELPER,
	    (off_t)WAPI_LOCK_CLIENT0 + scan))
		return;
	out->helper_byte_held =
	    wcore_byte_held(fd, WAPI_LOCK_HELPER, F_WRLCK) == 1;
	out->init_byte_held = wcore_byte_held(fd, WAPI_LOCK_INIT, F_WRLCK) == 1;
	f->init_excl = out->init_byte_held &&
	    wcore_byte_held(fd, WAPI_LOCK_INIT, F_RDLCK) == 1;
	out->clients_live = live_count_clients(fd, scan);
}

/* Who holds the file, in words for the reason ("the helper and 2 clients"). */
static void
verdict_holders(const struct wcore_status *out, struct verdict_facts *f)
{
	const char *s = out->clients_live == 1 ? "" : "s";

	if (out->helper_byte_held && out->clients_live > 0)
		snprintf(f->held, sizeof(f->held), "the helper and %" PRIu32
		    " client%s", out->clients_live, s);
	else if (out->helper_byte_held)
		snprintf(f->held, sizeof(f->held), "the helper");
	else if (out->clients_live > 0)
		snprintf(f->held, sizeof(f->held), "%" PRIu32 " client%s",
		    out->clients_live, s);
	else if (f->init_excl)
		snprintf(f->held, sizeof(f->held), "a process initialising it");
	else if (out->init_byte_held)
		snprintf(f->held, sizeof(f->held), "an attached process");
}

/* Decision 4 (or 3 for a held file): another host's file. */
static void
verdict_foreign(struct wcore_status *out, const char *held)
{
	int64_t age;

	/* Its PIDs belong to another machine: say nothing of them. */
	age = wcore_age_s(wcore_now_s(), out->hdr.helper_heartbeat);
	if (held[0] != '\0') {
		out->verdict = WCORE_LIVE;
		live_reason(out, "held by %s on host %s", held, out->hdr.host);
	} else if (out->hdr.helper_heartbeat > 0 &&
	    age < -WCORE_FUTURE_SLACK_S) {
		out->verdict = WCORE_FOREIGN;
		live_reason(out, "belongs to host %s; last heartbeat %" PRId64
		    " s in the future (the clocks disagree)", out->hdr.host,
		    age == INT64_MIN ? INT64_MAX : -age);
	} else if (out->hdr.helper_heartbeat > 0) {
		if (age < 0)
			age = 0;	/* clock jitter */
		out->verdict = WCORE_FOREIGN;
		live_reason(out, "belongs to host %s; last heartbeat %" PRId64
		    " s ago", out->hdr.host, age);
	} else {
		out->verdict = WCORE_FOREIGN;
		live_reason(out, "belongs to host %s; no heartbeat recorded",
		    out->hdr.host);
	}
}

/* Decision 3 on this host: LIVE, and whether its helper still answers. */
static void
verdict_live(struct wcore_status *out, const char *held, int alive)
{
	int64_t age = wcore_age_s(wcore_now_s(), out->hdr.helper_heartbeat);
	int64_t stale = WCORE_HEARTBEAT_STALE_S;

	/* An anchor whose segment cannot be read gives only the heartbeat
	 * the helper copies to it every WCORE_ANCHOR_BEAT_S. */
	if (out->hdr.placement == WAPI_PLACE_ANCHOR)
		stale += WCORE_ANCHOR_BEAT_S;
	out->verdict = WCORE_LIVE;
	if (out->helper_byte_held && alive == 1 &&
	    out->hdr.helper_heartbeat > 0 && age > stale) {
		out->helper_silent_s = age;
		live_reason(out, "held by %s; helper pid %d not answering: last "
		    "heartbeat %" PRId64 " s ago (every %d s when it runs)",
		    held, (int)out->hdr.helper_pid, age,
		    out->hdr.placement == WAPI_PLACE_ANCHOR ?
		    WCORE_ANCHOR_BEAT_S : WCORE_HEARTBEAT_S);
	} else
		live_reason(out, "held by %s", held);
}

/* Decision 6: ORPHANED, saying what became of the recorded helper. */
static void
verdict_orphaned(struct wcore_status *out, int alive)
{
	pid_t pid = out->hdr.helper_pid;
	uint64_t s;
	char state;

	out->verdict = WCORE_ORPHANED;
	if (pid <= 0)
		live_reason(out, "no process holds it; no helper recorded");
	else if (alive == 1)
		live_reason(out, "no process holds it; helper pid %d is running "
		    "but does not hold the helper lock", (int)pid);
	else if (alive < 0)
		live_reason(out, "no process holds it; helper pid %d cannot be "
		    "checked", (int)pid);
	else if (live_stat_fields(pid, &state, &s, NULL) != 0 ||
	    state == 'Z' || state == 'X' || state == 'x')
		live_reason(out, "no process holds it; helper pid %d not "
		    "running", (int)pid);
	else
		live_reason(out, "no process holds it; helper pid %d running "
		    "with another start time (pid reused)", (int)pid);
}

/* The verdict from what the steps before found, decisions 2 to 6. */
static void
verdict_decide(struct wcore_status *out, const char *this_host,
    const struct verdict_facts *f)
{
	char boot[40];
	int alive;

	if (!out->header_ok) {
		out->verdict = f->incompat ? WCORE_INCOMPATIBLE : WCORE_CORRUPT;
		if (f->held[0] != '\0')
			live_reason(out, "%s; but held by %s: in use, do not "
			    "remove", f->problem, f->held);
		else
			live_reason(out, "%s", f->problem);
		return;
	}
	out->clients_recorded = out->hdr.clients_used;
	out->lock_pid = out->hdr.lock_holder_pid;
	out->lock_tid = out->hdr.lock_holder_tid;
	out->lock_held = out->lock_pid != 0;

	if (this_host != NULL && strncmp(out->hdr.host, this_host,
	    sizeof(out->hdr.host)) != 0) {
		verdict_foreign(out, f->held);
		return;
	}
	alive = out->hdr.helper_pid > 0 ?
	    wcore_pid_alive(out->hdr.helper_pid, out->hdr.helper_start) : 0;
	out->helper_alive = alive;
	if (f->held[0] != '\0') {
		verdict_live(out, f->held, alive);
		if (out->seg == WCORE_SEG_GONE || out->seg == WCORE_SEG_BAD)
			live_reason(out, "held by %s; %s: new processes join "
			    "it through its helper while one runs, else use "
			    "private handles until all have left", f->held,
			    out->seg_why);
		return;
	}
	if (wcore_boot_id(boot) == 0 && strncmp(out->hdr.boot_id, boot,
	    sizeof(out->hdr.boot_id)) != 0) {
		/* A PID from another boot names nobody. */
		out->verdict = WCORE_STALE_BOOT;
		out->helper_alive = 0;
		live_reason(out, "created in boot %.8s..., this is boot "
		    "%.8s...", out->hdr.boot_id, boot);
		return;
	}
	verdict_orphaned(out, alive);
	if (out->seg == WCORE_SEG_GONE || out->seg == WCORE_SEG_BAD) {
		char r[sizeof(out->reason)];

		strlcpy(r, out->reason, sizeof(r));
		live_reason(out, "%s; %s", r, out->seg_why);
	}
}

/* Read, probe, describe, decide: the steps above, in order. */
int
wcore_verdict(int fd, const char *this_host, struct wcore_status *out)
{
	struct verdict_facts f;
	int e;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	out->helper_alive = -1;
	if ((e = verdict_read_header(fd, out, &f)) != 0)
		return e;
	verdict_segment(out, this_host);
	verdict_probe_locks(fd, out, &f);
	verdict_holders(out, &f);
	verdict_decide(out, this_host, &f);
	return 0;
}
