/*
 * wapictl handles: the handle table of a host's state file, what
 * `mono --wapi=hps` printed.  A live file is copied under the table lock
 * (briefly, bounded) so that the rows are one consistent moment; a file no
 * process holds is read through a read-only mapping without any lock.
 * A Mono V12 data file of the host is listed too: its records are read
 * (never mapped, never written, no lock taken) and decoded by the core.
 * The table of an anchor is its segment's (wcore_map maps the segment,
 * whose table lock is the one taken); an anchor whose segment cannot be
 * had is said, with what to do, like any file that cannot be read.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapi.h"		/* WAPI_ACCESS_* and WAPI_SHARE_* bits (contract) */
#include "wapictl.h"

#define CMD_HANDLES_LOCK_MS	1000	/* how long a listing may wait */

/* A reference an attached client holds: slot idx, its pid, how many. */
struct cmd_handles_hold {
	uint32_t			 idx;
	int32_t				 pid;
	uint32_t			 count;
};

/* The handle table of one file, copied out of its mapping. */
struct cmd_handles_copy {
	struct wapi_handle_entry	*v;
	struct wapi_name_entry		*names;	/* of WAPI_HF_NAMED entries */
	uint32_t			 n;
	struct cmd_handles_hold		*holds;	/* sorted by idx, then pid */
	size_t				 nholds;
};

/* -p (--holder) and --name: which handles to list. */
struct cmd_handles_filter {
	const bool			*types;
	int32_t				 holder;	/* 0: any */
	const char			*name;		/* fnmatch pattern */
	bool				 holds;		/* read the holders */
};

static int	cmd_handles_exec(struct wapictl *, struct cmd_args *);
static int	cmd_handles_types(const struct cmd_args *, bool *);
static int	cmd_handles_file(struct wapictl *, const struct target_file *,
		    struct libscols_table *, const struct out_spec *,
		    const struct cmd_handles_filter *);
static void	cmd_handles_noseg(const struct target_file *,
		    const struct wcore_status *, bool);
static bool	cmd_handles_elsewhere(const struct target_file *,
		    const struct wcore_status *);
static int	cmd_handles_copy(const struct wapictl *,
		    const struct target_file *, int, bool, bool,
		    struct cmd_handles_copy *);
static int	cmd_handles_holds(const void *, struct cmd_handles_copy *);
static bool	cmd_handles_wanted(const struct cmd_handles_copy *, uint32_t,
		    const char *, const struct cmd_handles_filter *,
		    size_t *, size_t *);
static void	cmd_handles_holders(struct libscols_line *,
		    const struct out_spec *, const struct cmd_handles_copy *,
		    size_t, size_t);
static struct libscols_line *cmd_handles_row(const struct target_file *,
		    struct libscols_table *, const struct out_spec *, uint32_t,
		    const struct wapi_handle_entry *, const char *);
static void	cmd_handles_details(struct libscols_line *,
		    const struct out_spec *, const struct wapi_handle_entry *);
static void	cmd_handles_rwd(char *, unsigned, unsigned, unsigned,
		    unsigned);
static void	cmd_handles_printable(char *, size_t, const char *, size_t);
static int	cmd_handles_mono(struct wapictl *, const struct target_file *,
		    struct libscols_table *, const struct out_spec *,
		    const struct cmd_handles_filter *);
static void	cmd_handles_mono_row(const struct target_file *,
		    struct libscols_table *, const struct out_spec *, size_t,
		    const struct wcore_mono_handle *);
static void	cmd_handles_mono_details(struct libscols_line *,
		    const struct out_spec *, const struct wcore_mono_handle *);

enum {
	COL_HANDLE, COL_SLOT, COL_GEN, COL_TYPE, COL_REFS, COL_NAME,
	COL_SIGNALLED, COL_OWNER, COL_WAITERS, COL_CHANGED, COL_DETAILS,
	COL_HOST, COL_PATH, COL_HOLDERS, COL_OWNED
};

