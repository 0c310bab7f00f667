/*
 * Legacy Mono files: who maps them (/proc/PID/maps, by device and inode,
 * because a PID list or a name says nothing about a file that may have been
 * replaced) and their SysV semaphore set, which `mono --wapi=semdel` used to
 * remove by hand.
 */
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"
#include "legacy.h"

static int	legacy_maps_match(pid_t, dev_t, ino_t);
static void	legacy_sem_inspect(struct legacy_info *);

/* 1 when pid maps (dev, ino), 0 when not or when we may not look. */
static int
legacy_maps_match(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	unsigned long long off, inode;
	unsigned int maj, min;
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!found && getline(&line, &cap, f) != -1) {
		/* start-end perms offset major:minor inode [path] */
		if (sscanf(line, "%*x-%*x %*s %llx %x:%x %llu", &off, &maj, &min,
		    &inode) != 4)
			continue;
		if (inode == (unsigned long long)ino && maj == major(dev) &&
		    min == minor(dev))
			found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

pid_t
legacy_mapped_by(dev_t dev, ino_t ino)
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
		if (legacy_maps_match(atoi(de->d_name), dev, ino))
			pid = atoi(de->d_name);
	}
	closedir(d);
	return pid;
}

/* Is the set of key ours, Mono-shaped and idle? */
static void
legacy_sem_inspect(struct legacy_info *li)
{
	struct semid_ds ds;
	union semun_arg {
		int val;
		struct semid_ds *buf;
		unsigned short *array;
	} arg;
	char *r = li->reason + strlen(li->reason);
	size_t left = sizeof(li->reason) - (size_t)(r - li->reason);
	unsigned long i;
	int n, z;

	li->semid = semget((key_t)li->sem_key, 0, 0);
	if (li->semid < 0) {
		snprintf(r, left, "; its semaphore set (key 0x%08x) is gone",
		    (unsigned)li->sem_key);
		return;
	}
	arg.buf = &ds;
	if (semctl(li->semid, 0, IPC_STAT, arg) != 0) {
		snprintf(r, left, "; semaphore set key 0x%08x: %s",
		    (unsigned)li->sem_key, strerror(errno));
		return;
	}
	if (ds.sem_perm.uid != geteuid() || ds.sem_perm.cuid != geteuid()) {
		snprintf(r, left, "; semaphore set key 0x%08x belongs to uid "
		    "%u: kept", (unsigned)li->sem_key, (unsigned)ds.sem_perm.uid);
		return;
	}
	if (ds.sem_nsems != LEGACY_SEM_COUNT) {
		snprintf(r, left, "; semaphore set key 0x%08x has %lu "
		    "semaphores, not Mono's %d: kept", (unsigned)li->sem_key,
		    (unsigned long)ds.sem_nsems, LEGACY_SEM_COUNT);
		return;
	}
	for (i = 0; i < ds.sem_nsems; i++) {
		n = semctl(li->semid, (int)i, GETNCNT);
		z = semctl(li->semid, (int)i, GETZCNT);
		if (n != 0 || z != 0) {
			snprintf(r, left, "; semaphore set key 0x%08x has "
			    "waiters: kept", (unsigned)li->sem_key);
			return;
		}
	}
	li->sem_removable = true;
	snprintf(r, left, "; with its semaphore set (key 0x%08x)",
	    (unsigned)li->sem_key);
}

void
legacy_inspect(int dirfd, const struct wcore_dirent *de,
    struct legacy_info *li)
{
	const char *what;
	char why[256];
	int32_t key;
	int fd;

	memset(li, 0, sizeof(*li));
	li->semid = -1;
	what = de->parsed.kind == WCORE_NAME_LEGACY_DATA ? "shared_data" :
	    de->parsed.kind == WCORE_NAME_LEGACY_SHARE ? "shared_fileshare" :
	    "shared_scratch";
	if (!S_ISREG(de->info.mode) || de->info.uid != geteuid()) {
		li->mapped_by = -1;
		snprintf(li->reason, sizeof(li->reason), "Mono %s name, but %s",
		    what, S_ISLNK(de->info.mode) ? "a symbolic link (not followed)" :
		    !S_ISREG(de->info.mode) ? "not a regular file" :
		    "owned by another user");
		return;
	}
	li->mapped_by = legacy_mapped_by(de->info.dev, de->info.ino);
	if (li->mapped_by > 0)
		snprintf(li->reason, sizeof(li->reason), "Mono %s file mapped "
		    "by pid %d", what, (int)li->mapped_by);
	else if (li->mapped_by < 0)
		snprintf(li->reason, sizeof(li->reason), "Mono %s file; "
		    "cannot tell who maps it (/proc unreadable)", what);
	else
		snprintf(li->reason, sizeof(li->reason), "Mono %s file no "
		    "process maps", what);
	if (de->parsed.kind != WCORE_NAME_LEGACY_DATA || li->mapped_by != 0)
		return;

	/* The key: read through the core's safe open, never via a link. */
	fd = wcore_state_open(dirfd, de->name, false, why, sizeof(why));
	if (fd == -ENOENT) {
		li->gone = true;
		return;
	}
	if (fd < 0) {
		li->mapped_by = -1;
		snprintf(li->reason, sizeof(li->reason), "Mono %s file: %s",
		    what, why);
		return;
	}
	if (pread(fd, &key, sizeof(key), LEGACY_SEM_KEY_OFFSET) ==
	    (ssize_t)sizeof(key) && key != 0 && key != -1) {
		li->has_key = true;
		li->sem_key = key;
		legacy_sem_inspect(li);
	}
	close(fd);
}

/* Remove the set found by legacy_inspect, if it is still the same one. */
int
legacy_sem_remove(const struct legacy_info *li)
{
	if (!li->has_key || li->semid < 0 || !li->sem_removable)
		return 0;
	if (semget((key_t)li->sem_key, 0, 0) != li->semid)
		return ESRCH;
	if (semctl(li->semid, 0, IPC_RMID) != 0)
		return errno;
	return 0;
}
