/*
 * wapictl help: the usage of wapictl, or of one command (what `wapictl
 * COMMAND --help' prints).  It needs no target: it works whatever the
 * environment holds, HOME unset included.
 */
#include <stdio.h>

#include "wapictl.h"

static int	cmd_help_exec(struct wapictl *, struct cmd_args *);

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.help = "Print the usage of COMMAND: its options and columns; without "
	    "COMMAND,\nthe usage of wapictl.",
	.args = { .usage = "[COMMAND]", .name = "COMMAND", .lower = 0,
	    .upper = 1 },
	.flags = CMD_NOTARGET,
	.exec = cmd_help_exec,
};

static int
cmd_help_exec(struct wapictl *ctl, struct cmd_args *args)
{
	const struct cmd_entry *entry;

	if (args->argc == 0) {
		wapictl_usage();
		return WAPICTL_EXIT_OK;
	}
	if ((entry = cmd_find(args->argv[0])) == NULL)
		return wapictl_usage_error(NULL, "unknown command '%s'",
		    args->argv[0]);
	cmd_usage(entry);
	return WAPICTL_EXIT_OK;
}
