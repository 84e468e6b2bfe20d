#!/usr/bin/python3
"""Issue 16 item 3: apex_router on a streaming hot standby, where reads
scale out (README, "Scaling out").

Run by test/run-tests (and test/bed replica) with the environment of
test/lib.sh's apex_bed_env, the bed's primary on PGHOST/PGPORT and its
standby (apex_replica start: pg_basebackup -R -X stream) on
APEX_REPLICA_PGPORT, in the same socket directory.  It makes database
apex_replica on the primary with the suite's sources
(test/sql/include/setup.sql: graph, embed, vectors, docs) and
test/replica/sources.sql (recent, remote_docs, whereami, whereami_inline,
whereami_writes, cache), waits until the standby has replayed them, and checks on the
standby what a reader of a replica uses: apex_route over every kind,
sql sources in a worker and inline, apex_route_many, the result cache in
the Redis both servers share (and its keys, the same from either),
apex_explain, apex_router_stats, apex_intent, the writes a standby
refuses, and sources created, altered and dropped on the primary reaching
a standby session by replay.

Why a script and not a pg_regress area: every area starts by creating the
extension afresh (setup.sql), which a standby cannot do, and a check here
needs two servers at once, writing on one and reading on the other.  It
prints one line per check, "replica NAME: ok" or "replica NAME: FAILED
(why)", which run-tests counts as it counts test/clients' lines; it exits
non-zero when a check failed or the setup did.
"""
import contextlib
import os
import subprocess
import sys
import time

import psycopg2

# the checkout's test directory (setup.sql's abs_srcdir)
TEST = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TEST)
from checks import Checks, expect  # noqa: E402  (test/checks.py)

DB = 'apex_replica'
HOST = os.environ['PGHOST']
PRIMARY = dict(host=HOST, port=os.environ['PGPORT'], user='postgres', dbname=DB)
STANDBY = dict(host=HOST, port=os.environ['APEX_REPLICA_PGPORT'], user='postgres', dbname=DB)
REDIS = ['redis-cli', '-p', os.environ['APEX_REDIS_PORT'], '-a', 'redis-pass', '--no-auth-warning']
# one source of each kind that searches, but graphiti: neo4j, qdrant (and
# its embedder), sql (in a worker), redis, postgres
SOURCES = ['graph', 'vectors', 'docs', 'recent', 'remote_docs']
QUESTION = 'billing migration'

CHECKS = Checks('replica')
check = CHECKS.check


@contextlib.contextmanager
def connect(server):
    """A session in autocommit mode, closed after (psycopg2's own with
    block would make one transaction of it)."""
    conn = psycopg2.connect(**server)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def rows(conn, sql, args=()):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else []


def one(conn, sql, args=()):
    got = rows(conn, sql, args)
    expect(len(got) == 1 and len(got[0]) == 1, 'one value', got)
    return got[0][0]


def replayed():
    """Wait until the standby has replayed all the primary has written."""
    with connect(dict(PRIMARY, dbname='postgres')) as p:
        lsn = one(p, 'SELECT pg_current_wal_lsn()')
    with connect(dict(STANDBY, dbname='postgres')) as s:
        for _ in range(200):
            if one(s, 'SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn', (lsn,)):
                return
            time.sleep(0.05)
    raise AssertionError(f'the standby did not replay up to {lsn} within 10 s')


def route(conn, question, sources, k=10):
    """apex_route's rows as (rank, id, sorted found_in, partial)."""
    return [(r, i, sorted(f), p) for r, i, f, p in rows(
        conn, 'SELECT rank, id, found_in, partial FROM apex_route(%s, k => %s, sources => %s) ORDER BY rank',
        (question, k, sources))]


def explain(conn, question, sources, k=3):
    """apex_explain's (step, source, status, rows), in its order."""
    return rows(conn, 'SELECT step, source, status, rows FROM apex_explain(%s, k => %s, sources => %s)',
                (question, k, sources))


def cache_statuses(steps):
    """The cache step's status and every leg's, from explain()."""
    cache = [st for step, _, st, _ in steps if step == 'cache']
    legs = {src: st for step, src, st, _ in steps if step == 'leg'}
    return (cache[0] if len(cache) == 1 else cache), legs


