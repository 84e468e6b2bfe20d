-- issue 12: a sql source's query runs in a dynamic background worker of
-- this database (execution 'worker', the default), under the identity,
-- settings and snapshot inline mode gives it, while the other legs of the
-- call advance; its rows come back through a shared-memory queue.
\set roles 'apex_wk_owner'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/workers.sql
CREATE EXTENSION dblink;
CREATE ROLE apex_wk_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_wk_owner;

-- issue 12: where the query runs, as whom, with which settings: the
-- caller's session settings reach the worker (wk.caller_pid here), the
-- session user is the caller's, the current user the source's owner
SELECT set_config('wk.caller_pid', pg_backend_pid()::text, false) IS NOT NULL AS set;
CREATE SERVER wk_where FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT CASE WHEN pg_backend_pid() = current_setting(''wk.caller_pid'')::int
                     THEN ''caller'' ELSE ''worker'' END AS id,
                session_user::text || '' / '' || current_user::text AS title
         WHERE $1 <> '''' LIMIT $2');
ALTER SERVER wk_where OWNER TO apex_wk_owner;
SELECT id, title FROM apex_route('x', sources => '{wk_where}');
ALTER SERVER wk_where OPTIONS (ADD execution 'inline');
SELECT id, title FROM apex_route('x', sources => '{wk_where}');
ALTER SERVER wk_where OPTIONS (DROP execution);
-- the caller's client_encoding is the caller's: the worker answers in the
-- database encoding (a LATIN1 client of this UTF8 database here)
CREATE SERVER wk_accent FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT chr(233) || $1 AS id, chr(8364) AS title WHERE $1 <> '''' LIMIT $2');
SET client_encoding = 'LATIN1';
SELECT id = chr(233) || 'x' AS same_id, payload->'wk_accent'->'item'->>'title' = chr(8364) AS same_raw
FROM apex_route('x', sources => '{wk_accent}');
RESET client_encoding;
-- a NOTICE the query raises reaches the caller as it would inline
CREATE FUNCTION wk_notice() RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'from the query'; RETURN 'n'; END $$;
CREATE SERVER wk_noisy FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT public.wk_notice() AS id WHERE $1 <> '''' LIMIT $2');
SELECT id FROM apex_route('x', sources => '{wk_noisy}');
-- the option takes worker or inline only
ALTER SERVER wk_where OPTIONS (ADD execution 'thread');

-- issue 12: the suite's docs source gives the same rows, scores and
-- payloads in a worker as inline
CREATE TEMP TABLE wk_in_worker AS
  SELECT rank, id, title, content, score, found_in, payload
  FROM apex_route('billing migration', k => 40, sources => '{docs}');
ALTER SERVER docs OPTIONS (ADD execution 'inline');
CREATE TEMP TABLE wk_inline AS
  SELECT rank, id, title, content, score, found_in, payload
  FROM apex_route('billing migration', k => 40, sources => '{docs}');
ALTER SERVER docs OPTIONS (DROP execution);
SELECT (SELECT count(*) FROM wk_in_worker) AS rows,
       (SELECT count(*) FROM (TABLE wk_in_worker EXCEPT TABLE wk_inline) d)
       + (SELECT count(*) FROM (TABLE wk_inline EXCEPT TABLE wk_in_worker) d) AS differing;

-- issue 12: row-level security holds through the worker, for the owner the
-- query runs as, with the caller's setting that the policy reads
CREATE TABLE wk_secrets (id text, tenant text);
INSERT INTO wk_secrets VALUES ('s1', 'a'), ('s2', 'b'), ('s3', 'a');
ALTER TABLE wk_secrets ENABLE ROW LEVEL SECURITY;
CREATE POLICY wk_tenant ON wk_secrets FOR SELECT TO apex_wk_owner
  USING (tenant = current_setting('wk.tenant', true));
GRANT SELECT ON wk_secrets TO apex_wk_owner;
CREATE SERVER wk_rls FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT id FROM wk_secrets WHERE $1 <> '''' ORDER BY id LIMIT $2');
ALTER SERVER wk_rls OWNER TO apex_wk_owner;
SET wk.tenant = 'a';
SELECT id FROM apex_route('x', sources => '{wk_rls}') ORDER BY id;
SET wk.tenant = 'b';
SELECT id FROM apex_route('x', sources => '{wk_rls}') ORDER BY id;
RESET wk.tenant;
SELECT count(*) AS rows FROM apex_route('x', sources => '{wk_rls}');

