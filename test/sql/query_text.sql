-- Caller text inside a query language (issue 11 item 1).  Neo4j parses the
-- query string of db.index.fulltext.queryNodes with Lucene's classic query
-- parser: a question handed over as $query is read as Lucene syntax, so an
-- open parenthesis or quote is a ParseException (an error inside an HTTP 200,
-- the source's rows lost) and a leading * (Neo4j allows leading wildcards)
-- matches every node.  $query_lucene is the same question with Lucene's
-- special characters and the AND/OR/NOT keywords escaped: plain words.
-- The test Neo4j parses as Lucene does (test/servers/lucene.mjs) over a small
-- :Note data set with its own index note_text (test/fixtures/notes.json).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'

-- the same notes index behind a raw and an escaped statement, over both APIs
CREATE SERVER notes_raw FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''note_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE SERVER notes_raw_q FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', api 'query',
           statement 'CALL db.index.fulltext.queryNodes(''note_text'', $query) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE SERVER notes FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url',
           statement 'CALL db.index.fulltext.queryNodes(''note_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE SERVER notes_q FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'neo4j', url :'neo4j_url', api 'query',
           statement 'CALL db.index.fulltext.queryNodes(''note_text'', $query_lucene) YIELD node, score
                      RETURN node.uid AS id, node.name AS title, score LIMIT $limit');
CREATE USER MAPPING FOR PUBLIC SERVER notes_raw OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER notes_raw_q OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER notes OPTIONS (user 'neo4j', password 'testpassword');
CREATE USER MAPPING FOR PUBLIC SERVER notes_q OPTIONS (user 'neo4j', password 'testpassword');

-- issue 11 item 1; origin: langchain-ai/langchain-neo4j#5 (a question with "/" fails db.index.fulltext.queryNodes with a TokenMgrError)
-- issue 11 item 1; origin: neo4j-labs/llm-graph-builder#1018 ("/" in user questions fails queryNodes)
-- issue 11 item 1; origin: SeedCompany/cord-api-v3#2050 (! ^ ( ) - + [ ] in user input: ParseException)
-- issue 11 item 1; origin: neo4j/neo4j-browser#941 (how to escape "-" in a queryNodes query)
-- issue 11 item 1; origin: getzep/graphiti#775 (syntax errors in full-text queries; lucene_sanitize extended)
-- issue 11 item 1, case "C++ (draft": the open parenthesis is a
-- ParseException in both raw sources; the escaped ones and graph (the
-- suite's neo4j source, on $query_lucene) answer
SELECT rank, id, found_in FROM apex_route('C++ (draft', k => 5,
  sources => '{notes_raw,notes_raw_q,notes,notes_q,graph}');

-- issue 11 item 1, case 'notes on the "Q3 plan': the open phrase is a
-- lexical error (Lucene's TokenMgrError); graph and docs (sql) are asked too
SELECT rank, id, found_in FROM apex_route('notes on the "Q3 plan', k => 5,
  sources => '{notes_raw,notes,notes_q,graph,docs}');

-- issue 11 item 1, case "* what changed": no error, worse: the raw "*"
-- matches every note, the escaped question only the notes about changes
SELECT s AS source, array_agg(id ORDER BY rank) AS ids
FROM unnest('{notes_raw,notes}'::text[]) s,
     LATERAL apex_route('* what changed', k => 10, sources => ARRAY[s])
GROUP BY s ORDER BY s;

-- keywords: a trailing AND is a ParseException, a leading NOT excludes
-- everything; escaped, they are words (here: stopwords)
SELECT rank, id, found_in FROM apex_route('deploy AND', k => 5, sources => '{notes_raw,notes}');
SELECT count(*) AS raw_not FROM apex_route('NOT deploy', k => 5, sources => '{notes_raw}');
SELECT rank, id FROM apex_route('NOT deploy', k => 5, sources => '{notes}');

-- a question of ideographic spaces only (apex_route refuses ASCII blanks):
-- $query_lucene is "" (matches nothing) rather than an empty query
SELECT count(*) AS ideographic_blank FROM apex_route(U&'\3000\3000', k => 5, sources => '{notes_raw,notes}');

-- every character of Lucene's syntax and each keyword, in 400 generated
-- questions: through $query_lucene none fails (strict mode would make a
-- failure an ERROR), over both APIs
SET apex_router.strict = on;
SELECT count(DISTINCT q) AS questions, count(DISTINCT q) FILTER (WHERE q ~ '[()"*]') AS with_syntax
FROM (SELECT string_agg(p[1 + abs(hashint4(i * 8 + j)) % array_length(p, 1)], '' ORDER BY j) AS q
      FROM (SELECT ARRAY['AND', 'OR', 'NOT', '&&', '||', 'TO', 'C++', 'x', '\u', '\', '"', '''', '*', '?',
                         '~2', '^3', '(', ')', '[', ']', '{', '}', ':', '/', '!', '-', '+', ' ', 'draft', U&'\3000'] AS p) ps,
           generate_series(1, 400) i, generate_series(1, 6) j
      GROUP BY i) g,
     LATERAL (SELECT count(*) FROM apex_route(q, k => 3, sources => '{notes,notes_q}')) r
WHERE q !~ '^[ ]*$';
RESET apex_router.strict;

-- issue 11 review: Lucene's clause limit (maxClauseCount 1024, which Neo4j 5
-- keeps) holds for $query_lucene too; origin: OpenSPG/KAG#376 (and #465).
-- Plain words are one clause each per position while parsing (more than 1024
-- is "too many boolean clauses", root cause TooManyClauses) and one leaf per
-- word and per indexed property at search time (note_text has two: more than
-- 1025 leaves is TooManyNestedClauses).  The source fails alone, over both
-- APIs; a sql source answers the same question.
CREATE FUNCTION pg_temp.words(n int, lead text DEFAULT '') RETURNS text
  LANGUAGE sql AS $$ SELECT lead || string_agg('w' || i, ' ') FROM generate_series(1, n) i $$;
CREATE SERVER first_notes FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, title, body, 1::real FROM notes
                              WHERE length($1) > 0 ORDER BY id LIMIT $2');
SELECT rank, id, found_in FROM apex_route(pg_temp.words(2000), k => 2,
  sources => '{notes,notes_q,first_notes}');
-- 513 distinct words: 1026 leaves over the two properties
SELECT rank, id, found_in FROM apex_route(pg_temp.words(513), k => 2,
  sources => '{notes,first_notes}');
-- 512 words (one of them a word of the notes): 1024 leaves, answered
SELECT rank, id, found_in FROM apex_route(pg_temp.words(511, 'deploy '), k => 2,
  sources => '{notes,notes_q}');
DROP SERVER first_notes;

DROP SERVER notes_raw, notes_raw_q, notes, notes_q CASCADE;
