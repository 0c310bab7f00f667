/*
 * Fuzz entry point for what the helper reads from a client's socket: a
 * SPAWN request's payload (wcore_spawn_unpack, src/core/spawnmsg.c) and a
 * whole message as it arrives (wcore_msg_recv, src/core/proto.c, through a
 * real SOCK_SEQPACKET socket pair).  An unpacked request must point only
 * into its payload and survive a pack/unpack round trip unchanged.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "spawnmsg.h"
#include "fuzz.h"

/* A string of the request: inside [buf, buf + len) and terminated there. */
static void
inside(const char *s, const char *buf, size_t len, const char *what)
{
	if (s < buf || s >= buf + len ||
	    memchr(s, '\0', (size_t)(buf + len - s)) == NULL)
		fuzz_fail("unpacked %s does not lie in the payload", what);
}

static size_t
count(char **v)
{
	size_t n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

static void
same(char **a, char **b, const char *what)
{
	size_t i;

	if (count(a) != count(b))
		fuzz_fail("%s: %zu strings, %zu after a round trip", what,
		    count(a), count(b));
	for (i = 0; a[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			fuzz_fail("%s[%zu] changed in a round trip", what, i);
}

static void
run_spawn(const uint8_t *data, size_t len)
{
	struct wcore_spawn_req q, q2;
	char *buf, **v;
	void *pk;
	size_t pklen;
	int r, n;

	/* Exactly len bytes: the unpacker must not read past them. */
	if ((buf = malloc(len ? len : 1)) == NULL)
		fuzz_fail("out of memory");
	if (len > 0)
		memcpy(buf, data, len);
	r = wcore_spawn_unpack(buf, len, &q);
	if (r != 0) {
		if (r != EPROTO && r != ENOMEM)
			fuzz_fail("wcore_spawn_unpack returned %d", r);
		if (q.argv != NULL || q.envp != NULL)
			fuzz_fail("a failed unpack left arrays behind");
		free(buf);
		return;
	}
	if (q.argv == NULL || q.argv[0] == NULL || q.envp == NULL)
		fuzz_fail("unpacked request without argv[0] or envp");
	for (v = q.argv; *v != NULL; v++)
		inside(*v, buf, len, "argv");
	for (v = q.envp; *v != NULL; v++)
		inside(*v, buf, len, "envp");
	if (q.cwd != NULL)
		inside(q.cwd, buf, len, "cwd");
	n = wcore_spawn_nfds(&q);
	if (n < 0 || n > 4)
		fuzz_fail("wcore_spawn_nfds = %d", n);

	r = wcore_spawn_pack((const char *const *)q.argv,
	    (const char *const *)q.envp, q.cwd, q.stdio_mask,
	    q.flags & WCORE_SPAWN_CWDFD, &pk, &pklen);
	if (r == 0) {
		if (wcore_spawn_unpack(pk, pklen, &q2) != 0)
			fuzz_fail("a packed request does not unpack");
		same(q.argv, q2.argv, "argv");
		same(q.envp, q2.envp, "envp");
		if ((q.cwd == NULL) != (q2.cwd == NULL) ||
		    (q.cwd != NULL && strcmp(q.cwd, q2.cwd) != 0))
			fuzz_fail("cwd changed in a round trip");
		if (q2.stdio_mask != q.stdio_mask ||
		    wcore_spawn_nfds(&q2) != n)
			fuzz_fail("descriptors changed in a round trip");
		wcore_spawn_req_free(&q2);
		free(pk);
	} else if (r != E2BIG && r != ENOMEM)
		fuzz_fail("re-packing an unpacked request: %d", r);
	wcore_spawn_req_free(&q);
	free(buf);
}

/* The bytes as one message on a socket, read the way the helper does. */
static void
run_wire(const uint8_t *data, size_t len)
{
	static int sv[2] = { -1, -1 };
	struct wcore_msg m;
	char payload[512];
	int r, fd;

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv) != 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	if (len == 0 || len > 65536)
		return;
	if (send(sv[0], data, len, 0) != (ssize_t)len)
		fuzz_fail("send: %s", strerror(errno));
	memset(&m, 0, sizeof(m));
	r = wcore_msg_recv(sv[1], &m, len % 2 ? payload : NULL,
	    len % 2 ? sizeof(payload) : 0, &fd);
	if (r == 0) {
		if (m.len > (len % 2 ? sizeof(payload) : 0) ||
		    len != sizeof(m) + m.len)
			fuzz_fail("accepted a %zu-byte message whose length "
			    "field says %u", len, m.len);
		if (fd != -1)
			fuzz_fail("a descriptor appeared from nowhere");
	} else if (r != EPROTO && r != EMSGSIZE)
		fuzz_fail("wcore_msg_recv returned %d (%s)", r, strerror(r));
}

void
fuzz_proto_one(const uint8_t *data, size_t len)
{
	run_spawn(data, len);
	run_wire(data, len);
}
