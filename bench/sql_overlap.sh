#!/usr/bin/env bash
# Benchmark: does a slow `sql` leg hold the other legs of the call up?
# (issue 12, item 4: "the ratio call / slowest-alone for that setup").
#
# The setup of the issue: the test servers' embedder delayed 150 ms, Qdrant
# 100 ms, Neo4j 100 ms (fault URLs /__fault/delay=N), and a `sql` source
# whose query sleeps 300 ms (pg_sleep).  Inside one psql session, each
# iteration times four apex_route calls back to back: the sql source alone,
# the qdrant source alone (the embedder then Qdrant), the neo4j source
# alone, and all three together.  Prints medians and p90, the ratio
# together / slowest alone (1.00: the call costs its slowest leg) and
# together / (sql + last hop), where the last hop is Qdrant's delay (1.00:
# the Qdrant request waited for the sql leg to end).
#
# With two revisions, each is built into a private installation of its own
# (test/lib.sh, apex_rev_install) and measured in turn on the same servers;
# with one, that one; with none, the working tree.  Runs in
# $APEX_HOME/sql_overlap on a free block of ports (test/lib.sh, "Ports");
# at exit, stops every server and removes the builds.  See bench/README.md.
#
# Usage: sudo bench/sql_overlap.sh [--calls N] [--warmup W] [REV_BEFORE [REV_AFTER]]
set -u

usage() {
  cat <<'EOF'
usage: bench/sql_overlap.sh [options] [REV_BEFORE [REV_AFTER]]
  REV_BEFORE, REV_AFTER  git revisions, each measured in turn (default: the working tree alone)
  --calls N    timed calls per mode and revision (default 20)
  --warmup W   iterations before them, not counted (default 3)
EOF
}

CALLS=20 WARMUP=3
QUERY='Sarah roadmap' K=10
SQL_MS=300 EMBED_MS=150 QDRANT_MS=100 NEO4J_MS=100
revs=()
while [ $# -gt 0 ]; do
  case $1 in
    --calls|--warmup)
      [[ ${2:-} =~ ^[0-9]+$ ]] || { usage >&2; exit 1; }
      if [ "$1" = --calls ]; then CALLS=$2; else WARMUP=$2; fi
      shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "sql_overlap: unknown option $1" >&2; usage >&2; exit 1 ;;
    *) revs+=("$1"); shift ;;
  esac
