/*
 * The clean race (issue 8): `wapictl clean` runs in a loop while clients
 * start, work and exit (CLEAN_RACE_LIVES lives; some leave
 * cleanly, some without a goodbye, some are killed).  Every client checks,
 * after attaching and again after its work, that the state file's name
 * still leads to the inode it attached to and that its objects are still
 * there: a clean that removed a live file fails it.  Meanwhile orphans are
 * made on purpose (a client and its helper killed with SIGKILL, each under
 * its own host name); the cleaner runs for those hosts too, and at the end
 * every one of them must be gone and `wapictl status -A` must show nothing
 * orphaned.
 *
 * Environment: CLEAN_RACE_LIVES (default 1000),
 * CLEAN_RACE_ORPHANS (default 20), WAPICTL (required: the test is skipped
 * without it), CLEAN_RACE_STRICT (the known creation race of
 * r-create-race.c fails the test instead of being counted).
 */
#include <inttypes.h>
#include <sys/prctl.h>

#include "tlib.h"

#define CONCURRENT	6

enum {
	LIFE_OK = 0,
	LIFE_NOT_SHARED = 10,
	LIFE_NO_FD,		/* could not find our state descriptor */
	LIFE_REMOVED_AT_START,	/* path no longer names our inode */
	LIFE_REMOVED_AT_END,
	LIFE_OBJECTS_GONE,
	LIFE_KNOWN_LINKS,	/* known bug, r-create-race.c */
	LIFE_OTHER,
};

struct shm {
	uint32_t stop_cleaner;
	uint64_t cleans, clean_failures;
	uint32_t orphans_made;
	uint32_t slow_attaches;
	int64_t max_attach_ms;
	char orphan_host[64][64];
};

static struct shm *S;
static const char *wapictl;
static bool strict;

static char last_msg[512];

static void
quiet(int level, const char *msg, void *ctx)
{
	(void)level;
	(void)ctx;
	snprintf(last_msg, sizeof(last_msg), "%s", msg);
}

/* The inode of the state file this process attached to: the descriptor
 * whose link is the state path, or the creation temporary it was linked
 * from (".<name>.XXXXXX (deleted)") when this process created it. */
static int
attached_inode(const char *path, struct stat *out)
{
	char l[300], target[1024], temp[1024];
	const char *base = strrchr(path, '/') + 1;
	struct dirent *d;
	DIR *dp;
	ssize_t n;
	size_t plen = strlen(path), tlen;
	int found = -1;

	snprintf(temp, sizeof(temp), "%.*s.%s.", (int)(base - path), path, base);
	tlen = strlen(temp);
	if ((dp = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(l, sizeof(l), "/proc/self/fd/%s", d->d_name);
		n = readlink(l, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, path, plen) == 0 && (target[plen] == '\0' ||
		    strcmp(target + plen, " (deleted)") == 0))
			;
		else if (strncmp(target, temp, tlen) == 0 &&
		    strcmp(target + tlen + 6, " (deleted)") == 0)
			;
		else
			continue;
		if (fstat(atoi(d->d_name), out) == 0) {
			found = 0;
			break;
		}
	}
	closedir(dp);
	return found;
}

static bool
still_named(const char *path, const struct stat *a)
{
	struct stat b;

	return stat(path, &b) == 0 && a->st_dev == b.st_dev &&
	    a->st_ino == b.st_ino;
}

/* One client life.  how: 0 clean exit, 1 exit without wapi_shutdown (the
 * helper sees the connection drop), 2 block until killed. */
