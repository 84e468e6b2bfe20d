-- Issue 16 item 4: an installation of 0.1.0 updated in place.  A user
-- installs the new package (this library) and runs ALTER EXTENSION
-- apex_router UPDATE; meanwhile, and after, the sources and user mappings
-- made under 0.1.0 must stay and work, and the update must leave exactly
-- the objects a fresh CREATE EXTENSION makes.
\set roles 'apex_upg_alice'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- Every member object of the extension, described from the catalogs (what
-- pg_dump --binary-upgrade would write for it), its comment and ACL, the
-- privileges the scripts gave it, the rows of its tables and what
-- pg_extension says.  Generic: nothing here names an object of the
-- extension, so any change to apex_router--X.sql that the upgrade script
-- does not repeat shows as a difference.
CREATE OR REPLACE FUNCTION apex_test_rows(t regclass) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  digest text;
BEGIN
  EXECUTE format('SELECT md5(string_agg(t::text, E''\n'' ORDER BY t::text)) FROM %s t', t) INTO digest;
  RETURN digest;
END
$$;
CREATE OR REPLACE FUNCTION apex_test_members(OUT object text, OUT detail text)
RETURNS SETOF record LANGUAGE sql AS $$
WITH m AS (
  SELECT d.classid, d.objid, d.objsubid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
  WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'apex_router' AND d.deptype = 'e')
SELECT pg_describe_object(m.classid, m.objid, m.objsubid),
  CASE m.classid
  WHEN 'pg_proc'::regclass THEN
    (SELECT concat_ws(E'\n', pg_get_functiondef(p.oid), 'acl ' || p.proacl::text,
       'comment ' || obj_description(p.oid, 'pg_proc'))
     FROM pg_proc p WHERE p.oid = m.objid)
  WHEN 'pg_class'::regclass THEN
    (SELECT concat_ws(E'\n', 'relkind ' || c.relkind::text, 'acl ' || c.relacl::text,
       'comment ' || obj_description(c.oid, 'pg_class'),
       CASE WHEN c.relkind = 'v' THEN 'view ' || pg_get_viewdef(c.oid) END,
       (SELECT string_agg(format('column %s %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN ' not null' END,
                 ' default ' || pg_get_expr(ad.adbin, ad.adrelid)), E'\n' ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       (SELECT string_agg(format('constraint %s %s', conname, pg_get_constraintdef(oid)), E'\n' ORDER BY conname)
        FROM pg_constraint WHERE conrelid = c.oid),
       (SELECT string_agg('index ' || pg_get_indexdef(indexrelid), E'\n' ORDER BY 1)
        FROM pg_index WHERE indrelid = c.oid),
       (SELECT string_agg('trigger ' || pg_get_triggerdef(oid), E'\n' ORDER BY 1)
        FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal),
       (SELECT string_agg('policy ' || polname, E'\n' ORDER BY 1) FROM pg_policy WHERE polrelid = c.oid),
       CASE WHEN c.relkind = 'r' THEN 'rows ' ||
         apex_test_rows(c.oid::regclass)
       END)
     FROM pg_class c WHERE c.oid = m.objid)
  WHEN 'pg_foreign_data_wrapper'::regclass THEN
    (SELECT concat_ws(E'\n', 'handler ' || w.fdwhandler::regproc, 'validator ' || w.fdwvalidator::regprocedure,
       'options ' || w.fdwoptions::text, 'acl ' || w.fdwacl::text,
       'comment ' || obj_description(w.oid, 'pg_foreign_data_wrapper'))
     FROM pg_foreign_data_wrapper w WHERE w.oid = m.objid)
  END
FROM m
UNION ALL
SELECT 'initial privileges of ' || pg_describe_object(i.classoid, i.objoid, i.objsubid),
  i.privtype::text || ' ' || i.initprivs::text
FROM pg_init_privs i JOIN m ON m.classid = i.classoid AND m.objid = i.objoid
UNION ALL
SELECT 'extension ' || extname,
  concat_ws(' ', extversion, extrelocatable, extnamespace::regnamespace,
    (SELECT array_agg(x::regclass ORDER BY x::regclass::text) FROM unnest(extconfig) x), extcondition)
FROM pg_extension WHERE extname = 'apex_router'
$$;

-- the catalogs it describes: a member of another catalog (a type, an
-- operator, ...) needs a branch above first
SELECT DISTINCT d.classid::regclass AS member_catalog
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'apex_router' AND d.deptype = 'e'
ORDER BY 1;

-- a fresh installation of the default version, as setup.sql made it
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'apex_router') AS fresh_is_default
FROM pg_extension WHERE extname = 'apex_router';
CREATE TEMP TABLE fresh AS SELECT * FROM apex_test_members();

-- 0.1.0, installed as its users did, from its own script, with this library
DROP EXTENSION apex_router CASCADE;
CREATE EXTENSION apex_router VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'apex_router';
SELECT proname, pronargs FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'apex_router') ORDER BY 1, 2;

