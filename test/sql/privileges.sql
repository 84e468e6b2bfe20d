-- USAGE on a server is what lets a role route to it; SQL sources run as
-- their owner (source_sql has the attacks); secrets in user mappings stay
-- hidden from other roles.
\set roles 'apex_alice apex_bob apex_mallory'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
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
ALTER SERVER graph OPTIONS (SET url :'closed_url');
CREATE SERVER mine FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query 'SELECT 1');
RESET ROLE;
DROP USER MAPPING FOR apex_alice SERVER graph;
REVOKE ALL ON FOREIGN SERVER docs, graph, vectors, embed FROM apex_alice;
REVOKE SELECT ON notes FROM apex_alice;
DROP ROLE apex_alice;

-- as postgres_fdw: a non-superuser must bring a password
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE ROLE apex_bob LOGIN;
GRANT USAGE ON FOREIGN SERVER remote_docs TO apex_bob;
CREATE USER MAPPING FOR apex_bob SERVER remote_docs OPTIONS (user 'apex_remote');
SET ROLE apex_bob;
SELECT count(*) FROM apex_route('billing', sources => '{remote_docs}');
-- decided when the call is planned, before any source is asked (issue 10
-- review: the rule ran when the leg started, after the sources before it in
-- the list had been sent their requests)
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER graph TO apex_bob;
SET ROLE apex_bob;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM apex_route('billing', sources => '{graph,remote_docs}');
\set log `cat "$APEX_TEST_LOG"`
SELECT count(*) AS neo4j_requests
FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
WHERE l <> '' AND e->>'server' = 'neo4j'
  AND (e->>'start')::float8 >= extract(epoch FROM :'t0'::timestamptz) * 1000;
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER graph FROM apex_bob;
ALTER USER MAPPING FOR apex_bob SERVER remote_docs OPTIONS (ADD password 'remote-pass');
SET ROLE apex_bob;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{remote_docs}');
RESET ROLE;
DROP USER MAPPING FOR apex_bob SERVER remote_docs;
REVOKE USAGE ON FOREIGN SERVER remote_docs FROM apex_bob;
DROP ROLE apex_bob;

-- postgres sources and the database server's own identity (issue 9, found
-- by probing the fixes).  A connection that uses no password authenticates
-- as the server's operating-system user (peer or trust on a local socket,
-- ~/.pgpass, client certificates): only a superuser's call of a superuser's
-- source may do that.  The remote cluster of the test run trusts its Unix
-- socket, as does this one: there a password is never asked for.
\getenv run_dir APEX_RUN_DIR
SELECT current_database() AS db \gset
CREATE ROLE apex_bob LOGIN;
CREATE ROLE apex_mallory LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_mallory;
LOAD 'apex_router';
SELECT set_config('apex_router.allowed_hosts', :'run_dir' || ':' || :'pgport' || ', ' || :'run_dir' || ':' || :'remote_pgport', false)
  IS NOT NULL AS allowed;

-- a superuser's own source may use the server's identity (as postgres_fdw)
CREATE SERVER trusting FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host :'run_dir', port :'remote_pgport', dbname 'memory',
           query 'SELECT current_user::text AS id WHERE $1 <> '''' LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER trusting OPTIONS (user 'postgres');
SELECT id FROM apex_route('x', sources => '{trusting}');
SELECT apex_router_disconnect() > 0 AS closed;

-- issue 9 (probe): a non-superuser whose call was refused because the
-- remote server did not ask for the password got the refused connection,
-- kept, on its next call, and ran as the remote superuser
GRANT USAGE ON FOREIGN SERVER trusting TO apex_bob;
CREATE USER MAPPING FOR apex_bob SERVER trusting OPTIONS (user 'postgres', password 'unused');
SET ROLE apex_bob;
SELECT id FROM apex_route('x', sources => '{trusting}');
SELECT id FROM apex_route('x', sources => '{trusting}');
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'trusting';
RESET ROLE;

-- issue 9 (probe): a role allowed to create sources planted a postgres
-- source aimed at this very cluster (its socket allowed for other sources),
-- with a PUBLIC mapping and no password; any superuser's plain apex_route()
-- connected as the superuser postgres and ran the planted query, which made
-- the role SUPERUSER
SET ROLE apex_mallory;
CREATE SERVER planted FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host :'run_dir', port :'pgport', dbname :'db',
           query 'WITH u AS (UPDATE pg_authid SET rolsuper = true WHERE rolname = ''apex_mallory'' RETURNING rolname::text)
                  SELECT rolname AS id FROM u WHERE $1 <> '''' LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER planted OPTIONS (user 'postgres');
RESET ROLE;
SELECT id FROM apex_route('x', sources => '{planted}');
SET client_min_messages = error;
SELECT count(*) >= 0 AS returned FROM apex_route('anything');
RESET client_min_messages;
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'apex_mallory';
-- a password in the mapping that the server does not ask for changes nothing
ALTER ROLE apex_mallory NOSUPERUSER;
SET ROLE apex_mallory;
ALTER USER MAPPING FOR PUBLIC SERVER planted OPTIONS (ADD password 'unused');
RESET ROLE;
SELECT id FROM apex_route('x', sources => '{planted}');
SELECT id FROM apex_route('x', sources => '{planted}');
SELECT rolsuper AS mallory_is_superuser FROM pg_roles WHERE rolname = 'apex_mallory';
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'planted';

DROP SERVER planted, trusting CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_mallory;
DROP ROLE apex_bob, apex_mallory;
RESET apex_router.allowed_hosts;
