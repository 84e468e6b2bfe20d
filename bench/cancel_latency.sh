#!/usr/bin/env bash
# How fast does pg_cancel_backend() end an apex_route call that waits on a
# source that never answers?  Runs 5 calls (Neo4j test server with the
# `hang` fault, plus qdrant and sql sources), cancels each after 0.5 s from
# another session, and prints the time from the cancel request to the
# victim's psql exiting (an upper bound: both psql processes' own start and
# exit are included).  Target: well under 100 ms.  Runs in
# $APEX_HOME/cancel on a free block of ports (test/lib.sh, "Ports").
# Usage: sudo bench/cancel_latency.sh
set -u
. "$(dirname "$0")/../test/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/cancel

apex_install_deps || exit 1
apex_build_install || exit 1
cleanup() { apex_servers_stop; apex_pg_stop; }
trap cleanup EXIT
cleanup
rm -rf "$APEX_RUN_DIR"
apex_ports_claim || exit 1
apex_pg_start && apex_servers_start || exit 1
apex_ports_started
psql -qX -v ON_ERROR_STOP=1 -v abs_srcdir="$APEX_ROOT/test" -d postgres -f test/sql/include/setup.sql >/dev/null || exit 1
psql -qX -d postgres -c "ALTER SERVER graph OPTIONS (SET url 'http://127.0.0.1:$NEO4J_PORT/__fault/hang')"

for i in 1 2 3 4 5; do
  psql -qAtX -d postgres -c "SET application_name = 'apex_victim'" \
    -c "SELECT count(*) FROM apex_route('Sarah', sources => '{graph,vectors,docs}')" >/dev/null 2>&1 &
  victim=$!
  sleep 0.5
  pid=$(psql -qAtX -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'apex_victim'")
  t0=$(date +%s%N)
  psql -qAtX -d postgres -c "SELECT pg_cancel_backend($pid)" >/dev/null
  wait "$victim"
  t1=$(date +%s%N)
  echo "call $i: $(( (t1 - t0) / 1000000 )) ms from pg_cancel_backend() to the cancelled call's exit"
done
