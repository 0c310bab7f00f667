/*
 * Legacy Mono files (shared_data-*, shared_fileshare-*, shared_scratch-*)
 * left in the state directory by Mono's io-layer (2003-2015).  The library
 * never touches them; wapictl reports them and removes them when no process
 * maps them, together with their orphaned SysV semaphore set.
 */
#ifndef WAPICTL_LEGACY_H
#define WAPICTL_LEGACY_H

#include <sys/types.h>

#include <stdbool.h>

#include "core.h"

/* Mono's _WapiHandleSharedLayout: a guint32, then the key_t of its set. */
#define LEGACY_SEM_KEY_OFFSET	4
#define LEGACY_SEM_COUNT	8	/* _WAPI_SHARED_SEM_COUNT */

struct legacy_info {
	pid_t	mapped_by;	/* a process mapping it, 0 none, -1 unknown */
	bool	has_key;	/* shared_data with a non-zero key */
	int	sem_key;
	int	semid;		/* -1: no such set */
	bool	sem_removable;	/* ours, 8 semaphores, no waiters */
	bool	gone;		/* removed since the listing */
	char	reason[384];
};

pid_t	legacy_mapped_by(dev_t, ino_t);
void	legacy_inspect(int, const struct wcore_dirent *, struct legacy_info *);
int	legacy_sem_remove(const struct legacy_info *);

#endif
