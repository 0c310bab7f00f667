# The systemd user units of wapictl(1): a service that runs `wapictl -q
# clean` and a timer that starts it at login and hourly, installed in
# $(systemduserunitdir) unless configure was given
# --without-systemduserunitdir.  The service's ExecStart names the installed
# wapictl: make, not configure, fills @bindir@ in, and does it on every run
# (the file changes only when the path does), so that
# `make install prefix=DIR` installs a unit naming DIR/bin/wapictl.
EXTRA_DIST += contrib/wapi-clean.service.in contrib/wapi-clean.timer
if SYSTEMD_USER_UNITS
systemduserunit_DATA = contrib/wapi-clean.service contrib/wapi-clean.timer
endif
contrib/wapi-clean.service: $(srcdir)/contrib/wapi-clean.service.in FORCE
	$(AM_V_at)$(MKDIR_P) contrib && \
	sed -e 's|@bindir[@]|$(bindir)|g' \
	    $(srcdir)/contrib/wapi-clean.service.in >$@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
CLEANFILES += contrib/wapi-clean.service contrib/wapi-clean.service.tmp
FORCE:
.PHONY: FORCE
