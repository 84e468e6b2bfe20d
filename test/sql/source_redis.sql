-- Redis as a search source: short-term memory in a real redis-server (port
-- APEX_REDIS_PORT, password from the user mapping), loaded from the corpus by
-- test/fixtures/load-redis.mjs: hashes mem:item:<id>, sorted sets
-- mem:term:<term> scored by recency.  (Its kept connection: connections;
-- Redis restarting: restart.)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE SERVER recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
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

-- failures: wrong password, wrong database index, Redis down, a slow Redis
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'wrong');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'redis-pass');
ALTER SERVER recent OPTIONS (ADD db '99');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER SERVER recent OPTIONS (DROP db);
ALTER SERVER recent OPTIONS (SET port :'closed_port');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER SERVER recent OPTIONS (SET port :'redis_port');

-- issue 11 item 4; origin: pg-redis-fdw/redis_fdw#41 (a Redis ACL user needs AUTH <username> <password>, not AUTH <password>)
-- issue 11 item 4; origin: pg-redis-fdw/redis_fdw#53 (a username mapping option; a wrong password is WRONGPASS)
-- issue 11 item 4: a Redis 6 ACL user (test/lib.sh creates "reader") is sent
-- as AUTH reader password; it used to be ignored, and the login failed
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (ADD user 'reader', SET password 'reader-pass');
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{recent}');
-- issue 11 item 4: the ACL user with a wrong password is WRONGPASS
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'wrong');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
-- issue 11 item 4: the default user's password is not the reader's
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (SET password 'redis-pass');
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER recent OPTIONS (DROP user);
SELECT count(*) AS rows FROM apex_route('billing', k => 3, sources => '{recent}');
