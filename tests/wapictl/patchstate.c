/*
 * patchstate: change one field of a state file the way only a crash, a
 * reboot or a long life would, for the wapictl tests.  Immutable fields get
 * a fresh checksum (wcore_checksum) so that the file stays valid.
 *
 *	patchstate FILE boot UUID		boot id (=> stale-boot)
 *	patchstate FILE helper PID START	recorded helper pid + start time
 *	patchstate FILE heartbeat AGO		heartbeat AGO seconds ago
 *	patchstate FILE gen SLOT N		generation of handle slot SLOT
 *	patchstate FILE type SLOT N		type byte of handle slot SLOT
 *	patchstate FILE version N		format version (=> incompatible)
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <err.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

static long long
num(const char *s, long long min, long long max)
{
	const char *e;
	long long v;

	v = strtonum(s, min, max, &e);
	if (e != NULL)
		errx(2, "%s: %s", s, e);
	return v;
}

int
main(int argc, char **argv)
{
	struct wapi_header *h;
	struct stat st;
	void *map;
	uint32_t slot;
	int fd;

	if (argc < 4)
		errx(2, "usage: patchstate FILE boot|helper|heartbeat|gen|type ARGS");
	if ((fd = open(argv[1], O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(fd, &st) != 0)
		err(1, "%s", argv[1]);
	if (st.st_size < WAPI_HEADER_SIZE)
		errx(1, "%s: too short", argv[1]);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		err(1, "mmap");
	h = map;
	if (strcmp(argv[2], "boot") == 0) {
		memset(h->boot_id, 0, sizeof(h->boot_id));
		strlcpy(h->boot_id, argv[3], sizeof(h->boot_id));
		h->checksum = wcore_checksum(h);
	} else if (strcmp(argv[2], "helper") == 0 && argc == 5) {
		h->helper_pid = (int32_t)num(argv[3], 0, INT32_MAX);
		h->helper_start = (uint64_t)num(argv[4], 0, LLONG_MAX);
	} else if (strcmp(argv[2], "version") == 0) {
		h->version = (uint32_t)num(argv[3], 0, UINT32_MAX);
		h->checksum = wcore_checksum(h);
	} else if (strcmp(argv[2], "heartbeat") == 0) {
		h->helper_heartbeat = wcore_now_s() - num(argv[3], 0,
		    1LL << 40);
	} else if ((strcmp(argv[2], "gen") == 0 ||
	    strcmp(argv[2], "type") == 0) && argc == 5) {
		slot = (uint32_t)num(argv[3], 0,
		    h->regions[WAPI_R_HANDLES].capacity - 1);
		if (h->regions[WAPI_R_HANDLES].offset +
		    (uint64_t)(slot + 1) * sizeof(struct wapi_handle_entry) >
		    (uint64_t)st.st_size)
			errx(1, "slot outside the file");
		if (argv[2][0] == 'g')
			WCORE_HANDLES(map)[slot].generation =
			    (uint32_t)num(argv[4], 0, UINT32_MAX);
		else
			WCORE_HANDLES(map)[slot].type =
			    (uint8_t)num(argv[4], 0, 255);
	} else
		errx(2, "unknown field or wrong arguments: %s", argv[2]);
	if (msync(map, (size_t)st.st_size, MS_SYNC) != 0)
		err(1, "msync");
	return 0;
}
