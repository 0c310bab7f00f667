/*
 * logsink SOCKET FILE [SECONDS]: a stand-in for the syslog daemon in
 * tests/wapictl-audit.bats.  It binds the datagram socket SOCKET (a path;
 * one left from an earlier run is replaced) and appends each datagram it
 * receives to FILE as one line, bytes as they came.  It leaves when
 * killed, or after SECONDS (default 120), and removes SOCKET then.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t logsink_done;

static void
logsink_stop(int sig)
{
	(void)sig;
	logsink_done = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un un;
	struct sigaction sa;
	char buf[8192 + 1];
	ssize_t n;
	int s, out;

	if (argc < 3 || argc > 4)
		errx(2, "usage: logsink SOCKET FILE [SECONDS]");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(un.sun_path))
		errx(2, "%s: too long for a socket name", argv[1]);
	strcpy(un.sun_path, argv[1]);
	if ((out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		err(1, "%s", argv[2]);
	if ((s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		err(1, "socket");
	(void)unlink(argv[1]);
	if (bind(s, (struct sockaddr *)&un, sizeof(un)) != 0)
		err(1, "bind %s", argv[1]);

	/* No SA_RESTART: a signal ends the wait in recv. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = logsink_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(argc == 4 ? (unsigned)strtoul(argv[3], NULL, 10) : 120);
	while (!logsink_done) {
		if ((n = recv(s, buf, sizeof(buf) - 1, 0)) < 0) {
			if (errno == EINTR)
				continue;
			warn("recv");
			break;
		}
		buf[n++] = '\n';
		if (write(out, buf, (size_t)n) != n)
			warn("%s", argv[2]);
	}
	(void)unlink(argv[1]);
	return 0;
}
