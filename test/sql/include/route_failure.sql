\set ECHO none
-- Included by the areas that check how a failure reads to a program:
--   \i :abs_srcdir/sql/include/route_failure.sql
-- route_failure(query, sources) runs apex_route in strict mode and returns
-- its first failure as PL/pgSQL sees it (GET STACKED DIAGNOSTICS): the
-- SQLSTATE, the message, the detail and the hint (NULL when there is
-- none); state 00000 when nothing failed.  With min_sources > 0 the call is
-- not strict: the failing sources are WARNINGs, and too few answers is the
-- error.
CREATE OR REPLACE FUNCTION route_failure(q text, sources text[], min_sources int DEFAULT 0,
                              OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('apex_router.strict', (min_sources = 0)::text, true);
  PERFORM * FROM apex_route(q, sources => sources, min_sources => min_sources);
  state := '00000';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  detail := nullif(detail, '');
  hint := nullif(hint, '');
END $$;
\set ECHO all
