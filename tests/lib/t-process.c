/*
 * Process handles, with real processes: spawn through the helper, waits
 * from another client, wait_multiple, terminate, death by signal, failures
 * to start, a process opened by pid, stdio handles, hundreds of concurrent
 * spawns without a zombie, descriptor hygiene; then the same in private
 * mode (WAPI_DISABLE_SHM=1), where this process is the parent.
 *
 * Run as "t-process child-self" it is the spawned child that checks what it
 * inherited (exit 42 when all is well).
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include "tlib.h"
#include "spawnmsg.h"

#define LONG_SH	"exec sleep 300 </dev/null >/dev/null 2>&1"
#define SELF_OK	42

static char self[4096];
static bool private_mode;

/* ------------------------------------------------------------- helpers */

/* Open descriptors, sockets aside (nothing here makes any; the library's
 * deposit watcher connects in its own time). */
static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[300], to[300];
	ssize_t n;
	int count = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, to, sizeof(to) - 1);
		if (n > 0 && strncmp(to, "socket:", 7) == 0)
			continue;
		count++;
	}
	closedir(d);
	return count;
}

/* Long processes started, to kill at the end whatever a failure left. */
static struct { pid_t pid; uint64_t start; } longs[64];
static int nlongs;

static int
spawn_sh(const char *script, wapi_handle_t *h, pid_t *pid)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	pid_t p = 0;
	int r = wapi_process_spawn(argv, NULL, NULL, NULL, h, &p);

	if (r == 0 && strcmp(script, LONG_SH) == 0 && nlongs < 64 &&
	    wcore_proc_start(p, &longs[nlongs].start) == 0)
		longs[nlongs++].pid = p;
	if (pid != NULL)
		*pid = p;
	return r;
}

static void
kill_longs(void)
{
	uint64_t start;
	int i;

	for (i = 0; i < nlongs; i++)
		if (wcore_proc_start(longs[i].pid, &start) == 0 &&
		    start == longs[i].start)
			kill(longs[i].pid, SIGKILL);
}

static int
exit_code(wapi_handle_t h)
{
	int code = -12345, r = wapi_process_exit_code(h, &code);

	return r == 0 ? code : -100000 - r;
}

static uint32_t
handles_used(void)
{
	struct wapi_header h;
	int fd = open(t_state_path(), O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return UINT32_MAX;
	ok = pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h);
	close(fd);
	return ok ? h.handles_used : UINT32_MAX;
}

