/*
 * wapictl lock: run a command while holding this host's table lock, like
 * flock(1).  Attached clients block on their next change until it ends.
 * The lock is the robust mutex in the file, owned by wapictl's thread: it
 * cannot outlive wapictl (the next locker gets EOWNERDEAD and repairs), so
 * the command must not either: it is killed (PR_SET_PDEATHSIG, SIGKILL)
 * the moment wapictl dies, and never runs unprotected.
 */
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"

static volatile sig_atomic_t cmd_lock_child;

static int	cmd_lock_exec(struct wapictl *, int, char **);
static void	cmd_lock_forward(int);
static int	cmd_lock_run(struct wapictl *, const struct target_file *, int,
		    char **);

const struct cmd_entry cmd_lock_entry = {
	.name = "lock",
	.usage = "[-w SECONDS] [--] COMMAND [ARGS...]",
	.help = "Run COMMAND while holding the table lock of this host's "
	    "state file;\nexit with its exit status (128+N when killed by "
	    "signal N).",
	.exec = cmd_lock_exec,
};

/* SIGTERM, SIGINT, SIGHUP go to COMMAND; we unlock once it has ended. */
static void
cmd_lock_forward(int sig)
{
	int save = errno;

	if (cmd_lock_child > 0)
		kill((pid_t)cmd_lock_child, sig);
	errno = save;
}

static int
cmd_lock_run(struct wapictl *ctl, const struct target_file *tf, int wait_s,
    char **argv)
{
	struct wcore_status st;
	const struct wapi_header *h;
	void *map;
	size_t len;
	struct sigaction sa, old[3];
	sigset_t block, prev;
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	pid_t pid, w, parent;
	char why[512];
	bool recovered = false;
	int fd, e, status, rc, i;

	fd = target_open_verdict(ctl, tf, true, &st);
	if (fd == TARGET_GONE) {
		warnx("%s: cannot open: %s", tf->shown, strerror(ENOENT));
		return WAPICTL_EXIT_ACCESS;
	}
	if (fd < 0)
		return WAPICTL_EXIT_ACCESS;
	if (!st.header_ok || st.verdict == WCORE_CORRUPT ||
	    st.verdict == WCORE_INCOMPATIBLE) {
		warnx("%s: %s (%s); cannot lock it; run 'wapictl validate'",
		    tf->shown, wcore_verdict_name(st.verdict), st.reason);
		close(fd);
		return WAPICTL_EXIT_FINDINGS;
	}
	if ((e = wcore_map(fd, true, &map, &len, why, sizeof(why))) != 0) {
		warnx("%s: cannot map: %s", tf->shown, why);
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	h = map;
	e = wcore_table_lock(map, wait_s < 0 ? -1 : wait_s * 1000, &recovered);
	if (e == ETIMEDOUT || e == EBUSY) {
		warnx("%s: table lock held by pid %" PRId32 "; not obtained "
		    "within %d s", tf->shown, h->lock_holder_pid, wait_s);
		munmap(map, len);
		close(fd);
		return WAPICTL_EXIT_BUSY;
	}
	if (e != 0) {
		warnx("%s: table lock: %s%s", tf->shown, strerror(e),
		    e == ENOTRECOVERABLE ? "; run 'wapictl validate'" : "");
		munmap(map, len);
		close(fd);
		return e == ENOTRECOVERABLE ? WAPICTL_EXIT_FINDINGS :
		    WAPICTL_EXIT_ACCESS;
	}
	if (recovered && !ctl->quiet)
		warnx("%s: the previous holder of the table lock died; "
		    "repaired", tf->shown);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_lock_forward;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (i = 0; i < 3; i++) {
		sigaction(sigs[i], &sa, &old[i]);
		sigaddset(&block, sigs[i]);
	}
	/* Blocked until the child's pid is known, so none is lost. */
	sigprocmask(SIG_BLOCK, &block, &prev);
	fflush(NULL);
	parent = getpid();
	if ((pid = fork()) == -1) {
		e = errno;
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &prev, NULL);
		wcore_table_unlock(map);
		munmap(map, len);
		close(fd);
		warnx("fork: %s", strerror(e));
		return WAPICTL_EXIT_ACCESS;
	}
	if (pid == 0) {
		/* Dies with us; if we already died, do not start at all. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(WAPICTL_EXIT_ACCESS);
		for (i = 0; i < 3; i++)
			sigaction(sigs[i], &old[i], NULL);
		sigprocmask(SIG_SETMASK, &prev, NULL);
		/* The fd is close-on-exec; the mapping goes with exec. */
		execvp(argv[0], argv);
		e = errno;
		warnx("%s: %s", argv[0], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	cmd_lock_child = pid;
	sigprocmask(SIG_SETMASK, &prev, NULL);
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	cmd_lock_child = 0;
	wcore_table_unlock(map);
	for (i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	munmap(map, len);
	close(fd);
	if (w == -1) {
		warn("waitpid");
		return WAPICTL_EXIT_ACCESS;
	}
	if (WIFEXITED(status))
		rc = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		rc = 128 + WTERMSIG(status);
	else
		rc = WAPICTL_EXIT_FINDINGS;
	return rc;
}

static int
cmd_lock_exec(struct wapictl *ctl, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait",	required_argument,	NULL, 'w' },
		{ "timeout",	required_argument,	NULL, 'w' },	/* flock(1) */
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct target_list list;
	struct target_file tf;
	int ch, r, wait_s = -1;

	/* '+': the first non-option is COMMAND; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+hw:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			wapictl_cmd_usage(&cmd_lock_entry,
			    "\n  -w, --wait SECONDS  give up (exit 3) when the "
			    "lock is not obtained in time\n"
			    "                      (default: wait as long as "
			    "it takes; 0: try once)\n");
			return 0;
		case 'w':
			if ((r = wapictl_seconds(&cmd_lock_entry, optarg,
			    &wait_s)) != 0)
				return r;
			break;
		default:
			return wapictl_usage_error(&cmd_lock_entry, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return wapictl_usage_error(&cmd_lock_entry, "no COMMAND given");
	if (!target_host_is_this(ctl))
		return wapictl_usage_error(&cmd_lock_entry, "only this host's "
		    "state can be locked (a lock means nothing across hosts); "
		    "drop -H/-A");

	if ((r = target_dir_open(ctl, false)) != 0)
		return r;
	if ((r = target_collect(ctl, TARGET_STATE | TARGET_THIS_ABI,
	    &list)) != 0)
		return r;
	if (list.n == 0) {
		char shown[PATH_MAX];

		target_shown(ctl->dir, shown, sizeof(shown));
		warnx("%s: no state file for host %s (%s); nothing to lock: "
		    "no wapi process runs here", shown, ctl->host, WAPI_ABI);
		target_free(&list);
		return WAPICTL_EXIT_ACCESS;
	}
	target_get(ctl, &list, 0, &tf);
	r = cmd_lock_run(ctl, &tf, wait_s, argv);
	target_free(&list);
	return r;
}
