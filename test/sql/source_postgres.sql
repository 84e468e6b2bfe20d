-- Another PostgreSQL database (the test run's "remote" cluster on APEX_REMOTE_PGPORT,
-- password authentication) through libpq's asynchronous API.  (Its kept
-- connection: connections; the remote server restarting: restart; the
-- password rule and the server's own identity: privileges.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE SERVER remote_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
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
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'latin1',
           query 'SELECT id, title FROM notes LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER remote_latin1 OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT id, title, convert_to(title, 'UTF8') AS utf8_bytes
FROM apex_route('café', sources => '{remote_latin1}');
DROP SERVER remote_latin1 CASCADE;

-- remote failures are warnings; the other sources answer.  issue 10: as a
-- program sees them (route_failure: strict mode), a refused log-in is
-- HV00N (no connection), a remote error has the remote SQLSTATE
\i :abs_srcdir/sql/include/route_failure.sql
ALTER USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (SET password 'wrong-pass');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
SELECT state, message FROM route_failure('billing', '{remote_docs}');
ALTER USER MAPPING FOR PUBLIC SERVER remote_docs OPTIONS (SET password 'remote-pass');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id FROM no_such_table LIMIT $2');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
SELECT * FROM route_failure('billing', '{remote_docs}');
-- issue 10: the remote error's own SQLSTATE, DETAIL and HINT are carried
-- over, as postgres_fdw carries them (raise_for(): test/lib.sh); the
-- remote message follows our cause in the detail.  (Who may see them:
-- secrets.)
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT raise_for($1) AS id, $2');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
SELECT * FROM route_failure('billing', '{remote_docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title, body, ''high'' FROM notes LIMIT $2');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title FROM notes, pg_sleep(2) LIMIT $2', ADD timeout_ms '300');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2', DROP timeout_ms);
-- issue 11 (noticed with item 5): rows with a null id are skipped and
-- counted in one WARNING, the others kept
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT NULLIF(id, ''m03''), title FROM notes ORDER BY id LIMIT $2');
SELECT rank, id, found_in FROM apex_route('billing', k => 3, sources => '{remote_docs}');
ALTER SERVER remote_docs OPTIONS (SET query 'SELECT id, title, body, ts_rank_cd(tsv, q)
                  FROM notes, websearch_to_tsquery(''english'', $1) q WHERE tsv @@ q
                  ORDER BY 4 DESC, id LIMIT $2');
ALTER SERVER remote_docs OPTIONS (SET port :'closed_port');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
ALTER SERVER remote_docs OPTIONS (SET port :'remote_pgport');

DROP SERVER remote_docs CASCADE;
