-- sql sources: a query in this database, through SPI.  Issue 9, items 1
-- and 2: results built in the right memory, several sql sources and large k
-- in one call; the query runs as the server's owner, read-only, with a
-- search_path the caller cannot steer.
\set roles 'apex_mallory apex_reader'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'

-- local SQL via SPI
SELECT rank, id, title, round((payload->'docs'->>'score')::numeric, 4) AS ts_rank
FROM apex_route('billing migration', k => 4, sources => '{docs}');
-- every column of the row is in the raw item
SELECT jsonb_object_keys(payload->'docs'->'item') AS item_keys
FROM apex_route('billing migration', k => 1, sources => '{docs}') ORDER BY 1;
-- rows without an id are skipped; only id is required
CREATE SERVER ids_only FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT v FROM (VALUES (''a''), (NULL), (''b'')) t(v) LIMIT $2');
SELECT rank, id, title, content, found_in FROM apex_route('x', sources => '{ids_only}');
DROP SERVER ids_only;
\pset null ''

-- issue 9 item 1, as reported: two sql sources in one call (the second with
-- 300-byte bodies) crashed the backend; their result lists lived in SPI's
-- memory, freed by SPI_finish before fusion read them
CREATE TABLE uaf_t AS SELECT 'a'||g AS id, 'title '||g AS title FROM generate_series(1,50) g;
CREATE SERVER uaf_s1 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT id, title FROM uaf_t WHERE $1 <> '''' LIMIT $2');
CREATE SERVER uaf_s2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT ''b''||id AS id, title, body FROM (SELECT id, title, repeat(''z'',300) AS body FROM uaf_t) x WHERE $1 <> '''' LIMIT 3');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE found_in = '{uaf_s1}' AND id LIKE 'a%' AND content IS NULL) AS from_s1,
       count(*) FILTER (WHERE found_in = '{uaf_s2}' AND id LIKE 'ba%' AND length(content) = 300) AS from_s2
