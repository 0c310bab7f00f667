# wapi-helper: started by the first client; see wapi-helper(8).
libexec_PROGRAMS += src/helper/wapi-helper
src_helper_wapi_helper_SOURCES = src/helper/helper.h src/helper/helper.c \
	src/helper/deposit.c src/helper/spawn.c \
	src/helper/sitter.c
src_helper_wapi_helper_LDADD = src/core/libwapicore.la $(BSD_LIBS)
