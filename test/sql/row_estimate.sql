-- issue 14 item 6: the planner's row estimate of apex_route follows k, and
-- apex_route_many's is k times its questions (support functions,
-- src/row_estimate.c), instead of ROWS' 1000.  EXPLAIN plans the call
-- without running it: no source is asked.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql

-- the top plan node and its estimated rows, without the costs
CREATE FUNCTION plan_rows(query text, OUT node text, OUT rows float8)
LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  node := plan->0->'Plan'->>'Node Type';
  rows := plan->0->'Plan'->>'Plan Rows';
END
$$;

-- k omitted: its default (the planner has put the DEFAULT in its place)
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah')$$);
-- named and positional
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => 3)$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => 500, sources => '{graph}')$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route(sources => '{graph}', k => 42, query => 'Sarah')$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', 25)$$);
-- a constant expression is folded first
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => 2 + 3)$$);
-- a null k is the default, as for the call; k out of range is clamped to
-- 1..10000 (the call fails)
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => NULL)$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => 0)$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => 20000)$$);
-- in the target list
SELECT * FROM plan_rows($$SELECT apex_route('Sarah', k => 3)$$);

-- k not known at planning: the default k
SELECT * FROM plan_rows($$SELECT * FROM apex_route('Sarah', k => (SELECT 7))$$);
PREPARE routed(int) AS SELECT * FROM apex_route('Sarah', k => $1);
SET plan_cache_mode = force_generic_plan;
SELECT * FROM plan_rows('EXECUTE routed(50)');
-- a custom plan knows it
SET plan_cache_mode = force_custom_plan;
SELECT * FROM plan_rows('EXECUTE routed(50)');
RESET plan_cache_mode;
DEALLOCATE routed;

-- apex_route_many: k times the questions
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many(ARRAY['a', 'b', 'c', 'd'], k => 5)$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many(k => 5, queries => '{a,b,c,d}')$$);
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many('{a,b,c,d}')$$);
-- a null question is not asked: no rows for it
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many(ARRAY['a', NULL, 'c', NULL], k => 5)$$);
-- an empty batch: none (the planner's least is one)
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many('{}', k => 5)$$);
-- questions not known at planning: an ARRAY[...] counts its elements, any
-- other array is taken to hold 10 (the planner's guess, as for unnest)
PREPARE batch(text, int) AS SELECT * FROM apex_route_many(ARRAY['a', $1, 'c'], k => $2);
SET plan_cache_mode = force_generic_plan;
SELECT * FROM plan_rows($$EXECUTE batch('b', 5)$$);
RESET plan_cache_mode;
DEALLOCATE batch;
SELECT * FROM plan_rows($$SELECT * FROM apex_route_many((SELECT array_agg(id) FROM notes), k => 5)$$);

DROP FUNCTION plan_rows(text);
