/*
 * wapictl status: one row per state file (and per creation temporary and
 * legacy Mono file) of the wanted host(s), with the core's verdict and its
 * reason in words, then one per segment of the segment directory that no
 * listed state file names (target_seg_judge).  -v adds where the tables
 * are, counts by object type and a second table of the client slots.
 * Exit 1 when anything is orphaned, stale-boot, corrupt or has a dead
 * helper (a segment only once older than WCORE_SEG_GRACE_S); 4 when a file
 * or the directory cannot be read.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapictl.h"
#include "legacy.h"

struct cmd_status_out {
	struct libscols_table	*tb, *ctb;	/* files, client slots */
	struct out_spec		*spec, *cspec;
	bool			 verbose;
	struct target_claims	 claims;	/* segments the files name */
};

static int	cmd_status_exec(struct wapictl *, struct cmd_args *);
static int	cmd_status_file(struct wapictl *, const struct target_list *,
		    size_t, const struct target_file *, struct cmd_status_out *);
static int	cmd_status_state(struct wapictl *, const struct target_file *,
		    struct libscols_line *, struct cmd_status_out *);
static int	cmd_status_unreadable(struct libscols_line *,
		    const struct out_spec *, const struct target_file *,
		    const struct plan_entry *);
static void	cmd_status_reason(struct libscols_line *,
		    const struct out_spec *, const struct plan_entry *,
		    const char *, struct plan *);
static int	cmd_status_temp(struct wapictl *, const struct target_file *,
		    struct libscols_line *, struct cmd_status_out *);
static int	cmd_status_other(const struct target_file *,
		    struct libscols_line *, const struct out_spec *);
static int	cmd_status_cells(const struct wapictl *,
		    const struct target_file *, struct libscols_line *,
		    const struct out_spec *, const struct wcore_status *,
		    const char **);
static void	cmd_status_place(struct libscols_line *,
		    const struct out_spec *, const struct wcore_status *);
static void	cmd_status_bytes(struct libscols_line *,
		    const struct out_spec *, int, int64_t);
static void	cmd_status_sizes(struct libscols_line *,
		    const struct out_spec *, const struct target_file *);
static void	cmd_status_alive(struct libscols_line *,
		    const struct out_spec *, const char *, int);
static int	cmd_status_segment(struct wapictl *, const struct target_seg *,
		    struct cmd_status_out *);
static void	cmd_status_segment_cells(struct libscols_line *,
		    const struct out_spec *, const struct target_seg *,
		    const struct target_seg_status *);
static void	cmd_status_handles(struct libscols_line *,
		    const struct out_spec *, const struct wapi_header *);
static bool	cmd_status_lock_dead(const struct wcore_status *);
static int	cmd_status_finding(const struct target_file *,
		    const struct wcore_status *, const char *, int);
static void	cmd_status_size(off_t, char *, size_t);
static void	cmd_status_details(int, const char *, struct libscols_line *,
		    struct cmd_status_out *);
static void	cmd_status_print(const struct wapictl *,
		    struct cmd_status_out *);

enum {
	COL_PATH, COL_HOST, COL_ABI, COL_VERDICT, COL_REASON, COL_HELPER,
	COL_HELPER_ALIVE, COL_CLIENTS, COL_HANDLES, COL_SIZE, COL_AGE,
	COL_HEARTBEAT, COL_LOCK, COL_BOOT, COL_PLACE, COL_SEGMENT,
	COL_SEG_SIZE, COL_SEG_RSS, COL_EVENTS, COL_MUTEXES, COL_SEMAPHORES,
	COL_FILES, COL_PIPES, COL_SOCKETS, COL_PROCESSES, COL_APPARENT,
	COL_CLIENTS_LIVE, COL_CLIENTS_RECORDED, COL_HANDLES_USED,
	COL_HANDLES_CAPACITY, COL_HELPER_STATE
};

