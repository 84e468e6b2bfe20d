# apex_router: PGXS build
EXTENSION = apex_router
EXTVERSION = 0.2.0
MODULE_big = apex_router
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
# every version's install script and the upgrade scripts between them
DATA = $(wildcard apex_router--*.sql)
PGFILEDESC = "apex_router - federated search router"

PG_CONFIG ?= pg_config
SHLIB_LINK += $(shell curl-config --libs) -lhiredis
SHLIB_LINK_INTERNAL = $(libpq)
# -Wextra on top of PostgreSQL's warnings; the suite's builds add -Werror
# (COPT, test/lib.sh), so CI fails on any warning.  PostgreSQL's own headers
# are system headers: -Wextra then reports only our code.
PG_CFLAGS += -Wextra
# the version a request names (identity.c), from the one place it is written
PG_CPPFLAGS += -DAPEX_VERSION='"$(EXTVERSION)"'
PG_CPPFLAGS += $(shell curl-config --cflags) -isystem $(shell $(PG_CONFIG) --includedir-server) \
	-I$(shell $(PG_CONFIG) --includedir)

# Regression tests, one file per area in test/sql (expected output in
# test/expected), each able to run alone: make installcheck REGRESS=cache.
# They need the test servers and the APEX_* variables naming them (test/bed
# start, then eval "$(test/bed env)"; test/run-tests sets them itself), and
# run against whichever cluster PGHOST/PGPORT name; see README.md, "Tests".
REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test

# no LLVM bitcode: needs clang, and JIT-inlining a network client buys nothing
override with_llvm = no
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: a changed struct must rebuild every user
$(OBJS): $(wildcard src/*.h)

# without the test servers' variables every area fails on its first line:
# say what to do instead
installcheck: apex-test-env
.PHONY: apex-test-env
apex-test-env:
	@if [ -z "$${APEX_PORT_BLOCK:-}" ]; then \
	  echo 'make installcheck needs the test servers: test/bed start, then eval "$$(test/bed env)" (README.md, "Tests")' >&2; \
	  exit 1; \
	fi
