-- USAGE on a server is what lets a role route to it; SQL sources run as
-- their owner (18_sql_sources has the attacks); secrets in user mappings stay
-- hidden from other roles.
CREATE ROLE apex_alice LOGIN;
GRANT USAGE ON FOREIGN SERVER docs TO apex_alice;
SET ROLE apex_alice;
-- only sources with USAGE are searched by default
SELECT count(*) > 0 AS rows, array_agg(DISTINCT s) AS sources
FROM apex_route('billing', k => 5), unnest(found_in) s;
-- naming a source without USAGE is an error
SELECT * FROM apex_route('billing', sources => '{graph}');
-- the SQL source runs as its owner: apex_alice needs no privilege on notes
SELECT count(*) FROM apex_route('billing', sources => '{docs}');
RESET ROLE;
GRANT SELECT ON notes TO apex_alice;
GRANT USAGE ON FOREIGN SERVER graph, vectors TO apex_alice;
SET ROLE apex_alice;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{docs}');
-- a vector source also needs USAGE on its embedder
SELECT * FROM apex_route('billing', sources => '{vectors}');
-- the PUBLIC mappings' secrets are not visible to apex_alice
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname IN ('graph', 'vectors') ORDER BY 1;
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER embed TO apex_alice;
SET ROLE apex_alice;
SELECT array_agg(DISTINCT s ORDER BY s) AS sources FROM apex_route('billing', k => 10), unnest(found_in) s;
-- a role's own mapping wins over PUBLIC
RESET ROLE;
CREATE USER MAPPING FOR apex_alice SERVER graph OPTIONS (user 'neo4j', password 'alice-wrong-password');
SET ROLE apex_alice;
SELECT count(*) FROM apex_route('billing', sources => '{graph}');
RESET ROLE;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{graph}');
-- servers and mappings are not for ordinary roles to change
SET ROLE apex_alice;
ALTER SERVER graph OPTIONS (SET url 'http://127.0.0.1:9');
CREATE SERVER mine FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query 'SELECT 1');
RESET ROLE;
DROP USER MAPPING FOR apex_alice SERVER graph;
REVOKE ALL ON FOREIGN SERVER docs, graph, vectors, embed FROM apex_alice;
REVOKE SELECT ON notes FROM apex_alice;
DROP ROLE apex_alice;
