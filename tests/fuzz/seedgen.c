/*
 * seedgen DIR: write the seed corpus (seeds.c) as DIR/KIND/NAME (KIND:
 * state, names, proto, mono), for `make fuzz`.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fuzz.h"

static void
put(const char *kind, const char *name, const void *data, size_t len,
    void *ctx)
{
	const char *dir = ctx;
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, kind);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		err(1, "%s", path);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, kind, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0)
		err(1, "%s", path);
	if (write(fd, data, len) != (ssize_t)len || close(fd) != 0)
		err(1, "%s: write", path);
}

int
main(int argc, char **argv)
{
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: seedgen DIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) != 0 && errno != EEXIST)
		err(1, "%s", argv[1]);
	if ((n = fuzz_seeds(put, argv[1])) < 0)
		errx(1, "cannot make the seeds");
	printf("seedgen: %d seeds in %s\n", n, argv[1]);
	return 0;
}
