#!/usr/bin/env bash
# Benchmark of issue 12: sql sources in background workers.
#
# Brings up its own PostgreSQL 15 cluster (in $APEX_HOME/bench-workers,
# test/lib.sh) and the protocol test servers on a free block of ports, creates
# the sources with test/sql/include/setup.sql, then times inside one psql
# session, for execution 'worker' and 'inline' alike:
#   overlap   the embedder delayed 150 ms and Qdrant 100 ms (the vectors
#             source, a chain) with a sql source whose query sleeps 300 ms:
#             the call over both against the slowest of the two alone
#             (medians); the ratio call / slowest is 1 when every leg
#             advances at once (issue 12's target: <= 1.05)
#   hand-off  a sql source answering at once, alone in the call: the
#             median and 90th percentile of the call, and what a worker
#             adds over inline (issue 12's target: <= 0.3 ms at the median)
# One session, with the server's default pool of long-lived workers (the
# hand-off is a pooled one after the warm-up); bench/worker_pool.sh compares
# a worker per call with the pool, at 1 and 50 sessions.
#
# Usage: sudo bench/workers.sh        (env: BENCH_N, BENCH_WARMUP)
set -u
. "$(dirname "$0")/../test/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/bench-workers

N=${BENCH_N:-20}
WARMUP=${BENCH_WARMUP:-2}

apex_bench_begin || exit 1
apex_pg_start || exit 1
apex_servers_start || exit 1
apex_ports_started

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)

apex_bench_sources || exit 1

# Every timed call is checked (a failed source is only a WARNING, and would
# look fast).  Times are clock_timestamp() around each call, in the server.
"${PSQL[@]}" -v qdrant_url="http://127.0.0.1:$QDRANT_PORT" \
  -v embed_base="http://127.0.0.1:$EMBED_PORT" >/dev/null <<'SQL' || exit 1
\set url :qdrant_url'/__fault/delay=100'
ALTER SERVER vectors OPTIONS (SET url :'url');
\set url :embed_base'/__fault/delay=150/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
CREATE SERVER slow FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''slow'' AS id FROM pg_sleep(0.3) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER quick FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');

-- ms of one call over sources, checked to have found every one of them
CREATE FUNCTION bench_call(sources text[]) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); found int;
BEGIN
  SELECT count(DISTINCT s) INTO found
  FROM apex_route('Sarah roadmap', k => 10, sources => sources), unnest(found_in) s;
  IF found <> cardinality(sources) THEN
    RAISE EXCEPTION 'the call over % found results in % sources only', sources, found;
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

CREATE TABLE bench_result (execution text, what text, ms float8);
CREATE FUNCTION bench(execution text, n int, warmup int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER SERVER slow OPTIONS (ADD execution %L)', execution);
  EXECUTE format('ALTER SERVER quick OPTIONS (ADD execution %L)', execution);
  FOR i IN 1 .. warmup + n LOOP
    IF i > warmup THEN
      INSERT INTO bench_result VALUES
        (execution, 'call', bench_call('{vectors,slow}')),
        (execution, 'vectors alone', bench_call('{vectors}')),
        (execution, 'slow alone', bench_call('{slow}'));
    END IF;
  END LOOP;
  FOR i IN 1 .. warmup * 5 + n * 10 LOOP
    IF i > warmup * 5 THEN
      INSERT INTO bench_result VALUES (execution, 'quick', bench_call('{quick}'));
    END IF;
  END LOOP;
  ALTER SERVER slow OPTIONS (DROP execution);
  ALTER SERVER quick OPTIONS (DROP execution);
END $$;
SQL

for mode in worker inline; do
  apex_log "execution '$mode': $WARMUP warm-ups + $N timed iterations (the hand-off: ten times as many)"
  "${PSQL[@]}" -v mode="$mode" -v n="$N" -v w="$WARMUP" >/dev/null <<'SQL' || exit 1
SELECT bench(:'mode', :n, :w);
SQL
done

echo
echo "apex_router sql workers benchmark: $N timed iterations (hand-off: $((N * 10))), $(nproc) CPUs"
echo "overlap: embedder 150 ms then Qdrant 100 ms (vectors), a sql source sleeping 300 ms (slow)"
echo
"${PSQL[@]}" -P footer=off <<'SQL' || exit 1
WITH m AS (
  SELECT execution, what, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90
  FROM bench_result GROUP BY 1, 2)
SELECT c.execution,
       round(c.p50::numeric, 1) AS "call ms",
       round(greatest(v.p50, s.p50)::numeric, 1) AS "slowest alone ms",
       round((c.p50 / greatest(v.p50, s.p50))::numeric, 2) AS "call/slowest",
       round(q.p50::numeric, 2) AS "hand-off p50 ms",
       round(q.p90::numeric, 2) AS "hand-off p90 ms",
       round((q.p50 - qi.p50)::numeric, 2) AS "over inline p50 ms"
FROM m c
JOIN m v ON v.execution = c.execution AND v.what = 'vectors alone'
JOIN m s ON s.execution = c.execution AND s.what = 'slow alone'
JOIN m q ON q.execution = c.execution AND q.what = 'quick'
JOIN m qi ON qi.execution = 'inline' AND qi.what = 'quick'
WHERE c.what = 'call'
ORDER BY c.execution DESC;
SQL