static const struct out_column cmd_handles_cols[] = {
	[COL_HANDLE] = { "HANDLE", 8, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "the handle number clients use" },
	[COL_SLOT] = { "SLOT", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "index in the handle table" },
	[COL_GEN] = { "GEN", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "generation of the slot" },
	[COL_TYPE] = { "TYPE", 9, 0, SCOLS_JSON_STRING,
	    "event, mutex, semaphore, file, pipe, socket, process" },
	[COL_REFS] = { "REFS", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "references held by all clients" },
	[COL_NAME] = { "NAME", 0.3, SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
	    "object name, if named" },
	[COL_SIGNALLED] = { "SIGNALLED", 3, 0, SCOLS_JSON_BOOLEAN_OPTIONAL,
	    "whether a wait on it would succeed now" },
	[COL_OWNER] = { "OWNER", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "mutex owner pid, or the pid that created a descriptor handle" },
	[COL_WAITERS] = { "WAITERS", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "threads sleeping on it" },
	[COL_CHANGED] = { "CHANGED", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since its last change (seconds in JSON)" },
	[COL_DETAILS] = { "DETAILS", 0.4, SCOLS_FL_TRUNC, SCOLS_JSON_STRING,
	    "state particular to the type" },
	[COL_HOST] = { "HOST", 0.1, 0, SCOLS_JSON_STRING,
	    "host of the state file" },
	[COL_PATH] = { "PATH", 0.2, SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
	    "the state file" },
	[COL_HOLDERS] = { "HOLDERS", 0.2, SCOLS_FL_WRAP, SCOLS_JSON_STRING,
	    "pids holding a reference, with their counts (PID:COUNT)" },
	[COL_OWNED] = { "OWNED", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "how long a mutex's owner has held it (seconds in JSON)" },
};
#define NCOLS nitems(cmd_handles_cols)

static const int cmd_handles_defaults[] = {
	COL_HANDLE, COL_TYPE, COL_REFS, COL_SIGNALLED, COL_OWNER, COL_NAME,
	COL_DETAILS
};

enum { OPT_NAME = CMD_OPT_LONG };

static const struct cmd_option cmd_handles_options[] = {
	{ "type", required_argument, 't', "TYPE[,TYPE...]",
	    "only handles of these types:\n"
	    "event, mutex, semaphore, file, pipe, socket, process" },
	{ "holder", required_argument, 'p', "PID",
	    "only handles that process PID holds" },
	{ "name", required_argument, OPT_NAME, "PATTERN",
	    "only named handles whose name matches PATTERN\n"
	    "(shell wildcards: *, ?, [...])" },
	CMD_OPTION_END
};

const struct cmd_entry cmd_handles_entry = {
	.name = "handles",
	.help = "The handle table of the host's state file.",
	.options = cmd_handles_options,
	.columns = cmd_handles_cols,
	.ncolumns = NCOLS,
	.args = { .lower = 0, .upper = 0 },
	.exec = cmd_handles_exec,
};

/* A name from the file, safe to print: no control bytes. */
static void
cmd_handles_printable(char *out, size_t outlen, const char *in, size_t max)
{
	size_t i, n = strnlen(in, max);

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || in[i] == 0x7f) ?
		    '?' : in[i];
	out[i] = '\0';
}

/* "rw-": the bits r, w and d of bits. */
static void
cmd_handles_rwd(char *buf, unsigned bits, unsigned r, unsigned w, unsigned d)
{
	buf[0] = (bits & r) ? 'r' : '-';
	buf[1] = (bits & w) ? 'w' : '-';
	buf[2] = (bits & d) ? 'd' : '-';
	buf[3] = '\0';
}

