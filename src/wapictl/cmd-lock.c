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
static const int cmd_lock_sigs[3] = { SIGTERM, SIGINT, SIGHUP };

/* The lock held: the file, its mapping. */
struct cmd_lock_held {
	int		 fd;
	void		*map;
	size_t		 len;
};

static int	cmd_lock_exec(struct wapictl *, struct cmd_args *);
static void	cmd_lock_forward(int);
static int	cmd_lock_take(const struct wapictl *, const struct target_file *,
		    int, struct cmd_lock_held *);
static void	cmd_lock_release(struct cmd_lock_held *);
static int	cmd_lock_command(char **, const struct sigaction *);
static void	cmd_lock_child_exec(char **, const struct sigaction *,
		    const sigset_t *, pid_t) __attribute__((noreturn));

static const struct cmd_option cmd_lock_options[] = {
	{ "wait", required_argument, 'w', "SECONDS",
	    "give up (exit 3) when the lock is not obtained in time\n"
	    "(default: wait as long as it takes; 0: try once)",
	    CMD_ARG_SECONDS },
	/* flock(1)'s name for it; not in the help */
	{ "timeout", required_argument, 'w', "SECONDS", NULL, CMD_ARG_SECONDS },
	CMD_OPTION_END
};

const struct cmd_entry cmd_lock_entry = {
	.name = "lock",
	.help = "Run COMMAND while holding the table lock of this host's "
	    "state file;\nexit with its exit status (128+N when killed by "
	    "signal N).",
	.options = cmd_lock_options,
	/* Options end at COMMAND: the rest are COMMAND's. */
	.flags = CMD_INORDER,
	.args = { .usage = "[--] COMMAND [ARGS...]", .name = "COMMAND",
	    .lower = 1, .upper = -1 },
	.this_host = "only this host's state can be locked (a lock means "
	    "nothing across hosts)",
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

/*
 * Open the file, check it can be locked, map it and take its table lock,
 * waiting wait_s seconds at most (-1: as long as it takes).  Returns the
 * file's exit status: 0 when held.
 */
static int
cmd_lock_take(const struct wapictl *ctl, const struct target_file *tf,
    int wait_s, struct cmd_lock_held *held)
{
	struct wcore_status st;
	const struct wapi_header *h;
	char why[512];
	bool recovered = false;
	int fd, e;

	fd = target_open_verdict(ctl, tf, true, &st);
	if (fd == -ENOENT)
		warnx("%s: cannot open: %s", tf->shown, strerror(ENOENT));
	if (fd < 0)
		return WAPICTL_EXIT_ACCESS;
	if (!st.header_ok || st.verdict == WCORE_CORRUPT ||
	    st.verdict == WCORE_INCOMPATIBLE) {
		warnx("%s: %s (%s); cannot lock it; run 'wapictl validate'",
		    tf->shown, wcore_verdict_name(st.verdict), st.reason);
		close(fd);
		return WAPICTL_EXIT_FINDINGS;
	}
	if (wcore_map(fd, true, &held->map, &held->len, why,
	    sizeof(why)) != 0) {
		warnx("%s: cannot map: %s", tf->shown, why);
		close(fd);
		return WAPICTL_EXIT_ACCESS;
	}
	held->fd = fd;
	h = held->map;
	e = wcore_table_lock(held->map, wait_s < 0 ? -1 : wait_s * 1000,
	    &recovered);
	if (e == 0) {
		if (recovered && !ctl->quiet)
			warnx("%s: the previous holder of the table lock "
			    "died; repaired", tf->shown);
		return 0;
	}
	if (e == ETIMEDOUT || e == EBUSY)
		warnx("%s: table lock held by pid %" PRId32 "; not obtained "
		    "within %d s", tf->shown, h->lock_holder_pid, wait_s);
	else
		warnx("%s: table lock: %s%s", tf->shown, strerror(e),
		    e == ENOTRECOVERABLE ? "; run 'wapictl validate'" : "");
	munmap(held->map, held->len);
	close(fd);
	return e == ETIMEDOUT || e == EBUSY ? WAPICTL_EXIT_BUSY :
	    e == ENOTRECOVERABLE ? WAPICTL_EXIT_FINDINGS : WAPICTL_EXIT_ACCESS;
}

static void
cmd_lock_release(struct cmd_lock_held *held)
{
	wcore_table_unlock(held->map);
	munmap(held->map, held->len);
	close(held->fd);
}

/* In the child: COMMAND, with the signals as wapictl found them. */
static void
cmd_lock_child_exec(char **argv, const struct sigaction *old,
    const sigset_t *mask, pid_t parent)
{
	size_t i;
	int e;

	/* Dies with us; if we already died, do not start at all. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(WAPICTL_EXIT_ACCESS);
	for (i = 0; i < nitems(cmd_lock_sigs); i++)
		sigaction(cmd_lock_sigs[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* The fd is close-on-exec; the mapping goes with exec. */
	execvp(argv[0], argv);
	e = errno;
	warnx("%s: %s", argv[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/*
 * Run COMMAND and wait for it; cmd_lock_forward passes it our signals.
 * Returns its exit status, 128+N when signal N killed it.
 */
static int
cmd_lock_command(char **argv, const struct sigaction *old)
{
	sigset_t block, prev;
	pid_t pid, w, parent;
	size_t i;
	int status, e;

	sigemptyset(&block);
	for (i = 0; i < nitems(cmd_lock_sigs); i++)
		sigaddset(&block, cmd_lock_sigs[i]);
	/* Blocked until the child's pid is known, so none is lost. */
	sigprocmask(SIG_BLOCK, &block, &prev);
	fflush(NULL);
	parent = getpid();
	if ((pid = fork()) == -1) {
		e = errno;
		sigprocmask(SIG_SETMASK, &prev, NULL);
		warnx("fork: %s", strerror(e));
		return WAPICTL_EXIT_ACCESS;
	}
	if (pid == 0)
		cmd_lock_child_exec(argv, old, &prev, parent);
	cmd_lock_child = pid;
	sigprocmask(SIG_SETMASK, &prev, NULL);
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	cmd_lock_child = 0;
	if (w == -1) {
		warn("waitpid");
		return WAPICTL_EXIT_ACCESS;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WAPICTL_EXIT_FINDINGS;
}

static int
cmd_lock_exec(struct wapictl *ctl, struct cmd_args *args)
{
	struct sigaction sa, old[nitems(cmd_lock_sigs)];
	struct cmd_lock_held held;
	struct target_list list;
	struct target_file tf;
	char shown[PATH_MAX];
	size_t i;
	int rc;

	if (target_dir_open(ctl, false) < 0 || target_collect(ctl,
	    TARGET_STATE | TARGET_THIS_ABI, &list) < 0)
		return WAPICTL_EXIT_ACCESS;
	if (list.n == 0) {
		target_shown(ctl->dir, shown, sizeof(shown));
		warnx("%s: no state file for host %s (%s); nothing to lock: "
		    "no wapi process runs here", shown, ctl->host, WAPI_ABI);
		target_free(&list);
		return WAPICTL_EXIT_ACCESS;
	}
	target_get(ctl, &list, 0, &tf);
	target_free(&list);
	rc = cmd_lock_take(ctl, &tf, (int)args_number(args, 'w', -1), &held);
	if (rc != 0)
		return rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cmd_lock_forward;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < nitems(cmd_lock_sigs); i++)
		sigaction(cmd_lock_sigs[i], &sa, &old[i]);
	rc = cmd_lock_command(args->argv, old);
	/* Unlocked before the signals are ours again: never killed holding
	 * it once COMMAND is done. */
	cmd_lock_release(&held);
	for (i = 0; i < nitems(cmd_lock_sigs); i++)
		sigaction(cmd_lock_sigs[i], &old[i], NULL);
	return rc;
}
