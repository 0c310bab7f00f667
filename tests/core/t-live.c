/*
 * Liveness: OFD lock bytes between open file descriptions and processes,
 * /proc start times (including a comm with spaces and ')'), boot ids, and
 * the verdict of a real initialised state file whose bytes are held by
 * real forked children that are then killed with SIGKILL.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "tcheck.h"

#define HOST	"some-test-name"

struct holder {
	pid_t pid;
	int release;	/* write end: a byte (or EOF) lets the child go */
};

static void	test_locks(const char *);
static void	test_proc(void);
static void	test_verdicts(int, const char *, const char *);
static int	hold(const char *, off_t, int, struct holder *);
static void	kill_holder(struct holder *);
static void	release_holder(struct holder *);
static int	patch(int, void (*)(struct wapi_header *, const void *),
		    const void *);
static void	set_helper(struct wapi_header *, const void *);
static void	set_boot(struct wapi_header *, const void *);
static void	set_host(struct wapi_header *, const void *);
static void	set_magic(struct wapi_header *, const void *);
static void	set_version(struct wapi_header *, const void *);
static void	set_misc(struct wapi_header *, const void *);
static int	verdict(int, const char *, struct wcore_status *);

/*
 * Fork a child that opens path itself (its own open file description),
 * takes an OFD lock of type on byte and waits until told to go.  It dies
 * with the test (PDEATHSIG) and never runs the parent's atexit handlers.
 */
