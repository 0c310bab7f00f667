/*
 * Attach, the helper and recovery, with real processes and real kills.
 * The test process itself never attaches: it orchestrates children (each a
 * fresh client) and looks at the state file through the core only.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>

#include "tlib.h"

/* A new host name (and so a new state file) for one scenario. */
static void
use_host(const char *suffix)
{
	char h[64];

	snprintf(h, sizeof(h), "%.40s-%s", t_host, suffix);
	setenv("WAPI_SHARED_HOSTNAME", h, 1);
}

static const char *
cur_path(void)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir,
	    getenv("WAPI_SHARED_HOSTNAME"), WAPI_ABI);
	return p;
}

/* The state file's own header, as it is on disk. */
static bool
read_file_header(struct wapi_header *h)
{
	int fd = open(cur_path(), O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pread(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h);
	close(fd);
	return ok;
}

/* The live header: the file's, or for an anchor its segment's. */
static bool
read_header(struct wapi_header *h)
{
	struct wapi_header a;
	char why[256];
	int fd;

	if (!read_file_header(h) || h->placement != WAPI_PLACE_ANCHOR)
		return h->placement != WAPI_PLACE_ANCHOR;
	a = *h;
	if ((fd = wcore_seg_open(&a, false, h, why, sizeof(why))) < 0) {
		printf("# %s\n", why);
		return false;
	}
	close(fd);
	return true;
}

static enum wcore_verdict
verdict(void)
{
	struct wcore_status st;
	int fd = open(cur_path(), O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return WCORE_UNREADABLE;
	wcore_verdict(fd, getenv("WAPI_SHARED_HOSTNAME"), &st);
	close(fd);
	return st.verdict;
}

static bool
file_gone(void *arg)
{
	(void)arg;
	return access(cur_path(), F_OK) != 0;
}

/* ---- children ---- */

struct hold {
	struct t_gate ready, go;
	const char *name;	/* event to create, or NULL */
	const char *open;	/* event to open, or NULL */
};

/* Attach, optionally create or open a named event, report, then wait for
 * the go gate (or to be killed). Writes 'S' shared / 'P' private. */
static int
child_hold(void *arg)
{
	struct hold *h = arg;
	wapi_handle_t ev;
	int r = 0;

	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (h->name != NULL)
		r = wapi_event_create(h->name, 1, 0, &ev);
	if (r == 0 && h->open != NULL)
		r = wapi_event_open(h->open, &ev);
	if (t_messages != 0)
		printf("# pid %d: %s\n", (int)getpid(), t_message);
	t_gate_open(&h->ready, r != 0 ? 'E' : wapi_is_shared() ? 'S' : 'P');
	t_gate_pass(&h->go);
	return 0;
}

static void
test_two_processes(void)
{
	struct hold a = { .name = "two.one" }, b = { .open = "two.one" };
	pid_t pa, pb;
	struct wapi_header hdr;

	use_host("two");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	t_gate_init(&b.ready); t_gate_init(&b.go);
	pa = t_fork(child_hold, &a);
	T_EQ(t_gate_pass(&a.ready), 'S', "first process attaches shared and creates two.one");
	pb = t_fork(child_hold, &b);
	T_EQ(t_gate_pass(&b.ready), 'S', "an unrelated process opens two.one by name");
	T_OK(read_header(&hdr) && hdr.clients_used == 2, "two clients recorded");
	T_EQ(verdict(), WCORE_LIVE, "the file is live");
	t_gate_open(&a.go, 'x');
	t_gate_open(&b.go, 'x');
	T_EQ(t_wait(pa), 0, "first exits");
	T_EQ(t_wait(pb), 0, "second exits");
	T_OK(t_until(file_gone, NULL, 10000),
	    "after the last client leaves, the helper removes the file after its linger");
}

static void
test_twenty_first_starts(void)
{
	struct hold h[20];
	pid_t pids[20], helpers[4];
	int i, shared = 0;

	use_host("twenty");
	for (i = 0; i < 20; i++) {
		memset(&h[i], 0, sizeof(h[i]));
		t_gate_init(&h[i].ready);
		t_gate_init(&h[i].go);
	}
	/* All children block on one pipe, then start at once. */
	{
		struct t_gate start;

		t_gate_init(&start);
		for (i = 0; i < 20; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				close(start.fd[1]);
				t_gate_pass(&start);
				_exit(child_hold(&h[i]));
			}
		}
		close(start.fd[0]);
		close(start.fd[1]);	/* EOF releases everyone */
	}
	for (i = 0; i < 20; i++)
		shared += t_gate_pass(&h[i].ready) == 'S';
	T_EQ(shared, 20, "20 simultaneous first clients all attach shared");
	t_msleep(200);	/* let any losing helper finish exiting */
	{
		char save[64];
		int n;

		snprintf(save, sizeof(save), "%s", t_host);
		snprintf(t_host, sizeof(t_host), "%s", getenv("WAPI_SHARED_HOSTNAME"));
		n = t_helpers(helpers, 4);
		snprintf(t_host, sizeof(t_host), "%s", save);
		T_EQ(n, 1, "exactly one helper runs");
	}
	for (i = 0; i < 20; i++)
		t_gate_open(&h[i].go, 'x');
	for (i = 0; i < 20; i++)
		t_wait(pids[i]);
	T_OK(t_until(file_gone, NULL, 10000), "all left: the file is removed");
}

struct refs_arg { const char *name; uint32_t want; };

static bool
refs_are(void *arg)
{
	struct refs_arg *a = arg;
	struct wapi_handle_info info;
	wapi_handle_t h;
	bool ok;

	if (wapi_event_open(a->name, &h) != 0)
		return false;
	ok = wapi_handle_info(h, &info) == 0 && info.refs == a->want + 1;
	wapi_handle_close(h);
	return ok;
}

static int
child_watch_refs(void *arg)
{
	struct hold *h = arg;
	struct refs_arg ra = { "kill.ev", 1 };
	wapi_handle_t ev;

	if (wapi_event_open("kill.ev", &ev) != 0)
		return 2;
	t_gate_open(&h->ready, 'S');
	t_gate_pass(&h->go);	/* the creator is dead now */
	return t_until(refs_are, &ra, 1000) ? 0 : 1;
}

static void
test_kill_client(void)
{
	struct hold a = { .name = "kill.ev" }, b = { 0 };
	pid_t pa, pb;

	use_host("killc");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	t_gate_init(&b.ready); t_gate_init(&b.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	pb = t_fork(child_watch_refs, &b);
	t_gate_pass(&b.ready);
	kill(pa, SIGKILL);
	t_wait(pa);
	t_gate_open(&b.go, 'x');
	T_EQ(t_wait(pb), 0, "kill -9 of a client: its reference is released within one second");
}

static int
child_open_after(void *arg)
{
	struct hold *h = arg;
	wapi_handle_t ev;

	wapi_set_message_handler(t_keep_message, NULL);
	if (wapi_event_open(h->open, &ev) != 0)
		return 1;
	return t_messages == 0 && wapi_is_shared() ? 0 : 2;
}

static void
test_kill_helper(void)
{
	struct hold a = { .name = "helper.ev" }, b = { .open = "helper.ev" };
	struct wapi_header hdr;
	pid_t pa, pb, old;

	use_host("killh");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	T_OK(read_header(&hdr) && hdr.helper_pid > 0, "the helper recorded its pid");
	old = hdr.helper_pid;
	kill(old, SIGKILL);
	t_msleep(100);
	pb = t_fork(child_open_after, &b);
	T_EQ(t_wait(pb), 0, "after kill -9 of the helper a new client opens a handle created before");
	T_OK(read_header(&hdr) && hdr.helper_pid > 0 && hdr.helper_pid != old,
	    "the new client started a new helper");
	t_gate_open(&a.go, 'x');
	t_wait(pa);
	T_OK(t_until(file_gone, NULL, 10000), "file removed when all left");
}

static int
child_fresh(void *arg)
{
	wapi_handle_t ev;
	int r;

	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (!wapi_is_shared())
		return 1;
	r = wapi_event_open("all.ev", &ev);
	if (r != WAPI_ENOTFOUND)
		return 2;	/* the old object must be gone */
	return t_messages == 0 ? 0 : 3;
}

static void
test_kill_everything(void)
{
	struct hold a = { .name = "all.ev" };
	struct wapi_header hdr;
	pid_t pa;

	use_host("killall");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	read_header(&hdr);
	kill(pa, SIGKILL);
	kill(hdr.helper_pid, SIGKILL);
	t_wait(pa);
	t_msleep(100);
	T_EQ(verdict(), WCORE_ORPHANED, "kill -9 of everything leaves the file orphaned");
	T_EQ(t_wait(t_fork(child_fresh, NULL)), 0,
	    "the next client re-initialises it, silently");
	T_OK(t_until(file_gone, NULL, 10000), "and it is removed after that client left");
}

struct refusal {
	const char *what;
	const char *expect;	/* in the message */
};

static int
child_refused(void *arg)
{
	struct refusal *r = arg;
	wapi_handle_t ev;

	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (wapi_is_shared() || wapi_state_path() != NULL)
		return 1;
	if (t_messages != 1 || strstr(t_message, "see wapictl(1)") == NULL ||
	    strstr(t_message, r->expect) == NULL) {
		printf("# message: %s\n", t_message);
		return 2;
	}
	/* Private handles still work. */
	if (wapi_event_create("private.ev", 0, 1, &ev) != 0 ||
	    wapi_wait(ev, 0) != WAPI_WAIT_OBJECT_0)
		return 3;
	return 0;
}

static void
refused(const char *what, const char *expect)
{
	struct refusal r = { what, expect };

	T_EQ(t_wait(t_fork(child_refused, &r)), 0, what);
}

static void
test_refusals(void)
{
	char dir[600], other[600], save[300];

	snprintf(save, sizeof(save), "%s", t_dir);
	use_host("refuse");

	/* A symlinked ~/.wapi. */
	snprintf(dir, sizeof(dir), "%s/sym", t_dir);
	snprintf(other, sizeof(other), "%s/elsewhere", t_dir);
	mkdir(dir, 0700);
	mkdir(other, 0700);
	strcat(dir, "/.wapi");
	if (symlink(other, dir) != 0)
		perror("symlink");
	dir[strlen(dir) - 6] = '\0';
	setenv("WAPI_SHARED_DIR", dir, 1);
	refused("a symlinked state directory falls back with a message", "symbolic link");

	/* A world-writable one. */
	snprintf(dir, sizeof(dir), "%s/ww", t_dir);
	mkdir(dir, 0700);
	strcat(dir, "/.wapi");
	mkdir(dir, 0777);
	chmod(dir, 0777);
	dir[strlen(dir) - 6] = '\0';
	setenv("WAPI_SHARED_DIR", dir, 1);
	refused("a world-writable state directory falls back", "writable");

	/* A foreign-owned one (root can make one). */
	if (geteuid() == 0) {
		snprintf(dir, sizeof(dir), "%s/foreign", t_dir);
		mkdir(dir, 0700);
		strcat(dir, "/.wapi");
		mkdir(dir, 0700);
		if (chown(dir, 65534, 65534) != 0)
			perror("chown");
		dir[strlen(dir) - 6] = '\0';
		setenv("WAPI_SHARED_DIR", dir, 1);
		refused("a foreign-owned state directory falls back", "owned by");
	} else
		printf("ok %d - # SKIP foreign owner needs root\n", ++t_n);
	setenv("WAPI_SHARED_DIR", save, 1);

	/* A bad host name. */
	setenv("WAPI_SHARED_HOSTNAME", "bad/host", 1);
	refused("a host name with '/' falls back", "WAPI_SHARED_HOSTNAME");
	setenv("WAPI_SHARED_HOSTNAME", "..", 1);
	refused("a host name '..' falls back", "WAPI_SHARED_HOSTNAME");
	use_host("refuse");
}

/* A corrupt file held by a live process is never touched. */
static void
test_corrupt_held(void)
{
	char junk[8192], back[8192];
	struct t_gate ready, go;
	pid_t holder;
	int fd;

	use_host("corrupt");
	mkdir(t_dir, 0700);
	{
		char d[600];

		snprintf(d, sizeof(d), "%s/.wapi", t_dir);
		mkdir(d, 0700);
	}
	memset(junk, 0x5a, sizeof(junk));
	fd = open(cur_path(), O_RDWR | O_CREAT | O_TRUNC, 0600);
	T_OK(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk),
	    "wrote a corrupt state file");
	close(fd);
	t_gate_init(&ready);
	t_gate_init(&go);
	holder = fork();
	if (holder == 0) {
		int hfd = open(cur_path(), O_RDWR);

		wcore_lock_byte(hfd, WAPI_LOCK_INIT, F_RDLCK, 0);
		t_gate_open(&ready, 'x');
		t_gate_pass(&go);
		_exit(0);
	}
	t_gate_pass(&ready);
	refused("a corrupt file held by a live process: fallback", "corrupt");
	fd = open(cur_path(), O_RDONLY);
	T_OK(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)sizeof(back) &&
	    memcmp(junk, back, sizeof(junk)) == 0, "and the file is left untouched");
	close(fd);
	t_gate_open(&go, 'x');
	t_wait(holder);
	/* Nobody holds it now: the next client replaces it. */
	T_EQ(t_wait(t_fork(child_fresh, NULL)), 0,
	    "once nobody holds it, the next client replaces it silently");
	(void)file_gone;
}

