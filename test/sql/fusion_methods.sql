-- Fusion methods (issue 15 part 4): rrf, min_max and dbsf on a small data
-- set whose scores are chosen by hand (local sql sources over one table),
-- per-call weights, min_score, MMR over Qdrant's vectors, the GUC.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/sql/include/setup.sql
\pset null '(null)'

-- sa scores a 10, b 9, c 1; sb scores c 0.9, d 0.85, e 0.5, a 0.1
CREATE TABLE fm (src text, id text, score float8);
INSERT INTO fm VALUES ('sa', 'a', 10), ('sa', 'b', 9), ('sa', 'c', 1),
  ('sb', 'c', 0.9), ('sb', 'd', 0.85), ('sb', 'e', 0.5), ('sb', 'a', 0.1);
GRANT SELECT ON fm TO PUBLIC;
CREATE SERVER sa FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, upper(id), NULL, score FROM fm WHERE src = ''sa'' ORDER BY score DESC, id LIMIT $2');
CREATE SERVER sb FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, upper(id), NULL, score FROM fm WHERE src = ''sb'' ORDER BY score DESC, id LIMIT $2');
-- sd reports a distance: its best item has the smallest score
CREATE SERVER sd FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT id, upper(id), NULL, score FROM fm WHERE src = ''sd'' ORDER BY score, id LIMIT $2');

CREATE FUNCTION fused(method text, weights jsonb DEFAULT NULL, min_score float8 DEFAULT NULL,
                      srcs text[] DEFAULT '{sa,sb}', k int DEFAULT 10)
RETURNS TABLE (rank int, id text, score numeric, found_in text[])
LANGUAGE sql AS $$
  SELECT rank, id, round(score::numeric, 6), found_in
  FROM apex_route('q', k => k, sources => srcs, fusion => method, weights => weights,
                  min_score => min_score)
$$;

-- rrf: 1 / (60 + rank), ranks from 1: c 1/63 + 1/61 = 0.032266,
-- a 1/61 + 1/64 = 0.032018, b and d 1/62 (tie: best rank, then id), e 1/63
SELECT * FROM fused('rrf');
-- min_max: sa a 1, b 8/9, c 0; sb c 1, d 0.9375, e 0.5, a 0: a and c tie
-- at 1 (best rank 1 both, then id)
SELECT * FROM fused('min_max');
-- dbsf: per source (x - (mean - 3 sd)) / (6 sd), sd the sample's:
-- sa mean 6.666667, sd 4.932883: a 0.612623, b 0.578836, c 0.308541;
-- sb mean 0.5875, sd 0.370529: c 0.640565, d 0.618074, e 0.460642,
-- a 0.280719.  c, whom min_max put last in sa (0), keeps most of its
-- weight there, so it passes a: the two methods disagree on the top row
SELECT * FROM fused('dbsf');
-- the payload keeps its shape: each source's rank, own score and item
SELECT id, jsonb_pretty(payload) AS payload FROM apex_route('q', sources => '{sa,sb}', fusion => 'dbsf') WHERE rank = 1;

-- the fused score of min_max and dbsf, recomputed here from the payload's
-- own scores over every row
CREATE FUNCTION score_check(method text, weights jsonb DEFAULT '{}') RETURNS TABLE (rows bigint, exact bool, ordered bool)
LANGUAGE sql AS $$
  WITH r AS (SELECT * FROM apex_route('q', k => 10, sources => '{sa,sb}', fusion => method,
                                      weights => nullif(weights, '{}'))),
  hits AS (SELECT r.id, e.key AS src, (e.value->>'score')::float8 AS s
           FROM r, jsonb_each(r.payload) e),
  stats AS (SELECT src, min(s) AS lo, max(s) AS hi, avg(s) AS mean, stddev_samp(s) AS sd
            FROM (SELECT DISTINCT src, id, s FROM hits) h GROUP BY src),
  calc AS (
    SELECT h.id, sum(coalesce((weights->>h.src)::float8, 1) *
                     CASE WHEN method = 'min_max' THEN (h.s - st.lo) / (st.hi - st.lo)
                          ELSE least(1, greatest(0, (h.s - (st.mean - 3 * st.sd)) / (6 * st.sd))) END) AS expected
    FROM hits h JOIN stats st USING (src) GROUP BY h.id)
  SELECT count(*), bool_and(abs(r.score - calc.expected) < 1e-12),
         bool_and(r.score <= coalesce((SELECT p.score FROM r p WHERE p.rank = r.rank - 1), 'infinity'))
  FROM r JOIN calc USING (id)
