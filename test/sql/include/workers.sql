\set ECHO none
-- Waiting for the sql sources' background workers (issue 12), for the
-- areas that test them: each function waits at most 10 s and returns
-- whether what it waited for came.  Drop them with
-- include/workers_drop.sql at the end of the area.
-- no apex_router worker runs a query (a pooled one waiting for work shows
-- idle: it does once a caller can hand it work)
CREATE FUNCTION apex_workers_settled() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'apex_router sql'
                   AND state IS DISTINCT FROM 'idle') THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
-- no apex_router worker is left at all (idle pooled ones exit within
-- apex_router.worker_pool_idle_ms)
CREATE FUNCTION apex_workers_gone() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'apex_router sql') THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
-- the worker of source runs its query
CREATE FUNCTION apex_worker_running(source text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 200 LOOP
    PERFORM pg_stat_clear_snapshot();
    IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'apex_router sql'
               AND state = 'active' AND query = format('apex_route: sql source "%s"', source)) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
\set ECHO all
