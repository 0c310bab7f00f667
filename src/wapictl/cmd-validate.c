/*
 * wapictl validate: the core's full validation of state files, every
 * problem with its location.  The tables are checked on a private copy
 * read with pread, never on a mapping, so that a file truncated under us
 * is "changed while being read", not a SIGBUS.  A file some process holds
 * is copied under its table lock (briefly: the bound is
 * CMD_VALIDATE_LOCK_MS) so that a change in progress is not taken for
 * corruption; a file nobody holds is only read, never locked or written.
 *
 * An anchor (wapi-state(5), "Anchor and segment") is checked as a pair:
 * its header (problems located in the anchor), then the segment it names,
 * opened by the core's rules (wcore_seg_open) and checked like a whole
 * file (problems located in the segment, which has a row of its own), the
 * table lock being the segment's; an anchor whose segment cannot be had
 * is one finding of the pair.  A segment named on the command line is
 * checked alone, saying which anchor it names.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapictl.h"

#define CMD_VALIDATE_LOCK_MS	2000
#define CMD_VALIDATE_SHOWN	5	/* problems shown per file without -v */
#define CMD_VALIDATE_LIMIT	100000	/* problems collected per file */
#define CMD_VALIDATE_TICK_MS	250	/* progress: ms between draws */

enum {
	COL_PATH, COL_RESULT, COL_PROBLEMS, COL_WHERE, COL_INDEX, COL_OFFSET,
	COL_PROBLEM
};

static const struct out_column cmd_validate_cols[] = {
	[COL_PATH] = { "PATH", 0.3, 0, SCOLS_JSON_STRING,
	    "the file (an anchor's segment has a row of its own)" },
	[COL_RESULT] = { "RESULT", 8, 0, SCOLS_JSON_STRING,
	    "ok, corrupt, incompatible, incomplete, busy, unreadable, legacy" },
	[COL_PROBLEMS] = { "PROBLEMS", 4, 0, SCOLS_JSON_NUMBER,
	    "number of problems found in the file" },
	[COL_WHERE] = { "WHERE", 8, 0, SCOLS_JSON_STRING,
	    "region of the problem" },
	[COL_INDEX] = { "INDEX", 4, 0, SCOLS_JSON_NUMBER,
	    "entry index in the region" },
	[COL_OFFSET] = { "OFFSET", 6, 0, SCOLS_JSON_NUMBER,
	    "byte offset in the file" },
	[COL_PROBLEM] = { "PROBLEM", 0.4, 0, SCOLS_JSON_STRING, "what is wrong" },
};
#define NCOLS nitems(cmd_validate_cols)

struct cmd_validate_ctx {
	struct wapictl		*ctl;
	bool			 verbose;
	struct libscols_table	*tb;		/* -J */
	struct out_spec		 spec;
};

/* A finding of a pair rather than of bytes of one file (an anchor whose
 * segment cannot be had): located in the anchor, its words not bounded by
 * struct wcore_problem's. */
struct cmd_validate_finding {
	enum wcore_where	 where;
	uint64_t		 offset;
	char			 what[1024];
};

/* The extents of a copy that hold the file's data (the rest, the file's
 * holes, reads as zeros): what wcore_validate_sparse need not read. */
struct cmd_validate_data {
	struct wcore_extent	*v;
	size_t			 n, cap;
};

/* How an anchor's shown name and its segment's are put together. */
#define CMD_VALIDATE_SHOWN_MAX	(2 * PATH_MAX + 32)

static int	cmd_validate_exec(struct wapictl *, struct cmd_args *);
static int	cmd_validate_files(struct cmd_validate_ctx *, int, char **);
static int	cmd_validate_dir(struct cmd_validate_ctx *,
		    const struct target_list *);
static bool	cmd_validate_mono(struct cmd_validate_ctx *, const char *,
		    const char *);
static int	cmd_validate_fd(struct cmd_validate_ctx *, int, bool,
		    const char *, const char *);
static int	cmd_validate_pair(struct cmd_validate_ctx *, int,
		    const struct wapi_header *, const char *, const char *);
static int	cmd_validate_tables(struct cmd_validate_ctx *, int, int, bool,
		    const char *, const char *);
static int	cmd_validate_run(struct cmd_validate_ctx *, int, int, bool,
		    const char *, struct wcore_report *, bool *);
static int	cmd_validate_header(int, struct wapi_header *);
static bool	cmd_validate_held(const struct wcore_status *, int);
static void	cmd_validate_holders(const struct wcore_status *, char *,
		    size_t);
static size_t	cmd_validate_seg_header(const struct wapi_header *,
		    struct wcore_report *);
static void	cmd_validate_seg_shown(const char *, const char *, char *,
		    size_t);
static void	*cmd_validate_copy(int, size_t, struct cmd_validate_data *,
		    int *);
static void	 cmd_validate_copy_free(void *, size_t,
		    const struct cmd_validate_data *);
static int	 cmd_validate_extent(struct cmd_validate_data *, off_t,
		    off_t);
static void	*cmd_validate_copy_locked(int, size_t,
		    struct cmd_validate_data *, const char *, int *);
static void	cmd_validate_lock_failed(const void *, int, const char *,
		    int *);
