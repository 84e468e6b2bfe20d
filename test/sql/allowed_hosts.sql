-- Non-superusers granted USAGE on the wrapper may create sources, but only
-- towards hosts a superuser listed in apex_router.allowed_hosts (no SSRF):
-- checked by the validator, and again at call time for servers they own.
\set roles 'apex_carol apex_dave'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
CREATE ROLE apex_carol LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_carol;
GRANT SELECT ON notes TO apex_carol;
LOAD 'apex_router';
SHOW apex_router.allowed_hosts;
SET ROLE apex_carol;
-- the list is empty: no remote source at all
CREATE SERVER carol_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', statement 'RETURN 1 AS id');
-- a local SQL source reaches no host and needs no entry
CREATE SERVER carol_docs FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title FROM notes WHERE tsv @@ plainto_tsquery(''english'', $1) LIMIT $2');
-- only superusers change the list
SET apex_router.allowed_hosts = '*';
RESET ROLE;
\set hosts '127.0.0.1:' :neo4j_port ', localhost:' :qdrant_port ', [::1], 127.0.0.1:' :redis_port
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_carol;
CREATE SERVER carol_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR apex_carol SERVER carol_graph OPTIONS (user 'neo4j', password 'testpassword');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph,carol_docs}');
-- another port of an allowed host, the same address by another name, a
-- host name that only looks like an entry, IPv6 entries with and without a port
ALTER SERVER carol_graph OPTIONS (SET url :'closed_url');
\set url 'http://localhost:' :neo4j_port
ALTER SERVER carol_graph OPTIONS (SET url :'url');
\set url 'http://127.0.0.1.nip.io:' :neo4j_port
ALTER SERVER carol_graph OPTIONS (SET url :'url');
\set url 'http://[::1]:' :neo4j_port
ALTER SERVER carol_graph OPTIONS (SET url :'url');
\set url 'http://[::1]:' :neo4j_port '/db'
ALTER SERVER carol_graph OPTIONS (SET url :'url');
ALTER SERVER carol_graph OPTIONS (SET url :'neo4j_url');
-- the default port of the scheme counts: http://localhost means :80
CREATE SERVER carol_vec FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://localhost', collection 'memory', embedder 'embed');
\set url 'http://LOCALHOST:' :qdrant_port
CREATE SERVER carol_vec FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'url', collection 'memory', embedder 'embed');
DROP SERVER carol_vec;
-- redis and postgres sources: host and port, or the socket path
CREATE SERVER carol_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', port :'redis_port');
CREATE SERVER carol_redis2 FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '/tmp/redis.sock');
CREATE SERVER carol_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', query 'SELECT 1 AS id');
CREATE SERVER carol_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,10.0.0.1', port :'neo4j_port', query 'SELECT 1 AS id');
DROP SERVER carol_redis;
-- the list shrinks: a server bob owns stops working at once, an ERROR
RESET ROLE;
SET apex_router.allowed_hosts = 'localhost';
SET ROLE apex_carol;
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph}');
-- and so does routing to it by default: a role's own server is searched
SELECT rank, id FROM apex_route('Sarah roadmap', k => 2);
RESET ROLE;
-- a superuser's sources are not limited, whatever the list says
SELECT count(*) AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
-- a wildcard entry allows every host
SET apex_router.allowed_hosts = '*';
SET ROLE apex_carol;
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{carol_graph}');
RESET ROLE;
RESET apex_router.allowed_hosts;
DROP SERVER carol_graph CASCADE;
DROP SERVER carol_docs;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_carol;
REVOKE SELECT ON notes FROM apex_carol;
DROP ROLE apex_carol;