static int
hold(const char *path, off_t byte, int type, struct holder *h)
{
	int ready[2], go[2], fd;
	char c = 0;

	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(go, O_CLOEXEC) != 0)
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		close(go[1]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 || wcore_lock_byte(fd, byte, type, 0) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		if (read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	h->release = go[1];
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		kill_holder(h);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void
kill_holder(struct holder *h)
{
	int st;

	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
			continue;
	}
	if (h->release >= 0)
		close(h->release);
	h->pid = -1;
	h->release = -1;
}

/* Let the child leave on its own (used to end a blocking wait). */
static void
release_holder(struct holder *h)
{
	int st;

	close(h->release);
	h->release = -1;
	while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
		continue;
	h->pid = -1;
}

static void
test_locks(const char *path)
{
	struct holder h;
	int a, b, e;

	a = open(path, O_RDWR | O_CLOEXEC);
	b = open(path, O_RDWR | O_CLOEXEC);
	T_INTEQ(wcore_lock_byte(a, 7, F_WRLCK, 0), 0, "take byte 7 on fd a");
	T_INTEQ(wcore_byte_held(b, 7, F_WRLCK), 1,
	    "another description sees it held");
	T_INTEQ(wcore_byte_held(a, 7, F_WRLCK), 0,
	    "the same description does not conflict with itself");
	T_INTEQ(wcore_byte_held(b, 8, F_WRLCK), 0, "byte 8 is free");
	T_INTEQ(wcore_lock_byte(b, 7, F_WRLCK, 0), EAGAIN,
	    "second description: EAGAIN");
	T_INTEQ(wcore_lock_byte(b, 7, F_RDLCK, 0), EAGAIN,
	    "shared against exclusive: EAGAIN");
	T_INTEQ(wcore_lock_byte(b, 7, F_WRLCK, 30), ETIMEDOUT,
	    "bounded wait on a held byte: ETIMEDOUT");
	T_INTEQ(wcore_lock_byte(a, 7, F_UNLCK, 0), 0, "release");
	T_INTEQ(wcore_lock_byte(b, 7, F_WRLCK, 30), 0, "now free: taken");
	wcore_lock_byte(b, 7, F_UNLCK, 0);

	T_INTEQ(wcore_lock_byte(a, 9, F_RDLCK, 0), 0, "shared lock on a");
	T_INTEQ(wcore_lock_byte(b, 9, F_RDLCK, 0), 0, "shared lock on b too");
	T_INTEQ(wcore_byte_held(a, 9, F_RDLCK), 0,
	    "shared does not conflict with shared");
	T_INTEQ(wcore_byte_held(a, 9, F_WRLCK), 1,
	    "but conflicts with exclusive");
	close(a);
	T_INTEQ(wcore_byte_held(b, 9, F_WRLCK), 0,
	    "closing the description drops its lock");
	close(b);
	T_INTEQ(wcore_byte_held(-1, 9, F_WRLCK), -EBADF, "bad fd: -EBADF");

	/* A real other process, released while we wait. */
	b = open(path, O_RDWR | O_CLOEXEC);
	if (hold(path, 11, F_WRLCK, &h) != 0) {
		t_ok(0, "fork a lock holder");
		close(b);
		return;
	}
	T_INTEQ(wcore_byte_held(b, 11, F_WRLCK), 1, "child's lock is seen");
	e = wcore_lock_byte(b, 11, F_WRLCK, 0);
	T_INTEQ(e, EAGAIN, "child's lock blocks a try");
	/* Blocking wait: the child leaves when its pipe closes. */
	close(h.release);
	h.release = -1;
	T_INTEQ(wcore_lock_byte(b, 11, F_WRLCK, -1), 0,
	    "wait forever returns once the child is gone");
	release_holder(&h);
	wcore_lock_byte(b, 11, F_UNLCK, 0);

	if (hold(path, 12, F_WRLCK, &h) == 0) {
		close(h.release);
		h.release = -1;
		T_INTEQ(wcore_lock_byte(b, 12, F_WRLCK, 60000), 0,
		    "bounded wait returns once the child is gone");
		release_holder(&h);
	} else
		t_ok(0, "fork a second lock holder");
	close(b);
}

static void
test_proc(void)
{
	char boot[40], path[64], buf[2048];
	uint64_t s, s2;
	int fd, st, ready[2], i, ok;
	ssize_t n;
	pid_t child;
	char c;

	memset(boot, 'x', sizeof(boot));
	T_INTEQ(wcore_boot_id(boot), 0, "boot id read");
	ok = strlen(boot) == 36;
	for (i = 0; ok && i < 36; i++)
		if (boot[i] != '-' && !((boot[i] >= '0' && boot[i] <= '9') ||
		    (boot[i] >= 'a' && boot[i] <= 'f')))
			ok = 0;
	t_ok(ok, "boot id is 36 characters of uuid (%s)", boot);

	T_INTEQ(wcore_proc_start(getpid(), &s), 0, "own start time");
	t_ok(s > 0, "start time is positive");
	T_INTEQ(wcore_pid_alive(getpid(), s), 1, "alive with that start");
	T_INTEQ(wcore_pid_alive(getpid(), s + 1), 0,
	    "another start time: not alive (reused)");
	T_INTEQ(wcore_proc_start(0, &s2), ESRCH, "pid 0: ESRCH");
	T_INTEQ(wcore_proc_start(-5, &s2), ESRCH, "negative pid: ESRCH");

	/* A comm with spaces and ')' must not shift the fields. */
	if (pipe2(ready, O_CLOEXEC) != 0)
		return;
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		prctl(PR_SET_NAME, "a) b (c) 9 9");
		if (write(ready[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		t_ok(0, "child did not start");
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	t_ok(strstr(buf, "(a) b (c) 9 9)") != NULL, "child's comm is tricky: "
	    "%.40s", buf);
	T_INTEQ(wcore_proc_start(child, &s), 0, "child's start time parsed");
	t_ok(wcore_proc_start(getpid(), &s2) == 0 && s >= s2,
	    "child started no earlier than us");
	T_INTEQ(wcore_pid_alive(child, s), 1, "child alive");
	kill(child, SIGKILL);
	/* Until reaped it is a zombie: dead, whatever its start time. */
	for (i = 0; i < 1000; i++) {
		char state = 0, *p;

		fd = open(path, O_RDONLY);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if ((p = strrchr(buf, ')')) != NULL && p[1] == ' ')
			state = p[2];
		if (state == 'Z')
			break;
		usleep(10000);
	}
	T_INTEQ(wcore_pid_alive(child, s), 0, "zombie child: not alive");
	waitpid(child, &st, 0);
	T_INTEQ(wcore_proc_start(child, &s2), ESRCH, "reaped child: ESRCH");
	T_INTEQ(wcore_pid_alive(child, s), 0, "reaped child: not alive");
}

/* Read-modify-write the header, keeping the checksum right. */
static int
patch(int fd, void (*fn)(struct wapi_header *, const void *), const void *arg)
{
	struct wapi_header h;

	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	fn(&h, arg);
	if (memcmp(h.magic, WAPI_MAGIC, 8) == 0 && h.version ==
	    WAPI_FORMAT_VERSION)
		h.checksum = wcore_checksum(&h);
	return pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) ? 0 : -1;
}

struct helper_arg {
	pid_t pid;
	uint64_t start;
	int64_t heartbeat;
};

static void
set_helper(struct wapi_header *h, const void *a)
{
	const struct helper_arg *x = a;

	h->helper_pid = x->pid;
	h->helper_start = x->start;
	h->helper_heartbeat = x->heartbeat;
}

static void
set_boot(struct wapi_header *h, const void *a)
{
	memcpy(h->boot_id, a, 36);
}

static void
set_host(struct wapi_header *h, const void *a)
{
	memset(h->host, 0, sizeof(h->host));
	strlcpy(h->host, a, sizeof(h->host));
}

static void
set_magic(struct wapi_header *h, const void *a)
{
	memcpy(h->magic, a, 8);
}

static void
set_version(struct wapi_header *h, const void *a)
{
	h->version = *(const uint32_t *)a;
}

static void
set_misc(struct wapi_header *h, const void *a)
{
	(void)a;
	h->clients_used = 2;
	h->lock_holder_pid = 4321;
	h->lock_holder_tid = 4322;
}

/* A fresh description each time, as wapictl would use. */
static int
verdict(int dfd, const char *name, struct wcore_status *st)
{
	char why[256];
	int fd, e;

	memset(st, 0xa5, sizeof(*st));
	fd = wcore_state_open(dfd, name, false, why, sizeof(why));
	if (fd < 0) {
		printf("# state_open: %s\n", why);
		return fd;
	}
	e = wcore_verdict(fd, HOST, st);
	close(fd);
	printf("# verdict %s: %s\n", wcore_verdict_name(st->verdict),
	    st->reason);
	return e;
}

static void
test_verdicts(int dfd, const char *name, const char *path)
{
	struct wcore_status st;
	struct helper_arg ha;
	struct holder h = { -1, -1 };
	char boot[40], other[40], reason[300];
	uint32_t v;
	int fd;

	fd = openat(dfd, name, O_RDWR | O_CLOEXEC);
	wcore_boot_id(boot);

	T_INTEQ(verdict(dfd, name, &st), 0, "verdict of a fresh file");
	T_INTEQ(st.verdict, WCORE_ORPHANED, "nobody holds it: orphaned");
	t_ok(st.header_ok && strcmp(st.hdr.host, HOST) == 0,
	    "header_ok, with a copy of the header");
	t_ok(strstr(st.reason, "no helper recorded") != NULL,
	    "reason: no helper recorded");
	t_ok(!st.helper_byte_held && !st.init_byte_held &&
	    st.clients_live == 0 && st.helper_alive == 0 && !st.lock_held,
	    "no lock, no helper, no client");
	t_ok(st.size > 4096 && st.mtime > 0, "size and mtime filled");

	/* The helper byte held by a real process. */
	if (hold(path, WAPI_LOCK_HELPER, F_WRLCK, &h) != 0) {
		t_ok(0, "fork a helper-byte holder");
		return;
	}
	ha.pid = h.pid;
	wcore_proc_start(h.pid, &ha.start);
	ha.heartbeat = wcore_now_s();
	patch(fd, set_helper, &ha);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_LIVE, "helper byte held: live");
	t_ok(st.helper_byte_held && st.helper_alive == 1,
	    "helper_byte_held, helper alive");
	T_INTEQ(wcore_verdict(-1, HOST, &st), EBADF,
	    "bad descriptor: EBADF");
	T_INTEQ(st.verdict, WCORE_UNREADABLE, "and unreadable");
	kill_holder(&h);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_ORPHANED, "after kill -9: orphaned");
	snprintf(reason, sizeof(reason), "helper pid %d not running",
	    (int)ha.pid);
	t_ok(strstr(st.reason, reason) != NULL, "reason: %s", reason);
	t_ok(!st.helper_byte_held && st.helper_alive == 0,
	    "helper byte free, helper dead");

	/* A client byte held. */
	if (hold(path, WAPI_LOCK_CLIENT0 + 3, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_LIVE, "client byte held: live");
		T_INTEQ(st.clients_live, 1, "one live client");
		t_ok(!st.helper_byte_held, "helper byte not held");
		kill_holder(&h);
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_ORPHANED,
		    "client killed: orphaned again");
		T_INTEQ(st.clients_live, 0, "no live client");
	} else
		t_ok(0, "fork a client-byte holder");

	/* The init byte, shared (an attached process) and exclusive. */
	if (hold(path, WAPI_LOCK_INIT, F_RDLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_LIVE, "init byte shared: live");
		t_ok(st.init_byte_held, "init_byte_held");
		kill_holder(&h);
	} else
		t_ok(0, "fork an init-byte holder");
	if (hold(path, WAPI_LOCK_INIT, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_LIVE, "init byte exclusive: live");
		kill_holder(&h);
	} else
		t_ok(0, "fork an init-byte holder");

	/* Helper pid that runs, but with another start time. */
	ha.pid = getpid();
	wcore_proc_start(getpid(), &ha.start);
	ha.start++;
	patch(fd, set_helper, &ha);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_ORPHANED, "reused helper pid: orphaned");
	t_ok(strstr(st.reason, "another start time (pid reused)") != NULL,
	    "reason says pid reused");
	T_INTEQ(st.helper_alive, 0, "helper_alive 0 for a reused pid");
	ha.start--;
	patch(fd, set_helper, &ha);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_ORPHANED,
	    "helper pid alive but byte free: orphaned");
	T_INTEQ(st.helper_alive, 1, "helper_alive 1");

	/* Counters and the recorded table-lock holder. */
	patch(fd, set_misc, NULL);
	verdict(dfd, name, &st);
	t_ok(st.clients_recorded == 2 && st.lock_held && st.lock_pid == 4321 &&
	    st.lock_tid == 4322, "clients_recorded and lock holder filled");

	/* Another boot. */
	memcpy(other, boot, sizeof(other));
	other[0] = other[0] == '0' ? '1' : '0';
	patch(fd, set_boot, other);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_STALE_BOOT, "patched boot id: stale-boot");
	T_INTEQ(st.helper_alive, 0, "a pid of another boot is dead");
	if (hold(path, WAPI_LOCK_HELPER, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_LIVE,
		    "stale boot id but held: live (locks win)");
		kill_holder(&h);
	} else
		t_ok(0, "fork a holder");
	patch(fd, set_boot, boot);

	/* Another host: FOREIGN, unless held. */
	st.verdict = WCORE_LIVE;
	if (wcore_verdict(fd, "other-host", &st) == 0) {
		T_INTEQ(st.verdict, WCORE_FOREIGN,
		    "verdict for another host name: foreign");
		t_ok(strstr(st.reason, "heartbeat") != NULL &&
		    strstr(st.reason, HOST) != NULL,
		    "reason gives the host and heartbeat age");
		T_INTEQ(st.helper_alive, -1, "helper of another host: unknown");
	} else
		t_ok(0, "verdict for other-host");
	patch(fd, set_host, "build9.example.org");
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_FOREIGN, "header of another host: foreign");
	t_ok(strstr(st.reason, "build9.example.org") != NULL,
	    "reason names the host");
	if (hold(path, WAPI_LOCK_HELPER, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_LIVE,
		    "another host's file with a held lock: live");
		kill_holder(&h);
	} else
		t_ok(0, "fork a holder");
	patch(fd, set_host, HOST);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_ORPHANED, "host restored: orphaned");

	/* Corrupt and incompatible, free and held. */
	patch(fd, set_magic, "WAPIJUNK");
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_CORRUPT, "bad magic: corrupt");
	t_ok(!st.header_ok && strstr(st.reason, "magic") != NULL,
	    "reason names the magic");
	if (hold(path, WAPI_LOCK_HELPER, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_CORRUPT,
		    "corrupt and held: still corrupt");
		t_ok(st.helper_byte_held && strstr(st.reason, "held") != NULL,
		    "but helper_byte_held and the reason says it is held");
		kill_holder(&h);
	} else
		t_ok(0, "fork a holder");
	patch(fd, set_magic, WAPI_MAGIC);
	v = 99;
	patch(fd, set_version, &v);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_INCOMPATIBLE, "version 99: incompatible");
	if (hold(path, WAPI_LOCK_CLIENT0, F_WRLCK, &h) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_INCOMPATIBLE,
		    "incompatible and held: still incompatible");
		t_ok(st.clients_live == 1 && strstr(st.reason, "held") != NULL,
		    "client counted (full scan), reason says held");
		kill_holder(&h);
	} else
		t_ok(0, "fork a holder");
	v = WAPI_FORMAT_VERSION;
	patch(fd, set_version, &v);
	verdict(dfd, name, &st);
	T_INTEQ(st.verdict, WCORE_ORPHANED, "restored: orphaned");

	/* A file shorter than its header. */
	if (ftruncate(fd, 100) == 0) {
		verdict(dfd, name, &st);
		T_INTEQ(st.verdict, WCORE_CORRUPT, "100-byte file: corrupt");
		t_ok(strstr(st.reason, "shorter") != NULL, "reason: shorter");
	}
	close(fd);
}

