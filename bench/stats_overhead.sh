#!/usr/bin/env bash
# Benchmark (issue 14 item 3): what the shared statistics and circuit
# breakers cost.  Calls per second of apex_route over {graph,vectors} at
# zero latency (the test servers answer at once: the call's own CPU is all
# there is), pgbench -c BENCH_CLIENTS for BENCH_SECONDS per round, in one
# cluster (apex_router preloaded) in three modes taken in turn each round:
#   off      apex_router.track_stats off, no breaker
#   stats    apex_router.track_stats on (the default), no breaker
#   breakers stats on, and breaker_failures 5 on both sources
# The order of the modes turns each round (off stats breakers, stats
# breakers off, ...), so a drift of the machine's load does not favour one.
# Prints each round and, per mode, the median over rounds of calls/s
# relative to off in the same round.  Issue 14's target: stats cost at most
# 2 % (>= 0.98).
#
# Usage: sudo bench/stats_overhead.sh   (env: BENCH_ROUNDS 6,
#        BENCH_SECONDS 5, BENCH_CLIENTS 4)
set -u
. "$(dirname "$0")/../test/lib.sh"
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/stats-overhead
ROUNDS=${BENCH_ROUNDS:-6}
SECONDS_EACH=${BENCH_SECONDS:-5}
CLIENTS=${BENCH_CLIENTS:-4}

apex_bench_begin || exit 1
apex_pg_start && apex_servers_start || exit 1
apex_ports_started
apex_bench_sources && bench_functions && bench_delays 0 0 0 || exit 1
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
printf "SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{graph,vectors}');\n" >"$APEX_RUN_DIR/route.sql"
breakers() {  # N: breaker_failures of both sources (0: none)
  "${PSQL[@]}" -c "ALTER SERVER graph OPTIONS (SET breaker_failures '$1')" \
    -c "ALTER SERVER vectors OPTIONS (SET breaker_failures '$1')" >/dev/null
}
"${PSQL[@]}" -c "ALTER SERVER graph OPTIONS (ADD breaker_failures '0')" \
  -c "ALTER SERVER vectors OPTIONS (ADD breaker_failures '0')" >/dev/null || exit 1
# warm-up: the test servers' JIT, the sessions' first calls
bench_pgbench warm -M prepared -f "$APEX_RUN_DIR/route.sql" -c "$CLIENTS" -T 3 postgres || exit 1

declare -A TPS
echo
echo "apex_route over {graph,vectors} at zero latency: calls/s, pgbench -c $CLIENTS, $SECONDS_EACH s per mode and round, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "round | off | stats | breakers | stats/off | breakers/off"
MODES=(off stats breakers)
for r in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    mode=${MODES[$(((r - 1 + i) % 3))]}
    track=on; [ "$mode" = off ] && track=off
    if [ "$mode" = breakers ]; then breakers 5; else breakers 0; fi || exit 1
    PGOPTIONS="-c apex_router.track_stats=$track" \
      bench_pgbench "$mode-$r" -M prepared -f "$APEX_RUN_DIR/route.sql" -c "$CLIENTS" -T "$SECONDS_EACH" postgres || exit 1
    [ $((BENCH_FAILED + BENCH_NOTICES)) -eq 0 ] || { echo "round $r $mode: $BENCH_FAILED failed calls, $BENCH_NOTICES warnings" >&2; exit 1; }
    TPS[$mode-$r]=$BENCH_TPS
  done
  awk -v o="${TPS[off-$r]}" -v s="${TPS[stats-$r]}" -v b="${TPS[breakers-$r]}" -v r="$r" \
    'BEGIN { printf "%d | %.1f | %.1f | %.1f | %.3f | %.3f\n", r, o, s, b, s / o, b / o }'
done | tee "$APEX_RUN_DIR/rounds"
[ "$(wc -l <"$APEX_RUN_DIR/rounds")" -eq "$ROUNDS" ] || exit 1
echo "median ratio: stats/off $(cut -d'|' -f5 "$APEX_RUN_DIR/rounds" | bench_median), breakers/off $(cut -d'|' -f6 "$APEX_RUN_DIR/rounds" | bench_median) (target: stats/off >= 0.98)"
