/*
 * wapictl: the administration and recovery tool for ~/.wapi.  Shared
 * declarations of main (wapictl.c), the commands (cmd-*.c), the target
 * resolution (target.c) and the libsmartcols output helpers (output.c).
 * Nothing here knows the state-file format: that is the core's (core.h).
 *
 * Errors, one convention for every file of wapictl:
 *
 *  - A function that opens something returns the descriptor, or -errno.
 *    Any other function that can fail returns 0 (or a count, a value that
 *    cannot be negative), or -errno.  No sentinels besides -errno.
 *  - A function that fails has said why on standard error, unless its
 *    comment says that the caller does (it then hands a reason back in a
 *    `why' buffer).  -ENOENT from opening a file of a listing means the
 *    file went away since the listing: nothing is said, it is no error.
 *  - The core returns some failures as positive errno values (its own
 *    convention, core.h); wapictl negates them where they enter its code.
 *  - Exit statuses (WAPICTL_EXIT_*) are decided only in wapictl.c and in
 *    the cmd-*.c files: by a command's exec, and by the functions of its
 *    file that judge one file ("Returns the file's exit status").  They
 *    are ordered so that the worst of several is the largest (MAX, of
 *    values: it evaluates its arguments twice).
 */
#ifndef WAPICTL_H
#define WAPICTL_H

#include <sys/param.h>		/* MAX */
#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"

struct out_column;

/* Exit statuses: wapictl(1) EXIT STATUS; doc/design.md, "wapictl". */
#define WAPICTL_EXIT_OK		0	/* all well / done */
#define WAPICTL_EXIT_FINDINGS	1	/* orphaned, dead, corrupt; clean kept some */
#define WAPICTL_EXIT_USAGE	2
#define WAPICTL_EXIT_BUSY	3	/* lock not obtained in time, state in use */
#define WAPICTL_EXIT_ACCESS	4	/* cannot access the directory or a file */

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* The global options and what was resolved from them. */
struct wapictl {
	const char	*dir_arg;	/* -d DIR, or NULL */
	const char	*host_arg;	/* -H HOST, or NULL */
	bool		 all_hosts;	/* -A */
	bool		 json;		/* -J */
	bool		 quiet;		/* -q */
	int		 early;		/* 'h' or 'V': print that, do nothing */

	char		 dir[PATH_MAX];	/* the state directory */
	char		 host[256];	/* this host (doc/design.md, "Files
					   and who writes them") */
	const char	*want_host;	/* the host the command looks at */
	int		 dirfd;		/* -1 until target_dir_open() */
	uid_t		 euid;		/* ours, once (target_init) */
	bool		 dir_missing;	/* the directory does not exist */
	char		 shm_dir[PATH_MAX];	/* Mono's /dev/shm files */
	int		 shm_dirfd;	/* -1 until listed, or when absent */
	char		 seg_dir[PATH_MAX];	/* where segments are made
					   (wcore_seg_dir); "" when nowhere */
	char		 seg_why[256];	/* ... and then why not */
	int		 seg_dirfd;	/* -1 until listed, or when absent */
};

/*
 * An option, declared once: wapictl.c builds getopt_long's tables, the
 * synopsis and the option list of the help from these rows.  val is the
 * short option's letter, or CMD_OPT_LONG + n for an option that has only
 * its long name.  An option without help (an alias) is accepted but not
 * shown.  kind is left out of the rows of string arguments and flags.  A
 * table ends with CMD_OPTION_END.
 */
enum cmd_arg_kind {
	CMD_ARG_STRING = 0,
	CMD_ARG_SECONDS,	/* 0 to 86400: args_number() */
	CMD_ARG_DURATION,	/* 90s, 30m, 12h, 7d or seconds: args_number() */
};
struct cmd_option {
	const char		*name;	/* long name, without "--" */
	int			 has_arg;	/* no_argument, required_argument */
	int			 val;
	const char		*arg;	/* its argument in the help: "SECONDS" */
	const char		*help;
	enum cmd_arg_kind	 kind;
};
#define CMD_OPTION_END	{ NULL, 0, 0, NULL, NULL, CMD_ARG_STRING }
#define CMD_OPT_LONG	256
#define CMD_MAXOPTS	24	/* wapictl's, the listing's and a command's */

