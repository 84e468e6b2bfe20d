#!/usr/bin/env bash
# Resource soak: N apex_route calls (default 100000) in one backend over
# every kind of source (neo4j over http and https, qdrant + embedder, two sql
# in background workers, postgres, redis, the result cache) plus failing ones (malformed JSON,
# refused connection, a garbage-answering server for HTTP and for Redis, a
# sql source whose write is refused, one whose worker is terminated mid-query),
# printing the backend's open descriptors, RSS, the sql workers running
# a query and those alive (pooled, waiting for work), the DSM segments it
# maps and those any process of the server maps (shm)
# every N/10 calls: all must stay flat.  Not part of test/run-tests (it
# takes minutes).  Runs in
# $APEX_HOME/soak on a free block of ports (test/lib.sh, "Ports"), beside
# test runs, the demo and other checkouts.
# Usage: sudo test/soak.sh [N]
set -u
. "$(dirname "$0")/lib.sh"
cd "$APEX_ROOT"
N=${1:-100000}
APEX_RUN_DIR=$APEX_HOME/soak

apex_install_deps || exit 1
apex_build_install || exit 1
cleanup() { apex_servers_stop; apex_redis stop; apex_remote_pg stop; apex_pg_stop; }
trap cleanup EXIT
cleanup
rm -rf "$APEX_RUN_DIR"
apex_ports_claim || exit 1
apex_log "ports $APEX_PGPORT.. (block $APEX_PORT_BLOCK), run directory $APEX_RUN_DIR"
apex_pg_start && apex_remote_pg start && apex_redis start && apex_servers_start || exit 1
apex_ports_started
psql -qX -v ON_ERROR_STOP=1 -v abs_srcdir="$APEX_ROOT/test" -d postgres -f test/sql/include/setup.sql >/dev/null || exit 1

# the ports, named as in setup.sql (whose variables live in its own session)
psql -qAtX -v ON_ERROR_STOP=1 -v n="$N" -v remote_pgport="$APEX_REMOTE_PGPORT" \
  -v redis_port="$APEX_REDIS_PORT" -v qdrant_url="http://127.0.0.1:$QDRANT_PORT" \
  -v closed_url="http://127.0.0.1:$CLOSED_PORT" -v garbage_port="$GARBAGE_PORT" \
  -v neo4j_tls_url="https://localhost:$NEO4J_TLS_PORT" -d postgres <<'SQL'
SET client_min_messages = error;
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body FROM notes WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER recent OPTIONS (password 'redis-pass');
\set url :qdrant_url'/__fault/malformed'
CREATE SERVER malformed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'url', collection 'memory', embedder 'embed');
CREATE USER MAPPING FOR PUBLIC SERVER malformed OPTIONS (api_key 'qdrant-test-key');
CREATE SERVER refused FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'closed_url', statement 'RETURN 1 AS id');
\set url 'http://127.0.0.1:' :garbage_port
CREATE SERVER garbage FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
CREATE SERVER redis_garbage FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'garbage_port');
-- a second sql source, failing every call (a write refused by read-only execution)
CREATE SERVER sql_writer FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'WITH d AS (DELETE FROM notes WHERE false RETURNING id) SELECT id FROM d WHERE $1 <> '''' LIMIT $2');
\getenv cafile TLS_CERT
CREATE SERVER graph_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_tls_url', ca_file :'cafile',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_tls OPTIONS (user 'neo4j', password 'testpassword');
-- issue 12: sql sources run in background workers; the workers still
-- running, the DSM segments this backend maps and those any process of
-- the server maps (shm) must stay flat too
-- (a worker whose request was cancelled as its call ended may take a
-- moment to stop: one still running after a second is counted; pooled
-- workers waiting for work are counted apart, at most worker_pool_size)
CREATE FUNCTION workers_left() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  FOR i IN 1 .. 20 LOOP
    PERFORM pg_stat_clear_snapshot();
    SELECT count(*) INTO n FROM pg_stat_activity WHERE backend_type = 'apex_router sql'
      AND state IS DISTINCT FROM 'idle';
    EXIT WHEN n = 0;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN n;
END $$;
CREATE FUNCTION probe(calls int) RETURNS text LANGUAGE sql AS $$
  SELECT format('%s calls: fds=%s %s workers=%s pooled=%s dsm=%s shm=%s', calls,
                (SELECT count(*) FROM pg_ls_dir('/proc/self/fd')),
                (SELECT regexp_replace(l, '\s+', ' ', 'g')
                 FROM regexp_split_to_table(pg_read_file('/proc/self/status'), E'\n') l
                 WHERE l LIKE 'VmRSS%'),
                workers_left(),
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'apex_router sql'),
                (SELECT count(*) FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\n') l
                 WHERE l LIKE '%/PostgreSQL.%'),
                (SELECT count(DISTINCT substring(l from '/PostgreSQL\.\d+'))
                 FROM pg_stat_activity a,
                      regexp_split_to_table(coalesce(pg_read_file('/proc/' || a.pid || '/maps', 0, 1 << 24, true), ''), E'\n') l
                 WHERE l LIKE '%/PostgreSQL.%')) $$;
SET apex_router.cache_source = 'recent';
SELECT format($f$DO $$ BEGIN FOR i IN 1..%s LOOP
  PERFORM count(*) FROM apex_route('Sarah roadmap ' || (i %% 500), k => 5);
END LOOP; END $$;$f$, :n / 10) AS batch \gset
SELECT probe(:n / 10 * 0); :batch SELECT probe(:n / 10 * 1); :batch SELECT probe(:n / 10 * 2);
:batch SELECT probe(:n / 10 * 3); :batch SELECT probe(:n / 10 * 4); :batch SELECT probe(:n / 10 * 5);
:batch SELECT probe(:n / 10 * 6); :batch SELECT probe(:n / 10 * 7); :batch SELECT probe(:n / 10 * 8);
:batch SELECT probe(:n / 10 * 9); :batch SELECT probe(:n / 10 * 10);
SELECT kind || ': ' || count(*) || ' kept, ' || sum(requests) || ' requests'
FROM apex_router_connections() GROUP BY kind ORDER BY kind;
SQL
