#!/usr/bin/python3
"""Issue 14 item 1 through the client stacks people use: a caller tells from
the rows alone which chosen sources did not answer and why (the partial column of
apex_route's and apex_route_many's rows), with psycopg2, psycopg 3 and
SQLAlchemy, directly and through PgBouncer in transaction pooling mode,
where consecutive statements of one client run in different backends; and
issue 16 item 1: per-call strict and cache_source behind PgBouncer, and a
query_vector sent as a Python list.

Run by test/run-tests (and test/bed clients) with the environment of
test/lib.sh's apex_bed_env and a PgBouncer on PGBOUNCER_PORT
(apex_pgbouncer).  It makes database apex_clients with the suite's sources
(test/sql/include/setup.sql) and failing copies of graph
(test/clients/sources.sql), then prints one line per check,
"client NAME: ok" or "client NAME: FAILED (why)", which run-tests counts.
Exits non-zero when a check failed or the setup did.
"""
import logging
import os
import subprocess
import sys
import time

import psycopg
import psycopg2
import sqlalchemy
from sqlalchemy import Integer, Text, column, create_engine, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from checks import Checks, expect  # noqa: E402  (test/checks.py)

DB = 'apex_clients'
QUESTION = 'Sarah roadmap'
# two healthy sources (a remote one and a local one) and one nothing listens for
HEALTHY = ['graph', 'docs']
FAILING = HEALTHY + ['graph_down']
CLOSED_PORT = os.environ['CLOSED_PORT']
DIRECT = dict(host=os.environ['PGHOST'], port=os.environ['PGPORT'], user='postgres', dbname=DB)
# PgBouncer logs every client in as postgres (auth_type any): the user
# given here is only what the client says
BOUNCER = dict(host='127.0.0.1', port=os.environ['PGBOUNCER_PORT'], user='postgres', dbname=DB)

ROUTE = 'SELECT rank, id, found_in, partial FROM apex_route(%s, k => 5, sources => %s::text[]) ORDER BY rank'

CHECKS = Checks('client')
check = CHECKS.check


def expect_down(partial):
    """partial names graph_down alone: no connection was made (HV00N)."""
    expect(isinstance(partial, dict), 'partial is an object', partial)
    expect(set(partial) == {'graph_down'}, 'partial names graph_down alone', partial)
    down = partial['graph_down']
    expect(down.get('status') == 'error' and down.get('sqlstate') == 'HV00N',
           'graph_down: status error, sqlstate HV00N', down)
    expect(f'127.0.0.1:{CLOSED_PORT}' in down.get('error', '') and 'Connection refused' in down['error'],
           'graph_down: the error says the connection was refused', down)


def expect_rows(rows, partial_check):
    """Rows came (the healthy sources answered) and each passes partial_check."""
    expect(len(rows) > 0, 'rows from the healthy sources')
    found = {s for r in rows for s in r[2]}
    expect(found == set(HEALTHY), f'rows found in {HEALTHY}', found)
    for r in rows:
        partial_check(r[3])


def expect_none(partial):
    expect(partial is None, 'partial is NULL when every source answered', partial)


def setup():
    """apex_clients with the suite's sources and the failing ones."""
    conn = psycopg2.connect(**{**DIRECT, 'dbname': 'postgres'})
    conn.autocommit = True
    with conn.cursor() as cur:
        # kept when it is there (a bed's second run): PgBouncer's server
        # connections to it stay valid, and setup.sql starts it afresh
        cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (DB,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE {DB}')
    conn.close()
    out = subprocess.run(
        ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', DB, '-v', f'abs_srcdir={ROOT}',
         '-f', f'{ROOT}/sql/include/setup.sql', '-f', f'{ROOT}/clients/sources.sql'],
        capture_output=True, text=True, env={**os.environ, 'PGHOST': DIRECT['host'],
                                             'PGPORT': DIRECT['port'], 'PGUSER': 'postgres'})
    if out.returncode != 0:
        raise RuntimeError('setup failed: ' + out.stderr[-2000:])


