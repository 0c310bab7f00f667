/*
 * A number just works: every call that takes a handle adopts a live number
 * on its first use in a process (it takes that process's reference, once),
 * wapi_handle_close never adopts, and a number whose object is gone gives
 * WAPI_EBADHANDLE, even once its slot holds a new object.  This process
 * creates one object of every kind; wapi-tuse (exec'd) and forked children
 * use the numbers as they are, without wapi_handle_ref.  A forked child is a
 * new client: none of the parent's references or mutexes are its own, and
 * its death leaves the parent's references alone.
 */
#include <poll.h>
#include <sys/socket.h>

#include "tlib.h"

#define WAIT_MS		5000	/* every bounded wait of this test */

/* From wapi-tuse.c, built into this program too (TUSE_NO_MAIN). */
extern const char tuse_content[];
int tuse_run(int argc, char *const argv[], const char *prefix);

static char tuse[4096];		/* the wapi-tuse program */
static char file[600];		/* the file behind o.file */

/* The creator's objects, one of every kind. */
static struct {
	wapi_handle_t ev, mu, sem, file, prd, pwr, sock, proc;
} o;
static int peer = -1;		/* the other end of o.sock */

#define NOBJ	8
static wapi_handle_t *const all[NOBJ] = { &o.ev, &o.mu, &o.sem, &o.file,
    &o.prd, &o.pwr, &o.sock, &o.proc };
static const char *const all_names[NOBJ] = { "event", "mutex", "semaphore",
    "file", "pipe read end", "pipe write end", "socket", "process" };

/* ------------------------------------------------------------- helpers */

/* References of all processes to h (the caller holds its own already, so
 * asking takes none); below 0 when the call failed. */
static long
refs_of(wapi_handle_t h)
{
	struct wapi_handle_info info;
	int r = wapi_handle_info(h, &info);

	return r == 0 ? (long)info.refs : -(long)r;
}

static void
refs_all(long out[NOBJ])
{
	int k;

	for (k = 0; k < NOBJ; k++)
		out[k] = refs_of(*all[k]);
}

static int32_t
sem_count(wapi_handle_t h)
{
	struct wapi_handle_info info;

	return wapi_handle_info(h, &info) == 0 ? info.count : -1;
}

/* One byte from fd within WAIT_MS, or -1. */
static int
read_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, WAIT_MS) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return (unsigned char)c;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wapi-tuse next to this program (a libtool build runs the real
 * binary from .libs; the program beside it is the one to run). */
static int
find_tuse(void)
{
	const char *env = getenv("WAPI_TUSE");
	char *slash;
	ssize_t n;
	size_t len;

	if (env != NULL && *env != '\0') {
		snprintf(tuse, sizeof(tuse), "%s", env);
		return access(tuse, X_OK);
	}
	n = readlink("/proc/self/exe", tuse, sizeof(tuse) - 32);
	if (n <= 0)
		return -1;
	tuse[n] = '\0';
	if ((slash = strrchr(tuse, '/')) == NULL)
		return -1;
	*slash = '\0';
	len = strlen(tuse);
	if (len >= 6 && strcmp(tuse + len - 6, "/.libs") == 0)
		tuse[len - 6] = '\0';
	strcat(tuse, "/wapi-tuse");
	return access(tuse, X_OK);
}

/* The command line of a use of every object ("offset=" first). */
static char argbuf[NOBJ + 1][48];

static int
tuse_args(char *argv[], long offset)
{
	static const struct { const char *kind; wapi_handle_t *h; } pairs[] = {
		{ "event", &o.ev }, { "mutex", &o.mu }, { "sem", &o.sem },
		{ "file", &o.file }, { "pipe", &o.pwr }, { "socket", &o.sock },
		{ "process", &o.proc },
	};
	int argc = 0;
	size_t k;

	argv[argc++] = tuse;
	snprintf(argbuf[0], sizeof(argbuf[0]), "offset=%ld", offset);
	argv[argc++] = argbuf[0];
	for (k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
		snprintf(argbuf[k + 1], sizeof(argbuf[k + 1]), "%s=%u",
		    pairs[k].kind, *pairs[k].h);
		argv[argc++] = argbuf[k + 1];
	}
	argv[argc] = NULL;
	return argc;
}

/* Run wapi-tuse with argv; its output (stdout and stderr) in out, each
 * line also shown as a comment.  Its exit status, -1 if it did not exit. */