-- issue 9, item 3: apex_router.allowed_hosts must see every place a
-- connection library may try, as that library will see it: libpq's empty
-- host elements, hostaddr, port lists, default socket directory and
-- environment; Redis socket paths and ports; the host libcurl connects to.
-- The server of this test run has PGSERVICE=apex_env in its environment
-- (test/lib.sh): a service file that supplies the remote cluster's port,
-- which libpq uses for every postgres source without a port, and so must
-- the check.
-- (the service file as test/lib.sh writes it, whatever an interrupted run left)
\! printf '[apex_env]\nport=%s\n' "$APEX_REMOTE_PGPORT" >"$APEX_RUN_DIR/pg_service.conf"
CREATE ROLE apex_dave LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO apex_dave;
LOAD 'apex_router';
\set hosts '127.0.0.1:' :remote_pgport ', 127.0.0.1:' :redis_port ', 127.0.0.1:' :neo4j_port ', [::1]'
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;

-- postgres, checked by the validator at CREATE/ALTER SERVER
-- issue 9: an empty host element is libpq's default socket directory, on a
-- normal install the local cluster itself (reported with ',127.0.0.1')
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host ',127.0.0.1', port :'remote_pgport', query 'SELECT 1 AS id');
-- issue 9: the same with the empty element last ('127.0.0.1,')
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,', port :'remote_pgport', query 'SELECT 1 AS id');
-- issue 9: an empty host option is no host for libpq (it used to give no target at all)
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '', query 'SELECT 1 AS id');
-- issue 9: no host: the default socket directory, on the port libpq takes
-- from the service named in the server's environment
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', query 'SELECT 1 AS id');
-- issue 9: libpq connects to hostaddr; host only names the server
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', hostaddr '127.0.0.2', query 'SELECT 1 AS id');
-- issue 9: hostaddr and host lists pair up by position; an empty hostaddr
-- element leaves that host to its host name
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,localhost', hostaddr '127.0.0.1,', query 'SELECT 1 AS id');
-- issue 9: lists that do not pair up are refused, as libpq refuses them
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host 'a,b', hostaddr '127.0.0.1', query 'SELECT 1 AS id');
-- issue 9: a service file could supply any host: service and servicefile are no options
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', service 'apex_env', query 'SELECT 1 AS id');
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', servicefile '/tmp/pg_service.conf', query 'SELECT 1 AS id');
-- issue 9: a port list: one port serves every host (each host:port is checked)
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,127.0.0.2', port :'remote_pgport', query 'SELECT 1 AS id');
-- issue 9: ... or one port for each host
\set ports :remote_pgport ',5432'
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,127.0.0.1', port :'ports', query 'SELECT 1 AS id');
-- issue 9: an empty port element is libpq's built-in port
\set ports :remote_pgport ','
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,127.0.0.1', port :'ports', query 'SELECT 1 AS id');
-- issue 9: port lists that do not pair up, and ports libpq cannot read
\set ports :remote_pgport ',5438,5439'
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,127.0.0.1', port :'ports', query 'SELECT 1 AS id');
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port '0x1535', query 'SELECT 1 AS id');
-- issue 9: a host starting with '/' is a socket directory, '@' an abstract socket
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '/tmp', query 'SELECT 1 AS id');
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '@apex', query 'SELECT 1 AS id');