int
main(void)
{
	struct wcore_layout l;
	char dir[PATH_MAX], path[PATH_MAX + 300], name[256], why[256];
	int dfd, fd, i;

	t_setup();
	for (i = 0; i < WCORE_VERDICT_COUNT; i++)
		t_ok(strcmp(wcore_verdict_name(i), "?") != 0,
		    "verdict %d is named %s", i, wcore_verdict_name(i));
	T_STREQ(wcore_verdict_name(WCORE_STALE_BOOT), "stale-boot",
	    "stale-boot spelling");
	T_STREQ(wcore_verdict_name(WCORE_VERDICT_COUNT), "?", "out of range");
	t_ok(wcore_now_s() > 1700000000 &&
	    wcore_now_ns() / 1000000000 >= wcore_now_s() - 1,
	    "wall clock helpers agree");

	test_proc();

	wcore_dir_path(dir, sizeof(dir), why, sizeof(why));
	dfd = wcore_dir_open(dir, true, why, sizeof(why));
	if (dfd < 0) {
		t_ok(0, "open state dir: %s", why);
		return t_done();
	}
	wcore_state_name(name, sizeof(name), HOST, WAPI_ABI);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	T_INTEQ(wcore_layout(16, 8, 16, 16, &l), 0, "small layout");
	T_INTEQ(wcore_init(fd, &l, HOST), 0, "initialise a state file");
	close(fd);

	test_locks(path);
	test_verdicts(dfd, name, path);
	close(dfd);
	return t_done();
}
