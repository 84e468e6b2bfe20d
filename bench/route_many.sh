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
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/route-many
N=${BENCH_N:-3}
Q=${BENCH_Q:-100}
SOURCES=${BENCH_SOURCES:-graph,vectors}
CONC=${BENCH_CONCURRENCY:-300}
PGBENCH=$APEX_DEBIAN_PG_BINDIR/pgbench

apex_bench_begin || exit 1
apex_pg_start || exit 1
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -c "ALTER SYSTEM SET max_connections = $((Q + 20))" >/dev/null || exit 1
apex_pg_stop; apex_pg_start && apex_servers_start || exit 1
apex_ports_started
apex_bench_sources || exit 1
"${PSQL[@]}" -v abs_srcdir="$APEX_ROOT/test" -v q="$Q" -v n="$N" -v conc="$CONC" \
  -v srcs="{$SOURCES}" >"$APEX_RUN_DIR/times.out" 2>"$APEX_RUN_DIR/times.err" <<'SQL' || { cat "$APEX_RUN_DIR/times.err" >&2; exit 1; }
\i test/sql/include/ports.sql
\set url :neo4j_url'/__fault/delay=250'
ALTER SERVER graph OPTIONS (SET url :'url');
\set url :qdrant_url'/__fault/delay=120'
ALTER SERVER vectors OPTIONS (SET url :'url');
CREATE TABLE questions AS SELECT i, 'Sarah roadmap ' || i AS q FROM generate_series(1, :q) i;
CREATE TABLE times (what text, ms float8);
CREATE FUNCTION one(srcs text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n int;
BEGIN
  SELECT count(DISTINCT s) INTO n FROM apex_route('Sarah roadmap', sources => srcs), unnest(found_in) s;
  IF n <> cardinality(srcs) THEN RAISE EXCEPTION 'one call: % of % sources answered', n, cardinality(srcs); END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
CREATE FUNCTION batch(srcs text[], conc int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n int; qs int;
BEGIN
  SELECT count(DISTINCT s), count(DISTINCT ordinal) INTO n, qs
  FROM apex_route_many(ARRAY(SELECT q FROM questions ORDER BY i), sources => srcs,
                       max_concurrency => conc), unnest(found_in) s;
  IF n <> cardinality(srcs) OR qs <> (SELECT count(*) FROM questions) THEN
    RAISE EXCEPTION 'batch: % sources, % questions answered', n, qs;
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SELECT one(:'srcs'), batch(:'srcs', :conc);   -- warm-up: connections, workers
INSERT INTO times SELECT 'one apex_route', one(:'srcs') FROM generate_series(1, :n);
INSERT INTO times SELECT 'apex_route_many', batch(:'srcs', :conc) FROM generate_series(1, :n);
SQL
# the same questions from Q sessions at once
echo "\\set i random(1, $Q)" >"$APEX_RUN_DIR/one.sql"
echo "SELECT count(*) FROM apex_route('Sarah roadmap ' || :i, sources => '{$SOURCES}');" >>"$APEX_RUN_DIR/one.sql"
for r in $(seq "$N"); do
  out=$("$PGBENCH" -n -f "$APEX_RUN_DIR/one.sql" -c "$Q" -j 2 -t 1 postgres 2>&1) ||
    { echo "$out" >&2; exit 1; }
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  [ "${failed:-0}" = 0 ] || { echo "$out" >&2; exit 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
  "${PSQL[@]}" -c "INSERT INTO times VALUES ('$Q sessions at once', $Q / $tps * 1000)" >/dev/null || exit 1
done
echo
echo "apex_route_many: $Q questions over {$SOURCES} (Neo4j 250 ms, Qdrant 120 ms, embedder 0), max_concurrency $CONC, $N runs each, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
"${PSQL[@]}" -P footer=off -F ' | ' <<'SQL'
WITH m AS (SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS ms FROM times GROUP BY 1)
SELECT m.what, round(m.ms::numeric, 1) AS "median ms", round((m.ms / o.ms)::numeric, 2) AS "/ one call"
FROM m, m o WHERE o.what = 'one apex_route' ORDER BY m.ms;
SQL