static struct libscols_line *
cmd_handles_row(const struct target_file *tf, struct libscols_table *tb,
    const struct out_spec *spec, uint32_t i,
    const struct wapi_handle_entry *h, const char *name)
{
	struct libscols_line *ln;

	ln = out_line_new(tb);
	out_cell(ln, spec, COL_HANDLE, "%" PRIu32,
	    wcore_handle_number(i, h->generation));
	out_cell(ln, spec, COL_SLOT, "%" PRIu32, i);
	out_cell(ln, spec, COL_GEN, "%" PRIu32, h->generation);
	out_cell(ln, spec, COL_TYPE, "%s", wcore_type_name(h->type));
	out_cell(ln, spec, COL_REFS, "%" PRIu32, h->refs);
	out_cell(ln, spec, COL_WAITERS, "%u", (unsigned)h->waiters);
	out_cell(ln, spec, COL_HOST, "%s", tf->de.parsed.host);
	out_cell(ln, spec, COL_PATH, "%s", tf->path);
	if (name != NULL)
		out_cell(ln, spec, COL_NAME, "%s", name);
	if (h->changed > 0)
		out_age(ln, spec, COL_CHANGED,
		    wcore_age_s(wcore_now_s(), h->changed / 1000000000));
	cmd_handles_details(ln, spec, h);
	if (h->type == WAPI_T_EVENT || h->type == WAPI_T_MUTEX ||
	    h->type == WAPI_T_SEMAPHORE || h->type == WAPI_T_PROCESS)
		out_cell(ln, spec, COL_SIGNALLED, "%s",
		    wapi_handle_signalled(h) ? "yes" : "no");
	return ln;
}

/* DETAILS, and OWNER, by type. */
static void
cmd_handles_details(struct libscols_line *ln, const struct out_spec *spec,
    const struct wapi_handle_entry *h)
{
	char acc[4], shr[4];

	switch (h->type) {
	case WAPI_T_EVENT:
		out_cell(ln, spec, COL_DETAILS, "%s",
		    (h->flags & WAPI_HF_MANUAL_RESET) ? "manual-reset" :
		    "auto-reset");
		break;
	case WAPI_T_MUTEX:
		if (h->u.mutex.owner_pid == 0) {
			out_cell(ln, spec, COL_DETAILS, "free%s",
			    (h->flags & WAPI_HF_ABANDONED) ? ", abandoned" : "");
			break;
		}
		out_cell(ln, spec, COL_OWNER, "%" PRId32, h->u.mutex.owner_pid);
		if (h->u.mutex.owned_since > 0)
			out_age(ln, spec, COL_OWNED, wcore_age_s(wcore_now_s(),
			    h->u.mutex.owned_since / 1000000000));
		out_cell(ln, spec, COL_DETAILS, "owned by pid %" PRId32
		    " tid %" PRId32 ", recursion %" PRIu32 "%s%s",
		    h->u.mutex.owner_pid,
		    wapi_mutex_owner_tid(h),
		    h->u.mutex.recursion,
		    (h->flags & WAPI_HF_ABANDONED) ? ", abandoned" : "",
		    wcore_pid_alive(h->u.mutex.owner_pid,
		    h->u.mutex.owner_start) == 1 ? "" :
		    ", owner gone (abandoned at the next wait)");
		break;
	case WAPI_T_SEMAPHORE:
		out_cell(ln, spec, COL_DETAILS, "count %" PRId32 " of %" PRId32,
		    h->u.sem.count, wapi_sem_max(h));
		break;
	case WAPI_T_PROCESS:
		if (h->flags & WAPI_HF_EXITED)
			out_cell(ln, spec, COL_DETAILS, "pid %" PRId32
			    ", exit code %" PRId32, h->u.proc.pid,
			    h->u.proc.status);
		else
			out_cell(ln, spec, COL_DETAILS, "pid %" PRId32
			    ", running", h->u.proc.pid);
		break;
	case WAPI_T_FILE:
	case WAPI_T_PIPE:
	case WAPI_T_SOCKET:
		if (h->u.fd.creator_pid > 0)
			out_cell(ln, spec, COL_OWNER, "%" PRId32,
			    h->u.fd.creator_pid);
		cmd_handles_rwd(acc, h->u.fd.access, WAPI_ACCESS_READ,
		    WAPI_ACCESS_WRITE, WAPI_ACCESS_DELETE);
		cmd_handles_rwd(shr, h->u.fd.share, WAPI_SHARE_READ,
		    WAPI_SHARE_WRITE, WAPI_SHARE_DELETE);
		if (h->type == WAPI_T_FILE)
			out_cell(ln, spec, COL_DETAILS, "dev %" PRIu64 " ino %"
			    PRIu64 ", access %s, share %s%s", h->u.fd.dev,
			    h->u.fd.ino, acc, shr,
			    (h->flags & WAPI_HF_DEPOSITED) ? ", held by helper"
			    : "");
		else
			out_cell(ln, spec, COL_DETAILS, "created by pid %"
			    PRId32 "%s", h->u.fd.creator_pid,
			    (h->flags & WAPI_HF_DEPOSITED) ? ", held by helper"
			    : "");
		break;
	default:
		break;
	}
}

