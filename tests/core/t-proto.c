/*
 * The helper protocol: abstract socket names, messages with and without a
 * descriptor over a real SOCK_SEQPACKET pair, unasked and extra descriptors
 * closed, short messages, the peer closing, SO_PEERCRED, and whom
 * wcore_helper_socket trusts: only the name a live helper published, only
 * the helper the header records, without waiting on a full backlog.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "tcheck.h"

static int	count_fds(void);
static void	test_addr(void);
static void	test_messages(void);
static void	test_extra_fds(void);
static void	test_errors(void);
static void	test_peer(void);
static void	test_token(uint8_t *, unsigned);
static int	hs_file(int *);
static void	hs_header(int, const uint8_t *, pid_t);
static int	hs_listen(uid_t, const uint8_t *, int);
static void	test_helper_socket(void);
static void	test_helper_stranger(void);

static int
count_fds(void)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* opendir's own */
}

/* A token unique to this run (a parallel run must not collide) and tag. */
static void
test_token(uint8_t *token, unsigned tag)
{
	uint32_t pid = (uint32_t)getpid();

	memset(token, 0, WAPI_HELPER_TOKEN_LEN);
	memcpy(token, &pid, sizeof(pid));
	memcpy(token + sizeof(pid), &tag, sizeof(tag));
	token[WAPI_HELPER_TOKEN_LEN - 1] = 0x7e;
}

static void
test_addr(void)
{
	static const uint8_t tok[WAPI_HELPER_TOKEN_LEN] = { 0x00, 0x01, 0xab,
	    0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x0f,
	    0xf0, 0xff };
	uint8_t token[WAPI_HELPER_TOKEN_LEN];
	struct sockaddr_un a, b;
	socklen_t len, blen;
	const char *want = "wapi-1000-0001abcdef1032547698badcfe0ff0ff";
	int s;

	len = wcore_sock_addr(&a, 1000, tok);
	t_ok(a.sun_family == AF_UNIX && a.sun_path[0] == '\0',
	    "abstract address");
	T_INTEQ(len, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(want),
	    "length covers the name without a NUL");
	t_ok(memcmp(a.sun_path + 1, want, strlen(want)) == 0,
	    "name is wapi-<uid>-<token, 32 hex digits>");
	len = wcore_sock_addr(&b, 4294967295u, tok);
	T_INTEQ(len, offsetof(struct sockaddr_un, sun_path) + 1 +
	    strlen("wapi-4294967295-") + 2 * WAPI_HELPER_TOKEN_LEN,
	    "the longest uid fits");

	test_token(token, 0xfeed);
	len = wcore_sock_addr(&a, getuid(), token);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	t_ok(s >= 0 && bind(s, (struct sockaddr *)&a, len) == 0,
	    "bind to the abstract name");
	blen = sizeof(b);
	t_ok(getsockname(s, (struct sockaddr *)&b, &blen) == 0 &&
	    blen == len && memcmp(&a, &b, len) == 0,
	    "getsockname gives the same name back");
	close(s);
}