-- issue 12: an owner without SELECT gets the permission error as the
-- source's WARNING; the other source is kept
CREATE TABLE wk_closed (id text);
INSERT INTO wk_closed VALUES ('c1'), ('c2');
CREATE SERVER wk_denied FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT id FROM public.wk_closed WHERE $1 <> '''' LIMIT $2');
ALTER SERVER wk_denied OWNER TO apex_wk_owner;
SELECT id, found_in FROM apex_route('x', sources => '{wk_denied,wk_where}');

-- issue 12: a SECURITY DEFINER function in the query runs as its owner,
-- the rest of the query as the source's
CREATE FUNCTION wk_definer() RETURNS SETOF text LANGUAGE sql SECURITY DEFINER
  SET search_path = public AS $$ SELECT id FROM wk_closed ORDER BY id $$;
CREATE SERVER wk_definer_src FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT d AS id, current_user::text AS title FROM public.wk_definer() d WHERE $1 <> '''' LIMIT $2');
ALTER SERVER wk_definer_src OWNER TO apex_wk_owner;
SELECT id, title FROM apex_route('x', sources => '{wk_definer_src}') ORDER BY id;

-- issue 12: the source's search_path decides which table the query reads,
-- not the caller's
CREATE SCHEMA wk_a;
CREATE SCHEMA wk_b;
CREATE TABLE wk_a.wk_t AS SELECT 'from wk_a'::text AS id;
CREATE TABLE wk_b.wk_t AS SELECT 'from wk_b'::text AS id;
CREATE SERVER wk_path FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'wk_b, public',
  query 'SELECT id FROM wk_t WHERE $1 <> '''' LIMIT $2');
SET search_path = wk_a, public;
SELECT id FROM apex_route('x', sources => '{wk_path}');
RESET search_path;

-- issue 12: the worker sees the caller's snapshot.  In REPEATABLE READ, a
-- row another session commits after the snapshot is not seen; in READ
-- COMMITTED each call takes a new one, as an inline query would.
CREATE TABLE wk_snap (id text);
INSERT INTO wk_snap VALUES ('early');
CREATE SERVER wk_snap_src FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT id FROM wk_snap WHERE $1 <> '''' ORDER BY id LIMIT $2');
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS connstr \gset
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) AS before FROM wk_snap;
SELECT dblink_exec(:'connstr', 'INSERT INTO wk_snap VALUES (''late'')');
SELECT id FROM apex_route('x', sources => '{wk_snap_src}') ORDER BY id;
COMMIT;
SELECT id FROM apex_route('x', sources => '{wk_snap_src}') ORDER BY id;
-- issue 12: the caller's own uncommitted rows are what inline mode adds
-- (in a savepoint too); the worker neither sees them nor takes them for
-- aborted: they are there once committed
BEGIN;
INSERT INTO wk_snap VALUES ('mine');
SAVEPOINT s;
INSERT INTO wk_snap VALUES ('mine in a savepoint');
SELECT id FROM apex_route('x', sources => '{wk_snap_src}') ORDER BY id;
RELEASE SAVEPOINT s;
ALTER SERVER wk_snap_src OPTIONS (ADD execution 'inline');
SELECT id FROM apex_route('x', sources => '{wk_snap_src}') ORDER BY id;
COMMIT;
SELECT id FROM wk_snap ORDER BY id;
ALTER SERVER wk_snap_src OPTIONS (DROP execution);
-- a table the caller's transaction locked (LOCK, ALTER TABLE, TRUNCATE):
-- the worker waits for the lock, which the caller holds until it ends, so
-- the source times out; inline, the caller's own lock does not stop it
BEGIN;
LOCK TABLE wk_snap IN ACCESS EXCLUSIVE MODE;
ALTER SERVER wk_snap_src OPTIONS (ADD timeout_ms '300');
SELECT id FROM apex_route('x', sources => '{wk_snap_src}') ORDER BY id;
ROLLBACK;
SELECT apex_workers_settled() AS no_worker_left;
-- in a SERIALIZABLE transaction the query runs inline: a worker's reads
-- would escape the transaction's conflict checks
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT id FROM apex_route('x', sources => '{wk_where}');
COMMIT;

