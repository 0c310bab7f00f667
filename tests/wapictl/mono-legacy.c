/*
 * mono-legacy: Mono's io-layer files made as Mono made them, for the
 * wapictl tests.  Written from the facts of wapi-state(5), LEGACY MONO
 * FILES, not from Mono's code.
 *
 *	mono-legacy ERA hold DIR HOST	attach as one Mono process did: create
 *					or join the state's files in DIR, its
 *					SysV set (ftok(data, 'M'), IPC_EXCL,
 *					key+1 on a clash) and, from V10, take
 *					the attach count with SEM_UNDO; print
 *					"ready PID KEY", then wait; SIGTERM
 *					leaves through Mono's exit cleanup
 *	mono-legacy ERA exit DIR HOST	attach, then leave as Mono did at exit:
 *					from V10 the last process removes the
 *					set and both files; before, nothing
 *	mono-legacy plant KEY [NSEMS [MODE]]
 *					someone else's set (default 8 semaphores,
 *					0600) with exactly KEY; prints its id
 *	mono-legacy keyat FILE OFFSET	the int32 at OFFSET, as 0x%08x
 *	mono-legacy exists KEY		exit 0 when a set with KEY exists
 *	mono-legacy rm KEY		remove it (test cleanup)
 *
 * ERA: v12 (~/.wapi, 2005-10 names), v12shm (the mono-shared-<uid>- form,
 * DIR standing for /dev/shm, mode 0640), v11, v10 (attach count from 1),
 * v7, v6 (key at offset 8), v5 (no set), v3 (2004 daemon names, with a
 * host), v1 (2003, no host), v0 (2002, shared_data-0).  A kill -9 of a
 * holder is a crash: the files and set stay, the kernel undoes its count.
 *
 * The V12 eras also fill handle records as a live Mono did (a named
 * mutex, event and semaphore and a process), for `wapictl handles`.
 * Every key made is appended to the file $MONO_LEGACY_KEYS, if set, the
 * moment it exists, so that a test's teardown removes it even on failure.
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Mono's V12 shared structures (the native ABI's layout). */
#define V12_NAME_MAX	261	/* MAX_PATH + 1 */
#define V12_PROC_NAME	256	/* _POSIX_PATH_MAX */
struct v12_process {
	pid_t id;
	uint32_t exitstatus;
	void *main_thread;
	uint32_t create_time[2];
	uint32_t exit_time[2];
	char proc_name[V12_PROC_NAME];
	size_t min_working_set;
	size_t max_working_set;
	int waited;
};
struct v12_namedmutex {
	char name[V12_NAME_MAX];
	pid_t pid;
	unsigned long tid;	/* pthread_t */
	uint32_t recursion;
};
struct v12_namedsem {
	char name[V12_NAME_MAX];
	uint32_t val;
	int32_t max;
};
struct v12_namedevent {
	char name[V12_NAME_MAX];
	int manual;
	uint32_t set_count;
};
struct v12_handle {
	int type;		/* 9 process, 11 mutex, 12 sem, 13 event */
	uint32_t timestamp;
	uint32_t handle_refs;
	int signalled;
	union {
		struct v12_process process;
		struct v12_namedmutex namedmutex;
		struct v12_namedsem namedsem;
		struct v12_namedevent namedevent;
	} u;
};
struct v12_layout {
	uint32_t collection_count;
	int32_t sem_key;
	struct v12_handle handles[256];
};
struct v12_fileshare {
	dev_t device;
	ino_t inode;
	pid_t opened_by_pid;
	uint32_t sharemode, access, handle_refs, timestamp;
};
#define FILESHARE_SIZE	(sizeof(uint64_t) + 102400 * sizeof(struct v12_fileshare))

enum { SEM_LOCK = 6, SEM_COUNT = 7, NSEMS = 8 };

struct era {
	const char *id;
	int version;
	int key_off;		/* -1: no set */
	int count_base;		/* -1: no attach count */
	int shm;
	size_t data_size;
	const char *companion;	/* "fileshare", "scratch" or NULL */
};