/* Zombies whose parent is ppid, and (when kids != NULL) all children. */
static int
zombies_of(pid_t ppid, int *kids)
{
	char path[300], buf[512], *p, state;
	struct dirent *d;
	DIR *dp = opendir("/proc");
	int n = 0, fd, pp;
	ssize_t len;

	if (kids != NULL)
		*kids = 0;
	if (dp == NULL)
		return -1;
	while ((d = readdir(dp)) != NULL) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if ((p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %c %d", &state, &pp) != 2 || pp != ppid)
			continue;
		if (kids != NULL)
			(*kids)++;
		if (state == 'Z')
			n++;
	}
	closedir(dp);
	return n;
}

/* Entries in /proc/PID/task/PID/children. */
static int
children_listed(pid_t pid)
{
	char path[128], buf[8192];
	int fd, n = 0;
	ssize_t len;
	char *p, *save = NULL;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (p = strtok_r(buf, " \n", &save); p != NULL;
	    p = strtok_r(NULL, " \n", &save))
		n++;
	return n;
}

static pid_t
helper_pid(void)
{
	pid_t p[4];

	return t_helpers(p, 4) >= 1 ? p[0] : -1;
}

static pid_t
fork_pauser(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* ------------------------------------------------- the spawned child */

static bool
status_zero(const char *field)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/self/status", "re");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strstr(buf, field)) == NULL)
		return false;
	p += strlen(field);
	while (*p == '\t' || *p == ' ')
		p++;
	return strspn(p, "0") == 16;
}

static int
child_self(void)
{
	struct wapi_handle_info info;
	const char *v = getenv("WAPI_PROCESS_HANDLE");
	char *end;
	unsigned long n;
	int fds = count_fds();

	/* Before any wapi call: what the spawner handed us. */
	if (fds != 3)
		return 10 + (fds > 9 ? 9 : fds < 0 ? 0 : fds);
	if (!status_zero("SigBlk:"))
		return 21;
	if (!status_zero("SigIgn:"))
		return 22;
	if (v == NULL || *v == '\0')
		return 23;
	n = strtoul(v, &end, 10);
	if (*end != '\0' || n == 0 || n > UINT32_MAX)
		return 24;
	if (getenv("WAPI_DISABLE_SHM") != NULL)
		return SELF_OK;		/* private: the number is our parent's */
	if (wapi_handle_ref((wapi_handle_t)n) != 0)
		return 25;
	if (wapi_handle_info((wapi_handle_t)n, &info) != 0)
		return 26;
	if (info.type != WAPI_TYPE_PROCESS || info.pid != getpid() ||
	    info.exit_code != WAPI_STILL_ACTIVE || info.signalled)
		return 27;
	wapi_handle_close((wapi_handle_t)n);
	wapi_shutdown();
	return SELF_OK;
}

/* --------------------------------------------------------- scenarios */

struct b_arg {
	wapi_handle_t h;
	int want;
	pid_t pid;
	struct t_gate gate;
};

/* B: an unrelated client adopts the number, waits, reads the code. */
static int
b_main(void *p)
{
	struct b_arg *a = p;
	struct wapi_handle_info info;

	if (wapi_handle_ref(a->h) != 0)
		return 1;
	t_gate_open(&a->gate, 'r');
	if (wapi_wait(a->h, WAPI_INFINITE) != WAPI_WAIT_OBJECT_0)
		return 2;
	if (exit_code(a->h) != a->want)
		return 3;
	if (wapi_handle_info(a->h, &info) != 0 || info.pid != a->pid ||
	    !info.signalled)
		return 4;
	return wapi_handle_close(a->h) == 0 ? 0 : 5;
}

static void
test_basic(void)
{
	struct wapi_handle_info info;
	struct b_arg a;
	wapi_handle_t h = 0;
	pid_t pid = 0, b;

	T_EQ(spawn_sh("exit 7", &h, &pid), 0, "spawn sh -c 'exit 7'");
	T_OK(h != 0 && pid > 0, "a handle and a pid (%d)", (int)pid);
	if (!private_mode) {
		a.h = h;
		a.want = 7;
		a.pid = pid;
		t_gate_init(&a.gate);
		b = t_fork(b_main, &a);
		close(a.gate.fd[1]);
		t_gate_pass(&a.gate);
		close(a.gate.fd[0]);
		T_EQ(t_wait(b), 0, "B (another process) waits and reads 7");
	}
	T_EQ(wapi_wait(h, WAPI_INFINITE), WAPI_WAIT_OBJECT_0, "A waits");
	T_EQ(exit_code(h), 7, "A reads 7");
	T_EQ(wapi_handle_info(h, &info), 0, "handle_info");
	T_OK(info.type == WAPI_TYPE_PROCESS && info.pid == pid &&
	    info.exit_code == 7 && info.signalled, "info: process, pid, 7");
	T_EQ(wapi_handle_close(h), 0, "close");
	T_EQ(exit_code(h), -100000 - WAPI_EBADHANDLE, "closed handle is gone");
}

static void
test_waits(void)
{
	wapi_handle_t h = 0, ev = 0, hs[2];
	pid_t pid;

	T_EQ(spawn_sh(LONG_SH, &h, &pid), 0, "spawn a long process");
	T_EQ(wapi_wait(h, 0), WAPI_WAIT_TIMEOUT, "poll: running");
	T_EQ(wapi_wait(h, 30), WAPI_WAIT_TIMEOUT, "30 ms: running");
	T_EQ(exit_code(h), WAPI_STILL_ACTIVE, "exit code STILL_ACTIVE");
	T_EQ(wapi_event_create(NULL, 1, 0, &ev), 0, "event");
	hs[0] = h;
	hs[1] = ev;
	T_EQ(wapi_wait_multiple(hs, 2, 0, 20), WAPI_WAIT_TIMEOUT,
	    "wait_multiple: timeout");
	wapi_event_set(ev);
	T_EQ(wapi_wait_multiple(hs, 2, 0, WAPI_INFINITE), WAPI_WAIT_OBJECT_0 + 1,
	    "wait_multiple any: the event");
	T_EQ(wapi_wait_multiple(hs, 2, 1, 20), WAPI_WAIT_TIMEOUT,
	    "wait_multiple all: process still running");
	wapi_event_reset(ev);
	T_EQ(wapi_process_terminate(h, 1234), 0, "terminate(1234)");
	T_EQ(wapi_wait_multiple(hs, 2, 0, WAPI_INFINITE), WAPI_WAIT_OBJECT_0,
	    "wait_multiple any: the process");
	T_EQ(exit_code(h), 1234, "terminated: the given code");
	T_EQ(wapi_process_terminate(h, 4321), 0, "terminate an ended process");
	T_EQ(exit_code(h), 1234, "the first code stays");
	wapi_event_set(ev);
	T_EQ(wapi_wait_multiple(hs, 2, 1, WAPI_INFINITE), WAPI_WAIT_OBJECT_0,
	    "wait_multiple all: both");
	T_EQ(wapi_process_terminate(ev, 1), WAPI_ETYPE, "terminate an event");
	T_EQ(wapi_process_exit_code(ev, &(int){ 0 }), WAPI_ETYPE,
	    "exit code of an event");
	T_EQ(wapi_process_exit_code(h, NULL), WAPI_EINVAL, "NULL code");
	wapi_handle_close(ev);
	wapi_handle_close(h);
}

static void
test_signals(void)
{
	wapi_handle_t h = 0;
	pid_t pid;

	T_EQ(spawn_sh("kill -9 $$", &h, &pid), 0, "spawn a self-killer");
	T_EQ(wapi_wait(h, WAPI_INFINITE), WAPI_WAIT_OBJECT_0, "wait");
	T_EQ(exit_code(h), WAPI_EXIT_SIGNAL_BASE + 9, "killed by 9: BASE + 9");
	wapi_handle_close(h);
	T_EQ(spawn_sh("kill -TERM $$", &h, &pid), 0, "spawn a SIGTERM");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), WAPI_EXIT_SIGNAL_BASE + 15, "killed by 15");
	wapi_handle_close(h);
	/* A signal from outside, not through wapi. */
	T_EQ(spawn_sh(LONG_SH, &h, &pid), 0, "spawn a long process");
	T_EQ(kill(pid, SIGKILL), 0, "kill -9 it from outside");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), WAPI_EXIT_SIGNAL_BASE + 9, "killed from outside");
	wapi_handle_close(h);
}

