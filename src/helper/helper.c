/*
 * wapi-helper: one per state file, started detached by the first client.
 *
 * It holds the helper byte for its whole life (so a second helper exits at
 * once), and the init byte shared like any client.  It keeps one connection
 * per client; a connection that drops without a goodbye means the client
 * died, and the helper releases what it held (its references, its mutexes
 * as abandoned, its slot).  After the last client leaves it lingers, then
 * removes the state file if it can take the init byte exclusively (nobody
 * attached), and exits.  SIGTERM and `wapictl stop` end the linger at once.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helper.h"

#define HELPER_MAX_CONNS	(WAPI_MAX_CLIENTS + 16)
#define HELPER_TICK_MS		1000
#define HELPER_BIND_TRIES	8	/* tokens tried before giving up */

#define HELPER_SPAWN_FDS	256
#define HELPER_PAYLOAD		(256 * 1024)

static struct helper_conn conns[HELPER_MAX_CONNS];
static struct pollfd pfds[HELPER_MAX_CONNS + 1 + HELPER_SPAWN_FDS];
static size_t nconns;
static volatile sig_atomic_t helper_stop;
void *helper_map;
int helper_statefd = -1;
int helper_segfd = -1;
size_t helper_maplen;
static int dirfd_ = -1, lsock = -1;
static char payload[HELPER_PAYLOAD];

static char host[WAPI_HOST_MAX + 1], base[NAME_MAX + 1];

static void
helper_on_term(int sig)
{
	(void)sig;
	helper_stop = 1;
}

static void
helper_title(void)
{
	static uint32_t shown = UINT32_MAX;
	uint32_t n = 0;

	if (helper_map != NULL)
		n = ((struct wapi_header *)helper_map)->clients_used;
	if (n == shown)
		return;
	shown = n;
	setproctitle("%s %u client%s", host, n, n == 1 ? "" : "s");
}

/*
 * A client's connection dropped without a goodbye.  Its process may still
 * be closing its files: wait (bounded) for its client byte to come free,
 * then release the slot.  A client that closed its connection but lives on
 * keeps its byte, and so its slot.
 */
/* Does slot still belong to pid?  (Under the table lock.) */
static bool
helper_slot_is(int64_t slot, pid_t pid)
{
	const struct wapi_client_entry *c = &WCORE_CLIENTS(helper_map)[slot];
	bool mine;

	if (wcore_table_lock(helper_map, 1000, NULL) != 0)
		return true;	/* cannot tell: keep trying */
	mine = c->state == WAPI_CS_ATTACHED && c->pid == pid;
	wcore_table_unlock(helper_map);
	return mine;
}

/* Count a dead client's sleepers out and wake the others of their
 * objects: the records belong to the process, whoever has its slot now. */
static void
helper_sleeps_gone(const struct wcore_sleeps *sl)
{
	if (sl == NULL || wcore_table_lock(helper_map, -1, NULL) != 0)
		return;
	wcore_sleeps_release(helper_map, sl);
	wcore_table_unlock(helper_map);
}