static int
child_private(void *arg)
{
	wapi_handle_t ev;

	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	setenv("WAPI_DISABLE_SHM", "1", 1);
	wapi_init(0);
	if (wapi_is_shared() || t_messages != 0)
		return 1;
	return wapi_event_create("p", 1, 1, &ev) == 0 &&
	    wapi_wait(ev, 0) == WAPI_WAIT_OBJECT_0 ? 0 : 2;
}

static int
child_private_mono(void *arg)
{
	(void)arg;
	wapi_set_message_handler(t_keep_message, NULL);
	setenv("MONO_DISABLE_SHM", "yes", 1);
	wapi_init(0);
	return !wapi_is_shared() && t_messages == 0 ? 0 : 1;
}

static void
test_private(void)
{
	use_host("private");
	T_EQ(t_wait(t_fork(child_private, NULL)), 0,
	    "WAPI_DISABLE_SHM=1 selects private mode silently");
	T_EQ(t_wait(t_fork(child_private_mono, NULL)), 0,
	    "MONO_DISABLE_SHM selects private mode silently");
	T_OK(access(cur_path(), F_OK) != 0, "and no state file was made");
}

/* Die holding the table lock in the middle of a change. */
static int
child_die_locked(void *arg)
{
	char why[256];
	void *map;
	size_t len;
	uint32_t idx;
	int fd;

	(void)arg;
	fd = open(cur_path(), O_RDWR);
	if (fd < 0 || wcore_map(fd, true, &map, &len, why, sizeof(why)) != 0)
		return 1;
	if (wcore_table_lock(map, -1, NULL) != 0)
		return 2;
	/* Half a create: a slot taken, a name in the index, no reference. */
	wcore_handle_alloc(map, WAPI_T_EVENT, &idx);
	wcore_name_insert(map, idx, "half", 4, wcore_name_hash("half", 4));
	raise(SIGKILL);
	return 3;
}