def redis_keys(pattern):
    out = subprocess.run(REDIS + ['--scan', '--pattern', pattern], capture_output=True, text=True, check=True)
    # (SCAN may return a key twice)
    return sorted(set(out.stdout.split()))


def stored_after(before):
    """The result keys once one not in before is there (a call does not
    wait for its write: README, "Result cache"), at most 5 s later, and
    the new ones.  (Keys of earlier runs may expire meanwhile: their TTL.)"""
    for _ in range(100):
        stored = redis_keys('apexreplica:rows:*')
        if set(stored) - set(before):
            break
        time.sleep(0.05)
    return stored, sorted(set(stored) - set(before))


def sqlstate_of(conn, sql):
    """The SQLSTATE and message of a statement that must fail."""
    try:
        rows(conn, sql)
    except psycopg2.Error as e:
        return e.pgcode, e.diag.message_primary
    raise AssertionError(f'{sql!r} did not fail')


def setup():
    """Database apex_replica on the primary, its sources, replayed."""
    with connect(dict(PRIMARY, dbname='postgres')) as p:
        rows(p, f'DROP DATABASE IF EXISTS {DB} WITH (FORCE)')
        rows(p, f'CREATE DATABASE {DB}')
    env = dict(os.environ, PGHOST=HOST, PGPORT=PRIMARY['port'], PGUSER='postgres', PGDATABASE=DB)
    for f in ('sql/include/setup.sql', 'replica/sources.sql'):
        done = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', f'abs_srcdir={TEST}',
                               '-f', os.path.join(TEST, f)],
                              env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f'{f}: {done.stdout}{done.stderr}')
    replayed()