static const struct era eras[] = {
	{ "v12", 12, 4, 0, 0, sizeof(struct v12_layout), "fileshare" },
	{ "v12shm", 12, 4, 0, 1, sizeof(struct v12_layout), "fileshare" },
	{ "v11", 11, 4, 0, 0, 8 + 4096 * sizeof(struct v12_handle), "fileshare" },
	{ "v10", 10, 4, 1, 0, 8 + 4096 * (sizeof(struct v12_handle) - 8),
	    "fileshare" },
	{ "v7", 7, 8, -1, 0, 1327120, "fileshare" },
	{ "v6", 6, 8, -1, 0, 1327120, "fileshare" },
	{ "v5", 5, -1, -1, 0, 1343504, "fileshare" },
	{ "v3", 3, -1, -1, 0, 1 << 20, "scratch" },
	{ "v1", 1, -1, -1, 0, 1 << 20, "scratch" },
	{ "v0", 0, -1, -1, 0, (1 << 20) + 1, NULL },
};

static const struct era *era;
static char data_path[PATH_MAX], comp_path[PATH_MAX];
static unsigned char *data;
static int semid = -1;
static volatile sig_atomic_t leave;

static void
on_term(int sig)
{
	(void)sig;
	leave = 1;
}

static void
semop1(int idx, int delta)
{
	struct sembuf op = { (unsigned short)idx, (short)delta, SEM_UNDO };

	while (semop(semid, &op, 1) != 0)
		if (errno != EINTR)
			err(1, "semop");
}

/* Mono's names for ERA: sets data_path and comp_path. */
static void
names(const char *dir, const char *host)
{
	struct utsname u;
	char pre[64] = "";
	char *p;

	if (era->shm)
		snprintf(pre, sizeof(pre), "mono-shared-%u-",
		    (unsigned)getuid());
	if (uname(&u) != 0)
		err(1, "uname");
	for (p = u.sysname; *p; p++)
		if (*p == '/')
			*p = '_';
	for (p = u.machine; *p; p++)
		if (*p == '/')
			*p = '_';
	comp_path[0] = '\0';
	switch (era->version) {
	case 0:
		snprintf(data_path, sizeof(data_path), "%s/shared_data-0", dir);
		return;
	case 1:
		snprintf(data_path, sizeof(data_path), "%s/shared_data-1-0",
		    dir);
		snprintf(comp_path, sizeof(comp_path), "%s/shared_scratch-1-0",
		    dir);
		return;
	case 3:
	case 5:
	case 6:
	case 7:
		snprintf(data_path, sizeof(data_path), "%s/shared_data-%s-%d-0",
		    dir, host, era->version);
		snprintf(comp_path, sizeof(comp_path), "%s/shared_%s-%s-%d-0",
		    dir, era->companion, host, era->version);
		return;
	default:
		snprintf(data_path, sizeof(data_path),
		    "%s/%sshared_data-%s-%s-%s-%d-%d-0", dir, pre, host,
		    u.sysname, u.machine,
		    (int)(era->version >= 11 ? sizeof(struct v12_handle) :
		    sizeof(struct v12_handle) - 8), era->version);
		snprintf(comp_path, sizeof(comp_path),
		    "%s/%sshared_fileshare-%s-%s-%s-%d-%d-0", dir, pre, host,
		    u.sysname, u.machine, (int)sizeof(struct v12_fileshare),
		    era->version);
	}
}

