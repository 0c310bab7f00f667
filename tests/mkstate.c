/*
 * mkstate -- make a valid state file for test fixtures.
 *
 *	mkstate [-c HANDLES] [-H HOST] [-p] FILE
 *
 * -c handle capacity (default: WAPI_MAX_HANDLES or 65536), -H host name
 * written in the header (default: the resolved host name), -p populate:
 * named and unnamed events, an owned mutex, semaphores, a file, a process,
 * two freed slots, two attached clients holding references and a share
 * entry (tests/core/tfmt.h).  The file is created (or replaced) with mode
 * 0600; nothing is printed on success.  No lock byte is held afterwards,
 * so the file's verdict is "orphaned" (or "foreign" with another -H).
 */
#include <sys/mman.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/tfmt.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: mkstate [-c HANDLES] [-H HOST] [-p] FILE\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct wcore_layout l;
	char host[256], why[256];
	const char *errstr, *hostarg = NULL;
	long long handles = 0;
	bool populate = false;
	size_t len;
	void *map;
	int ch, error;

	while ((ch = getopt(argc, argv, "c:H:p")) != -1) {
		switch (ch) {
		case 'c':
			handles = strtonum(optarg, WAPI_MIN_HANDLES,
			    WAPI_MAX_HANDLES_LIMIT, &errstr);
			if (errstr != NULL)
				errx(2, "handle capacity %s is %s", optarg,
				    errstr);
			break;
		case 'H':
			hostarg = optarg;
			break;
		case 'p':
			populate = true;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();

	if (hostarg != NULL) {
		if (strlcpy(host, hostarg, sizeof(host)) >= sizeof(host))
			errx(2, "host name too long");
	} else if (wcore_host_name(host, sizeof(host), why, sizeof(why)) != 0)
		errx(1, "%s", why);
	if (handles != 0)
		error = wcore_layout((uint32_t)handles, WAPI_DEFAULT_CLIENTS,
		    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, &l);
	else
		error = wcore_layout_default(&l, why, sizeof(why));
	if (error != 0)
		errx(1, "%s", handles != 0 ? strerror(error) : why);

	if (tf_create(argv[0], &l, host, &map, &len) != 0)
		errx(1, "%s: cannot create the state file", argv[0]);
	if (populate)
		tf_populate(map, getpid());
	if (msync(map, len, MS_SYNC) == -1)
		err(1, "%s: msync", argv[0]);
	munmap(map, len);
	return 0;
}
