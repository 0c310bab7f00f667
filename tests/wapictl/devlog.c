/*
 * devlog.so, preloaded into wapictl by tests/wapictl-audit.bats: the
 * connect(2) that syslog(3) makes to "/dev/log" goes to the datagram
 * socket named by $WAPI_TEST_DEVLOG instead, so that the test reads what
 * the real syslog(3) sends without root and without a /dev/log.
 *
 * glibc's syslog calls its own hidden alias of connect(), which no
 * preloaded connect() replaces.  So the library installs, when
 * $WAPI_TEST_DEVLOG is set, a seccomp filter that traps every connect(2)
 * system call whose address length is that of a whole struct sockaddr_un
 * (glibc's syslog passes sizeof(SyslogAddr); wapi's own sockets pass the
 * exact length of their abstract names) and a SIGSYS handler that makes
 * the call itself, with the address rewritten when it is "/dev/log" and
 * with the exact length otherwise (a length the filter lets through).
 * x86-64 and AArch64 only: elsewhere, and when the filter cannot be
 * installed, it says "devlog.so: unsupported: ..." on standard error and
 * changes nothing (the test then skips).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#define DEVLOG_ARCH	AUDIT_ARCH_X86_64
#define DEVLOG_ARG(uc, i) \
	((uc)->uc_mcontext.gregs[(int[]){ REG_RDI, REG_RSI, REG_RDX }[i]])
#define DEVLOG_RET(uc)	((uc)->uc_mcontext.gregs[REG_RAX])
#elif defined(__aarch64__)
#define DEVLOG_ARCH	AUDIT_ARCH_AARCH64
#define DEVLOG_ARG(uc, i)	((uc)->uc_mcontext.regs[i])
#define DEVLOG_RET(uc)	((uc)->uc_mcontext.regs[0])
#endif

#define DEVLOG_TRAPLEN	((unsigned)sizeof(struct sockaddr_un))

static struct sockaddr_un devlog_to;

#ifdef DEVLOG_ARCH
/* The connect the filter trapped, made here.  -errno or 0, as the kernel. */
static long
devlog_connect(long fd, const void *addr, unsigned long len)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *un = (struct sockaddr_un *)&ss;
	size_t n;

	if (len > sizeof(ss))
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, len);
	if (un->sun_family != AF_UNIX)
		return syscall(SYS_connect, fd, &ss, sizeof(ss)) == 0 ? 0 :
		    -errno;
	if (strcmp(un->sun_path, "/dev/log") == 0)
		*un = devlog_to;
	if (un->sun_path[0] == '\0')
		return -EINVAL;		/* an abstract name this long: none */
	n = offsetof(struct sockaddr_un, sun_path) +
	    strnlen(un->sun_path, sizeof(un->sun_path)) + 1;
	if (n >= DEVLOG_TRAPLEN)
		return -ENAMETOOLONG;
	return syscall(SYS_connect, fd, un, n) == 0 ? 0 : -errno;
}

static void
devlog_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	int saved = errno;

	(void)sig;
	if (si->si_syscall != SYS_connect)
		DEVLOG_RET(uc) = -ENOSYS;
	else
		DEVLOG_RET(uc) = devlog_connect((long)DEVLOG_ARG(uc, 0),
		    (const void *)DEVLOG_ARG(uc, 1),
		    (unsigned long)DEVLOG_ARG(uc, 2));
	errno = saved;
}

static const char *
devlog_install(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DEVLOG_ARCH, 0, 5),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_connect, 0, 3),
		/* The low half of the length (both are little-endian). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DEVLOG_TRAPLEN, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = devlog_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return "sigaction(SIGSYS)";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return "prctl(PR_SET_NO_NEW_PRIVS)";
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		return "prctl(PR_SET_SECCOMP)";
	return NULL;
}
#else
static const char *
devlog_install(void)
{
	errno = ENOSYS;
	return "this architecture";
}
#endif

__attribute__((constructor)) static void
devlog_init(void)
{
	const char *to = getenv("WAPI_TEST_DEVLOG"), *what;

	if (to == NULL || *to == '\0')
		return;
	if (strlen(to) >= sizeof(devlog_to.sun_path) - 1) {
		fprintf(stderr, "devlog.so: unsupported: $WAPI_TEST_DEVLOG "
		    "is too long for a socket name: %s\n", to);
		return;
	}
	devlog_to.sun_family = AF_UNIX;
	strcpy(devlog_to.sun_path, to);
	if ((what = devlog_install()) != NULL)
		fprintf(stderr, "devlog.so: unsupported: %s: %s\n", what,
		    strerror(errno));
}
