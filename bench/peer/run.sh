# Start and stop the Python peer (bench/peer/README.md).  Source it after
# test/lib.sh, once the run's ports are claimed and its servers started:
#
#   . test/lib.sh; . bench/peer/run.sh
#   apex_ports_claim; apex_pg_start; apex_servers_start; ...setup.sql...
#   peer_deps || exit 1
#   peer_start "$(peer_port)" || exit 1      # logs and pid in $APEX_RUN_DIR/peer
#   curl "http://127.0.0.1:$(peer_port)/route?q=Sarah+roadmap&k=10"
#   peer_stop
#
# or run it: bench/peer/run.sh deps | start PORT | stop  (with the
# environment test/lib.sh exports: NEO4J_PORT, QDRANT_PORT, EMBED_PORT,
# PGHOST, APEX_PGPORT, ...).  Environment of the peer: PEER_* (README.md);
# PEER_WORKERS (1) uvicorn worker processes.

PEER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's packages; uvloop and httptools are what uvicorn[standard] adds,
# as a production deployment would have them
PEER_DEBIAN_PACKAGES="python3-fastapi python3-uvicorn python3-httpx python3-asyncpg python3-redis python3-uvloop python3-httptools curl"

peer_log() { printf '== peer: %s\n' "$*" >&2; }

# Install the Debian packages that are missing (a no-op when all are there).
peer_deps() {
  local p missing=()
  for p in $PEER_DEBIAN_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  peer_log "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "run as root (or with sudo) to install: ${missing[*]}" >&2; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The first port of the run's block that has no name in test/lib.sh: the
# block is claimed for the run, so nothing else takes it.
peer_port() {
  echo $((APEX_PORT_BASE + APEX_PORT_BLOCK * APEX_PORT_BLOCK_SIZE + ${#APEX_PORT_NAMES[@]}))
}

# The peer's directory: its log and pid file.
peer_run_dir() { echo "${PEER_RUN_DIR:-${APEX_RUN_DIR:-/tmp}/peer}"; }

# peer_start PORT: start the peer on 127.0.0.1:PORT and wait until /health answers.
peer_start() {
  local port=$1 dir pid
  dir=$(peer_run_dir)
  [ -n "$port" ] || { echo "usage: peer_start PORT" >&2; return 1; }
  mkdir -p "$dir" || return 1
  peer_stop
  /usr/bin/python3 "$PEER_DIR/peer.py" --port "$port" --workers "${PEER_WORKERS:-1}" \
    >>"$dir/peer.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/peer.pid"
  echo "$port" >"$dir/peer.port"
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the peer did not start (log: $dir/peer.log):" >&2
  tail -20 "$dir/peer.log" >&2
  peer_stop
  return 1
}

# Stop the peer this directory's pid file names (its workers go with it).
peer_stop() {
  local dir pid
  dir=$(peer_run_dir)
  pid=$(cat "$dir/peer.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
  rm -f "$dir/peer.pid"
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  case ${1:-} in
    deps) peer_deps ;;
    start) peer_start "${2:?usage: $0 start PORT}" ;;
    stop) peer_stop ;;
    *) echo "usage: $0 deps | start PORT | stop" >&2; exit 2 ;;
  esac
fi
