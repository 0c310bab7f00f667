/*
 * Legacy Mono states: whether one is in use, and its semaphore set.
 *
 * In use means any of: a process maps one of its files (/proc/PID/maps,
 * by device and inode: a name says nothing of a file that may have been
 * replaced), its set's attach count is above zero (V10+: Mono took it with
 * SEM_UNDO, so the kernel drops a dead process's share, in whatever PID
 * namespace it ran), or processes wait on its set.  When /proc cannot show
 * every process (another PID namespace than the initial one, hidepid, a
 * process of ours whose maps we cannot read) and no attach count proves
 * the state unused, it is "unsure", which counts as in use.
 *
 * A set is the state's only when its key is the one stored at the
 * version's offset of the data file and it looks like Mono's: 8
 * semaphores, owned and created by the file's owner, mode 0600.
 */
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"
#include "legacy.h"

#define LEGACY_INIT_PID_NS	"pid:[4026531836]"	/* PROC_PID_INIT_INO */

union legacy_semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct legacy_ids {
	dev_t	dev[LEGACY_MAX_FILES];
	ino_t	ino[LEGACY_MAX_FILES];
	size_t	n;
};

static bool	legacy_blind(char *, size_t);
static int	legacy_maps_match(pid_t, const struct legacy_ids *, bool *);
static pid_t	legacy_mapped_by(const struct legacy_ids *, bool *);
static void	legacy_state(const struct wapictl *,
		    const struct target_list *, size_t, struct legacy_info *);
static bool	legacy_members_plain(const struct wapictl *,
		    const struct target_list *, struct legacy_info *);
static void	legacy_key(const struct wapictl *, const struct target_list *,
		    struct legacy_info *, char *, size_t);
static void	legacy_use(const struct wapictl *, const struct target_list *,
		    struct legacy_info *, const char *);
static void	legacy_sem(const struct wcore_name *, struct legacy_info *,
		    char *, size_t);