static void
test_failures(void)
{
	const char *missing[] = { "/nonexistent/wapi-prog", NULL };
	const char *unknown[] = { "wapi-no-such-program-xyz", NULL };
	const char *sh[] = { "sh", "-c", "exit 0", NULL };
	const char *byname[] = { "notexec", NULL };
	char file[512], envpath[600], real[4096], script[4200], here[4096];
	const char *env[] = { envpath, NULL };
	const char *pwd[] = { "sh", "-c", script, NULL };
	wapi_handle_t h = 0;
	uint32_t before = handles_used();
	int fd;

	snprintf(file, sizeof(file), "%s/notexec", t_dir);
	snprintf(envpath, sizeof(envpath), "PATH=%s", t_dir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		(void)!write(fd, "#!/bin/sh\nexit 0\n", 17);
		close(fd);
	}
	T_EQ(wapi_process_spawn(missing, NULL, NULL, NULL, &h, NULL), ENOENT,
	    "missing program: ENOENT");
	T_EQ(wapi_process_spawn(unknown, NULL, NULL, NULL, &h, NULL), ENOENT,
	    "unknown program in PATH: ENOENT");
	byname[0] = file;
	T_EQ(wapi_process_spawn(byname, NULL, NULL, NULL, &h, NULL), EACCES,
	    "non-executable file: EACCES");
	byname[0] = "notexec";
	T_EQ(wapi_process_spawn(byname, env, NULL, NULL, &h, NULL), EACCES,
	    "non-executable found in envp's PATH: EACCES");
	T_EQ(wapi_process_spawn(sh, NULL, "/nonexistent-wapi-dir", NULL, &h,
	    NULL), ENOENT, "missing cwd: ENOENT");
	T_EQ(wapi_process_spawn(sh, NULL, file, NULL, &h, NULL), ENOTDIR,
	    "cwd is a file: ENOTDIR");
	T_EQ(wapi_process_spawn(NULL, NULL, NULL, NULL, &h, NULL), WAPI_EINVAL,
	    "NULL argv");
	T_EQ(wapi_process_spawn(sh, NULL, NULL, NULL, NULL, NULL), WAPI_EINVAL,
	    "NULL out");
	if (!private_mode)
		T_EQ(handles_used(), before, "no handle left behind by failures");

	/* cwd given, and cwd inherited (relative to where we are). */
	if (realpath(t_dir, real) == NULL)
		snprintf(real, sizeof(real), "%s", t_dir);
	snprintf(script, sizeof(script), "[ \"$(pwd -P)\" = '%s' ]", real);
	T_EQ(wapi_process_spawn(pwd, NULL, t_dir, NULL, &h, NULL), 0,
	    "spawn with cwd");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), 0, "the child starts in cwd");
	wapi_handle_close(h);
	if (getcwd(here, sizeof(here)) != NULL && chdir(t_dir) == 0) {
		T_EQ(wapi_process_spawn(pwd, NULL, NULL, NULL, &h, NULL), 0,
		    "spawn without cwd");
		wapi_wait(h, WAPI_INFINITE);
		T_EQ(exit_code(h), 0, "the child starts in the caller's directory");
		wapi_handle_close(h);
		T_EQ(wapi_process_spawn(pwd, NULL, ".", NULL, &h, NULL), 0,
		    "spawn with a relative cwd");
		wapi_wait(h, WAPI_INFINITE);
		T_EQ(exit_code(h), 0, "relative cwd: from the caller's directory");
		wapi_handle_close(h);
		(void)!chdir(here);
	}
}