/* One row of a Mono record, with what `mono --wapi=hps` showed of it. */
static void
cmd_handles_mono_row(const struct target_file *tf, struct libscols_table *tb,
    const struct out_spec *spec, size_t i, const struct wcore_mono_handle *h)
{
	struct libscols_line *ln;
	unsigned t = wcore_mono_type_wapi(h->type);
	char name[WCORE_MONO_PROC_NAME + 1];

	ln = out_line_new(tb);
	out_cell(ln, spec, COL_HANDLE, "%zu", i);
	out_cell(ln, spec, COL_SLOT, "%zu", i);
	if (t != WAPI_T_FREE)
		out_cell(ln, spec, COL_TYPE, "%s", wcore_type_name(t));
	else
		out_cell(ln, spec, COL_TYPE, "mono-%s", h->type <
		    WCORE_MONO_H_COUNT ? wcore_mono_type_name(h->type) :
		    "unknown");
	out_cell(ln, spec, COL_REFS, "%" PRIu32, h->refs);
	out_cell(ln, spec, COL_SIGNALLED, "%s", h->signalled ? "yes" : "no");
	out_cell(ln, spec, COL_HOST, "%s", tf->de.parsed.host);
	out_cell(ln, spec, COL_PATH, "%s", tf->path);
	if (h->name[0] != '\0') {
		cmd_handles_printable(name, sizeof(name), h->name,
		    sizeof(h->name));
		out_cell(ln, spec, COL_NAME, "%s", name);
	}
	/* Mono's 32-bit time(NULL), as hps subtracted it */
	if (h->timestamp != 0)
		out_age(ln, spec, COL_CHANGED,
		    (uint32_t)wcore_now_s() - h->timestamp);
	cmd_handles_mono_details(ln, spec, h);
}

/* DETAILS, and OWNER, of a Mono record, in hps's words. */
static void
cmd_handles_mono_details(struct libscols_line *ln, const struct out_spec *spec,
    const struct wcore_mono_handle *h)
{
	char name[WCORE_MONO_PROC_NAME + 1];

	switch (h->type) {
	case WCORE_MONO_H_NAMEDMUTEX:
		if (h->pid == 0) {
			out_cell(ln, spec, COL_DETAILS, "Mono N.Mutex: free");
			break;
		}
		out_cell(ln, spec, COL_OWNER, "%" PRId32, h->pid);
		out_cell(ln, spec, COL_DETAILS, "Mono N.Mutex: owned by pid %"
		    PRId32 " thread %" PRIu64 ", recursion %" PRIu32, h->pid,
		    h->tid, h->count);
		break;
	case WCORE_MONO_H_NAMEDSEM:
		out_cell(ln, spec, COL_DETAILS, "Mono N.Sem: count %" PRIu32
		    " of %" PRId32, h->count, h->max);
		break;
	case WCORE_MONO_H_NAMEDEVENT:
		out_cell(ln, spec, COL_DETAILS, "Mono N.Event: %s, set count %"
		    PRIu32, h->manual ? "manual-reset" : "auto-reset",
		    h->count);
		break;
	case WCORE_MONO_H_PROCESS:
		cmd_handles_printable(name, sizeof(name), h->proc_name,
		    sizeof(h->proc_name));
		out_cell(ln, spec, COL_DETAILS, "Mono Process: pid %" PRId32
		    ", %s %" PRIu32 ", '%s'", h->pid, h->count == 259 ?
		    "still active, exit code" : "exit code", h->count, name);
		break;
	default:
		out_cell(ln, spec, COL_DETAILS, "Mono %s record (type %" PRIu32
		    "): not decoded", wcore_mono_type_name(h->type), h->type);
		break;
	}
}