done
[ ${#revs[@]} -le 2 ] && [ "$CALLS" -gt 0 ] || { usage >&2; exit 1; }

. "$(dirname "$0")/../test/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/sql_overlap
PGC=$APEX_DEBIAN_PG_BINDIR/pg_config
WORK=$APEX_RUN_DIR/builds

# The revisions, resolved now: a later commit must not change what we measure.
sides=() labels=() commits=()
[ ${#revs[@]} -eq 0 ] && revs=("$APEX_WORKTREE")
for r in "${revs[@]}"; do
  c=$r
  [ "$r" = "$APEX_WORKTREE" ] || c=$(git rev-parse -q --verify "$r^{commit}") ||
    { echo "sql_overlap: $r is not a git revision" >&2; exit 1; }
  commits+=("$c")
  labels+=("$(apex_rev_label "$r")")
done
if [ ${#revs[@]} -eq 2 ]; then sides=(before after); else sides=(rev); fi

apex_install_deps || exit 1

cleanup() { apex_servers_stop; apex_pg_stop; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# whatever an earlier run left (its installations may be gone: any pg_ctl
# of the release stops its cluster)
APEX_PG_BINDIR=$APEX_DEBIAN_PG_BINDIR
cleanup
rm -rf "$APEX_RUN_DIR"
for i in "${!sides[@]}"; do
  apex_rev_install "$WORK/${sides[$i]}" "${commits[$i]}" || exit 1
done

# our own servers on a block of ports nothing else holds; only the local
# cluster restarts, from the installation of the revision measured
apex_ports_claim || exit 1
apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
APEX_PG_BINDIR=$(apex_inst_bindir "$PGC" "$WORK/${sides[0]}.inst")
apex_pg_start || exit 1
apex_servers_start || exit 1
apex_ports_started

DB=apex_overlap
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# A fresh database (the revisions may install different extension
# scripts): the suite's sources (test/sql/include/setup.sql), the delays on
# their URLs, a sql source that sleeps, the result cache off, and the
# function that times the calls.  It checks every call: apex_route reports
# a failed source as a WARNING and carries on, so a failing leg would look
# fast (the caller also fails on any WARNING).
setup() {
  "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" || return 1
  { cat test/sql/include/setup.sql; cat <<'SQL'; } |
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET apex_router.cache_mode = 'off';
SELECT format('%s/__fault/delay=%s', :'neo4j_url', :'neo4j_ms') AS graph_url,
       format('%s/__fault/delay=%s', :'qdrant_url', :'qdrant_ms') AS vectors_url,
       format('%s/__fault/delay=%s/v1/embeddings', :'embed_base', :'embed_ms') AS embed_url,
       format('SELECT id, title, body, ts_rank_cd(tsv, q)
               FROM notes, websearch_to_tsquery(''english'', $1) q, pg_sleep(%s / 1000.0)
               WHERE tsv @@ q ORDER BY 4 DESC, id LIMIT $2', :'sql_ms') AS slow_query \gset
-- $query rather than setup.sql's $query_lucene, which older revisions lack
-- (the question has no Lucene syntax)
ALTER SERVER graph OPTIONS (SET url :'graph_url', SET statement
  'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
   RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
ALTER SERVER vectors OPTIONS (SET url :'vectors_url');
ALTER SERVER embed OPTIONS (SET url :'embed_url');
CREATE SERVER slow_docs FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query :'slow_query');

-- (mode, ms) for every timed call; each iteration runs the four modes
-- back to back, so that they all see the same machine noise
CREATE FUNCTION bench_overlap(q text, k int, n int, warmup int)
RETURNS TABLE (mode text, ms float8) LANGUAGE plpgsql AS $$
DECLARE
  modes text[] := ARRAY['sql', 'qdrant', 'neo4j', 'together'];
  legs text[] := ARRAY['slow_docs', 'vectors', 'graph', 'graph,slow_docs,vectors'];
  srcs text[]; found text[]; t0 timestamptz; t1 timestamptz;
BEGIN
  FOR i IN 1 .. warmup + n LOOP
    FOR m IN 1 .. 4 LOOP
      srcs := string_to_array(legs[m], ',');
      t0 := clock_timestamp();
      SELECT array_agg(DISTINCT s ORDER BY s) INTO found
        FROM apex_route(q, k => k, sources => srcs), unnest(found_in) s;
      t1 := clock_timestamp();
      IF found IS DISTINCT FROM srcs THEN
        RAISE EXCEPTION 'call over % found results only in %', srcs, found;
      END IF;
      IF i > warmup THEN
        mode := modes[m]; ms := extract(epoch FROM t1 - t0) * 1000;
        RETURN NEXT;
      END IF;
    END LOOP;
  END LOOP;
END $$;
SQL
    "${PSQL[@]}" -d "$DB" -v abs_srcdir="$APEX_ROOT/test" -v sql_ms=$SQL_MS -v embed_ms=$EMBED_MS \
      -v qdrant_ms=$QDRANT_MS -v neo4j_ms=$NEO4J_MS >"$APEX_RUN_DIR/setup.out" 2>&1 ||
    { cat "$APEX_RUN_DIR/setup.out" >&2; return 1; }
}

# the samples of every revision: side,mode,ms
SAMPLES=$APEX_RUN_DIR/samples.csv
: >"$SAMPLES"
for i in "${!sides[@]}"; do
  side=${sides[$i]}
  apex_log "$side: ${labels[$i]}: $WARMUP warm-ups + $CALLS timed iterations of the four modes"
  apex_pg_stop
  APEX_PG_BINDIR=$(apex_inst_bindir "$PGC" "$WORK/$side.inst")
  apex_pg_start || exit 1
  setup || exit 1
  "${PSQL[@]}" -d "$DB" --csv -t -v side="$side" -v q="$QUERY" -v k=$K -v n="$CALLS" -v w="$WARMUP" \
    <<<"SELECT :'side', mode, ms FROM bench_overlap(:'q', :k, :n, :w)" >>"$SAMPLES" 2>"$APEX_RUN_DIR/measure.err" && ! grep -q . "$APEX_RUN_DIR/measure.err" ||
    { cat "$APEX_RUN_DIR/measure.err" >&2; echo "sql_overlap: the measurement of $side failed" >&2; exit 1; }
done

echo
echo "apex_router sql overlap: $CALLS timed calls per mode (after $WARMUP warm-ups), query '$QUERY', k=$K, $(nproc) CPUs"
echo "setup: embedder ${EMBED_MS} ms then Qdrant ${QDRANT_MS} ms (qdrant), Neo4j ${NEO4J_MS} ms (neo4j), a sql query sleeping ${SQL_MS} ms (sql)"
for i in "${!sides[@]}"; do printf '%-8s%s\n' "${sides[$i]}:" "${labels[$i]}"; done
cmp -s "$WORK/before.sources" "$WORK/after.sources" 2>/dev/null &&
  echo "(before and after have the same files: their difference is the noise)"
echo "slowest = the slowest mode alone (medians); last hop = Qdrant's ${QDRANT_MS} ms, the request that follows the embedder's answer"
echo
"${PSQL[@]}" -d postgres -P footer=off -v qdrant_ms=$QDRANT_MS \
  -c "CREATE TEMP TABLE sample (side text, mode text, ms float8)" \
  -c "\\copy sample FROM '$SAMPLES' (FORMAT csv)" -f - <<'SQL' || exit 1
CREATE TEMP VIEW stat AS
  SELECT side, mode, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY ms) AS p90
  FROM sample GROUP BY side, mode;
SELECT side AS rev, mode, round(median::numeric, 1) AS "median ms", round(p90::numeric, 1) AS "p90 ms"
FROM stat ORDER BY side DESC, array_position(ARRAY['sql', 'qdrant', 'neo4j', 'together'], mode);
SELECT side AS rev, round(slowest::numeric, 1) AS "slowest alone ms", round(together::numeric, 1) AS "together ms",
       round((together / slowest)::numeric, 2) AS "together/slowest",
       round((sql + :qdrant_ms)::numeric, 1) AS "sql + last hop ms",
       round((together / (sql + :qdrant_ms))::numeric, 2) AS "together/(sql + last hop)"
FROM (SELECT side, max(median) FILTER (WHERE mode <> 'together') AS slowest,
             max(median) FILTER (WHERE mode = 'together') AS together,
             max(median) FILTER (WHERE mode = 'sql') AS sql
      FROM stat GROUP BY side) r
ORDER BY side DESC;
SQL
