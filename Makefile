# apex_router: PGXS build
EXTENSION = apex_router
EXTVERSION = 0.1.0
MODULE_big = apex_router
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA = apex_router--$(EXTVERSION).sql
PGFILEDESC = "apex_router - federated search router"

PG_CONFIG ?= pg_config
SHLIB_LINK += $(shell curl-config --libs) -lhiredis
SHLIB_LINK_INTERNAL = $(libpq)
# -Wextra on top of PostgreSQL's warnings; the suite's builds add -Werror
# (COPT, test/lib.sh), so CI fails on any warning.  PostgreSQL's own headers
# are system headers: -Wextra then reports only our code.
PG_CFLAGS += -Wextra
PG_CPPFLAGS += $(shell curl-config --cflags) -isystem $(shell $(PG_CONFIG) --includedir-server) \
	-I$(shell $(PG_CONFIG) --includedir)

# Regression tests need the test servers (test/run-tests starts them and sets
# APEX_* variables); see README.md, "Running the tests".
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))

# no LLVM bitcode: needs clang, and JIT-inlining a network client buys nothing
override with_llvm = no
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: a changed struct must rebuild every user
$(OBJS): $(wildcard src/*.h)
