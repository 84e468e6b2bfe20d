#!/usr/bin/env bash
# Benchmark (issue 13 item 1): 100 questions in one apex_route_many call,
# against one apex_route call and against 100 sessions calling apex_route
# at once, with the issue's injected latencies (Neo4j 250 ms, Qdrant
# 120 ms, the embedder 0) over graph and vectors (and docs, the local sql
# source, when BENCH_SOURCES says so).
#
# Brings up its own cluster and the test servers on a free block of ports
# (test/lib.sh) with the suite's sources (test/sql/include/setup.sql).
# Times, inside one psql session (clock_timestamp() around each call): one
# apex_route (median of BENCH_N), one apex_route_many of BENCH_Q distinct
# questions (median of BENCH_N), and the same questions from BENCH_Q
# sessions at once (pgbench -c BENCH_Q -t 1: its time without connection
# set-up), every call checked to have found rows from every source.
# Issue 13's target: the batch in at most 1.4 times one call.
#
# Usage: sudo bench/route_many.sh   (env: BENCH_N 3, BENCH_Q 100,
#        BENCH_SOURCES graph,vectors, BENCH_CONCURRENCY 300)
set -u
. "$(dirname "$0")/../test/lib.sh"
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/route-many
N=${BENCH_N:-3}
Q=${BENCH_Q:-100}
SOURCES=${BENCH_SOURCES:-graph,vectors}
CONC=${BENCH_CONCURRENCY:-300}

apex_bench_begin || exit 1
apex_pg_start || exit 1
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -c "ALTER SYSTEM SET max_connections = $((Q + 20))" >/dev/null || exit 1
apex_pg_stop; apex_pg_start && apex_servers_start || exit 1
apex_ports_started
apex_bench_sources || exit 1
bench_functions || exit 1
bench_delays 250 120 0 || exit 1
"${PSQL[@]}" -v q="$Q" -v n="$N" -v conc="$CONC" -v srcs="{$SOURCES}" -v question="$BENCH_QUESTION" \
  >"$APEX_RUN_DIR/times.out" 2>"$APEX_RUN_DIR/times.err" <<'SQL' || { cat "$APEX_RUN_DIR/times.err" >&2; exit 1; }
CREATE TABLE questions AS SELECT array_agg(:'question' || i ORDER BY i) AS qs FROM generate_series(1, :q) i;
CREATE TABLE times (what text, ms float8);
SELECT bench_call_ms('Sarah roadmap', :'srcs'), bench_batch_ms(qs, :'srcs', :conc) FROM questions;   -- warm-up: connections, workers
INSERT INTO times SELECT 'one apex_route', bench_call_ms('Sarah roadmap', :'srcs') FROM generate_series(1, :n);
INSERT INTO times SELECT 'apex_route_many', bench_batch_ms(qs, :'srcs', :conc) FROM questions, generate_series(1, :n);
SQL
# the same questions from Q sessions at once
for _ in $(seq "$N"); do
  ms=$(bench_sessions_at_once "$Q" "$SOURCES") || exit 1
  "${PSQL[@]}" -c "INSERT INTO times VALUES ('$Q sessions at once', $ms)" >/dev/null || exit 1
done
echo
echo "apex_route_many: $Q questions over {$SOURCES} (Neo4j 250 ms, Qdrant 120 ms, embedder 0), max_concurrency $CONC, $N runs each, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
"${PSQL[@]}" -P footer=off -F ' | ' <<'SQL'
WITH m AS (SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM times GROUP BY 1)
SELECT m.what, round(m.ms::numeric, 1) AS "median ms", round((m.ms / o.ms)::numeric, 2) AS "/ one call"
FROM m, m o WHERE o.what = 'one apex_route' ORDER BY m.ms;
SQL
