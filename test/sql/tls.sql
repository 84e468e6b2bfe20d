-- https sources: certificates are verified by default (peer and host name),
-- ca_file names the CA bundle to trust, tls_verify 'false' opts out.
-- The test Neo4j also listens on https://localhost:$NEO4J_TLS_PORT with a self-signed
-- certificate for "localhost" only, made by the test script.
\set roles 'tls_owner'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\getenv run_dir APEX_RUN_DIR
\set cafile :run_dir/tls/localhost.crt
CREATE SERVER graph_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_tls_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER graph_tls OPTIONS (user 'neo4j', password 'testpassword');

-- verification is on: a certificate nobody vouches for fails the source
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');
-- trusting its CA: rows over https
ALTER SERVER graph_tls OPTIONS (ADD ca_file :'cafile');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls}');
-- the same certificate reached as 127.0.0.1: the host name does not match
\set url 'https://127.0.0.1:' :neo4j_tls_port
ALTER SERVER graph_tls OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');
-- explicit opt-out: neither peer nor host name is checked (any Boolean
-- spelling PostgreSQL reads, issue 10)
ALTER SERVER graph_tls OPTIONS (DROP ca_file, ADD tls_verify 'off');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls}');
ALTER SERVER graph_tls OPTIONS (SET url :'neo4j_tls_url', SET tls_verify 'true');
-- a CA file that does not exist, or that holds no certificate
ALTER SERVER graph_tls OPTIONS (ADD ca_file '/nonexistent/ca.pem');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');
ALTER SERVER graph_tls OPTIONS (SET ca_file '/dev/null');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');
-- plain http to the https port, and https to a plain http port
\set url 'http://localhost:' :neo4j_tls_port
ALTER SERVER graph_tls OPTIONS (DROP ca_file, SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');
\set url 'https://localhost:' :neo4j_port
ALTER SERVER graph_tls OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph_tls,docs}');

-- option checks: every http kind takes them, the others do not
ALTER SERVER graph_tls OPTIONS (SET tls_verify 'never');
ALTER SERVER graph_tls OPTIONS (ADD ca_file 'relative/ca.pem');
ALTER SERVER vectors OPTIONS (ADD tls_verify 'true');
ALTER SERVER embed OPTIONS (ADD tls_verify 'true');
\set url 'https://localhost:' :graphiti_port
CREATE SERVER facts_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', tls_verify 'false', ca_file :'cafile');
DROP SERVER facts_tls;
ALTER SERVER vectors OPTIONS (DROP tls_verify);
ALTER SERVER embed OPTIONS (DROP tls_verify);
CREATE SERVER bad_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT 1', tls_verify 'false');
-- only superusers may name a file for the server to read
CREATE ROLE tls_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO tls_owner;
SET apex_router.allowed_hosts = 'localhost';
SET ROLE tls_owner;
CREATE SERVER own_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_tls_url', statement 'RETURN 1 AS id', ca_file '/etc/ssl/certs/ca-certificates.crt');
CREATE SERVER own_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_tls_url', statement 'RETURN 1 AS id', tls_verify 'false');
RESET ROLE;
RESET apex_router.allowed_hosts;
DROP SERVER own_tls;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM tls_owner;
DROP ROLE tls_owner;
DROP SERVER graph_tls CASCADE;
