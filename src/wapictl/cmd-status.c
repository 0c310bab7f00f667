/*
 * wapictl status: one row per state file (and per creation temporary and
 * legacy Mono file) of the wanted host(s), with the core's verdict and its
 * reason in words.  -v adds counts by object type and a second table of the
 * client slots.  Exit 1 when anything is orphaned, stale-boot, corrupt or
 * has a dead helper; 4 when a file or the directory cannot be read.
 */
#include <sys/mman.h>

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
};

static int	cmd_status_exec(struct wapictl *, int, char **);
static int	cmd_status_file(struct wapictl *, const struct target_list *,
		    size_t, const struct target_file *, struct cmd_status_out *);
static void	cmd_status_size(off_t, char *, size_t);
static void	cmd_status_details(struct wapictl *, int, const char *,
		    struct libscols_line *, struct cmd_status_out *);

enum {
	COL_PATH, COL_HOST, COL_ABI, COL_VERDICT, COL_REASON, COL_HELPER,
	COL_HELPER_ALIVE, COL_CLIENTS, COL_HANDLES, COL_SIZE, COL_AGE,
	COL_HEARTBEAT, COL_LOCK, COL_BOOT, COL_EVENTS, COL_MUTEXES,
	COL_SEMAPHORES, COL_FILES, COL_PIPES, COL_SOCKETS, COL_PROCESSES
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
	[COL_REASON] = { "REASON", 0.4, SCOLS_FL_WRAP, SCOLS_JSON_STRING,
	    "why, in words" },
	[COL_HELPER] = { "HELPER", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "helper pid recorded in the file" },
	[COL_HELPER_ALIVE] = { "HELPER-ALIVE", 5, 0, SCOLS_JSON_STRING,
	    "yes, not-answering, no, dead(pid reused), unknown, - (none)" },
	[COL_CLIENTS] = { "CLIENTS", 7, SCOLS_FL_RIGHT, SCOLS_JSON_STRING,
	    "live/recorded client slots" },
	[COL_HANDLES] = { "HANDLES", 9, SCOLS_FL_RIGHT, SCOLS_JSON_STRING,
	    "used/capacity handle slots" },
	[COL_SIZE] = { "SIZE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "file size (bytes in JSON)" },
	[COL_AGE] = { "AGE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since creation (seconds in JSON)" },
	[COL_HEARTBEAT] = { "HEARTBEAT", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since the helper's last heartbeat (seconds in JSON)" },
	[COL_LOCK] = { "LOCK", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "pid holding the table lock" },
	[COL_BOOT] = { "BOOT", 36, 0, SCOLS_JSON_STRING,
	    "boot id recorded at creation" },
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
};
#define NCOLS (sizeof(cmd_status_cols) / sizeof(cmd_status_cols[0]))

static const int cmd_status_defaults[] = {
	COL_PATH, COL_VERDICT, COL_HELPER, COL_HELPER_ALIVE, COL_CLIENTS,
	COL_HANDLES, COL_AGE, COL_HEARTBEAT, COL_LOCK, COL_REASON
};
static const int cmd_status_verbose[] = {
	COL_EVENTS, COL_MUTEXES, COL_SEMAPHORES, COL_FILES, COL_PIPES,
	COL_SOCKETS, COL_PROCESSES
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
	[CCOL_ALIVE] = { "ALIVE", 5, 0, SCOLS_JSON_STRING,
	    "yes (its lock byte is held), no, unknown" },
	[CCOL_ATTACHED] = { "ATTACHED", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "time since it attached (seconds in JSON)" },
	[CCOL_REFS] = { "REFS", 5, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "handle references it holds" },
};

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.usage = "[-o COLUMNS] [-r] [-n] [-v]",
	.help = "One row per state file: its verdict and why.",
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

/* -v: counts by type on the line and the client slots in the second table. */
static void
cmd_status_details(struct wapictl *ctl, int fd, const char *path,
    struct libscols_line *ln, struct cmd_status_out *o)
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
	char why[256], d[32];
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
		out_cell(cl, spec, CCOL_ALIVE, "%s",
		    held == 1 ? "yes" : held == 0 ? "no" : "unknown");
		if (ctl->json)
			out_cell(cl, spec, CCOL_ATTACHED, "%" PRId64,
			    wcore_now_s() - c.attached / 1000000000);
		else {
			target_duration(wcore_now_s() - c.attached / 1000000000,
			    d, sizeof(d));
			out_cell(cl, spec, CCOL_ATTACHED, "%s", d);
		}
		out_cell(cl, spec, CCOL_REFS, "%" PRIu32, c.refs_total);
	}
	munmap(map, len);
}

