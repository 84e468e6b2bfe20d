-- Issue 14 item 5 (remote identity): every request names who asks, from
-- the template apex_router.application_name (%d database, %u current role,
-- %a the caller's application_name, %v version, %% percent): HTTP's
-- User-Agent (the test servers log it), libpq's application_name (the
-- remote server's pg_stat_activity, read by the source's own query) and
-- Redis' CLIENT SETNAME (CLIENT LIST).  What is not printable ASCII, and %,
-- is sent as %XX (and a space too in a Redis name), so a role name cannot
-- inject a header.  Its own sources and role, dropped at the end.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
-- the odd role: a space, quotes, non-ASCII, CR LF and a header after them
SELECT set_config('ri.odd', E'ri odd "q" rôle\r\nX-Injected: yes', false) IS NOT NULL AS odd_set;
SET client_min_messages = warning;
SELECT format('DROP ROLE IF EXISTS %I', current_setting('ri.odd')) \gexec
RESET client_min_messages;
SELECT apex_router_disconnect() >= 0 AS reset;

-- what the expected output shows in place of this run's database and user
SELECT set_config('ri.me', current_user, false) IS NOT NULL AS me_set;
CREATE FUNCTION ri_ph(t text) RETURNS text LANGUAGE sql AS
$$ SELECT replace(replace(t, current_database(), '<db>'), current_setting('ri.me'), '<me>') $$;
-- the User-Agents of the HTTP test servers' requests since t0
CREATE FUNCTION ri_agents(log text, t0 timestamptz)
RETURNS TABLE (server text, user_agent text) LANGUAGE sql AS $$
  SELECT DISTINCT e->>'server', ri_ph(e->>'user_agent')
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND (e->>'start')::float8 >= extract(epoch FROM t0) * 1000
  ORDER BY 1, 2 $$;
-- the client names of Redis' CLIENT LIST starting with prefix
CREATE FUNCTION ri_redis_names(list text, prefix text)
RETURNS SETOF text LANGUAGE sql AS $$
  SELECT DISTINCT ri_ph(m[1]) FROM regexp_matches(list, ' name=(\S*) ', 'g') m
  WHERE starts_with(m[1], prefix) ORDER BY 1 $$;

-- a postgres source whose one row is its connection's application_name,
-- and a Redis source, both with a PUBLIC mapping
CREATE SERVER ri_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT application_name AS id FROM pg_stat_activity
                  WHERE pid = pg_backend_pid() AND $1 <> '''' LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER ri_pg OPTIONS (user 'apex_remote', password 'remote-pass');
CREATE SERVER ri_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER ri_redis OPTIONS (password 'redis-pass');

-- the default: the extension's version (the Makefile's EXTVERSION, as the
-- installed extension's), the database and the role
SHOW apex_router.application_name;
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) > 0 AS answered FROM apex_route('roadmap', k => 1, sources => '{vectors}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM ri_agents(:'log', :'t0');
SELECT a.server, a.user_agent = ri_ph(format('apex_router/%s (%s; %s)', extversion,
                                              current_database(), current_user)) AS version_db_role
FROM ri_agents(:'log', :'t0') a, pg_extension WHERE extname = 'apex_router';
SELECT ri_ph(id) AS application_name FROM apex_route('x', sources => '{ri_pg}');
SELECT count(*) > 0 AS answered FROM apex_route('Sarah roadmap', k => 1, sources => '{ri_redis}');
\set clients `redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning CLIENT LIST`
SELECT ri_redis_names(:'clients', 'apex_router/') AS redis_name;

-- a template with every escape; the caller's application_name is its own
-- claim.  The kept connections of the default's identity are not reused:
-- the new ones say the new identity.
SET apex_router.application_name = 'ri %d|%u|%a|%v|%%';
SET application_name = 'ri-app';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) > 0 AS answered FROM apex_route('roadmap', k => 1, sources => '{graph}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM ri_agents(:'log', :'t0');
SELECT ri_ph(id) AS application_name FROM apex_route('x', sources => '{ri_pg}');
SELECT count(*) > 0 AS answered FROM apex_route('Sarah roadmap', k => 1, sources => '{ri_redis}');
\set clients `redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning CLIENT LIST`
SELECT ri_redis_names(:'clients', 'ri%20') AS redis_name;
SELECT source, count(*) AS kept FROM apex_router_connections()
WHERE source IN ('ri_pg', 'ri_redis') GROUP BY 1 ORDER BY 1;
RESET application_name;

-- a role with odd characters, sharing the PUBLIC mappings' connections'
-- servers: its own connections (its identity differs), its name escaped
-- (the whole of it in the one User-Agent: no header was injected)
SELECT format('CREATE ROLE %I', current_setting('ri.odd')) \gexec
SELECT format('GRANT USAGE ON FOREIGN SERVER graph, vectors, embed, ri_pg, ri_redis TO %I', current_setting('ri.odd')) \gexec
SET apex_router.application_name = 'who=%u';
SELECT ri_ph(id) AS application_name FROM apex_route('x', sources => '{ri_pg}');
SELECT format('SET ROLE %I', current_setting('ri.odd')) \gexec
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) > 0 AS answered FROM apex_route('roadmap', k => 1, sources => '{graph,vectors}');
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM ri_agents(:'log', :'t0');
SELECT id AS application_name FROM apex_route('x', sources => '{ri_pg}');
SELECT count(*) > 0 AS answered FROM apex_route('Sarah roadmap', k => 1, sources => '{ri_redis}');
\set clients `redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning CLIENT LIST`
SELECT ri_redis_names(:'clients', 'who=') AS redis_name;
-- a caller cannot make the stores' logs name someone else
SET apex_router.application_name = 'apex_router/0.2.0 (somedb; postgres)';
RESET ROLE;

-- templates the setting refuses
SET apex_router.application_name = 'ri %q';
SET apex_router.application_name = 'ri 100%';

-- an empty template: no User-Agent, an empty application_name (and an
-- empty Redis name, which is none)
SET apex_router.application_name = '';
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) > 0 AS answered FROM apex_route('roadmap', k => 1, sources => '{graph}');
\set log `cat "$APEX_TEST_LOG"`
SELECT server, user_agent IS NULL AS no_user_agent FROM ri_agents(:'log', :'t0');
SELECT id = '' AS empty_application_name FROM apex_route('x', sources => '{ri_pg}');
RESET apex_router.application_name;

-- a Redis user whose ACL refuses CLIENT SETNAME (+@read only): its
-- connection goes unnamed and still serves the source
ALTER USER MAPPING FOR PUBLIC SERVER ri_redis OPTIONS (ADD user 'reader', SET password 'reader-pass');
SELECT count(*) > 0 AS answered FROM apex_route('Sarah roadmap', k => 1, sources => '{ri_redis}');
SELECT count(*) > 0 AS answered_again FROM apex_route('billing cutover', k => 1, sources => '{ri_redis}');
\set clients `redis-cli -p "$APEX_REDIS_PORT" -a redis-pass --no-auth-warning CLIENT LIST`
SELECT DISTINCT m[1] AS reader_name FROM regexp_matches(:'clients', ' name=(\S*) [^\n]* user=reader ', 'g') m;

SELECT apex_router_disconnect() >= 0 AS disconnected;
SET client_min_messages = warning;
DROP SERVER ri_pg, ri_redis CASCADE;
RESET client_min_messages;
SELECT format('DROP OWNED BY %I', current_setting('ri.odd')) \gexec
SELECT format('DROP ROLE %I', current_setting('ri.odd')) \gexec
