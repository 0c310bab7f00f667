/*
 * mono-legacy: what Mono's io-layer left in ~/.wapi, for the wapictl tests.
 *
 *	mono-legacy create FILE [NSEMS]	a shared_data file whose int32 at offset
 *					4 is the key of a new SysV semaphore
 *					set of NSEMS (default 8) semaphores;
 *					prints the key
 *	mono-legacy map FILE		map FILE, print "ready PID", sleep
 *	mono-legacy exists KEY		exit 0 when a set with KEY exists
 *	mono-legacy rm KEY		remove the set (test cleanup)
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	unsigned char buf[4096];
	const char *e;
	int32_t key;
	int fd, id, n = 8, tries;
	void *p;

	if (argc >= 3 && strcmp(argv[1], "create") == 0) {
		if (argc > 3 && (n = (int)strtonum(argv[3], 1, 64, &e), e))
			errx(2, "%s: %s", argv[3], e);
		srandom((unsigned)getpid() ^ (unsigned)time(NULL));
		for (tries = 0; ; tries++) {
			key = (int32_t)(0x4d000000 | (random() & 0xffffff));
			if ((id = semget(key, n, IPC_CREAT | IPC_EXCL | 0600)) >= 0)
				break;
			if (errno != EEXIST || tries > 1000)
				err(1, "semget");
		}
		memset(buf, 0, sizeof(buf));
		memcpy(buf + 4, &key, sizeof(key));
		fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			err(1, "%s", argv[2]);
		close(fd);
		printf("%d\n", key);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "map") == 0) {
		if ((fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0)
			err(1, "%s", argv[2]);
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			err(1, "mmap");
		close(fd);
		printf("ready %d\n", (int)getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	if (argc == 3 && (strcmp(argv[1], "exists") == 0 ||
	    strcmp(argv[1], "rm") == 0)) {
		key = (int32_t)strtonum(argv[2], INT32_MIN, INT32_MAX, &e);
		if (e != NULL)
			errx(2, "%s: %s", argv[2], e);
		if ((id = semget(key, 0, 0)) < 0)
			return 1;
		if (argv[1][0] == 'r' && semctl(id, 0, IPC_RMID) != 0)
			err(1, "IPC_RMID");
		return 0;
	}
	errx(2, "usage: mono-legacy create FILE [NSEMS] | map FILE | "
	    "exists KEY | rm KEY");
}
