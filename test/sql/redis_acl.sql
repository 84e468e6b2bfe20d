-- Redis 6 ACL users with the least a redis source and a result cache need
-- (issue 16 item 2; docs/deploy.md "Redis"), made by test/lib.sh
-- (apex_redis):
--   apex_lookup: ~mem:* +zrevrange +hgetall +client|setname
--   apex_cache:  ~apex:* +eval +get +set +incr +client|setname
-- A source logs in with AUTH user password (the mapping's user and
-- password).  SELECT is sent only for a db other than 0, and needs +select.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- a lookup source: its terms' sets and its items' hashes
CREATE SERVER acl_recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER acl_recent OPTIONS (user 'apex_lookup', password 'lookup-pass');
SELECT rank, id, title FROM apex_route('Sarah roadmap', k => 2, sources => '{acl_recent}');
-- keys outside its pattern: Redis refuses the command, the source fails alone
ALTER SERVER acl_recent OPTIONS (ADD term_key 'other:term:%s');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 1, sources => '{acl_recent,docs}');
ALTER SERVER acl_recent OPTIONS (DROP term_key);
-- another database needs +select
ALTER SERVER acl_recent OPTIONS (ADD db '1');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 1, sources => '{acl_recent,docs}');
ALTER SERVER acl_recent OPTIONS (DROP db);
-- a wrong password
ALTER USER MAPPING FOR PUBLIC SERVER acl_recent OPTIONS (SET password 'wrong');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 1, sources => '{acl_recent,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER acl_recent OPTIONS (SET password 'lookup-pass');

-- the result cache: EVAL (whose script GETs the epoch and the entry), SET,
-- and INCR for apex_router_cache_flush()
CREATE SERVER acl_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apex:acltest:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER acl_cache OPTIONS (user 'apex_cache', password 'cache-pass');
SET apex_router.cache_source = 'acl_cache';
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT rank, id FROM apex_route('Sarah roadmap acl', k => 2, sources => '{acl_recent}');
-- a hit (the SET went first on the kept connection): the cache step says so
SELECT step, status FROM apex_explain('Sarah roadmap acl', k => 2, sources => '{acl_recent}')
WHERE step = 'cache';
-- the lookup user as the cache: EVAL is not among its commands
ALTER USER MAPPING FOR PUBLIC SERVER acl_cache OPTIONS (SET user 'apex_lookup', SET password 'lookup-pass');
SELECT rank, id FROM apex_route('Sarah roadmap acl', k => 1, sources => '{acl_recent}');
-- the cache user with a prefix outside its key pattern: EVAL names the
-- epoch key, which Redis refuses
ALTER USER MAPPING FOR PUBLIC SERVER acl_cache OPTIONS (SET user 'apex_cache', SET password 'cache-pass');
ALTER SERVER acl_cache OPTIONS (SET key_prefix 'other:');
SELECT rank, id FROM apex_route('Sarah roadmap acl', k => 1, sources => '{acl_recent}');
RESET apex_router.cache_source;

-- the cache user as a lookup source: ZREVRANGE is not among its commands
ALTER USER MAPPING FOR PUBLIC SERVER acl_recent OPTIONS (SET user 'apex_cache', SET password 'cache-pass');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 1, sources => '{acl_recent,docs}');

DROP SERVER acl_recent CASCADE;
DROP SERVER acl_cache CASCADE;

-- Redis over TLS: Debian 12's hiredis (0.14) has no TLS, so a local stunnel
-- (test/lib.sh apex_redis_tunnel) takes plain Redis on REDIS_TUNNEL_PORT
-- and carries it over TLS to the server's tls-port, verifying its
-- certificate for "localhost" against the test CA
\getenv redis_tunnel_port REDIS_TUNNEL_PORT
\getenv redis_tls_port REDIS_TLS_PORT
CREATE SERVER tls_recent FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_tunnel_port');
CREATE USER MAPPING FOR PUBLIC SERVER tls_recent OPTIONS (user 'apex_lookup', password 'lookup-pass');
SELECT rank, id, title FROM apex_route('Sarah roadmap', k => 2, sources => '{tls_recent}');
-- plain Redis straight to the TLS port: the server hangs up on it
ALTER SERVER tls_recent OPTIONS (SET port :'redis_tls_port');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 1, sources => '{tls_recent,docs}');
DROP SERVER tls_recent CASCADE;
