-- Bad arguments are clear errors, never a crash.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
SELECT * FROM apex_route(NULL);
SELECT * FROM apex_route('');
SELECT * FROM apex_route(E' \t\n');
SELECT * FROM apex_route(repeat('x', 1024 * 1024 + 1));
SELECT * FROM apex_route('Sarah', k => 0);
SELECT * FROM apex_route('Sarah', k => -3);
SELECT * FROM apex_route('Sarah', k => 10001);
SELECT * FROM apex_route('Sarah', rrf_k => 0);
SELECT * FROM apex_route('Sarah', timeout_ms => -1);
SELECT * FROM apex_route('Sarah', sources => '{}');
SELECT * FROM apex_route('Sarah', sources => '{graph,NULL}');
SELECT * FROM apex_route('Sarah', sources => '{nosuch}');
SELECT * FROM apex_route('Sarah', sources => '{embed}');
-- issue 9: a two-dimensional array was silently flattened into a list of names
SELECT * FROM apex_route('Sarah', sources => '{{graph,docs},{vectors,graph}}');
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER not_ours FOREIGN DATA WRAPPER other_fdw;
SELECT * FROM apex_route('Sarah', sources => '{not_ours}');
DROP FOREIGN DATA WRAPPER other_fdw CASCADE;
SELECT * FROM apex_route('Sarah', sources => '{vectors}', query_vector => '{}');
SELECT * FROM apex_route('Sarah', sources => '{vectors}', query_vector => '{1,NULL}');
SELECT * FROM apex_route('Sarah', sources => '{vectors}', query_vector => '{{1,2},{3,4}}');
SELECT * FROM apex_route('Sarah', sources => '{vectors}', query_vector => '{1,NaN}');
SELECT * FROM apex_route('Sarah', sources => '{vectors}', query_vector => '{1,Infinity}');
-- a vector source needs an embedder or a caller vector
ALTER SERVER vectors OPTIONS (DROP embedder);
SELECT * FROM apex_route('Sarah', sources => '{vectors}');
-- (issue 11 item 7: a wrong embedder is refused at ALTER SERVER, and one
-- that went wrong later fails its source alone: failures)
ALTER SERVER vectors OPTIONS (ADD embedder 'docs');
ALTER SERVER vectors OPTIONS (ADD embedder 'nosuch');
ALTER SERVER vectors OPTIONS (ADD embedder 'embed');
-- a source named twice is searched once
SELECT count(*) AS rows, max(array_length(found_in, 1)) AS max_sources
FROM apex_route('Sarah', k => 3, sources => '{graph,graph}');
-- query text is sent as data, whatever it holds
SELECT count(*) >= 0 AS ok FROM apex_route(E'Sarah\" ''; DROP TABLE notes; -- \\u0000 {}', k => 3);
SELECT count(*) AS notes FROM notes;
-- with no source at all
BEGIN;
DROP SERVER graph, vectors, embed, docs CASCADE;
SELECT * FROM apex_route('Sarah');
ROLLBACK;
