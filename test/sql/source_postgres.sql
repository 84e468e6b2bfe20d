-- Another PostgreSQL database (the test run's "remote" cluster on 5437,
-- password authentication) through libpq's asynchronous API.
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port '5437', dbname 'memory',
           query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (user 'apex_remote', password 'remote-pass');
-- same data, same query: the same ranking as the local sql source
SELECT (SELECT array_agg(id ORDER BY rank) FROM apex_route('billing migration', k => 5, sources => '{remote_docs}'))
     = (SELECT array_agg(id ORDER BY rank) FROM apex_route('billing migration', k => 5, sources => '{docs}'))
  AS same_as_local;
SELECT rank, id, title, found_in FROM apex_route('billing migration', k => 3, sources => '{remote_docs,docs,graph}');
SELECT payload->'remote_docs'->'item' AS item FROM apex_route('billing cutover', k => 1, sources => '{remote_docs}');

-- a LATIN1 remote database: text arrives converted to this database's encoding
CREATE SERVER remote_latin1 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port '5437', dbname 'latin1',
           query 'SELECT id, title FROM notes LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_latin1 OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT id, title, convert_to(title, 'UTF8') AS utf8_bytes
FROM apex_route('café', sources => '{remote_latin1}');
DROP SERVER remote_latin1 CASCADE;

-- validator
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', host 'h');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', port '0');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', sslmode 'maybe');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'postgres', query 'q', password 'p');

-- remote failures are warnings; the other sources answer
ALTER USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (SET password 'wrong-pass');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (SET password 'remote-pass');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id FROM no_such_table LIMIT $2');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title, body, ''high'' FROM notes LIMIT $2');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title FROM notes, pg_sleep(2) LIMIT $2', ADD timeout_ms '300');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2', DROP timeout_ms);
ALTER SERVER remote_docs OPTIONS (SET port '1');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET port '5437');

-- one kept connection serves 50 calls
SELECT apex_router_disconnect() >= 0 AS reset;
DO $$ BEGIN
  FOR i IN 1..50 LOOP
    PERFORM count(*) FROM apex_route('billing ' || i, sources => '{remote_docs}');
  END LOOP;
END $$;
SELECT kind, source, target, requests FROM apex_router_connections() WHERE kind = 'postgres';
\! psql -XAt -h "$APEX_RUN_DIR" -p 5437 -U postgres -d memory -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'apex_router' AND query LIKE '%websearch_to_tsquery%'"

-- the remote server goes down: a warning; it comes back: callers do not notice
\! "$APEX_REMOTE_PG" stop
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
\! "$APEX_REMOTE_PG" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
-- and a restart between two calls, with a connection kept
\! "$APEX_REMOTE_PG" stop
\! "$APEX_REMOTE_PG" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
SELECT kind, source, requests FROM apex_router_connections() WHERE kind = 'postgres';

-- as postgres_fdw: a non-superuser must bring a password
CREATE ROLE apex_bob LOGIN;
GRANT USAGE ON FOREIGN SERVER remote_docs TO apex_bob;
CREATE USER MAPPING FOR apex_bob SERVER remote_docs OPTIONS (user 'apex_remote');
SET ROLE apex_bob;
SELECT count(*) FROM apex_route('billing', sources => '{remote_docs}');
RESET ROLE;
ALTER USER MAPPING FOR apex_bob SERVER remote_docs OPTIONS (ADD password 'remote-pass');
SET ROLE apex_bob;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{remote_docs}');
RESET ROLE;
DROP USER MAPPING FOR apex_bob SERVER remote_docs;
REVOKE USAGE ON FOREIGN SERVER remote_docs FROM apex_bob;
DROP ROLE apex_bob;

-- a cancelled call closes the connection it was using
SELECT apex_router_disconnect() > 0 AS closed;
SELECT count(*) AS rows FROM apex_route('billing', sources => '{remote_docs}');
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'remote_docs';
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title FROM notes, pg_sleep(5) LIMIT $2');
SET statement_timeout = '300ms';
SELECT count(*) FROM apex_route('billing', sources => '{remote_docs}');
RESET statement_timeout;
SELECT count(*) AS kept FROM apex_router_connections() WHERE source = 'remote_docs';
DROP SERVER remote_docs CASCADE;
