/*
 * wapictl waits: who sleeps in a wait, on what, and who holds it; then the
 * chains waiter -> mutex -> owner -> what that owner waits for -> ..., and
 * the cycles among them (deadlocks), which make the exit status 1.
 *
 * The wait records (wapi-state(5), WAITS) are read without any lock: each
 * is copied whole between two equal even values of its seq, so a row is
 * one moment of one thread; the objects and their owners are read from
 * the mapping as they are then.  The file is mapped read-only: nothing
 * here writes a byte.
 *
 * Deadlock, in the AND/OR model of the waits: a thread can go on when its
 * wait for any object has one that can come, and its wait for all objects
 * (or one) has every one that can come.  An event, a semaphore, a process,
 * a free mutex, one whose owner runs or died (abandoned: the next waiter
 * gets it) can come; a mutex held by a thread that sleeps can come when
 * that thread can go on.  What is left when nothing more can go on is
 * deadlocked, and following its blocked edges from any of it finds a
 * cycle.
 */
#include <sys/mman.h>

#include <err.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapictl.h"

/* One sleeping thread, from its wait record. */
struct cmd_waits_node {
	int32_t			 pid, tid;
	uint32_t		 client;
	bool			 alive;		/* its process lives */
	bool			 stuck;		/* cannot go on (deadlock) */
	bool			 shown;		/* in a printed cycle */
	bool			 pointed;	/* another waiter's first edge */
	struct wapi_wait_record	 rec;
};

/* The waits of one state file, read out of its mapping. */
struct cmd_waits_file {
	const struct target_file	*tf;
	const void			*map;
	uint32_t			 hend;	/* handle slots to look at */
	struct cmd_waits_node		*v;
	size_t				 n;
	uint64_t			 unrecorded;
	size_t				 changing;	/* records never still */
	size_t				 cycles;
};

static int	cmd_waits_exec(struct wapictl *, struct cmd_args *);

/* Without -J, the chains go here, one hop a line, printed after the
 * table. */
static FILE	*cmd_waits_text;

enum {
	COL_PID, COL_TID, COL_WAIT, COL_SINCE, COL_TIMEOUT, COL_COUNT,
	COL_OBJECTS, COL_OWNERS, COL_STATE, COL_HOST, COL_PATH
};