static int
run_tuse(char *const argv[], char *out, size_t outlen)
{
	size_t got = 0;
	ssize_t n;
	char *line, *save = NULL, *copy;
	int p[2], st;
	pid_t pid;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(tuse, argv);
		_exit(127);
	}
	close(p[1]);
	while (got < outlen - 1 &&
	    (n = read(p[0], out + got, outlen - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(p[0]);
	st = t_wait(pid);
	if ((copy = strdup(out)) != NULL) {
		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("# wapi-tuse: %s\n", line);
		free(copy);
	}
	return st;
}

static bool
has_line(const char *out, const char *want)
{
	size_t len = strlen(want);
	const char *p = out;

	while ((p = strstr(p, want)) != NULL) {
		if ((p == out || p[-1] == '\n') &&
		    (p[len] == '\n' || p[len] == '\0'))
			return true;
		p++;
	}
	return false;
}

/* t_fork with nothing of ours buffered, so that no child repeats it. */
static pid_t
fork_clean(int (*fn)(void *), void *arg)
{
	fflush(stdout);
	return t_fork(fn, arg);
}

/*
 * A forked child that holds what it took while the parent looks: the child
 * runs use(arg), says so, waits for the parent's look(look_arg), then runs
 * after(arg) (if any) and exits with _exit: what it still holds then is
 * dropped by the helper when it sees the child gone.  The child's status:
 * use's non-zero result, else after's.  look runs only when use passed.
 */
struct held {
	int (*use)(void *);
	int (*after)(void *);
	void *arg;
};

static int
run_held(const struct held *h, void (*look)(void *), void *look_arg)
{
	struct t_gate ready, go;
	pid_t pid;
	int r, st;

	t_gate_init(&ready);
	t_gate_init(&go);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(ready.fd[0]);
		close(go.fd[1]);
		r = h->use(h->arg);
		t_gate_open(&ready, r == 0 ? 'y' : 'n');
		t_gate_pass(&go);
		if (r == 0 && h->after != NULL)
			r = h->after(h->arg);
		fflush(stdout);
		_exit(r);
	}
	close(ready.fd[1]);
	close(go.fd[0]);
	if (t_gate_pass(&ready) == 'y' && look != NULL)
		look(look_arg);
	t_gate_open(&go, 'x');
	close(go.fd[1]);
	close(ready.fd[0]);
	st = t_wait(pid);
	return st;
}

struct refs_pred { wapi_handle_t *hs; long *want; int n; };

static bool
refs_back(void *p)
{
	struct refs_pred *rp = p;
	int k;

	for (k = 0; k < rp->n; k++)
		if (refs_of(rp->hs[k]) != rp->want[k])
			return false;
	return true;
}

/* Both closes of a number the caller holds one reference of: 0 when the
 * first drops it and the second finds none. */
static int
close_once(wapi_handle_t h, const char *what)
{
	int r1 = wapi_handle_close(h), r2 = wapi_handle_close(h);

	if (r1 == 0 && r2 == WAPI_EBADHANDLE)
		return 0;
	printf("# %s: closes gave %s, then %s (want success, then "
	    "WAPI_EBADHANDLE)\n", what, r1 == 0 ? "success" : wapi_strerror(r1),
	    r2 == 0 ? "success" : wapi_strerror(r2));
	return 1;
}

/* -------------------------------------------------------- the objects */

static void
make_objects(void)
{
	const char *sh[] = { "sh", "-c", "exit 7", NULL };
	int sv[2], fd, code = -1;
	size_t len = strlen(tuse_content);
	pid_t pid = 0;

	T_EQ(wapi_event_create(NULL, 1, 1, &o.ev), 0, "an event, manual reset, set");
	T_EQ(wapi_mutex_create(NULL, 0, &o.mu), 0, "a mutex, not owned");
	T_EQ(wapi_semaphore_create(NULL, 0, 10, &o.sem), 0, "a semaphore, 0 of 10");
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	T_OK(fd >= 0 && write(fd, tuse_content, len) == (ssize_t)len,
	    "a file with the known content");
	if (fd >= 0)
		close(fd);
	T_EQ(wapi_file_open(file, O_RDWR, 0, WAPI_ACCESS_READ | WAPI_ACCESS_WRITE,
	    WAPI_SHARE_READ | WAPI_SHARE_WRITE, &o.file), 0,
	    "a file handle (wapi_file_open)");
	T_EQ(wapi_pipe_create(&o.prd, &o.pwr), 0, "a pipe");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		exit(99);
	T_EQ(wapi_fd_import(sv[0], &o.sock), 0, "a socket (wapi_fd_import of "
	    "one end of a socketpair)");
	close(sv[0]);	/* the handle keeps its own duplicate */
	peer = sv[1];
	T_EQ(wapi_process_spawn(sh, NULL, NULL, NULL, &o.proc, &pid), 0,
	    "a process: sh -c 'exit 7' through the helper");
	T_EQ(wapi_wait(o.proc, 10000), WAPI_WAIT_OBJECT_0, "it exited");
	T_EQ(wapi_process_exit_code(o.proc, &code), 0, "its exit code");
	T_EQ(code, 7, "is 7");
}

/* What a use of every object left in the creator: the semaphore up by one,
 * a byte in the pipe and at the socket's peer, the file read to its end
 * through our shared offset, and every reference back where it was. */
static void
check_effects(const char *who, int32_t sem_before, const long refs_before[])
{
	struct wapi_handle_info info;
	long refs[NOBJ];
	int fd = -1, k, bad = 0;

	T_EQ(sem_count(o.sem), sem_before + 1, "the semaphore went up by 1");
	T_OK(wapi_fd_get(o.prd, &fd) == 0 && read_byte(fd) == 'p',
	    "the pipe's read end receives the byte %s wrote", who);
	T_EQ(read_byte(peer), 's', "the socket's other end receives the byte");
	T_OK(wapi_fd_get(o.file, &fd) == 0 &&
	    lseek(fd, 0, SEEK_CUR) == (off_t)strlen(tuse_content),
	    "the file's shared offset moved to the end (%s read there)", who);
	T_OK(wapi_handle_info(o.ev, &info) == 0 && info.signalled,
	    "the event is still set");
	T_OK(wapi_handle_info(o.mu, &info) == 0 && info.owner_pid == 0,
	    "the mutex is free again (released, not abandoned)");
	refs_all(refs);
	for (k = 0; k < NOBJ; k++)
		if (refs[k] != refs_before[k]) {
			printf("# %s: %ld references, %ld before\n",
			    all_names[k], refs[k], refs_before[k]);
			bad++;
		}
	T_EQ(bad, 0, "every object has the references it had: what the "
	    "user adopted it closed");
}

/* ---------------------------------------------------- a: an exec'd user */

static void
test_exec(void)
{
	static const char *const kinds[] = { "event", "mutex", "sem", "file",
	    "pipe", "socket", "process" };
	char *argv[NOBJ + 4], out[4096], want[32];
	long refs[NOBJ];
	int32_t sem = sem_count(o.sem);
	size_t k;
	int fd;

	printf("# a: wapi-tuse, exec'd, uses every number as it is\n");
	refs_all(refs);
	T_OK(wapi_fd_get(o.file, &fd) == 0 && lseek(fd, 5, SEEK_SET) == 5,
	    "the creator puts the file's offset at 5");
	tuse_args(argv, 5);
	T_EQ(run_tuse(argv, out, sizeof(out)), 0, "wapi-tuse exits 0: every "
	    "use, info and close passed without wapi_handle_ref");
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		snprintf(want, sizeof(want), "%s ok", kinds[k]);
		T_OK(has_line(out, want), "wapi-tuse says '%s'", want);
	}
	check_effects("wapi-tuse", sem, refs);
}