-- what the list allows still works: the port comes from the service in the
-- server's environment, and the call really connects there
CREATE SERVER dave_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', dbname 'memory',
           query 'SELECT id, title FROM notes WHERE $1 <> '''' ORDER BY id LIMIT $2');
CREATE USER MAPPING FOR apex_dave SERVER dave_pg OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT rank, id FROM apex_route('anything', k => 2, sources => '{dave_pg}');
-- a host name beside an allowed hostaddr: libpq connects to the address
ALTER SERVER dave_pg OPTIONS (SET host 'remote.invalid', ADD hostaddr '127.0.0.1');
SELECT rank, id FROM apex_route('anything', k => 2, sources => '{dave_pg}');
-- an empty host element beside a hostaddr is no socket; a port as libpq reads it
\set port_zero '0' :remote_pgport
ALTER SERVER dave_pg OPTIONS (SET host ',127.0.0.1', SET hostaddr '127.0.0.1,', ADD port :'port_zero');
SELECT rank, id FROM apex_route('anything', k => 2, sources => '{dave_pg}');
-- IPv6 hosts are matched with the bracketed entry
ALTER SERVER dave_pg OPTIONS (SET host '::1', DROP hostaddr);

-- redis, checked by the validator
-- issue 9: a socket path is compared whole: the entry '/tmp/r' is not '/tmp/r:PORT'
RESET ROLE;
\set hosts '127.0.0.1:' :redis_port ', /tmp/r'
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;
\set socket '/tmp/r:' :redis_port
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket :'socket');
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '/tmp/r');
DROP SERVER dave_redis;
-- issue 9: hiredis resolves a relative socket path and cuts a long one short
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket 'r.sock');
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket '@r');
SELECT format('CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind %L, socket %L)',
              'redis', '/tmp/' || repeat('r', 120)) AS long_socket \gset
:long_socket;
-- issue 9: the port hiredis is given is the port checked (the allowed port
-- in hexadecimal used to pass as that port and reach hiredis as 0; with a
-- leading zero it is that port for both)
SELECT '0x' || to_hex(:redis_port) AS redis_port_hex, '0' || :'redis_port' AS redis_port_zero \gset
-- (the message quotes the value, which depends on the run's ports)
\set VERBOSITY sqlstate
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', port :'redis_port_hex');
\set VERBOSITY default
SELECT replace(:'LAST_ERROR_MESSAGE', :'redis_port_hex', '<the port in hexadecimal>') AS error;
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', port :'redis_port_zero');
DROP SERVER dave_redis;

-- HTTP kinds: the host libcurl connects to, parsed by libcurl's own parser
RESET ROLE;
\set hosts '127.0.0.1:' :neo4j_port ', [::1]'
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;
-- issue 9: an IPv6 zone id picks the link, so it is part of the host
\set url 'http://[::1%25lo]:' :neo4j_port
CREATE SERVER dave_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
-- issue 9: userinfo cannot hide the host (it is refused as credentials)
\set url 'http://127.0.0.1:' :neo4j_port '@127.0.0.2:' :neo4j_port '/'
CREATE SERVER dave_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
-- issue 9: odd spellings are checked as libcurl reads them: one slash, a
-- short IPv4 address (127.1 is 127.0.0.1 to libcurl, so it is allowed)
\set url 'http:/127.0.0.2:' :neo4j_port
CREATE SERVER dave_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
\set url 'http://127.1:' :neo4j_port
CREATE SERVER dave_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
-- issue 9: no option reaches libcurl's Unix socket or connect-to settings
CREATE SERVER dave_vec FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'neo4j_url', collection 'c', unix_socket '/tmp/s');
DROP SERVER dave_graph;

-- at call time: sources created while a superuser allowed everything stop
-- at once when the list shrinks (nothing is connected to)
RESET ROLE;
SET apex_router.allowed_hosts = '*';
SET ROLE apex_dave;
ALTER SERVER dave_pg OPTIONS (SET host ',127.0.0.1');
CREATE SERVER dave_trailing FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,', query 'SELECT 1 AS id');
CREATE SERVER dave_nohost FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', query 'SELECT 1 AS id');
CREATE SERVER dave_hostaddr FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', hostaddr '127.0.0.2', query 'SELECT 1 AS id');
\set ports :remote_pgport ','
CREATE SERVER dave_ports FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1,127.0.0.1', port :'ports', query 'SELECT 1 AS id');
CREATE SERVER dave_abstract FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '@apex', query 'SELECT 1 AS id');
\set socket '/tmp/r:' :redis_port
CREATE SERVER dave_redis FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'redis', socket :'socket');
\set url 'http://[::1%25lo]:' :neo4j_port
CREATE SERVER dave_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'url', statement 'RETURN 1 AS id');
RESET ROLE;
\set hosts '127.0.0.1:' :remote_pgport ', 127.0.0.1, /tmp/r, [::1]'
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;
-- issue 9: an empty host element, first or last
SELECT id FROM apex_route('x', sources => '{dave_pg}');
SELECT id FROM apex_route('x', sources => '{dave_trailing}');
-- issue 9: no host: the default socket directory, the service's port
SELECT id FROM apex_route('x', sources => '{dave_nohost}');
-- issue 9: hostaddr
SELECT id FROM apex_route('x', sources => '{dave_hostaddr}');
-- issue 9: a port list (the empty element is port 5432)
RESET ROLE;
\set hosts '127.0.0.1:' :remote_pgport ', /tmp/r, [::1]'
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;
SELECT id FROM apex_route('x', sources => '{dave_ports}');
-- issue 9: an abstract socket
SELECT id FROM apex_route('x', sources => '{dave_abstract}');
-- issue 9: a redis socket path with a colon
SELECT id FROM apex_route('x', sources => '{dave_redis}');
-- issue 9: an IPv6 zone id
SELECT id FROM apex_route('x', sources => '{dave_graph}');


-- issue 9: the environment is read at every call, as libpq reads it: a
-- service file changed after CREATE SERVER moves the target, and the check
-- follows it
RESET ROLE;
\set hosts '127.0.0.1:' :remote_pgport
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_dave;
CREATE SERVER dave_service FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', dbname 'memory',
           query 'SELECT id, title FROM notes WHERE $1 <> '''' ORDER BY id LIMIT $2');