static const struct out_column cmd_waits_cols[] = {
	[COL_PID] = { "PID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "process of the waiting thread" },
	[COL_TID] = { "TID", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "the waiting thread" },
	[COL_WAIT] = { "WAIT", 3, 0, SCOLS_JSON_STRING,
	    "any (one of its objects) or all of them" },
	[COL_SINCE] = { "SINCE", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "how long it has slept (seconds in JSON)" },
	[COL_TIMEOUT] = { "TIMEOUT", 6, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "its timeout, 'none' (milliseconds in JSON, null: none)" },
	[COL_COUNT] = { "COUNT", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "objects of the wait (the first 8 are listed)" },
	[COL_OBJECTS] = { "OBJECTS", 0.3, SCOLS_FL_WRAP, SCOLS_JSON_STRING,
	    "type, handle number and name of each object" },
	[COL_OWNERS] = { "OWNERS", 0.4, SCOLS_FL_WRAP, SCOLS_JSON_STRING,
	    "who holds each object, or why it has no owner" },
	[COL_STATE] = { "STATE", 8, 0, SCOLS_JSON_STRING,
	    "waiting, deadlocked, or dead (its slot not yet reclaimed)" },
	[COL_HOST] = { "HOST", 0.1, 0, SCOLS_JSON_STRING,
	    "host of the state file" },
	[COL_PATH] = { "PATH", 0.2, SCOLS_FL_NOEXTREMES, SCOLS_JSON_STRING,
	    "the state file" },
};
#define NCOLS nitems(cmd_waits_cols)

static const int cmd_waits_defaults[] = {
	COL_PID, COL_TID, COL_WAIT, COL_SINCE, COL_OBJECTS, COL_OWNERS
};

/* The second table: the chains and the cycles. */
enum { CCOL_KIND, CCOL_THREADS, CCOL_CHAIN, CCOL_PATH };
static const struct out_column cmd_waits_ccols[] = {
	[CCOL_KIND] = { "KIND", 5, 0, SCOLS_JSON_STRING,
	    "chain, or cycle (a deadlock)" },
	[CCOL_THREADS] = { "THREADS", 3, SCOLS_FL_RIGHT, SCOLS_JSON_NUMBER,
	    "threads in it" },
	[CCOL_CHAIN] = { "CHAIN", 0.6, SCOLS_FL_WRAP, SCOLS_JSON_STRING,
	    "who waits for what, held by whom" },
	[CCOL_PATH] = { "PATH", 0.2, 0, SCOLS_JSON_STRING, "the state file" },
};
static const int cmd_waits_cdefaults[] = {
	CCOL_KIND, CCOL_THREADS, CCOL_CHAIN, CCOL_PATH
};

const struct cmd_entry cmd_waits_entry = {
	.name = "waits",
	.help = "Threads asleep in a wait, what they wait for, who holds it;\n"
	    "the chains of waits and their cycles (deadlocks: exit 1).",
	.columns = cmd_waits_cols,
	.ncolumns = NCOLS,
	.args = { .lower = 0, .upper = 0 },
	.exec = cmd_waits_exec,
};

/* Slot idx + 1 of a record, as a copy of its entry: false when out of the
 * table or free. */
static bool
cmd_waits_entry_of(const struct cmd_waits_file *f, uint32_t h,
    struct wapi_handle_entry *e)
{
	if (h == 0 || h > f->hend)
		return false;
	memcpy(e, &WCORE_HANDLES(f->map)[h - 1], sizeof(*e));
	return e->type != WAPI_T_FREE && e->type < WAPI_T_COUNT;
}

/* "mutex 2097153 'name'" for slot h - 1. */
static void
cmd_waits_object(const struct cmd_waits_file *f, uint32_t h, char *buf,
    size_t len)
{
	struct wapi_handle_entry e;
	char name[WAPI_NAME_MAX + 1], shown[WAPI_NAME_MAX * 4 + 1];

	if (!cmd_waits_entry_of(f, h, &e)) {
		snprintf(buf, len, "slot %" PRIu32 " (closed)", h - 1);
		return;
	}
	if (e.flags & WAPI_HF_NAMED) {
		memcpy(name, WCORE_NAMES(f->map)[h - 1].name, sizeof(name));
		name[WAPI_NAME_MAX] = '\0';
		out_escape(name, shown, sizeof(shown));
		snprintf(buf, len, "%s %" PRIu32 " '%s'",
		    wcore_type_name(e.type),
		    wcore_handle_number(h - 1, e.generation), shown);
	} else
		snprintf(buf, len, "%s %" PRIu32, wcore_type_name(e.type),
		    wcore_handle_number(h - 1, e.generation));
}

/* The node of a sleeping thread, or -1. */
static ssize_t
cmd_waits_find(const struct cmd_waits_file *f, int32_t pid, int32_t tid)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].alive && f->v[i].tid == tid &&
		    (pid == 0 || f->v[i].pid == pid))
			return (ssize_t)i;
	return -1;
}

/*
 * Who holds slot h - 1, as seen by a waiter: into buf, and the node of a
 * sleeping owner (else -1).  *can: the object can come (see the top).
 */
