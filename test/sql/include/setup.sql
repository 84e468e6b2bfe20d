\set ECHO none
-- The start of every test file, so that each runs alone against the test
-- bed (test/bed; README.md, "Running the tests") and in any order:
--   \getenv abs_srcdir PG_ABS_SRCDIR
--   \i :abs_srcdir/sql/include/setup.sql
-- (pg_regress feeds psql the file on stdin, so \ir would look in the
-- current directory; it sets PG_ABS_SRCDIR to the absolute --inputdir.
-- Scripts that run this file themselves, test/demo and the benchmarks,
-- set the psql variable: psql -v abs_srcdir="$APEX_ROOT/test".)
-- Its statements and notices stay out of the expected files.
--
-- What it leaves: the extension created afresh (dropping it drops every
-- source, user mapping and grant a file left behind), the local table
-- notes loaded from the corpus the test servers serve, and the sources of
-- the suite, as a user would create them.  The test servers
-- (test/servers) require the credentials given in the user mappings.
--
-- Ports: psql variables for every port of the run (include/ports.sql).
--
-- Roles are cluster-wide and outlive an interrupted run: a file that
-- creates roles names them first (\set roles 'apex_alice apex_bob'), and
-- they are dropped here with whatever they own in this database.
\i :abs_srcdir/sql/include/ports.sql
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
