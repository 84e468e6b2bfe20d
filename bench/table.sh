#!/usr/bin/env bash
# Benchmark (issue 13 items 6 and 7): one run, one table of ratios.
# apex_route against its sequential mode, its slowest leg, apex_route_many,
# parallel sessions and the Python peer (bench/peer), under the issue's
# latencies (Neo4j 250 ms, Qdrant 120 ms, the embedder 0) and at zero
# latency; the cost of a cache hit and the backend's CPU per call; how
# latency, CPU and memory grow with k and with the number of sources; and
# the test servers' CPU during the load, so that the reader sees whether
# they were the bottleneck.  Every row is measured in this run; the
# targets are issue 13's.  bench/README.md says how to read it.
#
# Starts everything as the tests do (test/lib.sh): its own cluster, the test
# servers and Redis on a free block of ports, the suite's sources
# (test/sql/include/setup.sql, include/more_sources.sql), the extension
# built and installed into this checkout's private installation; the peer
# on the block's first unnamed port (bench/peer/run.sh).  Loads the peer
# with hey (Debian's hey: Go, HTTP/1.1 with keep-alive, every request's time
# in a CSV; far cheaper than the peer) and curl --parallel.  Stops
# everything at exit.
#
# Usage: sudo bench/table.sh        (sizes: see the BENCH_* variables below;
#        about 4 minutes with the defaults on 2 CPUs, plus the build)
set -u
. "$(dirname "$0")/../test/lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/peer/run.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/table

SOURCES=${BENCH_SOURCES:-graph,vectors,docs}   # the measured call's sources (the peer's)
QUERY='Sarah roadmap'
NEO4J_MS=${BENCH_NEO4J_MS:-250} QDRANT_MS=${BENCH_QDRANT_MS:-120} EMBED_MS=${BENCH_EMBED_MS:-0}
N=${BENCH_N:-10}                       # single calls per mode
Q=${BENCH_Q:-100}                      # questions in a batch, sessions at once
RUNS=${BENCH_RUNS:-3}                  # runs of each batch mode (median)
CONC=${BENCH_CONCURRENCY:-300}         # apex_route_many's max_concurrency
LOAD_CALLS=${BENCH_LOAD_CALLS:-1000}   # calls of the load phase ...
LOAD_CLIENTS=${BENCH_LOAD_CLIENTS:-50} # ... from that many sessions
ZERO_SECONDS=${BENCH_ZERO_SECONDS:-10} # each side at zero latency
ZERO_CLIENTS=${BENCH_ZERO_CLIENTS:-8}
CACHE_SECONDS=${BENCH_CACHE_SECONDS:-5}
CPU_N=${BENCH_CPU_N:-500}              # calls for the backend's CPU per call
ITEMS=${BENCH_ITEMS:-2000}             # the generated corpus of the growth rows
KS=${BENCH_KS:-"10 100 1000"}
GROWTH_SOURCES=${BENCH_GROWTH_SOURCES:-graph,vectors}
SOURCE_COUNTS=${BENCH_SOURCE_COUNTS:-"1 4 8"}
SOURCES_K=${BENCH_SOURCES_K:-100}
GROWTH_N=${BENCH_GROWTH_N:-20}                # calls at least, per row ...
GROWTH_CPU_MS=${BENCH_GROWTH_CPU_MS:-500}     # ... and until the backend used this much CPU
PEER_WORKERS=${BENCH_PEER_WORKERS:-$(nproc)}  # uvicorn workers: one per CPU, as deployed
export PEER_WORKERS PEER_SOURCES=$SOURCES

for v in "$N" "$Q" "$RUNS" "$CONC" "$LOAD_CALLS" "$LOAD_CLIENTS" "$ZERO_SECONDS" "$ZERO_CLIENTS" \
  "$CACHE_SECONDS" "$CPU_N" "$ITEMS" "$SOURCES_K" "$GROWTH_N" "$GROWTH_CPU_MS" "$PEER_WORKERS" $KS $SOURCE_COUNTS; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "table: $v is not a positive integer" >&2; exit 1; }
done
[ $((LOAD_CALLS % LOAD_CLIENTS)) -eq 0 ] ||
  { echo "table: BENCH_LOAD_CALLS must be a multiple of BENCH_LOAD_CLIENTS" >&2; exit 1; }
started=$SECONDS

apex_apt_install hey || exit 1
peer_deps || exit 1
mkdir -p "$APEX_RUN_DIR" && peer_stop && apex_redis stop
apex_bench_begin || exit 1
trap 'peer_stop; apex_redis stop; apex_bench_cleanup' EXIT