static void	cmd_validate_copy_failed(int, const char *, int *);
static void	cmd_validate_sigbus(int);
static void	cmd_validate_print(struct cmd_validate_ctx *, const char *,
		    const char *, const char *, const struct wcore_report *,
		    const struct cmd_validate_finding *, const char *);

static void	cmd_validate_progress_start(const struct wapictl *, size_t);
static void	cmd_validate_progress(size_t);
static void	cmd_validate_progress_clear(void);
static void	pwarnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	pwarn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static const struct cmd_option cmd_validate_options[] = {
	{ "verbose", no_argument, 'v', NULL,
	    "every problem (default: the first 5 per file)" },
	CMD_OPTION_END
};

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.help = "Deep check of state files (default: the host's files in the "
	    "directory);\nevery problem with its location.",
	.options = cmd_validate_options,
	.args = { .usage = "[FILE...]", .lower = 0, .upper = -1 },
	.exec = cmd_validate_exec,
};

/*
 * Progress of a validate over more than one file, on stderr when it is a
 * terminal and neither -J nor -q is given: "validating 1200/3000
 * files...", drawn when the first file starts, then rewritten in place
 * (\r) at most every CMD_VALIDATE_TICK_MS, and erased before anything
 * else is said (pwarnx, pwarn, the result lines) and at the end.  One
 * command runs at a time: its state is the file's.
 */
static struct {
	bool		on;
	size_t		total;
	struct timespec	next;		/* not drawn again before */
	int		width;		/* of the line shown (0: none) */
} cmd_validate_prog;

static void
cmd_validate_progress_start(const struct wapictl *ctl, size_t total)
{
	cmd_validate_prog.on = total > 1 && !ctl->json && !ctl->quiet &&
	    isatty(STDERR_FILENO);
	cmd_validate_prog.total = total;
	cmd_validate_prog.next.tv_sec = 0;
	cmd_validate_prog.next.tv_nsec = 0;
	cmd_validate_prog.width = 0;
}

/* done files of the total are behind us: redraw when it is time. */
static void
cmd_validate_progress(size_t done)
{
	struct timespec now;
	int n;

	if (!cmd_validate_prog.on ||
	    clock_gettime(CLOCK_MONOTONIC, &now) != 0 ||
	    now.tv_sec < cmd_validate_prog.next.tv_sec ||
	    (now.tv_sec == cmd_validate_prog.next.tv_sec &&
	    now.tv_nsec < cmd_validate_prog.next.tv_nsec))
		return;
	now.tv_nsec += CMD_VALIDATE_TICK_MS * 1000000L;
	if (now.tv_nsec >= 1000000000L) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000L;
	}
	cmd_validate_prog.next = now;
	fflush(stdout);		/* what was said comes first */
	n = fprintf(stderr, "\rvalidating %zu/%zu files...", done,
	    cmd_validate_prog.total);
	if (n > 1 && n - 1 > cmd_validate_prog.width)
		cmd_validate_prog.width = n - 1;
}

/* Erase the progress line, if one is shown. */
static void
cmd_validate_progress_clear(void)
{
	if (cmd_validate_prog.width == 0)
		return;
	fprintf(stderr, "\r%*s\r", cmd_validate_prog.width, "");
	cmd_validate_prog.width = 0;
}

