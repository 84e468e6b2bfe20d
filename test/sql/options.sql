-- The validator: every bad option is rejected with the option named.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (url 'http://127.0.0.1:1');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'mongodb');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', statement 'x');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h', statement 's', password 'secret');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'ftp://h', statement 's');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://neo4j:pw@h', statement 's');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'not a url', statement 's');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h', statement 's', api 'bolt');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h', statement 's', weight '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h', statement 's', weight 'heavy');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url 'http://h', statement 's', timeout_ms '0');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', endpoint 'scroll');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', filter '{"must": [');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', filter '[1]');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', score_threshold 'x');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'embedder', url 'http://h', model 'm', api 'cohere');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'embedder', url 'http://h', model 'm', api 'ollama', encoding 'base64');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'embedder', url 'http://h', model 'm', dimensions '0');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql');
-- issue 11 item 7: a vector source's embedder must name an embedder
-- source (a typo there failed every default call), checked at CREATE and
-- ALTER SERVER; not with check_function_bodies off, as in pg_dump's
-- scripts, which may create the vector source before its embedder
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', embedder 'embedd');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', embedder 'docs');
ALTER SERVER vectors OPTIONS (SET embedder 'graph');
SET check_function_bodies = off;
CREATE SERVER later FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'qdrant', url 'http://h', collection 'c', embedder 'later_embed');
RESET check_function_bodies;
CREATE SERVER later_embed FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'embedder', url 'http://h', model 'm');
ALTER SERVER later OPTIONS (ADD weight '2');
DROP SERVER later, later_embed;
-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER apex_router OPTIONS (ADD kind 'neo4j');
-- user mappings take only secrets
CREATE USER MAPPING FOR CURRENT_USER SERVER graph OPTIONS (url 'http://h');
-- ALTER SERVER is validated against the complete option list
ALTER SERVER graph OPTIONS (DROP statement);
ALTER SERVER graph OPTIONS (SET url 'gopher://h');
ALTER SERVER vectors OPTIONS (ADD endpoint 'nearest');
-- a valid change goes through, and back
ALTER SERVER graph OPTIONS (ADD weight '2.5', ADD timeout_ms '1500');
ALTER SERVER graph OPTIONS (DROP weight, DROP timeout_ms);
-- the graphiti kind
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'ftp://127.0.0.1:8000');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', collection 'memory');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', group_ids 'a,,b');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', group_ids ' ');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', group_id_field 'groups');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', group_ids 'a, b', group_id_field 'group_id');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', max_facts '0');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', max_facts '1001');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', include_invalid 'sometimes');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'graphiti', url 'http://x', api_key 'k');
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url 'http://127.0.0.1:8000', group_ids 'team');
ALTER SERVER facts OPTIONS (ADD group_id_field 'group_id', SET group_ids 'team,other');
-- the postgres kind
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', host 'h');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', port '0');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', sslmode 'maybe');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', password 'p');
-- the redis kind
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', term_key 'mem:term');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', item_key 'mem:%s:%d');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '/tmp/r.sock', port '6390');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', db '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', password 'x');
SELECT count(*) AS bad_servers FROM pg_foreign_server WHERE srvname = 'bad';
