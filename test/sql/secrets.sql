-- issue 9, item 4: secrets in encoded echoes, and masking as an oracle.
-- A failed source's WARNING names it; its DETAIL says what failed in
-- apex_router's own words, then what the remote server said.  The server's
-- words may echo the caller's query and the request's credentials, so they
-- are shown only to roles that can read every secret of the request's user
-- mapping (pg_user_mappings' rule), with every known encoding of those
-- secrets masked; other roles get a fixed sentence that depends on nothing
-- they sent, and the server log gets the masked words.
\set roles 'apex_guesser apex_owner'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\getenv server_log APEX_PG_LOG
SELECT size AS log_start FROM pg_stat_file(:'server_log') \gset
-- issue 14: every call's log line too (its legs' words), checked at the end
SET apex_router.log_min_duration_ms = 0;

-- a failure as one line: SQLSTATE message / detail [/ HINT: hint] (strict
-- mode makes it an ERROR)
CREATE FUNCTION failure(q text, src text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  msg text;
  detail text;
  hint text;
BEGIN
  PERFORM set_config('apex_router.strict', 'on', true);
  PERFORM * FROM apex_route(q, sources => ARRAY[src]);
  RETURN 'no failure';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ' ' || msg || ' / ' || detail || coalesce(' / HINT: ' || nullif(hint, ''), '');
END $$;

-- issue 14: the same failure as the call's own result tells it, without
-- notices: apex_explain's row of the source (the partial column holds the
-- same words, trace.c)
CREATE FUNCTION in_band(q text, src text) RETURNS text LANGUAGE sql AS $$
  SELECT sqlstate || ' ' || error FROM apex_explain(q, sources => ARRAY[src]) WHERE source = src
$$;

-- graph hands Neo4j the raw $query here, so that Lucene fails on a quote
-- and Neo4j echoes the query (the suite's graph passes $query_lucene, which
-- Lucene never fails on: issue 11 item 1)
ALTER SERVER graph OPTIONS (SET statement 'CALL db.index.fulltext.queryNodes(''entity_text'', $query)
  YIELD node, score RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');

-- a role that may use the sources but cannot read their PUBLIC mappings
CREATE ROLE apex_guesser;
GRANT USAGE ON FOREIGN SERVER graph, vectors, embed TO apex_guesser;
SET ROLE apex_guesser;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname = 'graph';

-- Neo4j echoes a Lucene query it cannot parse (an unterminated phrase).
-- Before: a right guess of the password came back as asterisks, a wrong
-- one as typed.  Now both read the same, and the log has the masked words.
SELECT failure('"testpassword', 'graph') = failure('"wrongguess12', 'graph') AS same,
       failure('"testpassword', 'graph') AS shown;
-- issue 14: in band, the same words and the same closed oracle
SELECT in_band('"testpassword', 'graph') = in_band('"wrongguess12', 'graph') AS same_in_band,
       in_band('"testpassword', 'graph') = replace(failure('"testpassword', 'graph'), ' source "graph" failed / ', ' ') AS as_warned;
SELECT * FROM apex_route('"testpassword', sources => '{graph}');
RESET ROLE;
-- a reader of the mapping sees the server's words, the secret masked
SELECT failure('"testpassword', 'graph');
SELECT in_band('"testpassword', 'graph') = replace(failure('"testpassword', 'graph'), ' source "graph" failed / ', ' ') AS as_warned;
SELECT failure('"sarah AND roadmap', 'graph');

-- a one-letter password: before, every such letter of the 401 message
-- became '*' for everyone.  A reader sees it masked (short secrets mask
-- much), the others see nothing of it.
CREATE SERVER letter FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', statement 'RETURN 1 AS id');
CREATE USER MAPPING FOR PUBLIC SERVER letter OPTIONS (user 'neo4j', password 'e');
GRANT USAGE ON FOREIGN SERVER letter TO apex_guesser;
SELECT failure('x', 'letter');
SET ROLE apex_guesser;
SELECT failure('e', 'letter') = failure('x', 'letter') AS same, failure('e', 'letter') AS shown;
RESET ROLE;

-- servers that echo the credentials (test-server fault echo=FORM): every
-- form is masked for a reader; cut: the credential straddles the 200-byte
-- excerpt and is masked whole, before the cut
\set url :neo4j_url'/__fault/echo=header'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph}');
\set url :neo4j_url'/__fault/echo=base64'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph}');
\set url :neo4j_url'/__fault/echo=percent'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph}');
\set url :neo4j_url'/__fault/echo=json'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph}');
\set url :neo4j_url'/__fault/echo=cut'
ALTER SERVER graph OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{graph}');
SET ROLE apex_guesser;
SELECT * FROM apex_route('x', sources => '{graph}');
RESET ROLE;
ALTER SERVER graph OPTIONS (SET url :'neo4j_url');
-- Qdrant's api-key header and the embedder's bearer token, likewise
\set url :qdrant_url'/__fault/echo=cut'
ALTER SERVER vectors OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{vectors}');
\set url :qdrant_url'/__fault/echo=base64'
ALTER SERVER vectors OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{vectors}');
ALTER SERVER vectors OPTIONS (SET url :'qdrant_url');
\set url :embed_base'/__fault/echo=percent/v1/embeddings'
ALTER SERVER embed OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{vectors}');
SET ROLE apex_guesser;
SELECT * FROM apex_route('x', sources => '{vectors}');
RESET ROLE;
ALTER SERVER embed OPTIONS (SET url :'embed_url');
-- issue 11 review: a non-ASCII token or API key goes out in UTF-8, and a
-- server that decodes headers as Latin-1 (Node, Starlette, Java servlets)
-- echoes those bytes read as Latin-1 ("clÃ©"): masked in every form, for
-- the roles that may read the mapping and in the server log
CREATE SERVER echo_embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER echo_embed OPTIONS (api_key 'clé-secrète');
CREATE SERVER echo_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'memory', embedder 'echo_embed', id_field 'doc_id');
CREATE USER MAPPING FOR PUBLIC SERVER echo_vectors OPTIONS (api_key 'qdrant-test-key');
\set url :embed_base'/__fault/echo=header/v1/embeddings'
ALTER SERVER echo_embed OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{echo_vectors}');
\set url :embed_base'/__fault/echo=base64/v1/embeddings'
ALTER SERVER echo_embed OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{echo_vectors}');
\set url :embed_base'/__fault/echo=percent/v1/embeddings'
ALTER SERVER echo_embed OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{echo_vectors}');
\set url :embed_base'/__fault/echo=json/v1/embeddings'
ALTER SERVER echo_embed OPTIONS (SET url :'url');
SELECT * FROM apex_route('x', sources => '{echo_vectors}');
DROP SERVER echo_vectors, echo_embed CASCADE;

