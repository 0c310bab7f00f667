/*
 * Wait records (wapi-state(5), WAITS) with real processes, and `wapictl
 * waits' on them: A owns m1 and waits for m2, B owns m2 and waits for m1.
 * The records name each sleeper and its object, validation finds them
 * sound, wapictl sees the cycle and exits 1.  B killed: A gets m2
 * abandoned, B's record goes with its slot, the cycle is gone.  A wait
 * that takes at once writes no record; one that sleeps and times out
 * leaves its record empty.
 */
#include "tlib.h"

/* The mapped tables of the test's state, read-only. */
static void *
map_state(size_t *len)
{
	char why[512];
	void *map;
	int fd, e;

	if ((fd = open(t_state_path(), O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	e = wcore_map(fd, false, &map, len, why, sizeof(why));
	close(fd);
	if (e != 0) {
		printf("# map: %s\n", why);
		return NULL;
	}
	return map;
}

/* The record of thread tid, copied into *out: true when there is one. */
static bool
record_of(pid_t tid, struct wapi_wait_record *out)
{
	const struct wapi_header *h;
	struct wapi_wait_record r;
	uint32_t i, ncl;
	size_t len;
	void *map;
	bool found = false;

	if ((map = map_state(&len)) == NULL)
		return false;
	h = map;
	ncl = h->regions[WAPI_R_CLIENTS].capacity;
	for (i = 0; i < ncl * WAPI_WAIT_RECORDS && !found; i++)
		if (wcore_wait_snapshot(&WCORE_WAITS(map)[i], &r) == 1 &&
		    r.tid == tid) {
			*out = r;
			found = true;
		}
	munmap(map, len);
	return found;
}

/* The wait records of our own client slot: seq of the first, and whether
 * every one is empty. */
static bool
own_records(uint32_t *seq0)
{
	struct wapi_client_entry *c;
	const struct wapi_header *h;
	struct wapi_wait_record *b;
	uint32_t i, k;
	size_t len;
	void *map;
	bool empty = true;

	*seq0 = UINT32_MAX;
	if ((map = map_state(&len)) == NULL)
		return false;
	h = map;
	c = WCORE_CLIENTS(map);
	for (i = 0; i < h->regions[WAPI_R_CLIENTS].capacity; i++) {
		if (c[i].state != WAPI_CS_ATTACHED || c[i].pid != getpid())
			continue;
		b = WCORE_WAIT_BLOCK(map, i);
		*seq0 = b[0].seq;
		for (k = 0; k < WAPI_WAIT_RECORDS; k++)
			empty = empty && b[k].tid == 0;
	}
	munmap(map, len);
	return empty;
}

static bool
has_record(void *arg)
{
	struct wapi_wait_record r;

	return record_of(*(pid_t *)arg, &r);
}

static bool
no_record(void *arg)
{
	return !has_record(arg);
}

/* Problems wcore_validate finds in the state now. */
static size_t
problems(void)
{
	struct wcore_report rep;
	size_t len, n;
	void *map;

	if ((map = map_state(&len)) == NULL)
		return 1;
	memset(&rep, 0, sizeof(rep));
	n = wcore_validate(map, len, &rep);
	if (n > 0) {
		char buf[256];

		wcore_problem_format(&rep.problems[0], buf, sizeof(buf));
		printf("# %s\n", buf);
	}
	wcore_report_free(&rep);
	munmap(map, len);
	return n;
}

/* `wapictl waits' (its exit status); its output into out. */
static int
run_waits(char *out, size_t outlen)
{
	const char *w = getenv("WAPICTL");
	char cmd[1024];
	size_t n;
	FILE *p;
	int st;

	if (w == NULL)
		w = "wapictl";
	snprintf(cmd, sizeof(cmd), "'%s' waits -o PID,TID,OBJECTS,OWNERS "
	    "2>&1", w);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A child: own `own' (creating both names), say so on ready, wait for a
 * byte on go, then wait for `want' and send the result on result. */
static void
child(const char *own, const char *want, int ready, int go, int result)
{
	wapi_handle_t mine, other;
	int r;
	char c;

	wapi_init(0);
	if (wapi_mutex_create(own, 0, &mine) != 0 ||
	    wapi_wait(mine, WAPI_INFINITE) != WAPI_WAIT_OBJECT_0 ||
	    wapi_mutex_create(want, 0, &other) != 0)
		_exit(3);
	if (write(ready, "r", 1) != 1 || read(go, &c, 1) != 1)
		_exit(4);
	r = wapi_wait(other, WAPI_INFINITE);
	if (write(result, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(5);
	wapi_shutdown();
	_exit(0);
}

static pid_t
start(const char *own, const char *want, int *ready, int *go, int *result)
{
	int pr[2], pg[2], pres[2];
	pid_t pid;

	if (pipe(pr) != 0 || pipe(pg) != 0 || pipe(pres) != 0)
		exit(99);
	if ((pid = fork()) == 0) {
		close(pr[0]);
		close(pg[1]);
		close(pres[0]);
		child(own, want, pr[1], pg[0], pres[1]);
	}
	close(pr[1]);
	close(pg[0]);
	close(pres[1]);
	*ready = pr[0];
	*go = pg[1];
	*result = pres[0];
	return pid;
}

static void
test_own_path(pid_t a)
{
	wapi_handle_t m, m1;
	uint32_t seq;
	bool empty;

	/* Taken at once: no record written. */
	T_OK(wapi_mutex_create(NULL, 0, &m) == 0, "unnamed mutex");
	T_EQ(wapi_wait(m, WAPI_INFINITE), WAPI_WAIT_OBJECT_0, "taken at once");
	empty = own_records(&seq);
	T_OK(empty && seq == 0, "a wait that takes at once writes no record "
	    "(seq %u)", seq);
	wapi_mutex_release(m);
	wapi_handle_close(m);
	/* m1 is A's: a timed wait sleeps, then leaves its record empty. */
	T_OK(wapi_mutex_open("t-waits-m1", &m1) == 0, "open m1");
	T_EQ(wapi_wait(m1, 50), WAPI_WAIT_TIMEOUT, "m1 held by A: timeout");
	empty = own_records(&seq);
	T_OK(empty && seq == 4, "a wait that slept leaves its record empty, "
	    "written and cleared (seq %u)", seq);
	wapi_handle_close(m1);
	(void)a;
}

int
main(void)
{
	struct wapi_wait_record r;
	int ra, ga, resa, rb, gb, resb, got, st;
	char out[8192], c;
	pid_t a, b;

	t_setup("t-waits");
	wapi_init(0);
	a = start("t-waits-m1", "t-waits-m2", &ra, &ga, &resa);
	T_OK(read(ra, &c, 1) == 1, "A owns m1");
	b = start("t-waits-m2", "t-waits-m1", &rb, &gb, &resb);
	T_OK(read(rb, &c, 1) == 1, "B owns m2");
	test_own_path(a);
	T_OK(write(gb, "g", 1) == 1 && write(ga, "g", 1) == 1, "both wait");
	T_OK(t_until(has_record, &a, 5000) && t_until(has_record, &b, 5000),
	    "A and B have wait records");
	T_OK(record_of(a, &r) && r.count == 1 && r.wflags == 0 &&
	    r.timeout_ms == WAPI_WAIT_FOREVER && r.since > 0 &&
	    r.handles[0] != 0 && r.handles[1] == 0, "A's record: one object, "
	    "no timeout, a start");
	T_EQ(problems(), 0, "validation finds the records sound");
	got = run_waits(out, sizeof(out));
	T_EQ(got, 1, "wapictl waits exits 1 on the cycle");
	T_OK(strstr(out, "cycle of 2 threads (a deadlock)") != NULL &&
	    strstr(out, "'t-waits-m2'") != NULL, "it shows the cycle");
	if (got != 1)
		printf("# %s", out);

	kill(b, SIGKILL);
	waitpid(b, &st, 0);
	T_OK(read(resa, &got, sizeof(got)) == (ssize_t)sizeof(got) &&
	    got == WAPI_WAIT_ABANDONED_0, "B killed: A gets m2 abandoned");
	T_OK(t_until(no_record, &b, 5000), "B's record went with its slot");
	waitpid(a, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "A finished");
	T_OK(t_until(no_record, &a, 5000), "A's record is empty");
	got = run_waits(out, sizeof(out));
	T_EQ(got, 0, "wapictl waits: no cycle left");
	T_OK(strstr(out, "cycle") == NULL, "no cycle shown");
	T_EQ(problems(), 0, "validation after the kill");
	wapi_shutdown();
	return t_done();
}