/* --------------------------------------------- b: a forked user, no exec */

static int
b_use(void *arg)
{
	char **argv = arg;
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	return tuse_run(argc, argv, "# child: ");
}

static void
test_fork_use(void)
{
	char *argv[NOBJ + 4];
	long refs[NOBJ];
	int32_t sem = sem_count(o.sem);
	int fd;

	printf("# b: the same uses from a forked child, in process\n");
	refs_all(refs);
	T_OK(wapi_fd_get(o.file, &fd) == 0 && lseek(fd, 9, SEEK_SET) == 9,
	    "the creator puts the file's offset at 9");
	tuse_args(argv, 9);
	T_EQ(t_wait(fork_clean(b_use, argv)), 0, "a forked child uses every "
	    "number without wapi_handle_ref, and closes each once");
	check_effects("the child", sem, refs);
}

/* ------------------------------------- every call adopts on first use */

enum first_call {
	FC_SET, FC_RESET, FC_PULSE, FC_WAIT, FC_WAITM, FC_MREL, FC_SREL,
	FC_FDGET, FC_EXIT, FC_TERM, FC_INFO, FC_N
};

static const char *const fc_names[FC_N] = {
	"wapi_event_set", "wapi_event_reset", "wapi_event_pulse", "wapi_wait",
	"wapi_wait_multiple", "wapi_mutex_release (not owned: "
	"WAPI_ENOT_OWNER)", "wapi_semaphore_release", "wapi_fd_get",
	"wapi_process_exit_code", "wapi_process_terminate (ended: no effect)",
	"wapi_handle_info",
};