static int
child_after_lock_death(void *arg)
{
	wapi_handle_t ev;

	(void)arg;
	if (wapi_event_create("after", 1, 0, &ev) != 0)
		return 1;
	if (wapi_event_open("half", &ev) != WAPI_ENOTFOUND)
		return 2;
	return 0;
}

static void
test_lock_holder_killed(void)
{
	struct hold a = { .name = "lock.ev" };
	struct wcore_report rep = { 0 };
	struct wapi_header hdr;
	char why[256];
	void *map;
	size_t len;
	pid_t pa;
	int fd;

	use_host("lockdead");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	t_wait(t_fork(child_die_locked, NULL));
	T_EQ(t_wait(t_fork(child_after_lock_death, NULL)), 0,
	    "after a process died holding the table lock, the next locker recovers");
	T_OK(read_header(&hdr) && hdr.lock_recoveries == 1, "one recovery recorded");
	fd = open(cur_path(), O_RDWR);
	T_OK(fd >= 0 && wcore_map(fd, true, &map, &len, why, sizeof(why)) == 0,
	    "map the file");
	wcore_table_lock(map, -1, NULL);
	T_EQ(wcore_validate(map, len, &rep), 0, "validate finds the file clean");
	wcore_table_unlock(map);
	if (rep.count > 0) {
		char line[300];

		wcore_problem_format(&rep.problems[0], line, sizeof(line));
		printf("# %s\n", line);
	}
	wcore_report_free(&rep);
	munmap(map, len);
	close(fd);
	t_gate_open(&a.go, 'x');
	t_wait(pa);
}

