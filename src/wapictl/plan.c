/*
 * What 'wapictl clean' does with one entry of the directory, and why: the
 * one decision that clean acts on (and clean -n says) and that status puts
 * into words.  The callers gather what is known of the entry into a
 * struct plan_entry (the plan_*_entry functions do it the same way for
 * both); plan_decide() says remove or keep, the reason it stays, and, when
 * a person must act, the next step.  Only files no process holds go, and
 * clean decides again under its locks right before it removes anything.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"
#include "legacy.h"

#define PLAN_TEMP_AGE	60	/* temporaries younger may be in use */

static void	plan_refused(const struct plan_entry *, struct plan *);
static bool	plan_verdict_keeps(const struct plan_entry *,
		    const struct plan_opts *, struct plan *);
static void	plan_age_keeps(const struct plan_entry *,
		    const struct plan_opts *, struct plan *);
static void	plan_legacy(const struct plan_entry *,
		    const struct plan_opts *, struct plan *);
static void	plan_temp(const struct plan_entry *, const struct plan_opts *,
		    struct plan *);

/*
 * The age of a time a file gives (a heartbeat, an mtime), for --older-than
 * and the grace of temporaries and segments.  A stamp just ahead of our
 * clock is 0 s old; one further in the future tells nothing of the file (a
 * clock set wrong, a crafted file) and would keep it young for ever: its
 * age is unknown and counts as old enough (INT64_MAX), *future says so.
 * Nothing is removed for its age alone: only files no process holds go.
 */
int64_t
plan_age(int64_t stamp, bool *future)
{
	int64_t age = wcore_age_s(wcore_now_s(), stamp);

	*future = age < -WCORE_FUTURE_SLACK_S;
	if (*future)
		return INT64_MAX;
	return age < 0 ? 0 : age;
}

/* "5m3s ago", or "in the future" (plan_age). */
void
plan_when(int64_t age, bool future, char *buf, size_t len)
{
	char d[24];

	if (future) {
		strlcpy(buf, "in the future", len);
		return;
	}
	target_duration(age, d, sizeof(d));
	snprintf(buf, len, "%s ago", d);
}

/*
 * A file the core's checks refuse to open (a link, not a regular file,
 * another owner's, open to group or others, more than one name): never
 * followed nor removed; a person decides, and is told how.
 */
static void
plan_refused(const struct plan_entry *e, struct plan *p)
{
	const char *f = e->shown;

	p->finding = true;
	strlcpy(p->tail, "never followed nor removed", sizeof(p->tail));
	switch (-e->open_err) {
	case ELOOP:
		target_say(p->next, sizeof(p->next), "check it with ls -l %s, and "
		    "remove the link by hand if nothing of yours made it", f);
		break;
	case EACCES:
		target_say(p->next, sizeof(p->next), "check it with ls -l; chmod "
		    "600 %s if a program of yours uses it, or remove it by "
		    "hand if none does", f);
		break;
	case EPERM:
		target_say(p->next, sizeof(p->next), "check it with ls -l %s; "
		    "its owner (or root) removes it, or chown it to you if it "
		    "is yours", f);
		break;
	case EMLINK:
		target_say(p->next, sizeof(p->next), "check it with ls -l; find "
		    "its other names (find / -xdev -samefile %s) and remove "
		    "the one that is not needed", f);
		break;
	case EINVAL:
		target_say(p->next, sizeof(p->next), "check it with ls -l %s; "
		    "wapi makes no such file: remove it by hand if it is not "
		    "needed", f);
		break;
	default:
		p->failed = true;
		target_say(p->next, sizeof(p->next), "check it with ls -l %s and "
		    "run 'wapictl clean' again", f);
		break;
	}
}

/*
 * Whether the verdict alone keeps the entry (p says why), or it may go
 * once old enough (plan_age_keeps).
 */
