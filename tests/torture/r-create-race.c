/*
 * Reproduction (found by the clean race): creating the state file links
 * the initialised temporary to the final name and then unlinks the
 * temporary (wl_create, src/lib/attach.c).  Between the two the file has
 * two links, and wcore_state_open's one-link check refuses it ("has 2
 * links (a hard link elsewhere could alias it)"): the opener falls back to
 * process-private handles.  wl_open_state now retries that for ~50 ms,
 * which covers a creator that is merely slow, but not one that is stopped
 * or killed between linkat() and unlinkat(): then the name keeps two links
 * and every later client of the host runs private, until someone removes
 * the temporary (wapictl clean does so only after a minute).  Suggested
 * fix: renameat2(tmp, name, RENAME_NOREPLACE) instead of linkat + unlinkat,
 * so that the name never has two links.  Expected to fail until fixed
 * (XFAIL_TESTS).
 *
 * Deterministic: this program defines unlinkat(), which the library's call
 * resolves to (ELF interposition); the creating child kills itself with
 * SIGKILL when it is about to unlink its temporary.
 */
#include <dlfcn.h>

#include "tlib.h"

static bool die_in_window;

int
unlinkat(int dirfd, const char *path, int flags)
{
	static int (*real)(int, const char *, int);

	if (real == NULL)
		real = (int (*)(int, const char *, int))dlsym(RTLD_NEXT,
		    "unlinkat");
	/* Only a creation temporary: ".<host>.<abi>.state.XXXXXX". */
	if (die_in_window && path[0] == '.' && strstr(path, ".state.") != NULL)
		kill(getpid(), SIGKILL);
	return real(dirfd, path, flags);
}

static int
creator(void *arg)
{
	(void)arg;
	die_in_window = true;
	wapi_init(0);
	return 3;		/* not reached while creation uses unlinkat */
}

int
main(void)
{
	struct stat sb;
	pid_t a;

	t_setup("create-race");
	a = t_fork(creator, NULL);
	t_wait(a);
	if (stat(t_state_path(), &sb) != 0 || sb.st_nlink != 2) {
		/* A creation that never shows two links is the fix. */
		T_OK(1, "the state file never has two links while created");
		return t_done();
	}
	T_OK(1, "the creator died between link and unlink: two links");
	T_EQ(t_wait(t_fork(t_attach_shared, NULL)), 0, "the next client "
	    "attaches shared all the same");
	return t_done();
}
