-- postgres sources and the database server's own identity (issue 9, found
-- by probing the fixes).  A connection that uses no password authenticates
-- as the server's operating-system user (peer or trust on a local socket,
-- ~/.pgpass, client certificates): only a superuser's call of a superuser's
-- source may do that.  The remote cluster of the test run trusts its Unix
-- socket, as does this one: there a password is never asked for.
-- Self-contained: its own roles and sources.
\getenv run_dir APEX_RUN_DIR
SELECT current_database() AS db \gset
CREATE ROLE apex_bob LOGIN;
CREATE ROLE apex_mallory LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_mallory;
LOAD 'apex_router';
SELECT set_config('apex_router.allowed_hosts', :'run_dir' || ':5433, ' || :'run_dir' || ':5437', false)
  IS NOT NULL AS allowed;

-- a superuser's own source may use the server's identity (as postgres_fdw)
CREATE SERVER trusting FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host :'run_dir', port '5437', dbname 'memory',
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
  OPTIONS (kind 'postgres', host :'run_dir', port '5433', dbname :'db',
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
