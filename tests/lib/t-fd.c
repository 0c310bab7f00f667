/*
 * Descriptor handles across processes: one open file description shared
 * by number, pipes, sockets, Win32 share modes, helper and holder deaths,
 * and no descriptor leaks.
 */
#include <sys/socket.h>

#include <sys/resource.h>

#include "tlib.h"

static char file[600];

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own descriptor */
}

static void
use_host(const char *suffix)
{
	char h[64];

	snprintf(h, sizeof(h), "%.40s-%s", t_host, suffix);
	setenv("WAPI_SHARED_HOSTNAME", h, 1);
}

static pid_t
helper_pid(void)
{
	char p[700];
	struct wapi_header h;
	int fd;

	snprintf(p, sizeof(p), "%s/.wapi/%s.%s.state", t_dir,
	    getenv("WAPI_SHARED_HOSTNAME"), WAPI_ABI);
	if ((fd = open(p, O_RDONLY)) < 0)
		return -1;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		h.helper_pid = -1;
	close(fd);
	return h.helper_pid;
}

struct pass {
	struct t_gate num, go, done;
	wapi_handle_t h, h2;
};

static void
send_num(struct t_gate *g, wapi_handle_t h)
{
	if (write(g->fd[1], &h, sizeof(h)) != (ssize_t)sizeof(h))
		exit(99);
}

static wapi_handle_t
recv_num(struct t_gate *g)
{
	wapi_handle_t h = 0;

	if (read(g->fd[0], &h, sizeof(h)) != (ssize_t)sizeof(h))
		return 0;
	return h;
}

static void
pass_init(struct pass *p)
{
	t_gate_init(&p->num);
	t_gate_init(&p->go);
	t_gate_init(&p->done);
}

/* ---- A writes abc, B writes def through the same description ---- */

static int
a_open_write(void *arg)
{
	struct pass *p = arg;
	wapi_handle_t h;
	int fd, before = count_fds();

	if (wapi_file_open(file, O_RDWR | O_CREAT | O_TRUNC, 0600,
	    WAPI_ACCESS_READ | WAPI_ACCESS_WRITE,
	    WAPI_SHARE_READ | WAPI_SHARE_WRITE, &h) != 0)
		return 1;
	if (wapi_fd_get(h, &fd) != 0 || write(fd, "abc", 3) != 3)
		return 2;
	send_num(&p->num, h);
	t_gate_pass(&p->go);
	wapi_handle_close(h);
	wapi_shutdown();
	/* The library's own descriptors are gone after shutdown. */
	return count_fds() == before ? 0 : 3;
}

static int
b_write(void *arg)
{
	struct pass *p = arg;
	wapi_handle_t h = recv_num(&p->num);
	int fd, fd2, before = count_fds();

	if (wapi_handle_ref(h) != 0)
		return 1;
	if (wapi_fd_get(h, &fd) != 0 || write(fd, "def", 3) != 3)
		return 2;
	if (wapi_fd_get(h, &fd2) != 0 || fd2 != fd)
		return 3;	/* later calls return the cached copy */
	wapi_handle_close(h);
	wapi_shutdown();
	return count_fds() == before ? 0 : 4;
}