FROM apex_route('x', k => 20, sources => '{uaf_s1,uaf_s2}');
-- one sql source and a large k
SELECT count(*) AS rows, min(rank), max(rank), count(DISTINCT title) AS titles
FROM apex_route('x', k => 10000, sources => '{uaf_s1}');
-- three sql sources, 10000 rows each, overlapping ids: every row attributed
CREATE SERVER big1 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''i''||g, ''t''||g, repeat(''c'', 100), 1.0 / g FROM generate_series(1, $2) g WHERE $1 <> ''''');
CREATE SERVER big2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''i''||(g * 2), NULL, NULL, NULL FROM generate_series(1, $2) g WHERE $1 <> ''''');
CREATE SERVER big3 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''j''||g, ''u''||g FROM generate_series(1, $2) g WHERE $1 <> ''''');
SELECT count(*) AS rows,
       count(*) FILTER (WHERE cardinality(found_in) = 2) AS in_two,
       count(*) FILTER (WHERE found_in = '{big3}') AS only_big3,
       sum(length(payload::text)) > 0 AS payloads,
       bool_and(payload ? found_in[1]) AS payload_keys
FROM apex_route('x', k => 10000, sources => '{big1,big2,big3}');
SELECT rank, id, title, found_in FROM apex_route('x', k => 10000, sources => '{big1,big2,big3}') WHERE rank <= 3;

-- k = 10000 from every kind at once (the corpus has 40 items)
\set corpus `cat "$APEX_FIXTURES"`
CREATE TABLE every_notes (id text PRIMARY KEY, title text, body text);
INSERT INTO every_notes SELECT e->>'id', e->>'title', e->>'text' FROM jsonb_array_elements(:'corpus'::jsonb) e;
CREATE SERVER every_sql FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT id, title, body FROM every_notes WHERE $1 <> '''' ORDER BY id LIMIT $2');
CREATE SERVER every_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER every_graph OPTIONS (user 'neo4j', password 'testpassword');
CREATE SERVER every_embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER every_embed OPTIONS (api_key 'embed-test-key');
CREATE SERVER every_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'every_embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER every_vectors OPTIONS (api_key 'qdrant-test-key');
CREATE SERVER every_facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');
CREATE USER MAPPING FOR PUBLIC SERVER every_facts OPTIONS (api_key 'graphiti-test-key');
CREATE SERVER every_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER every_redis OPTIONS (password 'redis-pass');
CREATE SERVER every_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body FROM notes WHERE $1 <> '''' ORDER BY id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER every_pg OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT s AS source, count(*) AS items
FROM apex_route('Sarah roadmap billing', k => 10000,
                sources => '{every_sql,every_graph,every_vectors,every_facts,every_redis,every_pg,big1}'),
     unnest(found_in) s
GROUP BY s ORDER BY s;
SELECT count(*) AS rows FROM apex_route('Sarah roadmap billing', k => 10000,
  sources => '{every_sql,every_graph,every_vectors,every_facts,every_redis,every_pg,big1,big2,big3,uaf_s1,uaf_s2}');
DROP SERVER every_sql, every_graph, every_vectors, every_embed, every_facts, every_redis, every_pg CASCADE;
DROP TABLE every_notes;
DROP SERVER uaf_s1, uaf_s2, big1, big2, big3;
DROP TABLE uaf_t;

-- issue 9 item 2, as reported: a role with USAGE on the wrapper planted a sql
-- source whose query calls its own function; a superuser's plain
-- apex_route() then ran it as superuser and the role became SUPERUSER
CREATE ROLE apex_mallory LOGIN;
CREATE ROLE apex_reader LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_mallory;
CREATE SCHEMA mallory AUTHORIZATION apex_mallory;
CREATE TABLE owned_by_postgres AS SELECT 'p1' AS id, 'private' AS title;
SET ROLE apex_mallory;
CREATE FUNCTION mallory.rise(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'ALTER ROLE apex_mallory SUPERUSER';
  RETURN 'risen';
END $$;
CREATE FUNCTION mallory.whoami(q text) RETURNS text LANGUAGE sql AS $$ SELECT current_user::text $$;
CREATE TABLE mallory.mine AS SELECT 'm1' AS id, 'mallory''s row' AS title;
CREATE SERVER trojan FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', search_path 'mallory', query 'SELECT rise($1) AS id LIMIT $2');
CREATE SERVER whoami FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', search_path 'mallory', query 'SELECT whoami($1) AS id, session_user::text AS title LIMIT $2');
CREATE SERVER peek FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT rolname::text FROM pg_authid WHERE $1 <> '''' LIMIT $2');
CREATE SERVER steal FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id FROM public.owned_by_postgres WHERE $1 <> '''' LIMIT $2');
CREATE SERVER mallory_rows FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', search_path 'mallory', query 'SELECT id, title FROM mine WHERE $1 <> '''' LIMIT $2');
GRANT USAGE ON FOREIGN SERVER mallory_rows TO apex_reader;
RESET ROLE;
-- the superuser's plain call: every source it has USAGE on, the trojan among them
SET client_min_messages = error;
SELECT count(*) >= 0 AS returned FROM apex_route('anything');
RESET client_min_messages;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'apex_mallory';
SELECT * FROM apex_route('x', sources => '{trojan}');
-- the query runs as its owner, whoever calls
SELECT id AS current_user, title AS session_user FROM apex_route('x', sources => '{whoami}');
-- with the owner's privileges, not the caller's
SELECT * FROM apex_route('x', sources => '{peek}');
SELECT * FROM apex_route('x', sources => '{steal}');
-- a caller needs USAGE on the source, not the owner's table privileges (as for a view)
SET ROLE apex_reader;
SELECT id, title, found_in FROM apex_route('x', sources => '{mallory_rows}');
SELECT count(*) FROM mallory.mine;
RESET ROLE;

-- a sql source whose query writes: the leg fails and the write is rolled back
CREATE TABLE victim AS SELECT 1 AS id;
CREATE SERVER writer FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'DELETE FROM victim RETURNING id::text, $1 AS title, $2::text AS content');
SELECT count(*) FROM apex_route('x', sources => '{writer}');
SELECT count(*) AS still_there FROM victim;
DROP SERVER writer;
DROP TABLE victim;

-- issue 9 item 2: writes are refused by read-only execution, however spelled
CREATE TABLE victim2 AS SELECT 1 AS id;
CREATE FUNCTION sneaky_delete() RETURNS text LANGUAGE plpgsql AS $$
BEGIN DELETE FROM victim2; RETURN 'gone'; END $$;
CREATE SEQUENCE victim_seq;
CREATE SERVER writer_cte FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'WITH d AS (DELETE FROM victim2 RETURNING id) SELECT id::text FROM d WHERE $1 <> '''' LIMIT $2');
CREATE SERVER writer_fn FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT sneaky_delete() WHERE $1 <> '''' LIMIT $2');
CREATE SERVER writer_seq FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT nextval(''victim_seq'')::text WHERE $1 <> '''' LIMIT $2');
CREATE SERVER writer_role FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT set_config(''role'', ''apex_mallory'', false) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER setter FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT set_config(''work_mem'', ''1234kB'', false) WHERE $1 <> '''' LIMIT $2');
SELECT * FROM apex_route('x', sources => '{writer_cte}');
SELECT * FROM apex_route('x', sources => '{writer_fn}');
SELECT * FROM apex_route('x', sources => '{writer_seq}');
SELECT * FROM apex_route('x', sources => '{writer_role}');
SELECT count(*) AS still_there FROM victim2;
SELECT last_value, is_called FROM victim_seq;
-- a setting changed by the query does not outlive it
SHOW work_mem;
SELECT id FROM apex_route('x', sources => '{setter}');
SHOW work_mem;
SHOW transaction_read_only;
SELECT current_user;

