/*
 * The state directory: path and host resolution from the environment,
 * wcore_dir_open's refusals, wcore_dir_scan and wcore_state_open's refusals,
 * all on real files in a private temporary directory.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "tcheck.h"

static void	test_dir_path(void);
static void	test_host_name(void);
static void	test_dir_open(void);
static void	test_dir_scan(void);
static void	test_state_open(void);
static int	make_file(int, const char *, mode_t);

static char wapidir[PATH_MAX];

static int
make_file(int dfd, const char *name, mode_t mode)
{
	int fd;

	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0 || write(fd, "x", 1) != 1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void
test_dir_path(void)
{
	char buf[PATH_MAX], why[256];

	setenv("WAPI_SHARED_DIR", "/srv/w", 1);
	setenv("MONO_SHARED_DIR", "/srv/m", 1);
	setenv("HOME", "/home/u", 1);
	T_INTEQ(wcore_dir_path(buf, sizeof(buf), why, sizeof(why)), 0,
	    "dir path with WAPI_SHARED_DIR");
	T_STREQ(buf, "/srv/w/.wapi", "WAPI_SHARED_DIR wins");
	setenv("WAPI_SHARED_DIR", "", 1);
	wcore_dir_path(buf, sizeof(buf), why, sizeof(why));
	T_STREQ(buf, "/srv/m/.wapi", "empty WAPI_SHARED_DIR counts as unset");
	unsetenv("WAPI_SHARED_DIR");
	setenv("MONO_SHARED_DIR", "/srv/m/", 1);
	wcore_dir_path(buf, sizeof(buf), why, sizeof(why));
	T_STREQ(buf, "/srv/m/.wapi", "MONO_SHARED_DIR, trailing slash");
	setenv("MONO_SHARED_DIR", "", 1);
	wcore_dir_path(buf, sizeof(buf), why, sizeof(why));
	T_STREQ(buf, "/home/u/.wapi", "HOME last");
	setenv("HOME", "/", 1);
	wcore_dir_path(buf, sizeof(buf), why, sizeof(why));
	T_STREQ(buf, "/.wapi", "HOME=/");
	unsetenv("MONO_SHARED_DIR");
	unsetenv("HOME");
	why[0] = '\0';
	T_INTEQ(wcore_dir_path(buf, sizeof(buf), why, sizeof(why)), ENOENT,
	    "no variable set: ENOENT");
	t_ok(strstr(why, "HOME") != NULL, "why names HOME: %s", why);
	setenv("WAPI_SHARED_DIR", "/a/rather/long/directory", 1);
	T_INTEQ(wcore_dir_path(buf, 12, why, sizeof(why)), ENAMETOOLONG,
	    "small buffer: ENAMETOOLONG");
	setenv("WAPI_SHARED_DIR", t_tmp, 1);
	setenv("HOME", t_tmp, 1);
}

static void
test_host_name(void)
{
	char buf[128], why[256], sys[256];

	setenv("WAPI_SHARED_HOSTNAME", "node1.example.org", 1);
	setenv("MONO_SHARED_HOSTNAME", "mono-host", 1);
	T_INTEQ(wcore_host_name(buf, sizeof(buf), why, sizeof(why)), 0,
	    "host from WAPI_SHARED_HOSTNAME");
	T_STREQ(buf, "node1.example.org", "WAPI_SHARED_HOSTNAME wins");
	setenv("WAPI_SHARED_HOSTNAME", "", 1);
	wcore_host_name(buf, sizeof(buf), why, sizeof(why));
	T_STREQ(buf, "mono-host", "empty WAPI_SHARED_HOSTNAME: MONO_ one");
	setenv("WAPI_SHARED_HOSTNAME", "../etc", 1);
	why[0] = '\0';
	T_INTEQ(wcore_host_name(buf, sizeof(buf), why, sizeof(why)), EINVAL,
	    "bad WAPI_SHARED_HOSTNAME: EINVAL");
	t_ok(strstr(why, "WAPI_SHARED_HOSTNAME") != NULL,
	    "why names the variable: %s", why);
	unsetenv("WAPI_SHARED_HOSTNAME");
	setenv("MONO_SHARED_HOSTNAME", "a/b", 1);
	why[0] = '\0';
	T_INTEQ(wcore_host_name(buf, sizeof(buf), why, sizeof(why)), EINVAL,
	    "bad MONO_SHARED_HOSTNAME: EINVAL");
	t_ok(strstr(why, "MONO_SHARED_HOSTNAME") != NULL,
	    "why names MONO_SHARED_HOSTNAME: %s", why);
	unsetenv("MONO_SHARED_HOSTNAME");
	memset(sys, 0, sizeof(sys));
	gethostname(sys, sizeof(sys) - 1);
	if (wcore_host_check(sys) == NULL) {
		T_INTEQ(wcore_host_name(buf, sizeof(buf), why, sizeof(why)), 0,
		    "host from gethostname");
		T_STREQ(buf, sys, "gethostname's name");
	} else
		t_skip("system host name is not a valid wapi host name");
	setenv("WAPI_SHARED_HOSTNAME", "some-test-name", 1);
}

static void
test_dir_open(void)
{
	char path[PATH_MAX + 32], why[256];
	struct stat st;
	int fd, rc;

	snprintf(wapidir, sizeof(wapidir), "%s/.wapi", t_tmp);
	why[0] = '\0';
	fd = wcore_dir_open(wapidir, false, why, sizeof(why));
	T_INTEQ(fd, -ENOENT, "missing dir, create=false: -ENOENT");
	t_ok(strstr(why, "does not exist") != NULL, "why: %s", why);
	t_ok(lstat(wapidir, &st) != 0, "and nothing was created");

	snprintf(path, sizeof(path), "%s/no/such/.wapi", t_tmp);
	fd = wcore_dir_open(path, true, why, sizeof(why));
	T_INTEQ(fd, -ENOENT, "missing parent, create=true: -ENOENT");
	snprintf(path, sizeof(path), "%s/no", t_tmp);
	t_ok(lstat(path, &st) != 0, "and no parent was created");

	fd = wcore_dir_open(wapidir, true, why, sizeof(why));
	t_ok(fd >= 0, "create=true creates it (%s)", fd < 0 ? why : "ok");
	memset(&st, 0, sizeof(st));
	rc = lstat(wapidir, &st);	/* not in t_ok: its arguments have no order */
	t_ok(rc == 0 && S_ISDIR(st.st_mode) &&
	    (st.st_mode & 07777) == 0700, "created mode 0700 (%04o)",
	    (unsigned)(st.st_mode & 07777));
	t_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	    "descriptor is close-on-exec");
	if (fd >= 0)
		close(fd);
	fd = wcore_dir_open(wapidir, false, why, sizeof(why));
	t_ok(fd >= 0, "existing dir opens");
	if (fd >= 0)
		close(fd);

	/* Mono created the directory 0755: readable by others is fine. */
	chmod(wapidir, 0755);
	fd = wcore_dir_open(wapidir, false, why, sizeof(why));
	t_ok(fd >= 0, "mode 0755 accepted");
	if (fd >= 0)
		close(fd);

	chmod(wapidir, 0777);
	why[0] = '\0';
	fd = wcore_dir_open(wapidir, true, why, sizeof(why));
	T_INTEQ(fd, -EACCES, "mode 0777 refused");
	t_ok(strstr(why, "writable by group or others (mode 0777)") != NULL,
	    "why: %s", why);
	chmod(wapidir, 0720);
	fd = wcore_dir_open(wapidir, true, why, sizeof(why));
	T_INTEQ(fd, -EACCES, "group-writable 0720 refused");
	chmod(wapidir, 0700);

	snprintf(path, sizeof(path), "%s/link", t_tmp);
	t_ok(symlink(wapidir, path) == 0, "make a symlink to the dir");
	why[0] = '\0';
	fd = wcore_dir_open(path, true, why, sizeof(why));
	T_INTEQ(fd, -ELOOP, "symlink to a good dir refused");
	t_ok(strstr(why, "is a symbolic link") != NULL, "why: %s", why);
	snprintf(path, sizeof(path), "%s/link//", t_tmp);
	fd = wcore_dir_open(path, true, why, sizeof(why));
	T_INTEQ(fd, -ELOOP, "symlink with trailing slashes refused");
	snprintf(path, sizeof(path), "%s/dangling", t_tmp);
	t_ok(symlink("/nonexistent/wapi", path) == 0, "make a dangling link");
	fd = wcore_dir_open(path, true, why, sizeof(why));
	T_INTEQ(fd, -ELOOP, "dangling symlink refused, not followed by mkdir");

	snprintf(path, sizeof(path), "%s/plain", t_tmp);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	fd = wcore_dir_open(path, true, why, sizeof(why));
	T_INTEQ(fd, -ENOTDIR, "regular file refused");

	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/foreign", t_tmp);
		mkdir(path, 0700);
		t_ok(chown(path, 65534, 65534) == 0, "chown dir to 65534");
		why[0] = '\0';
		fd = wcore_dir_open(path, false, why, sizeof(why));
		T_INTEQ(fd, -EPERM, "foreign owner refused");
		t_ok(strstr(why, "is owned by uid 65534, not 0") != NULL,
		    "why: %s", why);
	} else {
		t_skip("foreign owner: not root (cannot chown)");
		t_skip("foreign owner: not root");
		t_skip("foreign owner: not root");
	}
}