static int
client_life(int how, unsigned seed)
{
	const char *path;
	struct stat a;
	struct wapi_handle_info info;
	wapi_handle_t ev, mx, h2;
	char name[64];
	int r;

	int64_t t0 = wcore_now_mono_ns(), dt;

	wapi_set_message_handler(quiet, NULL);
	wapi_init(0);
	dt = (wcore_now_mono_ns() - t0) / 1000000;
	/* Slow attaches are the helper's stalls (r-slot-stall.c). */
	if (dt > 1000)
		__atomic_add_fetch(&S->slow_attaches, 1, __ATOMIC_SEQ_CST);
	if (dt > __atomic_load_n(&S->max_attach_ms, __ATOMIC_SEQ_CST))
		__atomic_store_n(&S->max_attach_ms, dt, __ATOMIC_SEQ_CST);
	if (!wapi_is_shared() || (path = wapi_state_path()) == NULL) {
		printf("# pid %d: %s\n", (int)getpid(), last_msg);
		/* Opened while its creator had linked but not yet unlinked
		 * the temporary: tolerated unless CLEAN_RACE_STRICT. */
		if (!strict && strstr(last_msg, "has 2 links") != NULL)
			return LIFE_KNOWN_LINKS;
		return LIFE_NOT_SHARED;
	}
	if (attached_inode(path, &a) != 0) {
		char cmd[300];

		printf("# pid %d: no descriptor for %s among:\n", (int)getpid(),
		    path);
		fflush(stdout);
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd | sed 's/^/#   /'",
		    (int)getpid());
		if (system(cmd) != 0)
			return LIFE_NO_FD;
		return LIFE_NO_FD;
	}
	if (!still_named(path, &a))
		return LIFE_REMOVED_AT_START;
	snprintf(name, sizeof(name), "cr.%d", (int)getpid());
	r = wapi_event_create(name, 1, 0, &ev);
	if (r == 0)
		r = wapi_mutex_create(NULL, 1, &mx);
	if (r != 0)
		return LIFE_OTHER;
	wapi_event_set(ev);
	t_msleep(seed % 15);
	if (how == 2) {
		for (;;)
			pause();
	}
	if (!still_named(path, &a))
		return LIFE_REMOVED_AT_END;
	if (wapi_event_open(name, &h2) != 0 || wapi_handle_info(h2, &info) != 0 ||
	    info.refs != 2 || !info.signalled ||
	    wapi_handle_info(mx, &info) != 0 || info.owner_pid != getpid())
		return LIFE_OBJECTS_GONE;
	/* The same through a fresh open of the path: the same file. */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat b;
		bool same = fd >= 0 && fstat(fd, &b) == 0 &&
		    b.st_ino == a.st_ino && b.st_dev == a.st_dev;

		if (fd >= 0)
			close(fd);
		if (!same)
			return LIFE_REMOVED_AT_END;
	}
	if (how == 1) {
		fflush(stdout);
		_exit(LIFE_OK);
	}
	wapi_shutdown();
	return LIFE_OK;
}

static void
run_clean(const char *host, bool quiet_out)
{
	char cmd[1024];
	int r;

	snprintf(cmd, sizeof(cmd), "WAPI_SHARED_HOSTNAME='%s' '%s' -q clean %s",
	    host, wapictl, quiet_out ? ">/dev/null 2>&1" : "");
	r = system(cmd);
	__atomic_add_fetch(&S->cleans, 1, __ATOMIC_SEQ_CST);
	/* 1: something had to be kept (a live file): fine here. */
	if (!WIFEXITED(r) || (WEXITSTATUS(r) != 0 && WEXITSTATUS(r) != 1))
		__atomic_add_fetch(&S->clean_failures, 1, __ATOMIC_SEQ_CST);
}

/* Cleans back to back: this host (the race), and the orphans' hosts. */
static int
cleaner(void *arg)
{
	unsigned k = 0, n;

	(void)arg;
	srandom((unsigned)getpid());
	while (!__atomic_load_n(&S->stop_cleaner, __ATOMIC_SEQ_CST)) {
		run_clean(t_host, true);
		t_msleep(random() % 5);
		n = __atomic_load_n(&S->orphans_made, __ATOMIC_SEQ_CST);
		if (n > 0 && ++k % 3 == 0)
			run_clean(S->orphan_host[k / 3 % n], true);
	}
	return 0;
}

static enum wcore_verdict
verdict_of(const char *host, char *reason, size_t len)
{
	struct wcore_status st;
	char p[512];
	int fd;

	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir, host, WAPI_ABI);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return WCORE_UNREADABLE;
	wcore_verdict(fd, host, &st);
	close(fd);
	snprintf(reason, len, "%s", st.reason);
	return st.verdict;
}

static bool
orphan_exists(const char *host)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir, host, WAPI_ABI);
	return access(p, F_OK) == 0;
}