struct fc { enum first_call call; wapi_handle_t h; };

/* The call as the first use of fc->h in this process: 0 when it gave what
 * it should. */
static int
fc_use(void *arg)
{
	struct fc *fc = arg;
	struct wapi_handle_info info;
	wapi_handle_t h = fc->h;
	int r = -1, want = 0, fd, code;

	switch (fc->call) {
	case FC_SET:
		r = wapi_event_set(h);
		break;
	case FC_RESET:
		r = wapi_event_reset(h);
		break;
	case FC_PULSE:
		r = wapi_event_pulse(h);
		break;
	case FC_WAIT:
		r = wapi_wait(h, 0);
		r = r == WAPI_WAIT_FAILED ? wapi_last_error() : 0;
		break;
	case FC_WAITM:
		r = wapi_wait_multiple(&h, 1, 0, 0);
		r = r == WAPI_WAIT_FAILED ? wapi_last_error() : 0;
		break;
	case FC_MREL:
		r = wapi_mutex_release(h);
		want = WAPI_ENOT_OWNER;
		break;
	case FC_SREL:
		r = wapi_semaphore_release(h, 1, NULL);
		break;
	case FC_FDGET:
		r = wapi_fd_get(h, &fd);
		break;
	case FC_EXIT:
		r = wapi_process_exit_code(h, &code);
		if (r == 0 && code != 7)
			r = -2;
		break;
	case FC_TERM:
		r = wapi_process_terminate(h, 99);
		break;
	case FC_INFO:
		r = wapi_handle_info(h, &info);
		break;
	case FC_N:
		break;
	}
	if (r == want)
		return 0;
	printf("# child: %s as first use: %s\n", fc_names[fc->call],
	    r == 0 ? "success" : r < 0 ? "wrong result" : wapi_strerror(r));
	return 1;
}

static int
fc_after(void *arg)
{
	struct fc *fc = arg;

	return close_once(fc->h, fc_names[fc->call]) == 0 ? 0 : 2;
}

static void
look_refs(void *arg)
{
	struct refs_pred *rp = arg;
	int k;

	for (k = 0; k < rp->n; k++)
		rp->want[k] = refs_of(rp->hs[k]);
}

static void
test_every_call(void)
{
	wapi_handle_t ev, mu, sem;
	struct fc fc;
	struct held held = { fc_use, fc_after, &fc };
	long before, during, after;
	struct refs_pred rp = { NULL, &during, 1 };
	int st, code = -1;

	printf("# every call that takes a handle adopts it on first use\n");
	if (wapi_event_create(NULL, 1, 0, &ev) != 0 ||
	    wapi_mutex_create(NULL, 0, &mu) != 0 ||
	    wapi_semaphore_create(NULL, 0, 10, &sem) != 0)
		exit(99);
	for (fc.call = 0; fc.call < FC_N; fc.call++) {
		switch (fc.call) {
		case FC_MREL:
			fc.h = mu;
			break;
		case FC_SREL:
			fc.h = sem;
			break;
		case FC_FDGET:
			fc.h = o.prd;
			break;
		case FC_EXIT:
		case FC_TERM:
			fc.h = o.proc;
			break;
		default:
			fc.h = ev;
			break;
		}
		rp.hs = &fc.h;
		before = refs_of(fc.h);
		during = -1;
		st = run_held(&held, look_refs, &rp);
		after = refs_of(fc.h);
		T_OK(st == 0 && during == before + 1 && after == before,
		    "%s as a child's first use takes one reference, which its "
		    "close drops (child %d; refs %ld, %ld while it held, %ld "
		    "after)", fc_names[fc.call], st, before, during, after);
	}
	if (wapi_process_exit_code(o.proc, &code) != 0)
		code = -1;
	T_EQ(code, 7, "terminate of the ended process left its code 7");
	wapi_handle_close(ev);
	wapi_handle_close(mu);
	wapi_handle_close(sem);
}

/* ---------------------------------------------- e: close never adopts */