-- issue 12: two sql sources in one call run in two workers at once: each
-- query reports its backend and when it started and ended
CREATE FUNCTION wk_timed(tag text, secs float8)
RETURNS TABLE (id text, title text, content text, score float8, pid int,
               started timestamptz, ended timestamptz)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  PERFORM pg_sleep(secs);
  RETURN QUERY SELECT tag, NULL::text, NULL::text, NULL::float8, pg_backend_pid(), t0, clock_timestamp();
END $$;
CREATE SERVER wk_timed1 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT * FROM wk_timed(''one'', 0.3) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wk_timed2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', search_path 'public',
  query 'SELECT * FROM wk_timed(''two'', 0.3) WHERE $1 <> '''' LIMIT $2');
CREATE TEMP TABLE wk_runs AS
  SELECT id, (payload->found_in[1]->'item'->>'pid')::int AS pid,
         (payload->found_in[1]->'item'->>'started')::timestamptz AS started,
         (payload->found_in[1]->'item'->>'ended')::timestamptz AS ended
  FROM apex_route('x', sources => '{wk_timed1,wk_timed2}');
SELECT count(*) AS rows, count(DISTINCT pid) AS backends,
       bool_and(pid <> pg_backend_pid()) AS none_is_the_caller,
       max(started) < min(ended) AS overlapping
FROM wk_runs;

-- issue 12: the overlap with remote legs.  The embedder answers after
-- 150 ms, Qdrant after 100 ms more, the sql query takes 300 ms: from the
-- test servers' request log and the times the query reports, the Qdrant
-- request starts while the query still runs.  Inline, it cannot start
-- before the query ends.
\set url :qdrant_url'/__fault/delay=100'
ALTER SERVER vectors OPTIONS (SET url :'url');
\set url :embed_base'/__fault/delay=150/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
ALTER SERVER wk_timed1 OPTIONS (SET query 'SELECT * FROM wk_timed(''slow'', 0.3) WHERE $1 <> '''' LIMIT $2');
CREATE FUNCTION wk_overlap() RETURNS TABLE (qdrant_requests bigint, qdrant_started_during_sql boolean)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
  s timestamptz;
  e timestamptz;
BEGIN
  SELECT (payload->'wk_timed1'->'item'->>'started')::timestamptz,
         (payload->'wk_timed1'->'item'->>'ended')::timestamptz INTO s, e
  FROM apex_route('Sarah roadmap', sources => '{vectors,wk_timed1}') WHERE 'wk_timed1' = ANY (found_in);
  RETURN QUERY
    SELECT count(*), bool_and(to_timestamp((l->>'start')::float8 / 1000) > s
                              AND to_timestamp((l->>'start')::float8 / 1000) < e)
    FROM regexp_split_to_table(pg_read_file(current_setting('wk.log')), E'\n') r, LATERAL (SELECT r::jsonb) j(l)
    WHERE r <> '' AND l->>'server' = 'qdrant'
      AND to_timestamp((l->>'start')::float8 / 1000) >= t0;
END $$;
\getenv log APEX_TEST_LOG
SET wk.log = :'log';
SELECT * FROM wk_overlap();
ALTER SERVER wk_timed1 OPTIONS (ADD execution 'inline');
SELECT * FROM wk_overlap();
ALTER SERVER wk_timed1 OPTIONS (DROP execution);
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
ALTER SERVER embed OPTIONS (SET url :'embed_url');

