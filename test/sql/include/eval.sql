\set ECHO none
-- The retrieval-quality evaluation set (test/fixtures/eval, issue 15 part 6)
-- in the current database: what test/sql/quality.sql and bench/quality read.
-- Run after the extension exists (setup.sql, or CREATE EXTENSION); needs the
-- environment of test/lib.sh (APEX_EVAL_DIR, the ports) and the ports' psql
-- variables (include/ports.sql, which setup.sql includes).  Its statements stay out of
-- the expected files.
--
-- What it leaves:
--   eval_items (id, kind, title, body, ref, created_at), the local store of
--     exact records (the items whose "stores" name sql: people's directory
--     entries, tickets, decision records), searched by the source eval_sql;
--   eval_questions (id, cls, text) and eval_labels (question, item, grade);
--   eval_ndcg(question, ids) and eval_recall(question, ids): nDCG@10 (graded,
--     log2 discount, the ideal from the labels) and recall@10 (relevant:
--     grade >= 1) of a ranked list of item ids;
--   one source per store, each over its part of the set: eval_graph (Neo4j,
--     index eval_text), eval_vectors (Qdrant, collection eval, embedder
--     eval_embed), eval_facts (Graphiti's /eval deployment, group eval),
--     eval_memory (Redis, keys eval:*), eval_sql (eval_items).
SET client_min_messages = warning;
DROP TABLE IF EXISTS eval_items, eval_questions, eval_labels;

-- (the files are read where the test servers read them: APEX_EVAL_DIR,
-- test/lib.sh; a pass from a copy of test/sql has no fixtures beside it)
\set eval_items_json `cat "$APEX_EVAL_DIR/items.json"`
\set eval_questions_json `cat "$APEX_EVAL_DIR/questions.json"`

CREATE TABLE eval_items (
    id text PRIMARY KEY,
    kind text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    ref text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || body || ' ' || ref)) STORED);
INSERT INTO eval_items (id, kind, title, body, ref, created_at)
  SELECT e->>'id', e->>'kind', e->>'title', e->>'text', coalesce(e->>'ref', ''), (e->>'created_at')::timestamptz
  FROM jsonb_array_elements(:'eval_items_json'::jsonb) e
  WHERE e->'stores' ? 'sql';

CREATE TABLE eval_questions (id text PRIMARY KEY, cls text NOT NULL, text text NOT NULL);
CREATE TABLE eval_labels (question text REFERENCES eval_questions, item text, grade int CHECK (grade BETWEEN 1 AND 3),
                          PRIMARY KEY (question, item));
INSERT INTO eval_questions SELECT q->>'id', q->>'cls', q->>'text' FROM jsonb_array_elements(:'eval_questions_json'::jsonb) q;
INSERT INTO eval_labels SELECT q->>'id', l.key, l.value::int
  FROM jsonb_array_elements(:'eval_questions_json'::jsonb) q, jsonb_each_text(q->'labels') l;

-- nDCG@10 of the ranked ids: sum of (2^grade - 1) / log2(rank + 1) over the
-- first 10, divided by the same sum for the labels in grade order
CREATE OR REPLACE FUNCTION eval_ndcg(question text, ids text[]) RETURNS numeric
LANGUAGE sql STABLE AS $$
  WITH got AS (
    SELECT coalesce(sum((2 ^ l.grade - 1) / log(2, r.n + 1)), 0) AS dcg
    FROM unnest(ids[1:10]) WITH ORDINALITY r(id, n) JOIN eval_labels l ON l.question = $1 AND l.item = r.id),
  ideal AS (
    SELECT sum((2 ^ grade - 1) / log(2, n + 1)) AS dcg
    FROM (SELECT grade, row_number() OVER (ORDER BY grade DESC) AS n FROM eval_labels WHERE question = $1) x
    WHERE n <= 10)
  SELECT (got.dcg / ideal.dcg)::numeric FROM got, ideal
$$;

CREATE OR REPLACE FUNCTION eval_recall(question text, ids text[]) RETURNS numeric
LANGUAGE sql STABLE AS $$
  SELECT (count(*) FILTER (WHERE l.item = ANY (ids[1:10])))::numeric / nullif(count(*), 0)
  FROM eval_labels l WHERE l.question = $1
$$;

DO $$ BEGIN
  EXECUTE (SELECT string_agg(format('DROP SERVER IF EXISTS %I CASCADE', s), '; ')
           FROM unnest(ARRAY['eval_graph', 'eval_vectors', 'eval_facts', 'eval_memory', 'eval_sql', 'eval_embed']) s);
END $$;

CREATE SERVER eval_graph FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', database 'neo4j',
           statement 'CALL db.index.fulltext.queryNodes(''eval_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, node.summary AS content, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER eval_graph OPTIONS (user 'neo4j', password 'testpassword');

CREATE SERVER eval_embed FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'embedder', url :'embed_url', model 'test-embed');
CREATE USER MAPPING FOR PUBLIC SERVER eval_embed OPTIONS (api_key 'embed-test-key');

CREATE SERVER eval_vectors FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'eval', embedder 'eval_embed',
           id_field 'doc_id', title_field 'title', content_field 'text');
CREATE USER MAPPING FOR PUBLIC SERVER eval_vectors OPTIONS (api_key 'qdrant-test-key');

\set eval_graphiti_url :graphiti_url'/eval'
CREATE SERVER eval_facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'eval_graphiti_url', group_ids 'eval');

CREATE SERVER eval_memory FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port',
           term_key 'eval:term:%s', item_key 'eval:item:%s');
CREATE USER MAPPING FOR PUBLIC SERVER eval_memory OPTIONS (password 'redis-pass');

-- the words of the question, any of them (OR), ranked by cover density; a
-- reference the question names (a ticket number, a decision's DEC-nnn, an
-- e-mail address) or a phrase it quotes scores above any word match
CREATE SERVER eval_sql FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, score FROM (
      SELECT id, title, body,
             coalesce(ts_rank_cd(tsv, q), 0)
             + CASE WHEN ref <> '''' AND strpos(lower($1), lower(ref)) > 0 THEN 10 ELSE 0 END
             + CASE WHEN p IS NOT NULL AND strpos(lower(title || '' '' || body), lower(p)) > 0 THEN 5 ELSE 0 END AS score
      FROM eval_items,
           CAST(nullif(replace(plainto_tsquery(''english'', $1)::text, '' & '', '' | ''), '''') AS tsquery) q,
           substring($1 from ''"([^"]+)"'') p) s
    WHERE score > 0 ORDER BY score DESC, id LIMIT $2');
RESET client_min_messages;
\set ECHO all
