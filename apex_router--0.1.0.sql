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

CREATE FUNCTION apex_route(
    query        text,
    k            integer DEFAULT 10,
    sources      text[]  DEFAULT NULL,
    query_vector real[]  DEFAULT NULL,
    rrf_k        integer DEFAULT NULL,
    timeout_ms   integer DEFAULT NULL,
    min_sources  integer DEFAULT NULL)
RETURNS TABLE (
    rank     integer,
    id       text,
    title    text,
    content  text,
    score    double precision,
    found_in text[],
    payload  jsonb)
AS 'MODULE_PATHNAME', 'apex_route'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apex_route(text, integer, text[], real[], integer, integer, integer) IS
  'search every (or the named) apex_router source concurrently and fuse the results by RRF';

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

CREATE FUNCTION apex_router_cache_flush()
RETURNS bigint
AS 'MODULE_PATHNAME', 'apex_router_cache_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION apex_router_cache_flush() IS
  'forget every cached result and embedding of apex_router.cache_source; returns the new epoch';
