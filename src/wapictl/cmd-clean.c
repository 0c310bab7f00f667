/*
 * wapictl clean: remove what crashes left behind, and nothing else.  Only
 * files whose verdict is orphaned, stale-boot or temporary (and corrupt
 * ones no process holds) go; another host's only with --force-host and a
 * heartbeat older than --older-than; legacy Mono files only when no process
 * maps them.  Every removal goes through the directory descriptor: the
 * verdict is re-checked while holding the init byte exclusively (no client
 * can attach meanwhile), and the name must still be the inode we checked
 * right before unlinkat(), so a link or a swapped file is never removed.
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

#define CMD_CLEAN_TEMP_AGE	60	/* temporaries younger may be in use */

struct cmd_clean_opts {
	bool			 dry_run;
	bool			 force_host;
	int64_t			 older_than;	/* -1: not given */
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

static int	cmd_clean_exec(struct wapictl *, int, char **);
static void	cmd_clean_why(struct cmd_clean_result *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	cmd_clean_pause(const char *);
static int	cmd_clean_unlink(struct wapictl *, const struct target_file *,
		    dev_t, ino_t, struct cmd_clean_result *);
static void	cmd_clean_state(struct wapictl *, const struct target_file *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_temp(struct wapictl *, const struct target_file *,
		    const struct cmd_clean_opts *, struct cmd_clean_result *);
static void	cmd_clean_legacy(struct wapictl *, const struct target_list *,
		    size_t, const struct cmd_clean_opts *,
		    struct cmd_clean_result *, bool *);
static void	legacy_cat_why(struct cmd_clean_result *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

const struct cmd_entry cmd_clean_entry = {
	.name = "clean",
	.usage = "[-n] [--older-than DURATION] [--force-host]",
	.help = "Remove orphaned state files, old creation temporaries and "
	    "unused legacy\nMono files, saying why each file is removed or "
	    "kept.",
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
legacy_cat_why(struct cmd_clean_result *res, const char *fmt, ...)
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
cmd_clean_pause(const char *name)
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
	(void)name;
}

/* Remove tf's name if it still is (dev, ino).  0, or an errno. */
static int
cmd_clean_unlink(struct wapictl *ctl, const struct target_file *tf,
    dev_t dev, ino_t ino, struct cmd_clean_result *res)
{
	struct stat sb;
	int e;

	cmd_clean_pause(tf->de.name);
	if (fstatat(tf->dirfd, tf->de.name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
		e = errno;
		strlcat(res->why, ", but it disappeared before removal",
		    sizeof(res->why));
		return e == ENOENT ? 0 : e;
	}
	if (sb.st_dev != dev || sb.st_ino != ino) {
		cmd_clean_why(res, "replaced by another file while being "
		    "checked; not removed (run clean again to look at the "
		    "new one)");
		return EAGAIN;
	}
	if (unlinkat(tf->dirfd, tf->de.name, 0) != 0) {
		e = errno;
		cmd_clean_why(res, "cannot remove: %s", strerror(e));
		res->failed = true;
		return e;
	}
	res->removed = true;
	return 0;
}

static void
cmd_clean_state(struct wapictl *ctl, const struct target_file *tf,
    const struct cmd_clean_opts *o, struct cmd_clean_result *res)
{
	struct wcore_status st, st2;
	struct stat sb;
	char why[512], d[32], d2[32];
	int64_t age, stamp;
	bool held;
	int fd, e;

	fd = wcore_state_open(ctl->dirfd, tf->de.name, true, why, sizeof(why));
	if (fd == -ENOENT)
		return;		/* removed since the listing: not ours to report */
	if (fd < 0) {
		res->verdict = wcore_verdict_name(WCORE_UNREADABLE);
		cmd_clean_why(res, "%s; never followed nor removed: look at it "
		    "and remove it by hand if it is not needed", why);
		res->finding = true;
		/* Refused by the core's checks: a finding; else an I/O error. */
		if (fd != -ELOOP && fd != -EINVAL && fd != -EMLINK &&
		    fd != -EPERM && fd != -EACCES)
			res->failed = true;
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
		close(fd);
		return;
	}
	res->verdict = wcore_verdict_name(st.verdict);
	held = st.helper_byte_held || st.init_byte_held || st.clients_live > 0;

	switch (st.verdict) {
	case WCORE_LIVE:
		cmd_clean_why(res, "%s", st.reason);
		goto keep;
	case WCORE_INCOMPATIBLE:
		cmd_clean_why(res, "%s; left for the build of wapi that made "
		    "it%s", st.reason, held ? "" :
		    " (remove it by hand if none runs any more)");
		res->finding = !held;
		goto keep;
	case WCORE_CORRUPT:
		if (held) {
			cmd_clean_why(res, "%s", st.reason);
			res->finding = true;
			goto keep;
		}
		break;
	case WCORE_FOREIGN:
		if (!o->force_host) {
			cmd_clean_why(res, "%s; another host's file is removed "
			    "only with --force-host --older-than", st.reason);
			goto keep;
		}
		break;
	case WCORE_ORPHANED:
	case WCORE_STALE_BOOT:
		break;
	default:
		cmd_clean_why(res, "%s", st.reason);
		res->finding = true;
		goto keep;
	}

	/* The age is the helper's last sign of life, else the file's. */
	stamp = st.header_ok && st.hdr.helper_heartbeat > 0 ?
	    st.hdr.helper_heartbeat : (int64_t)sb.st_mtime;
	age = wcore_now_s() - stamp;
	if (o->older_than >= 0 && age < o->older_than) {
		target_duration(age, d, sizeof(d));
		target_duration(o->older_than, d2, sizeof(d2));
		cmd_clean_why(res, "%s; last active %s ago, not older than "
		    "%s", st.reason, d, d2);
		res->finding = st.verdict != WCORE_FOREIGN;
		goto keep;
	}
	if (o->dry_run) {
		cmd_clean_why(res, "%s", st.reason);
		res->would_remove = true;
		close(fd);
		return;
	}

	/* Exclusive init byte: nobody attaches or initialises meanwhile. */
	e = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0);
	if (e != 0) {
		cmd_clean_why(res, "%s, but a process %s it meanwhile; kept",
		    wcore_verdict_name(st.verdict), e == EAGAIN ? "attached to" :
		    "could not be excluded from");
		goto keep;
	}
	/* Our own lock is invisible through fd: anything held is theirs. */
	if (wcore_verdict(fd, ctl->host, &st2) != 0 ||
	    st2.verdict != st.verdict || st2.helper_byte_held ||
	    st2.clients_live > 0 || st2.init_byte_held) {
		cmd_clean_why(res, "changed while being checked (now %s: %s); "
		    "kept", wcore_verdict_name(st2.verdict), st2.reason);
		goto keep;
	}
	cmd_clean_why(res, "%s", st.reason);
	cmd_clean_unlink(ctl, tf, sb.st_dev, sb.st_ino, res);
	close(fd);
	return;
keep:
	close(fd);
}

static void
cmd_clean_temp(struct wapictl *ctl, const struct target_file *tf,
    const struct cmd_clean_opts *o, struct cmd_clean_result *res)
{
	struct stat sb, fin;
	char why[512], final[NAME_MAX + 1], d[32];
	int64_t age, min_age;
	int fd, e;

	res->verdict = wcore_verdict_name(WCORE_TEMPORARY);
	age = wcore_now_s() - tf->de.info.mtime;
	target_duration(age, d, sizeof(d));
	min_age = o->older_than > CMD_CLEAN_TEMP_AGE ? o->older_than :
	    CMD_CLEAN_TEMP_AGE;
	if (age < min_age) {
		cmd_clean_why(res, "creation temporary modified %s ago: may "
		    "still be in use", d);
		return;
	}
	/*
	 * A creator that died between link() and unlink() leaves the
	 * temporary as a second name of the real file: drop just the name.
	 */
	if (S_ISREG(tf->de.info.mode) && tf->de.info.uid == geteuid() &&
	    tf->de.info.nlink == 2 &&
	    wcore_state_name(final, sizeof(final), tf->de.parsed.host,
	    tf->de.parsed.abi) == 0 &&
	    fstatat(ctl->dirfd, final, &fin, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fin.st_dev == tf->de.info.dev && fin.st_ino == tf->de.info.ino) {
		cmd_clean_why(res, "creation temporary left as a second name "
		    "of %s", final);
		if (o->dry_run)
			res->would_remove = true;
		else
			cmd_clean_unlink(ctl, tf, tf->de.info.dev, tf->de.info.ino, res);
		return;
	}
	fd = wcore_state_open(ctl->dirfd, tf->de.name, true, why, sizeof(why));
	if (fd == -ENOENT) {
		res->verdict = NULL;	/* its creator linked or removed it */
		return;
	}
	if (fd < 0) {
		cmd_clean_why(res, "%s; not removed", why);
		res->finding = true;
		return;
	}
	if (fstat(fd, &sb) != 0) {
		cmd_clean_why(res, "fstat: %s", strerror(errno));
		res->finding = res->failed = true;
		close(fd);
		return;
	}
	if (o->dry_run) {
		cmd_clean_why(res, "creation temporary modified %s ago", d);
		res->would_remove = true;
		close(fd);
		return;
	}
	/* Its creator holds the init byte while it builds the file. */
	if ((e = wcore_lock_byte(fd, WAPI_LOCK_INIT, F_WRLCK, 0)) != 0) {
		cmd_clean_why(res, "creation temporary still held by its "
		    "creator");
		close(fd);
		return;
	}
	cmd_clean_why(res, "creation temporary modified %s ago", d);
	cmd_clean_unlink(ctl, tf, sb.st_dev, sb.st_ino, res);
	close(fd);
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
	struct legacy_info li, li2;
	struct cmd_clean_result r;
	struct target_file tf;
	char d[32], d2[32], tail[96];
	int64_t age = INT64_MAX, a;
	bool remove, foreign;
	size_t k;
	int e;

	legacy_inspect(ctl, list, idx, &li);
	memset(&r, 0, sizeof(r));
	r.verdict = wcore_verdict_name(WCORE_LEGACY);
	tail[0] = '\0';
	for (k = 0; k < li.nfiles; k++) {
		a = wcore_now_s() - list->v[li.files[k]].info.mtime;
		if (a < age)
			age = a;
	}
	target_get(ctl, list, idx, &tf);
	foreign = tf.de.parsed.era != WCORE_MONO_2009_SHM &&
	    wcore_mono_eras[tf.de.parsed.era].has_host &&
	    (ctl->host[0] == '\0' || strcmp(tf.de.parsed.host, ctl->host) != 0);
	remove = false;
	if (li.never)
		r.finding = true;	/* for a person: the reason says why */
	else if (foreign) {
		if (!o->force_host || age < o->older_than)
			snprintf(tail, sizeof(tail), "; removed only with "
			    "--force-host --older-than");
		else
			remove = true;
	} else if (li.use == LEGACY_UNSURE)
		r.finding = true;
	else if (li.use == LEGACY_IDLE && o->older_than >= 0 &&
	    age < o->older_than) {
		target_duration(age, d, sizeof(d));
		target_duration(o->older_than, d2, sizeof(d2));
		snprintf(tail, sizeof(tail), "; modified %s ago, not older "
		    "than %s", d, d2);
		r.finding = true;
	} else if (li.use == LEGACY_IDLE)
		remove = true;
	if (remove && o->dry_run)
		r.would_remove = true;
	if (remove && !o->dry_run && !foreign) {
		/* Look once more: a Mono process may have started meanwhile. */
		legacy_inspect(ctl, list, idx, &li2);
		if (li2.use != LEGACY_IDLE || li2.semid != li.semid) {
			li = li2;
			snprintf(tail, sizeof(tail), "; changed while being "
			    "checked; kept");
			remove = false;
		}
	}
	for (k = 0; k < li.nfiles; k++) {
		res[li.files[k]] = r;
		done[li.files[k]] = true;
		legacy_reason(ctl, list, &li, li.files[k],
		    res[li.files[k]].why, sizeof(res[li.files[k]].why));
		legacy_cat_why(&res[li.files[k]], "%s", tail);
		if (!remove || o->dry_run)
			continue;
		target_get(ctl, list, li.files[k], &tf);
		cmd_clean_unlink(ctl, &tf, tf.de.info.dev, tf.de.info.ino,
		    &res[li.files[k]]);
	}
	if (!remove || li.data == SIZE_MAX || !li.sem_ours)
		return;
	if (o->dry_run) {
		legacy_cat_why(&res[li.data], "; its semaphore set would be "
		    "removed too");
		return;
	}
	if (!res[li.data].removed)
		return;
	if ((e = legacy_sem_remove(&li)) != 0) {
		legacy_cat_why(&res[li.data], "; but its semaphore set (key "
		    "0x%08x) could not be removed: %s; see ipcs -s",
		    (unsigned)li.sem_key, strerror(e));
		res[li.data].finding = true;
	} else
		legacy_cat_why(&res[li.data], "; semaphore set key 0x%08x "
		    "removed", (unsigned)li.sem_key);
}

static int
cmd_clean_exec(struct wapictl *ctl, int argc, char **argv)
{
	enum { OPT_OLDER = 256, OPT_FORCE_HOST };
	static const struct option longopts[] = {
		{ "dry-run",	no_argument,		NULL, 'n' },
		{ "older-than",	required_argument,	NULL, OPT_OLDER },
		{ "force-host",	no_argument,		NULL, OPT_FORCE_HOST },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct cmd_clean_opts o = { false, false, -1 };
	struct cmd_clean_result res, *lres;
	bool *ldone;
	struct out_spec spec = { cmd_clean_cols, 4, { 0 }, 0 };
	struct libscols_table *tb = NULL;
	struct libscols_line *ln;
	struct target_list list;
	struct target_file tf;
	const char *action;
	char shown[PATH_MAX];
	size_t i, removed = 0, kept = 0, findings = 0;
	int ch, r, rc = 0;

	while ((ch = getopt_long(argc, argv, "hn", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			wapictl_cmd_usage(&cmd_clean_entry,
			    "\n  -n, --dry-run              say what would be "
			    "done and why; change nothing\n"
			    "      --older-than DURATION  only files inactive for "
			    "longer: 90s, 30m, 12h, 7d\n"
			    "                             (a bare number is "
			    "seconds)\n"
			    "      --force-host           also other hosts' "
			    "files (needs --older-than)\n");
			return 0;
		case 'n':
			o.dry_run = true;
			break;
		case OPT_OLDER:
			if (target_parse_duration(optarg, &o.older_than) != 0)
				return wapictl_usage_error(&cmd_clean_entry,
				    "--older-than %s: not a duration (90s, "
				    "30m, 12h, 7d, or seconds)", optarg);
			break;
		case OPT_FORCE_HOST:
			o.force_host = true;
			break;
		default:
			return wapictl_usage_error(&cmd_clean_entry, NULL);
		}
	}
	if (optind != argc)
		return wapictl_usage_error(&cmd_clean_entry,
		    "unexpected argument '%s'", argv[optind]);
	if (o.force_host && o.older_than < 0)
		return wapictl_usage_error(&cmd_clean_entry, "--force-host "
		    "needs --older-than: another host's file is removed only "
		    "when its heartbeat is that old");

	if ((r = target_dir_open(ctl, true)) != 0)
		return r;
	if ((r = target_collect(ctl, TARGET_STATE | TARGET_TEMP |
	    TARGET_LEGACY, &list)) != 0)
		return r;
	lres = calloc(list.n ? list.n : 1, sizeof(*lres));
	ldone = calloc(list.n ? list.n : 1, sizeof(*ldone));
	if (lres == NULL || ldone == NULL)
		err(WAPICTL_EXIT_ACCESS, "calloc");
	if (ctl->json) {
		out_columns_default(&spec, (const int[]){ COL_PATH,
		    COL_VERDICT, COL_ACTION, COL_REASON }, 4);
		tb = out_table_new(ctl, "clean", &spec, false, false);
	}

	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		memset(&res, 0, sizeof(res));
		switch (tf.de.parsed.kind) {
		case WCORE_NAME_STATE:
			cmd_clean_state(ctl, &tf, &o, &res);
			break;
		case WCORE_NAME_TEMP:
			cmd_clean_temp(ctl, &tf, &o, &res);
			break;
		default:
			if (!ldone[i])
				cmd_clean_legacy(ctl, &list, i, &o, lres,
				    ldone);
			res = lres[i];
			break;
		}
		if (res.verdict == NULL)
			continue;	/* gone since the listing */
		if (res.removed) {
			removed++;
			action = "removed";
		} else if (res.would_remove) {
			removed++;
			action = "would-remove";
		} else {
			kept++;
			action = o.dry_run ? "would-keep" : "kept";
		}
		if (res.finding)
			findings++;
		if (res.failed)
			rc = WAPICTL_EXIT_ACCESS;
		if (tb != NULL) {
			ln = out_line_new(tb);
			out_cell(ln, &spec, COL_PATH, "%s", tf.path);
			out_cell(ln, &spec, COL_VERDICT, "%s", res.verdict);
			out_cell(ln, &spec, COL_ACTION, "%s", action);
			out_cell(ln, &spec, COL_REASON, "%s", res.why);
			if ((res.finding || res.failed) && ctl->quiet)
				warnx("%s %s: %s: %s", action, tf.shown,
				    res.verdict, res.why);
		} else if (res.finding || res.failed)
			warnx("%s %s: %s: %s", action, tf.shown,
			    res.verdict, res.why);
		else if (!ctl->quiet)
			printf("%s %s: %s: %s\n", action, tf.shown,
			    res.verdict, res.why);
	}
	if (tb != NULL) {
		if (!ctl->quiet)
			out_print(tb);
		else
			scols_unref_table(tb);
	} else if (!ctl->quiet) {
		target_shown(ctl->dir, shown, sizeof(shown));
		if (list.n == 0)
			printf("%s: nothing to clean\n", shown);
		else
			printf("%s: %s %zu file%s, kept %zu\n", shown,
			    o.dry_run ? "would remove" : "removed", removed,
			    removed == 1 ? "" : "s", kept);
	}
	target_free(&list);
	free(lres);
	free(ldone);
	if (rc == 0 && findings > 0)
		rc = WAPICTL_EXIT_FINDINGS;
	return rc;
}
