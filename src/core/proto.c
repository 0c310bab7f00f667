/*
 * The helper's wire protocol: one struct wcore_msg (plus an optional payload
 * and at most one descriptor) per SOCK_SEQPACKET message, on an abstract unix
 * socket named after the user and a random token the helper records in the
 * state file's header.  Both ends check the peer's credentials; nothing
 * received is trusted beyond its size.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/* Room for a few descriptors, so that extra ones arrive and get closed;
 * the kernel drops any beyond that (MSG_CTRUNC) without installing them. */
#define PROTO_MAX_FDS	8

socklen_t
wcore_sock_addr(struct sockaddr_un *addr, uid_t uid,
    const uint8_t token[WAPI_HELPER_TOKEN_LEN])
{
	char *p;
	size_t i;
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* Abstract: sun_path[0] is NUL and the name is not NUL-terminated. */
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "wapi-%u-",
	    (unsigned)uid);
	p = addr->sun_path + 1 + n;
	for (i = 0; i < WAPI_HELPER_TOKEN_LEN; i++) {
		*p++ = "0123456789abcdef"[token[i] >> 4];
		*p++ = "0123456789abcdef"[token[i] & 0xf];
	}
	return (socklen_t)(p - (char *)addr);
}

int
wcore_msg_sendv(int sock, const struct wcore_msg *m, const void *payload,
    const int *fds, int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * WCORE_MSG_MAX_FDS)];
	} c;
	struct msghdr mh;
	struct iovec iov[2];
	struct cmsghdr *cm;
	ssize_t n;

	if ((m->len > 0 && payload == NULL) || nfds < 0 ||
	    nfds > WCORE_MSG_MAX_FDS)
		return EINVAL;
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = (void *)m;
	iov[0].iov_len = sizeof(*m);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = m->len;
	mh.msg_iov = iov;
	mh.msg_iovlen = m->len > 0 ? 2 : 1;
	if (nfds > 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	/* SOCK_SEQPACKET sends all or nothing; anything else is a bug. */
	if ((size_t)n != sizeof(*m) + m->len)
		return EPROTO;
	return 0;
}

int
wcore_msg_send(int sock, const struct wcore_msg *m, const void *payload,
    int fd)
{
	return wcore_msg_sendv(sock, m, payload, &fd, fd >= 0 ? 1 : 0);
}

int
wcore_msg_recvv(int sock, struct wcore_msg *m, void *payload, size_t plen,
    int *fds, int *nfds, int maxfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	} c;
	struct msghdr mh;
	struct iovec iov[2];
	struct cmsghdr *cm;
	int got = 0, one, e = 0, k;
	size_t i, nfd;
	ssize_t n;

	if (nfds != NULL)
		*nfds = 0;
	if (fds == NULL || nfds == NULL)
		maxfds = 0;
	memset(&mh, 0, sizeof(mh));
	memset(&c, 0, sizeof(c));
	iov[0].iov_base = m;
	iov[0].iov_len = sizeof(*m);
	iov[1].iov_base = payload;
	iov[1].iov_len = payload != NULL ? plen : 0;
	mh.msg_iov = iov;
	mh.msg_iovlen = iov[1].iov_len > 0 ? 2 : 1;
	mh.msg_control = c.buf;
	mh.msg_controllen = sizeof(c.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;

	/* Keep as many descriptors as were asked for; close the rest. */
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&one, CMSG_DATA(cm) + i * sizeof(int),
			    sizeof(int));
			if (got < maxfds)
				fds[got++] = one;
			else
				close(one);
		}
	}

	if (n == 0)
		e = ECONNRESET;		/* the peer closed */
	else if (mh.msg_flags & MSG_TRUNC)
		e = EMSGSIZE;
	else if ((size_t)n < sizeof(*m) || m->len != (size_t)n - sizeof(*m))
		e = EPROTO;
	if (e != 0) {
		for (k = 0; k < got; k++) {
			close(fds[k]);
			fds[k] = -1;
		}
		return e;
	}
	if (nfds != NULL)
		*nfds = got;
	return 0;
}