# 1. psycopg2, directly
@check('psycopg2: partial names the failed source, status and sqlstate; the WARNING agrees')
def _():
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        cur.execute(ROUTE, (QUESTION, FAILING))
        expect_rows(cur.fetchall(), expect_down)
        # psql users keep the warning: the column says what it says
        expect(any('source "graph_down" failed' in n for n in conn.notices),
               'a WARNING about graph_down', conn.notices)


@check('psycopg2: a healthy call after a failed one, same session: partial NULL on every row')
def _():
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        cur.execute(ROUTE, (QUESTION, FAILING))
        expect_rows(cur.fetchall(), expect_down)
        cur.execute(ROUTE, (QUESTION, HEALTHY))
        expect_rows(cur.fetchall(), expect_none)


@check('psycopg2: apex_route_many, every question\'s rows name the failed source')
def _():
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        cur.execute('SELECT ordinal, rank, found_in, partial FROM apex_route_many(%s, k => 3, sources => %s)',
                    ([QUESTION, 'roadmap'], FAILING))
        rows = cur.fetchall()
        expect({r[0] for r in rows} == {1, 2}, 'rows for both questions', rows)
        for r in rows:
            expect_down(r[3])


@check('psycopg2: items without an id: status ok, skipped 5 (k), and why')
def _():
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        cur.execute(ROUTE, (QUESTION, ['graph', 'graph_noid']))
        rows = cur.fetchall()
        expect(len(rows) > 0, 'rows from graph')
        for r in rows:
            expect(r[3] == {'graph_noid': {'status': 'ok', 'skipped': 5,
                                           'error': 'Their "id" column holds no string or number.'}},
                   'partial: graph_noid answered, its 5 items skipped', r[3])


# 2. psycopg 3, directly
@check('psycopg 3: partial arrives as a dict naming the failed source')
def _():
    with psycopg.connect(**DIRECT) as conn:
        rows = conn.execute(ROUTE, (QUESTION, FAILING)).fetchall()
        expect(all(type(r[3]) is dict for r in rows), 'jsonb adapted to dict', [type(r[3]) for r in rows])
        expect_rows(rows, expect_down)


@check('psycopg 3: a healthy call gives partial None on every row')
def _():
    with psycopg.connect(**DIRECT) as conn:
        expect_rows(conn.execute(ROUTE, (QUESTION, HEALTHY)).fetchall(), expect_none)


@check('psycopg 3: an HTTP 500 is status error, sqlstate HV000, with the server\'s words')
def _():
    with psycopg.connect(**DIRECT) as conn:
        rows = conn.execute(ROUTE, (QUESTION, HEALTHY + ['graph_500'])).fetchall()
        expect(len(rows) > 0, 'rows from the healthy sources')
        for r in rows:
            p = r[3]
            expect(set(p) == {'graph_500'}, 'partial names graph_500 alone', p)
            expect(p['graph_500']['status'] == 'error' and p['graph_500']['sqlstate'] == 'HV000',
                   'graph_500: status error, sqlstate HV000', p)
            expect('HTTP status 500' in p['graph_500']['error'], 'the error names the status', p)