static int
child_detach(void *arg)
{
	wapi_handle_t ev;

	(void)arg;
	wapi_event_create("detach.ev", 1, 0, &ev);
	wapi_event_create(NULL, 1, 0, &ev);
	wapi_shutdown();
	return 0;
}

static void
test_clean_detach(void)
{
	struct hold a = { 0 };
	struct wapi_header hdr;
	pid_t pa;

	use_host("detach");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	T_EQ(t_wait(t_fork(child_detach, NULL)), 0, "a client creates two events and detaches");
	T_OK(read_header(&hdr), "read the header");
	T_EQ(hdr.clients_used, 1, "its client slot was released");
	T_EQ(hdr.handles_used, 0, "its references were released and the objects freed");
	T_EQ(hdr.names_used, 0, "its name was removed");
	t_gate_open(&a.go, 'x');
	t_wait(pa);
}

/* A helper byte held by a process that does not listen (as a helper in
 * another network namespace would look): the client cannot reach it. */
static void
test_helper_unreachable(void)
{
	struct hold a = { .name = "unreach.ev" };
	struct t_gate ready, go;
	struct wapi_header hdr;
	pid_t pa, fake;

	use_host("unreach");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	t_gate_pass(&a.ready);
	read_header(&hdr);
	kill(hdr.helper_pid, SIGKILL);
	t_msleep(50);
	t_gate_init(&ready);
	t_gate_init(&go);
	fake = fork();
	if (fake == 0) {
		int fd = open(cur_path(), O_RDWR);

		if (wcore_lock_byte(fd, WAPI_LOCK_HELPER, F_WRLCK, 1000) != 0)
			_exit(1);
		t_gate_open(&ready, 'x');
		t_gate_pass(&go);
		_exit(0);
	}
	t_gate_pass(&ready);
	refused("a helper whose byte is held but who does not answer: fallback",
	    "not answering");
	t_gate_open(&go, 'x');
	t_wait(fake);
	t_gate_open(&a.go, 'x');
	t_wait(pa);
}

