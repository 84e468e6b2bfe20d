#!/usr/bin/env bash
# Benchmark (issue 13 item 4): the backend's own CPU per apex_route call, and
# per item received, as k grows.  Serves a generated corpus of BENCH_ITEMS
# items (bench/corpus.py, through APEX_BENCH_FIXTURES) from the test
# servers, on its own cluster and a free block of ports (test/lib.sh), and
# for k in BENCH_KS over the sources BENCH_SOURCES (default graph,vectors:
# two HTTP sources, up to 2k items a call) measures, inside one backend,
# utime + stime from /proc/self/stat around BENCH_N calls (after one
# warm-up call).  The test servers' time is theirs, not the backend's.
#
# Usage: sudo bench/item_cost.sh   (env: BENCH_ITEMS 2000, BENCH_KS
#        "10 100 1000", BENCH_N 30, BENCH_SOURCES graph,vectors)
set -u
. "$(dirname "$0")/../test/lib.sh"
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/item-cost
ITEMS=${BENCH_ITEMS:-2000}
KS=${BENCH_KS:-"10 100 1000"}
N=${BENCH_N:-30}
SOURCES=${BENCH_SOURCES:-graph,vectors}

apex_bench_begin || exit 1
/usr/bin/python3 bench/corpus.py "$ITEMS" "$APEX_RUN_DIR/corpus.json" || exit 1
chmod 644 "$APEX_RUN_DIR/corpus.json"
export APEX_BENCH_FIXTURES=$APEX_RUN_DIR/corpus.json
apex_pg_start && apex_servers_start || exit 1
apex_ports_started
PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
apex_bench_sources && bench_functions || exit 1
"${PSQL[@]}" >/dev/null <<'SQL' || exit 1
CREATE FUNCTION item_cost(kk int, n int, srcs text[])
RETURNS TABLE (k int, rows int, items int, cpu_ms_per_call float8, us_per_item float8)
LANGUAGE plpgsql AS $$
DECLARE c0 float8; r int; it int; BEGIN
  -- items received: every source's hits, before fusion keeps k of them
  SELECT count(*), (SELECT count(*) FROM apex_route('Sarah roadmap', k => kk, sources => srcs), unnest(found_in))
    INTO r, it FROM apex_route('Sarah roadmap', k => kk, sources => srcs);
  c0 := backend_cpu_ms();
  FOR i IN 1 .. n LOOP
    PERFORM count(*) FROM apex_route('Sarah roadmap', k => kk, sources => srcs);
  END LOOP;
  RETURN QUERY SELECT kk, r, it, (backend_cpu_ms() - c0) / n,
                      (backend_cpu_ms() - c0) / n * 1000 / greatest(it, 1);
END $$;
SQL
echo
echo "apex_route backend CPU per call, $ITEMS-item corpus, sources {$SOURCES}, $N calls per k, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "(items: the fused rows' source hits, a lower bound of the items received)"
for k in $KS; do
  "${PSQL[@]}" -F ' | ' -c "SELECT k, rows, items, round(cpu_ms_per_call::numeric, 2), round(us_per_item::numeric, 1) FROM item_cost($k, $N, '{$SOURCES}')" || exit 1
done | sed '1i k | rows | items | cpu ms/call | us/item'