static void
read_file(char *buf, size_t len)
{
	int fd = open(file, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

static void
test_shared_offset(void)
{
	struct pass p;
	pid_t a, b;
	char buf[64];

	use_host("offset");
	pass_init(&p);
	a = t_fork(a_open_write, &p);
	b = t_fork(b_write, &p);
	T_EQ(t_wait(b), 0, "B adopts the number, writes def through wapi_fd_get, no fd leak");
	t_gate_open(&p.go, 'x');
	T_EQ(t_wait(a), 0, "A opened, wrote abc, closed, no fd leak");
	read_file(buf, sizeof(buf));
	T_OK(strcmp(buf, "abcdef") == 0, "the file holds abcdef (one shared offset): '%s'", buf);
}

/* ---- a pipe made in A, used by B and C ---- */

static int
a_pipe(void *arg)
{
	struct pass *p = arg;
	wapi_handle_t r, w;

	if (wapi_pipe_create(&r, &w) != 0)
		return 1;
	send_num(&p->num, r);
	send_num(&p->num, w);
	t_gate_pass(&p->go);
	return 0;
}

/* Run fn in a fresh client and check that the process has the same
 * descriptors once it closed its handles and detached. */
static int
no_leak(int (*fn)(void *, wapi_handle_t *), void *arg)
{
	wapi_handle_t h = 0;
	int before = count_fds(), r;

	r = fn(arg, &h);
	if (h != 0)
		wapi_handle_close(h);
	wapi_shutdown();
	if (r == 0 && count_fds() != before) {
		printf("# %d descriptors before, %d after\n", before, count_fds());
		r = 9;
	}
	return r;
}

static int
pipe_write(void *arg, wapi_handle_t *held)
{
	struct pass *p = arg;
	wapi_handle_t w = p->h2;
	int fd;

	if (wapi_handle_ref(w) != 0)
		return 1;
	*held = w;
	if (wapi_fd_get(w, &fd) != 0)
		return 1;
	return write(fd, "through the pipe", 16) == 16 ? 0 : 2;
}

static int
b_pipe_write(void *arg)
{
	return no_leak(pipe_write, arg);
}

static int
pipe_read(void *arg, wapi_handle_t *held)
{
	struct pass *p = arg;
	char buf[32] = { 0 };
	int fd;

	if (wapi_handle_ref(p->h) != 0)
		return 1;
	*held = p->h;
	if (wapi_fd_get(p->h, &fd) != 0)
		return 1;
	return read(fd, buf, 16) == 16 && memcmp(buf, "through the pipe", 16) == 0 ?
	    0 : 2;
}

static int
c_pipe_read(void *arg)
{
	return no_leak(pipe_read, arg);
}

static void
test_pipe(void)
{
	struct pass p;
	pid_t a;

	use_host("pipe");
	pass_init(&p);
	a = t_fork(a_pipe, &p);
	p.h = recv_num(&p.num);
	p.h2 = recv_num(&p.num);
	T_EQ(t_wait(t_fork(b_pipe_write, &p)), 0, "B writes into the pipe's write end by number, no fd leak");
	T_EQ(t_wait(t_fork(c_pipe_read, &p)), 0, "C reads it from the read end by number, no fd leak");
	t_gate_open(&p.go, 'x');
	t_wait(a);
}

/* ---- a connected socket imported in A, used by B ---- */

static int sv[2];

static int
a_socket(void *arg)
{
	struct pass *p = arg;
	wapi_handle_t h;

	close(sv[1]);
	if (wapi_fd_import(sv[0], &h) != 0)
		return 1;
	close(sv[0]);	/* the handle keeps its own duplicate */
	send_num(&p->num, h);
	t_gate_pass(&p->go);
	return 0;
}

static int
socket_send(void *arg, wapi_handle_t *held)
{
	struct pass *p = arg;
	struct wapi_handle_info info;
	int fd;

	if (wapi_handle_ref(p->h) != 0)
		return 1;
	*held = p->h;
	if (wapi_fd_get(p->h, &fd) != 0)
		return 1;
	if (wapi_handle_info(p->h, &info) != 0 || info.type != WAPI_TYPE_SOCKET)
		return 2;
	return send(fd, "hello", 5, 0) == 5 ? 0 : 3;
}

static int
b_socket(void *arg)
{
	close(sv[0]);
	close(sv[1]);
	return no_leak(socket_send, arg);
}

static void
test_socket(void)
{
	struct pass p;
	char buf[8] = { 0 };
	pid_t a;

	use_host("sock");
	pass_init(&p);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		exit(99);
	a = t_fork(a_socket, &p);
	p.h = recv_num(&p.num);
	T_EQ(t_wait(t_fork(b_socket, &p)), 0, "B sends through A's imported socket by number, no fd leak");
	T_OK(recv(sv[1], buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0,
	    "the peer receives what B sent");
	close(sv[0]);
	close(sv[1]);
	t_gate_open(&p.go, 'x');
	t_wait(a);
}

/* ---- share modes across two processes ---- */

static const unsigned accesses[] = { 1, 2, 3, 4, 7 };
static const unsigned shares[] = { 0, 1, 2, 3, 4, 7 };
#define NA (sizeof(accesses) / sizeof(accesses[0]))
#define NS (sizeof(shares) / sizeof(shares[0]))

struct holdshare { struct pass p; unsigned acc, sh; };

static int
holder_share(void *arg)
{
	struct holdshare *hs = arg;
	wapi_handle_t h;
	int r;

	r = wapi_file_open(file, O_RDWR | O_CREAT, 0600, hs->acc, hs->sh, &h);
	t_gate_open(&hs->p.num, r == 0 ? 'o' : 'e');
	t_gate_pass(&hs->p.go);
	return 0;
}

/* Tries every (access, share) against the holder's; returns mismatches. */
static int
tryer_share(void *arg)
{
	struct holdshare *hs = arg;
	wapi_handle_t h;
	size_t i, j;
	int r, bad = 0;
	bool want;

	for (i = 0; i < NA; i++)
		for (j = 0; j < NS; j++) {
			want = (accesses[i] & ~hs->sh) == 0 &&
			    (hs->acc & ~shares[j]) == 0;
			r = wapi_file_open(file, O_RDWR, 0, accesses[i],
			    shares[j], &h);
			if (r == 0)
				wapi_handle_close(h);
			if ((r == 0) != want || (r != 0 && r != WAPI_ESHARING_VIOLATION)) {
				printf("# holder %u/%u, open %u/%u: %s\n", hs->acc,
				    hs->sh, accesses[i], shares[j], wapi_strerror(r));
				bad++;
			}
		}
	return bad;
}

static void
test_share_matrix(void)
{
	struct holdshare hs;
	size_t i, j;
	int bad = 0;
	pid_t a;

	use_host("share");
	for (i = 0; i < NA; i++)
		for (j = 0; j < NS; j++) {
			memset(&hs, 0, sizeof(hs));
			pass_init(&hs.p);
			hs.acc = accesses[i];
			hs.sh = shares[j];
			a = t_fork(holder_share, &hs);
			if (t_gate_pass(&hs.p.num) != 'o')
				bad += 100;
			bad += t_wait(t_fork(tryer_share, &hs));
			t_gate_open(&hs.p.go, 'x');
			t_wait(a);
		}
	T_EQ(bad, 0, "share-mode matrix: 30 holders x 30 opens across two processes");
}

static int
try_exclusive(void *arg)
{
	wapi_handle_t h;

	(void)arg;
	return wapi_file_open(file, O_RDWR, 0, 7, 0, &h) == 0 ? 0 : 1;
}

static void
test_share_freed_on_kill(void)
{
	struct holdshare hs = { .acc = 3, .sh = 0 };
	pid_t a;
	int i, r = 1;

	use_host("sharekill");
	pass_init(&hs.p);
	a = t_fork(holder_share, &hs);
	t_gate_pass(&hs.p.num);
	T_EQ(t_wait(t_fork(try_exclusive, NULL)), 1, "an exclusive open is refused while A holds the file");
	kill(a, SIGKILL);
	t_wait(a);
	for (i = 0; i < 100 && r != 0; i++) {
		r = t_wait(t_fork(try_exclusive, NULL));
		if (r != 0)
			t_msleep(10);
	}
	T_EQ(r, 0, "after kill -9 of A its share entry is freed (within a second)");
}

/* ---- the helper killed between deposit and fetch ---- */

static int
a_deposit(void *arg)
{
	struct pass *p = arg;
	wapi_handle_t h;
	int fd;

	if (wapi_file_open(file, O_RDWR | O_CREAT | O_TRUNC, 0600, 3, 3, &h) != 0)
		return 1;
	if (wapi_fd_get(h, &fd) != 0 || write(fd, "12", 2) != 2)
		return 2;
	send_num(&p->num, h);
	t_gate_pass(&p->go);
	return 0;
}

static int
fetch_write(void *arg, wapi_handle_t *held)
{
	struct pass *p = arg;
	int fd, r;

	if (wapi_handle_ref(p->h) != 0)
		return 1;
	*held = p->h;
	r = wapi_fd_get(p->h, &fd);
	if (r != 0) {
		printf("# fetch: %s\n", wapi_strerror(r));
		return 2;
	}
	return write(fd, "34", 2) == 2 ? 0 : 3;
}

static int
b_fetch(void *arg)
{
	return no_leak(fetch_write, arg);
}

static void
test_helper_killed(void)
{
	struct pass p;
	char buf[16];
	pid_t a, hp;

	use_host("hkill");
	pass_init(&p);
	a = t_fork(a_deposit, &p);
	p.h = recv_num(&p.num);
	hp = helper_pid();
	T_OK(hp > 0 && kill(hp, SIGKILL) == 0, "killed the helper after A deposited");
	t_msleep(50);
	T_EQ(t_wait(t_fork(b_fetch, &p)), 0,
	    "B still fetches: A deposited it again with the new helper");
	read_file(buf, sizeof(buf));
	T_OK(strcmp(buf, "1234") == 0, "and writes at the shared offset: '%s'", buf);
	t_gate_open(&p.go, 'x');
	t_wait(a);
}

struct holder_gone { struct pass p; wapi_handle_t h; };

static int
b_hold_ref(void *arg)
{
	struct pass *p = arg;
	int fd, r;

	if (wapi_handle_ref(p->h) != 0)
		return 1;
	t_gate_open(&p->done, 'r');
	t_gate_pass(&p->go);	/* A and the helper are dead now */
	r = wapi_fd_get(p->h, &fd);
	return r == WAPI_EGONE ? 0 : 10 + (r % 100);
}

static void
test_holder_killed(void)
{
	struct pass p;
	pid_t a, b, hp;

	use_host("holder");
	pass_init(&p);
	a = t_fork(a_deposit, &p);
	p.h = recv_num(&p.num);
	b = t_fork(b_hold_ref, &p);
	t_gate_pass(&p.done);
	/* A dies before B fetched: the helper still has the copy. */
	kill(a, SIGKILL);
	t_wait(a);
	T_EQ(t_wait(t_fork(b_fetch, &p)), 0,
	    "holder killed before the fetch: the helper's copy still serves it");
	hp = helper_pid();
	kill(hp, SIGKILL);
	t_msleep(50);
	t_gate_open(&p.go, 'x');
	T_EQ(t_wait(b), 0, "with the holder and the helper dead, the fetch fails with WAPI_EGONE");
}

/* ---- many first fetches: each the right description ---- */

#define MANY	8	/* the test names say 8 */

struct many {
	struct t_gate num, go;
	wapi_handle_t h[MANY], r, w;
};

/* A opens the same file MANY times (MANY descriptions, offset k on the
 * k-th) and makes a pipe, whose two ends are one inode. */
static int
a_many(void *arg)
{
	struct many *m = arg;
	char c = 0;
	int fd, k;

	for (k = 0; k < MANY; k++) {
		if (wapi_file_open(file, O_RDWR | O_CREAT, 0600, 3, 7,
		    &m->h[k]) != 0 || wapi_fd_get(m->h[k], &fd) != 0 ||
		    lseek(fd, k, SEEK_SET) != k)
			return 1;
	}
	if (wapi_pipe_create(&m->r, &m->w) != 0)
		return 2;
	if (write(m->num.fd[1], m->h, sizeof(m->h)) != (ssize_t)sizeof(m->h))
		return 3;
	send_num(&m->num, m->r);
	send_num(&m->num, m->w);
	t_gate_pass(&m->go);
	/* B moved each offset by one through its own copies. */
	for (k = 0; k < MANY; k++)
		if (wapi_fd_get(m->h[k], &fd) != 0 ||
		    lseek(fd, 0, SEEK_CUR) != k + 1)
			return 10 + k;
	if (wapi_fd_get(m->r, &fd) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0 || read(fd, &c, 1) != 1 ||
	    c != 'q')
		return 4;
	return 0;
}

/* The k-th handle's copy is at offset k: its own description, not another
 * handle's of the same file. */
static int
b_check(wapi_handle_t h, off_t want)
{
	int fd, r;

	if ((r = wapi_handle_ref(h)) != 0)
		return 100 + r % 100;
	if ((r = wapi_fd_get(h, &fd)) != 0) {
		printf("# fetch: %s\n", wapi_strerror(r));
		return 200 + r % 100;
	}
	return lseek(fd, 0, SEEK_CUR) == want ? 0 : 300;
}

static int
b_many(void *arg)
{
	struct many *m = arg;
	pid_t hp;
	int fd, k, r, before = count_fds();

	if (read(m->num.fd[0], m->h, sizeof(m->h)) != (ssize_t)sizeof(m->h))
		return 1;
	m->r = recv_num(&m->num);
	m->w = recv_num(&m->num);
	/* Not referenced here: adopted by its first use, then dropped. */
	if (wapi_fd_get(m->h[0], &fd) != 0 || lseek(fd, 0, SEEK_CUR) != 0 ||
	    wapi_handle_close(m->h[0]) != 0)
		return 2;
	for (k = 0; k < MANY; k++)
		if ((r = b_check(m->h[k], k)) != 0)
			return r + k;
	/* Fetched again once the cached copy went with the last reference. */
	wapi_handle_close(m->h[3]);
	if ((r = b_check(m->h[3], 3)) != 0)
		return 400 + r / 100;
	for (k = 0; k < MANY; k++)
		if (wapi_fd_get(m->h[k], &fd) != 0 || write(fd, "y", 1) != 1)
			return 500 + k;
	/* The pipe's ends share an inode: the write end must be the one. */
	if (wapi_handle_ref(m->w) != 0 || wapi_fd_get(m->w, &fd) != 0 ||
	    (fcntl(fd, F_GETFL) & O_ACCMODE) != O_WRONLY ||
	    write(fd, "q", 1) != 1)
		return 600;
	/* A new helper: what this process knew of the old one is stale. */
	for (k = 0; k < MANY; k++)
		wapi_handle_close(m->h[k]);
	hp = helper_pid();
	if (hp <= 0 || kill(hp, SIGKILL) != 0)
		return 700;
	t_msleep(50);
	for (k = 0; k < MANY; k++)
		if ((r = b_check(m->h[k], k + 1)) != 0)
			return 800 + r / 100;
	for (k = 0; k < MANY; k++)
		wapi_handle_close(m->h[k]);
	wapi_handle_close(m->w);
	wapi_shutdown();
	if (count_fds() != before) {
		printf("# %d descriptors before, %d after\n", before,
		    count_fds());
		return 900;
	}
	return 0;
}

static void
test_many_first(void)
{
	struct many *m = calloc(1, sizeof(*m));
	pid_t a, b;
	int rb;

	if (m == NULL)
		exit(99);
	use_host("many");
	t_gate_init(&m->num);
	t_gate_init(&m->go);
	a = t_fork(a_many, m);
	b = t_fork(b_many, m);
	rb = t_wait(b);
	T_EQ(rb, 0, "B fetches 8 handles of one file and a pipe's write end: "
	    "each its own description, again after a close and a new helper");
	t_gate_open(&m->go, 'x');
	T_EQ(t_wait(a), 0, "A sees B's writes at each description's offset, "
	    "and B's byte in the pipe");
	free(m);
}

/* ---- a high slot: its deposit at the helper's fixed number ---- */

#define FIXED_BASE	8192	/* src/helper/deposit.c, with room in the limit */

struct high {
	struct t_gate num, done;
};

static int
b_high(void *arg)
{
	struct high *m = arg;
	struct stat a, b;
	wapi_handle_t h;
	int fd;

	use_host("high");
	h = recv_num(&m->num);
	if (wapi_handle_ref(h) != 0)
		return 1;
	if (wapi_fd_get(h, &fd) != 0)
		return 2;
	if (fstat(fd, &a) != 0 || stat(file, &b) != 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev)
		return 3;
	wapi_handle_close(h);
	return 0;
}

static int
a_high(void *arg)
{
	struct high *m = arg;
	struct rlimit rl;
	char link[64], path[700], real[700];
	wapi_handle_t ev, h;
	uint32_t slot;
	ssize_t n;
	int fd, i, r = 0;
	pid_t hp;

	use_host("high");
	/* 1,200 events first: the descriptor lands above slot 1,024. */
	for (i = 0; i < 1200; i++)
		if (wapi_event_create(NULL, 1, 0, &ev) != 0)
			return 1;
	if ((fd = open(file, O_RDWR | O_CREAT, 0600)) < 0 ||
	    wapi_fd_import(fd, &h) != 0)
		return 2;
	close(fd);
	slot = (h & WAPI_HANDLE_INDEX_MASK) - 1;
	hp = helper_pid();
	snprintf(link, sizeof(link), "/proc/%d/fd/%u", (int)hp,
	    FIXED_BASE + slot);
	if (slot < 1200 || hp <= 0 ||
	    (n = readlink(link, path, sizeof(path) - 1)) < 0 ||
	    realpath(file, real) == NULL)
		r = 3;
	else {
		path[n] = '\0';
		/* Only where the helper could raise its limit that far. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max > FIXED_BASE + slot && strcmp(path, real) != 0)
			r = 4;
	}
	send_num(&m->num, h);
	t_gate_pass(&m->done);
	return r;
}

static void
test_high_slot(void)
{
	struct high *m = calloc(1, sizeof(*m));
	pid_t a, b;

	if (m == NULL)
		exit(99);
	t_gate_init(&m->num);
	t_gate_init(&m->done);
	a = t_fork(a_high, m);
	b = t_fork(b_high, m);
	T_EQ(t_wait(b), 0, "another process gets the descriptor of slot 1,200+");
	t_gate_open(&m->done, 'x');
	T_EQ(t_wait(a), 0, "the helper holds it at its fixed number for the "
	    "slot, above the usual soft limit of 1,024");
	free(m);
}

/* ---- private mode ---- */

static int
private_fd(void *arg)
{
	wapi_handle_t h, r, w;
	int fd, rfd, wfd;
	char c = 0;

	(void)arg;
	setenv("WAPI_DISABLE_SHM", "1", 1);
	if (wapi_is_shared())
		return 1;
	if (wapi_file_open(file, O_RDWR | O_CREAT, 0600, 3, 0, &h) != 0 ||
	    wapi_fd_get(h, &fd) != 0)
		return 2;
	if (wapi_file_open(file, O_RDWR, 0, 1, 7, &r) != WAPI_ESHARING_VIOLATION)
		return 3;
	if (wapi_pipe_create(&r, &w) != 0 || wapi_fd_get(r, &rfd) != 0 ||
	    wapi_fd_get(w, &wfd) != 0)
		return 4;
	if (write(wfd, "p", 1) != 1 || read(rfd, &c, 1) != 1 || c != 'p')
		return 5;
	wapi_handle_close(h);
	if (wapi_fd_get(h, &fd) != WAPI_EBADHANDLE)
		return 6;
	return 0;
}

static void
test_private(void)
{
	T_EQ(t_wait(t_fork(private_fd, NULL)), 0,
	    "private mode: files with share modes, pipes, fd_get, close");
}

int
main(void)
{
	t_setup("fd");
	snprintf(file, sizeof(file), "%s/data", t_dir);
	test_shared_offset();
	test_pipe();
	test_socket();
	test_share_matrix();
	test_share_freed_on_kill();
	test_helper_killed();
	test_holder_killed();
	test_many_first();
	test_high_slot();
	test_private();
	return t_done();
}