-- a PostgreSQL source whose query fails on the caller's text: the remote
-- error quotes the parameter
CREATE SERVER echo_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT $1::int::text AS id, $2');
CREATE USER MAPPING FOR PUBLIC SERVER echo_pg OPTIONS (user 'apex_remote', password 'remote-pass');
GRANT USAGE ON FOREIGN SERVER echo_pg TO apex_guesser;
SET ROLE apex_guesser;
SELECT failure('remote-pass', 'echo_pg') = failure('remote-pasX', 'echo_pg') AS same,
       failure('remote-pass', 'echo_pg') AS shown;
SELECT * FROM apex_route('remote-pass', sources => '{echo_pg}');
RESET ROLE;
SELECT failure(q, 'echo_pg') FROM unnest(ARRAY['remote-pass', 'remote%2dpass', 'cmVtb3RlLXBhc3M=',
                                               'remote-pasX']) q;
-- a role's own mapping is readable to it: it sees the masked words
CREATE USER MAPPING FOR apex_guesser SERVER echo_pg OPTIONS (user 'apex_remote', password 'remote-pass');
SET ROLE apex_guesser;
SELECT failure('remote-pass', 'echo_pg');
RESET ROLE;
DROP USER MAPPING FOR apex_guesser SERVER echo_pg;

-- issue 10: a remote error's own SQLSTATE, DETAIL and HINT are carried
-- over, as postgres_fdw carries them; they quote the query too
-- (raise_for(), test/lib.sh), so they follow the same rules as its
-- message: masked for a reader, withheld from the others but for the
-- SQLSTATE (a class of error, the same for a right and a wrong guess), in
-- the server log masked
CREATE SERVER echo_raise FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT raise_for($1) AS id, $2');
CREATE USER MAPPING FOR PUBLIC SERVER echo_raise OPTIONS (user 'apex_remote', password 'remote-pass');
GRANT USAGE ON FOREIGN SERVER echo_raise TO apex_guesser;
SELECT failure('remote-pass', 'echo_raise');
SELECT * FROM apex_route('remote-pass', sources => '{echo_raise}');
SET ROLE apex_guesser;
SELECT failure('remote-pass', 'echo_raise') = failure('remote-pasX', 'echo_raise') AS same,
       failure('remote-pass', 'echo_raise') AS shown;
