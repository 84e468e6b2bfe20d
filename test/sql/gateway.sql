-- Gateways and proxies (issue 16 item 2): every HTTP kind's `headers`
-- option (extra request headers, a JSON object; a user mapping's `headers`
-- for secret ones) and `proxy` option (a forward proxy, with the mapping's
-- proxy_user and proxy_password).  The test servers log the X-... headers
-- a request carried and a proxy's Via; the test proxy (test/servers/proxy.mjs)
-- logs what went through it and asks for Basic proxy credentials.
\set roles 'gw_owner gw_reader'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\getenv run_dir APEX_RUN_DIR
\getenv log_file APEX_TEST_LOG
\set ECHO none
-- the requests a server logged since t: what they carried
CREATE FUNCTION gw_log(log text, since timestamptz)
RETURNS TABLE (server text, method text, target text, auth text, x_headers jsonb, via text)
LANGUAGE sql AS $$
  SELECT e->>'server', e->>'method', e->>'target', e->>'auth', e->'x_headers', e->>'via'
  FROM regexp_split_to_table(log, E'\n') WITH ORDINALITY l(line, n), LATERAL (SELECT line::jsonb) j(e)
  WHERE line <> '' AND (e->>'start')::float8 >= extract(epoch FROM since) * 1000
  ORDER BY n
$$;
\set ECHO all

-- extra headers on a vector store and its embedder; the embedder's
-- mapping holds a secret one (a gateway's key), whose value replaces the
-- server's of the same name.  The cluster runs with http_proxy, https_proxy
-- and ALL_PROXY naming the test proxy (test/lib.sh, apex_as_pg_server):
-- the log below holds no "proxy" entry, since a source without a proxy
-- option connects directly
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Gateway-Route": "search", "X-Tenant": "acme"}');
ALTER SERVER embed OPTIONS (ADD headers '{"X-Gateway-Key": "not-this-one", "x-route": "embed"}');
ALTER USER MAPPING FOR PUBLIC SERVER embed OPTIONS (ADD headers '{"X-Gateway-Key": "gw-secret-1"}');
SELECT now() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{vectors}');
\set log `cat "$APEX_TEST_LOG"`
SELECT server, auth, x_headers FROM gw_log(:'log', :'t0');
-- the mapping's value is a secret: what a server echoes of it is masked
\set url :embed_base'/__fault/echo=header/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{vectors,docs}');
ALTER SERVER embed OPTIONS (SET url :'embed_url');
-- and the server's headers are its options, in the result cache's key
-- like every option; the mapping's are part of the key too (cache.c)
ALTER USER MAPPING FOR PUBLIC SERVER embed OPTIONS (DROP headers);
ALTER SERVER embed OPTIONS (DROP headers);
ALTER SERVER vectors OPTIONS (DROP headers);

