/*
 * Home slots of the state file's three open-addressing tables: the name
 * index (NAMEIDX), each client's block of handle references (CREFS) and the
 * file-share table (SHARES).  These functions are part of the format: a
 * writer that hashes differently makes files that validate.c rejects.
 *
 * All three tables use linear probing with backward-shift deletion and no
 * tombstones.  The invariant, checked by wcore_validate(), is: an entry at
 * slot p whose home is h has no empty slot anywhere in [h, p) (cyclically).
 *
 *   lookup:  i = home; while slot i is not empty: if it matches, found;
 *            i = wcore_probe_next(i, cap); stop after cap steps (a full
 *            table has no empty slot to end the walk).
 *   insert:  the first empty slot from home on.
 *   delete:  empty slot i, then j = next(i); while slot j is not empty:
 *            if wcore_probe_dist(home(j), i, cap) <
 *               wcore_probe_dist(home(j), j, cap), move j to i and empty j,
 *            i = j; j = next(j).
 *
 * Empty means: nameidx .handle == 0, cref .handle == 0, share .opens == 0.
 * Capacities of NAMEIDX and SHARES are powers of two; refs_per_client (the
 * CREFS block size) should be, and a reduction by modulo covers it when not.
 */
#ifndef WAPI_CORE_HASH_H
#define WAPI_CORE_HASH_H

#include <stdint.h>

/* Reduce a 32-bit hash to [0, cap); cap 0 gives 0. */
static inline uint32_t
wcore_hash_reduce(uint32_t x, uint32_t cap)
{
	if (cap == 0)
		return 0;
	if ((cap & (cap - 1)) == 0)
		return x & (cap - 1);
	return x % cap;
}

/* Name index: the name's hash (wcore_name_hash(), never 0). */
static inline uint32_t
wcore_nameidx_home(uint32_t name_hash, uint32_t cap)
{
	return wcore_hash_reduce(name_hash, cap);
}

/*
 * The preferred slot of a named object in a handle table of cap slots (the
 * other slot of its pair, p ^ 1, is the second choice).  Derived from the
 * name's hash alone, so an open can start loading the slot, its name and
 * the name index entry at once, before it knows which of them answers.  A
 * placement hint, not a rule: validate accepts a named object in any slot.
 */
static inline uint32_t
wcore_name_slot(uint32_t name_hash, uint32_t cap)
{
	return (uint32_t)(((uint64_t)(name_hash * 0x9e3779b1u) * cap) >> 32);
}

/* A client's reference block: Knuth's multiplicative hash of index + 1
 * (consecutive handles land on distinct slots). */
static inline uint32_t
wcore_cref_home(uint32_t handle_plus1, uint32_t cap)
{
	return wcore_hash_reduce((uint32_t)(handle_plus1 * 2654435761u), cap);
}

/* File shares: (device, inode), mixed so that small inode numbers of one
 * device spread over the whole table. */
static inline uint32_t
wcore_share_home(uint64_t dev, uint64_t ino, uint32_t cap)
{
	uint64_t x;

	x = (dev * 0x9e3779b97f4a7c15ull) ^ ino;
	x *= 0xbf58476d1ce4e5b9ull;
	return wcore_hash_reduce((uint32_t)(x >> 32), cap);
}

static inline uint32_t
wcore_probe_next(uint32_t i, uint32_t cap)
{
	return i + 1 >= cap ? 0 : i + 1;
}

/* Steps from slot a forward to slot b, cyclically (both < cap). */
static inline uint32_t
wcore_probe_dist(uint32_t a, uint32_t b, uint32_t cap)
{
	return b >= a ? b - a : cap - a + b;
}

#endif
