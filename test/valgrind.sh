#!/usr/bin/env bash
# Run the pg_regress suite against a postmaster running under valgrind
# memcheck and report every error whose stack passes through apex_router.
# Slow (several minutes); not part of test/run-tests.  Regression diffs
# caused by valgrind's slowness are expected and ignored here.
set -u
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT"
APEX_RUN_DIR=/tmp/apex_router_vg
APEX_PGPORT=5436
VG_LOGS=$APEX_RUN_DIR/valgrind

apex_install_deps || exit 1
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
apex_build_install || exit 1

cleanup() {
  apex_servers_stop
  apex_redis stop
  apex_remote_pg stop
  apex_as_pg "$(apex_pg_bindir)/pg_ctl" -D "$APEX_RUN_DIR/pgdata" -m fast stop >/dev/null 2>&1
}
trap cleanup EXIT
cleanup
rm -rf "$APEX_RUN_DIR"
mkdir -p "$VG_LOGS" && chmod 777 "$VG_LOGS" && chmod 755 "$APEX_RUN_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$APEX_RUN_DIR"
apex_as_pg "$(apex_pg_bindir)/initdb" -D "$APEX_RUN_DIR/pgdata" -U postgres -A trust >/dev/null || exit 1
apex_as_pg valgrind --quiet --trace-children=yes --leak-check=no --error-limit=no \
  --log-file="$VG_LOGS/%p.log" \
  "$(apex_pg_bindir)/postgres" -D "$APEX_RUN_DIR/pgdata" -p "$APEX_PGPORT" \
  -k "$APEX_RUN_DIR" -c listen_addresses='' >"$APEX_RUN_DIR/postgresql.log" 2>&1 &
export PGHOST=$APEX_RUN_DIR PGPORT=$APEX_PGPORT PGUSER=postgres
for _ in $(seq 1 120); do "$(apex_pg_bindir)/pg_isready" -q && break; sleep 1; done
apex_servers_start || exit 1
apex_remote_pg start || exit 1
apex_redis start || exit 1
export APEX_REMOTE_PG="$APEX_ROOT/test/bin/remote-pg" APEX_REDIS="$APEX_ROOT/test/bin/redis"
export APEX_RUN_DIR APEX_REMOTE_PGPORT APEX_REDIS_PORT

make -s installcheck PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config | grep -E '^test'
# errors whose stack mentions our library
errors=$(grep -l 'apex_router' "$VG_LOGS"/*.log 2>/dev/null)
if [ -n "$errors" ]; then
  for f in $errors; do grep -B5 -A30 'apex_router' "$f" | head -80; done
  echo "valgrind: errors in apex_router (logs in $VG_LOGS)"
  exit 1
fi
echo "valgrind: no errors in apex_router ($(ls "$VG_LOGS" | wc -l) processes checked)"