/* An attached client whose helper stops answering: its next request to
 * the helper (a spawn) fails with ETIMEDOUT within the bound, the message
 * handler hears of it once; once the helper runs again, requests work. */
static int
child_stopped_helper(void *arg)
{
	struct hold *h = arg;
	const char *argv[] = { "true", NULL };
	wapi_handle_t p;
	int r, code, tries;

	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	if (!wapi_is_shared())
		return 1;
	t_gate_open(&h->ready, 'S');
	t_gate_pass(&h->go);		/* the helper is stopped now */
	alarm(60);			/* a hang is a failure, not a stall */
	r = wapi_process_spawn(argv, NULL, NULL, NULL, &p, NULL);
	if (r != ETIMEDOUT) {
		printf("# spawn with the helper stopped: %s\n",
		    wapi_strerror(r));
		return 2;
	}
	if (t_messages != 1 || strstr(t_message, "did not answer") == NULL) {
		printf("# %d messages, last: %s\n", t_messages, t_message);
		return 3;
	}
	r = wapi_process_spawn(argv, NULL, NULL, NULL, &p, NULL);
	if (r != ETIMEDOUT || t_messages != 1)
		return 4;		/* said once */
	t_gate_open(&h->ready, 'T');
	t_gate_pass(&h->go);		/* the helper runs again */
	for (tries = 0; (r = wapi_process_spawn(argv, NULL, NULL, NULL, &p,
	    NULL)) == ETIMEDOUT && tries < 100; tries++)
		;
	printf("# %d tries\n", tries);
	if (r != 0 ||
	    wapi_wait(p, 30000) != WAPI_WAIT_OBJECT_0 ||
	    wapi_process_exit_code(p, &code) != 0 || code != 0) {
		printf("# spawn after SIGCONT: %s\n", wapi_strerror(r));
		return 5;
	}
	alarm(0);
	return 0;
}