static int
e_use(void *arg)
{
	int k, r, bad = 0;

	(void)arg;
	for (k = 0; k < NOBJ; k++) {
		r = wapi_handle_close(*all[k]);
		if (r != WAPI_EBADHANDLE) {
			printf("# child: wapi_handle_close of the %s it never "
			    "used: %s\n", all_names[k],
			    r == 0 ? "success" : wapi_strerror(r));
			bad++;
		}
	}
	return bad;
}

static void
test_close_never_adopts(void)
{
	struct held held = { e_use, NULL, NULL };
	long before[NOBJ], during[NOBJ], after[NOBJ];
	wapi_handle_t hs[NOBJ];
	struct refs_pred rp = { hs, during, NOBJ };
	int k, st, bad = 0;

	printf("# e: wapi_handle_close never adopts\n");
	for (k = 0; k < NOBJ; k++) {
		hs[k] = *all[k];
		during[k] = -1;
	}
	refs_all(before);
	st = run_held(&held, look_refs, &rp);
	refs_all(after);
	T_EQ(st, 0, "a child's wapi_handle_close of each number it never used "
	    "gives WAPI_EBADHANDLE");
	for (k = 0; k < NOBJ; k++)
		if (during[k] != before[k] || after[k] != before[k]) {
			printf("# %s: refs %ld before, %ld after the child's "
			    "close, %ld once it ended\n", all_names[k],
			    before[k], during[k], after[k]);
			bad++;
		}
	T_EQ(bad, 0, "and no object's references changed, while it lived or "
	    "after");
}

/* --------------------------------------- f: adoption is one reference */

struct one { wapi_handle_t ev; };

static int
f_use(void *arg)
{
	struct one *one = arg;
	struct wapi_handle_info info;
	int i, fd, r = 0, bad = 0;

	for (i = 0; i < 1000; i++) {
		switch (i % 5) {
		case 0:
			r = wapi_event_set(one->ev);
			break;
		case 1:
			r = wapi_wait(one->ev, 0) == WAPI_WAIT_OBJECT_0 ? 0 : -1;
			break;
		case 2:
			r = wapi_wait_multiple(&one->ev, 1, 0, 0) ==
			    WAPI_WAIT_OBJECT_0 ? 0 : -1;
			break;
		case 3:
			r = wapi_handle_info(one->ev, &info);
			break;
		case 4:
			r = wapi_event_reset(one->ev);
			break;
		}
		bad += r != 0;
		/* The file: wapi_fd_get and wapi_handle_info by turns. */
		r = i % 2 ? wapi_fd_get(o.file, &fd) :
		    wapi_handle_info(o.file, &info);
		bad += r != 0;
	}
	if (bad)
		printf("# child: %d of 2,000 uses failed\n", bad);
	return bad ? 1 : 0;
}

static int
f_after(void *arg)
{
	struct one *one = arg;

	return close_once(one->ev, "event") + close_once(o.file, "file") ?
	    2 : 0;
}

static void
test_one_reference(void)
{
	struct one one;
	struct held held = { f_use, f_after, &one };
	wapi_handle_t hs[2];
	long before[2], during[2] = { -1, -1 }, after[2];
	struct refs_pred rp = { hs, during, 2 };
	int st;

	printf("# f: a thousand uses hold one reference\n");
	if (wapi_event_create(NULL, 1, 0, &one.ev) != 0)
		exit(99);
	hs[0] = one.ev;
	hs[1] = o.file;
	before[0] = refs_of(hs[0]);
	before[1] = refs_of(hs[1]);
	st = run_held(&held, look_refs, &rp);
	after[0] = refs_of(hs[0]);
	after[1] = refs_of(hs[1]);
	T_EQ(st, 0, "a child uses an event 1,000 times (set, wait, "
	    "wait_multiple, info, reset) and a file 1,000 times (fd_get, "
	    "info), then each single close drops all it held");
	T_EQ(during[0], before[0] + 1, "the event: the creator's references + 1 "
	    "while the child holds it");
	T_EQ(during[1], before[1] + 1, "the file: the creator's references + 1");
	T_OK(after[0] == before[0] && after[1] == before[1],
	    "both back to the creator's count after (%ld, %ld)", after[0],
	    after[1]);
	wapi_handle_close(one.ev);
}

/* ------------------------------------------- first use under a race */

#define RACERS		4	/* processes */
#define RACE_THREADS	4	/* in each, the main thread one of them */

struct race {
	wapi_handle_t h;
	bool fd;			/* first use wapi_fd_get, else waits */
	struct t_gate go, ready, end;
	pthread_barrier_t bar;
	int bad;
};

