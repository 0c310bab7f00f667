/*
 * wapictl validate: the core's full validation of state files, every
 * problem with its location.  The tables are checked on a private copy
 * read with pread, never on a mapping, so that a file truncated under us
 * is "changed while being read", not a SIGBUS.  A file some process holds
 * is copied under its table lock (briefly: the bound is
 * CMD_VALIDATE_LOCK_MS) so that a change in progress is not taken for
 * corruption; a file nobody holds is only read, never locked or written.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapictl.h"

#define CMD_VALIDATE_LOCK_MS	2000
#define CMD_VALIDATE_SHOWN	5	/* problems shown per file without -v */
#define CMD_VALIDATE_LIMIT	100000	/* problems collected per file */

enum {
	COL_PATH, COL_RESULT, COL_PROBLEMS, COL_WHERE, COL_INDEX, COL_OFFSET,
	COL_PROBLEM
};

static const struct out_column cmd_validate_cols[] = {
	[COL_PATH] = { "PATH", 0.3, 0, SCOLS_JSON_STRING, "the file" },
	[COL_RESULT] = { "RESULT", 8, 0, SCOLS_JSON_STRING,
	    "ok, corrupt, incompatible, busy, unreadable, legacy" },
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

static int	cmd_validate_exec(struct wapictl *, struct cmd_args *);
static int	cmd_validate_files(struct cmd_validate_ctx *, int, char **);
static int	cmd_validate_dir(struct cmd_validate_ctx *,
		    const struct target_list *);
static bool	cmd_validate_mono(struct cmd_validate_ctx *, const char *,
		    const char *);
static int	cmd_validate_fd(struct cmd_validate_ctx *, int, bool,
		    const char *, const char *);
static int	cmd_validate_run(struct cmd_validate_ctx *, int, bool,
		    const char *, struct wcore_report *, bool *);
static void	*cmd_validate_copy(int, size_t, int *);
static void	*cmd_validate_copy_locked(int, size_t, const char *, int *);
static void	cmd_validate_lock_failed(const void *, int, const char *,
		    int *);
static void	cmd_validate_copy_failed(int, const char *, int *);
static void	cmd_validate_sigbus(int);
static void	cmd_validate_print(struct cmd_validate_ctx *, const char *,
		    const char *, const char *, const struct wcore_report *);

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

/* One result: text lines, or JSON rows. */
static void
cmd_validate_print(struct cmd_validate_ctx *c, const char *path,
    const char *shown, const char *result, const struct wcore_report *r)
{
	struct libscols_line *ln;
	const struct wcore_problem *p;
	char buf[512];
	size_t i, n;
	bool ok = strcmp(result, "ok") == 0;

	n = (c->verbose || r == NULL) ? (r ? r->count : 0) :
	    (r->count < CMD_VALIDATE_SHOWN ? r->count : CMD_VALIDATE_SHOWN);
	if (c->ctl->json) {
		for (i = 0; i == 0 || i < n; i++) {
			ln = out_line_new(c->tb);
			out_cell(ln, &c->spec, COL_PATH, "%s", path);
			out_cell(ln, &c->spec, COL_RESULT, "%s", result);
			out_cell(ln, &c->spec, COL_PROBLEMS, "%zu",
			    r ? r->count : 0);
			if (i >= n)
				break;
			p = &r->problems[i];
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
		if (!c->ctl->quiet)
			printf("%s: ok\n", shown);
		return;
	}
	if (r == NULL)
		return;
	printf("%s: %s: %zu%s problem%s\n", shown, result, r->count,
	    r->limit && r->count >= r->limit ? "+" : "",
	    r->count == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		wcore_problem_format(&r->problems[i], buf, sizeof(buf));
		printf("  %s\n", buf);
	}
	if (n < r->count)
		printf("  ... and %zu more (all of them with -v)\n",
		    r->count - n);
}

/*
 * A private copy of the first len bytes of the file fd: anonymous memory,
 * where a hole of the (sparse) file costs nothing, into which the file's
 * data is read with pread.  A mapping of the file itself would die of
 * SIGBUS when another process truncates it under us (a client
 * re-initialising it, or any program that ignores the lock bytes); pread
 * merely comes short.  The copy, or NULL with -errno in *err: -ESTALE when
 * the file shrank meanwhile.
 */
static void *
cmd_validate_copy(int fd, size_t len, int *err)
{
	unsigned char *p;
	off_t data, hole;
	ssize_t n;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
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
	munmap(p, len);
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
 * that a change in progress is not taken for corruption.  The copy, or
 * NULL with an exit status in *rc (said).
 */
static void *
cmd_validate_copy_locked(int fd, size_t len, const char *shown, int *rc)
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
	if (e != 0) {
		cmd_validate_armed = 0;
		warnx("%s: %s", shown, why);
		*rc = e == EINVAL ? WAPICTL_EXIT_FINDINGS : WAPICTL_EXIT_ACCESS;
		e = 0;
		goto out;
	}
	e = wcore_table_lock(map, CMD_VALIDATE_LOCK_MS, NULL);
	if (e == 0) {
		if (mlen == len)
			copy = cmd_validate_copy(fd, len, &e);
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
		munmap(copy, len);
	if (e < 0)
		cmd_validate_copy_failed(e, shown, rc);
	return e < 0 ? NULL : copy;
}

/* Why the table lock of a live file was not had: said; *rc the status. */
static void
cmd_validate_lock_failed(const void *map, int e, const char *shown, int *rc)
{
	if (e == ETIMEDOUT || e == EBUSY) {
		warnx("%s: table lock held by pid %" PRId32 " for more than "
		    "%d ms; try again later", shown,
		    ((const struct wapi_header *)map)->lock_holder_pid,
		    CMD_VALIDATE_LOCK_MS);
		*rc = WAPICTL_EXIT_BUSY;
		return;
	}
	warnx("%s: table lock: %s", shown, strerror(e));
	*rc = e == ENOTRECOVERABLE ? WAPICTL_EXIT_FINDINGS :
	    WAPICTL_EXIT_ACCESS;
}

/* Why no copy could be made (-errno): said; *rc the status. */
static void
cmd_validate_copy_failed(int e, const char *shown, int *rc)
{
	if (e == -ESTALE) {
		warnx("%s: changed while being read (truncated or "
		    "re-initialised by another process); not checked, run "
		    "'wapictl validate' again", shown);
		*rc = WAPICTL_EXIT_BUSY;
		return;
	}
	warnx("%s: cannot read: %s", shown, strerror(-e));
	*rc = WAPICTL_EXIT_ACCESS;
}

/*
 * Check one open file into r.  live: someone holds a lock byte, so the
 * copy is taken under the table lock.  The tables are always checked on a
 * private copy, never on a mapping of the file.  0, or an exit status.
 */
static int
cmd_validate_run(struct cmd_validate_ctx *c, int fd, bool live,
    const char *shown, struct wcore_report *r, bool *checked)
{
	struct stat sb, sb2;
	uint8_t hbuf[WAPI_HEADER_SIZE];
	ssize_t got;
	size_t len;
	void *copy;
	int e, rc = 0;

	*checked = false;
	if (fstat(fd, &sb) != 0) {
		warn("%s", shown);
		return WAPICTL_EXIT_ACCESS;
	}
	memset(hbuf, 0, sizeof(hbuf));
	got = pread(fd, hbuf, sizeof(hbuf), 0);
	if (got < 0) {
		warn("%s: read", shown);
		return WAPICTL_EXIT_ACCESS;
	}
	/* The header first: the rest of a file with a bad one is not read. */
	if (wcore_check_header(hbuf, (size_t)got, (uint64_t)sb.st_size, r) > 0)
		return 0;
	len = (size_t)sb.st_size;	/* fits: the header check said so */
	if (live)
		copy = cmd_validate_copy_locked(fd, len, shown, &rc);
	else if ((copy = cmd_validate_copy(fd, len, &e)) == NULL)
		cmd_validate_copy_failed(e, shown, &rc);
	if (copy == NULL)
		return rc;
	/* Nobody writes an unheld file: a new size or ctime is a change. */
	if (fstat(fd, &sb2) != 0 || sb2.st_size != sb.st_size || (!live &&
	    (sb2.st_ctim.tv_sec != sb.st_ctim.tv_sec ||
	    sb2.st_ctim.tv_nsec != sb.st_ctim.tv_nsec))) {
		munmap(copy, len);
		cmd_validate_copy_failed(-ESTALE, shown, &rc);
		return rc;
	}
	wcore_validate(copy, len, r);
	munmap(copy, len);
	*checked = true;
	return 0;
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
	if (c->ctl->json)
		cmd_validate_print(c, path, shown, "legacy", NULL);
	else if (!c->ctl->quiet)
		printf("%s: legacy: a file of Mono %s (V%lu, %s names), not a "
		    "wapi state file: not validated; 'wapictl status' says "
		    "whether it is in use%s\n", shown,
		    wcore_mono_release(n.version), n.version,
		    wcore_mono_eras[n.era].id, wcore_mono_v12_recsize(&n) ?
		    ", 'wapictl handles' lists its records" : "");
	return true;
}

static int
cmd_validate_fd(struct cmd_validate_ctx *c, int fd, bool writable,
    const char *path, const char *shown)
{
	struct wcore_report r;
	struct wcore_status st;
	bool live, checked;
	int e, rc, tries;

	memset(&r, 0, sizeof(r));
	for (tries = 0; tries < 2; tries++) {
		memset(&st, 0, sizeof(st));
		if ((e = wcore_verdict(fd, c->ctl->host, &st)) != 0) {
			warnx("%s: cannot read: %s", shown, strerror(e));
			return WAPICTL_EXIT_ACCESS;
		}
		live = st.helper_byte_held || st.init_byte_held ||
		    st.clients_live > 0 || st.verdict == WCORE_LIVE;
		if (live && !writable) {
			warnx("%s: in use and not writable by us: cannot take "
			    "its table lock", shown);
			return WAPICTL_EXIT_ACCESS;
		}
		wcore_report_free(&r);
		memset(&r, 0, sizeof(r));
		r.limit = c->verbose ? 0 : CMD_VALIDATE_LIMIT;
		if ((rc = cmd_validate_run(c, fd, live, shown, &r, &checked))
		    != 0) {
			if (c->ctl->json)
				cmd_validate_print(c, path, shown,
				    rc == WAPICTL_EXIT_BUSY ? "busy" :
				    "unreadable", NULL);
			wcore_report_free(&r);
			return rc;
		}
		/* Checked unlocked while someone attached: check again. */
		if (live || r.count == 0 || !checked)
			break;
		memset(&st, 0, sizeof(st));
		if (wcore_verdict(fd, c->ctl->host, &st) != 0 ||
		    !(st.helper_byte_held || st.init_byte_held ||
		    st.clients_live > 0))
			break;
	}
	if (r.count == 0) {
		cmd_validate_print(c, path, shown, "ok", &r);
		rc = 0;
	} else {
		cmd_validate_print(c, path, shown,
		    r.incompatible ? "incompatible" : "corrupt", &r);
		rc = WAPICTL_EXIT_FINDINGS;
	}
	wcore_report_free(&r);
	return rc;
}

/* The FILEs named on the command line.  Returns the worst exit status. */
static int
cmd_validate_files(struct cmd_validate_ctx *c, int argc, char **argv)
{
	char why[512], ewhy[2048], shown[PATH_MAX];
	bool writable;
	int i, fd, r, rc = 0;

	for (i = 0; i < argc; i++) {
		target_shown(argv[i], shown, sizeof(shown));
		if (cmd_validate_mono(c, argv[i], shown))
			continue;
		writable = true;
		fd = target_open_path(argv[i], &writable, why, sizeof(why));
		if (fd < 0) {
			out_escape(why, ewhy, sizeof(ewhy));
			warnx("%s: %s", shown, ewhy);
			if (c->ctl->json)
				cmd_validate_print(c, argv[i], shown,
				    "unreadable", NULL);
			rc = WAPICTL_EXIT_ACCESS;
			continue;
		}
		r = cmd_validate_fd(c, fd, writable, argv[i], shown);
		rc = MAX(rc, r);
		close(fd);
	}
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
	for (i = 0; i < list->n; i++) {
		target_get(ctl, list, i, &tf);
		writable = true;
		fd = target_open_state(ctl->dirfd, tf.de.name, &writable, why,
		    sizeof(why));
		if (fd == -ENOENT)
			continue;	/* removed since the listing */
		if (fd < 0) {
			out_escape(why, ewhy, sizeof(ewhy));
			warnx("%s: %s; check it with ls -l, remove it by hand "
			    "if it is not yours", tf.shown, ewhy);
			if (ctl->json)
				cmd_validate_print(c, tf.path, tf.shown,
				    "unreadable", NULL);
			rc = WAPICTL_EXIT_ACCESS;
			continue;
		}
		r = cmd_validate_fd(c, fd, writable, tf.path, tf.shown);
		rc = MAX(rc, r);
		close(fd);
	}
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
