#!/usr/bin/env bash
# Run the pg_regress suite against a postmaster running under valgrind
# memcheck and report every error whose stack passes through apex_router,
# and every failed assertion.  Slow (a few minutes); not part of
# test/run-tests.  Regression diffs caused by valgrind's slowness are
# expected and ignored here.
#
# usage: test/valgrind.sh [--debian]
#   default   PostgreSQL 15 built from Debian's source with assertions and
#             USE_VALGRIND (test/bin/pg-cassert; built on first use): palloc
#             tells memcheck which chunks are freed, so reading freed palloc
#             memory is an "Invalid read", and assertions are checked.
#   --debian  Debian's PostgreSQL: memcheck sees malloc-level errors only
#             (palloc reuses freed chunks inside its blocks unseen).
#
# It runs in a directory of its own, $APEX_HOME/valgrind (test/lib.sh), on a
# free block of ports ("Ports"), from the private installation the
# extension is installed into, so it runs beside test/run-tests, the demo
# and other checkouts.
set -u
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT"
APEX_RUN_DIR=$APEX_HOME/valgrind
VG_LOGS=$APEX_RUN_DIR/valgrind

apex_install_deps || exit 1
apex_apt_install valgrind || exit 1
case ${1:-} in
  --debian)
    pgc=$APEX_DEBIAN_PG_BINDIR/pg_config tree=$APEX_ROOT supp=
    apex_build_install || exit 1 ;;
  '')
    apex_cassert_build || exit 1
    pgc=$APEX_CASSERT_PREFIX/bin/pg_config tree=$APEX_ROOT/.build-cassert
    # PostgreSQL's own suppressions (src/tools/valgrind.supp, kept by the build)
    supp=$APEX_CASSERT_PREFIX/valgrind.supp
    apex_build_install_copy "$tree" "$pgc" || exit 1 ;;
  *) echo "usage: $0 [--debian]" >&2; exit 2 ;;
esac
# the private installation the extension went into
bindir=$(apex_inst_bindir "$pgc")
APEX_PG_BINDIR=$bindir

cleanup() {
  apex_servers_stop
  apex_redis stop
  apex_remote_pg stop
  apex_as_pg "$bindir/pg_ctl" -D "$APEX_RUN_DIR/pgdata" -m fast stop >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
rm -rf "$APEX_RUN_DIR"
apex_ports_claim || exit 1
apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
mkdir -p "$VG_LOGS" && chmod 777 "$VG_LOGS" && chmod 755 "$APEX_RUN_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$APEX_RUN_DIR"
apex_as_pg "$bindir/initdb" -D "$APEX_RUN_DIR/pgdata" -U postgres -A trust >/dev/null || exit 1
apex_log "pg_regress under valgrind against $("$bindir/postgres" --version)"
# full source paths, so that our frames are told from PostgreSQL's by path
apex_as_pg_server valgrind --quiet --trace-children=yes --leak-check=no --error-limit=no \
  --fullpath-after= --error-markers=VGERROR-BEGIN,VGERROR-END \
  ${supp:+--suppressions="$supp"} --log-file="$VG_LOGS/%p.log" \
  "$bindir/postgres" -D "$APEX_RUN_DIR/pgdata" -p "$APEX_PGPORT" \
  -k "$APEX_RUN_DIR" -c listen_addresses='' -c shared_preload_libraries=apex_router \
  >"$APEX_RUN_DIR/postgresql.log" 2>&1 &
export PGHOST=$APEX_RUN_DIR PGPORT=$APEX_PGPORT PGUSER=postgres
for _ in $(seq 1 120); do "$bindir/pg_isready" -q && break; sleep 1; done
apex_servers_start || exit 1
apex_remote_pg start || exit 1
apex_redis start || exit 1
apex_ports_started
apex_bed_env

# descriptors opens 800 connections: over ten minutes under valgrind.
# APEX_VG_SKIP names the areas left out (set it empty to run them all).
skip=" ${APEX_VG_SKIP-descriptors} "
regress=$(for f in "$tree"/test/sql/*.sql; do f=$(basename "$f" .sql)
  case $skip in *" $f "*) ;; *) printf '%s ' "$f" ;; esac; done)
[ -n "${skip// /}" ] && apex_log "left out:${skip% }"
make -s -C "$tree" installcheck REGRESS="$regress" PG_CONFIG="$pgc" | grep -E '^(test|ok|not ok)'
status=0
# errors with a frame in our sources (or in our library, without debug information)
awk -v src="$tree/src/" '
  /VGERROR-BEGIN/ { block = ""; ours = 0; next }
  /VGERROR-END/ { if (ours) { n++; if (n <= 3) printf "%s", block } next }
  { block = block $0 "\n"; if (index($0, src) || index($0, "apex_router.so")) ours = 1 }
  END { print n + 0 >"/dev/stderr" }' "$VG_LOGS"/*.log 2>"$APEX_RUN_DIR/errors.count"
errors=$(cat "$APEX_RUN_DIR/errors.count")
if [ "$errors" -gt 0 ]; then
  echo "valgrind: $errors errors in apex_router (the first 3 above; logs in $VG_LOGS)"
  status=1
fi
if grep -q '^TRAP:' "$APEX_RUN_DIR/postgresql.log"; then
  grep '^TRAP:' "$APEX_RUN_DIR/postgresql.log" | head -20
  echo "valgrind: failed assertions (log: $APEX_RUN_DIR/postgresql.log)"
  status=1
fi
[ "$status" -eq 0 ] &&
  echo "valgrind: no errors in apex_router ($(ls "$VG_LOGS" | wc -l) processes checked)"
exit "$status"