/* One row.  Returns the file's exit-status contribution. */
static int
cmd_status_file(struct wapictl *ctl, const struct target_list *list,
    size_t idx, const struct target_file *tf, struct cmd_status_out *o)
{
	const struct out_spec *spec = o->spec;
	struct libscols_line *ln;
	struct wcore_status st;
	struct legacy_info li;
	const char *alive = "-";
	char why[512], d[32];
	uint64_t lock_start;
	bool lock_dead;
	int fd, e, rc = 0, dead;
	int64_t now = wcore_now_s();

	ln = out_line_new(o->tb);
	out_cell(ln, spec, COL_PATH, "%s", tf->path);
	out_cell(ln, spec, COL_HOST, "%s", tf->de.parsed.host);
	if (ctl->json)
		out_cell(ln, spec, COL_SIZE, "%jd", (intmax_t)tf->de.info.size);
	else if (out_has(spec, COL_SIZE)) {
		cmd_status_size(tf->de.info.size, d, sizeof(d));
		out_cell(ln, spec, COL_SIZE, "%s", d);
	}

	switch (tf->de.parsed.kind) {
	case WCORE_NAME_TEMP:
		out_cell(ln, spec, COL_ABI, "%s", tf->de.parsed.abi);
		out_cell(ln, spec, COL_VERDICT, "%s",
		    wcore_verdict_name(WCORE_TEMPORARY));
		target_duration(now - tf->de.info.mtime, d, sizeof(d));
		out_cell(ln, spec, COL_REASON, "creation temporary, modified "
		    "%s ago%s", d, now - tf->de.info.mtime > 60 ?
		    "; 'wapictl clean' removes it" : "");
		if (ctl->json)
			out_cell(ln, spec, COL_AGE, "%" PRId64,
			    now - tf->de.info.mtime);
		else
			out_cell(ln, spec, COL_AGE, "%s", d);
		return 0;
	case WCORE_NAME_LEGACY_DATA:
	case WCORE_NAME_LEGACY_SHARE:
	case WCORE_NAME_LEGACY_SCRATCH:
		out_cell(ln, spec, COL_VERDICT, "%s",
		    wcore_verdict_name(WCORE_LEGACY));
		legacy_inspect(ctl, list, idx, &li);
		out_cell(ln, spec, COL_REASON, "%s", li.reason);
		if (ctl->json)
			out_cell(ln, spec, COL_AGE, "%" PRId64,
			    now - tf->de.info.mtime);
		else {
			target_duration(now - tf->de.info.mtime, d, sizeof(d));
			out_cell(ln, spec, COL_AGE, "%s", d);
		}
		return 0;
	default:
		break;
	}

	out_cell(ln, spec, COL_ABI, "%s", tf->de.parsed.abi);
	fd = target_open_listed(ctl, tf, why, sizeof(why));
	if (fd == -ENOENT) {
		/* Removed since the listing (a helper leaving): not there. */
		scols_table_remove_line(o->tb, ln);
		return 0;
	}
	if (fd < 0) {
		out_cell(ln, spec, COL_VERDICT, "%s",
		    wcore_verdict_name(WCORE_UNREADABLE));
		out_cell(ln, spec, COL_REASON, "%s", why);
		warnx("%s: cannot read: %s; check it with ls -l, remove it by "
		    "hand if it is not yours", tf->shown, why);
		return WAPICTL_EXIT_ACCESS;
	}
	memset(&st, 0, sizeof(st));
	if ((e = wcore_verdict(fd, ctl->host, &st)) != 0) {
		out_cell(ln, spec, COL_VERDICT, "%s",
		    wcore_verdict_name(WCORE_UNREADABLE));
		out_cell(ln, spec, COL_REASON, "%s", strerror(e));
		warnx("%s: cannot read: %s", tf->shown, strerror(e));
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	out_cell(ln, spec, COL_VERDICT, "%s", wcore_verdict_name(st.verdict));
	/* A holder that died left its pid: the robust mutex recovers. */
	lock_dead = false;
	if (st.lock_held && st.verdict != WCORE_FOREIGN) {
		e = wcore_proc_start(st.lock_pid, &lock_start);
		lock_dead = e == ESRCH ||
		    (e == 0 && wcore_pid_alive(st.lock_pid, lock_start) == 0);
	}
	if (lock_dead)
		out_cell(ln, spec, COL_REASON, "%s; table lock left by dead pid "
		    "%" PRId32 " (recovered at its next use)", st.reason,
		    st.lock_pid);
	else
		out_cell(ln, spec, COL_REASON, "%s", st.reason);
	dead = target_helper_state(&st, &alive);
	out_cell(ln, spec, COL_HELPER_ALIVE, "%s", alive);
	if (st.header_ok) {
		if (st.hdr.helper_pid > 0)
			out_cell(ln, spec, COL_HELPER, "%" PRId32,
			    st.hdr.helper_pid);
		out_cell(ln, spec, COL_CLIENTS, "%" PRIu32 "/%" PRIu32,
		    st.clients_live, st.clients_recorded);
		out_cell(ln, spec, COL_HANDLES, "%" PRIu32 "/%" PRIu32,
		    st.hdr.handles_used,
		    st.hdr.regions[WAPI_R_HANDLES].capacity);
		if (ctl->json)
			out_cell(ln, spec, COL_AGE, "%" PRId64,
			    now - st.hdr.created);
		else {
			target_duration(now - st.hdr.created, d, sizeof(d));
			out_cell(ln, spec, COL_AGE, "%s", d);
		}
		if (st.hdr.helper_heartbeat > 0) {
			if (ctl->json)
				out_cell(ln, spec, COL_HEARTBEAT, "%" PRId64,
				    now - st.hdr.helper_heartbeat);
			else {
				target_duration(now - st.hdr.helper_heartbeat,
				    d, sizeof(d));
				out_cell(ln, spec, COL_HEARTBEAT, "%s", d);
			}
		}
		out_cell(ln, spec, COL_BOOT, "%.36s", st.hdr.boot_id);
	}
	if (st.lock_held && !lock_dead)
		out_cell(ln, spec, COL_LOCK, "%" PRId32, st.lock_pid);
	if (o->verbose && st.header_ok && (st.verdict == WCORE_LIVE ||
	    st.verdict == WCORE_ORPHANED || st.verdict == WCORE_STALE_BOOT))
		cmd_status_details(ctl, fd, tf->path, ln, o);
	close(fd);

	switch (st.verdict) {
	case WCORE_ORPHANED:
	case WCORE_STALE_BOOT:
		warnx("%s: %s (%s); run 'wapictl clean'", tf->shown,
		    wcore_verdict_name(st.verdict), st.reason);
		rc = WAPICTL_EXIT_FINDINGS;
		break;
	case WCORE_CORRUPT:
		warnx("%s: corrupt (%s); run 'wapictl validate' for details, "
		    "'wapictl clean' once no process holds it", tf->shown,
		    st.reason);
		rc = WAPICTL_EXIT_FINDINGS;
		break;
	default:
		if (st.helper_silent_s > 0) {
			warnx("%s: helper pid %" PRId32 " is not answering "
			    "(last heartbeat %" PRId64 " s ago); its clients' "
			    "calls that need it fail; 'wapictl stop --kill' "
			    "ends it and the next client starts a new one",
			    tf->shown, st.hdr.helper_pid, st.helper_silent_s);
			rc = WAPICTL_EXIT_FINDINGS;
		} else if (dead) {
			warnx("%s: helper pid %" PRId32 " is %s while %"
			    PRIu32 " client%s still run without it; restart "
			    "them", tf->shown, st.hdr.helper_pid,
			    strcmp(alive, "no") == 0 ? "not running" : alive,
			    st.clients_live, st.clients_live == 1 ? "" : "s");
			rc = WAPICTL_EXIT_FINDINGS;
		}
		break;
	}
	return rc;
}

static int
cmd_status_exec(struct wapictl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output",	required_argument,	NULL, 'o' },
		{ "raw",	no_argument,		NULL, 'r' },
		{ "noheadings",	no_argument,		NULL, 'n' },
		{ "verbose",	no_argument,		NULL, 'v' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct out_spec spec = { cmd_status_cols, NCOLS, { 0 }, 0 };
	struct out_spec cspec = { cmd_status_ccols,
	    sizeof(cmd_status_ccols) / sizeof(cmd_status_ccols[0]), { 0 }, 0 };
	struct cmd_status_out o;
	struct target_list list;
	struct target_file tf;
	const char *ocols = NULL;
	bool raw = false, noheadings = false, verbose = false;
	size_t i;
	int ch, r, rc = 0, worst = 0;

	while ((ch = getopt_long(argc, argv, "hno:rv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			wapictl_cmd_usage(&cmd_status_entry,
			    "\n  -o, --output COLUMNS  columns to show "
			    "(+COLUMNS adds to the default)\n"
			    "  -r, --raw             raw output\n"
			    "  -n, --noheadings      no headings\n"
			    "  -v, --verbose         counts by type, and the "
			    "client slots\n");
			out_columns_help(cmd_status_cols, NCOLS);
			return 0;
		case 'n':
			noheadings = true;
			break;
		case 'o':
			ocols = optarg;
			break;
		case 'r':
			raw = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			return wapictl_usage_error(&cmd_status_entry, NULL);
		}
	}
	if (optind != argc)
		return wapictl_usage_error(&cmd_status_entry,
		    "unexpected argument '%s'", argv[optind]);

	out_columns_default(&spec, cmd_status_defaults,
	    sizeof(cmd_status_defaults) / sizeof(cmd_status_defaults[0]));
	if (ctl->all_hosts && (ocols == NULL || *ocols == '+')) {
		memmove(&spec.ids[1], &spec.ids[0],
		    spec.nids * sizeof(spec.ids[0]));
		spec.ids[0] = COL_HOST;
		spec.nids++;
	}
	if (verbose)
		for (i = 0; i < sizeof(cmd_status_verbose) /
		    sizeof(cmd_status_verbose[0]); i++)
			spec.ids[spec.nids++] = cmd_status_verbose[i];
	if (ocols != NULL && (r = out_columns_parse(&spec, ocols)) != 0)
		return r;
	out_columns_default(&cspec, (const int[]){ CCOL_PATH, CCOL_SLOT,
	    CCOL_PID, CCOL_ALIVE, CCOL_ATTACHED, CCOL_REFS }, 6);

	/* A missing directory is nothing to show, not an error. */
	if ((r = target_dir_open(ctl, true)) != 0)
		return r;
	if ((r = target_collect(ctl, TARGET_STATE | TARGET_TEMP |
	    TARGET_LEGACY, &list)) != 0)
		return r;

	o.tb = out_table_new(ctl, "status", &spec, raw, noheadings);
	o.ctb = out_table_new(ctl, "clients", &cspec, raw, noheadings);
	o.spec = &spec;
	o.cspec = &cspec;
	o.verbose = verbose;
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		r = cmd_status_file(ctl, &list, i, &tf, &o);
		if (r == WAPICTL_EXIT_ACCESS)
			worst = r;
		else if (r > rc)
			rc = r;
	}
	if (!ctl->quiet) {
		if (verbose && ctl->json)
			out_print_json_pair(o.tb, o.ctb);
		else if (verbose && scols_table_get_nlines(o.ctb) > 0) {
			out_print(o.tb);
			putchar('\n');
			fflush(stdout);
			out_print(o.ctb);
		} else {
			out_print(o.tb);
			scols_unref_table(o.ctb);
		}
	} else {
		scols_unref_table(o.tb);
		scols_unref_table(o.ctb);
	}
	target_free(&list);
	return worst ? worst : rc;
}