$$;
SELECT * FROM score_check('min_max');
SELECT * FROM score_check('dbsf');
SELECT * FROM score_check('dbsf', '{"sa": 0.5, "sb": 2}');

-- weights per call change the order: sb counts three times (min_max: c 3,
-- d 2.8125, e 1.5, a 1, b 0.888889); 0 keeps sa's items, scoreless
SELECT * FROM fused('min_max', '{"sb": 3}');
SELECT * FROM fused('rrf', '{"sa": 0}');
-- a weight must name a source the call asks, and be a number in range
SELECT * FROM fused('rrf', '{"sd": 1}');
SELECT * FROM fused('rrf', '{"nope": 1}');
SELECT * FROM fused('rrf', '{"sa": "2"}');
SELECT * FROM fused('rrf', '{"sa": -1}');
SELECT * FROM fused('rrf', '[1]');

-- min_score drops the rows scoring less (min_max: b 0.888889, e 0.5)
SELECT * FROM fused('min_max', min_score => 0.9);
-- a row exactly at min_score stays
SELECT * FROM fused('min_max', min_score => 0.9375);
SELECT count(*) AS rows FROM fused('rrf', min_score => 1);
SELECT * FROM fused('rrf', min_score => 'NaN');
-- k still bounds the rows (and the items each source is asked for: sa a
-- 1, b 0; sb c 1, d 0)
SELECT * FROM fused('min_max', min_score => 0.5, k => 2);

-- a distance (scores rising from the best item down) is read lower-better,
-- as Qdrant reads Euclid: x 0.1 -> 1, y 0.5 -> (2 - 0.5) / 1.9, z 2 -> 0
INSERT INTO fm VALUES ('sd', 'x', 0.1), ('sd', 'y', 0.5), ('sd', 'z', 2);
SELECT * FROM fused('min_max', srcs => '{sd}');
-- a source with an item without a score is scaled by its ranks instead
-- (scores are not invented): the null-scored z ranks last, 3 items give 1,
-- 0.5, 0
UPDATE fm SET score = NULL WHERE src = 'sd' AND id = 'z';
SELECT rank, id, round(score::numeric, 6) AS score, payload->'sd'->>'score' AS own_score
FROM apex_route('q', sources => '{sd}', fusion => 'min_max');
-- equal scores, or a single item, give 0.5 each (Qdrant's choice)
UPDATE fm SET score = 7 WHERE src = 'sd';
SELECT * FROM fused('min_max', srcs => '{sd}');
SELECT * FROM fused('dbsf', srcs => '{sd}');
SELECT * FROM fused('dbsf', srcs => '{sd}', k => 1);
-- dbsf clamps to [0, 1]: of ten 100s and one 0, 0 lies 3.015 sd
-- above the mean (Qdrant would give it 1.0025); the others get 0.449748
-- (sd is a distance: 0 is its best)
DELETE FROM fm WHERE src = 'sd';
INSERT INTO fm SELECT 'sd', 'z' || i, 100 FROM generate_series(1, 10) i;
INSERT INTO fm VALUES ('sd', 'top', 0);
SELECT * FROM fused('dbsf', srcs => '{sd}', k => 11) WHERE rank <= 2;

-- apex_router.fusion is the default method; the argument overrides it
SET apex_router.fusion = 'dbsf';
SELECT * FROM fused(NULL);
SELECT * FROM fused('rrf', k => 2);
RESET apex_router.fusion;
SET apex_router.fusion = 'borda';
SELECT * FROM fused('borda');

-- apex_explain names the method
SELECT step, note FROM apex_explain('q', sources => '{sa,sb}', fusion => 'min_max') WHERE step = 'fusion';
SELECT step, note FROM apex_explain('q', sources => '{sa,sb}', fusion => 'dbsf') WHERE step = 'fusion';
SELECT step, note FROM apex_explain('q', sources => '{sa,sb}') WHERE step = 'fusion';

-- apex_route_many fuses each question as apex_route does
SELECT ordinal, rank, id, round(score::numeric, 6) AS score
FROM apex_route_many('{q,q}', sources => '{sa,sb}', fusion => 'dbsf', weights => '{"sb": 2}', min_score => 1)
ORDER BY ordinal, rank;
SELECT * FROM fused('dbsf', '{"sb": 2}', 1);

-- recency decay multiplies a dated item's score by 2^(-age / half-life),
-- age counted to the call's start; these sources give no time, and their
-- items keep their scores
SELECT (SELECT array_agg(score ORDER BY rank) FROM apex_route('q', sources => '{sa,sb}', fusion => 'min_max'))
     = (SELECT array_agg(score ORDER BY rank) FROM apex_route('q', sources => '{sa,sb}', fusion => 'min_max',
                                                               recency_half_life => '1 day'))
  AS undated_unchanged;
SELECT * FROM apex_route('q', sources => '{sa,sb}', recency_half_life => '-1 day');
-- a source with time_field dates its items (here an ISO 8601 column):
-- half-life 1 day, rrf: old (2 days) 1/61 * 1/4, new 1/62, undated 1/63
-- (unchanged), future (counted as now) 1/64; 5 digits, as the times are
-- the INSERT's, a moment before the call
CREATE TABLE ft (id text, at timestamptz);
INSERT INTO ft VALUES ('old', now() - interval '2 days'), ('new', now()), ('undated', NULL),
  ('future', now() + interval '1 day');
GRANT SELECT ON ft TO PUBLIC;
CREATE SERVER st FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', time_field 'at',
           query 'SELECT id, NULL, NULL, NULL, to_char(at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') AS at
                  FROM ft ORDER BY array_position(''{old,new,undated,future}'', id) LIMIT $2');