PSQL=(psql -X -q -At -v ON_ERROR_STOP=1 -d postgres)
apex_pg_start || exit 1
max=$Q
[ "$LOAD_CLIENTS" -gt "$max" ] && max=$LOAD_CLIENTS
"${PSQL[@]}" -c "ALTER SYSTEM SET max_connections = $((max + 20))" >/dev/null || exit 1
apex_pg_stop; apex_pg_start || exit 1
apex_servers_start || exit 1
apex_redis start empty || exit 1
apex_ports_started
export "${APEX_PORT_NAMES[@]}"
apex_bench_sources || exit 1
"${PSQL[@]}" -v abs_srcdir="$APEX_ROOT/test" -f test/sql/include/more_sources.sql >/dev/null || exit 1
bench_functions || exit 1
"${PSQL[@]}" -c 'VACUUM ANALYZE notes' -c CHECKPOINT >/dev/null || exit 1

SRCS="{$SOURCES}"
SERVERS_PID=$(cat "$APEX_RUN_DIR/servers.pid")
POSTMASTER_PID=$(head -1 "$APEX_RUN_DIR/pgdata/postmaster.pid")
PEER_URL=http://127.0.0.1:$(peer_port)
QENC=${QUERY// /%20}
ROUTE_URL="$PEER_URL/route?q=$QENC&k=10&sources=$SOURCES"

# --- helpers -----------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'; }
f1() { awk -v a="$1" 'BEGIN { printf "%.1f\n", a }'; }
f2() { awk -v a="$1" 'BEGIN { printf "%.2f\n", a }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b ? "yes" : "no") }'; }

# the peer started with the delays given (ms: Neo4j, Qdrant, embedder)
peer_with_delays() {
  PEER_NEO4J_URL=$(bench_fault "http://127.0.0.1:$NEO4J_PORT" "$1") \
  PEER_QDRANT_URL=$(bench_fault "http://127.0.0.1:$QDRANT_PORT" "$2") \
  PEER_EMBED_URL=$(bench_fault "http://127.0.0.1:$EMBED_PORT" "$3")/v1/embeddings \
    peer_start "$(peer_port)" || return 1
  PEER_PID=$(cat "$(peer_run_dir)/peer.pid")
  # every source answers
  curl -sf "$ROUTE_URL" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["rows"] and not d["errors"], d' || { echo "table: the peer did not answer from every source" >&2; return 1; }
}
# the peer's failed legs (its log'\''s warnings) since peer_mark
peer_mark() { PEER_LOG_LINES=$(wc -l <"$(peer_run_dir)/peer.log"); }
peer_warnings() { tail -n +"$((PEER_LOG_LINES + 1))" "$(peer_run_dir)/peer.log" | grep -c WARNING; }

# bench_hey NAME HEY-ARGUMENTS... URL: hey (HTTP/1.1, keep-alive), every
# request's time and status in $APEX_RUN_DIR/hey-NAME.csv; sets HEY_DONE
# (answers with status 200), HEY_ERRORS (other answers; with -n, requests
# that got none count too), HEY_RPS (200s per second of the run's wall time)
hey_pct() { awk -F, 'NR > 1 && $7 == 200 { print $1 * 1000 }' "$HEY_CSV" | bench_pct "$@"; }
bench_hey() {
  local name=$1 t0 t1 n=''
  shift
  HEY_CSV=$APEX_RUN_DIR/hey-$name.csv
  [ "$1" = -n ] && n=$2
  t0=$(date +%s%N)
  hey -o csv "$@" >"$HEY_CSV" 2>"$APEX_RUN_DIR/hey-$name.err" ||
    { cat "$APEX_RUN_DIR/hey-$name.err" >&2; echo "table: hey $name failed" >&2; return 1; }
  t1=$(date +%s%N)
  HEY_DONE=$(awk -F, 'NR > 1 && $7 == 200' "$HEY_CSV" | wc -l)
  HEY_ERRORS=$(awk -F, 'NR > 1 && $7 != 200' "$HEY_CSV" | wc -l)
  [ -n "$n" ] && HEY_ERRORS=$((n - HEY_DONE))
  HEY_RPS=$(awk -v d="$HEY_DONE" -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", d / (t / 1e9) }')
}

# the test servers' CPU (% of one CPU) and the machine's busy share between
# cpu_start and cpu_stop: "servers-% machine-%"; CPU_TICKS: ticks of the
# trees given to cpu_start
cpu_start() { CPU_ROOTS="$*"; CPU_S0=$(bench_cpu_sample "$SERVERS_PID") CPU_T0=$(bench_cpu_sample "$CPU_ROOTS"); }
cpu_stop() {
  local s1 t1
  s1=$(bench_cpu_sample "$SERVERS_PID") t1=$(bench_cpu_sample "$CPU_ROOTS")
  CPU_TICKS=$(( ${t1##* } - ${CPU_T0##* } ))
  CPU_SHARE=$(bench_cpu_share "$CPU_S0" "$s1")
}
servers_note() {
  local near=''
  # one Node process serves them all: near one CPU, they set the pace
  [ "${CPU_SHARE% *}" -ge 85 ] && near=' (near saturation: the test servers may be the bottleneck)'
  echo "test servers ${CPU_SHARE% *} % of a CPU$near, machine ${CPU_SHARE#* } % busy"
}

ROWS=()
# row MEASUREMENT APEX_ROUTER COMPARED-WITH RATIO TARGET MET NOTES
row() { ROWS+=("$(printf '%s\t' "$@")"); }

# --- 1. one call ------------------------------------------------------

bench_delays "$NEO4J_MS" "$QDRANT_MS" "$EMBED_MS" || exit 1
apex_log "1/7 single calls: $N per mode (concurrent, sequential, each source alone), and the peer"
"${PSQL[@]}" -v srcs="$SRCS" -v n="$N" -v q="$QUERY" >/dev/null <<'SQL' || exit 1
CREATE TABLE bench_times (what text, ms float8);
CREATE FUNCTION bench_single(q text, srcs text[], n int, warm int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE c float8; s float8; src text; x float8;
BEGIN
  FOR i IN 1 .. warm + n LOOP
    c := bench_call_ms(q, srcs);
    PERFORM set_config('apex_router.sequential', 'on', false);
    s := bench_call_ms(q, srcs);
    PERFORM set_config('apex_router.sequential', 'off', false);
    IF i > warm THEN INSERT INTO bench_times VALUES ('concurrent', c), ('sequential', s); END IF;
    FOREACH src IN ARRAY srcs LOOP
      x := bench_call_ms(q, ARRAY[src]);
      IF i > warm THEN INSERT INTO bench_times VALUES ('leg ' || src, x); END IF;
    END LOOP;
  END LOOP;
END $$;
SELECT bench_single(:'q', :'srcs', :n, 2);
SQL
declare -A MED
while IFS='|' read -r what ms; do MED[$what]=$ms; done < <("${PSQL[@]}" -c \
  "SELECT what, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) FROM bench_times GROUP BY 1")
SLOWEST_LEG='' SLOWEST=0
for s in ${SOURCES//,/ }; do
  if [ "$(le "${MED[leg $s]}" "$SLOWEST")" = no ]; then SLOWEST_LEG=$s SLOWEST=${MED[leg $s]}; fi
done
legs=$(for s in ${SOURCES//,/ }; do printf '%s %s ms, ' "$s" "$(f1 "${MED[leg $s]}")"; done)
row "one call over {$SOURCES}, median ms" "$(f1 "${MED[concurrent]}")" \
  "sequential mode $(f1 "${MED[sequential]}")" "$(ratio "${MED[concurrent]}" "${MED[sequential]}")" "" "" \
  "alone: ${legs%, }"
row "one call vs its slowest leg alone" "$(f1 "${MED[concurrent]}")" \
  "$SLOWEST_LEG alone $(f1 "$SLOWEST")" "$(ratio "${MED[concurrent]}" "$SLOWEST")" "" "" \
  "1.00 = a call costs its slowest leg"
peer_with_delays "$NEO4J_MS" "$QDRANT_MS" "$EMBED_MS" || exit 1
peer_mark
bench_hey single-warm -n 2 -c 1 "$ROUTE_URL" || exit 1
bench_hey single -n "$N" -c 1 "$ROUTE_URL" || exit 1
PEER_ONE=$(hey_pct 50)
row "one call vs the peer's /route, median ms" "$(f1 "${MED[concurrent]}")" "peer $(f1 "$PEER_ONE")" \
  "$(ratio "${MED[concurrent]}" "$PEER_ONE")" "" "" "peer: $N calls, 1 client (hey), errors $((HEY_ERRORS + $(peer_warnings)))"

# --- 2. 100 questions -----------------------------------------------------

apex_log "2/7 $Q questions: apex_route_many, $Q sessions at once, the peer's /route_many and $Q requests at once ($RUNS runs each)"
"${PSQL[@]}" -v srcs="$SRCS" -v q="$Q" -v n="$RUNS" -v conc="$CONC" -v question="$BENCH_QUESTION" >/dev/null <<'SQL' || exit 1
CREATE TABLE questions AS SELECT array_agg(:'question' || i ORDER BY i) AS qs FROM generate_series(1, :q) i;
SELECT bench_batch_ms(qs, :'srcs', :conc) FROM questions;   -- warm-up
INSERT INTO bench_times SELECT 'batch', bench_batch_ms(qs, :'srcs', :conc) FROM questions, generate_series(1, :n);
SQL
BATCH=$("${PSQL[@]}" -c "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM bench_times WHERE what = 'batch'")
# the same without the sql source: the remote sources alone (bench/route_many.sh's)
remote=$(tr ',' '\n' <<<"$SOURCES" | grep -v '^docs$' | paste -sd ,)
if [ "$remote" != "$SOURCES" ]; then
  "${PSQL[@]}" -v srcs="{$remote}" -v n="$RUNS" -v conc="$CONC" -v q="$QUERY" >/dev/null <<'SQL' || exit 1
SELECT bench_batch_ms(qs, :'srcs', :conc) FROM questions;   -- warm-up
INSERT INTO bench_times SELECT 'batch remote', bench_batch_ms(qs, :'srcs', :conc) FROM questions, generate_series(1, :n);
INSERT INTO bench_times SELECT 'one remote', bench_call_ms(:'q', :'srcs') FROM generate_series(1, :n);
SQL
  read -r BATCH_R ONE_R <<<"$("${PSQL[@]}" -F ' ' -c "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE what = 'batch remote'),
                                                            percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE what = 'one remote') FROM bench_times")"
fi
at_once=() peer_many=() peer_once=() peer_errors=0
cpu_start "$PEER_PID"
for _ in $(seq "$RUNS"); do
  t=$(bench_sessions_at_once "$Q" "$SOURCES") || exit 1
  at_once+=("$t")
done
cpu_stop
AT_ONCE=$(printf '%s\n' "${at_once[@]}" | bench_median) SHARE_AT_ONCE=$(servers_note)
# the peer: the same questions in one /route_many, and from Q connections at once
{ printf '{"k": 10, "sources": ["%s"], "queries": [' "${SOURCES//,/\", \"}"
  seq "$Q" | awk -v q="$BENCH_QUESTION" '{ printf "%s\"%s%d\"", (NR > 1 ? ", " : ""), q, $1 }'
  printf ']}\n'; } >"$APEX_RUN_DIR/many.json"
for i in $(seq "$Q"); do
  printf 'url = "%s/route?q=%s%d&k=10&sources=%s"\noutput = /dev/null\n' "$PEER_URL" "${BENCH_QUESTION// /%20}" "$i" "$SOURCES"
done >"$APEX_RUN_DIR/at_once.curl"
peer_mark
curl -sf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$APEX_RUN_DIR/many.json" "$PEER_URL/route_many" || exit 1
cpu_start "$PEER_PID"
for _ in $(seq "$RUNS"); do
  t=$(curl -sf -o "$APEX_RUN_DIR/many.out" -w '%{time_total}' -H 'Content-Type: application/json' \
    --data-binary @"$APEX_RUN_DIR/many.json" "$PEER_URL/route_many") || { echo "table: the peer's /route_many failed" >&2; exit 1; }
  /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["results"]) == int(sys.argv[2]) and all(r["rows"] and not r["errors"] for r in d["results"]), "peer /route_many: a question without rows or with a failed source"
' "$APEX_RUN_DIR/many.out" "$Q" || exit 1
  peer_many+=("$(awk -v t="$t" 'BEGIN { print t * 1000 }')")
done
cpu_stop
PEER_MANY=$(printf '%s\n' "${peer_many[@]}" | bench_median) SHARE_PEER_MANY=$(servers_note)
cpu_start "$PEER_PID"
for _ in $(seq "$RUNS"); do
  t0=$(date +%s%N)
  codes=$(curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$Q" -w '%{http_code}\n' \
    -K "$APEX_RUN_DIR/at_once.curl" 2>"$APEX_RUN_DIR/at_once.curl.err")
  t1=$(date +%s%N)
  bad=$(grep -vc '^200$' <<<"$codes")
  peer_errors=$((peer_errors + bad))
  peer_once+=("$(( (t1 - t0) / 1000 ))e-3")
done
cpu_stop
peer_errors=$((peer_errors + $(peer_warnings)))
PEER_ONCE=$(printf '%s\n' "${peer_once[@]}" | bench_median) SHARE_PEER_ONCE=$(servers_note)
row "$Q questions: apex_route_many vs one apex_route, ms" "$(f1 "$BATCH")" "one call $(f1 "${MED[concurrent]}")" \
  "$(ratio "$BATCH" "${MED[concurrent]}")" "<= 1.4" "$(le "$(ratio "$BATCH" "${MED[concurrent]}")" 1.4)" \
  "median of $RUNS, max_concurrency $CONC"
[ "$remote" != "$SOURCES" ] &&
  row "  the same over {$remote} (no sql source)" "$(f1 "$BATCH_R")" "one call $(f1 "$ONE_R")" \
    "$(ratio "$BATCH_R" "$ONE_R")" "<= 1.4" "$(le "$(ratio "$BATCH_R" "$ONE_R")" 1.4)" "median of $RUNS (bench/route_many.sh's sources)"
row "$Q questions: apex_route_many vs $Q sessions at once, ms" "$(f1 "$BATCH")" "$Q sessions $(f1 "$AT_ONCE")" \
  "$(ratio "$BATCH" "$AT_ONCE")" "" "" "sessions: pgbench -c $Q -t 1; $SHARE_AT_ONCE"
row "$Q questions: apex_route_many vs the peer's /route_many, ms" "$(f1 "$BATCH")" "peer $(f1 "$PEER_MANY")" \
  "$(ratio "$BATCH" "$PEER_MANY")" "" "" "$SHARE_PEER_MANY"
row "$Q questions: $Q sessions vs the peer, $Q requests at once, ms" "$(f1 "$AT_ONCE")" "peer $(f1 "$PEER_ONCE")" \
  "$(ratio "$AT_ONCE" "$PEER_ONCE")" "" "" "peer: curl --parallel, errors $peer_errors; $SHARE_PEER_ONCE"

# --- 3. 1000 calls from 50 sessions -------------------------------------

apex_log "3/7 $LOAD_CALLS calls from $LOAD_CLIENTS sessions: pgbench, then the peer (hey)"
nsrc=$(tr ',' '\n' <<<"$SOURCES" | wc -l)
# a call that did not hear from every source fails (division by zero)
printf "SELECT 1 / (count(DISTINCT s) = %d)::int FROM apex_route('%s', k => 10, sources => '%s'), unnest(found_in) s;\n" \
  "$nsrc" "$QUERY" "$SRCS" >"$APEX_RUN_DIR/route.sql"
cpu_start "$POSTMASTER_PID"
bench_pgbench load -M prepared -f "$APEX_RUN_DIR/route.sql" -c "$LOAD_CLIENTS" -j 2 \
  -t $((LOAD_CALLS / LOAD_CLIENTS)) postgres || exit 1
cpu_stop
read -r A50 A95 A99 <<<"$(bench_pgbench_pct load 50 95 99)"
A_TPS=$BENCH_TPS A_ERR=$((BENCH_FAILED + BENCH_NOTICES)) A_INLINE=$BENCH_INLINE SHARE_A=$(servers_note)
peer_mark
cpu_start "$PEER_PID"
bench_hey load -n "$LOAD_CALLS" -c "$LOAD_CLIENTS" "$ROUTE_URL" || exit 1
cpu_stop
P_TPS=$HEY_RPS P_ERR=$((HEY_ERRORS + $(peer_warnings))) SHARE_P=$(servers_note)
read -r P50 P95 P99 <<<"$(hey_pct 50 95 99)"
row "$LOAD_CALLS calls from $LOAD_CLIENTS sessions: calls/s vs the peer" "$(f1 "$A_TPS")" "peer $(f1 "$P_TPS")" \
  "$(ratio "$A_TPS" "$P_TPS")" "" "" "apex: $SHARE_A, $A_INLINE sql legs inline (no free worker); peer: $SHARE_P"
row "  p50 / p95 / p99 ms vs the peer's" "$(f1 "$A50") / $(f1 "$A95") / $(f1 "$A99")" \
  "peer $(f1 "$P50") / $(f1 "$P95") / $(f1 "$P99")" "$(ratio "$A99" "$P99") (p99)" "" "" ""
met=no
[ "$(le "$(ratio "$A99" "$SLOWEST")" 1.2)" = yes ] && [ "$A_ERR" -eq 0 ] && met=yes
row "  p99 vs the slowest leg alone, ms" "$(f1 "$A99")" "$SLOWEST_LEG alone $(f1 "$SLOWEST")" \
  "$(ratio "$A99" "$SLOWEST")" "<= 1.2, 0 errors" "$met" "peer: $(ratio "$P99" "$SLOWEST")"
row "  errors (failed calls, failed sources)" "$A_ERR" "peer $P_ERR" "" "0" "$([ "$A_ERR" -eq 0 ] && echo yes || echo no)" ""

# --- 4. zero latency ------------------------------------------------------

apex_log "4/7 calls/s at zero latency: pgbench -c $ZERO_CLIENTS for $ZERO_SECONDS s, then the peer (hey -c $ZERO_CLIENTS)"
bench_delays 0 0 0 || exit 1
peer_with_delays 0 0 0 || exit 1
bench_pgbench zero-warm -M prepared -f "$APEX_RUN_DIR/route.sql" -c "$ZERO_CLIENTS" -j 2 -T 2 postgres || exit 1
cpu_start "$POSTMASTER_PID"
bench_pgbench zero -M prepared -f "$APEX_RUN_DIR/route.sql" -c "$ZERO_CLIENTS" -j 2 -T "$ZERO_SECONDS" postgres || exit 1
cpu_stop
Z_TPS=$BENCH_TPS Z_ERR=$((BENCH_FAILED + BENCH_NOTICES)) Z_INLINE=$BENCH_INLINE SHARE_Z=$(servers_note)
Z_CPU=$(awk -v t="$CPU_TICKS" -v n="$BENCH_DONE" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz * 1000 / n }')
peer_mark
bench_hey zero-warm -z 2s -c "$ZERO_CLIENTS" "$ROUTE_URL" || exit 1
cpu_start "$PEER_PID" "$POSTMASTER_PID"
bench_hey zero -z "${ZERO_SECONDS}s" -c "$ZERO_CLIENTS" "$ROUTE_URL" || exit 1
cpu_stop
ZP_TPS=$HEY_RPS ZP_ERR=$((HEY_ERRORS + $(peer_warnings))) SHARE_ZP=$(servers_note)
ZP_CPU=$(awk -v t="$CPU_TICKS" -v n="$HEY_DONE" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f", t / hz * 1000 / n }')
peer_stop
zr=$(ratio "$Z_TPS" "$ZP_TPS")
row "zero latency: calls/s vs the peer" "$(f1 "$Z_TPS")" "peer $(f1 "$ZP_TPS")" "$zr" ">= 5" \
  "$(awk -v r="$zr" 'BEGIN { print (r >= 5 ? "yes" : "no") }')" \
  "$ZERO_CLIENTS clients; errors $Z_ERR, peer $ZP_ERR; apex: $SHARE_Z, $Z_INLINE sql legs inline; peer: $SHARE_ZP"
row "zero latency: CPU ms per call, all processes" "$(f2 "$Z_CPU")" "peer $(f2 "$ZP_CPU")" "$(ratio "$Z_CPU" "$ZP_CPU")" "" "" \
  "PostgreSQL's processes vs the peer's and PostgreSQL's (its docs queries), during the load above"

# --- 5. the backend's CPU per call ---------------------------------------------

apex_log "5/7 the backend's CPU per call: $CPU_N calls at zero latency"
CPU_HTTP=$("${PSQL[@]}" -c "SELECT cpu_ms FROM bench_call_cost('$QUERY', '{$remote}', 10, $CPU_N)") || exit 1
CPU_ALL=$("${PSQL[@]}" -c "SELECT cpu_ms FROM bench_call_cost('$QUERY', '$SRCS', 10, $CPU_N)") || exit 1
row "backend CPU ms per call, {$remote}$([ "$remote" = graph,vectors ] && echo " (3 HTTP requests)")" "$(f2 "$CPU_HTTP")" "{$SOURCES} $(f2 "$CPU_ALL")" \
  "" "<= 0.2" "$(le "$CPU_HTTP" 0.2)" "/proc/self/stat over $CPU_N calls; no sql leg, nothing to subtract"
# The floor: the same three requests from curl alone (libcurl, kept
# connections, answers thrown away: no JSON read, no fusion, no rows), its
# user and system CPU over CPU_N rounds.
/usr/bin/python3 bench/floor_requests.py curl 10 "$CPU_N" "$APEX_RUN_DIR/floor.curl" || exit 1
read -r CURL_U CURL_S <<<"$(TIMEFORMAT='%3U %3S'; { time curl -sS -K "$APEX_RUN_DIR/floor.curl" >/dev/null 2>&1; } 2>&1)"
CURL_MS=$(awk -v u="$CURL_U" -v s="$CURL_S" -v n="$CPU_N" 'BEGIN { print (u + s) * 1000 / n }')
CURL_SYS=$(awk -v s="$CURL_S" -v n="$CPU_N" 'BEGIN { print s * 1000 / n }')
row "  the same 3 requests from curl alone, CPU ms per round" "$(f2 "$CPU_HTTP")" "curl $(f2 "$CURL_MS")" \
  "$(ratio "$CPU_HTTP" "$CURL_MS")" "" "" "curl -K: $CPU_N rounds, kept connections, answers not read; of its CPU $(f2 "$CURL_SYS") ms is the kernel's"

# --- 6. cache hits -----------------------------------------------------------

apex_log "6/7 cache hits: pgbench, 1 client, $CACHE_SECONDS s"
bench_delays "$NEO4J_MS" "$QDRANT_MS" "$EMBED_MS" || exit 1
printf 'SELECT 1;\n' >"$APEX_RUN_DIR/select1.sql"
bench_pgbench select1 -M prepared -f "$APEX_RUN_DIR/select1.sql" -c 1 -T "$CACHE_SECONDS" postgres || exit 1
S50=$(bench_pgbench_pct select1 50)
export PGOPTIONS="-c apex_router.cache_source=recent -c apex_router.cache_mode=first"
"${PSQL[@]}" -c "SELECT bench_call_ms('$QUERY', '$SRCS')" >/dev/null || exit 1   # the miss that fills it
bench_pgbench cache -M prepared -f "$APEX_RUN_DIR/route.sql" -c 1 -T "$CACHE_SECONDS" postgres || exit 1
unset PGOPTIONS
read -r C50 C99 <<<"$(bench_pgbench_pct cache 50 99)"
C_ERR=$((BENCH_FAILED + BENCH_NOTICES))
row "cache hit, p50 ms (pgbench, 1 client)" "$(f2 "$C50")" "SELECT 1 $(f2 "$S50")" "$(ratio "$C50" "$S50")" "<= 0.25" \
  "$(le "$C50" 0.25)" "p99 $(f2 "$C99") (a miss costs about $(f1 "${MED[concurrent]}")); $BENCH_DONE calls, errors $C_ERR"

# --- 7. growth with k and with sources ----------------------------------------

apex_log "7/7 growth: a $ITEMS-item corpus, k = $KS over {$GROWTH_SOURCES}; $SOURCE_COUNTS sources at k = $SOURCES_K"
apex_servers_stop
/usr/bin/python3 bench/corpus.py "$ITEMS" "$APEX_RUN_DIR/corpus.json" || exit 1
chmod 644 "$APEX_RUN_DIR/corpus.json"
APEX_BENCH_FIXTURES=$APEX_RUN_DIR/corpus.json apex_servers_start || exit 1
apex_ports_started
SERVERS_PID=$(cat "$APEX_RUN_DIR/servers.pid")
bench_delays 0 0 0 || exit 1
# copies of graph and vectors (the same test servers, options and mappings)
maxsrc=0
for c in $SOURCE_COUNTS; do [ "$c" -gt "$maxsrc" ] && maxsrc=$c; done
"${PSQL[@]}" -v copies=$(((maxsrc + 1) / 2)) >/dev/null <<'SQL' || exit 1
SELECT format('CREATE SERVER %I FOREIGN DATA WRAPPER apex_router OPTIONS (%s)', s.srvname || '_' || i,
              (SELECT string_agg(format('%I %L', split_part(o, '=', 1), substr(o, position('=' IN o) + 1)), ', ')
               FROM unnest(s.srvoptions) o)),
       format('CREATE USER MAPPING FOR PUBLIC SERVER %I OPTIONS (%s)', s.srvname || '_' || i,
              (SELECT string_agg(format('%I %L', split_part(o, '=', 1), substr(o, position('=' IN o) + 1)), ', ')
               FROM pg_user_mapping m, unnest(m.umoptions) o WHERE m.umserver = s.oid))
FROM pg_foreign_server s, generate_series(2, :copies) i
WHERE s.srvname IN ('graph', 'vectors') \gexec
SQL
cost() {  # SOURCES K: "median-ms cpu-ms calls rows items peak-kB", in a session of its own
  "${PSQL[@]}" -F ' ' -c "SELECT round(median_ms::numeric, 3), round(cpu_ms::numeric, 3), calls, rows, items, peak_kb
                          FROM bench_call_cost('$QUERY', '{$1}', $2, $GROWTH_N, $GROWTH_CPU_MS)"
}
# the restarted test servers warmed up (Node's JIT) at the largest k
kmax=0
for k in $KS; do [ "$k" -gt "$kmax" ] && kmax=$k; done
"${PSQL[@]}" -c "SELECT count(bench_call_ms('$QUERY', '{$GROWTH_SOURCES}', $kmax)) FROM generate_series(1, 5)" >/dev/null || exit 1
# The floor at the largest k: the same two answers read by jsonb_in alone
JSONB_MS=''
if [ "$GROWTH_SOURCES" = graph,vectors ]; then
  BENCH_QUESTION=$QUERY /usr/bin/python3 bench/floor_requests.py answers "$kmax" "$APEX_RUN_DIR" || exit 1
  chmod 644 "$APEX_RUN_DIR/neo4j.json" "$APEX_RUN_DIR/qdrant.json"
  JSONB_MS=$("${PSQL[@]}" -c "SELECT jsonb_in_cpu_ms('{$APEX_RUN_DIR/neo4j.json,$APEX_RUN_DIR/qdrant.json}', 100)") || exit 1
  JSON_MS=$("${PSQL[@]}" -c "SELECT jsonb_in_cpu_ms('{$APEX_RUN_DIR/neo4j.json,$APEX_RUN_DIR/qdrant.json}', 100, false)") || exit 1
fi
first_ms='' first_label=''
for k in $KS; do
  cpu_start
  read -r ms cpu calls _ items kb <<<"$(cost "$GROWTH_SOURCES" "$k")"
  [ -n "$kb" ] || exit 1
  cpu_stop
  us=$(awk -v c="$cpu" -v i="$items" 'BEGIN { printf "%.1f", c * 1000 / (i > 0 ? i : 1) }')
  target='' met=''
  floor=''
  [ "$k" = 1000 ] && target='<= 2 us/item' met=$(le "$us" 2)
  [ "$k" = "$kmax" ] && [ -n "$JSONB_MS" ] &&
    floor="; the same two answers read alone by jsonb_in $(f2 "$JSONB_MS") ms, $(awk -v c="$JSONB_MS" -v i="$items" 'BEGIN { printf "%.1f", c * 1000 / (i > 0 ? i : 1) }') us/item, by json_in (lexer only) $(f2 "$JSON_MS") ms, $(awk -v c="$JSON_MS" -v i="$items" 'BEGIN { printf "%.1f", c * 1000 / (i > 0 ? i : 1) }') us/item"
  row "k = $k, {$GROWTH_SOURCES}, median ms" "$(f1 "$ms")" "${first_label:-}" \
    "$([ -n "$first_ms" ] && ratio "$ms" "$first_ms")" "$target" "$met" \
    "$items items; backend CPU $(f2 "$cpu") ms/call ($calls calls), $us us/item$floor; peak RSS +$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }') MB; $(servers_note)"
  [ -z "$first_ms" ] && first_ms=$ms first_label="k = $k $(f1 "$ms")"
done
all_src=$(for i in $(seq 1 $(((maxsrc + 1) / 2))); do
  if [ "$i" = 1 ]; then printf 'graph\nvectors\n'; else printf 'graph_%d\nvectors_%d\n' "$i" "$i"; fi; done)
first_ms='' first_label=''
for c in $SOURCE_COUNTS; do
  list=$(head -n "$c" <<<"$all_src" | paste -sd ,)
  cpu_start
  read -r ms cpu calls _ items kb <<<"$(cost "$list" "$SOURCES_K")"
  [ -n "$kb" ] || exit 1
  cpu_stop
  row "$c source(s) at k = $SOURCES_K, median ms" "$(f1 "$ms")" "${first_label:-}" \
    "$([ -n "$first_ms" ] && ratio "$ms" "$first_ms")" "" "" \
    "{$list}: $items items; backend CPU $(f2 "$cpu") ms/call ($calls calls); peak RSS +$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }') MB; $(servers_note)"
  [ -z "$first_ms" ] && first_ms=$ms first_label="1 source $(f1 "$ms")"
done

# --- the table ------------------------------------------------------------------

echo
echo "apex_router against its baselines and the Python peer: one run, $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "revision $(apex_rev_label "$APEX_WORKTREE"); sources {$SOURCES}, k 10, question '$QUERY'; injected: Neo4j $NEO4J_MS ms, Qdrant $QDRANT_MS ms, embedder $EMBED_MS ms (none in the zero-latency, backend CPU and growth rows)"
echo "peer: bench/peer, $PEER_WORKERS uvicorn worker(s), loaded with hey and curl --parallel; ratio = apex_router / compared with; run took $((SECONDS - started)) s"
echo
{
  printf 'measurement\tapex_router\tcompared with\tratio\ttarget\tmet\tnotes\t\n'
  printf '%s\n' "${ROWS[@]}"
} | awk -F '\t' '
  { n = NR; for (i = 1; i <= 7; i++) { c[n, i] = $i; if (length($i) > w[i]) w[i] = length($i) } }
  END {
    for (r = 1; r <= n; r++) {
      line = "|"
      for (i = 1; i <= 7; i++) line = line sprintf(" %-" w[i] "s |", c[r, i])
      print line
      if (r == 1) { line = "|"; for (i = 1; i <= 7; i++) { d = ""; for (j = 0; j < w[i] + 2; j++) d = d "-"; line = line d "|" }; print line }
    }
  }'