-- sources of every kind 0.1.0 had, with options, user mappings for PUBLIC
-- and for a role, and a role's setting of the extension's
SET client_min_messages = warning;
CREATE ROLE apex_upg_alice;
RESET client_min_messages;
CREATE SERVER graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph OPTIONS (user 'neo4j', password 'testpassword');
CREATE SERVER embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER embed OPTIONS (api_key 'embed-test-key');
CREATE SERVER vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'embed',
           id_field 'doc_id', title_field 'title', content_field 'text', timeout_ms '5000');
CREATE USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (api_key 'qdrant-test-key');
CREATE SERVER docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                              FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                              ORDER BY 4 DESC, id LIMIT $2');
CREATE SERVER upg_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER upg_pg OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE USER MAPPING FOR apex_upg_alice SERVER upg_pg OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE SERVER upg_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER upg_redis OPTIONS (password 'redis-pass');
CREATE SERVER upg_graphiti FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url');
GRANT USAGE ON FOREIGN SERVER docs, upg_pg TO apex_upg_alice;
ALTER ROLE apex_upg_alice SET apex_router.timeout_ms = 4000;
-- apex_route for alice alone: the update names the privileges it resets
REVOKE EXECUTE ON FUNCTION apex_route(text, integer, text[], real[], integer, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION apex_route(text, integer, text[], real[], integer, integer, integer) TO apex_upg_alice;
REVOKE EXECUTE ON FUNCTION apex_router_cache_flush() FROM PUBLIC;

-- what the catalogs hold for them (secrets included: we are superuser)
CREATE TEMP TABLE sources_before AS
SELECT s.srvname, s.srvoptions, s.srvacl, um.usename, um.umoptions
FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
  LEFT JOIN pg_user_mappings um ON um.srvid = s.oid
WHERE w.fdwname = 'apex_router';
SELECT srvname, srvoptions[1] AS kind, usename, umoptions FROM sources_before ORDER BY 1, 3;

-- 0.1.0's definitions run by this library before the update (compat.c):
-- apex_route's 7 arguments and 7 columns, no argument read past them
\x on
SELECT * FROM apex_route('Sarah roadmap', k => 1, sources => '{docs}');
\x off
CREATE TEMP TABLE rows_before AS
SELECT s, r.rank, r.id, r.score, r.found_in
FROM unnest('{graph,vectors,docs,upg_pg,upg_redis,upg_graphiti}'::text[]) s,
  LATERAL apex_route('Sarah roadmap', 3, ARRAY[s]) r;
-- the caller's vector at Qdrant (query_vector, argument 4: real[] in
-- 0.1.0, double precision[] since, cast by compat.c) and the other
-- arguments by position
INSERT INTO rows_before
SELECT 'vector', r.rank, r.id, r.score, r.found_in
FROM apex_route('ignored', 3, '{vectors}', array_fill(0.125::real, ARRAY[64]), 60, 5000, 1) r;
SELECT s, count(*) AS rows FROM rows_before GROUP BY s ORDER BY s;
-- a call naming no sources asks every source, as 0.1.0's did (found by
-- trying the upgrade as a user: it went through intent routing, whose rules
-- table 0.1.0 lacks, and failed with relation "apex_intent_rules" does not
-- exist until the update)
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('Sarah roadmap', 5))
     = (SELECT array_agg(id ORDER BY rank)
        FROM apex_route('Sarah roadmap', 5, '{graph,vectors,docs,upg_pg,upg_redis,upg_graphiti}'))
  AS every_source;