static void
test_helper_stopped(void)
{
	struct hold a = { .name = "stopped.ev" }, b = { 0 };
	struct wapi_header hdr;
	pid_t pa, pb;

	use_host("stopped");
	setenv("WAPI_HELPER_TIMEOUT_MS", "300", 1);
	t_gate_init(&a.ready); t_gate_init(&a.go);
	t_gate_init(&b.ready); t_gate_init(&b.go);
	pa = t_fork(child_hold, &a);
	T_EQ(t_gate_pass(&a.ready), 'S', "stopped helper: a first client");
	pb = t_fork(child_stopped_helper, &b);
	T_EQ(t_gate_pass(&b.ready), 'S', "stopped helper: a second client");
	T_OK(read_header(&hdr) && hdr.helper_pid > 0, "a helper runs");
	kill(hdr.helper_pid, SIGSTOP);
	refused("a new client with the helper stopped falls back within the "
	    "bound, naming it", "did not answer within 300 ms");
	t_gate_open(&b.go, 'x');
	T_EQ(t_gate_pass(&b.ready), 'T', "an attached client's spawn fails "
	    "with ETIMEDOUT within the bound, said once");
	kill(hdr.helper_pid, SIGCONT);
	t_gate_open(&b.go, 'x');
	T_EQ(t_wait(pb), 0, "once the helper runs again, a spawn works");
	t_gate_open(&a.go, 'x');
	t_wait(pa);
	unsetenv("WAPI_HELPER_TIMEOUT_MS");
}

/*
 * A live client drops its connections to the helper (as one whose wait
 * for the helper ran out does): the helper must not wait for its client
 * byte, which stays held, while it serves nobody.  It waited 2 s; a new
 * client allowed 1 s fell back to private handles meanwhile.
 */
static int
child_drop_conns(void *arg)
{
	struct hold *h = arg;
	struct sockaddr_un sa;
	socklen_t len;
	int fd, type, n = 0;

	wapi_init(0);
	if (!wapi_is_shared())
		return 1;
	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(type);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
		    type != SOCK_SEQPACKET)
			continue;
		len = sizeof(sa);
		if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0 ||
		    sa.sun_family != AF_UNIX || sa.sun_path[0] != '\0' ||
		    strncmp(sa.sun_path + 1, "wapi-", 5) != 0)
			continue;
		shutdown(fd, SHUT_RDWR);
		n++;
	}
	t_gate_open(&h->ready, n > 0 ? 'D' : 'N');
	t_gate_pass(&h->go);
	return 0;
}

static void
test_live_client_drops(void)
{
	struct hold a = { 0 }, k = { .name = "drops.ev" };
	pid_t pa, pk;

	use_host("drops");
	t_gate_init(&k.ready); t_gate_init(&k.go);
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pk = t_fork(child_hold, &k);
	T_EQ(t_gate_pass(&k.ready), 'S', "dropped connection: a first client");
	pa = t_fork(child_drop_conns, &a);
	T_EQ(t_gate_pass(&a.ready), 'D', "a live client drops its connections "
	    "to the helper");
	setenv("WAPI_HELPER_TIMEOUT_MS", "1000", 1);
	T_EQ(t_wait(t_fork(t_attach_shared, NULL)), 0, "a new client is "
	    "answered at once (the helper does not wait for the live "
	    "client's byte)");
	unsetenv("WAPI_HELPER_TIMEOUT_MS");
	t_gate_open(&a.go, 'x');
	t_wait(pa);
	t_gate_open(&k.go, 'x');
	t_wait(pk);
}

/* ---- anchor and segment ---- */

/* The anchor's header (false for a whole file). */
static bool
read_anchor(struct wapi_header *h)
{
	return read_file_header(h) && h->placement == WAPI_PLACE_ANCHOR;
}

/* How many files of the segment directory have `part' in their name. */
static int
segments_of(const char *part)
{
	DIR *d = opendir(getenv("WAPI_SEGMENT_DIR"));
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, part) != NULL)
			n++;
	closedir(d);
	return n;
}