SELECT * FROM apex_route('remote-pass', sources => '{echo_raise}');
RESET ROLE;

-- Redis: a Redis-compatible server without sorted sets answers the
-- search's ZREVRANGE with Redis' "unknown command" error, which echoes the
-- key, made of the query's terms
CREATE SERVER echo_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'echo_redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER echo_redis OPTIONS (password 'hunter22');
GRANT USAGE ON FOREIGN SERVER echo_redis TO apex_guesser;
SET ROLE apex_guesser;
SELECT failure('hunter22', 'echo_redis') = failure('hunter23', 'echo_redis') AS same,
       failure('hunter22', 'echo_redis') AS shown;
SELECT * FROM apex_route('hunter22', sources => '{echo_redis}');
RESET ROLE;
SELECT failure('hunter22', 'echo_redis');

-- members of a server's owner can read its PUBLIC mapping: they see the
-- masked words (the owner is not a superuser: allowed_hosts applies)
CREATE ROLE apex_owner;
ALTER SERVER letter OWNER TO apex_owner;
\set hosts '127.0.0.1:' :neo4j_port
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_guesser;
SELECT failure('x', 'letter');
RESET ROLE;
GRANT apex_owner TO apex_guesser;
SET ROLE apex_guesser;
SELECT failure('x', 'letter');
RESET ROLE;
RESET apex_router.allowed_hosts;
-- a mapping without a secret (a user name only) has nothing to hide
ALTER USER MAPPING FOR PUBLIC SERVER letter OPTIONS (DROP password);
REVOKE apex_owner FROM apex_guesser;
\set hosts '127.0.0.1:' :neo4j_port
SET apex_router.allowed_hosts = :'hosts';
SET ROLE apex_guesser;
SELECT failure('x', 'letter');
RESET ROLE;
RESET apex_router.allowed_hosts;

-- the server log got the masked words of every failure above, and no form
-- of any secret
SELECT pg_read_file(:'server_log', :log_start, 100000000) AS log \gset
-- (the calls' log lines are among them: issue 14)
SELECT (length(:'log') - length(replace(:'log', 'apex_route call took', ''))) / 20 > 10 AS calls_logged;
SELECT form, strpos(:'log', form) > 0 AS in_log
FROM unnest(ARRAY[
  'testpassword', 'dGVzdHBhc3N3b3Jk', 'Rlc3RwYXNzd29yZ', '0ZXN0cGFzc3dvcm',
  'bmVvNGo6dGVzdHBhc3N3b3Jk', '%74%65%73%74%70%61%73%73%77%6f%72%64',
  '%74%65%73%74%70%61%73%73%77%6F%72%64', '\u0074\u0065\u0073\u0074',
  'qdrant-test-key', 'cWRyYW50LXRlc3Qta2V5', 'FkcmFudC10ZXN0LWtle', 'xZHJhbnQtdGVzdC1rZX',
  'embed-test-key', '%65%6d%62%65%64', '%65%6D%62%65%64',
  'remote-pass', 'remote%2dpass', 'cmVtb3RlLXBhc3', 'hunter22',
  'clé-secrète', 'clÃ©-secrÃ¨te', 'Y2zDg8KpLXNlY3LDg8KodGU', 'a2Nsw4PCqS1zZWNyw4PCqHRl',
  '%63%6c%c3%83%c2%a9', '\u0063\u006c\u00c3\u00a9']) form;
SELECT detail, strpos(:'log', detail) > 0 AS in_log
FROM unnest(ARRAY[
  'after prefix "\"[redacted]" (in lexical state 2)',
  'invalid input syntax for type integer: "[redacted]"',
  '''mem:term:[redacted]''',
  'Server "echo_raise" sent: no notes for "[redacted]". Remote detail: The query was "[redacted]". Remote hint: Ask about something other than "[redacted]".']) detail;

DROP SERVER letter, echo_pg, echo_raise, echo_redis CASCADE;
DROP FUNCTION failure;
REVOKE ALL ON FOREIGN SERVER graph, vectors, embed FROM apex_guesser;
DROP ROLE apex_guesser, apex_owner;
