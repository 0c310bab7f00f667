/*
 * wapictl stop: ask this host's helper to leave, like `wineserver -k`.
 * First through its socket (WCORE_MSG_STOP, after checking the peer is our
 * user), else SIGTERM to the recorded pid if that pid still runs with the
 * recorded start time.  Then wait for the helper byte to be released: only
 * the kernel's lock says the helper is gone.  --kill sends SIGKILL when the
 * wait runs out, again only to the verified pid.
 */
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wapictl.h"

#define CMD_STOP_ASK_MS		2000	/* the helper to take and answer STOP */
#define CMD_STOP_KILL_WAIT_MS	5000	/* after SIGKILL: the kernel is quick */

static int	cmd_stop_exec(struct wapictl *, struct cmd_args *);
static int	cmd_stop_ask(int, pid_t *);
static bool	cmd_stop_wait(int, int);
static int	cmd_stop_file(struct wapictl *, const struct target_file *, int,
		    bool);
static int	cmd_stop_helper(struct wapictl *, const struct target_file *,
		    int, const struct wcore_status *, int, bool);
static int	cmd_stop_kill(struct wapictl *, const struct target_file *, int,
		    const struct wcore_status *, pid_t, pid_t, int);

enum { OPT_KILL = CMD_OPT_LONG, OPT_NO_SYSLOG };
static const struct cmd_option cmd_stop_options[] = {
	{ "wait", required_argument, 'w', "SECONDS",
	    "how long to wait for the helper to leave (default 5)",
	    CMD_ARG_SECONDS },
	{ "kill", no_argument, OPT_KILL, NULL, "then SIGKILL it" },
	{ "no-syslog", no_argument, OPT_NO_SYSLOG, NULL,
	    "do not log the signals sent to syslog" },
	CMD_OPTION_END
};

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.help = "Ask this host's helper to leave; with --kill, kill it when "
	    "it has not left\nin time.",
	.options = cmd_stop_options,
	.args = { .lower = 0, .upper = 0 },
	.this_host = "only this host's helper can be stopped from here",
	.exec = cmd_stop_exec,
};

/* Send WCORE_MSG_STOP over the helper's socket.  0, or -errno. */
static int
cmd_stop_ask(int fd, pid_t *peer)
{
	struct wcore_msg m;
	int s, e;

	if ((s = wcore_helper_socket(fd, CMD_STOP_ASK_MS, peer)) < 0)
		return s;
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_STOP;
	m.pid = getpid();
	e = wcore_msg_send(s, &m, NULL, -1);
	if (e == 0) {
		/* The reply is a courtesy: leaving closes the socket too. */
		(void)wcore_msg_recv(s, &m, NULL, 0, NULL);
	}
	close(s);
	return -e;
}

/* Poll the helper byte for up to ms; true when nobody holds it. */
static bool
cmd_stop_wait(int fd, int ms)
{
	struct timespec nap = { 0, 20 * 1000000L }, t0, t;
	int64_t spent;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (wcore_byte_held(fd, WAPI_LOCK_HELPER, F_WRLCK) == 0)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		spent = (t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (spent >= ms)
			return false;
		nanosleep(&nap, NULL);
	}
}

/* Returns the file's exit status. */
static int
cmd_stop_file(struct wapictl *ctl, const struct target_file *tf, int wait_s,
    bool kill_it)
{
	struct wcore_status st;
	int fd, rc = 0;

	fd = target_open_verdict(ctl, tf, false, &st);
	if (fd == -ENOENT)
		return 0;	/* removed since the listing: nobody to stop */
	if (fd < 0)
		return WAPICTL_EXIT_ACCESS;
	if (st.helper_byte_held)
		rc = cmd_stop_helper(ctl, tf, fd, &st, wait_s, kill_it);
	else if (!ctl->quiet)
		printf("%s: no helper running\n", tf->shown);
	close(fd);
	return rc;
}

/*
 * Ask the helper of fd to leave, else SIGTERM it, and wait wait_s seconds;
 * then kill it if kill_it.  Returns the file's exit status.
 */