SELECT rank, id, round(score::numeric, 5) AS score, payload->'st'->>'rank' AS st_rank
FROM apex_route('q', sources => '{st}', recency_half_life => '1 day');
SELECT rank, id, round(score::numeric, 5) AS score
FROM apex_route('q', sources => '{st}', recency_half_life => '2 days');
-- min_score judges the decayed score: old goes
SELECT rank, id FROM apex_route('q', sources => '{st}', recency_half_life => '1 day', min_score => 0.01);
-- of several sources' times, an item takes the newest: st2 dates old in an
-- hour (age 0)
CREATE SERVER st2 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', time_field 'at',
           query 'SELECT ''old'', NULL, NULL, NULL, to_char((now() + interval ''1 hour'') AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') AS at LIMIT $2');
SELECT rank, id, round(score::numeric, 5) AS score, found_in
FROM apex_route('q', k => 2, sources => '{st,st2}', recency_half_life => '1 day');
-- without recency_half_life times change nothing
SELECT rank, id, round(score::numeric, 5) AS score FROM apex_route('q', sources => '{st}');
DROP SERVER st, st2;
DROP TABLE ft;

-- MMR: a collection with a near duplicate.  The query [1, 0.2] finds n2
-- (cosine 0.998), n1 (0.981, n2's near duplicate: 0.990) and n3 (0.090,
-- unlike n2: 0.150); sql source s1 adds one item without an embedding.
\! curl -s -o /dev/null -X DELETE -H 'api-key: qdrant-test-key' "http://127.0.0.1:$QDRANT_PORT/collections/mmr"
\! curl -s -X PUT -H 'api-key: qdrant-test-key' -H 'Content-Type: application/json' "http://127.0.0.1:$QDRANT_PORT/collections/mmr" -d '{"vectors":{"size":2,"distance":"Cosine"}}' -o /dev/null -w '%{http_code}\n'
\! curl -s -X PUT -H 'api-key: qdrant-test-key' -H 'Content-Type: application/json' "http://127.0.0.1:$QDRANT_PORT/collections/mmr/points?wait=true" -d '{"points":[{"id":1,"vector":[1,0],"payload":{"doc_id":"n1"}},{"id":2,"vector":[0.99,0.14],"payload":{"doc_id":"n2"}},{"id":3,"vector":[0.3,-1],"payload":{"doc_id":"n3"}}]}' -o /dev/null -w '%{http_code}\n'
CREATE SERVER near FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'qdrant', url :'qdrant_url', collection 'mmr', id_field 'doc_id', with_vectors 'true');
CREATE USER MAPPING FOR PUBLIC SERVER near OPTIONS (api_key 'qdrant-test-key');
CREATE SERVER s1 FOREIGN DATA WRAPPER apex_router
  OPTIONS (kind 'sql', query 'SELECT ''s1'', ''S1'', NULL, 1 LIMIT $2');
