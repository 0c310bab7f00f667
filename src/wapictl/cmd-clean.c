/*
 * wapictl clean: remove what crashes left behind, and nothing else.  What
 * goes and what stays is decided by plan.c (the same decision status puts
 * into words): only files whose verdict is orphaned, stale-boot or
 * temporary (and corrupt ones no process holds) go; another host's only
 * with --force-host and a heartbeat older than --older-than; legacy Mono
 * files only when no process maps them; names wapi does not make never.
 * Every removal goes through the directory descriptor: the
 * verdict is re-checked while holding the init byte exclusively (no client
 * can attach meanwhile), and the name must still be the inode we checked
 * right before unlinkat(), so a link or a swapped file is never removed.
 * An anchor's segment goes with it when it verifies as that anchor's and
 * nobody holds it; a segment of the segment directory that no anchor
 * names goes on its own, once older than WCORE_SEG_GRACE_S, decided again
 * while holding its init byte exclusively.  Another user's never.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsmartcols.h>

#include "wapictl.h"
#include "legacy.h"

struct cmd_clean_opts {
	bool			 dry_run;
	bool			 verbose;	/* -v: -q's summary always */
	struct plan_opts	 plan;	/* --force-host, --older-than */
};

/* What became of one file. */
struct cmd_clean_result {
	const char		*verdict;
	bool			 removed;
	bool			 would_remove;	/* -n */
	bool			 finding;	/* kept, and it needs a person */
	bool			 failed;	/* could not look or remove */
	char			 why[1024];
};

enum { COL_PATH, COL_VERDICT, COL_ACTION, COL_REASON };
static const struct out_column cmd_clean_cols[] = {
	[COL_PATH] = { "PATH", 0.3, 0, SCOLS_JSON_STRING, "the file" },
	[COL_VERDICT] = { "VERDICT", 10, 0, SCOLS_JSON_STRING,
	    "its verdict" },
	[COL_ACTION] = { "ACTION", 8, 0, SCOLS_JSON_STRING,
	    "removed, kept, would-remove, would-keep" },
	[COL_REASON] = { "REASON", 0.5, 0, SCOLS_JSON_STRING, "why" },
};

/* What was done to the files, for the summary and the exit status. */
struct cmd_clean_counts {
	size_t			 removed, kept, findings;
	bool			 failed;
};