static void
test_big(void)
{
	const char *argv[] = { "sh", "-c", "exit 0", NULL, NULL };
	size_t len = 300 * 1024;
	char *big = malloc(len + 1);
	wapi_handle_t h;

	if (big == NULL)
		return;
	memset(big, 'x', len);
	big[len] = '\0';
	argv[3] = big;
	T_EQ(wapi_process_spawn(argv, NULL, NULL, NULL, &h, NULL), E2BIG,
	    "300 KiB of arguments: E2BIG");
	free(big);
	/* The connection to the helper (if any) still works. */
	T_EQ(spawn_sh("exit 4", &h, NULL), 0, "spawn after E2BIG");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), 4, "exit 4");
	wapi_handle_close(h);
}

static void
test_umask(void)
{
	wapi_handle_t h = 0;
	mode_t old = umask(027);

	T_EQ(spawn_sh("[ \"$(umask)\" = 0027 ]", &h, NULL), 0, "spawn");
	umask(old);
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), 0, "the child has the caller's umask");
	wapi_handle_close(h);
}

/*
 * A helper raises its soft limit on open files for the descriptors it
 * holds at fixed numbers; what it spawns gets the limit it started with.
 * Run in a child with a host of its own, so that the helper it starts
 * inherits a lowered soft limit.
 */
static int
c_nofile(void *arg)
{
	struct rlimit rl;
	struct wapi_header hd;
	char host[64], path[700], buf[4096], *q;
	wapi_handle_t h = 0;
	ssize_t n;
	int fd;

	(void)arg;
	snprintf(host, sizeof(host), "%.40s-nofile", t_host);
	setenv("WAPI_SHARED_HOSTNAME", host, 1);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < 5000)
		return 77;
	rl.rlim_cur = 4000;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1;
	if (spawn_sh("[ \"$(ulimit -Sn)\" = 4000 ]", &h, NULL) != 0)
		return 2;
	wapi_wait(h, WAPI_INFINITE);
	if (exit_code(h) != 0)
		return 3;
	/* And the helper did raise its own (else the above proves little). */
	snprintf(path, sizeof(path), "%s/.wapi/%s.%s.state", t_dir, host,
	    WAPI_ABI);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    pread(fd, &hd, sizeof(hd), 0) != (ssize_t)sizeof(hd))
		return 4;
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)hd.helper_pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 5;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 5;
	buf[n] = '\0';
	if ((q = strstr(buf, "Max open files")) == NULL ||
	    strtol(q + strlen("Max open files"), NULL, 10) <= 4000)
		return 6;
	wapi_handle_close(h);
	return 0;
}

static void
test_nofile(void)
{
	int r = t_wait(t_fork(c_nofile, NULL));

	if (r == 77)
		printf("# the hard limit on open files is below 5,000 here: "
		    "nothing to raise\n");
	T_OK(r == 0 || r == 77, "a spawned program gets the soft limit on "
	    "open files its helper started with, not the one it raised "
	    "(got %d)", r);
}

static bool
helper_gone(void *p)
{
	char path[64], buf[256], *q;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", *(int *)p);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	q = strrchr(buf, ')');
	return q == NULL || q[2] == 'Z';
}