static void
helper_client_gone(int64_t slot, pid_t pid, const struct wcore_sleeps *sl)
{
	struct wapi_client_entry *c;
	int64_t deadline = wcore_now_mono_ns() + 2000000000LL;
	struct timespec ts = { 0, 1000000 };
	uint64_t start;

	if (slot < 0)
		return;
	start = __atomic_load_n(&WCORE_CLIENTS(helper_map)[slot].start,
	    __ATOMIC_RELAXED);
	/*
	 * Its process may still be closing its files: wait (bounded) for the
	 * client byte to come free.  Should a new client have taken over the
	 * slot meanwhile (it releases what the dead one held itself), stop
	 * at once rather than wait for a byte that stays held.
	 */
	while (wcore_lock_byte(helper_statefd, WAPI_LOCK_CLIENT0 + slot,
	    F_WRLCK, 0) != 0) {
		if (!helper_slot_is(slot, pid)) {
			/* A new client took the slot, so the byte came free:
			 * this process is gone, and its threads killed in
			 * their sleep still count out (one may have been
			 * woken, holding the wake of the next sleeper). */
			helper_sleeps_gone(sl);
			return;
		}
		/* Still held: the process may live on; its records are not
		 * applied (a count too high, never too low).  One that runs
		 * and is not exiting only dropped its connection (a client
		 * whose wait for us ran out): the sweep sees its death. */
		if (wcore_pid_running(pid, start) == 1 ||
		    wcore_now_mono_ns() > deadline)
			return;
		nanosleep(&ts, NULL);
	}
	if (wcore_table_lock(helper_map, -1, NULL) == 0) {
		/* Its threads killed in their sleep count out, even if the
		 * slot has changed hands meanwhile. */
		if (sl != NULL)
			wcore_sleeps_release(helper_map, sl);
		c = &WCORE_CLIENTS(helper_map)[slot];
		if (c->state == WAPI_CS_ATTACHED && c->pid == pid)
			wcore_client_release(helper_map, (uint32_t)slot, wcore_wake_handle);
		wcore_table_unlock(helper_map);
	}
	wcore_lock_byte(helper_statefd, WAPI_LOCK_CLIENT0 + slot, F_UNLCK, 0);
}

/* Slots marked attached whose byte is free: clients that died while no
 * helper watched them (or that never connected). */
static void
helper_sweep(void)
{
	struct wapi_header *h = helper_map;
	struct wapi_client_entry *cl = WCORE_CLIENTS(helper_map);
	uint32_t cap = h->regions[WAPI_R_CLIENTS].capacity, i;

	if (wcore_table_lock(helper_map, 1000, NULL) != 0)
		return;
	for (i = 0; i < cap; i++) {
		if (cl[i].state == WAPI_CS_FREE)
			continue;
		if (wcore_lock_byte(helper_statefd, WAPI_LOCK_CLIENT0 + i, F_WRLCK, 0) != 0)
			continue;
		wcore_client_release(helper_map, i, wcore_wake_handle);
		wcore_lock_byte(helper_statefd, WAPI_LOCK_CLIENT0 + i, F_UNLCK, 0);
	}
	wcore_table_unlock(helper_map);
}

/* Connections of clients that said HELLO on their main connection. */
static uint32_t
helper_main_conns(void)
{
	uint32_t n = 0;
	size_t k;

	for (k = 0; k < nconns; k++)
		if (conns[k].slot >= 0 && conns[k].role == 0)
			n++;
	return n;
}

static void
helper_drop(size_t k)
{
	if (conns[k].sleeps != NULL)
		munmap((void *)conns[k].sleeps, sizeof(struct wcore_sleeps));
	close(conns[k].fd);
	conns[k] = conns[nconns - 1];
	nconns--;
	helper_title();
}

/* A client's sleep records (core.h): its memfd, mapped read-only after
 * checking it is a regular file of the right size.  The descriptor is
 * closed either way. */
