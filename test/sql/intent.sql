-- Intent routing (issue 15 part 3): the rules of apex_intent_rules choose
-- the sources a question favours, and their weights, when the call names
-- none; the others are asked at their own weight unless a rule that chose
-- one is exclusive.  Classes: graph (neo4j, graphiti), vector (qdrant), temporal
-- (graphiti), exact (sql, postgres, redis).
\set roles 'apex_intent_user'
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\i :abs_srcdir/sql/include/more_sources.sql
\pset null '(null)'
CREATE SERVER facts FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'graphiti', url :'graphiti_url', group_ids 'team');

-- the built-in rules, and pg_dump's filter for them
SELECT rule, intent, source_class, weight, recency_half_life, priority, enabled, builtin
FROM apex_intent_rules ORDER BY rule;
SELECT extconfig::regclass[] AS config, extcondition FROM pg_extension
WHERE extname = 'apex_router';

-- each intent class: the sources asked, their weights, the recency preference
SELECT * FROM apex_intent('Who works with Sarah?');
SELECT * FROM apex_intent('which decisions were made between Sarah and Tom');
SELECT * FROM apex_intent('notes similar to the billing plan');
SELECT * FROM apex_intent('what is this about');
SELECT * FROM apex_intent('what changed since yesterday');
SELECT * FROM apex_intent('RECENT roadmap news');
SELECT * FROM apex_intent('the notes of last week');
SELECT * FROM apex_intent('find "billing migration"');
SELECT * FROM apex_intent('status of TCK-1234');
SELECT * FROM apex_intent('item 0b5e3f2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b');
-- several intents: every source any chose; facts by two rules
SELECT * FROM apex_intent('who talked about the roadmap last week');
-- words inside other words do not count ("whose", "somewhat")
SELECT * FROM apex_intent('whose roadmap is somewhat late');
-- no rule matches: every source at its own weight, no intent
SELECT * FROM apex_intent('Sarah roadmap');
-- a quote without its end, an id without digits enough: no exact lookup
SELECT count(*) AS sources, bool_and(intents IS NULL) AS no_intent
FROM apex_intent('the "billing plan and TCK-1');
-- among the sources named only
SELECT * FROM apex_intent('who works with Sarah', sources => '{docs,graph}');
-- named, none chosen: every one named
SELECT * FROM apex_intent('who works with Sarah', sources => '{docs,recent}');
-- the rule's weight multiplies the source's own
ALTER SERVER graph OPTIONS (ADD weight '3');
SELECT source, weight FROM apex_intent('who works with Sarah') ORDER BY source;
ALTER SERVER graph OPTIONS (DROP weight);
-- its argument errors
SELECT * FROM apex_intent(NULL);
SELECT * FROM apex_intent('who', sources => '{nope}');
SELECT * FROM apex_intent('who', sources => '{embed}');
SELECT * FROM apex_intent('who', sources => '{{graph},{docs}}');

-- edited by the owner: a rule of its own
INSERT INTO apex_intent_rules (rule, intent, pattern, source_name, weight)
VALUES ('billing', 'billing', '\mbilling\M', 'docs', 4);
SELECT * FROM apex_intent('billing migration');
UPDATE apex_intent_rules SET weight = 1.5, source_name = NULL, source_kind = 'redis'
WHERE rule = 'billing';
SELECT * FROM apex_intent('billing migration');
-- a class, any: every source, and its weight beside the others'
UPDATE apex_intent_rules SET source_kind = NULL, source_class = 'any', weight = 0.5
WHERE rule = 'billing';
SELECT * FROM apex_intent('who handled the billing migration');
-- a higher priority decides a source's weight, even a smaller one
UPDATE apex_intent_rules SET priority = 1 WHERE rule = 'billing';
SELECT * FROM apex_intent('who handled the billing migration');
DELETE FROM apex_intent_rules WHERE rule = 'billing';
-- built-in rules are read-only: a rule of the same name replaces one
UPDATE apex_intent_rules SET weight = 3 WHERE rule = 'relationship';
DELETE FROM apex_intent_rules WHERE rule = 'relationship';
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, builtin)
VALUES ('mine', 'mine', 'x', 'graph', true);
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, weight)
SELECT rule, intent, pattern, source_class, 3 FROM apex_intent_rules
WHERE rule = 'relationship';
SELECT * FROM apex_intent('who works with Sarah');
UPDATE apex_intent_rules SET enabled = false WHERE rule = 'relationship' AND NOT builtin;
SELECT * FROM apex_intent('who works with Sarah');
-- what pg_dump would keep: the user's rule alone
SELECT rule, weight, enabled FROM apex_intent_rules WHERE NOT builtin;
DELETE FROM apex_intent_rules WHERE rule = 'relationship' AND NOT builtin;
SELECT source FROM apex_intent('who works with Sarah');