/* The helper dies while its processes run: their sitters (the parents
 * that record their ends) live on, so a terminate through the next helper
 * and a kill from outside both end with their real codes. */
static void
test_helper_death(void)
{
	struct wapi_handle_info info;
	wapi_handle_t h = 0, h2 = 0;
	pid_t pid, hp;

	T_EQ(spawn_sh(LONG_SH, &h, &pid), 0, "spawn a long process");
	T_EQ(spawn_sh(LONG_SH, &h2, NULL), 0, "and another");
	hp = helper_pid();
	T_OK(hp > 0 && kill(hp, SIGKILL) == 0, "kill -9 the helper");
	T_OK(t_until(helper_gone, &hp, 10000), "the helper is gone");
	T_EQ(wapi_process_terminate(h, 66), 0, "terminate through a new helper");
	T_EQ(wapi_wait(h, WAPI_INFINITE), WAPI_WAIT_OBJECT_0, "wait");
	T_EQ(exit_code(h), 66, "the code given");
	T_OK(helper_pid() > 0 && helper_pid() != hp, "a new helper runs");
	T_EQ(wapi_wait(h2, 0), WAPI_WAIT_TIMEOUT, "the other still runs");
	if (wapi_handle_info(h2, &info) == 0)
		kill(info.pid, SIGKILL);
	T_EQ(wapi_wait(h2, WAPI_INFINITE), WAPI_WAIT_OBJECT_0,
	    "killed from outside: the wait returns");
	T_EQ(exit_code(h2), WAPI_EXIT_SIGNAL_BASE + SIGKILL,
	    "its status is kept: killed by signal 9");
	wapi_handle_close(h);
	wapi_handle_close(h2);
}

static void
test_env(void)
{
	const char *env[] = { "FOO=bar baz", "PATH=/usr/bin:/bin",
	    "WAPI_PROCESS_HANDLE=bogus", NULL };
	const char *argv[] = { "sh", "-c", "[ \"$FOO\" = 'bar baz' ] && "
	    "[ \"$WAPI_PROCESS_HANDLE\" != bogus ] && [ -z \"$HOME\" ]", NULL };
	const char *me[] = { self, "child-self", NULL };
	wapi_handle_t h = 0;

	T_EQ(wapi_process_spawn(argv, env, NULL, NULL, &h, NULL), 0,
	    "spawn with envp");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), 0, "envp given, WAPI_PROCESS_HANDLE replaced");
	wapi_handle_close(h);
	T_EQ(wapi_process_spawn(me, NULL, NULL, NULL, &h, NULL), 0,
	    "spawn ourselves");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), SELF_OK, "child: $WAPI_PROCESS_HANDLE names its "
	    "handle, only fds 0-2, no blocked or ignored signal");
	wapi_handle_close(h);
}

struct c_arg {
	wapi_handle_t rd;
};

/* C: a third process reads what the child wrote into the pipe handle. */
static int
c_main(void *p)
{
	struct c_arg *a = p;
	char buf[64];
	size_t n = 0;
	int fd;

	if (wapi_handle_ref(a->rd) != 0)
		return 1;
	if (wapi_fd_get(a->rd, &fd) != 0)
		return 2;
	while (n < sizeof(buf) - 1 && read(fd, buf + n, 1) == 1)
		if (buf[n++] == '\n')
			break;
	buf[n] = '\0';
	return strcmp(buf, "hello-from-child\n") == 0 ? 0 : 3;
}

static void
test_stdio(void)
{
	const char *argv[] = { "sh", "-c", "echo hello-from-child", NULL };
	wapi_handle_t rd = 0, wr = 0, h = 0, st[3] = { 0, 0, 0 };
	struct c_arg a;
	pid_t c;
	int r;

	r = wapi_pipe_create(&rd, &wr);
	T_EQ(r, 0, "pipe handles");
	if (r != 0)
		return;
	st[1] = wr;
	T_EQ(wapi_process_spawn(argv, NULL, NULL, st, &h, NULL), 0,
	    "spawn with stdout = the pipe's write end");
	wapi_wait(h, WAPI_INFINITE);
	T_EQ(exit_code(h), 0, "the writer ended");
	if (private_mode) {
		a.rd = rd;
		T_EQ(c_main(&a), 0, "we read what the child wrote");
		wapi_handle_close(rd);	/* c_main's reference */
	} else {
		a.rd = rd;
		c = t_fork(c_main, &a);
		T_EQ(t_wait(c), 0, "a third process reads what the child wrote");
	}
	st[1] = 12345;
	T_EQ(wapi_process_spawn(argv, NULL, NULL, st, &h, NULL), WAPI_EBADHANDLE,
	    "a bad stdio handle");
	wapi_handle_close(h);
	wapi_handle_close(rd);
	wapi_handle_close(wr);
}

