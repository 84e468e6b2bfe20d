# shellcheck shell=bash
# Shell functions the benchmarks share (bench/*.sh).  Source it after
# test/lib.sh, once APEX_RUN_DIR is the script's own; it defines functions
# only.  The SQL functions the benchmarks share are in bench/functions.sql.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PGBENCH=$APEX_DEBIAN_PG_BINDIR/pgbench

# bench_fault URL MS: URL behind the test servers' injected delay of MS
# (test/servers/faults.mjs, the /__fault/delay=N prefix); URL when MS is 0.
bench_fault() { if [ "$2" -gt 0 ]; then echo "$1/__fault/delay=$2"; else echo "$1"; fi; }

# bench_delays NEO4J_MS QDRANT_MS EMBED_MS [DB]: the sources graph, vectors
# and embed of test/sql/include/setup.sql pointed at the test servers with
# those injected delays (0: none).
bench_delays() {
  psql -X -q -v ON_ERROR_STOP=1 -d "${4:-postgres}" \
    -v neo4j="$(bench_fault "http://127.0.0.1:$NEO4J_PORT" "$1")" \
    -v qdrant="$(bench_fault "http://127.0.0.1:$QDRANT_PORT" "$2")" \
    -v embed="$(bench_fault "http://127.0.0.1:$EMBED_PORT" "$3")/v1/embeddings" <<'SQL'
ALTER SERVER graph OPTIONS (SET url :'neo4j');
ALTER SERVER vectors OPTIONS (SET url :'qdrant');
ALTER SERVER embed OPTIONS (SET url :'embed');
SQL
}

# bench_functions [DB]: bench/functions.sql's SQL functions in DB (postgres).
bench_functions() {
  psql -X -q -v ON_ERROR_STOP=1 -d "${1:-postgres}" -f "$BENCH_DIR/functions.sql" >/dev/null
}

# bench_pgbench NAME PGBENCH-ARGUMENTS...: pgbench -n -l with those
# arguments, in $APEX_RUN_DIR/pgbench-NAME (its output, errors and
# per-transaction log).  Sets BENCH_TPS (without connection set-up),
# BENCH_DONE (transactions that completed), BENCH_FAILED (transactions that
# failed, clients that aborted counted with what they did not do: expected
# minus done, when -t says how many) and BENCH_NOTICES (WARNING lines the
# server sent: a source that failed in a call apex_route carries on from)
# and BENCH_INLINE (sql legs that ran inline: no worker was free).
# Fails only when pgbench could not run at all (exit status 1).
bench_pgbench() {
  local name=$1 dir=$APEX_RUN_DIR/pgbench-$1 rc expected
  shift
  rm -rf "$dir" && mkdir -p "$dir" || return 1
  (cd "$dir" && "$PGBENCH" -n -l "$@" >out 2>err)
  rc=$?
  if [ "$rc" -eq 1 ]; then cat "$dir/out" "$dir/err" >&2; echo "pgbench $name could not run" >&2; return 1; fi
  BENCH_TPS=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$dir/out")
  BENCH_DONE=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/out")
  BENCH_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out")
  expected=$(sed -n 's/^number of transactions actually processed: [0-9]*\/\([0-9]*\).*/\1/p' "$dir/out")
  BENCH_DONE=${BENCH_DONE:-0} BENCH_FAILED=${BENCH_FAILED:-0} BENCH_TPS=${BENCH_TPS:-0}
  [ -n "$expected" ] && BENCH_FAILED=$((expected - BENCH_DONE))
  BENCH_NOTICES=$(grep -c 'WARNING' "$dir/err")
  # sql legs no background worker could take (a NOTICE): they ran inline
  # shellcheck disable=SC2034  # read by the caller
  BENCH_INLINE=$(grep -c 'ran in this session' "$dir/err")
  return 0
}

# bench_pgbench_pct NAME P...: percentiles (nearest rank) of the latencies
# in ms of bench_pgbench NAME's log, one per P (0 to 100), space-separated.
bench_pgbench_pct() {
  local name=$1
  shift
  # the log: client, transaction, latency (us), script, epoch, us
  cat "$APEX_RUN_DIR/pgbench-$name"/pgbench_log.* | awk '{ print $3 / 1000 }' | bench_pct "$@"
}