static ssize_t
cmd_waits_owner(const struct cmd_waits_file *f, uint32_t h, char *buf,
    size_t len, bool *can)
{
	struct wapi_handle_entry e;
	char age[32];
	int32_t tid;
	ssize_t o;

	*can = true;
	if (!cmd_waits_entry_of(f, h, &e)) {
		snprintf(buf, len, "closed: the wait fails");
		return -1;
	}
	if (e.type == WAPI_T_PROCESS) {
		snprintf(buf, len, "no owner: waits for process %" PRId32
		    " to exit", e.u.proc.pid);
		return -1;
	}
	if (e.type != WAPI_T_MUTEX) {
		snprintf(buf, len, "no owner: waits for a signal");
		return -1;
	}
	if ((tid = wapi_mutex_owner_tid(&e)) == 0) {
		snprintf(buf, len, "free%s: the waiter is about to take it",
		    (e.flags & WAPI_HF_ABANDONED) ? ", abandoned" : "");
		return -1;
	}
	if (e.u.mutex.owner_pid != 0 && wcore_pid_alive(e.u.mutex.owner_pid,
	    e.u.mutex.owner_start) == 0) {
		snprintf(buf, len, "pid %" PRId32 " tid %" PRId32 ", dead: "
		    "abandoned: the next waiter gets it", e.u.mutex.owner_pid,
		    tid);
		return -1;
	}
	age[0] = '\0';
	if (e.u.mutex.owned_since > 0)
		target_duration(wcore_age_s(wcore_now_s(),
		    e.u.mutex.owned_since / 1000000000), age, sizeof(age));
	o = cmd_waits_find(f, e.u.mutex.owner_pid, tid);
	snprintf(buf, len, "pid %" PRId32 " tid %" PRId32 "%s%s%s",
	    e.u.mutex.owner_pid, tid, age[0] ? ", owned for " : "", age,
	    o < 0 ? ", not in a wait" : "");
	return o;
}

/* The objects a node's record lists. */
static uint32_t
cmd_waits_listed(const struct cmd_waits_node *w)
{
	return w->rec.count < WAPI_WAIT_HANDLES ? w->rec.count :
	    WAPI_WAIT_HANDLES;
}

/*
 * Whether node i can go on now, with the stuck marks as they are: any
 * object that can come releases a wait for any; a wait for all needs all
 * of them.  A wait of more than 8 objects lists only 8: the others are
 * unknown, so it counts as able to go on (never a false deadlock).
 */
static bool
cmd_waits_can_go(const struct cmd_waits_file *f, size_t i)
{
	const struct cmd_waits_node *w = &f->v[i];
	bool all = (w->rec.wflags & WAPI_WF_ALL) != 0, can, each;
	char owner[160];
	uint32_t k, n = cmd_waits_listed(w);
	ssize_t o;

	if (w->rec.count > WAPI_WAIT_HANDLES)
		return true;
	for (k = 0; k < n; k++) {
		o = cmd_waits_owner(f, w->rec.handles[k], owner,
		    sizeof(owner), &can);
		each = o < 0 ? can : (size_t)o == i || !f->v[o].stuck;
		if (all && !each)
			return false;
		if (!all && each)
			return true;
	}
	return all;
}

/* Mark the deadlocked nodes: all stuck, then free what can go on until
 * nothing changes. */
static void
cmd_waits_deadlocks(struct cmd_waits_file *f)
{
	bool changed = true;
	size_t i;

	for (i = 0; i < f->n; i++)
		f->v[i].stuck = f->v[i].alive;
	while (changed) {
		changed = false;
		for (i = 0; i < f->n; i++)
			if (f->v[i].stuck && cmd_waits_can_go(f, i)) {
				f->v[i].stuck = false;
				changed = true;
			}
	}
}

/*
 * The edge a chain follows out of node i: its first object held by
 * another sleeping thread (stuck_only: a deadlocked one); without one, its
 * first object, whose owner text then ends the chain.  *next: that thread's
 * node, or -1.  Returns the slot + 1 of the object.
 */