static void
test_messages(void)
{
	struct wcore_msg m, r;
	char payload[64], got[64], c;
	int sv[2], p[2], fd, e;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(p, O_CLOEXEC) != 0) {
		t_ok(0, "socketpair/pipe: %s", strerror(errno));
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_HELLO;
	m.slot = 7;
	m.pid = getpid();
	T_INTEQ(wcore_msg_send(sv[0], &m, NULL, -1), 0, "send HELLO");
	memset(&r, 0xff, sizeof(r));
	fd = 12345;
	T_INTEQ(wcore_msg_recv(sv[1], &r, got, sizeof(got), &fd), 0,
	    "receive HELLO");
	t_ok(r.type == WCORE_MSG_HELLO && r.slot == 7 && r.pid == getpid() &&
	    r.len == 0, "fields arrive");
	T_INTEQ(fd, -1, "no descriptor: *fd = -1");

	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_DEPOSIT;
	m.handle = 42;
	strlcpy(payload, "hello, helper", sizeof(payload));
	m.len = (uint32_t)strlen(payload) + 1;
	T_INTEQ(wcore_msg_send(sv[0], &m, payload, p[1]), 0,
	    "send DEPOSIT with payload and descriptor");
	memset(got, 0, sizeof(got));
	T_INTEQ(wcore_msg_recv(sv[1], &r, got, sizeof(got), &fd), 0,
	    "receive it");
	T_STREQ(got, "hello, helper", "payload arrives");
	t_ok(r.handle == 42 && r.len == m.len, "header arrives");
	t_ok(fd >= 0 && fd != p[1], "a new descriptor arrives");
	t_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	    "received descriptor is close-on-exec");
	/* It is the same pipe: write through it, read at the other end. */
	t_ok(fd >= 0 && write(fd, "z", 1) == 1 && read(p[0], &c, 1) == 1 &&
	    c == 'z', "received descriptor is the same pipe");
	if (fd >= 0)
		close(fd);

	/* A payload bigger than the receiver's buffer is an error. */
	m.len = sizeof(payload);
	memset(payload, 'q', sizeof(payload));
	wcore_msg_send(sv[0], &m, payload, -1);
	e = wcore_msg_recv(sv[1], &r, got, 8, &fd);
	T_INTEQ(e, EMSGSIZE, "truncated payload: EMSGSIZE");

	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void
test_extra_fds(void)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 3)];
	} cb;
	struct wcore_msg m, r;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	int sv[2], p[2], fds[3], fd, before, after;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(p, O_CLOEXEC) != 0) {
		t_ok(0, "socketpair/pipe: %s", strerror(errno));
		return;
	}
	before = count_fds();

	/* Unasked descriptor: receiver passes fd == NULL. */
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_PING;
	wcore_msg_send(sv[0], &m, NULL, p[0]);
	T_INTEQ(wcore_msg_recv(sv[1], &r, NULL, 0, NULL), 0,
	    "receive with fd == NULL");
	after = count_fds();
	T_INTEQ(after, before, "unasked descriptor closed");

	/* Three descriptors in one message: keep the first only. */
	memset(&mh, 0, sizeof(mh));
	memset(&cb, 0, sizeof(cb));
	iov.iov_base = &m;
	iov.iov_len = sizeof(m);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cb.buf;
	mh.msg_controllen = sizeof(cb.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	fds[0] = p[1];
	fds[1] = p[0];
	fds[2] = p[0];
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	t_ok(sendmsg(sv[0], &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(m),
	    "raw send with three descriptors");
	T_INTEQ(wcore_msg_recv(sv[1], &r, NULL, 0, &fd), 0, "receive it");
	after = count_fds();
	T_INTEQ(after, before + 1, "only the first descriptor kept");
	t_ok(fd >= 0 && write(fd, "k", 1) == 1, "and it is the write end");
	if (fd >= 0)
		close(fd);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void
test_errors(void)
{
	struct wcore_msg m, r;
	int sv[2], p[2], fd, before;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(p, O_CLOEXEC) != 0) {
		t_ok(0, "socketpair/pipe: %s", strerror(errno));
		return;
	}
	before = count_fds();

	/* Short message, with a descriptor that must not leak. */
	memset(&m, 0, sizeof(m));
	m.type = WCORE_MSG_OK;
	{
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} cb;
		struct msghdr mh;
		struct iovec iov;
		struct cmsghdr *cm;

		memset(&mh, 0, sizeof(mh));
		memset(&cb, 0, sizeof(cb));
		iov.iov_base = &m;
		iov.iov_len = 4;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
		sendmsg(sv[0], &mh, MSG_NOSIGNAL);
	}
	fd = 999;
	T_INTEQ(wcore_msg_recv(sv[1], &r, NULL, 0, &fd), EPROTO,
	    "4-byte message: EPROTO");
	T_INTEQ(fd, -1, "no descriptor handed out on error");
	T_INTEQ(count_fds(), before, "and its descriptor was closed");

	/* Header that claims more payload than came. */
	m.len = 100;
	send(sv[0], &m, sizeof(m), MSG_NOSIGNAL);
	T_INTEQ(wcore_msg_recv(sv[1], &r, NULL, 0, &fd), EPROTO,
	    "len disagrees with the message: EPROTO");

	m.len = 5;
	T_INTEQ(wcore_msg_send(sv[0], &m, NULL, -1), EINVAL,
	    "send: payload length without payload: EINVAL");

	close(sv[0]);
	T_INTEQ(wcore_msg_recv(sv[1], &r, NULL, 0, &fd), ECONNRESET,
	    "peer closed: ECONNRESET");
	m.len = 0;
	T_INTEQ(wcore_msg_send(sv[1], &m, NULL, -1), EPIPE,
	    "send to a closed peer: EPIPE, no SIGPIPE");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void
test_peer(void)
{
	uint8_t token[WAPI_HELPER_TOKEN_LEN];
	struct sockaddr_un a;
	socklen_t len;
	pid_t pid, peer = 0, child;
	int ls, s, st;

	T_INTEQ(wcore_peer_check(-1, getuid(), NULL), EBADF,
	    "peer check on a bad descriptor");
	test_token(token, 0xbeef);
	len = wcore_sock_addr(&a, getuid(), token);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, len) != 0 ||
	    listen(ls, 4) != 0) {
		t_ok(0, "listen: %s", strerror(errno));
		return;
	}
	/* A real other process connects over the abstract name. */
	child = fork();
	if (child == 0) {
		struct wcore_msg m;
		int c = socket(AF_UNIX, SOCK_SEQPACKET, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&a, len) != 0)
			_exit(2);
		memset(&m, 0, sizeof(m));
		m.type = WCORE_MSG_PING;
		m.pid = getpid();
		if (wcore_msg_send(c, &m, NULL, -1) != 0)
			_exit(3);
		/* Wait for the parent to close. */
		if (wcore_msg_recv(c, &m, NULL, 0, NULL) != ECONNRESET)
			_exit(4);
		_exit(0);
	}
	s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	t_ok(s >= 0, "accept a connection from a child");
	T_INTEQ(wcore_peer_check(s, getuid(), &peer), 0,
	    "peer is the same uid");
	T_INTEQ(peer, child, "peer pid is the child's");
	T_INTEQ(wcore_peer_check(s, getuid() + 1, &pid), EPERM,
	    "another uid: EPERM");
	{
		struct wcore_msg m;

		T_INTEQ(wcore_msg_recv(s, &m, NULL, 0, NULL), 0,
		    "receive the child's PING");
		T_INTEQ(m.pid, child, "with its pid");
	}
	close(s);
	close(ls);
	waitpid(child, &st, 0);
	t_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child saw ECONNRESET when the server closed");
}

