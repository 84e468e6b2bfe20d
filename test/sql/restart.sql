-- Servers that go away: a kept connection found dead is replaced before
-- use (HTTP, Redis) or the request retried once on a new one (postgres);
-- while a server is down, its source fails with a WARNING and the others
-- answer.  The remote cluster and Redis are stopped and started through
-- test/bin/remote-pg and test/bin/redis.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/more_sources.sql

-- issue 11, a passing case; origin: NVIDIA-NeMo/Gym#1555 (uvicorn closes idle keep-alive connections after 5 s; a pooled one reused fails)
-- issue 11, a passing case; origin: open-webui/open-terminal#148 (ConnectionResetError reusing a connection uvicorn had closed)
-- a server restart (every kept connection closes) is invisible to callers
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', sources => '{graph}');
\! curl -s -o /dev/null -X POST "http://127.0.0.1:$NEO4J_PORT/__drop_connections"
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', sources => '{graph}');
SELECT count(*) AS connections, sum(requests) AS requests
FROM apex_router_connections() WHERE source = 'graph';

-- the remote server goes down: a warning; it comes back: callers do not notice
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
\! "$APEX_REMOTE_PG" stop
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
\! "$APEX_REMOTE_PG" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
-- and a restart between two calls, with a connection kept
\! "$APEX_REMOTE_PG" stop
\! "$APEX_REMOTE_PG" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{remote_docs,docs}');
SELECT kind, source, requests FROM apex_router_connections() WHERE kind = 'postgres';

-- Redis restarts: the next call reconnects; while it is down, a warning
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
\! "$APEX_REDIS" stop
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
\! "$APEX_REDIS" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
