#!/usr/bin/python3
"""The example programs of examples/ (issue 16 item 5), run as a user runs
them, their output checked against what SQL returns for the same call.

Run by test/run-tests (and test/bed examples) with the environment of
test/lib.sh's apex_bed_env.  It makes two databases as examples/README.md tells a user to make the
demo's (test/demo's apex_demo: test/sql/include/setup.sql):
  apex_examples_demo  the demo's database as it is
  apex_examples       the same with examples/demo.sql: memories, a sql
                      source scoped by params' user_id, and offline, a
                      Qdrant nothing listens for, so every call is a
                      partial result
Each example program is run three times:
  1. in apex_examples through the PG* variables, for user alice: its rows
     must be those psql gets from the same apex_route call (rank, id,
     title, score to its four decimals, found_in and each source's rank read
     from the payload), its partial line must name offline with the status,
     SQLSTATE and words of the partial column, and it must have printed the
     WARNING it received as a notice;
  2. in apex_examples through its DSN (URL) argument, the PG* variables
     pointing elsewhere, for user bob with -k 8: the rows again (bob's
     memories, none of alice's: the scope reached the source);
  3. in apex_examples_demo: the rows, "complete result", no WARNING.
One line per program, "example NAME: ok" or "example NAME: FAILED (why)",
which run-tests counts.  Exits non-zero when a check failed or the setup did.
"""
import json
import os
import re
import subprocess
import sys

TEST = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TEST)
from checks import Checks, expect  # noqa: E402  (test/checks.py)

ROOT = os.path.dirname(TEST)
PY = '/usr/bin/python3'
EXAMPLES = [
    ('psycopg 3', [PY, 'examples/python/route_psycopg.py'], '--dsn', 'postgresql'),
    ('SQLAlchemy', [PY, 'examples/python/route_sqlalchemy.py'], '--url', 'postgresql+psycopg2'),
    ('asyncpg', [PY, 'examples/python/route_asyncpg.py'], '--dsn', 'postgresql'),
    ('node-postgres', ['node', 'examples/node/route.mjs'], '--dsn', 'postgresql'),
]
DB = 'apex_examples'
DEMO_DB = 'apex_examples_demo'
QUESTION = 'what did we discuss with Sarah?'
FAILING = 'offline'
ROW = re.compile(r'^(\d+)\. (\S+) \((-?\d+\.\d{4})\) (.*) \[(.*)\]$')
PGENV = {**os.environ, 'PGUSER': 'postgres'}

# what psql returns for the call the programs make: one JSON array
TRUTH = r"""
\set ON_ERROR_STOP 1
SELECT coalesce(json_agg(json_build_object(
         'rank', rank, 'id', id, 'title', title, 'score', score, 'found_in', found_in,
         'ranks', (SELECT json_agg(payload -> s -> 'rank' ORDER BY o)
                   FROM unnest(found_in) WITH ORDINALITY u(s, o)),
         'partial', partial) ORDER BY rank), '[]')
FROM apex_route(:'q', k => :k, params => jsonb_build_object('user_id', :'u'));
"""


def psql(db, *args, stdin=None):
    out = subprocess.run(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, *args],
                         input=stdin, capture_output=True, text=True, env=PGENV, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f'psql in {db}: {out.stderr.strip()[-1500:]}')
    return out.stdout


def setup():
    for db, files in ((DB, [f'{TEST}/sql/include/setup.sql', f'{ROOT}/examples/demo.sql']),
                      (DEMO_DB, [f'{TEST}/sql/include/setup.sql'])):
        if psql('postgres', '-At', '-c', f"SELECT 1 FROM pg_database WHERE datname = '{db}'").strip() != '1':
            psql('postgres', '-c', f'CREATE DATABASE {db}')
        args = ['-v', f'abs_srcdir={TEST}']
        for f in files:
            args += ['-f', f]
        psql(db, *args)
    nm = os.path.join(ROOT, 'examples/node/node_modules/pg')
    if not os.path.isdir(nm):
        raise RuntimeError('examples/node/node_modules has no pg: npm ci in examples/node (apex_install_deps)')


def truth(db, user, k):
    rows = json.loads(psql(db, '-At', '-v', f'q={QUESTION}', '-v', f'u={user}', '-v', f'k={k}', stdin=TRUTH))
    expect(len(rows) > 0, f'{db}: apex_route returned rows for {user}')
    return rows


