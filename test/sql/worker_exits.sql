-- issue 12, item 5: a sql source's background worker that exits without a
-- word (no error message through its queue: code called by the query
-- calling exit()), which no SQL statement can cause (every one that ends a
-- backend sends a FATAL first).  The test-only library test/hooks
-- (apex_test_hooks, installed by the test scripts alone) provides it.
-- Each time the caller does not hang, the source fails alone with one
-- WARNING naming it, the other legs keep their rows, no worker is left
-- running the query, and the next call over the source answers.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/workers.sql
-- a caller that hung would show as this error, not stop the suite
SET statement_timeout = '20s';
CREATE FUNCTION apex_test_exit_silently(code int) RETURNS boolean
  LANGUAGE C STRICT AS '$libdir/apex_test_hooks';
CREATE FUNCTION apex_test_signal(pid int, what text) RETURNS boolean
  LANGUAGE C STRICT AS '$libdir/apex_test_hooks';
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS connstr \gset

-- the apex_router workers now: pid and state
CREATE FUNCTION wx_workers(OUT pid int, OUT state text) RETURNS SETOF record LANGUAGE sql AS $$
  SELECT pg_stat_clear_snapshot();
  SELECT pid, state FROM pg_stat_activity WHERE backend_type = 'apex_router sql' ORDER BY pid;
$$;

-- a question "exit" makes the worker exit with the code the option says,
-- mid-query; any other is answered
CREATE SERVER wx_exit FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''exit'' AS id
         WHERE CASE WHEN $1 = ''exit'' THEN public.apex_test_exit_silently(1) ELSE true END
         LIMIT $2');
CREATE SERVER wx_exit0 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''exit0'' AS id
         WHERE CASE WHEN $1 = ''exit'' THEN public.apex_test_exit_silently(0) ELSE true END
         LIMIT $2');
-- a second sql source in a worker, and one inline: rows not depending on workers
CREATE SERVER wx_quick FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''quick'' AS id WHERE $1 <> '''' LIMIT $2');
CREATE SERVER wx_other FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', execution 'inline',
  query 'SELECT ''other'' AS id WHERE $1 <> '''' LIMIT $2');

