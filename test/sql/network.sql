-- Network faults, for every remote kind: connection refused, a host name
-- that does not resolve (.invalid, RFC 6761), a connect that never
-- completes (a listener whose accept queue is full), a server that accepts
-- and never answers, and one that answers garbage
-- (test/servers/tcp_faults.py).  Each row: the fault, the rows the call
-- still returned and the sources that answered (each failing source is one
-- WARNING above), and the failure's SQLSTATE, as a strict call reports it
-- (issue 10: HV00N when no connection was made, HV000 otherwise).  Sources
-- get connect_timeout_ms 200 and timeout_ms 400 (5000 and 6000 for the
-- unresolvable host, whose failure must not race a slow resolver).
-- (network_1.out: a resolver without any DNS answer says "Temporary
-- failure in name resolution" instead of "Name or service not known".)
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/route_failure.sql
CREATE SERVER net_redis FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port');
CREATE USER MAPPING FOR PUBLIC SERVER net_redis OPTIONS (password 'redis-pass');
CREATE SERVER net_pg FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'postgres', host '127.0.0.1', port :'remote_pgport', dbname 'memory',
           query 'SELECT id, title FROM notes WHERE tsv @@ websearch_to_tsquery(''english'', $1) LIMIT $2');
CREATE USER MAPPING FOR PUBLIC SERVER net_pg OPTIONS (user 'apex_remote', password 'remote-pass');

CREATE FUNCTION net_faults(target text, scheme text, routed text, healthy text, path text DEFAULT '')
RETURNS TABLE (fault text, rows bigint, answered text[], state text)
LANGUAGE plpgsql AS $$
DECLARE
  -- fault, host, port, connect_timeout_ms, timeout_ms: the resolver's
  -- answer for nx.invalid may take longer than 200 ms on a loaded machine,
  -- and must not turn into a connect timeout
  faults CONSTANT text[][] := ARRAY[['refused', '127.0.0.1', current_setting('apex_test.closed_port'), '200', '400'],
                                    ['dns', 'nx.invalid', current_setting('apex_test.neo4j_port'), '5000', '6000'],
                                    ['connect_timeout', '127.0.0.1', current_setting('apex_test.blackhole_port'), '200', '400'],
                                    ['silent', '127.0.0.1', current_setting('apex_test.silent_port'), '200', '400'],
                                    ['garbage', '127.0.0.1', current_setting('apex_test.garbage_port'), '200', '400']];
  healthy_host text;
  healthy_port text;
BEGIN
  EXECUTE format('ALTER SERVER %I OPTIONS (ADD timeout_ms %L, ADD connect_timeout_ms %L)', routed, '400', '200');
  IF routed <> target THEN
    EXECUTE format('ALTER SERVER %I OPTIONS (ADD connect_timeout_ms %L)', target, '200');
  END IF;
  FOR i IN 1 .. array_length(faults, 1) LOOP
    EXECUTE format('ALTER SERVER %I OPTIONS (SET timeout_ms %L, SET connect_timeout_ms %L)',
                   routed, faults[i][5], faults[i][4]);
    IF routed <> target THEN
      EXECUTE format('ALTER SERVER %I OPTIONS (SET connect_timeout_ms %L)', target, faults[i][4]);
    END IF;
    IF scheme = 'http' THEN
      EXECUTE format('ALTER SERVER %I OPTIONS (SET url %L)', target,
                     format('http://%s:%s%s', faults[i][2], faults[i][3], path));
    ELSE
      EXECUTE format('ALTER SERVER %I OPTIONS (SET host %L, SET port %L)', target, faults[i][2], faults[i][3]);
    END IF;
    fault := faults[i][1];
    SELECT count(DISTINCT r.id), array_agg(DISTINCT s ORDER BY s) INTO rows, answered
      FROM apex_route('Sarah roadmap', k => 5, sources => ARRAY[routed, 'docs']) r, unnest(r.found_in) s;
    -- from a new connection, as the call above (a Redis connection still
    -- connecting is kept, and the next call may find it connected)
    PERFORM apex_router_disconnect();
    state := (route_failure('Sarah roadmap', ARRAY[routed])).state;
    RETURN NEXT;
  END LOOP;
  EXECUTE format('ALTER SERVER %I OPTIONS (DROP timeout_ms, DROP connect_timeout_ms)', routed);
  IF routed <> target THEN
    EXECUTE format('ALTER SERVER %I OPTIONS (DROP connect_timeout_ms)', target);
  END IF;
  IF scheme = 'http' THEN
    EXECUTE format('ALTER SERVER %I OPTIONS (SET url %L)', target, 'http://' || healthy || path);
  ELSE
    healthy_host := split_part(healthy, ':', 1);
    healthy_port := split_part(healthy, ':', 2);
    EXECUTE format('ALTER SERVER %I OPTIONS (SET host %L, SET port %L)', target, healthy_host, healthy_port);
  END IF;
END $$;

-- Neo4j
\set addr '127.0.0.1:' :neo4j_port
SELECT * FROM net_faults('graph', 'http', 'graph', :'addr');
-- Qdrant
\set addr '127.0.0.1:' :qdrant_port
SELECT * FROM net_faults('vectors', 'http', 'vectors', :'addr');
-- the embedder, through the Qdrant source that needs it
\set addr '127.0.0.1:' :embed_port
SELECT * FROM net_faults('embed', 'http', 'vectors', :'addr', '/v1/embeddings');
-- Graphiti
CREATE SERVER net_facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url');
\set addr '127.0.0.1:' :graphiti_port
SELECT * FROM net_faults('net_facts', 'http', 'net_facts', :'addr');
-- Redis
\set addr '127.0.0.1:' :redis_port
SELECT * FROM net_faults('net_redis', 'tcp', 'net_redis', :'addr');
-- PostgreSQL
\set addr '127.0.0.1:' :remote_pgport
SELECT * FROM net_faults('net_pg', 'tcp', 'net_pg', :'addr');
-- every source healthy again (k => 40: every answer among the rows), the session usable
SELECT count(DISTINCT r.id) AS rows, array_agg(DISTINCT s ORDER BY s) AS answered
FROM apex_route('Sarah roadmap', k => 40, sources => '{graph,vectors,net_facts,net_redis,net_pg,docs}') r,
     unnest(r.found_in) s;
-- no connection to a faulty address was kept
\set healthy_ports ':(' :neo4j_port '|' :qdrant_port '|' :embed_port '|' :graphiti_port '|' :redis_port '|' :remote_pgport ')$'
SELECT kind, source, target FROM apex_router_connections()
WHERE target !~ :'healthy_ports' OR target IS NULL;
DROP FUNCTION net_faults;
DROP SERVER net_facts, net_redis, net_pg CASCADE;
