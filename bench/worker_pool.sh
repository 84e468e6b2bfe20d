#!/usr/bin/env bash
# Benchmark of issue 12, item 3: the hand-off of a sql source to a dynamic
# background worker per call against a pool of long-lived workers per
# database and user (apex_router.worker_pool_size), over inline SPI.
#
# Brings up its own PostgreSQL 15 cluster (in $APEX_HOME/bench-pool,
# max_worker_processes raised to 80 so that 50 sessions can each have a
# dynamic worker) and the test servers, creates the sources with
# test/sql/include/setup.sql plus a sql source answering at once (quick),
# then times one call over quick alone, at zero remote latency:
#   1 session     inside one psql session, BENCH_N calls per mode after
#                 BENCH_WARMUP (clock_timestamp() around each call)
#   50 sessions   pgbench -c 50 for BENCH_SECONDS per mode, every call's
#                 latency from pgbench's log (-l)
# for the modes inline (execution 'inline'), dynamic (worker_pool_size 0:
# a worker started per call) and pooled (worker_pool_size BENCH_POOL).
# Prints p50/p90 per mode and what dynamic and pooled add over inline at
# the median, and the ratio pooled / dynamic.  A call falling back inline
# (no worker slot) says so in a NOTICE: they are counted, not hidden.
#
# Usage: sudo bench/worker_pool.sh  (env: BENCH_N, BENCH_WARMUP,
#                                    BENCH_SECONDS, BENCH_CLIENTS, BENCH_POOL)
set -u
. "$(dirname "$0")/../test/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/bench-pool
PGBENCH=$APEX_DEBIAN_PG_BINDIR/pgbench

N=${BENCH_N:-500}
WARMUP=${BENCH_WARMUP:-20}
SECONDS_EACH=${BENCH_SECONDS:-10}
CLIENTS=${BENCH_CLIENTS:-50}
POOL=${BENCH_POOL:-16}

apex_bench_begin || exit 1
apex_pg_start || exit 1
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)
"${PSQL[@]}" -c "ALTER SYSTEM SET max_worker_processes = 80" \
  -c "ALTER SYSTEM SET max_connections = 120" || exit 1
apex_pg_stop; apex_pg_start || exit 1
apex_servers_start || exit 1
apex_ports_started

apex_bench_sources || exit 1

"${PSQL[@]}" >/dev/null <<'SQL' || exit 1
CREATE SERVER quick FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER quick_inline FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  execution 'inline', query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');

-- ms of one call over source, checked to have found it
CREATE FUNCTION bench_call(source text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); found int;
BEGIN
  SELECT count(*) INTO found FROM apex_route('Sarah roadmap', k => 10, sources => ARRAY[source]);
  IF found <> 1 THEN
    RAISE EXCEPTION 'the call over % found % items', source, found;
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
CREATE TABLE bench_result (sessions int, mode text, ms float8);
SQL

# mode -> source and pool size
mode_source() { [ "$1" = inline ] && echo quick_inline || echo quick; }
mode_pool() { case $1 in pooled) echo "$POOL" ;; *) echo 0 ;; esac; }

for mode in inline dynamic pooled; do
  apex_log "1 session, $mode: $WARMUP warm-ups + $N timed calls"
  PGOPTIONS="-c apex_router.worker_pool_size=$(mode_pool $mode)" "${PSQL[@]}" \
    -v mode="$mode" -v src="$(mode_source $mode)" -v n="$N" -v w="$WARMUP" \
    2>"$APEX_RUN_DIR/one-$mode.err" >/dev/null <<'SQL' || exit 1
SELECT count(bench_call(:'src')) FROM generate_series(1, :w);
INSERT INTO bench_result SELECT 1, :'mode', bench_call(:'src') FROM generate_series(1, :n);
SQL
done

for mode in inline dynamic pooled; do
  apex_log "$CLIENTS sessions, $mode: pgbench for $SECONDS_EACH s (after 2 s of warm-up)"
  script=$APEX_RUN_DIR/$mode.sql
  echo "SELECT count(*) FROM apex_route('Sarah roadmap', k => 10, sources => '{$(mode_source $mode)}');" >"$script"
  export PGOPTIONS="-c apex_router.worker_pool_size=$(mode_pool $mode)"
  "$PGBENCH" -n -f "$script" -c "$CLIENTS" -j 2 -T 2 postgres >/dev/null 2>&1
  rm -rf "$APEX_RUN_DIR/log-$mode" && mkdir -p "$APEX_RUN_DIR/log-$mode" && chmod 777 "$APEX_RUN_DIR/log-$mode"
  (cd "$APEX_RUN_DIR/log-$mode" && "$PGBENCH" -n -f "$script" -c "$CLIENTS" -j 2 \
    -T "$SECONDS_EACH" -l postgres >"$APEX_RUN_DIR/many-$mode.out" 2>"$APEX_RUN_DIR/many-$mode.err") ||
    { cat "$APEX_RUN_DIR/many-$mode.out" "$APEX_RUN_DIR/many-$mode.err" >&2; exit 1; }
  unset PGOPTIONS
  # pgbench's log: client, transaction, latency (us), ...
  cat "$APEX_RUN_DIR/log-$mode"/pgbench_log.* |
    awk -v m="$mode" -v c="$CLIENTS" '{ printf "%s\t%s\t%.3f\n", c, m, $3 / 1000 }' |
    "${PSQL[@]}" -c "COPY bench_result FROM STDIN" || exit 1
done

fallbacks() { grep -c 'ran in this session' "$@" 2>/dev/null | awk -F: '{ s += $NF } END { print s + 0 }'; }
echo
echo "apex_router sql worker hand-off: dynamic worker per call vs pool of $POOL per database and user"
echo "$(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'); 1 session: $N calls per mode; $CLIENTS sessions: pgbench $SECONDS_EACH s per mode"
echo "calls that fell back inline (no worker slot): 1 session dynamic $(fallbacks "$APEX_RUN_DIR/one-dynamic.err"), pooled $(fallbacks "$APEX_RUN_DIR/one-pooled.err");" \
  "$CLIENTS sessions dynamic $(fallbacks "$APEX_RUN_DIR/many-dynamic.err"), pooled $(fallbacks "$APEX_RUN_DIR/many-pooled.err")"
echo
"${PSQL[@]}" -P footer=off <<'SQL' || exit 1
WITH m AS (
  SELECT sessions, mode, count(*) AS calls,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90
  FROM bench_result GROUP BY 1, 2)
SELECT m.sessions, m.mode, m.calls,
       round(m.p50::numeric, 3) AS "p50 ms", round(m.p90::numeric, 3) AS "p90 ms",
       round((m.p50 - i.p50)::numeric, 3) AS "over inline p50 ms",
       round((m.p90 - i.p90)::numeric, 3) AS "over inline p90 ms",
       round((m.p50 / i.p50)::numeric, 2) AS "p50 / inline",
       CASE m.mode WHEN 'pooled' THEN round(((m.p50 - i.p50) / nullif(d.p50 - i.p50, 0))::numeric, 3) END
         AS "hand-off pooled / dynamic"
FROM m JOIN m i ON i.sessions = m.sessions AND i.mode = 'inline'
       JOIN m d ON d.sessions = m.sessions AND d.mode = 'dynamic'
ORDER BY m.sessions, array_position(ARRAY['inline', 'dynamic', 'pooled'], m.mode);
SQL
