# Manual pages (mdoc); `make lint-man` runs mandoc -Tlint on them.
dist_man_MANS += man/wapictl.1 man/libwapi.3 man/wapi-state.5 man/wapi-helper.8

MANDOC = mandoc
# -Wstyle reports style problems as well as errors: the pages must be silent.
lint-man:
	$(AM_V_at)status=0; \
	for f in $(dist_man_MANS); do \
	  $(MANDOC) -Tlint -Wstyle $(srcdir)/$$f || status=1; \
	done; exit $$status
.PHONY: lint-man