static int
b_opened(void *p)
{
	struct b_arg *a = p;

	if (wapi_handle_ref(a->h) != 0)
		return 1;
	t_gate_open(&a->gate, 'r');
	if (wapi_wait(a->h, WAPI_INFINITE) != WAPI_WAIT_OBJECT_0)
		return 2;
	return exit_code(a->h) == WAPI_EXIT_UNKNOWN ? 0 : 3;
}

static void
test_open(void)
{
	struct wapi_handle_info info;
	wapi_handle_t h = 0, h2 = 0;
	struct b_arg a;
	pid_t p, pid, b = -1;
	int st;

	p = fork_pauser();
	T_EQ(wapi_process_open(p, &h), 0, "open a non-child by pid");
	T_EQ(wapi_wait(h, 0), WAPI_WAIT_TIMEOUT, "it runs");
	T_EQ(exit_code(h), WAPI_STILL_ACTIVE, "STILL_ACTIVE");
	T_OK(wapi_handle_info(h, &info) == 0 && info.pid == p, "info: its pid");
	if (!private_mode) {
		a.h = h;
		t_gate_init(&a.gate);
		b = t_fork(b_opened, &a);
		close(a.gate.fd[1]);
		t_gate_pass(&a.gate);
		close(a.gate.fd[0]);
	}
	kill(p, SIGKILL);
	T_EQ(wapi_wait(h, WAPI_INFINITE), WAPI_WAIT_OBJECT_0,
	    "killed: the wait returns");
	T_EQ(exit_code(h), WAPI_EXIT_UNKNOWN, "exit code WAPI_EXIT_UNKNOWN");
	if (!private_mode)
		T_EQ(t_wait(b), 0, "another client waited for it too");
	waitpid(p, NULL, 0);
	wapi_handle_close(h);

	p = fork_pauser();
	T_EQ(wapi_process_open(p, &h), 0, "open another");
	T_EQ(wapi_process_terminate(h, 77), 0, "terminate it (77)");
	T_EQ(wapi_wait(h, WAPI_INFINITE), WAPI_WAIT_OBJECT_0, "wait");
	T_EQ(exit_code(h), 77, "exit code 77");
	T_OK(waitpid(p, &st, 0) == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	    "it died of SIGKILL");
	wapi_handle_close(h);

	p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	T_EQ(wapi_process_open(p, &h), ESRCH, "a pid that is gone: ESRCH");
	T_EQ(wapi_process_open(0, &h), WAPI_EINVAL, "pid 0: WAPI_EINVAL");

	/* Our own spawned child opened by pid: one process, one code. */
	T_EQ(spawn_sh(LONG_SH, &h, &pid), 0, "spawn a long process");
	T_EQ(wapi_process_open(pid, &h2), 0, "open it by pid too");
	T_EQ(wapi_process_terminate(h2, 55), 0, "terminate through the second");
	wapi_wait(h, WAPI_INFINITE);
	wapi_wait(h2, WAPI_INFINITE);
	T_EQ(exit_code(h), 55, "first handle: 55");
	T_EQ(exit_code(h2), 55, "second handle: 55");
	wapi_handle_close(h);
	wapi_handle_close(h2);
}

static bool
no_zombie_of(void *p)
{
	return zombies_of(*(pid_t *)p, NULL) == 0;
}

static bool
no_child_of(void *p)
{
	return children_listed(*(pid_t *)p) == 0;
}

#define MANY 200

