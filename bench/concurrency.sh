#!/usr/bin/env bash
# Benchmark: does apex_route cost the slowest leg rather than the sum of legs?
#
# Brings up its own PostgreSQL 15 cluster (in $APEX_HOME/bench, test/lib.sh)
# and the protocol test servers, on a free block of ports (test/lib.sh,
# "Ports"), creates the sources with test/sql/include/setup.sql, then for each
# injected delay D (on Neo4j, the embedder and Qdrant each) times, inside
# one psql session:
#   concurrent  apex_route over graph, vectors and docs in one call
#   sequential  three apex_route calls, one source each, back to back
#   slowest     the slowest of those single-source calls (per-leg medians)
# and prints medians and the ratios.  See bench/README.md.
#
# Usage: sudo bench/concurrency.sh        (env: BENCH_N, BENCH_WARMUP,
#        BENCH_DELAYS="50 150 300", BENCH_QUERY, BENCH_K)
set -u
. "$(dirname "$0")/../test/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/bench

N=${BENCH_N:-20}
WARMUP=${BENCH_WARMUP:-2}
DELAYS=${BENCH_DELAYS:-"50 150 300"}
QUERY=${BENCH_QUERY:-Sarah roadmap}
K=${BENCH_K:-10}

apex_bench_begin || exit 1
apex_pg_start || exit 1
apex_servers_start || exit 1
apex_ports_started

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d postgres)

apex_bench_sources || exit 1

# One function times one delay setting.  Each iteration runs the concurrent
# call, then the three single-source calls back to back (their sum is the
# sequential time, each one alone is a single-leg time), so all modes see the
# same machine noise.  Every timed call is checked: a failing source is only
# a WARNING in apex_route, and a failed leg would make it look fast.
"${PSQL[@]}" >/dev/null <<'SQL' || exit 1
CREATE FUNCTION bench_delay(q text, k int, n int, warmup int)
RETURNS TABLE (concurrent_ms float8, sequential_ms float8, leg text, leg_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
  legs text[] := ARRAY['graph', 'vectors', 'docs'];
  conc float8[] := '{}';
  seq float8[] := '{}';
  per float8[] := array_fill(NULL::float8, ARRAY[3, 0]);
  one float8[];
  t0 timestamptz; t1 timestamptz;
  found text[]; rows int; ms float8; total float8;
BEGIN
  FOR i IN 1 .. warmup + n LOOP
    t0 := clock_timestamp();
    SELECT array_agg(DISTINCT s ORDER BY s) INTO found
      FROM apex_route(q, k => k, sources => legs), unnest(found_in) s;
    t1 := clock_timestamp();
    IF found IS DISTINCT FROM ARRAY['docs', 'graph', 'vectors'] THEN
      RAISE EXCEPTION 'concurrent call found results only in %', found;
    END IF;
    IF i > warmup THEN
      conc := conc || extract(epoch FROM t1 - t0) * 1000;
    END IF;

    total := 0; one := '{}';
    FOR j IN 1 .. 3 LOOP
      t0 := clock_timestamp();
      SELECT count(*) INTO rows FROM apex_route(q, k => k, sources => ARRAY[legs[j]]);
      t1 := clock_timestamp();
      IF rows = 0 THEN
        RAISE EXCEPTION 'source % returned no rows', legs[j];
      END IF;
      ms := extract(epoch FROM t1 - t0) * 1000;
      total := total + ms;
      one := one || ms;
    END LOOP;
    IF i > warmup THEN
      seq := seq || total;
      per := per || ARRAY[one];
    END IF;
  END LOOP;

  concurrent_ms := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(conc) x);
  sequential_ms := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(seq) x);
  FOR j IN 1 .. 3 LOOP
    leg := legs[j];
    leg_ms := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY per[r][j])
               FROM generate_series(1, n) r);
    RETURN NEXT;
  END LOOP;
END $$;

CREATE TABLE bench_result (delay_ms int, concurrent_ms float8, sequential_ms float8,
                           leg text, leg_ms float8);
SQL

for d in $DELAYS; do
  apex_log "delay ${d} ms on neo4j, embedder and qdrant: $WARMUP warm-ups + $N timed iterations"
  "${PSQL[@]}" -v d="$d" -v q="$QUERY" -v k="$K" -v n="$N" -v w="$WARMUP" \
    -v neo4j_url="http://127.0.0.1:$NEO4J_PORT" -v qdrant_url="http://127.0.0.1:$QDRANT_PORT" \
    -v embed_base="http://127.0.0.1:$EMBED_PORT" >/dev/null <<'SQL' || exit 1
SELECT format('%s/__fault/delay=%s', :'neo4j_url', :'d') AS graph_url,
       format('%s/__fault/delay=%s', :'qdrant_url', :'d') AS vectors_url,
       format('%s/__fault/delay=%s/v1/embeddings', :'embed_base', :'d') AS embed_url \gset
ALTER SERVER graph OPTIONS (SET url :'graph_url');
ALTER SERVER vectors OPTIONS (SET url :'vectors_url');
ALTER SERVER embed OPTIONS (SET url :'embed_url');
INSERT INTO bench_result SELECT :d, * FROM bench_delay(:'q', :k, :n, :w);
SQL
done

echo
echo "apex_router concurrency benchmark: $N timed calls per mode (after $WARMUP warm-ups), query '$QUERY', k=$K, $(nproc) CPUs"
echo "delay = injected per-source delay (Neo4j, embedder and Qdrant each; vectors = embedder then Qdrant)"
echo
"${PSQL[@]}" -P footer=off <<'SQL' || exit 1
SELECT delay_ms AS "delay ms",
       round(concurrent_ms::numeric, 1) AS "concurrent ms",
       round(sequential_ms::numeric, 1) AS "sequential ms",
       round((sequential_ms / concurrent_ms)::numeric, 2) AS "seq/conc",
       max(leg) FILTER (WHERE slowest) AS "slowest leg",
       round(max(leg_ms)::numeric, 1) AS "slowest ms",
       round((concurrent_ms / max(leg_ms))::numeric, 2) AS "conc/slowest",
       string_agg(leg || ' ' || round(leg_ms::numeric, 1), ', ' ORDER BY leg) AS "per-leg medians ms"
FROM (SELECT *, leg_ms = max(leg_ms) OVER (PARTITION BY delay_ms) AS slowest FROM bench_result) r
GROUP BY delay_ms, concurrent_ms, sequential_ms
ORDER BY delay_ms;
SQL
