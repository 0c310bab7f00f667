/*
 * Regression test for a bug the torture found: the repair after a table
 * lock holder's death rebuilt each attached client's reference block by
 * clearing it and writing back a copy kept on the repairer's heap.  The
 * torture kills processes seen holding the table lock, repairers among
 * them: one killed between the clear and the write-back took a live
 * client's references with it, the next repair recounted its handles
 * without them and freed objects the client still held ("audit: handle
 * ... has type 0").
 *
 * A repair now only reads the blocks of live clients.  Shown two ways:
 *  1. deterministic: the repairer maps the live client's block read-only
 *     before it takes the orphaned lock; a write to it is a SIGSEGV;
 *  2. the kill itself: repairers killed after random delays, round after
 *     round, and the live client's handles checked at the end.
 * The helper is stopped meanwhile, so that the test's processes are the
 * ones that repair.
 */
#include <sys/mman.h>

#include "tlib.h"

#define NHANDLES	300
#define ROUNDS		150

struct client {
	struct t_gate ready, done;
};

/* A live client: NHANDLES unnamed events, checked when told to. */
static int
live_client(void *arg)
{
	struct client *cl = arg;
	struct wapi_handle_info info;
	wapi_handle_t h[NHANDLES];
	int i, bad = 0;

	wapi_init(0);
	for (i = 0; i < NHANDLES; i++)
		if (!wapi_is_shared() || wapi_event_create(NULL, 1, 0, &h[i]) != 0) {
			t_gate_open(&cl->ready, 'F');
			return 1;
		}
	t_gate_open(&cl->ready, 'S');
	t_gate_pass(&cl->done);
	for (i = 0; i < NHANDLES; i++)
		if (wapi_handle_info(h[i], &info) != 0 ||
		    info.type != WAPI_TYPE_EVENT || info.refs != 1)
			bad++;
	if (bad > 0)
		printf("# %d of %d held handles lost or miscounted\n", bad,
		    NHANDLES);
	return bad > 0;
}

static void *
map_state(void)
{
	char why[256];
	size_t len;
	void *map;
	int fd = open(t_state_path(), O_RDWR | O_CLOEXEC);

	if (fd < 0 || wcore_map(fd, true, &map, &len, why, sizeof(why)) != 0)
		_exit(98);
	close(fd);
	return map;
}

/* Takes the table lock and dies in it. */
static int
dies_holding(void *arg)
{
	void *map = map_state();

	(void)arg;
	if (wcore_table_lock(map, -1, NULL) != 0)
		return 97;
	kill(getpid(), SIGKILL);
	return 96;
}

/* Takes the orphaned lock (and so repairs) with the block of the client
 * pid *arg read-only: 0 after a repair, 2 when there was none. */
static int
repairs_read_only(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	struct wapi_header *h = map_state();
	struct wapi_client_entry *cl = WCORE_CLIENTS(h);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), from, to;
	uint32_t i, cap = h->regions[WAPI_R_CLIENTS].capacity;
	bool recovered;

	for (i = 0; i < cap && cl[i].pid != pid; i++)
		;
	if (i == cap)
		return 95;
	from = (uintptr_t)(WCORE_CREFS(h) + (size_t)i * h->refs_per_client);
	to = from + (uintptr_t)h->refs_per_client * sizeof(struct wapi_cref_entry);
	from = (from + page - 1) & ~(page - 1);
	to &= ~(page - 1);
	if (to <= from || mprotect((void *)from, to - from, PROT_READ) != 0)
		return 94;
	if (wcore_table_lock(h, -1, &recovered) != 0)
		return 93;
	wcore_table_unlock(h);
	return recovered ? 0 : 2;
}

/* Takes the orphaned lock, unless killed first. */
static int
repairs(void *arg)
{
	struct t_gate *started = arg;
	void *map = map_state();

	t_gate_open(started, 'r');
	if (wcore_table_lock(map, -1, NULL) != 0)
		return 93;
	wcore_table_unlock(map);
	return 0;
}

static pid_t
helper_pid(void)
{
	struct wapi_header h;
	int fd = open(t_state_path(), O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;

	if (fd >= 0 && pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h))
		pid = h.helper_pid;
	if (fd >= 0)
		close(fd);
	return pid;
}

int
main(void)
{
	struct client cl;
	struct t_gate started;
	pid_t live, helper, r;
	int round, killed = 0, finished = 0, st;

	t_setup("repair-kill");
	t_gate_init(&cl.ready);
	t_gate_init(&cl.done);
	live = t_fork(live_client, &cl);
	T_EQ(t_gate_pass(&cl.ready), 'S', "a client holds its handles");
	helper = helper_pid();
	T_OK(helper > 0 && kill(helper, SIGSTOP) == 0,
	    "the helper (pid %d) is stopped", (int)helper);

	T_EQ(t_wait(t_fork(dies_holding, NULL)), -1,
	    "a process dies holding the table lock");
	T_EQ(t_wait(t_fork(repairs_read_only, &live)), 0,
	    "the next locker repairs without writing a live client's block "
	    "(it is mapped read-only)");

	srandom((unsigned)getpid());
	for (round = 0; round < ROUNDS; round++) {
		t_wait(t_fork(dies_holding, NULL));
		t_gate_init(&started);
		r = t_fork(repairs, &started);
		t_gate_pass(&started);
		if (round % 2 == 0) {
			struct timespec ts = { 0, random() % 400000 };

			nanosleep(&ts, NULL);
			kill(r, SIGKILL);
		}
		if (waitpid(r, &st, 0) == r && WIFSIGNALED(st))
			killed++;
		else
			finished++;
		close(started.fd[0]);
		close(started.fd[1]);
	}
	printf("# %d repairers killed, %d finished\n", killed, finished);
	fflush(stdout);
	t_gate_init(&started);
	T_EQ(t_wait(t_fork(repairs, &started)), 0, "a last locker repairs");
	kill(helper, SIGCONT);
	t_gate_open(&cl.done, 'x');
	T_EQ(t_wait(live), 0, "after repairers killed at random points, the "
	    "live client still holds all its handles, each counted once");
	return t_done();
}
