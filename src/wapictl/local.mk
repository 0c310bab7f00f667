# wapictl: one file per command, collected in wapictl.c's cmd_table[].
bin_PROGRAMS += src/wapictl/wapictl
src_wapictl_wapictl_SOURCES = \
	src/wapictl/wapictl.h src/wapictl/wapictl.c
src_wapictl_wapictl_CFLAGS = $(AM_CFLAGS) $(SMARTCOLS_CFLAGS)
src_wapictl_wapictl_LDADD = src/core/libwapicore.la $(SMARTCOLS_LIBS) $(BSD_LIBS)