/* A client and its helper killed with SIGKILL under host: an orphan. */
static bool
make_orphan(int k)
{
	struct t_gate ready;
	struct wapi_header h;
	char *host = S->orphan_host[k], p[512], reason[256];
	pid_t pid, helper;
	int fd, i;
	enum wcore_verdict v = WCORE_LIVE;

	snprintf(host, 64, "%.40s-o%d", t_host, k);
	t_gate_init(&ready);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		wapi_handle_t ev;

		setenv("WAPI_SHARED_HOSTNAME", host, 1);
		wapi_set_message_handler(quiet, NULL);
		wapi_init(0);
		t_gate_open(&ready, wapi_is_shared() &&
		    wapi_event_create("orphan", 1, 1, &ev) == 0 ? 'S' : 'P');
		for (;;)
			pause();
	}
	if (t_gate_pass(&ready) != 'S') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return false;
	}
	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir, host, WAPI_ABI);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	helper = fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) ?
	    h.helper_pid : 0;
	if (fd >= 0)
		close(fd);
	/* The helper first: alive, it would see the client go and clean up. */
	if (helper > 0)
		kill(helper, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (i = 0; i < 300; i++) {
		v = verdict_of(host, reason, sizeof(reason));
		if (v == WCORE_ORPHANED)
			break;
		t_msleep(10);
	}
	if (v != WCORE_ORPHANED)
		printf("# orphan %s: verdict %s (%s)\n", host,
		    wcore_verdict_name(v), reason);
	__atomic_add_fetch(&S->orphans_made, 1, __ATOMIC_SEQ_CST);
	return v == WCORE_ORPHANED;
}

