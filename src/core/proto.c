/*
 * The helper's wire protocol: one struct wcore_msg (plus an optional payload
 * and at most one descriptor) per SOCK_SEQPACKET message, on an abstract unix
 * socket named after the user and the state file.  Both ends check the
 * peer's credentials; nothing received is trusted beyond its size.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* Room for a few descriptors, so that extra ones arrive and get closed;
 * the kernel drops any beyond that (MSG_CTRUNC) without installing them. */
#define PROTO_MAX_FDS	8

socklen_t
wcore_sock_addr(struct sockaddr_un *addr, uid_t uid, dev_t dev, ino_t ino)
{
	int n;

	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* Abstract: sun_path[0] is NUL and the name is not NUL-terminated. */
	n = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1,
	    "wapi-%u-%jx-%jx", (unsigned)uid, (uintmax_t)dev, (uintmax_t)ino);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    (size_t)n);
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

int
wcore_helper_socket(int fd, int timeout_ms, pid_t *peer_pid)
{
	struct sockaddr_un addr;
	struct timeval tv;
	struct stat sb;
	socklen_t alen;
	int s, e;

	if (fstat(fd, &sb) != 0)
		return -errno;
	alen = wcore_sock_addr(&addr, geteuid(), sb.st_dev, sb.st_ino);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(s, (struct sockaddr *)&addr, alen) != 0) {
		e = errno;
		close(s);
		return -e;
	}
	if ((e = wcore_peer_check(s, geteuid(), peer_pid)) != 0) {
		close(s);
		return -e;
	}
	return s;
}
