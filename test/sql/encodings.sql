-- Databases whose encoding is not UTF-8 (issue 11, item 3): every peer
-- speaks UTF-8, so text is converted where it crosses the network, both
-- ways, for every kind; a character the database encoding lacks fails its
-- source alone (22P05), raw or as a \u escape.  The test servers' chars=FORM
-- fault (test/servers/faults.mjs) appends "café crème", "中文" or "😀" to a
-- string of a real answer, as UTF-8 or as escapes (FORM with "esc").
-- psql talks UTF-8 to every database here (\encoding), so this file and its
-- expected output are UTF-8 whatever the database's encoding.
\set ECHO none
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/ports.sql
SET client_min_messages = warning;
SELECT current_database() AS regress_db \gset
DROP DATABASE IF EXISTS apex_latin1;
DROP DATABASE IF EXISTS apex_sql_ascii;
RESET client_min_messages;
\set ECHO all
CREATE DATABASE apex_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c apex_latin1
\encoding UTF8
SHOW server_encoding;
CREATE EXTENSION apex_router;
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/route_failure.sql

-- the sources, as the suite's setup.sql has them, and one of each HTTP kind
-- behind a fault that sends characters LATIN1 lacks
CREATE SERVER graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE SERVER embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE SERVER vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT $1 AS id, encode(convert_to($1, ''UTF8''), ''hex'') AS title LIMIT $2');
CREATE SERVER mem FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port',
           term_key 'apexenc:term:%s', item_key 'apexenc:item:%s');
CREATE USER MAPPING FOR PUBLIC SERVER graph OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER embed OPTIONS (api_key 'embed-test-key');
CREATE USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (api_key 'qdrant-test-key');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE USER MAPPING FOR PUBLIC SERVER mem OPTIONS (password 'redis-pass');
-- Redis memory of our own (the corpus' keys are apex_router's "mem:"):
-- terms and items written in UTF-8, as applications write them
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning eval "for _, k in ipairs(redis.call('keys', 'apexenc*')) do redis.call('del', k) end" 0 >/dev/null
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning zadd 'apexenc:term:café' 1 e1 >/dev/null
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning hset apexenc:item:e1 title 'Crème brûlée' content 'au café' >/dev/null
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning zadd 'apexenccjk:term:café' 1 c1 >/dev/null
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning hset apexenccjk:item:c1 title '中文' content 'x' >/dev/null
\! redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning zadd 'apexencemoji:term:café' 1 '😀' >/dev/null

