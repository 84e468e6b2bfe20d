# Shared shell functions of the test and demo scripts: dependencies, a
# PostgreSQL 15 cluster (run as a non-root user: PostgreSQL refuses root)
# and the protocol test servers.  Source it; it defines functions only.

APEX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# This checkout's directory outside the checkout (the clusters' OS user must
# be able to reach it), named after the checkout's path so that checkouts
# side by side keep apart: the private installations (inst/), the run
# directory of test/run-tests and test/bed (test/), the demo's (demo/).
APEX_HOME=${APEX_HOME:-/tmp/apex_router-$(printf '%s' "$APEX_ROOT" | sha1sum | cut -c1-8)}
APEX_RUN_DIR=${APEX_RUN_DIR:-$APEX_HOME/test}
APEX_DEBIAN_PACKAGES="build-essential postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libhiredis-dev libkrb5-dev redis-server nodejs npm curl openssl python3 clang-14 libclang-rt-14-dev
  python3-psycopg2 python3-psycopg python3-sqlalchemy python3-asyncpg pgbouncer stunnel4"

apex_log() { printf '== %s\n' "$*" >&2; }

# Ports: the one place every port of the tests, the demo and the benchmarks
# comes from.  A run takes a block of APEX_PORT_BLOCK_SIZE consecutive
# ports, one per name below in this order, and exports the names; the test
# servers, the scripts and the SQL tests (test/sql/include/setup.sql) read
# them, and test/bin/regress/diff writes the names back into what the tests
# print, so the expected files hold names, not numbers.  Block 0 is the
# demo's; test runs take the first free block after it, so the demo, test
# runs and checkouts side by side never collide.  All ports have five digits
# (psql's column widths stay the same) and lie below Linux's ephemeral range.
APEX_PORT_NAMES=(APEX_PGPORT APEX_REMOTE_PGPORT APEX_REDIS_PORT NEO4J_PORT NEO4J_TLS_PORT
  QDRANT_PORT EMBED_PORT GRAPHITI_PORT BLACKHOLE_PORT SILENT_PORT GARBAGE_PORT ECHO_REDIS_PORT
  SLOW_PORT SLOW_TLS_PORT CLOSED_PORT PGBOUNCER_PORT RERANK_PORT APEX_REPLICA_PGPORT REDIS_TLS_PORT
  REDIS_TUNNEL_PORT PROXY_PORT QDRANT_TLS_PORT)
APEX_PORT_BASE=21000 APEX_PORT_BLOCK_SIZE=30 APEX_PORT_BLOCKS=50
# whose blocks are claimed: a directory of this user's only (another
# user's runs are seen by their listening ports)
APEX_PORT_CLAIMS=/tmp/apex_router_ports-$(id -u)

# apex_private_dir DIR: make DIR (mode 755) unless it is there, and refuse
# it unless it is a directory of this user's that no one else may write.
# The directories of /tmp that this file names are predictable: on a shared
# machine another user could make one first and plant links or programs in
# it for root to follow or run.
apex_private_dir() {
  [ -e "$1" ] || [ -L "$1" ] || mkdir -m 755 "$1" 2>/dev/null || [ -d "$1" ] || return 1
  if [ -L "$1" ] || [ ! -d "$1" ] || [ ! -O "$1" ] || [ -n "$(find "$1" -maxdepth 0 -perm /022)" ]; then
    echo "$1 is not a directory of $(id -un)'s that only $(id -un) may write: remove it" >&2
    return 1
  fi
}

# apex_ports_set BLOCK: export every port name for that block.
apex_ports_set() {
  local i
  export APEX_PORT_BLOCK=$1
  for i in "${!APEX_PORT_NAMES[@]}"; do
    export "${APEX_PORT_NAMES[$i]}=$((APEX_PORT_BASE + $1 * APEX_PORT_BLOCK_SIZE + i))"
  done
}