static const struct wcore_sleeps *
helper_map_sleeps(int fd)
{
	struct stat st;
	void *p = MAP_FAILED;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size == (off_t)sizeof(struct wcore_sleeps))
		p = mmap(NULL, sizeof(struct wcore_sleeps), PROT_READ, MAP_SHARED,
		    fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void
helper_accept(void)
{
	struct helper_conn *c;
	pid_t pid;
	int fd;

	fd = accept4(lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (nconns == HELPER_MAX_CONNS ||
	    wcore_peer_check(fd, geteuid(), &pid) != 0) {
		close(fd);
		return;
	}
	c = &conns[nconns++];
	c->fd = fd;
	c->pid = pid;
	c->slot = -1;
	c->role = 0;
	c->sleeps = NULL;
	helper_title();
}

void
helper_reply(int fd, int error, int32_t value, const int *fds, int nfds)
{
	struct wcore_msg m = { .type = WCORE_MSG_OK, .error = error,
	    .value = value };

	wcore_msg_sendv(fd, &m, NULL, fds, nfds);
}

/* Returns false when the connection must be closed. */
static bool
helper_message(size_t k)
{
	struct helper_conn *c = &conns[k];
	struct wapi_header *h = helper_map;
	struct wcore_msg m;
	int r, fds[WCORE_MSG_MAX_FDS], nfds = 0;

	r = wcore_msg_recvv(c->fd, &m, payload, sizeof(payload), fds, &nfds,
	    WCORE_MSG_MAX_FDS);
	if (r == EAGAIN || r == EINTR)
		return true;
	if (r != 0) {
		/* Only the main connection's drop means the client died. */
		if (c->role == 0)
			helper_client_gone(c->slot, c->pid, c->sleeps);
		return false;
	}
	/* Only a client that said HELLO may ask for anything but STOP, PING
	 * and the segment (asked before it has a slot: it needs the tables
	 * to take one; every peer is of our uid, checked at accept). */
	if (c->slot < 0 && m.type != WCORE_MSG_HELLO &&
	    m.type != WCORE_MSG_STOP && m.type != WCORE_MSG_PING &&
	    m.type != WCORE_MSG_SEGMENT) {
		while (nfds > 0)
			close(fds[--nfds]);
		helper_reply(c->fd, EPERM, 0, NULL, 0);
		return false;
	}
	switch (m.type) {
	case WCORE_MSG_DEPOSIT:
	case WCORE_MSG_FETCH:
	case WCORE_MSG_RELEASE:
		deposit_message(c, &m, fds, nfds);
		return true;
	case WCORE_MSG_SPAWN:
	case WCORE_MSG_TERMINATE:
	case WCORE_MSG_PROC_OPEN:
		spawn_message(c, &m, payload, m.len, fds, nfds);
		return true;
	default:
		break;
	}
	if (m.type == WCORE_MSG_HELLO && m.value == 0 && nfds == 1 &&
	    c->sleeps == NULL)
		c->sleeps = helper_map_sleeps(fds[--nfds]);
	while (nfds > 0)
		close(fds[--nfds]);
	switch (m.type) {
	case WCORE_MSG_HELLO:
		if (m.pid != c->pid || m.slot >= h->regions[WAPI_R_CLIENTS].capacity ||
		    WCORE_CLIENTS(helper_map)[m.slot].pid != c->pid) {
			helper_reply(c->fd, EPERM, 0, NULL, 0);
			return false;
		}
		c->slot = m.slot;
		c->role = m.value == 1 ? 1 : 0;
		helper_reply(c->fd, 0, 0, NULL, 0);
		return true;
	case WCORE_MSG_BYE:
		/* The client released its slot itself. */
		helper_reply(c->fd, 0, 0, NULL, 0);
		return false;
	case WCORE_MSG_STOP:
		helper_reply(c->fd, 0, 0, NULL, 0);
		helper_stop = 1;
		return true;
	case WCORE_MSG_PING:
		helper_reply(c->fd, 0, 0, NULL, 0);
		return true;
	case WCORE_MSG_SEGMENT:
		/* A client that found the segment's name gone (removed by
		 * hand, or at logout) joins the live tables through ours
		 * instead of making a second set. */
		if (helper_segfd < 0)
			helper_reply(c->fd, ENOENT, 0, NULL, 0);
		else
			helper_reply(c->fd, 0, 0, &helper_segfd, 1);
		return true;
	default:
		helper_reply(c->fd, EOPNOTSUPP, 0, NULL, 0);
		return true;
	}
}

/* Remove the segment of our state file, when it is an anchor (its
 * header read back from the file: the mapping is the segment's). */
static void
helper_drop_segment(void)
{
	struct wapi_header a;
	char why[8];

	if (helper_segfd >= 0 && wcore_header_read(helper_statefd, &a, NULL,
	    why, sizeof(why)) == 0 && a.placement == WAPI_PLACE_ANCHOR) {
		/* Nobody can attach now (we hold the anchor's init byte
		 * exclusively); our own hold on it does not count. */
		(void)wcore_seg_remove(&a, helper_segfd);
	}
}

/* Remove the state file if nobody is attached (init byte exclusive). */
static bool
helper_try_remove(void)
{
	struct stat a, b;

	if (wcore_lock_byte(helper_statefd, WAPI_LOCK_INIT, F_WRLCK, 0) != 0)
		return false;
	if (fstat(helper_statefd, &a) == 0 &&
	    fstatat(dirfd_, base, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		unlinkat(dirfd_, base, 0);
		helper_drop_segment();
	}
	return true;
}

/*
 * Bind the listening socket to a name nobody else can know: a fresh random
 * token for each helper, published in the header (which only our user can
 * read) once bound.  A name already taken (by someone who read the file)
 * costs only another token.  Listening comes later (helper_start).
 */
static void
helper_bind(const char *path)
{
	struct wapi_header *h = helper_map;
	uint8_t token[WAPI_HELPER_TOKEN_LEN];
	struct sockaddr_un addr;
	socklen_t alen;
	ssize_t n;
	int tries;

	lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lsock < 0)
		err(1, "socket");
	for (tries = 1;; tries++) {
		while ((n = getrandom(token, sizeof(token), 0)) < 0 &&
		    errno == EINTR)
			;
		if (n != (ssize_t)sizeof(token))
			err(1, "%s: cannot draw the socket's token", path);
		alen = wcore_sock_addr(&addr, geteuid(), token);
		if (bind(lsock, (struct sockaddr *)&addr, alen) == 0)
			break;
		if (errno != EADDRINUSE || tries == HELPER_BIND_TRIES)
			err(1, "%s: cannot bind the helper's socket (%d "
			    "tokens tried)", path, tries);
	}
	memcpy(h->helper_token, token, sizeof(token));
}

static int
helper_open(const char *path, const char *want)
{
	char dir[PATH_MAX], name[PATH_MAX], why[256];
	struct wcore_name n;
	struct stat st;
	int r;

	strlcpy(dir, path, sizeof(dir));
	strlcpy(name, path, sizeof(name));
	strlcpy(base, basename(name), sizeof(base));
	wcore_name_parse(base, &n);
	if (n.kind != WCORE_NAME_STATE)
		errx(2, "%s: not a state file name", path);
	strlcpy(host, n.host, sizeof(host));
	dirfd_ = wcore_dir_open(dirname(dir), false, why, sizeof(why));
	if (dirfd_ < 0)
		errx(1, "%s: %s", path, why);
	helper_statefd = wcore_state_open(dirfd_, base, true, why, sizeof(why));
	if (helper_statefd < 0)
		errx(1, "%s: %s", path, why);
	/* Started for a file that another has replaced since: leave before
	 * taking any of this one's bytes. */
	if (want != NULL) {
		char have[64];

		if (fstat(helper_statefd, &st) != 0)
			exit(0);
		snprintf(have, sizeof(have), "%ju:%ju", (uintmax_t)st.st_dev,
		    (uintmax_t)st.st_ino);
		if (strcmp(want, have) != 0)
			exit(0);
	}
	/* The helper byte decides: a second helper leaves quietly. */
	if (wcore_lock_byte(helper_statefd, WAPI_LOCK_HELPER, F_WRLCK, 0) != 0)
		exit(0);
	r = wcore_lock_byte(helper_statefd, WAPI_LOCK_INIT, F_RDLCK, 5000);
	if (r != 0)
		errx(1, "%s: cannot take the init byte: %s", path, strerror(r));
	{
		struct stat now;

		if (fstat(helper_statefd, &now) != 0 || fstatat(dirfd_, base, &st,
		    AT_SYMLINK_NOFOLLOW) != 0 || st.st_ino != now.st_ino ||
		    st.st_dev != now.st_dev)
			exit(0);	/* removed meanwhile: nobody needs us */
	}
	r = wcore_map_state(helper_statefd, true, &helper_map, &helper_maplen,
	    &helper_segfd, why, sizeof(why));
	if (r != 0)
		errx(1, "%s: %s", path, why);
	/* Like each client: the segment is known in use without its anchor;
	 * and its descriptor is what clients rejoin through if its name is
	 * removed under them. */
	if (helper_segfd >= 0 && (r = wcore_lock_byte(helper_segfd,
	    WAPI_LOCK_INIT, F_RDLCK, 5000)) != 0)
		errx(1, "%s: cannot lock its segment: %s", path, strerror(r));
	(void)wcore_guard(helper_map);	/* the first: room */
	helper_bind(path);
	return 0;
}

/* WAPI_HELPER_LINGER (seconds, 0 to 86400) in ms, else 2 s. */
static int64_t
helper_linger_ms(void)
{
	const char *v, *errstr;
	int64_t ms;

	if ((v = getenv("WAPI_HELPER_LINGER")) == NULL || *v == '\0')
		return 2000;
	ms = strtonum(v, 0, 86400, &errstr) * 1000;
	if (errstr != NULL)
		errx(2, "WAPI_HELPER_LINGER=%s: %s", v, errstr);
	return ms;
}

/* Take over the opened state file: the header names us, and what a
 * predecessor left (deposit marks, clients, processes) is taken care of. */
static void
helper_start(void)
{
	struct wapi_header *h = helper_map;

	h->helper_flags = 0;
	/* The last helper's FIXED marks go before clients can see our pid
	 * and take descriptors from us by number. */
	deposit_init();
	wcore_proc_start(getpid(), &h->helper_start);
	h->helper_heartbeat = wcore_now_s();
	__atomic_store_n(&h->helper_pid, getpid(), __ATOMIC_RELEASE);
	(void)wcore_anchor_publish(helper_statefd, h);
	/* Clients take a peer whose pid is not helper_pid for a stranger:
	 * listen only now that it is ours. */
	if (listen(lsock, 128) != 0)
		err(1, "%s: cannot listen", base);
	helper_title();
	helper_sweep();
	spawn_init();
}

/*
 * Serve until stopped, or until nobody was connected for linger_ms and
 * the file could be removed.  One round: poll the listening socket, the
 * connections and the processes' descriptors, then the periodic work (the
 * heartbeat and the sweeps).
 */
static void
helper_serve(int64_t linger_ms)
{
	struct wapi_header *h = helper_map;
	int64_t idle_since, last_beat = 0, last_sweep = 0, now, left;
	int64_t last_anchor = wcore_now_s();
	size_t k;
	int n, nspawn, timeout;

	idle_since = wcore_now_mono_ns();
	while (!helper_stop) {
		pfds[0].fd = lsock;
		pfds[0].events = POLLIN;
		for (k = 0; k < nconns; k++) {
			pfds[k + 1].fd = conns[k].fd;
			pfds[k + 1].events = POLLIN;
			pfds[k + 1].revents = 0;
		}
		nspawn = spawn_pollfds(&pfds[nconns + 1], HELPER_SPAWN_FDS);
		timeout = nconns == 0 && linger_ms < HELPER_TICK_MS ?
		    (int)linger_ms / 4 + 1 : HELPER_TICK_MS;
		if (h->clients_used > helper_main_conns()) {
			/* Wake when the next sweep is due, not a full tick
			 * after whatever woke us last. */
			left = (last_sweep - wcore_now_mono_ns()) / 1000000 +
			    HELPER_TICK_MS + 1;
			if (left < timeout)
				timeout = left > 0 ? (int)left : 0;
		}
		n = poll(pfds, nconns + 1 + (size_t)nspawn, timeout);
		if (n < 0 && errno != EINTR)
			err(1, "poll");
		/* Before anything below computes a pointer into the tables:
		 * a region table changed in the live file is put back. */
		wcore_header_check(helper_map);
		if (n > 0 && nspawn > 0)
			spawn_ready(&pfds[nconns + 1], nspawn);
		if (n > 0) {
			for (k = nconns; k-- > 0;)
				if (pfds[k + 1].revents != 0 && !helper_message(k))
					helper_drop(k);
			if (pfds[0].revents & POLLIN)
				helper_accept();
		}
		now = wcore_now_mono_ns();
		if (wcore_now_s() - last_beat >= WCORE_HEARTBEAT_S) {
			last_beat = wcore_now_s();
			h->helper_heartbeat = last_beat;
			/* The anchor is on a disk: seldom (other hosts and
			 * wapictl there read it). */
			if (last_beat - last_anchor >= WCORE_ANCHOR_BEAT_S) {
				(void)wcore_anchor_publish(helper_statefd, h);
				last_anchor = last_beat;
			}
			helper_sweep();
			deposit_sweep();
			helper_title();
			last_sweep = now;
		} else if (now - last_sweep >= HELPER_TICK_MS * 1000000LL &&
		    h->clients_used > helper_main_conns()) {
			/* Clients that attached while no helper ran are not
			 * connected: only a sweep sees them die. */
			helper_sweep();
			last_sweep = now;
		}
		if (h->helper_flags & WAPI_HELPER_F_STOP)
			helper_stop = 1;
		if (nconns != 0)
			idle_since = now;
		else if (now - idle_since >= linger_ms * 1000000LL) {
			if (helper_try_remove())
				break;
			idle_since = now;	/* someone is attaching */
		}
	}
}

#define HELPER_USAGE "usage: wapi-helper STATE-FILE [DEV:INO]"

/*
 * The command line: -h and --help print the usage and exit 0; any other
 * word that begins with a dash, or a wrong count, is an error (exit 2).
 * The state file's path that libwapi passes always has a slash (DIR/.wapi/
 * NAME, DIR perhaps relative and beginning with a dash): it is no option.
 */
static void
helper_args(int argc, char *argv[])
{
	int i;

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		printf("%s\n"
		    "Keeps the shared handles of one user on one host; libwapi "
		    "starts it.\nSee wapi-helper(8).\n", HELPER_USAGE);
		exit(0);
	}
	for (i = 1; i < argc; i++)
		if (argv[i][0] == '-' && strchr(argv[i], '/') == NULL)
			errx(2, "unknown option %s\n%s (started by libwapi; "
			    "wapi-helper --help)", argv[i], HELPER_USAGE);
	if (argc != 2 && argc != 3)
		errx(2, "%s (started by libwapi; wapi-helper --help)",
		    HELPER_USAGE);
}

int
main(int argc, char *argv[])
{
	struct wapi_header *h;
	struct sigaction sa;
	int64_t linger_ms;
	size_t k;

	helper_args(argc, argv);
	setproctitle_init(argc, argv, environ);
	linger_ms = helper_linger_ms();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = helper_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	helper_open(argv[1], argc == 3 ? argv[2] : NULL);
	helper_start();
	helper_serve(linger_ms);
	/* Stopping: remove the file only when nobody is attached. */
	if (helper_stop)
		helper_try_remove();
	for (k = 0; k < nconns; k++)
		close(conns[k].fd);
	spawn_fini();
	deposit_fini();
	h = helper_map;
	if (h->helper_pid == getpid()) {
		h->helper_pid = 0;
		h->helper_start = 0;
		memset(h->helper_token, 0, sizeof(h->helper_token));
		(void)wcore_anchor_publish(helper_statefd, h);
	}
	close(lsock);
	return 0;
}
