/*
 * A writer of the same user changes fields of a live state file under its
 * clients and helper (a bug, a stray write): each may damage the objects
 * it touches, never make a client spin or give one slot to two objects,
 * never crash the helper.
 *
 *  1. a stray freeze bit (WAPI_SYNC_FROZEN) in an event's word, with no
 *     wait-all behind it: a bounded wait ends at its time-out (it spun
 *     forever), and the bit is taken off with one message;
 *  2. a free list that loops back into a slot it gave out: the next
 *     creation gets a slot of its own (it got the same slot, so two
 *     objects had one number), with one message;
 *  3. the clients region's offset moved to 2^44, then a client killed: the
 *     helper releases it and lives on (it crashed walking the clients);
 *  4. handle_hwm set to 2^32-1, then a client killed that owned a mutex:
 *     the helper abandons the mutex and lives on.
 *
 * What is tampered with is what the clients map: for an anchor (the
 * default where a memory file system is at hand) its segment, which holds
 * the header they use and the tables; for a whole file the file itself.
 */
#include <sys/wait.h>

#include "tlib.h"

#define WAIT_BOUND_S	30	/* a 1 s wait not back by then spins */

/*
 * Map what the clients map, read/write: the segment of an anchor (checked
 * to be the anchor's: a segment of the same state), else the whole file.
 * With a segment directory set up, the state file must be an anchor: a
 * case that tampered with a whole file would not test what runs.
 */
static struct wapi_header *
map_state(void)
{
	static char said[512];
	struct wapi_header a, *m;
	char why[256];
	size_t len;
	void *map;
	int fd = open(t_state_path(), O_RDWR | O_CLOEXEC);

	if (fd < 0 || pread(fd, &a, sizeof(a), 0) != (ssize_t)sizeof(a) ||
	    wcore_map(fd, true, &map, &len, why, sizeof(why)) != 0) {
		printf("# cannot map %s: %s\n", t_state_path(), fd < 0 ?
		    strerror(errno) : why);
		exit(99);
	}
	close(fd);
	m = map;
	if (t_segdir[0] != '\0' && a.placement != WAPI_PLACE_ANCHOR) {
		printf("# %s is not an anchor (placement %u) although "
		    "WAPI_SEGMENT_DIR=%s\n", t_state_path(), a.placement,
		    t_segdir);
		exit(99);
	}
	if (a.placement == WAPI_PLACE_ANCHOR &&
	    (m->placement != WAPI_PLACE_SEGMENT || m->state_id != a.state_id ||
	    strncmp(m->peer, t_state_path(), sizeof(m->peer)) != 0 ||
	    len <= WAPI_HEADER_SIZE)) {
		printf("# the mapping of anchor %s is not its segment %s\n",
		    t_state_path(), a.peer);
		exit(99);
	}
	if (strcmp(said, t_state_path()) != 0) {
		printf("# tampering with %s%s\n", a.placement ==
		    WAPI_PLACE_ANCHOR ? "the segment " : "the whole file ",
		    a.placement == WAPI_PLACE_ANCHOR ? a.peer : t_state_path());
		fflush(stdout);
		snprintf(said, sizeof(said), "%s", t_state_path());
	}
	return m;
}

static uint32_t
slot_of(wapi_handle_t h)
{
	return (h & WAPI_HANDLE_INDEX_MASK) - 1;
}

/* 1. Wait 1 s on an unsignalled event whose word has a stray freeze. */
static int
frozen_waiter(void *arg)
{
	struct wapi_header *m;
	wapi_handle_t ev;
	int r;

	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (!wapi_is_shared() || wapi_event_create(NULL, 1, 0, &ev) != 0)
		return 10;
	m = map_state();
	__atomic_fetch_or(&WCORE_HANDLES(m)[slot_of(ev)].u.event.signalled,
	    WAPI_SYNC_FROZEN, __ATOMIC_SEQ_CST);
	alarm(WAIT_BOUND_S);
	r = wapi_wait(ev, 1000);
	alarm(0);
	printf("# wait: %d; message: %s\n", r, t_message);
	if (r != WAPI_WAIT_TIMEOUT)
		return 11;
	if (WCORE_HANDLES(m)[slot_of(ev)].u.event.signalled != 0)
		return 12;
	if (strstr(t_message, "stray freeze") == NULL)
		return 13;
	/* The event works as before. */
	if (wapi_event_set(ev) != 0 || wapi_wait(ev, 0) != WAPI_WAIT_OBJECT_0)
		return 14;
	return 0;
}