static void	legacy_cat(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
legacy_cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* Whether /proc may hide processes from us; why says how. */
static bool
legacy_blind(char *why, size_t len)
{
	char ns[64], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	bool hidden = false;

	n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	if (n < 0) {
		snprintf(why, len, "/proc shows no PID namespace");
		return true;
	}
	ns[n] = '\0';
	if (strcmp(ns, LEGACY_INIT_PID_NS) != 0) {
		snprintf(why, len, "wapictl runs in a PID namespace other than "
		    "the initial one, so /proc does not show every process");
		return true;
	}
	if (geteuid() == 0 || (f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return false;
	while (!hidden && getline(&line, &cap, f) != -1)
		if (strstr(line, " /proc ") != NULL &&
		    strstr(line, " - proc ") != NULL &&
		    (strstr(line, "hidepid=1") || strstr(line, "hidepid=2") ||
		    strstr(line, "hidepid=invisible") ||
		    strstr(line, "hidepid=noaccess") ||
		    strstr(line, "subset=pid")))
			hidden = true;
	free(line);
	fclose(f);
	if (hidden)
		snprintf(why, len, "/proc is mounted with hidepid");
	return hidden;
}

/* 1 when pid maps one of ids, 0 when not; *unsure when we may not look at
 * a process of ours. */
static int
legacy_maps_match(pid_t pid, const struct legacy_ids *ids, bool *unsure)
{
	char path[64], *line = NULL;
	size_t cap = 0, i;
	unsigned long long inode;
	unsigned int maj, min;
	struct stat sb;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		/* Root is refused only by a security module guarding a
		 * process (a sandbox's init): not one of a user's runtimes. */
		if (errno != ENOENT && geteuid() != 0 && stat(path, &sb) == 0 &&
		    sb.st_uid == geteuid())
			*unsure = true;
		return 0;
	}
	while (!found && getline(&line, &cap, f) != -1) {
		/* start-end perms offset major:minor inode [path] */
		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %llu", &maj, &min,
		    &inode) != 3 || inode == 0)
			continue;
		for (i = 0; i < ids->n; i++)
			if (inode == (unsigned long long)ids->ino[i] &&
			    maj == major(ids->dev[i]) &&
			    min == minor(ids->dev[i]))
				found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

/* A process mapping one of ids, 0 none, -1 /proc unreadable. */
static pid_t
legacy_mapped_by(const struct legacy_ids *ids, bool *unsure)
{
	struct dirent *de;
	const char *p;
	DIR *d;
	pid_t pid = 0;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (pid == 0 && (de = readdir(d)) != NULL) {
		for (p = de->d_name; isdigit((unsigned char)*p); p++)
			;
		if (*p != '\0' || p == de->d_name)
			continue;
		if (legacy_maps_match(atoi(de->d_name), ids, unsure))
			pid = atoi(de->d_name);
	}
	closedir(d);
	return pid;
}

/* The set named by li->sem_key: is it the state's, its count, waiters. */
static void
legacy_sem(const struct wcore_name *n, struct legacy_info *li, char *waiters,
    size_t wlen)
{
	struct semid_ds ds;
	union legacy_semun arg;
	char *r = li->state;
	size_t len = sizeof(li->state);
	unsigned long i;
	int c;

	li->semid = semget((key_t)li->sem_key, 0, 0);
	if (li->semid < 0) {
		legacy_cat(r, len, "; its semaphore set (key 0x%08x) is gone",
		    (unsigned)li->sem_key);
		return;
	}
	arg.buf = &ds;
	if (semctl(li->semid, 0, IPC_STAT, arg) != 0) {
		legacy_cat(r, len, "; semaphore set key 0x%08x id %d: %s; never "
		    "removed", (unsigned)li->sem_key, li->semid,
		    strerror(errno));
		return;
	}
	if (ds.sem_perm.uid != geteuid() || ds.sem_perm.cuid != geteuid() ||
	    ds.sem_nsems != WCORE_MONO_SEM_COUNT ||
	    (ds.sem_perm.mode & 0777) != 0600) {
		legacy_cat(r, len, "; semaphore set key 0x%08x id %d is not "
		    "Mono's (%lu semaphores, uid %u, mode %04o; Mono's has %d, "
		    "the file's owner, 0600): kept", (unsigned)li->sem_key,
		    li->semid, (unsigned long)ds.sem_nsems,
		    (unsigned)ds.sem_perm.uid,
		    (unsigned)(ds.sem_perm.mode & 0777), WCORE_MONO_SEM_COUNT);
		return;
	}
	li->sem_ours = true;
	legacy_cat(r, len, "; semaphore set key 0x%08x id %d",
	    (unsigned)li->sem_key, li->semid);
	if (wcore_mono_attach_count(n) &&
	    (c = semctl(li->semid, WCORE_MONO_SEM_ATTACH, GETVAL)) >= 0) {
		li->attach_base = wcore_mono_attach_base(n);
		c -= li->attach_base;
		li->attach = c < 0 ? 0 : c;
		legacy_cat(r, len, ", attach count %d", c);
	}
	for (i = 0; i < ds.sem_nsems; i++)
		if (semctl(li->semid, (int)i, GETNCNT) > 0 ||
		    semctl(li->semid, (int)i, GETZCNT) > 0) {
			snprintf(waiters, wlen, "processes wait on its "
			    "semaphore set");
			return;
		}
}

/*
 * The state file i of list belongs to: its files (found by name in the
 * list), its set, and whether it is in use.
 */
void
legacy_inspect(const struct wapictl *ctl, const struct target_list *list,
    size_t i, struct legacy_info *li)
{
	struct target_file tf, of;
	const struct wcore_name *n;
	uint32_t h;
	size_t j;

	memset(li, 0, sizeof(*li));
	li->semid = -1;
	li->attach = -1;
	li->data = SIZE_MAX;
	target_get(ctl, list, i, &tf);
	n = &tf.de.parsed;
	h = wcore_mono_state_hash(n);

	/* The state's files: this one and its companions in the listing. */
	for (j = 0; j < list->n && li->nfiles < LEGACY_MAX_FILES; j++) {
		if (list->v[j].shm != list->v[i].shm)
			continue;
		target_get(ctl, list, j, &of);
		if (of.de.parsed.kind < WCORE_NAME_LEGACY_DATA ||
		    (j != i && (wcore_mono_state_hash(&of.de.parsed) != h ||
		    !wcore_mono_same_state(n, &of.de.parsed))))
			continue;
		li->files[li->nfiles++] = j;
		if (of.de.parsed.kind == WCORE_NAME_LEGACY_DATA)
			li->data = j;
	}
	legacy_state(ctl, list, i, li);
	legacy_reason(ctl, list, li, i, li->reason, sizeof(li->reason));
}

/* What holds for the whole state (li->files known): li->state, li->use. */
static void
legacy_state(const struct wapictl *ctl, const struct target_list *list,
    size_t i, struct legacy_info *li)
{
	struct target_file tf;
	char waiters[80];
	const struct wcore_name *n;

	waiters[0] = '\0';
	target_get(ctl, list, i, &tf);
	n = &tf.de.parsed;
	if (!legacy_members_plain(ctl, list, li))
		return;

	/* Another host's key names a set of that host's kernel: whatever
	 * set has that key here is not the state's. */
	if (n->era != WCORE_MONO_2009_SHM && wcore_mono_eras[n->era].has_host &&
	    (ctl->host[0] == '\0' || strcmp(n->host, ctl->host) != 0)) {
		li->use = LEGACY_UNSURE;
		legacy_cat(li->state, sizeof(li->state), "; of host %s, "
		    "whose processes and semaphore sets are not visible here",
		    n->host);
		return;
	}
	if (li->data != SIZE_MAX)
		legacy_key(ctl, list, li, waiters, sizeof(waiters));
	legacy_use(ctl, list, li, waiters);
}

/*
 * A state with a member that is not a plain file of ours is never
 * touched: Mono made none such.  False when there is one (li says it).
 */
static bool
legacy_members_plain(const struct wapictl *ctl, const struct target_list *list,
    struct legacy_info *li)
{
	struct target_file of;
	size_t j;

	for (j = 0; j < li->nfiles; j++) {
		target_get(ctl, list, li->files[j], &of);
		if (S_ISREG(of.de.info.mode) && of.de.info.uid == ctl->euid)
			continue;
		li->use = LEGACY_UNSURE;
		li->never = true;
		legacy_cat(li->state, sizeof(li->state), "; but %s is %s: "
		    "never removed", of.de.name, S_ISLNK(of.de.info.mode) ?
		    "a symbolic link (not followed)" :
		    !S_ISREG(of.de.info.mode) ? "not a regular file" :
		    "owned by another user");
		return false;
	}
	return true;
}

/* The key, at its version's offset of the data file, and then its set. */
static void
legacy_key(const struct wapictl *ctl, const struct target_list *list,
    struct legacy_info *li, char *waiters, size_t wlen)
{
	struct target_file of;
	struct stat sb;
	int32_t key;
	int fd, off;

	target_get(ctl, list, li->data, &of);
	off = wcore_mono_key_offset(&of.de.parsed);
	if (off < 0) {
		legacy_cat(li->state, sizeof(li->state), "; no semaphore set "
		    "at this version");
		return;
	}
	if ((fd = openat(of.dirfd, of.de.name, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    sb.st_uid == ctl->euid && sb.st_dev == of.de.info.dev &&
	    sb.st_ino == of.de.info.ino &&
	    pread(fd, &key, sizeof(key), off) == (ssize_t)sizeof(key) &&
	    key != 0) {
		li->has_key = true;
		li->sem_key = key;
	}
	close(fd);
	if (li->has_key)
		legacy_sem(&of.de.parsed, li, waiters, wlen);
	else
		legacy_cat(li->state, sizeof(li->state), "; no semaphore key "
		    "in it");
}

/*
 * In use, idle or unsure, from the processes that map the state's files,
 * its set's attach count and waiters (from legacy_sem), and whether /proc
 * shows every process.
 */
static void
legacy_use(const struct wapictl *ctl, const struct target_list *list,
    struct legacy_info *li, const char *waiters)
{
	struct target_file of;
	struct legacy_ids ids;
	char blind[160];
	bool unsure = false;
	pid_t pid;
	size_t j;

	memset(&ids, 0, sizeof(ids));
	for (j = 0; j < li->nfiles; j++) {
		target_get(ctl, list, li->files[j], &of);
		ids.dev[ids.n] = of.de.info.dev;
		ids.ino[ids.n++] = of.de.info.ino;
	}
	pid = legacy_mapped_by(&ids, &unsure);
	if (pid > 0) {
		li->use = LEGACY_IN_USE;
		legacy_cat(li->state, sizeof(li->state), "; in use: mapped "
		    "by pid %d", (int)pid);
	} else if (li->attach > 0) {
		li->use = LEGACY_IN_USE;
		legacy_cat(li->state, sizeof(li->state), "; in use: attach "
		    "count %d", li->attach);
	} else if (waiters[0] != '\0') {
		li->use = LEGACY_IN_USE;
		legacy_cat(li->state, sizeof(li->state), "; in use: %s",
		    waiters);
	} else if (li->attach == 0 && li->sem_ours) {
		li->use = LEGACY_IDLE;	/* proof across namespaces */
		legacy_cat(li->state, sizeof(li->state), "; not in use");
	} else if (pid < 0 || legacy_blind(blind, sizeof(blind)) || unsure) {
		li->use = LEGACY_UNSURE;
		legacy_cat(li->state, sizeof(li->state), "; unsure whether "
		    "in use: %s; kept: run wapictl where it sees every "
		    "process (the host's initial PID namespace, as root) to "
		    "decide", pid < 0 ? "/proc is unreadable" :
		    unsure ? "the maps of a process of ours are unreadable" :
		    blind);
	} else {
		li->use = LEGACY_IDLE;
		legacy_cat(li->state, sizeof(li->state), "; not in use");
	}
}

/*
 * The reason shown for file j of the state li describes: its era, its
 * role, the other files of the state, then what holds for them all.
 */
void
legacy_reason(const struct wapictl *ctl, const struct target_list *list,
    const struct legacy_info *li, size_t j, char *buf, size_t len)
{
	static const char *const role[] = {
		[WCORE_NAME_LEGACY_DATA] = "data",
		[WCORE_NAME_LEGACY_SHARE] = "fileshare",
		[WCORE_NAME_LEGACY_SCRATCH] = "scratch",
	};
	struct target_file tf, of;
	const struct wcore_name *n;
	size_t k;

	target_get(ctl, list, j, &tf);
	n = &tf.de.parsed;
	snprintf(buf, len, "Mono %s (V%lu, %s names) %s file",
	    wcore_mono_release(n->version), n->version,
	    wcore_mono_eras[n->era].id, role[n->kind]);
	for (k = 0; k < li->nfiles; k++)
		if (li->files[k] != j) {
			target_get(ctl, list, li->files[k], &of);
			legacy_cat(buf, len, "; with %s", of.de.name);
		}
	legacy_cat(buf, len, "%s", li->state);
}

/* Remove the state's set if it is still the one legacy_inspect proved
 * the state's, and still unused.  0, or -errno (the caller says it). */
int
legacy_sem_remove(const struct legacy_info *li)
{
	if (!li->has_key || li->semid < 0 || !li->sem_ours)
		return 0;
	if (semget((key_t)li->sem_key, 0, 0) != li->semid)
		return -ESRCH;
	if (li->attach >= 0 &&
	    semctl(li->semid, WCORE_MONO_SEM_ATTACH, GETVAL) > li->attach_base)
		return -EBUSY;
	if (semctl(li->semid, 0, IPC_RMID) != 0)
		return -errno;
	return 0;
}