static void *
race_thread(void *arg)
{
	struct race *rc = arg;
	struct wapi_handle_info info;
	int i, fd, r, bad = 0;

	pthread_barrier_wait(&rc->bar);
	for (i = 0; i < 250; i++) {
		if (rc->fd)
			r = i % 2 ? wapi_handle_info(rc->h, &info) :
			    wapi_fd_get(rc->h, &fd);
		else
			r = i % 2 ? wapi_handle_info(rc->h, &info) :
			    wapi_wait(rc->h, 0) == WAPI_WAIT_FAILED ? -1 : 0;
		bad += r != 0;
	}
	__atomic_add_fetch(&rc->bad, bad, __ATOMIC_RELAXED);
	return NULL;
}

static int
race_child(void *arg)
{
	struct race *rc = arg;
	pthread_t th[RACE_THREADS - 1];
	int k, r;

	rc->bad = 0;
	pthread_barrier_init(&rc->bar, NULL, RACE_THREADS);
	for (k = 0; k < RACE_THREADS - 1; k++)
		if (pthread_create(&th[k], NULL, race_thread, rc) != 0)
			return 99;
	t_gate_pass(&rc->go);		/* every racer starts now */
	race_thread(rc);
	for (k = 0; k < RACE_THREADS - 1; k++)
		pthread_join(th[k], NULL);
	if (rc->bad)
		printf("# racer %d: %d uses failed\n", (int)getpid(), rc->bad);
	t_gate_open(&rc->ready, rc->bad ? 'n' : 'y');
	t_gate_pass(&rc->end);
	r = close_once(rc->h, rc->fd ? "file" : "event");
	return rc->bad ? 1 : r ? 2 : 0;
}

static void
race_one(wapi_handle_t h, bool fd, const char *what)
{
	struct race rc = { .h = h, .fd = fd };
	pid_t pid[RACERS];
	long before = refs_of(h), during, after;
	int k, ok = 0, bad = 0;
	char all_go[RACERS];

	t_gate_init(&rc.go);
	t_gate_init(&rc.ready);
	t_gate_init(&rc.end);
	for (k = 0; k < RACERS; k++)
		pid[k] = fork_clean(race_child, &rc);
	memset(all_go, 'g', sizeof(all_go));
	if (write(rc.go.fd[1], all_go, RACERS) != RACERS)
		exit(99);
	for (k = 0; k < RACERS; k++)
		ok += t_gate_pass(&rc.ready) == 'y';
	during = refs_of(h);
	if (write(rc.end.fd[1], all_go, RACERS) != RACERS)
		exit(99);
	for (k = 0; k < RACERS; k++)
		bad += t_wait(pid[k]) != 0;
	after = refs_of(h);
	T_OK(ok == RACERS, "4 racers x 4 threads: every first use of the %s "
	    "passed (%d of 4 racers)", what, ok);
	T_EQ(during, before + RACERS, "while they wait, the creator's "
	    "references + 4: exactly one each");
	T_OK(bad == 0 && after == before, "each one close drops all it held "
	    "(%d racers failed; refs %ld after, %ld before)", bad, after,
	    before);
	for (k = 0; k < 2; k++) {
		close(rc.go.fd[k]);
		close(rc.ready.fd[k]);
		close(rc.end.fd[k]);
	}
}

static void
test_race(void)
{
	wapi_handle_t ev;

	printf("# first use under a race: 4 processes at once\n");
	if (wapi_event_create(NULL, 1, 0, &ev) != 0)
		exit(99);
	race_one(ev, false, "event");
	race_one(o.file, true, "file (wapi_fd_get)");
	wapi_handle_close(ev);
}

/* ------------------------------------------- c: fork and the parent's */

struct cfork { wapi_handle_t owned; };

static int
c_use(void *arg)
{
	struct cfork *c = arg;
	int64_t t0;
	int r, fd;

	r = wapi_mutex_release(c->owned);
	if (r != WAPI_ENOT_OWNER) {
		printf("# child: wapi_mutex_release of the parent's mutex: %s\n",
		    r == 0 ? "success" : wapi_strerror(r));
		return 1;
	}
	t0 = now_ms();
	r = wapi_wait(c->owned, 50);
	if (r != WAPI_WAIT_TIMEOUT) {
		printf("# child: wapi_wait(50 ms) of the parent's mutex: %#x "
		    "(%s)\n", (unsigned)r, wapi_strerror(wapi_last_error()));
		return 2;
	}
	if (now_ms() - t0 < 40) {
		printf("# child: the 50 ms wait returned after %lld ms\n",
		    (long long)(now_ms() - t0));
		return 3;
	}
	if ((r = wapi_event_set(o.ev)) != 0 || (r = wapi_fd_get(o.file, &fd)) != 0) {
		printf("# child: a use of the parent's event or file: %s\n",
		    wapi_strerror(r));
		return 4;
	}
	return 0;	/* and exits holding all three, closing none */
}

