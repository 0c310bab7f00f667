/*
 * bench-validate-many -- `wapictl -A validate` against `wapictl -A status`
 * over many small state files (issue 19: "validate -A fast").
 *
 *	bench-validate-many -c WAPICTL -t SCRATCH [-n FILES] [-r ROUNDS]
 *
 * Makes FILES (default 3,000) state files of 16 handles, each of its own
 * host name, in a directory of its own under SCRATCH, twice: once with the
 * tables in segments (a directory of segments under SCRATCH, the state
 * files 4 KiB anchors) and once with the tables in the files
 * (WAPI_SEGMENT_DIR=none).  Nobody holds them, as after a crash.  Then
 * runs `wapictl -d DIR -A status` and `wapictl -d DIR -A validate`, their
 * runs interleaved round by round (ROUNDS, default 7, after one warm-up
 * run of each), output to /dev/null, and prints the medians, the ratio
 * validate / status and whether it meets the target (at most
 * VM_TARGET times status).  validate must find every file sound (exit 0).
 * Everything it made is removed at the end.  Exit status 0 when it ran
 * (whether or not the target is met), 1 on an error.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define VM_TARGET	3.0	/* validate -A over status -A, at most */
#define VM_ROUNDS_MAX	101

static const char *wapictl;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int64_t
median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_i64);
	return v[n / 2];
}

/* `wapictl -d dir -A cmd`, output to /dev/null: its wall time in ns. */
static int64_t
run_wapictl(const char *dir, const char *cmd)
{
	int64_t t = now_ns();
	pid_t pid;
	int st, nul;

	if ((pid = fork()) < 0)
		err(1, "fork");
	if (pid == 0) {
		if ((nul = open("/dev/null", O_RDWR)) >= 0) {
			dup2(nul, 1);
			dup2(nul, 2);
		}
		execl(wapictl, wapictl, "-d", dir, "-A", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			err(1, "waitpid");
	t = now_ns() - t;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		errx(1, "wapictl -d %s -A %s: status %#x (every file should "
		    "be sound; run it by hand to see why)", dir, cmd, st);
	return t;
}

/* n state files of host vm-NNNNN in dir (made), placed by segdir. */
static void
make_files(const char *dir, const char *segdir, long n)
{
	struct wcore_layout l;
	char host[32], name[128], placed[256], why[256];
	long i;
	int dfd, fd, e;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		err(1, "%s", dir);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(1, "%s", dir);
	if (setenv("WAPI_SEGMENT_DIR", segdir, 1) != 0)
		err(1, "setenv");
	if ((e = wcore_layout(16, WAPI_DEFAULT_CLIENTS,
	    WAPI_DEFAULT_CLIENT_REFS, WAPI_DEFAULT_SHARES, &l)) != 0)
		errc(1, e, "wcore_layout");
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "vm-%05ld", i);
		if (wcore_state_name(name, sizeof(name), host, WAPI_ABI) != 0)
			errx(1, "state name of %s", host);
		fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd < 0)
			err(1, "%s/%s", dir, name);
		if ((e = wcore_init_pair(fd, dfd, name, &l, host, placed,
		    sizeof(placed), why, sizeof(why))) != 0)
			errx(1, "%s/%s: %s", dir, name, why);
		if (strcmp(segdir, "none") != 0 && placed[0] != '\0')
			errx(1, "%s/%s: tables not in a segment: %s", dir, name,
			    placed);
		close(fd);
	}
	close(dfd);
}

/* Remove the files of dir, then dir. */
static void
remove_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* One placement: make, time, print its line; true when the target is met. */
static bool
bench_placement(const char *scratch, const char *label, bool seg, long n,
    int rounds)
{
	char top[PATH_MAX], dir[PATH_MAX], segdir[PATH_MAX];
	int64_t st[VM_ROUNDS_MAX], va[VM_ROUNDS_MAX], t, sm, vm;
	double ratio;
	int i;

	if ((size_t)snprintf(top, sizeof(top), "%s/vm-%s", scratch,
	    seg ? "seg" : "file") >= sizeof(top) - 16)
		errx(1, "%s: too long a path", scratch);
	snprintf(dir, sizeof(dir), "%.*s/.wapi", PATH_MAX - 16, top);
	snprintf(segdir, sizeof(segdir), "%.*s/segments", PATH_MAX - 16, top);
	if (mkdir(top, 0700) != 0)
		err(1, "%s", top);
	if (seg && mkdir(segdir, 0700) != 0)
		err(1, "%s", segdir);
	t = now_ns();
	make_files(dir, seg ? segdir : "none", n);
	fprintf(stderr, "bench-validate-many: %ld files (%s) made in %.2f s\n",
	    n, label, (double)(now_ns() - t) / 1e9);
	run_wapictl(dir, "status");	/* warm the caches */
	run_wapictl(dir, "validate");
	for (i = 0; i < rounds; i++) {
		st[i] = run_wapictl(dir, "status");
		va[i] = run_wapictl(dir, "validate");
	}
	sm = median(st, rounds);
	vm = median(va, rounds);
	ratio = (double)vm / (double)sm;
	printf("%-34s %10.1f %12.1f %7.2f  %-6s %s\n", label,
	    (double)sm / 1e6, (double)vm / 1e6, ratio, "<=3x",
	    ratio <= VM_TARGET ? "met" : "NOT MET");
	remove_dir(dir);
	if (seg)
		remove_dir(segdir);
	rmdir(top);
	return ratio <= VM_TARGET;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench-validate-many -c WAPICTL -t SCRATCH "
	    "[-n FILES] [-r ROUNDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *scratch = NULL, *errstr;
	long n = 3000;
	int ch, rounds = 7;
	bool met;

	while ((ch = getopt(argc, argv, "c:n:r:t:")) != -1) {
		switch (ch) {
		case 'c':
			wapictl = optarg;
			break;
		case 'n':
			n = (long)strtonum(optarg, 1, 100000, &errstr);
			if (errstr != NULL)
				errx(2, "-n %s: %s (1 to 100000)", optarg,
				    errstr);
			break;
		case 'r':
			rounds = (int)strtonum(optarg, 1, VM_ROUNDS_MAX,
			    &errstr);
			if (errstr != NULL)
				errx(2, "-r %s: %s (1 to %d)", optarg, errstr,
				    VM_ROUNDS_MAX);
			break;
		case 't':
			scratch = optarg;
			break;
		default:
			usage();
		}
	}
	if (wapictl == NULL || scratch == NULL || optind != argc)
		usage();
	printf("wapictl -A validate against -A status, %ld files of 16 "
	    "handles, %d rounds (medians, ms)\n", n, rounds);
	printf("%-34s %10s %12s %7s  %-6s %s\n", "placement", "status -A",
	    "validate -A", "ratio", "target", "");
	met = bench_placement(scratch, "tables in segments", true, n, rounds);
	met = bench_placement(scratch, "tables in the files (none)", false, n,
	    rounds) && met;
	printf("target (validate -A within %.0fx status -A): %s\n", VM_TARGET,
	    met ? "met" : "NOT MET");
	return 0;
}
