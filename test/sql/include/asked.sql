\set ECHO none
-- asked(log, since): the requests each test server logged since a time,
-- from the servers' request log (APEX_TEST_LOG, read into a psql variable:
-- \set log `cat "$APEX_TEST_LOG"`), as proof of what a call asked.
-- Included by the files that need it (cache, intent); dropped with them.
CREATE FUNCTION asked(log text, since timestamptz) RETURNS TABLE (server text, requests bigint)
LANGUAGE sql AS $$
  SELECT e->>'server', count(*)
  FROM regexp_split_to_table(log, E'\n') l, LATERAL (SELECT l::jsonb) j(e)
  WHERE l <> '' AND (e->>'start')::float8 >= extract(epoch FROM since) * 1000
  GROUP BY 1 ORDER BY 1
$$;
\set ECHO all
