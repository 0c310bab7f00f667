/*
 * Descriptor deposits: the helper keeps one duplicate of the descriptor of
 * every file, pipe and socket handle, so that any attached process can
 * fetch the same open file description by the handle's number.  A deposit
 * is keyed by slot and remembered with the full handle number, so a reused
 * slot never hands out another object's descriptor.  Deposits of handles
 * that are gone are closed on RELEASE and by the periodic sweep.
 *
 * Where it can, the helper keeps the deposit of slot i at descriptor number
 * dep_base + i, and tells fetchers dep_base in the FETCH reply: a client
 * can then take its copy with pidfd_getfd(2) without waking the helper
 * (a round trip costs two wake-ups, each an inter-processor interrupt when
 * the two ends sit on different CPUs).  Only a deposit placed there marks
 * its slot WAPI_HF_FIXED; one whose number an ordinary descriptor already
 * holds stays elsewhere, unmarked, and is fetched by message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "helper.h"
#include "spawnmsg.h"

struct deposit {
	uint32_t number;	/* 0: empty */
	int fd;
};

static struct deposit *deps;
static uint32_t ndeps;		/* capacity: the handle table's */
static uint32_t nused;
/* Above the helper's own descriptors: two connections per client at most
 * (main and watcher), plus pipes and pidfds. */
#define DEP_FIXED_BASE	8192
_Static_assert(DEP_FIXED_BASE > 2 * WAPI_MAX_CLIENTS + 1024, "fixed base");
static int dep_base;		/* 0: no fixed numbers */
static int dep_limit;		/* fixed numbers stay below: the soft limit */

static bool
deposit_table(void)
{
	const struct wapi_header *h = helper_map;

	if (deps != NULL)
		return true;
	ndeps = h->regions[WAPI_R_HANDLES].capacity;
	deps = calloc(ndeps, sizeof(*deps));
	return deps != NULL;
}

/* The slot of number when it is a live descriptor handle that client slot
 * references; -1 otherwise.  Caller holds the table lock. */
static int64_t
deposit_check(uint32_t number, int64_t slot)
{
	int64_t i = wcore_handle_slot(helper_map, number);
	unsigned t;

	if (i < 0)
		return -1;
	t = WCORE_HANDLES(helper_map)[i].type;
	if (t != WAPI_T_FILE && t != WAPI_T_PIPE && t != WAPI_T_SOCKET)
		return -1;
	if (wcore_cref_count(helper_map, (uint32_t)slot, (uint32_t)i) == 0)
		return -1;
	return i;
}

/* Move fd to the fixed number of slot i when that number is free. */
static int
deposit_place(uint32_t i, int fd)
{
	int want;

	if (dep_base == 0 || i >= (uint32_t)(dep_limit - dep_base))
		return fd;
	want = dep_base + (int)i;
	if (want == fd || fcntl(want, F_GETFD) != -1 || errno != EBADF)
		return fd;	/* ours already, or an ordinary descriptor's */
	if (dup3(fd, want, O_CLOEXEC) != want)
		return fd;
	close(fd);
	return want;
}

static void
deposit_drop(uint32_t i)
{
	if (deps[i].number == 0)
		return;
	/* Before the number can change hands (callers hold the table
	 * lock, or are leaving with the helper byte). */
	if (i < ((struct wapi_header *)helper_map)->handle_hwm)
		__atomic_fetch_and(&WCORE_HANDLES(helper_map)[i].flags,
		    (uint8_t)~WAPI_HF_FIXED, __ATOMIC_SEQ_CST);
	close(deps[i].fd);
	deps[i].number = 0;
	deps[i].fd = -1;
	nused--;
}

