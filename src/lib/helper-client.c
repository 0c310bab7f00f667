/*
 * The library's side of the helper: starting it, connecting and saying
 * HELLO, and the exchanges on the main connection (wl.sock, one at a time
 * under wl.sockmu).  Every send and receive is bounded by wl.helper_ms, so
 * that a frozen helper never holds a caller: it gets ETIMEDOUT instead.
 * The messages themselves are the core's (core.h, proto.c); what the
 * helper does with them is in src/helper.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wapi-int.h"

#define WL_HELPER_WAIT_MS	3000	/* a starting helper to listen */
#define WL_HELPER_TIMEOUT_MS	10000	/* one exchange with the helper */

static bool wl_timeout_said;	/* the helper's silence was reported */

static const char *
wl_helper_path(void)
{
	const char *p = getenv("WAPI_HELPER");

	return p != NULL && *p != '\0' ? p : LIBEXECDIR "/wapi-helper";
}

/* Double fork + setsid, so the helper is nobody's child and keeps none of
 * our descriptors (its standard streams are /dev/null).  0 or errno. */
static int
wl_spawn_helper(void)
{
	const char *helper = wl_helper_path();
	char inode[64];
	struct stat st;
	pid_t pid, w;
	int status, nul;

	/* The file we hold, by device and inode: a helper started for it
	 * must not serve another file that took its name meanwhile. */
	if (fstat(wl.fd, &st) != 0)
		return errno;
	snprintf(inode, sizeof(inode), "%ju:%ju", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino);

	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		if (setsid() < 0 || (pid = fork()) < 0)
			_exit(1);
		if (pid > 0)
			_exit(0);
		nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		closefrom(3);
		signal(SIGPIPE, SIG_DFL);
		execl(helper, "wapi-helper", wl.path, inode, (char *)NULL);
		_exit(127);
	}
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	return 0;
}

/* WAPI_HELPER_TIMEOUT_MS, 1 to 3600000, else the default. */
static int
wl_helper_timeout(void)
{
	const char *v = getenv("WAPI_HELPER_TIMEOUT_MS"), *e;
	long long ms;

	if (v == NULL || *v == '\0')
		return WL_HELPER_TIMEOUT_MS;
	ms = strtonum(v, 1, 3600000, &e);
	return e == NULL ? (int)ms : WL_HELPER_TIMEOUT_MS;
}

void
wl_helper_prepare(void)
{
	wl.helper_ms = wl_helper_timeout();
	wl_timeout_said = false;
}

/* HELLO for our slot on the new connection s (role as wl_helper_dial's;
 * the main one hands over our sleep records).  0, the errno of the
 * exchange, or the helper's refusal (EPROTO for a reply that is not one). */
static int
wl_helper_hello(int s, int role)
{
	struct wcore_msg m = { .type = WCORE_MSG_HELLO, .slot = wl.slot,
	    .pid = wl.pid, .value = role };
	int r;

	r = wcore_msg_send(s, &m, NULL, role == 0 ? wl.sleepfd : -1);
	if (r == 0)
		r = wcore_msg_recv(s, &m, NULL, 0, NULL);
	if (r == 0 && (m.type != WCORE_MSG_OK || m.error != 0))
		r = m.error != 0 ? m.error : EPROTO;
	return r;
}

/* Why dialling gave up: stranger, the last try met another process at the
 * helper's name. */
static void
wl_helper_absent(bool stranger, char *why, size_t whylen)
{
	pid_t pid = ((struct wapi_header *)wl.map)->helper_pid;

	if (stranger)
		snprintf(why, whylen, "the helper's socket name is held by a "
		    "process that is not helper pid %d; 'wapictl stop' ends "
		    "the helper, and the next one takes a new name", (int)pid);
	else if (wcore_byte_held(wl.fd, WAPI_LOCK_HELPER, F_WRLCK) == 1)
		snprintf(why, whylen, "helper pid %d alive but not answering",
		    (int)pid);
	else
		snprintf(why, whylen, "the helper %s did not start",
		    wl_helper_path());
}

