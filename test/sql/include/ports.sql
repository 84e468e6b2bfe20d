-- The ports of the run, as psql variables (included by setup.sql; a file
-- that does not include setup.sql includes this).  Every port comes from
-- test/lib.sh ("Ports") through the environment; tests write :'neo4j_url'
-- or \set url :neo4j_url'/__fault/hang', never a number.  What the tests
-- print gets the names back in place of the numbers (test/bin/regress/diff),
-- so the expected files say $NEO4J_PORT where a message names a port.
\getenv pgport APEX_PGPORT
\getenv remote_pgport APEX_REMOTE_PGPORT
\getenv redis_port APEX_REDIS_PORT
\getenv neo4j_port NEO4J_PORT
\getenv neo4j_tls_port NEO4J_TLS_PORT
\getenv qdrant_port QDRANT_PORT
\getenv embed_port EMBED_PORT
\getenv graphiti_port GRAPHITI_PORT
\getenv rerank_port RERANK_PORT
\getenv proxy_port PROXY_PORT
\getenv blackhole_port BLACKHOLE_PORT
\getenv silent_port SILENT_PORT
\getenv garbage_port GARBAGE_PORT
\getenv echo_redis_port ECHO_REDIS_PORT
\getenv slow_port SLOW_PORT
\getenv slow_tls_port SLOW_TLS_PORT
-- a port of the run that nothing listens on: connections are refused
\getenv closed_port CLOSED_PORT
\set neo4j_url 'http://127.0.0.1:' :neo4j_port
\set neo4j_tls_url 'https://localhost:' :neo4j_tls_port
\set qdrant_url 'http://127.0.0.1:' :qdrant_port
\set embed_base 'http://127.0.0.1:' :embed_port
\set embed_url :embed_base'/v1/embeddings'
\set graphiti_url 'http://127.0.0.1:' :graphiti_port
\set rerank_url 'http://127.0.0.1:' :rerank_port
\set proxy_url 'http://127.0.0.1:' :proxy_port
\set closed_url 'http://127.0.0.1:' :closed_port
-- the same for PL/pgSQL, which cannot see psql variables:
-- current_setting('apex_test.neo4j_url')
SET apex_test.neo4j_url = :'neo4j_url';
SET apex_test.qdrant_url = :'qdrant_url';
SET apex_test.graphiti_url = :'graphiti_url';
SET apex_test.remote_pgport = :'remote_pgport';
SET apex_test.redis_port = :'redis_port';
SET apex_test.neo4j_port = :'neo4j_port';
SET apex_test.closed_port = :'closed_port';
SET apex_test.blackhole_port = :'blackhole_port';
SET apex_test.silent_port = :'silent_port';
SET apex_test.garbage_port = :'garbage_port';