# apex_port_listening PORT: something listens on that TCP port (any address).
apex_port_listening() {
  awk -v p="$(printf ':%04X' "$1")" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A block is taken while one of its ports listens, or while the run that
# claimed it lives (its process, or the test servers it started: a bed or a
# demo outlives the script that started it).
apex_ports_taken() {
  local b=$1 i pid
  for i in "${!APEX_PORT_NAMES[@]}"; do
    apex_port_listening $((APEX_PORT_BASE + b * APEX_PORT_BLOCK_SIZE + i)) && return 0
  done
  for pid in $(cat "$APEX_PORT_CLAIMS/$b" 2>/dev/null); do
    kill -0 "$pid" 2>/dev/null && return 0
  done
  return 1
}

# apex_ports_claim [FIRST]: take the first free block from FIRST (default 1)
# for the run in APEX_RUN_DIR (stopped first, if it ran).  The claim names this
# process, so the block stays taken while the run starts its servers;
# apex_ports_started adds the test servers, which outlive a bed's or the
# demo's script.  Claims are serialized by a lock held only while choosing
# (in a subshell: a server started later must not inherit it).
apex_ports_claim() {
  local b first=${1:-1}
  apex_private_dir "$APEX_PORT_CLAIMS" && apex_private_dir "$APEX_HOME" && mkdir -p "$APEX_RUN_DIR" || return 1
  b=$(
    exec 7>"$APEX_PORT_CLAIMS/claim.lock" && flock 7 || exit 1
    for b in $(seq "$first" $((APEX_PORT_BLOCKS - 1))); do
      if ! apex_ports_taken "$b"; then
        echo "$$" >"$APEX_PORT_CLAIMS/$b" && echo "$b"
        exit 0
      fi
    done
    exit 1
  ) || { echo "no free block of $APEX_PORT_BLOCK_SIZE ports from $APEX_PORT_BASE on" >&2; return 1; }
  echo "$b" >"$APEX_RUN_DIR/ports"
  apex_ports_set "$b"
}

# After the run's servers started: they hold the claim too.
apex_ports_started() {
  cat "$APEX_RUN_DIR/servers.pid" >>"$APEX_PORT_CLAIMS/$APEX_PORT_BLOCK" 2>/dev/null
  return 0
}

# A benchmark's start (bench/*.sh): what is missing installed, the extension
# built and installed, APEX_RUN_DIR (the script's own) emptied, a free block
# of ports claimed, and PostgreSQL and the test servers stopped at exit.
# The script then starts what it measures (apex_pg_start, ...).
apex_bench_begin() {
  apex_install_deps || return 1
  apex_build_install || return 1
  trap apex_bench_cleanup EXIT
  trap 'exit 130' INT TERM
  apex_bench_cleanup
  rm -rf "$APEX_RUN_DIR" && mkdir -p "$APEX_RUN_DIR" || return 1
  # a block no test run, demo or other checkout holds: our own servers only
  apex_ports_claim || return 1
  apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
}
apex_bench_cleanup() { apex_servers_stop; apex_pg_stop; }

# The suite's sources (test/sql/include/setup.sql) in database postgres.
apex_bench_sources() {
  apex_log "creating the extension, the notes table and the sources (test/sql/include/setup.sql)"
  psql -X -q -v ON_ERROR_STOP=1 -d postgres -v abs_srcdir="$APEX_ROOT/test" \
    -f "$APEX_ROOT/test/sql/include/setup.sql" >"$APEX_RUN_DIR/setup.out" 2>&1 ||
    { cat "$APEX_RUN_DIR/setup.out" >&2; return 1; }
}

# The ports of the run in APEX_RUN_DIR (after apex_ports_claim there).
apex_ports_load() {
  local b
  b=$(cat "$APEX_RUN_DIR/ports" 2>/dev/null) || { echo "no ports claimed in $APEX_RUN_DIR" >&2; return 1; }
  apex_ports_set "$b"
}

# Install the Debian packages given that are missing; a no-op when all are there.
apex_apt_install() {
  local p missing=()
  for p in "$@"; do
    # Node may come from outside Debian's packages: then it needs no package
    case $p in nodejs|npm) command -v "${p/nodejs/node}" >/dev/null && continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apex_log "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "run as root (or with sudo) to install: ${missing[*]}" >&2; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Install what is missing (Debian 12); a no-op when everything is there.
apex_install_deps() {
  # shellcheck disable=SC2086
  apex_apt_install $APEX_DEBIAN_PACKAGES || return 1
  if [ ! -d "$APEX_ROOT/test/node_modules" ]; then
    apex_log "installing the npm packages of test/"
    (cd "$APEX_ROOT/test" && npm ci --silent --no-audit --no-fund) || return 1
  fi
  # the node-postgres example (examples/node, run by test/examples/run.py),
  # installed as its README tells a user to
  if [ ! -d "$APEX_ROOT/examples/node/node_modules" ]; then
    apex_log "installing the npm packages of examples/node/"
    (cd "$APEX_ROOT/examples/node" && npm ci --silent --no-audit --no-fund) || return 1
  fi
}

# Debian's PostgreSQL 15.  The clusters under test run from private
# installations (apex_inst_bindir); APEX_PG_BINDIR points the local
# cluster's functions (apex_pg_start, apex_pg_stop) at one, by default that
# of Debian's build.
APEX_DEBIAN_PG_BINDIR=/usr/lib/postgresql/15/bin
apex_pg_bindir() { echo "${APEX_PG_BINDIR:-$(apex_inst_bindir "$APEX_DEBIAN_PG_BINDIR/pg_config")}"; }

# The private installation of the PostgreSQL installation PG_CONFIG
# describes: a copy under $APEX_HOME/inst/NAME into which this checkout
# installs the extension (make install DESTDIR=...), so that checkouts side
# by side never load each other's apex_router.so and the system's
# installation stays as it is.  PostgreSQL finds its library and share
# directories relative to its own program (make_relative_path,
# src/port/path.c), so the programs are copies and the rest symbolic links.
apex_inst_dir() {
  local pgc=$1
  if [ "$pgc" = "$APEX_DEBIAN_PG_BINDIR/pg_config" ]; then echo "$APEX_HOME/inst/debian"
  else echo "$APEX_HOME/inst/$(basename "$("$pgc" --bindir | sed 's,/bin$,,')")"; fi
}
apex_inst_bindir() { echo "${2:-$(apex_inst_dir "$1")}$("$1" --bindir)"; }

# apex_inst_make PG_CONFIG [INST]: make the private installation, in INST
# when given (apex_rev_install keeps one per revision; then
# apex_inst_bindir PG_CONFIG INST is its bindir).
apex_inst_make() {
  local pgc=$1 inst=${2:-} d lib share
  # what is in it is run as root: it must be ours alone
  apex_private_dir "$APEX_HOME" || return 1
  [ -n "$inst" ] || inst=$(apex_inst_dir "$pgc")
  lib=$("$pgc" --pkglibdir) share=$("$pgc" --sharedir)
  # made afresh when the installation changed (a minor release)
  cmp -s "$("$pgc" --bindir)/postgres" "$inst$("$pgc" --bindir)/postgres" && return 0
  rm -rf "$inst"
  for d in $("$pgc" --bindir) "$lib" "$share"; do
    mkdir -p "$(dirname "$inst$d")" || return 1
    if [ "$d" = "$("$pgc" --bindir)" ]; then cp -a "$d" "$inst$d"; else cp -as "$d" "$inst$d"; fi || return 1
  done
  # a system-wide apex_router is not ours
  rm -rf "$inst$lib"/apex_router.so "$inst$lib"/bitcode/apex_router "$inst$lib"/bitcode/apex_router.index.bc \
    "$inst$share"/extension/apex_router[.-]*
  # readable by the clusters' OS user: the installation and the directories
  # above it, not all of $APEX_HOME, where the data directories of running
  # clusters must stay 0700 (PostgreSQL refuses to start from one that is not)
  chmod -R a+rX "$inst" || return 1
  d=$inst
  while [ "$d" != "$APEX_HOME" ] && [ "$d" != / ]; do
    d=$(dirname "$d")
    chmod a+rx "$d" || return 1
  done
}

# Build in the tree against Debian's PostgreSQL 15 and install into its
# private installation.
apex_build_install() {
  local pgc=$APEX_DEBIAN_PG_BINDIR/pg_config
  apex_log "building apex_router and installing it into $(apex_inst_dir "$pgc")"
  apex_inst_make "$pgc" || return 1
  (cd "$APEX_ROOT" && make -s PG_CONFIG="$pgc" COPT=-Werror &&
    make -s install PG_CONFIG="$pgc" DESTDIR="$(apex_inst_dir "$pgc")") >/dev/null &&
    apex_hooks_install "$APEX_ROOT" "$pgc"
}

# The test-only library test/hooks (apex_test_hooks: what no SQL can
# cause, e.g. a background worker exiting without a word), built in
# TREE/test/hooks and installed into the private installation of PG_CONFIG
# alone: the product's make install never installs it.
# apex_hooks_install TREE PG_CONFIG
apex_hooks_install() {
  local tree=$1 pgc=$2
  (cd "$tree/test/hooks" && make -s PG_CONFIG="$pgc" COPT=-Werror &&
    make -s install PG_CONFIG="$pgc" DESTDIR="$(apex_inst_dir "$pgc")") >/dev/null
}

# Build and install the extension against another PostgreSQL build (into
# its private installation) from a copy of the tree in DIR, so that its
# objects do not mix with the in-tree ones built against Debian's:
# apex_build_install_copy DIR PG_CONFIG.  The copy keeps its objects between
# runs (make rebuilds what changed) unless it was built against another
# installation or the set of C files changed (make would not relink without
# a removed file).
apex_build_install_copy() {
  local dir=$1 pgc=$2 stamp
  apex_log "building apex_router against $("$pgc" --bindir) (in $dir), installing it into $(apex_inst_dir "$pgc")"
  apex_inst_make "$pgc" || return 1
  stamp=$(cd "$APEX_ROOT" && echo "$pgc" src/*.c)
  [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ] || rm -rf "$dir"
  mkdir -p "$dir/src" || return 1
  # sources, regression tests and expected output (test/sql, test/expected)
  # exactly as in the tree: files removed there go here too; cp -p keeps
  # times so that make sees what changed
  rm -rf "$dir/sql" "$dir/expected" "$dir/test" "$dir"/src/*.[ch] "$dir"/*.sql "$dir"/*.control
  # and the test hooks' sources (test/hooks; the tree's objects there are
  # built against Debian's PostgreSQL)
  mkdir -p "$dir/test/hooks" || return 1
  cp -p "$APEX_ROOT"/Makefile "$APEX_ROOT"/*.control "$APEX_ROOT"/apex_router--*.sql "$dir/" &&
    cp -p "$APEX_ROOT"/src/*.[ch] "$dir/src/" &&
    cp -pR "$APEX_ROOT/test/sql" "$APEX_ROOT/test/expected" "$dir/test/" &&
    cp -p "$APEX_ROOT"/test/hooks/Makefile "$APEX_ROOT"/test/hooks/*.c "$dir/test/hooks/" || return 1
  echo "$stamp" >"$dir/.stamp"
  (cd "$dir" && make -s -j"$(nproc)" PG_CONFIG="$pgc" COPT=-Werror &&
    make -s install PG_CONFIG="$pgc" DESTDIR="$(apex_inst_dir "$pgc")") >/dev/null &&
    apex_hooks_install "$dir" "$pgc"
}

# Revisions measured side by side (bench/throughput.sh, bench/sql_overlap.sh):
# a git revision, or APEX_WORKTREE for the working tree as it is now.
APEX_WORKTREE='working tree'

# apex_rev_label REV: how a report names REV (with its commit).
apex_rev_label() {
  if [ "$1" = "$APEX_WORKTREE" ]; then
    local dirty=''
    [ -n "$(git -C "$APEX_ROOT" status --porcelain --untracked-files=no)" ] && dirty=', modified'
    echo "working tree ($(git -C "$APEX_ROOT" rev-parse --short HEAD)$dirty)"
  else
    echo "$1 ($(git -C "$APEX_ROOT" rev-parse --short "$1"))"
  fi
}

# apex_rev_install DIR REV: a copy of revision REV in DIR (for the working
# tree: its tracked and untracked files that are not ignored, as they are
# now), built against Debian's PostgreSQL and installed into a private
# installation of its own, DIR.inst (apex_inst_make; its bindir is
# apex_inst_bindir PG_CONFIG DIR.inst), so that two revisions' libraries
# stay apart and Debian's installation stays as it is.  DIR.sources is a
# digest of the copy's files: equal digests, same sources.
apex_rev_install() {
  local dir=$1 rev=$2 pgc=$APEX_DEBIAN_PG_BINDIR/pg_config
  mkdir -p "$dir" || return 1
  if [ "$rev" = "$APEX_WORKTREE" ]; then
    apex_log "building the working tree (in $dir)"
    # a file deleted but not yet committed is listed and missing: skip it
    (cd "$APEX_ROOT" && git ls-files -z -co --exclude-standard |
      tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$dir" || return 1
  else
    apex_log "building $(git -C "$APEX_ROOT" rev-parse --short "$rev") (in $dir)"
    git -C "$APEX_ROOT" archive "$rev" | tar -xf - -C "$dir" || return 1
  fi
  (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum) >"$dir.sources"
  (cd "$dir" && make -s -j"$(nproc)" PG_CONFIG="$pgc") >"$dir.build.log" 2>&1 ||
    { tail -30 "$dir.build.log" >&2; return 1; }
  apex_inst_make "$pgc" "$dir.inst" || return 1
  (cd "$dir" && make -s install PG_CONFIG="$pgc" DESTDIR="$dir.inst") >"$dir.install.log" 2>&1 ||
    { cat "$dir.install.log" >&2; return 1; }
}

# Run a command as the cluster's owner: postgres when we are root.
apex_as_pg() {
  # from /: the checkout may be in a directory the postgres user cannot enter
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Run a command that starts the local server as its owner, in the
# environment its libpq sees: a service that supplies the port, and nothing
# else, so that the allowed_hosts tests show the check following what libpq
# will use.  libcurl's proxy variables name the test proxy: apex_router must
# ignore them (README, "Source options"), and were they followed every HTTP
# request would go through the proxy, which asks for credentials (407), and
# show in its log (the gateway area checks it does not).
apex_as_pg_server() {
  local proxy=http://127.0.0.1:$PROXY_PORT
  printf '[apex_env]\nport=%s\n' "$APEX_REMOTE_PGPORT" >"$APEX_RUN_DIR/pg_service.conf"
  apex_as_pg env -u PGHOST -u PGHOSTADDR -u PGPORT PGSERVICE=apex_env \
    PGSERVICEFILE="$APEX_RUN_DIR/pg_service.conf" \
    http_proxy="$proxy" https_proxy="$proxy" HTTPS_PROXY="$proxy" all_proxy="$proxy" ALL_PROXY="$proxy" \
    "$@"
}

# The local cluster: in APEX_PG_DATA (default $APEX_RUN_DIR/pgdata), logging
# to APEX_PG_LOG (default $APEX_RUN_DIR/postgresql.log), with apex_router in
# shared_preload_libraries (its statistics and circuit breakers: README
# "Monitoring"), so the extension must be installed first.
apex_pg_start() {
  local bin data=${APEX_PG_DATA:-$APEX_RUN_DIR/pgdata} log=${APEX_PG_LOG:-$APEX_RUN_DIR/postgresql.log}
  bin=$(apex_pg_bindir)
  mkdir -p "$APEX_RUN_DIR" && chmod 755 "$APEX_RUN_DIR"
  [ "$(id -u)" -eq 0 ] && chown postgres "$APEX_RUN_DIR"
  if [ ! -f "$data/PG_VERSION" ]; then
    apex_log "creating a PostgreSQL 15 cluster in $data"
    apex_as_pg "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null || return 1
  fi
  # max_tracked_sources: the suite makes more than 1000 sources in
  # contrib_regression, whose records of dropped sources only that
  # database's sessions take back (shared_sources.c); the databases used
  # after it (the examples', the recipes') need records of their own
  apex_as_pg_server "$bin/pg_ctl" -D "$data" -w -l "$log" \
    -o "-p $APEX_PGPORT -k $APEX_RUN_DIR -c listen_addresses='' -c shared_preload_libraries=apex_router -c apex_router.max_tracked_sources=5000" \
    start >/dev/null || return 1
  export PGHOST=$APEX_RUN_DIR PGPORT=$APEX_PGPORT PGUSER=postgres
}

# The local cluster again if PG_CONFIG's installed apex_router is newer than
# it: the postmaster loaded the library at start (shared_preload_libraries),
# and every backend runs that copy.
apex_pg_reload_library() {
  local data=${APEX_PG_DATA:-$APEX_RUN_DIR/pgdata} so
  so=$(apex_inst_dir "$1")$("$1" --pkglibdir)/apex_router.so
  [ -f "$data/postmaster.pid" ] && [ "$so" -nt "$data/postmaster.pid" ] || return 0
  apex_log "restarting the cluster: apex_router.so changed"
  apex_pg_stop && apex_pg_start
}

apex_pg_stop() {
  local data=${APEX_PG_DATA:-$APEX_RUN_DIR/pgdata}
  [ -f "$data/postmaster.pid" ] && apex_as_pg "$(apex_pg_bindir)/pg_ctl" -D "$data" -m fast stop >/dev/null
  return 0
}

# A streaming hot standby of the local cluster (issue 16 item 3: apex_route
# on a replica, test/replica): a copy taken with pg_basebackup -R -X stream
# over the primary's socket (initdb's pg_hba.conf lets local connections
# replicate; PostgreSQL 15's defaults, wal_level replica, max_wal_senders 10
# and hot_standby on, are what a standby needs), in APEX_RUN_DIR/replica,
# on APEX_REPLICA_PGPORT (Unix socket only, in APEX_RUN_DIR), logging to
# APEX_RUN_DIR/replica.log, with the primary's build (apex_pg_bindir), its
# shared_preload_libraries and its environment (apex_as_pg_server).  The
# copy is taken again at every start: the primary is small (a second or
# two), and a standby left from an earlier primary (test/bed start made a
# new one) could not follow the new one.  apex_replica wait waits until
# the standby has replayed everything the primary has written so far.
apex_replica() {
  local bin data=$APEX_RUN_DIR/replica log=$APEX_RUN_DIR/replica.log lsn
  bin=$(apex_pg_bindir)
  case $1 in
    stop)
      [ -f "$data/postmaster.pid" ] && apex_as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      return 0 ;;
    start) ;;
    wait)
      lsn=$(psql -XAtq -h "$APEX_RUN_DIR" -p "$APEX_PGPORT" -U postgres -d postgres \
        -c 'SELECT pg_current_wal_lsn()') || return 1
      for _ in $(seq 1 200); do
        [ "$(psql -XAtq -h "$APEX_RUN_DIR" -p "$APEX_REPLICA_PGPORT" -U postgres -d postgres \
          -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'" 2>/dev/null)" = t ] && return 0
        sleep 0.05
      done
      echo "the standby did not replay the primary's WAL up to $lsn within 10 s:" >&2
      tail -5 "$log" >&2
      return 1 ;;
    *) echo "usage: apex_replica start|stop|wait" >&2; return 1 ;;
  esac
  apex_replica stop
  rm -rf "$data"
  # a standby receives WAL through libpqwalreceiver, which the build with
  # assertions (test/bin/pg-cassert: APEX_CASSERT_DIRS) does not build
  if [ ! -f "$("$bin/pg_config" --pkglibdir)/libpqwalreceiver.so" ]; then
    echo "no standby: the build in $bin has no libpqwalreceiver (the build with assertions builds none)" >&2
    return 1
  fi
  # Debian's pg_basebackup, a client of any 15 server: the build with
  # assertions builds none either
  apex_as_pg "$APEX_DEBIAN_PG_BINDIR/pg_basebackup" -h "$APEX_RUN_DIR" -p "$APEX_PGPORT" -U postgres -D "$data" \
    -R -X stream -c fast || return 1
  apex_as_pg_server "$bin/pg_ctl" -D "$data" -w -l "$log" \
    -o "-p $APEX_REPLICA_PGPORT -k $APEX_RUN_DIR -c listen_addresses='' -c shared_preload_libraries=apex_router -c hot_standby=on" \
    start >/dev/null || { tail -5 "$log" >&2; return 1; }
  [ "$(psql -XAtq -h "$APEX_RUN_DIR" -p "$APEX_REPLICA_PGPORT" -U postgres -d postgres \
    -c 'SELECT pg_is_in_recovery()')" = t ] || { echo "the replica is not a standby" >&2; return 1; }
}

# A second cluster, the "remote" database of postgres sources: TCP on
# 127.0.0.1 with password authentication, the corpus in table notes.

apex_remote_pg() {
  # always Debian's build, whichever build the local cluster runs
  local bin=$APEX_DEBIAN_PG_BINDIR data=$APEX_RUN_DIR/remote
  case $1 in
    stop)
      [ -f "$data/postmaster.pid" ] && apex_as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
      return 0 ;;
    start) ;;
    *) echo "usage: apex_remote_pg start|stop" >&2; return 1 ;;
  esac
  apex_remote_tls || { echo "could not make the remote cluster's certificates with openssl" >&2; return 1; }
  local tls=$APEX_RUN_DIR/pgtls
  local opts="-p $APEX_REMOTE_PGPORT -k $APEX_RUN_DIR -c listen_addresses=127.0.0.1 -c ssl=on"
  opts+=" -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key -c ssl_ca_file=$tls/ca.crt"
  if [ ! -f "$data/PG_VERSION" ]; then
    apex_as_pg "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null || return 1
    # apex_cert logs in over TLS only, with a client certificate of the
    # test CA whose CN is its name and its password (the deploy recipe's
    # "Remote PostgreSQL": source_postgres_tls)
    printf '%s\n' 'local all all trust' \
      'hostssl all apex_cert 127.0.0.1/32 scram-sha-256 clientcert=verify-full' \
      'host all apex_cert 127.0.0.1/32 reject' \
      'host all all 127.0.0.1/32 scram-sha-256' >"$data/pg_hba.conf"
    apex_as_pg "$bin/pg_ctl" -D "$data" -w -l "$APEX_RUN_DIR/remote.log" -o "$opts" start >/dev/null || return 1
    apex_remote_load || return 1
    return 0
  fi
  apex_as_pg "$bin/pg_ctl" -D "$data" -w -l "$APEX_RUN_DIR/remote.log" -o "$opts" start >/dev/null
}

# The remote cluster's TLS files, in $APEX_RUN_DIR/pgtls: a test CA
# (ca.crt), the server's certificate for "localhost" (so 127.0.0.1 is a
# host name mismatch under verify-full) signed by it, a client
# certificate for the remote role apex_cert whose key is encrypted with
# the passphrase "key-pass" (sslpassword), and another CA (other-ca.crt)
# that signed none of them.  Keys belong to the postgres OS user, mode
# 0600, as both the server and libpq require.
apex_remote_tls() {
  local tls=$APEX_RUN_DIR/pgtls
  [ -f "$tls/client.key" ] && return 0
  mkdir -p "$tls" || return 1
  (
    cd "$tls" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=apex test CA" \
      -keyout ca.key -out ca.crt &&
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=apex other CA" \
      -keyout other-ca.key -out other-ca.crt &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr &&
    printf 'subjectAltName=DNS:localhost\n' >server.ext &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=apex_cert -keyout client-plain.key -out client.csr &&
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out client.crt &&
    openssl pkey -in client-plain.key -aes256 -passout pass:key-pass -out client.key &&
    rm -f client-plain.key ./*.csr ./*.ext
  ) >/dev/null 2>&1 || return 1
  chmod 755 "$tls" && chmod 644 "$tls"/*.crt && chmod 600 "$tls"/*.key || return 1
  [ "$(id -u)" -eq 0 ] && { chown -R postgres "$tls" || return 1; }
  return 0
}

apex_remote_load() {
  local psql=(psql -qX -v ON_ERROR_STOP=1 -h "$APEX_RUN_DIR" -p "$APEX_REMOTE_PGPORT" -U postgres)
  "${psql[@]}" -d postgres -c "CREATE ROLE apex_remote LOGIN PASSWORD 'remote-pass'" \
    -c "CREATE ROLE apex_cert LOGIN PASSWORD 'cert-pass'" \
    -c "CREATE DATABASE memory OWNER apex_remote" || return 1
  "${psql[@]}" -d memory -v corpus="$(cat "$APEX_ROOT/test/fixtures/corpus.json")" \
    -v tenants="$(cat "$APEX_ROOT/test/fixtures/tenants.json")" <<'SQL'
SET ROLE apex_remote;
-- the per-user memories (scope: apex_route's params reach $3)
CREATE TABLE memories (id text PRIMARY KEY, user_id text NOT NULL, title text NOT NULL,
  body text NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO memories SELECT e->>'id', e->>'user_id', e->>'title', e->>'text', (e->>'created_at')::timestamptz
  FROM jsonb_array_elements(:'tenants'::jsonb) e;
CREATE TABLE notes (id text PRIMARY KEY, kind text NOT NULL, title text NOT NULL, body text NOT NULL,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED);
INSERT INTO notes (id, kind, title, body)
  SELECT e->>'id', e->>'kind', e->>'title', e->>'text' FROM jsonb_array_elements(:'corpus'::jsonb) e;
-- a remote error with a SQLSTATE, DETAIL and HINT of its own, each quoting
-- the query (source_postgres, secrets)
CREATE FUNCTION raise_for(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'no notes for "%"', q USING ERRCODE = 'AX123',
    DETAIL = format('The query was "%s".', q), HINT = format('Ask about something other than "%s".', q);
END $$;
GRANT SELECT ON notes TO apex_cert;
SQL
  # a database in another encoding: text must arrive converted, not as raw bytes
  "${psql[@]}" -d postgres -c "CREATE DATABASE latin1 OWNER apex_remote ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0" || return 1
  "${psql[@]}" -d latin1 -c "SET ROLE apex_remote" \
    -c "CREATE TABLE notes AS SELECT 'l1' AS id, U&'Caf\\00E9 cr\\00E8me' AS title"
}

# Stop the daemon whose pid FILE holds (a run stops its own servers only),
# and wait until it is gone and its port free, before a new run claims it.
apex_stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$1"
}

# A real redis-server (Debian's), password-protected, holding the corpus
# as short-term memory (test/fixtures/load-redis.mjs) and the evaluation
# set's (test/fixtures/eval/load-redis.mjs, keys eval:*).
APEX_REDIS_PASSWORD=redis-pass

apex_redis() {
  local cli=(redis-cli -p "${APEX_REDIS_PORT:-}" -a "$APEX_REDIS_PASSWORD" --no-auth-warning)
  case $1 in
    stop)
      apex_stop_pidfile "$APEX_RUN_DIR/stunnel.pid"
      apex_stop_pidfile "$APEX_RUN_DIR/redis.pid"
      return 0 ;;
    start)
      mkdir -p "$APEX_RUN_DIR"
      apex_remote_tls || return 1
      # TLS too, on REDIS_TLS_PORT, with the remote cluster's test
      # certificate for "localhost": hiredis 0.14 (Debian 12) has no TLS,
      # so a source reaches it through stunnel's tunnel (apex_redis_tunnel)
      redis-server --port "$APEX_REDIS_PORT" --bind 127.0.0.1 --requirepass "$APEX_REDIS_PASSWORD" \
        --tls-port "$REDIS_TLS_PORT" --tls-cert-file "$APEX_RUN_DIR/pgtls/server.crt" \
        --tls-key-file "$APEX_RUN_DIR/pgtls/server.key" --tls-ca-cert-file "$APEX_RUN_DIR/pgtls/ca.crt" \
        --tls-auth-clients no \
        --save '' --appendonly no --dir "$APEX_RUN_DIR" --daemonize yes \
        --logfile "$APEX_RUN_DIR/redis.log" --pidfile "$APEX_RUN_DIR/redis.pid" || return 1
      for _ in $(seq 1 50); do "${cli[@]}" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
      apex_redis_tunnel || return 1
      # a Redis 6 ACL user that may only read, for mappings with a user
      # (source_redis: issue 11 item 4)
      "${cli[@]}" ACL SETUSER reader on '>reader-pass' '~*' '+@read' >/dev/null || return 1
      # the least a source and a result cache need (redis_acl, docs/deploy.md
      # "Redis"): a lookup source's commands on its keys, the cache's on its
      # prefix; CLIENT SETNAME names who asks
      "${cli[@]}" ACL SETUSER apex_lookup on '>lookup-pass' resetkeys '~mem:*' nocommands \
        '+zrevrange' '+hgetall' '+client|setname' >/dev/null || return 1
      "${cli[@]}" ACL SETUSER apex_cache on '>cache-pass' resetkeys '~apex:*' nocommands \
        '+eval' '+get' '+set' '+incr' '+client|setname' >/dev/null || return 1
      [ "${2:-}" = empty ] && return 0
      node "$APEX_ROOT/test/fixtures/load-redis.mjs" | "${cli[@]}" --pipe >/dev/null &&
        # and the evaluation set's short-term memory (eval:* keys; bench/quality)
        node "$APEX_ROOT/test/fixtures/eval/load-redis.mjs" | "${cli[@]}" --pipe >/dev/null ;;
    *) echo "usage: apex_redis start [empty]|stop" >&2; return 1 ;;
  esac
}

# stunnel (Debian's stunnel4) as a TLS client: plain Redis on
# 127.0.0.1:REDIS_TUNNEL_PORT, carried over TLS to the Redis TLS port,
# whose certificate it verifies against the test CA, for the name
# "localhost" (docs/deploy.md "Redis over TLS"; redis_acl).
apex_redis_tunnel() {
  local conf=$APEX_RUN_DIR/stunnel.conf
  # already running (test/bin/redis start without a stop)
  kill -0 "$(cat "$APEX_RUN_DIR/stunnel.pid" 2>/dev/null)" 2>/dev/null && return 0
  printf '%s\n' "pid = $APEX_RUN_DIR/stunnel.pid" "output = $APEX_RUN_DIR/stunnel.log" \
    'foreground = no' '[redis]' 'client = yes' "accept = 127.0.0.1:$REDIS_TUNNEL_PORT" \
    "connect = 127.0.0.1:$REDIS_TLS_PORT" 'verifyChain = yes' "CAfile = $APEX_RUN_DIR/pgtls/ca.crt" \
    'checkHost = localhost' 'sslVersionMin = TLSv1.2' >"$conf"
  stunnel4 "$conf" >/dev/null 2>&1 || { tail -5 "$APEX_RUN_DIR/stunnel.log" >&2; return 1; }
  for _ in $(seq 1 50); do apex_port_listening "$REDIS_TUNNEL_PORT" && return 0; sleep 0.1; done
  echo "stunnel did not start:" >&2; tail -5 "$APEX_RUN_DIR/stunnel.log" >&2
  return 1
}

# A real PgBouncer (Debian's) in front of the local cluster, in
# transaction pooling mode, for the client-stack tests (test/clients): on
# 127.0.0.1:PGBOUNCER_PORT, every database, logged in as postgres over the
# cluster's socket (trust, as every local client of the tests).  Two server
# connections a database, handed out in turn (server_round_robin), so that
# one client's consecutive statements run in different backends: whatever
# a session kept from one statement is gone at the next.  Run as the
# cluster's owner (PgBouncer refuses root); stopped by its pid file, so a
# run stops its own only.
apex_pgbouncer() {
  local ini=$APEX_RUN_DIR/pgbouncer.ini
  case $1 in
    stop)
      apex_stop_pidfile "$APEX_RUN_DIR/pgbouncer.pid"
      return 0 ;;
    start) ;;
    *) echo "usage: apex_pgbouncer start|stop" >&2; return 1 ;;
  esac
  mkdir -p "$APEX_RUN_DIR" || return 1
  cat >"$ini" <<EOF
[databases]
* = host=$APEX_RUN_DIR port=$APEX_PGPORT user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 2
min_pool_size = 2
server_round_robin = 1
logfile = $APEX_RUN_DIR/pgbouncer.log
pidfile = $APEX_RUN_DIR/pgbouncer.pid
EOF
  chmod 644 "$ini"
  apex_as_pg /usr/sbin/pgbouncer -d -q "$ini" || { tail -5 "$APEX_RUN_DIR/pgbouncer.log" >&2; return 1; }
  for _ in $(seq 1 50); do apex_port_listening "$PGBOUNCER_PORT" && return 0; sleep 0.1; done
  echo "pgbouncer did not start:" >&2; tail -5 "$APEX_RUN_DIR/pgbouncer.log" >&2
  return 1
}

# The test servers, with keys set so that user mappings are exercised.
apex_servers_env() {
  export NEO4J_AUTH=${NEO4J_AUTH:-neo4j:testpassword}
  export QDRANT_API_KEY=${QDRANT_API_KEY:-qdrant-test-key}
  export EMBED_API_KEY=${EMBED_API_KEY:-embed-test-key}
  export RERANK_API_KEY=${RERANK_API_KEY:-rerank-test-key}
  export PROXY_AUTH=${PROXY_AUTH:-proxyuser:proxy-test-pass}
  export APEX_TEST_LOG=$APEX_RUN_DIR/requests.log
  # benches may serve a generated corpus (bench/corpus.py); tests never do
  export APEX_FIXTURES=${APEX_BENCH_FIXTURES:-$APEX_ROOT/test/fixtures/corpus.json}
  # the retrieval-quality evaluation set (servers, test/sql/include/eval.sql)
  export APEX_EVAL_DIR=$APEX_ROOT/test/fixtures/eval
  # the checkout's test tree (fixtures, servers) for areas that read it: the
  # assertion pass runs a copy of test/sql and test/expected alone
  export APEX_TEST_DIR=$APEX_ROOT/test
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

# What the regression tests read from their environment, once the servers
# are started with these functions: the local cluster, the scripts that
# stop and start the remote cluster and Redis, the run directory, the ports,
# the server log (APEX_PG_LOG, unless set already) and apex_servers_env's.
apex_bed_env() {
  apex_servers_env
  export PGHOST=$APEX_RUN_DIR PGPORT=$APEX_PGPORT PGUSER=postgres
  export APEX_REMOTE_PG="$APEX_ROOT/test/bin/remote-pg" APEX_REDIS="$APEX_ROOT/test/bin/redis"
  export APEX_WITHOUT_PRELOAD="$APEX_ROOT/test/bin/without-preload"
  export APEX_RUN_DIR "${APEX_PORT_NAMES[@]}"
  # what pg_regress runs diff with: one that writes port names over numbers
  export PATH=$APEX_ROOT/test/bin/regress:$PATH
  export APEX_PG_LOG=${APEX_PG_LOG:-$APEX_RUN_DIR/postgresql.log}
}

apex_servers_stop() {
  local f pid
  for f in servers tcp_faults; do
    if [ -f "$APEX_RUN_DIR/$f.pid" ]; then
      pid=$(cat "$APEX_RUN_DIR/$f.pid")
      kill "$pid" 2>/dev/null
      # gone, and its ports free, before a new run claims them
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$APEX_RUN_DIR/$f.pid"
    fi
  done
  return 0
}

# PostgreSQL 15 built from Debian's own source package with assertions and
# valgrind support.  Debian's binaries free palloc memory silently: a read
# of a freed chunk still finds the old bytes, even under valgrind (palloc
# recycles chunks within its blocks).  --enable-cassert turns on
# CLOBBER_FREED_MEMORY (freed chunks are overwritten with 0x7F bytes) and
# MEMORY_CONTEXT_CHECKING (sentinels after every chunk, checked when a
# context is reset); -DUSE_VALGRIND marks freed chunks inaccessible for
# memcheck (test/valgrind.sh).  One build per source version and flags,
# kept in APEX_CASSERT_CACHE and reused; APEX_CASSERT_REBUILD=1 (or
# test/bin/pg-cassert --rebuild) builds again.
APEX_CASSERT_CACHE=${APEX_CASSERT_CACHE:-/var/cache/apex_router}
# Only what the tests use: the server, libpq, psql, initdb, pg_ctl and
# pg_regress.  OpenSSL so that libpq handles sslmode as Debian's libpq does.
APEX_CASSERT_CONFIGURE="--enable-cassert --enable-debug --with-openssl --without-readline --without-zlib --without-icu --with-system-tzdata=/usr/share/zoneinfo"
APEX_CASSERT_CFLAGS="-O2 -DUSE_VALGRIND"
# The directories built and installed, in order: the server with what
# initdb loads (conversions, snowball, plpgsql), libpq, the programs the
# tests run, pg_regress, the headers and makefiles of PGXS, and dblink (the
# tests' second client).  Not ecpg, pg_dump and the other programs, nor the
# documentation and the rest of contrib.
APEX_CASSERT_DIRS="src/common src/port src/timezone src/backend src/backend/utils/mb/conversion_procs
  src/backend/snowball src/include src/interfaces/libpq src/fe_utils src/bin/initdb src/bin/pg_ctl
  src/bin/psql src/bin/scripts src/bin/pg_config src/pl/plpgsql src/makefiles src/test/regress config
  contrib/dblink"
# valgrind for its client-request header (valgrind/memcheck.h)
APEX_CASSERT_BUILD_DEPS="build-essential dpkg-dev perl libssl-dev valgrind"
APEX_CASSERT_SOURCES=/etc/apt/sources.list.d/apex-router-deb-src.sources

# The cache key: a hash of the flags and directories.  Builds are named
# postgresql-15-cassert-VERSION-KEY: Debian's 50-per-version-dirs patch
# installs libraries into /usr/lib/postgresql/15/lib (over Debian's own)
# unless the prefix contains "postgres".
apex_cassert_key() {
  printf '%s\n' "$APEX_CASSERT_CONFIGURE" "$APEX_CASSERT_CFLAGS" "$APEX_CASSERT_DIRS" | sha256sum | cut -c1-10
}

# The newest complete cached build for the current flags, if any.
apex_cassert_find() {
  local found
  found=$(ls -d "$APEX_CASSERT_CACHE"/postgresql-15-cassert-*-"$(apex_cassert_key)"/.complete 2>/dev/null |
    sort -V | tail -1)
  [ -n "$found" ] && dirname "$found"
}

# deb-src entries for bookworm and bookworm-security in a file of their own
# (the system's deb822 debian.sources stays as it is), unless the machine
# already offers postgresql-15's source.
apex_cassert_sources() {
  [ -n "$(apt-cache showsrc postgresql-15 2>/dev/null)" ] && return 0
  if [ ! -f "$APEX_CASSERT_SOURCES" ]; then
    apex_log "enabling deb-src in $APEX_CASSERT_SOURCES"
    cat >"$APEX_CASSERT_SOURCES" <<'EOF'
# Added by apex_router's test/lib.sh: Debian's source packages, to build
# PostgreSQL 15 with assertions for the tests (test/bin/pg-cassert).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  fi
  apt-get update -qq || return 1
  [ -n "$(apt-cache showsrc postgresql-15 2>/dev/null)" ] ||
    { echo "apt-cache showsrc offers no postgresql-15 source" >&2; return 1; }
}

# The source versions to try: the one of the installed postgresql-15
# first (so that the two regression passes run the same release), then the
# others, newest first.
apex_cassert_versions() {
  local installed offered
  installed=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null)
  offered=$(apt-cache showsrc postgresql-15 | sed -n 's/^Version: //p' | sort -Vru)
  printf '%s\n' "$offered" | grep -Fx -- "$installed"
  printf '%s\n' "$offered" | grep -Fxv -- "$installed"
}

# Sets APEX_CASSERT_PREFIX to a complete build, building one if none is
# cached (several minutes on 2 cores).
apex_cassert_build() {
  APEX_CASSERT_PREFIX=
  if [ "${APEX_CASSERT_REBUILD:-0}" != 1 ] && APEX_CASSERT_PREFIX=$(apex_cassert_find); then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || { echo "run as root to build PostgreSQL into $APEX_CASSERT_CACHE" >&2; return 1; }
  mkdir -p "$APEX_CASSERT_CACHE" || return 1
  # one build at a time; a second caller waits and then finds the first's
  (
    flock 9
    if [ "${APEX_CASSERT_REBUILD:-0}" = 1 ]; then
      rm -rf "$APEX_CASSERT_CACHE"/postgresql-15-cassert-*-"$(apex_cassert_key)"
    elif apex_cassert_find >/dev/null; then
      exit 0
    fi
    apex_cassert_build_locked
  ) 9>"$APEX_CASSERT_CACHE/build.lock" || return 1
  APEX_CASSERT_REBUILD=0
  APEX_CASSERT_PREFIX=$(apex_cassert_find)
}

apex_cassert_build_locked() {
  local work v version='' src prefix attempt start=$SECONDS
  # shellcheck disable=SC2086
  apex_apt_install $APEX_CASSERT_BUILD_DEPS || return 1
  apex_cassert_sources || return 1
  work=$(mktemp -d "$APEX_CASSERT_CACHE/build.XXXXXX") || return 1
  # apt-get source downloads as _apt when it can write there
  id _apt >/dev/null 2>&1 && chown _apt "$work"
  # a version the index offers may be gone from the mirror: try the next,
  # and refresh the index once when none downloads
  for attempt in 1 2; do
    for v in $(apex_cassert_versions); do
      apex_log "fetching the source of postgresql-15 $v"
      if (cd "$work" && apt-get source -qq "postgresql-15=$v" >"$work/source.log" 2>&1); then
        version=$v
        break 2
      fi
      tail -3 "$work/source.log" >&2
      find "$work" -mindepth 1 -maxdepth 1 ! -name source.log -exec rm -rf {} +
    done
    [ "$attempt" = 1 ] && { apt-get update -qq || break; }
  done
  [ -n "$version" ] || { echo "no postgresql-15 source version could be downloaded" >&2; return 1; }
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'postgresql-15-*' | head -1)
  prefix=$APEX_CASSERT_CACHE/postgresql-15-cassert-$version-$(apex_cassert_key)
  apex_log "building PostgreSQL $version with assertions into $prefix (logs in $work)"
  # shellcheck disable=SC2086
  (cd "$src" && ./configure --prefix="$prefix" $APEX_CASSERT_CONFIGURE CFLAGS="$APEX_CASSERT_CFLAGS" \
    >"$work/configure.log" 2>&1) || { tail -20 "$work/configure.log" >&2; return 1; }
  grep -q '^#define USE_ASSERT_CHECKING 1' "$src/src/include/pg_config.h" ||
    { echo "configure did not enable USE_ASSERT_CHECKING" >&2; return 1; }
  # one directory at a time, as src/Makefile does (.NOTPARALLEL), each in
  # parallel; then src/Makefile's own files (PGXS's Makefile.global)
  (cd "$src" && for d in $APEX_CASSERT_DIRS; do make -C "$d" -j"$(nproc)" || exit 1; done &&
    make -C src install-local DESTDIR="$work/stage" &&
    for d in $APEX_CASSERT_DIRS; do make -C "$d" install DESTDIR="$work/stage" || exit 1; done
  ) >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; return 1; }
  # everything must land in the prefix (Debian's patches move directories)
  if [ -n "$(find "$work/stage" -type f ! -path "$work/stage$prefix/*" | head -1)" ]; then
    echo "make install wrote outside $prefix:" >&2
    find "$work/stage" -type f ! -path "$work/stage$prefix/*" | head >&2
    return 1
  fi
  # PostgreSQL's valgrind suppressions, for test/valgrind.sh
  cp "$src/src/tools/valgrind.supp" "$work/stage$prefix/" || return 1
  rm -rf "$prefix" && mv "$work/stage$prefix" "$prefix" || return 1
  apex_cassert_check "$prefix" || return 1
  touch "$prefix/.complete"
  rm -rf "$work"
  apex_log "built PostgreSQL $version with assertions in $((SECONDS - start)) s"
}

# Fails unless code compiled against the build (as the extension is) has
# assertions, freed-memory clobbering, context checking and valgrind
# support on.
apex_cassert_check() {
  local pgc=$1/bin/pg_config
  # shellcheck disable=SC2046
  gcc -fsyntax-only -x c $("$pgc" --cflags) -I"$("$pgc" --includedir-server)" - <<'EOF'
#include "postgres.h"
#ifndef USE_ASSERT_CHECKING
#error USE_ASSERT_CHECKING is not defined
#endif
#ifndef CLOBBER_FREED_MEMORY
#error CLOBBER_FREED_MEMORY is not defined
#endif
#ifndef MEMORY_CONTEXT_CHECKING
#error MEMORY_CONTEXT_CHECKING is not defined
#endif
#ifndef USE_VALGRIND
#error USE_VALGRIND is not defined
#endif
EOF
}