@check('a streaming hot standby')
def standby_is_standby():
    with connect(STANDBY) as s, connect(PRIMARY) as p:
        expect(one(s, 'SELECT pg_is_in_recovery()') is True, 'the standby is in recovery')
        expect(one(p, 'SELECT pg_is_in_recovery()') is False, 'the primary is not')
        expect(one(p, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") >= 1,
               'the primary streams to a standby')
        expect(one(s, "SELECT extversion FROM pg_extension WHERE extname = 'apex_router'") is not None,
               'the extension replicated')
        expect(one(s, 'SELECT count(*) FROM pg_foreign_server') == one(p, 'SELECT count(*) FROM pg_foreign_server'),
               'the sources replicated')


@check('apex_route over every kind, as on the primary')
def route_every_kind():
    with connect(STANDBY) as s, connect(PRIMARY) as p:
        got = route(s, QUESTION, SOURCES)
        expect(len(got) == 10, '10 rows', got)
        expect(all(part is None for _, _, _, part in got), 'no partial: every source answered', got)
        found = set(src for _, _, f, _ in got for src in f)
        expect(found == set(SOURCES), 'every source among found_in', found)
        expect(got == route(p, QUESTION, SOURCES), "the primary's rows", got)


@check('sql sources on the standby: in a worker and inline')
def sql_where():
    with connect(STANDBY) as s:
        got = rows(s, "SELECT id, partial FROM apex_route('x', sources => '{whereami}')")
        expect(got == [('apex_router sql, in recovery', None)], 'a worker of the standby answered', got)
        got = rows(s, "SELECT id, partial FROM apex_route('x', sources => '{whereami_inline}')")
        expect(got == [('client backend, in recovery', None)], 'the caller answered', got)
        # a writing query is refused as on the primary (its own SQLSTATE)
        got = rows(s, "SELECT partial->'whereami_writes'->>'sqlstate', partial->'whereami_writes'->>'error' "
                      "FROM apex_route(%s, sources => '{whereami_writes,docs}') LIMIT 1", (QUESTION,))
        expect(got == [('25006', 'The query failed: cannot execute nextval() in a read-only transaction.')],
               "a write: the source's failure, 25006", got)


@check('apex_route_many')
def route_many():
    with connect(STANDBY) as s:
        many = rows(s, 'SELECT ordinal, rank, id FROM apex_route_many(%s, k => 5, sources => %s) ORDER BY 1, 2',
                    (['Sarah roadmap', QUESTION], SOURCES))
        for n, q in enumerate(['Sarah roadmap', QUESTION], 1):
            alone = [(n, r, i) for r, i, _, _ in route(s, q, SOURCES, k=5)]
            expect([m for m in many if m[0] == n] == alone and len(alone) == 5,
                   f'question {n}: the rows of apex_route', many)


@check('apex_explain: every leg')
def explain_legs():
    with connect(STANDBY) as s:
        got = explain(s, QUESTION, SOURCES)
        legs = {src: (st, n) for step, src, st, n in got if step == 'leg'}
        expect(set(legs) == set(SOURCES) and all(st == 'ok' and n > 0 for st, n in legs.values()),
               'every leg ok with rows', got)
        expect([(step, st, n) for step, _, st, n in got if step == 'call'] == [('call', 'ok', 3)], 'the call ok', got)


@contextlib.contextmanager
def with_cache(server):
    """A session using the result cache."""
    with connect(server) as conn:
        rows(conn, "SET apex_router.cache_source = 'cache'")
        yield conn


@check('result cache: a miss, then a hit, on the standby')
def cache_miss_hit():
    with with_cache(STANDBY) as s:
        expect(one(s, 'SELECT apex_router_cache_flush()') > 0, 'flushed from the standby')
        cache, legs = cache_statuses(explain(s, 'Sarah roadmap', SOURCES))
        expect(cache == 'miss' and set(legs.values()) == {'ok'}, 'a miss: every leg asked', (cache, legs))
        cache, legs = cache_statuses(explain(s, 'Sarah roadmap', SOURCES))
        expect(cache == 'hit' and set(legs.values()) == {'cache hit'}, 'a hit: no leg asked', (cache, legs))
        with connect(STANDBY) as plain:
            expect(route(s, 'Sarah roadmap', SOURCES, k=3) == route(plain, 'Sarah roadmap', SOURCES, k=3),
                   "the hit's rows are the uncached call's")
            # the cache named per call, as behind a pooler ("Behind PgBouncer")
            steps = rows(plain, "SELECT step, source, status, rows FROM apex_explain(%s, k => 3, sources => %s, "
                                "cache_source => 'cache')", ('Sarah roadmap', SOURCES))
            cache, legs = cache_statuses(steps)
            expect(cache == 'hit' and set(legs.values()) == {'cache hit'}, 'a hit with cache_source per call',
                   (cache, legs))


@check("result cache: the standby hits the primary's entry, under the same key")
def cache_primary_to_standby():
    with with_cache(PRIMARY) as p, with_cache(STANDBY) as s:
        before = redis_keys('apexreplica:rows:*')
        cache, legs = cache_statuses(explain(p, QUESTION, SOURCES))
        expect(cache == 'miss' and set(legs.values()) == {'ok'}, 'a complete miss on the primary', (cache, legs))
        stored, new = stored_after(before)
        expect(len(new) == 1, 'the primary stored one entry', new)
        cache, legs = cache_statuses(explain(s, QUESTION, SOURCES))
        expect(cache == 'hit' and set(legs.values()) == {'cache hit'}, 'a hit on the standby', (cache, legs))
        added = sorted(set(redis_keys('apexreplica:rows:*')) - set(stored))
        expect(added == [], 'no key of its own: the same key', added)


@check("result cache: the primary hits the standby's entry")
def cache_standby_to_primary():
    with with_cache(PRIMARY) as p, with_cache(STANDBY) as s:
        before = redis_keys('apexreplica:rows:*')
        cache, legs = cache_statuses(explain(s, 'billing cutover', SOURCES))
        expect(cache == 'miss' and set(legs.values()) == {'ok'}, 'a complete miss on the standby', (cache, legs))
        stored, new = stored_after(before)
        expect(len(new) == 1, 'the standby stored one entry', new)
        cache, legs = cache_statuses(explain(p, 'billing cutover', SOURCES))
        expect(cache == 'hit' and set(legs.values()) == {'cache hit'}, 'a hit on the primary', (cache, legs))
        added = sorted(set(redis_keys('apexreplica:rows:*')) - set(stored))
        expect(added == [], 'no key of its own: the same key', added)


@check("apex_router_stats: the standby's own")
def stats():
    with connect(STANDBY) as s, connect(PRIMARY) as p:
        primary_before = dict(rows(p, 'SELECT source, calls FROM apex_router_stats'))
        expect(one(s, 'SELECT apex_router_stats_reset() IS NOT NULL'), 'reset on the standby')
        got = dict(rows(s, 'SELECT source, calls FROM apex_router_stats'))
        expect(set(got.values()) <= {0}, 'no calls after the reset', got)
        route(s, QUESTION, ['graph', 'docs'])
        got = {src: (c, ok) for src, c, ok in rows(s, 'SELECT source, calls, ok FROM apex_router_stats')}
        expect(got.get('graph') == (1, 1) and got.get('docs') == (1, 1) and got.get('recent') == (0, 0),
               'one call of graph and docs', got)
        expect(dict(rows(p, 'SELECT source, calls FROM apex_router_stats')) == primary_before,
               "the primary's statistics untouched", primary_before)


@check('apex_intent reads apex_intent_rules on the standby')
def intent():
    q = 'who works with Sarah'
    with connect(STANDBY) as s, connect(PRIMARY) as p:
        got = rows(s, 'SELECT source, intents, weight FROM apex_intent(%s, %s) ORDER BY 1', (q, SOURCES))
        expect(('graph', ['relationship'], 2.0) in got, 'graph chosen by the relationship rule', got)
        expect(got == rows(p, 'SELECT source, intents, weight FROM apex_intent(%s, %s) ORDER BY 1', (q, SOURCES)),
               "the primary's answer", got)
        routing = one(s, "SELECT DISTINCT routing->'intents' FROM apex_route(%s, k => 3)", (q,))
        expect(routing == ['relationship'], 'apex_route routed by intent', routing)


@check('writes refused on the standby, in PostgreSQL\'s words')
def writes_refused():
    with connect(STANDBY) as s:
        for sql, word in [
                ("INSERT INTO apex_intent_rules (rule, intent, pattern, source_class) VALUES ('r', 'i', 'x', 'any')",
                 'INSERT'),
                ("CREATE SERVER nope FOREIGN DATA WRAPPER apex_router OPTIONS (kind 'sql', query 'SELECT 1')",
                 'CREATE SERVER'),
                ("ALTER SERVER docs OPTIONS (ADD timeout_ms '100')", 'ALTER SERVER'),
                ('CREATE USER MAPPING FOR postgres SERVER graph', 'CREATE USER MAPPING')]:
            got = sqlstate_of(s, sql)
            expect(got == ('25006', f'cannot execute {word} in a read-only transaction'), sql, got)


@check('a source created, altered and dropped on the primary, seen by a standby session')
def replay():
    with connect(STANDBY) as s, connect(PRIMARY) as p:
        rows(p, 'DROP SERVER IF EXISTS late')
        replayed()
        got = sqlstate_of(s, "SELECT * FROM apex_route('x', sources => '{late}')")
        expect(got == ('42704', 'source "late" does not exist'), 'no source yet', got)
        rows(p, "CREATE SERVER late FOREIGN DATA WRAPPER apex_router "
                "OPTIONS (kind 'sql', query 'SELECT ''late-1'' AS id WHERE $1 <> '''' LIMIT $2')")
        replayed()
        got = rows(s, "SELECT id, partial FROM apex_route('x', sources => '{late}')")
        expect(got == [('late-1', None)], 'created: the same session uses it', got)
        rows(p, "ALTER SERVER late OPTIONS (SET query 'SELECT ''late-2'' AS id WHERE $1 <> '''' LIMIT $2')")
        replayed()
        got = rows(s, "SELECT id, partial FROM apex_route('x', sources => '{late}')")
        expect(got == [('late-2', None)], 'altered: the session parses it again', got)
        rows(p, 'DROP SERVER late')
        replayed()
        got = sqlstate_of(s, "SELECT * FROM apex_route('x', sources => '{late}')")
        expect(got == ('42704', 'source "late" does not exist'), 'dropped: gone', got)


if __name__ == '__main__':
    sys.exit(CHECKS.main(setup))