/* Create (O_EXCL, sized as Mono did) or join one file; map it. */
static unsigned char *
attach_file(const char *path, size_t size, int *created)
{
	mode_t mode = era->shm ? 0640 : 0600;
	struct stat sb;
	void *p;
	int fd;

	*created = 0;
	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
	if (fd >= 0) {
		*created = 1;
		if (era->shm) {
			if (ftruncate(fd, (off_t)size) != 0)
				err(1, "%s: ftruncate", path);
		} else if (lseek(fd, (off_t)size - 1, SEEK_SET) < 0 ||
		    write(fd, "", 1) != 1)
			err(1, "%s: size", path);
	} else if (errno != EEXIST ||
	    (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		err(1, "%s", path);
	if (fstat(fd, &sb) != 0 || (size_t)sb.st_size < size)
		errx(1, "%s: too small", path);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		err(1, "%s: mmap", path);
	close(fd);
	return p;
}

static void
remember_key(int32_t key)
{
	const char *f = getenv("MONO_LEGACY_KEYS");
	FILE *fp;

	if (f == NULL || *f == '\0')
		return;
	if ((fp = fopen(f, "ae")) == NULL)
		err(1, "%s", f);
	fprintf(fp, "%d\n", key);
	fclose(fp);
}

/* Mono's set: the stored key's, or a new one stored by compare-and-swap. */
static int32_t
attach_sem(void)
{
	volatile int32_t *slot = (volatile int32_t *)(data + era->key_off);
	unsigned short vals[NSEMS];
	int32_t key, old;
	int i;

	for (;;) {
		old = *slot;
		if (old != 0) {
			if ((semid = semget(old, NSEMS, 0600)) >= 0)
				return old;
			/* Its set is gone: Mono reset the key and made one. */
			__sync_val_compare_and_swap(slot, old, 0);
			continue;
		}
		key = ftok(data_path, 'M');
		while ((semid = semget(key, NSEMS, IPC_CREAT | IPC_EXCL |
		    0600)) < 0) {
			if (errno != EEXIST)
				err(1, "semget");
			key++;
		}
		remember_key(key);
		for (i = 0; i < NSEMS; i++)
			vals[i] = 1;
		if (era->version >= 11)
			vals[SEM_COUNT] = 0;
		if (semctl(semid, 0, SETALL, vals) != 0)
			err(1, "SETALL");
		if (__sync_val_compare_and_swap(slot, 0, key) == 0)
			return key;
		semctl(semid, 0, IPC_RMID);	/* another process won */
	}
}

/* What a live V12 Mono had in its table: slot 0 stays empty (a guard). */
static void
fill_v12(void)
{
	struct v12_layout *l = (struct v12_layout *)(void *)data;
	uint32_t now = (uint32_t)time(NULL);
	struct v12_handle *h;

	if (l->handles[1].type != 0)
		return;
	h = &l->handles[1];
	h->type = 11;
	h->timestamp = now;
	h->handle_refs = 2;
	snprintf(h->u.namedmutex.name, V12_NAME_MAX, "build-lock");
	h->u.namedmutex.pid = getpid();
	h->u.namedmutex.tid = 4242;
	h->u.namedmutex.recursion = 1;
	h = &l->handles[2];
	h->type = 13;
	h->timestamp = now;
	h->handle_refs = 1;
	h->signalled = 1;
	snprintf(h->u.namedevent.name, V12_NAME_MAX, "ready-ev");
	h->u.namedevent.manual = 1;
	h = &l->handles[3];
	h->type = 12;
	h->timestamp = now;
	h->handle_refs = 3;
	h->signalled = 1;
	snprintf(h->u.namedsem.name, V12_NAME_MAX, "slots");
	h->u.namedsem.val = 2;
	h->u.namedsem.max = 4;
	h = &l->handles[5];
	h->type = 9;
	h->timestamp = now;
	h->handle_refs = 1;
	h->u.process.id = getpid();
	h->u.process.exitstatus = 259;	/* STILL_ACTIVE */
	snprintf(h->u.process.proc_name, V12_PROC_NAME, "mono-service.exe");
}

/* Mono's exit cleanup: from V10 the last attached process removes all. */
static void
mono_exit(void)
{
	int n;

	if (era->count_base < 0 || semid < 0)
		return;
	semop1(SEM_LOCK, -1);
	n = semctl(semid, SEM_COUNT, GETVAL);
	if (n == 1 + era->count_base) {
		semctl(semid, 0, IPC_RMID);
		unlink(data_path);
		unlink(comp_path);
		return;
	}
	semop1(SEM_LOCK, 1);
}

static int
run(const char *action, const char *dir, const char *host)
{
	unsigned char *comp;
	sigset_t set, old;
	int32_t key = 0;
	int created;

	names(dir, host);
	umask(066);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	data = attach_file(data_path, era->data_size, &created);
	if (created && era->version <= 3) {
		/* The daemon's socket address: "\0mono-handle-daemon-...". */
		snprintf((char *)data + 1, 106, "mono-handle-daemon-%u-%d-%ld",
		    (unsigned)getuid(), (int)getpid(), (long)time(NULL));
		data[108] = 1;		/* DAEMON_RUNNING */
	}
	if (comp_path[0] != '\0')
		comp = attach_file(comp_path, strcmp(era->companion,
		    "fileshare") == 0 ? FILESHARE_SIZE : 1 << 20, &created);
	(void)comp;
	if (era->key_off >= 0)
		key = attach_sem();
	if (era->count_base >= 0) {
		semop1(SEM_LOCK, -1);
		semop1(SEM_COUNT, 1);
		semop1(SEM_LOCK, 1);
	}
	if (era->version == 12)
		fill_v12();
	printf("ready %d 0x%08x\n", (int)getpid(), (unsigned)key);
	fflush(stdout);
	if (strcmp(action, "hold") == 0)
		while (!leave)
			sigsuspend(&old);
	mono_exit();
	return 0;
}

static int32_t
key_arg(const char *s)
{
	const char *e;
	long long v;

	if (strncmp(s, "0x", 2) == 0)
		return (int32_t)(uint32_t)strtoul(s, NULL, 16);
	v = strtonum(s, INT32_MIN, INT32_MAX, &e);
	if (e != NULL)
		errx(2, "%s: %s", s, e);
	return (int32_t)v;
}

int
main(int argc, char **argv)
{
	unsigned short vals[64];
	unsigned char b[4];
	const char *e;
	int32_t key, v;
	size_t i;
	int fd, id, n = NSEMS, mode = 0600;

	for (i = 0; argc == 5 && i < sizeof(eras) / sizeof(eras[0]); i++)
		if (strcmp(argv[1], eras[i].id) == 0 &&
		    (strcmp(argv[2], "hold") == 0 ||
		    strcmp(argv[2], "exit") == 0)) {
			era = &eras[i];
			return run(argv[2], argv[3], argv[4]);
		}
	if (argc >= 3 && argc <= 5 && strcmp(argv[1], "plant") == 0) {
		key = key_arg(argv[2]);
		if (argc >= 4 && (n = (int)strtonum(argv[3], 1, 64, &e), e))
			errx(2, "%s: %s", argv[3], e);
		if (argc == 5)
			mode = (int)strtol(argv[4], NULL, 8) & 0777;
		if ((id = semget(key, n, IPC_CREAT | IPC_EXCL | mode)) < 0)
			err(1, "semget 0x%08x", (unsigned)key);
		remember_key(key);
		for (i = 0; i < (size_t)n; i++)
			vals[i] = 1;
		semctl(id, 0, SETALL, vals);
		printf("%d\n", id);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "keyat") == 0) {
		if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0)
			err(1, "%s", argv[2]);
		if (pread(fd, b, 4, (off_t)strtonum(argv[3], 0, 1 << 30, &e)) !=
		    4 || e != NULL)
			errx(1, "%s: cannot read offset %s", argv[2], argv[3]);
		memcpy(&v, b, 4);
		printf("0x%08x\n", (unsigned)v);
		return 0;
	}
	if (argc == 3 && (strcmp(argv[1], "exists") == 0 ||
	    strcmp(argv[1], "rm") == 0)) {
		key = key_arg(argv[2]);
		if (key == 0 || (id = semget(key, 0, 0)) < 0)
			return 1;
		if (argv[1][0] == 'r' && semctl(id, 0, IPC_RMID) != 0)
			err(1, "IPC_RMID");
		return 0;
	}
	errx(2, "usage: mono-legacy ERA hold|exit DIR HOST | plant KEY [NSEMS "
	    "[MODE]] | keyat FILE OFFSET | exists KEY | rm KEY");
}
