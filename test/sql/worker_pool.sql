-- issue 12, item 3: a pool of long-lived sql workers per database and user
-- (apex_router.worker_pool_size, default 4).  A call hands its sql source
-- to an idle pooled worker of its database and authenticated user, which
-- serves one request after another, each in a new transaction under that
-- caller's snapshot and settings; a full pool leaves the request to a
-- worker of its own (the dynamic path); an idle worker exits after
-- apex_router.worker_pool_idle_ms.
\set roles 'apex_wp_user'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/workers.sql
CREATE ROLE apex_wp_user LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_wp_user;
-- the query says which backend ran it, for whom, with which setting
CREATE SERVER wp_who FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_backend_pid()::text AS id,
                session_user::text || '' '' || coalesce(current_setting(''wp.tag'', true), ''-'') AS title
         WHERE $1 <> '''' LIMIT $2');
-- two that take 200 ms, so that one worker cannot serve both in turn
CREATE SERVER wp_nap1 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_backend_pid()::text AS id FROM pg_sleep(0.2) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wp_nap2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT pg_backend_pid()::text AS id FROM pg_sleep(0.2) WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wp_bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT (1 / 0)::text AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wp_slow FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  timeout_ms '200', query 'SELECT ''s'' AS id FROM pg_sleep(5) WHERE $1 <> '''' LIMIT $2');
GRANT USAGE ON FOREIGN SERVER wp_who TO apex_wp_user;
CREATE TABLE wp_seen (step text, pid int, title text);
-- the pids a step's call saw, none of them the caller's; then every
-- worker idle again, so that the next step finds its pooled worker free
CREATE FUNCTION wp_call(step text, sources text[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO wp_seen
  SELECT step, r.id::int, r.title
  FROM apex_route('x', sources => sources) r
  WHERE r.id ~ '^[0-9]+$' AND r.id::int <> pg_backend_pid();
  SELECT apex_workers_settled();
$$;
-- wait (at most 10 s) until backend pid has exited
CREATE FUNCTION wp_gone(pid int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = wp_gone.pid) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
-- the other areas' idle pooled workers exit within their idle time and
-- free their max_worker_processes slots for this file's
SELECT apex_workers_gone() AS none_left;

-- one worker serves five calls one after the other, and waits idle
SET apex_router.worker_pool_size = 2;
SELECT wp_call('reuse', '{wp_who}') FROM generate_series(1, 5);
SELECT count(*) AS calls, count(DISTINCT pid) AS workers FROM wp_seen WHERE step = 'reuse';
SELECT pid AS pooled FROM wp_seen WHERE step = 'reuse' LIMIT 1 \gset
SELECT backend_type, state, datname, usename FROM pg_stat_activity WHERE pid = :pooled;
-- a setting changed between calls reaches the same worker
SET wp.tag = 'a';
SELECT wp_call('tag a', '{wp_who}');
SET wp.tag = 'b';
SELECT wp_call('tag b', '{wp_who}');
RESET wp.tag;
SELECT wp_call('tag none', '{wp_who}');
SELECT step, pid = :pooled AS same_worker, title FROM wp_seen WHERE step LIKE 'tag%' ORDER BY step;
-- an error in the query is that source's WARNING; the worker survives it
SELECT id FROM apex_route('x', sources => '{wp_bad}');
SELECT apex_workers_settled() AS settled;
SELECT wp_call('after error', '{wp_who}');
SELECT pid = :pooled AS same_worker FROM wp_seen WHERE step = 'after error';
-- a full pool (one worker here) leaves the second sql source of a call to
-- a worker of its own: both answer, from two workers
SET apex_router.worker_pool_size = 1;
SELECT wp_call('full', '{wp_nap1,wp_nap2}');
SELECT count(*) AS answers, count(DISTINCT pid) AS workers, bool_or(pid = :pooled) AS pooled_one
FROM wp_seen WHERE step = 'full';
-- issue 12: a query past its timeout_ms: the source's WARNING; the
-- worker's query is cancelled (the request's serial number keeps that
-- cancel from reaching another request), not the worker: at once idle,
-- the same worker serves the next call (with a pool of one, a busy
-- worker would leave it to a worker of its own)
SELECT id FROM apex_route('x', sources => '{wp_slow}');
SELECT apex_workers_settled() AS settled;
SELECT wp_call('after timeout', '{wp_who}');
SELECT pid = :pooled AS same_worker, title FROM wp_seen WHERE step = 'after timeout';
SELECT pid AS pooled FROM wp_seen WHERE step = 'after timeout' \gset
-- a pooled worker terminated while idle is replaced on demand
SELECT pg_terminate_backend(:pooled);
SELECT wp_gone(:pooled) AS terminated_worker_gone;
SELECT wp_call('after terminate', '{wp_who}');
SELECT pid <> :pooled AS new_worker FROM wp_seen WHERE step = 'after terminate';
SELECT pid AS pooled FROM wp_seen WHERE step = 'after terminate' \gset
-- workers are per database and user: another user's call gets its own,
-- logged in as that user; the pool's settings are a superuser's (the
-- library is preloaded: an ERROR at once)
\c - apex_wp_user
SET apex_router.worker_pool_size = 0;
SELECT id::int <> :pooled AS own_worker, title FROM apex_route('x', sources => '{wp_who}');
\c - postgres
-- an idle worker exits after apex_router.worker_pool_idle_ms (the last
-- caller's)
SET apex_router.worker_pool_idle_ms = 100;
SELECT wp_call('idle', '{wp_who}');
SELECT pid = :pooled AS same_worker FROM wp_seen WHERE step = 'idle';
SELECT wp_gone(:pooled) AS idle_worker_gone;
-- worker_pool_size 0: a worker per call (the dynamic path), none kept
SET apex_router.worker_pool_size = 0;
SELECT wp_call('dynamic', '{wp_who}') FROM generate_series(1, 3);
SELECT count(*) AS calls, count(DISTINCT pid) AS workers FROM wp_seen WHERE step = 'dynamic';
SELECT bool_and(wp_gone(pid)) AS none_kept FROM wp_seen WHERE step = 'dynamic';
RESET apex_router.worker_pool_size;
RESET apex_router.worker_pool_idle_ms;

DROP FUNCTION wp_call, wp_gone;
DROP TABLE wp_seen;
\i :abs_srcdir/sql/include/workers_drop.sql