# 3. SQLAlchemy (psycopg2 dialect): the column is the signal, the WARNING is not
class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@check('SQLAlchemy Session + text(): row.partial shows the failure; the WARNING never reaches the application')
def _():
    engine = create_engine(sqlalchemy.engine.URL.create('postgresql+psycopg2', username='postgres',
                                                        database=DB, query={'host': DIRECT['host'],
                                                                            'port': DIRECT['port']}),
                           future=True)
    dialect_log = logging.getLogger('sqlalchemy.dialects.postgresql')
    records = Records()
    dialect_log.addHandler(records)
    query = text('SELECT rank, id, found_in, partial FROM apex_route(:q, k => 5, sources => :s) ORDER BY rank')
    try:
        with Session(engine) as session:
            rows = session.execute(query, {'q': QUESTION, 's': FAILING}).all()
            expect_rows(rows, expect_down)
            expect(all(r.partial['graph_down']['sqlstate'] == 'HV00N' for r in rows), 'row.partial by name')
            # the dialect took the notices off the connection (post_exec):
            # an application looking there finds nothing ...
            notices = session.connection().connection.dbapi_connection.notices
            expect(notices == [], 'no notices left on the DBAPI connection', notices)
            # ... and with logging as it is by default they went nowhere
            expect(records.records == [], 'nothing logged at the default level',
                   [r.getMessage() for r in records.records])
            # they are INFO records of SQLAlchemy's logger, seen only by
            # an application that turns that logger up
            dialect_log.setLevel(logging.INFO)
            rows = session.execute(query, {'q': QUESTION, 's': FAILING}).all()
            expect_rows(rows, expect_down)
            logged = [(r.levelname, r.getMessage()) for r in records.records]
            expect(any(lvl == 'INFO' and 'source "graph_down" failed' in m for lvl, m in logged),
                   'the WARNING logged by SQLAlchemy at INFO', logged)
            rows = session.execute(query, {'q': QUESTION, 's': HEALTHY}).all()
            expect_rows(rows, expect_none)
    finally:
        dialect_log.removeHandler(records)
        dialect_log.setLevel(logging.NOTSET)
        engine.dispose()


def route_core(sources):
    """SQLAlchemy Core: apex_route as a table-valued function."""
    route = func.apex_route(QUESTION, 5, sources).table_valued(
        column('rank', Integer), column('id', Text), column('found_in', ARRAY(Text)),
        column('partial', JSONB))
    return select(route.c.rank, route.c.id, route.c.found_in, route.c.partial).order_by(route.c.rank)


@check('SQLAlchemy Core select(func.apex_route(...).table_valued(...)): partial per row')
def _():
    engine = create_engine(sqlalchemy.engine.URL.create('postgresql+psycopg2', username='postgres',
                                                        database=DB, query={'host': DIRECT['host'],
                                                                            'port': DIRECT['port']}),
                           future=True)
    try:
        with engine.connect() as conn:
            expect_rows(conn.execute(route_core(FAILING)).all(), expect_down)
            expect_rows(conn.execute(route_core(HEALTHY)).all(), expect_none)
    finally:
        engine.dispose()


# 4. through PgBouncer, transaction pooling: nothing is kept in a session
def bouncer_backends(cur):
    """Wait until PgBouncer hands this client's statements to both server
    connections (it opens the second one in the background); their pids."""
    seen = set()
    for _ in range(100):
        cur.execute('SELECT pg_backend_pid()')
        seen.add(cur.fetchone()[0])
        if len(seen) >= 2:
            return seen
        time.sleep(0.05)
    raise AssertionError(f'PgBouncer ran every statement in one backend: {seen}')


@check('PgBouncer: one client\'s consecutive statements run in different backends')
def _():
    conn = psycopg2.connect(**BOUNCER)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            bouncer_backends(cur)
            pids = []
            for _ in range(4):
                cur.execute('SELECT pg_backend_pid()')
                pids.append(cur.fetchone()[0])
            expect(all(a != b for a, b in zip(pids, pids[1:])), 'each statement in another backend', pids)
    finally:
        conn.close()


@check('PgBouncer + psycopg2: failed and healthy calls in turn, each call\'s rows say their own')
def _():
    conn = psycopg2.connect(**BOUNCER)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            bouncer_backends(cur)
            backends = {}
            # failed and healthy calls in both backends, in every order
            for failing in (True, True, False, False, True, False):
                cur.execute('SELECT pg_backend_pid(), rank, id, found_in, partial '
                            'FROM apex_route(%s, k => 5, sources => %s) ORDER BY rank',
                            (QUESTION, FAILING if failing else HEALTHY))
                rows = cur.fetchall()
                backends.setdefault(failing, set()).update(r[0] for r in rows)
                expect_rows([r[1:] for r in rows], expect_down if failing else expect_none)
            expect(len(backends[True]) == 2 and len(backends[False]) == 2,
                   'failed and healthy calls each ran in both backends', backends)
    finally:
        conn.close()