int
wcore_msg_recv(int sock, struct wcore_msg *m, void *payload, size_t plen,
    int *fd)
{
	int n = 0, r;

	if (fd != NULL)
		*fd = -1;
	r = wcore_msg_recvv(sock, m, payload, plen, fd, &n, fd != NULL ? 1 : 0);
	if (fd != NULL && (r != 0 || n == 0))
		*fd = -1;
	return r;
}

int
wcore_peer_check(int sock, uid_t uid, pid_t *peer_pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
		return errno;
	if (len != sizeof(cr) || cr.uid != uid)
		return EPERM;
	if (peer_pid != NULL)
		*peer_pid = cr.pid;
	return 0;
}

/* len bytes of the header at off: 0, errno, or EIO for a short file. */
static int
proto_pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n;

	do
		n = pread(fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EIO;
}

/*
 * Where the helper of fd listens, from the header: only while a helper holds
 * its byte (a dead helper's token is known to anyone who read
 * /proc/net/unix while it lived, and may be bound by them now) and only once
 * a token was written.  0, or ECONNREFUSED: no helper to connect to.
 */
static int
proto_rendezvous(int fd, struct sockaddr_un *addr, socklen_t *alen)
{
	static const uint8_t none[WAPI_HELPER_TOKEN_LEN];
	uint8_t token[WAPI_HELPER_TOKEN_LEN];
	int r;

	if ((r = wcore_byte_held(fd, WAPI_LOCK_HELPER, F_WRLCK)) < 0)
		return -r;
	if (r == 0)
		return ECONNREFUSED;
	if ((r = proto_pread(fd, token, sizeof(token),
	    offsetof(struct wapi_header, helper_token))) != 0)
		return r;
	if (memcmp(token, none, sizeof(token)) == 0)
		return ECONNREFUSED;
	*alen = wcore_sock_addr(addr, geteuid(), token);
	return 0;
}

/*
 * Whether the peer of s is the helper the header of fd records: our uid,
 * and the pid it published before it listened (read after connecting, so
 * a helper that just started is not mistaken for a stranger).  0 or EPERM.
 */
static int
proto_peer_is_helper(int fd, int s, pid_t *peer_pid)
{
	int32_t recorded;
	pid_t pid;
	int e;

	if ((e = wcore_peer_check(s, geteuid(), &pid)) != 0)
		return e;
	if ((e = proto_pread(fd, &recorded, sizeof(recorded),
	    offsetof(struct wapi_header, helper_pid))) != 0)
		return e;
	if (pid != (pid_t)recorded)
		return EPERM;
	if (peer_pid != NULL)
		*peer_pid = pid;
	return 0;
}

/*
 * One try: connect without blocking (a full backlog gives EAGAIN at once,
 * whoever holds the name), then make the socket blocking with timeout_ms
 * on every send and receive, and check the peer.  The socket or -errno.
 */
static int
proto_dial_once(int fd, int timeout_ms, pid_t *peer_pid)
{
	struct sockaddr_un addr;
	struct timeval tv;
	socklen_t alen;
	int s, e;

	if ((e = proto_rendezvous(fd, &addr, &alen)) != 0)
		return -e;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (connect(s, (struct sockaddr *)&addr, alen) != 0 ||
	    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		e = errno;
	else
		e = proto_peer_is_helper(fd, s, peer_pid);
	if (e != 0) {
		close(s);
		return -e;
	}
	return s;
}

int
wcore_helper_socket(int fd, int timeout_ms, pid_t *peer_pid)
{
	struct timespec nap = { 0, 1000000 };
	int64_t deadline;
	int s;

	deadline = wcore_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	/* A full backlog: look again (a new helper may have replaced the
	 * name meanwhile) until the deadline. */
	while ((s = proto_dial_once(fd, timeout_ms, peer_pid)) == -EAGAIN &&
	    wcore_now_mono_ns() < deadline) {
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 32000000)
			nap.tv_nsec *= 2;
	}
	return s;
}
