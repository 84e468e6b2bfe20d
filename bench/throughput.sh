#!/usr/bin/env bash
# Benchmark: apex_route calls per second at zero injected latency, two
# revisions compared in one run (issue 10: "calls/s at zero latency before
# and after, same run").
#
# Builds REV_BEFORE and REV_AFTER (default: the working tree, uncommitted
# changes included) each in a copy of its own under the run directory,
# each installed into a private installation of Debian's PostgreSQL 15 of
# its own (test/lib.sh, apex_rev_install), then R rounds, each measuring
# BEFORE then AFTER (ABAB...): restart the local cluster from the
# revision's installation, create a fresh database with the suite's
# sources, check that a call over them succeeds, and run pgbench on one
# apex_route call over a source of every transport (sql, postgres, redis,
# and the HTTP kinds neo4j, qdrant with its embedder, graphiti), result
# cache off.  Prints a table and the median of the rounds' AFTER/BEFORE
# ratios.  Runs in $APEX_HOME/throughput on a free block of ports
# (test/lib.sh, "Ports"), so beside test runs, the demo and other
# checkouts; at exit, stops every server and removes the builds.  See
# bench/README.md.
#
# With --cache, the result cache is on (the redis source `recent` holds
# it, mode first) and every measured call is a hit: the cost of a hit.
#
# Usage: sudo bench/throughput.sh [--seconds N] [--rounds R] [--clients C]
#          [--warmup W] [--sources LIST] [--cache] REV_BEFORE [REV_AFTER]
set -u

usage() {
  cat <<'EOF'
usage: bench/throughput.sh [options] REV_BEFORE [REV_AFTER]
  REV_BEFORE, REV_AFTER  git revisions; REV_AFTER defaults to the working tree
  --seconds N   length of each pgbench measurement (default 10)
  --rounds R    number of BEFORE/AFTER pairs, alternated (default 3)
  --clients C   pgbench clients and threads (default 2)
  --warmup W    seconds of pgbench before each measurement, not counted (default 2)
  --sources L   comma-separated sources of the measured call
                (default docs,remote_docs,recent,graph,vectors,facts)
  --cache       result cache on (in the redis source recent, mode first):
                every measured call is a cache hit
EOF
}

DURATION=10 ROUNDS=3 CLIENTS=2 WARMUP=2
SOURCES=docs,remote_docs,recent,graph,vectors,facts
QUERY='Sarah roadmap' K=10
CACHE_MODE=off
revs=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds|--rounds|--clients|--warmup|--sources)
      [ $# -ge 2 ] || { usage >&2; exit 1; }
      case $1 in
        --seconds) DURATION=$2 ;; --rounds) ROUNDS=$2 ;; --clients) CLIENTS=$2 ;;
        --warmup) WARMUP=$2 ;; --sources) SOURCES=$2 ;;
      esac
      shift 2 ;;
    --cache) CACHE_MODE=first; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "throughput: unknown option $1" >&2; usage >&2; exit 1 ;;
    *) revs+=("$1"); shift ;;
  esac
done
case ${#revs[@]} in 1|2) ;; *) usage >&2; exit 1 ;; esac
for v in "$DURATION" "$ROUNDS" "$CLIENTS"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "throughput: $v is not a positive integer" >&2; exit 1; }
done
[[ $WARMUP =~ ^[0-9]+$ ]] || { echo "throughput: --warmup $WARMUP is not an integer" >&2; exit 1; }
[[ $SOURCES =~ ^[a-z_][a-z0-9_]*(,[a-z_][a-z0-9_]*)*$ ]] ||
  { echo "throughput: --sources wants names separated by commas" >&2; exit 1; }

. "$(dirname "$0")/../test/lib.sh"
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/throughput
PGC=$APEX_DEBIAN_PG_BINDIR/pg_config

# The revisions, resolved now: a later commit must not change what we measure.
for r in "${revs[@]}"; do
  git rev-parse -q --verify "$r^{commit}" >/dev/null || { echo "throughput: $r is not a git revision" >&2; exit 1; }