/* 2. A freed slot whose next link points at itself, then two creations. */
static int
free_loop(void *arg)
{
	struct wapi_header *m;
	wapi_handle_t a, b, c;
	uint32_t x;

	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (!wapi_is_shared() || wapi_event_create(NULL, 1, 0, &a) != 0)
		return 20;
	x = slot_of(a);
	wapi_handle_close(a);
	m = map_state();
	if (wcore_table_lock(m, -1, NULL) != 0)
		return 21;
	if (m->handle_free_head != x + 1) {
		wcore_table_unlock(m);
		printf("# free list head %u, want %u\n", m->handle_free_head,
		    x + 1);
		return 22;
	}
	WCORE_HANDLES(m)[x].next_free = x + 1;	/* x -> x */
	wcore_table_unlock(m);
	if (wapi_event_create(NULL, 1, 0, &b) != 0 ||
	    wapi_semaphore_create(NULL, 0, 5, &c) != 0)
		return 23;
	printf("# slots: event %u, semaphore %u; message: %s\n", slot_of(b),
	    slot_of(c), t_message);
	if (b == c || slot_of(b) == slot_of(c))
		return 24;
	if (strstr(t_message, "free list") == NULL)
		return 25;
	/* Each number still names its own object. */
	if (wapi_event_set(b) != 0 || wapi_semaphore_release(c, 1, NULL) != 0)
		return 26;
	return 0;
}

/* A client that holds a mutex and waits to be killed. */
static int
holder(void *arg)
{
	struct t_gate *g = arg;
	wapi_handle_t mx;

	wapi_init(0);
	t_gate_open(g, wapi_is_shared() && wapi_mutex_create(NULL, 1, &mx) ==
	    0 ? 'S' : 'P');
	pause();
	return 0;
}

struct released {
	struct wapi_header *m;
	uint32_t used;
};

static bool
slot_released(void *arg)
{
	struct released *r = arg;

	return __atomic_load_n(&r->m->clients_used, __ATOMIC_ACQUIRE) < r->used;
}

static bool
helper_alive(pid_t pid)
{
	char path[64], st[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	n = read(fd, st, sizeof(st) - 1);
	close(fd);
	if (n <= 0)
		return false;
	st[n] = '\0';
	p = strrchr(st, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* 3 and 4: patch() damages the live file, a client dies, the helper must
 * release it and live on. */
static void
helper_survives(const char *what, void (*patch)(struct wapi_header *))
{
	struct t_gate g, keep;
	struct released rel;
	pid_t keeper, victim, helper;

	t_gate_init(&keep);
	keeper = t_fork(holder, &keep);	/* keeps the file and helper */
	T_OK(t_gate_pass(&keep) == 'S', "%s: a client keeps the file", what);
	t_gate_init(&g);
	victim = t_fork(holder, &g);
	T_OK(t_gate_pass(&g) == 'S', "%s: a client owns a mutex", what);
	rel.m = map_state();
	helper = rel.m->helper_pid;
	rel.used = rel.m->clients_used;
	patch(rel.m);
	kill(victim, SIGKILL);
	t_wait(victim);
	T_OK(t_until(slot_released, &rel, 10000),
	    "%s: the helper released the dead client", what);
	t_msleep(200);
	T_OK(helper > 0 && helper_alive(helper),
	    "%s: the helper (pid %d) lives on", what, (int)helper);
	kill(keeper, SIGKILL);
	t_wait(keeper);
	if (helper > 0)
		kill(helper, SIGKILL);
}

static void
far_clients(struct wapi_header *m)
{
	m->regions[WAPI_R_CLIENTS].offset = (uint64_t)1 << 44;
}

static void
huge_hwm(struct wapi_header *m)
{
	m->handle_hwm = UINT32_MAX;
}

/* Each case its own file: a host name derived from the test's (whose
 * helpers t_done still finds). */
static void
own_file(int n)
{
	static char base[sizeof(t_host)];

	if (base[0] == '\0')
		snprintf(base, sizeof(base), "%s", t_host);
	if (n == 0)	/* back to the test's own: t_done kills all */
		snprintf(t_host, sizeof(t_host), "%s", base);
	else
		snprintf(t_host, sizeof(t_host), "%.*s-%d",
		    (int)sizeof(t_host) - 8, base, n);
	setenv("WAPI_SHARED_HOSTNAME", t_host, 1);
}

int
main(void)
{
	t_setup("tamper");
	own_file(1);
	T_EQ(t_wait(t_fork(frozen_waiter, NULL)), 0, "a 1 s wait on an event "
	    "with a stray freeze bit times out, the bit is taken off with a "
	    "message, and the event works");
	own_file(2);
	T_EQ(t_wait(t_fork(free_loop, NULL)), 0, "a free list looping into "
	    "a slot it gave out: the next object gets a slot of its own, with "
	    "a message");
	own_file(3);
	helper_survives("clients region moved to 2^44", far_clients);
	own_file(4);
	helper_survives("handle_hwm 2^32-1", huge_hwm);
	own_file(0);
	return t_done();
}