static void
test_fork_mutex(void)
{
	struct wapi_handle_info info;
	struct cfork c;
	struct held held = { c_use, NULL, &c };
	wapi_handle_t hs[3];
	long before[3], during[3] = { -1, -1, -1 }, after[3];
	struct refs_pred rp = { hs, during, 3 }, back = { hs, before, 3 };
	pid_t owner = -1;
	int st, k;

	printf("# c: a forked child owns none of the parent's mutexes and "
	    "holds none of its references\n");
	T_EQ(wapi_mutex_create(NULL, 1, &c.owned), 0, "the parent creates a "
	    "mutex it owns");
	hs[0] = c.owned;
	hs[1] = o.ev;
	hs[2] = o.file;
	for (k = 0; k < 3; k++)
		before[k] = refs_of(hs[k]);
	st = run_held(&held, look_refs, &rp);
	T_EQ(st, 0, "the child: wapi_mutex_release gives WAPI_ENOT_OWNER, "
	    "wapi_wait(50 ms) times out, and it uses the event and the file");
	T_OK(during[0] == before[0] + 1 && during[1] == before[1] + 1 &&
	    during[2] == before[2] + 1, "while it lived each had one "
	    "reference more: the child's own (%ld/%ld, %ld/%ld, %ld/%ld)",
	    during[0], before[0], during[1], before[1], during[2], before[2]);
	T_OK(t_until(refs_back, &back, WAIT_MS), "the child exited without "
	    "closing: once the helper dropped its references, each is back "
	    "to the parent's count");
	t_msleep(100);
	for (k = 0; k < 3; k++)
		after[k] = refs_of(hs[k]);
	T_OK(after[0] == before[0] && after[1] == before[1] &&
	    after[2] == before[2], "and stays there: none of the parent's "
	    "went with the child (%ld, %ld, %ld)", after[0], after[1], after[2]);
	if (wapi_handle_info(c.owned, &info) == 0)
		owner = info.owner_pid;
	T_EQ(owner, getpid(), "the parent still owns its mutex");
	T_OK(info.recursion == 1, "once (recursion %u)", info.recursion);
	T_EQ(wapi_mutex_release(c.owned), 0, "the parent releases it");
	T_EQ(wapi_wait(c.owned, 0), WAPI_WAIT_OBJECT_0, "and takes it again: "
	    "not abandoned by the child's end");
	T_EQ(wapi_mutex_release(c.owned), 0, "release");
	T_EQ(wapi_event_reset(o.ev), 0, "the parent's event still works");
	T_EQ(wapi_event_set(o.ev), 0, "set again");
	T_EQ(wapi_handle_close(c.owned), 0, "close the mutex");
}

/* -------------------------------------------- d: a number that is gone */

/* Every call on a gone number: WAPI_EBADHANDLE; the number of others. */
static int
gone_calls(wapi_handle_t h, const char *who)
{
	struct wapi_handle_info info;
	const char *names[] = { "wapi_event_set", "wapi_event_reset",
	    "wapi_event_pulse", "wapi_wait", "wapi_wait_multiple",
	    "wapi_mutex_release", "wapi_semaphore_release", "wapi_fd_get",
	    "wapi_process_exit_code", "wapi_process_terminate",
	    "wapi_handle_info", "wapi_handle_ref", "wapi_handle_close" };
	int r[13], k, fd, code, bad = 0;

	r[0] = wapi_event_set(h);
	r[1] = wapi_event_reset(h);
	r[2] = wapi_event_pulse(h);
	r[3] = wapi_wait(h, 0) == WAPI_WAIT_FAILED ? wapi_last_error() : 0;
	r[4] = wapi_wait_multiple(&h, 1, 0, 0) == WAPI_WAIT_FAILED ?
	    wapi_last_error() : 0;
	r[5] = wapi_mutex_release(h);
	r[6] = wapi_semaphore_release(h, 1, NULL);
	r[7] = wapi_fd_get(h, &fd);
	r[8] = wapi_process_exit_code(h, &code);
	r[9] = wapi_process_terminate(h, 1);
	r[10] = wapi_handle_info(h, &info);
	r[11] = wapi_handle_ref(h);
	r[12] = wapi_handle_close(h);
	for (k = 0; k < 13; k++)
		if (r[k] != WAPI_EBADHANDLE) {
			printf("# %s: %s of the gone number: %s\n", who,
			    names[k], r[k] == 0 ? "success" : wapi_strerror(r[k]));
			bad++;
		}
	return bad;
}

