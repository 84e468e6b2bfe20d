-- Sources of the suite, as a user would create them.  The test servers
-- (test/servers) listen on 7474 (Neo4j), 6333 (Qdrant), 8080 (embeddings)
-- and require the credentials given in the user mappings.
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
SELECT count(*) AS corpus_items FROM notes;

CREATE SERVER graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url 'http://127.0.0.1:7474', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph OPTIONS (user 'neo4j', password 'testpassword');

CREATE SERVER embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url 'http://127.0.0.1:8080/v1/embeddings', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed OPTIONS (api_key 'embed-test-key');

CREATE SERVER vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://127.0.0.1:6333', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (api_key 'qdrant-test-key');

CREATE SERVER docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                              FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                              ORDER BY 4 DESC, id LIMIT $2');

SELECT srvname, array_to_string(srvoptions[1:1], ',') AS kind
FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
WHERE w.fdwname = 'apex_router' ORDER BY 1;