static int	cmd_clean_exec(struct wapictl *, struct cmd_args *);
static void	cmd_clean_why(struct cmd_clean_result *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	cmd_clean_cat_why(struct cmd_clean_result *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	cmd_clean_pause(void);
static bool	cmd_clean_plan(const struct plan_entry *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_unlink(const struct target_file *, dev_t, ino_t,
		    struct cmd_clean_result *);
static void	cmd_clean_state(struct wapictl *, const struct target_file *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *,
		    struct target_claims *);
static void	cmd_clean_state_remove(struct wapictl *,
		    const struct target_file *, int, const struct wcore_status *,
		    const struct stat *, struct cmd_clean_result *);
static void	cmd_clean_audit_segment(const struct target_file *,
		    const struct wapi_header *, const struct cmd_clean_result *,
		    int);
static int	cmd_clean_anchor_segment(int, const struct stat *, bool,
		    struct wapi_header *, struct cmd_clean_result *);
static void	cmd_clean_segment(struct wapictl *, const struct target_seg *,
		    const struct target_claims *, const struct cmd_clean_opts *,
		    struct cmd_clean_result *);
static void	cmd_clean_temp(struct wapictl *, const struct target_file *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_legacy(struct wapictl *, const struct target_list *,
		    size_t, const struct cmd_clean_opts *,
		    struct cmd_clean_result *, bool *);
static bool	cmd_clean_legacy_decide(struct wapictl *,
		    const struct target_list *, size_t,
		    const struct cmd_clean_opts *, struct legacy_info *,
		    struct plan *);
static void	cmd_clean_other(const struct target_file *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_legacy_sem(const struct legacy_info *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_report(const struct wapictl *,
		    struct libscols_table *, const struct out_spec *,
		    const struct target_file *, const struct cmd_clean_result *,
		    const struct cmd_clean_opts *, struct cmd_clean_counts *);
static void	cmd_clean_summary(const struct wapictl *,
		    const struct cmd_clean_opts *, const struct cmd_clean_counts *);

enum { OPT_OLDER = CMD_OPT_LONG, OPT_FORCE_HOST, OPT_NO_SYSLOG };
static const struct cmd_option cmd_clean_options[] = {
	{ "dry-run", no_argument, 'n', NULL,
	    "say what would be done and why; change nothing" },
	{ "older-than", required_argument, OPT_OLDER, "DURATION",
	    "only files inactive for longer: 90s, 30m, 12h, 7d\n"
	    "(a bare number is seconds)", CMD_ARG_DURATION },
	{ "force-host", no_argument, OPT_FORCE_HOST, NULL,
	    "also other hosts' files (needs --older-than,\n"
	    "and -A or -H HOST)" },
	{ "no-syslog", no_argument, OPT_NO_SYSLOG, NULL,
	    "do not log the removals to syslog" },
	{ "verbose", no_argument, 'v', NULL,
	    "with -q, print the summary in any case" },
	CMD_OPTION_END
};

const struct cmd_entry cmd_clean_entry = {
	.name = "clean",
	.help = "Remove orphaned state files, old creation temporaries and "
	    "unused legacy\nMono files, saying why each file is removed or "
	    "kept.",
	.options = cmd_clean_options,
	.args = { .lower = 0, .upper = 0 },
	.exec = cmd_clean_exec,
};

static void
cmd_clean_why(struct cmd_clean_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

static void
cmd_clean_cat_why(struct cmd_clean_result *res, const char *fmt, ...)
{
	size_t n = strlen(res->why);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->why + n, sizeof(res->why) - n, fmt, ap);
	va_end(ap);
}

/*
 * Test hook: with WAPICTL_TEST_PAUSE_FIFO set, wait for one line on that
 * FIFO between the last check and the removal, so that the test suite can
 * swap the file at the worst moment and see that it is not removed.
 */
static void
cmd_clean_pause(void)
{
	const char *fifo = getenv("WAPICTL_TEST_PAUSE_FIFO");
	char buf[64];
	int fd;

	if (fifo == NULL || *fifo == '\0')
		return;
	if ((fd = open(fifo, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/*
 * The plan for one entry (plan.c, the same that status words) into res:
 * its verdict, the reason, whether it may go (would_remove with -n);
 * true when it may go.
 */
static bool
cmd_clean_plan(const struct plan_entry *e, const struct cmd_clean_opts *o,
    struct cmd_clean_result *res)
{
	struct plan p;

	plan_decide(e, &o->plan, &p);
	res->verdict = plan_verdict_name(e);
	plan_words(e, &p, res->why, sizeof(res->why));
	res->finding = p.finding;
	res->failed = p.failed;
	res->would_remove = p.remove && o->dry_run;
	return p.remove;
}

/* Remove tf's name if it still is (dev, ino); res says what became of it. */
static void
cmd_clean_unlink(const struct target_file *tf, dev_t dev, ino_t ino,
    struct cmd_clean_result *res)
{
	struct stat sb;
	int e;

	cmd_clean_pause();
	if (fstatat(tf->dirfd, tf->de.name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		strlcat(res->why, ", but it disappeared before removal",
		    sizeof(res->why));
		return;
	}
	if (sb.st_dev != dev || sb.st_ino != ino) {
		cmd_clean_why(res, "replaced by another file while being "
		    "checked; not removed (run clean again to look at the "
		    "new one)");
		return;
	}
	if (unlinkat(tf->dirfd, tf->de.name, 0) != 0) {
		e = errno;
		audit_removal(tf->path, res->verdict, res->why, e);
		cmd_clean_why(res, "cannot remove: %s", strerror(e));
		res->failed = true;
		return;
	}
	audit_removal(tf->path, res->verdict, res->why, 0);
	res->removed = true;
}

/*
 * A state file: opened with the core's checks, judged, and planned
 * (plan.c); removed when the plan says so (cmd_clean_state_remove decides
 * again under its lock).  Left as it is, it names its segment (claims).
 */
static void
cmd_clean_state(struct wapictl *ctl, const struct target_file *tf,
    const struct cmd_clean_opts *o, struct cmd_clean_result *res,
    struct target_claims *claims)
{
	struct wcore_status st;
	struct plan_entry pe;
	struct wapi_header a;
	struct stat sb;
	char why[512];
	int fd, e;

	memset(&st, 0, sizeof(st));
	fd = wcore_state_open(ctl->dirfd, tf->de.name, true, why, sizeof(why));
	if (fd == -ENOENT)
		return;		/* removed since the listing: not ours to report */
	if (fd < 0) {
		st.verdict = WCORE_UNREADABLE;
		strlcpy(st.reason, why, sizeof(st.reason));
		plan_state_entry(&st, tf, &pe);
		pe.open_err = fd;
		(void)cmd_clean_plan(&pe, o, res);
		return;
	}
	if (fstat(fd, &sb) != 0)
		e = errno;
	else
		e = wcore_verdict(fd, ctl->host, &st);
	if (e != 0) {
		res->verdict = wcore_verdict_name(WCORE_UNREADABLE);
		cmd_clean_why(res, "cannot read: %s", strerror(e));
		res->failed = res->finding = true;
	} else {
		plan_state_entry(&st, tf, &pe);
		if (!cmd_clean_plan(&pe, o, res))
			target_claim_add(claims, &st);
		else if (o->dry_run) {
			if (cmd_clean_anchor_segment(fd, &sb, true, &a,
			    res) >= 0) {
				target_shown(a.peer, why, sizeof(why));
				cmd_clean_cat_why(res, "; its segment %s would be "
				    "removed too", why);
			}
		} else
			cmd_clean_state_remove(ctl, tf, fd, &st, &sb, res);
	}
	close(fd);
}

/*
 * Remove a state file that may go, deciding again while holding its init
 * byte exclusively: nobody attaches or initialises meanwhile.
 */
static void
cmd_clean_state_remove(struct wapictl *ctl, const struct target_file *tf,
    int fd, const struct wcore_status *st, const struct stat *sb,
    struct cmd_clean_result *res)
{
	struct wcore_status st2;
	struct wapi_header a;
	struct stat ss, ls;
	char shown[PATH_MAX];
	int e, segfd;

	e = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0);
	if (e != 0) {
		cmd_clean_why(res, "%s, but a process %s it meanwhile; kept",
		    wcore_verdict_name(st->verdict), e == EAGAIN ?
		    "attached to" : "could not be excluded from");
		return;
	}
	/* Our own lock is invisible through fd: anything held is theirs. */
	if (wcore_verdict(fd, ctl->host, &st2) != 0 ||
	    st2.verdict != st->verdict || st2.helper_byte_held ||
	    st2.clients_live > 0 || st2.init_byte_held) {
		cmd_clean_why(res, "changed while being checked (now %s: %s); "
		    "kept", wcore_verdict_name(st2.verdict), st2.reason);
		return;
	}
	/* Its segment, held exclusively from before the anchor goes. */
	segfd = cmd_clean_anchor_segment(fd, sb, false, &a, res);
	cmd_clean_unlink(tf, sb->st_dev, sb->st_ino, res);
	if (segfd < 0)
		return;
	target_shown(a.peer, shown, sizeof(shown));
	/* Still the segment locked, through segfd (whose own lock
	 * wcore_seg_remove does not count). */
	if (res->removed && (fstat(segfd, &ss) != 0 || lstat(a.peer,
	    &ls) != 0 || ss.st_dev != ls.st_dev || ss.st_ino != ls.st_ino))
		cmd_clean_cat_why(res, "; its segment %s was replaced "
		    "meanwhile: kept", shown);
	else if (res->removed) {
		e = wcore_seg_remove(&a, segfd);
		if (e != ENOENT)
			cmd_clean_audit_segment(tf, &a, res, e);
		if (e == 0)
			cmd_clean_cat_why(res, "; its segment %s removed too",
			    shown);
		else if (e != ENOENT) {
			cmd_clean_cat_why(res, "; but its segment %s could not "
			    "be removed: %s", shown, strerror(e));
			res->finding = true;
		}
	}
	close(segfd);
}

/* The audit line of an anchor's segment removed with it, or not (e). */
static void
cmd_clean_audit_segment(const struct target_file *tf,
    const struct wapi_header *a, const struct cmd_clean_result *res, int e)
{
	char why[sizeof(res->why) + PATH_MAX + 32];

	snprintf(why, sizeof(why), "segment of the anchor %s, removed: %s",
	    tf->path, res->why);
	audit_removal(a->peer, res->verdict, why, e);
}

/*
 * The segment of the anchor fd (held exclusively, about to be removed),
 * when it is that anchor's: wcore_seg_open checks it against the anchor's
 * header (read here into *a), and its header must name this very anchor
 * (a copy of an anchor elsewhere names the same segment: that one is not
 * ours to remove).  Its init byte is then taken exclusively, so that
 * nobody attaches to it.  The segment's descriptor (the lock lives as
 * long as it), or -1 when it stays or is not there; res->why says why it
 * stays.  dry_run: the same checks but the lock; 0 when it would go.
 */
static int
cmd_clean_anchor_segment(int fd, const struct stat *sb, bool dry_run,
    struct wapi_header *a, struct cmd_clean_result *res)
{
	struct wcore_report rep = { .limit = 1 };
	struct wapi_header sh;
	struct stat st;
	char why[512], shown[PATH_MAX];
	ssize_t n;
	int segfd, e;

	memset(a, 0, sizeof(*a));
	n = pread(fd, a, sizeof(*a), 0);
	e = n < 0 || wcore_check_header(a, (size_t)n, (uint64_t)sb->st_size,
	    &rep) > 0 || rep.incompatible || a->placement != WAPI_PLACE_ANCHOR;
	wcore_report_free(&rep);
	if (e)
		return -1;	/* a whole file, or no segment can be told */
	target_shown(a->peer, shown, sizeof(shown));
	segfd = wcore_seg_open(a, !dry_run, &sh, why, sizeof(why));
	if (segfd == -ENOENT)
		return -1;	/* the reason says it is gone */
	if (segfd < 0) {
		cmd_clean_cat_why(res, "; %s: not removed", why);
		return -1;
	}
	if (lstat(sh.peer, &st) != 0 || st.st_dev != sb->st_dev ||
	    st.st_ino != sb->st_ino) {
		cmd_clean_cat_why(res, "; its segment %s names another anchor: "
		    "kept", shown);
		close(segfd);
		return -1;
	}
	if (dry_run) {
		close(segfd);
		return 0;
	}
	if ((e = wcore_lock_byte(segfd, WAPI_LOCK_INIT, F_WRLCK, 0)) != 0) {
		cmd_clean_cat_why(res, "; its segment %s is %s: kept", shown,
		    e == EAGAIN ? "held by a process" : "cannot be locked");
		res->finding = true;
		close(segfd);
		return -1;
	}
	return segfd;
}

/*
 * A segment of the segment directory that no listed anchor names: another
 * user's is never touched; ours is opened without following a link and
 * checked as ours (wcore_state_open), judged, and removed when it may go,
 * after judging it again while holding its init byte exclusively (no
 * client attaches meanwhile), and only if its name still leads to the
 * file judged (cmd_clean_unlink).  res->verdict stays NULL when there is
 * nothing to report (gone, or named by its anchor after all).
 */
static void
cmd_clean_segment(struct wapictl *ctl, const struct target_seg *sg,
    const struct target_claims *claims, const struct cmd_clean_opts *o,
    struct cmd_clean_result *res)
{
	struct target_seg_status ss, ss2;
	struct plan_entry pe;
	int fd, e;

	if (target_claimed(claims, sg))
		return;
	fd = plan_seg_open(ctl, sg, true, &ss);
	if (fd == -ENOENT)
		return;		/* removed since the listing */
	if (fd < 0) {
		plan_seg_entry(sg, &ss, &pe);
		pe.open_err = sg->ours ? fd : 0;
		(void)cmd_clean_plan(&pe, o, res);
		return;
	}
	if (target_seg_judge(sg, fd, &ss) != 0) {
		res->verdict = wcore_verdict_name(WCORE_UNREADABLE);
		cmd_clean_why(res, "%s", ss.reason);
		res->failed = res->finding = true;
		close(fd);
		return;
	}
	if (ss.claimed) {
		close(fd);
		return;		/* its anchor, in another directory, names it */
	}
	plan_seg_entry(sg, &ss, &pe);
	if (!cmd_clean_plan(&pe, o, res) || o->dry_run)
		;
	else if ((e = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0)) != 0)
		cmd_clean_why(res, "%s, but a process %s it meanwhile; kept",
		    res->verdict, e == EAGAIN ? "attached to" :
		    "could not be excluded from");
	/* Our own lock is invisible through fd: anything held is theirs. */
	else if (target_seg_judge(sg, fd, &ss2) != 0 || ss2.claimed ||
	    ss2.held || ss2.verdict != ss.verdict || ss2.dev != ss.dev ||
	    ss2.ino != ss.ino)
		cmd_clean_why(res, "changed while being checked (now %s: %s); "
		    "kept", ss2.claimed ? "named by its anchor" :
		    wcore_verdict_name(ss2.verdict), ss2.reason);
	else
		cmd_clean_unlink(&sg->tf, ss.dev, ss.ino, res);
	close(fd);
}

/*
 * A creation temporary, planned (plan.c); one left as a second name of its
 * state file (a creator that died between link() and unlink()) loses just
 * that name; any other goes only while we hold its init byte (its creator
 * holds it while it builds the file).
 */
static void
cmd_clean_temp(struct wapictl *ctl, const struct target_file *tf,
    const struct cmd_clean_opts *o, struct cmd_clean_result *res)
{
	struct plan_entry pe;
	struct stat sb;
	char reason[768], final[NAME_MAX + 1];
	int fd;

	fd = plan_temp_entry(ctl, tf, true, &pe, reason, sizeof(reason), final,
	    sizeof(final));
	if (fd == -ENOENT)
		return;		/* its creator linked or removed it */
	if (!cmd_clean_plan(&pe, o, res) || o->dry_run)
		;
	else if (pe.second_name)
		cmd_clean_unlink(tf, tf->de.info.dev, tf->de.info.ino, res);
	else if (fstat(fd, &sb) != 0) {
		cmd_clean_why(res, "fstat: %s", strerror(errno));
		res->finding = res->failed = true;
	} else if (wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0) != 0)
		cmd_clean_why(res, "creation temporary still held by its "
		    "creator");
	else
		cmd_clean_unlink(tf, sb.st_dev, sb.st_ino, res);
	if (fd >= 0)
		close(fd);
}

/*
 * Whether a whole Mono state goes: planned (plan.c), and looked at again
 * right before (a Mono process may have started meanwhile).  p gets the
 * plan; li may be replaced by the second look.
 */
static bool
cmd_clean_legacy_decide(struct wapictl *ctl, const struct target_list *list,
    size_t idx, const struct cmd_clean_opts *o, struct legacy_info *li,
    struct plan *p)
{
	struct legacy_info li2;
	struct plan_entry pe;
	struct target_file tf;

	target_get(ctl, list, idx, &tf);
	plan_legacy_entry(ctl, list, idx, li, &tf, &pe);
	plan_decide(&pe, &o->plan, p);
	if (!p->remove || o->dry_run || pe.foreign_legacy)
		return p->remove;
	legacy_inspect(ctl, list, idx, &li2);
	if (li2.use != LEGACY_IDLE || li2.semid != li->semid) {
		*li = li2;
		strlcpy(p->tail, "changed while being checked; kept",
		    sizeof(p->tail));
		p->remove = false;
	}
	return p->remove;
}

/*
 * A whole Mono state at once: its files and its set are decided together,
 * the results stored for each of its files (res is indexed like list).
 */
static void
cmd_clean_legacy(struct wapictl *ctl, const struct target_list *list,
    size_t idx, const struct cmd_clean_opts *o, struct cmd_clean_result *res,
    bool *done)
{
	struct legacy_info li;
	struct plan p;
	struct plan_entry we;
	struct target_file tf;
	char reason[sizeof(res->why)];
	bool remove;
	size_t k, f;

	legacy_inspect(ctl, list, idx, &li);
	remove = cmd_clean_legacy_decide(ctl, list, idx, o, &li, &p);
	memset(&we, 0, sizeof(we));
	we.reason = reason;
	for (k = 0; k < li.nfiles; k++) {
		f = li.files[k];
		memset(&res[f], 0, sizeof(res[f]));
		res[f].verdict = wcore_verdict_name(WCORE_LEGACY);
		res[f].finding = p.finding;
		res[f].failed = p.failed;
		res[f].would_remove = remove && o->dry_run;
		done[f] = true;
		legacy_reason(ctl, list, &li, f, reason, sizeof(reason));
		plan_words(&we, &p, res[f].why, sizeof(res[f].why));
		if (!remove || o->dry_run)
			continue;
		target_get(ctl, list, f, &tf);
		cmd_clean_unlink(&tf, tf.de.info.dev, tf.de.info.ino, &res[f]);
	}
	if (remove && li.data != SIZE_MAX && li.sem_ours)
		cmd_clean_legacy_sem(&li, o, &res[li.data]);
}

/* A name wapi does not make: listed, never removed (plan.c says why). */
static void
cmd_clean_other(const struct target_file *tf, const struct cmd_clean_opts *o,
    struct cmd_clean_result *res)
{
	struct plan_entry pe;
	char reason[512];

	plan_other_entry(tf, &pe, reason, sizeof(reason));
	(void)cmd_clean_plan(&pe, o, res);
}

/* The state's semaphore set, once its data file is gone. */
static void
cmd_clean_legacy_sem(const struct legacy_info *li,
    const struct cmd_clean_opts *o, struct cmd_clean_result *data)
{
	char what[64];
	int e;

	if (o->dry_run) {
		cmd_clean_cat_why(data, "; its semaphore set would be removed "
		    "too");
		return;
	}
	if (!data->removed)
		return;
	e = legacy_sem_remove(li);
	if (li->has_key && li->semid >= 0) {
		snprintf(what, sizeof(what), "semaphore set key 0x%08x id %d",
		    (unsigned)li->sem_key, li->semid);
		audit_removal(what, data->verdict, data->why, -e);
	}
	if (e < 0) {
		cmd_clean_cat_why(data, "; but its semaphore set (key 0x%08x) "
		    "could not be removed: %s; see ipcs -s",
		    (unsigned)li->sem_key, strerror(-e));
		data->finding = true;
	} else
		cmd_clean_cat_why(data, "; semaphore set key 0x%08x removed",
		    (unsigned)li->sem_key);
}

/* One file's line (or JSON row), counted. */
static void
cmd_clean_report(const struct wapictl *ctl, struct libscols_table *tb,
    const struct out_spec *spec, const struct target_file *tf,
    const struct cmd_clean_result *res, const struct cmd_clean_opts *o,
    struct cmd_clean_counts *n)
{
	struct libscols_line *ln;
	const char *action;
	char why[sizeof(res->why) * 2];

	if (res->removed || res->would_remove) {
		n->removed++;
		action = res->removed ? "removed" : "would-remove";
	} else {
		n->kept++;
		action = o->dry_run ? "would-keep" : "kept";
	}
	if (res->finding)
		n->findings++;
	if (res->failed)
		n->failed = true;
	if (tb != NULL) {
		ln = out_line_new(tb);
		out_cell(ln, spec, COL_PATH, "%s", tf->path);
		out_cell(ln, spec, COL_VERDICT, "%s", res->verdict);
		out_cell(ln, spec, COL_ACTION, "%s", action);
		out_cell(ln, spec, COL_REASON, "%s", res->why);
	}
	/* What needs a person goes to standard error, JSON or -q or not.
	 * The reason may quote names from disk: escaped as the path is. */
	out_escape(res->why, why, sizeof(why));
	if ((res->finding || res->failed) && (tb == NULL || ctl->quiet))
		warnx("%s %s: %s: %s", action, tf->shown, res->verdict, why);
	else if (tb == NULL && (!ctl->quiet || res->removed))
		printf("%s %s: %s: %s\n", action, tf->shown, res->verdict,
		    why);
}

static void
cmd_clean_summary(const struct wapictl *ctl, const struct cmd_clean_opts *o,
    const struct cmd_clean_counts *n)
{
	char shown[PATH_MAX];

	/* -q, for cron: after removals only (what needs a person went to
	 * standard error), unless a person is watching or -v. */
	if (ctl->quiet && !o->verbose && !isatty(STDOUT_FILENO) &&
	    (o->dry_run || n->removed == 0))
		return;
	target_shown(ctl->dir, shown, sizeof(shown));
	if (n->removed + n->kept == 0)
		printf("%s: nothing to clean\n", shown);
	else
		printf("%s: %s %zu file%s, kept %zu\n", shown,
		    o->dry_run ? "would remove" : "removed", n->removed,
		    n->removed == 1 ? "" : "s", n->kept);
}

static int
cmd_clean_exec(struct wapictl *ctl, struct cmd_args *args)
{
	static const int defaults[] = { COL_PATH, COL_VERDICT, COL_ACTION,
	    COL_REASON };
	struct cmd_clean_opts o;
	struct cmd_clean_result res, *lres;
	struct cmd_clean_counts n = { 0, 0, 0, false };
	struct out_spec spec;
	struct libscols_table *tb = NULL;
	struct target_list list, segs;
	struct target_claims claims;
	struct target_file tf;
	struct target_seg sg;
	bool *ldone;
	size_t i;

	o.dry_run = args_has(args, 'n');
	o.plan.force_host = args_has(args, OPT_FORCE_HOST);
	o.plan.older_than = args_number(args, OPT_OLDER, -1);
	o.verbose = args_has(args, 'v');
	if (args_has(args, OPT_NO_SYSLOG))
		audit_disable();
	if (o.plan.force_host && o.plan.older_than < 0)
		return wapictl_usage_error(args->entry, "--force-host "
		    "needs --older-than: another host's file is removed only "
		    "when its heartbeat is that old");
	if (o.plan.force_host && !ctl->all_hosts && (ctl->host_arg == NULL ||
	    target_host_is_this(ctl)))
		return wapictl_usage_error(args->entry, "--force-host needs "
		    "-A or -H HOST: it is about other hosts' files, and this "
		    "host's are never another host's");

	if (target_dir_open(ctl, true) < 0 || target_collect(ctl,
	    TARGET_STATE | TARGET_TEMP | TARGET_LEGACY | TARGET_OTHER,
	    &list) < 0)
		return WAPICTL_EXIT_ACCESS;
	memset(&claims, 0, sizeof(claims));
	lres = calloc(list.n ? list.n : 1, sizeof(*lres));
	ldone = calloc(list.n ? list.n : 1, sizeof(*ldone));
	if (lres == NULL || ldone == NULL)
		err(WAPICTL_EXIT_ACCESS, "calloc");
	if (ctl->json) {
		out_spec_init(&spec, ctl, cmd_clean_cols, nitems(cmd_clean_cols),
		    defaults, nitems(defaults));
		tb = out_table_new("clean", &spec, args);
	}

	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		memset(&res, 0, sizeof(res));
		switch (tf.de.parsed.kind) {
		case WCORE_NAME_STATE:
			cmd_clean_state(ctl, &tf, &o, &res, &claims);
			break;
		case WCORE_NAME_TEMP:
			cmd_clean_temp(ctl, &tf, &o, &res);
			break;
		case WCORE_NAME_OTHER:
			cmd_clean_other(&tf, &o, &res);
			break;
		default:
			if (!ldone[i])
				cmd_clean_legacy(ctl, &list, i, &o, lres,
				    ldone);
			res = lres[i];
			break;
		}
		if (res.verdict != NULL)	/* else gone since the listing */
			cmd_clean_report(ctl, tb, &spec, &tf, &res, &o, &n);
	}
	/* Then the segments that no anchor kept names, listed only now:
	 * those of the anchors just removed went with them. */
	if (target_seg_collect(ctl, &segs) < 0)
		n.failed = true;	/* said */
	for (i = 0; i < segs.n; i++) {
		target_seg_get(ctl, &segs, i, &sg);
		memset(&res, 0, sizeof(res));
		cmd_clean_segment(ctl, &sg, &claims, &o, &res);
		if (res.verdict != NULL)
			cmd_clean_report(ctl, tb, &spec, &sg.tf, &res, &o, &n);
	}
	target_free(&segs);
	target_claims_free(&claims);
	if (tb != NULL && !ctl->quiet)
		out_print(tb);
	else if (tb != NULL)
		out_discard(tb);
	else
		cmd_clean_summary(ctl, &o, &n);
	target_free(&list);
	free(lres);
	free(ldone);
	return n.failed ? WAPICTL_EXIT_ACCESS : n.findings > 0 ?
	    WAPICTL_EXIT_FINDINGS : 0;
}