struct cmd_entry;

/* What wapictl.c parsed for a command: its options and its arguments. */
struct cmd_args_opt {
	int			 val;
	const char		*value;		/* the last one given */
	int64_t			 number;	/* of CMD_ARG_SECONDS, _DURATION */
};
struct cmd_args {
	const struct cmd_entry	*entry;
	int			 argc;	/* the arguments after the options */
	char			**argv;	/* NULL-terminated */
	size_t			 n;
	struct cmd_args_opt	 opts[CMD_MAXOPTS];
};

#define CMD_NOTARGET	0x1	/* needs no directory nor host (help) */
#define CMD_INORDER	0x2	/* options end at the first argument (lock) */

/*
 * A command, one per cmd-*.c file, in the manner of tmux's cmd_entry.  The
 * synopsis is made of the options (a listing's -o, -r, -n first) and then
 * args.usage.  wapictl.c parses the command line once, wapictl's options
 * and the command's mixed, prints the usage for -h before looking at the
 * environment, checks the argument counts and this_host, resolves the
 * target unless CMD_NOTARGET, then calls exec, which returns the exit
 * status.
 */
struct cmd_entry {
	const char		*name;
	const char		*help;		/* what it does, for its usage */
	const struct cmd_option	*options;	/* its own, or NULL */
	const struct out_column	*columns;	/* a listing's: -o, -r, -n */
	size_t			 ncolumns;
	struct {
		const char	*usage;		/* after the options: "[FILE...]" */
		const char	*name;		/* said when missing */
		int		 lower, upper;	/* how many; upper -1: any */
	} args;
	int			 flags;		/* CMD_* */
	const char		*this_host;	/* refused with -H, -A: why */
	int			(*exec)(struct wapictl *, struct cmd_args *);
};

extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_handles_entry;
extern const struct cmd_entry cmd_waits_entry;
extern const struct cmd_entry cmd_validate_entry;
extern const struct cmd_entry cmd_lock_entry;
extern const struct cmd_entry cmd_clean_entry;
extern const struct cmd_entry cmd_stop_entry;
extern const struct cmd_entry cmd_help_entry;

