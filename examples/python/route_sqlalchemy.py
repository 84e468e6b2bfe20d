#!/usr/bin/python3
"""Ask apex_router a question with SQLAlchemy, and read the answer.

    python3 route_sqlalchemy.py [--url URL] [-k K] QUESTION USER_ID

Connects with the URL given (postgresql+psycopg2://user:password@host/db),
else through psycopg2 with libpq's PGHOST, PGPORT, PGDATABASE, PGUSER and
PGPASSWORD.  Calls apex_route() with the question and the user's scope
(params => {"user_id": ...}) as a text() statement with bound parameters,
prints the fused rows with each source's own rank from the payload, and
says when the result is partial: which source did not answer, and why.

Written in the 2.0 style, so it runs on SQLAlchemy 1.4 (Debian 12:
apt-get install python3-sqlalchemy python3-psycopg2; future=True) and 2.x.
"""
import argparse
import logging
import sys

from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.dialects.postgresql import JSONB

# Bound parameters (:question, :k, :params), never an f-string: the
# question is the user's text.  params is declared JSONB, so SQLAlchemy
# sends the dict as JSON.  Named notation (k => ...) keeps the call valid
# whatever other arguments apex_route has.
ROUTE = text("""
    SELECT rank, id, title, score, found_in, payload, partial
    FROM apex_route(:question, k => :k, params => :params)
    ORDER BY rank
""").bindparams(bindparam('params', type_=JSONB))


def main():
    parser = argparse.ArgumentParser(description='Ask apex_router a question (SQLAlchemy).')
    parser.add_argument('question')
    parser.add_argument('user_id', help='whose memories to search: params {"user_id": ...}')
    # an empty psycopg2 URL: libpq reads the PG* variables
    parser.add_argument('--url', default='postgresql+psycopg2://',
                        help='SQLAlchemy database URL (default: PG* variables)')
    parser.add_argument('-k', type=int, default=10, help='rows to return (default 10, as apex_route)')
    args = parser.parse_args()

    # A failing source costs a WARNING.  The psycopg2 dialect takes notices
    # off the connection and logs them at INFO on this logger, which is
    # silent by default: turn it up to see them.  The partial column below
    # says the same on every row, with no logging set up.
    logging.basicConfig(stream=sys.stdout, format='server %(message)s')
    logging.getLogger('sqlalchemy.dialects.postgresql').setLevel(logging.INFO)

    engine = create_engine(args.url, future=True)
    with engine.connect() as conn:
        rows = conn.execute(ROUTE, {
            'question': args.question,
            'k': args.k,
            'params': {'user_id': args.user_id},
        }).all()
    engine.dispose()

    for row in rows:
        # jsonb arrives as a dict, text[] as a list: payload holds, for
        # each source that found the item, its own rank, score and item
        ranks = ', '.join(f'{source} #{row.payload[source]["rank"]}' for source in row.found_in)
        print(f'{row.rank}. {row.id} ({row.score:.4f}) {row.title or "(no title)"} [{ranks}]')

    if not rows:
        # a call whose every source failed has no row to carry partial;
        # min_sources => 1 would make it an error instead
        print('no rows')
        return
    # partial is the same on every row: None when every source answered
    partial = rows[0].partial
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
