/*
 * wapictl: inspect, validate, lock and clean ~/.wapi state, stop the helper.
 * Each command lives in its own cmd-*.c file and declares itself in a
 * struct cmd_entry (its options, arguments and target), collected in
 * cmd_table[].  main() parses the command line once: wapictl's options up
 * to the command, then, from the command on, the command's options and
 * wapictl's mixed, as lsipc takes them.  It prints a usage for -h before it
 * looks at the environment, resolves the target, and hands the parsed
 * arguments to the command's exec, which returns the exit status (the
 * error convention is at the top of wapictl.h).
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

#define WAPICTL_SYNOPSIS	"wapictl [-d DIR] [-H HOST | -A] [-J] [-q]"

static const struct cmd_entry *const cmd_table[] = {
	&cmd_status_entry,
	&cmd_handles_entry,
	&cmd_waits_entry,
	&cmd_validate_entry,
	&cmd_lock_entry,
	&cmd_clean_entry,
	&cmd_stop_entry,
	&cmd_help_entry,
	NULL
};

/*
 * wapictl's own options, before or after the command.  Their letters are
 * wapictl's: no command may declare one of them.
 */
static const struct cmd_option wapictl_options[] = {
	{ "dir", required_argument, 'd', "DIR",
	    "state directory (default: $WAPI_SHARED_DIR/.wapi,\n"
	    "$MONO_SHARED_DIR/.wapi or ~/.wapi)" },
	{ "host", required_argument, 'H', "HOST",
	    "look at HOST's state (default: this host)" },
	{ "all-hosts", no_argument, 'A', NULL, "every host in the directory" },
	{ "json", no_argument, 'J', NULL, "JSON output" },
	{ "quiet", no_argument, 'q', NULL,
	    "print nothing unless something failed\n(clean: or was removed)" },
	{ "help", no_argument, 'h', NULL,
	    "this help; 'wapictl help COMMAND' for a command" },
	{ "version", no_argument, 'V', NULL, "print the version" },
	CMD_OPTION_END
};

static size_t	cmd_option_tables(const struct cmd_entry *, bool,
		    const struct cmd_option **);
static bool	cmd_option_end(const struct cmd_option *);
static const struct cmd_option *cmd_option_find(const struct cmd_option *,
		    int);
static void	cmd_option_name(const struct cmd_option *, char *, size_t);
static void	cmd_option_left(const struct cmd_option *, char *, size_t);
static void	cmd_options_help(const struct cmd_option *const *, size_t);
static void	cmd_synopsis(const struct cmd_entry *, char *, size_t);
static int	cmd_parse(struct wapictl *, const struct cmd_entry *, int,
		    char **, struct cmd_args *);
static int	cmd_global(struct wapictl *, const struct cmd_entry *, int,
		    const char *);
static int	cmd_record(struct cmd_args *, const struct cmd_option *,
		    const char *);
static size_t	args_find(const struct cmd_args *, int);
static int	wapictl_run(struct wapictl *, int, char **);

/* The option tables of a command: wapictl's if global, a listing's, its own. */
static size_t
cmd_option_tables(const struct cmd_entry *entry, bool global,
    const struct cmd_option **t)
{
	size_t n = 0;

	if (global)
		t[n++] = wapictl_options;
	if (entry != NULL && entry->columns != NULL)
		t[n++] = out_listing_options;
	if (entry != NULL && entry->options != NULL)
		t[n++] = entry->options;
	return n;
}

static bool
cmd_option_end(const struct cmd_option *o)
{
	return o->name == NULL && o->val == 0;
}

static const struct cmd_option *
cmd_option_find(const struct cmd_option *o, int val)
{
	for (; !cmd_option_end(o); o++)
		if (o->val == val)
			return o;
	return NULL;
}

/* How the option is named in the synopsis and in messages: -w, --kill. */
static void
cmd_option_name(const struct cmd_option *o, char *buf, size_t len)
{
	if (o->val < CMD_OPT_LONG)
		snprintf(buf, len, "-%c", o->val);
	else
		snprintf(buf, len, "--%s", o->name);
}

/* The left part of an option's line of help: "  -w, --wait SECONDS". */
static void
cmd_option_left(const struct cmd_option *o, char *buf, size_t len)
{
	char name[8] = "    ";

	if (o->val < CMD_OPT_LONG)
		snprintf(name, sizeof(name), "-%c, ", o->val);
	snprintf(buf, len, "  %s--%s%s%s", name, o->name,
	    o->arg != NULL ? " " : "", o->arg != NULL ? o->arg : "");
}

