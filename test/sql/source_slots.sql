-- issue 13 item 3: a source's max_concurrent_requests caps the requests in
-- flight to it from every session of the database together.  A leg that
-- finds every slot taken waits (its clock running) and is started when a
-- slot is given back, whoever gives it back and however its call ends;
-- apex_router_source_slots() shows the slots in use and the legs waiting.
-- Other sessions are dblink connections, as in worker_failures.sql.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE EXTENSION dblink;
SELECT format('host=%s port=%s dbname=%s', current_setting('unix_socket_directories'),
              current_setting('port'), current_database()) AS connstr \gset

-- wait (at most 10 s) until the capped sources show these slots in use and
-- legs waiting, every session together
CREATE FUNCTION ss_wait(source text, want_in_use int, want_waiting int) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. 500 LOOP
    IF EXISTS (SELECT 1 FROM apex_router_source_slots() s WHERE s.source = ss_wait.source
               AND in_use = want_in_use AND waiting = want_waiting) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN false;
END $$;

-- the outcome of the query sent on a dblink connection: 'rows' when it
-- returned some, else its error's message; the connection is then free
CREATE FUNCTION ss_result(conn text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE outcome text;
BEGIN
  BEGIN
    SELECT CASE WHEN n > 0 THEN 'rows' ELSE 'no rows' END INTO outcome
    FROM dblink_get_result(conn) AS t(n bigint);
  EXCEPTION WHEN query_canceled OR others THEN
    outcome := SQLERRM;
  END;
  PERFORM * FROM dblink_get_result(conn, false) AS t(n bigint);
  RETURN outcome;
END $$;

-- the option: remote kinds only, a count from 0 (no cap)
CREATE SERVER ss_sql FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''a'' AS id WHERE $1 <> '''' LIMIT $2', max_concurrent_requests '2');
\set url :embed_url
CREATE SERVER ss_embed FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'embedder',
  url :'url', model 'test-embed', max_concurrent_requests '2');
CREATE SERVER ss_bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'neo4j',
  url :'url', statement 'RETURN 1', max_concurrent_requests '-1');
CREATE SERVER ss_none FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  query 'SELECT ''a'' AS id WHERE $1 <> '''' LIMIT $2', max_concurrent_requests '0');
DROP SERVER ss_none;

-- one slot on a Neo4j that answers in 600 ms
\set url :neo4j_url'/__fault/delay=600'
CREATE SERVER capped FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', database 'neo4j', max_concurrent_requests '1',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER capped OPTIONS (user 'neo4j', password 'testpassword');
-- listed with its cap, nothing in use; sources without a cap are not listed
SELECT * FROM apex_router_source_slots();

-- two sessions call at once: the second waits for the first's slot, and
-- is visible waiting; its request starts after the first's ended
SELECT dblink_connect('a', :'connstr'), dblink_connect('b', :'connstr');
SELECT clock_timestamp() AS t0 \gset
SELECT dblink_send_query('a', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
SELECT dblink_send_query('b', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 1) AS second_waits;
SELECT * FROM apex_router_source_slots();
-- and the waiting session's call waits in the loop's latch wait
SELECT wait_event_type, wait_event FROM pg_stat_activity
WHERE query LIKE 'SELECT count(*) FROM apex_route%' AND state = 'active' ORDER BY pid;
SELECT ss_result('a') AS a;
SELECT ss_result('b') AS b;
SELECT * FROM apex_router_source_slots();
\set log `cat "$APEX_TEST_LOG"`
WITH r AS (
  SELECT (e->>'start')::float8 AS s, (e->>'end')::float8 AS e,
         row_number() OVER (ORDER BY (e->>'start')::float8) AS n
  FROM regexp_split_to_table(:'log', E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND e->>'server' = 'neo4j'
    AND (e->>'start')::float8 >= extract(epoch FROM :'t0'::timestamptz) * 1000)
SELECT count(*) AS requests,
       (SELECT s FROM r WHERE n = 2) >= (SELECT e FROM r WHERE n = 1) AS second_after_first
FROM r;

-- a leg that times out while it waits says so; the other legs of its
-- call went on meanwhile (an inline sql leg, so that its time does not
-- depend on a worker's start)
CREATE SERVER ss_local FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql',
  execution 'inline', query 'SELECT ''local'' AS id WHERE $1 <> '''' LIMIT $2');
SELECT dblink_send_query('a', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
SELECT count(*) > 0 AS rows, array_agg(DISTINCT s) AS found_in
FROM apex_route('Sarah roadmap', sources => '{capped,ss_local}', timeout_ms => 200), unnest(found_in) s;
SELECT * FROM apex_router_source_slots();
SELECT ss_result('a') AS a;

-- the holder's call ends in an ERROR (statement_timeout, a cancel) or its
-- backend exits (pg_terminate_backend): the slot is given back at once,
-- and the next call is not held up.  A hanging Neo4j holds it until then.
\set url :neo4j_url'/__fault/hang'
ALTER SERVER capped OPTIONS (SET url :'url', ADD timeout_ms '60000');
SELECT dblink_exec('a', 'SET statement_timeout = 300');
SELECT dblink_send_query('a', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
SELECT ss_result('a') AS a;
SELECT dblink_exec('a', 'RESET statement_timeout');
SELECT * FROM apex_router_source_slots();

SELECT pid AS b_pid FROM dblink('b', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_send_query('b', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
-- a third session waits behind it, then is cancelled while it waits
SELECT pid AS a_pid FROM dblink('a', 'SELECT pg_backend_pid()') AS t(pid int) \gset
SELECT dblink_send_query('a', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 1) AS second_waits;
SELECT pg_cancel_backend(:a_pid);
SELECT ss_wait('capped', 1, 0) AS waiter_gone;
SELECT ss_result('a') AS a;
SELECT pg_cancel_backend(:b_pid);
SELECT ss_wait('capped', 0, 0) AS holder_gave_back;
SELECT ss_result('b') AS b;

SELECT dblink_send_query('b', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
SELECT pg_terminate_backend(:b_pid);
SELECT ss_wait('capped', 0, 0) AS exited_holder_gave_back;
SELECT dblink_disconnect('b');

-- a cap raised by ALTER SERVER counts for the next call: two hold at once
ALTER SERVER capped OPTIONS (SET max_concurrent_requests '2');
SELECT dblink_connect('b', :'connstr');
SELECT dblink_send_query('a', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 1, 0) AS first_holds;
SELECT dblink_send_query('b', $$SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}')$$);
SELECT ss_wait('capped', 2, 0) AS second_holds_too;
SELECT * FROM apex_router_source_slots();
-- lowered to one, a third call waits until both are gone
ALTER SERVER capped OPTIONS (SET max_concurrent_requests '1');
SELECT count(*) FROM apex_route('Sarah roadmap', sources => '{capped}', timeout_ms => 200);
SELECT dblink_cancel_query('a'), dblink_cancel_query('b');
SELECT ss_result('a') AS a;
SELECT ss_result('b') AS b;
SELECT * FROM apex_router_source_slots();

-- dropping the cap: no slot is taken, the source is no longer listed
ALTER SERVER capped OPTIONS (DROP max_concurrent_requests);
SELECT * FROM apex_router_source_slots();
SELECT dblink_disconnect('a'), dblink_disconnect('b');
DROP SERVER capped, ss_local CASCADE;
DROP EXTENSION dblink;
