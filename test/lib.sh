# Shared shell functions of the test and demo scripts: dependencies, a
# PostgreSQL 15 cluster (run as a non-root user: PostgreSQL refuses root)
# and the protocol test servers.  Source it; it defines functions only.

APEX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# outside the checkout: the cluster's OS user must be able to reach it
APEX_RUN_DIR=${APEX_RUN_DIR:-/tmp/apex_router_run}
APEX_PGPORT=${APEX_PGPORT:-5433}
APEX_DEBIAN_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libhiredis-dev libkrb5-dev redis-server nodejs npm curl openssl python3 clang-14 libclang-rt-14-dev"

apex_log() { printf '== %s\n' "$*" >&2; }

# Install what is missing (Debian 12); a no-op when everything is there.
apex_install_deps() {
  local missing=()
  for p in $APEX_DEBIAN_PACKAGES; do
    # Node may come from outside Debian's packages: then it needs no package
    case $p in nodejs|npm) command -v "${p/nodejs/node}" >/dev/null && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apex_log "installing ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || { echo "run as root (or with sudo) to install: ${missing[*]}" >&2; return 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
  fi
  if [ ! -d "$APEX_ROOT/test/node_modules" ]; then
    apex_log "installing the npm packages of test/"
    (cd "$APEX_ROOT/test" && npm ci --silent --no-audit --no-fund) || return 1
  fi
}

apex_pg_bindir() { echo "/usr/lib/postgresql/15/bin"; }

apex_build_install() {
  apex_log "building and installing apex_router"
  (cd "$APEX_ROOT" && make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config &&
    make -s install PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config) >/dev/null
}

# Run a command as the cluster's owner: postgres when we are root.
apex_as_pg() {
  # from /: the checkout may be in a directory the postgres user cannot enter
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

apex_pg_start() {
  local bin data=$APEX_RUN_DIR/pgdata
  bin=$(apex_pg_bindir)
  mkdir -p "$APEX_RUN_DIR" && chmod 755 "$APEX_RUN_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$APEX_RUN_DIR"
  if [ ! -f "$data/PG_VERSION" ]; then
    apex_log "creating a PostgreSQL 15 cluster in $data"
    apex_as_pg "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null || return 1
  fi
  apex_as_pg "$bin/pg_ctl" -D "$data" -w -l "$APEX_RUN_DIR/postgresql.log" \
    -o "-p $APEX_PGPORT -k $APEX_RUN_DIR -c listen_addresses=''" start >/dev/null || return 1
  export PGHOST=$APEX_RUN_DIR PGPORT=$APEX_PGPORT PGUSER=postgres
}

apex_pg_stop() {
  [ -f "$APEX_RUN_DIR/pgdata/postmaster.pid" ] &&
    apex_as_pg "$(apex_pg_bindir)/pg_ctl" -D "$APEX_RUN_DIR/pgdata" -m fast stop >/dev/null
  return 0
}

# A second cluster, the "remote" database of postgres sources: TCP on
# 127.0.0.1 with password authentication, the corpus in table notes.
APEX_REMOTE_PGPORT=${APEX_REMOTE_PGPORT:-5437}

apex_remote_pg() {
  local bin data=$APEX_RUN_DIR/remote
  bin=$(apex_pg_bindir)
  case $1 in
    stop)
      [ -f "$data/postmaster.pid" ] && apex_as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      return 0 ;;
    start) ;;
    *) echo "usage: apex_remote_pg start|stop" >&2; return 1 ;;
  esac
  if [ ! -f "$data/PG_VERSION" ]; then
    apex_as_pg "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null || return 1
    printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' >"$data/pg_hba.conf"
    apex_as_pg "$bin/pg_ctl" -D "$data" -w -l "$APEX_RUN_DIR/remote.log" \
      -o "-p $APEX_REMOTE_PGPORT -k $APEX_RUN_DIR -c listen_addresses=127.0.0.1" start >/dev/null || return 1
    apex_remote_load || return 1
    return 0
  fi
  apex_as_pg "$bin/pg_ctl" -D "$data" -w -l "$APEX_RUN_DIR/remote.log" \
    -o "-p $APEX_REMOTE_PGPORT -k $APEX_RUN_DIR -c listen_addresses=127.0.0.1" start >/dev/null
}