/* A line per option, its text's lines aligned; aliases left out. */
static void
cmd_options_help(const struct cmd_option *const *t, size_t nt)
{
	const struct cmd_option *o;
	const char *p, *nl;
	char left[96];
	size_t i, w = 0;

	for (i = 0; i < nt; i++)
		for (o = t[i]; !cmd_option_end(o); o++) {
			cmd_option_left(o, left, sizeof(left));
			if (o->help != NULL)
				w = MAX(w, strlen(left) + 2);
		}
	for (i = 0; i < nt; i++)
		for (o = t[i]; !cmd_option_end(o); o++) {
			if (o->help == NULL)
				continue;
			cmd_option_left(o, left, sizeof(left));
			printf("%-*s", (int)w, left);
			for (p = o->help; (nl = strchr(p, '\n')) != NULL;
			    p = nl + 1)
				printf("%.*s\n%*s", (int)(nl - p), p, (int)w, "");
			printf("%s\n", p);
		}
}

/* "[-o COLUMNS] [-r] [-n] [-v]" and the arguments, from the declarations. */
static void
cmd_synopsis(const struct cmd_entry *entry, char *buf, size_t len)
{
	const struct cmd_option *t[3], *o;
	char name[64];
	size_t i, nt;

	buf[0] = '\0';
	nt = cmd_option_tables(entry, false, t);
	for (i = 0; i < nt; i++)
		for (o = t[i]; !cmd_option_end(o); o++) {
			if (o->help == NULL)
				continue;
			cmd_option_name(o, name, sizeof(name));
			snprintf(buf + strlen(buf), len - strlen(buf),
			    "%s[%s%s%s]", buf[0] != '\0' ? " " : "", name,
			    o->arg != NULL ? " " : "",
			    o->arg != NULL ? o->arg : "");
		}
	if (entry->args.usage != NULL)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    buf[0] != '\0' ? " " : "", entry->args.usage);
}

void
wapictl_usage(void)
{
	const struct cmd_entry *const *c;
	const struct cmd_option *t[1] = { wapictl_options };
	char syn[512];

	printf("usage: %s COMMAND [ARGS]\n"
	    "       wapictl -h | -V | help [COMMAND]\n\ncommands:\n",
	    WAPICTL_SYNOPSIS);
	for (c = cmd_table; *c != NULL; c++) {
		cmd_synopsis(*c, syn, sizeof(syn));
		printf("  %-9s%s\n", (*c)->name, syn);
	}
	printf("\noptions, before or after COMMAND:\n");
	cmd_options_help(t, 1);
	printf("\nexit status: 0 all well, 1 findings, 2 usage, 3 busy, "
	    "4 cannot access\nSee wapictl(1).\n");
}

/* A command's usage: its synopsis, what it does, its options, columns. */
void
cmd_usage(const struct cmd_entry *entry)
{
	const struct cmd_option *t[3];
	char syn[512];
	size_t nt;

	cmd_synopsis(entry, syn, sizeof(syn));
	printf("usage: %s %s %s\n", (entry->flags & CMD_NOTARGET) ?
	    "wapictl" : WAPICTL_SYNOPSIS, entry->name, syn);
	if (entry->help != NULL)
		printf("\n%s\n", entry->help);
	nt = cmd_option_tables(entry, false, t);
	if (nt > 0) {
		putchar('\n');
		cmd_options_help(t, nt);
	}
	if (entry->columns != NULL)
		out_columns_help(entry->columns, entry->ncolumns);
}

/*
 * The message, the command's synopsis and where to read more, on standard
 * error.  Returns WAPICTL_EXIT_USAGE.
 */
int
wapictl_usage_error(const struct cmd_entry *entry, const char *fmt, ...)
{
	va_list ap;
	char syn[512];

	if (fmt != NULL) {
		va_start(ap, fmt);
		if (entry != NULL) {
			fprintf(stderr, "%s: %s: ", getprogname(), entry->name);
			vfprintf(stderr, fmt, ap);
			fputc('\n', stderr);
		} else
			vwarnx(fmt, ap);
		va_end(ap);
	}
	if (entry != NULL) {
		cmd_synopsis(entry, syn, sizeof(syn));
		fprintf(stderr, "usage: wapictl %s %s\n", entry->name, syn);
		fprintf(stderr, "Try 'wapictl %s --help' for more information.\n",
		    entry->name);
	} else
		fprintf(stderr, "Try 'wapictl --help' for more information.\n");
	return WAPICTL_EXIT_USAGE;
}

