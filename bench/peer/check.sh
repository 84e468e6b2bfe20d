#!/usr/bin/env bash
# Proof that the Python peer (bench/peer) asks the same sources the same way
# as apex_route and fuses them the same way, and that it holds under load.
#
# Brings everything up as bench/concurrency.sh does (its own PostgreSQL 15
# cluster and test servers in $APEX_HOME/peer-check, on a free block of
# ports; the sources of test/sql/include/setup.sql), starts the peer on the
# block's first unnamed port, then (bench/peer/check.py):
#   1. compares, for each question, apex_route(q, k => 10, sources =>
#      '{graph,vectors,docs}') with the peer's /route (ids in order,
#      found_in, scores) and its /route_many; a difference fails the check;
#      then the same over all five sources of the test bed, with the remote
#      cluster and Redis started and remote_docs and recent created as the
#      tests create them (test/sql/include/more_sources.sql), at k = 10 and 100;
#   2. with Neo4j hanging and the embedder failing (HTTP 500), a 300 ms
#      deadline per leg: the peer answers with the other sources' rows and
#      names the two, in about 300 ms;
#   3. at zero injected latency: single-call latency, 100 concurrent /route
#      (100 client connections), one /route_many of 100 questions;
#   4. the same with injected latency (Neo4j CHECK_NEO4J_DELAY = 250 ms,
#      Qdrant CHECK_QDRANT_DELAY = 120 ms, embedder CHECK_EMBED_DELAY = 0,
#      the test servers' /__fault/delay=N URL prefix); CHECK_DELAYED=0 skips it.
# PEER_WORKERS (1) sets the peer's uvicorn workers.
#
# Usage: sudo bench/peer/check.sh
set -u
. "$(dirname "$0")/../../test/lib.sh"
. "$(dirname "$0")/run.sh"
. "$(dirname "$0")/../lib.sh"
cd "$APEX_ROOT" || exit 1
APEX_RUN_DIR=$APEX_HOME/peer-check

NEO4J_DELAY=${CHECK_NEO4J_DELAY:-250}
QDRANT_DELAY=${CHECK_QDRANT_DELAY:-120}
EMBED_DELAY=${CHECK_EMBED_DELAY:-0}

apex_install_deps || exit 1
peer_deps || exit 1
apex_build_install || exit 1

cleanup() { peer_stop; apex_servers_stop; apex_redis stop; apex_remote_pg stop; apex_pg_stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
rm -rf "$APEX_RUN_DIR"
apex_ports_claim || exit 1
apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
apex_pg_start || exit 1
apex_servers_start || exit 1
apex_remote_pg start || exit 1
apex_redis start || exit 1
apex_ports_started
export "${APEX_PORT_NAMES[@]}"

apex_bench_sources || exit 1
psql -X -q -v ON_ERROR_STOP=1 -d postgres -v abs_srcdir="$APEX_ROOT/test" \
  -f test/sql/include/more_sources.sql >>"$APEX_RUN_DIR/setup.out" 2>&1 ||
  { cat "$APEX_RUN_DIR/setup.out" >&2; exit 1; }

PORT=$(peer_port)
PEER=http://127.0.0.1:$PORT
CHECK=(/usr/bin/python3 "$PEER_DIR/check.py" --peer "$PEER")
echo "$(nproc) CPUs, peer with ${PEER_WORKERS:-1} uvicorn worker(s)"

ALL=graph,vectors,docs,remote_docs,recent
apex_log "peer on $PEER with all five sources"
PEER_SOURCES=$ALL peer_start "$PORT" || exit 1
"${CHECK[@]}" --compare || exit 1
"${CHECK[@]}" --compare --sources "$ALL" || exit 1
"${CHECK[@]}" --compare --sources "$ALL" --k 100 || exit 1

apex_log "peer with Neo4j hanging, the embedder failing and a 300 ms deadline per leg"
PEER_NEO4J_URL=http://127.0.0.1:$NEO4J_PORT/__fault/hang \
PEER_EMBED_URL=http://127.0.0.1:$EMBED_PORT/__fault/status=500/v1/embeddings PEER_TIMEOUT_MS=300 \
  peer_start "$PORT" || exit 1
"${CHECK[@]}" --expect-failed graph,vectors --deadline-ms 300 || exit 1

apex_log "peer on $PEER (the three sources of setup.sql), no injected latency"
peer_start "$PORT" || exit 1
"${CHECK[@]}" --load --peer-pid "$(cat "$(peer_run_dir)/peer.pid")" || exit 1

if [ "${CHECK_DELAYED:-1}" != 0 ]; then
  apex_log "peer with injected latency: Neo4j $NEO4J_DELAY ms, Qdrant $QDRANT_DELAY ms, embedder $EMBED_DELAY ms"
  PEER_NEO4J_URL=$(bench_fault "http://127.0.0.1:$NEO4J_PORT" "$NEO4J_DELAY") \
  PEER_QDRANT_URL=$(bench_fault "http://127.0.0.1:$QDRANT_PORT" "$QDRANT_DELAY") \
  PEER_EMBED_URL=$(bench_fault "http://127.0.0.1:$EMBED_PORT" "$EMBED_DELAY")/v1/embeddings \
    peer_start "$PORT" || exit 1
  "${CHECK[@]}" --load --single 10 --peer-pid "$(cat "$(peer_run_dir)/peer.pid")" || exit 1
fi
echo "peer check passed"
