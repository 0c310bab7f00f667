/*
 * t-fuzz-replay: every seed (made in memory, seeds.c) and every file of
 * $top_srcdir/tests/fuzz/regress/{state,names,proto,mono}/ through the fuzz
 * entry points, each in a child process so that one crash names its input and
 * the others still run.  Built with the ordinary compiler in `make check`,
 * so the fuzzers' findings are re-checked by every build, plain and
 * sanitized, without clang or libFuzzer.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "fuzz.h"

static int count, failed;

static void __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failed++;
}

/* Run one input through its entry point in a child. */
static void
replay(const char *kind, const char *name, const void *data, size_t len)
{
	pid_t pid;
	int status;

	fflush(stdout);
	if ((pid = fork()) < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		if (strcmp(kind, "state") == 0)
			fuzz_state_one(data, len);
		else if (strcmp(kind, "proto") == 0)
			fuzz_proto_one(data, len);
		else if (strcmp(kind, "mono") == 0)
			fuzz_mono_one(data, len);
		else
			fuzz_names_one(data, len);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s/%s replays without a finding", kind, name);
	if (WIFSIGNALED(status))
		printf("# killed by signal %d\n", WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		printf("# exit status %d\n", WEXITSTATUS(status));
}

static void
seed(const char *kind, const char *name, const void *data, size_t len,
    void *ctx)
{
	struct wcore_report r;
	size_t n;

	(void)ctx;
	/* The seeds that stand for real files must be real, clean files. */
	if (strcmp(kind, "state") == 0 && (strcmp(name, "fresh") == 0 ||
	    strcmp(name, "populated") == 0 || strcmp(name, "full-named") == 0 ||
	    strcmp(name, "segment") == 0 || strcmp(name, "anchor") == 0)) {
		memset(&r, 0, sizeof(r));
		n = wcore_validate(data, len, &r);
		ok(n == 0, "seed %s/%s validates clean", kind, name);
		if (n != 0 && r.count > 0) {
			char line[400];

			wcore_problem_format(&r.problems[0], line, sizeof(line));
			printf("#   %s\n", line);
		}
		wcore_report_free(&r);
	}
	replay(kind, name, data, len);
}

static void
replay_dir(const char *top, const char *kind)
{
	char dir[4096], path[8192];
	struct dirent **ents;
	struct stat st;
	unsigned char *buf;
	ssize_t got;
	int i, n, fd;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regress/%s", top, kind);
	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		printf("# no %s (%s)\n", dir, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (ents[i]->d_name[0] == '.' || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode)) {
			free(ents[i]);
			continue;
		}
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
		    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
			perror(path);
			exit(1);
		}
		got = read(fd, buf, (size_t)st.st_size);
		close(fd);
		ok(got == st.st_size, "read %s/%s", kind, ents[i]->d_name);
		if (got == st.st_size)
			replay(kind, ents[i]->d_name, buf, (size_t)got);
		free(buf);
		free(ents[i]);
	}
	free(ents);
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	int n;

	if (argc > 1)
		top = argv[1];
	if (top == NULL)
		top = ".";
	n = fuzz_seeds(seed, NULL);
	ok(n > 0, "the seed corpus is made (%d seeds)", n);
	replay_dir(top, "state");
	replay_dir(top, "names");
	replay_dir(top, "proto");
	replay_dir(top, "mono");
	printf("1..%d\n", count);
	if (failed)
		printf("# %d of %d failed\n", failed, count);
	return failed ? 1 : 0;
}
