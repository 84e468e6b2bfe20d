/* apex_router--0.1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION apex_router" to load this file. \quit

CREATE FUNCTION apex_router_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- Sources are servers of this wrapper; it has no handler (no foreign tables).
CREATE FOREIGN DATA WRAPPER apex_router
  VALIDATOR apex_router_fdw_validator;

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
    query_vector real[]  DEFAULT NULL,
    rrf_k        integer DEFAULT NULL,
    timeout_ms   integer DEFAULT NULL,
    min_sources  integer DEFAULT NULL,
    params       jsonb   DEFAULT NULL,
    fusion       text    DEFAULT NULL,
    weights      jsonb   DEFAULT NULL,
    min_score    double precision DEFAULT NULL,
    recency_half_life interval DEFAULT NULL,
    mmr_lambda   double precision DEFAULT NULL,
    reranker     text    DEFAULT NULL)
RETURNS TABLE (
    rank     integer,
    id       text,
    title    text,
    content  text,
    score    double precision,
    found_in text[],
    payload  jsonb,
    partial  jsonb)
AS 'MODULE_PATHNAME', 'apex_route'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SUPPORT apex_route_rows;

COMMENT ON FUNCTION apex_route(text, integer, text[], real[], integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text) IS
  'search every (or the named) apex_router source concurrently and fuse the results by RRF';

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
    reranker        text    DEFAULT NULL)
RETURNS TABLE (
    ordinal  integer,
    rank     integer,
    id       text,
    title    text,
    content  text,
    score    double precision,
    found_in text[],
    payload  jsonb,
    partial  jsonb)
AS 'MODULE_PATHNAME', 'apex_route_many'
LANGUAGE C VOLATILE PARALLEL UNSAFE
SUPPORT apex_route_many_rows;

COMMENT ON FUNCTION apex_route_many(text[], integer, text[], integer, integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text) IS
  'apex_route for many questions in one call: every source asked every question concurrently, at most max_concurrency at once';

CREATE FUNCTION apex_explain(
    query        text,
    k            integer DEFAULT 10,
    sources      text[]  DEFAULT NULL,
    query_vector real[]  DEFAULT NULL,
    rrf_k        integer DEFAULT NULL,
    timeout_ms   integer DEFAULT NULL,
    min_sources  integer DEFAULT NULL,
    params       jsonb   DEFAULT NULL,
    fusion       text    DEFAULT NULL,
    weights      jsonb   DEFAULT NULL,
    min_score    double precision DEFAULT NULL,
    recency_half_life interval DEFAULT NULL,
    mmr_lambda   double precision DEFAULT NULL,
    reranker     text    DEFAULT NULL)
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

COMMENT ON FUNCTION apex_explain(text, integer, text[], real[], integer, integer, integer, jsonb, text, jsonb, double precision, interval, double precision, text) IS
  'run the apex_route call these arguments ask for and return what each step did (legs, cache, fusion, the call) instead of its rows';

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

CREATE FUNCTION apex_router_connections(
    OUT kind      text,
    OUT source    text,
    OUT target    text,
    OUT opened_at timestamptz,
    OUT requests  bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'apex_router_connections'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_connections() IS
  'connections this backend keeps open across apex_route calls';

CREATE FUNCTION apex_router_disconnect()
RETURNS integer
AS 'MODULE_PATHNAME', 'apex_router_disconnect'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION apex_router_disconnect() IS
  'close every connection this backend keeps open; returns how many';

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

CREATE FUNCTION apex_router_cache_flush()
RETURNS bigint
AS 'MODULE_PATHNAME', 'apex_router_cache_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apex_router_cache_flush() IS
  'forget every cached result and embedding of apex_router.cache_source; returns the new epoch';