struct scan_ctx {
	char names[16][256];
	mode_t modes[16];
	enum wcore_name_kind kinds[16];
	int n;
	int stop_at;
};

static int
scan_fn(const struct wcore_dirent *e, void *arg)
{
	struct scan_ctx *c = arg;

	if (c->n < 16) {
		strlcpy(c->names[c->n], e->name, sizeof(c->names[0]));
		c->modes[c->n] = e->info.mode;
		c->kinds[c->n] = e->parsed.kind;
	}
	c->n++;
	if (c->stop_at > 0 && c->n == c->stop_at)
		return 77;
	return 0;
}

static void
test_dir_scan(void)
{
	static const char *const want[] = {
		".h.x86_64.state.AbC123",
		"a.x86_64.state",
		"h.x86_64.state",
		"link.x86_64.state",
		"shared_data-h-Linux-x86_64-344-12-0",
		"shared_fileshare-h-Linux-x86_64-40-12-0",
		"shared_scratch-h-3-0",
		"z.aarch64.state",
	};
	struct scan_ctx c;
	char why[256];
	int dfd, i, ok;

	dfd = wcore_dir_open(wapidir, false, why, sizeof(why));
	if (dfd < 0) {
		t_ok(0, "scan: open dir: %s", why);
		return;
	}
	make_file(dfd, "h.x86_64.state", 0600);
	make_file(dfd, "z.aarch64.state", 0600);
	make_file(dfd, "a.x86_64.state", 0600);
	make_file(dfd, ".h.x86_64.state.AbC123", 0600);
	make_file(dfd, "shared_data-h-Linux-x86_64-344-12-0", 0600);
	make_file(dfd, "shared_fileshare-h-Linux-x86_64-40-12-0", 0600);
	make_file(dfd, "shared_scratch-h-3-0", 0600);
	make_file(dfd, "notes.txt", 0600);
	make_file(dfd, "h.vax.state", 0600);
	t_ok(symlinkat("/etc/passwd", dfd, "link.x86_64.state") == 0,
	    "make a symlink named like a state file");
	mkdirat(dfd, "sub", 0700);

	memset(&c, 0, sizeof(c));
	/* A consumed offset on the caller's descriptor must not matter. */
	T_INTEQ(wcore_dir_scan(dfd, scan_fn, &c), 0, "scan returns 0");
	T_INTEQ(c.n, 8, "scan lists exactly our 8 names");
	ok = c.n == 8;
	for (i = 0; ok && i < 8; i++)
		if (strcmp(c.names[i], want[i]) != 0)
			ok = 0;
	t_ok(ok, "sorted by name, others left out");
	for (i = 0; i < c.n && i < 16; i++)
		if (strcmp(c.names[i], "link.x86_64.state") == 0)
			break;
	t_ok(i < c.n && S_ISLNK(c.modes[i]),
	    "symlink reported as a link, not followed");
	t_ok(c.n == 8 && c.kinds[0] == WCORE_NAME_TEMP &&
	    c.kinds[4] == WCORE_NAME_LEGACY_DATA &&
	    c.kinds[5] == WCORE_NAME_LEGACY_SHARE &&
	    c.kinds[6] == WCORE_NAME_LEGACY_SCRATCH &&
	    c.kinds[7] == WCORE_NAME_STATE, "kinds: temp, legacy, state");

	memset(&c, 0, sizeof(c));
	T_INTEQ(wcore_dir_scan(dfd, scan_fn, &c), 0, "second scan works too");
	T_INTEQ(c.n, 8, "and sees the same 8");
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	T_INTEQ(wcore_dir_scan(dfd, scan_fn, &c), 77,
	    "callback's non-zero stops the walk and is returned");
	T_INTEQ(c.n, 2, "after two entries");

	/* Leave only what test_state_open uses. */
	unlinkat(dfd, "link.x86_64.state", 0);
	unlinkat(dfd, "sub", AT_REMOVEDIR);
	close(dfd);
}

