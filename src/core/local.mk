# The core: one copy of the format knowledge, linked into lib, helper, wapictl.
noinst_LTLIBRARIES += src/core/libwapicore.la
src_core_libwapicore_la_SOURCES = \
	src/core/core.h src/core/format.h \
	src/core/names.c src/core/mono.c src/core/dir.c src/core/live.c \
	src/core/format.c src/core/segment.c src/core/validate.c \
	src/core/pool.c \
	src/core/proto.c src/core/tablelock.c src/core/tables.c \
	src/core/hash.h \
	src/core/spawnmsg.c src/core/spawnmsg.h src/core/proc.h
src_core_libwapicore_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