def run_example(cmd, db, user, k=None, dsn=None):
    """The program's stdout, as lines; PG* say db unless a DSN is given."""
    env = {**PGENV, 'PGDATABASE': db}
    args = list(cmd)
    if dsn:
        # the variables point at a database without the extension: the
        # program must use the URL it was given
        env['PGDATABASE'] = 'postgres'
        args += [dsn[0], dsn[1]]
    if k is not None:
        args += ['-k', str(k)]
    args += [QUESTION, user]
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    expect(out.returncode == 0, f'{" ".join(args[:2])} exited with {out.returncode}', out.stderr.strip()[-1500:])
    return out.stdout.splitlines()


def partial_lines(partial):
    """The lines a program prints for the partial column's value."""
    if partial is None:
        return ['complete result: every source answered']
    lines = []
    for source, why in partial.items():
        if why['status'] == 'ok':
            lines.append(f'partial result: source "{source}" skipped {why["skipped"]} items: {why["error"]}')
        else:
            lines.append(f'partial result: source "{source}" did not answer '
                         f'({why["status"]}, SQLSTATE {why["sqlstate"]}): {why["error"]}')
    return lines


def compare(lines, rows, where):
    """The program's rows and partial lines are those of rows (psql's)."""
    printed = [ROW.match(line) for line in lines]
    printed = [m.groups() for m in printed if m]
    expect(len(printed) == len(rows), f'{where}: {len(rows)} rows printed, as psql returns', lines)
    for (rank, id_, score, title, ranks), want in zip(printed, rows):
        want_ranks = ', '.join(f'{s} #{r}' for s, r in zip(want['found_in'], want['ranks']))
        expect((int(rank), id_, title, ranks) == (want['rank'], want['id'], want['title'] or '(no title)', want_ranks),
               f'{where}: row {want["rank"]} is psql\'s {want}', (rank, id_, title, ranks))
        # four decimals, rounded by each language's own formatting
        expect(abs(float(score) - want['score']) <= 0.00005 + 1e-12,
               f'{where}: row {want["rank"]} score {want["score"]} to four decimals', score)
    status = [line for line in lines if re.match(r'^(partial result|complete result|no rows)', line)]
    expect(status == partial_lines(rows[0]['partial']),
           f'{where}: what the program says of the partial column', status)


def check_example(cmd, dsn_flag, scheme):
    host, port = os.environ['PGHOST'], os.environ['PGPORT']
    # 1. PG* variables, a partial result
    rows = truth(DB, 'alice', 10)
    p = rows[0]['partial']
    expect(p is not None and set(p) == {FAILING} and p[FAILING]['status'] == 'error'
           and p[FAILING]['sqlstate'] == 'HV00N', f'psql: partial names {FAILING} alone', p)
    ids = [r['id'] for r in rows]
    expect(any(i.startswith('alice-') for i in ids) and not any(i.startswith('bob-') for i in ids),
           'psql: alice\'s memories, none of bob\'s', ids)
    lines = run_example(cmd, DB, 'alice')
    compare(lines, rows, 'alice')
    expect(any(re.match(rf'^server WARNING:\s+source "{FAILING}" failed$', line) for line in lines),
           f'the WARNING about {FAILING} printed as a notice', lines)
    # 2. the DSN argument, another user, -k
    rows = truth(DB, 'bob', 8)
    ids = [r['id'] for r in rows]
    expect(any(i.startswith('bob-') for i in ids) and not any(i.startswith('alice-') for i in ids),
           'psql: bob\'s memories, none of alice\'s', ids)
    url = f'{scheme}://postgres@/{DB}?host={host}&port={port}'
    compare(run_example(cmd, DB, 'bob', k=8, dsn=(dsn_flag, url)), rows, 'bob, --dsn, -k 8')
    # 3. the demo's sources: a complete result
    rows = truth(DEMO_DB, 'alice', 10)
    expect(rows[0]['partial'] is None, 'psql: partial is null in the demo database', rows[0])
    lines = run_example(cmd, DEMO_DB, 'alice')
    compare(lines, rows, 'demo database')
    expect(not any('WARNING' in line for line in lines), 'no WARNING in the demo database', lines)


if __name__ == '__main__':
    checks = Checks('example')
    for name, cmd, dsn_flag, scheme in EXAMPLES:
        checks.add(name, lambda c=cmd, f=dsn_flag, s=scheme: check_example(c, f, s))
    sys.exit(checks.main(setup))
