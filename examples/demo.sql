-- Two more sources for the demo (test/demo), so that the example programs
-- show what they are for:
--   psql -X -d apex_demo -f examples/demo.sql     (with the demo's PG* variables)
-- It can be run again: it drops what it made first.

-- Per-user memories in a local table, searched by a sql source scoped by
-- the call's params: $3 is params as jsonb, so user_id is a value, never
-- statement text, and a call without params ($3 null) finds nothing.
DROP SERVER IF EXISTS memories CASCADE;
DROP TABLE IF EXISTS user_memories;
CREATE TABLE user_memories (
    id      text PRIMARY KEY,
    user_id text NOT NULL,
    title   text NOT NULL,
    body    text NOT NULL);
INSERT INTO user_memories VALUES
  ('alice-1', 'alice', 'Lunch with Sarah', 'Alice discussed the hiring budget with Sarah over lunch.'),
  ('alice-2', 'alice', 'Budget spreadsheet', 'Alice keeps the team budget spreadsheet that Sarah reads.'),
  ('bob-1',   'bob',   'Call with Sarah', 'Bob discussed the data platform budget with Sarah on a call.'),
  ('bob-2',   'bob',   'Sarah''s feedback', 'Sarah gave Bob feedback; they discussed the roadmap.');
CREATE SERVER memories FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, ts_rank(to_tsvector(''english'', title || '' '' || body), q)
                              FROM user_memories, plainto_tsquery(''english'', $1) q
                              WHERE user_id = $3->>''user_id''
                                AND to_tsvector(''english'', title || '' '' || body) @@ q
                              ORDER BY 4 DESC, id LIMIT $2');

-- A vector store that is down (nothing listens on port 1): every call that
-- asks it is a partial result, its rows carrying "offline" in partial.
DROP SERVER IF EXISTS offline CASCADE;
CREATE SERVER offline FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url 'http://127.0.0.1:1', collection 'memory', embedder 'embed');
CREATE USER MAPPING FOR PUBLIC SERVER offline OPTIONS (api_key 'qdrant-test-key');