@check('PgBouncer + psycopg 3 (no prepared statements): partial as a dict')
def _():
    # psycopg 3 prepares a query run often; PgBouncer 1.18 in transaction
    # mode cannot keep a prepared statement: prepare_threshold=None, as
    # psycopg's documentation says for it
    with psycopg.connect(**BOUNCER, autocommit=True, prepare_threshold=None) as conn:
        for _ in range(3):
            expect_rows(conn.execute(ROUTE, (QUESTION, FAILING)).fetchall(), expect_down)
            expect_rows(conn.execute(ROUTE, (QUESTION, HEALTHY)).fetchall(), expect_none)


@check('PgBouncer + SQLAlchemy (autocommit): row.partial, Session and Core')
def _():
    engine = create_engine(sqlalchemy.engine.URL.create('postgresql+psycopg2', username='postgres',
                                                        host=BOUNCER['host'], port=int(BOUNCER['port']),
                                                        database=DB),
                           isolation_level='AUTOCOMMIT', future=True)
    query = text('SELECT rank, id, found_in, partial FROM apex_route(:q, k => 5, sources => :s) ORDER BY rank')
    try:
        with Session(engine) as session:
            for _ in range(2):
                expect_rows(session.execute(query, {'q': QUESTION, 's': FAILING}).all(), expect_down)
                expect_rows(session.execute(query, {'q': QUESTION, 's': HEALTHY}).all(), expect_none)
        with engine.connect() as conn:
            expect_rows(conn.execute(route_core(FAILING)).all(), expect_down)
            expect_rows(conn.execute(route_core(HEALTHY)).all(), expect_none)
    finally:
        engine.dispose()


def explain(cur, sources):
    cur.execute('SELECT step, source, status, total_ms, rows, http_status, sqlstate, error, note '
                'FROM apex_explain(%s, k => 5, sources => %s)', (QUESTION, sources))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


@check('PgBouncer + apex_explain: the failed leg, the healthy legs, the call marked partial')
def _():
    conn = psycopg2.connect(**BOUNCER)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            steps = explain(cur, FAILING)
    finally:
        conn.close()
    legs = {s['source']: s for s in steps if s['step'] == 'leg'}
    expect(set(legs) == set(FAILING), f'one leg per source of {FAILING}', steps)
    down = legs['graph_down']
    expect(down['status'] == 'error' and down['sqlstate'] == 'HV00N' and 'Connection refused' in down['error'],
           'graph_down: error, HV00N, connection refused', down)
    g = legs['graph']
    expect(g['status'] == 'ok' and g['rows'] > 0 and g['http_status'] == 200 and g['sqlstate'] is None,
           'graph: ok, rows, HTTP 200', g)
    expect(legs['docs']['status'] == 'ok' and legs['docs']['rows'] > 0, 'docs: ok, rows', legs['docs'])
    call = [s for s in steps if s['step'] == 'call']
    expect(len(call) == 1 and call[0]['status'] == 'partial'
           and call[0]['note'] == '1 of 3 sources did not answer', 'the call: partial, 1 of 3', call)


# 5. timeouts: graph_slow answers after 3 s, its timeout_ms is 300
@check('timeout: a source past its timeout_ms is status timeout; the call does not wait for it')
def _():
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        start = time.monotonic()
        cur.execute(ROUTE, (QUESTION, ['graph', 'graph_slow']))
        took = time.monotonic() - start
        rows = cur.fetchall()
    expect(0.3 <= took < 2.5, 'the call took about 300 ms', took)
    expect(len(rows) > 0, 'rows from graph')
    for r in rows:
        expect(r[3] == {'graph_slow': {'status': 'timeout', 'sqlstate': 'HV000', 'error': 'Timed out after 300 ms.'}},
               'partial: graph_slow timed out', r[3])