static void
test_many(int many)
{
	static wapi_handle_t hs[MANY];
	char fifo[512], script[700];
	int i, bad = 0, fails = 0, fd, kids = 0, zombies;
	pid_t parent = private_mode ? getpid() : helper_pid();
	uint32_t before = handles_used();

	/* A fifo holds them all alive at once until we write to it. */
	snprintf(fifo, sizeof(fifo), "%s/gate-%d", t_dir, (int)getpid());
	unlink(fifo);
	T_EQ(mkfifo(fifo, 0600), 0, "mkfifo");
	for (i = 0; i < many; i++) {
		snprintf(script, sizeof(script), "read x < '%s'; exit %d", fifo,
		    i % 256);
		if (spawn_sh(script, &hs[i], NULL) != 0) {
			hs[i] = 0;
			fails++;
		}
	}
	T_EQ(fails, 0, "concurrent spawns");
	zombies = zombies_of(parent, &kids);
	T_OK(zombies == 0 && kids >= many - fails,
	    "%d children alive at once (%d seen)", many, kids);
	fd = open(fifo, O_WRONLY | O_CLOEXEC);
	for (i = 0; i < many && fd >= 0; i++)
		(void)!write(fd, "\n", 1);
	for (i = 0; i < many; i++) {
		if (hs[i] == 0)
			continue;
		if (wapi_wait(hs[i], WAPI_INFINITE) != WAPI_WAIT_OBJECT_0 ||
		    exit_code(hs[i]) != i % 256)
			bad++;
		wapi_handle_close(hs[i]);
	}
	if (fd >= 0)
		close(fd);
	unlink(fifo);
	T_EQ(bad, 0, "every exit code right");
	/* The helper's children are the sitters: each leaves just after it
	 * recorded its process's end, and the helper reaps it then. */
	T_OK(t_until(no_zombie_of, &parent, 10000), "no zombie left");
	if (!private_mode) {
		T_OK(t_until(no_child_of, &parent, 10000),
		    "the helper has no child left");
		T_EQ(handles_used(), before, "every handle freed");
	}
}

/* A process forked after spawning is a fresh one: it spawns its own. */
static int
fork_spawns(void *p)
{
	wapi_handle_t h;

	(void)p;
	if (spawn_sh("exit 5", &h, NULL) != 0)
		return 1;
	if (wapi_wait(h, WAPI_INFINITE) != WAPI_WAIT_OBJECT_0)
		return 2;
	return exit_code(h) == 5 ? 0 : 3;
}

static bool
exited(void *p)
{
	return exit_code(*(wapi_handle_t *)p) != WAPI_STILL_ACTIVE;
}

static bool
reaped(void *p)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d", *(int *)p);
	return stat(path, &st) != 0;
}

/* wapi_shutdown with a child running: it is still reaped, and its end
 * touches nothing of the next attachment (whose first handle may well
 * have the same number). */
static void
test_private_shutdown(void)
{
	wapi_handle_t h1 = 0, h2 = 0;
	pid_t p1 = 0, p2 = 0;

	wapi_shutdown();
	T_EQ(spawn_sh(LONG_SH, &h1, &p1), 0, "spawn, then shut down");
	wapi_shutdown();
	T_EQ(spawn_sh(LONG_SH, &h2, &p2), 0, "spawn in the new attachment");
	printf("# handles %#x and %#x, pids %d and %d\n", h1, h2, (int)p1, (int)p2);
	kill(p1, SIGKILL);
	T_OK(t_until(reaped, &p1, 10000), "the first child is reaped");
	T_EQ(wapi_wait(h2, 0), WAPI_WAIT_TIMEOUT, "the new handle is untouched");
	T_EQ(wapi_process_terminate(h2, 8), 0, "terminate the second");
	wapi_wait(h2, WAPI_INFINITE);
	T_EQ(exit_code(h2), 8, "8");
	wapi_handle_close(h2);
}

static void
test_private_extra(void)
{
	wapi_handle_t h = 0, l = 0;
	pid_t pid;

	/* Reaped lazily when asked, and by the reaper thread. */
	T_EQ(spawn_sh("exit 3", &h, NULL), 0, "spawn exit 3");
	T_OK(t_until(exited, &h, 10000), "exit code shows without a wait");
	T_EQ(exit_code(h), 3, "lazily reaped: 3");
	wapi_handle_close(h);
	T_EQ(spawn_sh(LONG_SH, &l, &pid), 0, "a long process");
	pid = t_fork(fork_spawns, NULL);
	T_EQ(t_wait(pid), 0, "a forked child spawns and reaps its own");
	wapi_process_terminate(l, 1);
	wapi_wait(l, WAPI_INFINITE);
	T_EQ(exit_code(l), 1, "and ours is still ours");
	wapi_handle_close(l);
}