# bench_pct P...: percentiles (nearest rank) of the numbers on stdin.
bench_pct() {
  sort -g | awk -v ps="$*" '{ v[NR] = $1 }
    END { n = split(ps, p, " ")
          for (i = 1; i <= n; i++) { r = int(p[i] / 100 * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
                                     printf "%s%.3f", (i > 1 ? " " : ""), v[r] }
          print "" }'
}

# bench_median: the median of the numbers on stdin.
bench_median() {
  sort -g | awk '{ v[NR] = $1 } END { printf "%.3f\n", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_cpu_sample ROOTS: the machine's CPU time and that of the process
# trees rooted at the pids ROOTS (their children too, running or ended), in
# clock ticks: "busy total ours".  busy is all but idle time: interrupts
# (which the kernel also charges to the process they interrupted) and the
# time the hypervisor stole count.  total is summed over the CPUs.
bench_cpu_sample() {
  { head -1 /proc/stat; cat /proc/[0-9]*/stat 2>/dev/null; } | awk -v roots="$*" '
    # user nice system idle iowait irq softirq steal
    NR == 1 { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; next }
    # after the command name: 2 ppid, 12 utime, 13 stime, 14 cutime, 15 cstime
    { pid = $1; sub(/^.*\) /, ""); ppid[pid] = $2; ticks[pid] = $12 + $13 + $14 + $15 }
    END {
      n = split(roots, r, " ")
      for (i = 1; i <= n; i++) root[r[i]] = 1
      for (p in ticks) {
        for (q = p; q + 0 > 1 && !(q in root); q = ppid[q]) ;
        if (q in root) ours += ticks[p]
      }
      print ours + 0
    }' | paste -sd ' '
}

# bench_cpu_share SAMPLE0 SAMPLE1: the trees' CPU between two samples of
# bench_cpu_sample, in percent of one CPU, and the machine's busy share in
# percent of all its CPUs: "trees-% machine-%".
bench_cpu_share() {
  awk -v a="$1" -v b="$2" -v ncpu="$(nproc)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
    if (t <= 0) { print "0 0"; exit }
    printf "%.0f %.0f\n", 100 * (y[3] - x[3]) / (t / ncpu), 100 * (y[1] - x[1]) / t }'
}

# Distinct questions that every source of test/sql/include/setup.sql
# answers: BENCH_QUESTION followed by a number (websearch_to_tsquery reads
# "Sarah roadmap or 7" as (sarah & roadmap) | 7, which the docs source
# matches; "Sarah roadmap 7" it would not).
BENCH_QUESTION='Sarah roadmap or '

# bench_sessions_at_once Q SOURCES: Q sessions each calling apex_route over
# SOURCES (a comma-separated list) once, at once, question i of
# BENCH_QUESTION i (pgbench -c Q -t 1); prints the time they took in ms,
# without connection set-up.  Fails when a call failed or did not hear
# from every source, or a source failed in one (a WARNING).
bench_sessions_at_once() {
  local q=$1 sources=$2 n
  n=$(tr ',' '\n' <<<"$sources" | wc -l)
  printf '\\set i random(1, %s)\nSELECT 1 / (count(DISTINCT s) = %s)::int FROM apex_route('"'%s'"' || :i, sources => '"'"'{%s}'"'"'), unnest(found_in) s;\n' \
    "$q" "$n" "$BENCH_QUESTION" "$sources" >"$APEX_RUN_DIR/at_once.sql"
  bench_pgbench at-once -f "$APEX_RUN_DIR/at_once.sql" -c "$q" -j 2 -t 1 postgres || return 1
  if [ "$BENCH_FAILED" -ne 0 ] || [ "$BENCH_NOTICES" -ne 0 ] || [ "$BENCH_DONE" -ne "$q" ]; then
    cat "$APEX_RUN_DIR/pgbench-at-once/out" "$APEX_RUN_DIR/pgbench-at-once/err" >&2
    echo "$q sessions at once: $BENCH_FAILED failed, $BENCH_NOTICES warnings" >&2
    return 1
  fi
  awk -v q="$q" -v tps="$BENCH_TPS" 'BEGIN { printf "%.3f\n", q / tps * 1000 }'
}
