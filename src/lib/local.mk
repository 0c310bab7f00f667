# libwapi: only wapi_* is exported (libwapi.sym).
lib_LTLIBRARIES += src/lib/libwapi.la
include_HEADERS += src/wapi.h
pkgconfig_DATA += src/lib/libwapi.pc
src_lib_libwapi_la_SOURCES = \
	src/lib/wapi-int.h \
	src/lib/error.c src/lib/attach.c src/lib/helper-client.c \
	src/lib/handles.c src/lib/sync.c src/lib/fd.c src/lib/process.c
src_lib_libwapi_la_LIBADD = src/core/libwapicore.la $(BSD_LIBS)
src_lib_libwapi_la_LDFLAGS = -version-info 0:0:0 -pthread \
	-Wl,--version-script=$(top_srcdir)/src/lib/libwapi.sym
EXTRA_src_lib_libwapi_la_DEPENDENCIES = $(top_srcdir)/src/lib/libwapi.sym
EXTRA_DIST += src/lib/libwapi.sym src/lib/libwapi.pc.in