-- what is refused, naming the header (never quoting a mapping's value)
ALTER SERVER vectors OPTIONS (ADD headers 'X-Tenant: acme');
ALTER SERVER vectors OPTIONS (ADD headers '["X-Tenant", "acme"]');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": 7}');
ALTER SERVER vectors OPTIONS (ADD headers '{"": "acme"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X Tenant": "acme"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant:": "acme"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": "acme\r\nX-Admin: yes"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": "acme\u0001"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": ""}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": " acme"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"X-Tenant": "a", "x-tenant": "b"}');
-- headers the kind or libcurl set: credentials belong in the mapping
ALTER SERVER vectors OPTIONS (ADD headers '{"api-key": "qdrant-test-key"}');
ALTER SERVER graph OPTIONS (ADD headers '{"Authorization": "Basic bmVvNGo6dGVzdHBhc3N3b3Jk"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"Content-Type": "text/plain"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"HOST": "qdrant.example.com"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"Transfer-Encoding": "chunked"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"Content-Length": "0"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"User-Agent": "curl"}');
ALTER SERVER vectors OPTIONS (ADD headers '{"Proxy-Authorization": "Basic eDp5"}');
ALTER SERVER graph OPTIONS (ADD headers '{"access-mode": "WRITE"}');
-- a mapping's: the parser's words are not shown (they may quote the value)
ALTER USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (ADD headers '{"X-Gateway-Key": sk-live-1234}');
ALTER USER MAPPING FOR PUBLIC SERVER vectors OPTIONS (ADD headers '{"X-Gateway-Key": "sk-live-1234\n"}');
-- only HTTP kinds take them, on the server and in the mapping
ALTER SERVER docs OPTIONS (ADD headers '{"X-Tenant": "acme"}');
CREATE SERVER gw_cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER gw_cache OPTIONS (headers '{"X-Gateway-Key": "k"}');
CREATE USER MAPPING FOR PUBLIC SERVER gw_cache OPTIONS (proxy_user 'u');
DROP SERVER gw_cache;

-- every HTTP kind sends them: graph (neo4j), graphiti, the reranker
\set url :graphiti_url
CREATE SERVER gw_facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url', headers '{"X-Tenant": "acme"}');
CREATE USER MAPPING FOR PUBLIC SERVER gw_facts OPTIONS (api_key 'graphiti-test-key');
CREATE SERVER gw_rerank FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'reranker', url :'rerank_url', model 'rerank-v3.5', headers '{"X-Tenant": "acme"}');
CREATE USER MAPPING FOR PUBLIC SERVER gw_rerank OPTIONS (api_key 'rerank-test-key', headers '{"X-Gateway-Key": "gw-secret-2"}');
ALTER SERVER graph OPTIONS (ADD headers '{"X-Tenant": "acme"}');
SELECT now() AS t0 \gset
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 3, sources => '{graph,gw_facts}', reranker => 'gw_rerank');
\set log `cat "$APEX_TEST_LOG"`
SELECT server, auth, x_headers FROM gw_log(:'log', :'t0') ORDER BY server;
ALTER SERVER graph OPTIONS (DROP headers);
DROP SERVER gw_facts CASCADE;
DROP SERVER gw_rerank CASCADE;

-- a mapping holding only headers holds secrets: what a server echoes of
-- them is masked, and a role that cannot read the mapping is not shown the
-- server's words at all
\set url :graphiti_url'/__fault/echo=header'
CREATE SERVER gw_echo FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'url');
CREATE USER MAPPING FOR PUBLIC SERVER gw_echo OPTIONS (headers '{"X-Gateway-Key": "gw-secret-4"}');
CREATE ROLE gw_reader;
GRANT USAGE ON FOREIGN SERVER gw_echo TO gw_reader;
SELECT count(*) FROM apex_route('roadmap', k => 2, sources => '{gw_echo}');
SET ROLE gw_reader;
SELECT count(*) FROM apex_route('roadmap', k => 2, sources => '{gw_echo}');
RESET ROLE;
DROP SERVER gw_echo CASCADE;
DROP ROLE gw_reader;

-- a forward proxy: the test proxy asks for credentials (407) ...
ALTER SERVER graph OPTIONS (ADD proxy :'proxy_url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
-- ... which the mapping holds
ALTER USER MAPPING FOR PUBLIC SERVER graph OPTIONS (ADD proxy_user 'proxyuser', ADD proxy_password 'wrong');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER graph OPTIONS (SET proxy_password 'proxy-test-pass');
SELECT now() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
\set log `cat "$APEX_TEST_LOG"`
-- the proxy saw an absolute-form POST with Basic credentials, Neo4j the
-- proxy's Via
SELECT server, method, target, auth, via FROM gw_log(:'log', :'t0');
-- https through the proxy: a CONNECT tunnel, the certificate checked end to end
\set cafile :run_dir/tls/localhost.crt
CREATE SERVER gw_tls FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_tls_url', ca_file :'cafile', proxy :'proxy_url',
           statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER gw_tls
  OPTIONS (user 'neo4j', password 'testpassword', proxy_user 'proxyuser', proxy_password 'proxy-test-pass');
SELECT now() AS t0 \gset
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_tls}');
\set log `cat "$APEX_TEST_LOG"`
SELECT server, method, target, auth FROM gw_log(:'log', :'t0');
-- the proxy refusing the tunnel's credentials, or a target
ALTER USER MAPPING FOR PUBLIC SERVER gw_tls OPTIONS (SET proxy_password 'wrong');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_tls,docs}');
ALTER USER MAPPING FOR PUBLIC SERVER gw_tls OPTIONS (SET proxy_password 'proxy-test-pass');
\set url 'https://127.0.0.2:' :neo4j_tls_port
ALTER SERVER gw_tls OPTIONS (SET url :'url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_tls,docs}');
ALTER SERVER gw_tls OPTIONS (SET url :'neo4j_tls_url');
-- a proxy that does not answer: the connection fails naming the proxy
ALTER SERVER gw_tls OPTIONS (SET proxy :'closed_url');
SELECT rank, id, found_in FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_tls,docs}');
DROP SERVER gw_tls CASCADE;
ALTER USER MAPPING FOR PUBLIC SERVER graph OPTIONS (DROP proxy_user, DROP proxy_password);
ALTER SERVER graph OPTIONS (DROP proxy);