/* warnx and warn, after the progress line is erased. */
static void
pwarnx(const char *fmt, ...)
{
	va_list ap;

	cmd_validate_progress_clear();
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

static void
pwarn(const char *fmt, ...)
{
	va_list ap;

	cmd_validate_progress_clear();
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

/*
 * One result: text lines, or JSON rows.  r (may be NULL) holds the file's
 * problems, f (may be NULL) a finding of the pair, shown before them;
 * note (may be NULL) is said after an "ok".
 */
static void
cmd_validate_print(struct cmd_validate_ctx *c, const char *path,
    const char *shown, const char *result, const struct wcore_report *r,
    const struct cmd_validate_finding *f, const char *note)
{
	struct libscols_line *ln;
	const struct wcore_problem *p;
	char buf[512], esc[2048];
	size_t i, n, total, extra = f != NULL ? 1 : 0;
	bool ok = strcmp(result, "ok") == 0;

	cmd_validate_progress_clear();
	total = (r != NULL ? r->count : 0) + extra;
	n = (c->verbose || r == NULL) ? total :
	    (total < CMD_VALIDATE_SHOWN ? total : CMD_VALIDATE_SHOWN);
	if (c->ctl->json) {
		for (i = 0; i == 0 || i < n; i++) {
			ln = out_line_new(c->tb);
			out_cell(ln, &c->spec, COL_PATH, "%s", path);
			out_cell(ln, &c->spec, COL_RESULT, "%s", result);
			out_cell(ln, &c->spec, COL_PROBLEMS, "%zu", total);
			if (i >= n)
				break;
			if (i < extra) {
				out_cell(ln, &c->spec, COL_WHERE, "%s",
				    wcore_where_name(f->where));
				out_cell(ln, &c->spec, COL_OFFSET, "%" PRIu64,
				    f->offset);
				out_cell(ln, &c->spec, COL_PROBLEM, "%s",
				    f->what);
				continue;
			}
			p = &r->problems[i - extra];
			out_cell(ln, &c->spec, COL_WHERE, "%s",
			    wcore_where_name(p->where));
			if (p->index >= 0)
				out_cell(ln, &c->spec, COL_INDEX, "%" PRId64,
				    p->index);
			out_cell(ln, &c->spec, COL_OFFSET, "%" PRIu64,
			    p->offset);
			out_cell(ln, &c->spec, COL_PROBLEM, "%s", p->what);
		}
		return;
	}
	if (ok) {
		if (c->ctl->quiet)
			return;
		if (note != NULL) {
			out_escape(note, esc, sizeof(esc));
			printf("%s: ok (%s)\n", shown, esc);
		} else
			printf("%s: ok\n", shown);
		return;
	}
	if (total == 0)
		return;
	printf("%s: %s: %zu%s problem%s\n", shown, result, total,
	    r != NULL && r->limit && r->count >= r->limit ? "+" : "",
	    total == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		if (i < extra) {
			out_escape(f->what, esc, sizeof(esc));
			printf("  %s @%" PRIu64 ": %s\n",
			    wcore_where_name(f->where), f->offset, esc);
			continue;
		}
		/* Its words may quote bytes of the file (a host name). */
		wcore_problem_format(&r->problems[i - extra], buf, sizeof(buf));
		out_escape(buf, esc, sizeof(esc));
		printf("  %s\n", esc);
	}
	if (n < total)
		printf("  ... and %zu more (all of them with -v)\n", total - n);
}

/* Add [from, to) to the extents of data d: 0, or -ENOMEM. */
static int
cmd_validate_extent(struct cmd_validate_data *d, off_t from, off_t to)
{
	struct wcore_extent *v;
	size_t cap;

	if (d->n == d->cap) {
		cap = d->cap == 0 ? 16 : d->cap * 2;
		if ((v = reallocarray(d->v, cap, sizeof(*v))) == NULL)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n].off = (uint64_t)from;
	d->v[d->n].len = (uint64_t)(to - from);
	d->n++;
	return 0;
}

/*
 * The anonymous memory of the copies, kept from one file to the next: a
 * mapping made and unmapped for each file costs a flush of the TLBs of
 * every CPU this process ran on, more than checking a little-used file.
 * Between two copies it is all zeros (cmd_validate_copy_free).
 */
#define CMD_VALIDATE_KEEP	(1u << 20)	/* data zeroed for reuse, max */
static struct {
	unsigned char	*p;
	size_t		 len;
} cmd_validate_area;

/* Done with the copy p of len bytes, whose data extents are d. */
static void
cmd_validate_copy_free(void *p, size_t len, const struct cmd_validate_data *d)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < d->n; i++)
		total += d->v[i].len;
	if (p != cmd_validate_area.p || total > CMD_VALIDATE_KEEP) {
		munmap(p, p == cmd_validate_area.p ? cmd_validate_area.len :
		    len);
		if (p == cmd_validate_area.p)
			cmd_validate_area.p = NULL;
		return;
	}
	for (i = 0; i < d->n; i++)
		memset(cmd_validate_area.p + d->v[i].off, 0,
		    (size_t)d->v[i].len);
}

/*
 * A private copy of the first len bytes of the file fd: anonymous memory,
 * where a hole of the (sparse) file costs nothing, into which the file's
 * data is read with pread.  A mapping of the file itself would die of
 * SIGBUS when another process truncates it under us (a client
 * re-initialising it, or any program that ignores the lock bytes); pread
 * merely comes short.  The extents read go to *d (emptied first): the
 * rest of the copy is zeros that nobody wrote, which the validation need
 * not read.  The copy (freed with cmd_validate_copy_free), or NULL with
 * -errno in *err: -ESTALE when the file shrank meanwhile.
 */
static void *
cmd_validate_copy(int fd, size_t len, struct cmd_validate_data *d, int *err)
{
	unsigned char *p;
	off_t data, hole;
	ssize_t n;

	d->n = 0;
	if (cmd_validate_area.p != NULL && cmd_validate_area.len < len) {
		munmap(cmd_validate_area.p, cmd_validate_area.len);
		cmd_validate_area.p = NULL;
	}
	if (cmd_validate_area.p == NULL) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
		    MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			*err = -errno;
			return NULL;
		}
		cmd_validate_area.p = p;
		cmd_validate_area.len = len;
	}
	p = cmd_validate_area.p;
	for (data = 0; (uint64_t)data < len; data = hole) {
		/* Only the data: SEEK_DATA skips holes, which read as 0. */
		if ((data = lseek(fd, data, SEEK_DATA)) == -1) {
			if (errno == ENXIO)	/* no data after: holes */
				break;
			*err = -errno;
			goto fail;
		}
		if ((hole = lseek(fd, data, SEEK_HOLE)) == -1 ||
		    (uint64_t)hole > len)
			hole = (off_t)len;
		if ((*err = cmd_validate_extent(d, data, hole)) != 0)
			goto fail;
		while (data < hole) {
			n = pread(fd, p + data, (size_t)(hole - data), data);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0) {
				*err = n == 0 ? -ESTALE : -errno;
				goto fail;
			}
			data += n;
		}
	}
	return p;
fail:
	cmd_validate_copy_free(p, len, d);
	return NULL;
}

