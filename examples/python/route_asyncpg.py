#!/usr/bin/python3
"""Ask apex_router a question with asyncpg, and read the answer.

    python3 route_asyncpg.py [--dsn DSN] [-k K] QUESTION USER_ID

Connects with the DSN given (postgresql://user@host/db), else as libpq
would: asyncpg reads PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD.
Calls apex_route() with the question and the user's scope
(params => {"user_id": ...}), prints the fused rows with each source's own
rank from the payload, and says when the result is partial: which source
did not answer, and why.

Needs asyncpg (Debian 12: apt-get install python3-asyncpg; elsewhere:
pip install asyncpg).
"""
import argparse
import asyncio
import json

import asyncpg

# $1, $2, $3 are bound parameters: never format the question into the
# statement.  Named notation (k => ...) keeps the call valid whatever other
# arguments apex_route has.
ROUTE = """
    SELECT rank, id, title, score, found_in, payload, partial
    FROM apex_route($1, k => $2, params => $3)
    ORDER BY rank
"""


def print_notice(connection, message):
    """A source that fails costs a WARNING; asyncpg hands it to log listeners."""
    print(f'server {message.severity}: {message.message}')


async def route(args):
    # statement_cache_size=0: asyncpg's named prepared statements (its own
    # type introspection's too) do not survive PgBouncer's transaction mode,
    # and one statement gains nothing from a cache
    conn = await asyncpg.connect(args.dsn, statement_cache_size=0)
    try:
        # asyncpg gives jsonb as a str and wants one: a codec makes it a
        # dict both ways (params in, payload and partial out)
        await conn.set_type_codec('jsonb', encoder=json.dumps, decoder=json.loads, schema='pg_catalog')
        conn.add_log_listener(print_notice)
        return await conn.fetch(ROUTE, args.question, args.k, {'user_id': args.user_id})
    finally:
        await conn.close()


def main():
    parser = argparse.ArgumentParser(description='Ask apex_router a question (asyncpg).')
    parser.add_argument('question')
    parser.add_argument('user_id', help='whose memories to search: params {"user_id": ...}')
    parser.add_argument('--dsn', default=None, help='postgresql:// URL (default: PG* variables)')
    parser.add_argument('-k', type=int, default=10, help='rows to return (default 10, as apex_route)')
    args = parser.parse_args()

    rows = asyncio.run(route(args))

    for row in rows:
        # with the codec, payload is a dict; text[] arrives as a list.
        # payload holds, for each source that found the item, its own
        # rank, score and item
        ranks = ', '.join(f'{source} #{row["payload"][source]["rank"]}' for source in row['found_in'])
        print(f'{row["rank"]}. {row["id"]} ({row["score"]:.4f}) {row["title"] or "(no title)"} [{ranks}]')

    if not rows:
        # a call whose every source failed has no row to carry partial;
        # min_sources => 1 would make it an error instead
        print('no rows')
        return
    # partial is the same on every row: None when every source answered
    partial = rows[0]['partial']
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