/* The reboot case: the segment directory emptied, the anchor left. */
static void
test_segment_reboot(void)
{
	struct hold a = { .name = "all.ev" };
	struct wapi_header before, after;
	pid_t pa;

	use_host("reboot");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	T_EQ(t_gate_pass(&a.ready), 'S', "a client attaches");
	T_OK(read_anchor(&before), "the state file is an anchor (4 KiB, "
	    "tables in a segment)");
	T_OK(access(before.peer, F_OK) == 0, "its segment exists");
	read_header(&after);
	kill(pa, SIGKILL);
	kill(after.helper_pid, SIGKILL);
	t_wait(pa);
	t_msleep(100);
	/* A reboot empties the memory file system, the anchor stays. */
	T_EQ(unlink(before.peer), 0, "the segment goes, as at a reboot");
	T_EQ(verdict(), WCORE_ORPHANED, "an anchor without its segment, "
	    "unheld: orphaned");
	T_EQ(t_wait(t_fork(child_fresh, NULL)), 0,
	    "the next client starts clean, silently");
	T_OK(t_until(file_gone, NULL, 10000), "and the pair is removed after "
	    "it left");
	T_EQ(segments_of("-reboot."), 0, "no segment is left behind");
}

/* Opens split.ev, which only the first client's tables have. */
static int
child_joins(void *arg)
{
	const bool *want_shared = arg;
	wapi_handle_t ev;
	int r;

	wapi_set_message_handler(t_keep_message, NULL);
	wapi_init(0);
	r = wapi_event_open("split.ev", &ev);
	if (t_messages != 0)
		printf("# pid %d: %s\n", (int)getpid(), t_message);
	if (*want_shared)
		return wapi_is_shared() && r == 0 && t_messages == 0 ? 0 : 1;
	/* No helper to rejoin through: private handles, one message, and
	 * never a second set of tables for the anchor. */
	return !wapi_is_shared() && r == WAPI_ENOTFOUND && t_messages == 1 &&
	    strstr(t_message, "is gone") != NULL ? 0 : 1;
}

static void
test_segment_removed_live(void)
{
	struct hold a = { .name = "split.ev" };
	struct wapi_header anc, hdr;
	bool shared = true, private = false;
	pid_t pa;

	use_host("split");
	t_gate_init(&a.ready); t_gate_init(&a.go);
	pa = t_fork(child_hold, &a);
	T_EQ(t_gate_pass(&a.ready), 'S', "a client attaches and creates "
	    "split.ev");
	T_OK(read_anchor(&anc) && unlink(anc.peer) == 0,
	    "its segment's name is removed under it");
	T_EQ(verdict(), WCORE_LIVE, "the anchor is still live");
	T_EQ(t_wait(t_fork(child_joins, &shared)), 0,
	    "a new client joins the live tables through the helper and "
	    "opens split.ev");
	T_OK(read_anchor(&hdr) && hdr.state_id == anc.state_id,
	    "the anchor was not re-initialised");
	/* The helper gone too: nothing to rejoin through. */
	if (!read_file_header(&hdr))
		hdr.helper_pid = 0;
	T_OK(hdr.helper_pid > 0 && kill(hdr.helper_pid, SIGSTOP) == 0,
	    "its helper is stopped");
	T_OK(kill(hdr.helper_pid, SIGKILL) == 0, "and killed");
	t_msleep(100);
	T_EQ(t_wait(t_fork(child_joins, &private)), 0,
	    "without a helper a new client uses private handles, with one "
	    "message");
	T_OK(read_anchor(&hdr) && hdr.state_id == anc.state_id,
	    "and the anchor is still the live one");
	t_gate_open(&a.go, 'x');
	T_EQ(t_wait(pa), 0, "the first client leaves");
}

int
main(void)
{
	t_setup("attach");
	test_two_processes();
	test_twenty_first_starts();
	test_kill_client();
	test_kill_helper();
	test_kill_everything();
	test_refusals();
	test_corrupt_held();
	test_private();
	test_lock_holder_killed();
	test_clean_detach();
	test_helper_unreachable();
	test_helper_stopped();
	test_live_client_drops();
	if (getenv("WAPI_SEGMENT_DIR") != NULL &&
	    strcmp(getenv("WAPI_SEGMENT_DIR"), "none") != 0) {
		test_segment_reboot();
		test_segment_removed_live();
	} else
		printf("# no memory file system for segments: their cases "
		    "are not run\n");
	return t_done();
}
