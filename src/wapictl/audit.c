/*
 * The audit trail of clean and stop: every file, segment and semaphore set
 * that clean removes and every signal that stop sends goes to syslog(3) as
 * one line (LOG_USER, ident "wapictl", the pid of wapictl with LOG_PID),
 * so that `journalctl -t wapictl` tells what a timer removed and why.  A
 * removal or a kill that failed is logged at LOG_WARNING, one that was
 * done at LOG_NOTICE.  The log is opened on the first line only: a run
 * that removes nothing never touches the log socket.  No answer is waited
 * for and no error is reported: a host without a syslog daemon (no
 * /dev/log) loses the lines and clean and stop behave as they do anyway.
 * Names from disk are escaped as for a terminal (out_escape): a line of
 * the log is never split nor forged by a file name.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "wapictl.h"

static bool	audit_off;
static bool	audit_opened;

static void	audit_line(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* --no-syslog: nothing is logged by this run. */
void
audit_disable(void)
{
	audit_off = true;
}

static void
audit_line(int prio, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	if (audit_off)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!audit_opened) {
		openlog("wapictl", LOG_PID, LOG_USER);
		audit_opened = true;
	}
	syslog(prio, "%s", line);
}

/*
 * what (a path, or "semaphore set key 0x... id N") was removed, or could
 * not be (err, an errno value, not 0), with its verdict and the reason it
 * was to go.
 */
void
audit_removal(const char *what, const char *verdict, const char *reason,
    int err)
{
	char w[PATH_MAX], r[2048];

	out_escape(what, w, sizeof(w));
	out_escape(reason, r, sizeof(r));
	if (err == 0)
		audit_line(LOG_NOTICE, "clean: removed %s; verdict %s; "
		    "reason: %s; uid %u", w, verdict, r, (unsigned)getuid());
	else
		audit_line(LOG_WARNING, "clean: could not remove %s: %s; "
		    "verdict %s; reason: %s; uid %u", w, strerror(err),
		    verdict, r, (unsigned)getuid());
}

/*
 * stop sent sig to the helper pid of the state file path, for reason, or
 * could not (err, an errno value, not 0).
 */
void
audit_signal(const char *path, pid_t pid, int sig, const char *reason,
    int err)
{
	const char *name = sig == SIGKILL ? "SIGKILL" : "SIGTERM";
	char p[PATH_MAX];

	out_escape(path, p, sizeof(p));
	if (err == 0)
		audit_line(LOG_NOTICE, "stop: sent %s to helper pid %d of %s; "
		    "reason: %s; uid %u", name, (int)pid, p, reason,
		    (unsigned)getuid());
	else
		audit_line(LOG_WARNING, "stop: could not send %s to helper "
		    "pid %d of %s: %s; reason: %s; uid %u", name, (int)pid, p,
		    strerror(err), reason, (unsigned)getuid());
}