/*
 * SIGBUS while the table lock of a mapped live file is taken or released:
 * only a program that ignores the lock bytes truncates a held file, but it
 * must not kill us.  Armed around those calls alone, on this thread; the
 * tables are checked on a copy (cmd_validate_copy).
 */
static sigjmp_buf		cmd_validate_jmp;
static volatile sig_atomic_t	cmd_validate_armed;

static void
cmd_validate_sigbus(int sig)
{
	if (cmd_validate_armed)
		siglongjmp(cmd_validate_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * The copy of a file some process holds, made under its table lock so
 * that a change in progress is not taken for corruption.  fd is the file
 * that holds the tables and the lock, a whole file or a segment: mapped
 * itself (a segment's header names no other file), so that the lock taken
 * is the one in the very file that is copied.  The copy, or NULL with an
 * exit status in *rc (said).
 */
static void *
cmd_validate_copy_locked(int fd, size_t len, struct cmd_validate_data *d,
    const char *shown, int *rc)
{
	struct sigaction sa, old;
	void *volatile map = NULL, *volatile copy = NULL;
	volatile size_t mlen = 0;
	void *m;
	size_t ml;
	char why[512];
	int e = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_validate_sigbus;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(cmd_validate_jmp, 1) != 0) {
		cmd_validate_armed = 0;
		e = -ESTALE;
		goto out;
	}
	cmd_validate_armed = 1;
	e = wcore_map(fd, true, &m, &ml, why, sizeof(why));
	map = m;
	mlen = ml;
	if (e == 0 && ((const struct wapi_header *)map)->placement ==
	    WAPI_PLACE_ANCHOR) {
		/* Never: an anchor is checked through its segment's fd. */
		munmap(map, mlen);
		map = NULL;
		e = EINVAL;
		snprintf(why, sizeof(why), "an anchor mapped as tables");
	}
	if (e != 0) {
		cmd_validate_armed = 0;
		pwarnx("%s: %s", shown, why);
		*rc = e == EINVAL ? WAPICTL_EXIT_FINDINGS : WAPICTL_EXIT_ACCESS;
		e = 0;
		goto out;
	}
	e = wcore_table_lock(map, CMD_VALIDATE_LOCK_MS, NULL);
	if (e == 0) {
		if (mlen == len)
			copy = cmd_validate_copy(fd, len, d, &e);
		else
			e = -ESTALE;
		wcore_table_unlock(map);
	}
	cmd_validate_armed = 0;
	if (e > 0)
		cmd_validate_lock_failed(map, e, shown, rc);
out:
	sigaction(SIGBUS, &old, NULL);
	if (map != NULL)
		munmap(map, mlen);
	if (e < 0 && copy != NULL)
		cmd_validate_copy_free(copy, len, d);
	if (e < 0)
		cmd_validate_copy_failed(e, shown, rc);
	return e < 0 ? NULL : copy;
}

/* Why the table lock of a live file was not had: said; *rc the status. */
static void
cmd_validate_lock_failed(const void *map, int e, const char *shown, int *rc)
{
	if (e == ETIMEDOUT || e == EBUSY) {
		pwarnx("%s: table lock held by pid %" PRId32 " for more than "
		    "%d ms; try again later", shown,
		    ((const struct wapi_header *)map)->lock_holder_pid,
		    CMD_VALIDATE_LOCK_MS);
		*rc = WAPICTL_EXIT_BUSY;
		return;
	}
	pwarnx("%s: table lock: %s", shown, strerror(e));
	*rc = e == ENOTRECOVERABLE ? WAPICTL_EXIT_FINDINGS :
	    WAPICTL_EXIT_ACCESS;
}

/* Why no copy could be made (-errno): said; *rc the status. */
static void
cmd_validate_copy_failed(int e, const char *shown, int *rc)
{
	if (e == -ESTALE) {
		pwarnx("%s: changed while being read (truncated or "
		    "re-initialised by another process); not checked, run "
		    "'wapictl validate' again", shown);
		*rc = WAPICTL_EXIT_BUSY;
		return;
	}
	pwarnx("%s: cannot read: %s", shown, strerror(-e));
	*rc = WAPICTL_EXIT_ACCESS;
}

/* Whether the same file (size and change time) is still there. */
static bool
cmd_validate_same(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Check one open file into r: fd holds the tables (a whole file or a
 * segment); afd is its anchor (-1 for none), which must not change while
 * an unheld pair is read.  live: someone holds the state, so the copy is
 * taken under the table lock.  The tables are always checked on a private
 * copy, never on a mapping of the file.  0, or an exit status.
 */
static int
cmd_validate_run(struct cmd_validate_ctx *c, int fd, int afd, bool live,
    const char *shown, struct wcore_report *r, bool *checked)
{
	struct stat sb, sb2, ab, ab2;
	struct cmd_validate_data d = { 0 };
	uint8_t hbuf[WAPI_HEADER_SIZE];
	ssize_t got;
	size_t len;
	void *copy;
	int e, rc = 0;

	(void)c;
	*checked = false;
	if (fstat(fd, &sb) != 0 || (afd >= 0 && fstat(afd, &ab) != 0)) {
		pwarn("%s", shown);
		return WAPICTL_EXIT_ACCESS;
	}
	memset(hbuf, 0, sizeof(hbuf));
	got = pread(fd, hbuf, sizeof(hbuf), 0);
	if (got < 0) {
		pwarn("%s: read", shown);
		return WAPICTL_EXIT_ACCESS;
	}
	/* The header first: the rest of a file with a bad one is not read. */
	if (wcore_check_header(hbuf, (size_t)got, (uint64_t)sb.st_size, r) > 0)
		return 0;
	if (((const struct wapi_header *)(void *)hbuf)->placement ==
	    WAPI_PLACE_ANCHOR) {
		/* Not one when the caller looked: made an anchor since. */
		cmd_validate_copy_failed(-ESTALE, shown, &rc);
		return rc;
	}
	len = (size_t)sb.st_size;	/* fits: the header check said so */
	if (live)
		copy = cmd_validate_copy_locked(fd, len, &d, shown, &rc);
	else if ((copy = cmd_validate_copy(fd, len, &d, &e)) == NULL)
		cmd_validate_copy_failed(e, shown, &rc);
	if (copy == NULL) {
		free(d.v);
		return rc;
	}
	/* Nobody writes an unheld file: a new size or ctime is a change; an
	 * anchor re-initialised meanwhile names another segment. */
	if (fstat(fd, &sb2) != 0 || sb2.st_size != sb.st_size || (!live &&
	    (!cmd_validate_same(&sb, &sb2) || (afd >= 0 &&
	    (fstat(afd, &ab2) != 0 || !cmd_validate_same(&ab, &ab2)))))) {
		cmd_validate_copy_free(copy, len, &d);
		free(d.v);
		cmd_validate_copy_failed(-ESTALE, shown, &rc);
		return rc;
	}
	wcore_validate_sparse(copy, len, d.v, d.n, r);
	cmd_validate_copy_free(copy, len, &d);
	free(d.v);
	*checked = true;
	return 0;
}

/*
 * Whether a process holds the state: a lock byte of the file the verdict
 * is of, or (tfd >= 0) the init byte of its segment, which clients and
 * the helper hold shared while attached.
 */
static bool
cmd_validate_held(const struct wcore_status *st, int tfd)
{
	if (st->helper_byte_held || st->init_byte_held ||
	    st->clients_live > 0 || st->verdict == WCORE_LIVE || st->seg_held)
		return true;
	return tfd >= 0 && wcore_byte_held(tfd, WAPI_LOCK_INIT, F_WRLCK) == 1;
}

/*
 * The tables of one file: tfd, a whole file or a segment, whose holders
 * the verdict of vfd tells (the file itself, or the segment's anchor).
 * writable: tfd may be written (its table lock taken).  Prints the result
 * row of tfd, named path (JSON) and shown (text).  Returns an exit status.
 */
static int
cmd_validate_tables(struct cmd_validate_ctx *c, int vfd, int tfd,
    bool writable, const char *path, const char *shown)
{
	struct wcore_report r;
	struct wcore_status st;
	bool live, checked;
	int e, rc, tries, segfd = vfd != tfd ? tfd : -1;

	memset(&r, 0, sizeof(r));
	for (tries = 0; tries < 2; tries++) {
		memset(&st, 0, sizeof(st));
		if ((e = wcore_verdict(vfd, c->ctl->host, &st)) != 0) {
			pwarnx("%s: cannot read: %s", shown, strerror(e));
			if (c->ctl->json)
				cmd_validate_print(c, path, shown,
				    "unreadable", NULL, NULL, NULL);
			return WAPICTL_EXIT_ACCESS;
		}
		live = cmd_validate_held(&st, segfd);
		if (live && !writable) {
			pwarnx("%s: in use and not writable by us: cannot take "
			    "its table lock", shown);
			if (c->ctl->json)
				cmd_validate_print(c, path, shown,
				    "unreadable", NULL, NULL, NULL);
			return WAPICTL_EXIT_ACCESS;
		}
		wcore_report_free(&r);
		memset(&r, 0, sizeof(r));
		r.limit = c->verbose ? 0 : CMD_VALIDATE_LIMIT;
		if ((rc = cmd_validate_run(c, tfd, segfd >= 0 ? vfd : -1, live,
		    shown, &r, &checked)) != 0) {
			if (c->ctl->json)
				cmd_validate_print(c, path, shown,
				    rc == WAPICTL_EXIT_BUSY ? "busy" :
				    "unreadable", NULL, NULL, NULL);
			wcore_report_free(&r);
			return rc;
		}
		/* Checked unlocked while someone attached: check again. */
		if (live || r.count == 0 || !checked)
			break;
		memset(&st, 0, sizeof(st));
		if (wcore_verdict(vfd, c->ctl->host, &st) != 0 ||
		    !cmd_validate_held(&st, segfd))
			break;
	}
	if (r.count == 0) {
		cmd_validate_print(c, path, shown, "ok", &r, NULL, NULL);
		rc = 0;
	} else {
		cmd_validate_print(c, path, shown, r.incompatible ?
		    "incompatible" : "corrupt", &r, NULL, NULL);
		rc = WAPICTL_EXIT_FINDINGS;
	}
	wcore_report_free(&r);
	return rc;
}

/* The header of fd: 1 when it is sound (a copy in *h), 0 when not (the
 * checks say why later), or -errno. */
static int
cmd_validate_header(int fd, struct wapi_header *h)
{
	struct wcore_report rep = { .limit = 1 };
	struct stat sb;
	ssize_t got;
	size_t n;

	if (fstat(fd, &sb) != 0)
		return -errno;
	memset(h, 0, sizeof(*h));
	got = pread(fd, h, sizeof(*h), 0);
	if (got < 0)
		return -errno;
	n = wcore_check_header(h, (size_t)got, (uint64_t)sb.st_size, &rep);
	wcore_report_free(&rep);
	return n == 0 && !rep.incompatible;
}

/* "SEGMENT (segment of ANCHOR)" for a segment at path, shown. */
static void
cmd_validate_seg_shown(const char *path, const char *anchor, char *buf,
    size_t len)
{
	char s[PATH_MAX], a[PATH_MAX];

	target_shown(path, s, sizeof(s));
	target_shown(anchor, a, sizeof(a));
	snprintf(buf, len, "%s (segment of %s)", s, a);
}

/* Who holds a state, in words ("the helper and 2 clients"). */
static void
cmd_validate_holders(const struct wcore_status *st, char *buf, size_t len)
{
	const char *s = st->clients_live == 1 ? "" : "s";

	if (st->helper_byte_held && st->clients_live > 0)
		snprintf(buf, len, "the helper and %" PRIu32 " client%s",
		    st->clients_live, s);
	else if (st->helper_byte_held)
		snprintf(buf, len, "the helper");
	else if (st->clients_live > 0)
		snprintf(buf, len, "%" PRIu32 " client%s", st->clients_live, s);
	else
		snprintf(buf, len, "an attached process");
}

/*
 * The header of the file an anchor names, when wcore_seg_open refused it
 * as not sound: a name made for this anchor, opened by the same rules
 * (never through a link, a regular file of ours), whose header has
 * problems: they go into r, located in that file.  The problems added (0
 * when the file is not there, not openable, or its header is sound, so
 * that the refusal was for another reason).
 */
static size_t
cmd_validate_seg_header(const struct wapi_header *a, struct wcore_report *r)
{
	char dir[WAPI_PEER_MAX], host[WAPI_HOST_MAX + 1], abi[16], why[256];
	uint8_t hbuf[WAPI_HEADER_SIZE];
	const char *name, *slash;
	struct stat sb;
	uint64_t id;
	ssize_t got;
	size_t n = 0;
	uid_t uid;
	int dfd, fd;

	if (memchr(a->peer, '\0', sizeof(a->peer)) == NULL ||
	    (slash = strrchr(a->peer, '/')) == NULL || a->peer[0] != '/')
		return 0;
	name = slash + 1;
	if (!wcore_seg_name_parse(name, &uid, host, abi, &id) ||
	    uid != geteuid() || id != a->state_id ||
	    strcmp(host, a->host) != 0 || strcmp(abi, a->abi) != 0)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", slash == a->peer ? 1 :
	    (int)(slash - a->peer), a->peer);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	fd = wcore_state_open(dfd, name, false, why, sizeof(why));
	close(dfd);
	if (fd < 0)
		return 0;
	memset(hbuf, 0, sizeof(hbuf));
	if (fstat(fd, &sb) == 0 &&
	    (got = pread(fd, hbuf, sizeof(hbuf), 0)) >= 0)
		n = wcore_check_header(hbuf, (size_t)got, (uint64_t)sb.st_size,
		    r);
	close(fd);
	return n;
}

/*
 * An anchor whose header (a) is sound: the anchor's row, then its
 * segment's (the tables, checked by cmd_validate_tables under the
 * segment's table lock when the state is held), or the one finding of a
 * pair whose segment cannot be had.  Returns the worst exit status.
 */
static int
cmd_validate_pair(struct cmd_validate_ctx *c, int afd,
    const struct wapi_header *a, const char *path, const char *shown)
{
	struct cmd_validate_finding f;
	struct wcore_report r;
	struct wcore_status st;
	char why[512], held[96], note[WAPI_PEER_MAX + 200];
	char *segshown;
	bool writable = true, foreign;
	int sfd, e, rc;

	memset(&st, 0, sizeof(st));
	if ((e = wcore_verdict(afd, c->ctl->host, &st)) != 0) {
		pwarnx("%s: cannot read: %s", shown, strerror(e));
		if (c->ctl->json)
			cmd_validate_print(c, path, shown, "unreadable", NULL,
			    NULL, NULL);
		return WAPICTL_EXIT_ACCESS;
	}
	foreign = strncmp(a->host, c->ctl->host, sizeof(a->host)) != 0;
	why[0] = '\0';
	sfd = wcore_seg_open(a, true, NULL, why, sizeof(why));
	if (sfd == -EACCES || sfd == -EROFS) {
		writable = false;
		sfd = wcore_seg_open(a, false, NULL, why, sizeof(why));
	}
	if (sfd >= 0) {
		if ((segshown = malloc(CMD_VALIDATE_SHOWN_MAX)) == NULL) {
			close(sfd);
			pwarnx("%s: out of memory", shown);
			return WAPICTL_EXIT_ACCESS;
		}
		cmd_validate_seg_shown(a->peer, path, segshown,
		    CMD_VALIDATE_SHOWN_MAX);
		cmd_validate_print(c, path, shown, "ok", NULL, NULL, NULL);
		rc = cmd_validate_tables(c, afd, sfd, writable, a->peer,
		    segshown);
		free(segshown);
		close(sfd);
		return rc;
	}
	/* Another host's segment is on that host's memory file system. */
	if (foreign && sfd == -ENOENT) {
		snprintf(note, sizeof(note), "an anchor of host %s: its "
		    "tables are in %s on that host, not checked here",
		    a->host, a->peer);
		cmd_validate_print(c, path, shown, "ok", NULL, NULL, note);
		return 0;
	}
	if (sfd == -ENOMEM || sfd == -EMFILE || sfd == -ENFILE ||
	    sfd == -EIO) {
		pwarnx("%s: cannot read: %s", shown, why);
		if (c->ctl->json)
			cmd_validate_print(c, path, shown, "unreadable", NULL,
			    NULL, NULL);
		return WAPICTL_EXIT_ACCESS;
	}
	/* A file of the segment's name whose own header is not sound: its
	 * problems, located in it. */
	memset(&r, 0, sizeof(r));
	r.limit = c->verbose ? 0 : CMD_VALIDATE_LIMIT;
	if (sfd == -EINVAL && cmd_validate_seg_header(a, &r) > 0) {
		if ((segshown = malloc(CMD_VALIDATE_SHOWN_MAX)) == NULL) {
			wcore_report_free(&r);
			pwarnx("%s: out of memory", shown);
			return WAPICTL_EXIT_ACCESS;
		}
		cmd_validate_seg_shown(a->peer, path, segshown,
		    CMD_VALIDATE_SHOWN_MAX);
		cmd_validate_print(c, path, shown, "ok", NULL, NULL, NULL);
		cmd_validate_print(c, a->peer, segshown, r.incompatible ?
		    "incompatible" : "corrupt", &r, NULL, NULL);
		free(segshown);
		wcore_report_free(&r);
		return WAPICTL_EXIT_FINDINGS;
	}
	wcore_report_free(&r);
	/* The pair is incomplete: one finding, at the anchor's peer. */
	memset(&f, 0, sizeof(f));
	f.where = WCORE_W_HEADER;
	f.offset = offsetof(struct wapi_header, peer);
	cmd_validate_holders(&st, held, sizeof(held));
	if (cmd_validate_held(&st, -1) && sfd == -ENOENT)
		snprintf(f.what, sizeof(f.what), "%s, while the state is held "
		    "(by %s): they go on with it; new processes join it "
		    "through its helper while one runs, else use private "
		    "handles; it is made anew once all have left", why, held);
	else if (cmd_validate_held(&st, -1))
		snprintf(f.what, sizeof(f.what), "%s, while the state is held "
		    "(by %s): new processes cannot join it; 'wapictl status "
		    "-v' shows who holds it", why, held);
	else if (foreign)
		snprintf(f.what, sizeof(f.what), "%s, and nobody holds the "
		    "state (foreign: of host %s): 'wapictl clean --force-host "
		    "--older-than AGE' removes this file", why, a->host);
	else
		snprintf(f.what, sizeof(f.what), "%s, and nobody holds the "
		    "state (%s): %s'wapictl clean' removes this file", why,
		    wcore_verdict_name(st.verdict), sfd == -ENOENT ?
		    "nothing of its tables is left; " : "");
	cmd_validate_print(c, path, shown, "incomplete", NULL, &f, NULL);
	return WAPICTL_EXIT_FINDINGS;
}

/*
 * A file named as Mono named its files is not ours to validate: say what
 * it is and where to look instead.  True when the path is such a name.
 */
static bool
cmd_validate_mono(struct cmd_validate_ctx *c, const char *path,
    const char *shown)
{
	struct wcore_name n;
	const char *base = strrchr(path, '/');

	wcore_name_parse(base != NULL ? base + 1 : path, &n);
	if (n.kind != WCORE_NAME_LEGACY_DATA &&
	    n.kind != WCORE_NAME_LEGACY_SHARE &&
	    n.kind != WCORE_NAME_LEGACY_SCRATCH)
		return false;
	cmd_validate_progress_clear();
	if (c->ctl->json)
		cmd_validate_print(c, path, shown, "legacy", NULL, NULL,
		    NULL);
	else if (!c->ctl->quiet)
		printf("%s: legacy: a file of Mono %s (V%lu, %s names), not a "
		    "wapi state file: not validated; 'wapictl status' says "
		    "whether it is in use%s\n", shown,
		    wcore_mono_release(n.version), n.version,
		    wcore_mono_eras[n.era].id, wcore_mono_v12_recsize(&n) ?
		    ", 'wapictl handles' lists its records" : "");
	return true;
}

/*
 * Check one open file: an anchor as a pair, anything else (a whole file,
 * a segment named on the command line, a file with a bad header) alone.
 * Returns an exit status.
 */
static int
cmd_validate_fd(struct cmd_validate_ctx *c, int fd, bool writable,
    const char *path, const char *shown)
{
	struct wapi_header *h;
	char *segshown;
	int sound, rc;

	if ((h = malloc(sizeof(*h))) == NULL) {
		pwarnx("%s: out of memory", shown);
		return WAPICTL_EXIT_ACCESS;
	}
	if ((sound = cmd_validate_header(fd, h)) < 0) {
		pwarnx("%s: cannot read: %s", shown, strerror(-sound));
		free(h);
		if (c->ctl->json)
			cmd_validate_print(c, path, shown, "unreadable", NULL,
			    NULL, NULL);
		return WAPICTL_EXIT_ACCESS;
	}
	if (sound && h->placement == WAPI_PLACE_ANCHOR) {
		rc = cmd_validate_pair(c, fd, h, path, shown);
		free(h);
		return rc;
	}
	if (sound && h->placement == WAPI_PLACE_SEGMENT &&
	    (segshown = malloc(CMD_VALIDATE_SHOWN_MAX)) != NULL) {
		cmd_validate_seg_shown(path, h->peer, segshown,
		    CMD_VALIDATE_SHOWN_MAX);
		rc = cmd_validate_tables(c, fd, fd, writable, path, segshown);
		free(segshown);
		free(h);
		return rc;
	}
	free(h);
	return cmd_validate_tables(c, fd, fd, writable, path, shown);
}

/* The FILEs named on the command line.  Returns the worst exit status. */
static int
cmd_validate_files(struct cmd_validate_ctx *c, int argc, char **argv)
{
	char why[512], ewhy[2048], shown[PATH_MAX];
	bool writable;
	int i, fd, r, rc = 0;

	cmd_validate_progress_start(c->ctl, (size_t)argc);
	for (i = 0; i < argc; i++) {
		cmd_validate_progress((size_t)i);
		target_shown(argv[i], shown, sizeof(shown));
		if (cmd_validate_mono(c, argv[i], shown))
			continue;
		writable = true;
		fd = target_open_path(argv[i], &writable, why, sizeof(why));
		if (fd < 0) {
			out_escape(why, ewhy, sizeof(ewhy));
			pwarnx("%s: %s", shown, ewhy);
			if (c->ctl->json)
				cmd_validate_print(c, argv[i], shown,
				    "unreadable", NULL, NULL, NULL);
			rc = WAPICTL_EXIT_ACCESS;
			continue;
		}
		r = cmd_validate_fd(c, fd, writable, argv[i], shown);
		rc = MAX(rc, r);
		close(fd);
	}
	cmd_validate_progress_clear();
	return rc;
}

/* The host's state files in the directory.  Returns the worst exit status. */
static int
cmd_validate_dir(struct cmd_validate_ctx *c, const struct target_list *list)
{
	struct wapictl *ctl = c->ctl;
	struct target_file tf;
	char why[512], ewhy[2048], shown[PATH_MAX];
	bool writable;
	size_t i;
	int fd, r, rc = 0;

	if (list->n == 0 && !ctl->quiet && !ctl->json) {
		target_shown(ctl->dir, shown, sizeof(shown));
		printf("%s: no state file%s%s to validate\n", shown,
		    ctl->all_hosts ? "" : " for host ",
		    ctl->all_hosts ? "" : ctl->want_host);
	}
	cmd_validate_progress_start(ctl, list->n);
	for (i = 0; i < list->n; i++) {
		cmd_validate_progress(i);
		target_get(ctl, list, i, &tf);
		writable = true;
		fd = target_open_state(ctl->dirfd, tf.de.name, &writable, why,
		    sizeof(why));
		if (fd == -ENOENT)
			continue;	/* removed since the listing */
		if (fd < 0) {
			out_escape(why, ewhy, sizeof(ewhy));
			pwarnx("%s: %s; check it with ls -l, remove it by hand "
			    "if it is not yours", tf.shown, ewhy);
			if (ctl->json)
				cmd_validate_print(c, tf.path, tf.shown,
				    "unreadable", NULL, NULL, NULL);
			rc = WAPICTL_EXIT_ACCESS;
			continue;
		}
		r = cmd_validate_fd(c, fd, writable, tf.path, tf.shown);
		rc = MAX(rc, r);
		close(fd);
	}
	cmd_validate_progress_clear();
	return rc;
}

static int
cmd_validate_exec(struct wapictl *ctl, struct cmd_args *args)
{
	static const int defaults[] = { COL_PATH, COL_RESULT, COL_PROBLEMS,
	    COL_WHERE, COL_INDEX, COL_OFFSET, COL_PROBLEM };
	struct cmd_validate_ctx c;
	struct target_list list = { 0 };
	int rc;

	if (args->argc == 0 && (target_dir_open(ctl, true) < 0 ||
	    target_collect(ctl, TARGET_STATE | TARGET_THIS_ABI, &list) < 0))
		return WAPICTL_EXIT_ACCESS;
	memset(&c, 0, sizeof(c));
	c.ctl = ctl;
	c.verbose = args_has(args, 'v');
	out_spec_init(&c.spec, ctl, cmd_validate_cols, NCOLS, defaults,
	    nitems(defaults));
	if (ctl->json)
		c.tb = out_table_new("validate", &c.spec, args);

	if (args->argc > 0)
		rc = cmd_validate_files(&c, args->argc, args->argv);
	else {
		rc = cmd_validate_dir(&c, &list);
		target_free(&list);
	}
	if (c.tb != NULL && !ctl->quiet)
		out_print(c.tb);
	else if (c.tb != NULL)
		out_discard(c.tb);
	return rc;
}