-- issue 12: failures.  A worker terminated mid-query (here by its own
-- query) fails its source alone, with the termination's SQLSTATE
CREATE SERVER wk_killed FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''never'' AS id FROM pg_terminate_backend(pg_backend_pid()), pg_sleep(5)
         WHERE $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wk_killed,wk_where}');
\set VERBOSITY sqlstate
SELECT count(*) FROM apex_route('x', sources => '{wk_killed}');
\set VERBOSITY default
SELECT apex_workers_settled() AS no_worker_left;
-- a worker's query cancelled (here by itself): that source fails alone,
-- where inline a cancel ends the whole call
CREATE SERVER wk_cancelled FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''never'' AS id FROM pg_cancel_backend(pg_backend_pid()), pg_sleep(5)
         WHERE $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wk_cancelled,wk_where}');
-- the leg's timeout_ms ends the worker's query too
CREATE SERVER wk_sleepy FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', timeout_ms '300',
  query 'SELECT ''slept'' AS id FROM pg_sleep(30) WHERE $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wk_sleepy,wk_where}');
SELECT apex_workers_settled() AS no_worker_left;
-- statement_timeout ends the call; the worker does not run on
ALTER SERVER wk_sleepy OPTIONS (SET timeout_ms '60000');
SET statement_timeout = '300ms';
SELECT id FROM apex_route('x', sources => '{wk_sleepy,wk_where}');
RESET statement_timeout;
SELECT apex_workers_settled() AS no_worker_left;
-- in a transaction block, which the timeout aborts: the worker is gone too
BEGIN;
SET LOCAL statement_timeout = '300ms';
SELECT id FROM apex_route('x', sources => '{wk_sleepy}');
ROLLBACK;
SELECT apex_workers_settled() AS no_worker_left;
-- the caller cancelled (pg_cancel_backend) while it waits for the worker
SELECT dblink_connect('wk', :'connstr' || ' application_name=wk_client');
SELECT dblink_send_query('wk', 'SELECT count(*) FROM apex_route(''x'', sources => ''{wk_sleepy}'')');
SELECT apex_worker_running('wk_sleepy') AS worker_running;
-- (the worker has the caller's application_name too: it is the caller's work)
SELECT pg_cancel_backend(pid) FROM pg_stat_activity
WHERE application_name = 'wk_client' AND backend_type = 'client backend';
SELECT * FROM dblink_get_result('wk', false) AS t(n bigint);
SELECT apex_workers_settled() AS no_worker_left;
SELECT dblink_disconnect('wk');
SELECT dblink_connect('wk', :'connstr' || ' application_name=wk_client');
-- the worker terminated by someone else: the caller goes on with the others
SELECT dblink_send_query('wk', 'SELECT count(*) FROM apex_route(''billing migration'', k => 40, sources => ''{wk_sleepy,docs}'')');
SELECT apex_worker_running('wk_sleepy') AS worker_running;
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE backend_type = 'apex_router sql' AND state = 'active'
  AND query = 'apex_route: sql source "wk_sleepy"';
SELECT * FROM dblink_get_result('wk') AS t(docs_rows bigint);
SELECT apex_workers_settled() AS no_worker_left;
SELECT dblink_disconnect('wk');
SELECT dblink_connect('wk', :'connstr' || ' application_name=wk_client');