static bool
plan_verdict_keeps(const struct plan_entry *e, const struct plan_opts *o,
    struct plan *p)
{
	switch (e->verdict) {
	case WCORE_ORPHANED:
	case WCORE_STALE_BOOT:
		return false;
	case WCORE_TEMPORARY:	/* a young segment: the age keeps it */
		return e->kind != PLAN_SEGMENT;
	case WCORE_LIVE:
		return true;
	case WCORE_INCOMPATIBLE:
		strlcpy(p->tail, "left for the build of wapi that made it",
		    sizeof(p->tail));
		if (!e->held && e->kind != PLAN_OTHER) {
			p->finding = true;
			strlcpy(p->next, "remove it by hand if no build of wapi "
			    "that reads it runs any more", sizeof(p->next));
		} else if (e->kind == PLAN_OTHER)
			strlcpy(p->next, "remove it by hand once no wapi built "
			    "for that ABI runs here", sizeof(p->next));
		return true;
	case WCORE_CORRUPT:
		if (!e->held)
			return false;
		p->finding = true;
		strlcpy(p->next, "run 'wapictl validate' for details, and "
		    "'wapictl clean' again once the processes that hold it "
		    "have ended", sizeof(p->next));
		return true;
	case WCORE_FOREIGN:
		if (e->kind == PLAN_SEGMENT)
			return true;	/* another user's: the reason says */
		if (o->force_host)
			return false;
		strlcpy(p->tail, "another host's file is removed only with "
		    "--force-host --older-than", sizeof(p->tail));
		return true;
	default:
		p->finding = true;
		return true;
	}
}

/* Whether an entry that may go is old enough: p->remove, or why not. */
static void
plan_age_keeps(const struct plan_entry *e, const struct plan_opts *o,
    struct plan *p)
{
	char d[48], d2[32];
	int64_t age, grace;
	bool future;

	age = plan_age(e->stamp, &future);
	plan_when(age, future, d, sizeof(d));
	target_duration(o->older_than, d2, sizeof(d2));
	grace = e->kind == PLAN_SEGMENT ? WCORE_SEG_GRACE_S : 0;
	if (future && e->verdict == WCORE_FOREIGN) {
		/* Another host's clock: no age can be told from it. */
		strlcpy(p->tail, "its last activity lies in the future by our "
		    "clock: age unknown, kept", sizeof(p->tail));
		strlcpy(p->next, "remove it by hand once its host is gone",
		    sizeof(p->next));
		return;
	}
	if (age < grace) {
		target_say(p->tail, sizeof(p->tail), "modified %s: may be one "
		    "being made, kept until it is %" PRId64 " s old", d, grace);
		return;
	}
	if (o->older_than >= 0 && age < o->older_than) {
		target_say(p->tail, sizeof(p->tail), "last active %s, not older "
		    "than %s", d, d2);
		p->finding = e->verdict != WCORE_FOREIGN;
		return;
	}
	if (future)
		strlcpy(p->tail, "last active in the future by our clock: "
		    "age unknown, taken as old enough", sizeof(p->tail));
	p->remove = true;
}

/* A Mono state: its files go together, only when proven unused. */
static void
plan_legacy(const struct plan_entry *e, const struct plan_opts *o,
    struct plan *p)
{
	char d[48], d2[32];
	int64_t age;
	bool future;

	age = plan_age(e->stamp, &future);
	if (e->never) {
		p->finding = true;
		strlcpy(p->next, "look at it and remove it by hand if it is "
		    "not needed", sizeof(p->next));
	} else if (e->foreign_legacy) {
		if (!o->force_host || age < o->older_than)
			strlcpy(p->tail, "removed only with --force-host "
			    "--older-than", sizeof(p->tail));
		else
			p->remove = true;
	} else if (e->use == PLAN_LEGACY_UNSURE) {
		p->finding = true;
		strlcpy(p->next, "end the Mono programs that may use it, then "
		    "run 'wapictl clean' again", sizeof(p->next));
	} else if (e->use == PLAN_LEGACY_IDLE && o->older_than >= 0 &&
	    age < o->older_than) {
		plan_when(age, future, d, sizeof(d));
		target_duration(o->older_than, d2, sizeof(d2));
		target_say(p->tail, sizeof(p->tail), "modified %s, not older than "
		    "%s", d, d2);
		p->finding = true;
	} else if (e->use == PLAN_LEGACY_IDLE)
		p->remove = true;
}

/*
 * A creation temporary: one younger than a minute (and than --older-than)
 * may be in use; one left as a second name of its file loses just that
 * name; else it must open as a state file and not be held by its creator.
 */
static void
plan_temp(const struct plan_entry *e, const struct plan_opts *o,
    struct plan *p)
{
	char d[48];
	int64_t age;
	bool future;

	age = plan_age(e->stamp, &future);
	if (age < MAX(o->older_than, PLAN_TEMP_AGE)) {
		plan_when(age, future, d, sizeof(d));
		target_say(p->tail, sizeof(p->tail), "modified %s: may still be "
		    "in use", d);
	} else if (e->second_name)
		p->remove = true;
	else if (e->open_err != 0)
		plan_refused(e, p);
	else if (e->held)
		strlcpy(p->tail, "still held by its creator", sizeof(p->tail));
	else
		p->remove = true;
}

