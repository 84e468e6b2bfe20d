/* apex_router--0.1.0--0.2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION apex_router UPDATE TO '0.2.0'" to load this file. \quit

-- What 0.2.0 changes in 0.1.0 (apex_router--0.2.0.sql is the whole of 0.2.0;
-- test/sql/upgrade.sql checks that an update ends with the same objects as
-- a fresh CREATE EXTENSION).  The foreign data wrapper, its validator,
-- apex_router_connections() and apex_router_disconnect() are unchanged;
-- sources (foreign servers) and user mappings are the user's and stay as
-- they are.

-- apex_route and apex_router_cache_flush take other arguments (apex_route
-- returns more columns too): a function's arguments are part of its
-- identity, so 0.1.0's are dropped and made again (a view over apex_route
-- must be dropped first: README, "Installing").  Their privileges go with
-- them, as in PostgreSQL's own upgrade scripts (pg_stat_statements');
-- granting them here would record them as the extension's initial
-- privileges, which pg_dump leaves out.  So the update says what they
-- were, to be granted or revoked again.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.proname, p.proacl
        FROM pg_catalog.pg_proc p
        WHERE p.oid IN ('apex_route(text, integer, text[], real[], integer, integer, integer)'::pg_catalog.regprocedure,
                        'apex_router_cache_flush()'::pg_catalog.regprocedure)
          AND p.proacl IS NOT NULL
        ORDER BY p.proname
    LOOP
        RAISE WARNING 'privileges on % are reset to the default', f.proname
            USING DETAIL = format('They were %s.', f.proacl),
                  HINT = format('Grant or revoke EXECUTE on the new %s again.', f.proname);
    END LOOP;
END
$$;

DROP FUNCTION apex_route(text, integer, text[], real[], integer, integer, integer);
DROP FUNCTION apex_router_cache_flush();

-- The planner's row estimates (src/row_estimate.c): k rows for apex_route,
-- k per question for apex_route_many, instead of ROWS' 1000
CREATE FUNCTION apex_route_rows(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apex_route_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION apex_route_many_rows(internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'apex_route_many_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION apex_route_rows(internal) IS
  'planner support for apex_route: its row estimate is k';

COMMENT ON FUNCTION apex_route_many_rows(internal) IS
  'planner support for apex_route_many: its row estimate is k times the questions';

CREATE FUNCTION apex_route(
    query        text,
    k            integer DEFAULT 10,
    sources      text[]  DEFAULT NULL,
    query_vector double precision[] DEFAULT NULL,
    rrf_k        integer DEFAULT NULL,
    timeout_ms   integer DEFAULT NULL,
    min_sources  integer DEFAULT NULL,
    params       jsonb   DEFAULT NULL,
    fusion       text    DEFAULT NULL,
    weights      jsonb   DEFAULT NULL,
    min_score    double precision DEFAULT NULL,
    recency_half_life interval DEFAULT NULL,
    mmr_lambda   double precision DEFAULT NULL,
    reranker     text    DEFAULT NULL,
    strict       boolean DEFAULT NULL,
    cache_mode   text    DEFAULT NULL,
    cache_source text    DEFAULT NULL)
RETURNS TABLE (
    rank     integer,
    id       text,
    title    text,
    content  text,
    score    double precision,
    found_in text[],
    payload  jsonb,
    partial  jsonb,
    routing  jsonb)
AS 'MODULE_PATHNAME', 'apex_route'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SUPPORT apex_route_rows;

COMMENT ON FUNCTION apex_route(text, integer, text[], double precision[], integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text, boolean, text, text) IS
  'search every (or the named) apex_router source concurrently, scoped by params, weighted by the question''s intent, and fuse the results (RRF by default), optionally reranked';

CREATE FUNCTION apex_route_many(
    queries         text[],
    k               integer DEFAULT 10,
    sources         text[]  DEFAULT NULL,
    rrf_k           integer DEFAULT NULL,
    timeout_ms      integer DEFAULT NULL,
    min_sources     integer DEFAULT NULL,
    max_concurrency integer DEFAULT NULL,
    params          jsonb   DEFAULT NULL,
    fusion          text    DEFAULT NULL,
    weights         jsonb   DEFAULT NULL,
    min_score       double precision DEFAULT NULL,
    recency_half_life interval DEFAULT NULL,
    mmr_lambda      double precision DEFAULT NULL,
    reranker        text    DEFAULT NULL,
    strict          boolean DEFAULT NULL,
    cache_mode      text    DEFAULT NULL,
    cache_source    text    DEFAULT NULL)
RETURNS TABLE (
    ordinal  integer,
    rank     integer,
    id       text,
    title    text,
    content  text,
    score    double precision,
    found_in text[],
    payload  jsonb,
    partial  jsonb,
    routing  jsonb)
AS 'MODULE_PATHNAME', 'apex_route_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SUPPORT apex_route_many_rows;

COMMENT ON FUNCTION apex_route_many(text[], integer, text[], integer, integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text, boolean, text, text) IS
  'apex_route for many questions in one call: every source asked every question concurrently, at most max_concurrency at once';

CREATE FUNCTION apex_explain(
    query        text,
    k            integer DEFAULT 10,
    sources      text[]  DEFAULT NULL,
    query_vector double precision[] DEFAULT NULL,
    rrf_k        integer DEFAULT NULL,
    timeout_ms   integer DEFAULT NULL,
    min_sources  integer DEFAULT NULL,
    params       jsonb   DEFAULT NULL,
    fusion       text    DEFAULT NULL,
    weights      jsonb   DEFAULT NULL,
    min_score    double precision DEFAULT NULL,
    recency_half_life interval DEFAULT NULL,
    mmr_lambda   double precision DEFAULT NULL,
    reranker     text    DEFAULT NULL,
    strict       boolean DEFAULT NULL,
    cache_mode   text    DEFAULT NULL,
    cache_source text    DEFAULT NULL)
RETURNS TABLE (
    step          text,
    source        text,
    kind          text,
    status        text,
    start_ms      double precision,
    connect_ms    double precision,
    first_byte_ms double precision,
    total_ms      double precision,
    rows          integer,
    bytes         bigint,
    http_status   integer,
    sqlstate      text,
    error         text,
    note          text)
AS 'MODULE_PATHNAME', 'apex_explain'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10;

COMMENT ON FUNCTION apex_explain(text, integer, text[], double precision[], integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text, boolean, text, text) IS
  'run the apex_route call these arguments ask for and return what each step did (legs, cache, fusion, the call) instead of its rows';

-- Intent routing (src/intent.c): which sources a question asks, and their
-- weights, when the caller names none.  A rule whose pattern (a POSIX
-- regular expression, matched case-insensitively, ~*) matches the question
-- chooses the sources it targets: those of a class (graph, vector,
-- temporal, exact, any: see the README), of a kind, or one by name.  The
-- extension's owner edits the table; every role reads it.  Rows the
-- extension made (builtin) are not dumped and are read-only: a user's rule
-- of the same name replaces one (enabled = false turns it off), and is
-- dumped.
CREATE TABLE apex_intent_rules (
    rule              text    NOT NULL,
    intent            text    NOT NULL,
    pattern           text    NOT NULL,
    source_class      text,
    source_kind       text,
    source_name       text,
    weight            double precision NOT NULL DEFAULT 1,
    recency_half_life interval,
    priority          integer NOT NULL DEFAULT 0,
    exclusive         boolean NOT NULL DEFAULT false,
    enabled           boolean NOT NULL DEFAULT true,
    builtin           boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rule, builtin),
    CONSTRAINT apex_intent_rules_rule_check CHECK (rule <> ''),
    CONSTRAINT apex_intent_rules_intent_check CHECK (intent <> ''),
    CONSTRAINT apex_intent_rules_pattern_check
        CHECK (pattern <> '' AND octet_length(pattern) <= 1000),
    CONSTRAINT apex_intent_rules_target_check
        CHECK (num_nonnulls(source_class, source_kind, source_name) = 1),
    CONSTRAINT apex_intent_rules_class_check
        CHECK (source_class IN ('graph', 'vector', 'temporal', 'exact', 'any')),
    CONSTRAINT apex_intent_rules_kind_check
        CHECK (source_kind IN ('graphiti', 'neo4j', 'postgres', 'qdrant', 'redis', 'sql')),
    CONSTRAINT apex_intent_rules_weight_check CHECK (weight > 0 AND weight <= 1000),
    CONSTRAINT apex_intent_rules_recency_check
        CHECK (recency_half_life > interval '0'));

COMMENT ON TABLE apex_intent_rules IS
  'intent routing: a question matching a rule''s pattern (case-insensitive POSIX regular expression) favours the sources the rule targets with its weight (the others are still asked at their own, unless a matching rule is exclusive); edited by the extension''s owner';

-- Patterns compiled (a regular expression the engine refuses is refused
-- here, not at the first question), built-in rows kept as the extension
-- made them
CREATE FUNCTION apex_intent_rules_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'apex_intent_rules_check'
LANGUAGE C;

CREATE TRIGGER apex_intent_rules_check
BEFORE INSERT OR UPDATE OR DELETE ON apex_intent_rules
FOR EACH ROW EXECUTE FUNCTION apex_intent_rules_check();

INSERT INTO apex_intent_rules
    (rule, intent, pattern, source_class, weight, recency_half_life, builtin)
VALUES
    ('relationship', 'relationship',
     E'\\m(who|whom|between|connected|connections?|relationships?|related to|works? with|worked with|knows?|reports? to)\\M',
     'graph', 2, NULL, true),
    ('similar', 'similar',
     E'\\m(similar|about|resembl(e|es|ing)|reminds? me of|alike)\\M',
     'vector', 2, NULL, true),
    ('temporal', 'temporal',
     E'\\m(recent|recently|latest|newest|yesterday|today|tonight|ago|since|(last|this|past) (hour|day|night|week|weekend|month|quarter|year))\\M',
     'temporal', 2, interval '7 days', true),
    ('exact-quoted', 'exact',
     '"[^"]+"',
     'exact', 2, NULL, true),
    ('exact-id', 'exact',
     E'\\m([a-z]{2,10}-[0-9]{2,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\\M',
     'exact', 2, NULL, true);

-- user rules survive pg_dump; the built-in ones come back with CREATE EXTENSION
SELECT pg_catalog.pg_extension_config_dump('apex_intent_rules', 'WHERE NOT builtin');

GRANT SELECT ON apex_intent_rules TO PUBLIC;

CREATE FUNCTION apex_intent(
    query   text,
    sources text[] DEFAULT NULL)
RETURNS TABLE (
    source            text,
    kind              text,
    intents           text[],
    weight            double precision,
    recency_half_life interval)
AS 'MODULE_PATHNAME', 'apex_intent'
LANGUAGE C STABLE PARALLEL RESTRICTED
ROWS 5;

COMMENT ON FUNCTION apex_intent(text, text[]) IS
  'the intents apex_intent_rules finds in a question, and the sources apex_route would ask for it (every usable one, or among those named) with their weights';

CREATE FUNCTION apex_router_stats(
    OUT source        text,
    OUT calls         bigint,
    OUT ok            bigint,
    OUT errors        bigint,
    OUT timeouts      bigint,
    OUT refused       bigint,
    OUT skipped       bigint,
    OUT cache_hits    bigint,
    OUT cache_misses  bigint,
    OUT rows          bigint,
    OUT bytes         bigint,
    OUT timed         bigint,
    OUT mean_ms       double precision,
    OUT p50_ms        double precision,
    OUT p95_ms        double precision,
    OUT p99_ms        double precision,
    OUT stats_reset   timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apex_router_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_stats() IS
  'every source''s legs across all backends since the last reset: outcomes, cache hits, rows, bytes, latency percentiles (needs shared_preload_libraries)';

CREATE VIEW apex_router_stats AS SELECT * FROM apex_router_stats();
GRANT SELECT ON apex_router_stats TO PUBLIC;

CREATE FUNCTION apex_router_stats_reset()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'apex_router_stats_reset'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_stats_reset() IS
  'zero the statistics of every source (all databases); returns when';

REVOKE ALL ON FUNCTION apex_router_stats_reset() FROM PUBLIC;

CREATE FUNCTION apex_router_health(
    OUT source               text,
    OUT state                text,
    OUT consecutive_failures integer,
    OUT failure_threshold    integer,
    OUT opened_at            timestamptz,
    OUT retry_at             timestamptz,
    OUT last_success         timestamptz,
    OUT last_failure         timestamptz,
    OUT last_error           text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apex_router_health'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_health() IS
  'each source''s circuit breaker, shared by all backends: state, failures, last success and error (needs shared_preload_libraries)';

CREATE VIEW apex_router_health AS SELECT * FROM apex_router_health();
GRANT SELECT ON apex_router_health TO PUBLIC;

CREATE FUNCTION apex_router_disconnect(source text)
RETURNS integer
AS 'MODULE_PATHNAME', 'apex_router_disconnect'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_disconnect(text) IS
  'close the connections this backend keeps open for one source; returns how many';

CREATE FUNCTION apex_router_source_slots(
    OUT source                  text,
    OUT max_concurrent_requests integer,
    OUT in_use                  integer,
    OUT waiting                 integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apex_router_source_slots'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_source_slots() IS
  'per source with max_concurrent_requests: its cap, and the request slots in use and legs waiting in every session of this database';

CREATE FUNCTION apex_router_cache_flush(cache_source text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apex_router_cache_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apex_router_cache_flush(text) IS
  'forget every cached result and embedding of the cache source (the argument, else apex_router.cache_source); returns the new epoch';