/* The helper's parser of SPAWN payloads trusts nothing. */
static void
test_unpack(void)
{
	const char *argv[] = { "prog", "a", "", NULL };
	const char *envp[] = { "A=1", "B=", NULL };
	struct wcore_spawn_req q;
	struct wcore_spawn_hdr hd;
	size_t len, cut;
	char *buf, *bad;
	int ok = 0, refused = 0, i;

	T_EQ(wcore_spawn_pack(argv, envp, "dir", 5, WCORE_SPAWN_CWDFD,
	    (void **)&buf, &len), 0, "pack");
	T_EQ(wcore_spawn_unpack(buf, len, &q), 0, "unpack");
	T_OK(strcmp(q.argv[0], "prog") == 0 && strcmp(q.argv[2], "") == 0 &&
	    q.argv[3] == NULL && strcmp(q.envp[1], "B=") == 0 &&
	    q.envp[2] == NULL && q.cwd != NULL && strcmp(q.cwd, "dir") == 0 &&
	    q.stdio_mask == 5 && wcore_spawn_nfds(&q) == 3, "round trip");
	wcore_spawn_req_free(&q);
	/* Every truncation, in a buffer of exactly that size (ASan). */
	for (cut = 0; cut < len; cut++) {
		bad = malloc(cut + 1);
		memcpy(bad, buf, cut);
		if (wcore_spawn_unpack(cut ? bad : NULL, cut, &q) == EPROTO)
			refused++;
		else
			wcore_spawn_req_free(&q);
		free(bad);
	}
	T_EQ(refused, (int)len, "every truncation refused");
	/* Every single byte changed: refused or still sound. */
	bad = malloc(len);
	for (cut = 0; cut < len; cut++)
		for (i = 0; i < 3; i++) {
			memcpy(bad, buf, len);
			bad[cut] = i == 0 ? 0 : i == 1 ? (char)0xff : 'x';
			if (wcore_spawn_unpack(bad, len, &q) == 0) {
				ok += q.argv[0] != NULL && q.envp != NULL;
				wcore_spawn_req_free(&q);
			}
		}
	free(bad);
	T_OK(ok > 0, "flipped bytes: no crash (%d still sound)", ok);
	memcpy(&hd, buf, sizeof(hd));
	hd.argc = 0;
	memcpy(buf, &hd, sizeof(hd));
	T_EQ(wcore_spawn_unpack(buf, len, &q), EPROTO, "argc 0 refused");
	hd.argc = 0xffffffffu;
	memcpy(buf, &hd, sizeof(hd));
	T_EQ(wcore_spawn_unpack(buf, len, &q), EPROTO, "huge argc refused");
	hd.argc = 3;
	hd.envc = 3;
	memcpy(buf, &hd, sizeof(hd));
	T_EQ(wcore_spawn_unpack(buf, len, &q), EPROTO, "counts past the strings");
	hd.envc = 2;
	hd.flags |= 0x100;
	memcpy(buf, &hd, sizeof(hd));
	T_EQ(wcore_spawn_unpack(buf, len, &q), EPROTO, "unknown flag refused");
	hd.flags &= ~0x100u;
	memcpy(buf, &hd, sizeof(hd));
	buf[len - 1] = 'x';
	T_EQ(wcore_spawn_unpack(buf, len, &q), EPROTO, "unterminated refused");
	free(buf);
	T_EQ(wcore_spawn_pack(NULL, NULL, NULL, 0, 0, (void **)&buf, &len),
	    EINVAL, "pack without argv");
}

static void
run_all(const char *mode)
{
	int fds;

	printf("# %s mode\n", mode);
	/* What stays once set up (the reaper) comes with a first spawn. */
	test_basic();
	fds = count_fds();
	test_waits();
	test_signals();
	test_failures();
	test_env();
	test_big();
	test_umask();
	test_open();
	test_many(private_mode ? 64 : MANY);
	if (private_mode)
		test_private_extra();
	else {
		test_helper_death();
		test_nofile();
	}
	/* Before the first descriptor handle, which brings its own. */
	T_EQ(count_fds(), fds, "no descriptor leaked");
	test_stdio();
}

int
main(int argc, char *argv[])
{
	ssize_t n;

	if (argc == 2 && strcmp(argv[1], "child-self") == 0)
		return child_self();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 99;
	self[n] = '\0';
	t_setup("process");
	test_unpack();
	T_EQ(wapi_init(0), 0, "init");
	T_OK(wapi_is_shared(), "shared mode");
	run_all("shared");

	wapi_shutdown();
	setenv("WAPI_DISABLE_SHM", "1", 1);
	private_mode = true;
	T_OK(!wapi_is_shared(), "private mode");
	run_all("private");
	test_private_shutdown();
	wapi_shutdown();
	kill_longs();
	return t_done();
}