/*
 * A Mono data file: its V12 records, read into memory (at most 4096
 * records; a file that shrinks or grows meanwhile only yields fewer).
 * Other versions' layouts are not decoded, and that is said.
 */
static int
cmd_handles_mono(struct wapictl *ctl, const struct target_file *tf,
    struct libscols_table *tb, const struct out_spec *spec,
    const struct cmd_handles_filter *flt)
{
	const bool *types = flt->types;
	struct wcore_mono_handle h;
	struct stat sb;
	unsigned char *buf;
	size_t recsize, cap, len = 0, i, n;
	ssize_t r;
	int fd;

	recsize = wcore_mono_v12_recsize(&tf->de.parsed);
	if (recsize == 0) {
		if (!ctl->quiet)
			warnx("%s: the handle records of Mono V%lu (%s names, "
			    "record size %lu) are not decoded: only V12's "
			    "(328 or 312 bytes) are", tf->shown,
			    tf->de.parsed.version,
			    wcore_mono_eras[tf->de.parsed.era].id,
			    tf->de.parsed.recsize);
		return 0;
	}
	fd = openat(tf->dirfd, tf->de.name, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;	/* removed since the listing */
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != ctl->euid) {
		warnx("%s: cannot read: %s", tf->shown, fd < 0 ?
		    strerror(errno) : "not a regular file of ours");
		if (fd >= 0)
			close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	cap = 8 + WCORE_MONO_V12_MAX * recsize;
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		warnx("%s: out of memory", tf->shown);
		return WAPICTL_EXIT_ACCESS;
	}
	while (len < cap && ((r = pread(fd, buf + len, cap - len,
	    (off_t)len)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			len += (size_t)r;
	close(fd);
	n = wcore_mono_v12_count(len, recsize);
	for (i = 0; i < n; i++) {
		if (!wcore_mono_v12_record(buf, len, recsize, i, &h) ||
		    h.type == WCORE_MONO_H_UNUSED)
			continue;
		if (types != NULL && !types[wcore_mono_type_wapi(h.type)])
			continue;
		/* Mono's records say nothing of who holds them. */
		if (flt->holder != 0 || (flt->name != NULL &&
		    fnmatch(flt->name, h.name, 0) != 0))
			continue;
		cmd_handles_mono_row(tf, tb, spec, i, &h);
	}
	free(buf);
	return 0;
}

/*
 * Copy the used part of the table out of fd's mapping, under the table
 * lock when lock (a live file we may write).  0, or -errno (said).
 */
static int
cmd_handles_copy(const struct wapictl *ctl, const struct target_file *tf,
    int fd, bool lock, bool holds, struct cmd_handles_copy *c)
{
	void *map = NULL;
	size_t len = 0;
	uint32_t i;
	char why[512];
	bool locked = false;
	int e;

	if ((e = wcore_map(fd, lock, &map, &len, why, sizeof(why))) != 0) {
		if (e == ENOENT)	/* an anchor's segment, gone since */
			warnx("%s: its handles cannot be listed: %s (removed "
			    "meanwhile); 'wapictl status' says what became of "
			    "the state", tf->shown, why);
		else
			warnx("%s: cannot map: %s", tf->shown, why);
		return -e;
	}
	if (lock) {
		e = wcore_table_lock(map, CMD_HANDLES_LOCK_MS, NULL);
		if (e == 0)
			locked = true;
		else if (!ctl->quiet)
			warnx("%s: table lock %s; showing a snapshot taken "
			    "without it", tf->shown, e == ETIMEDOUT ||
			    e == EBUSY ? "busy" : strerror(e));
	}
	c->n = wcore_handle_end(map);
	c->v = reallocarray(NULL, c->n ? c->n : 1, sizeof(*c->v));
	c->names = reallocarray(NULL, c->n ? c->n : 1, sizeof(*c->names));
	for (i = 0; c->v != NULL && c->names != NULL && i < c->n; i++) {
		c->v[i] = WCORE_HANDLES(map)[i];
		if (c->v[i].type != WAPI_T_FREE &&
		    (c->v[i].flags & WAPI_HF_NAMED))
			c->names[i] = WCORE_NAMES(map)[i];
	}
	e = holds && c->v != NULL && c->names != NULL ?
	    cmd_handles_holds(map, c) : 0;
	if (locked)
		wcore_table_unlock(map);
	munmap(map, len);
	if (c->v == NULL || c->names == NULL || e != 0) {
		free(c->holds);
		free(c->v);
		free(c->names);
		warnx("%s: out of memory", tf->shown);
		return -ENOMEM;
	}
	return 0;
}

static int
cmd_handles_hold_cmp(const void *a, const void *b)
{
	const struct cmd_handles_hold *x = a, *y = b;

	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/*
 * Who holds what (HOLDERS, -p): the reference blocks of the attached
 * client slots (wapi-state(5), CREFS), read from the mapping, sorted by
 * slot.  A block's entries beyond its capacity or naming a slot past the
 * copied table are left out.  0, or -ENOMEM.
 */
static int
cmd_handles_holds(const void *map, struct cmd_handles_copy *c)
{
	const struct wapi_header *h = map;
	const struct wapi_client_entry *cl = WCORE_CLIENTS(map);
	const struct wapi_cref_entry *b;
	struct cmd_handles_hold *v = NULL, *nv;
	uint32_t ncl = h->regions[WAPI_R_CLIENTS].capacity, rpc, i, k;
	size_t n = 0, cap = 0;

	rpc = h->refs_per_client;
	for (i = 0; i < ncl; i++) {
		if (cl[i].state != WAPI_CS_ATTACHED || cl[i].refs_used == 0)
			continue;
		b = WCORE_CREFS(map) + (size_t)i * rpc;
		for (k = 0; k < rpc; k++) {
			if (b[k].handle == 0 || b[k].handle > c->n ||
			    b[k].count == 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				if ((nv = reallocarray(v, cap,
				    sizeof(*v))) == NULL) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n].idx = b[k].handle - 1;
			v[n].pid = cl[i].pid;
			v[n++].count = b[k].count;
		}
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), cmd_handles_hold_cmp);
	c->holds = v;
	c->nholds = n;
	return 0;
}

/* HOLDERS of a row: "PID:COUNT" of holds[from, to), by pid. */
static void
cmd_handles_holders(struct libscols_line *ln, const struct out_spec *spec,
    const struct cmd_handles_copy *c, size_t from, size_t to)
{
	char *s = NULL;
	size_t len = 0, k;
	FILE *fp;

	if (!out_has(spec, COL_HOLDERS) || from == to)
		return;
	if ((fp = open_memstream(&s, &len)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "open_memstream");
	for (k = from; k < to; k++)
		fprintf(fp, "%s%" PRId32 ":%" PRIu32, k > from ? "," : "",
		    c->holds[k].pid, c->holds[k].count);
	fclose(fp);
	out_cell(ln, spec, COL_HOLDERS, "%s", s);
	free(s);
}

/*
 * Whether slot i (of a known type, name its printable name or NULL) is
 * listed under flt; *from and *to (which must only move forward from one
 * slot to the next) bound its holders in c->holds.
 */
static bool
cmd_handles_wanted(const struct cmd_handles_copy *c, uint32_t i,
    const char *name, const struct cmd_handles_filter *flt, size_t *from,
    size_t *to)
{
	bool held = false;

	while (*from < c->nholds && c->holds[*from].idx < i)
		(*from)++;
	for (*to = *from; *to < c->nholds && c->holds[*to].idx == i; (*to)++)
		held = held || c->holds[*to].pid == flt->holder;
	if (!flt->types[c->v[i].type])
		return false;
	if (flt->holder != 0 && !held)
		return false;
	if (flt->name != NULL && (name == NULL ||
	    fnmatch(flt->name, name, 0) != 0))
		return false;
	return true;
}

/*
 * An anchor whose segment (its tables) cannot be had: which file, why,
 * and what to do, by whether the state is held.
 */
static void
cmd_handles_noseg(const struct target_file *tf, const struct wcore_status *st,
    bool live)
{
	char why[sizeof(st->reason) * 4];

	if (live && st->seg == WCORE_SEG_GONE) {
		/* The verdict's reason says it all: who, and what now. */
		out_escape(st->reason, why, sizeof(why));
		warnx("%s: its handles cannot be listed: %s; 'wapictl status "
		    "-v' shows who holds it", tf->shown, why);
		return;
	}
	out_escape(st->seg_why, why, sizeof(why));
	if (st->seg == WCORE_SEG_BAD)
		warnx("%s: its handles cannot be listed: %s; run 'wapictl "
		    "validate' for details", tf->shown, why);
	else
		warnx("%s: its handles cannot be listed: %s and nobody holds "
		    "the state (%s): nothing of its tables is left; 'wapictl "
		    "clean' removes this file", tf->shown, why,
		    wcore_verdict_name(st->verdict));
}

/*
 * Another host's anchor (the verdict did not look for its segment): true
 * when its segment is not on this host, which is said.  A segment found
 * here (a host name given by hand) is listed as any.
 */
static bool
cmd_handles_elsewhere(const struct target_file *tf,
    const struct wcore_status *st)
{
	char why[256], path[sizeof(st->seg_path) * 4];
	int sfd;

	sfd = wcore_seg_open(&st->hdr, false, NULL, why, sizeof(why));
	if (sfd >= 0)
		close(sfd);
	if (sfd != -ENOENT)
		return false;
	out_escape(st->seg_path, path, sizeof(path));
	warnx("%s: its handles cannot be listed here: an anchor of host %s, "
	    "its tables are in %s on that host", tf->shown, st->hdr.host,
	    path);
	return true;
}

/* A state file's rows.  Returns the file's exit status. */
static int
cmd_handles_file(struct wapictl *ctl, const struct target_file *tf,
    struct libscols_table *tb, const struct out_spec *spec,
    const struct cmd_handles_filter *flt)
{
	struct wcore_status st;
	struct cmd_handles_copy c = { NULL, NULL, 0, NULL, 0 };
	struct libscols_line *ln;
	size_t from = 0, to = 0;
	uint32_t i;
	char name[WAPI_NAME_MAX + 1];
	bool writable = true, live;
	int fd, e, rc;

	fd = target_open_tables(ctl, tf, &writable, &st, "not listed",
	    &rc);
	if (fd < 0)
		return rc;
	live = st.verdict == WCORE_LIVE || st.helper_byte_held ||
	    st.init_byte_held || st.clients_live > 0 || st.seg_held;
	if (st.seg == WCORE_SEG_GONE || st.seg == WCORE_SEG_BAD) {
		cmd_handles_noseg(tf, &st, live);
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	if (st.seg == WCORE_SEG_UNSEEN && cmd_handles_elsewhere(tf, &st)) {
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	e = cmd_handles_copy(ctl, tf, fd, live && writable, flt->holds, &c);
	close(fd);
	if (e < 0)
		return e == -ENOMEM || e == -ENOENT ? WAPICTL_EXIT_ACCESS :
		    WAPICTL_EXIT_FINDINGS;

	for (i = 0; i < c.n; i++) {
		if (c.v[i].type == WAPI_T_FREE || c.v[i].type >= WAPI_T_COUNT)
			continue;
		if (c.v[i].flags & WAPI_HF_NAMED)
			cmd_handles_printable(name, sizeof(name),
			    c.names[i].name, sizeof(c.names[i].name));
		if (!cmd_handles_wanted(&c, i, (c.v[i].flags & WAPI_HF_NAMED) ?
		    name : NULL, flt, &from, &to))
			continue;
		ln = cmd_handles_row(tf, tb, spec, i, &c.v[i],
		    (c.v[i].flags & WAPI_HF_NAMED) ? name : NULL);
		cmd_handles_holders(ln, spec, &c, from, to);
	}
	free(c.v);
	free(c.names);
	free(c.holds);
	return 0;
}

/* -t TYPE,...: types[] of the handles to list.  0, or -EINVAL (said). */
static int
cmd_handles_types(const struct cmd_args *args, bool *types)
{
	const char *tlist = args_get(args, 't');
	char *copy, *tok, *save;
	size_t i;
	int t, r = 0;

	for (i = 0; i < WAPI_T_COUNT; i++)
		types[i] = tlist == NULL;
	if (tlist == NULL)
		return 0;
	if ((copy = strdup(tlist)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "strdup");
	for (tok = strtok_r(copy, ",", &save); tok != NULL && r == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		t = wcore_type_parse(tok);
		if (t > WAPI_T_FREE && t < WAPI_T_COUNT)
			types[t] = true;
		else {
			wapictl_usage_error(args->entry, "-t: unknown type "
			    "'%s' (event, mutex, semaphore, file, pipe, "
			    "socket, process)", tok);
			r = -EINVAL;
		}
	}
	free(copy);
	return r;
}

static int
cmd_handles_exec(struct wapictl *ctl, struct cmd_args *args)
{
	struct out_spec spec;
	struct libscols_table *tb;
	struct target_list list;
	struct target_file tf;
	struct cmd_handles_filter flt;
	bool types[WAPI_T_COUNT];
	const char *errstr;
	size_t i;
	int r, rc = 0;

	if (cmd_handles_types(args, types) < 0)
		return WAPICTL_EXIT_USAGE;
	memset(&flt, 0, sizeof(flt));
	flt.types = types;
	flt.name = args_get(args, OPT_NAME);
	if (args_has(args, 'p')) {
		flt.holder = (int32_t)strtonum(args_get(args, 'p'), 1, INT32_MAX,
		    &errstr);
		if (errstr != NULL)
			return wapictl_usage_error(args->entry, "-p %s: a process "
			    "id is %s", args_get(args, 'p'), errstr);
	}
	out_spec_init(&spec, ctl, cmd_handles_cols, NCOLS,
	    cmd_handles_defaults, nitems(cmd_handles_defaults));
	if (out_spec_options(&spec, ctl, args, COL_HOST) < 0)
		return WAPICTL_EXIT_USAGE;
	flt.holds = flt.holder != 0 || out_has(&spec, COL_HOLDERS);

	if (target_dir_open(ctl, true) < 0 || target_collect(ctl,
	    TARGET_STATE | TARGET_THIS_ABI | TARGET_LEGACY, &list) < 0)
		return WAPICTL_EXIT_ACCESS;
	tb = out_table_new("handles", &spec, args);
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		if (tf.de.parsed.kind == WCORE_NAME_STATE)
			r = cmd_handles_file(ctl, &tf, tb, &spec, &flt);
		else if (tf.de.parsed.kind == WCORE_NAME_LEGACY_DATA)
			r = cmd_handles_mono(ctl, &tf, tb, &spec, &flt);
		else
			continue;	/* a Mono companion: no handles */
		rc = MAX(rc, r);
	}
	if (!ctl->quiet)
		out_print(tb);
	else
		out_discard(tb);
	target_free(&list);
	return rc;
}
