\set ECHO none
-- The two other sources of the test bed: remote_docs (the remote cluster,
-- apex_remote_pg) and recent (redis-server, apex_redis), with their user
-- mappings, for the areas, benchmarks and the Python peer's check that use
-- them.  Included after include/setup.sql.
\i :abs_srcdir/sql/include/ports.sql
SET client_min_messages = warning;
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER recent OPTIONS (password 'redis-pass');
RESET client_min_messages;
\set ECHO all