-- issue 11 item 3: the question "café crème" reaches every server as UTF-8.
-- HTTP: the test servers log what they parsed (a body in Latin-1 would show
-- U+FFFD there; Qdrant gets the embedding, not the question); Redis: the
-- term's key "apexenc:term:café" exists in UTF-8 only; postgres: libpq's
-- client_encoding is LATIN1, the remote converts ($1's UTF-8 bytes, in hex).
\set before `wc -l < "$APEX_TEST_LOG"`
SELECT rank, id, title, found_in
FROM apex_route('café crème', k => 10, sources => '{graph,vectors,facts,remote_docs,mem}')
WHERE found_in && '{remote_docs,mem}';
\set log `tail -n +$(( :before + 1 )) "$APEX_TEST_LOG"`
SELECT e->>'server' AS server, e->>'path' AS path,
       coalesce(e#>>'{body,statements,0,parameters,query}', e#>>'{body,input}',
                e#>>'{body,query}') AS question
FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
WHERE l <> '' AND e->>'server' <> 'qdrant' ORDER BY 1, 2;

-- issue 11 item 3: answers holding é, raw and as \u00e9 escapes, come back
-- as the same text in LATIN1 (the fault appends to the first item's id)
\set url :neo4j_url'/__fault/chars=latin1'
ALTER SERVER graph OPTIONS (SET url :'url');
\set url :qdrant_url'/__fault/chars=latin1esc'
ALTER SERVER vectors OPTIONS (SET url :'url');
\set url :graphiti_url'/__fault/chars=latin1esc'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT id, convert_to(id, 'LATIN1') AS latin1_bytes, found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{graph,vectors,facts}')
WHERE id LIKE '%café crème';
\set url :neo4j_url'/__fault/chars=latin1esc'
ALTER SERVER graph OPTIONS (SET url :'url');
\set url :qdrant_url'/__fault/chars=latin1'
ALTER SERVER vectors OPTIONS (SET url :'url');
\set url :graphiti_url'/__fault/chars=latin1'
ALTER SERVER facts OPTIONS (SET url :'url');
SELECT id, found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{graph,vectors,facts}')
WHERE id LIKE '%café crème';
-- Redis values (the title, "Crème brûlée") and the postgres kind's
SELECT id, title, content, found_in FROM apex_route('café', sources => '{mem}');
ALTER SERVER graph OPTIONS (SET url :'neo4j_url');
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
ALTER SERVER facts OPTIONS (SET url :'graphiti_url');

-- issue 11 item 3: two sources of each kind in one call, one answering
-- characters LATIN1 lacks: that one fails (a WARNING), the other's rows stay.
-- CJK as UTF-8, then as \u escapes; an emoji (beyond the BMP) as UTF-8,
-- then as a surrogate pair of escapes.
\set url :neo4j_url'/__fault/chars=cjk'
CREATE SERVER graph_cjk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_cjk OPTIONS (user 'neo4j', password 'testpassword');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{graph,graph_cjk}'), unnest(found_in) f;
\set url :neo4j_url'/__fault/chars=cjkesc'
ALTER SERVER graph_cjk OPTIONS (SET url :'url');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{graph,graph_cjk}'), unnest(found_in) f;
-- an error body that cannot be read as JSON in LATIN1 is shown as the
-- server's words, a character LATIN1 lacks as "?"
\set url :neo4j_url'/__fault/status=503,chars=cjk'
ALTER SERVER graph_cjk OPTIONS (SET url :'url');
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 20, sources => '{graph,graph_cjk}');
\set url :qdrant_url'/__fault/chars=emoji'
CREATE SERVER vectors_emoji FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'url', collection 'memory',
           embedder 'embed', id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER vectors_emoji OPTIONS (api_key 'qdrant-test-key');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{vectors,vectors_emoji}'), unnest(found_in) f;
\set url :qdrant_url'/__fault/chars=emojiesc'
ALTER SERVER vectors_emoji OPTIONS (SET url :'url');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{vectors,vectors_emoji}'), unnest(found_in) f;
\set url :graphiti_url'/__fault/chars=cjkesc'
CREATE SERVER facts_cjk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', group_ids 'team');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{facts,facts_cjk}'), unnest(found_in) f;
-- the embedder's answer is numbers, but a string it holds counts too: the
-- vector source waiting for it fails, and says whose answer it was
\set url :embed_base'/__fault/chars=cjk/v1/embeddings'
CREATE SERVER embed_cjk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed_cjk OPTIONS (api_key 'embed-test-key');
ALTER SERVER vectors_emoji OPTIONS (SET url :'qdrant_url', SET embedder 'embed_cjk');
SELECT count(*) AS rows, array_agg(DISTINCT f) AS found_in
FROM apex_route('Sarah roadmap', k => 20, sources => '{vectors,vectors_emoji}'), unnest(found_in) f;
-- Redis: a value (a title) and a member (an item id) LATIN1 lacks
CREATE SERVER mem_cjk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port',
           term_key 'apexenccjk:term:%s', item_key 'apexenccjk:item:%s');
CREATE SERVER mem_emoji FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port',
           term_key 'apexencemoji:term:%s', item_key 'apexencemoji:item:%s');