const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry *const *c;

	for (c = cmd_table; *c != NULL; c++)
		if (strcmp(name, (*c)->name) == 0)
			return *c;
	return NULL;
}

/* Where option val is in args; args->n when it was not given. */
static size_t
args_find(const struct cmd_args *args, int val)
{
	size_t i;

	for (i = 0; i < args->n && args->opts[i].val != val; i++)
		;
	return i;
}

bool
args_has(const struct cmd_args *args, int val)
{
	return args_find(args, val) < args->n;
}

/* The argument of the option, the last one given; NULL when not given. */
const char *
args_get(const struct cmd_args *args, int val)
{
	size_t i = args_find(args, val);

	return i < args->n ? args->opts[i].value : NULL;
}

/* The number of a CMD_ARG_SECONDS or CMD_ARG_DURATION option, else dflt. */
int64_t
args_number(const struct cmd_args *args, int val, int64_t dflt)
{
	size_t i = args_find(args, val);

	return i < args->n ? args->opts[i].number : dflt;
}

/* One of wapictl's options.  0, or the exit status of a usage error. */
static int
cmd_global(struct wapictl *ctl, const struct cmd_entry *entry, int ch,
    const char *arg)
{
	switch (ch) {
	case 'A':
		ctl->all_hosts = true;
		break;
	case 'd':
		if (arg[0] == '\0')
			return wapictl_usage_error(entry,
			    "-d: empty directory name");
		if (strlen(arg) >= sizeof(ctl->dir))
			return wapictl_usage_error(entry, "-d: directory name "
			    "too long (%zu bytes, at most %zu); name a shorter "
			    "one", strlen(arg), sizeof(ctl->dir) - 1);
		ctl->dir_arg = arg;
		break;
	case 'H':
		ctl->host_arg = arg;
		break;
	case 'J':
		ctl->json = true;
		break;
	case 'q':
		ctl->quiet = true;
		break;
	default:		/* 'h', 'V' */
		ctl->early = ch;
		break;
	}
	return 0;
}

/* One of the command's options, its number checked.  0, or exit status 2. */
static int
cmd_record(struct cmd_args *args, const struct cmd_option *o,
    const char *arg)
{
	const char *e = NULL;
	char name[64];
	int64_t number = 0;
	size_t i;

	cmd_option_name(o, name, sizeof(name));
	switch (o->kind) {
	case CMD_ARG_SECONDS:
		number = strtonum(arg, 0, 86400, &e);
		if (e != NULL)
			return wapictl_usage_error(args->entry, "%s %s: seconds "
			    "%s (0 to 86400)", name, arg, e);
		break;
	case CMD_ARG_DURATION:
		if (target_parse_duration(arg, &number) < 0)
			return wapictl_usage_error(args->entry, "%s %s: not a "
			    "duration (90s, 30m, 12h, 7d, or seconds)", name,
			    arg);
		break;
	case CMD_ARG_STRING:
		break;
	}
	if ((i = args_find(args, o->val)) == args->n) {
		if (args->n == CMD_MAXOPTS)
			errx(WAPICTL_EXIT_USAGE, "too many options");
		args->n++;
	}
	args->opts[i] = (struct cmd_args_opt){ o->val, arg, number };
	return 0;
}

/*
 * Parse argv with the options of entry and wapictl's (wapictl's alone when
 * entry is NULL: then, as for a CMD_INORDER command, the options end at the
 * first argument).  Stops at -h or -V, which ctl->early records.  0, with
 * the arguments left in args->argc and args->argv; or the exit status of a
 * usage error, said.
 */