apex_remote_load() {
  local psql=(psql -qX -v ON_ERROR_STOP=1 -h "$APEX_RUN_DIR" -p "$APEX_REMOTE_PGPORT" -U postgres)
  "${psql[@]}" -d postgres -c "CREATE ROLE apex_remote LOGIN PASSWORD 'remote-pass'" \
    -c "CREATE DATABASE memory OWNER apex_remote" || return 1
  "${psql[@]}" -d memory -v corpus="$(cat "$APEX_ROOT/test/fixtures/corpus.json")" <<'SQL'
SET ROLE apex_remote;
CREATE TABLE notes (id text PRIMARY KEY, kind text NOT NULL, title text NOT NULL, body text NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED);
INSERT INTO notes (id, kind, title, body)
  SELECT e->>'id', e->>'kind', e->>'title', e->>'text' FROM jsonb_array_elements(:'corpus'::jsonb) e;
SQL
  # a database in another encoding: text must arrive converted, not as raw bytes
  "${psql[@]}" -d postgres -c "CREATE DATABASE latin1 OWNER apex_remote ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" || return 1
  "${psql[@]}" -d latin1 -c "SET ROLE apex_remote" \
    -c "CREATE TABLE notes AS SELECT 'l1' AS id, U&'Caf\\00E9 cr\\00E8me' AS title"
}

# A real redis-server (Debian's), password-protected, holding the corpus
# as short-term memory (test/fixtures/load-redis.mjs).
APEX_REDIS_PORT=${APEX_REDIS_PORT:-6390}
APEX_REDIS_PASSWORD=redis-pass

apex_redis() {
  local cli=(redis-cli -p "$APEX_REDIS_PORT" -a "$APEX_REDIS_PASSWORD" --no-auth-warning)
  case $1 in
    stop)
      "${cli[@]}" shutdown nosave >/dev/null 2>&1
      return 0 ;;
    start)
      mkdir -p "$APEX_RUN_DIR"
      redis-server --port "$APEX_REDIS_PORT" --bind 127.0.0.1 --requirepass "$APEX_REDIS_PASSWORD" \
        --save '' --appendonly no --dir "$APEX_RUN_DIR" --daemonize yes \
        --logfile "$APEX_RUN_DIR/redis.log" --pidfile "$APEX_RUN_DIR/redis.pid" || return 1
      for _ in $(seq 1 50); do "${cli[@]}" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
      [ "${2:-}" = empty ] && return 0
      node "$APEX_ROOT/test/fixtures/load-redis.mjs" | "${cli[@]}" --pipe >/dev/null ;;
    *) echo "usage: apex_redis start [empty]|stop" >&2; return 1 ;;
  esac
}

# The test servers, with keys set so that user mappings are exercised.
apex_servers_env() {
  export NEO4J_PORT=${NEO4J_PORT:-7474} QDRANT_PORT=${QDRANT_PORT:-6333} EMBED_PORT=${EMBED_PORT:-8080}
  export NEO4J_AUTH=${NEO4J_AUTH:-neo4j:testpassword}
  export QDRANT_API_KEY=${QDRANT_API_KEY:-qdrant-test-key}
  export EMBED_API_KEY=${EMBED_API_KEY:-embed-test-key}
  export APEX_TEST_LOG=$APEX_RUN_DIR/requests.log
  export APEX_FIXTURES=$APEX_ROOT/test/fixtures/corpus.json
  export TLS_CERT=$APEX_RUN_DIR/tls/localhost.crt TLS_KEY=$APEX_RUN_DIR/tls/localhost.key
}

# A self-signed certificate for "localhost" only (so that 127.0.0.1 is a
# host name mismatch); it is its own CA file for the ca_file option.
apex_tls_cert() {
  [ -f "$TLS_CERT" ] && return 0
  mkdir -p "$(dirname "$TLS_CERT")"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null || return 1
  chmod 644 "$TLS_CERT"
}

apex_servers_start() {
  apex_servers_env
  mkdir -p "$APEX_RUN_DIR"
  apex_tls_cert || { echo "could not make a test certificate with openssl" >&2; return 1; }
  : >"$APEX_TEST_LOG"
  /usr/bin/python3 "$APEX_ROOT/test/servers/tcp_faults.py" >"$APEX_RUN_DIR/tcp_faults.out" 2>&1 &
  echo $! >"$APEX_RUN_DIR/tcp_faults.pid"
  node "$APEX_ROOT/test/servers/main.mjs" >"$APEX_RUN_DIR/servers.out" 2>&1 &
  echo $! >"$APEX_RUN_DIR/servers.pid"
  for _ in $(seq 1 100); do
    grep -q 'apex test servers ready' "$APEX_RUN_DIR/servers.out" &&
      grep -q 'tcp faults ready' "$APEX_RUN_DIR/tcp_faults.out" && return 0
    kill -0 "$(cat "$APEX_RUN_DIR/servers.pid")" 2>/dev/null || break
    kill -0 "$(cat "$APEX_RUN_DIR/tcp_faults.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "test servers did not start:" >&2; cat "$APEX_RUN_DIR/servers.out" "$APEX_RUN_DIR/tcp_faults.out" >&2
  return 1
}

apex_servers_stop() {
  local f
  for f in servers tcp_faults; do
    if [ -f "$APEX_RUN_DIR/$f.pid" ]; then
      kill "$(cat "$APEX_RUN_DIR/$f.pid")" 2>/dev/null
      rm -f "$APEX_RUN_DIR/$f.pid"
    fi
  done
  return 0
}
