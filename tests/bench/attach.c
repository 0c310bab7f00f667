/*
 * bench-attach -- attach to this host's shared state and detach: what a
 * short-lived program using libwapi pays on top of its exec.  Exit status 0
 * when it was attached to shared state, 1 when it fell back to private
 * handles (the measurement would then be meaningless).
 */
#include "wapi.h"

int
main(void)
{
	int shared;

	if (wapi_init(0) != 0)
		return 1;
	shared = wapi_is_shared();
	wapi_shutdown();
	return shared ? 0 : 1;
}