-- apex_router_cache_flush() of 0.1.0, without the argument 0.2.0's reads
SET apex_router.cache_source = 'upg_redis';
SELECT apex_router_cache_flush() > 0 AS flushed;
RESET apex_router.cache_source;
SELECT count(*) > 0 AS kept FROM apex_router_connections();
SELECT apex_router_disconnect() > 0 AS disconnected;
SELECT count(*) AS kept FROM apex_router_connections();
-- a definition the library knows for no version is refused, not misread
CREATE FUNCTION apex_test_route_bad(text, integer, text[], integer[], integer, integer, integer)
RETURNS TABLE (rank integer) AS '$libdir/apex_router', 'apex_route' LANGUAGE C;
SELECT * FROM apex_test_route_bad('x', 1, NULL, NULL, NULL, NULL, NULL);
DROP FUNCTION apex_test_route_bad;

ALTER EXTENSION apex_router UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'apex_router';

-- (a) the sources and user mappings as they were, options intact
SELECT count(*) AS sources_rows FROM sources_before;
(SELECT * FROM sources_before EXCEPT
 SELECT s.srvname, s.srvoptions, s.srvacl, um.usename, um.umoptions
 FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
   LEFT JOIN pg_user_mappings um ON um.srvid = s.oid
 WHERE w.fdwname = 'apex_router')
UNION ALL
(SELECT s.srvname, s.srvoptions, s.srvacl, um.usename, um.umoptions
 FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
   LEFT JOIN pg_user_mappings um ON um.srvid = s.oid
 WHERE w.fdwname = 'apex_router'
 EXCEPT SELECT * FROM sources_before);
SELECT setconfig FROM pg_db_role_setting WHERE setrole = 'apex_upg_alice'::regrole;

-- ... and apex_route answers from them as before: the same rows, now with
-- the new columns
CREATE TEMP TABLE rows_after AS
SELECT s, r.rank, r.id, r.score, r.found_in
FROM unnest('{graph,vectors,docs,upg_pg,upg_redis,upg_graphiti}'::text[]) s,
  LATERAL apex_route('Sarah roadmap', 3, ARRAY[s]) r;
INSERT INTO rows_after
SELECT 'vector', r.rank, r.id, r.score, r.found_in
FROM apex_route('ignored', 3, '{vectors}', array_fill(0.125::real, ARRAY[64]), 60, 5000, 1) r;
SELECT count(*) AS rows_after FROM rows_after;
(TABLE rows_before EXCEPT TABLE rows_after) UNION ALL (TABLE rows_after EXCEPT TABLE rows_before);
SELECT id, partial, routing FROM apex_route('Sarah roadmap', 1, '{docs}');
-- a role's own mapping and USAGE
SET ROLE apex_upg_alice;
SELECT count(*) > 0 AS answered FROM apex_route('Sarah roadmap', 3, '{upg_pg,docs}') WHERE partial IS NULL;
RESET ROLE;

-- (b) the updated extension's objects are a fresh installation's
CREATE TEMP TABLE updated AS SELECT * FROM apex_test_members();
SELECT count(*) > 0 AS described, count(*) = (SELECT count(*) FROM fresh) AS as_many FROM updated;
SELECT 'only after the update' AS "where", * FROM (TABLE updated EXCEPT TABLE fresh) u
UNION ALL
SELECT 'only in a fresh install', * FROM (TABLE fresh EXCEPT TABLE updated) f
ORDER BY 2, 1;

-- nothing left behind for the next file
DROP SERVER upg_pg, upg_redis, upg_graphiti CASCADE;
DROP FUNCTION apex_test_members(), apex_test_rows(regclass);