-- issue 12: no worker slot free: the source runs inline, and the caller is
-- told.  Another session's call takes every slot (max_worker_processes
-- and two more sources, whose queries sleep 3 s in a worker and not at all
-- inline); once it waits in its loop, every slot is taken.
DO $$
BEGIN
  FOR i IN 1 .. current_setting('max_worker_processes')::int + 2 LOOP
    EXECUTE format('CREATE SERVER wk_hog%s FOREIGN DATA WRAPPER apex_router OPTIONS (kind %L, query %L)',
                   i, 'sql', 'SELECT ''h'' AS id FROM pg_sleep(CASE WHEN (SELECT backend_type FROM pg_stat_activity
                                 WHERE pid = pg_backend_pid()) = ''apex_router sql'' THEN 3 ELSE 0 END)
                              WHERE $1 <> '''' LIMIT $2');
  END LOOP;
END $$;
SELECT dblink_send_query('wk', format('SELECT max(cardinality(found_in)) = %s FROM apex_route(%L, sources => %L)',
         current_setting('max_worker_processes')::int + 2, 'x',
         (SELECT array_agg(srvname) FROM pg_foreign_server WHERE srvname LIKE 'wk_hog%')));
CREATE FUNCTION wk_wait_hogs() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    -- the hog waits in its loop, and every worker slot is held by one of
    -- its sleeping queries (or the launcher): a pooled worker left idle by
    -- an earlier call could still give a slot back (it did once)
    IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'wk_client'
               AND backend_type = 'client backend' AND wait_event_type = 'Extension')
       AND (SELECT count(*) FROM pg_stat_activity
            WHERE (backend_type = 'apex_router sql' AND wait_event = 'PgSleep')
               OR backend_type = 'logical replication launcher')
           >= current_setting('max_worker_processes')::int THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
SELECT wk_wait_hogs() AS slots_taken;
SELECT id, title FROM apex_route('x', sources => '{wk_where}');
-- issue 14: apex_explain's note says where the leg ran
SELECT step, source, status, note FROM apex_explain('x', sources => '{wk_where}');
-- issue 13: a batch's three legs of that source fall back alike, and the
-- caller is told once per source and call, not once per leg
SELECT ordinal, id FROM apex_route_many('{x,y,z}', sources => '{wk_where}') ORDER BY ordinal;
SELECT * FROM dblink_get_result('wk') AS t(every_hog_answered boolean);
SELECT dblink_disconnect('wk');
SELECT apex_workers_settled() AS no_worker_left;
SELECT format('DROP SERVER %I', srvname) FROM pg_foreign_server WHERE srvname LIKE 'wk_hog%'
ORDER BY length(srvname), srvname \gexec

-- issue 13 (review: a batch's worker answers reported as timeouts): a
-- local leg whose query waits on the latch (pg_sleep resets it) runs
-- while a worker answers; the answer is read before the worker leg's
-- clock judges it, and before the loop would wait for a latch already
-- spent (the worker leg's budget is shorter than the local leg's run)
CREATE SERVER wk_inline_nap FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', execution 'inline',
  query 'SELECT ''inline'' AS id FROM pg_sleep(0.6) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wk_quick_answer FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', timeout_ms '400',
  query 'SELECT ''worker'' AS id FROM pg_sleep(0.05) WHERE $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wk_quick_answer,wk_inline_nap}') ORDER BY id;
-- the same with a minute's budget: the call does not wait that minute for
-- a latch already spent (statement_timeout turns such a hang into an ERROR)
ALTER SERVER wk_quick_answer OPTIONS (SET timeout_ms '60000');
SET statement_timeout = '20s';
SELECT id, found_in FROM apex_route('x', sources => '{wk_quick_answer,wk_inline_nap}') ORDER BY id;
RESET statement_timeout;
DROP SERVER wk_inline_nap, wk_quick_answer;

-- issue 12: a source's query must not call apex_route, in a worker as inline
CREATE SERVER wk_nested FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id FROM apex_route($1, sources => ''{wk_nested}'')');
SELECT count(*) FROM apex_route('x', sources => '{wk_nested}');

DROP FUNCTION wk_overlap, wk_timed, wk_definer, wk_notice, wk_wait_hogs;
DROP SERVER wk_where, wk_rls, wk_denied, wk_definer_src, wk_path, wk_snap_src, wk_timed1, wk_timed2,
  wk_killed, wk_cancelled, wk_sleepy, wk_nested, wk_noisy, wk_accent;
DROP TABLE wk_secrets, wk_closed, wk_snap, wk_a.wk_t, wk_b.wk_t;
DROP SCHEMA wk_a, wk_b;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_wk_owner;
DROP ROLE apex_wk_owner;
DROP EXTENSION dblink;
\i :abs_srcdir/sql/include/workers_drop.sql
