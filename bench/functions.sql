-- SQL functions the benchmarks share (bench/lib.sh: bench_functions), made
-- in the benchmark's database after test/sql/include/setup.sql.
SET client_min_messages = warning;

-- The backend's own CPU time so far, in ms: utime + stime of
-- /proc/self/stat (clock ticks of 10 ms).  A test server's or a worker's
-- time is theirs, not counted here.
CREATE OR REPLACE FUNCTION backend_cpu_ms() RETURNS float8 LANGUAGE sql AS $$
  SELECT (split_part(s, ' ', 12)::float8 + split_part(s, ' ', 13)::float8) * 10
  FROM (SELECT pg_read_file('/proc/self/stat') AS f) r,
       LATERAL (SELECT substr(f, position(')' IN f) + 2) AS s) x $$;

-- A field of the backend's /proc/self/status in kB (VmRSS, VmHWM, RssAnon).
CREATE OR REPLACE FUNCTION backend_mem_kb(field text) RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/self/status'), '(?:^|\n)' || field || ':\s+(\d+) kB'))[1]::bigint $$;

-- ms of one apex_route call (clock_timestamp() around it, inside the
-- server), checked to have found rows from every source asked: a failed
-- source is only a WARNING, and a failed leg would look fast.
CREATE OR REPLACE FUNCTION bench_call_ms(q text, srcs text[], kk int DEFAULT 10) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n int;
BEGIN
  SELECT count(DISTINCT s) INTO n FROM apex_route(q, k => kk, sources => srcs), unnest(found_in) s;
  IF n <> cardinality(srcs) THEN
    RAISE EXCEPTION 'one call: % of % sources answered', n, cardinality(srcs);
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

-- ms of one apex_route_many call over questions, checked to have found rows
-- from every source and for every question.
CREATE OR REPLACE FUNCTION bench_batch_ms(questions text[], srcs text[], conc int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); n int; qs int;
BEGIN
  SELECT count(DISTINCT s), count(DISTINCT ordinal) INTO n, qs
  FROM apex_route_many(questions, sources => srcs, max_concurrency => conc), unnest(found_in) s;
  IF n <> cardinality(srcs) OR qs <> cardinality(questions) THEN
    RAISE EXCEPTION 'batch: % sources, % of % questions answered', n, qs, cardinality(questions);
  END IF;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;

-- The backend's CPU and memory over calls of apex_route(q, k, srcs), after
-- a first call at k = 1 (the library, connections, caches) and one at k:
-- at least n calls, and more until they have used min_cpu_ms of the
-- backend's CPU (its clock ticks are 10 ms: a cheap call needs many) or
-- made 100 n.  Returns the median ms of a call, the backend's CPU ms per
-- call, the calls made, the rows and the items received (the fused rows'
-- source hits: a lower bound, each source sends up to k), and the
-- backend's peak resident set over the calls (VmHWM) minus its resident set
-- before them, in kB.  Meant as a session's first call: VmHWM is the
-- session's peak.
CREATE OR REPLACE FUNCTION bench_call_cost(q text, srcs text[], kk int, n int, min_cpu_ms float8 DEFAULT 0)
RETURNS TABLE (median_ms float8, cpu_ms float8, calls int, rows int, items int, peak_kb bigint)
LANGUAGE plpgsql AS $$
DECLARE rss0 bigint; c0 float8; ms float8[] := '{}';
BEGIN
  PERFORM count(*) FROM apex_route(q, k => 1, sources => srcs);
  rss0 := backend_mem_kb('VmRSS');
  SELECT count(*), (SELECT count(*) FROM apex_route(q, k => kk, sources => srcs), unnest(found_in))
    INTO rows, items FROM apex_route(q, k => kk, sources => srcs);
  c0 := backend_cpu_ms();
  calls := 0;
  LOOP
    ms := ms || bench_call_ms(q, srcs, kk);
    calls := calls + 1;
    EXIT WHEN calls >= n AND (backend_cpu_ms() - c0 >= min_cpu_ms OR calls >= 100 * n);
  END LOOP;
  cpu_ms := (backend_cpu_ms() - c0) / calls;
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m) INTO median_ms FROM unnest(ms) m;
  peak_kb := backend_mem_kb('VmHWM') - rss0;
  RETURN NEXT;
END $$;
RESET client_min_messages;

-- The backend's CPU ms to read each of files as jsonb (jsonb_in: lexed and
-- built), or with as_jsonb false as json (json_in: lexed and checked only),
-- per round of n: the floors PostgreSQL's own JSON machinery sets for
-- reading answers.
CREATE OR REPLACE FUNCTION jsonb_in_cpu_ms(files text[], n int, as_jsonb bool DEFAULT true) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE texts text[]; t text; c0 float8;
BEGIN
  SELECT array_agg(pg_read_file(f)) INTO texts FROM unnest(files) f;
  c0 := backend_cpu_ms();
  FOR i IN 1 .. n LOOP
    FOREACH t IN ARRAY texts LOOP
      IF as_jsonb THEN PERFORM t::jsonb; ELSE PERFORM t::json; END IF;
    END LOOP;
  END LOOP;
  RETURN (backend_cpu_ms() - c0) / n;
END $$;
