/*
 * wapictl: the administration and recovery tool for ~/.wapi.  Shared
 * declarations of main (wapictl.c), the commands (cmd-*.c), the target
 * resolution (target.c) and the libsmartcols output helpers (output.c).
 * Nothing here knows the state-file format: that is the core's (core.h).
 */
#ifndef WAPICTL_H
#define WAPICTL_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"

/* Exit statuses: wapictl(1) EXIT STATUS, DESIGN §8 (contract). */
#define WAPICTL_EXIT_OK		0	/* all well / done */
#define WAPICTL_EXIT_FINDINGS	1	/* orphaned, dead, corrupt; clean kept some */
#define WAPICTL_EXIT_USAGE	2
#define WAPICTL_EXIT_BUSY	3	/* lock not obtained in time, state in use */
#define WAPICTL_EXIT_ACCESS	4	/* cannot access the directory or a file */

#define WAPICTL_HINT "Try 'wapictl --help' for more information."

/* The global options and what was resolved from them. */
struct wapictl {
	const char	*dir_arg;	/* -d DIR, or NULL */
	const char	*host_arg;	/* -H HOST, or NULL */
	bool		 all_hosts;	/* -A */
	bool		 json;		/* -J */
	bool		 quiet;		/* -q */

	char		 dir[PATH_MAX];	/* the state directory */
	char		 host[256];	/* this host (DESIGN §2) */
	const char	*want_host;	/* the host the command looks at */
	int		 dirfd;		/* -1 until target_dir_open() */
	uid_t		 euid;		/* ours, once (target_init) */
	bool		 dir_missing;	/* the directory does not exist */
	char		 shm_dir[PATH_MAX];	/* Mono's /dev/shm files */
	int		 shm_dirfd;	/* -1 until listed, or when absent */
};

struct cmd_entry {
	const char	*name;
	const char	*usage;		/* after "wapictl [options] NAME " */
	const char	*help;		/* one line for the command list */
	int		(*exec)(struct wapictl *, int, char **);
};

extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_handles_entry;
extern const struct cmd_entry cmd_validate_entry;
extern const struct cmd_entry cmd_lock_entry;
extern const struct cmd_entry cmd_clean_entry;
extern const struct cmd_entry cmd_stop_entry;

/* wapictl.c */
int	wapictl_usage_error(const struct cmd_entry *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	wapictl_cmd_usage(const struct cmd_entry *, const char *);
int	wapictl_seconds(const struct cmd_entry *, const char *, int *);

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

int	target_init(struct wapictl *);
int	target_dir_open(struct wapictl *, bool);
int	target_collect(struct wapictl *, unsigned, struct target_list *);
void	target_get(const struct wapictl *, const struct target_list *, size_t,
	    struct target_file *);
void	target_free(struct target_list *);
#define TARGET_GONE	(-1)
#define TARGET_FAILED	(-2)
int	target_open_verdict(const struct wapictl *, const struct target_file *,
	    bool, struct wcore_status *);
int	target_open_listed(const struct wapictl *, const struct target_file *,
	    char *, size_t);
void	target_shown(const char *, char *, size_t);
int	target_open_path(const char *, bool, int *, char *, char *, size_t,
	    char *, size_t);
bool	target_host_is_this(const struct wapictl *);
void	target_duration(int64_t, char *, size_t);
int	target_parse_duration(const char *, int64_t *);
int	target_helper_state(const struct wcore_status *, const char **);

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
};
struct libscols_table;
struct libscols_line;

int	out_columns_parse(struct out_spec *, const char *);
void	out_columns_default(struct out_spec *, const int *, size_t);
void	out_columns_help(const struct out_column *, size_t);
struct libscols_table *out_table_new(const struct wapictl *, const char *,
	    const struct out_spec *, bool, bool);
struct libscols_line *out_line_new(struct libscols_table *);
void	out_cell(struct libscols_line *, const struct out_spec *, int,
	    const char *, ...) __attribute__((format(printf, 4, 5)));
int	out_print(struct libscols_table *);
int	out_print_json_pair(struct libscols_table *, struct libscols_table *);
bool	out_has(const struct out_spec *, int);

#endif
