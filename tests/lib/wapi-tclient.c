/*
 * wapi-tclient: a real libwapi client for the tool tests.  It attaches,
 * creates the objects asked for, says "ready PID PATH" and waits.
 *   wapi-tclient [-e NAME]... [-m NAME]... [-s NAME]... [-u N] [-w SECONDS]
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wapi.h"

int
main(int argc, char *argv[])
{
	wapi_handle_t h;
	const char *errstr, *path;
	long long secs = -1, unnamed = 0, i;
	int c, r;

	wapi_init(0);
	while ((c = getopt(argc, argv, "e:m:s:u:w:")) != -1) {
		switch (c) {
		case 'e':
			r = wapi_event_create(optarg, 1, 0, &h);
			break;
		case 'm':
			r = wapi_mutex_create(optarg, 1, &h);
			break;
		case 's':
			r = wapi_semaphore_create(optarg, 1, 10, &h);
			break;
		case 'u':
			unnamed = strtonum(optarg, 0, 1 << 22, &errstr);
			if (errstr != NULL)
				errx(2, "-u %s: %s", optarg, errstr);
			r = 0;
			break;
		case 'w':
			secs = strtonum(optarg, 0, 1 << 30, &errstr);
			if (errstr != NULL)
				errx(2, "-w %s: %s", optarg, errstr);
			r = 0;
			break;
		default:
			fprintf(stderr, "usage: wapi-tclient [-e NAME] [-m NAME] "
			    "[-s NAME] [-u N] [-w SECONDS]\n");
			return 2;
		}
		if (r != 0)
			errx(1, "-%c %s: %s", c, optarg, wapi_strerror(r));
	}
	for (i = 0; i < unnamed; i++)
		if ((r = wapi_event_create(NULL, 0, 0, &h)) != 0)
			errx(1, "unnamed event %lld: %s", i, wapi_strerror(r));
	path = wapi_state_path();
	printf("ready %d %s\n", (int)getpid(), path != NULL ? path : "private");
	fflush(stdout);
	if (secs < 0)
		for (;;)
			pause();
	sleep((unsigned)secs);
	wapi_shutdown();
	return 0;
}
