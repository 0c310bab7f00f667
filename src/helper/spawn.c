/* Process handles in the helper (being written: issue 6). */
#include <unistd.h>
#include <errno.h>

#include "helper.h"

void spawn_init(void) { }
int spawn_pollfds(struct pollfd *p, int max) { (void)p; (void)max; return 0; }
void spawn_ready(const struct pollfd *p, int n) { (void)p; (void)n; }
void spawn_fini(void) { }

void
spawn_message(struct helper_conn *c, const struct wcore_msg *m,
	      const void *payload, size_t len, int *fds, int nfds)
{
	(void)m; (void)payload; (void)len;
	while (nfds > 0)
		close(fds[--nfds]);
	helper_reply(c->fd, EOPNOTSUPP, 0, NULL, 0);
}