CREATE FUNCTION mmr(lambda float8, k int DEFAULT 3) RETURNS TABLE (rank int, id text, score numeric)
LANGUAGE sql AS $$
  SELECT rank, id, round(score::numeric, 6)
  FROM apex_route('q', k => k, sources => '{near,s1}', query_vector => '{1,0.2}', mmr_lambda => lambda)
$$;
-- the vector comes back as Qdrant gives it (normalised for Cosine)
SELECT id, payload->'near'->'item'->'vector' AS vector FROM apex_route('q', k => 3, sources => '{near}', query_vector => '{1,0.2}');
-- without MMR the near duplicate n1 is third (rrf: n2 and s1 1/61, n1 1/62)
SELECT * FROM mmr(NULL);
-- lambda 0.5: n1 scores 0.5 * 0.4921 - 0.5 * 0.990 < 0 - 0.5 * 0.150 (n3);
-- s1, with no embedding, keeps its place on relevance; the rows keep their
-- fused scores
SELECT * FROM mmr(0.5);
-- lambda 1 is relevance alone; 0 diversity alone
SELECT * FROM mmr(1);
SELECT * FROM mmr(0);
-- MMR chooses k among all candidates, then k bounds the rows
SELECT * FROM mmr(0.5, 2);
-- MMR after min_score: the rows below it are not candidates
SELECT rank, id FROM apex_route('q', k => 3, sources => '{near,s1}', query_vector => '{1,0.2}', mmr_lambda => 0.5,
                                min_score => 0.0161);
-- without with_vectors there is no embedding, and MMR keeps the fused order
ALTER SERVER near OPTIONS (SET with_vectors 'false');
SELECT id, payload->'near'->'item' ? 'vector' AS has_vector FROM apex_route('q', k => 3, sources => '{near}', query_vector => '{1,0.2}');
SELECT * FROM mmr(0.5);
ALTER SERVER near OPTIONS (SET with_vectors 'maybe');
-- named vectors: with_vectors asks for vector_name's alone
\! curl -s -o /dev/null -X DELETE -H 'api-key: qdrant-test-key' "http://127.0.0.1:$QDRANT_PORT/collections/mmr_named"
\! curl -s -X PUT -H 'api-key: qdrant-test-key' -H 'Content-Type: application/json' "http://127.0.0.1:$QDRANT_PORT/collections/mmr_named" -d '{"vectors":{"dense":{"size":2,"distance":"Cosine"},"other":{"size":1,"distance":"Dot"}}}' -o /dev/null -w '%{http_code}\n'
\! curl -s -X PUT -H 'api-key: qdrant-test-key' -H 'Content-Type: application/json' "http://127.0.0.1:$QDRANT_PORT/collections/mmr_named/points?wait=true" -d '{"points":[{"id":1,"vector":{"dense":[1,0],"other":[1]},"payload":{"doc_id":"n1"}},{"id":2,"vector":{"dense":[0.99,0.14],"other":[1]},"payload":{"doc_id":"n2"}},{"id":3,"vector":{"dense":[0.3,-1],"other":[1]},"payload":{"doc_id":"n3"}}]}' -o /dev/null -w '%{http_code}\n'
ALTER SERVER near OPTIONS (SET collection 'mmr_named', ADD vector_name 'dense', SET with_vectors 'true');
SELECT id, payload->'near'->'item'->'vector' AS vector FROM apex_route('q', k => 3, sources => '{near}', query_vector => '{1,0.2}');
SELECT * FROM mmr(0.5);
SELECT * FROM apex_route('q', sources => '{near}', query_vector => '{1,0.2}', mmr_lambda => 1.5);
\! curl -s -o /dev/null -X DELETE -H 'api-key: qdrant-test-key' "http://127.0.0.1:$QDRANT_PORT/collections/mmr"
\! curl -s -o /dev/null -X DELETE -H 'api-key: qdrant-test-key' "http://127.0.0.1:$QDRANT_PORT/collections/mmr_named"

DROP FUNCTION fused, score_check, mmr;
DROP SERVER sa, sb, sd, near, s1 CASCADE;
DROP TABLE fm;
