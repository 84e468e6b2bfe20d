-- Redis as a search source: short-term memory in a real redis-server (port
-- 6390, password from the user mapping), loaded from the corpus by
-- test/fixtures/load-redis.mjs: hashes mem:item:<id>, sorted sets
-- mem:term:<term> scored by recency.
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port '6390');
CREATE USER MAPPING FOR PUBLIC SERVER recent OPTIONS (password 'redis-pass');
-- items matching more query terms first, then the most recent
SELECT rank, id, title, payload->'recent'->'item'->>'matched_terms' AS terms,
       to_timestamp((payload->'recent'->'item'->>'recency')::float8) AS recency
FROM apex_route('Sarah roadmap', k => 5, sources => '{recent}');
SELECT jsonb_object_keys(payload->'recent'->'item') AS item_keys
FROM apex_route('billing cutover', k => 1, sources => '{recent}') ORDER BY 1;
-- fused with the other sources
SELECT rank, id, found_in FROM apex_route('billing cutover', k => 3, sources => '{recent,graph,docs}');
-- nothing to look up
SELECT count(*) AS rows FROM apex_route('?!', sources => '{recent}');
SELECT count(*) AS rows FROM apex_route('zebra', sources => '{recent}');

-- key patterns and fields from options
ALTER SERVER recent OPTIONS (ADD term_key 'nothing:%s');
SELECT count(*) AS rows FROM apex_route('Sarah', sources => '{recent}');
ALTER SERVER recent OPTIONS (DROP term_key, ADD title_field 'kind');
SELECT rank, id, title FROM apex_route('Sarah roadmap', k => 2, sources => '{recent}');
ALTER SERVER recent OPTIONS (DROP title_field);

-- validator
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', term_key 'mem:term');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', item_key 'mem:%s:%d');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '/tmp/r.sock', port '6390');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', db '-1');
CREATE SERVER bad FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', password 'x');

-- failures: wrong password, wrong database index, Redis down, a slow Redis
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'wrong');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'redis-pass');
ALTER SERVER recent OPTIONS (ADD db '99');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER SERVER recent OPTIONS (DROP db);
ALTER SERVER recent OPTIONS (SET port '1');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER SERVER recent OPTIONS (SET port '6390');

-- one kept connection serves 50 calls (INFO clients counts it and redis-cli)
SELECT apex_router_disconnect() >= 0 AS reset;
DO $$ BEGIN
  FOR i IN 1..50 LOOP
    PERFORM count(*) FROM apex_route('billing ' || i, sources => '{recent}');
  END LOOP;
END $$;
SELECT kind, source, target, requests FROM apex_router_connections() WHERE kind = 'redis';
\! redis-cli -p 6390 -a redis-pass --no-auth-warning info clients | grep '^connected_clients'

-- Redis restarts: the next call reconnects; while it is down, a warning
\! "$APEX_REDIS" stop
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
\! "$APEX_REDIS" start
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
