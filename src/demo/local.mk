# wapi-demo: the main job of the quick start (see README.md).
bin_PROGRAMS += src/demo/wapi-demo
src_demo_wapi_demo_SOURCES = src/demo/wapi-demo.c
src_demo_wapi_demo_LDADD = src/lib/libwapi.la $(BSD_LIBS)
