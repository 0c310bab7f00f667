/*
 * Legacy Mono states: a data file, its companion (fileshare or scratch)
 * and its SysV semaphore set, in ~/.wapi or (2009 on) in /dev/shm.  The
 * names and offsets are the core's (mono.c); this decides whether a state
 * is in use and removes it whole.  The library never touches them.
 */
#ifndef WAPICTL_LEGACY_H
#define WAPICTL_LEGACY_H

#include <sys/types.h>

#include <stdbool.h>

#include "wapictl.h"

#define LEGACY_MAX_FILES	4

enum legacy_use {
	LEGACY_IDLE = 0,	/* proven unused: clean may remove it */
	LEGACY_IN_USE,
	LEGACY_UNSURE,		/* cannot tell: counts as in use */
};

struct legacy_info {
	size_t	files[LEGACY_MAX_FILES];	/* list indexes of the state */
	size_t	nfiles;
	size_t	data;		/* list index of the data file, or SIZE_MAX */
	enum legacy_use use;
	bool	never;		/* a member is not a plain file of ours */
	bool	has_key;	/* a key at the version's offset */
	int	sem_key;
	int	semid;		/* -1: no set of that key */
	bool	sem_ours;	/* Mono's shape, the file owner's, 0600 */
	int	attach;		/* V10+ attach count, -1 unknown */
	int	attach_base;	/* semaphore 7's value when nobody is */
	char	state[640];	/* what holds for every file of the state */
	char	reason[1024];	/* the inspected file's: legacy_reason() */
};

void	legacy_inspect(const struct wapictl *, const struct target_list *,
	    size_t, struct legacy_info *);
void	legacy_reason(const struct wapictl *, const struct target_list *,
	    const struct legacy_info *, size_t, char *, size_t);
int	legacy_sem_remove(const struct legacy_info *);

#endif