static int
cmd_stop_helper(struct wapictl *ctl, const struct target_file *tf, int fd,
    const struct wcore_status *st, int wait_s, bool kill_it)
{
	pid_t hpid, peer = 0;
	uint64_t hstart;
	const char *how;
	int e;

	hpid = st->header_ok ? st->hdr.helper_pid : 0;
	hstart = st->header_ok ? st->hdr.helper_start : 0;
	if ((e = cmd_stop_ask(fd, &peer)) == 0)
		how = "asked";
	else if (hpid > 0 && wcore_pid_alive(hpid, hstart) == 1) {
		e = kill(hpid, SIGTERM) != 0 ? errno : 0;
		audit_signal(tf->path, hpid, SIGTERM, "its socket did not "
		    "answer the request to leave", e);
		if (e != 0) {
			warnx("%s: helper pid %d: cannot signal: %s", tf->shown,
			    (int)hpid, strerror(e));
			return WAPICTL_EXIT_ACCESS;
		}
		how = "sent SIGTERM to";
	} else {
		warnx("%s: the helper holds its lock but neither answers (%s) "
		    "nor runs as the recorded pid %d; stop its clients, or "
		    "find it with fuser", tf->shown, strerror(-e), (int)hpid);
		return WAPICTL_EXIT_BUSY;
	}
	if (peer > 0)
		hpid = peer;

	if (cmd_stop_wait(fd, wait_s * 1000)) {
		if (!ctl->quiet)
			printf("%s: %s helper pid %d; it left\n", tf->shown,
			    how, (int)hpid);
		return 0;
	}
	if (!kill_it) {
		warnx("%s: helper pid %d still running after %d s; run "
		    "'wapictl stop --kill'", tf->shown, (int)hpid, wait_s);
		return WAPICTL_EXIT_BUSY;
	}
	return cmd_stop_kill(ctl, tf, fd, st, hpid, peer, wait_s);
}

/*
 * SIGKILL only the process the header names, if it still is it, and wait
 * for the kernel to release its lock.  Returns the file's exit status.
 */
static int
cmd_stop_kill(struct wapictl *ctl, const struct target_file *tf, int fd,
    const struct wcore_status *st, pid_t hpid, pid_t peer, int wait_s)
{
	pid_t recorded = st->header_ok ? st->hdr.helper_pid : 0;
	char why[96];
	int e;

	if (hpid > 0 && st->header_ok && hpid == recorded &&
	    wcore_pid_alive(hpid, st->hdr.helper_start) == 1) {
		e = kill(hpid, SIGKILL) != 0 ? errno : 0;
		snprintf(why, sizeof(why), "--kill, and it had not left %d s "
		    "after the request to leave", wait_s);
		audit_signal(tf->path, hpid, SIGKILL, why, e);
		if (e != 0)
			warnx("%s: helper pid %d: cannot kill: %s", tf->shown,
			    (int)hpid, strerror(e));
	} else if (peer > 0 && peer != recorded) {
		warnx("%s: helper answered as pid %d but the file records "
		    "pid %d; not killed", tf->shown, (int)peer, (int)recorded);
		return WAPICTL_EXIT_BUSY;
	}
	if (cmd_stop_wait(fd, CMD_STOP_KILL_WAIT_MS)) {
		if (!ctl->quiet)
			printf("%s: killed helper pid %d\n", tf->shown,
			    (int)hpid);
		return 0;
	}
	warnx("%s: helper pid %d did not leave even after SIGKILL", tf->shown,
	    (int)hpid);
	return WAPICTL_EXIT_BUSY;
}

static int
cmd_stop_exec(struct wapictl *ctl, struct cmd_args *args)
{
	struct target_list list;
	struct target_file tf;
	bool kill_it = args_has(args, OPT_KILL);
	size_t i;
	int r, rc = 0, wait_s = (int)args_number(args, 'w', 5);

	if (args_has(args, OPT_NO_SYSLOG))
		audit_disable();
	if (target_dir_open(ctl, true) < 0 ||
	    target_collect(ctl, TARGET_STATE, &list) < 0)
		return WAPICTL_EXIT_ACCESS;
	if (list.n == 0 && !ctl->quiet)
		printf("no helper running (no state file for host %s)\n",
		    ctl->host);
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		r = cmd_stop_file(ctl, &tf, wait_s, kill_it);
		rc = MAX(rc, r);
	}
	target_free(&list);
	return rc;
}