-- bad rules are refused
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('bad', 'bad', '(who', 'graph');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('bad', 'bad', 'a{2,1}', 'graph');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('bad', 'bad', '', 'graph');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('bad', 'bad', repeat('a', 1001), 'graph');
INSERT INTO apex_intent_rules (rule, intent, pattern)
VALUES ('bad', 'bad', 'x');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, source_name)
VALUES ('bad', 'bad', 'x', 'graph', 'docs');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('bad', 'bad', 'x', 'graphs');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_kind)
VALUES ('bad', 'bad', 'x', 'embedder');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, weight)
VALUES ('bad', 'bad', 'x', 'graph', 0);
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, weight)
VALUES ('bad', 'bad', 'x', 'graph', 1001);
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, recency_half_life)
VALUES ('bad', 'bad', 'x', 'graph', '-1 day');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('', 'bad', 'x', 'graph');
-- a good one made bad by an update
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('good', 'good', 'x', 'graph');
UPDATE apex_intent_rules SET pattern = 'x)' WHERE rule = 'good';
DELETE FROM apex_intent_rules WHERE rule = 'good';

-- apex_route with sources NULL favours the sources the intent chose, at
-- its weights, and asks the others at their own (apex_explain's legs, the
-- routing column)
SELECT step, source, status, note FROM apex_explain('who works with Sarah')
WHERE step IN ('intent', 'leg');
SELECT DISTINCT routing FROM apex_route('who works with Sarah', k => 5);
-- the intent's weights reach fusion: a chosen source's rank counts twice
SELECT bool_and(abs(score - (SELECT sum((routing->'sources'->>key)::float8 / (60 + (value->>'rank')::int))
                             FROM jsonb_each(payload))) < 1e-12) AS weighted,
       bool_or(found_in && '{graph,facts}') AS chosen_found
FROM apex_route('who works with Sarah', k => 5);
-- an exclusive rule asks only the sources the matching rules chose
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, weight, exclusive)
VALUES ('relationship', 'relationship', '\m(who|works with)\M', 'graph', 2, true);
SELECT source, intents, weight FROM apex_intent('who works with Sarah') ORDER BY source;
SELECT bool_and(found_in <@ '{graph,facts}') AS only_chosen, count(*) > 0 AS rows
FROM apex_route('who works with Sarah', k => 5);
DELETE FROM apex_intent_rules WHERE rule = 'relationship' AND NOT builtin;
-- the recency preference, unless the call gives its own
SELECT DISTINCT routing FROM apex_route('Sarah roadmap since yesterday', k => 5);
SELECT DISTINCT routing FROM apex_route('Sarah roadmap since yesterday', k => 5,
                                        recency_half_life => '1 day');
-- an exact lookup favours sql, postgres and redis
SELECT step, source, status FROM apex_explain('"billing migration"')
WHERE step IN ('intent', 'leg');
-- no rule matches: every source, the routing column says so
SELECT step, source, status, note FROM apex_explain('Sarah roadmap')
WHERE step IN ('intent', 'leg');
SELECT DISTINCT routing FROM apex_route('Sarah roadmap', k => 5);
-- explicit sources win: no routing
SELECT step, source, status FROM apex_explain('who works with Sarah', sources => '{docs}');
SELECT DISTINCT routing FROM apex_route('who works with Sarah', sources => '{docs,graph}');
-- explicit weights win: a weight replaces the intent's, also of a source
-- the intent did not choose
SELECT DISTINCT routing FROM apex_route('who works with Sarah', k => 5,
                                        weights => '{"graph": 5, "docs": 0.5}');
SELECT step, source, status FROM apex_explain('who works with Sarah',
                                              weights => '{"docs": 1}')
WHERE step IN ('intent', 'leg');
-- a weight for a source the caller cannot ask is still refused
SELECT * FROM apex_route('who works with Sarah', weights => '{"nope": 1}');
-- apex_router.intent_routing off: every source, no routing
SET apex_router.intent_routing = off;
SELECT step, source, status FROM apex_explain('who works with Sarah')
WHERE step IN ('intent', 'leg');
SELECT DISTINCT routing FROM apex_route('who works with Sarah', k => 5);
-- apex_intent says what the rules say, whatever the setting
SELECT source FROM apex_intent('who works with Sarah');
RESET apex_router.intent_routing;

-- apex_route_many: each question its own intent, sources and routing
SELECT ordinal, routing FROM apex_route_many(
  ARRAY['who works with Sarah', 'Sarah roadmap', '"billing migration"', ''], k => 3)
GROUP BY ordinal, routing ORDER BY ordinal;
SELECT ordinal, array_agg(DISTINCT s ORDER BY s) AS answered_by
FROM apex_route_many(ARRAY['who works with Sarah', 'Sarah roadmap', '"billing migration"'], k => 3),
     unnest(found_in) s