static int
cmd_parse(struct wapictl *ctl, const struct cmd_entry *entry, int argc,
    char **argv, struct cmd_args *args)
{
	struct option longopts[CMD_MAXOPTS + 1];
	char optstring[3 * CMD_MAXOPTS + 2], *p = optstring;
	const struct cmd_option *t[3], *o;
	size_t nt, i, n = 0;
	int ch, r;

	nt = cmd_option_tables(entry, true, t);
	if (entry == NULL || (entry->flags & CMD_INORDER))
		*p++ = '+';
	for (i = 0; i < nt; i++)
		for (o = t[i]; !cmd_option_end(o); o++) {
			if (n == CMD_MAXOPTS)
				errx(WAPICTL_EXIT_USAGE, "too many options");
			if (o->name != NULL)
				longopts[n++] = (struct option){ o->name,
				    o->has_arg, NULL, o->val };
			if (o->val >= CMD_OPT_LONG)
				continue;
			*p++ = (char)o->val;
			if (o->has_arg == required_argument)
				*p++ = ':';
		}
	longopts[n] = (struct option){ NULL, 0, NULL, 0 };
	*p = '\0';

	optind = 0;	/* glibc: start afresh, read the '+' again */
	while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		for (i = 0, o = NULL; o == NULL && i < nt; i++)
			o = cmd_option_find(t[i], ch);
		if (o == NULL)
			return wapictl_usage_error(entry, NULL); /* getopt said */
		if (t[i - 1] == wapictl_options)
			r = cmd_global(ctl, entry, ch, optarg);
		else
			r = cmd_record(args, o, optarg);
		if (r != 0)
			return r;
		if (ctl->early != 0)
			break;
	}
	args->argc = argc - optind;
	args->argv = argv + optind;
	return 0;
}

/*
 * From the command line to the command's exit status.  Nothing before the
 * target is resolved looks at the environment (HOME, the host name): the
 * usage of wapictl and of its commands is printed whatever it holds.
 */
static int
wapictl_run(struct wapictl *ctl, int argc, char **argv)
{
	static char argv0[NAME_MAX + 64];
	const struct cmd_entry *entry = NULL;
	struct cmd_args args;
	const char *bad;
	int r, e;

	memset(&args, 0, sizeof(args));
	if ((r = cmd_parse(ctl, NULL, argc, argv, &args)) != 0)
		return r;
	if (ctl->early == 0) {
		if (args.argc == 0)
			return wapictl_usage_error(NULL, "no command given");
		if ((entry = cmd_find(args.argv[0])) == NULL)
			return wapictl_usage_error(NULL, "unknown command '%s'",
			    args.argv[0]);
		/* getopt's messages begin "wapictl NAME: ". */
		snprintf(argv0, sizeof(argv0), "%s %s", getprogname(),
		    entry->name);
		args.argv[0] = argv0;
		args.entry = entry;
		if ((r = cmd_parse(ctl, entry, args.argc, args.argv,
		    &args)) != 0)
			return r;
	}
	if (ctl->early == 'V') {
		printf("wapictl (wapi) %s\n", WAPI_VERSION);
		return WAPICTL_EXIT_OK;
	}
	if (ctl->early == 'h') {
		if (entry != NULL)
			cmd_usage(entry);
		else
			wapictl_usage();
		return WAPICTL_EXIT_OK;
	}

	if (ctl->all_hosts && ctl->host_arg != NULL)
		return wapictl_usage_error(entry, "-H and -A exclude each other");
	if (ctl->host_arg != NULL &&
	    (bad = wcore_host_check(ctl->host_arg)) != NULL)
		return wapictl_usage_error(entry, "-H: host name %s", bad);
	if (args.argc < entry->args.lower)
		return wapictl_usage_error(entry, "no %s given",
		    entry->args.name);
	if (entry->args.upper >= 0 && args.argc > entry->args.upper)
		return wapictl_usage_error(entry, "unexpected argument '%s'",
		    args.argv[entry->args.upper]);
	if ((entry->flags & CMD_NOTARGET) == 0) {
		/* -EINVAL: a setting of the environment is wrong (said). */
		if ((e = target_init(ctl)) < 0)
			return e == -EINVAL ? WAPICTL_EXIT_USAGE :
			    WAPICTL_EXIT_ACCESS;
		if (entry->this_host != NULL && !target_host_is_this(ctl))
			return wapictl_usage_error(entry, "%s; drop -H/-A",
			    entry->this_host);
	}
	return entry->exec(ctl, &args);
}

int
main(int argc, char **argv)
{
	struct wapictl ctl;
	int r;

	setlocale(LC_ALL, "");
	memset(&ctl, 0, sizeof(ctl));
	ctl.dirfd = -1;
	ctl.shm_dirfd = -1;

	r = wapictl_run(&ctl, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("standard output");
		if (r == 0)
			r = WAPICTL_EXIT_ACCESS;
	}
	if (ctl.dirfd >= 0)
		close(ctl.dirfd);
	if (ctl.shm_dirfd >= 0)
		close(ctl.shm_dirfd);
	return r;
}