-- issue 9 item 2: the caller's search_path and temporary tables cannot
-- redirect the owner's query to the caller's objects
CREATE TABLE shadowed AS SELECT 'owner-row' AS id;
CREATE SERVER shadow_src FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT id FROM shadowed WHERE $1 <> '''' LIMIT $2');
GRANT USAGE ON FOREIGN SERVER shadow_src TO apex_mallory;
SET ROLE apex_mallory;
CREATE TABLE mallory.shadowed AS SELECT 'mallory-row' AS id;
CREATE TEMP TABLE shadowed AS SELECT 'temp-row' AS id;
SET search_path = mallory, public;
SELECT id FROM apex_route('x', sources => '{shadow_src}');
RESET search_path;
DROP TABLE pg_temp.shadowed;
RESET ROLE;
-- the search_path option: a list of schemas, pg_temp last unless placed
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query 'SELECT 1', search_path 'a,,b');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query 'SELECT 1', search_path '');
CREATE SERVER pathless FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'pg_catalog',
  query 'SELECT id FROM shadowed WHERE $1 <> '''' LIMIT $2');
SELECT * FROM apex_route('x', sources => '{pathless}');
ALTER SERVER pathless OPTIONS (SET search_path 'mallory');
SELECT id FROM apex_route('x', sources => '{pathless}');

-- issue 9 probe: session-level advisory locks outlive the subtransaction: a
-- source's query left a lock held by the caller's session, or released
-- every lock the caller held; they are refused however they are reached
CREATE FUNCTION lock_in_plpgsql() RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_lock(4243); RETURN 'locked'; END $$;
CREATE OPERATOR ### (FUNCTION = pg_advisory_lock, LEFTARG = int4, RIGHTARG = int4);
CREATE SERVER locker FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_advisory_lock(4242)::text || $1 AS id LIMIT $2');
CREATE SERVER unlocker FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_advisory_unlock_all()::text || $1 AS id LIMIT $2');
CREATE SERVER locker_fn FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT lock_in_plpgsql() || $1 AS id LIMIT $2');
CREATE SERVER locker_op FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT (1 ### 2)::text || $1 AS id LIMIT $2');
CREATE SERVER xact_locker FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_advisory_xact_lock(4244)::text || $1 AS id LIMIT $2');
SELECT pg_advisory_lock(7);
SELECT id FROM apex_route('x', sources => '{locker,unlocker,locker_fn,locker_op,xact_locker}');
SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY 1;
SELECT pg_advisory_unlock(7);
DROP SERVER locker, unlocker, locker_fn, locker_op, xact_locker;
DROP OPERATOR ### (int4, int4);
DROP FUNCTION lock_in_plpgsql;

-- issue 11 (noticed with item 5): a row whose id (the first column) is null
-- is skipped and counted in one WARNING per source, never dropped unseen;
-- two sql sources in one call, the healthy rows of both kept
CREATE SERVER half_ids FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT CASE WHEN id IN (''m01'', ''m02'') THEN NULL ELSE id END, title
                              FROM notes ORDER BY notes.id LIMIT $2');
CREATE SERVER no_ids FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT NULL::text AS id, title FROM notes ORDER BY id LIMIT $2');
SELECT rank, id, found_in FROM apex_route('x', k => 3, sources => '{half_ids,no_ids,docs}');
DROP SERVER half_ids, no_ids;

DROP SERVER pathless, shadow_src, setter, writer_role, writer_seq, writer_fn, writer_cte;
DROP SEQUENCE victim_seq;
DROP FUNCTION sneaky_delete;
DROP TABLE victim2, shadowed, owned_by_postgres;
DROP SCHEMA mallory CASCADE;
DROP SERVER trojan, whoami, peek, steal, mallory_rows CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_mallory;
DROP ROLE apex_mallory, apex_reader;
