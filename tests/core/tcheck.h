/*
 * A tiny TAP-ish helper for the core's C tests: "ok N - what" lines, a
 * private state directory, and an exit status that says whether all passed.
 */
#ifndef WAPI_TCHECK_H
#define WAPI_TCHECK_H

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int t_count, t_failed;
static char t_tmp[256];

static void __attribute__((format(printf, 2, 3), unused))
t_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		t_failed++;
}

static void __attribute__((format(printf, 1, 2), unused))
t_skip(const char *fmt, ...)
{
	va_list ap;

	printf("ok %d # skip ", ++t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Compare strings, printing both on failure. */
#define T_STREQ(got, want, ...) do {					\
	const char *t_g_ = (got), *t_w_ = (want);			\
	int t_c_ = t_g_ != NULL && strcmp(t_g_, t_w_) == 0;		\
	t_ok(t_c_, __VA_ARGS__);					\
	if (!t_c_)							\
		printf("#   got \"%s\", want \"%s\"\n",			\
		    t_g_ ? t_g_ : "(null)", t_w_);			\
} while (0)

#define T_INTEQ(got, want, ...) do {					\
	long long t_g_ = (long long)(got), t_w_ = (long long)(want);	\
	t_ok(t_g_ == t_w_, __VA_ARGS__);				\
	if (t_g_ != t_w_)						\
		printf("#   got %lld, want %lld\n", t_g_, t_w_);	\
} while (0)

static int
t_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path) != 0 && errno != ENOENT;
}

static void __attribute__((unused))
t_rmtree(const char *path)
{
	nftw(path, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
t_cleanup(void)
{
	if (t_tmp[0] != '\0')
		t_rmtree(t_tmp);
	t_tmp[0] = '\0';
}

/*
 * A private directory for this test, WAPI_SHARED_DIR pointing at it and a
 * fixed host name; removed at exit.  A hung test is killed by the alarm.
 */
static void __attribute__((unused))
t_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(t_tmp, sizeof(t_tmp), "%s/wapi-t.XXXXXX",
	    base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(t_tmp) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	atexit(t_cleanup);
	setenv("WAPI_SHARED_DIR", t_tmp, 1);
	setenv("WAPI_SHARED_HOSTNAME", "some-test-name", 1);
	unsetenv("MONO_SHARED_DIR");
	unsetenv("MONO_SHARED_HOSTNAME");
	alarm(120);
}

static int __attribute__((unused))
t_done(void)
{
	printf("1..%d\n", t_count);
	if (t_failed)
		printf("# %d of %d failed\n", t_failed, t_count);
	return t_failed ? 1 : 0;
}

#endif