@check('timeout through PgBouncer: partial and apex_explain say timeout, after about 300 ms')
def _():
    with psycopg.connect(**BOUNCER, autocommit=True, prepare_threshold=None) as conn:
        rows = conn.execute(ROUTE, (QUESTION, ['graph', 'graph_slow'])).fetchall()
        expect(len(rows) > 0 and all(r[3]['graph_slow']['status'] == 'timeout' for r in rows),
               'partial: graph_slow timed out', rows)
        with conn.cursor() as cur:
            steps = explain(cur, ['graph', 'graph_slow'])
    slow = [s for s in steps if s['source'] == 'graph_slow']
    expect(len(slow) == 1 and slow[0]['status'] == 'timeout' and slow[0]['sqlstate'] == 'HV000',
           'graph_slow: timeout, HV000', slow)
    expect(290 <= slow[0]['total_ms'] < 2500, 'graph_slow: about 300 ms', slow[0]['total_ms'])


# 5. Issue 16 item 1: what a pooler's shared sessions must not carry is
# said per call.  Observed: one client's SET apex_router.strict behind
# PgBouncer in transaction mode reached 10 of 10 other clients.
VECTOR = [0.5] * 64


def bouncer():
    return psycopg.connect(**BOUNCER, autocommit=True, prepare_threshold=None)


@check('PgBouncer: strict => true fails that call alone; ten other clients after it still get rows and partial')
def _():
    with bouncer() as conn:
        try:
            conn.execute('SELECT count(*) FROM apex_route(%s, sources => %s::text[], strict => true)',
                         (QUESTION, FAILING)).fetchall()
            raise AssertionError('strict => true: no ERROR')
        except psycopg.errors.FdwUnableToEstablishConnection as e:
            expect('source "graph_down" failed' in str(e), 'the ERROR names graph_down', str(e))
    for _ in range(10):
        with bouncer() as conn:
            expect_rows(conn.execute(ROUTE, (QUESTION, FAILING)).fetchall(), expect_down)


@check('PgBouncer: cache_source per call, no SET: the second call (any server connection) is a hit')
def _():
    with bouncer() as conn:
        conn.execute("SELECT apex_router_cache_flush('clients_cache')")
        args = (QUESTION, HEALTHY)
        sql = ('SELECT step, status FROM apex_explain(%s, k => 5, sources => %s::text[], '
               "cache_source => 'clients_cache') WHERE step = 'cache'")
        first = conn.execute(sql, args).fetchall()
    with bouncer() as conn:
        second = conn.execute(sql, args).fetchall()
        setting = conn.execute('SHOW apex_router.cache_source').fetchone()[0]
    expect(first == [('cache', 'miss')], 'the first call misses', first)
    expect(second == [('cache', 'hit')], 'the second call hits', second)
    expect(setting == '', 'no session setting was needed or left', setting)


@check('query_vector from a Python list: psycopg 3 (float8[]) and psycopg2 (numeric[]) give the real[] rows')
def _():
    sql = "SELECT id FROM apex_route('x', sources => '{vectors}', query_vector => %s) ORDER BY rank"
    with psycopg.connect(**DIRECT) as conn:
        want = conn.execute(sql.replace('%s', "array_fill(0.5::real, ARRAY[64])")).fetchall()
        got3 = conn.execute(sql, (VECTOR,)).fetchall()
    with psycopg2.connect(**DIRECT) as conn, conn.cursor() as cur:
        cur.execute(sql, (VECTOR,))
        got2 = cur.fetchall()
    expect(len(want) > 0, 'rows for the real[] vector', want)
    expect(got3 == want, 'psycopg 3: the same rows', got3)
    expect(got2 == want, 'psycopg2: the same rows', got2)


if __name__ == '__main__':
    sys.exit(CHECKS.main(setup))
