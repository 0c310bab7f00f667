/*
 * The fuzz entry points, shared by the libFuzzer targets (clang,
 * `make fuzz`) and by t-fuzz-replay (gcc, `make check`), so that every
 * regression input and seed runs through exactly the code that found it.
 *
 * An entry point returns normally for any input; a broken rule of the core
 * (an out-of-bounds read, a round trip that does not hold, a repair that
 * is not idempotent) ends the process through abort() or a sanitizer.
 */
#ifndef WAPI_FUZZ_H
#define WAPI_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A state file image: header check, validation, verdict, map, repair. */
void fuzz_state_one(const uint8_t *data, size_t len);
/* Arbitrary bytes as a directory entry, host, ABI tag and object name. */
void fuzz_names_one(const uint8_t *data, size_t len);

/* Bytes from a client's socket: a SPAWN payload and a whole message. */
void fuzz_proto_one(const uint8_t *data, size_t len);

/*
 * A Mono V12 data file: the first byte picks the record size (even: 328,
 * LP64; odd: 312, ILP32), the rest is the file's image.  All the bytes,
 * NUL-terminated, are also a name for wcore_mono_name_parse.
 */
void fuzz_mono_one(const uint8_t *data, size_t len);
#define FUZZ_MONO_LP64	0
#define FUZZ_MONO_ILP32	1

/*
 * A writable copy of len bytes with nothing readable after it: with
 * AddressSanitizer a heap block (64-byte aligned), else pages followed by
 * an inaccessible one.  at_guard: the copy ends at the guard page; else it
 * starts at the first page, aligned like a mapped file.
 */
struct fuzz_buf {
	unsigned char *p;
	void *base;
	size_t maplen;
};
struct fuzz_buf fuzz_buf_new(const void *data, size_t len, bool at_guard);
void fuzz_buf_free(struct fuzz_buf *b);

/* Print what broke and abort: a finding, never a normal outcome. */
void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * The seed corpus, made in memory: small real state files (wcore_layout +
 * wcore_init_map, populated like tests/mkstate -p), names, protocol
 * messages and Mono V12 data files.  kind is "state", "names", "proto" or
 * "mono"; fn is called once per seed.  Returns the number of
 * seeds, or -1 when one could not be made.
 */
typedef void fuzz_seed_fn(const char *kind, const char *name,
    const void *data, size_t len, void *ctx);
int fuzz_seeds(fuzz_seed_fn *fn, void *ctx);

#endif