/* The decision for one entry, from what is known of it. */
void
plan_decide(const struct plan_entry *e, const struct plan_opts *o,
    struct plan *p)
{
	memset(p, 0, sizeof(*p));
	if (e->kind == PLAN_TEMP)
		plan_temp(e, o, p);
	else if (e->open_err != 0)
		plan_refused(e, p);
	else if (e->kind == PLAN_LEGACY)
		plan_legacy(e, o, p);
	else if (e->kind == PLAN_OTHER && e->verdict != WCORE_INCOMPATIBLE) {
		strlcpy(p->tail, "not a file of wapi's: never removed",
		    sizeof(p->tail));
		strlcpy(p->next, "remove it by hand if you know it is not "
		    "needed", sizeof(p->next));
	} else if (!plan_verdict_keeps(e, o, p))
		plan_age_keeps(e, o, p);
}

/* The verdict's name; "unknown" for a name wapi does not make. */
const char *
plan_verdict_name(const struct plan_entry *e)
{
	if (e->kind == PLAN_OTHER && e->verdict != WCORE_INCOMPATIBLE)
		return "unknown";
	return wcore_verdict_name(e->verdict);
}

/* clean's reason: the verdict's, why it stays, what a person does. */
void
plan_words(const struct plan_entry *e, const struct plan *p, char *buf,
    size_t len)
{
	target_say(buf, len, "%s%s%s%s%s", e->reason, p->tail[0] ? "; " : "",
	    p->tail, p->next[0] ? "; " : "", p->next);
}

/*
 * status's words for what 'wapictl clean' does with it, to follow its
 * reason: "; 'wapictl clean' removes it", or "; 'wapictl clean' keeps it:"
 * why and the next step; "" for what it keeps without more to say (a live
 * file, another user's segment).
 */
void
plan_status_words(const struct plan *p, char *buf, size_t len)
{
	if (p->remove)
		strlcpy(buf, "; 'wapictl clean' removes it", len);
	else if (p->tail[0] == '\0' && p->next[0] == '\0')
		buf[0] = '\0';
	else
		target_say(buf, len, "; 'wapictl clean' keeps it: %s%s%s",
		    p->tail[0] ? p->tail : p->next, p->tail[0] &&
		    p->next[0] ? "; " : "", p->tail[0] ? p->next : "");
}

/* A state file, from its verdict (st) and its listing. */
void
plan_state_entry(const struct wcore_status *st, const struct target_file *tf,
    struct plan_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = PLAN_STATE;
	e->verdict = st->verdict;
	e->reason = st->reason;
	e->shown = tf->shown;
	e->held = st->helper_byte_held || st->init_byte_held ||
	    st->clients_live > 0;
	/* The age is the helper's last sign of life, else the file's. */
	e->stamp = st->header_ok && st->hdr.helper_heartbeat > 0 ?
	    st->hdr.helper_heartbeat : st->mtime;
}

/* A segment that no listed anchor names, from its judgement. */
void
plan_seg_entry(const struct target_seg *sg, const struct target_seg_status *ss,
    struct plan_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = PLAN_SEGMENT;
	e->verdict = ss->verdict;
	e->reason = ss->reason;
	e->shown = sg->tf.shown;
	e->held = ss->held;
	e->stamp = ss->mtime;
}

/*
 * A creation temporary: its age, whether it is a second name of its
 * state file (a creator that died between link() and unlink()), else
 * whether it opens as a state file and its creator holds it.  reason
 * gets its words, final the name of its state file.  The descriptor it
 * was opened with (writable for clean's lock; the caller closes it), -1
 * when it was not opened, or
 * -ENOENT when it went away since the listing.
 */
