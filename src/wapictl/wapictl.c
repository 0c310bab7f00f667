/*
 * wapictl: inspect, validate, lock and clean ~/.wapi state, stop the helper.
 * main() parses the global options and hands the rest of the command line to
 * one entry of cmd_table[]; each command lives in its own cmd-*.c file and
 * returns the exit status (wapictl.h, DESIGN §8).
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wapictl.h"

#ifndef WAPI_VERSION
#define WAPI_VERSION "unknown"
#endif

static void	usage(FILE *);

static const struct cmd_entry *const cmd_table[] = {
	&cmd_status_entry,
	&cmd_handles_entry,
	&cmd_validate_entry,
	&cmd_lock_entry,
	&cmd_clean_entry,
	&cmd_stop_entry,
	NULL
};

static void
usage(FILE *f)
{
	const struct cmd_entry *const *c;

	fprintf(f, "usage: wapictl [-d DIR] [-H HOST | -A] [-J] [-q] "
	    "COMMAND [ARGS]\n"
	    "       wapictl -h | -V\n\ncommands:\n");
	for (c = cmd_table; *c != NULL; c++)
		fprintf(f, "  %-9s%s\n", (*c)->name, (*c)->usage);
	fprintf(f, "\noptions:\n"
	    "  -d, --dir DIR      state directory (default: $WAPI_SHARED_DIR/.wapi,\n"
	    "                     $MONO_SHARED_DIR/.wapi or ~/.wapi)\n"
	    "  -H, --host HOST    look at HOST's state (default: this host)\n"
	    "  -A, --all-hosts    every host in the directory\n"
	    "  -J, --json         JSON output\n"
	    "  -q, --quiet        print nothing unless something failed\n"
	    "  -h, --help         this help; 'wapictl COMMAND --help' for a command\n"
	    "  -V, --version      print the version\n"
	    "\nexit status: 0 all well, 1 findings, 2 usage, 3 busy, "
	    "4 cannot access\nSee wapictl(1).\n");
}

/* Print a command's synopsis and, if given, its option text. */
void
wapictl_cmd_usage(const struct cmd_entry *cmd, const char *more)
{
	printf("usage: wapictl [-d DIR] [-H HOST | -A] [-J] [-q] %s %s\n",
	    cmd->name, cmd->usage);
	if (cmd->help != NULL)
		printf("\n%s\n", cmd->help);
	if (more != NULL)
		fputs(more, stdout);
}

int
wapictl_usage_error(const struct cmd_entry *cmd, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		va_start(ap, fmt);
		if (cmd != NULL) {
			fprintf(stderr, "%s: %s: ", getprogname(), cmd->name);
			vfprintf(stderr, fmt, ap);
			fputc('\n', stderr);
		} else
			vwarnx(fmt, ap);
		va_end(ap);
	}
	if (cmd != NULL)
		fprintf(stderr, "usage: wapictl %s %s\n", cmd->name, cmd->usage);
	fprintf(stderr, "%s\n", WAPICTL_HINT);
	return WAPICTL_EXIT_USAGE;
}

/* -w SECONDS: 0 .. one day. */
int
wapictl_seconds(const struct cmd_entry *cmd, const char *s, int *out)
{
	const char *e;
	long long v;

	v = strtonum(s, 0, 86400, &e);
	if (e != NULL)
		return wapictl_usage_error(cmd, "-w %s: seconds %s (0 to 86400)",
		    s, e);
	*out = (int)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir",	required_argument,	NULL, 'd' },
		{ "host",	required_argument,	NULL, 'H' },
		{ "all-hosts",	no_argument,		NULL, 'A' },
		{ "json",	no_argument,		NULL, 'J' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct wapictl ctl;
	const struct cmd_entry *const *c;
	const char *bad;
	char *argv0;
	int ch, r;

	setlocale(LC_ALL, "");
	memset(&ctl, 0, sizeof(ctl));
	ctl.dirfd = -1;
	ctl.shm_dirfd = -1;

	/* '+': options end at the command; its own options follow it. */
	while ((ch = getopt_long(argc, argv, "+AH:d:hJqV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			ctl.all_hosts = true;
			break;
		case 'd':
			if (optarg[0] == '\0')
				return wapictl_usage_error(NULL,
				    "-d: empty directory name");
			ctl.dir_arg = optarg;
			break;
		case 'H':
			ctl.host_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return WAPICTL_EXIT_OK;
		case 'J':
			ctl.json = true;
			break;
		case 'q':
			ctl.quiet = true;
			break;
		case 'V':
			printf("wapictl (wapi) %s\n", WAPI_VERSION);
			return WAPICTL_EXIT_OK;
		default:
			return wapictl_usage_error(NULL, NULL);
		}
	}
	argc -= optind;
	argv += optind;

	if (ctl.all_hosts && ctl.host_arg != NULL)
		return wapictl_usage_error(NULL, "-H and -A exclude each other");
	if (ctl.host_arg != NULL && (bad = wcore_host_check(ctl.host_arg)) != NULL)
		return wapictl_usage_error(NULL, "-H: host name %s", bad);
	if (argc == 0)
		return wapictl_usage_error(NULL, "no command given");

	for (c = cmd_table; *c != NULL; c++)
		if (strcmp(argv[0], (*c)->name) == 0)
			break;
	if (*c == NULL)
		return wapictl_usage_error(NULL, "unknown command '%s'", argv[0]);

	if ((r = target_init(&ctl)) != 0)
		return r;
	/* The command sees "wapictl NAME" as argv[0], for getopt's messages. */
	if (asprintf(&argv0, "%s %s", getprogname(), argv[0]) < 0)
		err(WAPICTL_EXIT_ACCESS, "asprintf");
	argv[0] = argv0;
	optind = 0;
	r = (*c)->exec(&ctl, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("standard output");
		if (r == 0)
			r = WAPICTL_EXIT_ACCESS;
	}
	if (ctl.dirfd >= 0)
		close(ctl.dirfd);
	if (ctl.shm_dirfd >= 0)
		close(ctl.shm_dirfd);
	free(argv0);
	return r;
}
