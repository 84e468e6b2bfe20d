-- issue 12: how a sql source's background worker can fail besides an
-- error of its query (test/sql/workers.sql has those, the caller's cancel
-- and timeouts, and no free slot): it cannot log in, it is terminated at
-- any moment by someone else, the caller goes away while it runs, a
-- configuration reload arrives while it runs.  Each time the caller does
-- not hang, the source fails alone with one WARNING naming it, the other
-- legs keep their rows, and no worker is left running.
\set roles 'apex_wf_user'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/workers.sql
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS connstr,
       current_user AS admin \gset


-- the other leg of every call: inline, so its rows do not depend on workers
CREATE SERVER wf_other FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', execution 'inline',
  query 'SELECT ''other'' AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wf_quick FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wf_sleepy FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', timeout_ms '60000',
  query 'SELECT ''slept'' AS id FROM pg_sleep(30) WHERE $1 <> '''' LIMIT $2');

-- issue 12: the worker cannot log in: the caller's role lost LOGIN after
-- the caller logged in (the worker logs in as the caller's authenticated
-- user).  Its FATAL is the source's WARNING, the other leg answers, and no
-- worker is left.  (The caller's database cannot refuse connections while
-- the caller is in it, and cannot be dropped under it.)
CREATE ROLE apex_wf_user LOGIN;
GRANT USAGE ON FOREIGN SERVER wf_quick, wf_other TO apex_wf_user;
GRANT EXECUTE ON FUNCTION dblink_connect_u(text, text) TO apex_wf_user;
\c - apex_wf_user
SELECT dblink_connect_u('wf_admin', :'connstr' || ' user=' || :'admin');
SELECT dblink_exec('wf_admin', 'ALTER ROLE apex_wf_user NOLOGIN');
SELECT id, found_in FROM apex_route('x', sources => '{wf_quick,wf_other}');
\set VERBOSITY sqlstate
SELECT count(*) FROM apex_route('x', sources => '{wf_quick}');
\set VERBOSITY default
SELECT apex_workers_settled() AS no_worker_left;
-- and once it can again, the source answers again
SELECT dblink_exec('wf_admin', 'ALTER ROLE apex_wf_user LOGIN');
SELECT id, found_in FROM apex_route('x', sources => '{wf_quick,wf_other}') ORDER BY id;
SELECT dblink_disconnect('wf_admin');
\c - :admin

-- issue 12: a configuration reload (SIGHUP) while the worker runs its
-- query, sent by the query itself and from another session: the worker
-- goes on and answers
CREATE SERVER wf_reload FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''reloaded'' AS id FROM pg_reload_conf(), pg_sleep(0.5) WHERE $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wf_reload,wf_other}') ORDER BY id;
ALTER SERVER wf_reload OPTIONS (SET query 'SELECT ''reloaded'' AS id FROM pg_sleep(1.5) WHERE $1 <> '''' LIMIT $2');
SELECT dblink_connect('wf', :'connstr' || ' application_name=wf_client');
SELECT dblink_send_query('wf', 'SELECT string_agg(id, '','' ORDER BY id) FROM apex_route(''x'', sources => ''{wf_reload,wf_other}'')');
SELECT apex_worker_running('wf_reload') AS worker_running;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT pg_reload_conf();
SELECT * FROM dblink_get_result('wf') AS t(ids text);
SELECT apex_workers_settled() AS no_worker_left;
SELECT dblink_disconnect('wf');
SELECT dblink_connect('wf', :'connstr' || ' application_name=wf_client');

-- issue 12: the caller cancelled, then terminated (pg_terminate_backend),
-- while its worker sleeps: the worker's query does not run on (its own
-- timer would give it a minute); it is cancelled within 100 ms of the
-- signal (a pooled worker then shows idle, waiting for its next request)
CREATE FUNCTION wf_gone_within(secs float8) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    PERFORM pg_stat_clear_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'apex_router sql'
                   AND state IS DISTINCT FROM 'idle') THEN
      RETURN clock_timestamp() - t0 < make_interval(secs => secs);
    END IF;
    IF clock_timestamp() - t0 > interval '10 s' THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.001);
  END LOOP;
END $$;
SELECT dblink_send_query('wf', 'SELECT count(*) FROM apex_route(''x'', sources => ''{wf_sleepy,wf_other}'')');
SELECT apex_worker_running('wf_sleepy') AS worker_running;
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
WHERE application_name = 'wf_client' AND backend_type = 'client backend';
SELECT wf_gone_within(0.1) AS worker_gone_within_100ms;
SELECT * FROM dblink_get_result('wf', false) AS t(n bigint);
SELECT dblink_disconnect('wf');
SELECT dblink_connect('wf', :'connstr' || ' application_name=wf_client');
SELECT dblink_send_query('wf', 'SELECT count(*) FROM apex_route(''x'', sources => ''{wf_sleepy,wf_other}'')');
SELECT apex_worker_running('wf_sleepy') AS worker_running;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE application_name = 'wf_client' AND backend_type = 'client backend';
SELECT wf_gone_within(0.1) AS worker_gone_within_100ms;
SELECT dblink_disconnect('wf');
-- issue 12: the caller's transaction aborts while its worker runs: under
-- apex_router.strict a remote source's failure (its 500, after 300 ms) is
-- the call's ERROR, and the worker's query stops with the call
\set url :neo4j_url'/__fault/delay=300,status=500'
CREATE SERVER wf_failing FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j', url :'url',
  statement 'RETURN 1 AS id');
CREATE USER MAPPING FOR PUBLIC SERVER wf_failing OPTIONS (user 'neo4j', password 'testpassword');
SET apex_router.strict = on;
SELECT count(*) FROM apex_route('x', sources => '{wf_sleepy,wf_failing}');
RESET apex_router.strict;
SELECT wf_gone_within(0.1) AS worker_stopped_within_100ms;

-- issue 12: workers terminated at any moment by another session, racing
-- with their start, their query and their answer: every call returns, the
-- other leg's row is always there, and no worker is left.  Whether a
-- call's worker is hit, and so whether its source has a WARNING, depends
-- on the moment, so only errors show.
SELECT dblink_connect('wf_killer', :'connstr');
SELECT dblink_send_query('wf_killer', $q$
  DO $$
  DECLARE t0 timestamptz := clock_timestamp();
  BEGIN
    WHILE clock_timestamp() - t0 < interval '3 s' LOOP
      PERFORM pg_stat_clear_snapshot();
      PERFORM pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'apex_router sql';
      PERFORM pg_sleep(0.001);
    END LOOP;
  END $$$q$);
SET client_min_messages = error;
CREATE TEMP TABLE wf_raced AS
  SELECT i, ids
  FROM generate_series(1, 100) i,
       LATERAL (SELECT array_agg(id ORDER BY id) FROM apex_route('x' || i, sources => '{wf_quick,wf_other}')) a(ids);
RESET client_min_messages;
SELECT count(*) AS calls, bool_and('other' = ANY (ids)) AS other_leg_always_kept,
       bool_and(ids <@ '{other,quick}') AS nothing_else
FROM wf_raced;
SELECT * FROM dblink_get_result('wf_killer') AS t(done text);
SELECT dblink_disconnect('wf_killer');
SELECT apex_workers_settled() AS no_worker_left;

DROP FUNCTION wf_gone_within;
DROP SERVER wf_other, wf_quick, wf_sleepy, wf_reload;
DROP SERVER wf_failing CASCADE;
DROP EXTENSION dblink;
DROP ROLE apex_wf_user;
\i :abs_srcdir/sql/include/workers_drop.sql