int
plan_temp_entry(const struct wapictl *ctl, const struct target_file *tf,
    bool writable, struct plan_entry *e, char *reason, size_t reasonlen, char *final,
    size_t finallen)
{
	const struct wcore_fileinfo *in = &tf->de.info;
	char why[512], d[48];
	struct stat fin;
	int64_t age;
	bool future;
	int fd;

	memset(e, 0, sizeof(*e));
	e->kind = PLAN_TEMP;
	e->verdict = WCORE_TEMPORARY;
	e->reason = reason;
	e->shown = tf->shown;
	e->stamp = in->mtime;
	age = plan_age(e->stamp, &future);
	plan_when(age, future, d, sizeof(d));
	if (S_ISREG(in->mode) && in->uid == ctl->euid && in->nlink == 2 &&
	    wcore_state_name(final, finallen, tf->de.parsed.host,
	    tf->de.parsed.abi) == 0 && fstatat(ctl->dirfd, final, &fin,
	    AT_SYMLINK_NOFOLLOW) == 0 && fin.st_dev == in->dev &&
	    fin.st_ino == in->ino) {
		e->second_name = true;
		target_say(reason, reasonlen, "creation temporary left as a "
		    "second name of %s", final);
		return -1;
	}
	fd = wcore_state_open(ctl->dirfd, tf->de.name, writable, why,
	    sizeof(why));
	if (fd == -ENOENT)
		return fd;
	if (fd < 0) {
		e->open_err = fd;
		target_say(reason, reasonlen, "creation temporary modified %s; "
		    "%s", d, why);
		return -1;
	}
	target_say(reason, reasonlen, "creation temporary modified %s", d);
	/* Its creator holds the init byte while it builds the file. */
	e->held = wcore_byte_held(fd, WAPI_LOCK_INIT, F_WRLCK) != 0;
	return fd;
}

/*
 * A name that wapi does not make: a state file's (or a temporary's) of an
 * ABI this build does not know is incompatible, anything else unknown.
 */
void
plan_other_entry(const struct target_file *tf, struct plan_entry *e,
    char *reason, size_t reasonlen)
{
	char host[WAPI_HOST_MAX + 1], abi[32];

	memset(e, 0, sizeof(*e));
	e->kind = PLAN_OTHER;
	e->shown = tf->shown;
	e->reason = reason;
	if (target_other_name(tf->de.name, host, sizeof(host), abi,
	    sizeof(abi))) {
		e->verdict = WCORE_INCOMPATIBLE;
		target_say(reason, reasonlen, "the name of a state file of ABI "
		    "%s, which this build (%s) does not read", abi, WAPI_ABI);
	} else {
		e->verdict = WCORE_VERDICT_COUNT;
		target_say(reason, reasonlen, "not a name wapi gives its files");
	}
}

/*
 * A Mono state (li, from legacy_inspect of file idx): another host's (its
 * name says), proven unused or not, and its age, the youngest file's.
 */
void
plan_legacy_entry(const struct wapictl *ctl, const struct target_list *list,
    size_t idx, const struct legacy_info *li, const struct target_file *tf,
    struct plan_entry *e)
{
	size_t k;

	memset(e, 0, sizeof(*e));
	e->kind = PLAN_LEGACY;
	e->verdict = WCORE_LEGACY;
	e->reason = li->reason;
	e->shown = tf->shown;
	e->never = li->never;
	e->use = li->use == LEGACY_IDLE ? PLAN_LEGACY_IDLE :
	    li->use == LEGACY_IN_USE ? PLAN_LEGACY_IN_USE : PLAN_LEGACY_UNSURE;
	e->stamp = INT64_MIN;
	for (k = 0; k < li->nfiles; k++)
		e->stamp = MAX(e->stamp, list->v[li->files[k]].info.mtime);
	e->foreign_legacy = tf->de.parsed.era != WCORE_MONO_2009_SHM &&
	    wcore_mono_eras[tf->de.parsed.era].has_host &&
	    (ctl->host[0] == '\0' || strcmp(tf->de.parsed.host, ctl->host) != 0);
}

/*
 * Open a segment that no listed anchor names, for a look (writable for
 * clean): another user's is never opened (-EPERM, ss says whose it is);
 * ours with the core's checks (-errno, ss says why).  The descriptor, or
 * -errno (-ENOENT: gone since the listing).
 */
int
plan_seg_open(const struct wapictl *ctl, const struct target_seg *sg,
    bool writable, struct target_seg_status *ss)
{
	int fd;

	memset(ss, 0, sizeof(*ss));
	ss->mtime = sg->info.mtime;
	ss->size = sg->info.size;
	if (!sg->ours) {
		ss->verdict = WCORE_FOREIGN;
		target_say(ss->reason, sizeof(ss->reason), "another user's "
		    "segment (uid %u in its name, owned by uid %u): never "
		    "touched", (unsigned)sg->uid, (unsigned)sg->info.uid);
		return -EPERM;
	}
	fd = wcore_state_open(ctl->seg_dirfd, sg->name, writable, ss->reason,
	    sizeof(ss->reason));
	if (fd < 0)
		ss->verdict = WCORE_UNREADABLE;
	return fd;
}