-- the hook itself: refused outside a background worker (inline, the
-- source fails instead of ending this session), and for exit codes that
-- would make the postmaster restart every backend
CREATE SERVER wx_exit_inline FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', execution 'inline',
  query 'SELECT ''x'' AS id WHERE public.apex_test_exit_silently(1) AND $1 <> '''' LIMIT $2');
SELECT id, found_in FROM apex_route('x', sources => '{wx_exit_inline,wx_other}');
SELECT apex_test_exit_silently(2);

-- issue 12: a pooled worker exits without a word mid-query.  One pooled
-- worker (pool of one, kept idle for a minute): it answers a first call,
-- serves the next, whose query makes it exit, and is replaced by another
-- for the call after.
SELECT apex_workers_gone() AS no_worker_left;
SET apex_router.worker_pool_size = 1;
SET apex_router.worker_pool_idle_ms = 60000;
SELECT id, found_in FROM apex_route('x', sources => '{wx_exit,wx_other}') ORDER BY id;
SELECT apex_workers_settled() AS settled;
SELECT pid AS pooled_pid FROM wx_workers() \gset
SELECT id, found_in FROM apex_route('exit', sources => '{wx_exit,wx_other}');
-- it has exited, and no other worker runs the query
SELECT apex_workers_gone() AS no_worker_left;
-- the next call over the same source answers: another pooled worker
SELECT id, found_in FROM apex_route('x', sources => '{wx_exit,wx_other}') ORDER BY id;
SELECT apex_workers_settled() AS settled;
SELECT count(*) AS pooled_workers, bool_and(pid <> :pooled_pid) AS replaced FROM wx_workers();

-- issue 12: two sql sources in workers in one call, one exiting, one
-- answering: the exiting one's WARNING alone, both other rows kept
SELECT id, found_in FROM apex_route('exit', sources => '{wx_exit,wx_quick,wx_other}') ORDER BY id;
SELECT apex_workers_settled() AS no_worker_runs_a_query;
-- a pooled worker left (the answering source's, if it got the pool's)
-- would wait a minute: end it
SELECT count(pg_terminate_backend(pid)) AS ended FROM wx_workers() \gset
SELECT apex_workers_gone() AS no_worker_left;
RESET apex_router.worker_pool_idle_ms;

-- issue 12: the same with no pool (a dynamic worker of its own per call),
-- the worker exiting with code 0 (a dynamic worker that "finished"), then
-- with code 1; the next call answers
SET apex_router.worker_pool_size = 0;
SELECT id, found_in FROM apex_route('exit', sources => '{wx_exit0,wx_other}');
SELECT id, found_in FROM apex_route('exit', sources => '{wx_exit,wx_quick,wx_other}') ORDER BY id;
SELECT apex_workers_gone() AS no_worker_left;
SELECT id, found_in FROM apex_route('x', sources => '{wx_exit0,wx_exit,wx_other}') ORDER BY id;
SELECT apex_workers_gone() AS no_worker_left;
RESET apex_router.worker_pool_size;

-- issue 12: an idle pooled worker exits just as a caller hands it a
-- request, before it took it.  The worker is held still (SIGSTOP) while
-- this session's call hands it the request, then terminated and let go:
-- it takes the SIGTERM before it looks at its slot again, so it exits
-- without having taken the request (its FATAL goes to the log alone: no
-- caller's queue is attached).  The caller sees its worker gone before it
-- started, and runs the source inline, with the fallback's NOTICE.
SET apex_router.worker_pool_size = 1;
SET apex_router.worker_pool_idle_ms = 60000;
SELECT id, found_in FROM apex_route('x', sources => '{wx_quick,wx_other}') ORDER BY id;
SELECT apex_workers_settled() AS settled;
SELECT pid AS pooled_pid FROM wx_workers() \gset
SELECT apex_test_signal(:pooled_pid, 'stop');
SELECT dblink_connect('wx', :'connstr');
-- another session: once this one waits in its call, with the request
-- handed, terminate the held worker and let it go
SELECT dblink_send_query('wx', format($q$
  DO $$
  DECLARE t0 timestamptz := clock_timestamp();
  BEGIN
    LOOP
      PERFORM pg_stat_clear_snapshot();
      EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event = 'Extension')
        OR clock_timestamp() - t0 > interval '10 s';
      PERFORM pg_sleep(0.01);
    END LOOP;
    PERFORM pg_terminate_backend(%s);
    PERFORM apex_test_signal(%s, 'cont');
  END $$$q$, pg_backend_pid(), :pooled_pid, :pooled_pid));
SELECT id, found_in FROM apex_route('x', sources => '{wx_quick,wx_other}') ORDER BY id;
SELECT * FROM dblink_get_result('wx') AS t(done text);
SELECT dblink_disconnect('wx');
SELECT apex_workers_gone() AS no_worker_left;
-- and the next call has a pooled worker again
SELECT id, found_in FROM apex_route('x', sources => '{wx_quick,wx_other}') ORDER BY id;
SELECT apex_workers_settled() AS settled;
SELECT count(*) AS pooled_workers, bool_and(pid <> :pooled_pid) AS replaced FROM wx_workers();
SELECT count(pg_terminate_backend(pid)) AS ended FROM wx_workers() \gset
SELECT apex_workers_gone() AS no_worker_left;
RESET apex_router.worker_pool_size;
RESET apex_router.worker_pool_idle_ms;

DROP FUNCTION wx_workers, apex_test_exit_silently, apex_test_signal;
DROP SERVER wx_exit, wx_exit0, wx_quick, wx_other, wx_exit_inline;
DROP EXTENSION dblink;
\i :abs_srcdir/sql/include/workers_drop.sql