static void
test_state_open(void)
{
	char why[256];
	int dfd, fd, wfd;

	dfd = wcore_dir_open(wapidir, false, why, sizeof(why));
	if (dfd < 0) {
		t_ok(0, "state_open: open dir: %s", why);
		return;
	}
	fd = wcore_state_open(dfd, "h.x86_64.state", false, why, sizeof(why));
	t_ok(fd >= 0, "a good state file opens read-only (%s)",
	    fd < 0 ? why : "ok");
	t_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) &&
	    !(fcntl(fd, F_GETFL) & O_NONBLOCK),
	    "close-on-exec, O_NONBLOCK cleared");
	if (fd >= 0)
		close(fd);
	wfd = wcore_state_open(dfd, "h.x86_64.state", true, why, sizeof(why));
	t_ok(wfd >= 0 && (fcntl(wfd, F_GETFL) & O_ACCMODE) == O_RDWR,
	    "and read-write");
	if (wfd >= 0)
		close(wfd);

	t_ok(symlinkat("h.x86_64.state", dfd, "sl.x86_64.state") == 0,
	    "make a symlink to a good state file");
	why[0] = '\0';
	fd = wcore_state_open(dfd, "sl.x86_64.state", false, why, sizeof(why));
	T_INTEQ(fd, -ELOOP, "symlink refused");
	t_ok(strstr(why, "symbolic link") != NULL, "why: %s", why);

	mkfifoat(dfd, "fifo.x86_64.state", 0600);
	why[0] = '\0';
	fd = wcore_state_open(dfd, "fifo.x86_64.state", false, why,
	    sizeof(why));
	T_INTEQ(fd, -EINVAL, "FIFO refused without hanging");
	t_ok(strstr(why, "FIFO") != NULL, "why: %s", why);
	fd = wcore_state_open(dfd, "fifo.x86_64.state", true, why,
	    sizeof(why));
	T_INTEQ(fd, -EINVAL, "FIFO refused read-write too");

	mkdirat(dfd, "d.x86_64.state", 0700);
	fd = wcore_state_open(dfd, "d.x86_64.state", true, why, sizeof(why));
	T_INTEQ(fd, -EINVAL, "directory refused (writable)");
	fd = wcore_state_open(dfd, "d.x86_64.state", false, why, sizeof(why));
	T_INTEQ(fd, -EINVAL, "directory refused (read-only)");

	make_file(dfd, "hl.x86_64.state", 0600);
	t_ok(linkat(dfd, "hl.x86_64.state", dfd, "hl2", 0) == 0,
	    "make a hard link");
	why[0] = '\0';
	fd = wcore_state_open(dfd, "hl.x86_64.state", false, why, sizeof(why));
	T_INTEQ(fd, -EMLINK, "hard-linked file refused");
	t_ok(strstr(why, "2 links") != NULL, "why: %s", why);

	make_file(dfd, "m.x86_64.state", 0666);
	why[0] = '\0';
	fd = wcore_state_open(dfd, "m.x86_64.state", false, why, sizeof(why));
	T_INTEQ(fd, -EACCES, "mode 0666 refused");
	t_ok(strstr(why, "0666") != NULL, "why: %s", why);
	make_file(dfd, "m2.x86_64.state", 0640);
	fd = wcore_state_open(dfd, "m2.x86_64.state", false, why, sizeof(why));
	T_INTEQ(fd, -EACCES, "mode 0640 refused");

	if (geteuid() == 0) {
		make_file(dfd, "f.x86_64.state", 0600);
		t_ok(fchownat(dfd, "f.x86_64.state", 65534, 65534, 0) == 0,
		    "chown file to 65534");
		why[0] = '\0';
		fd = wcore_state_open(dfd, "f.x86_64.state", false, why,
		    sizeof(why));
		T_INTEQ(fd, -EPERM, "foreign owner refused");
		t_ok(strstr(why, "uid 65534") != NULL, "why: %s", why);
	} else {
		t_skip("foreign owner: not root (cannot chown)");
		t_skip("foreign owner: not root");
		t_skip("foreign owner: not root");
	}

	fd = wcore_state_open(dfd, "../x.x86_64.state", false, why,
	    sizeof(why));
	T_INTEQ(fd, -EINVAL, "a name with '/' is refused");
	fd = wcore_state_open(dfd, "nope.x86_64.state", false, why,
	    sizeof(why));
	T_INTEQ(fd, -ENOENT, "a missing file: -ENOENT");
	close(dfd);
}

int
main(void)
{
	t_setup();
	test_dir_path();
	test_host_name();
	test_dir_open();
	test_dir_scan();
	test_state_open();
	return t_done();
}
