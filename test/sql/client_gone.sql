-- Issue 9 (item 7): a client that disconnects in the middle of a call ends
-- the call at once (the wait set watches the client's socket), instead of
-- after the sources' timeouts.  The client is a dblink connection whose
-- call waits on a source that never answers, with timeout_ms 60 s; it
-- disconnects once its backend waits in the call.  Its backend must be
-- gone well before the 60 s (the bound below is 30 s; it takes
-- milliseconds), with "connection to client lost" in the server log, as
-- client_connection_check_interval would report it.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE EXTENSION dblink;
\set url :graphiti_url'/__fault/hang'
CREATE SERVER cg_hang FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', timeout_ms '60000');
-- wait (at most 30 s) until the backend of application_name app is in
-- state or gone; returns whether it got there
CREATE FUNCTION cg_wait(app text, state text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 300 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF state = 'gone' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = app) THEN
      RETURN true;
    END IF;
    IF state = 'calling' AND EXISTS (SELECT 1 FROM pg_stat_activity
                                     WHERE application_name = app AND wait_event_type = 'Extension') THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.1);
  END LOOP;
  RETURN false;
END $$;
SELECT pg_postmaster_start_time() AS started \gset
SELECT dblink_connect('cg', format('host=%s port=%s dbname=%s application_name=cg_client',
                                   current_setting('unix_socket_directories'), current_setting('port'),
                                   current_database()));
SELECT dblink_send_query('cg', 'SELECT count(*) FROM apex_route(''Sarah roadmap'', sources => ''{cg_hang}'')');
SELECT cg_wait('cg_client', 'calling') AS calling;
SELECT pid AS cg_pid FROM pg_stat_activity WHERE application_name = 'cg_client' \gset
SELECT dblink_disconnect('cg');
SELECT cg_wait('cg_client', 'gone') AS gone;
-- the backend ended as PostgreSQL ends a session whose client is gone; no
-- crash, no restart
\getenv logfile APEX_PG_LOG
SELECT count(*) AS client_lost
FROM regexp_split_to_table(pg_read_file(:'logfile'), E'\n') l
WHERE l LIKE '%[' || :cg_pid || ']%FATAL:  connection to client lost%';
SELECT pg_postmaster_start_time() = :'started' AS same_postmaster;
-- this session goes on
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', sources => '{docs}');
DROP FUNCTION cg_wait;
DROP SERVER cg_hang;
DROP EXTENSION dblink;
