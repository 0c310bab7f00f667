# wapictl: one file per command, collected in wapictl.c's cmd_table[].
bin_PROGRAMS += src/wapictl/wapictl
src_wapictl_wapictl_SOURCES = \
	src/wapictl/wapictl.h src/wapictl/wapictl.c \
	src/wapictl/target.c src/wapictl/output.c \
	src/wapictl/audit.c \
	src/wapictl/legacy.h src/wapictl/legacy.c \
	src/wapictl/plan.c \
	src/wapictl/cmd-status.c src/wapictl/cmd-handles.c \
	src/wapictl/cmd-waits.c \
	src/wapictl/cmd-validate.c src/wapictl/cmd-lock.c \
	src/wapictl/cmd-clean.c src/wapictl/cmd-stop.c \
	src/wapictl/cmd-help.c
src_wapictl_wapictl_CFLAGS = $(AM_CFLAGS) $(SMARTCOLS_CFLAGS)
src_wapictl_wapictl_LDADD = src/core/libwapicore.la $(SMARTCOLS_LIBS) $(BSD_LIBS)
