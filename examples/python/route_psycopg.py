#!/usr/bin/python3
"""Ask apex_router a question with psycopg 3, and read the answer.

    python3 route_psycopg.py [--dsn DSN] [-k K] QUESTION USER_ID

Connects the way libpq does: the DSN given, else PGHOST, PGPORT,
PGDATABASE, PGUSER and PGPASSWORD.  Calls apex_route() with the question
and the user's scope (params => {"user_id": ...}), prints the fused rows
with each source's own rank from the payload, and says when the result is
partial: which source did not answer, and why.

Needs psycopg 3 (Debian 12: apt-get install python3-psycopg; elsewhere:
pip install psycopg).
"""
import argparse

import psycopg
from psycopg.types.json import Jsonb

# The question, k and the scope are bound parameters: never format them
# into the statement.  Named notation (k => ...) keeps the call valid
# whatever other arguments apex_route has.
ROUTE = """
    SELECT rank, id, title, score, found_in, payload, partial
    FROM apex_route(%(question)s, k => %(k)s, params => %(params)s)
    ORDER BY rank
"""


def print_notice(diag):
    """A source that fails costs a WARNING; psycopg hands it to handlers."""
    print(f'server {diag.severity}: {diag.message_primary}')


def main():
    parser = argparse.ArgumentParser(description='Ask apex_router a question (psycopg 3).')
    parser.add_argument('question')
    parser.add_argument('user_id', help='whose memories to search: params {"user_id": ...}')
    parser.add_argument('--dsn', default='', help='libpq connection string (default: PG* variables)')
    parser.add_argument('-k', type=int, default=10, help='rows to return (default 10, as apex_route)')
    args = parser.parse_args()

    with psycopg.connect(args.dsn) as conn:
        conn.add_notice_handler(print_notice)
        rows = conn.execute(ROUTE, {
            'question': args.question,
            'k': args.k,
            # params is the call's scope: Jsonb() sends the dict as jsonb
            'params': Jsonb({'user_id': args.user_id}),
        }).fetchall()

    for rank, id_, title, score, found_in, payload, partial in rows:
        # jsonb arrives as a dict, text[] as a list: payload holds, for
        # each source that found the item, its own rank, score and item
        ranks = ', '.join(f'{source} #{payload[source]["rank"]}' for source in found_in)
        print(f'{rank}. {id_} ({score:.4f}) {title or "(no title)"} [{ranks}]')

    if not rows:
        # a call whose every source failed has no row to carry partial;
        # min_sources => 1 would make it an error instead
        print('no rows')
        return
    # partial is the same on every row: null when every source answered
    partial = rows[0][6]
    if partial is None:
        print('complete result: every source answered')
        return
    for source, why in partial.items():
        if why['status'] == 'ok':
            print(f'partial result: source "{source}" skipped {why["skipped"]} items: {why["error"]}')
        else:
            print(f'partial result: source "{source}" did not answer '
                  f'({why["status"]}, SQLSTATE {why["sqlstate"]}): {why["error"]}')


if __name__ == '__main__':
    main()