-- the result cache's key holds the mapping's headers (a gateway may answer
-- by them) as it holds the server's options: a change is a miss, and the
-- request carries the new headers
CREATE SERVER gw_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexgw:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER gw_redis OPTIONS (password 'redis-pass');
SET apex_router.cache_source = 'gw_redis';
SELECT apex_router_cache_flush() >= 0 AS flushed;
SELECT now() AS t0 \gset
SELECT count(*) FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
ALTER USER MAPPING FOR PUBLIC SERVER graph OPTIONS (ADD headers '{"X-Gateway-Key": "gw-secret-3"}');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
ALTER SERVER graph OPTIONS (ADD headers '{"X-Tenant": "other"}');
SELECT count(*) FROM apex_route('Sarah roadmap', k => 2, sources => '{graph}');
\set log `cat "$APEX_TEST_LOG"`
-- three requests to Neo4j for five calls
SELECT server, x_headers FROM gw_log(:'log', :'t0') WHERE server = 'neo4j';
SELECT apex_router_cache_flush() >= 0 AS flushed;
RESET apex_router.cache_source;
DROP SERVER gw_redis CASCADE;
ALTER USER MAPPING FOR PUBLIC SERVER graph OPTIONS (DROP headers);
ALTER SERVER graph OPTIONS (DROP headers);

-- proxy values refused
ALTER SERVER graph OPTIONS (ADD proxy 'https://127.0.0.1:3128');
ALTER SERVER graph OPTIONS (ADD proxy 'socks5h://127.0.0.1:1080');
ALTER SERVER graph OPTIONS (ADD proxy 'http://127.0.0.1');
ALTER SERVER graph OPTIONS (ADD proxy 'http://user:pass@127.0.0.1:3128');
ALTER SERVER graph OPTIONS (ADD proxy 'http://127.0.0.1:3128/path');
ALTER SERVER graph OPTIONS (ADD proxy 'not a url');
ALTER SERVER docs OPTIONS (ADD proxy 'http://127.0.0.1:3128');

-- allowed_hosts checks the proxy too, for sources of non-superusers
CREATE ROLE gw_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER apex_router TO gw_owner;
SELECT set_config('apex_router.allowed_hosts', '127.0.0.1:' || :'graphiti_port', false);
SET ROLE gw_owner;
CREATE SERVER gw_own FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', proxy 'http://10.0.0.1:3128');
CREATE SERVER gw_own FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', proxy :'proxy_url');
RESET ROLE;
SELECT set_config('apex_router.allowed_hosts', format('127.0.0.1:%s, 127.0.0.1:%s', :'graphiti_port', :'proxy_port'), false);
SET ROLE gw_owner;
CREATE SERVER gw_own FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', proxy :'proxy_url');
CREATE USER MAPPING FOR PUBLIC SERVER gw_own
  OPTIONS (api_key 'graphiti-test-key', proxy_user 'proxyuser', proxy_password 'proxy-test-pass');
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_own}');
RESET ROLE;
-- the list shrank: the proxy is checked at call time too
SELECT set_config('apex_router.allowed_hosts', '127.0.0.1:' || :'graphiti_port', false);
SET ROLE gw_owner;
SELECT count(*) > 0 AS rows FROM apex_route('Sarah roadmap', k => 2, sources => '{gw_own}');
RESET ROLE;
RESET apex_router.allowed_hosts;
DROP SERVER gw_own CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER apex_router FROM gw_owner;
DROP ROLE gw_owner;
DROP FUNCTION gw_log(text, timestamptz);
