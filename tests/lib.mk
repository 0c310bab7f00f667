# C tests of libwapi: real processes, real kills.
check_PROGRAMS += tests/lib/wapi-tclient
tests_lib_wapi_tclient_SOURCES = tests/lib/wapi-tclient.c
tests_lib_wapi_tclient_LDADD = src/lib/libwapi.la $(BSD_LIBS)
