\set ECHO none
-- The start of every test file, so that each runs alone against the test
-- bed (test/bed; README.md, "Running the tests") and in any order:
--   \getenv abs_srcdir PG_ABS_SRCDIR
--   \i :abs_srcdir/sql/include/setup.sql
-- (pg_regress feeds psql the file on stdin, so \ir would look in the
-- current directory; it sets PG_ABS_SRCDIR to the absolute --inputdir.)
-- Its statements and notices stay out of the expected files.
--
-- What it leaves: the extension created afresh (dropping it drops every
-- source, user mapping and grant a file left behind), the local table
-- notes loaded from the corpus the test servers serve, and the sources of
-- the suite, as a user would create them.  The test servers
-- (test/servers) require the credentials given in the user mappings.
--
-- Ports: every port of the run comes from test/lib.sh ("Ports"), through
-- the environment, into the psql variables below; tests write :'neo4j_url'
-- or \set url :neo4j_url'/__fault/hang', never a number.  What the tests
-- print gets the names back in place of the numbers (test/bin/regress/diff),
-- so the expected files say $NEO4J_PORT where a message names a port.
--
-- Roles are cluster-wide and outlive an interrupted run: a file that
-- creates roles names them first (\set roles 'apex_alice apex_bob'), and
-- they are dropped here with whatever they own in this database.
\getenv pgport APEX_PGPORT
\getenv remote_pgport APEX_REMOTE_PGPORT
\getenv redis_port APEX_REDIS_PORT
\getenv neo4j_port NEO4J_PORT
\getenv neo4j_tls_port NEO4J_TLS_PORT
\getenv qdrant_port QDRANT_PORT
\getenv embed_port EMBED_PORT
\getenv graphiti_port GRAPHITI_PORT
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
SET client_min_messages = warning;
\if :{?roles}
SELECT format('DROP OWNED BY %I CASCADE', rolname), format('DROP ROLE %I', rolname)
FROM pg_roles WHERE rolname = ANY (string_to_array(:'roles', ' ')) \gexec
\endif
DROP EXTENSION IF EXISTS apex_router CASCADE;
DROP TABLE IF EXISTS notes;
-- a fault an interrupted cache test left set on the test Neo4j
\! curl -s -o /dev/null -X DELETE "http://127.0.0.1:$NEO4J_PORT/__control"

CREATE EXTENSION apex_router;

-- the local table is loaded from the same fixture corpus as the servers
\set corpus `cat "$APEX_FIXTURES"`
CREATE TABLE notes (
    id text PRIMARY KEY,
    kind text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body)) STORED);
INSERT INTO notes (id, kind, title, body)
  SELECT e->>'id', e->>'kind', e->>'title', e->>'text'
  FROM jsonb_array_elements(:'corpus'::jsonb) e;

CREATE SERVER graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph OPTIONS (user 'neo4j', password 'testpassword');

CREATE SERVER embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed OPTIONS (api_key 'embed-test-key');

CREATE SERVER vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (api_key 'qdrant-test-key');

CREATE SERVER docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                              FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                              ORDER BY 4 DESC, id LIMIT $2');
RESET client_min_messages;
\set ECHO all
