-- Non-superusers granted USAGE on the wrapper may create sources, but only
-- towards hosts a superuser listed in apex_router.allowed_hosts (no SSRF):
-- checked by the validator, and again at call time for servers they own.
CREATE ROLE apex_carol LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_carol;
GRANT SELECT ON notes TO apex_carol;
LOAD 'apex_router';
SHOW apex_router.allowed_hosts;
SET ROLE apex_carol;
-- the list is empty: no remote source at all
CREATE SERVER carol_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url 'http://127.0.0.1:7474', statement 'RETURN 1 AS id');
-- a local SQL source reaches no host and needs no entry
CREATE SERVER carol_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM notes WHERE tsv @@ plainto_tsquery(''english'', $1) LIMIT $2');
-- only superusers change the list
SET apex_router.allowed_hosts = '*';
RESET ROLE;
SET apex_router.allowed_hosts = '127.0.0.1:7474, localhost:6333, [::1], 127.0.0.1:6390';
SET ROLE apex_carol;
CREATE SERVER carol_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url 'http://127.0.0.1:7474',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR apex_carol SERVER carol_graph OPTIONS (user 'neo4j', password 'testpassword');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph,carol_docs}');
-- another port of an allowed host, the same address by another name, a
-- host name that only looks like an entry, IPv6 entries with and without a port
ALTER SERVER carol_graph OPTIONS (SET url 'http://127.0.0.1:7475');
ALTER SERVER carol_graph OPTIONS (SET url 'http://localhost:7474');
ALTER SERVER carol_graph OPTIONS (SET url 'http://127.0.0.1.nip.io:7474');
ALTER SERVER carol_graph OPTIONS (SET url 'http://[::1]:7474');
ALTER SERVER carol_graph OPTIONS (SET url 'http://[::1]:7474/db');
ALTER SERVER carol_graph OPTIONS (SET url 'http://127.0.0.1:7474');
-- the default port of the scheme counts: http://localhost means :80
CREATE SERVER carol_vec FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://localhost', collection 'memory', embedder 'embed');
CREATE SERVER carol_vec FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://LOCALHOST:6333', collection 'memory', embedder 'embed');
DROP SERVER carol_vec;
-- redis and postgres sources: host and port, or the socket path
CREATE SERVER carol_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', port '6390');
CREATE SERVER carol_redis2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '/tmp/redis.sock');
CREATE SERVER carol_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', query 'SELECT 1 AS id');
CREATE SERVER carol_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,10.0.0.1', port '7474', query 'SELECT 1 AS id');
DROP SERVER carol_redis;
-- the list shrinks: a server bob owns stops working at once, an ERROR
RESET ROLE;
SET apex_router.allowed_hosts = 'localhost';
SET ROLE apex_carol;
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph}');
-- and so does routing to it by default: a role's own server is searched
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2);
RESET ROLE;
-- a superuser's sources are not limited, whatever the list says
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
-- a wildcard entry allows every host
SET apex_router.allowed_hosts = '*';
SET ROLE apex_carol;
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph}');
RESET ROLE;
RESET apex_router.allowed_hosts;
DROP SERVER carol_graph CASCADE;
DROP SERVER carol_docs;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_carol;
REVOKE SELECT ON notes FROM apex_carol;
DROP ROLE apex_carol;