GROUP BY ordinal ORDER BY ordinal;
-- its weights argument wins for every question
SELECT ordinal, routing FROM apex_route_many(
  ARRAY['who works with Sarah', 'Sarah roadmap'], k => 3, weights => '{"graph": 4}')
GROUP BY ordinal, routing ORDER BY ordinal;
-- named sources: no routing
SELECT DISTINCT routing FROM apex_route_many(ARRAY['who works with Sarah', 'Sarah roadmap'],
                                             sources => '{docs,graph}');

-- another role: reads the rules, cannot edit them; sees only its sources
CREATE ROLE apex_intent_user;
GRANT USAGE ON FOREIGN SERVER docs TO apex_intent_user;
GRANT SELECT ON notes TO apex_intent_user;
INSERT INTO apex_intent_rules (rule, intent, pattern, source_name, weight)
VALUES ('secret', 'secret', 'roadmap', 'graph', 7);
SET ROLE apex_intent_user;
SELECT count(*) > 0 AS reads_rules FROM apex_intent_rules;
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class)
VALUES ('mine', 'mine', 'x', 'graph');
UPDATE apex_intent_rules SET weight = 9 WHERE NOT builtin;
DELETE FROM apex_intent_rules WHERE NOT builtin;
-- the rule naming graph matches, but graph is not the role's: not shown
SELECT * FROM apex_intent('Sarah roadmap');
SELECT * FROM apex_intent('who works with Sarah');
SELECT * FROM apex_intent('roadmap', sources => '{graph}');
SELECT DISTINCT routing FROM apex_route('Sarah roadmap', k => 3);
RESET ROLE;
DELETE FROM apex_intent_rules WHERE rule = 'secret';

-- pg_dump keeps the user's rules, not the built-in ones (CREATE EXTENSION
-- makes those)
INSERT INTO apex_intent_rules (rule, intent, pattern, source_name, weight)
VALUES ('billing', 'billing', '\mbilling\M', 'docs', 4);
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, enabled)
SELECT rule, intent, pattern, source_class, false FROM apex_intent_rules
WHERE rule = 'similar';
\setenv APEX_DB :DBNAME
\! pg_dump --data-only --column-inserts --table=apex_intent_rules "$APEX_DB" | grep '^INSERT'
DELETE FROM apex_intent_rules WHERE NOT builtin;

-- the result cache: a question's key holds the sources its intent chose
-- and their weights, so a changed rule is a miss; apex_route_many's
-- questions have apex_route's keys
CREATE SERVER cache FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'redis', host '127.0.0.1', port :'redis_port', key_prefix 'apexintent:', ttl_s '60');
CREATE USER MAPPING FOR PUBLIC SERVER cache OPTIONS (password 'redis-pass');
\i :abs_srcdir/sql/include/asked.sql
SET apex_router.cache_source = 'cache';
SELECT apex_router_cache_flush() > 0 AS flushed;
SELECT step, status FROM apex_explain('who works with Sarah', k => 3)
WHERE step IN ('intent', 'cache');
SELECT step, status FROM apex_explain('who works with Sarah', k => 3)
WHERE step IN ('intent', 'cache');
-- a hit still says how the question was routed
SELECT DISTINCT routing FROM apex_route('who works with Sarah', k => 3);
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows FROM apex_route_many(ARRAY['who works with Sarah'], k => 3)
GROUP BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
INSERT INTO apex_intent_rules (rule, intent, pattern, source_class, weight)
SELECT rule, intent, pattern, source_class, 3 FROM apex_intent_rules
WHERE rule = 'relationship';
-- the batch misses now, asks the sources at the new weights, and stores what
-- apex_route then finds
SELECT clock_timestamp() AS t0 \gset
SELECT ordinal, count(*) AS rows FROM apex_route_many(ARRAY['who works with Sarah'], k => 3)
GROUP BY 1;
\set log `cat "$APEX_TEST_LOG"`
SELECT * FROM asked(:'log', :'t0');
SELECT step, status FROM apex_explain('who works with Sarah', k => 3)
WHERE step IN ('intent', 'cache');
RESET apex_router.cache_source;
DROP FUNCTION asked;

-- the session's statement reading the rules follows the table when the
-- extension is made again, in another schema too
SET client_min_messages = warning;
DROP EXTENSION apex_router CASCADE;
RESET client_min_messages;
CREATE SCHEMA apex_intent_ext;
CREATE EXTENSION apex_router SCHEMA apex_intent_ext;
CREATE SERVER lookup FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT ''m01'', ''t'', ''c'', 1.0 LIMIT $2');
SELECT * FROM apex_intent_ext.apex_intent('find "billing migration"');
SELECT * FROM apex_intent_ext.apex_intent('who works with Sarah');
SET client_min_messages = warning;
DROP EXTENSION apex_router CASCADE;
RESET client_min_messages;
DROP SCHEMA apex_intent_ext;
CREATE EXTENSION apex_router;
SELECT count(*) AS sources FROM apex_intent('who works with Sarah');