static uint32_t
cmd_waits_step(const struct cmd_waits_file *f, size_t i, bool stuck_only,
    ssize_t *next, char *owner, size_t len, bool *held)
{
	const struct cmd_waits_node *w = &f->v[i];
	uint32_t k, n = cmd_waits_listed(w);
	ssize_t o;
	bool can;

	for (k = 0; k < n; k++) {
		o = cmd_waits_owner(f, w->rec.handles[k], owner, len, &can);
		if (o >= 0 && (size_t)o != i && (!stuck_only || f->v[o].stuck)) {
			*next = o;
			*held = true;
			return w->rec.handles[k];
		}
	}
	/* None asleep: the first held by anyone, else the first. */
	*next = -1;
	for (k = 0; k < n; k++) {
		cmd_waits_owner(f, w->rec.handles[k], owner, len, &can);
		if (strncmp(owner, "pid ", 4) == 0)
			break;
	}
	if (k == n)
		k = 0;
	cmd_waits_owner(f, w->rec.handles[k], owner, len, &can);
	*held = strncmp(owner, "pid ", 4) == 0;
	return w->rec.handles[k];
}

/* "pid P tid T" of node i, and where its wait goes, onto fp. */
static void
cmd_waits_hop(FILE *fp, const struct cmd_waits_file *f, size_t i, uint32_t h,
    const char *owner, bool held)
{
	char obj[WAPI_NAME_MAX * 4 + 64];

	cmd_waits_object(f, h, obj, sizeof(obj));
	fprintf(fp, "pid %" PRId32 " tid %" PRId32 " waits for %s%s%s%s",
	    f->v[i].pid, f->v[i].tid, f->v[i].rec.count > 1 ?
	    ((f->v[i].rec.wflags & WAPI_WF_ALL) ? "all of " : "any of ") : "",
	    obj, held ? " held by " : ": ", owner);
}

/* A chain or a cycle, its hops one a line in text: a row of the chains
 * table in JSON (hops joined by "; "), else lines for cmd_waits_text. */
