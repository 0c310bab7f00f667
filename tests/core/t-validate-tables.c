/*
 * Cross-check: what the core's table code (src/core/tables.c) writes must
 * validate clean.  A long random sequence of creates, opens by name,
 * closes, client attaches and releases runs on a small file (so that the
 * hash tables collide and wrap and backward-shift deletion is exercised),
 * and wcore_validate runs after every step.  The first step that leaves a
 * problem fails the test and is printed.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tfmt.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static const unsigned types[] = { WAPI_T_EVENT, WAPI_T_MUTEX,
    WAPI_T_SEMAPHORE, WAPI_T_PROCESS };

int
main(void)
{
	struct wcore_layout l;
	struct wcore_report r;
	struct wapi_header *h;
	struct wapi_client_entry *c;
	char path[512], name[32], what[128];
	const char *tmp = getenv("TMPDIR");
	uint32_t idx, s, cap, step, steps = 20000, ncl;
	int64_t found;
	size_t len, n;
	void *map;
	bool freed, bad = false;
	unsigned t;
	int e;

	snprintf(path, sizeof(path), "%s/t-validate-tables.%ld.state",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid());
	if (wcore_layout(64, 4, 16, 16, &l) != 0 ||
	    tf_create(path, &l, "t-validate.host", &map, &len) != 0) {
		unlink(path);
		printf("not ok 1 - create the file\n1..1\n");
		return 1;
	}
	unlink(path);
	h = map;
	c = WCORE_CLIENTS(map);
	ncl = h->regions[WAPI_R_CLIENTS].capacity;
	memset(&r, 0, sizeof(r));
	r.limit = 5;

	for (step = 0; step < steps && !bad; step++) {
		s = rnd(ncl);
		what[0] = '\0';
		if (c[s].state != WAPI_CS_ATTACHED) {
			c[s].state = WAPI_CS_ATTACHED;
			c[s].pid = 1000 + (int32_t)s;
			h->clients_used++;
			snprintf(what, sizeof(what), "attach client %u", s);
		} else switch (rnd(10)) {
		case 0:
		case 1:
		case 2:	/* create (or open) a named object */
			snprintf(name, sizeof(name), "obj-%u", rnd(40));
			found = wcore_name_find(map, name, strlen(name),
			    wcore_name_hash(name, strlen(name)));
			if (found >= 0) {
				e = wcore_cref_add(map, s, (uint32_t)found);
				snprintf(what, sizeof(what), "client %u opens "
				    "%s (slot %lld): %d", s, name,
				    (long long)found, e);
				break;
			}
			t = types[rnd(3)];
			if (wcore_handle_alloc(map, t, &idx) != 0) {
				snprintf(what, sizeof(what), "table full");
				break;
			}
			if (t == WAPI_T_SEMAPHORE)
				WCORE_HANDLES(map)[idx].u.sem.max = 3;
			e = wcore_name_insert(map, idx, name, strlen(name),
			    wcore_name_hash(name, strlen(name)));
			if (e == 0)
				e = wcore_cref_add(map, s, idx);
			/* A full block is the caller's to undo. */
			if (e != 0)
				wcore_handle_free(map, idx);
			snprintf(what, sizeof(what), "client %u creates %s "
			    "in slot %u: %d", s, name, idx, e);
			break;
		case 3:
		case 4:	/* an unnamed object */
			t = types[rnd(4)];
			if (wcore_handle_alloc(map, t, &idx) != 0) {
				snprintf(what, sizeof(what), "table full");
				break;
			}
			if (t == WAPI_T_SEMAPHORE)
				WCORE_HANDLES(map)[idx].u.sem.max = 1;
			if ((e = wcore_cref_add(map, s, idx)) != 0)
				wcore_handle_free(map, idx);
			snprintf(what, sizeof(what), "client %u creates "
			    "unnamed slot %u: %d", s, idx, e);
			break;
		case 5:	/* adopt some live handle */
			if (h->handle_hwm == 0)
				break;
			idx = rnd(h->handle_hwm);
			if (WCORE_HANDLES(map)[idx].type == WAPI_T_FREE)
				break;
			e = wcore_cref_add(map, s, idx);
			snprintf(what, sizeof(what), "client %u refs slot %u: "
			    "%d", s, idx, e);
			break;
		case 6:
		case 7:
		case 8:	/* close something the client holds */
			cap = h->refs_per_client;
			idx = rnd(cap);
			{
				struct wapi_cref_entry *b = WCORE_CREFS(map) +
				    (size_t)s * cap;
				uint32_t k;

				for (k = 0; k < cap; k++) {
					if (b[(idx + k) % cap].handle != 0)
						break;
				}
				if (k == cap)
					break;
				idx = b[(idx + k) % cap].handle - 1;
			}
			e = wcore_cref_sub(map, s, idx, &freed);
			snprintf(what, sizeof(what), "client %u closes slot %u: "
			    "%d%s", s, idx, e, freed ? " (freed)" : "");
			break;
		case 9:	/* the client dies */
			n = wcore_client_release(map, s, NULL);
			snprintf(what, sizeof(what), "client %u released (%zu "
			    "refs)", s, n);
			break;
		}
		if (wcore_validate(map, len, &r) != 0) {
			printf("not ok 1 - step %u: %s\n", step, what);
			tf_dump(&r, 5);
			bad = true;
		}
		wcore_report_free(&r);
	}
	if (!bad)
		printf("ok 1 - %u steps of the table code validate clean "
		    "(hwm %u, %u live, %u named)\n", steps, h->handle_hwm,
		    h->handles_used, h->names_used);
	munmap(map, len);
	printf("1..1\n");
	return bad ? 1 : 0;
}