static const struct out_column cmd_status_cols[] = {
	[COL_PATH] = { "PATH", 0.3, SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
	    "the file" },
	[COL_HOST] = { "HOST", 0.1, 0, SCOLS_JSON_STRING,
	    "host the file belongs to" },
	[COL_ABI] = { "ABI", 6, 0, SCOLS_JSON_STRING, "ABI tag of the file" },
	[COL_VERDICT] = { "VERDICT", 10, 0, SCOLS_JSON_STRING,
	    "live, orphaned, stale-boot, corrupt, incompatible, foreign, "
	    "temporary, legacy, unreadable" },
	[COL_REASON] = { "REASON", 0.4, SCOLS_FL_TRUNC, SCOLS_JSON_STRING,
	    "why, in words (cut to a terminal's width unless -l)" },
	[COL_HELPER] = { "HELPER", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "helper pid recorded in the file" },
	[COL_HELPER_ALIVE] = { "HELPER-ALIVE", 5, 0,
	    SCOLS_JSON_BOOLEAN_OPTIONAL, "yes, not-answering, no, "
	    "dead(pid reused), unknown, - (none)" },
	[COL_CLIENTS] = { "CLIENTS", 7, SCOLS_FL_RIGHT, SCOLS_JSON_STRING,
	    "live/recorded client slots (two numbers in JSON)" },
	[COL_HANDLES] = { "HANDLES", 9, SCOLS_FL_RIGHT, SCOLS_JSON_STRING,
	    "used/capacity handle slots (two numbers in JSON)" },
	[COL_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "space allocated to the file (bytes in JSON)" },
	[COL_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since creation (seconds in JSON)" },
	[COL_HEARTBEAT] = { "HEARTBEAT", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since the helper's last heartbeat (seconds in JSON)" },
	[COL_LOCK] = { "LOCK", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "pid holding the table lock" },
	[COL_BOOT] = { "BOOT", 36, 0, SCOLS_JSON_STRING,
	    "boot id recorded at creation" },
	[COL_PLACE] = { "PLACE", 7, 0, SCOLS_JSON_STRING,
	    "where the tables are: segment, file, - (-v)" },
	[COL_SEGMENT] = { "SEGMENT", 0.3, SCOLS_FL_NOEXTREMES,
	    SCOLS_JSON_STRING, "the segment that holds the tables (-v)" },
	[COL_SEG_SIZE] = { "SEG-SIZE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "segment size (bytes in JSON; -v)" },
	[COL_SEG_RSS] = { "SEG-RSS", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "memory the segment holds (bytes in JSON; -v)" },
	[COL_EVENTS] = { "EVENTS", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "event handles (-v)" },
	[COL_MUTEXES] = { "MUTEXES", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "mutex handles (-v)" },
	[COL_SEMAPHORES] = { "SEMAPHORES", 4, SCOLS_FL_RIGHT,
	    SCOLS_JSON_NUMBER, "semaphore handles (-v)" },
	[COL_FILES] = { "FILES", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "file handles (-v)" },
	[COL_PIPES] = { "PIPES", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "pipe handles (-v)" },
	[COL_SOCKETS] = { "SOCKETS", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "socket handles (-v)" },
	[COL_PROCESSES] = { "PROCESSES", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "process handles (-v)" },
	[COL_APPARENT] = { "APPARENT", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "apparent size of the file (bytes in JSON)" },
	[COL_CLIENTS_LIVE] = { "CLIENTS-LIVE", 4, SCOLS_FL_RIGHT,
	    SCOLS_JSON_NUMBER, "client slots whose lock is held" },
	[COL_CLIENTS_RECORDED] = { "CLIENTS-RECORDED", 4, SCOLS_FL_RIGHT,
	    SCOLS_JSON_NUMBER, "client slots recorded" },
	[COL_HANDLES_USED] = { "HANDLES-USED", 4, SCOLS_FL_RIGHT,
	    SCOLS_JSON_NUMBER, "handle slots in use" },
	[COL_HANDLES_CAPACITY] = { "HANDLES-CAPACITY", 4, SCOLS_FL_RIGHT,
	    SCOLS_JSON_NUMBER, "handle capacity" },
	[COL_HELPER_STATE] = { "HELPER-STATE", 5, 0, SCOLS_JSON_STRING,
	    "the words of HELPER-ALIVE, also in JSON" },
};
#define NCOLS nitems(cmd_status_cols)

static const int cmd_status_defaults[] = {
	COL_PATH, COL_VERDICT, COL_HELPER, COL_HELPER_ALIVE, COL_CLIENTS,
	COL_HANDLES, COL_AGE, COL_HEARTBEAT, COL_LOCK, COL_REASON
};
static const int cmd_status_verbose[] = {
	COL_PLACE, COL_SEGMENT, COL_SEG_SIZE, COL_SEG_RSS, COL_EVENTS,
	COL_MUTEXES, COL_SEMAPHORES, COL_FILES, COL_PIPES, COL_SOCKETS,
	COL_PROCESSES
};
/* In JSON, CLIENTS and HANDLES are two numbers each. */
static const int cmd_status_clients_json[] = {
	COL_CLIENTS_LIVE, COL_CLIENTS_RECORDED
};
static const int cmd_status_handles_json[] = {
	COL_HANDLES_USED, COL_HANDLES_CAPACITY
};
static const int cmd_status_alive_json[] = {
	COL_HELPER_ALIVE, COL_HELPER_STATE
};

/* The second table of -v: one row per recorded client slot. */
enum { CCOL_PATH, CCOL_SLOT, CCOL_PID, CCOL_ALIVE, CCOL_ATTACHED, CCOL_REFS };
static const struct out_column cmd_status_ccols[] = {
	[CCOL_PATH] = { "PATH", 0.3, SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
	    "the state file" },
	[CCOL_SLOT] = { "SLOT", 4, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "client slot" },
	[CCOL_PID] = { "PID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "client pid" },
	[CCOL_ALIVE] = { "ALIVE", 5, 0, SCOLS_JSON_BOOLEAN_OPTIONAL,
	    "yes (its lock byte is held), no, unknown" },
	[CCOL_ATTACHED] = { "ATTACHED", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since it attached (seconds in JSON)" },
	[CCOL_REFS] = { "REFS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "handle references it holds" },
};

static const int cmd_status_cdefaults[] = {
	CCOL_PATH, CCOL_SLOT, CCOL_PID, CCOL_ALIVE, CCOL_ATTACHED, CCOL_REFS
};

static const struct cmd_option cmd_status_options[] = {
	{ "verbose", no_argument, 'v', NULL,
	    "where the tables are, counts by type, and the client slots" },
	CMD_OPTION_END
};

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.help = "One row per state file: its verdict and why.",
	.options = cmd_status_options,
	.columns = cmd_status_cols,
	.ncolumns = NCOLS,
	.args = { .lower = 0, .upper = 0 },
	.exec = cmd_status_exec,
};

static void
cmd_status_size(off_t sz, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double v = (double)sz;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) - 1) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%jd", (intmax_t)sz);
	else
		snprintf(buf, len, "%.*f%c", v < 10 ? 1 : 0, v, units[u]);
}

/* A size: bytes in JSON, 1.5M for people; only when the column is shown. */
static void
cmd_status_bytes(struct libscols_line *ln, const struct out_spec *spec,
    int id, int64_t bytes)
{
	char d[32];

	if (!out_has(spec, id))
		return;
	if (spec->json)
		out_cell(ln, spec, id, "%" PRId64, bytes);
	else {
		cmd_status_size((off_t)bytes, d, sizeof(d));
		out_cell(ln, spec, id, "%s", d);
	}
}

/*
 * SIZE, the space allocated to a file (st_blocks), and APPARENT, its
 * st_size: a sparse state file is mostly holes.  Only when shown; a file
 * gone since the listing shows neither.
 */
static void
cmd_status_sizes(struct libscols_line *ln, const struct out_spec *spec,
    const struct target_file *tf)
{
	struct stat sb;

	if (!out_has(spec, COL_SIZE) && !out_has(spec, COL_APPARENT))
		return;
	if (fstatat(tf->dirfd, tf->de.name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
		return;
	cmd_status_bytes(ln, spec, COL_SIZE, (int64_t)sb.st_blocks * 512);
	cmd_status_bytes(ln, spec, COL_APPARENT, (int64_t)sb.st_size);
}

/*
 * HELPER-ALIVE: the word for people, a boolean in JSON (true for a helper
 * whose process runs, answering or not; null when unknown or none), the
 * word then in HELPER-STATE.
 */
static void
cmd_status_alive(struct libscols_line *ln, const struct out_spec *spec,
    const char *word, int dead)
{
	bool known = strcmp(word, "unknown") != 0 && strcmp(word, "-") != 0;

	if (spec->json)
		out_bool(ln, spec, COL_HELPER_ALIVE, known, !dead, word);
	else
		out_cell(ln, spec, COL_HELPER_ALIVE, "%s", word);
	out_cell(ln, spec, COL_HELPER_STATE, "%s", word);
}

/* -v: counts by type on the line and the client slots in the second table. */
static void
cmd_status_details(int fd, const char *path, struct libscols_line *ln,
    struct cmd_status_out *o)
{
	const struct out_spec *spec = o->cspec, *sspec = o->spec;
	const struct wapi_header *h;
	const struct wapi_handle_entry *he;
	const struct wapi_client_entry *ce;
	struct libscols_line *cl;
	uint64_t counts[WAPI_T_COUNT];
	uint32_t i, n;
	size_t len;
	void *map;
	char why[256];
	int held;

	if (wcore_map(fd, false, &map, &len, why, sizeof(why)) != 0)
		return;
	h = map;
	memset(counts, 0, sizeof(counts));
	/* The mapping changes under us: copy each field once, bound it. */
	n = h->handle_hwm;
	if (n > h->regions[WAPI_R_HANDLES].capacity)
		n = h->regions[WAPI_R_HANDLES].capacity;
	he = WCORE_HANDLES(map);
	for (i = 0; i < n; i++) {
		uint8_t t = he[i].type;

		if (t < WAPI_T_COUNT)
			counts[t]++;
	}
	out_cell(ln, sspec, COL_EVENTS, "%" PRIu64, counts[WAPI_T_EVENT]);
	out_cell(ln, sspec, COL_MUTEXES, "%" PRIu64, counts[WAPI_T_MUTEX]);
	out_cell(ln, sspec, COL_SEMAPHORES, "%" PRIu64,
	    counts[WAPI_T_SEMAPHORE]);
	out_cell(ln, sspec, COL_FILES, "%" PRIu64, counts[WAPI_T_FILE]);
	out_cell(ln, sspec, COL_PIPES, "%" PRIu64, counts[WAPI_T_PIPE]);
	out_cell(ln, sspec, COL_SOCKETS, "%" PRIu64, counts[WAPI_T_SOCKET]);
	out_cell(ln, sspec, COL_PROCESSES, "%" PRIu64,
	    counts[WAPI_T_PROCESS]);

	n = h->regions[WAPI_R_CLIENTS].capacity;
	if (n > WAPI_MAX_CLIENTS)
		n = WAPI_MAX_CLIENTS;
	ce = WCORE_CLIENTS(map);
	for (i = 0; i < n; i++) {
		struct wapi_client_entry c = ce[i];

		if (c.state == WAPI_CS_FREE)
			continue;
		cl = out_line_new(o->ctb);
		out_cell(cl, spec, CCOL_PATH, "%s", path);
		out_cell(cl, spec, CCOL_SLOT, "%" PRIu32, i);
		out_cell(cl, spec, CCOL_PID, "%" PRId32, c.pid);
		held = wcore_byte_held(fd, WAPI_LOCK_CLIENT0 + (off_t)i,
		    F_WRLCK);
		out_bool(cl, spec, CCOL_ALIVE, held >= 0, held == 1,
		    "unknown");
		out_age(cl, spec, CCOL_ATTACHED,
		    wcore_age_s(wcore_now_s(), c.attached / 1000000000));
		out_cell(cl, spec, CCOL_REFS, "%" PRIu32, c.refs_total);
	}
	munmap(map, len);
}

/* One row.  Returns the file's exit status. */
static int
cmd_status_file(struct wapictl *ctl, const struct target_list *list,
    size_t idx, const struct target_file *tf, struct cmd_status_out *o)
{
	const struct out_spec *spec = o->spec;
	struct libscols_line *ln;
	struct legacy_info li;
	struct plan_entry pe;
	struct plan p;
	int64_t age = wcore_age_s(wcore_now_s(), tf->de.info.mtime);

	ln = out_line_new(o->tb);
	out_cell(ln, spec, COL_PATH, "%s", tf->path);
	out_cell(ln, spec, COL_HOST, "%s", tf->de.parsed.host);
	cmd_status_sizes(ln, spec, tf);
	out_cell(ln, spec, COL_PLACE, "-");

	switch (tf->de.parsed.kind) {
	case WCORE_NAME_TEMP:
		out_cell(ln, spec, COL_ABI, "%s", tf->de.parsed.abi);
		out_age(ln, spec, COL_AGE, age);
		return cmd_status_temp(ctl, tf, ln, o);
	case WCORE_NAME_LEGACY_DATA:
	case WCORE_NAME_LEGACY_SHARE:
	case WCORE_NAME_LEGACY_SCRATCH:
		out_cell(ln, spec, COL_VERDICT, "%s",
		    wcore_verdict_name(WCORE_LEGACY));
		legacy_inspect(ctl, list, idx, &li);
		plan_legacy_entry(ctl, list, idx, &li, tf, &pe);
		cmd_status_reason(ln, spec, &pe, "", &p);
		out_age(ln, spec, COL_AGE, age);
		return 0;
	case WCORE_NAME_OTHER:
		out_age(ln, spec, COL_AGE, age);
		return cmd_status_other(tf, ln, spec);
	default:
		out_cell(ln, spec, COL_ABI, "%s", tf->de.parsed.abi);
		return cmd_status_state(ctl, tf, ln, o);
	}
}

/*
 * The REASON cell: the entry's reason, extra, then what 'wapictl clean'
 * (without options) does with it, in the words of its plan (plan.c), the
 * very decision clean acts on.  p gets the plan.
 */
static void
cmd_status_reason(struct libscols_line *ln, const struct out_spec *spec,
    const struct plan_entry *e, const char *extra, struct plan *p)
{
	static const struct plan_opts plain = { false, -1 };
	char words[1200];

	plan_decide(e, &plain, p);
	plan_status_words(p, words, sizeof(words));
	out_cell(ln, spec, COL_REASON, "%s%s%s", e->reason, extra, words);
}

/*
 * The row of a creation temporary.  Returns its exit status: 1 when it is
 * kept for a person to act (said on standard error, with the next step).
 */
static int
cmd_status_temp(struct wapictl *ctl, const struct target_file *tf,
    struct libscols_line *ln, struct cmd_status_out *o)
{
	struct plan_entry pe;
	struct plan p;
	char reason[768], final[NAME_MAX + 1], esc[1600];
	int fd;

	fd = plan_temp_entry(ctl, tf, false, &pe, reason, sizeof(reason),
	    final, sizeof(final));
	if (fd == -ENOENT) {
		/* Its creator linked or removed it since the listing. */
		scols_table_remove_line(o->tb, ln);
		return 0;
	}
	if (fd >= 0)
		close(fd);
	out_cell(ln, o->spec, COL_VERDICT, "%s", plan_verdict_name(&pe));
	cmd_status_reason(ln, o->spec, &pe, "", &p);
	if (!p.finding)
		return 0;
	out_escape(reason, esc, sizeof(esc));
	warnx("%s: %s; %s", tf->shown, esc, p.next);
	return p.failed ? WAPICTL_EXIT_ACCESS : WAPICTL_EXIT_FINDINGS;
}

/* The row of a name wapi does not make: incompatible or unknown. */
static int
cmd_status_other(const struct target_file *tf, struct libscols_line *ln,
    const struct out_spec *spec)
{
	struct plan_entry pe;
	struct plan p;
	char reason[512];

	plan_other_entry(tf, &pe, reason, sizeof(reason));
	out_cell(ln, spec, COL_VERDICT, "%s", plan_verdict_name(&pe));
	out_cell(ln, spec, COL_ABI, "%s", tf->de.parsed.abi);
	cmd_status_reason(ln, spec, &pe, "", &p);
	return 0;
}

/* The row of a state file.  Returns the file's exit status. */
static int
cmd_status_state(struct wapictl *ctl, const struct target_file *tf,
    struct libscols_line *ln, struct cmd_status_out *o)
{
	struct wcore_status st;
	struct plan_entry pe;
	const char *alive;
	int fd, e, dead;

	memset(&st, 0, sizeof(st));
	st.verdict = WCORE_UNREADABLE;
	fd = target_open_listed(ctl, tf, st.reason, sizeof(st.reason));
	if (fd == -ENOENT) {
		/* Removed since the listing (a helper leaving): not there. */
		scols_table_remove_line(o->tb, ln);
		return 0;
	}
	if (fd < 0) {
		plan_state_entry(&st, tf, &pe);
		pe.open_err = fd;
		return cmd_status_unreadable(ln, o->spec, tf, &pe);
	}
	if ((e = wcore_verdict(fd, ctl->host, &st)) != 0) {
		close(fd);
		plan_state_entry(&st, tf, &pe);
		return cmd_status_unreadable(ln, o->spec, tf, &pe);
	}
	dead = cmd_status_cells(ctl, tf, ln, o->spec, &st, &alive);
	cmd_status_place(ln, o->spec, &st);
	target_claim_add(&o->claims, &st);
	if (o->verbose && st.header_ok && (st.verdict == WCORE_LIVE ||
	    st.verdict == WCORE_ORPHANED || st.verdict == WCORE_STALE_BOOT))
		cmd_status_details(fd, tf->path, ln, o);
	close(fd);
	return cmd_status_finding(tf, &st, alive, dead);
}

/* PLACE, SEGMENT, SEG-SIZE, SEG-RSS of a state file. */
static void
cmd_status_place(struct libscols_line *ln, const struct out_spec *spec,
    const struct wcore_status *st)
{
	char esc[WAPI_PEER_MAX * 4];

	if (!st->header_ok) {
		out_cell(ln, spec, COL_PLACE, "-");
		return;
	}
	if (st->seg == WCORE_SEG_FILE) {
		out_cell(ln, spec, COL_PLACE, "file");
		return;
	}
	out_cell(ln, spec, COL_PLACE, "segment");
	/* A path read from the file: escaped. */
	out_escape(st->seg_path, esc, sizeof(esc));
	out_cell(ln, spec, COL_SEGMENT, "%s", esc);
	if (st->seg == WCORE_SEG_OK) {
		cmd_status_bytes(ln, spec, COL_SEG_SIZE, st->seg_size);
		cmd_status_bytes(ln, spec, COL_SEG_RSS, st->seg_resident);
	}
}

/*
 * The row of a file that cannot be read (e->reason says why; e->open_err
 * when the core's checks refused it), said on standard error with what a
 * person does about it.  Returns its exit status.
 */
static int
cmd_status_unreadable(struct libscols_line *ln, const struct out_spec *spec,
    const struct target_file *tf, const struct plan_entry *e)
{
	struct plan p;
	char ewhy[2048];

	out_cell(ln, spec, COL_VERDICT, "%s",
	    wcore_verdict_name(WCORE_UNREADABLE));
	out_cell(ln, spec, COL_PLACE, "-");
	cmd_status_reason(ln, spec, e, "", &p);
	out_escape(e->reason, ewhy, sizeof(ewhy));
	warnx("%s: cannot read: %s%s%s", tf->shown, ewhy, p.next[0] ? "; " :
	    "", p.next);
	return WAPICTL_EXIT_ACCESS;
}

/* A holder of the table lock that died left its pid: the robust mutex
 * recovers at the next use. */
static bool
cmd_status_lock_dead(const struct wcore_status *st)
{
	uint64_t start;
	int e;

	if (!st->lock_held || st->verdict == WCORE_FOREIGN)
		return false;
	e = wcore_proc_start(st->lock_pid, &start);
	return e == ESRCH ||
	    (e == 0 && wcore_pid_alive(st->lock_pid, start) == 0);
}

/*
 * The cells of a state file from its verdict.  *alive gets the helper's
 * liveness in words; returns 1 when the recorded helper is dead.
 */
static int
cmd_status_cells(const struct wapictl *ctl, const struct target_file *tf,
    struct libscols_line *ln, const struct out_spec *spec,
    const struct wcore_status *st, const char **alive)
{
	struct plan_entry pe;
	struct plan p;
	int64_t now = wcore_now_s();
	bool lock_dead = cmd_status_lock_dead(st);
	char lock[96], place[sizeof(ctl->seg_why) + 40], extra[512];
	int dead;

	out_cell(ln, spec, COL_VERDICT, "%s", wcore_verdict_name(st->verdict));
	lock[0] = place[0] = '\0';
	if (lock_dead)
		snprintf(lock, sizeof(lock), "; table lock left by dead pid "
		    "%" PRId32 " (recovered at its next use)", st->lock_pid);
	/* This host's tables in the file because there is no segment
	 * directory: say why (WAPI_SEGMENT_DIR=none is a choice, said too). */
	if (st->header_ok && st->seg == WCORE_SEG_FILE &&
	    ctl->seg_dir[0] == '\0' && ctl->host[0] != '\0' &&
	    strncmp(st->hdr.host, ctl->host, sizeof(st->hdr.host)) == 0)
		snprintf(place, sizeof(place), "; its tables are in the file: "
		    "%s", ctl->seg_why);
	snprintf(extra, sizeof(extra), "%s%s", lock, place);
	plan_state_entry(st, tf, &pe);
	cmd_status_reason(ln, spec, &pe, extra, &p);
	dead = target_helper_state(st, alive);
	cmd_status_alive(ln, spec, *alive, dead);
	if (st->header_ok) {
		if (st->hdr.helper_pid > 0)
			out_cell(ln, spec, COL_HELPER, "%" PRId32,
			    st->hdr.helper_pid);
		out_cell(ln, spec, COL_CLIENTS, "%" PRIu32 "/%" PRIu32,
		    st->clients_live, st->clients_recorded);
		out_cell(ln, spec, COL_CLIENTS_LIVE, "%" PRIu32,
		    st->clients_live);
		out_cell(ln, spec, COL_CLIENTS_RECORDED, "%" PRIu32,
		    st->clients_recorded);
		cmd_status_handles(ln, spec, &st->hdr);
		out_age(ln, spec, COL_AGE, wcore_age_s(now, st->hdr.created));
		if (st->hdr.helper_heartbeat > 0)
			out_age(ln, spec, COL_HEARTBEAT,
			    wcore_age_s(now, st->hdr.helper_heartbeat));
		out_cell(ln, spec, COL_BOOT, "%.36s", st->hdr.boot_id);
	}
	if (st->lock_held && !lock_dead)
		out_cell(ln, spec, COL_LOCK, "%" PRId32, st->lock_pid);
	return dead;
}

/* What needs a person, on standard error.  Returns the file's exit status. */
static int
cmd_status_finding(const struct target_file *tf, const struct wcore_status *st,
    const char *alive, int dead)
{
	switch (st->verdict) {
	case WCORE_ORPHANED:
	case WCORE_STALE_BOOT:
		warnx("%s: %s (%s); run 'wapictl clean'", tf->shown,
		    wcore_verdict_name(st->verdict), st->reason);
		return WAPICTL_EXIT_FINDINGS;
	case WCORE_CORRUPT:
		warnx("%s: corrupt (%s); run 'wapictl validate' for details, "
		    "'wapictl clean' once no process holds it", tf->shown,
		    st->reason);
		return WAPICTL_EXIT_FINDINGS;
	default:
		break;
	}
	if (st->helper_silent_s > 0) {
		warnx("%s: helper pid %" PRId32 " is not answering (last "
		    "heartbeat %" PRId64 " s ago); its clients' calls that "
		    "need it fail; 'wapictl stop --kill' ends it and the next "
		    "client starts a new one", tf->shown, st->hdr.helper_pid,
		    st->helper_silent_s);
		return WAPICTL_EXIT_FINDINGS;
	}
	if (dead) {
		warnx("%s: helper pid %" PRId32 " is %s while %" PRIu32
		    " client%s still run without it; restart them", tf->shown,
		    st->hdr.helper_pid, strcmp(alive, "no") == 0 ?
		    "not running" : alive, st->clients_live,
		    st->clients_live == 1 ? "" : "s");
		return WAPICTL_EXIT_FINDINGS;
	}
	return 0;
}

/* HANDLES, HANDLES-USED and HANDLES-CAPACITY of a header. */
static void
cmd_status_handles(struct libscols_line *ln, const struct out_spec *spec,
    const struct wapi_header *h)
{
	uint32_t used = h->handles_used;
	uint32_t cap = h->regions[WAPI_R_HANDLES].capacity;

	out_cell(ln, spec, COL_HANDLES, "%" PRIu32 "/%" PRIu32, used, cap);
	out_cell(ln, spec, COL_HANDLES_USED, "%" PRIu32, used);
	out_cell(ln, spec, COL_HANDLES_CAPACITY, "%" PRIu32, cap);
}

/* The cells of a segment row from its judgement. */
static void
cmd_status_segment_cells(struct libscols_line *ln, const struct out_spec *spec,
    const struct target_seg *sg, const struct target_seg_status *ss)
{
	int64_t now = wcore_now_s();
	struct plan_entry pe;
	struct plan p;

	out_cell(ln, spec, COL_VERDICT, "%s", wcore_verdict_name(ss->verdict));
	plan_seg_entry(sg, ss, &pe);
	cmd_status_reason(ln, spec, &pe, "", &p);
	if (sg->ours) {
		cmd_status_bytes(ln, spec, COL_SIZE, ss->resident);
		cmd_status_bytes(ln, spec, COL_APPARENT, ss->size);
	} else		/* another user's is never opened: its directory entry */
		cmd_status_sizes(ln, spec, &sg->tf);
	cmd_status_bytes(ln, spec, COL_SEG_SIZE, ss->size);
	if (sg->ours)	/* another user's is never opened */
		cmd_status_bytes(ln, spec, COL_SEG_RSS, ss->resident);
	if (ss->header_ok) {
		cmd_status_handles(ln, spec, &ss->hdr);
		out_age(ln, spec, COL_AGE, wcore_age_s(now, ss->hdr.created));
		out_cell(ln, spec, COL_BOOT, "%.36s", ss->hdr.boot_id);
	} else
		out_age(ln, spec, COL_AGE, wcore_age_s(now, sg->info.mtime));
}

/*
 * The row of a segment of the segment directory that no listed state file
 * names (none when its anchor, found through its header, names it: that
 * anchor is in another directory).  Another user's is shown, never
 * opened.  Returns the segment's exit status: an orphaned or corrupt
 * segment older than WCORE_SEG_GRACE_S is a finding.
 */
static int
cmd_status_segment(struct wapictl *ctl, const struct target_seg *sg,
    struct cmd_status_out *o)
{
	const struct out_spec *spec = o->spec;
	struct target_seg_status ss;
	struct plan_entry pe;
	struct libscols_line *ln;
	char esc[2048];
	int fd;

	if (target_claimed(&o->claims, sg))
		return 0;
	fd = plan_seg_open(ctl, sg, false, &ss);
	if (fd == -ENOENT)
		return 0;	/* removed since the listing */
	if (fd >= 0) {
		target_seg_judge(sg, fd, &ss);
		close(fd);
		if (ss.claimed)
			return 0;
	}
	ln = out_line_new(o->tb);
	out_cell(ln, spec, COL_PATH, "%s", sg->tf.path);
	out_cell(ln, spec, COL_HOST, "%s", sg->host);
	out_cell(ln, spec, COL_ABI, "%s", sg->abi);
	out_escape(sg->tf.path, esc, sizeof(esc));
	out_cell(ln, spec, COL_SEGMENT, "%s", esc);
	if (!sg->ours) {
		cmd_status_segment_cells(ln, spec, sg, &ss);
		out_cell(ln, spec, COL_PLACE, "segment");
		return 0;
	}
	if (fd < 0) {
		cmd_status_sizes(ln, spec, &sg->tf);
		plan_seg_entry(sg, &ss, &pe);
		pe.open_err = fd;
		return cmd_status_unreadable(ln, spec, &sg->tf, &pe);
	}
	out_cell(ln, spec, COL_PLACE, "segment");
	cmd_status_segment_cells(ln, spec, sg, &ss);
	out_escape(ss.reason, esc, sizeof(esc));
	switch (ss.verdict) {
	case WCORE_ORPHANED:
		if (ss.young)
			return 0;
		warnx("%s: orphaned segment (%s); run 'wapictl clean'",
		    sg->tf.shown, esc);
		return WAPICTL_EXIT_FINDINGS;
	case WCORE_CORRUPT:
		if (ss.young && !ss.held)
			return 0;
		warnx("%s: corrupt segment (%s); 'wapictl clean' removes it "
		    "once no process holds it", sg->tf.shown, esc);
		return WAPICTL_EXIT_FINDINGS;
	case WCORE_UNREADABLE:
		warnx("%s: cannot tell whether it is in use: %s", sg->tf.shown,
		    esc);
		return WAPICTL_EXIT_ACCESS;
	default:
		return 0;
	}
}

/* Both tables, or none with -q; the second only with -v and rows. */
static void
cmd_status_print(const struct wapictl *ctl, struct cmd_status_out *o)
{
	if (ctl->quiet) {
		out_discard(o->tb);
		out_discard(o->ctb);
	} else if (o->verbose && ctl->json)
		out_print_json_pair(o->tb, o->ctb);
	else if (o->verbose && scols_table_get_nlines(o->ctb) > 0) {
		out_print(o->tb);
		putchar('\n');
		fflush(stdout);
		out_print(o->ctb);
	} else {
		out_print(o->tb);
		out_discard(o->ctb);
	}
}

static int
cmd_status_exec(struct wapictl *ctl, struct cmd_args *args)
{
	struct out_spec spec, cspec;
	struct cmd_status_out o;
	struct target_list list, segs;
	struct target_file tf;
	struct target_seg sg;
	size_t i;
	int r, rc = 0;

	o.verbose = args_has(args, 'v');
	out_spec_init(&spec, ctl, cmd_status_cols, NCOLS, cmd_status_defaults,
	    nitems(cmd_status_defaults));
	if (o.verbose)
		out_spec_add(&spec, cmd_status_verbose,
		    nitems(cmd_status_verbose));
	if (out_spec_options(&spec, ctl, args, COL_HOST) < 0)
		return WAPICTL_EXIT_USAGE;
	out_spec_split(&spec, COL_CLIENTS, cmd_status_clients_json,
	    nitems(cmd_status_clients_json));
	out_spec_split(&spec, COL_HANDLES, cmd_status_handles_json,
	    nitems(cmd_status_handles_json));
	out_spec_split(&spec, COL_HELPER_ALIVE, cmd_status_alive_json,
	    nitems(cmd_status_alive_json));
	out_spec_init(&cspec, ctl, cmd_status_ccols, nitems(cmd_status_ccols),
	    cmd_status_cdefaults, nitems(cmd_status_cdefaults));

	/* A missing default directory is nothing to show, not an error;
	 * one given with -d must be there. */
	if (target_dir_open(ctl, true) < 0 || target_collect(ctl,
	    TARGET_STATE | TARGET_TEMP | TARGET_LEGACY | TARGET_OTHER,
	    &list) < 0)
		return WAPICTL_EXIT_ACCESS;

	o.tb = out_table_new("status", &spec, args);
	o.ctb = out_table_new("clients", &cspec, args);
	o.spec = &spec;
	o.cspec = &cspec;
	memset(&o.claims, 0, sizeof(o.claims));
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		r = cmd_status_file(ctl, &list, i, &tf, &o);
		rc = MAX(rc, r);
	}
	/* Then the segments that none of those files names. */
	if (target_seg_collect(ctl, &segs) < 0)
		rc = MAX(rc, WAPICTL_EXIT_ACCESS);
	for (i = 0; i < segs.n; i++) {
		target_seg_get(ctl, &segs, i, &sg);
		r = cmd_status_segment(ctl, &sg, &o);
		rc = MAX(rc, r);
	}
	cmd_status_print(ctl, &o);
	target_free(&segs);
	target_claims_free(&o.claims);
	target_free(&list);
	return rc;
}