int
wl_helper_dial(int role, char *why, size_t whylen)
{
	struct wapi_header *h = wl.map;
	struct timespec ts = { 0, 2000000 };
	int64_t deadline = 0;
	bool spawned = false, stranger;
	int s, r;

	for (;;) {
		/* A frozen helper must not hold us: every exchange on the
		 * socket, connect included, is bounded; EAGAIN then means
		 * "did not answer". */
		s = wcore_helper_socket(wl.fd, wl.helper_ms, NULL);
		if (s >= 0) {
			r = wl_helper_hello(s, role);
			if (r == 0)
				return s;
			close(s);
			if (r == EAGAIN || r == EWOULDBLOCK)
				s = -EAGAIN;
			/* A helper that died between accept and reply: the
			 * next one will do (below, as if none answered). */
			else if (r != ECONNRESET && r != EPIPE) {
				snprintf(why, whylen, "the helper refused us: %s",
				    strerror(r));
				return -r;
			} else
				s = -ECONNRESET;
		}
		if (s == -EAGAIN) {
			snprintf(why, whylen, "helper pid %d did not answer "
			    "within %d ms (WAPI_HELPER_TIMEOUT_MS); 'wapictl "
			    "stop --kill' ends it", (int)h->helper_pid,
			    wl.helper_ms);
			return -ETIMEDOUT;
		}
		/* -EPERM, a stranger at the name: the name of a helper that
		 * died, taken since by whoever saw it, or of one that has
		 * just started or is leaving.  As if nobody answered: a
		 * helper (a new one if needed) publishes a fresh name. */
		stranger = s == -EPERM;
		r = wcore_byte_held(wl.fd, WAPI_LOCK_HELPER, F_WRLCK);
		if (r == 0 && !spawned) {
			if ((r = wl_spawn_helper()) != 0) {
				snprintf(why, whylen, "cannot start %s: %s",
				    wl_helper_path(), strerror(r));
				return -r;
			}
			spawned = true;
		}
		if (deadline == 0)
			deadline = wcore_now_ns() + WL_HELPER_WAIT_MS * 1000000LL;
		if (wcore_now_ns() > deadline) {
			wl_helper_absent(stranger, why, whylen);
			return -ETIMEDOUT;
		}
		/* A helper that lost the race to another exits; a new one
		 * may be needed again. */
		if (spawned && r == 0 && wcore_now_ns() > deadline -
		    (WL_HELPER_WAIT_MS / 2) * 1000000LL)
			spawned = false;
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 50000000)
			ts.tv_nsec *= 2;
	}
}

int
wl_helper_attach(char *why, size_t whylen)
{
	int s = wl_helper_dial(0, why, whylen);

	if (s < 0)
		return -s;
	wl.sock = s;
	return 0;
}

int
wl_request(struct wcore_msg *m, const void *payload, const int *sfds,
	   int nsfds, int32_t *value, int *fds, int *nfds, int maxfds)
{
	struct wcore_msg req = *m, rep;
	char why[256];
	int r, tries, got = 0;

	if (nfds != NULL)
		*nfds = 0;
	if (wl.mode != WL_SHARED)
		return EOPNOTSUPP;
	pthread_mutex_lock(&wl.sockmu);
	for (tries = 0; tries < 2; tries++) {
		if (wl.sock < 0 && (r = wl_helper_attach(why, sizeof(why))) != 0)
			break;
		req.slot = wl.slot;
		req.pid = wl.pid;
		r = wcore_msg_sendv(wl.sock, &req, payload, sfds, nsfds);
		if (r == 0)
			r = wcore_msg_recvv(wl.sock, &rep, NULL, 0, fds, &got,
			    fds != NULL ? maxfds : 0);
		if (r == 0)
			break;
		/* The helper died (or was replaced): connect again.  One
		 * that does not answer may still: its reply would answer
		 * our next request, so that connection goes too. */
		close(wl.sock);
		wl.sock = -1;
		if (r == EAGAIN || r == EWOULDBLOCK) {
			r = ETIMEDOUT;
			snprintf(why, sizeof(why), "helper pid %d did not "
			    "answer within %d ms (WAPI_HELPER_TIMEOUT_MS)",
			    (int)((struct wapi_header *)wl.map)->helper_pid,
			    wl.helper_ms);
			break;
		}
		if (r != EPIPE && r != ECONNRESET && r != ENOTCONN)
			break;
	}
	pthread_mutex_unlock(&wl.sockmu);
	if (r == ETIMEDOUT && !__atomic_exchange_n(&wl_timeout_said, true,
	    __ATOMIC_RELAXED))
		wl_message(WAPI_MSG_WARNING, "%s: %s; calls that need the "
		    "helper fail with ETIMEDOUT until it answers; 'wapictl "
		    "status' shows it, 'wapictl stop --kill' ends it", wl.path,
		    why);
	if (r != 0)
		return r;
	if (nfds != NULL)
		*nfds = got;
	if (value != NULL)
		*value = rep.value;
	*m = rep;
	return rep.error;
}

void
wl_helper_tell(struct wcore_msg *m)
{
	m->slot = wl.slot;
	m->pid = wl.pid;
	pthread_mutex_lock(&wl.sockmu);
	if (wl.sock >= 0)
		wcore_msg_send(wl.sock, m, NULL, -1);
	pthread_mutex_unlock(&wl.sockmu);
}

void
wl_helper_bye(void)
{
	struct wcore_msg m = { .type = WCORE_MSG_BYE, .slot = wl.slot,
	    .pid = wl.pid };

	if (wl.sock >= 0 && wcore_msg_send(wl.sock, &m, NULL, -1) == 0)
		wcore_msg_recv(wl.sock, &m, NULL, 0, NULL);
}