static void
cmd_waits_crow(struct libscols_table *ctb, const struct out_spec *cspec,
    const struct cmd_waits_file *f, const char *kind, size_t threads,
    char *text)
{
	struct libscols_line *ln;
	char *p, *line, *save;

	if (!cspec->json) {
		fprintf(cmd_waits_text, "\n%s of %zu thread%s%s, %s:\n", kind,
		    threads, threads == 1 ? "" : "s", strcmp(kind, "cycle") ?
		    "" : " (a deadlock)", f->tf->shown);
		for (line = strtok_r(text, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			fprintf(cmd_waits_text, "  %s\n", line);
		return;
	}
	for (p = text; (p = strchr(p, '\n')) != NULL; )
		*p = ' ';
	ln = out_line_new(ctb);
	out_cell(ln, cspec, CCOL_KIND, "%s", kind);
	out_cell(ln, cspec, CCOL_THREADS, "%zu", threads);
	out_cell(ln, cspec, CCOL_CHAIN, "%s", text);
	out_cell(ln, cspec, CCOL_PATH, "%s", f->tf->path);
}

/* The chain from node i, which no other waiter waits for: each hop
 * follows the first object held by another sleeping thread. */
static void
cmd_waits_chain(struct cmd_waits_file *f, size_t i,
    struct libscols_table *ctb, const struct out_spec *cspec)
{
	char owner[160], *text = NULL;
	size_t len = 0, hops = 0, cur = i;
	bool *seen, held;
	ssize_t next;
	uint32_t h;
	FILE *fp;

	if ((seen = calloc(f->n, sizeof(*seen))) == NULL ||
	    (fp = open_memstream(&text, &len)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "chain");
	for (;;) {
		seen[cur] = true;
		hops++;
		h = cmd_waits_step(f, cur, false, &next, owner, sizeof(owner),
		    &held);
		cmd_waits_hop(fp, f, cur, h, owner, held);
		if (next < 0)
			break;
		if (seen[next]) {
			fprintf(fp, ", in a cycle (below)");
			break;
		}
		fprintf(fp, ", asleep:\n");
		cur = (size_t)next;
	}
	fclose(fp);
	cmd_waits_crow(ctb, cspec, f, "chain", hops, text);
	free(text);
	free(seen);
}

/* The cycle that the deadlocked node i leads to, printed once. */
static void
cmd_waits_cycle(struct cmd_waits_file *f, size_t i,
    struct libscols_table *ctb, const struct out_spec *cspec)
{
	char owner[160], *text = NULL;
	size_t len = 0, *path, np = 0, start, k;
	ssize_t next, *at;
	bool held;
	FILE *fp;

	path = calloc(f->n + 1, sizeof(*path));
	at = malloc(f->n * sizeof(*at));
	if (path == NULL || at == NULL)
		err(WAPICTL_EXIT_ACCESS, "cycle");
	for (k = 0; k < f->n; k++)
		at[k] = -1;
	/* Every deadlocked node has an edge to another one: walk them. */
	for (next = (ssize_t)i; next >= 0 && at[next] < 0;
	    cmd_waits_step(f, path[np - 1], true, &next, owner, sizeof(owner),
	    &held)) {
		at[next] = (ssize_t)np;
		path[np++] = (size_t)next;
	}
	if (next >= 0 && !f->v[next].shown) {
		start = (size_t)at[next];
		if ((fp = open_memstream(&text, &len)) == NULL)
			err(WAPICTL_EXIT_ACCESS, "cycle");
		for (k = start; k < np; k++) {
			f->v[path[k]].shown = true;
			cmd_waits_hop(fp, f, path[k], cmd_waits_step(f, path[k],
			    true, &next, owner, sizeof(owner), &held), owner,
			    true);
			fprintf(fp, k + 1 < np ? ", asleep:\n" :
			    ", the first: none of them can go on");
		}
		fclose(fp);
		cmd_waits_crow(ctb, cspec, f, "cycle", np - start, text);
		f->cycles++;
		free(text);
	}
	free(path);
	free(at);
}

/* One row: node i's thread, its wait, its objects and their owners. */
static void
cmd_waits_row(const struct cmd_waits_file *f, size_t i,
    struct libscols_table *tb, const struct out_spec *spec)
{
	const struct cmd_waits_node *w = &f->v[i];
	struct libscols_line *ln = out_line_new(tb);
	char obj[WAPI_NAME_MAX * 4 + 64], owner[160], *o = NULL, *ow = NULL;
	size_t olen = 0, owlen = 0;
	uint32_t k, n = cmd_waits_listed(w);
	FILE *fo, *fw;
	bool can;

	out_cell(ln, spec, COL_PID, "%" PRId32, w->pid);
	out_cell(ln, spec, COL_TID, "%" PRId32, w->tid);
	out_cell(ln, spec, COL_WAIT, "%s", w->rec.count == 1 ? "one" :
	    (w->rec.wflags & WAPI_WF_ALL) ? "all" : "any");
	out_age(ln, spec, COL_SINCE, wcore_age_s(wcore_now_s(),
	    w->rec.since / 1000000000));
	if (w->rec.timeout_ms != WAPI_WAIT_FOREVER)
		out_cell(ln, spec, COL_TIMEOUT, spec->json ? "%" PRIu32 :
		    "%" PRIu32 "ms", w->rec.timeout_ms);
	else if (!spec->json)
		out_cell(ln, spec, COL_TIMEOUT, "none");
	out_cell(ln, spec, COL_COUNT, "%u", (unsigned)w->rec.count);
	out_cell(ln, spec, COL_STATE, "%s", !w->alive ?
	    "dead: its slot not yet reclaimed" : w->stuck ? "deadlocked" :
	    "waiting");
	out_cell(ln, spec, COL_HOST, "%s", f->tf->de.parsed.host);
	out_cell(ln, spec, COL_PATH, "%s", f->tf->path);
	if ((fo = open_memstream(&o, &olen)) == NULL ||
	    (fw = open_memstream(&ow, &owlen)) == NULL)
		err(WAPICTL_EXIT_ACCESS, "open_memstream");
	for (k = 0; k < n; k++) {
		cmd_waits_object(f, w->rec.handles[k], obj, sizeof(obj));
		cmd_waits_owner(f, w->rec.handles[k], owner, sizeof(owner),
		    &can);
		fprintf(fo, "%s%s", k ? ", " : "", obj);
		fprintf(fw, "%s%s", k ? "; " : "", owner);
	}
	if (w->rec.count > n)
		fprintf(fo, ", and %u more", (unsigned)(w->rec.count - n));
	fclose(fo);
	fclose(fw);
	out_cell(ln, spec, COL_OBJECTS, "%s", o);
	out_cell(ln, spec, COL_OWNERS, "%s", ow);
	free(o);
	free(ow);
}

/* The sleeping threads of a mapping: the records of its attached client
 * slots, each a consistent copy. */
static void
cmd_waits_collect(struct cmd_waits_file *f)
{
	const struct wapi_header *h = f->map;
	struct wapi_client_entry ce;
	struct wapi_wait_record r;
	uint32_t c, k, ncl = h->regions[WAPI_R_CLIENTS].capacity;
	int got;

	f->hend = wcore_handle_end(f->map);
	f->v = reallocarray(NULL, (size_t)ncl * WAPI_WAIT_RECORDS,
	    sizeof(*f->v));
	if (f->v == NULL)
		err(WAPICTL_EXIT_ACCESS, "waits");
	for (c = 0; c < ncl; c++) {
		memcpy(&ce, &WCORE_CLIENTS(f->map)[c], sizeof(ce));
		if (ce.state != WAPI_CS_ATTACHED)
			continue;
		f->unrecorded += ce.waits_unrecorded;
		for (k = 0; k < WAPI_WAIT_RECORDS; k++) {
			got = wcore_wait_snapshot(&WCORE_WAIT_BLOCK(f->map,
			    c)[k], &r);
			if (got < 0)
				f->changing++;
			if (got <= 0 || r.count == 0 || r.tid <= 0)
				continue;
			memset(&f->v[f->n], 0, sizeof(f->v[f->n]));
			f->v[f->n].pid = ce.pid;
			f->v[f->n].tid = r.tid;
			f->v[f->n].client = c;
			f->v[f->n].alive = wcore_pid_alive(ce.pid,
			    ce.start) != 0;
			f->v[f->n].rec = r;
			f->n++;
		}
	}
}

/* Rows, chains and cycles of one mapping. */
static void
cmd_waits_show(struct cmd_waits_file *f, struct libscols_table *tb,
    const struct out_spec *spec, struct libscols_table *ctb,
    const struct out_spec *cspec)
{
	char owner[160];
	ssize_t next;
	size_t i;
	bool held;

	cmd_waits_collect(f);
	cmd_waits_deadlocks(f);
	for (i = 0; i < f->n; i++) {
		if (!f->v[i].alive)
			continue;
		cmd_waits_step(f, i, false, &next, owner, sizeof(owner),
		    &held);
		if (next >= 0)
			f->v[next].pointed = true;
	}
	for (i = 0; i < f->n; i++)
		cmd_waits_row(f, i, tb, spec);
	for (i = 0; i < f->n; i++)
		if (f->v[i].alive && !f->v[i].pointed)
			cmd_waits_chain(f, i, ctb, cspec);
	for (i = 0; i < f->n; i++)
		if (f->v[i].stuck && !f->v[i].shown)
			cmd_waits_cycle(f, i, ctb, cspec);
}

/* An anchor whose tables cannot be had here: said, with why. */
static bool
cmd_waits_noseg(const struct target_file *tf, const struct wcore_status *st)
{
	char why[sizeof(st->seg_why) * 4], sw[256];
	int sfd;

	if (st->seg == WCORE_SEG_UNSEEN) {
		sfd = wcore_seg_open(&st->hdr, false, NULL, sw, sizeof(sw));
		if (sfd >= 0)
			close(sfd);
		if (sfd != -ENOENT)
			return false;
		warnx("%s: its waits cannot be listed here: an anchor of "
		    "host %s, its tables are on that host", tf->shown,
		    st->hdr.host);
		return true;
	}
	if (st->seg != WCORE_SEG_GONE && st->seg != WCORE_SEG_BAD)
		return false;
	out_escape(st->seg == WCORE_SEG_GONE ? st->reason : st->seg_why, why,
	    sizeof(why));
	warnx("%s: its waits cannot be listed: %s; 'wapictl status -v' says "
	    "more", tf->shown, why);
	return true;
}

/* A state file's waits.  Returns the file's exit status (1: a cycle). */
static int
cmd_waits_file(struct wapictl *ctl, const struct target_file *tf,
    struct libscols_table *tb, const struct out_spec *spec,
    struct libscols_table *ctb, const struct out_spec *cspec)
{
	struct cmd_waits_file f;
	struct wcore_status st;
	void *map = NULL;
	size_t len = 0;
	char why[512];
	bool writable = false;
	int fd, e, rc;

	fd = target_open_tables(ctl, tf, &writable, &st,
	    "its waits are not listed", &rc);
	if (fd < 0)
		return rc;
	if (cmd_waits_noseg(tf, &st)) {
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	e = wcore_map(fd, false, &map, &len, why, sizeof(why));
	close(fd);
	if (e != 0) {
		warnx("%s: cannot map: %s", tf->shown, why);
		return WAPICTL_EXIT_ACCESS;
	}
	memset(&f, 0, sizeof(f));
	f.tf = tf;
	f.map = map;
	cmd_waits_show(&f, tb, spec, ctb, cspec);
	munmap(map, len);
	free(f.v);
	if (f.unrecorded > 0 && !ctl->quiet)
		warnx("%s: %" PRIu64 " waits not recorded (a client had all "
		    "%u of its wait records in use)", tf->shown, f.unrecorded,
		    WAPI_WAIT_RECORDS);
	if (f.changing > 0 && !ctl->quiet)
		warnx("%s: %zu wait records kept changing while read; run "
		    "'wapictl waits' again", tf->shown, f.changing);
	return f.cycles > 0 ? WAPICTL_EXIT_FINDINGS : 0;
}

static int
cmd_waits_exec(struct wapictl *ctl, struct cmd_args *args)
{
	struct out_spec spec, cspec;
	struct libscols_table *tb, *ctb;
	struct target_list list;
	struct target_file tf;
	char *text = NULL;
	size_t i, tlen = 0;
	int r, rc = 0;

	out_spec_init(&spec, ctl, cmd_waits_cols, NCOLS, cmd_waits_defaults,
	    nitems(cmd_waits_defaults));
	if (out_spec_options(&spec, ctl, args, COL_HOST) < 0)
		return WAPICTL_EXIT_USAGE;
	out_spec_init(&cspec, ctl, cmd_waits_ccols, nitems(cmd_waits_ccols),
	    cmd_waits_cdefaults, nitems(cmd_waits_cdefaults));
	if (target_dir_open(ctl, true) < 0 || target_collect(ctl,
	    TARGET_STATE | TARGET_THIS_ABI, &list) < 0)
		return WAPICTL_EXIT_ACCESS;
	tb = out_table_new("waits", &spec, args);
	ctb = out_table_new("chains", &cspec, args);
	cmd_waits_text = open_memstream(&text, &tlen);
	if (cmd_waits_text == NULL)
		err(WAPICTL_EXIT_ACCESS, "open_memstream");
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		if (tf.de.parsed.kind != WCORE_NAME_STATE)
			continue;
		r = cmd_waits_file(ctl, &tf, tb, &spec, ctb, &cspec);
		rc = MAX(rc, r);
	}
	fclose(cmd_waits_text);
	if (ctl->quiet) {
		out_discard(tb);
		out_discard(ctb);
	} else if (spec.json)
		out_print_json_pair(tb, ctb);
	else {
		out_print(tb);
		out_discard(ctb);
		fputs(text, stdout);
	}
	free(text);
	target_free(&list);
	return rc;
}