/* A state file's header alone, its helper byte free; *holder: another open
 * file description of it, to take that byte as a helper would. */
static int
hs_file(int *holder)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/hs.state", t_tmp);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, WAPI_HEADER_SIZE) != 0 ||
	    (*holder = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		t_ok(0, "%s: %s", path, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Record a helper's token (NULL: none) and pid in the header of fd. */
static void
hs_header(int fd, const uint8_t *token, pid_t pid)
{
	uint8_t none[WAPI_HELPER_TOKEN_LEN] = { 0 };
	int32_t p = (int32_t)pid;

	if (pwrite(fd, token != NULL ? token : none, sizeof(none),
	    offsetof(struct wapi_header, helper_token)) != sizeof(none) ||
	    pwrite(fd, &p, sizeof(p), offsetof(struct wapi_header,
	    helper_pid)) != sizeof(p)) {
		t_ok(0, "pwrite: %s", strerror(errno));
		exit(1);
	}
}

/* A listener at the name uid's helper with token would have. */
static int
hs_listen(uid_t uid, const uint8_t *token, int backlog)
{
	struct sockaddr_un a;
	socklen_t len;
	int ls;

	len = wcore_sock_addr(&a, uid, token);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, len) != 0 ||
	    listen(ls, backlog) != 0) {
		t_ok(0, "listen: %s", strerror(errno));
		exit(1);
	}
	return ls;
}