done
BEFORE=$(git rev-parse "${revs[0]}^{commit}")
AFTER=$APEX_WORKTREE
[ ${#revs[@]} -eq 2 ] && AFTER=$(git rev-parse "${revs[1]}^{commit}")
BEFORE_LABEL=$(apex_rev_label "${revs[0]}")
AFTER_LABEL=$(apex_rev_label "${revs[1]:-$APEX_WORKTREE}")

apex_install_deps || exit 1

WORK=$APEX_RUN_DIR/builds

cleanup() {
  apex_servers_stop; apex_redis stop; apex_remote_pg stop; apex_pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# whatever an earlier run left (its installations may be gone: any pg_ctl
# of the release stops its cluster)
APEX_PG_BINDIR=$APEX_DEBIAN_PG_BINDIR
cleanup
rm -rf "$APEX_RUN_DIR"
mkdir -p "$WORK" || exit 1

# each revision in a copy of its own, installed into a private installation
# of its own (test/lib.sh)
apex_rev_install "$WORK/before" "$BEFORE" || exit 1
apex_rev_install "$WORK/after" "$AFTER" || exit 1
same_sources=''
cmp -s "$WORK/before.sources" "$WORK/after.sources" && same_sources=yes

# The servers, for the whole run, on a block of ports nothing else holds
# (so we measure our own servers only); only the local cluster restarts,
# from the installation of the revision measured.
apex_ports_claim || exit 1
apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
APEX_PG_BINDIR=$(apex_inst_bindir "$PGC" "$WORK/before.inst")
apex_pg_start || exit 1
apex_remote_pg start || exit 1
apex_redis start || exit 1
apex_servers_start || exit 1
apex_ports_started
# the remote corpus was just loaded: analyzed now, not by autovacuum later
psql -X -q -v ON_ERROR_STOP=1 -h "$APEX_RUN_DIR" -p "$APEX_REMOTE_PGPORT" -U postgres -d memory \
  -c 'VACUUM ANALYZE notes' -c CHECKPOINT || exit 1

DB=apex_bench
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# A fresh database with the suite's sources: those of the tests' shared
# setup, test/sql/include/setup.sql (sql, neo4j, qdrant and its embedder),
# include/more_sources.sql (a postgres and a redis source) and, as
# test/sql/source_graphiti.sql creates it, a graphiti source, on the ports setup.sql's variables name.  Fresh in every round:
# the two revisions may install different extension scripts.
setup() {
  "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" || return 1
  { cat test/sql/include/setup.sql; cat <<'SQL'; } | "${PSQL[@]}" -d "$DB" -v abs_srcdir="$APEX_ROOT/test" \
    -v cache_mode="$CACHE_MODE" >"$APEX_RUN_DIR/setup.out" 2>&1 ||
\i :abs_srcdir/sql/include/more_sources.sql
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
-- the result cache as asked (off, whatever the defaults become)
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET apex_router.cache_mode = :'cache_mode';
ALTER DATABASE :"db" SET apex_router.cache_source = 'recent';
-- now rather than by autovacuum during a measurement
VACUUM ANALYZE notes;
CHECKPOINT;
SQL
    { cat "$APEX_RUN_DIR/setup.out" >&2; return 1; }
}

SOURCES_ARRAY="{$SOURCES}"
QUERY_SQL="'${QUERY//\'/\'\'}'"
CALL="apex_route($QUERY_SQL, k => $K, sources => '$SOURCES_ARRAY')"

# Every source alone must return rows, and the measured call must return
# rows without a WARNING (apex_route reports a failed source as a WARNING
# and carries on: a failing leg would look fast).  Prints the measured
# call's row count, which pgbench then checks on every call.
check() {
  local out err rows s
  err=$APEX_RUN_DIR/check.err
  for s in ${SOURCES//,/ }; do
    rows=$("${PSQL[@]}" -At -d "$DB" -c "SELECT count(*) FROM apex_route($QUERY_SQL, k => $K, sources => '{$s}')" 2>"$err") ||
      { cat "$err" >&2; echo "throughput: a call over source $s failed" >&2; return 1; }
    if [ "$rows" -eq 0 ] || grep -q . "$err"; then
      cat "$err" >&2; echo "throughput: source $s returned $rows rows" >&2; return 1
    fi
  done
  out=$("${PSQL[@]}" -At -d "$DB" -c "SELECT count(*) FROM $CALL" -c "SHOW apex_router.cache_mode" 2>"$err") ||
    { cat "$err" >&2; echo "throughput: the measured call failed" >&2; return 1; }
  if grep -q . "$err" || [ "$(sed -n 2p <<<"$out")" != "$CACHE_MODE" ] || [ "$(sed -n 1p <<<"$out")" -eq 0 ]; then
    cat "$err" >&2; echo "throughput: the measured call returned '$out' (rows, cache_mode)" >&2; return 1
  fi
  sed -n 1p <<<"$out"
}

# pgbench SCRIPT SECONDS: prints the transactions per second.  Fails when
# pgbench fails, a transaction failed, or the server sent a notice (the
# WARNING of a failed source).
pgbench_tps() {
  local script=$1 secs=$2 out=$APEX_RUN_DIR/pgbench.out err=$APEX_RUN_DIR/pgbench.err tps failed
  "$PGBENCH" -n -M prepared -f "$script" -c "$CLIENTS" -j "$CLIENTS" -T "$secs" "$DB" >"$out" 2>"$err"
  local rc=$?
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out")
  if [ "$rc" -ne 0 ] || [ -z "$tps" ] || [ "${failed:-0}" -ne 0 ] || grep -q . "$err"; then
    cat "$out" "$err" >&2
    echo "throughput: pgbench on $script failed (exit $rc, ${failed:-?} failed transactions)" >&2
    return 1
  fi
  printf '%.1f\n' "$tps"
}

# The machine's CPU time and the test bed's share of it, in clock ticks:
# "busy total ours" (bench/lib.sh, bench_cpu_sample).  The test bed is this
# shell (pgbench and psql count in its children's time once they have
# ended), the two clusters, Redis and the test servers, with their
# children, running or ended.
# shellcheck disable=SC2046  # the pid files: one pid a word
cpu_sample() {
  bench_cpu_sample "$$" $(head -qn1 "$APEX_RUN_DIR/pgdata/postmaster.pid" "$APEX_RUN_DIR/remote/postmaster.pid") \
    $(cat "$APEX_RUN_DIR/redis.pid" "$APEX_RUN_DIR/servers.pid" "$APEX_RUN_DIR/tcp_faults.pid")
}

# The share of the machine's CPU time used outside the test bed between two
# samples, in percent: another program's work disturbs a measurement.
other_cpu() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "%.0f", 100 * ((y[1] - x[1]) - (y[3] - x[3])) / (y[2] - x[2]) }'
}

# pgbench_measure SCRIPT SECONDS: prints "calls/s other-CPU-%".
pgbench_measure() {
  local s0 s1 tps
  s0=$(cpu_sample)
  tps=$(pgbench_tps "$1" "$2") || return 1
  s1=$(cpu_sample)
  echo "$tps $(other_cpu "$s0" "$s1")"
}

printf 'SELECT 1;\n' >"$APEX_RUN_DIR/select1.sql"
results=()          # "side round tps"
baseline=''
for round in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    apex_log "round $round/$ROUNDS: $side ($([ "$side" = before ] && echo "$BEFORE_LABEL" || echo "$AFTER_LABEL"))"
    apex_pg_stop
    APEX_PG_BINDIR=$(apex_inst_bindir "$PGC" "$WORK/$side.inst")
    apex_pg_start || exit 1
    setup || exit 1
    rows=$(check) || exit 1
    # a short result fails the transaction (division by zero)
    printf 'SELECT 1 / (count(*) = %s)::int FROM %s;\n' "$rows" "$CALL" >"$APEX_RUN_DIR/route.sql"
    if [ -z "$baseline" ]; then
      apex_log "baseline: SELECT 1 for $DURATION s"
      baseline=$(pgbench_measure "$APEX_RUN_DIR/select1.sql" "$DURATION") || exit 1
    fi
    # the test servers keep every request in memory and in a file: a
    # growing log would slow each measurement down a little more than the
    # one before, and in ABAB order that drift would count against AFTER
    curl -sf -X DELETE "http://127.0.0.1:$NEO4J_PORT/__log?all=1" >/dev/null || exit 1
    : >"$APEX_TEST_LOG"
    # the first measurement of the run also warms the test servers (the
    # Node JIT) and the fresh clusters up: at least --seconds for it
    warm=$WARMUP
    [ ${#results[@]} -eq 0 ] && [ "$warm" -lt "$DURATION" ] && warm=$DURATION
    if [ "$warm" -gt 0 ]; then
      pgbench_tps "$APEX_RUN_DIR/route.sql" "$warm" >/dev/null || exit 1
    fi
    m=$(pgbench_measure "$APEX_RUN_DIR/route.sql" "$DURATION") || exit 1
    apex_log "round $round/$ROUNDS: $side: ${m% *} calls/s ($rows rows a call), other CPU ${m#* } %"
    results+=("$side $round $m")
  done
done

echo
echo "apex_router throughput: apex_route calls/s at zero injected latency, pgbench -M prepared -c $CLIENTS -j $CLIENTS -T $DURATION (after ${WARMUP} s warm-up), $ROUNDS rounds, $(nproc) CPUs"
echo "call: $CALL, result cache $CACHE_MODE$([ "$CACHE_MODE" = off ] || echo ': every call a hit')"
echo "before: $BEFORE_LABEL"
echo "after:  $AFTER_LABEL"
[ -n "$same_sources" ] && echo "(before and after have the same files: the ratio shows the noise)"
echo "baseline SELECT 1: ${baseline% *} calls/s (other CPU ${baseline#* } %)"
echo "other CPU %: share of the machine's CPU time used outside the test bed during the measurement"
echo
printf '%-6s | %5s | %10s | %11s | %12s\n' rev round calls/s 'other CPU %' after/before
printf -- '-------+-------+------------+-------------+-------------\n'
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  read -r b bo < <(printf '%s\n' "${results[@]}" | awk -v r="$round" '$1 == "before" && $2 == r { print $3, $4 }')
  read -r a ao < <(printf '%s\n' "${results[@]}" | awk -v r="$round" '$1 == "after" && $2 == r { print $3, $4 }')
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
  ratios+=("$ratio")
  printf '%-6s | %5d | %10.1f | %11d |\n' before "$round" "$b" "$bo"
  printf '%-6s | %5d | %10.1f | %11d | %12.2f\n' after "$round" "$a" "$ao" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -g |
  awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo
echo "ratio after/before: $median (median of $ROUNDS rounds)"
