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

static int	cmd_stop_exec(struct wapictl *, int, char **);
static int	cmd_stop_ask(int, pid_t *);
static bool	cmd_stop_wait(int, int);
static int	cmd_stop_file(struct wapictl *, const struct target_file *, int,
		    bool);

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.usage = "[-w SECONDS] [--kill]",
	.help = "Ask this host's helper to leave; with --kill, kill it when "
	    "it has not left\nin time.",
	.exec = cmd_stop_exec,
};

/* Send WCORE_MSG_STOP over the helper's socket.  0, or an errno. */
static int
cmd_stop_ask(int fd, pid_t *peer)
{
	struct wcore_msg m;
	int s, e;

	if ((s = wcore_helper_socket(fd, CMD_STOP_ASK_MS, peer)) < 0)
		return -s;
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_STOP;
	m.pid = getpid();
	e = wcore_msg_send(s, &m, NULL, -1);
	if (e == 0) {
		/* The reply is a courtesy: leaving closes the socket too. */
		(void)wcore_msg_recv(s, &m, NULL, 0, NULL);
	}
	close(s);
	return e;
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

static int
cmd_stop_file(struct wapictl *ctl, const struct target_file *tf, int wait_s,
    bool kill_it)
{
	struct wcore_status st;
	pid_t hpid, peer = 0;
	uint64_t hstart;
	const char *how;
	int fd, e;

	fd = target_open_verdict(ctl, tf, false, &st);
	if (fd == TARGET_GONE)
		return 0;	/* removed since the listing: nobody to stop */
	if (fd < 0)
		return WAPICTL_EXIT_ACCESS;
	if (!st.helper_byte_held) {
		if (!ctl->quiet)
			printf("%s: no helper running\n", tf->shown);
		close(fd);
		return 0;
	}
	hpid = st.header_ok ? st.hdr.helper_pid : 0;
	hstart = st.header_ok ? st.hdr.helper_start : 0;

	if ((e = cmd_stop_ask(fd, &peer)) == 0)
		how = "asked";
	else if (hpid > 0 && wcore_pid_alive(hpid, hstart) == 1) {
		if (kill(hpid, SIGTERM) != 0) {
			warnx("%s: helper pid %d: cannot signal: %s", tf->shown,
			    (int)hpid, strerror(errno));
			close(fd);
			return WAPICTL_EXIT_ACCESS;
		}
		how = "sent SIGTERM to";
	} else {
		warnx("%s: the helper holds its lock but neither answers (%s) "
		    "nor runs as the recorded pid %d; stop its clients, or "
		    "find it with fuser", tf->shown, strerror(e), (int)hpid);
		close(fd);
		return WAPICTL_EXIT_BUSY;
	}
	if (peer > 0)
		hpid = peer;

	if (cmd_stop_wait(fd, wait_s * 1000)) {
		if (!ctl->quiet)
			printf("%s: %s helper pid %d; it left\n", tf->shown,
			    how, (int)hpid);
		close(fd);
		return 0;
	}
	if (!kill_it) {
		warnx("%s: helper pid %d still running after %d s; run "
		    "'wapictl stop --kill'", tf->shown, (int)hpid, wait_s);
		close(fd);
		return WAPICTL_EXIT_BUSY;
	}
	/* SIGKILL only the process the header names, if it still is it. */
	if (hpid > 0 && st.header_ok && hpid == st.hdr.helper_pid &&
	    wcore_pid_alive(hpid, hstart) == 1) {
		if (kill(hpid, SIGKILL) != 0)
			warnx("%s: helper pid %d: cannot kill: %s", tf->shown,
			    (int)hpid, strerror(errno));
	} else if (peer > 0 && peer != (st.header_ok ? st.hdr.helper_pid : 0)) {
		warnx("%s: helper answered as pid %d but the file records "
		    "pid %d; not killed", tf->shown, (int)peer,
		    st.header_ok ? (int)st.hdr.helper_pid : 0);
		close(fd);
		return WAPICTL_EXIT_BUSY;
	}
	if (cmd_stop_wait(fd, CMD_STOP_KILL_WAIT_MS)) {
		if (!ctl->quiet)
			printf("%s: killed helper pid %d\n", tf->shown,
			    (int)hpid);
		close(fd);
		return 0;
	}
	warnx("%s: helper pid %d did not leave even after SIGKILL", tf->shown,
	    (int)hpid);
	close(fd);
	return WAPICTL_EXIT_BUSY;
}

static int
cmd_stop_exec(struct wapictl *ctl, int argc, char **argv)
{
	enum { OPT_KILL = 256 };
	static const struct option longopts[] = {
		{ "wait",	required_argument,	NULL, 'w' },
		{ "kill",	no_argument,		NULL, OPT_KILL },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct target_list list;
	struct target_file tf;
	bool kill_it = false;
	size_t i;
	int ch, r, rc = 0, wait_s = 5;

	while ((ch = getopt_long(argc, argv, "hw:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			wapictl_cmd_usage(&cmd_stop_entry,
			    "\n  -w, --wait SECONDS  how long to wait for the "
			    "helper to leave (default 5)\n"
			    "      --kill          then SIGKILL it\n");
			return 0;
		case 'w':
			if ((r = wapictl_seconds(&cmd_stop_entry, optarg,
			    &wait_s)) != 0)
				return r;
			break;
		case OPT_KILL:
			kill_it = true;
			break;
		default:
			return wapictl_usage_error(&cmd_stop_entry, NULL);
		}
	}
	if (optind != argc)
		return wapictl_usage_error(&cmd_stop_entry,
		    "unexpected argument '%s'", argv[optind]);
	if (!target_host_is_this(ctl))
		return wapictl_usage_error(&cmd_stop_entry, "only this host's "
		    "helper can be stopped from here; drop -H/-A");

	if ((r = target_dir_open(ctl, true)) != 0)
		return r;
	if ((r = target_collect(ctl, TARGET_STATE, &list)) != 0)
		return r;
	if (list.n == 0 && !ctl->quiet)
		printf("no helper running (no state file for host %s)\n",
		    ctl->host);
	for (i = 0; i < list.n; i++) {
		target_get(ctl, &list, i, &tf);
		r = cmd_stop_file(ctl, &tf, wait_s, kill_it);
		if (r > rc)
			rc = r;
	}
	target_free(&list);
	return rc;
}