static int
d_child(void *arg)
{
	return gone_calls(*(wapi_handle_t *)arg, "child");
}

static void
test_gone(void)
{
	struct wapi_handle_info info;
	wapi_handle_t old, nw = 0, *extra;
	char *argv[3], arg[48], out[2048], want[300];
	int i, n = 0, st, found = 0;
	const int limit = 70000;

	printf("# d: the creator closes an event before anyone used it\n");
	T_EQ(wapi_event_create(NULL, 1, 0, &old), 0, "an event");
	T_EQ(refs_of(old), 1, "one reference: the creator's");
	T_EQ(wapi_handle_close(old), 0, "the creator closes it: the object is "
	    "gone");
	T_EQ(wapi_event_set(old), WAPI_EBADHANDLE, "the creator's own use of "
	    "the number: WAPI_EBADHANDLE (no adoption of a gone object)");
	T_EQ(t_wait(fork_clean(d_child, &old)), 0, "in another process, every "
	    "call on the number gives WAPI_EBADHANDLE");

	/* A new event in the same slot: a different generation. */
	extra = calloc((size_t)limit, sizeof(*extra));
	if (extra == NULL)
		exit(99);
	for (i = 0; i < limit; i++) {
		if (wapi_event_create(NULL, 1, 0, &nw) != 0)
			break;
		if ((nw & WAPI_HANDLE_INDEX_MASK) == (old & WAPI_HANDLE_INDEX_MASK)) {
			found = 1;
			break;
		}
		extra[n++] = nw;
	}
	T_OK(found, "a new event took the old one's slot after %d creates "
	    "(old %#x, new %#x)", i + 1, old, nw);
	T_OK(nw != old, "its number differs (the generation)");
	T_EQ(wapi_event_set(old), WAPI_EBADHANDLE, "the creator: the old "
	    "number gives WAPI_EBADHANDLE, not the new event");
	T_EQ(t_wait(fork_clean(d_child, &old)), 0, "in another process too, every "
	    "call on the old number gives WAPI_EBADHANDLE, not another type's "
	    "error of the new object");
	snprintf(arg, sizeof(arg), "event=%u", old);
	argv[0] = tuse;
	argv[1] = arg;
	argv[2] = NULL;
	st = run_tuse(argv, out, sizeof(out));
	snprintf(want, sizeof(want), "event FAIL %s",
	    wapi_strerror(WAPI_EBADHANDLE));
	T_EQ(st, 1, "wapi-tuse with the old number fails");
	T_OK(strstr(out, want) != NULL, "saying '%s'", want);
	T_OK(wapi_handle_info(nw, &info) == 0 && !info.signalled,
	    "the new event was never signalled through the old number");
	T_EQ(wapi_wait(nw, 0), WAPI_WAIT_TIMEOUT, "a wait on it times out");
	T_EQ(refs_of(nw), 1, "and nobody adopted it: one reference, ours");
	wapi_handle_close(nw);
	for (i = 0; i < n; i++)
		wapi_handle_close(extra[i]);
	free(extra);
}

/* ------------------------------------------------------------- main */

int
main(void)
{
	int k, bad = 0;

	t_setup("adopt");
	if (find_tuse() != 0) {
		printf("Bail out! wapi-tuse not found (%s); set WAPI_TUSE\n",
		    tuse);
		t_cleanup();
		return 99;
	}
	snprintf(file, sizeof(file), "%s/known", t_dir);
	T_EQ(wapi_init(0), 0, "init");
	if (!wapi_is_shared()) {
		T_OK(0, "shared mode (the library fell back to private handles)");
		return t_done();
	}
	make_objects();
	test_exec();
	test_fork_use();
	test_every_call();
	test_close_never_adopts();
	test_one_reference();
	test_race();
	test_fork_mutex();
	test_gone();
	for (k = 0; k < NOBJ; k++)
		bad += wapi_handle_close(*all[k]) != 0;
	T_EQ(bad, 0, "the creator closes its 8 objects");
	close(peer);
	wapi_shutdown();
	return t_done();
}