CREATE USER MAPPING FOR PUBLIC SERVER mem_cjk OPTIONS (password 'redis-pass');
CREATE USER MAPPING FOR PUBLIC SERVER mem_emoji OPTIONS (password 'redis-pass');
SELECT id, title, found_in FROM apex_route('café', sources => '{mem,mem_cjk,mem_emoji}');
-- postgres: the remote server cannot convert the row to LATIN1 and says so
-- with its own 22P05, carried over
CREATE SERVER remote_cjk FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT ''c1'' AS id, chr(20013) AS title LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_cjk OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT id, title, found_in FROM apex_route('café', sources => '{remote_docs,remote_cjk}');
-- as a program sees them: 22P05, untranslatable_character, for every kind
\set url :neo4j_url'/__fault/chars=cjk'
ALTER SERVER graph_cjk OPTIONS (SET url :'url');
SELECT s AS source, f.state, f.detail
FROM unnest('{graph_cjk,vectors_emoji,facts_cjk,mem_cjk,mem_emoji,remote_cjk}'::text[]) s,
     LATERAL route_failure('Sarah roadmap café', ARRAY[s]) f;

-- issue 11 item 3: the result cache (a redis source) stores its JSON in
-- UTF-8 and reads it back into LATIN1: the second call is a hit with the
-- same rows
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexenc:cache:');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'cache';
SELECT apex_router_cache_flush() >= 0 AS flushed;
\set before `wc -l < "$APEX_TEST_LOG"`
SELECT id, title FROM apex_route('café', sources => '{mem,graph}');
SELECT id, title FROM apex_route('café', sources => '{mem,graph}');
-- one request to Neo4j: the second call was answered from the cache
\set log `tail -n +$(( :before + 1 )) "$APEX_TEST_LOG"`
SELECT count(*) AS neo4j_requests FROM regexp_split_to_table(:'log', E'\n') l WHERE l <> '';
RESET apex_router.cache_source;

-- issue 11 item 3: a Qdrant filter option holding é is LATIN1 text to
-- check, and goes out in UTF-8 (before: "not valid UTF-8")
ALTER SERVER vectors OPTIONS (ADD filter '{"must_not":[{"key":"title","match":{"value":"Crème brûlée"}}]}');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', sources => '{vectors}');

-- issue 11 item 3 (found in review): a non-ASCII password goes out in
-- UTF-8, so a server echoes its UTF-8 bytes (base64, percent-encoded, JSON
-- escapes), which are masked as the secret's own bytes are; raw, the echo
-- arrives converted to LATIN1 and is masked too
CREATE SERVER graph_echo FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', statement 'RETURN 1 AS id');
CREATE USER MAPPING FOR PUBLIC SERVER graph_echo OPTIONS (user 'neo4j', password 'pässwörd');
\set url :neo4j_url'/__fault/echo=header'
ALTER SERVER graph_echo OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph_echo}');
\set url :neo4j_url'/__fault/echo=base64'
ALTER SERVER graph_echo OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph_echo}');
\set url :neo4j_url'/__fault/echo=percent'
ALTER SERVER graph_echo OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph_echo}');
\set url :neo4j_url'/__fault/echo=json'
ALTER SERVER graph_echo OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph_echo}');
\set url :neo4j_url'/__fault/echo=cut'
ALTER SERVER graph_echo OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph_echo}');
DROP SERVER graph_echo CASCADE;

-- SQL_ASCII declares no encoding: text goes out as it is stored, and must be
-- UTF-8 for a JSON body; answers come in unconverted (issue 11 item 3)
\c :regress_db
CREATE DATABASE apex_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c apex_sql_ascii
SHOW server_encoding;
CREATE EXTENSION apex_router;
\set url :neo4j_url'/__fault/chars=cjkesc'
CREATE SERVER graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph OPTIONS (user 'neo4j', password 'testpassword');
SELECT id FROM apex_route('Sarah roadmap', sources => '{graph}') WHERE id LIKE '%中文';
-- a byte that is not UTF-8 (é in Latin-1) fails the source, unsent
SELECT count(*) AS rows FROM apex_route(E'caf\xe9 Sarah', sources => '{graph}');

\c :regress_db
DROP DATABASE apex_latin1;
DROP DATABASE apex_sql_ascii;
