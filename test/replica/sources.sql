-- The sources of the standby tests (test/replica/standby.py), after the
-- suite's own (test/sql/include/setup.sql: graph, embed, vectors, docs),
-- in database apex_replica of the primary; the standby gets them by
-- replay.  Each remote kind as its own area defines it (source_redis,
-- source_postgres), sql sources that say where they ran, and the result
-- cache in the Redis the primary and the standby share.
\i :abs_srcdir/sql/include/ports.sql
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER recent OPTIONS (password 'redis-pass');
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
-- where a sql source's query ran: the process (a worker, or the caller)
-- and whether its server is in recovery
\set whereami 'SELECT backend_type || CASE WHEN pg_is_in_recovery() THEN '', in recovery'' ELSE '''' END AS id FROM pg_stat_activity WHERE pid = pg_backend_pid() AND $1 <> '''' LIMIT $2'
CREATE SERVER whereami FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query :'whereami');
CREATE SERVER whereami_inline FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query :'whereami', execution 'inline');
-- a query that writes (a sequence): refused as on a primary
CREATE SEQUENCE replica_seq;
CREATE SERVER whereami_writes FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT nextval(''replica_seq'')::text AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexreplica:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