void
deposit_message(struct helper_conn *c, const struct wcore_msg *m, int *fds,
		int nfds)
{
	int64_t i;
	int k, err = 0;

	if (!deposit_table()) {
		err = ENOMEM;
		goto out;
	}
	if (wcore_table_lock(helper_map, 2000, NULL) != 0) {
		err = EAGAIN;
		goto out;
	}
	i = deposit_check(m->handle, c->slot);
	switch (m->type) {
	case WCORE_MSG_DEPOSIT:
		if (i < 0 || nfds != 1)
			err = i < 0 ? EBADF : EINVAL;
		else if (deps[i].number == m->handle)
			err = 0;	/* already here: keep the first */
		else {
			if (deps[i].number != 0)
				deposit_drop((uint32_t)i);	/* stale */
			deps[i].number = m->handle;
			deps[i].fd = deposit_place((uint32_t)i, fds[0]);
			nfds = 0;	/* kept */
			nused++;
			/* FIXED tells clients the copy at dep_base + i is
			 * this handle's, as long as they hold a reference
			 * (until then the deposit stays) and this helper
			 * lives (a new one clears the flag first). */
			WCORE_HANDLES(helper_map)[i].flags |= WAPI_HF_DEPOSITED |
			    (deps[i].fd == dep_base + (int)i && dep_base > 0 ?
			    WAPI_HF_FIXED : 0);
		}
		break;
	case WCORE_MSG_FETCH:
		if (i < 0)
			err = EBADF;
		else if (deps[i].number != m->handle)
			err = ENOENT;	/* not (yet) deposited again */
		break;
	case WCORE_MSG_RELEASE:
		/* The handle is gone: drop the copy, no reply. */
		i = m->handle & WAPI_HANDLE_INDEX_MASK;
		if (i >= 1 && i <= ndeps && deps[i - 1].number == m->handle &&
		    wcore_handle_slot(helper_map, m->handle) < 0)
			deposit_drop((uint32_t)(i - 1));
		wcore_table_unlock(helper_map);
		goto done;
	}
	wcore_table_unlock(helper_map);
	if (m->type == WCORE_MSG_FETCH && err == 0) {
		helper_reply(c->fd, 0, dep_base, &deps[i].fd, 1);
		goto done;
	}
out:
	helper_reply(c->fd, err, 0, NULL, 0);
done:
	for (k = 0; k < nfds; k++)
		close(fds[k]);
}

void
deposit_sweep(void)
{
	uint32_t i;

	if (deps == NULL || nused == 0)
		return;
	if (wcore_table_lock(helper_map, 1000, NULL) != 0)
		return;
	for (i = 0; i < ndeps; i++)
		if (deps[i].number != 0 &&
		    wcore_handle_slot(helper_map, deps[i].number) < 0)
			deposit_drop(i);
	wcore_table_unlock(helper_map);
}

/* A new helper holds nothing: clear the marks its predecessor left, so
 * that wapictl shows which descriptors are deposited again. */
void
deposit_init(void)
{
	struct wapi_header *h = helper_map;
	struct rlimit rl, old;
	rlim_t want;
	uint32_t i;
	int lim;

	/*
	 * Fixed numbers from DEP_FIXED_BASE on, one per slot of the table:
	 * above what the helper allocates itself, lowest first (a connection
	 * per client, a few pipes and pidfds).  The soft limit is raised
	 * towards the hard one for them; spawned programs get the old one
	 * back.  Where it stays lower, the numbers take its upper three
	 * quarters, up to the limit.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		old = rl;
		want = DEP_FIXED_BASE + (rlim_t)h->regions[WAPI_R_HANDLES].capacity;
		if (rl.rlim_cur < want) {
			rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
			if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
				wcore_spawn_nofile(&old);
			else
				rl = old;
		}
		lim = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
		if (lim >= 2 * DEP_FIXED_BASE) {
			dep_base = DEP_FIXED_BASE;
			dep_limit = lim;
		} else if (lim >= 256) {
			dep_base = lim / 4;
			dep_limit = lim;
		}
	}
	/*
	 * pidfd_getfd needs ptrace access to us.  Under Yama's ptrace_scope
	 * 1 only our ancestors have it, and clients are not: they get EPERM
	 * and fetch by message.  We do not widen that with PR_SET_PTRACER:
	 * it would open more than descriptors to every process of the user.
	 */
	if (wcore_table_lock(helper_map, 2000, NULL) != 0)
		return;
	for (i = 0; i < h->handle_hwm; i++)
		WCORE_HANDLES(helper_map)[i].flags &=
		    ~(WAPI_HF_DEPOSITED | WAPI_HF_FIXED);
	wcore_table_unlock(helper_map);
}

void
deposit_fini(void)
{
	uint32_t i;

	if (deps == NULL)
		return;
	for (i = 0; i < ndeps; i++)
		deposit_drop(i);
	free(deps);
	deps = NULL;
}
