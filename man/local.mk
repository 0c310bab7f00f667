# Manual pages (mdoc); `make lint-man` runs mandoc -Tlint -Wstyle on them.
dist_man_MANS += man/wapictl.1 man/libwapi.3 man/wapi-state.5 man/wapi-helper.8

MANDOC = mandoc
# The pages refer to each other: a scratch man tree lets mandoc find them
# before they are installed.  mandoc's notes about a stale mandoc.db of the
# system are not about our pages and are dropped.
lint-man:
	$(AM_V_at)rm -rf man/.lint; \
	for f in $(dist_man_MANS); do \
	  s=$${f##*.}; $(MKDIR_P) man/.lint/man$$s && \
	  ln -s "$(abs_srcdir)/$$f" man/.lint/man$$s/ || exit 1; \
	done; \
	mp="$(abs_builddir)/man/.lint:`manpath 2>/dev/null || echo /usr/share/man`"; \
	status=0; \
	for f in $(dist_man_MANS); do \
	  out=`MANPATH="$$mp" $(MANDOC) -Tlint -Wstyle "$(srcdir)/$$f" 2>&1 | \
	    grep -v 'outdated mandoc.db'`; \
	  if test -n "$$out"; then echo "$$out"; status=1; fi; \
	done; \
	rm -rf man/.lint; \
	if test $$status = 0; then echo "lint-man: $(dist_man_MANS): clean"; fi; \
	exit $$status
.PHONY: lint-man