static void
test_helper_socket(void)
{
	uint8_t tok[WAPI_HELPER_TOKEN_LEN];
	struct pollfd pfd;
	struct sockaddr_un a;
	pid_t peer = 0;
	int fd, holder, ls, s, c;

	fd = hs_file(&holder);
	test_token(tok, 0x5eed);
	ls = hs_listen(geteuid(), tok, 4);
	hs_header(fd, tok, getpid());
	T_INTEQ(wcore_helper_socket(fd, 1000, NULL), -ECONNREFUSED,
	    "no helper holds its byte: the recorded name is not tried");
	pfd.fd = ls;
	pfd.events = POLLIN;
	T_INTEQ(poll(&pfd, 1, 0), 0, "... and nothing connected to it");

	T_INTEQ(wcore_lock_byte(holder, WAPI_LOCK_HELPER, F_WRLCK, 0), 0,
	    "a helper holds its byte");
	hs_header(fd, NULL, getpid());
	T_INTEQ(wcore_helper_socket(fd, 1000, NULL), -ECONNREFUSED,
	    "no token yet: no name to try");

	hs_header(fd, tok, getpid());
	s = wcore_helper_socket(fd, 1000, &peer);
	t_ok(s >= 0 && peer == getpid(),
	    "the recorded name and helper pid: connected (%d, peer %d)", s,
	    (int)peer);
	t_ok(s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) == 0,
	    "the socket blocks again after the connect (timeouts bound it)");
	if (s >= 0)
		close(s);
	if ((c = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(c);

	hs_header(fd, tok, getpid() + 1);
	T_INTEQ(wcore_helper_socket(fd, 1000, NULL), -EPERM,
	    "our uid but not the recorded helper pid: EPERM");
	if ((c = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(c);
	close(ls);

	/* Backlog 0 holds one connection that nobody accepts: full. */
	ls = hs_listen(geteuid(), tok, 0);
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	t_ok(c >= 0 && connect(c, (struct sockaddr *)&a,
	    wcore_sock_addr(&a, geteuid(), tok)) == 0,
	    "one connection fills a backlog of 0");
	hs_header(fd, tok, getpid());
	T_INTEQ(wcore_helper_socket(fd, 200, NULL), -EAGAIN,
	    "a full backlog that never drains: EAGAIN when the time is up");
	close(c);
	close(ls);
	close(holder);
	close(fd);
}

/* Another uid at the name, even with the pid the header records. */
static void
test_helper_stranger(void)
{
	uint8_t tok[WAPI_HELPER_TOKEN_LEN];
	uid_t me = geteuid();
	pid_t child;
	int fd, holder, p[2], q[2], st;
	char c = 0;

	if (geteuid() != 0) {
		t_skip("needs root to listen as another uid");
		return;
	}
	fd = hs_file(&holder);
	test_token(tok, 0x0bad);
	if (pipe(p) != 0 || pipe(q) != 0 || (child = fork()) < 0) {
		t_ok(0, "pipe/fork: %s", strerror(errno));
		return;
	}
	if (child == 0) {
		close(p[0]);
		close(q[1]);
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(1);
		hs_listen(me, tok, 4);
		(void)write(p[1], "r", 1);
		(void)read(q[0], &c, 1);	/* until the parent is done */
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	T_INTEQ(read(p[0], &c, 1), 1, "uid 65534 listens at the name");
	T_INTEQ(wcore_lock_byte(holder, WAPI_LOCK_HELPER, F_WRLCK, 0), 0,
	    "a helper holds its byte");
	hs_header(fd, tok, child);
	T_INTEQ(wcore_helper_socket(fd, 1000, NULL), -EPERM,
	    "another uid at the recorded name and pid: EPERM");
	close(q[1]);
	close(p[0]);
	waitpid(child, &st, 0);
	close(holder);
	close(fd);
}

int
main(void)
{
	t_setup();
	test_addr();
	test_messages();
	test_extra_fds();
	test_errors();
	test_peer();
	test_helper_socket();
	test_helper_stranger();
	return t_done();
}