int
main(void)
{
	const char *v;
	unsigned lives = 1000, norphans = 20, started = 0, done = 0, seed;
	unsigned outcome[LIFE_OTHER + 1] = { 0 }, killed = 0, crashed = 0;
	unsigned orphans_ok = 0, orphans_left = 0, drains = 0, k, next_drain;
	unsigned in_loop = 0;
	pid_t running[CONCURRENT], cl, cl2, p;
	int nrun = 0, i, status, how;
	int64_t t0 = wcore_now_mono_ns();
	char cmd[1024], out[512], line[1024];
	FILE *f;
	bool orphaned_seen = false;

	t_setup("cleanrace");
	/* Helpers leave at once: the file comes and goes all the time. */
	setenv("WAPI_HELPER_LINGER", "0", 1);
	wapictl = getenv("WAPICTL");
	if (wapictl == NULL || access(wapictl, X_OK) != 0) {
		printf("1..0 # SKIP WAPICTL is not set\n");
		t_cleanup();
		return 77;
	}
	strict = (v = getenv("CLEAN_RACE_STRICT")) != NULL && *v != '\0' &&
	    strcmp(v, "0") != 0;
	if ((v = getenv("CLEAN_RACE_LIVES")) != NULL)
		lives = (unsigned)strtoul(v, NULL, 10);
	if ((v = getenv("CLEAN_RACE_ORPHANS")) != NULL)
		norphans = (unsigned)strtoul(v, NULL, 10);
	if (norphans > 64)
		norphans = 64;
	seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	srandom(seed);
	printf("# clean race: %u lives, %u orphans, seed %u, dir %s\n", lives,
	    norphans, seed, t_dir);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED)
		return 99;
	/* Two cleaners, so that a clean is nearly always under way. */
	fflush(stdout);
	cl = t_fork(cleaner, NULL);
	cl2 = t_fork(cleaner, NULL);

	k = 0;
	next_drain = 40;
	while (started < lives || nrun > 0) {
		if (nrun < CONCURRENT && started < lives && started < next_drain) {
			how = (int)(random() % 10);
			how = how < 6 ? 0 : how < 9 ? 1 : 2;
			fflush(stdout);
			if ((p = fork()) == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				int r = client_life(how, (unsigned)random());

				fflush(stdout);
				_exit(r);
			}
			running[nrun++] = p;
			started++;
			if (how == 2) {
				/* Killed at a random moment of its life. */
				t_msleep(random() % 8);
				kill(p, SIGKILL);
			}
			continue;
		}
		if (started >= next_drain && nrun == 0) {
			/* Everyone left: the helper removes the file while
			 * clean and the next clients race it. */
			drains++;
			next_drain += 40;
			t_msleep(random() % 20);
			continue;
		}
		p = waitpid(-1, &status, 0);
		if (p < 0)
			break;
		for (i = 0; i < nrun; i++)
			if (running[i] == p)
				break;
		if (i == nrun)
			continue;	/* a helper or one of its children */
		running[i] = running[--nrun];
		done++;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			killed++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) <= LIFE_OTHER)
			outcome[WEXITSTATUS(status)]++;
		else
			crashed++;
		if (k < norphans && done >= (k + 1) * lives / (norphans + 1)) {
			orphans_ok += make_orphan((int)k);
			k++;
		}
	}
	while (k < norphans) {
		orphans_ok += make_orphan((int)k);
		k++;
	}
	__atomic_store_n(&S->stop_cleaner, 1, __ATOMIC_SEQ_CST);
	T_EQ(t_wait(cl), 0, "the first cleaner stopped");
	T_EQ(t_wait(cl2), 0, "the second cleaner stopped");

	T_EQ(outcome[LIFE_REMOVED_AT_START] + outcome[LIFE_REMOVED_AT_END], 0,
	    "no client lost its live state file to clean");
	T_EQ(outcome[LIFE_OBJECTS_GONE], 0, "every client found its objects");
	if (outcome[LIFE_NOT_SHARED] + outcome[LIFE_NO_FD] + outcome[LIFE_OTHER] +
	    crashed != 0)
		printf("# not shared %u, no descriptor %u, other %u, crashed %u\n",
		    outcome[LIFE_NOT_SHARED], outcome[LIFE_NO_FD],
		    outcome[LIFE_OTHER], crashed);
	T_EQ(outcome[LIFE_NOT_SHARED] + outcome[LIFE_NO_FD] +
	    outcome[LIFE_OTHER] + crashed, 0,
	    "every client attached shared and worked");
	T_EQ(done, lives, "every client life ended");
	T_EQ(S->clean_failures, 0, "wapictl clean never failed");
	T_EQ(orphans_ok, norphans, "every orphan was orphaned when made");

	/* Whatever the loop did not reach, a last clean per host removes. */
	for (k = 0; k < norphans; k++)
		in_loop += !orphan_exists(S->orphan_host[k]);
	for (k = 0; k < norphans; k++)
		run_clean(S->orphan_host[k], false);
	for (k = 0; k < norphans; k++)
		orphans_left += orphan_exists(S->orphan_host[k]);
	T_EQ(orphans_left, 0, "every orphan was removed by wapictl clean");
	snprintf(out, sizeof(out), "%s/status.out", t_dir);
	snprintf(cmd, sizeof(cmd), "'%s' -A status -r -n -o PATH,VERDICT >'%s' "
	    "2>&1", wapictl, out);
	i = system(cmd);
	if ((f = fopen(out, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			printf("# status -A: %s", line);
			if (strstr(line, "orphaned") != NULL ||
			    strstr(line, "stale-boot") != NULL)
				orphaned_seen = true;
		}
		fclose(f);
	}
	T_OK(!orphaned_seen && WIFEXITED(i) && WEXITSTATUS(i) != 2 &&
	    WEXITSTATUS(i) != 4, "wapictl status -A shows nothing orphaned "
	    "(status %d)", WIFEXITED(i) ? WEXITSTATUS(i) : -1);
	printf("# summary: %u client lives (%u checked clean, %u killed), "
	    "%u drains, %" PRIu64 " cleans; live files removed by clean: %u; "
	    "orphans made %u, removed %u (%u during the loop); attaches refused "
	    "during a creation (known bug) %u; attaches over 1 s %u (max %"
	    PRId64 " ms); %.1f s\n", done,
	    outcome[LIFE_OK], killed, drains, S->cleans,
	    outcome[LIFE_REMOVED_AT_START] + outcome[LIFE_REMOVED_AT_END],
	    norphans, norphans - orphans_left, in_loop,
	    outcome[LIFE_KNOWN_LINKS], S->slow_attaches, S->max_attach_ms,
	    (double)(wcore_now_mono_ns() - t0) / 1e9);
	return t_done();
}