CREATE USER MAPPING FOR apex_dave SERVER dave_service OPTIONS (user 'apex_remote', password 'remote-pass');
SELECT rank, id FROM apex_route('anything', k => 1, sources => '{dave_service}');
\! printf '[apex_env]\nport=5432\n' >"$APEX_RUN_DIR/pg_service.conf"
SELECT rank, id FROM apex_route('anything', k => 1, sources => '{dave_service}');
RESET ROLE;
-- a superuser's source that libpq could not connect as the environment now
-- says: refused at CREATE, and at call time it fails alone, as libpq would
-- (issue 13: a backend keeps sources parsed, but not a postgres source,
-- whose endpoints the environment decides: the last call here is the
-- session's second use of super_pg, the environment changed in between)
\! printf '[apex_env]\nport=%s,%s\n' "$APEX_REMOTE_PGPORT" "$CLOSED_PORT" >"$APEX_RUN_DIR/pg_service.conf"
CREATE SERVER super_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', dbname 'memory', query 'SELECT id FROM notes ORDER BY id LIMIT $2');
\! printf '[apex_env]\nport=%s\n' "$APEX_REMOTE_PGPORT" >"$APEX_RUN_DIR/pg_service.conf"
CREATE SERVER super_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', dbname 'memory', query 'SELECT id FROM notes ORDER BY id LIMIT $2');
CREATE USER MAPPING FOR CURRENT_USER SERVER super_pg OPTIONS (user 'apex_remote', password 'remote-pass');
\! printf '[apex_env]\nport=%s,%s\n' "$APEX_REMOTE_PGPORT" "$CLOSED_PORT" >"$APEX_RUN_DIR/pg_service.conf"
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{super_pg,docs}');
\! printf '[apex_env]\nport=%s\n' "$APEX_REMOTE_PGPORT" >"$APEX_RUN_DIR/pg_service.conf"
SELECT rank, id, found_in FROM apex_route('billing', k => 1, sources => '{super_pg}');

RESET apex_router.allowed_hosts;
SET client_min_messages = warning;
DROP SERVER dave_pg, dave_service, super_pg CASCADE;
RESET client_min_messages;
DROP SERVER dave_trailing, dave_nohost, dave_hostaddr, dave_ports, dave_abstract, dave_redis, dave_graph;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM apex_dave;
DROP ROLE apex_dave;