/* wapictl.c */
int	wapictl_usage_error(const struct cmd_entry *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	wapictl_usage(void);
void	cmd_usage(const struct cmd_entry *);
const struct cmd_entry *cmd_find(const char *);
bool	args_has(const struct cmd_args *, int);
const char *args_get(const struct cmd_args *, int);
int64_t	args_number(const struct cmd_args *, int, int64_t);

/*
 * target.c: the directory, the files a command looks at, their names.  A
 * list keeps little per file (a listing of 10,000 files must stay small);
 * target_get() gives one file in full, paths included, in the caller's
 * struct target_file, which is meant to live on the stack and be reused.
 */
struct target_file {
	struct wcore_dirent	 de;
	int			 dirfd;	/* the directory it is in */
	char			 path[PATH_MAX];	/* for columns and JSON */
	char			 shown[PATH_MAX];	/* ~/... for messages */
};
struct target_ent {
	size_t			 name;	/* offset in target_list.names */
	struct wcore_fileinfo	 info;	/* the scan's lstat fields */
	bool			 shm;	/* in shm_dir (Mono's /dev/shm) */
};
struct target_list {
	struct target_ent	*v;
	size_t			 n, cap;
	char			*names;	/* NUL-terminated names, end to end */
	size_t			 nlen, ncap;
};
#define TARGET_STATE	0x1u	/* <host>.<abi>.state */
#define TARGET_TEMP	0x2u	/* creation temporaries */
#define TARGET_LEGACY	0x4u	/* Mono shared_* files */
#define TARGET_THIS_ABI	0x8u	/* only WAPI_ABI state files */
#define TARGET_OTHER	0x10u	/* names wapi does not make */

int	target_init(struct wapictl *);
int	target_dir_open(struct wapictl *, bool);
int	target_collect(struct wapictl *, unsigned, struct target_list *);
void	target_get(const struct wapictl *, const struct target_list *, size_t,
	    struct target_file *);
void	target_free(struct target_list *);
int	target_open_verdict(const struct wapictl *, const struct target_file *,
	    bool, struct wcore_status *);
int	target_open_listed(const struct wapictl *, const struct target_file *,
	    char *, size_t);
int	target_open_state(int, const char *, bool *, char *, size_t);
int	target_open_tables(const struct wapictl *, const struct target_file *,
	    bool *, struct wcore_status *, const char *, int *);
void	target_shown(const char *, char *, size_t);
void	target_say(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	target_open_path(const char *, bool *, char *, size_t);
bool	target_host_is_this(const struct wapictl *);
bool	target_other_name(const char *, char *, size_t, char *, size_t);
void	target_duration(int64_t, char *, size_t);
int	target_parse_duration(const char *, int64_t *);
int	target_helper_state(const struct wcore_status *, const char **);

/*
 * Segments (wapi-state(5), "Anchor and segment"): the files of the segment
 * directory whose names are segment names, listed for this host (every
 * host and every user with -A) after the state files.  A segment that a
 * listed anchor names is shown with that anchor (target_claims); any other
 * is judged on its own by target_seg_judge, which reads its header with
 * pread (never maps it) and looks for the anchor its header names.
 */
struct target_seg {
	char			 name[NAME_MAX + 1];
	uid_t			 uid;		/* from the name */
	char			 host[WAPI_HOST_MAX + 1];	/* from the name */
	char			 abi[16];	/* from the name */
	uint64_t		 state_id;	/* from the name */
	struct wcore_fileinfo	 info;		/* the scan's lstat */
	bool			 ours;		/* our uid in the name, ours */
	struct target_file	 tf;		/* for opening and removing */
};
struct target_claim {
	uint64_t		 state_id;
	char			*peer;		/* the anchor's segment path */
};
struct target_claims {
	struct target_claim	*v;
	size_t			 n, cap;
};
/* What a segment is, when no listed anchor names it. */
struct target_seg_status {
	enum wcore_verdict	 verdict;
	char			 reason[768];
	bool			 claimed;	/* its anchor (found through its
						   header) names it: not shown */
	bool			 young;		/* younger than WCORE_SEG_GRACE_S */
	bool			 held;		/* its init byte is held */
	bool			 header_ok;
	struct wapi_header	 hdr;		/* a checked copy, when header_ok */
	off_t			 size;
	int64_t			 resident;	/* allocated bytes */
	int64_t			 mtime;
	dev_t			 dev;
	ino_t			 ino;
};
int	target_seg_collect(struct wapictl *, struct target_list *);
void	target_seg_get(const struct wapictl *, const struct target_list *,
	    size_t, struct target_seg *);
int	target_seg_judge(const struct target_seg *, int,
	    struct target_seg_status *);
void	target_claim_add(struct target_claims *, const struct wcore_status *);
bool	target_claimed(const struct target_claims *, const struct target_seg *);
void	target_claims_free(struct target_claims *);
int	target_lock_holders(dev_t, ino_t, off_t);

/* audit.c: clean's removals and stop's signals in syslog(3). */
void	audit_disable(void);
void	audit_removal(const char *, const char *, const char *, int);
void	audit_signal(const char *, pid_t, int, const char *, int);

/*
 * plan.c: what 'wapictl clean' does with one entry and why, decided in one
 * place.  clean (and clean -n) act on the plan; status words its "what
 * clean does" from the same plan, so the two cannot disagree.  clean still
 * decides again under its locks right before a removal (cmd-clean.c).
 */
enum plan_kind {
	PLAN_STATE,		/* <host>.<abi>.state: whole file or anchor */
	PLAN_SEGMENT,		/* a segment no listed anchor names */
	PLAN_TEMP,		/* a creation temporary */
	PLAN_LEGACY,		/* a Mono state (its files together) */
	PLAN_OTHER,		/* a name wapi does not make (verdict says) */
};
enum plan_legacy_use { PLAN_LEGACY_IDLE, PLAN_LEGACY_IN_USE,
	PLAN_LEGACY_UNSURE };
struct plan_entry {
	enum plan_kind		 kind;
	enum wcore_verdict	 verdict;
	const char		*reason;	/* the verdict's, in words */
	const char		*shown;		/* ~/... for the next step */
	int			 open_err;	/* -errno of opening it with
						   the core's checks, or 0 */
	bool			 held;		/* a process holds it */
	int64_t			 stamp;		/* last sign of life: heart-
						   beat, else mtime */
	bool			 second_name;	/* a temporary that is a
						   second name of its file */
	bool			 never;		/* legacy: not all plain
						   files of ours */
	bool			 foreign_legacy;	/* another host's */
	enum plan_legacy_use	 use;		/* legacy */
};
struct plan_opts {
	bool			 force_host;
	int64_t			 older_than;	/* -1: not given */
};
struct plan {
	bool			 remove;
	bool			 finding;	/* kept, and a person must act */
	bool			 failed;	/* it could not be looked at */
	char			 tail[512];	/* why it stays (or "") */
	char			 next[512];	/* kept for a person: what to do */
};
void	plan_decide(const struct plan_entry *, const struct plan_opts *,
	    struct plan *);
void	plan_words(const struct plan_entry *, const struct plan *, char *,
	    size_t);
void	plan_status_words(const struct plan *, char *, size_t);
int64_t	plan_age(int64_t, bool *);
void	plan_when(int64_t, bool, char *, size_t);
void	plan_state_entry(const struct wcore_status *, const struct
	    target_file *, struct plan_entry *);
void	plan_seg_entry(const struct target_seg *,
	    const struct target_seg_status *, struct plan_entry *);
int	plan_temp_entry(const struct wapictl *, const struct target_file *,
	    bool, struct plan_entry *, char *, size_t, char *, size_t);
void	plan_other_entry(const struct target_file *, struct plan_entry *,
	    char *, size_t);
const char *plan_verdict_name(const struct plan_entry *);
int	plan_seg_open(const struct wapictl *, const struct target_seg *, bool,
	    struct target_seg_status *);
struct legacy_info;
void	plan_legacy_entry(const struct wapictl *, const struct target_list *,
	    size_t, const struct legacy_info *, const struct target_file *,
	    struct plan_entry *);

/* output.c: libsmartcols tables described by one column table each. */
struct out_column {
	const char	*name;
	double		 whint;
	int		 flags;		/* SCOLS_FL_* */
	int		 json;		/* SCOLS_JSON_* */
	const char	*help;
};
#define OUT_MAXCOLS	64
struct out_spec {
	const struct out_column	*cols;
	size_t			 ncols;
	int			 ids[OUT_MAXCOLS];
	size_t			 nids;
	bool			 json;	/* -J: numbers, not words for people */
};
struct libscols_table;
struct libscols_line;

extern const struct cmd_option out_listing_options[];

void	out_spec_init(struct out_spec *, const struct wapictl *,
	    const struct out_column *, size_t, const int *, size_t);
void	out_spec_add(struct out_spec *, const int *, size_t);
int	out_spec_options(struct out_spec *, const struct wapictl *,
	    const struct cmd_args *, int);
void	out_spec_split(struct out_spec *, int, const int *, size_t);
void	out_columns_help(const struct out_column *, size_t);
struct libscols_table *out_table_new(const char *, const struct out_spec *,
	    const struct cmd_args *);
struct libscols_line *out_line_new(struct libscols_table *);
void	out_cell(struct libscols_line *, const struct out_spec *, int,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
void	out_age(struct libscols_line *, const struct out_spec *, int,
	    int64_t);
void	out_bool(struct libscols_line *, const struct out_spec *, int, bool,
	    bool, const char *);
int	out_print(struct libscols_table *);
int	out_print_json_pair(struct libscols_table *, struct libscols_table *);
void	out_discard(struct libscols_table *);
bool	out_has(const struct out_spec *, int);
void	out_escape(const char *, char *, size_t);

#endif
